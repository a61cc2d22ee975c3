"""Build the JSON converters' code for a keystroke's messages before the first keystroke.

cattrs (under pygls and lsprotocol) writes and compiles the function that reads or writes a
type the first time it meets that type, in the step of the event loop that meets it: the
first ``didChange`` of a session spent 3-5 ms there before its drain was cancelled, which was
the slowest keystroke of 50 in ``benchmarks/drain_costs.py`` (issue 17, traced with
``benchmarks/loop_timing``). ``warm_messages`` reads and writes one message of each kind a
keystroke brings, with every optional field the server meets filled in (a field left out
takes no hook), so that the first one a user sends costs what the others do. Nothing is
dispatched: the messages are only decoded and encoded.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import cattrs
from lsprotocol import types

_URI = "file:///warm-up.py"
_DOCUMENT = {"uri": _URI}
_POSITION = {"line": 0, "character": 0}
_RANGE = {"start": _POSITION, "end": _POSITION}
_DIAGNOSTIC: dict[str, Any] = {
    "range": _RANGE,
    "severity": 2,
    "code": "F401",
    "codeDescription": {"href": "https://docs.astral.sh/ruff/rules/unused-import"},
    "source": "drain-ls",
    "message": "`os` imported but unused",
    "tags": [1],
    "relatedInformation": [{"location": {"uri": _URI, "range": _RANGE}, "message": "m"}],
    "data": {"name": "os"},
}

# The notifications and requests of a keystroke and of what the editor sends around it.
NOTIFICATIONS: dict[str, dict[str, Any]] = {
    types.TEXT_DOCUMENT_DID_CHANGE: {
        "textDocument": {"uri": _URI, "version": 2},
        "contentChanges": [{"range": _RANGE, "rangeLength": 0, "text": "x"}, {"text": "x"}],
    },
    types.CANCEL_REQUEST: {"id": 1},
    types.TEXT_DOCUMENT_DID_SAVE: {"textDocument": _DOCUMENT, "text": "x"},
}
REQUESTS: dict[str, dict[str, Any]] = {
    types.TEXT_DOCUMENT_HOVER: {"textDocument": _DOCUMENT, "position": _POSITION},
    types.TEXT_DOCUMENT_CODE_ACTION: {
        "textDocument": _DOCUMENT,
        "range": _RANGE,
        "context": {"diagnostics": [_DIAGNOSTIC], "only": ["quickfix"], "triggerKind": 2},
    },
    types.TEXT_DOCUMENT_DIAGNOSTIC: {"textDocument": _DOCUMENT, "previousResultId": "1"},
}


def _results() -> dict[str, Any]:
    """The kinds of result of each request in ``REQUESTS``, as the server answers it."""
    rng = types.Range(types.Position(0, 0), types.Position(0, 1))
    diagnostic = types.Diagnostic(
        rng,
        "m",
        types.DiagnosticSeverity.Warning,
        "F401",
        types.CodeDescription("https://docs.astral.sh/ruff/rules/unused-import"),
        "drain-ls",
        [types.DiagnosticTag.Unnecessary],
        data={"name": "os"},
    )
    edit = types.TextEdit(rng, "")
    document = types.OptionalVersionedTextDocumentIdentifier(_URI, 1)
    actions = [
        types.CodeAction(
            "Remove unused import",
            types.CodeActionKind.QuickFix,
            [diagnostic],
            is_preferred=True,
            edit=types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(document, [edit])]),
        ),
        types.CodeAction(
            "Insert the docstring",
            types.CodeActionKind.QuickFix,
            edit=types.WorkspaceEdit(changes={_URI: [edit]}),
            command=types.Command("t", "drain.status", arguments=[1]),
            data={"uri": _URI},
        ),
    ]
    return {
        types.TEXT_DOCUMENT_HOVER: [
            types.Hover(types.MarkupContent(types.MarkupKind.Markdown, "x"), rng),
            None,
        ],
        types.TEXT_DOCUMENT_CODE_ACTION: [actions, []],
        types.TEXT_DOCUMENT_DIAGNOSTIC: [
            types.RelatedFullDocumentDiagnosticReport(items=[diagnostic], result_id="1"),
            types.RelatedUnchangedDocumentDiagnosticReport(result_id="1"),
        ],
    }


class _Protocol(Protocol):
    def structure_message(self, data: dict[str, Any]) -> Any: ...

    def get_result_type(self, method: str) -> Any: ...

    def _serialize_message(self, data: Any) -> dict[str, Any]: ...


def warm_messages(protocol: _Protocol, *converters: cattrs.Converter) -> None:
    """Decode one message of each kind in ``NOTIFICATIONS`` and ``REQUESTS`` with
    ``protocol`` and encode an answer to each request, and a ``publishDiagnostics`` with
    each of ``converters`` (the server's own, for the diagnostics it encodes itself).

    Twice: each time cattrs registers the code of a new sequence or mapping type it clears
    its whole cache of hooks, so that the classes met before it in the first round are looked
    up (and their code written) again; the second round finds everything."""
    for _ in range(2):
        _warm_once(protocol, converters)


def _warm_once(protocol: _Protocol, converters: tuple[cattrs.Converter, ...]) -> None:
    for method, params in NOTIFICATIONS.items():
        protocol.structure_message({"jsonrpc": "2.0", "method": method, "params": params})
    results = _results()
    for method, params in REQUESTS.items():
        protocol.structure_message({"jsonrpc": "2.0", "id": 0, "method": method, "params": params})
        kind = protocol.get_result_type(method)
        for result in results[method] if kind is not None else ():
            answer = kind(id=0, result=result, jsonrpc="2.0")
            json.dumps(answer, default=protocol._serialize_message)
    report = results[types.TEXT_DOCUMENT_DIAGNOSTIC][0]
    for converter in converters:
        for diagnostic in report.items:
            converter.unstructure(diagnostic)
