"""Asking CPython about a piece of source: which piece (the statements around an error of
tree-sitter's tree, ``compiled_unit``), ``compile`` (to an AST only), its outcome remembered, and
CPython's (line, column) of an error as a byte offset.

``drain_ls.analysis.syntax`` compiles the statement around each error of tree-sitter's tree,
to clear what the grammar rejects and Python accepts, and to word what stands as CPython does.
"""

from __future__ import annotations

import re
import warnings
from bisect import bisect_left
from collections import OrderedDict
from itertools import pairwise

from tree_sitter import Node

from drain_ls.analysis.grammar_gaps import Ancestry
from drain_ls.analysis.source import bare_decorator, continuation_at_end

# Larger statements are not compiled whole (a few milliseconds per 20 KB, at every keystroke
# in the editor while the error stays): the largest statement under the limit is.
MAX_COMPILED_REGION = 20_000
STATEMENT_PARENTS = frozenset({"module", "block"})
# Module-level nodes that are not where a statement starts afresh.
NOT_RESTARTS = frozenset({"comment", "ERROR"})
# What ``compile_outcome`` returns for a text that compiles.
ACCEPTED = object()


def remembered_outcome(
    text: bytes, wrapped: bool, compiled: OrderedDict[tuple[bytes, bool], object] | None
) -> object:
    """``compile_outcome``'s outcome, remembered in ``compiled``."""
    key = (text, wrapped)
    found = compiled.get(key) if compiled is not None else None
    if found is None:
        found = compile_outcome(text, wrapped)
        if compiled is not None:
            compiled[key] = found
            while len(compiled) > 16:
                compiled.popitem(last=False)
    return found


def unit_text(source: bytes, begin: int, end: int) -> bytes:
    """``source[begin:end]``, to be compiled alone. A unit that ends with a line continuation
    the file goes on after is completed: alone, it would be "unexpected EOF" (one at the end
    of the file is that error: ``syntax.continuation_at_eof``)."""
    text = source[begin:end]
    at = continuation_at_end(text) if end < len(source) else -1
    return text if at < 0 else text[: at + 1] + b"\n\n"


def compile_outcome(text: bytes, wrapped: bool) -> object:
    """``ACCEPTED``, or (message, 1-based line or None, 1-based character column)."""
    code = text.decode("utf-8", errors="replace")
    if wrapped:
        code = "if 1:\n" + code
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(code, "<statement>", "exec", flags=0x400, dont_inherit=True)  # ONLY_AST
    except SyntaxError as exc:
        return f"{type(exc).__name__}: {exc.msg or 'invalid syntax'}", exc.lineno, exc.offset
    except ValueError:  # a NUL byte (Python 3.11)
        return "SyntaxError: source code cannot contain null bytes", None, None
    except (RecursionError, MemoryError) as exc:
        return f"SyntaxError: {type(exc).__name__}", None, None
    return ACCEPTED


def cpython_offset(source: bytes, begin: int, line: int | None, column: int | None) -> int:
    """The byte offset of CPython's (line, character column), both 1-based, in a unit that
    starts at ``begin``."""
    start = begin
    for _ in range(max(0, (line or 1) - 1)):
        eol = source.find(b"\n", start)
        if eol < 0:
            break
        start = eol + 1
    eol = source.find(b"\n", start)
    text = source[start : eol if eol >= 0 else len(source)].decode("utf-8", errors="replace")
    chars = max(0, min((column or 1) - 1, len(text)))
    return start + len(text[:chars].encode("utf-8"))


class Runs:
    """The module-level statements of a root, in runs that ``compiled_unit`` compiles together: a
    statement that does not start a line, or follows an ERROR node, runs on from the one
    before. Made once per root, in one pass over its children: looking for each error's run
    among the siblings cost time quadratic in their number (cubic with tree-sitter's
    ``prev_sibling``), and a line of 1,000 names joined by backslashes took 31 s."""

    def __init__(self, root: Node, source: bytes, ancestry: Ancestry) -> None:
        """The runs of ``root``'s children (``ancestry``: the parents met on the way to its
        errors)."""
        self.ancestry = ancestry
        # The largest statement under the limit from each node up (``compiled_unit``), by the ids
        # of the node and of the run's node it must not be.
        self.largest: dict[tuple[int, int], Node | None] = {}
        self.children = children = root.children
        self.starts = [child.start_byte for child in children]
        count = len(children)
        # first[i]: where the run holding child i starts; last[i]: where it ends.
        self.first = first = list(range(count))
        self.last = last = list(range(count))
        for i in range(1, count):
            if children[i - 1].type == "ERROR" or not is_restart(children[i], source):
                first[i] = first[i - 1]
        for i in range(count - 2, -1, -1):
            after = children[i + 1]
            if after.type == "ERROR" or not is_restart(after, source):
                last[i] = last[i + 1]

    def index(self, top: Node) -> int:
        """The index of ``top``, one of the children."""
        at = bisect_left(self.starts, top.start_byte)
        while self.children[at] != top:  # zero-width nodes share a start
            at += 1
        return at


def compiled_unit(site: Node, source: bytes, runs: Runs) -> tuple[int, int, bool] | None:
    """What to compile to clear an error site: (start, end, whether it is indented and is
    compiled in a block of its own). The module-level statement around it, with the ERROR
    nodes and the nodes that do not start a line next to it at module level (tree-sitter
    leaves the rest of a statement it could not parse there) and, past an ERROR node or a
    site at module level, one more statement (and past a decorator's line, what it
    decorates); if
    that is over ``MAX_COMPILED_REGION`` bytes, the largest statement around the site under
    the limit; None if there is none (the whole source is then compiled). ``runs``: those of
    the root the site is under."""
    ancestry = runs.ancestry
    top = ancestry.up(
        site, "top", lambda node, parent: parent is None or ancestry.parent(parent) is None
    )
    first = last = top
    if ancestry.parent(top) is not None:
        # Back to a statement that starts a line (tree-sitter may end a statement early and
        # leave the indented rest of it at module level), over ERROR nodes.
        children, at = runs.children, runs.index(top)
        low, high = runs.first[at], runs.last[at]
        if (children[low].type == "ERROR" or children[low] == site) and low > 0:
            low -= 1
        if (children[high].type == "ERROR" or children[high] == site) and high + 1 < len(children):
            high += 1
        if high + 1 < len(children) and bare_decorator(source, children[high]):
            high += 1
        first, last = children[low], children[high]
    begin, end = first.start_byte, last.end_byte
    begin = source.rfind(b"\n", 0, begin) + 1
    if site.start_byte == site.end_byte:
        end = max(end, _semicolon_line_end(source, site.end_byte))
    if end - begin <= MAX_COMPILED_REGION:
        return begin, end, False
    largest = largest_statement(site, source, top if first != last else None, runs)
    if largest is None:
        return None
    start = source.rfind(b"\n", 0, largest.start_byte) + 1
    return start, largest.end_byte, source[start : start + 1] in (b" ", b"\t", b"\f")


def _semicolon_line_end(source: bytes, at: int) -> int:
    """The end of the line of the ``;`` that comes next after ``at`` (past blanks and line
    breaks), or ``at``. tree-sitter reads a line that starts with ``;`` as an empty statement
    that ends where the line before ends (a MISSING identifier there), leaving the ``;``
    outside it: the statement alone compiles, the line does not."""
    match = _TO_SEMICOLON.match(source, at)
    if match is None:
        return at
    stop = source.find(b"\n", match.end())
    return len(source) if stop < 0 else stop


_TO_SEMICOLON = re.compile(rb"[ \t\f\r\n]*;")


def largest_statement(site: Node, source: bytes, run: Node | None, runs: Runs) -> Node | None:
    """The largest statement around ``site`` (itself or an ancestor; climbing, the first one
    over ``MAX_COMPILED_REGION`` bytes from its line's start ends the climb) under the limit;
    never ``run``, the module-level node of a run that has others (its text may compile by
    itself: ``x`` of ``x\\`` lines joined by backslashes). Memoized in ``runs`` by node: the
    errors of a deep tree share their ancestors."""
    ancestry, memo = runs.ancestry, runs.largest
    path = []
    node, found = site, None
    avoid = -1 if run is None else run.id
    while True:
        if (node.id, avoid) in memo:
            found = memo[node.id, avoid]
            break
        parent = ancestry.parent(node)
        if parent is None or node == run:
            break
        if parent.type in STATEMENT_PARENTS and node.type != "block":
            start = source.rfind(b"\n", 0, node.start_byte) + 1
            if node.end_byte - start > MAX_COMPILED_REGION:
                break
        path.append(node)
        node = parent
    for below in reversed(path):  # from the top of the climb down
        parent = ancestry.parent(below)
        assert parent is not None
        if found is None and parent.type in STATEMENT_PARENTS and below.type != "block":
            found = below
        memo[below.id, avoid] = found
    return found


def cleared_together(
    source: bytes,
    units: list[tuple[int, int, bool] | None],
    compiled: OrderedDict[tuple[bytes, bool], object] | None,
) -> set[tuple[int, int, bool]]:
    """The module-level units that overlap one another, compiled as one where that is under
    ``MAX_COMPILED_REGION`` bytes: those CPython accepts together. (A line inside brackets
    dedented below its block makes tree-sitter cut the rest of the statement into ERROR
    nodes, each of whose units is only a fragment.) And two units that only blanks and line
    breaks separate, likewise: tree-sitter may end a statement at such a line, at column 0
    (``def f(a: C[``, then ``i``, then ``],``), the rest of it being the next unit."""
    spans = sorted(unit for unit in units if unit is not None and not unit[2])
    cleared: set[tuple[int, int, bool]] = set()
    groups: list[list[tuple[int, int, bool]]] = []
    for unit in spans:
        if groups and unit[0] < max(u[1] for u in groups[-1]):
            groups[-1].append(unit)
        else:
            groups.append([unit])
    for group in groups:
        if len(group) > 1 and _accepted(source, group[0][0], max(u[1] for u in group), compiled):
            cleared.update(group)
    for before, after in pairwise(groups):
        end, begin = max(u[1] for u in before), after[0][0]
        if source[end:begin].strip() or set(before + after) <= cleared:
            continue
        if _accepted(source, before[0][0], max(u[1] for u in after), compiled):
            cleared.update(before + after)
    return cleared


def _accepted(
    source: bytes, begin: int, end: int, compiled: OrderedDict[tuple[bytes, bool], object] | None
) -> bool:
    return (
        end - begin <= MAX_COMPILED_REGION
        and remembered_outcome(unit_text(source, begin, end), False, compiled) is ACCEPTED
    )


def is_restart(node: Node, source: bytes) -> bool:
    """Whether ``node``, a module-level node, starts a statement afresh: not a comment or an
    ERROR node, and at the start of a line."""
    start = node.start_byte
    return node.type not in NOT_RESTARTS and (start == 0 or source[start - 1] == 0x0A)
