"""Findings as LSP diagnostics."""

from __future__ import annotations

from lsprotocol import types

from drain_ls.analysis.model import RULE_URLS, Finding
from drain_ls.documents import Document

SOURCE = "drain-ls"


def to_range(doc: Document, start: int, end: int) -> types.Range:
    """The LSP range of a byte range of ``doc``."""
    a = doc.position_at(start)
    b = doc.position_at(end)
    return types.Range(
        start=types.Position(line=a.line, character=a.character),
        end=types.Position(line=b.line, character=b.character),
    )


def to_diagnostic(doc: Document, finding: Finding) -> types.Diagnostic:
    """One finding as a diagnostic (source ``drain-ls``, the code, a link to the rule)."""
    url = RULE_URLS.get(finding.code)
    tags = [types.DiagnosticTag.Unnecessary] if finding.code == "F401" else None
    severity = (
        types.DiagnosticSeverity.Error
        if finding.code == "E999"
        else types.DiagnosticSeverity.Warning
    )
    return types.Diagnostic(
        range=to_range(doc, finding.start, finding.end),
        message=finding.message,
        severity=severity,
        code=finding.code,
        code_description=types.CodeDescription(href=url) if url else None,
        source=SOURCE,
        tags=tags,
        data={"code": finding.code, "start": finding.start, "end": finding.end},
    )


def to_diagnostics(doc: Document, findings: list[Finding]) -> list[types.Diagnostic]:
    """Every finding of ``doc`` as a diagnostic."""
    return [to_diagnostic(doc, f) for f in findings]
