"""Helpers for end-to-end tests: a pytest-lsp client that records what a real editor would see,
and an editor-side implementation of positions and edits (independent of the server's)."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest_lsp.client as plc
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

BREAK = re.compile(r"\r\n|\r|\n")

# The presets pytest-lsp ships, and the position encoding each negotiates with us.
CLIENTS = {
    "visual-studio-code": "utf-16",
    "neovim": "utf-8",
    "emacs": "utf-32",
}


def server_config(env: dict[str, str] | None = None) -> ClientServerConfig:
    """Start the real server, as an editor would (``drain-ls --stdio``)."""
    environment = {**os.environ, **(env or {})}
    return ClientServerConfig(
        server_command=[sys.executable, "-m", "drain_ls", "--stdio"],
        client_factory=make_client,
        server_env=environment,
    )


async def start_server(
    root: Path,
    options: dict[str, Any],
    env: dict[str, str] | None = None,
    preset: str = "visual-studio-code",
) -> LanguageClient:
    """A real server process, initialized by a client of ``preset`` on the workspace ``root``
    with ``options`` as initializationOptions (``env`` on top of this process's)."""
    client = await server_config(env).start()
    assert isinstance(client, LanguageClient)
    await client.initialize_session(
        types.InitializeParams(
            capabilities=plc.client_capabilities(preset),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name or "ws")],
            initialization_options=options,
        )
    )
    return client


def fake_api_env(url: str, home: Path, key: str = "sk-ant-test-0123456789") -> dict[str, str]:
    """The environment that points the real SDK at the local fake API, with its own ledger."""
    return {"ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": key, "DRAIN_LS_HOME": str(home)}


def make_client() -> LanguageClient:
    """pytest-lsp's client, also recording each publishDiagnostics with its version."""
    client = LanguageClient(converter_factory=plc.default_converter)
    features = dict(plc.DEFAULT_CLIENT_FEATURES)
    published: list[types.PublishDiagnosticsParams] = []

    def publish(client: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
        client.diagnostics[params.uri] = params.diagnostics
        published.append(params)

    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = publish
    statuses: list[Any] = []

    def drain_status(client: LanguageClient, params: Any) -> None:
        statuses.append(params)

    features["drain/status"] = drain_status
    questions: list[types.ShowMessageRequestParams] = []

    def show_message_request(
        client: LanguageClient, params: types.ShowMessageRequestParams
    ) -> types.MessageActionItem | None:
        # The answer a test chose (None: the user dismissed the question).
        questions.append(params)
        answer = getattr(client, "answer", None)
        return types.MessageActionItem(title=answer) if answer else None

    features[types.WINDOW_SHOW_MESSAGE_REQUEST] = show_message_request
    registrations: list[types.Registration] = []

    def register_capability(client: LanguageClient, params: types.RegistrationParams) -> None:
        # As an editor does: it now reports what the registration asks for.
        registrations.extend(params.registrations)

    features[types.CLIENT_REGISTER_CAPABILITY] = register_capability
    plc.register_lsp_features(client, features)
    client.registrations = registrations  # type: ignore[attr-defined]
    client.questions = questions  # type: ignore[attr-defined]
    client.published = published  # type: ignore[attr-defined]
    client.drain_statuses = statuses  # type: ignore[attr-defined]
    return client


def units(ch: str, encoding: str) -> int:
    """Code units of one character in ``encoding``."""
    if encoding == "utf-8":
        return len(ch.encode("utf-8"))
    if encoding == "utf-16":
        return 2 if ord(ch) > 0xFFFF else 1
    return 1


def position_of(text: str, index: int, encoding: str) -> types.Position:
    """The LSP position of str index ``index``, computed as an editor would."""
    line = 0
    line_start = 0
    for m in BREAK.finditer(text):
        if m.end() > index:
            break
        line += 1
        line_start = m.end()
    character = sum(units(ch, encoding) for ch in text[line_start:index])
    return types.Position(line=line, character=character)


def index_of(text: str, position: types.Position, encoding: str) -> int:
    """The str index of an LSP position, computed as an editor would."""
    starts = [0] + [m.end() for m in BREAK.finditer(text)]
    line_start = starts[position.line]
    line_end = len(text)
    if position.line + 1 < len(starts):
        m = BREAK.search(text, line_start)
        line_end = m.start() if m else len(text)
    index = line_start
    count = 0
    while index < line_end and count < position.character:
        count += units(text[index], encoding)
        index += 1
    return index


def range_of(text: str, needle: str, encoding: str, occurrence: int = 0) -> types.Range:
    """The LSP range of the ``occurrence``-th ``needle`` in ``text``."""
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(needle, start + 1)
    return types.Range(
        start=position_of(text, start, encoding),
        end=position_of(text, start + len(needle), encoding),
    )


def apply_text_edits(text: str, edits: list[types.TextEdit], encoding: str) -> str:
    """Apply LSP text edits (all relative to ``text``) the way an editor does."""
    spans = []
    for edit in edits:
        a = index_of(text, edit.range.start, encoding)
        b = index_of(text, edit.range.end, encoding)
        spans.append((a, b, edit.new_text))
    for a, b, new in sorted(spans, reverse=True):
        text = text[:a] + new + text[b:]
    return text


def apply_workspace_edit(
    text: str, uri: str, edit: types.WorkspaceEdit, encoding: str, version: int | None = None
) -> str:
    """Apply the edits of ``edit`` that target ``uri``; check the version they were made for."""
    edits: list[types.TextEdit] = []
    for change in edit.document_changes or []:
        assert isinstance(change, types.TextDocumentEdit), change
        if change.text_document.uri == uri:
            if version is not None:
                assert change.text_document.version == version
            edits.extend(e for e in change.edits if isinstance(e, types.TextEdit))
    for target, text_edits in (edit.changes or {}).items():
        if target == uri:
            edits.extend(text_edits)
    return apply_text_edits(text, edits, encoding)


async def wait_until(condition: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll ``condition`` until it returns something truthy (no fixed sleeps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.01)
