"""``drain_ls._native.member_outline`` (the D101-D107 walk over a module's lines, in C)
against ``statement_findings`` (the same walk over the tree): the same findings, with the
same data and the same fixes, on the standard library with its test suites and on generated
modules full of what decides a finding (decorators that exempt or make private, ``__all__``,
dunders, nested and private classes, compound statements, inline bodies, and first
statements that are docstrings or only look like one)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drain_ls.analysis import docstrings
from drain_ls.analysis.checker import CheckSettings, check_source
from drain_ls.analysis.docstrings import (
    MEMBER_HOLDERS,
    member_context,
    member_findings,
    statement_findings,
)
from drain_ls.analysis.model import Finding
from drain_ls.analysis.native import NATIVE
from drain_ls.analysis.source import parse
from drain_ls.analysis.syntax import SyntaxTracker
from tests.test_legacy_syntax import LIB, stdlib_files

pytestmark = pytest.mark.skipif(NATIVE is None, reason="drain_ls._native was not built")


def _key(finding: Finding) -> tuple[object, ...]:
    return (finding.start, finding.end, finding.code, sorted(finding.data.items()))


def _tree_walk(source: bytes) -> tuple[list[Finding], list[Finding]]:
    """The findings of the tree's walk and of the C walk (lines=True) for ``source``."""
    root = parse(source).root_node
    context = member_context(root, source)
    walked = [
        f
        for statement in root.named_children
        if statement.type in MEMBER_HOLDERS
        for f in statement_findings(statement, source, context)
    ]
    return walked, member_findings(root, source, context)


def _outline_rows(source: bytes) -> list[tuple[int, int, int, str, bool, bool]] | None:
    assert NATIVE is not None
    root = parse(source).root_node
    context = member_context(root, source)
    return NATIVE.member_outline(source, context.exported, context.overloads, context.modules)


def _same(source: bytes, fixes: bool = False) -> int:
    walked, outlined = _tree_walk(source)
    assert sorted(map(_key, outlined)) == sorted(map(_key, walked)), source[:400]
    if fixes:
        by_start = {f.start: f for f in walked}
        for finding in outlined:
            assert finding.resolved_fix() == by_start[finding.start].resolved_fix()
    return len(walked)


@pytest.mark.skipif(LIB is None, reason="no standard library sources")
def test_same_findings_on_the_standard_library_and_its_tests() -> None:
    files = stdlib_files(with_tests=True)
    assert len(files) > 1000
    rng = random.Random(11)
    walked = outlined = 0
    for path in files:
        source = path.read_bytes()
        if parse(source).root_node.has_error:
            continue
        # The fixes of a few files: each is a skeleton docstring, built from the tree.
        count = _same(source, fixes=rng.random() < 0.02)
        walked += 1
        outlined += _outline_rows(source) is not None
        assert count >= 0
    # The C walk reads nearly every file (it gives up on names that are not ASCII).
    assert outlined >= walked - 10, (outlined, walked)


NAMES = ["f", "_f", "__init__", "__call__", "__new__", "__eq__", "__", "_", "Name", "match"]
DECORATORS = [
    "@overload",
    "@typing.overload",
    "@t.overload",
    "@override",
    "@ov",
    "@typing_extensions.override",
    "@f.setter",
    "@Name.deleter",
    "@_f.setter",
    "@property",
    "@ overload",
    "@functools.wraps(g)",
    "@x[0]",
    "@(lambda g: g)",
    "@typing .\\\n    overload",
    "@decorate(  # a comment\n    1)",
    "@décor",
    "@deco('β')",
]
IMPORTS = [
    "from typing import overload, override",
    "import typing",
    "import typing as t",
    "from typing_extensions import override as ov",
    "import typing_extensions",
    "__all__ = ['f', 'Name', '_f']",
    "__all__ = []",
]
FIRST = [
    '"""Docstring."""',
    "'doc'",
    'r"raw \\d"',
    'u"unicode"',
    'f"formatted"',
    't"template"',
    '"a" T"b"',
    'b"bytes"',
    'rb"raw bytes"',
    '("parenthesised")',
    '(("twice"))',
    '("a" "b")',
    '"a" "b"',
    '"a" \\\n    "b"',
    '"a" f"b"',
    '("a"  # a comment\n     "b")',
    '(  # a comment\n    "a")',
    '"\\N{BULLET}"',
    '"\\N{NOT A NAME}"',
    '"\\U0010ffff"',
    '"\\U00110000"',
    '"\\x41\\t"',
    '"a",',
    '("a"),',
    '"a", "b"',
    '"a"; x = 1',
    '"a" + x',
    '"a".strip()',
    '("a")("b")',
    '"a" if x else "b"',
    "pass",
    "x = 1",
    "...",
    "# a comment first\n{indent}'doc'",
    "return 'doc'",
]
COMPOUND = [
    "if x:",
    "else:",
    "try:",
    "except E:",
    "except* E:",
    "finally:",
    "with a as b, c:",
    "async with a:",
    "for x in y:",
    "async for x in y:",
    "while x:",
    "match x:\n{indent}case 1:",
]


@st.composite
def modules(draw: st.DrawFn) -> bytes:
    """A module of definitions, decorators and compound statements, indented with spaces or
    with tabs."""
    unit = draw(st.sampled_from(["    ", "  ", "\t"]))
    lines = [draw(st.sampled_from(IMPORTS)) for _ in range(draw(st.integers(0, 3)))]

    def block(depth: int) -> None:
        indent = unit * depth
        for _ in range(draw(st.integers(1, 3))):
            kind = draw(
                st.sampled_from(["def", "class", "compound", "simple"] if depth < 4 else ["simple"])
            )
            if kind == "simple":
                lines.append(indent + draw(st.sampled_from(["x = 1", "pass", "'string'"])))
                continue
            if kind == "compound":
                header = draw(st.sampled_from(COMPOUND)).replace("{indent}", indent + unit)
                lines.append(indent + header)
                block(depth + (2 if header.startswith("match") else 1))
                continue
            for _ in range(draw(st.integers(0, 2))):
                lines.append(indent + draw(st.sampled_from(DECORATORS)))
            name = draw(st.sampled_from(NAMES))
            signature = draw(st.sampled_from(["(self, a=lambda: 1)", "() -> lambda: 1", "()"]))
            head = (
                f"class {name}(Base):"
                if kind == "class"
                else f"{draw(st.sampled_from(['', 'async ']))}def {name}{signature}:"
            )
            first = draw(st.sampled_from(FIRST)).replace("{indent}", indent + unit)
            if draw(st.booleans()) and "\n" not in first:
                lines.append(f"{indent}{head} {first}")  # an inline body
                continue
            lines.append(indent + head)
            lines.append(indent + unit + first)
            if draw(st.booleans()):
                block(depth + 1)

    block(0)
    return ("\n".join(lines) + "\n").encode()


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules())
def test_same_findings_on_generated_modules(source: bytes) -> None:
    tree = parse(source)
    if tree.root_node.has_error or SyntaxTracker().check(source, tree).error is not None:
        return  # the C walk reads only modules that parse
    _same(source, fixes=True)


def test_a_name_that_is_not_ascii_is_left_to_the_tree() -> None:
    # Python reads names NFKC-normalised (a fullwidth letter is the letter): the tree's walk
    # does, the C walk does not try.
    source = "class \uff21:\n    def method(self):\n        pass\n\ndef f():\n    pass\n"
    data = source.encode()
    assert _outline_rows(data) is None
    walked, outlined = _tree_walk(data)
    assert [(f.code, f.data["qualname"]) for f in outlined] == [
        (f.code, f.data["qualname"]) for f in walked
    ]
    assert [f.data["qualname"] for f in walked] == ["A", "A.method", "f"]


def test_what_the_lines_cannot_tell_is_asked_of_the_tree() -> None:
    source = (
        b'def f():\n    ("a"  # a comment\n     "b")\n\n'  # a comment: no docstring
        b'def g():\n    "\\N{BULLET}"\n\n'  # a name that decodes: a docstring
        b'def h():\n    "\\N{NOT A NAME}"\n'  # one that does not: as the tree says
    )
    rows = _outline_rows(source)
    assert rows is not None
    assert [(row[3], row[5]) for row in rows] == [("f", True), ("g", True), ("h", True)]
    walked, outlined = _tree_walk(source)
    assert "f" in [f.data["qualname"] for f in outlined]
    assert "g" not in [f.data["qualname"] for f in outlined]
    assert sorted(map(_key, outlined)) == sorted(map(_key, walked))


def test_the_check_uses_the_lines_only_when_the_syntax_checks_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[bytes] = []
    real = NATIVE.member_outline if NATIVE is not None else None

    class Spy:
        def __getattr__(self, name: str) -> object:
            return getattr(NATIVE, name)

        def member_outline(self, source: bytes, *rest: object) -> object:
            calls.append(source)
            assert real is not None
            return real(source, *rest)

    monkeypatch.setattr(docstrings, "NATIVE", Spy())
    good = b"class A:\n    def f(self):\n        pass\n"
    assert [f.code for f in check_source(good, "m.py")] == ["D100", "D101", "D102"]
    assert calls == [good]
    # An indentation error tree-sitter reads past (tabs and spaces, inconsistently): the
    # editor's tolerant check keeps the findings outside it, from the tree's walk.
    broken = b"class A:\n        def f(self):\n\t    pass\n"
    findings = check_source(broken, "m.py", CheckSettings(), tolerant=True)
    assert "E999" in [f.code for f in findings]
    assert calls == [good]


@pytest.mark.parametrize(
    "source",
    [
        # A line a backslash joins to the next: tree-sitter reads the statement after it (and
        # a block's first line joined so) otherwise than Python.
        b"x = 1\n\\\ndef f(): pass\n",
        b"\\\nasync def f(): pass\n",
        b"class A:\n    \\\n    def f(self): pass\n",
        b"from typing import overload\n\\\n@overload\ndef f(): pass\n",
        b"class A:\n  \\\n  'doc'\n  def g(self): pass\n",
        # Spaces before a tab: the same column for Python (8), not for tree-sitter (15).
        b"class A:\n       \tdef f(self): pass\n        def g(self): pass\n",
    ],
)
def test_lines_tree_sitter_reads_otherwise_are_left_to_the_tree(source: bytes) -> None:
    assert _outline_rows(source) is None
    walked, outlined = _tree_walk(source)
    assert sorted(map(_key, outlined)) == sorted(map(_key, walked))


def test_the_rows_say_method_and_ask_as_booleans() -> None:
    source = b"class A:\n    def f(self):\n        ('a'  # c\n         'b')\n"
    rows = _outline_rows(source)
    assert rows == [(101, 6, 7, "A", False, False), (102, 17, 18, "A.f", True, True)]
    assert all(type(value) is bool for row in rows for value in row[4:])
    _, outlined = _tree_walk(source)
    assert [f.data["method"] for f in outlined] == [False, True]
    assert all(type(f.data["method"]) is bool for f in outlined)
