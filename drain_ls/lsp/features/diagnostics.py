"""Findings as LSP diagnostics."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs
import cattrs
from lsprotocol import types
from pygls.protocol import default_converter

from drain_ls.analysis.model import RULE_URLS, Finding
from drain_ls.lsp.documents import Document, TextShift

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
    )


def to_diagnostics(doc: Document, findings: list[Finding]) -> list[types.Diagnostic]:
    """Every finding of ``doc`` as a diagnostic."""
    return [to_diagnostic(doc, f) for f in findings]


# What makes a finding's diagnostic, besides the positions of its offsets.
_Key = tuple[str, str, int, int]


class DiagnosticCache:
    """The diagnostics of one document's last analysis, by finding, reused while valid, and
    their JSON.

    A diagnostic depends on its finding's code, message and offsets, and on the positions of
    those offsets. The position of an offset depends only on the text up to and including
    it: after edits that all start past a finding's end, its diagnostic is still exact. A
    finding on a line after every edited one keeps its characters; its diagnostic is reused
    as it is when no edit added or removed a line break, else moved by whole lines.
    """

    __slots__ = ("_by_key", "_held", "_json")

    def __init__(self) -> None:
        """An empty cache (a document just opened)."""
        self._by_key: dict[_Key, types.Diagnostic] = {}
        self._held: set[int] = set()  # the identities of the diagnostics in ``_by_key``
        # The JSON of diagnostics held in ``_by_key``, by identity (they are alive, so no
        # other object has their identity).
        self._json: dict[int, str] = {}

    def diagnostics(
        self, doc: Document, findings: list[Finding], shift: TextShift
    ) -> list[types.Diagnostic]:
        """The diagnostics of ``findings``; ``shift``: how the text moved since the last
        call (``Document.take_shift``)."""
        previous = self._by_key
        current: dict[_Key, types.Diagnostic] = {}
        out = []
        unchanged_before, moved_from, delta, lines = shift
        for finding in findings:
            code, message, start, end = key = (
                finding.code,
                finding.message,
                finding.start,
                finding.end,
            )
            diagnostic = None
            if end < unchanged_before:
                diagnostic = previous.get(key)
            elif moved_from <= start:
                old = previous.get((code, message, start - delta, end - delta))
                if old is not None:
                    diagnostic = old if lines == 0 else _down(old, lines)
            if diagnostic is None:
                diagnostic = current.get(key) or to_diagnostic(doc, finding)
            current[key] = diagnostic
            out.append(diagnostic)
        self._by_key = current
        self._held = set(map(id, current.values()))
        encoded = self._json
        self._json = {i: encoded[i] for i in self._held if i in encoded}
        return out

    def json(self, diagnostics: list[types.Diagnostic], converter: cattrs.Converter) -> str:
        """The JSON array of ``diagnostics``, as ``converter`` encodes them (ASCII only),
        each encoded once while this cache holds it."""
        encoded = self._json
        parts = []
        for diagnostic in diagnostics:
            text = encoded.get(id(diagnostic))
            if text is None:
                text = json.dumps(converter.unstructure(diagnostic))
                if id(diagnostic) in self._held:
                    encoded[id(diagnostic)] = text
            parts.append(text)
        return "[" + ",".join(parts) + "]"


def _down(diagnostic: types.Diagnostic, lines: int) -> types.Diagnostic:
    """``diagnostic`` moved ``lines`` lines down (up when negative), characters kept."""
    r = diagnostic.range
    return attrs.evolve(
        diagnostic,
        range=types.Range(
            start=types.Position(line=r.start.line + lines, character=r.start.character),
            end=types.Position(line=r.end.line + lines, character=r.end.character),
        ),
    )


# -- serialization ------------------------------------------------------------------------------

_PLAIN = (str, int, float, bool, type(None))


def _fast_diagnostic(fallback: Callable[[Any], Any]) -> Callable[[types.Diagnostic], Any]:
    """The JSON of a diagnostic, as pygls's converter makes it, without cattrs's generic
    dispatch for the shapes this server publishes (the others go to ``fallback``)."""

    def unstructure(d: types.Diagnostic) -> Any:
        data = d.data
        if (
            d.related_information is not None
            or type(d.message) is not str
            or (data is not None and not _flat_dict(data))
        ):
            return fallback(d)
        r = d.range
        s, e = r.start, r.end
        out: dict[str, Any] = {
            "range": {
                "start": {"line": s.line, "character": s.character},
                "end": {"line": e.line, "character": e.character},
            },
            "message": d.message,
        }
        if d.severity is not None:
            out["severity"] = d.severity.value
        if d.code is not None:
            out["code"] = d.code
        if d.code_description is not None:
            out["codeDescription"] = {"href": d.code_description.href}
        if d.source is not None:
            out["source"] = d.source
        if d.tags is not None:
            out["tags"] = [t.value for t in d.tags]
        if data is not None:
            out["data"] = dict(data)
        return out

    return unstructure


def _flat_dict(value: object) -> bool:
    return type(value) is dict and all(
        type(k) is str and type(v) in _PLAIN for k, v in value.items()
    )


def make_converter() -> cattrs.Converter:
    """pygls's converter, with a fast path for the diagnostics the server publishes."""
    converter: cattrs.Converter = default_converter()  # type: ignore[no-untyped-call]
    fallback = converter.get_unstructure_hook(types.Diagnostic)
    converter.register_unstructure_hook(types.Diagnostic, _fast_diagnostic(fallback))
    return converter
