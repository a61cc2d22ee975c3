"""Source text helpers: parsing, the line index and byte <-> (row, column) conversion.

Line breaks are ``\\n``, ``\\r\\n`` and ``\\r`` only (the LSP definition), never form feeds
or U+2028 as ``str.splitlines`` would have it.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable
from functools import cache
from itertools import accumulate
from typing import Protocol

import tree_sitter_python
from tree_sitter import Language, Node, Parser, Point, Range, Tree

from drain_ls.analysis.native import NATIVE as _native

PY_LANGUAGE = Language(tree_sitter_python.language())

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
# A UTF-8 byte order mark: CPython skips it, tree-sitter starts the module after it.
BOM = b"\xef\xbb\xbf"


def text_start(source: bytes) -> int:
    """Where the text of ``source`` starts: after its byte order mark, if it has one (the
    BOM's bytes, all above 0x7f, would otherwise read as part of the first word)."""
    return 3 if source[:3] == BOM else 0


class Syntax(Protocol):
    """A parse of a whole source: a tree-sitter ``Tree``, or an open document's ``Forest``
    (``drain_ls.analysis.forest``), whose root stands for the module node of its chunks."""

    @property
    def root_node(self) -> Node:
        """The module node."""
        ...


@cache
def _parser() -> Parser:
    return Parser(PY_LANGUAGE)


@cache
def _gapped_parser() -> Parser:
    # A parser of its own: its included ranges change with every source it parses.
    return Parser(PY_LANGUAGE)


def parse(source: bytes, old_tree: Tree | None = None) -> Tree:
    """Parse Python source bytes, reusing ``old_tree`` (already edited) when given.

    Long runs of comment lines are left out of the parse (see ``comment_gaps``)."""
    gaps = comment_gaps(source, 0, len(source))
    if not gaps:
        if old_tree is not None and len(old_tree.included_ranges) > 1:
            old_tree = None  # parsed with gaps (see ``_gaps_moved``)
        parser = _parser()
        return parser.parse(source) if old_tree is None else parser.parse(source, old_tree)
    return parse_range(_gapped_parser(), source, 0, len(source), old_tree, gaps)


# tree-sitter-python's external scanner, at every line break, reads ahead over all the comment
# lines that follow (for the indentation of the next line of code), then comes back: a run of
# n comment lines after a line of code costs O(n^2) to parse (300 lines: 5 ms; 1,000: 0.1 s;
# 10,000: 13 s, where ruff takes a millisecond). Runs this long are left out of the parse,
# with included ranges: comment nodes are all they would make, and no check reads those.
LONG_COMMENT_RUN = 64
# A comment, and the comment and blank lines after it (possessive: each block is read once).
_COMMENT_BLOCK = re.compile(rb"#[^\n]*+(?:\n[ \t\f\r]*+(?:#[^\n]*+)?)*+")


def comment_gaps(source: bytes, begin: int, end: int) -> list[tuple[int, int]]:
    """Byte ranges of whole lines in ``[begin, end)`` to leave out of a parse: runs of lines
    holding only comments and blank lines, with ``LONG_COMMENT_RUN`` comments or more, after
    a line of code (a run at the start costs nothing) that a backslash does not join to them.

    Lines that look like comments inside a string are not comments. A line with a triple
    quote, which could end a string, is never left out, so gaps change no string's extent;
    ``parse_range`` parses again without any gap that falls inside a string (or elsewhere
    than between statements)."""
    if source.count(b"#", begin, end) < LONG_COMMENT_RUN:
        return []
    gaps = []
    for match in _COMMENT_BLOCK.finditer(source, begin, end):
        start, stop = match.span()
        if source.count(b"#", start, stop) < LONG_COMMENT_RUN:
            continue  # a run costs by its comment lines (blank lines are read in one go)
        line_start = (source.rfind(b"\n", begin, start) + 1) or begin
        if source[line_start:start].strip(b" \t\f"):
            first = source.find(b"\n", start, stop) + 1  # after a comment on a line of code
        elif not source[begin:line_start].strip():
            continue  # nothing but comments before it
        else:
            first = line_start
        last = source.rfind(b"\n", start, stop) + 1  # whole lines only
        gaps.extend(_runs_between_quotes(source, first, last))
    return gaps


def _runs_between_quotes(source: bytes, first: int, last: int) -> list[tuple[int, int]]:
    """The lines ``[first, last)`` cut at those holding a triple quote: the pieces long
    enough, and not joined to the code before them by a backslash. None when a NUL byte is
    among them (it ends a comment for tree-sitter, and is a syntax error)."""
    if source.find(b"\0", first, last) >= 0:
        return []
    pieces = []
    start = first
    while start < last:
        quote = min(
            (
                i
                for i in (source.find(b'"""', start, last), source.find(b"'''", start, last))
                if i >= 0
            ),
            default=-1,
        )
        stop = max(start, source.rfind(b"\n", start, quote) + 1) if quote >= 0 else last
        if not _after_backslash(source, start) and source.count(b"#", start, stop) >= (
            LONG_COMMENT_RUN
        ):
            pieces.append((start, stop))
        if quote < 0:
            break
        start = source.find(b"\n", quote, last) + 1 or last
    return pieces


def continuation_at_end(text: bytes) -> int:
    """Where the backslash of a line continuation that ``text`` ends with stands (it is
    followed by at most one line break: ``\\n``, ``\\r\\n`` or ``\\r``); -1 when ``text``
    ends otherwise. Whether that backslash is code, not a comment's, is the tree's to say."""
    for tail in (b"\\", b"\\\n", b"\\\r\n", b"\\\r"):
        if text.endswith(tail):
            return len(text) - len(tail)
    return -1


def _after_backslash(source: bytes, offset: int) -> bool:
    """Whether the last line before ``offset`` that is not blank ends in a backslash (which
    joins it to what follows, blank lines included)."""
    while offset > 0 and source[offset - 1] in b" \t\f\r\n":
        offset -= 1
    return offset > 0 and source[offset - 1] == 0x5C


def parse_range(
    parser: Parser,
    source: bytes,
    begin: int,
    end: int,
    old_tree: Tree | None,
    gaps: list[tuple[int, int]] | None = None,
    points: tuple[Point, Point] | None = None,
) -> Tree:
    """Parse ``[begin, end)`` of ``source`` with ``parser`` (whose included ranges this
    sets), leaving out ``gaps`` (by default ``comment_gaps``). ``points``: tree-sitter's
    points of ``begin`` and ``end``, when the caller knows them."""
    if gaps is None:
        gaps = comment_gaps(source, begin, end)
    points = points or (point_of(source, begin), point_of(source, end))
    tree = _parse_around(parser, source, begin, end, old_tree, gaps, points)
    if gaps:
        # A gap must sit between statements, or inside brackets. Inside a string, its lines
        # are text (gaps hold no triple quote, so they change no string's extent). Inside a
        # statement that brackets do not hold, the statement is broken (``x =`` at the end
        # of a line), and tree-sitter may read the comments otherwise than nothing.
        root = tree.root_node
        kept = [gap for gap in gaps if _between_statements(root, *gap)]
        if len(kept) < len(gaps):
            tree = _parse_around(parser, source, begin, end, None, kept, points)
    return tree


def _parse_around(
    parser: Parser,
    source: bytes,
    begin: int,
    end: int,
    old_tree: Tree | None,
    gaps: list[tuple[int, int]],
    points: tuple[Point, Point],
) -> Tree:
    ranges = []
    start, start_point = begin, points[0]
    for gap_start, gap_end in gaps:
        gap_point = point_of(source, gap_start)
        ranges.append(Range(start_point, gap_point, start, gap_start))
        start = gap_end
        start_point = Point(gap_point.row + source.count(b"\n", gap_start, gap_end), 0)
    ranges.append(Range(start_point, points[1], start, end))
    parser.included_ranges = ranges
    if old_tree is not None and _gaps_moved(old_tree.included_ranges, ranges):
        # tree-sitter's reparse of the old tree may then nest the code after a gap otherwise
        # than a parse does (the scanner's indentation is not what it was where it reuses a
        # node; the fuzzer found it). Parse afresh.
        old_tree = None
    return parser.parse(source) if old_tree is None else parser.parse(source, old_tree)


def _gaps_moved(old: list[Range], new: list[Range]) -> bool:
    """Whether a gap came, went or moved between two sets of included ranges."""
    if len(old) == 1 and len(new) == 1:
        return False  # no gap either side (the range itself may have changed)
    return [(r.start_byte, r.end_byte) for r in old] != [(r.start_byte, r.end_byte) for r in new]


# Nodes in whose brackets comment lines may go (a gap inside one is fine).
_BRACKETED = frozenset(
    {
        "argument_list",
        "dictionary",
        "dictionary_comprehension",
        "generator_expression",
        "list",
        "list_comprehension",
        "list_pattern",
        "parameters",
        "parenthesized_expression",
        "set",
        "set_comprehension",
        "subscript",
        "tuple",
        "tuple_pattern",
        "type_parameter",
    }
)
# Statements that end at the end of their line, brackets aside.
_SIMPLE_STATEMENTS = frozenset(
    {
        "assert_statement",
        "break_statement",
        "continue_statement",
        "delete_statement",
        "exec_statement",
        "expression_statement",
        "future_import_statement",
        "global_statement",
        "import_from_statement",
        "import_statement",
        "nonlocal_statement",
        "pass_statement",
        "print_statement",
        "raise_statement",
        "return_statement",
        "type_alias_statement",
    }
)


def _between_statements(root: Node, start: int, end: int) -> bool:
    """Whether the gap ``[start, end)`` sits where comment lines are nothing: between
    statements, between a compound statement's parts, or inside brackets."""
    node: Node | None = root.descendant_for_byte_range(start, end)
    while node is not None and node.type not in ("module", "block"):
        kind = node.type
        if kind in _BRACKETED:
            return True
        if kind in _SIMPLE_STATEMENTS or kind in ("string", "ERROR"):
            return False
        node = node.parent
    return True


def bare_decorator(source: bytes, node: Node) -> bool:
    """Whether ``node``, a module-level node of a tree with an error, is on a decorator's line
    apart from what the decorator decorates (tree-sitter may cut ``@final`` into an ERROR
    and a name): that comes next."""
    start = source.rfind(b"\n", 0, node.start_byte) + 1
    decorator = source[start : node.end_byte].lstrip(b" \t\f")[:1] == b"@"
    return decorator and node.type != "decorated_definition"


def point_of(source: bytes, offset: int) -> Point:
    """tree-sitter's point of a byte offset: rows count ``\\n`` only, columns are bytes."""
    row = source.count(b"\n", 0, offset)
    return Point(row, offset - (source.rfind(b"\n", 0, offset) + 1))


def point_after(source: bytes, base: int, row: int, offset: int) -> Point:
    """The point of ``offset``, counting rows from ``base`` (at or before it), on row
    ``row``: ``point_of`` without counting the lines before ``base``."""
    return Point(
        row + source.count(b"\n", base, offset), offset - (source.rfind(b"\n", 0, offset) + 1)
    )


def line_starts(source: bytes) -> list[int]:
    """Byte offset of the start of every line (the first is always 0)."""
    if b"\r" not in source:
        # The common case, at C speed: lengths of the "\n"-separated pieces, accumulated.
        return list(accumulate((len(line) + 1 for line in source.split(b"\n")[:-1]), initial=0))
    starts = [0]
    starts.extend(m.end() for m in _LINE_BREAK.finditer(source))
    return starts


class LineIndex:
    """Maps byte offsets to rows and columns of one immutable source.

    The table of line starts is built only when needed: for a source with "\\n" line
    breaks only, rows of increasing offsets are counted incrementally (C speed), which is
    all that reporting a few findings of a file takes.
    """

    __slots__ = ("_ascii", "_budget", "_last", "_plain", "_starts", "source")

    def __init__(self, source: bytes) -> None:
        """Index ``source``; nothing is computed until a position is asked for."""
        self.source = source
        self._starts: list[int] | None = None
        self._plain = b"\r" not in source
        self._last = (0, 0)
        # Bytes the incremental counting may still scan before the table is built: callers
        # that jump back and forth (a finding, then its fix's edits) made it quadratic.
        self._budget = 2 * len(source)
        self._ascii: bool | None = None

    @property
    def starts(self) -> list[int]:
        """Byte offset of the start of every line."""
        if self._starts is None:
            self._starts = line_starts(self.source)
        return self._starts

    def row_of(self, offset: int) -> int:
        """0-based row containing byte ``offset``."""
        if self._starts is None and self._plain:
            last_offset, last_row = self._last
            self._budget -= abs(offset - last_offset)
            if self._budget < 0:
                return bisect_right(self.starts, offset) - 1
            # Count from the last offset asked about, in either direction: callers go
            # through a file's findings in order, each asking for a start and an end.
            if offset >= last_offset:
                row = last_row + self.source.count(b"\n", last_offset, offset)
            else:
                row = last_row - self.source.count(b"\n", offset, last_offset)
            self._last = (offset, row)
            return row
        return bisect_right(self.starts, offset) - 1

    def line_start_of(self, offset: int) -> int:
        """Byte offset of the start of the line containing ``offset``."""
        if self._starts is None and self._plain:
            start = self.source.rfind(b"\n", 0, offset) + 1
            self._budget -= offset - start  # a long line read again and again
            return start
        return self.starts[self.row_of(offset)]

    def line_end(self, row: int) -> int:
        """Byte offset just past the content of ``row`` (before its line break)."""
        starts = self.starts
        if row + 1 < len(starts):
            end = starts[row + 1]
            if self.source[end - 2 : end] == b"\r\n":
                return end - 2
            return end - 1
        return len(self.source)

    def line_text(self, row: int) -> bytes:
        """The bytes of ``row`` without its line break."""
        return self.source[self.starts[row] : self.line_end(row)]

    def char_position(self, offset: int) -> tuple[int, int]:
        """0-based (row, column in Unicode code points) of byte ``offset``; a byte order
        mark at the start of the source is no column (as in ruff and CPython)."""
        row = self.row_of(offset)
        start = self.line_start_of(offset)
        if start == 0 and offset >= 3 and self.source[:3] == BOM:
            start = 3
        if self._ascii is None:
            self._ascii = self.source.isascii()
        if self._ascii:
            return row, offset - start
        prefix = self.source[start:offset]
        if prefix.isascii():
            return row, len(prefix)
        return row, len(prefix.decode("utf-8", errors="replace"))


def node_text(node: Node) -> str:
    """The text of a node, decoded as UTF-8."""
    text = node.text
    return text.decode("utf-8", errors="replace") if text is not None else ""


# Bytes that may continue a Python identifier (any non-ASCII byte may be part of one).
IDENTIFIER_BYTES = frozenset(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
) | frozenset(range(0x80, 0x100))


_WORD = re.compile(rb"[A-Za-z0-9_\x80-\xff]+")


# Below this many bytes scanned in all, a search per word (in C) beats one pass over every
# word of the source (in Python); above it, a search per word grows as words x size.
_PER_WORD_BUDGET = 32_000_000


def word_index(source: bytes, words: Iterable[bytes]) -> dict[bytes, list[tuple[int, int]]]:
    """``word_occurrences`` of every one of ``words``: a search per word while that scans
    little, else one pass over the source for all of them (a search per word is quadratic
    in a file that imports thousands of names)."""
    wanted = set(words)
    if len(wanted) * max(1, len(source)) <= _PER_WORD_BUDGET:
        return {word: word_occurrences(source, word) for word in wanted}
    found: dict[bytes, list[tuple[int, int]]] = {word: [] for word in wanted}
    for match in _WORD.finditer(source, text_start(source)):
        hits = found.get(match.group())
        if hits is not None:
            hits.append(match.span())
    return found


def normalize_identifier(name: str) -> str:
    """An identifier as Python reads it: NFKC-normalised (``\ufb01le``, with the ligature fi,
    is ``file``; ``\u210c``, black-letter H, is ``H``). ASCII names, nearly all of them, are
    returned as they are, at no cost."""
    return name if name.isascii() else unicodedata.normalize("NFKC", name)


# A word with a byte above 0x7f: only such a word can be another spelling of a name.
_NON_ASCII_WORD = re.compile(rb"[A-Za-z0-9_]*+[\x80-\xff][A-Za-z0-9_\x80-\xff]*+")


def nfkc_occurrences(source: bytes, names: set[str]) -> dict[str, list[tuple[int, int]]]:
    """Byte ranges of the words of ``source`` that are spelled otherwise than one of
    ``names`` but are that name once NFKC-normalised, by name. Empty at once for an ASCII
    source (then every spelling of a name is the name)."""
    found: dict[str, list[tuple[int, int]]] = {}
    if not names or source.isascii():
        return found
    try:
        # Nearly all non-ASCII text is NFKC already (accents, CJK): then so is every word of
        # it (words end at ASCII bytes), and none is another spelling. Both calls run in C.
        if unicodedata.is_normalized("NFKC", source.decode("utf-8")):
            return found
    except UnicodeDecodeError:
        pass
    seen: dict[bytes, str | None] = {}  # the name each word spells, once per distinct word
    for match in _NON_ASCII_WORD.finditer(source, text_start(source)):
        raw = match.group()
        if raw in seen:
            name = seen[raw]
        else:
            name = None
            try:
                word = raw.decode("utf-8")
            except UnicodeDecodeError:
                word = ""
            if word and not unicodedata.is_normalized("NFKC", word):
                name = unicodedata.normalize("NFKC", word)
                if name not in names:
                    name = None
            seen[raw] = name
        if name is not None:
            found.setdefault(name, []).append(match.span())
    return found


def mentions(text: bytes, name: str) -> bool:
    """Whether ``text`` may hold ``name``: its bytes, or (in text that is not all ASCII) a
    word that is the name once NFKC-normalised. For callers that skip a name whose word an
    edit did not touch: ``name.encode() in text`` misses ``\ufb01le`` for ``file``."""
    encoded = name.encode()
    if encoded in text:
        return True
    return not text.isascii() and bool(nfkc_occurrences(text, {name}))


def word_occurrences(source: bytes, word: bytes) -> list[tuple[int, int]]:
    """Byte ranges where ``word`` occurs as a whole identifier-like word (comments and
    strings included: callers classify each hit with the tree)."""
    if _native is not None:
        found: list[tuple[int, int]] = _native.word_occurrences(source, word, text_start(source))
        return found
    return python_word_occurrences(source, word)


def python_word_occurrences(source: bytes, word: bytes) -> list[tuple[int, int]]:
    """``word_occurrences`` in Python, for an install without ``drain_ls._native``."""
    found: list[tuple[int, int]] = []
    size = len(word)
    if not size:
        return found
    limit = len(source)
    first = text_start(source)
    i = source.find(word, first)
    while i >= 0:
        j = i + size
        if (i == first or source[i - 1] not in IDENTIFIER_BYTES) and (
            j >= limit or source[j] not in IDENTIFIER_BYTES
        ):
            found.append((i, j))
        i = source.find(word, j)
    return found


def field_of(parent: Node, child: Node) -> str | None:
    """The name of the field of ``parent`` that holds ``child`` (None: none, or not a child)."""
    for index, candidate in enumerate(parent.children):
        if candidate == child:
            return parent.field_name_for_child(index)
    return None
