"""Run every static check on one source file: the single entry point for CLI and server."""

from __future__ import annotations

from dataclasses import replace

from drain_ls.analysis.check_settings import DOCSTRING_STYLES as DOCSTRING_STYLES
from drain_ls.analysis.check_settings import CheckSettings as CheckSettings
from drain_ls.analysis.docstrings import (
    is_private_module,
    member_context,
    member_findings,
    module_finding,
)
from drain_ls.analysis.grammar_gaps import parse_input
from drain_ls.analysis.imports import (
    dunder_all,
    import_bindings_by_name,
    unused_bindings_of,
    unused_import_findings,
)
from drain_ls.analysis.model import Finding
from drain_ls.analysis.noqa import NoqaMap
from drain_ls.analysis.source import LineIndex, Syntax, parse
from drain_ls.analysis.syntax import SyntaxReport, SyntaxTracker, broken_roots


def stub_settings(settings: CheckSettings, path: str) -> CheckSettings:
    """What applies to ``path``: in a stub (``.pyi``) F401 as in any module (``import x as
    x``, ``from m import y as y`` and ``__all__`` re-export, as everywhere), never D1xx
    (ruff: a stub holds no docstrings)."""
    if not path.endswith(".pyi"):
        return settings
    return replace(settings, select=frozenset(c for c in settings.select if not c.startswith("D")))


def check_source(
    source: bytes,
    path: str,
    settings: CheckSettings | None = None,
    tree: Syntax | None = None,
    tolerant: bool = False,
) -> list[Finding]:
    """All findings for ``source`` (the contents of ``path``), sorted by position.

    A syntax error (``drain_ls.analysis.syntax``) yields a single ``E999`` finding and
    nothing else, as ruff does (whatever ``settings.select`` says: ruff always reports syntax
    errors); unless ``tolerant`` (the editor, while the user types), where the findings that
    the error's region does not touch are kept along with the E999. Syntax newer than
    ``settings.target_version`` gives an E999 per construct and hides nothing.

    ``tree``: the parse of ``parse_input(source)`` (``drain_ls.analysis.grammar_gaps``), when
    already made.
    """
    settings = stub_settings(settings or CheckSettings(), path)
    parsed = parse_input(source)
    if tree is None:
        tree = parse(parsed)
    report = SyntaxTracker(settings.target_version).check(parsed, tree, original=source)
    if report.error is not None and not tolerant:
        # Whatever the selection, as ruff: a file that does not parse.
        return sorted([report.error, *report.versions], key=lambda f: (f.start, f.end))
    findings = _all_findings(source, path, settings, tree, parses=report.error is None)
    findings = with_syntax(findings, report, source)
    findings.sort(key=lambda f: (f.start, f.code))
    return findings


def with_syntax(findings: list[Finding], report: SyntaxReport, source: bytes) -> list[Finding]:
    """``findings`` with the syntax errors of ``report``: those outside its error regions
    and its E999, if any (the editor's way), and its version errors."""
    if report.error is not None:
        findings = _outside_errors(findings, report.regions, source)
        findings.append(report.error)
    findings.extend(report.versions)
    return findings


def _outside_errors(
    findings: list[Finding], regions: list[tuple[int, int]], source: bytes
) -> list[Finding]:
    """Drop the findings that a syntax error's region could make wrong.

    The region of an error is the innermost statement around it. An unused import whose name
    appears in a region is dropped too: the broken code may be its use.
    """
    if not regions:
        return findings
    texts = [source[start:end] for start, end in regions]
    kept = []
    for finding in findings:
        if any(finding.start < end and start < finding.end for start, end in regions):
            continue
        name = finding.data.get("name")
        if isinstance(name, str) and any(name.encode() in text for text in texts):
            continue
        kept.append(finding)
    return kept


def error_regions(tree: Syntax) -> list[tuple[int, int]]:
    """Byte ranges of the innermost statements that hold an error of the tree (all of
    them: ``SyntaxReport.regions`` has those that stand).

    An error is an ERROR node, a MISSING node, or a node flagged ``has_error`` none of whose
    visible children is (a missing hidden token, such as a newline, between them).
    """
    regions: set[tuple[int, int]] = set()
    stack = broken_roots(tree)
    while stack:
        node = stack.pop()
        sites = []
        deeper = False
        for child in node.children:
            if child.type == "ERROR" or child.is_missing:
                sites.append(child)
            elif child.has_error:
                stack.append(child)
                deeper = True
        if not sites and not deeper and node.has_error:
            sites.append(node)
        for site in sites:
            statement = site
            while statement.parent is not None and (
                statement.type == "block" or statement.parent.type not in ("module", "block")
            ):
                statement = statement.parent
            regions.add((statement.start_byte, statement.end_byte))
    return sorted(regions)


def _all_findings(
    source: bytes, path: str, settings: CheckSettings, tree: Syntax, parses: bool = True
) -> list[Finding]:
    """The findings of the rules, syntax errors aside (``parses``: the syntax checks found no
    error, so that the lines of ``source`` are read as Python reads them)."""
    findings: list[Finding] = []
    root = tree.root_node
    # Both analyses need the imports and __all__: read them once.
    by_name = import_bindings_by_name(root, source)
    exported = dunder_all(root, source)
    if "F401" in settings.select and by_name:
        unused = unused_bindings_of(
            root,
            source,
            by_name,
            None,
            exported,
            exports_known=True,
            defer_annotations=settings.defers_annotations,
        )
        findings.extend(
            unused_import_findings([b for bs in unused.values() for b in bs], source, path)
        )
    if any(code.startswith("D1") for code in settings.select):
        private = is_private_module(path)
        module = module_finding(root, source, path, private)
        if module is not None and module.code in settings.select:
            findings.append(module)
        if not private:
            bindings = [b for bs in by_name.values() for b in bs]
            context = member_context(root, source, bindings, exported, exports_known=True)
            findings.extend(
                f
                for f in member_findings(
                    root, source, context, settings.docstring_style, lines=parses
                )
                if f.code in settings.select
            )
    if findings:
        noqa = NoqaMap(source, LineIndex(source), root)
        findings = [f for f in findings if not noqa.silences(f)]
    return findings
