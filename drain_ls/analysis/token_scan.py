"""The argument and parameter lists (``drain_ls.analysis.arguments``), the literals
(``drain_ls.analysis.literals``), the ``del`` statements (``store_targets``) and the starred
items (``drain_ls.analysis.starred``) whose errors
tree-sitter-python does not see, found and checked: ``E999`` errors of
``drain_ls.analysis.legacy``.

Where to look: ``drain_ls._native.token_sites`` reads the source's tokens once and gives the
lists whose elements could be out of order or repeated, the runs of strings that mix bytes and
text, the numbers with an underscore that no digit follows (a few a file, most files none:
two, neither an error, in the 13,353 files of a Python installation with its site-packages),
every ``del`` (3,849 there), the annotated statements that begin with a bracket or a star or
hold a comma (``x, y: int``) or whose colon ends its line (``class C: x:``), the bytes
literals with a byte past ASCII, and the stars that could stand where none may (``*`` or
``**`` that is no product, outside a call's arguments, a list's items and a dict's). A file
whose tree has an error is scanned a module-level statement at a time (``_statements``).
Without that module, a query of the tree gives every list and literal. Either way the tree
decides, from the node, so that both give the same errors; the C scan does not read the
fields of f-strings (``f"{g(a=1, b)}"``), the one place where it misses what the query finds.
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from operator import attrgetter

from tree_sitter import Node, Query, QueryCursor

from drain_ls.analysis.arguments import LISTS, list_errors
from drain_ls.analysis.forest_root import ForestRoot
from drain_ls.analysis.literals import LITERALS, literal_errors
from drain_ls.analysis.native import NATIVE as _native
from drain_ls.analysis.source import PY_LANGUAGE
from drain_ls.analysis.starred import STARRED, starred_errors
from drain_ls.analysis.store_targets import annotation_errors, delete_errors

Error = tuple[int, int, str]

# The kinds of ``token_sites``: a bracket group (at its bracket), a def's parameters, a
# lambda's (at the ``lambda``), strings side by side (at the first), a number, a ``del``, a
# one-quote string that a line break ends (at its start), a star (at its ``*``), an annotation
# of a tuple, a list or a star (at its colon), a bytes literal with a byte past ASCII (at its
# start).
(
    _GROUP,
    _PARAMETERS,
    _LAMBDA,
    _STRINGS,
    _NUMBER,
    _DEL,
    _UNCLOSED,
    _STAR,
    _ANNOTATED,
    _BYTES,
) = range(10)
_DELETE = "delete_statement"
_start_byte = attrgetter("start_byte")
_ASSIGNMENT = "assignment"


def token_errors(root: Node, source: bytes, begin: int, end: int) -> Iterator[Error]:
    """(start, end, message) of each such error in ``source[begin:end]`` (the bytes parsed
    into ``root``'s tree)."""
    seen: set[tuple[int, str]] = set()
    for node in _nodes(root, source, begin, end):
        if (node.start_byte, node.type) in seen:
            continue
        seen.add((node.start_byte, node.type))
        if node.type in LISTS:
            yield from list_errors(node)
        elif node.type in LITERALS:
            yield from literal_errors(node)
        elif node.type == _DELETE:
            yield from delete_errors(node)
        elif node.type in STARRED:
            yield from starred_errors(node)
        elif node.type == _ASSIGNMENT:
            yield from annotation_errors(node)


def _nodes(root: Node, source: bytes, begin: int, end: int) -> Iterable[Node]:
    if _native is None:
        # (A document cut into chunks has a tree per chunk: each is queried.)
        roots = root.roots if isinstance(root, ForestRoot) else (root,)
        found: list[Node] = []
        for tree_root in roots:
            if tree_root.end_byte > begin and tree_root.start_byte < end:
                cursor = QueryCursor(_query())
                cursor.set_byte_range(begin, end)
                found += cursor.captures(tree_root).get("node", [])
        return found
    if not root.has_error:
        return _at_sites(root, _native.token_sites(source, begin, end))
    sites: list[tuple[int, int, int]] = []
    for start, stop in _statements(root, begin, end):
        sites += _native.token_sites(source, start, stop)
    return _at_sites(root, sites)


def _statements(root: Node, begin: int, end: int) -> Iterator[tuple[int, int]]:
    """``[begin, end)`` cut where its module-level statements start. The scan reads tokens,
    and a broken statement may leave a string or a bracket open where tree-sitter went on to
    the next statement: read on, the scan would see the statements after it as the rest of
    that string or bracket, and what it found there would depend on how far it read (the
    editor reads only the statements an edit touched). Each statement is read alone, as the
    tree has it. (A tree without an error is read in one piece: no statement of it leaves
    anything open, ``tests/test_token_scan.py``.)"""
    children = root.children
    cut = begin
    for child in children[bisect_right(children, begin, key=_start_byte) :]:
        if child.start_byte >= end:
            break
        yield cut, child.start_byte
        cut = child.start_byte
    yield cut, end


@functools.cache
def _query() -> Query:
    """Every list, literal, star, ``del`` and assignment (compiled when first needed: 4 ms, and
    only without C)."""
    every = sorted(LISTS | LITERALS | STARRED | {_DELETE, _ASSIGNMENT})
    kinds = " ".join(f"({kind})" for kind in every)
    return Query(PY_LANGUAGE, f"[{kinds}] @node")


def _at_sites(root: Node, sites: list[tuple[int, int, int]]) -> Iterator[Node]:
    """The nodes of what the C scan found: a list starts at its bracket (the parent of the
    bracket's token) or belongs to the ``lambda`` there; strings side by side are the
    parent of the first one's; a number is the node over its token; a ``del`` is its
    statement's keyword; a star is its item's first token; an annotation's colon is its
    assignment's."""
    for kind, start, stop in sites:
        if kind == _NUMBER:
            number = root.descendant_for_byte_range(start, stop)
            if number is not None and number.type in LITERALS:
                yield number
            continue
        token = root.descendant_for_byte_range(start, start + 1)
        node = token.parent if token is not None else None
        if node is None or token is None or token.start_byte != start:
            continue
        if kind in (_UNCLOSED, _BYTES):
            if node.type == "string":
                yield node
            continue
        if kind == _DEL:
            if node.type == _DELETE:
                yield node
            continue
        if kind == _STAR:
            if node.type in STARRED:
                yield node
            continue
        if kind == _ANNOTATED:
            if node.type == _ASSIGNMENT:
                yield node
            continue
        if kind == _STRINGS:
            node = node.parent  # (the string_start's string's concatenated_string)
        elif kind == _LAMBDA:
            node = node.child_by_field_name("parameters") if node.type == "lambda" else None
        if node is not None and node.type in (LITERALS if kind == _STRINGS else LISTS):
            yield node
