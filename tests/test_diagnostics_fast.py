"""The diagnostics cache and the fast serialization give exactly what they replace."""

from __future__ import annotations

import json

from lsprotocol import types
from pygls.protocol import default_converter

from drain_ls.analysis.checker import CheckSettings
from drain_ls.analysis.incremental import IncrementalChecker
from drain_ls.analysis.model import Finding
from drain_ls.documents import UTF8, UTF16, UTF32, Document
from drain_ls.features.diagnostics import DiagnosticCache, make_converter, to_diagnostics

SOURCE = """import os
import sys


def f(x):
    return "é" + x


class C:
    def __init__(self):
        pass

    def m(self):
        return 1
"""


def _publish_json(converter, diagnostics):  # type: ignore[no-untyped-def]
    notification = types.PublishDiagnosticsNotification(
        params=types.PublishDiagnosticsParams(
            uri="file:///m.py", diagnostics=diagnostics, version=3
        )
    )
    return json.dumps(converter.unstructure(notification))


def test_fast_serialization_equals_pygls() -> None:
    doc = Document("file:///m.py", (SOURCE + "def (:\n").encode())
    findings = IncrementalChecker("/tmp/m.py", CheckSettings()).check(doc.source, doc.tree)
    diagnostics = to_diagnostics(doc, findings)
    assert {d.code for d in diagnostics} >= {"F401", "D100", "D101", "D103", "D107", "E999"}
    position = types.Position(line=1, character=2)
    others = [
        types.Diagnostic(  # what drains publish
            range=types.Range(start=position, end=position),
            message="simplify: shorter",
            severity=types.DiagnosticSeverity.Information,
            code="simplify",
            source="drain-ls",
        ),
        types.Diagnostic(  # shapes the fast path leaves to cattrs
            range=types.Range(start=position, end=position),
            message="m",
            code=7,
            tags=[types.DiagnosticTag.Deprecated],
            related_information=[
                types.DiagnosticRelatedInformation(
                    location=types.Location(
                        uri="file:///x.py", range=types.Range(start=position, end=position)
                    ),
                    message="here",
                )
            ],
            data={"nested": {"a": [1, 2]}},
        ),
        types.Diagnostic(range=types.Range(start=position, end=position), message="bare"),
    ]
    for batch in (diagnostics, others, []):
        assert _publish_json(make_converter(), batch) == _publish_json(default_converter(), batch)


def _shape(diagnostics: list[types.Diagnostic]) -> list[object]:
    return [default_converter().unstructure(d) for d in diagnostics]


def test_diagnostic_cache_is_never_stale() -> None:
    """Edits before, on and after findings, line breaks added and removed, a message and a
    code changed: the cached diagnostics always equal fresh ones."""
    for encoding in (UTF8, UTF16, UTF32):
        doc = Document("file:///m.py", SOURCE.encode(), 1, encoding)
        checker = IncrementalChecker("/tmp/m.py", CheckSettings(), fix_factories=False)
        cache = DiagnosticCache()
        findings = checker.check(doc.source, doc.tree, doc.changes)
        cache.diagnostics(doc, findings, 0)
        doc.changes.reset()
        edits = [
            ("    def m", 0, "\n"),  # a line added above the last finding
            ("__init__", 8, "__init2__"),  # message and code change (D107 -> D102)
            ('"é"', 0, "é"),  # a column shift in utf-16/utf-32 only, before findings
            ("class C", 0, "\n\n"),
            ("\n\n\nclass C", 3, ""),
            ("import sys", 0, "import re\n"),  # a new F401
            ("", 0, '"""Doc."""\n'),  # D100 goes away, everything moves
            ("pass", 4, "return 2"),  # same length elsewhere
            ("x):", 1, "\r"),  # a carriage return: line structure changes
        ]
        for anchor, length, text in edits:
            start = doc.source.index(anchor.encode())
            doc.replace(start, start + length, text)
            unchanged_before = min(e[0] for e in doc.changes.edits)
            findings = checker.check(doc.source, doc.tree, doc.changes)
            doc.changes.reset()
            cached = cache.diagnostics(doc, findings, unchanged_before)
            assert _shape(cached) == _shape(to_diagnostics(doc, findings))
        # Nothing changed: everything is reused and still exact.
        again = cache.diagnostics(doc, findings, len(doc.source) + 1)
        assert all(a is b for a, b in zip(again, cached, strict=True))


def test_diagnostic_cache_reuses_diagnostics_before_the_edit() -> None:
    doc = Document("file:///m.py", SOURCE.encode(), 1)
    cache = DiagnosticCache()
    early = Finding("F401", "`os` imported but unused", 7, 9)
    late = Finding("D103", "Missing docstring in public function", 30, 31)
    first = cache.diagnostics(doc, [early, late], 0)
    second = cache.diagnostics(doc, [early, late], 20)
    assert second[0] is first[0]  # before the edit
    assert second[1] is not first[1]  # after it: made again
