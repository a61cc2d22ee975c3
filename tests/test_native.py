"""``drain_ls._native`` (the C scans of the syntax checks) against their Python version in
``drain_ls.analysis.indentation``: the same events and logical lines for every input, on the
standard library with its test suites, on every range an editor checks, on generated
programs full of what makes lines hard to read (tabs, form feeds, lone CRs, backslashes,
prefixes, nested f-strings), and on real files cut and spliced at random."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drain_ls.analysis import indentation
from drain_ls.analysis.indentation import (
    _slow_line,
    indentation_event,
    logical_line_code_end,
    python_indentation_event,
)
from drain_ls.analysis.legacy_candidates import python_candidates
from drain_ls.analysis.source import parse
from tests.test_legacy_syntax import LIB, stdlib_files

native = indentation._native


def test_the_c_module_is_built() -> None:
    # pip builds it when a C compiler is there (setup.py); every other test here compares it
    # with the Python version, so a missing module must not pass for a green run.
    assert native is not None, "drain_ls._native was not built: install a C compiler and gcc"


def _native_event(source: bytes, start: int = 0, end: int | None = None) -> object:
    assert native is not None
    return indentation_event(source, start, end)


def _same(source: bytes, start: int = 0, end: int | None = None) -> None:
    assert _native_event(source, start, end) == python_indentation_event(source, start, end), (
        source[:300],
        start,
        end,
    )


def _same_lines(source: bytes, offsets: list[int]) -> None:
    assert native is not None
    for offset in offsets:
        expected = _slow_line(source, offset)
        assert native.logical_line(source, offset) == expected, (source[:300], offset)


@pytest.mark.skipif(LIB is None, reason="no standard library sources")
def test_same_events_on_the_standard_library_and_its_tests() -> None:
    files = stdlib_files(with_tests=True)
    assert len(files) > 1000
    rng = random.Random(7)
    for path in files:
        data = path.read_bytes()
        _same(data)
        # The ranges an editor checks: from a module-level statement to another.
        starts = [child.start_byte for child in parse(data).root_node.children]
        if len(starts) > 2:
            begin, end = sorted(rng.sample(starts, 2))
            # (a range starts at the start of its line)
            begin = data.rfind(b"\n", 0, begin) + 1
            _same(data, begin, end)
        _same_lines(data, [0, *rng.sample(starts, min(3, len(starts)))])


# Pieces of lines where the two implementations could part: every kind of string, prefix and
# f-string nesting, continuation, bracket, comment, colon and line ending.
PIECES = [
    "x",
    " ",
    "  ",
    "\t",
    "\f",
    "\x0b",
    ":",
    "#c",
    "# x:",
    "\\\n",
    "\\\r\n",
    "\\",
    "\n",
    "\r\n",
    "\r",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "'",
    '"',
    "'''",
    '"""',
    "'a'",
    '"b"',
    "'''t\nq'''",
    "r'\\'",
    "b'\\''",
    "rb",
    "else",
    "f'{x}'",
    'f"{x["k"]}"',
    "f'{'{'}'",
    "f'{a:{b}}'",
    "f'{a!r}'",
    "f'''{\nx}'''",
    "f'\\N{DASH}'",
    "rf'\\{x}'",
    "f'{{'",
    "t'{x}'",
    "t'{'#'}'",
    "Rb'{'",
    "f'{'''\n'''}'",
    'fr"{x!r:>{w}}"',
    "if x:",
    "def f():",
    "class C:",
    "C:",
    "async def g():",
    "async",
    "await",
    "await x",
    "async  with",
    "xawait",
    "def h(a=1, b):",
    "lambda: 0",
    "\xc3\xa9",
]


INDENTS = ["", "", " ", "    ", "\t", "  \t", "\t  ", "\f  ", "        "]


@st.composite
def _jumbled(draw: st.DrawFn, pieces: list[str], endings: list[str]) -> bytes:
    """Up to 12 lines of ``pieces`` after an indentation, joined by one of ``endings``, with
    or without a last line break."""
    lines = []
    for _ in range(draw(st.integers(1, 12))):
        indent = draw(st.sampled_from(INDENTS))
        lines.append(indent + "".join(draw(st.lists(st.sampled_from(pieces), max_size=6))))
    ending = draw(st.sampled_from(endings))
    return ending.join(lines).encode("latin-1") + draw(st.sampled_from([b"", b"\n", b"\r\n"]))


def jumbles() -> st.SearchStrategy[bytes]:
    return _jumbled(PIECES, ["\n", "\r\n", "\r", ""])


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jumbles(), st.data())
def test_same_events_on_jumbled_lines(source: bytes, data: st.DataObject) -> None:
    _same(source)
    begin = data.draw(st.integers(0, len(source)))
    begin = source.rfind(b"\n", 0, begin) + 1
    _same(source, begin, data.draw(st.integers(begin, len(source) + 2)))
    _same_lines(source, [data.draw(st.integers(0, len(source)))])


@pytest.mark.skipif(LIB is None, reason="no standard library sources")
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_same_events_on_spliced_files(rng: random.Random) -> None:
    files = _some_files()
    data = bytearray(rng.choice(files))
    for _ in range(rng.randint(1, 6)):  # cut, copy, or insert a hard byte
        at = rng.randrange(len(data) + 1)
        choice = rng.random()
        if choice < 0.3:
            del data[at : at + rng.randint(1, 40)]
        elif choice < 0.6:
            other = rng.choice(files)
            start = rng.randrange(len(other) + 1)
            data[at:at] = other[start : start + rng.randint(1, 200)]
        else:
            data[at:at] = rng.choice([b"\t", b"\f", b"\r", b"(", b"'", b'"', b"\\", b":", b"f'{"])
    source = bytes(data)
    _same(source)
    _same_lines(source, [rng.randrange(len(source) + 1)])


_FILES: list[bytes] = []


def _some_files() -> list[bytes]:
    if not _FILES:
        files = stdlib_files(with_tests=False)
        _FILES.extend(p.read_bytes() for p in random.Random(3).sample(files, 40))
    return _FILES


def test_logical_line_code_end_uses_the_same_rule() -> None:
    source = b"x = (1,\n  2)  # c\ny = 'a' \\\n  'b'\nz = (\n"
    assert logical_line_code_end(source, 0) == source.index(b")") + 1
    assert logical_line_code_end(source, source.index(b"y")) == source.index(b"'b'") + 3
    assert logical_line_code_end(source, source.index(b"z")) is None


def test_a_quote_after_a_name_opens_a_string() -> None:
    # ``else"#"``: a name, then a string holding "#" (not a comment that hides the colon).
    source = b'if a if b else"#":\n    pass\n'
    assert python_indentation_event(source) is None
    assert _native_event(source) is None
    # ``xr'\'`` is a name then a plain string, in which the backslash escapes the quote.
    assert logical_line_code_end(b"y = xr'\\'' + 1\n", 0) == len(b"y = xr'\\'' + 1")


@pytest.mark.parametrize("offset", [-1, 10**6])
def test_offsets_out_of_range_are_refused(offset: int) -> None:
    assert native is not None
    with pytest.raises(ValueError):
        native.logical_line(b"x = 1\n", offset)


# -- legacy_candidates ------------------------------------------------------------------------


def _same_candidates(source: bytes, begin: int = 0, end: int | None = None) -> None:
    assert native is not None
    end = len(source) if end is None else end
    at_line_start = begin == 0 or source[begin - 1 : begin] in b"\r\n"
    expected = sorted(python_candidates(source, begin, end, at_line_start))
    found = sorted(native.legacy_candidates(source, begin, end, at_line_start, begin, end))
    assert found == expected, (source[:300], begin, end)
    # Taken a slice at a time (as legacy_errors does, so that no list grows huge): the same.
    cut = begin + (end - begin) // 3
    sliced = [
        *native.legacy_candidates(source, begin, end, at_line_start, begin, cut),
        *native.legacy_candidates(source, begin, end, at_line_start, cut, end),
    ]
    assert sorted(sliced) == expected, (source[:300], begin, cut, end)


@pytest.mark.skipif(LIB is None, reason="no standard library sources")
def test_same_legacy_candidates_on_the_standard_library_and_its_tests() -> None:
    rng = random.Random(11)
    for path in stdlib_files(with_tests=True):
        data = path.read_bytes()
        _same_candidates(data)
        begin = rng.randrange(len(data) + 1)
        _same_candidates(data, begin, rng.randrange(begin, len(data) + 1))


# What the legacy rules look for, and what is close to it.
LEGACY_PIECES = [
    "print",
    "print x",
    "print(x)",
    "exec code in ns",
    "exec",
    "nonlocal",
    "try",
    "try :",
    "raise E, v",
    "raise",
    "except A, B as e",
    "except (A, B) as e:",
    "except",
    " as ",
    "as",
    ".as",
    "def f((a, b)):",
    "def  g ( (",
    "def",
    "del x, __debug__",
    "del",
    "__debug__",
    "__debug__ = 1",
    "from m",
    "from m import",
    "from .m import",
    "from",
    "import a,",
    "import a, b",
    "assert x,",
    "global a,",
    "from m import (a,",
    "0777",
    "0_7",
    "00",
    "0.7",
    "07e",
    "10L",
    "0xffL",
    "<>",
    "<<>>",
    ":=",
    "x = 1 +",
    "a ==",
    "and",
    "or",
    "not",
    "in",
    "is",
    "this",
    "band",
    "ur'x'",
    'Ur"x"',
    "xur'",
    "`x`",
    "!r",
    "!=",
    "f'{x!z}'",
    "async",
    "async def",
    "async\twith",
    "asyncx",
    "x.async",
    "await",
    "await x",
    "await (",
    "await\n",
    "_await",
    "await-",
    " ",
    "\t",
    "\f",
    "#",
    "# c.",
    ",",
    ";",
    "(",
    "'",
    '"',
    "\\",
    "\n",
    "\r\n",
    "\r",
    "\x00",
    "\xe9",
]


def legacy_jumbles() -> st.SearchStrategy[bytes]:
    return _jumbled(LEGACY_PIECES, ["\n", "\r\n", ""])


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(legacy_jumbles(), st.data())
def test_same_legacy_candidates_on_jumbled_lines(source: bytes, data: st.DataObject) -> None:
    _same_candidates(source)
    begin = data.draw(st.integers(0, len(source)))
    _same_candidates(source, begin, data.draw(st.integers(begin, len(source))))


@pytest.mark.skipif(LIB is None, reason="no standard library sources")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_same_legacy_candidates_on_spliced_files(rng: random.Random) -> None:
    files = _some_files()
    data = bytearray(rng.choice(files))
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(len(data) + 1)
        piece = rng.choice(LEGACY_PIECES).encode("latin-1")
        data[at:at] = piece if rng.random() < 0.7 else b"\n" + piece
    _same_candidates(bytes(data))


def test_without_the_c_module_the_check_finds_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    from drain_ls.analysis import legacy_candidates, token_scan
    from drain_ls.analysis.checker import check_source

    sources = [
        b"import os\nif x:\n  a\n b\n",  # unindent
        b"import os\nprint 'x'\n",  # legacy
        b"def f():\n\treturn 1\n        pass\n",  # tabs
        b"x = 0777\ny = 1 +\n",
        b"try:\n    pass\nz = f'{a!z}'\n",
        b'"""Doc."""\nimport os\n\n\ndef g():\n    return os\n',
        b"import os\nf(a=1, b)\n",  # arguments out of order
        b"import os\nx = 1_\n",  # a literal
    ]
    expected = [check_source(s, "m.py") for s in sources]
    assert all(expected)
    monkeypatch.setattr(indentation, "_native", None)
    monkeypatch.setattr(legacy_candidates, "_native", None)
    monkeypatch.setattr(token_scan, "_native", None)
    assert [check_source(s, "m.py") for s in sources] == expected


# -- word_occurrences -------------------------------------------------------------------------


@settings(max_examples=2000, deadline=None)
@given(
    st.lists(
        st.sampled_from(["os", "o", "s", "os_", "_os", ".", " ", "é", "\ufeff", "osos"]),
        max_size=12,
    ),
    st.sampled_from([b"os", b"o", b"osos", b"\xc3\xa9", b"x"]),
)
def test_same_word_occurrences(pieces: list[str], word: bytes) -> None:
    from drain_ls.analysis.source import python_word_occurrences, word_occurrences

    source = "".join(pieces).encode()
    assert word_occurrences(source, word) == python_word_occurrences(source, word)


@pytest.mark.skipif(LIB is None, reason="no standard library sources")
def test_same_word_occurrences_on_the_standard_library() -> None:
    from drain_ls.analysis.source import python_word_occurrences, word_occurrences

    for data in _some_files():
        for word in (b"self", b"os", b"re", b"sys", b"_", b"__all__", b"typing"):
            assert word_occurrences(data, word) == python_word_occurrences(data, word)


def test_the_version_says_the_scans_run_in_c() -> None:
    from drain_ls.cli import _version

    assert _version().endswith("(byte scans: C)")


def test_a_file_of_candidates_is_taken_a_slice_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from drain_ls.analysis import legacy, legacy_candidates
    from drain_ls.analysis.versions import DEFAULT_TARGET

    source = b"x = 1\n" + b"`!" * 50_000 + b"\nprint 'y'\n"
    root = parse(source).root_node
    calls: list[int] = []
    real = native.legacy_candidates if native is not None else None
    assert real is not None

    def counted(*args: object) -> list[tuple[int, int, int]]:
        found: list[tuple[int, int, int]] = real(*args)
        calls.append(len(found))
        return found

    monkeypatch.setattr(native, "legacy_candidates", counted)
    errors = legacy.legacy_errors(root, source, DEFAULT_TARGET)
    assert len(calls) > 1 and max(calls) <= legacy_candidates.NATIVE_SLICE
    monkeypatch.setattr(legacy_candidates, "_native", None)
    assert legacy.legacy_errors(root, source, DEFAULT_TARGET) == errors
