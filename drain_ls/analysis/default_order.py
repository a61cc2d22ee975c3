"""A parameter without a default after one with a default (``def f(a=1, b):``), which
tree-sitter-python accepts and CPython rejects: "parameter without a default follows parameter
with a default" (ruff: "Parameter without a default cannot follow a parameter with a
default"), an ``E999`` of ``drain_ls.analysis.legacy``.

Where to look: ``drain_ls._native.default_order`` reads the ``def`` headers that start a line
in the source's bytes and gives the offending parameters it sees (a few a file, most of them
never); without that module, every ``def`` that starts a line is looked at. Either way the tree
decides, from the function's ``parameters`` node, so that both give the same errors (a header
whose bytes read otherwise, a ``lambda`` with several parameters as a default, may be missed
by the C search alone). Keyword-only parameters (after ``*`` or ``*args``) need no default; a
``/`` between the two changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tree_sitter import Node

from drain_ls.analysis.native import NATIVE as _native

MESSAGE = "parameter without a default follows parameter with a default"
_DEFAULTS = frozenset({"default_parameter", "typed_default_parameter"})
_KEYWORD_ONLY = frozenset({"list_splat_pattern", "dictionary_splat_pattern", "keyword_separator"})
_DEF = re.compile(rb"^[ \t\f]*+(?:async[ \t\f]++)?def[ \t\f]++([\w\x80-\xff]++)", re.MULTILINE)


def default_order_errors(
    root: Node, source: bytes, begin: int, end: int
) -> Iterator[tuple[int, int, str]]:
    """(start, end, message) of each such parameter in the ``def`` headers that start a line
    in ``source[begin:end]`` (the bytes parsed into ``root``'s tree)."""
    if _native is not None:
        sites = _native.default_order(source, begin, end)
    else:
        line = source.rfind(b"\n", 0, begin) + 1  # (``begin`` may follow a form feed)
        sites = [match.span(1) for match in _DEF.finditer(source, line, end)]
    seen: set[int] = set()
    for start, stop in sites:
        parameters = _parameters_at(root, start, stop)
        if parameters is None or parameters.start_byte in seen:
            continue
        seen.add(parameters.start_byte)
        offender = first_offender(parameters)
        if offender is not None:
            yield offender.start_byte, offender.end_byte, MESSAGE


def _parameters_at(root: Node, start: int, stop: int) -> Node | None:
    """The ``parameters`` of the function whose name, or one of whose parameters, is at
    ``[start, stop)``."""
    node = root.descendant_for_byte_range(start, stop)
    while node is not None and node.type not in ("parameters", "function_definition"):
        if node.type in ("block", "string", "comment", "module"):
            return None
        node = node.parent
    if node is not None and node.type == "function_definition":
        return node.child_by_field_name("parameters")
    return node


def first_offender(parameters: Node) -> Node | None:
    """The first parameter without a default after one with a default, if any."""
    seen_default = False
    for child in parameters.named_children:
        kind = child.type
        if kind in _DEFAULTS:
            seen_default = True
        elif kind in _KEYWORD_ONLY:
            return None
        elif kind == "typed_parameter":
            first = child.named_children[0] if child.named_child_count else None
            if first is not None and first.type in _KEYWORD_ONLY:
                return None
            if seen_default:
                return child
        elif kind == "identifier" and seen_default:
            return child
    return None
