"""The diagnostics cache and the fast serialization give exactly what they replace."""

from __future__ import annotations

import json

from lsprotocol import types
from pygls.protocol import default_converter

from drain_ls.analysis.checker import CheckSettings
from drain_ls.analysis.incremental import IncrementalChecker
from drain_ls.analysis.model import Finding
from drain_ls.lsp.documents import REPLACED, Document
from drain_ls.lsp.features.diagnostics import DiagnosticCache, make_converter, to_diagnostics
from drain_ls.lsp.positions import UTF8, UTF16, UTF32

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
        cache.diagnostics(doc, findings, doc.take_shift())
        doc.changes.reset()
        edits: list[tuple[str, int, str] | list[tuple[str, int, str]]] = [
            ("    def m", 0, "\n"),  # a line added above the last finding
            ("__init__", 8, "__init2__"),  # message and code change (D107 -> D102)
            ('"é"', 0, "é"),  # a column shift in utf-16/utf-32 only, before findings
            ("class C", 0, "\n\n"),
            ("\n\n\nclass C", 3, ""),
            ("import sys", 0, "import re\n"),  # a new F401
            ("", 0, '"""Doc."""\n'),  # D100 goes away, everything moves
            ("pass", 4, "return 2"),  # same length elsewhere
            ("x):", 1, "\r"),  # a carriage return: line structure changes
            ("\r", 0, "\n"),  # ... and pairs with a line feed
            ("import re", 0, "é"),  # one character on a line: the lines after stay
            ("import sys", 0, "é; "),  # a finding later on the edited line moves
            ("return 1", 6, "x"),  # the last line, shorter
            [("import sys", 0, "x"), ("    def m", 0, "\n\n"), ("class C", 5, "")],  # at once
            [("return", 0, "\n"), ("\nreturn", 1, "")],
            ("", 0, "\r\n"),
        ]
        for step in edits:
            for anchor, length, text in step if isinstance(step, list) else [step]:
                start = doc.source.index(anchor.encode())
                doc.replace(start, start + length, text)
            findings = checker.check(doc.source, doc.tree, doc.changes)
            doc.changes.reset()
            cached = cache.diagnostics(doc, findings, doc.take_shift())
            assert _shape(cached) == _shape(to_diagnostics(doc, findings))
            converter = make_converter()
            assert json.loads(cache.json(cached, converter)) == _shape(cached)
        # Nothing changed: everything is reused and still exact.
        again = cache.diagnostics(doc, findings, doc.take_shift())
        assert all(a is b for a, b in zip(again, cached, strict=True))


def test_diagnostics_after_an_edit_on_an_earlier_line_are_reused_with_their_json() -> None:
    doc = Document("file:///m.py", SOURCE.encode(), 1, UTF16)
    checker = IncrementalChecker("/tmp/m.py", CheckSettings(), fix_factories=False)
    cache = DiagnosticCache()
    converter = make_converter()
    first = cache.diagnostics(doc, checker.check(doc.source, doc.tree), doc.take_shift())
    first_json = json.loads(cache.json(first, converter))
    start = doc.source.index('é"'.encode())
    doc.replace(start, start, "é")  # return "éé" + x: one line, longer in bytes
    findings = checker.check(doc.source, doc.tree, doc.changes)
    second = cache.diagnostics(doc, findings, doc.take_shift())
    later = [i for i, d in enumerate(second) if d.range.start.line > 5]
    assert [second[i].code for i in later] == ["D101", "D107", "D102"]
    assert all(second[i] is first[i] for i in later)  # the same objects: nothing made again
    assert json.loads(cache.json(second, converter)) == first_json
    # A line break above them: moved down a line, the characters kept.
    start = doc.source.index(b"    return")
    doc.replace(start, start, "\n")
    findings = checker.check(doc.source, doc.tree, doc.changes)
    third = cache.diagnostics(doc, findings, doc.take_shift())
    assert [(d.range.start.line, d.range.start.character) for d in third[-3:]] == [
        (d.range.start.line + 1, d.range.start.character) for d in first[-3:]
    ]


class _Capture:
    def __init__(self) -> None:
        self.data: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.data.append(data)

    def close(self) -> None:
        pass


def _body(message: bytes) -> object:
    header, _, body = message.partition(b"\r\n\r\n")
    assert header.split(b"\r\n")[0] == b"Content-Length: %d" % len(body)
    return json.loads(body)


def test_the_server_publishes_what_pygls_would() -> None:
    from drain_ls.lsp.protocol import DrainProtocol
    from drain_ls.lsp.server import DrainServer

    server = DrainServer()
    protocol = server.protocol
    assert isinstance(protocol, DrainProtocol)
    capture = _Capture()
    protocol.set_writer(capture)
    doc = Document("file:///m.py", SOURCE.encode(), 7, UTF32)
    findings = IncrementalChecker("/tmp/m.py", CheckSettings()).check(doc.source, doc.tree)
    cache = DiagnosticCache()
    diagnostics = cache.diagnostics(doc, findings, doc.take_shift())
    uri = "file:///tmp/é m.py"
    protocol.notify(
        types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS,
        types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=7),
    )
    for _ in range(2):  # the second time from the cached JSON
        protocol.publish_diagnostics_json(uri, 7, cache.json(diagnostics, server.json_converter))
    expected, *ours = (_body(m) for m in capture.data)
    assert ours == [expected, expected]


def test_diagnostic_cache_reuses_diagnostics_before_the_edit() -> None:
    doc = Document("file:///m.py", SOURCE.encode(), 1)
    cache = DiagnosticCache()
    early = Finding("F401", "`os` imported but unused", 7, 9)
    late = Finding("D103", "Missing docstring in public function", 30, 31)
    first = cache.diagnostics(doc, [early, late], REPLACED)
    second = cache.diagnostics(doc, [early, late], REPLACED._replace(unchanged_before=20))
    assert second[0] is first[0]  # before the edit
    assert second[1] is not first[1]  # after it: made again
