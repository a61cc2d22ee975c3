"""Where tree-sitter-python 0.25 parses valid Python wrongly, and how drain-ls makes up for it.

Three gaps of the grammar matter (``/tmp/issue18/research.md`` section 2; upstream issues
tree-sitter-python#346 and tree-sitter#4467), all made up for here without the running interpreter:

- **Lone CR line ends** (old Mac files): tree-sitter does not treat a ``\\r`` without ``\\n``
  as a line break, so such a file is one long broken line. CPython reads source with
  universal newlines. ``normalize_lone_cr`` maps each lone ``\\r`` to ``\\n`` before parsing:
  the length is unchanged, so every byte offset still holds, and the lines (``\\r`` is a line
  break in the LSP too) are the same.
- **A named escape left open** (``"\\N{`` and no ``}`` soon after): the grammar reads a
  ``\\N{NAME}`` escape with the pattern ``\\N\\{[^}]+\\}``, which reads ahead to the next
  ``}`` wherever it is, across lines and strings, and then gives up if there is none. Each such
  escape costs the distance to the next ``}``: a file of ``x = "\\N{"`` lines parses in time
  quadratic in its length (4,000 lines: 1.6 s; 8,000: 4.9 s). ``far_escapes`` finds the
  escapes whose ``{`` has no ``}`` in the next ``FAR_ESCAPE`` bytes (so none that is valid:
  Unicode's longest name has 88 letters) and ``parse_input`` turns their ``N`` into ``U``,
  which the pattern for ``\\U`` rejects at the ``{``: the same tree as the failed long read
  gives, at once (a ``\\U`` and a ``\\N`` are alike in a bytes literal, a raw string, a comment).
- **PEP 696 type parameter defaults** (``def f[T = int]()``, ``class C[T: int = bool]``,
  ``*Ts = *tuple[int]``, ``**P = [int]``, ``type A[T = X] = ...``): the grammar has no ``=``
  in a type parameter list. In a ``def`` or ``class`` each default gives one small ERROR node
  (``is_type_param_default_error``); in a ``type`` statement a ``*Ts`` default can derail the
  whole statement. ``tree_errors`` accepts both: the small shapes directly, anything else in
  a header with defaults when the header, the defaults blanked out, parses cleanly and each
  default parses as an expression. The accepted defaults are returned (``=`` to the end of
  the default, as ruff reports them) for the version check: they are errors below Python 3.13.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import NamedTuple

from tree_sitter import Node, Parser

from drain_ls.analysis.indentation import logical_line_code_end
from drain_ls.analysis.source import PY_LANGUAGE

# A carriage return that is not half of a CRLF.
LONE_CR = re.compile(rb"\r(?!\n)")


def normalize_lone_cr(source: bytes) -> bytes:
    """``source`` with each ``\\r`` not followed by ``\\n`` replaced by ``\\n`` (same length).

    Apply it to the bytes given to tree-sitter (not to what is shown or edited): offsets,
    line numbers and the text of every node are unchanged, except that a lone CR is now the
    line break it is for CPython and for the LSP."""
    if b"\r" not in source or source.count(b"\r") == source.count(b"\r\n"):
        return source
    return LONE_CR.sub(b"\n", source)


# More than any name Unicode has (88 letters) after a named escape's ``{``.
FAR_ESCAPE = 128
_NAMED_ESCAPE = b"\\N{"


def far_escapes(source: bytes) -> list[int]:
    """The offsets of the ``N`` of each ``\\N{`` that begins an escape (an odd run of
    backslashes before its ``N``) and has no ``}`` in the ``FAR_ESCAPE`` bytes after its ``{``,
    in order: where tree-sitter's lexer would read far ahead (see the module's docstring).
    Linear in the length of ``source``, for any text."""
    found: list[int] = []
    at = source.find(_NAMED_ESCAPE)
    close = -1  # the first ``}`` after the last ``{`` looked at (a position past the end: none)
    while at != -1:
        brace = at + 2
        if close <= brace:
            close = source.find(b"}", brace + 1)
            if close == -1:
                close = len(source) + FAR_ESCAPE + 1
        if close - brace > FAR_ESCAPE:
            run = at  # the runs before two escapes do not overlap: linear in all
            while run > 0 and source[run - 1] == 0x5C:
                run -= 1
            if (at - run) % 2 == 0:
                found.append(at + 1)
        at = source.find(_NAMED_ESCAPE, brace + 1)
    return found


def neutralize(source: bytes, positions: list[int]) -> bytes:
    """``source`` with the ``N`` at each of ``positions`` (``far_escapes``) made a ``U``."""
    if not positions:
        return source
    text = bytearray(source)
    for at in positions:
        text[at] = 0x55  # U
    return bytes(text)


def parse_input(source: bytes) -> bytes:
    """What tree-sitter is given for ``source``, the same length: its lone CRs normalized
    and its far named escapes neutralized (see the module's docstring). ``source`` itself
    when neither is there. Offsets, lines and the text of every node but those bytes hold."""
    return EditedInput.of(source)[1]


class EditedInput(NamedTuple):
    """What tree-sitter is given for a text that is edited again and again (a document):
    ``parse_input``, kept up with the edits at the cost of the text around each."""

    lone_cr: bool  # the text has a lone CR (or had one)
    far: list[int] | None  # its far named escapes (None: it has no ``\\N{`` at all)

    @classmethod
    def of(cls, source: bytes) -> tuple[EditedInput, bytes]:
        """The state of ``source``, and what tree-sitter is given for it."""
        normalized = normalize_lone_cr(source)
        far = far_escapes(normalized) if _NAMED_ESCAPE in normalized else None
        return cls(normalized is not source, far), neutralize(normalized, far or [])

    def edited(
        self, source: bytes, start: int, old_end: int, new_end: int
    ) -> tuple[EditedInput, bytes, int, int, int]:
        """The edit (bytes ``[start, old_end)`` of the old text became ``[start, new_end)`` of
        ``source``) as tree-sitter must be told it: the new state, what it is given, and the
        edit grown to cover each byte that the edit changed outside itself."""
        # A CR just before the edit may turn from a line break into half of one, or back.
        start = lone_cr_edit_start(source, start)
        # A text without a lone CR gets one only around an edit (a CR inserted, the LF after
        # one deleted): only there is it looked for (the whole text is 8 ms per 5 MB of
        # CRLF text, at every keystroke). A CR that ends the window counts as lone.
        lone_cr = self.lone_cr
        if lone_cr or LONE_CR.search(source, max(start - 1, 0), new_end + 1):
            normalized = normalize_lone_cr(source)
            lone_cr, source = normalized is not source, normalized
        # Likewise a named escape; and a ``}`` typed or deleted within ``FAR_ESCAPE`` bytes
        # after one, or a backslash before one, makes or unmakes it outside the edit.
        far = self.far
        if far is None and _NAMED_ESCAPE not in source[max(start - 2, 0) : new_end + 2]:
            return EditedInput(lone_cr, None), source, start, old_end, new_end
        new = far_escapes(source) if _NAMED_ESCAPE in source else None
        delta = new_end - old_end
        moved = {at if at < start else at + delta for at in far or [] if not start <= at < old_end}
        flipped = [at for at in moved.symmetric_difference(new or []) if not start <= at < new_end]
        if flipped:
            first, last = min(flipped), max(flipped) + 1
            if first < start:
                start = first
            if last > new_end:
                old_end, new_end = old_end + last - new_end, last
        return EditedInput(lone_cr, new), neutralize(source, new or []), start, old_end, new_end


def lone_cr_edit_start(old_source: bytes, start: int) -> int:
    """Where an edit starting at ``start`` begins in the normalized text (``normalize_lone_cr``).

    A ``\\r`` just before an edit is normalized according to the byte after it, which the edit
    may change (typing ``\\n`` after a lone CR makes it a CRLF; deleting the ``\\n`` of a CRLF
    leaves a lone CR): the edit then starts one byte earlier. Nothing else outside the edit
    changes."""
    if start > 0 and old_source[start - 1 : start] == b"\r":
        return start - 1
    return start


# -- PEP 696 ------------------------------------------------------------------------------

_NAME = rb"[A-Za-z_\x80-\xff][\w\x80-\xff]*"
# The text of the ERROR node a default leaves, by shape (research.md section 2.1):
# ``T =``, ``*Ts = *``, ``**P =`` (the default follows as a sibling), ``= default`` (after a
# parenthesised bound or for ``**P = ...``: the default is inside the ERROR) and ``bound =``
# (in a ``constrained_type``: the default follows).
_SHAPE_NAMED = re.compile(rb"(?:\*\*?)?" + _NAME + rb"\s*=\s*\*?")
_SHAPE_VALUE = re.compile(rb"=\s*\S[\s\S]*")
_SHAPE_BOUND = re.compile(rb"[\s\S]*\S\s*=")
_HEADER = re.compile(
    rb"(?:async[ \t\f]+)?(?:def|class|type)[ \t\f\\\r\n]+" + _NAME + rb"[ \t\f\\\r\n]*\["
)
_SEPARATORS = re.compile(rb"[\[\](){},=:'\"#]")


class TreeErrors(NamedTuple):
    """The syntax errors of a tree once the grammar's gaps are accounted for."""

    # ERROR and MISSING nodes that are real syntax errors, in source order (the outermost of
    # nested ones only).
    errors: list[Node]
    # Accepted PEP 696 defaults: (offset of the ``=``, end of the default), in source order.
    type_param_defaults: list[tuple[int, int]]
    # ``type`` statements that tree-sitter could not parse but that are valid: the range of
    # their ``type`` keyword (the version check reports them below Python 3.12).
    type_statements: list[tuple[int, int]]
    # The parents of the nodes on the way to the errors (None: no error).
    ancestry: Ancestry | None = None


class Ancestry:
    """The parent of each node on the paths from a root to its error sites, as the walk that
    found them met it, and climbs from a site memoized. (tree-sitter's ``Node.parent`` walks
    down from the root: climbing from each of n nested errors took time cubic in n, and 1,000
    lines of ``x = 1 \\`` took 57 s.)"""

    def __init__(self) -> None:
        """No node met yet."""
        self.parents: dict[int, Node] = {}
        self._found: dict[tuple[str, int], Node] = {}

    def parent(self, node: Node) -> Node | None:
        """``node``'s parent (None for the root)."""
        found = self.parents.get(node.id)
        return found if found is not None else node.parent

    def up(self, node: Node, kind: str, stop: Callable[[Node, Node | None], bool]) -> Node:
        """The first of ``node`` and its ancestors at which ``stop(it, its parent)``, which
        must hold at the root (parent None); ``kind`` names ``stop`` for the memo."""
        path = []
        while (found := self._found.get((kind, node.id))) is None:
            parent = self.parent(node)
            if stop(node, parent):
                found = node
                break
            assert parent is not None
            path.append(node)
            node = parent
        for climbed in path:
            self._found[(kind, climbed.id)] = found
        return found


def _type_parameter_context(node: Node) -> bool:
    """Whether ``node`` (a ``type_parameter``) is the type parameter list of a ``def`` or a
    ``class``, or of the name of a ``type`` statement (and not a subscript in an annotation)."""
    parent = node.parent
    if parent is None:
        return False
    if parent.type in ("function_definition", "class_definition"):
        return parent.child_by_field_name("type_parameters") == node
    if parent.type != "generic_type":
        return False
    holder = parent.parent
    alias = holder.parent if holder is not None else None
    return (
        holder is not None
        and holder.type == "type"
        and alias is not None
        and alias.type == "type_alias_statement"
        and alias.child_by_field_name("left") == holder
    )


def is_type_param_default_error(node: Node, parent: Node | None = None) -> bool:
    """Whether ``node``, an ERROR node, is one of the small shapes a PEP 696 default of a type
    parameter leaves in a ``def``, ``class`` or ``type`` header (see ``_SHAPE_*``). ``parent``:
    its parent, when known (tree-sitter's ``Node.parent`` walks down from the root)."""
    if node.type != "ERROR":
        return False
    parent = node.parent if parent is None else parent
    if parent is None or parent.type not in ("constrained_type", "type_parameter"):
        return False  # (before the text and the siblings: a broken file has many errors)
    text = node.text or b""
    after = node.next_sibling
    if parent.type == "constrained_type":
        holder = parent.parent
        param = holder.parent if holder is not None else None
        before = node.prev_sibling
        return (
            param is not None
            and param.type == "type_parameter"
            and _type_parameter_context(param)
            and before is not None
            and before.type == ":"
            and after is not None
            and after.type == "type"
            and _SHAPE_BOUND.fullmatch(text) is not None
            and not _has_error_inside(node)
        )
    if parent.type != "type_parameter" or not _type_parameter_context(parent):
        return False
    if _SHAPE_NAMED.fullmatch(text) is not None:
        return after is not None and after.type == "type"
    if _SHAPE_VALUE.fullmatch(text) is not None:
        before = node.prev_sibling
        return (
            before is not None
            and before.type == "type"
            and after is not None
            and after.type in (",", "]")
            and not _has_error_inside(node)
        )
    return False


def _has_error_inside(node: Node) -> bool:
    return any(child.has_error or child.type == "ERROR" for child in node.children)


def _default_range(node: Node) -> tuple[int, int]:
    """The range ruff gives a default whose ERROR node is ``node``: ``=`` to its end."""
    text = node.text or b""
    equal = node.start_byte + text.rindex(b"=") if b"=" in text else node.start_byte
    after = node.next_sibling
    if _SHAPE_VALUE.fullmatch(text) is not None or after is None or after.type != "type":
        return equal, node.end_byte
    return equal, after.end_byte


def _error_sites(root: Node, ancestry: Ancestry) -> list[Node]:
    """The outermost ERROR and MISSING nodes under ``root``, in source order (only the
    subtrees that have an error are visited); a node flagged ``has_error`` none of whose
    children is (a missing hidden token, such as a line break, between them) is a site too.
    The parents met are kept in ``ancestry``."""
    sites: list[Node] = []
    stack = [root]
    parents = ancestry.parents
    while stack:
        node = stack.pop()
        found = False
        for child in reversed(node.children):
            if child.type == "ERROR" or child.is_missing:
                sites.append(child)
                parents[child.id] = node
                found = True
            elif child.has_error:
                stack.append(child)
                parents[child.id] = node
                found = True
        if not found:
            sites.append(node)
    sites.sort(key=lambda n: (n.start_byte, n.end_byte))
    return sites


_HOLDERS = frozenset({"module", "block", "decorated_definition"})


def _statement_start(node: Node, ancestry: Ancestry) -> int:
    """The start of the statement (a child of a module or a block) holding ``node``."""
    return ancestry.up(node, "statement", _holds_statement).start_byte


def _holds_statement(node: Node, parent: Node | None) -> bool:
    return parent is None or parent.type in _HOLDERS


def tree_errors(root: Node, source: bytes) -> TreeErrors:
    """The real syntax errors of a tree-sitter tree of ``source``, PEP 696 defaults accepted.

    ``root`` is a module node (a document's chunk root works too: offsets are the source's).
    Cheap when the tree has no error (one attribute read)."""
    if not root.has_error:
        return TreeErrors([], [], [])
    if root.type == "ERROR":  # nothing parsed as a module: no gap explains that
        return TreeErrors([root], [], [])
    errors: list[Node] = []
    defaults: list[tuple[int, int]] = []
    keywords: list[tuple[int, int]] = []
    pending: dict[int, list[Node]] = {}
    ancestry = Ancestry()
    for site in _error_sites(root, ancestry):
        if is_type_param_default_error(site, ancestry.parent(site)):
            defaults.append(_default_range(site))
        else:
            pending.setdefault(_statement_start(site, ancestry), []).append(site)
    for start, sites in pending.items():
        header = _accepted_header(source, start)
        if header is None:
            errors.extend(sites)
            continue
        end, found, keyword = header
        inside = [s for s in sites if start <= s.start_byte and s.end_byte <= end]
        if len(inside) < len(sites):
            errors.extend(s for s in sites if s not in inside)
        # Defaults already accepted in this header by their shape are found again here.
        defaults = [d for d in defaults if not start <= d[0] < end]
        defaults.extend(found)
        if keyword is not None:
            keywords.append(keyword)
    errors.sort(key=lambda n: (n.start_byte, n.end_byte))
    defaults.sort()
    return TreeErrors(errors, defaults, keywords, ancestry)


def _accepted_header(
    source: bytes, start: int
) -> tuple[int, list[tuple[int, int]], tuple[int, int] | None] | None:
    """For a ``def``/``class``/``type`` statement at ``start`` whose type parameter list has
    defaults: (end of its header's logical line, the defaults, the range of a ``type``
    keyword) if the header is valid once they are accounted for; else None."""
    match = _HEADER.match(source, start)
    if match is None:
        return None
    end = logical_line_code_end(source, start)
    if end is None:
        return None
    opening = match.end() - 1
    split = _split_type_params(source, opening, end)
    if split is None:
        return None
    _closing, defaults = split
    if not defaults:
        return None
    masked = bytearray(source[start:end])
    for equal, default_end in defaults:
        masked[equal - start : default_end - start] = b" " * (default_end - equal)
    header = bytes(masked).rstrip()
    if header.endswith(b":"):
        header += b" ..."
    values = [source[equal + 1 : default_end].strip() for equal, default_end in defaults]
    if not all(value.strip(b"*") for value in values):
        return None
    # Each default as a list item, then the header with the defaults blanked out, last (so
    # that nothing after it can complete it).
    snippet = b"".join(b"[" + value + b"]\n" for value in values) + header + b"\n"
    if _parser().parse(snippet).root_node.has_error:
        return None
    keyword = None
    if source.startswith(b"type", start):
        keyword = (start, start + 4)
    return end, defaults, keyword


def _split_type_params(
    source: bytes, opening: int, end: int
) -> tuple[int, list[tuple[int, int]]] | None:
    """Read the type parameter list whose ``[`` is at ``opening``: (offset of its ``]``, the
    range of each default from its ``=`` to its end). None if it does not close before ``end``
    or holds a comment or a string (tree-sitter then decides alone)."""
    depth = 0
    at = opening
    item_equal = -1
    defaults: list[tuple[int, int]] = []
    while True:
        found = _SEPARATORS.search(source, at, end)
        if found is None:
            return None
        pos = found.start()
        char = source[pos : pos + 1]
        at = pos + 1
        if char in b"'\"#":
            return None
        if char in b"([{":
            depth += 1
        elif char in b")]}":
            depth -= 1
            if depth == 0:
                if item_equal >= 0:
                    defaults.append((item_equal, _rstrip_end(source, item_equal, pos)))
                return pos, defaults
        elif depth == 1 and char == b",":
            if item_equal >= 0:
                defaults.append((item_equal, _rstrip_end(source, item_equal, pos)))
            item_equal = -1
        elif depth == 1 and char == b"=" and item_equal < 0:
            item_equal = pos


def _rstrip_end(source: bytes, begin: int, end: int) -> int:
    return begin + len(source[begin:end].rstrip())


@cache
def _parser() -> Parser:
    return Parser(PY_LANGUAGE)
