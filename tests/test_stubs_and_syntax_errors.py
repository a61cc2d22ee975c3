"""Stubs get F401 with ruff's semantics and no D1xx; a syntax error is reported whatever the
selection (issue 18, items 3 and 4)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from drain_ls.analysis.checker import CheckSettings, check_source
from drain_ls.analysis.incremental import IncrementalChecker
from drain_ls.lsp.documents import Document

STUB = b"""import os
import json as json
import collections.abc
from typing import List as L
from m import y as y
from m import z
from . import sibling
__all__ = ["z"]

class C:
    def m(self) -> int: ...

def f(x: int) -> None: ...
"""
# ruff 0.17.6 on STUB: F401 for os, collections.abc, L and sibling (research: stubs, 1.7).
STUB_UNUSED = [".sibling", "collections.abc", "os", "typing.List"]


def names(findings: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(str(f.message).split("`")[1] for f in findings if f.code == "F401")


def test_a_stub_gets_f401_with_re_exports_exempt_and_no_docstring_rules() -> None:
    findings = check_source(STUB, "/pkg/mod.pyi")
    assert {f.code for f in findings} == {"F401"}
    assert names(findings) == STUB_UNUSED
    # The same text as a module also gets its docstring rules.
    assert any(f.code.startswith("D1") for f in check_source(STUB, "/pkg/mod.py"))


def test_the_editor_checks_a_stub_as_the_command_line_does() -> None:
    doc = Document("file:///pkg/mod.pyi", STUB, 1)
    checker = IncrementalChecker("/pkg/mod.pyi", CheckSettings(), fix_factories=False)
    assert names(checker.check(doc.source, doc.tree, doc.changes)) == STUB_UNUSED


def test_the_command_line_walks_stubs_and_agrees_with_ruff(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.pyi").write_bytes(STUB)
    ours = subprocess.run(
        [sys.executable, "-m", "drain_ls", "check", "--format", "json", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    rows = json.loads(ours.stdout)
    assert sorted(r["code"] for r in rows) == ["F401"] * 4, rows
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "--select",
         "F401,D", "--output-format", "json", str(tmp_path)],
        capture_output=True,
        text=True,
    )  # fmt: skip
    theirs = json.loads(ruff.stdout)
    assert sorted(r["location"]["row"] for r in theirs) == sorted(
        r["location"]["row"] for r in rows
    )


def test_a_syntax_error_is_reported_whatever_the_selection(tmp_path: Path) -> None:
    broken = b"import os\n\ndef f(:\n    pass\n"
    only_f401 = CheckSettings(select=frozenset({"F401"}))
    assert [f.code for f in check_source(broken, "/m.py", only_f401)] == ["E999"]
    assert "E999" in [f.code for f in check_source(broken, "/m.py", only_f401, tolerant=True)]
    doc = Document("file:///m.py", broken, 1)
    checker = IncrementalChecker("/m.py", only_f401, fix_factories=False)
    assert "E999" in [f.code for f in checker.check(doc.source, doc.tree, doc.changes)]
    path = tmp_path / "m.py"
    path.write_bytes(broken)
    out = subprocess.run(
        [sys.executable, "-m", "drain_ls", "check", "--select", "F401", str(path)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1 and "E999" in out.stdout, out.stdout
