"""Invalid Python that tree-sitter-python parses without an ERROR node
(``drain_ls.analysis.legacy``): each row is an error, for CPython and ruff alike; valid code
(the corpus, the standard library) gets none."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

from drain_ls.analysis.grammar_gaps import normalize_lone_cr, tree_errors
from drain_ls.analysis.legacy import legacy_errors
from drain_ls.analysis.source import parse
from drain_ls.analysis.versions import PythonVersion, version_errors
from tests.ruff_support import HAS_RUFF, ruff_findings
from tests.syntax_corpus import LEGACY, VALID


def _legacy(source: str, target: PythonVersion = PythonVersion.PY314) -> list[tuple[int, int, str]]:
    data = normalize_lone_cr(source.encode())
    tree = parse(data)
    assert not tree.root_node.has_error, "tree-sitter sees this one: not a legacy case"
    return legacy_errors(tree.root_node, data, target)


@pytest.mark.parametrize(("name", "source", "word"), LEGACY, ids=[row[0] for row in LEGACY])
def test_each_legacy_construct_is_an_error(name: str, source: str, word: str) -> None:
    errors = _legacy(source)
    assert errors, name
    start, end, message = errors[0]
    assert word in message
    assert 0 <= start <= end <= len(source.encode())
    with pytest.raises(SyntaxError), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compile(source, name, "exec", dont_inherit=True)  # the running CPython agrees


@pytest.mark.parametrize(("name", "minor", "source"), VALID, ids=[v[0] for v in VALID])
def test_valid_code_has_none(name: str, minor: int, source: str) -> None:
    data = normalize_lone_cr(source.encode())
    tree = parse(data)
    assert legacy_errors(tree.root_node, data) == []


def test_positions() -> None:
    assert _legacy("x = 10L\n") == [(6, 7, "invalid decimal literal")]
    assert _legacy("x = ur'a'\n") == [(4, 6, "invalid syntax")]
    assert _legacy("def f():\n    print 'x'\n") == [
        (13, 22, "Missing parentheses in call to 'print'. Did you mean print(...)?")
    ]
    assert _legacy("f'{x!z}'\n") == [
        (5, 6, "f-string: invalid conversion character 'z': expected 's', 'r', or 'a'")
    ]


def test_positions_of_async_and_await_as_names_are_cpythons() -> None:
    # CPython 3.13's offsets, less one: at ``async``, past it where it starts a line's
    # statement (a keyword there, read as ``async def`` to come), past ``await`` (its operand).
    assert _legacy("d = {1: async}\n") == [(8, 13, "invalid syntax")]
    assert _legacy("if x: async = 1\n") == [(6, 11, "invalid syntax")]
    assert _legacy("async.x = 1\n") == [(5, 5, "invalid syntax")]
    assert _legacy("f(\n    async=True)\n") == [(7, 12, "invalid syntax")]
    assert _legacy("print(await )\n") == [(12, 12, "invalid syntax")]
    # The keywords themselves, and names and text that hold the words, are not.
    assert (
        _legacy(
            "async def f():\n    async with a: await b\n    async for x in y: pass\n"
            "    return [x async for x in y]\nasyncx = await_ = x.awaiting  # async\ns = 'await'\n"
        )
        == []
    )


def test_a_module_that_starts_with_a_form_feed_is_read_from_its_line_start() -> None:
    # tree-sitter's module node starts after the form feed: the rules that look at the
    # starts of lines missed the first statement.
    assert _legacy("\ftry:\n    x = 1\n") == [(15, 15, "expected 'except' or 'finally' block")]
    assert _legacy("\f print x\n")[0][2].startswith("Missing parentheses")


def test_del_debug_depends_on_the_target() -> None:
    source = "del __debug__\n"
    assert _legacy(source, PythonVersion.PY38) == []
    assert _legacy(source, PythonVersion.PY39) == [
        (4, 13, "cannot delete `__debug__` on Python 3.9 (syntax was removed in 3.9)")
    ]


def test_look_alikes_are_not_errors() -> None:
    source = (
        "print >>f, x\nprint(x)\nprint\nx = '`' + \"<>\"  # ur'' 0777 10L print x\n"
        "y = a != b\nz = f'{a!r}'\nw = (v := 1)\ndef g(a, b=(1, 2)): pass\n"
        "try:\n    pass\nexcept (A, B) as e:\n    raise E('a, b')\n"
        "class C:\n    def m(self):\n        nonlocal_ = 1\n"
        "def h():\n    x = 1\n    def i():\n        nonlocal x\n"
    )
    assert _legacy(source) == []


@pytest.mark.skipif(not HAS_RUFF, reason="ruff is a test dependency")
def test_ruff_reports_each_as_invalid_syntax(tmp_path: Path) -> None:
    for name, source, _ in LEGACY:
        (tmp_path / f"{name}.py").write_text(source)
    found = ruff_findings(tmp_path)
    flagged = {Path(r["filename"]).stem for r in found if r["code"] == "invalid-syntax"}
    assert flagged == {name for name, _, _ in LEGACY}


# -- The standard library: valid code, so nothing at all --------------------------------

LIB = next(
    (p for p in (Path(sys.base_prefix) / "lib").glob("python3.*") if (p / "os.py").exists()),
    None,
)
SHARDS = 2


def stdlib_files(with_tests: bool) -> list[Path]:
    """``Lib/**/*.py`` without the files meant to be invalid (Python 2 test data of lib2to3,
    ``badsyntax_*``, bad encodings); without the test suites unless ``with_tests``."""
    assert LIB is not None
    files = []
    for path in sorted(LIB.rglob("*.py")):
        parts = path.relative_to(LIB).parts
        if "site-packages" in parts or path.name.startswith(("bad", "py2_")):
            continue
        if "lib2to3" in parts and "data" in parts:
            continue
        if not with_tests and ("test" in parts or "tests" in parts or "idle_test" in parts):
            continue
        files.append(path)
    return files


@pytest.mark.skipif(LIB is None, reason="no standard library sources")
@pytest.mark.parametrize("shard", range(SHARDS))
def test_no_error_on_the_standard_library(shard: int) -> None:
    """No legacy error and no version error at the running version on ``Lib/`` (its test
    suites excepted, for time: ``test_indentation`` reads those too)."""
    running = PythonVersion(min(sys.version_info[1], 14))
    files = stdlib_files(with_tests=False)[shard::SHARDS]
    for path in files:
        data = normalize_lone_cr(path.read_bytes())
        root = parse(data).root_node
        assert legacy_errors(root, data, running) == [], path
        assert version_errors(root, data, running, tree_errors(root, data)) == [], path
    assert len(files) > 200
