"""The ``target-version`` setting and the syntax newer than it (ruff's "unsupported syntax").

``version_errors`` reports each construct the target Python cannot parse, in ruff 0.17's
words ("Cannot use `match` statement on Python 3.9 (syntax was added in Python 3.10)"), for
the constructs ruff gates (``crates/ruff_python_parser/src/error.rs``) plus a
version-dependent semantic error it reports always (an asynchronous comprehension inside a
synchronous one before 3.11; ``del __debug__`` from 3.9 is ``drain_ls.analysis.legacy``'s).
As in ruff these are reported whatever the selection, and they do not hide the other
findings of the file: the tree is fine, the target is too old.

Two choices differ from ruff 0.17.6, which follows CPython less closely: a default of a
TypeVarTuple or a ParamSpec (``*Ts = ...``, ``**P = ...``) is reported below 3.13 like any
other (ruff reports only a TypeVar's); ``match`` followed by ``(``, ``[``, ``*``, ``+`` or
``-`` is not reported below 3.10, as ruff does not (CPython rejects it).

Cost: nothing at the newest target (nothing is newer). Below it, each rule in force finds its
candidates with a regular expression over the source (a keyword, an operator, a string
prefix), looks each one up in the tree (``descendant_for_byte_range``) and checks its shape:
linear in the source, and proportional to the candidates, not to the nodes of the tree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from enum import IntEnum

from tree_sitter import Node

from drain_ls.analysis.grammar_gaps import TreeErrors, tree_errors

VersionError = tuple[int, int, str]


class PythonVersion(IntEnum):
    """A target version, ordered; the value is the minor version of Python 3."""

    PY37 = 7
    PY38 = 8
    PY39 = 9
    PY310 = 10
    PY311 = 11
    PY312 = 12
    PY313 = 13
    PY314 = 14

    @property
    def setting(self) -> str:
        """The name in settings: ``py39``."""
        return f"py3{self.value}"

    def __str__(self) -> str:
        """The version as Python writes it: ``3.9``."""
        return f"3.{self.value}"


DEFAULT_TARGET = PythonVersion.PY314
TARGET_NAMES = tuple(v.setting for v in PythonVersion)


def parse_target_version(value: str) -> PythonVersion:
    """``py38`` ... ``py314`` (ruff's names; ``3.12`` is accepted too) as a version.

    Raises ``ValueError`` with the accepted names for anything else."""
    text = value.strip().lower()
    if text.startswith("3."):
        text = "py3" + text[2:]
    for version in PythonVersion:
        if version.setting == text:
            return version
    raise ValueError(f"unknown target-version {value!r}; expected one of {', '.join(TARGET_NAMES)}")


_SPECIFIER = re.compile(r"\s*(~=|===|==|>=|>|!=|<=|<)\s*(\d+)(?:\.(\d+|\*))?(?:\.(?:\d+|\*))*\s*")


def target_from_requires_python(spec: str) -> PythonVersion | None:
    """The lowest version a ``requires-python`` specifier allows (ruff infers the target so
    when none is set): ``>=3.10``, ``~=3.10.2``, ``==3.10.*`` and ``>3.10`` give py310. None
    when the specifier has no lower bound on Python 3 or one below py37; a version newer
    than py314 gives py314."""
    lowest: int | None = None
    for part in spec.split(","):
        if not part.strip():
            continue
        match = _SPECIFIER.fullmatch(part)
        if match is None:
            return None
        operator, major, minor = match.groups()
        if operator in ("<", "<=", "!="):
            continue
        if major != "3" or minor in (None, "*"):
            return None
        lowest = int(minor) if lowest is None else max(lowest, int(minor))
    if lowest is None or lowest < PythonVersion.PY37:
        return None
    return PythonVersion(min(lowest, PythonVersion.PY314))


def resolve_target(value: str | None, requires_python: str | None = None) -> PythonVersion:
    """The target in force: ``value`` (a ``target-version`` setting) when set (not None nor
    empty), else the lower bound of a ``requires-python`` specifier (as ruff infers it), else
    the newest. Raises ``ValueError`` for a ``value`` that names no version."""
    if value:
        return parse_target_version(value)
    if requires_python is not None:
        inferred = target_from_requires_python(requires_python)
        if inferred is not None:
            return inferred
    return DEFAULT_TARGET


def _message(kind: str, target: PythonVersion, added: int) -> str:
    return f"{kind} on Python {target} (syntax was added in Python 3.{added})"


# -- Rules --------------------------------------------------------------------------------
# Each rule: the version it was added in, a regular expression finding its candidates, and a
# check of the node at a candidate yielding (start, end, message).

Check = Callable[[Node, Node, bytes, PythonVersion, re.Match[bytes]], Iterator[VersionError]]


def _at(root: Node, start: int, end: int) -> Node | None:
    return root.descendant_for_byte_range(start, end)


def _token(root: Node, match: re.Match[bytes], group: int = 0) -> Node | None:
    """The leaf at a candidate, if it is exactly the candidate's text (a keyword, an
    operator): a word inside a string or a comment gives a string or comment node instead."""
    start, end = match.span(group)
    node = _at(root, start, end)
    if node is None or node.start_byte != start or node.end_byte != end:
        return None
    return node


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
    if holder.type == "subscript" and _field_of(holder, named) == "subscript":
        kind = "in a sequence index"
    elif holder.type == "set":
        kind = "as an element in a set literal"
    elif holder.type == "set_comprehension" and _field_of(holder, named) == "body":
        kind = "as an element in a set comprehension"
    if kind is not None:
        yield (
            named.start_byte,
            named.end_byte,
            _message(f"Cannot use unparenthesized assignment expression {kind}", target, 9),
        )


def _field_of(parent: Node, child: Node) -> str | None:
    for index, candidate in enumerate(parent.children):
        if candidate == child:
            return parent.field_name_for_child(index)
    return None


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
        if _field_of(holder, splat) == "subscript":
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


_MAX_NESTING = 150  # CPython's MAXFSTRINGLEVEL


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


def _word(word: bytes) -> bytes:
    """A keyword as a pattern that starts with its first letter (so the search skips to it
    quickly) and is not part of a longer name or an attribute."""
    return word + rb"(?<![\w\x80-\xff.]" + word + rb")(?![\w\x80-\xff])"


def _prefixed(letter: bytes) -> list[bytes]:
    """Patterns for the strings whose prefix holds ``letter`` (``f`` or ``t``, either case,
    maybe with an ``r`` before or after): each starts with the letter (the search skips to
    it) and then the quote (most occurrences of the letter fail there, at once)."""
    patterns = []
    for c in (letter.lower(), letter.upper()):
        patterns.append(
            c
            + rb"['\"](?:(?<![\w\x80-\xff]"
            + c
            + rb".)|(?<=[^\w\x80-\xff][rR]"
            + c
            + rb".)|(?<=\A[rR]"
            + c
            + rb".))"
        )
        patterns.append(c + rb"[rR]['\"](?<![\w\x80-\xff]" + c + rb"..)")
    return patterns


# (added in Python 3.x; the candidates; the check). Every pattern starts with a literal
# character: the search jumps between candidates.
_RULES: list[tuple[int, re.Pattern[bytes], Check]] = [
    (8, re.compile(rb":="), _walrus),
    (8, re.compile(rb"/"), _positional_only),
    (8, re.compile(_word(b"return")), _star_tuple),
    (8, re.compile(_word(b"yield")), _star_tuple),
    (9, re.compile(rb"@"), _relaxed_decorator),
    (9, re.compile(_word(b"with") + rb"(?=[ \t\f]*\()"), _parenthesized_with),
    (9, re.compile(_word(b"for") + rb"(?=[^:\r\n]{0,1000}\*)"), _unpack_in_for),
    (9, re.compile(rb":="), _unparenthesized_walrus),
    (10, re.compile(_word(b"match")), _match),
    (11, re.compile(_word(b"except") + rb"(?=[ \t\f]*\*)"), _except_star),
    (11, re.compile(rb"[\[,][ \t\f\r\n]*(\*)(?!\*)"), _star_index),
    (11, re.compile(rb":[ \t\f]*(\*)(?!\*)"), _star_annotation),
    (11, re.compile(_word(b"async") + rb"(?=[ \t\f\\\r\n]+for\b)"), _async_comprehension),
    (12, re.compile(_word(b"def") + rb"(?=[ \t\f\\]+[\w\x80-\xff]+[ \t\f]*\[)"), _type_parameters),
    (
        12,
        re.compile(_word(b"class") + rb"(?=[ \t\f\\]+[\w\x80-\xff]+[ \t\f]*\[)"),
        _type_parameters,
    ),
    (12, re.compile(_word(b"type") + rb"(?=[ \t\f\\]+[A-Za-z_\x80-\xff])"), _type_alias),
    *[(12, re.compile(p), _fstring) for p in _prefixed(b"f")],
    (14, re.compile(_word(b"except") + rb"(?=[^:\r\n]{0,1000},)"), _except_types),
    *[(14, re.compile(p), _tstring) for p in _prefixed(b"t")],
]
_QUOTED = (_fstring, _tstring)


def version_errors(
    root: Node,
    source: bytes,
    target: PythonVersion = DEFAULT_TARGET,
    errors: TreeErrors | None = None,
) -> list[VersionError]:
    """Each construct of ``source`` that ``target`` cannot parse: (start, end, message) in
    ruff's words, sorted by position, one per construct as ruff reports them.

    ``root`` is the module node of the tree of ``source`` (or a chunk's root: the rules only
    look at the nodes under it). ``errors`` is ``tree_errors(root, source)`` if already
    computed (the accepted PEP 696 defaults and the ``type`` statements tree-sitter could not
    parse are reported from it)."""
    found = set(construct_errors(root, source, target))
    found.update(gap_errors(target, errors if errors is not None else tree_errors(root, source)))
    return sorted(found)


def construct_errors(
    root: Node,
    source: bytes,
    target: PythonVersion = DEFAULT_TARGET,
    begin: int | None = None,
    end: int | None = None,
) -> list[VersionError]:
    """``version_errors`` but those of the grammar's gaps (``gap_errors``), found by the
    rules in ``[begin, end)`` of ``root`` only (default: all of it). Each depends on its
    module-level statement alone: an editor checks the statements an edit touched."""
    found: set[VersionError] = set()
    if target >= DEFAULT_TARGET:
        return []
    begin = root.start_byte if begin is None else max(begin, root.start_byte)
    end = root.end_byte if end is None else min(end, root.end_byte)
    fstrings: list[tuple[Node, re.Match[bytes]]] = []
    for version, pattern, check in _RULES:
        if target >= version:
            continue
        group = 1 if pattern.groups else 0
        quoted = check in _QUOTED
        for match in pattern.finditer(source, begin, end):
            node = _at(root, match.start(), match.end()) if quoted else _token(root, match, group)
            if node is None:
                continue
            if check is _fstring:
                fstrings.append((node, match))
            else:
                found.update(check(root, node, source, target, match))
    # F-strings nested more than CPython allows are skipped: each is checked over all the
    # text of its fields, nested ones included (as ruff does), which would cost the square
    # of the depth. The depth comes from the order of the strings, not from ``Node.parent``
    # (which walks down from the root each time).
    fstrings.sort(key=lambda item: item[0].start_byte)
    open_ends: list[int] = []
    for node, match in fstrings:
        while open_ends and open_ends[-1] <= node.start_byte:
            open_ends.pop()
        if len(open_ends) <= _MAX_NESTING:
            found.update(_fstring(root, node, source, target, match))
        string = node.parent
        open_ends.append(string.end_byte if string is not None else node.end_byte)
    return sorted(found)


def gap_errors(target: PythonVersion, gaps: TreeErrors) -> list[VersionError]:
    """The version errors of what ``tree_errors`` accepted where the grammar has gaps: PEP
    696 defaults (Python 3.13) and ``type`` statements tree-sitter could not parse (3.12)."""
    found: list[VersionError] = []
    if target < PythonVersion.PY313:
        message = _message("Cannot set default type for a type parameter", target, 13)
        found.extend((start, stop, message) for start, stop in gaps.type_param_defaults)
    if target < PythonVersion.PY312:
        message = _message("Cannot use `type` alias statement", target, 12)
        found.extend((start, stop, message) for start, stop in gaps.type_statements)
    return found
