"""The server's own documents: incremental edits, line index and positions in every encoding."""

from __future__ import annotations

import bisect
import random
import re
import tracemalloc
from itertools import accumulate

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tree_sitter import Tree

from drain_ls.analysis.grammar_gaps import parse_input
from drain_ls.analysis.source import line_starts
from drain_ls.analysis.source import parse as parse_bytes
from drain_ls.lsp import documents
from drain_ls.lsp.documents import Change, ChangeError, Document
from drain_ls.lsp.positions import (
    ENCODINGS,
    UTF8,
    UTF16,
    UTF32,
    Position,
    PositionError,
    encode_text,
)
from tests.test_forest import shape


def parse(data: bytes) -> Tree:
    """What a document's tree is the parse of: its text, lone CRs read as line breaks."""
    return parse_bytes(parse_input(data))


BREAK = re.compile(r"\r\n|\r|\n")
PIECES = [
    "a",
    "x",
    " ",
    "    ",
    "\n",
    "\r\n",
    "\r",
    "é",
    "中",
    "😀",
    "def f(x):",
    "import os",
    "class C:",
    "(",
    ")",
    '"',
    "'''",
    "#",
    "pass",
    "return 1",
    "\t",
    ":",
    "=",
    "os.path",
]


def editor_lines(text: str) -> list[str]:
    """How an LSP client sees lines: split on \\n, \\r\\n and \\r only."""
    return BREAK.split(text)


def units(ch: str, encoding: str) -> int:
    if encoding == UTF8:
        return len(ch.encode("utf-8"))
    if encoding == UTF16:
        return 2 if ord(ch) > 0xFFFF else 1
    return 1


def editor_offset(text: str, line: int, character: int, encoding: str) -> int:
    """The str index of an LSP position, computed the way an editor would."""
    index = 0
    for m_line, m in enumerate([*BREAK.finditer(text), None]):
        if m_line == line:
            end = m.start() if m is not None else len(text)
            count = 0
            while index < end and count < character:
                count += units(text[index], encoding)
                index += 1
            return index
        assert m is not None
        index = m.end()
    raise AssertionError("line out of range")


def to_units(line_text: str, chars: int, encoding: str) -> int:
    return sum(units(ch, encoding) for ch in line_text[:chars])


def tree_shape(tree):  # type: ignore[no-untyped-def]
    """Every node below the module (a ``Tree`` or a document's chunked ``Forest``)."""
    return [("module", tree.root_node.has_error), *shape(tree.root_node)]


texts = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)


@st.composite
def edit_sessions(draw):  # type: ignore[no-untyped-def]
    encoding = draw(st.sampled_from(ENCODINGS))
    text = draw(texts)
    edits = []
    current = text
    for _ in range(draw(st.integers(1, 12))):
        lines = editor_lines(current)
        l1 = draw(st.integers(0, len(lines) - 1))
        c1 = draw(st.integers(0, len(lines[l1])))
        l2 = draw(st.integers(l1, len(lines) - 1))
        c2 = draw(st.integers(c1 if l2 == l1 else 0, len(lines[l2])))
        new = draw(texts)
        p1 = (l1, to_units(lines[l1], c1, encoding))
        p2 = (l2, to_units(lines[l2], c2, encoding))
        a = editor_offset(current, *p1, encoding)
        b = editor_offset(current, *p2, encoding)
        current = current[:a] + new + current[b:]
        edits.append((p1, p2, new))
    return encoding, text, edits, current


@settings(max_examples=300, deadline=None)
@given(edit_sessions())
def test_incremental_edits_match_a_fresh_parse(session) -> None:  # type: ignore[no-untyped-def]
    encoding, text, edits, expected = session
    doc = Document("file:///t.py", text.encode(), 1, encoding)
    for (l1, c1), (l2, c2), new in edits:
        start = doc.offset_at(Position(l1, c1), strict=True)
        end = doc.offset_at(Position(l2, c2), strict=True)
        doc.replace(start, end, new)
    data = expected.encode()
    assert doc.source == data
    assert list(doc.starts) == line_starts(data)
    assert tree_shape(doc.tree) == tree_shape(parse(data))


@pytest.mark.parametrize(
    ("encoding", "character", "expected_byte"),
    [(UTF8, 5, 5), (UTF16, 3, 5), (UTF32, 2, 5), (UTF16, 1, 0), (UTF8, 2, 0), (UTF32, 9, 6)],
)
def test_positions_after_astral_characters(
    encoding: str, character: int, expected_byte: int
) -> None:
    # "😀" is 4 bytes, 2 UTF-16 units, 1 code point. A position inside it snaps to its start.
    doc = Document("file:///t.py", "😀ab\né".encode(), 1, encoding)
    offset = doc.offset_at(Position(0, character))
    assert offset == expected_byte
    assert doc.offset_at(doc.position_at(offset)) == offset


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_position_round_trip_on_every_boundary(encoding: str) -> None:
    text = "x = 'é中😀'\r\ny = 1\rz\n"
    doc = Document("file:///t.py", text.encode(), 1, encoding)
    for i in range(len(text) + 1):
        if text[i - 1 : i + 1] == "\r\n":
            continue  # inside a line break: no LSP position there
        offset = len(text[:i].encode())
        assert doc.offset_at(doc.position_at(offset)) == offset


def test_character_past_line_end_clamps_and_line_past_end_is_an_error() -> None:
    doc = Document("file:///t.py", b"ab\ncd\n", 1, UTF16)
    assert doc.offset_at(Position(0, 99)) == 2
    assert doc.offset_at(Position(9, 0)) == 6
    with pytest.raises(PositionError, match="past the end"):
        doc.offset_at(Position(9, 0), strict=True)
    with pytest.raises(PositionError):
        doc.offset_at(Position(-1, 0))


def test_lone_cr_is_a_line_break_but_form_feed_is_not() -> None:
    doc = Document("file:///t.py", b"a\rb\x0cc\r\nd", 1, UTF16)
    assert list(doc.starts) == [0, 2, 7]
    assert doc.line_bytes(1) == b"b\x0cc"


# -- change sets: all or nothing ----------------------------------------------------------------


@st.composite
def change_sets(draw):  # type: ignore[no-untyped-def]
    """A session's edits as one change set, and, maybe, a bad change somewhere in it."""
    encoding, text, edits, expected = draw(edit_sessions())
    changes = [Change(Position(*p1), Position(*p2), new) for p1, p2, new in edits]
    bad = draw(st.none() | st.integers(0, len(changes)))
    if bad is not None:
        wrong = draw(
            st.sampled_from(
                [
                    Change(Position(10_000, 0), Position(10_000, 0), "x"),  # past the end
                    Change(Position(1, 0), Position(0, 0), "x"),  # backwards (or past the end)
                    Change(Position(0, 0), Position(10_000, 0), ""),  # ends past the end
                ]
            )
        )
        changes.insert(bad, wrong)
    return encoding, text, changes, expected, bad


@settings(max_examples=200, deadline=None)
@given(change_sets())
def test_a_change_set_applies_whole_or_not_at_all(case) -> None:  # type: ignore[no-untyped-def]
    encoding, text, changes, expected, bad = case
    doc = Document("file:///t.py", text.encode(), 1, encoding)
    before = (doc.source, list(doc.starts), tree_shape(doc.tree), doc.version)
    seen: list[tuple[int, int, int]] = []
    if bad is None:
        doc.apply_changes(changes, 2, lambda *edit: seen.append(edit))
        data = expected.encode()
        assert (doc.source, list(doc.starts), doc.version) == (data, line_starts(data), 2)
        assert tree_shape(doc.tree) == tree_shape(parse(data))
        assert len(seen) == len(changes)
    else:
        with pytest.raises(ChangeError):
            doc.apply_changes(changes, 2, lambda *edit: seen.append(edit))
        assert (doc.source, list(doc.starts), tree_shape(doc.tree), doc.version) == before
        assert seen == []  # nothing was even announced


@settings(max_examples=200, deadline=None)
@given(edit_sessions(), st.lists(st.booleans(), min_size=12, max_size=12), st.data())
def test_a_tree_edit_deferred_by_a_cancel_gives_the_tree_and_changes_of_an_eager_one(
    session, cancels, data
) -> None:  # type: ignore[no-untyped-def]
    """A change set whose ``on_edit`` cancelled a drain edits the text at once and the tree
    when it is first read; whenever it is read (or the next change set comes first), the tree
    and the change log are those of a document edited eagerly."""
    encoding, text, edits, expected = session
    lazy = Document("file:///t.py", text.encode(), 1, encoding)
    eager = Document("file:///t.py", text.encode(), 1, encoding)
    for n, ((l1, c1), (l2, c2), new) in enumerate(edits):
        change = [Change(Position(l1, c1), Position(l2, c2), new)]
        lazy.apply_changes(change, n + 2, lambda *edit, c=cancels[n]: c)
        eager.apply_changes(change, n + 2)
        assert lazy.source == eager.source
        if cancels[n]:
            assert lazy._pending  # the tree waits
        if data.draw(st.booleans()):
            assert tree_shape(lazy.tree) == tree_shape(eager.tree)
            assert not lazy._pending
        if data.draw(st.booleans()):
            # What the analysis reads: the changes since the last one, then a reset.
            assert lazy.changes.full == eager.changes.full
            assert lazy.changes == eager.changes
            lazy.changes.reset()
            eager.changes.reset()
    assert tree_shape(lazy.tree) == tree_shape(parse(expected.encode()))


def test_a_whole_text_change_overrides_the_changes_before_it() -> None:
    doc = Document("file:///t.py", b"a\n", 1, UTF16)
    past = Change(Position(99, 0), Position(99, 0), "x")
    doc.apply_changes(
        [past, Change(None, None, "b\nc\n"), Change(Position(1, 0), Position(1, 1), "d")], 2
    )
    assert (doc.source, doc.version) == (b"b\nd\n", 2)


def test_a_failure_while_applying_restores_the_last_good_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    doc = Document("file:///t.py", b"import os\nx = 1\n", 1, UTF16)
    calls = 0

    def failing(*args: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("boom")

    changes = [
        Change(Position(1, 0), Position(1, 1), "y"),
        Change(Position(0, 0), Position(0, 0), "#\n"),
    ]
    with pytest.raises(ChangeError, match="internal error: RuntimeError: boom"):
        doc.apply_changes(changes, 2, failing)
    assert (doc.source, list(doc.starts), doc.version) == (b"import os\nx = 1\n", [0, 10, 16], 1)
    assert tree_shape(doc.tree) == tree_shape(parse(doc.source))


# -- lone surrogates ----------------------------------------------------------------------------


def test_lone_surrogates_become_one_replacement_character_each() -> None:
    assert encode_text("abc") == (b"abc", 0)
    assert encode_text("a\ud800b\udcffc") == ("a\ufffdb\ufffdc".encode(), 2)
    assert encode_text("\udcff\ud800") == ("\ufffd\ufffd".encode(), 2)
    # Two halves of one pair are one character, as in the editor.
    assert encode_text("\ud83d\ude00!\ud800") == ("😀!\ufffd".encode(), 1)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_positions_after_a_lone_surrogate_are_the_editors(encoding: str) -> None:
    # The editor's line: x = "<lone surrogate>"; y. One UTF-16 unit, one code point, and
    # three UTF-8 bytes (WTF-8; U+FFFD once saved), as U+FFFD is.
    doc = Document("file:///t.py", encode_text('x = "\ud800"; y')[0], 1, encoding)
    width = {UTF8: 3, UTF16: 1, UTF32: 1}[encoding]
    y = doc.source.index(b"y")
    assert doc.position_at(y) == Position(0, 8 + width)
    assert doc.offset_at(Position(0, 8 + width)) == y
    doc.replace(0, 0, "\udcff")
    assert doc.lossy and doc.source.startswith("\ufffd".encode())


# -- the size limit -----------------------------------------------------------------------------


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of each text documents parse from now on (``Forest`` spied on)."""
    sizes: list[int] = []
    real = documents.Forest

    def forest(source: bytes, *args: object) -> object:
        sizes.append(len(source))
        return real(source, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(documents, "Forest", forest)
    return sizes


def test_a_document_over_its_limit_is_never_parsed(parsed: list[int]) -> None:
    big = b"import os\n" * 20
    doc = Document("file:///t.py", big, 1, UTF16, limit=100)
    assert doc.too_large and doc.not_analysed is not None and "200 bytes" in doc.not_analysed
    assert doc.tree.root_node.child_count == 0
    doc.drop_tree()
    doc.replace(0, 0, "x = 1\n")
    assert doc.tree.root_node.child_count == 0
    assert max(parsed) == 0  # only empty modules
    doc.replace(0, len(doc.source), "import os\n")  # back under the limit: parsed in full
    assert not doc.too_large and doc.not_analysed is None
    assert doc.tree.root_node.child_count == 1 and doc.changes.full
    doc.replace(0, 0, "#" * 200)  # over it again
    assert doc.tree.root_node.child_count == 0


def test_a_document_too_slow_to_parse_is_not_parsed_again_until_it_shrinks(
    monkeypatch: pytest.MonkeyPatch, parsed: list[int]
) -> None:
    """tree-sitter-python parses a long run of lines that are only a backslash in time
    quadratic in its length: a document whose parse took too long is not parsed at each
    keystroke after that (each would take as long), until it is half the size."""
    hostile = b"x = 1\n" + b"\\\n" * 6000  # about 0.4 s to parse, 0.1 ms for its size
    monkeypatch.setattr(documents, "SLOW_PARSE_SECONDS", 0.02)
    doc = Document("file:///h.py", hostile, 1, UTF16)
    assert doc.unparsed and not doc.too_large
    assert doc.not_analysed is not None and "tree-sitter took" in doc.not_analysed
    assert doc.tree.root_node.child_count == 0
    del parsed[:]  # the one slow parse
    for at in range(5):
        doc.replace(at, at, "y")  # keystrokes: nothing parsed
        doc.drop_tree()
        assert doc.tree.root_node.child_count == 0
    assert max(parsed) == 0
    doc.replace(6, len(doc.source) - 100, "")  # a tenth of the size: parsed again
    assert not doc.unparsed and doc.not_analysed is None and doc.changes.full
    assert doc.tree.root_node.child_count > 0


def test_an_edit_whose_reparse_is_too_slow_stops_the_parsing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    doc = Document("file:///h.py", b"x = 1\n" * 10, 1, UTF16)
    monkeypatch.setattr(documents, "SLOW_PARSE_SECONDS", 0.02)
    assert not doc.unparsed
    doc.replace(len(doc.source), len(doc.source), "\\\n" * 6000)  # pasted
    assert doc.unparsed and doc.tree.root_node.child_count == 0
    assert doc.not_analysed is not None


def test_a_long_real_module_is_parsed_whole_or_broken() -> None:
    """The limit is far from the parse of real code: ``typing.py`` (110 KB), and the same with
    200 errors typed in, are parsed (``benchmarks``: about 0.15 s per MiB, broken code up to
    about 5 s per MiB, against 2 s and 2 s more per MiB)."""
    import typing

    with open(typing.__file__, "rb") as handle:
        source = handle.read()
    broken = source.replace(b"):\n", b"(:\n", 200)
    for text in (source, broken):
        doc = Document("file:///t.py", text, 1, UTF16)
        assert not doc.unparsed and doc.tree.root_node.child_count > 0


# -- the line index: blocks, counted and listed when needed -------------------------------------


@st.composite
def index_sessions(draw):  # type: ignore[no-untyped-def]
    """A text, edits of its bytes, and rows and offsets looked up between them."""
    pieces = st.sampled_from([b"a", b"bc", b"\n", b"\r", b"\r\n", b"xyz\n", b"\n\n", b"\r\r"])
    text = b"".join(draw(st.lists(pieces, max_size=30)))
    steps = []
    current = text
    for _ in range(draw(st.integers(1, 10))):
        start = draw(st.integers(0, len(current)))
        end = draw(st.integers(start, len(current)))
        new = b"".join(draw(st.lists(pieces, max_size=5)))
        lookups = draw(st.lists(st.integers(0, 40), max_size=3))
        steps.append((start, end, new, lookups))
        current = current[:start] + new + current[end:]
    return text, steps


@settings(max_examples=400, deadline=None)
@given(index_sessions(), st.sampled_from([1, 2, 3, 8, 1 << 16]))
def test_the_line_index_of_an_edited_text_is_that_of_a_fresh_one(session, block: int) -> None:  # type: ignore[no-untyped-def]
    text, steps = session
    index = documents.LineStarts(text, block)
    for start, end, new, lookups in steps:
        for n in lookups:  # some blocks counted and listed, others not, when the edit comes
            index.start_of(n)
            index.locate(min(n, len(text)))
        before, expected_before = index, line_starts(text)
        source = text[:start] + new + text[end:]
        index = index.spliced(source, start, end, start + len(new))
        expected = line_starts(source)
        assert [index.start_of(row) for row in range(len(expected) + 1)] == [*expected, None]
        assert [index.row_of(offset) for offset in range(len(source) + 1)] == [
            bisect.bisect_right(expected, offset) - 1 for offset in range(len(source) + 1)
        ]
        assert list(index) == expected and len(index) == len(expected)
        assert list(before) == expected_before  # the index of the text before is untouched
        assert documents._line_delta(text, source, start, end, start + len(new)) == len(
            expected
        ) - len(expected_before)
        text = source


def huge_text(lines: int, seed: int) -> str:
    """Lines of Python with non-ASCII and astral characters, and every kind of line break."""
    rng = random.Random(seed)
    words = ["x = 1", "def f(a):", "    return 'é'", "s = '😀中'", "", "# ü", "import os"]
    breaks = ["\n"] * 8 + ["\r\n", "\r"]
    return "".join(rng.choice(words) + rng.choice(breaks) for _ in range(lines))


class EditorText:
    """A text as an editor holds it: its lines, and positions in an encoding."""

    def __init__(self, text: str, encoding: str) -> None:
        self.text, self.encoding = text, encoding
        # str.splitlines also breaks at "\x0c", "\u2028" and more: ``huge_text`` has none.
        pieces = text.splitlines(keepends=True)
        self.lines = text.splitlines()
        self.starts = list(accumulate(map(len, pieces), initial=0))
        if pieces and pieces[-1][-1] not in "\r\n":
            self.starts.pop()  # the end of the text: its last line has no break
        else:
            self.lines.append("")  # the line after the last break (or the empty text's)

    def index(self, position: Position) -> int:
        line = self.lines[position.line]
        chars, count = 0, 0
        while chars < len(line) and count < position.character:
            count += units(line[chars], self.encoding)
            chars += 1
        return self.starts[position.line] + chars

    def position(self, line: int, chars: int) -> Position:
        return Position(line, to_units(self.lines[line], chars, self.encoding))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_edits_of_a_huge_document_over_its_limit_give_a_fresh_documents_text_and_positions(
    encoding: str,
) -> None:
    rng = random.Random(encoding)
    editor = EditorText(huge_text(60_000, seed=1), encoding)  # 0.6 MB: 10 blocks of the index
    assert editor.lines == editor_lines(editor.text)
    doc = Document("file:///h.py", editor.text.encode(), 1, encoding, limit=1 << 18)
    assert doc.too_large
    for version in range(2, 32):
        changes = []
        for _ in range(rng.choice([1, 1, 3])):  # change sets of one change, or of several
            lines = editor.lines
            l1 = rng.choice([0, 1, len(lines) // 2, len(lines) - 1, rng.randrange(len(lines))])
            l2 = min(len(lines) - 1, l1 + rng.choice([0, 0, 1, 2, 300]))
            c1 = rng.randint(0, len(lines[l1]))
            c2 = rng.randint(c1 if l2 == l1 else 0, len(lines[l2]))
            new = rng.choice(["", "\n", "\r", "\r\n", "é😀", "y = 2\r\nz", "\n" * 10_000])
            p1, p2 = editor.position(l1, c1), editor.position(l2, c2)
            a, b = editor.index(p1), editor.index(p2)
            editor = EditorText(editor.text[:a] + new + editor.text[b:], encoding)
            changes.append(Change(p1, p2, new))
        doc.apply_changes(changes, version)
        data = editor.text.encode()
        assert doc.source == data and doc.too_large
        fresh = Document("file:///h.py", data, version, encoding, limit=0)  # never parsed
        for _ in range(20):
            row = rng.randrange(len(editor.lines))
            position = editor.position(row, rng.randint(0, len(editor.lines[row])))
            assert doc.offset_at(position) == fresh.offset_at(position)
            offset = rng.randint(0, len(data))
            assert doc.position_at(offset) == fresh.position_at(offset)
    assert list(doc.starts) == line_starts(doc.source) == list(fresh.starts)
    assert len(doc.starts) == len(editor.lines)


def test_a_huge_documents_line_index_costs_little_memory() -> None:
    data = huge_text(200_000, seed=2).encode()  # about 1.8 MB, 200,000 lines
    lines = len(line_starts(data))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        doc = Document("file:///h.py", data, 1, UTF16, limit=1 << 20)
        opened = tracemalloc.get_traced_memory()[0] - before
        for row in range(0, 1000, 50):  # keystrokes near the top
            start = doc.offset_at(Position(row, 0))
            doc.replace(start, start, "#")
            doc.replace(start, start + 1, "")
        edited = tracemalloc.get_traced_memory()[0] - before - len(doc.source)
        assert sum(1 for _ in doc.starts) == lines
        listed = tracemalloc.get_traced_memory()[0] - before - len(doc.source)
    finally:
        tracemalloc.stop()
    # Opened, or edited near the top: the first offsets of its blocks, and a block or two.
    assert opened / len(data) < 0.01
    assert edited / len(data) < 0.05
    # Every line listed: 8 bytes a line in arrays (a list of ints takes 36).
    assert listed / lines < 10
