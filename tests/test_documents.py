"""The server's own documents: incremental edits, line index and positions in every encoding."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drain_ls import documents
from drain_ls.analysis.source import line_starts, parse
from drain_ls.documents import (
    ENCODINGS,
    UTF8,
    UTF16,
    UTF32,
    Change,
    ChangeError,
    Document,
    Position,
    PositionError,
    encode_text,
)
from tests.test_forest import shape

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
    assert doc.starts == line_starts(data)
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
    assert doc.starts == [0, 2, 7]
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
        assert (doc.source, doc.starts, doc.version) == (data, line_starts(data), 2)
        assert tree_shape(doc.tree) == tree_shape(parse(data))
        assert len(seen) == len(changes)
    else:
        with pytest.raises(ChangeError):
            doc.apply_changes(changes, 2, lambda *edit: seen.append(edit))
        assert (doc.source, doc.starts, tree_shape(doc.tree), doc.version) == before
        assert seen == []  # nothing was even announced


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
    assert (doc.source, doc.starts, doc.version) == (b"import os\nx = 1\n", [0, 10, 16], 1)
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


def test_a_document_over_its_limit_is_never_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[int] = []
    real = documents.Forest

    def forest(source: bytes, *args: object) -> object:
        parsed.append(len(source))
        return real(source, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(documents, "Forest", forest)
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
