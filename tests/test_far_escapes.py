"""Named escapes left open (``drain_ls.analysis.grammar_gaps.far_escapes``): tree-sitter-python's
lexer reads ahead from each ``\\N{`` to the next ``}``, wherever it is, so a file of them took
time quadratic in its length to parse (8,000 lines of ``x = "\\N{"``: 5 s). drain-ls gives
tree-sitter their ``N`` as a ``U``: the same tree, in linear time, and the same verdicts."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from drain_ls.analysis.checker import check_source
from drain_ls.analysis.grammar_gaps import FAR_ESCAPE, far_escapes, parse_input
from drain_ls.analysis.source import parse
from drain_ls.lsp.documents import Document
from tests.test_escape_errors import cpython_error
from tests.timing import best_seconds


def _shape(source: bytes) -> list[tuple[str, int, int, bool, bool]]:
    out = []
    stack = [parse(source).root_node]
    while stack:
        node = stack.pop()
        out.append((node.type, node.start_byte, node.end_byte, node.is_error, node.is_missing))
        stack.extend(reversed(node.children))
    return out


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (b'"\\N{BULLET}"', []),  # a valid escape
        (b'"\\N{"', [2]),  # no } at all
        (b'"\\N{' + b"a" * (FAR_ESCAPE - 1) + b'}"', []),  # a } in reach: left to the lexer
        (b'"\\N{' + b"a" * FAR_ESCAPE + b'}"', [2]),
        (b'"\\\\N{"', []),  # an escaped backslash, then N{: no escape
        (b'"\\\\\\N{"', [4]),
        (b'"\\N{\\N{\\N{"', [2, 5, 8]),
        (b'"\\N{" "\\N{x}"', []),  # the } of the next string is near: the lexer's read is short
        (b"\\N", []),
    ],
)
def test_far_escapes(source: bytes, expected: list[int]) -> None:
    assert far_escapes(source) == expected
    neutral = parse_input(source)
    assert len(neutral) == len(source)
    assert [i for i in range(len(source)) if neutral[i] != source[i]] == expected
    assert all(source[i : i + 1] == b"N" and neutral[i : i + 1] == b"U" for i in expected)


def test_parse_input_gives_the_source_itself_when_there_is_nothing_to_change() -> None:
    source = b'x = "\\N{BULLET}"\n'
    assert parse_input(source) is source


PREFIXES = ["", "r", "b", "rb", "f", "rf", "u", "br", "F", "R", "t", "rt"]
QUOTES = ['"', "'", '"""', "'''"]
PIECES = ["\\N{", "\\\\N{", "\\\\\\N{", "a", " ", "{x}", "{", "\n", "\\", '"', "'", "#"]
PIECES += ["x = ", "(", ")", "\\N", "N{", "{{", "BULLET", "\\U{", "\\u", "\\x", "é"]


def _generated(rng: random.Random) -> bytes:
    parts = []
    for _ in range(rng.randint(1, 6)):
        body = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 8)))
        if rng.random() < 0.5:
            body += "x" * rng.choice([10, FAR_ESCAPE, 2 * FAR_ESCAPE])
        quote = rng.choice(QUOTES)
        parts.append(
            rng.choice(["x = ", "", "f(", "# "])
            + rng.choice(PREFIXES)
            + quote
            + body
            + (quote if rng.random() < 0.7 else "")
            + rng.choice(["\n", ")\n", ""])
        )
    return "".join(parts).encode()


def test_the_tree_is_the_one_the_failed_read_gives() -> None:
    """Where no ``}`` follows a far escape at all, the lexer's long read fails and leaves the
    escape's backslash alone, as a ``\\U{`` does at once: the very same nodes, in every kind
    of string (raw, bytes, f-strings, t-strings, triple-quoted, unclosed) and in comments."""
    rng = random.Random(18)
    compared = 0
    for _ in range(1500):
        source = _generated(rng)
        far = far_escapes(source)
        if not far or any(source.find(b"}", at) != -1 for at in far):
            continue
        compared += 1
        assert _shape(parse_input(source)) == _shape(source), source
    assert compared > 300


@pytest.mark.parametrize(
    "literal",
    [
        '"\\N{"',
        '"\\N{' + "a" * 200 + '}"',
        'f"\\N{x"',
        '"""\\N{\n' + "a" * 200 + '\n}"""',
        'b"\\N{"',
        'r"\\N{"',
        'rb"\\N{"',
        'rf"\\N{' + "x + " * 60 + 'x}"',  # a raw f-string: a replacement field, far closed
        '"\\\\\\N{"',
    ],
)
def test_the_verdict_is_cpythons(literal: str) -> None:
    """Found as CPython finds it, and worded so: the checks read the text, not the bytes
    tree-sitter was given (the compile that confirms a tree's error, the escape check)."""
    source = f"x = {literal}\n".encode()
    assert far_escapes(source)
    e999 = [f.message for f in check_source(source, "m.py") if f.code == "E999"]
    expected = cpython_error(source)
    if expected is None:
        assert e999 == []
    else:
        assert len(e999) == 1
        assert e999[0].endswith(expected.rsplit(": ", 1)[-1]), (e999, expected)


def test_a_file_of_open_named_escapes_checks_in_linear_time() -> None:
    """``drain-ls check``'s parse and the editor's document, against a file of the same size
    whose escapes are closed (best of 3, same run). Before: 6,000 lines took ~50x longer."""
    lines = 6000
    hostile = b'x = "\\N{"\n' * lines
    closed = b'x = "\\N{a}"\n' * lines
    hostile = hostile + b"#" * (len(closed) - len(hostile))
    assert len(hostile) == len(closed)

    def check(source: bytes) -> Callable[[], object]:
        return lambda: check_source(source, "m.py")

    def document(source: bytes) -> Callable[[], object]:
        def run() -> None:
            doc = Document("file:///m.py", source, 1)
            at = len(source) // 2
            doc.replace(at, at, "}")  # near the escapes before it
            assert doc.tree.root_node is not None

        return run

    for make in (check, document):
        assert best_seconds(make(hostile)) < 4 * best_seconds(make(closed)), make.__name__
