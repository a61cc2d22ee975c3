"""Run every static check on one source file: the single entry point for CLI and server."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath

from tree_sitter import Tree

from drain_ls.analysis.docstrings import find_missing_docstrings
from drain_ls.analysis.imports import find_unused_imports
from drain_ls.analysis.model import ALL_CODES, Finding
from drain_ls.analysis.noqa import NoqaMap
from drain_ls.analysis.source import LineIndex, parse
from drain_ls.analysis.syntax import syntax_error

DOCSTRING_STYLES = ("google", "numpy", "sphinx")


@dataclass(frozen=True, slots=True)
class CheckSettings:
    """What to check and how to fix."""

    select: frozenset[str] = field(default_factory=lambda: frozenset(ALL_CODES))
    docstring_style: str = "google"


def check_source(
    source: bytes,
    path: str,
    settings: CheckSettings | None = None,
    tree: Tree | None = None,
) -> list[Finding]:
    """All findings for ``source`` (the contents of ``path``), sorted by position.

    A syntax error yields a single ``E999`` finding and nothing else, as ruff does.
    """
    settings = settings or CheckSettings()
    if PurePath(path).suffix == ".pyi":
        return []
    if tree is None:
        tree = parse(source)
    if tree.root_node.has_error:
        error = syntax_error(source, path, tree)
        if error is not None:
            return [error] if "E999" in settings.select else []
    findings: list[Finding] = []
    if "F401" in settings.select:
        findings.extend(find_unused_imports(tree, source, path))
    if any(code.startswith("D1") for code in settings.select):
        findings.extend(
            f
            for f in find_missing_docstrings(tree, source, path, style=settings.docstring_style)
            if f.code in settings.select
        )
    if findings:
        noqa = NoqaMap(source, LineIndex(source))
        findings = [f for f in findings if not noqa.silences(f)]
    findings.sort(key=lambda f: (f.start, f.code))
    return findings
