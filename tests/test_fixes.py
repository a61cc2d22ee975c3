"""Fixes: the output compiles, has no finding left that a fix could remove, and fixing twice
changes nothing the second time."""

from __future__ import annotations

import ast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drain_ls.analysis.checker import CheckSettings, check_source
from drain_ls.analysis.fixes import apply_edits, fix_source
from drain_ls.analysis.model import Edit

ALL = CheckSettings()
F401 = CheckSettings(select=frozenset({"F401"}))


def fixed(source: str, path: str = "m.py", settings: CheckSettings = ALL) -> str:
    return fix_source(source.encode(), path, settings).source.decode()


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("import os\nimport sys\nsys.exit()\n", "import sys\nsys.exit()\n"),
        ("import os, sys\nsys.exit()\n", "import sys\nsys.exit()\n"),
        ("import sys, os\nsys.exit()\n", "import sys\nsys.exit()\n"),
        ("from a import b, c, d\nc\n", "from a import c\nc\n"),
        (
            "from a import (\n    b,\n    c,  # keep me\n    d,\n)\nc\n",
            "from a import (\n    c,  # keep me\n)\nc\n",
        ),
        ("def f():\n    import os\n", "def f():\n    pass\n"),
        ("if x:\n    import os\nelse:\n    pass\n", "if x:\n    pass\nelse:\n    pass\n"),
        ("x = 1; import os\n", "x = 1\n"),
        ("import os; x = 1\n", "x = 1\n"),
        ("import os  # a comment\nx = 1\n", "x = 1\n"),
        ("import os\r\nimport sys\r\nsys\r\n", "import sys\r\nsys\r\n"),
        ("from a import b as c, d as d\n", "from a import d as d\n"),
        ("def f():\n    import os\n    import sys\n", "def f():\n    pass\n"),
    ],
)
def test_unused_import_fixes(before: str, after: str) -> None:
    assert fixed(before, settings=F401) == after


def test_a_block_of_only_unused_imports_keeps_a_pass() -> None:
    source = "def f():\n    import a\n    import b\n    import c\n\n\ndef g():\n    return 1\n"
    result = fixed(source, settings=F401)
    ast.parse(result)
    assert result.startswith("def f():\n    pass\n")


def test_docstring_fix_on_one_line_body() -> None:
    result = fixed('"""M."""\ndef f(x): return x\n')
    ast.parse(result)
    tree = ast.parse(result)
    function = tree.body[1]
    assert isinstance(function, ast.FunctionDef)
    assert ast.get_docstring(function) is not None
    assert "return x" in result


def test_docstring_fix_with_tabs_and_crlf() -> None:
    source = '"""M."""\r\nclass C:\r\n\tdef m(self, a):\r\n\t\treturn a\r\n'
    result = fixed(source)
    ast.parse(result)
    assert '\r\n\t\t"""TODO: Summarize `m`.' in result
    assert "\n" not in result.replace("\r\n", "")


def test_fix_keeps_a_syntax_error_file_untouched() -> None:
    source = "import os\ndef f(:\n"
    assert fixed(source) == source


def test_apply_edits_rejects_overlaps() -> None:
    with pytest.raises(ValueError, match="overlapping"):
        apply_edits(b"abcdef", [Edit(0, 3, ""), Edit(2, 4, "")])


# -- properties -------------------------------------------------------------------------------

NAMES = ["os", "sys", "json", "re", "a", "b"]
STATEMENTS = st.one_of(
    st.sampled_from(NAMES).map(lambda n: f"import {n}"),
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True).map(
        lambda ns: "from pkg import " + ", ".join(ns)
    ),
    st.lists(st.sampled_from(NAMES), min_size=2, max_size=4, unique=True).map(
        lambda ns: "from pkg import (\n    " + ",\n    ".join(ns) + ",\n)"
    ),
    st.sampled_from(NAMES).map(lambda n: f"print({n})"),
    st.sampled_from(NAMES).map(lambda n: f"x = {n}; import {n}"),
    st.just("x = 1"),
)


# Parameters whose annotation or default holds what could end a generated docstring (real
# ones: sentry-sdk's ``x: """Callable[...]"""``, a tokenizer's ``pattern=r"""..."""``).
HOSTILE_ARGS = [
    'a: """Callable[\n        [int], str\n    ]""" = None',
    'a=\'"""\'',
    'a=r"""(?i:\\s+)"""',
    'a: "Model"',
    "a: \"list['A']\" = 'x'",
    'a="\\\\"',
    "a='\"'",
    'a=b\'"""\\x00\'',
]


@st.composite
def modules(draw: st.DrawFn) -> str:
    lines: list[str] = []
    if draw(st.booleans()):
        lines.append('"""Module."""')
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            lines.append(draw(STATEMENTS))
        elif kind == 1:
            name = draw(st.sampled_from(["f", "g", "_h"]))
            args = draw(st.sampled_from(["", "a", "a, b=1", "self, *args, **kw", *HOSTILE_ARGS]))
            lines.append(f"def {name}({args}):")
            body = draw(st.lists(STATEMENTS, min_size=1, max_size=3))
            lines += ["    " + line.replace("\n", "\n    ") for line in body]
        elif kind == 2:
            lines.append("class C:")
            lines.append("    def m(self):")
            body = draw(st.lists(STATEMENTS, min_size=1, max_size=2))
            lines += ["        " + line.replace("\n", "\n        ") for line in body]
        else:
            lines.append("if x:")
            body = draw(st.lists(STATEMENTS, min_size=1, max_size=2))
            lines += ["    " + line.replace("\n", "\n    ") for line in body]
    return "\n".join(lines) + "\n"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules(), st.sampled_from(["google", "numpy", "sphinx"]))
def test_fix_compiles_is_complete_and_idempotent(source: str, style: str) -> None:
    ast.parse(source)
    settings_ = CheckSettings(docstring_style=style)
    once = fix_source(source.encode(), "m.py", settings_)
    ast.parse(once.source)  # still compiles
    left = check_source(once.source, "m.py", settings_)
    assert [f for f in left if f.code == "F401" and f.resolved_fix() is not None] == []
    assert [f for f in left if f.code.startswith("D1")] == []
    twice = fix_source(once.source, "m.py", settings_)
    assert twice.source == once.source


@pytest.mark.parametrize("inside", ["\x0c", "\x0b", "\x1c", "\x85", "\u2028", "\u2029"])
def test_a_generated_docstring_with_an_odd_line_break_still_parses(inside: str) -> None:
    """A drain's answer may hold a character ``str.splitlines`` breaks at; re-indenting it
    there split the literal in two (an unterminated string: found by drain-ls run --apply)."""
    import ast

    from drain_ls.analysis.skeletons import definition_docstring_fix
    from drain_ls.analysis.source import parse

    source = b"def add(a, b):\n    return a + b\n"
    function = parse(source).root_node.children[0]
    literal = f'"""Add{inside}them.\n\n    Returns:\n        The sum.\n    """'
    fix = definition_docstring_fix(function, source, literal=literal)
    assert fix is not None
    (edit,) = fix.edits
    fixed = source[: edit.start] + edit.text.encode() + source[edit.end :]
    tree = ast.parse(fixed.decode())
    assert ast.get_docstring(tree.body[0], clean=False).startswith(f"Add{inside}them.")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.text(st.sampled_from(['"', "'", "\\", "a", " ", "r", "{"]), max_size=8),
        min_size=1,
        max_size=3,
    )
)
def test_a_skeleton_literal_reads_back_as_its_text(lines: list[str]) -> None:
    """Whatever quotes and backslashes the lines hold, the literal is one string whose value
    is the lines (joined as a docstring's are)."""
    from drain_ls.analysis.skeletons import quote

    literal = quote(lines, "", "\n")
    expected = lines[0] if len(lines) == 1 else "\n".join(lines) + "\n"
    assert ast.literal_eval(literal) == expected
    assert ast.parse(literal).body[0].value.value == expected  # type: ignore[attr-defined]


def test_one_fix_that_breaks_the_file_does_not_hold_back_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """sentry-sdk's rust_tracing.py: one docstring that the file could not take made
    ``--fix`` apply none of its 17 fixes; the others are now applied, that one left."""
    from drain_ls.analysis import fixes
    from drain_ls.analysis.model import Fix

    real = fixes.compatible_fixes
    source = b"import os\nimport sys\n\n\ndef f():\n    return 1\n"

    def with_a_bad_one(findings, unsafe=False):  # type: ignore[no-untyped-def]
        chosen = real(findings, unsafe)
        bad = Fix("Break it", (Edit(len(source) - 1, len(source) - 1, " + ("),))
        return [bad, *chosen] if chosen else []

    monkeypatch.setattr(fixes, "compatible_fixes", with_a_bad_one)
    result = fix_source(source, "m.py", CheckSettings(select=frozenset({"F401", "D103"})))
    assert b"import" not in result.source  # both unused imports removed
    assert b'"""' in result.source  # and f's docstring inserted
    ast.parse(result.source)


# The smallest part of Lib/test/test_compile.py that tree-sitter-python 0.25 wraps whole in
# an ERROR node (a continuation line dedented below its block) while CPython compiles it.
WRAPPED = (
    "class TestSpecifics(unittest.TestCase):\n"
    "        try:\n"
    "            exec('z = b', g, m)\n"
    "        except NameError:\n"
    "            (bar.\n"
    "        baz)\n"
    "            (bar.\n"
    "        baz(\n"
    "        ))\n"
    "        for source in [\n"
    "        ]:\n"
    "                self.assertNotEqual(code.co_consts[0], code.co_consts[1])\n"
    '        snippet = """\n'
    '            """\n'
)


def test_a_module_wrapped_in_an_error_keeps_its_docstring_and_gets_one_fix() -> None:
    """``--fix`` inserted a module docstring at every pass into test_compile.py (found by
    ``--fix`` over the standard library): the docstring was inside the ERROR node."""
    from drain_ls.analysis.source import parse

    root = parse(WRAPPED.encode()).root_node
    assert root.children[0].type == "ERROR" and root.children[0].start_byte == 0
    ast.parse(WRAPPED)
    codes = [f.code for f in check_source(WRAPPED.encode(), "m.py")]
    assert codes.count("D100") == 1
    fixed = fix_source(WRAPPED.encode(), "m.py").source
    assert fixed.count(b'"""TODO') == 1
    assert "D100" not in [f.code for f in check_source(fixed, "m.py")]


def test_a_fix_that_does_not_fix_is_applied_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pass whose findings come back the same stops the passes (before: the same docstring
    inserted pass after pass)."""
    from drain_ls.analysis import docstrings

    monkeypatch.setattr(docstrings, "has_docstring", lambda container: False)
    result = fix_source(b"import os\nos.sep\n", "m.py")
    assert result.source == b"import os\nos.sep\n"  # the pass that changed nothing is undone
