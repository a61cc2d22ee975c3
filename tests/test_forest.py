"""A large document as one tree per chunk (drain_ls.analysis.forest): the same syntax as a parse of
the whole text while it parses cleanly, errors kept inside their chunk otherwise."""

from __future__ import annotations

import random
import sysconfig
from itertools import pairwise
from pathlib import Path
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tree_sitter import Node, Parser, Point, Tree

from drain_ls.analysis import forest
from drain_ls.analysis.forest import Forest
from drain_ls.analysis.forest_bounds import starts_statement
from drain_ls.analysis.forest_root import ForestRoot
from drain_ls.analysis.grammar_gaps import FAR_ESCAPE, parse_input
from drain_ls.analysis.source import PY_LANGUAGE, parse_range, point_of
from drain_ls.analysis.source import parse as parse_bytes
from drain_ls.lsp.documents import Document

START = '''"""Module."""
import os


def f(x):
    return os.path.join(
        x,
        "a",
    )


class C:
    """C."""

    def m(self):
        s = """
def not_a_statement():
"""
        return s


if os:
    pass
else:
    pass

x = [
    1,
]
try:
    import re
except ImportError:
    re = None
'''

# Pieces that open and close brackets and strings, indent, dedent and continue statements.
PIECES = [
    # The edit shapes of the latency benchmark (issue 17): every opener, a started
    # definition, an import list, a decorator line.
    "{",
    "}",
    '"',
    "'''",
    "\\",
    "def f(",
    "from x import (",
    "@decorator\n",
    "x",
    " ",
    "    ",
    "\n",
    "\r\n",
    "(",
    ")",
    "[",
    "]",
    '"""',
    "'",
    "#",
    ":",
    "\\\n",
    "else:\n",
    "except:\n",
    "def g():\n    return 1\n",
    "class D:\n    pass\n",
    "@dec\n",
    "é",
    "if x:\n",
    "\n\n",
    # Named escapes, near and far from a ``}`` (``grammar_gaps.far_escapes``).
    "\\N{",
    "\\N{BULLET}",
    "a" * 100,
]


def shape(node: Node) -> list[tuple[str, int, int, bool]]:
    """Every node below ``node``, depth first."""
    out = []
    stack = list(reversed(node.children))
    while stack:
        n = stack.pop()
        out.append((n.type, n.start_byte, n.end_byte, n.is_missing))
        stack.extend(reversed(n.children))
    return out


def parse(data: bytes) -> Tree:
    """What a document's tree is the parse of: its text as tree-sitter is given it (lone CRs
    read as line breaks, far named escapes neutralized: ``parse_input``)."""
    return parse_bytes(parse_input(data))


def fresh_chunk(source: bytes, begin: int, end: int) -> Node:
    return parse_range(Parser(PY_LANGUAGE), source, begin, end, None).root_node


def assert_sound(doc: Document) -> None:
    """The forest's invariants against fresh parses of the document's text, once what
    keystrokes leave for a pause is done (``verify``)."""
    doc.verify_syntax()
    tree = doc.tree
    source = parse_input(doc.source)  # what the chunks are parses of
    whole = parse(source).root_node
    # Each chunk is what a fresh parse of its range gives: incremental reparses are exact.
    # tree-sitter's incremental reparse recovers from some errors otherwise than a fresh
    # parse would: the nodes must be the same when the chunk is clean, the errors the same.
    for i, chunk in enumerate(tree.trees):
        begin, end = tree.starts[i], tree.end_of(i)
        fresh = fresh_chunk(source, begin, end)
        assert chunk.root_node.has_error == fresh.has_error, i
        if not fresh.has_error:
            assert shape(chunk.root_node) == shape(fresh), i
        for child in chunk.root_node.children:  # text is there, even in chunks that moved
            assert child.text == source[child.start_byte : child.end_byte]
        if i:
            assert starts_statement(source, begin)
            # Nothing the chunk before opens (a string, brackets) goes on into this one.
            assert tree._continues(i - 1, tree.trees[i - 1], mend=False, reach=None) is None
    # Errors where a parse of the whole has them, and the very same nodes when there are none.
    assert tree.root_node.has_error == whole.has_error
    if not whole.has_error:
        assert shape(tree.root_node) == shape(whole)


@st.composite
def sessions(draw: st.DrawFn) -> list[tuple[float, int, str]]:
    edits = []
    for _ in range(draw(st.integers(1, 25))):
        where = draw(st.floats(0, 1))
        length = draw(st.sampled_from([0, 0, 0, 1, 1, 2, 4, 30]))
        text = "".join(draw(st.lists(st.sampled_from(PIECES), min_size=0, max_size=3)))
        edits.append((where, length, text))
    return edits


def line_start_bias(source: bytes, where: float) -> int:
    """An offset, often at a line start (where reparsing is costly and chunks merge)."""
    offset = int(where * len(source))
    if int(where * 1000) % 3 == 0:
        offset = source.rfind(b"\n", 0, offset) + 1
    while offset < len(source) and (source[offset] & 0xC0) == 0x80:
        offset += 1  # not inside a UTF-8 sequence
    return offset


def apply_edit(doc: Document, where: float, length: int, text: str) -> None:
    """A random session's edit: ``length`` bytes at ``where`` (a fraction of the document,
    often moved to a line start) replaced by ``text``, on character boundaries."""
    start = line_start_bias(doc.source, where)
    end = min(len(doc.source), start + length)
    while end < len(doc.source) and (doc.source[end] & 0xC0) == 0x80:
        end += 1  # not inside a UTF-8 sequence
    doc.replace(start, end, text)


@pytest.mark.parametrize("chunk_lines", [1, 2, 5])
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=sessions())
def test_edits_keep_the_chunks_sound(chunk_lines: int, edits: list[tuple[float, int, str]]) -> None:
    with patch.object(forest, "CHUNK_LINES", chunk_lines):
        doc = Document("file:///m.py", START.encode(), 1)
        for where, length, text in edits:
            apply_edit(doc, where, length, text)
            assert_sound(doc)


def test_a_large_file_is_chunked_at_its_first_edit_and_edits_reparse_one_chunk() -> None:
    text = (Path(sysconfig.get_paths()["stdlib"]) / "typing.py").read_bytes()
    doc = Document("file:///typing.py", text, 1)
    assert len(doc.tree.trees) == 1
    assert isinstance(doc.tree.root_node, Node)
    offset = text.index(b"\ndef overload(") + 1
    doc.replace(offset, offset, "x = 1 +\n")  # an error until it is undone
    chunks = len(doc.tree.trees)
    assert chunks >= len(text.splitlines()) // (2 * forest.CHUNK_LINES)
    assert isinstance(doc.tree.root_node, ForestRoot)
    assert doc.tree.root_node.has_error
    # The error stays in its chunk: the chunks after it are what a fresh parse gives.
    errors = [i for i, t in enumerate(doc.tree.trees) if t.root_node.has_error]
    assert len(errors) == 1
    assert_sound(doc)
    doc.replace(offset, offset + len("x = 1 +\n"), "")
    assert_sound(doc)
    assert not doc.tree.root_node.has_error
    assert len(doc.tree.trees) >= chunks - 1


def test_an_unclosed_string_grows_its_chunk_and_closing_it_restores_the_parse() -> None:
    with patch.object(forest, "CHUNK_LINES", 2):
        body = "".join(f"def f{i}():\n    return {i}\n\n\n" for i in range(20))
        doc = Document("file:///m.py", body.encode(), 1)
        doc.replace(0, 0, "x = 1\n")
        chunks = len(doc.tree.trees)
        assert chunks > 5
        # Commenting out a run of functions with a triple-quoted string, in two edits.
        a = doc.source.index(b"def f3")
        doc.replace(a, a, 's = """\n')
        assert doc.tree.root_node.has_error
        assert_sound(doc)
        b = doc.source.index(b"def f7")
        doc.replace(b, b, '"""\n')
        assert not doc.tree.root_node.has_error
        assert_sound(doc)
        string = [n for n in doc.tree.root_node.named_children if b's = """' in (n.text or b"")]
        assert string and b"def f6" in (string[0].text or b"")


def test_root_answers_like_a_module_node() -> None:
    with patch.object(forest, "CHUNK_LINES", 1):
        text = b"import os\n\n\ndef f():\n    return os\n\n\nclass C:\n    pass\n"
        doc = Document("file:///m.py", text, 1)
        doc.replace(len(text), len(text), "y = 2\n")
        root = doc.tree.root_node
        whole = parse(doc.source).root_node
        assert isinstance(root, ForestRoot)
        assert [c.type for c in root.children] == [c.type for c in whole.children]
        assert root.named_child_count == whole.named_child_count
        assert root.child(0) is not None and root.child(0).type == "import_statement"
        assert (
            root.named_child(-1) is not None and root.named_child(-1).type == "expression_statement"
        )
        inner = root.descendant_for_byte_range(
            text.index(b"os\n\n\nclass"), text.index(b"os\n\n\nclass") + 2
        )
        assert inner is not None and inner.type == "identifier" and inner.text == b"os"
        # A range across two chunks: the module itself.
        assert root.descendant_for_byte_range(0, len(doc.source) - 1) is root
        assert not root.has_error and root.end_byte == whole.end_byte


def test_edits_at_chunk_boundaries_merge_chunks() -> None:
    with patch.object(forest, "CHUNK_LINES", 1):
        text = "".join(f"def f{i}():\n    return {i}\n" for i in range(8))
        doc = Document("file:///m.py", text.encode(), 1)
        doc.replace(0, 0, "#\n")
        before = len(doc.tree.trees)
        b = doc.source.index(b"def f4")
        doc.replace(b, b, " ")  # no longer a statement of its own: part of the chunk before
        assert len(doc.tree.trees) < before
        assert_sound(doc)
        doc.replace(b, b + 1, "")
        assert_sound(doc)
        # Deleting the line break before a chunk joins its first line to the line before.
        b = doc.source.index(b"def f6")
        doc.replace(b - 1, b, "")
        assert_sound(doc)
        doc.replace(b - 1, b - 1, "\n")
        assert_sound(doc)


@pytest.mark.parametrize("seed", range(3))
def test_typing_session_on_a_stdlib_module_stays_sound(seed: int) -> None:
    text = (Path(sysconfig.get_paths()["stdlib"]) / "typing.py").read_bytes()
    doc = Document("file:///typing.py", text, 1)
    rng = random.Random(seed)
    for _ in range(40):
        line = rng.randrange(len(doc.starts))
        offset = doc.starts[line] + rng.choice([0, 0, 1, 4])
        offset = min(offset, len(doc.source))
        char = rng.choice(["x", " ", "(", '"', "\n", ":"])
        doc.replace(offset, offset, char)
        assert_sound(doc)
        doc.replace(offset, offset + 1, "")
    assert doc.source == text
    assert_sound(doc)
    assert not doc.tree.root_node.has_error


@pytest.mark.parametrize("chunk_lines", [2, 400])
def test_a_far_named_escape_made_or_unmade_by_an_edit_outside_it_is_parsed_again(
    chunk_lines: int,
) -> None:
    """The ``N`` of a far named escape is given to tree-sitter as a ``U`` (``parse_input``):
    a ``}`` typed after it, a backslash typed before it, or a first ``\\N{`` typed in a text
    without one changes that byte outside the edit, and the edit is grown to cover it."""
    far = "a" * (FAR_ESCAPE + 20)
    text = START + f's = "\\N{{{far}"\nt = r"\\N{{{far}}}"\n' * 3 + "u = 1\n"
    with patch.object(forest, "CHUNK_LINES", chunk_lines):
        doc = Document("file:///m.py", text.encode(), 1)
        assert_sound(doc)
        brace = doc.source.index(b"\\N{") + 2
        steps = [
            (brace + 5, brace + 5, "}"),  # now a near escape: its N is before the edit
            (brace + 5, brace + 6, ""),  # far again
            (brace - 2, brace - 2, "\\"),  # an escaped backslash then N{: not an escape
            (brace - 2, brace - 1, ""),
            (brace + 1, brace + 1, "x}"),
            (brace + 1, brace + 3, ""),
        ]
        for start, end, typed in steps:
            doc.replace(start, end, typed)
            assert_sound(doc)
        clean = Document("file:///n.py", START.encode(), 1)
        at = clean.source.index(b"pass")
        for typed in ('"\\', "N", "{", "x" * (FAR_ESCAPE + 1)):
            clean.replace(at, at, typed)  # a first far escape, typed a key at a time
            at += len(typed)
            assert_sound(clean)
        assert b"\\U{" in parse_input(clean.source)


def test_points_count_newlines_only() -> None:
    assert point_of(b"a\r\nbc\rd", 7) == Point(1, 4)


def test_settle_cuts_a_large_file_and_the_edit_that_cleans_a_merged_chunk_cuts_it() -> None:
    with patch.object(forest, "CHUNK_LINES", 2):
        body = "".join(f"def f{i}():\n    return {i}\n\n\n" for i in range(30))
        doc = Document("file:///m.py", body.encode(), 1)
        tree = doc.tree
        assert tree.unsettled and len(tree.trees) == 1
        tree.settle()
        assert not tree.unsettled and len(tree.trees) > 10
        before = shape(tree.root_node)
        # An unclosed string takes in every chunk after it; closing it leaves one big chunk.
        a = doc.source.index(b"def f3")
        doc.replace(a, a, 's = """\n')
        assert_sound(doc)
        b = doc.source.index(b"def f25")
        doc.replace(b, b, '"""\n')
        assert_sound(doc)
        merged = len(tree.trees)
        doc.replace(b, b + 4, "")
        doc.replace(a, a + 8, "")
        # Clean again: the edit cut the big chunk again, with the nodes of before.
        assert len(tree.trees) > merged and not tree.unsettled
        assert shape(tree.root_node) == before
        assert_sound(doc)


def test_a_decorator_at_the_end_of_a_chunk_takes_in_its_definition() -> None:
    with patch.object(forest, "CHUNK_LINES", 1):
        text = "x = 1\n\n\ndef f():\n    return 1\n\n\nclass C:\n    def m(self):\n        pass\n\n\ny = 2\n"
        doc = Document("file:///m.py", text.encode(), 1)
        doc.replace(0, 0, "#\n")
        # "@dec" on the blank line that ends the chunk of `x = 1`: the `def` after completes it.
        blank = doc.source.index(b"\n\ndef f") + 1
        assert doc.tree.chunk_at(blank) == doc.tree.chunk_at(doc.source.index(b"x = 1"))
        doc.replace(blank, blank + 1, "@dec\n")
        assert not doc.tree.root_node.has_error
        assert_sound(doc)

        def broken_chunk() -> tuple[int, int]:
            (i,) = [i for i, t in enumerate(doc.tree.trees) if t.root_node.has_error]
            return doc.tree.starts[i], doc.tree.end_of(i)

        # A letter typed into a method's indentation breaks its class, the last statement of
        # its chunk: the error stays in that chunk, which does not take in the next one.
        at = doc.source.index(b"        pass")
        doc.replace(at, at, "x")
        assert broken_chunk() == (doc.source.index(b"class C"), doc.source.index(b"y = 2"))
        assert_sound(doc)
        # Broken at its very end (an operator that tree-sitter lets go on at the next line):
        # the next chunk is taken in, and it does mend it.
        doc.replace(at, at + 1, "")
        end = doc.source.index(b"pass\n") + len(b"pass\n")
        doc.replace(end, end, "\n\nz = ")
        assert not doc.tree.root_node.has_error
        assert_sound(doc)


def test_a_line_that_starts_with_a_backslash_does_not_start_a_chunk() -> None:
    # Found by benchmarks/reparse/fuzz_forest.py (seed 31): "\\" + an empty line + a comment
    # where a class started: the class's body now goes on the function before it.
    with patch.object(forest, "CHUNK_LINES", 3):
        doc = Document("file:///m.py", (START * 2).encode(), 1)
        at = doc.source.index(b"class C")
        doc.replace(at, at + 1, "\\\n\n#")
        assert not starts_statement(doc.source, at)
        assert_sound(doc)


@pytest.mark.parametrize(
    ("chunk_lines", "copies", "settles", "edits"),
    [
        # An error at the very end of a chunk that the next chunk's first line mends.
        (5, 1, [0], [(0.6705749725653763, 30, "except:\n\n\n")]),
        (3, 2, [], [(0.4910358208845015, 0, "#")]),  # `re =# None`: goes on at the next line
        (3, 2, [1], [(0.15599966506646967, 0, "@dec\n\\\n#")]),  # a line continuation after it
        (
            1,
            3,
            [3],
            [
                (0.6371413874748076, 1, ""),
                (0.6958818155679869, 0, "\n\n"),
                (0.08695421071746845, 1, ""),
                (0.6585017617452968, 4, "#"),
            ],
        ),
    ],
)
def test_sessions_the_fuzzer_found(
    chunk_lines: int, copies: int, settles: list[int], edits: list[tuple[float, int, str]]
) -> None:
    """Sessions of benchmarks/reparse/fuzz_forest.py that once broke a rule of the forest."""
    with patch.object(forest, "CHUNK_LINES", chunk_lines):
        doc = Document("file:///m.py", (START * copies).encode(), 1)
        if 0 in settles:
            doc.tree.settle()
        for k, (where, length, text) in enumerate(edits, 1):
            apply_edit(doc, where, length, text)
            if k in settles:
                doc.tree.settle()
            assert_sound(doc)


def _generated_module(lines: int) -> str:
    parts = ['"""A generated module."""', "import os", "import sys", ""]
    i = 0
    while len(parts) < lines:
        i += 1
        parts += ["", "", f"def f{i}(a, b=({i}, [1, 2])):", f'    """Doc {i}."""', "    return a"]
    return "\n".join(parts) + "\n"


@pytest.mark.parametrize("opener", ["(", "[", "{", '"""', "'''", "def f(", "from x import ("])
def test_an_opener_left_open_near_the_top_reparses_its_chunk_not_the_file(opener: str) -> None:
    """Typed then erased one character at a time in the first lines of a long module: each
    keystroke parses afresh at most a few chunks' worth of text, never the rest of the file
    (an opener that nothing closes keeps its error in its chunk), and erasing it gives back
    the chunks and the parse of the original."""
    text = _generated_module(6_000).encode()
    doc = Document("file:///m.py", text, 1)
    doc.tree.settle()
    chunks = len(doc.tree.trees)
    assert chunks > 20
    parsed: list[int] = []
    real = Forest._parse_chunk

    def counting(self: Forest, index: int, old_tree: Tree | None) -> Tree:
        if old_tree is None:
            parsed.append(self.end_of(index) - self.starts[index])
        return real(self, index, old_tree)

    at = text.index(b"import sys") + len(b"import sys")
    with patch.object(Forest, "_parse_chunk", counting):
        for n, char in enumerate(opener):
            doc.replace(at + n, at + n, char)
            assert sum(parsed) < len(text) // 10, (char, sum(parsed))
            parsed.clear()
        assert doc.tree.root_node.has_error
        assert len(doc.tree.trees) >= chunks - 1  # nothing merged into the rest of the file
        for n in reversed(range(len(opener))):
            doc.replace(at + n, at + n + 1, "")
            assert sum(parsed) < len(text) // 10, sum(parsed)
            parsed.clear()
    assert doc.source == text
    assert not doc.tree.root_node.has_error
    assert shape(doc.tree.root_node) == shape(parse(text).root_node)


def test_what_closes_an_opener_far_below_is_found_when_the_user_pauses() -> None:
    """A keystroke looks ``REACH`` chunks ahead for what closes a broken chunk's opener;
    ``verify`` (at the pause) looks to the end: the parse is then a fresh parse's."""
    with patch.object(forest, "CHUNK_LINES", 2):
        body = "".join(f"def f{i}():\n    return {i}\n\n\n" for i in range(60))
        doc = Document("file:///m.py", ("x = 1\n" + body).encode(), 1)
        doc.tree.settle()
        far = doc.source.index(b"def f50")
        doc.replace(far, far, '"""\n')  # an unclosed string, far down: an error of its own
        doc.replace(0, 0, 's = """\n')  # ... closed by the string opened at the top
        assert doc.tree.root_node.has_error  # not looked that far yet
        assert doc.verify_syntax()
        assert not doc.tree.root_node.has_error
        assert shape(doc.tree.root_node) == shape(parse(doc.source).root_node)
        assert not doc.verify_syntax()  # nothing left to look at


def _typing_document() -> Document:
    text = (Path(sysconfig.get_paths()["stdlib"]) / "typing.py").read_bytes()
    doc = Document("file:///typing.py", text, 1)
    doc.tree.settle()
    return doc


class _Parses:
    """The chunk parses ``Forest`` makes: (afresh, bytes) each."""

    def __init__(self) -> None:
        self.made: list[tuple[bool, int]] = []
        real = Forest._parse_chunk

        def counting(forest_: Forest, index: int, old_tree: Tree | None) -> Tree:
            self.made.append((old_tree is None, forest_.end_of(index) - forest_.starts[index]))
            return real(forest_, index, old_tree)

        self.patch = patch.object(Forest, "_parse_chunk", counting)

    def take(self) -> list[tuple[bool, int]]:
        made, self.made = self.made, []
        return made


@pytest.mark.parametrize("opener", ['"', "'", "(", "[", "{", '"""'])
def test_an_opener_typed_on_a_class_line_parses_its_chunk_once_not_the_next(opener: str) -> None:
    """The edit shapes' ``"`` typed into the middle of typing.py, at the end of ``class
    Generic:``: tree-sitter pairs the quote with every quote after it, an error to the end of
    the chunk. It stays in its chunk (the next chunk cannot mend an error that the parser met
    before the chunk's end): each keystroke parses that chunk afresh once, not with the next
    one; neither a chunk broken before a keystroke nor one an opener was typed into is first
    reparsed from its tree."""
    doc = _typing_document()
    text, tree = doc.source, doc.tree
    at = text.index(b"class Generic:") + len(b"class Generic:")
    index = tree.chunk_at(at)
    size = tree.end_of(index) - tree.starts[index]
    chunks = len(tree.trees)
    parses = _Parses()
    with parses.patch:
        for n, char in enumerate(opener):
            doc.replace(at + n, at + n, char)
            # Once, afresh: an opener typed, or a chunk broken before.
            assert parses.take() == [(True, size + n + 1)]
            assert len(tree.trees) == chunks
        assert tree.root_node.has_error
        for n in reversed(range(len(opener))):
            doc.replace(at + n, at + n + 1, "")
            made = parses.take()
            assert len(made) <= 2 and all(length <= size + n for _, length in made), made
    assert doc.source == text and len(tree.trees) == chunks
    assert shape(tree.root_node) == shape(parse(text).root_node)


def test_enter_at_the_start_of_a_chunk_keeps_it_and_a_statement_typed_there_parses_only_it() -> (
    None
):
    """The edit shapes' Enter above ``class Generic:`` (the first line of a chunk), then
    ``from x import (`` typed on the new line: a chunk may start with blank lines, so the
    chunk is not merged with the one before it (which a parse of both afresh at every
    keystroke cost); what is parsed afresh is at most it and the next chunk, which may mend
    the statement being typed (``from x`` then has one error to the end of the chunk)."""
    doc = _typing_document()
    text, tree = doc.source, doc.tree
    at = text.index(b"\nclass Generic:") + 1
    index = tree.chunk_at(at)
    assert tree.starts[index] == at  # the class opens a chunk
    chunks = len(tree.trees)
    size = tree.end_of(index + 1) - at
    typed = "from x import ("
    parses = _Parses()
    with parses.patch:
        doc.replace(at, at, "\n")
        assert len(tree.trees) == chunks and starts_statement(doc.source, at)
        assert parses.take() == [(False, tree.end_of(index) - at)]  # reparsed from its tree
        for n, char in enumerate(typed):
            doc.replace(at + n, at + n, char)
            made = parses.take()
            assert all(length <= size + 1 + len(typed) for _, length in made), made
            assert tree.starts[index] == at and len(tree.trees) >= chunks - 1
        for n in reversed(range(len(typed))):
            doc.replace(at + n, at + n + 1, "")
            assert tree.starts[index] == at and len(tree.trees) >= chunks - 1
        doc.replace(at, at + 1, "")
    assert doc.source == text and len(tree.trees) >= chunks - 1
    assert shape(tree.root_node) == shape(parse(text).root_node)


def test_blank_lines_may_start_a_chunk_when_a_statement_follows() -> None:
    assert starts_statement(b"x = 1\n\n\ny = 2\n", 6)
    assert starts_statement(b"x = 1\n  \t\r\n\ny = 2\n", 6)
    assert starts_statement(b"x = 1\n\n", 6)  # nothing after: the end
    assert not starts_statement(b"if x:\n\n    y = 2\n", 6)  # the block goes on
    assert not starts_statement(b"if x:\n\nelse:\n    pass\n", 6)
    assert not starts_statement(b"x = 1\n\n# c\ny = 2\n", 6)
    assert not starts_statement(b"x = 1\r\ny = 2\n", 6)  # between "\r" and "\n"


def test_a_keystroke_that_leaves_an_error_reads_no_chunk_it_only_moved() -> None:
    """The analysis of a version with a syntax error (``provisional``) reads the broken
    chunks' nodes as they are: the chunks an edit near the top moved are parsed again only
    when their nodes are read (``trees``), after the keystroke's diagnostics."""
    from drain_ls.analysis.checker import CheckSettings
    from drain_ls.analysis.incremental import IncrementalChecker

    doc = _typing_document()
    checker = IncrementalChecker("/tmp/typing.py", CheckSettings(), fix_factories=False)
    checker.check(doc.source, doc.tree, doc.changes)
    doc.changes.reset()
    at = doc.source.index(b"\nfrom abc import") + len(b"\nfrom abc import")
    doc.replace(at, at, "(")
    parser = forest._chunk_parser()
    with patch.object(forest, "_chunk_parser", return_value=_CountingParser(parser)) as made:
        assert doc.tree.root_node.has_error
        shown = checker.provisional(doc.source, doc.tree, doc.changes)
        assert shown is not None and any(f.code == "E999" for f in shown)
        assert made.return_value.parses == 0
        assert len(doc.tree.trees) > 20
        assert made.return_value.parses == len(doc.tree.trees) - 1  # now: all but the first


class _CountingParser:
    def __init__(self, parser: Parser) -> None:
        self._parser = parser
        self.parses = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._parser, name)

    def __setattr__(self, name: str, value: object) -> None:
        if name in ("_parser", "parses"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._parser, name, value)

    def parse(self, *args: object) -> Tree:
        self.parses += 1
        return self._parser.parse(*args)  # type: ignore[arg-type]


def test_a_bracket_typed_near_the_top_adds_up_the_chunks_after_it_from_their_summaries() -> None:
    """What closes a bracket typed near the top is looked for ``REACH`` chunks ahead: the
    chunks after the broken one are scanned once, then read from their summaries (kept by
    text), as long as their text does not change."""
    text = _generated_module(6_000).encode()
    doc = Document("file:///m.py", text, 1)
    doc.tree.settle()
    at = text.index(b"import sys") + len(b"import sys")
    scanned: list[int] = []
    real = forest._brackets

    def counting(source: bytes, begin: int, end: int) -> tuple[int, int] | None:
        scanned.append(end - begin)
        return real(source, begin, end)

    with patch.object(forest, "_brackets", counting):
        for opener in "([{":
            doc.replace(at, at, opener)
            assert doc.tree.root_node.has_error
            doc.replace(at, at + 1, "")
            assert not doc.tree.root_node.has_error
        first, rest = scanned[: forest.REACH], scanned[forest.REACH :]
        assert len(first) == forest.REACH  # the broken chunk, and the summaries of the others
        assert sum(rest) <= 4 * (doc.tree.end_of(0) + 1)  # the broken chunk only, after that
    assert doc.source == text
    assert shape(doc.tree.root_node) == shape(parse(text).root_node)


def test_brackets_add_up_as_a_scan_of_the_whole_would() -> None:
    source = b"x = (1,\n     [2]]\n# ( in a comment\ns = ')'\ny = ((\n"
    cuts = [0, 8, 18, 35, 43, len(source)]
    for begin_depth in range(3):
        prefix = b"(" * begin_depth + b"\n"
        whole = prefix + source
        offset = len(prefix)
        depth = forest._brackets(whole, 0, offset)
        assert depth is not None
        level = depth[0]
        for a, b in pairwise(cuts):
            summary = forest._brackets(source, a, b)
            assert summary is not None
            level = max(level + summary[1], summary[0])
            scanned = forest._brackets(whole, 0, offset + b)
            assert scanned is not None and scanned[0] == level
    # A string that runs on past the end: no summary.
    assert forest._brackets(b's = """\nx\n"""\n', 0, 8) is None
    assert forest._brackets(b"x = 1 + \\\n\n2\n", 0, 9) is None


def test_an_error_the_parser_meets_before_the_chunk_ends_is_not_open_at_its_end() -> None:
    parser = Parser(PY_LANGUAGE)
    # A decorator waits for its definition, ``x =`` for the next line: open.
    assert forest._open_at_end(parser.parse(b"x = 1\n@dec\n"))
    assert forest._open_at_end(parser.parse(b"x = 1\ny =\n"))
    # A quote paired with the quotes after it: the first error is followed by more tokens.
    body = b'class C:"\n    """Doc."""\n\n    def m(self):\n        return "a"\n'
    tree = parser.parse(body)
    assert tree.root_node.has_error and not forest._open_at_end(tree)
    assert not forest._open_at_end(parser.parse(b"def f(:\n    return 1\n\n\nx = 2\n"))


def test_an_error_keystroke_reports_as_changed_only_the_statements_that_differ() -> None:
    """A chunk parsed afresh for an error: tree-sitter's changed ranges between its old tree
    and the new one, not the whole chunk (the analysis re-reads what they touch)."""
    text = _generated_module(1_000).encode()
    doc = Document("file:///m.py", text, 1)
    doc.tree.settle()
    tree = doc.tree
    index = 3
    begin, end = tree.starts[index], tree.end_of(index)
    first = tree.trees[index].root_node.children[0]
    doc.changes.reset()
    doc.replace(begin + len(b"def "), begin + len(b"def "), "(")
    assert tree.trees[index].root_node.has_error
    assert doc.changes.ranges
    assert all(begin <= s <= e <= first.end_byte + 1 for s, e in doc.changes.ranges)
    assert end - begin > 10 * (first.end_byte - begin)


def test_settle_steps_cuts_a_piece_at_a_time_and_never_under_an_edit() -> None:
    """``settle_steps`` (the server runs it in slices) cuts as ``settle`` does, pausing after
    each piece; an edit that comes in between cuts the document itself, and the pieces made
    on the side are dropped."""
    text = _generated_module(3_000).encode()
    whole = Document("file:///m.py", text, 1)
    whole.tree.settle()
    doc = Document("file:///m.py", text, 1)
    steps = doc.tree.settle_steps()
    assert len(list(steps)) >= len(whole.tree.trees) > 20
    assert doc.tree.starts == whole.tree.starts and not doc.tree.unsettled
    assert shape(doc.tree.root_node) == shape(parse(text).root_node)
    assert list(doc.tree.settle_steps()) == []  # nothing left to cut

    doc = Document("file:///m.py", text, 1)
    steps = doc.tree.settle_steps()
    for _ in range(5):
        next(steps)
    assert doc.tree.unsettled and len(doc.tree.trees) == 1  # nothing changed yet
    at = text.index(b"def f30")
    doc.replace(at, at, "x = 1\n")  # the edit cuts the document itself
    cut = list(doc.tree.starts)
    assert len(cut) > 20
    list(steps)
    assert doc.tree.starts == cut
    assert_sound(doc)


@pytest.mark.parametrize("chunk_lines", [1, 5])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=sessions(), reads=st.lists(st.floats(0, 1), min_size=25, max_size=25))
def test_a_chunk_read_alone_between_edits_is_the_chunk_the_whole_read_gives(
    chunk_lines: int, edits: list[tuple[float, int, str]], reads: list[float]
) -> None:
    """A hover reads one chunk (``tree_at``) between keystrokes: that chunk is parsed for the
    current text (its nodes' text and points right) without the others, and the chunks read
    alone are not parsed again when all are read (nor left stale)."""
    with patch.object(forest, "CHUNK_LINES", chunk_lines):
        doc = Document("file:///m.py", START.encode(), 1)
        for (where, length, text), read in zip(edits, reads, strict=False):
            apply_edit(doc, where, length, text)
            tree = doc.tree
            source = tree.source
            index = min(int(read * len(tree.starts)), len(tree.starts) - 1)
            root = tree.tree_at(index).root_node
            for child in root.children:
                assert child.text == source[child.start_byte : child.end_byte]
                assert child.start_point == point_of(source, child.start_byte)
                assert child.end_point == point_of(source, child.end_byte)
            if int(read * 1000) % 3:
                continue  # more edits before the next read of every chunk
            # A tree read alone is kept: the read of all does not parse it again.
            assert tree.tree_at(index) is tree.trees[index]
            for chunk in tree.trees:
                for child in chunk.root_node.children:
                    assert child.start_point == point_of(source, child.start_byte)
        assert_sound(doc)
