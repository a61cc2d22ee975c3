"""Invisible characters in code (``drain_ls.analysis.invisible``): U+200B, U+2060 and U+FEFF,
which tree-sitter-python skips as whitespace, and U+200C and U+200D, which it reads as part of
a name, are ``E999`` as CPython (the interpreter running the tests) reports them, in
CPython's words and at its position; in strings, comments and format specs they are text."""

from __future__ import annotations

import random
import sys
import warnings

import pytest

from drain_ls.analysis.checker import CheckSettings, check_source
from tests.test_legacy_syntax import LIB, stdlib_files

CHARACTERS = ["\u200b", "\u2060", "\ufeff", "\u200c", "\u200d"]
PLACES = [
    "x{c} = 1\n",
    "a = 1{c}\n",
    "f(a,{c} b)\n",
    "{c}x = 1\n",
    "x = 1\n{c}\n",
    "def f():\n    {c}return 1\n",
    "class C:\n    x = 1\n\n    {c}y = 2\n",
    "x = [\n    1,{c}\n]\n",
    'f"{{x{c}}}"\n',
    # text: no error
    "x = '{c}'  # {c}\n",
    'x = f"{{x:{c}>3}}" f"{{y!r:{{z}}{c}}}"\n',
    'x = """\n{c}\n"""\n',
    "r'{c}'  #{c}\n",
    "def f():\n    return 1\n    #{c}\n\n\ng = 2\n",  # (a comment tree-sitter leaves out)
]


def _cpython(source: str) -> tuple[str, int, int] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source.encode(), "<m>", "exec", dont_inherit=True)
    except SyntaxError as error:
        assert error.lineno is not None and error.offset is not None
        return error.msg, error.lineno, error.offset
    return None


def _drain(source: str) -> tuple[str, int, int] | None:
    data = source.encode()
    found = [f for f in check_source(data, "/m.py", CheckSettings()) if f.code == "E999"]
    if not found:
        return None
    start = found[0].start
    line_start = data.rfind(b"\n", 0, start) + 1
    column = len(data[line_start:start].decode()) + 1
    return found[0].message.split(": ", 1)[1], data.count(b"\n", 0, start) + 1, column


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("character", CHARACTERS, ids=[f"U+{ord(c):04X}" for c in CHARACTERS])
def test_as_cpython_says(character: str, place: str) -> None:
    source = place.format(c=character)
    found, expected = _drain(source), _cpython(source)
    if place.startswith('f"') and sys.version_info < (3, 12):
        # (Python 3.11 reads an f-string's fields apart, and counts columns in them.)
        assert found is not None and expected is not None and found[:2] == expected[:2]
    else:
        assert found == expected


def test_a_byte_order_mark_at_the_start_is_no_character_of_the_text() -> None:
    source = "\ufeffimport os\n"
    assert _cpython(source) is None
    assert [f.code for f in check_source(source.encode(), "/m.py", CheckSettings())] == [
        "D100",
        "F401",
    ]


@pytest.mark.skipif(LIB is None, reason="no standard library sources")
def test_typed_anywhere_in_real_files_as_cpython_says() -> None:
    """One of them typed at random places of standard library files: an ``E999`` exactly where
    CPython rejects the file, and CPython's own error where it is this one."""
    rng = random.Random(19)
    files = rng.sample(stdlib_files(with_tests=False), 12)
    errors = 0
    for path in files:
        lines = path.read_text(encoding="utf-8").split("\n")
        for _ in range(12):
            row = rng.randrange(len(lines))
            line = lines[row]
            at = rng.randrange(len(line) + 1)
            typed = line[:at] + rng.choice(CHARACTERS) + line[at:]
            source = "\n".join([*lines[:row], typed, *lines[row + 1 :]])
            expected, found = _cpython(source), _drain(source)
            assert (found is None) == (expected is None), (path, row, typed, expected, found)
            if expected is not None and "non-printable" in expected[0]:
                errors += 1
                assert found == expected, (path, row, typed)
    assert errors > 50
