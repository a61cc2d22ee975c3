"""Malformed escape sequences (``drain_ls.analysis.escapes``): a syntax error, as CPython
and ruff say, wherever CPython says so; never anywhere else. CPython's own ``compile`` is the
oracle, on generated string literals of every prefix and on the standard library."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from drain_ls.analysis.checker import check_source
from drain_ls.analysis.escapes import escape_errors
from drain_ls.analysis.source import parse
from tests.test_legacy_syntax import LIB, stdlib_files
from tests.timing import best_seconds


def cpython_error(source: bytes) -> str | None:
    """CPython's syntax error for ``source`` (None: it compiles)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # \q and the like: a warning, not an error
        try:
            compile(source, "m.py", "exec")
        except SyntaxError as error:
            return str(error.msg)
    return None


def _compiles(source: bytes) -> bool:
    return cpython_error(source) is None


def _e999(source: bytes) -> list[str]:
    return [f.message for f in check_source(source, "m.py") if f.code == "E999"]


@pytest.mark.parametrize(
    ("literal", "message"),
    [
        (r'"\x4"', r"truncated \xXX escape"),
        (r'b"\x4g"', r"invalid \x escape"),
        (r'"\u12"', r"truncated \uXXXX escape"),
        (r'"\U0011ffff"', "illegal Unicode character"),
        (r'"\N{NOT A NAME}"', "unknown Unicode character name"),
        (r'"\N{LATIN SMALL LETTER A WITH MACRON AND GRAVE}"', "unknown Unicode character name"),
        (r'"\N"', r"malformed \N character escape"),
        (r'"\\\x4"', r"truncated \xXX escape"),
        (r'f"{y}\x4"', r"truncated \xXX escape"),
        (r'f"{y!r:\x4}"', r"truncated \xXX escape"),
        (r'u"\x4"', r"truncated \xXX escape"),
        ('"""\n\\N{NOPE}\n"""', "unknown Unicode character name"),
        # CPython reads the name to the next } of the string: across a quote, a line break.
        (r"""'\N{A"B}'""", "unknown Unicode character name"),
        ('"""\\N{BUL\nLET}"""', "unknown Unicode character name"),
        ('"\\N{' + "A" * 300 + '}"', "unknown Unicode character name"),
        (r'"\N{}"', r"malformed \N character escape"),
        (r'"\N{BULLET" "}"', r"malformed \N character escape"),
    ],
)
def test_a_malformed_escape_is_a_syntax_error(literal: str, message: str) -> None:
    source = f"x = {literal}\n".encode()
    assert not _compiles(source)
    assert [m for m in _e999(source) if message in m], _e999(source)


@pytest.mark.parametrize(
    "literal",
    [
        r'"\x41\u0041\U00000041\N{BULLET}\N{bullet}\N{LINE FEED}"',
        r'b"\u12\N{NOPE}\U0011ffff"',  # not escapes in bytes
        r'r"\x4\N"',
        r'Rb"\x4"',
        r'"\\x4"',
        r'"\q"',
        r'f"{y:>10}{y:\x41}"',
        '1  # "\\x4" in a comment',
    ],
)
def test_a_valid_escape_or_none_is_no_error(literal: str) -> None:
    source = f"x = {literal}\n".encode()
    assert _compiles(source)
    assert _e999(source) == []


PREFIXES = ["", "r", "b", "rb", "Br", "u", "f", "rf", "F", "fR"]
BODIES = ["\\x", "\\u", "\\U", "\\N", "\\N{", "}", "\\\\", "\\", "4", "0", "f", "F", "g", "{", "1"]
BODIES += ["BULLET", "bullet", " ", "NOT", "-", "0010ffff", "00110000", "a", "\\q", "{y}"]


@settings(max_examples=1500, deadline=None)
@example("f", ["{", "00110000", "}"], '"')  # CPython's error is not an escape's (found so)
@given(
    st.sampled_from(PREFIXES),
    st.lists(st.sampled_from(BODIES), max_size=8),
    st.sampled_from(['"', "'", '"""']),
)
def test_the_same_verdict_as_cpython(prefix: str, pieces: list[str], quote: str) -> None:
    body = "".join(pieces)
    if body.endswith("\\") and not body.endswith("\\\\"):
        body += " "  # not an escaped quote: the string must end where it seems to
    source = f"y = 1\nx = {prefix}{quote}{body}{quote}\n".encode()
    tree = parse(source)
    if tree.root_node.has_error:
        return  # an error of the tree's own (an f-string brace, say) is reported otherwise
    error = cpython_error(source)
    ours = [e for e in escape_errors(tree.root_node, source, 0, len(source))]
    if error is None or "escape" in error or "Unicode character" in error:
        assert (not ours) == (error is None), (source, ours)
    else:  # another error of CPython's (``f"{0777}"``): the other checks report it
        assert "E999" in [f.code for f in check_source(source, "m.py")], (source, error)


@pytest.mark.skipif(LIB is None, reason="no standard library sources")
def test_no_error_in_the_standard_library_and_its_tests() -> None:
    for path in stdlib_files(with_tests=True):
        source = path.read_bytes()
        if b"\\" not in source:
            continue
        found = list(escape_errors(parse(source).root_node, source, 0, len(source)))
        if found:  # only where CPython agrees (a test file meant to fail)
            assert not _compiles(source), (path, found)


def test_the_editor_reports_it_and_keeps_the_other_findings() -> None:
    # The editor's tolerant check: the E999, and the findings the error cannot touch.
    source = b'import os\n\ndef f():\n    return "\\x4"\n'
    findings = check_source(source, "m.py", tolerant=True)
    codes = sorted(f.code for f in findings)
    assert codes == ["D100", "D103", "E999", "F401"], codes
    error = next(f for f in findings if f.code == "E999")
    assert source[error.start : error.end] == b"\\x4"


@pytest.mark.parametrize(
    "source",
    [
        b"x = '" + b"\\" * 100_000 + b" '\n",  # one run of backslashes
        b"x = '" + b"\\x" * 100_000 + b"'\n",  # a malformed escape, a hundred thousand times
        b"# " + b"\\N" * 100_000 + b"\n",  # in a comment
    ],
)
def test_hostile_strings_cost_no_more_than_their_parse(source: bytes) -> None:
    # Linear, and one look at the tree per string or comment: a pattern that matched a whole
    # run of backslashes took 8 s on 40,000 of them, and one look per escape 1.5 s here.
    root = parse(source).root_node
    assert best_seconds(
        lambda: list(escape_errors(root, source, 0, len(source)))
    ) < 3 * best_seconds(lambda: parse(source))
