"""The checks of the version rules (``drain_ls.analysis.versions``): one per construct
that a target Python may be too old to parse.

Each check takes the node at a candidate its rule's regular expression found (a keyword, an
operator, a string's start) and yields (start, end, message) in ruff's words when the node
has the construct's shape: an assignment expression, a positional-only separator, a relaxed
decorator, parenthesized context managers, ``match``, ``except*``, star expressions in an
index or an annotation, an asynchronous comprehension in a synchronous one, type parameter
lists and ``type`` statements, PEP 701 f-strings, unparenthesized ``except`` types and
t-strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from tree_sitter import Node

from drain_ls.analysis.source import field_of

if TYPE_CHECKING:
    from drain_ls.analysis.versions import PythonVersion, VersionError


def _message(kind: str, target: PythonVersion, added: int) -> str:
    return f"{kind} on Python {target} (syntax was added in Python 3.{added})"


def _walrus(
    root: Node, node: Node, source: bytes, target: PythonVersion, match: re.Match[bytes]
) -> Iterator[VersionError]:
    parent = node.parent
    holder = parent.parent if parent is not None else None
    # ``f"{x:=10}"`` is a format spec that tree-sitter reads as a walrus; a walrus statement
    # is a syntax error of its own (``drain_ls.analysis.legacy``).
    if holder is not None and holder.type in ("interpolation", "expression_statement"):
        return
    if node.type == ":=" and parent is not None and parent.type == "named_expression":
        yield (
            parent.start_byte,
            parent.end_byte,
            _message("Cannot use named assignment expression (`:=`)", target, 8),
        )


def _unparenthesized_walrus(
    root: Node, node: Node, source: bytes, target: PythonVersion, match: re.Match[bytes]
) -> Iterator[VersionError]:
    named = node.parent
    if node.type != ":=" or named is None or named.type != "named_expression":
        return
    holder = named.parent
    if holder is None:
        return
    kind = None
    if holder.type == "subscript" and field_of(holder, named) == "subscript":
        kind = "in a sequence index"
    elif holder.type == "set":
        kind = "as an element in a set literal"
    elif holder.type == "set_comprehension" and field_of(holder, named) == "body":
        kind = "as an element in a set comprehension"
    if kind is not None:
        yield (
            named.start_byte,
            named.end_byte,
            _message(f"Cannot use unparenthesized assignment expression {kind}", target, 9),
        )


def _positional_only(
    root: Node, node: Node, source: bytes, target: PythonVersion, match: re.Match[bytes]
) -> Iterator[VersionError]:
    if node.type == "/" and node.parent is not None and node.parent.type == "positional_separator":
        yield (
            node.start_byte,
            node.end_byte,
            _message("Cannot use positional-only parameter separator", target, 8),
        )


def _star_tuple(
    root: Node, node: Node, source: bytes, target: PythonVersion, match: re.Match[bytes]
) -> Iterator[VersionError]:
    parent = node.parent
    if parent is None:
        return
    if node.type == "return" and parent.type == "return_statement":
        kind = "Cannot use iterable unpacking in return statements"
    elif node.type == "yield" and parent.type == "yield":
        kind = "Cannot use iterable unpacking in yield expressions"
    else:
        return
    for child in parent.named_children:
        if child.type == "expression_list":
            for item in child.named_children:
                if item.type == "list_splat":
                    yield item.start_byte, item.end_byte, _message(kind, target, 8)


_DECORATOR_KINDS = {
    "float": "a float literal",
    "boolean_operator": "boolean expression",
    "binary_operator": "binary-operation expression",
    "unary_operator": "unary-operation expression",
    "not_operator": "unary-operation expression",
    "await": "`await` expression",
    "lambda": "lambda expression",
    "conditional_expression": "conditional expression",
    "dictionary": "a dict literal",
    "set": "a set literal",
    "list": "a list literal",
    "tuple": "a tuple literal",
    "list_splat": "starred expression",
    "slice": "slice expression",
    "ellipsis": "an ellipsis literal",
    "none": "a `None` literal",
    "true": "a boolean literal",
    "false": "a boolean literal",
    "list_comprehension": "a list comprehension",
    "set_comprehension": "a set comprehension",
    "dictionary_comprehension": "a dict comprehension",
    "generator_expression": "generator expression",
    "comparison_operator": "comparison expression",
    "named_expression": "assignment expression",
    "subscript": "subscript expression",
}


def _unparenthesize(node: Node) -> Node:
    while node.type == "parenthesized_expression" and node.named_child_count == 1:
        inner = node.named_children[0]
        if inner.type == "comment":
            break
        node = inner
    return node


def _decorator_problem(node: Node) -> tuple[str | None, Node] | None:
    """ruff's ``detect_invalid_pre_py39_decorator_node``: None if ``node`` is a dotted name,
    else (a description, or None for a call, and the offending node)."""
    node = _unparenthesize(node)
    kind = node.type
    if kind == "identifier":
        return None
    if kind == "attribute":
        value = node.child_by_field_name("object")
        return _decorator_problem(value) if value is not None else None
    if kind == "call":
        return None, node
    if kind == "integer":
        text = node.text or b""
        return ("a complex literal" if text[-1:] in b"jJ" else "an int literal"), node
    if kind == "float":
        text = node.text or b""
        return ("a complex literal" if text[-1:] in b"jJ" else "a float literal"), node
    if kind == "yield":
        is_from = any(child.type == "from" for child in node.children)
        return ("`yield from` expression" if is_from else "`yield` expression"), node
    if kind in ("string", "concatenated_string"):
        return _string_kind(node), node
    return _DECORATOR_KINDS.get(kind, "expression"), node


def _string_kind(node: Node) -> str:
    parts = node.named_children if node.type == "concatenated_string" else [node]
    prefixes = [_prefix(part) for part in parts if part.type == "string"]
    if any("t" in p for p in prefixes):
        return "t-string"
    if any("f" in p for p in prefixes):
        return "f-string"
    if any("b" in p for p in prefixes):
        return "a bytes literal"
    return "a string literal"


def _prefix(string: Node) -> str:
    start = string.child(0)
    text = (start.text or b"") if start is not None and start.type == "string_start" else b""
    return text.rstrip(b"'\"").decode("ascii", "replace").lower()


def _relaxed_decorator(
    root: Node, node: Node, source: bytes, target: PythonVersion, match: re.Match[bytes]
) -> Iterator[VersionError]:
    decorator = node.parent
    if node.type != "@" or decorator is None or decorator.type != "decorator":
        return
    expressions = [c for c in decorator.named_children if c.type != "comment"]
    if not expressions:
        return
    expression = _unparenthesize(expressions[0])
    if expression.type == "call":
        function = expression.child_by_field_name("function")
        problem = _decorator_problem(function) if function is not None else None
    else:
        problem = _decorator_problem(expression)
    if problem is None:
        return
    description, culprit = problem
    if description is None:
        message = (
            f"Cannot use a call expression in a decorator on Python {target} unless it is the "
            "top-level expression or it occurs in the argument list of a top-level call "
            "expression (relaxed decorator syntax was added in Python 3.9)"
        )
    else:
        message = (
            f"Cannot use {description} outside function call arguments in a decorator on "
            f"Python {target} (syntax was added in Python 3.9)"
        )
    yield culprit.start_byte, culprit.end_byte, message


def _parenthesized_with(
    root: Node, node: Node, source: bytes, target: PythonVersion, match: re.Match[bytes]
) -> Iterator[VersionError]:
    statement = node.parent
    if node.type != "with" or statement is None or statement.type != "with_statement":
        return
    clause = next((c for c in statement.children if c.type == "with_clause"), None)
    if clause is None or clause.child_count == 0:
        return
    first = clause.children[0]
    message = _message("Cannot use parentheses within a `with` statement", target, 9)
    if first.type == "(":
        items = [c for c in clause.named_children if c.type == "with_item"]
        closing = clause.children[-1]
        before = closing.prev_sibling if closing.type == ")" else None
        if len(items) > 1 or (before is not None and before.type == ","):
            yield first.start_byte, first.end_byte, message
        return
    items = [c for c in clause.named_children if c.type == "with_item"]
    if len(items) == 1:
        value = items[0].child_by_field_name("value")
        if value is not None and value.type == "tuple" and value.start_byte == clause.start_byte:
            opening = value.children[0]
            yield opening.start_byte, opening.end_byte, message


def _unpack_in_for(
    root: Node, node: Node, source: bytes, target: PythonVersion, match: re.Match[bytes]
) -> Iterator[VersionError]:
    statement = node.parent
    if node.type != "for" or statement is None or statement.type != "for_statement":
        return
    right = statement.child_by_field_name("right")
    if right is not None and right.type == "expression_list":
        for item in right.named_children:
            if item.type == "list_splat":
                yield (
                    item.start_byte,
                    item.end_byte,
                    _message("Cannot use iterable unpacking in `for` statements", target, 9),
                )


def _match(
    root: Node, node: Node, source: bytes, target: PythonVersion, match: re.Match[bytes]
) -> Iterator[VersionError]:
    statement = node.parent
    if node.type != "match" or statement is None or statement.type != "match_statement":
        return
    subject = statement.child_by_field_name("subject")
    # ruff reads ``match`` followed by ( [ * + - as a keyword only after trying an identifier,
    # and then does not report the version: do as it does.
    if subject is not None and source[subject.start_byte : subject.start_byte + 1] in b"([*+-":
        return
    yield node.start_byte, node.end_byte, _message("Cannot use `match` statement", target, 10)


def _except_star(
    root: Node, node: Node, source: bytes, target: PythonVersion, match: re.Match[bytes]
) -> Iterator[VersionError]:
    clause = node.parent
    if node.type != "except" or clause is None or clause.type != "except_clause":
        return
    star = node.next_sibling
    if star is not None and star.type == "*":
        yield star.start_byte, star.end_byte, _message("Cannot use `except*`", target, 11)


def _star_index(
    root: Node, node: Node, source: bytes, target: PythonVersion, match: re.Match[bytes]
) -> Iterator[VersionError]:
    if node.type != "*":
        return
    splat = node.parent
    if splat is None:
        return
    holder = splat.parent
    if holder is None:
        return
    message = _message("Cannot use star expression in index", target, 11)
    if splat.type == "list_splat" and holder.type == "subscript":
        if field_of(holder, splat) == "subscript":
            yield splat.start_byte, splat.end_byte, message
    elif splat.type == "splat_type" and holder.type == "type":
        param = holder.parent
        generic = param.parent if param is not None else None
        if (
            param is not None
            and param.type == "type_parameter"
            and generic is not None
            and generic.type == "generic_type"
            and not _is_type_alias_name(generic)
        ):
            yield splat.start_byte, splat.end_byte, message


def _is_type_alias_name(generic: Node) -> bool:
    holder = generic.parent
    alias = holder.parent if holder is not None else None
    return (
        holder is not None
        and alias is not None
        and alias.type == "type_alias_statement"
        and alias.child_by_field_name("left") == holder
    )


def _star_annotation(
    root: Node, node: Node, source: bytes, target: PythonVersion, match: re.Match[bytes]
) -> Iterator[VersionError]:
    splat = node.parent
    holder = splat.parent if splat is not None else None
    parameter = holder.parent if holder is not None else None
    if (
        node.type == "*"
        and splat is not None
        and splat.type == "splat_type"
        and holder is not None
        and holder.type == "type"
        and parameter is not None
        and parameter.type == "typed_parameter"
        and any(c.type == "list_splat_pattern" for c in parameter.children)
    ):
        yield splat.start_byte, splat.end_byte, _message("Cannot use star annotation", target, 11)


_COMPREHENSIONS = frozenset({"list_comprehension", "set_comprehension", "dictionary_comprehension"})


def _async_comprehension(
    root: Node, node: Node, source: bytes, target: PythonVersion, match: re.Match[bytes]
) -> Iterator[VersionError]:
    clause = node.parent
    if node.type != "async" or clause is None or clause.type != "for_in_clause":
        return
    inner = clause.parent
    if inner is None or inner.type not in _COMPREHENSIONS:
        return
    ancestor = inner.parent
    while ancestor is not None:
        if ancestor.type in _COMPREHENSIONS and not _is_async(ancestor):
            clauses = [c for c in ancestor.named_children if c.type == "for_in_clause"]
            first_iterable = clauses[0].child_by_field_name("right") if clauses else None
            # The first iterable is evaluated in the enclosing scope, not the comprehension's.
            if first_iterable is None or not _contains(first_iterable, inner):
                yield (
                    clause.start_byte,
                    clause.end_byte,
                    (
                        "cannot use an asynchronous comprehension inside of a synchronous "
                        f"comprehension on Python {target} (syntax was added in 3.11)"
                    ),
                )
                return
        ancestor = ancestor.parent


def _is_async(comprehension: Node) -> bool:
    return any(
        c.type == "for_in_clause" and c.child_count and c.children[0].type == "async"
        for c in comprehension.named_children
    )


def _contains(outer: Node, inner: Node) -> bool:
    return outer.start_byte <= inner.start_byte and inner.end_byte <= outer.end_byte


def _type_parameters(
    root: Node, node: Node, source: bytes, target: PythonVersion, match: re.Match[bytes]
) -> Iterator[VersionError]:
    definition = node.parent
    if definition is None or definition.type not in ("function_definition", "class_definition"):
        return
    if node.type not in ("def", "class"):
        return
    params = definition.child_by_field_name("type_parameters")
    if params is not None:
        yield (
            params.start_byte,
            params.end_byte,
            _message("Cannot use type parameter lists", target, 12),
        )


def _type_alias(
    root: Node, node: Node, source: bytes, target: PythonVersion, match: re.Match[bytes]
) -> Iterator[VersionError]:
    statement = node.parent
    if node.type == "type" and statement is not None and statement.type == "type_alias_statement":
        yield (
            node.start_byte,
            node.end_byte,
            _message("Cannot use `type` alias statement", target, 12),
        )


def _fstring(
    root: Node, node: Node, source: bytes, target: PythonVersion, match: re.Match[bytes]
) -> Iterator[VersionError]:
    string = node.parent if node.type == "string_start" else None
    if string is None or string.type != "string":
        return
    start = node.text or b""
    quote = start.lstrip(b"rRbBuUfFtT")
    if b"f" not in start[: len(start) - len(quote)].lower():
        return
    triple = len(quote) == 3
    for part in string.children:
        if part.type == "interpolation":
            yield from _pep701(part, source, quote, triple, target)


def _pep701(
    field: Node, source: bytes, quote: bytes, triple: bool, target: PythonVersion
) -> Iterator[VersionError]:
    """ruff's checks of one replacement field (and of those nested in its format spec)."""
    spec = field.child_by_field_name("format_specifier")
    end = spec.start_byte if spec is not None else field.end_byte
    begin = field.start_byte
    text = source[begin:end]
    special = False
    at = text.find(b"\\")
    while at >= 0:
        special = True
        yield (
            begin + at,
            begin + at + 1,
            _message("Cannot use an escape sequence (backslash) in f-strings", target, 12),
        )
        at = text.find(b"\\", at + 1)
    at = text.find(quote)
    if at >= 0:
        yield (
            begin + at,
            begin + at + len(quote),
            _message("Cannot reuse outer quote character in f-strings", target, 12),
        )
    if b"#" in text:
        for comment in _comments(field, end):
            special = True
            yield (
                comment.start_byte,
                comment.end_byte,
                _message("Cannot use comments in f-strings", target, 12),
            )
    if not triple and not special and (b"\n" in text or b"\r" in text):
        yield (
            begin,
            begin + 1,
            _message(
                "Cannot use line breaks in non-triple-quoted f-string replacement fields",
                target,
                12,
            ),
        )
    if spec is not None:
        for nested in spec.children:
            if nested.type == "format_expression":
                yield from _pep701(nested, source, quote, triple, target)


def _comments(node: Node, end: int) -> Iterator[Node]:
    stack = list(reversed(node.children))
    while stack:
        child = stack.pop()
        if child.start_byte >= end:
            continue
        if child.type == "comment":
            yield child
        else:
            stack.extend(reversed(child.children))


def _except_types(
    root: Node, node: Node, source: bytes, target: PythonVersion, match: re.Match[bytes]
) -> Iterator[VersionError]:
    clause = node.parent
    if node.type != "except" or clause is None or clause.type != "except_clause":
        return
    values = [
        clause.children[i]
        for i in range(clause.child_count)
        if clause.field_name_for_child(i) == "value"
    ]
    if len(values) > 1 and not any(v.type == "as_pattern" for v in values):
        yield (
            values[0].start_byte,
            values[-1].end_byte,
            _message("Multiple exception types must be parenthesized", target, 14),
        )


def _tstring(
    root: Node, node: Node, source: bytes, target: PythonVersion, match: re.Match[bytes]
) -> Iterator[VersionError]:
    string = node.parent if node.type == "string_start" else None
    if string is None or string.type != "string" or b"t" not in _prefix(string).encode():
        return
    yield string.start_byte, string.end_byte, _message("Cannot use t-strings", target, 14)
