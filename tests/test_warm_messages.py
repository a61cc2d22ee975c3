"""The first keystroke of a session builds no converter code (``drain_ls.lsp.warm_messages``)."""

from __future__ import annotations

import json
from typing import Any

import cattrs
from lsprotocol import types

from drain_ls.lsp.envelope import Rejected
from drain_ls.lsp.handlers import create_server
from drain_ls.lsp.warm_messages import warm_messages

URI = "file:///home/u/project/pkg/mod.py"
RANGE = {"start": {"line": 41, "character": 7}, "end": {"line": 41, "character": 9}}

# As editors send them (VS Code's didChange carries rangeLength; Neovim's does not), with
# other values than the warm-up's.
MESSAGES: list[dict[str, Any]] = [
    {
        "jsonrpc": "2.0",
        "method": "textDocument/didChange",
        "params": {
            "textDocument": {"uri": URI, "version": 57},
            "contentChanges": [{"range": RANGE, "rangeLength": 2, "text": "("}],
        },
    },
    {
        "jsonrpc": "2.0",
        "method": "textDocument/didChange",
        "params": {
            "textDocument": {"uri": URI, "version": 58},
            "contentChanges": [{"range": RANGE, "text": ""}],
        },
    },
    {
        "jsonrpc": "2.0",
        "id": 12,
        "method": "textDocument/hover",
        "params": {"textDocument": {"uri": URI}, "position": {"line": 3, "character": 4}},
    },
    {
        "jsonrpc": "2.0",
        "id": 13,
        "method": "textDocument/codeAction",
        "params": {
            "textDocument": {"uri": URI},
            "range": RANGE,
            "context": {
                "diagnostics": [
                    {
                        "range": RANGE,
                        "message": "Missing docstring in public function",
                        "severity": 3,
                        "code": "D103",
                        "source": "drain-ls",
                        "data": {"key": "k"},
                    }
                ],
                "triggerKind": 1,
            },
        },
    },
    {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 12}},
]


def _misses(converter: cattrs.Converter) -> tuple[int, ...]:
    """How many types the converter has looked up a hook for since it last cleared its
    cache of hooks, and how many hooks are in it (a clear, which cattrs does whenever it
    registers a new sequence type, starts the counts again)."""
    infos = [
        dispatch.dispatch.cache_info()  # type: ignore[attr-defined]
        for dispatch in (converter._structure_func, converter._unstructure_func)
    ]
    return tuple(n for info in infos for n in (info.misses, info.currsize))


def _keystroke_messages(server: Any) -> None:
    protocol = server.protocol
    for message in MESSAGES:
        assert not isinstance(protocol.structure_message(message), Rejected)
    hover = types.HoverResponse(
        id=12,
        result=types.Hover(
            types.MarkupContent(types.MarkupKind.Markdown, "**f**"),
            types.Range(types.Position(3, 0), types.Position(3, 9)),
        ),
    )
    json.dumps(hover, default=protocol._serialize_message)
    diagnostic = types.Diagnostic(
        types.Range(types.Position(1, 0), types.Position(1, 9)),
        "`sys` imported but unused",
        types.DiagnosticSeverity.Warning,
        "F401",
        source="drain-ls",
        tags=[types.DiagnosticTag.Unnecessary],
        data={"name": "sys"},
    )
    server.json_converter.unstructure(diagnostic)


def test_the_messages_of_a_keystroke_find_their_converters_built() -> None:
    server = create_server()
    warm_messages(server.protocol, server.json_converter)
    converters = (server.protocol._converter, server.json_converter)
    before = [_misses(c) for c in converters]
    _keystroke_messages(server)
    assert [_misses(c) for c in converters] == before


def test_without_the_warm_up_the_first_keystroke_builds_them() -> None:
    """The control: a server that was not warmed builds the code on the first messages."""
    server = create_server()
    converters = (server.protocol._converter, server.json_converter)
    before = [_misses(c) for c in converters]
    _keystroke_messages(server)
    after = [_misses(c) for c in converters]
    assert all(a != b for a, b in zip(after, before, strict=True))
    # A second round of the same messages: everything found.
    _keystroke_messages(server)
    assert [_misses(c) for c in converters] == after


def test_warming_twice_builds_nothing_new() -> None:
    server = create_server()
    warm_messages(server.protocol, server.json_converter)
    converters = (server.protocol._converter, server.json_converter)
    before = [_misses(c) for c in converters]
    warm_messages(server.protocol, server.json_converter)
    assert [_misses(c) for c in converters] == before
