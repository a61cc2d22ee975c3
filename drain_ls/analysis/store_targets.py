"""What a ``del`` or a ``with ... as`` may name, and an annotation annotate, which
tree-sitter-python does not check (``del 1``, ``del f()``, ``with a as 1:``, ``x, y: int``):
CPython's rule (``_PyPegen_get_invalid_target``
in ``Parser/pegen.c``) and its words for what it found (``_PyPegen_get_expr_name``), as
``drain_ls.analysis.legacy`` reports them: "cannot delete literal", "cannot assign to
function call"."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

from tree_sitter import Node

from drain_ls.analysis.starred import TIGHTER

# tree-sitter's node types, named as CPython names the expression (``_PyPegen_get_expr_name``).
_NAMES = {
    "call": "function call",
    "binary_operator": "expression",
    "unary_operator": "expression",
    "boolean_operator": "expression",
    "not_operator": "expression",
    "comparison_operator": "comparison",
    "lambda": "lambda",
    "conditional_expression": "conditional expression",
    "named_expression": "named expression",
    "generator_expression": "generator expression",
    "list_comprehension": "list comprehension",
    "set_comprehension": "set comprehension",
    "dictionary_comprehension": "dict comprehension",
    "dictionary": "dict literal",
    "set": "set display",
    "await": "await expression",
    "yield": "yield expression",
    "integer": "literal",
    "float": "literal",
    "true": "True",
    "false": "False",
    "none": "None",
    "ellipsis": "ellipsis",
}
# Targets in themselves, and groups of targets.
_VALID = frozenset({"identifier", "attribute", "subscript"})
_GROUPS = frozenset(
    {
        "tuple",
        "list",
        "expression_list",
        "pattern_list",
        "tuple_pattern",
        "list_pattern",
        "parenthesized_expression",
    }
)
_STARRED = frozenset({"list_splat", "list_splat_pattern"})
# What tree-sitter lets take in a star at its left (``*a + b`` is ``(*a) + b``).
_WRAPPERS = TIGHTER | {"comparison_operator", "boolean_operator", "conditional_expression"}


def delete_errors(statement: Node) -> Iterator[tuple[int, int, str]]:
    """The error of a ``delete_statement``, if any: its first target that is none."""
    for item in statement.named_children:
        invalid = invalid_target(item, delete=True)
        if invalid is not None:
            bad, name = invalid
            yield bad.start_byte, bad.end_byte, f"cannot delete {name}"
            return


def annotation_errors(assignment: Node) -> Iterator[tuple[int, int, str]]:
    """The error of an annotated assignment whose target is a tuple or a list (``x, y: int``,
    ``[x]: int``; ``(x): int`` is one name), or whose colon ends its line (``x:`` then ``int``
    on the next line: tree-sitter reads on, Python ends the statement without a type, and
    says "invalid syntax" where the line goes on after the colon). (``*a: int``:
    drain_ls.analysis.starred.)"""
    annotation = assignment.child_by_field_name("type")
    if annotation is None:
        return
    colon = annotation.prev_sibling
    while colon is not None and colon.type == "comment":
        colon = colon.prev_sibling
    if colon is not None and colon.type == ":":
        text, start = assignment.text or b"", assignment.start_byte
        between = text[colon.end_byte - start : annotation.start_byte - start]
        if _breaks_line(between):
            after = colon.end_byte + len(between) - len(between.lstrip(b" \t\f"))
            yield after, after + 1, "invalid syntax"
            return
    left = assignment.child_by_field_name("left")
    if left is None or _joins_lines(left):
        return
    if left.type == "pattern_list" or (
        left.type == "tuple_pattern"
        and (not left.named_children or any(child.type == "," for child in left.children))
    ):
        yield left.start_byte, left.end_byte, "only single target (not tuple) can be annotated"
    elif left.type == "list_pattern":
        yield left.start_byte, left.end_byte, "only single target (not list) can be annotated"


def _joins_lines(targets: Node) -> bool:
    """Whether tree-sitter read two statements as one target list: ``a,`` on a line, then
    ``(x): int`` (a line break between two of its parts, outside brackets, not escaped)."""
    text, start = targets.text or b"", targets.start_byte
    for before, after in pairwise(targets.children):
        between = text[before.end_byte - start : after.start_byte - start]
        if _breaks_line(between):
            return True
    return False


def _breaks_line(between: bytes) -> bool:
    """Whether ``between``, text outside brackets, holds a line break no backslash joins."""
    return b"\n" in between.replace(b"\\\n", b"").replace(b"\\\r\n", b"")


def invalid_target(node: Node, delete: bool) -> tuple[Node, str] | None:
    """The first part of the target ``node`` that cannot be deleted (``delete``) or assigned
    to, with CPython's name for it ("literal", "function call", ...); None when it is a
    target. Starred targets are assignable (``with a as (b, *c)``), not deletable."""
    stack = [node]
    while stack:
        item = stack.pop()
        kind = item.type
        if delete and kind in _WRAPPERS and _starred_first(item):
            return item, "starred"  # ``del *a + b``, ``del *a[0]``: CPython stars it whole
        if kind in _VALID or kind in ("comment", "line_continuation"):
            continue
        if kind in _GROUPS:
            stack.extend(reversed(item.named_children))
            continue
        if kind in _STARRED:
            if delete and not _parenthesized_alone(item):
                return item, "starred"
            stack.extend(reversed(item.named_children))
            continue
        if kind in ("string", "concatenated_string"):
            return item, _string_name(item)
        name = _NAMES.get(kind)
        if name is not None:  # (any other node: left alone, never a false error)
            return item, name
    return None


def _starred_first(node: Node) -> bool:
    """Whether ``node`` begins with a star that tree-sitter made part of it."""
    while node.type in _WRAPPERS:
        first = node.named_children[0] if node.named_children else None
        if first is None or first.start_byte != node.start_byte:
            return False
        node = first
    return node.type in _STARRED


def _parenthesized_alone(star: Node) -> bool:
    """``(*a)``: a star in parentheses without a comma, the parser's error before the
    compiler's ``del`` rule (``drain_ls.analysis.starred`` reports it)."""
    parent = star.parent
    return (
        parent is not None
        and parent.type in ("tuple", "parenthesized_expression")
        and not any(child.type == "," for child in parent.children)
    )


def _string_name(string: Node) -> str:
    """A string (or strings side by side) as CPython names it: an f-string or t-string
    expression if one of them is, else a literal."""
    parts = string.named_children if string.type == "concatenated_string" else [string]
    prefixes = b"".join(
        (part.child(0).text or b"").lower()
        for part in parts
        if part.type == "string" and part.child(0) is not None
    )
    if b"f" in prefixes:
        return "f-string expression"
    if b"t" in prefixes:
        return "t-string expression"
    return "literal"
