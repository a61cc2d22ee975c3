"""Syntax errors decided without the running interpreter (issue 18, items 2 and 3).

Construct by construct, under the Python running the tests: valid 3.12-3.14 code gets no E999
at ``py314`` and keeps its findings; at an older target it gets the version error and still
keeps them; legacy syntax and indentation errors are E999 whatever the selection; lone-CR
line ends are no error. The command line, the settings and the editor's incremental checker
all agree.
"""

from __future__ import annotations

import builtins
import json
import random
import subprocess
import sys
import typing
from pathlib import Path
from unittest.mock import patch

import pytest

from drain_ls.analysis import forest
from drain_ls.analysis import syntax as syntax_module
from drain_ls.analysis.checker import CheckSettings, check_source
from drain_ls.analysis.incremental import IncrementalChecker
from drain_ls.analysis.versions import DEFAULT_TARGET, TARGET_NAMES, PythonVersion
from drain_ls.config import Settings, build_settings, requires_python_layer
from drain_ls.lsp.documents import Document
from tests.syntax_corpus import INDENTATION, LEGACY, VALID
from tests.timing import best_seconds

HEAD = '"""Module."""\nimport os\n'
TAIL = "\n\ndef public():\n    return 1\n"
NEWER = [case for case in VALID if case[1] >= 12]


def codes(findings: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(f.code for f in findings)


def module(snippet: str) -> bytes:
    return (HEAD + snippet + TAIL).encode()


def _expected_without_syntax(source: bytes) -> set[tuple[str, int]]:
    """F401 for ``os`` and D103 for ``public``: the findings every test module has."""
    return {("F401", source.index(b"os")), ("D103", source.index(b"public"))}


@pytest.mark.parametrize(("name", "minor", "snippet"), NEWER, ids=[v[0] for v in NEWER])
def test_newer_syntax_is_no_error_at_the_newest_target(name: str, minor: int, snippet: str) -> None:
    source = module(snippet)
    found = check_source(source, "/m.py")
    assert "E999" not in codes(found), [f.message for f in found]
    assert _expected_without_syntax(source) <= {(f.code, f.start) for f in found}


@pytest.mark.parametrize(("name", "minor", "snippet"), NEWER, ids=[v[0] for v in NEWER])
def test_newer_syntax_is_a_version_error_below_it_that_hides_nothing(
    name: str, minor: int, snippet: str
) -> None:
    source = module(snippet)
    target = PythonVersion(minor - 1)
    found = check_source(source, "/m.py", CheckSettings(target_version=target))
    errors = [f for f in found if f.code == "E999"]
    assert errors, name
    assert all(f"on Python {target} (syntax was added in Python 3." in f.message for f in errors)
    assert _expected_without_syntax(source) <= {(f.code, f.start) for f in found}
    # A selection leaves syntax errors in.
    only = CheckSettings(select=frozenset({"F401"}), target_version=target)
    assert {f.code for f in check_source(source, "/m.py", only)} == {"F401", "E999"}


@pytest.mark.parametrize(("name", "minor", "snippet"), NEWER, ids=[v[0] for v in NEWER])
def test_the_verdict_does_not_ask_the_interpreter(name: str, minor: int, snippet: str) -> None:
    """An interpreter that rejects everything (as 3.11 rejects 3.12-3.14 syntax) changes
    nothing: ``compile()`` may only clear an error of the tree, never make one."""
    real = builtins.compile

    def rejecting(*args: object, **kwargs: object) -> object:
        raise SyntaxError("this interpreter is too old")

    source = module(snippet)
    with patch.object(builtins, "compile", rejecting):
        found = check_source(source, "/m.py")
    assert builtins.compile is real
    assert "E999" not in codes(found)


@pytest.mark.parametrize(("name", "snippet", "word"), LEGACY, ids=[v[0] for v in LEGACY])
def test_legacy_syntax_is_a_single_e999_whatever_the_selection(
    name: str, snippet: str, word: str
) -> None:
    source = module(snippet)
    only = CheckSettings(select=frozenset({"F401"}))
    found = check_source(source, "/m.py", only)
    assert [f.code for f in found] == ["E999"]
    assert word in found[0].message
    # The editor keeps the findings (tree-sitter's tree is sound there) with the E999.
    tolerant = check_source(source, "/m.py", CheckSettings(), tolerant=True)
    assert "E999" in codes(tolerant) and "F401" in codes(tolerant)


ERRORS = [case for case in INDENTATION if case[2] is not None]


@pytest.mark.parametrize(("name", "snippet", "kind"), ERRORS, ids=[v[0] for v in ERRORS])
def test_indentation_errors_are_e999_whatever_the_selection(
    name: str, snippet: str, kind: str
) -> None:
    source = ('"""Module."""\nimport os\n' + snippet).encode()
    found = check_source(source, "/m.py", CheckSettings(select=frozenset({"D103"})))
    assert [f.code for f in found] == ["E999"]
    assert found[0].message.startswith(f"{kind}: ")


def test_lone_cr_line_ends_are_no_error_in_the_command_line_and_the_editor() -> None:
    source = b'"""Module."""\rimport os\rimport sys\rx = 1\rif x:\r    print(sys)\r'
    found = check_source(source, "/m.py")
    assert [(f.code, f.data.get("name")) for f in found] == [("F401", "os")]
    doc = Document("file:///m.py", source, 1)
    checker = IncrementalChecker("/m.py", CheckSettings(), fix_factories=False)
    assert [f.code for f in checker.check(doc.source, doc.tree, doc.changes)] == ["F401"]
    doc.changes.reset()
    at = doc.source.index(b"\rx = 1")
    doc.replace(at + 1, at + 1, "\n")  # a CRLF now
    doc.replace(at + 1, at + 2, "")  # a lone CR again
    assert not doc.tree.root_node.has_error
    assert [f.code for f in checker.check(doc.source, doc.tree, doc.changes)] == ["F401"]


def test_a_grammar_gap_is_cleared_by_compiling_its_statement() -> None:
    """tree-sitter-python#256: a continuation line in brackets dedented below its block."""
    source = b'"""Module."""\nimport os\nif True:\n  print(os.sep +\n1)\n'
    assert codes(check_source(source, "/m.py")) == []
    broken = b'"""Module."""\nimport os\nif True:\n  print(os.sep +\n1\n'
    found = check_source(broken, "/m.py")
    assert codes(found) == ["E999"]
    assert found[0].start == broken.index(b"(")  # CPython's position and words
    assert "never closed" in found[0].message


def test_a_grammar_gap_in_a_method_before_another_statement_is_cleared() -> None:
    """tree-sitter-python#256 in a method's parameters: tree-sitter ends the class at the
    line at column 0 and reads the rest as module-level statements; the class alone was
    compiled, "'[' was never closed" (found by fuzzing edits of real files)."""
    head = b'"""Module."""\n\n\nclass A:\n    """A."""\n\n    def f(\n        self, a: C[\ni\n'
    tail = b"        ],\n    ):\n        pass\n\n\nclass B:\n    pass\n"
    compile(head + tail, "<m>", "exec", dont_inherit=True)
    assert "E999" not in codes(check_source(head + tail, "/m.py"))
    broken = head + tail.replace(b"],", b",")  # the bracket is never closed: still an error
    found = check_source(broken, "/m.py")
    assert codes(found) == ["E999"]
    assert found[0].start == broken.index(b"[\n")


# The same, with a decorated statement next: tree-sitter cut ``@final`` into an ERROR and a
# name, and the statements compiled together ended on the decorator's line (found by fuzzing
# edits of the ``returns`` package, where a lone CR typed in a CRLF file made the line).
DECORATED_NEXT = [
    b"class A:\n    def f(\n        x: C[\ni\n        ],\n    ) -> K:\n        pass\n@final\n",
    b'class A(\n):\n    def f(\n        x: C[\ri\n        ],\n    ) -> K[a, b]:\n        """D."""\n@f\n',
    b"class A:\n    def f(\n        x: C[\ni\n        ],\n    ) -> K:\n        pass\n@a\n@b(1)\n",
]


@pytest.mark.parametrize("head", DECORATED_NEXT)
@pytest.mark.parametrize("chunk_lines", [forest.CHUNK_LINES, 1])
def test_a_grammar_gap_before_a_decorated_statement_is_cleared(
    head: bytes, chunk_lines: int
) -> None:
    source = b'"""Module."""\n' + head + b"class B:\n    pass\n"
    compile(source, "<m>", "exec", dont_inherit=True)
    assert "E999" not in codes(check_source(source, "/m.py"))
    with patch.object(forest, "CHUNK_LINES", chunk_lines):  # the editor, typing the bracket
        at = source.index(b"[") + 1
        doc = Document("file:///m.py", source[: at - 1] + source[at:], 1)
        checker = IncrementalChecker("/m.py", CheckSettings(), fix_factories=False)
        checker.check(doc.source, doc.tree, doc.changes)
        doc.changes.reset()
        doc.replace(at - 1, at - 1, "[")
        assert "E999" not in codes(checker.check(doc.source, doc.tree, doc.changes))
    broken = source.replace(b"],", b",")  # never closed: still CPython's error
    found = check_source(broken, "/m.py")
    assert [(f.code, f.start) for f in found if f.code == "E999"] == [("E999", at - 1)]


@pytest.mark.parametrize(
    "line", [b"; # c\n", b";#\n", b";  # c\r\n", b";\t# ; c\n", b" \n;  # c\n"]
)
def test_a_line_that_starts_with_a_semicolon_then_a_comment_is_an_error(line: bytes) -> None:
    # tree-sitter reads an empty statement that ends with the line before (a MISSING node
    # there) and leaves the ``;`` out of it: compiled alone, that statement cleared the error.
    source = b'"""Module."""\nx = 1\n' + line
    found = check_source(source, "/m.py")
    assert [(f.code, f.message, f.start) for f in found] == [
        ("E999", "SyntaxError: invalid syntax", source.index(b";"))
    ]
    assert codes(check_source(b'"""Module."""\nx = 1; # c\ny = 2 ;\n', "/m.py")) == []


# -- the editor: incremental checks equal fresh ones ------------------------------------------

EDIT_SNIPPETS = [
    "print x\n",
    "    ",
    "\t",
    "\n",
    "x",
    "type X = int\n",
    "match x:\n    case 1:\n        pass\n",
    "def f[T = int](): ...\n",
    'f"{x["k"]}"\n',
    "try:\n    pass\n",
    "except A, B:\n    pass\n",
    "(",
    ")",
    "'''",
    "if x:\n",
    "    pass\n",
    "0777\n",
    "",
    # What the differential fuzz found (backslashes in indentation, a continuation at the end,
    # keywords as names, defaults out of order, a form feed).
    "\\\n",
    "  \\\n",
    " async",
    "await",
    "def g(a=1, b):\n    pass\n",
    "\f",
    # Arguments and parameters out of order or repeated.
    "f(a=1, ",
    "b)\n",
    "a=2",
    "lambda a, a: 0\n",
    " for y in z, 1",
    "del 1\n",
    " as f()",
    "; # c",
    # Starred items where none may be.
    "*",
    " = *a\n",
    "(*a)",
    "**k",
]
BASE = (
    '"""Module."""\nimport os\nimport sys\n\n\ndef f(x):\n    if x:\n        return os.sep\n'
    "    return 1\n\n\nclass C:\n    def m(self):\n        try:\n            pass\n"
    "        except E:\n            pass\n        return sys\n\n\nx = 1\n"
)


@pytest.mark.parametrize("chunk_lines", [forest.CHUNK_LINES, 1, 3])
@pytest.mark.parametrize("target", [DEFAULT_TARGET, PythonVersion.PY39])
def test_incremental_syntax_equals_fresh(chunk_lines: int, target: PythonVersion) -> None:
    settings = CheckSettings(target_version=target)
    rng = random.Random(f"{chunk_lines}-{target}")
    with patch.object(forest, "CHUNK_LINES", chunk_lines):
        for _ in range(12):
            doc = Document("file:///m.py", BASE.encode(), 1)
            checker = IncrementalChecker("/m.py", settings, fix_factories=False)
            checker.check(doc.source, doc.tree, doc.changes)
            doc.changes.reset()
            for _ in range(25):
                start = rng.randrange(len(doc.source) + 1)
                end = min(len(doc.source), start + rng.choice([0, 0, 1, 4, 30]))
                doc.replace(start, end, rng.choice(EDIT_SNIPPETS))
                if rng.random() < 0.3:
                    continue  # changes pile up
                if doc.tree.root_node.has_error and rng.random() < 0.5:
                    checker.provisional(doc.source, doc.tree, doc.changes)  # changes kept
                    continue
                found = checker.check(doc.source, doc.tree, doc.changes)
                doc.changes.reset()
                fresh = check_source(doc.source, "/m.py", settings, doc.tree, tolerant=True)
                shape = [(f.code, f.start, f.end, f.message) for f in found]
                assert shape == [(f.code, f.start, f.end, f.message) for f in fresh], doc.source


def test_an_edit_reads_only_the_statements_it_touched() -> None:
    body = "".join(
        f"def f{i}(x):\n    if x:\n        return {i}\n    return x\n\n\n" for i in range(300)
    )
    doc = Document("file:///m.py", body.encode(), 1)
    checker = IncrementalChecker("/m.py", CheckSettings(target_version=PythonVersion.PY39))
    checker.check(doc.source, doc.tree, doc.changes)
    doc.changes.reset()
    spans: list[tuple[int | None, int | None]] = []
    real = syntax_module.legacy_errors

    def spy(root, source, target, begin=None, end=None, original=None):  # type: ignore[no-untyped-def]
        spans.append((begin, end))
        return real(root, source, target, begin, end, original)

    at = doc.source.index(b"return 150")
    doc.replace(at, at, "print x; ")
    with patch.object(syntax_module, "legacy_errors", spy):
        found = checker.check(doc.source, doc.tree, doc.changes)
    assert "Missing parentheses" in next(f.message for f in found if f.code == "E999")
    ((begin, end),) = spans
    assert begin is not None and end is not None and end - begin < 300


# A statement with a tree error that CPython rejects, and in it an error of the legacy checks
# (which read the tree as if it were right): CPython's verdict of the statement is its error.
# The legacy checks' reading of a broken statement depended on how much of it they read (the
# editor reads the statements an edit touched): the editor said "positional argument follows
# keyword argument" at ``b`` for the last case, the command line CPython's error.
IN_REJECTED_STATEMENTS = [
    "def m():\n    x = *a\n    x = = 1\n",
    "def m():\n    x, y: int = 1\n    r = ]\n",
    "def m():\n    f(x for x in y, z)\n    r = ]\n",
    "def m():\n    f(**k, *a)\n    z = [1, 2)\n",
    "if c:\n    nonlocal q\nelse:\n    z = [1, 2)\n",
    "with q:\n    w = f(1,, 2)\n    del f()\n",
    'f(\n    a=1,\nb += [    )\ng(\n)\nx\n    y = ""\n',
]


def _cpython_error(source: str) -> tuple[str, int]:
    try:
        compile(source, "<m>", "exec", dont_inherit=True)
    except SyntaxError as error:
        assert error.lineno is not None
        return error.msg, error.lineno
    raise AssertionError("compiles")


@pytest.mark.parametrize("source", IN_REJECTED_STATEMENTS)
def test_cpythons_error_of_a_broken_statement_is_its_error(source: str) -> None:
    (found,) = [
        f for f in check_source(source.encode(), "/m.py", CheckSettings()) if f.code == "E999"
    ]
    line = source.encode().count(b"\n", 0, found.start) + 1
    assert (found.message.split(": ", 1)[1], line) == _cpython_error(source)


@pytest.mark.parametrize("chunk_lines", [forest.CHUNK_LINES, 1])
def test_a_broken_statement_has_the_same_error_whatever_an_edit_touched(chunk_lines: int) -> None:
    source = IN_REJECTED_STATEMENTS[-1].encode()
    fresh = check_source(source, "/m.py", CheckSettings(), tolerant=True)
    with patch.object(forest, "CHUNK_LINES", chunk_lines):
        for at in range(len(source)):
            # The document without one byte, then that byte typed back.
            doc = Document("file:///m.py", source[:at] + source[at + 1 :], 1)
            checker = IncrementalChecker("/m.py", CheckSettings(), fix_factories=False)
            checker.check(doc.source, doc.tree, doc.changes)
            doc.changes.reset()
            doc.replace(at, at, source[at : at + 1])
            found = checker.check(doc.source, doc.tree, doc.changes)
            assert [(f.code, f.start, f.message) for f in found] == [
                (f.code, f.start, f.message) for f in fresh
            ], at


# -- settings ------------------------------------------------------------------------------


def test_the_settings_name_every_target() -> None:
    hint = typing.get_type_hints(Settings)["target_version"]
    assert typing.get_args(hint) == ("", *TARGET_NAMES)
    assert Settings().target == DEFAULT_TARGET


def test_the_editor_reads_the_target_as_the_command_line_does() -> None:
    layer = requires_python_layer({}, ">=3.10")
    assert layer == {"targetVersion": "py310"}
    assert requires_python_layer({"targetVersion": "py38"}, ">=3.10") == {"targetVersion": "py38"}
    settings, problems = build_settings(layer)
    assert not problems and settings.target == PythonVersion.PY310
    _, problems = build_settings({"targetVersion": "py2"})
    assert problems and "targetVersion" in problems[0]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drain_ls", "check", "--no-cache", "--format", "json", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def _rows(result: subprocess.CompletedProcess[str]) -> list[tuple[str, int, str]]:
    rows = json.loads(result.stdout)
    return sorted((r["code"], r["location"]["row"], r["message"]) for r in rows)


def test_the_command_line_target_version(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        '"""Module."""\nimport os\n\ntype X = int\n\n\ndef f[T = int](): ...\n'
    )
    newest = _rows(_run("m.py", cwd=tmp_path))
    assert [code for code, _, _ in newest] == ["D103", "F401"]
    old = _rows(_run("--target-version", "py311", "m.py", cwd=tmp_path))
    assert [(code, row) for code, row, _ in old] == [
        ("D103", 7),
        ("E999", 4),
        ("E999", 7),
        ("E999", 7),
        ("F401", 2),
    ]
    (tmp_path / "pyproject.toml").write_text('[project]\nrequires-python = ">=3.12"\n')
    inferred = _rows(_run("m.py", cwd=tmp_path))
    assert [m for c, _, m in inferred if c == "E999"] == [
        "SyntaxError: Cannot set default type for a type parameter on Python 3.12 "
        "(syntax was added in Python 3.13)"
    ]
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nrequires-python = ">=3.12"\n[tool.drain-ls]\ntarget-version = "py313"\n'
    )
    assert _rows(_run("m.py", cwd=tmp_path)) == newest
    (tmp_path / "pyproject.toml").write_text('[tool.drain-ls]\ntarget-version = "py2"\n')
    bad = _run("m.py", cwd=tmp_path)
    assert bad.returncode == 2 and "target-version" in bad.stderr


def test_the_command_line_reports_indentation_and_legacy_errors(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("import os\nif x:\n        a = 1\n    b = 2\n")
    (tmp_path / "b.py").write_text('import os\nprint "x"\n')
    (tmp_path / "c.py").write_bytes(b"import os\rimport sys\rprint(sys)\r")
    rows = _rows(_run("--select", "F401", "a.py", "b.py", "c.py", cwd=tmp_path))
    assert [(code, row) for code, row, _ in rows] == [("E999", 2), ("E999", 4), ("F401", 1)]
    messages = [m for _, _, m in rows]
    assert "IndentationError: unindent does not match any outer indentation level" in messages


def test_closing_a_bracket_after_a_pause_checks_the_indentation_of_its_statements_alone() -> None:
    """A ``(`` typed, the user pausing (the broken version analysed in full), then the ``)``:
    the clean version's indentation is checked from the last clean one, for the statements
    the edits touched, not over the whole file (2-5 ms a keystroke on long files)."""
    body = "".join(
        f"def f{i}(x):\n    if x:\n        return {i}\n    return x\n\n\n" for i in range(300)
    )
    doc = Document("file:///m.py", body.encode(), 1)
    checker = IncrementalChecker("/m.py", CheckSettings(target_version=PythonVersion.PY39))
    checker.check(doc.source, doc.tree, doc.changes)
    doc.changes.reset()
    at = doc.source.index(b"return 150") + len(b"return ")
    doc.replace(at, at, "(")
    assert doc.tree.root_node.has_error
    checker.check(doc.source, doc.tree, doc.changes)  # the pause: committed, broken
    doc.changes.reset()
    doc.replace(at + 1, at + 1, "x + ")
    checker.check(doc.source, doc.tree, doc.changes)  # another pause, still broken
    doc.changes.reset()
    calls: list[tuple[int, int | None]] = []
    real = syntax_module.indentation_event

    def spy(source, start=0, end=None):  # type: ignore[no-untyped-def]
        calls.append((start, end))
        return real(source, start, end)

    close = at + len(b"(x + 150")
    doc.replace(close, close, ")")
    assert doc.source[at - 7 : close + 1] == b"return (x + 150)"
    assert not doc.tree.root_node.has_error
    with patch.object(syntax_module, "indentation_event", spy):
        found = checker.check(doc.source, doc.tree, doc.changes)
    assert [f for f in found if f.code == "E999"] == []
    ((start, end),) = calls
    assert end is not None and end - start < 300
    fresh = check_source(doc.source, "/m.py", checker.settings, doc.tree, tolerant=True)
    assert [(f.code, f.start) for f in found] == [(f.code, f.start) for f in fresh]


def test_one_long_run_of_errors_costs_about_its_parse() -> None:
    """1,000 names joined by backslashes (``x\\`` lines): a module-level run of 2,000 nodes,
    half of them ERROR nodes. Each error's run was looked for among its siblings, in time
    cubic in their number (31 s); now the runs are found in one pass (best of 3, against the
    parse of the same text in the same run)."""
    from drain_ls.analysis.source import parse

    source = b"x\\\n" * 1000
    assert [f.code for f in check_source(source, "m.py")] == ["E999"]
    assert best_seconds(lambda: check_source(source, "m.py")) < 8 * best_seconds(
        lambda: parse(source)
    )


@pytest.mark.parametrize("line", [b"x\\\n", b"x = 1 \\\n", b"f(x\n", b"x = (\n"])
def test_many_nested_errors_cost_about_their_parse(line: bytes) -> None:
    """``x = 1 \\`` lines nest each error in the one before (a tree 300 deep at 300 lines):
    climbing from each error with tree-sitter's ``Node.parent`` (itself a walk down from the
    root), and reading each nested ERROR node's text, cost time cubic in the depth (1,000
    lines: 57 s). The parents are kept from the walk that finds the errors."""
    from drain_ls.analysis.source import parse

    source = line * 300
    assert "E999" in [f.code for f in check_source(source, "m.py")]
    assert (
        best_seconds(lambda: check_source(source, "m.py"))
        < 8 * best_seconds(lambda: parse(source)) + 0.01
    )


def test_a_run_too_large_to_compile_is_not_cleared_by_compiling_one_of_its_nodes() -> None:
    """Past ``MAX_COMPILED_REGION``, a smaller statement around an error is compiled instead:
    never the module-level node alone when the run it is in is what is broken (``x`` compiles
    by itself; ``x\\`` lines joined do not)."""
    source = b"x\\\n" * 200
    from drain_ls.analysis import compiling

    with patch.object(compiling, "MAX_COMPILED_REGION", 100):
        assert [f.code for f in check_source(source, "m.py")] == ["E999"]
        valid = b"def f(x):\n    return [\n" + b"        x,\n" * 30 + b"    ]\n"
        assert [f.code for f in check_source(valid, "m.py")] == ["D100", "D103"]


@pytest.mark.parametrize("methods", [1, 700])
def test_a_stray_token_in_an_indentation_is_an_error_in_a_large_class(methods: int) -> None:
    """``      O  win.vline(...)``, a letter typed into a method line's indentation: CPython's
    "unindent does not match any outer indentation level", in a small class as in one over
    MAX_COMPILED_REGION bytes, whose statement around tree-sitter's error is compiled in a
    block of its own, where it is valid (the indentation check was silenced there; found by
    fuzzing edits of real files)."""
    from drain_ls.analysis import compiling

    body = "".join(f"    def m{i}(self):\n        x = {i}\n" for i in range(methods))
    source = (
        "class A:\n" + body + "    def t(self):\n        win.move(1, 2)\n"
        "      O  win.vline('a', 3)\n        win.vline(1)\n"
    ).encode()
    assert (len(source) > compiling.MAX_COMPILED_REGION) == (methods > 1)
    with pytest.raises(IndentationError):
        compile(source, "<m>", "exec", dont_inherit=True)
    found = check_source(source, "/m.py")
    assert [(f.code, f.message, f.start) for f in found] == [
        (
            "E999",
            "IndentationError: unindent does not match any outer indentation level",
            source.index(b"      O"),  # (where it reports it in any file)
        )
    ]


# A string or bracket opened above a statement with an error of the legacy checks, then closed:
# in a document cut into chunks, tree-sitter reads the statement as code all along, while a
# scan of the tokens read it as the rest of the string. The editor rescanned only what the
# edits touched, kept what the scan had (not) found there, and lost the error once the string
# was closed (found by fuzzing edits of smtpd.py: a missed "arguments cannot follow
# var-keyword argument").
LATER_ERROR = (
    "x = 1\n\n\nclass D:\n    def flush(**k, self): pass\n\n\n"
    'y = 2\n\n\ndef g():\n    """Doc."""\n    return 1\n'
)


@pytest.mark.parametrize("chunk_lines", [forest.CHUNK_LINES, 3, 1])
@pytest.mark.parametrize("typed", ['""""""', '"""\n"""', "''''''", "(\n)", "[\n1]"])
def test_an_opener_closed_above_an_error_leaves_it_found(chunk_lines: int, typed: str) -> None:
    with patch.object(forest, "CHUNK_LINES", chunk_lines):
        doc = Document("file:///m.py", LATER_ERROR.encode(), 1)
        checker = IncrementalChecker("/m.py", CheckSettings(), fix_factories=False)
        checker.check(doc.source, doc.tree, doc.changes)
        doc.changes.reset()
        at = len(b"x = 1\n")
        for character in typed:  # a check after each keystroke
            doc.replace(at, at, character)
            at += 1
            found = checker.check(doc.source, doc.tree, doc.changes)
            doc.changes.reset()
            fresh = check_source(doc.source, "/m.py", CheckSettings(), doc.tree, tolerant=True)
            assert [(f.code, f.start, f.message) for f in found] == [
                (f.code, f.start, f.message) for f in fresh
            ], doc.source
    assert "var-keyword" in next(f.message for f in found if f.code == "E999")
