"""The language server end to end: a real server process, pytest-lsp's client, three encodings.

Each test runs once per client preset: VS Code (utf-16, pushed diagnostics, lazy code-action
edits), Neovim (utf-8, pulled diagnostics) and Emacs (utf-32, pushed, eager edits).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from tests.lsp_support import (
    CLIENTS,
    apply_workspace_edit,
    position_of,
    range_of,
    server_config,
    start_server,
    wait_until,
)

SAMPLE = '''"""A module with non-ASCII text before its findings."""
s = "é中😀"; import json
import os, sys  # é


def grüße(名前: str = "😀") -> str:
    return 名前 + os.sep
'''


class Session:
    """A client plus what the test needs to know about it."""

    def __init__(self, client: LanguageClient, preset: str, root: Path) -> None:
        self.client = client
        self.preset = preset
        self.encoding = CLIENTS[preset]
        self.root = root
        self.versions: dict[str, int] = {}
        self.texts: dict[str, str] = {}

    @property
    def pull(self) -> bool:
        return self.preset == "neovim"

    def uri(self, name: str) -> str:
        return (self.root / name).as_uri()

    def open(self, name: str, text: str) -> str:
        uri = self.uri(name)
        self.versions[uri] = 1
        self.texts[uri] = text
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )
        return uri

    def change(self, uri: str, range_: types.Range | None, new_text: str) -> int:
        """Send one edit; track the text as the editor would."""
        from tests.lsp_support import apply_text_edits

        version = self.versions[uri] + 1
        self.versions[uri] = version
        if range_ is None:
            change: Any = types.TextDocumentContentChangeWholeDocument(text=new_text)
            self.texts[uri] = new_text
        else:
            change = types.TextDocumentContentChangePartial(range=range_, text=new_text)
            self.texts[uri] = apply_text_edits(
                self.texts[uri], [types.TextEdit(range=range_, new_text=new_text)], self.encoding
            )
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[change],
            )
        )
        return version

    async def diagnostics(self, uri: str) -> list[types.Diagnostic]:
        """The diagnostics of the current version, pulled or waited for."""
        version = self.versions[uri]
        if self.pull:
            report = await self.client.text_document_diagnostic_async(
                types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))
            )
            assert isinstance(report, types.RelatedFullDocumentDiagnosticReport)
            return list(report.items)
        published = self.client.published  # type: ignore[attr-defined]

        def current() -> list[types.Diagnostic] | None:
            for params in reversed(published):
                if params.uri == uri:
                    return list(params.diagnostics) if params.version == version else None
            return None

        result = await wait_until(lambda: current() is not None)
        assert result
        found = current()
        assert found is not None
        return found

    async def latest(self, uri: str) -> list[types.Diagnostic]:
        """Whatever the server says now (any version)."""
        if self.pull:
            report = await self.client.text_document_diagnostic_async(
                types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))
            )
            assert isinstance(report, types.RelatedFullDocumentDiagnosticReport)
            return list(report.items)
        return list(self.client.diagnostics.get(uri, []))

    async def actions(
        self, uri: str, range_: types.Range, only: list[str] | None = None
    ) -> list[types.CodeAction]:
        result = await self.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=range_,
                context=types.CodeActionContext(diagnostics=[], only=only),
            )
        )
        actions = [a for a in result or [] if isinstance(a, types.CodeAction)]
        resolved = []
        for action in actions:
            if action.edit is None:
                action = await self.client.code_action_resolve_async(action)
            resolved.append(action)
        return resolved

    def apply(self, uri: str, edit: types.WorkspaceEdit | None) -> str:
        assert edit is not None
        return apply_workspace_edit(self.texts[uri], uri, edit, self.encoding, self.versions[uri])


@pytest_lsp.fixture(
    params=list(CLIENTS),
    config=server_config(),
)
async def client(request: pytest.FixtureRequest, lsp_client: LanguageClient, tmp_path: Path):  # type: ignore[no-untyped-def]
    preset = request.param
    capabilities = client_capabilities(preset)
    params = types.InitializeParams(
        capabilities=capabilities,
        root_uri=tmp_path.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=tmp_path.as_uri(), name="ws")],
        initialization_options={"diagnostics": {"debounceMs": 0}},
    )
    result = await lsp_client.initialize_session(params)
    assert result.capabilities.position_encoding == CLIENTS[preset]
    lsp_client.preset = preset  # type: ignore[attr-defined]
    lsp_client.root = tmp_path  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def session(client: LanguageClient) -> Session:
    return Session(client, client.preset, client.root)  # type: ignore[attr-defined]


def codes(diagnostics: list[types.Diagnostic]) -> list[tuple[str, int]]:
    return sorted((str(d.code), d.range.start.line) for d in diagnostics)


async def test_diagnostics_have_exact_ranges_after_non_ascii_text(session: Session) -> None:
    uri = session.open("sample.py", SAMPLE)
    diagnostics = await session.diagnostics(uri)
    by_message = {d.message: d for d in diagnostics}
    json_import = by_message["`json` imported but unused"]
    assert json_import.range == range_of(SAMPLE, "json", session.encoding)
    assert json_import.source == "drain-ls"
    assert json_import.code == "F401"
    assert list(json_import.tags or []) == [types.DiagnosticTag.Unnecessary]
    assert json_import.code_description is not None
    assert "unused-import" in json_import.code_description.href
    assert by_message["`sys` imported but unused"].range == range_of(
        SAMPLE, "sys", session.encoding
    )
    function = by_message["Missing docstring in public function"]
    assert function.range == range_of(SAMPLE, "grüße", session.encoding)
    assert "`os` imported but unused" not in by_message
    assert codes(diagnostics) == [("D103", 5), ("F401", 1), ("F401", 2)]


async def test_remove_unused_import_quick_fix(session: Session) -> None:
    uri = session.open("sample.py", SAMPLE)
    await session.diagnostics(uri)
    actions = await session.actions(uri, range_of(SAMPLE, "json", session.encoding))
    titles = [a.title for a in actions]
    assert "Remove unused import `json`" in titles
    fix = next(a for a in actions if a.title == "Remove unused import `json`")
    assert fix.kind == types.CodeActionKind.QuickFix
    text = session.apply(uri, fix.edit)
    assert 's = "é中😀"\nimport os, sys' in text
    compile(text, "sample.py", "exec")

    actions = await session.actions(uri, range_of(SAMPLE, "sys", session.encoding))
    fix = next(a for a in actions if a.title == "Remove unused import `sys`")
    assert "import os  # é" in session.apply(uri, fix.edit)


async def test_remove_all_unused_imports_is_a_fix_all_source_action(session: Session) -> None:
    uri = session.open("sample.py", SAMPLE)
    await session.diagnostics(uri)
    actions = await session.actions(
        uri,
        types.Range(
            start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)
        ),
        only=["source.fixAll"],
    )
    assert [a.title for a in actions] == ["Remove all unused imports"]
    assert actions[0].kind == "source.fixAll.drain-ls"
    text = session.apply(uri, actions[0].edit)
    assert "json" not in text.replace('"""', "").split("def")[0].split("\n", 1)[1]
    assert "import os  # é\n" in text and "sys" not in text
    compile(text, "sample.py", "exec")
    # What is left is clean.
    version = session.change(uri, None, text)
    assert version == 2
    assert [d.code for d in await session.diagnostics(uri)] == ["D103"]


async def test_insert_docstring_and_ignore_on_this_line(session: Session) -> None:
    uri = session.open("sample.py", SAMPLE)
    await session.diagnostics(uri)
    actions = await session.actions(uri, range_of(SAMPLE, "grüße", session.encoding))
    titles = [a.title for a in actions if a.kind == types.CodeActionKind.QuickFix]
    assert titles == ["Insert docstring", "Ignore `D103` on this line"]
    documented = session.apply(uri, actions[0].edit)
    compile(documented, "sample.py", "exec")
    assert '    """' in documented and "名前 (str" in documented
    ignored = session.apply(uri, actions[1].edit)
    assert 'def grüße(名前: str = "😀") -> str:  # noqa: D103' in ignored

    session.change(uri, None, documented)
    assert "D103" not in [d.code for d in await session.diagnostics(uri)]


async def test_ignore_extends_an_existing_noqa(session: Session) -> None:
    text = "import os  # noqa: E501\n"
    uri = session.open("m.py", text)
    await session.diagnostics(uri)
    actions = await session.actions(uri, range_of(text, "os", session.encoding))
    ignore = next(a for a in actions if a.title == "Ignore `F401` on this line")
    assert session.apply(uri, ignore.edit) == "import os  # noqa: E501, F401\n"


async def test_incremental_edits_make_a_finding_appear_and_disappear(session: Session) -> None:
    text = '"""Doc."""\nimport os\n\nprint(os.sep)  # 中😀\n'
    uri = session.open("inc.py", text)
    assert await session.diagnostics(uri) == []
    # Delete the use: "os" after "print(" becomes unused.
    use = range_of(text, "os.sep", session.encoding)
    session.change(uri, use, "1")
    diagnostics = await session.diagnostics(uri)
    assert [(d.code, d.range.start.line) for d in diagnostics] == [("F401", 1)]
    # Type it back, one character at a time, after the emoji on the same line.
    current = session.texts[uri]
    at = current.index("1)")
    session.change(uri, range_of(current, "1", session.encoding), "")
    for i, ch in enumerate("os.sep"):
        pos = position_of(session.texts[uri], at + i, session.encoding)
        session.change(uri, types.Range(start=pos, end=pos), ch)
    assert session.texts[uri] == text
    assert await session.diagnostics(uri) == []


async def test_hover_shows_signature_docstring_size_and_complexity(session: Session) -> None:
    text = 'def f(a: int, b=2) -> int:\n    """Add them."""\n    if a:\n        return a + b\n    return b\n\n\nclass Ünïcode:\n    pass\n'
    uri = session.open("h.py", text)
    hover = await session.client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=position_of(text, text.index("f(") + 1, session.encoding),
        )
    )
    assert hover is not None
    assert isinstance(hover.contents, types.MarkupContent)
    value = hover.contents.value
    assert "def f(a: int, b=2) -> int" in value
    assert "Add them." in value
    assert "5 lines" in value
    assert "cyclomatic complexity 2" in value
    assert hover.range == range_of(text, "f(", session.encoding).__class__(
        start=position_of(text, 4, session.encoding), end=position_of(text, 5, session.encoding)
    )

    hover = await session.client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=position_of(text, text.index("Ünïcode") + 3, session.encoding),
        )
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert "class Ünïcode" in hover.contents.value
    assert "no docstring" in hover.contents.value
    assert hover.range == range_of(text, "Ünïcode", session.encoding)

    nothing = await session.client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=2, character=4),
        )
    )
    assert nothing is None


async def test_configuration_changes_apply(session: Session) -> None:
    uri = session.open("sample.py", SAMPLE)
    assert {d.code for d in await session.diagnostics(uri)} == {"F401", "D103"}
    session.client.set_configuration({"select": ["D"]}, section="drainLs")
    session.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"drainLs": {"select": ["D"]}})
    )
    for _ in range(500):
        if {d.code for d in await session.latest(uri)} == {"D103"}:
            break
        await asyncio.sleep(0.02)
    assert {d.code for d in await session.latest(uri)} == {"D103"}


async def test_bad_setting_is_named_in_a_warning_and_the_default_used(session: Session) -> None:
    session.client.set_configuration({"idle": {"delayMs": "soon"}}, section="drainLs")
    session.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"drainLs": {"idle": {"delayMs": "soon"}}})
    )
    message = await wait_until(
        lambda: next((m for m in session.client.messages if "idle.delayMs" in m.message), None)
    )
    assert message.type == types.MessageType.Warning
    status = await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="drain.status")
    )
    assert status["settings"]["idle"]["delayMs"] == 2000


async def test_pyproject_settings_apply_and_client_settings_win(session: Session) -> None:
    # The fixture's workspace has no pyproject: the defaults hold.
    status = await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="drain.status")
    )
    assert status["settings"]["diagnostics"]["debounceMs"] == 0  # from initializationOptions
    assert status["positionEncoding"] == session.encoding


async def test_syntax_error_keeps_findings_elsewhere(session: Session) -> None:
    text = "import os\nimport sys\n\n\ndef f(:\n    return sys.argv\n"
    uri = session.open("broken.py", text)
    diagnostics = await session.diagnostics(uri)
    by_code = {}
    for d in diagnostics:
        by_code.setdefault(d.code, []).append(d)
    assert "E999" in by_code
    assert by_code["E999"][0].severity == types.DiagnosticSeverity.Error
    assert by_code["E999"][0].range.start.line == 4
    # "os" is unused whatever the broken function says; "sys" might be used by it.
    assert [d.message for d in by_code["F401"]] == ["`os` imported but unused"]


async def test_syntax_error_shows_at_once_and_is_analysed_once_the_user_pauses(
    session: Session,
) -> None:
    text = "import os\n\n\ndef fü():\n    return os.sep  # é\n"
    uri = session.open("typing.py", text)
    assert [d.code for d in await session.diagnostics(uri)] == ["D100", "D103"]
    # One edit adds an unused import and a broken definition at the end.
    end = position_of(text, len(text), session.encoding)
    version = session.change(uri, types.Range(start=end, end=end), "import re\ndef g(:\n")
    if not session.pull:
        # The first publication of this version comes at once: the syntax error, and the
        # findings of the last analysis, still where they were.
        await session.diagnostics(uri)
        first = next(
            p
            for p in session.client.published  # type: ignore[attr-defined]
            if p.uri == uri and p.version == version
        )
        assert [d.code for d in first.diagnostics] == ["D100", "D103", "E999"]
        assert first.diagnostics[1].range == range_of(text, "fü", session.encoding)

    # Once the user pauses, the version is analysed in full: the new import is unused.
    async def codes() -> list[str]:
        return sorted(str(d.code) for d in await session.latest(uri))

    for _ in range(100):
        if "F401" in await codes():
            break
        await asyncio.sleep(0.05)
    assert await codes() == ["D100", "D103", "E999", "F401"]
    f401 = next(d for d in await session.latest(uri) if d.code == "F401")
    assert f401.range.start.line == 5


async def test_large_file(session: Session) -> None:
    lines = ['"""A big module."""', "import os", ""]
    for i in range(20_000 // 3):
        lines += [f"def f{i}(x):", f"    return x + {i}  # é", ""]
    text = "\n".join(lines) + "\n"
    uri = session.open("big.py", text)
    diagnostics = await session.diagnostics(uri)
    assert sum(1 for d in diagnostics if d.code == "D103") == 20_000 // 3
    assert any(d.code == "F401" for d in diagnostics)
    last = f"f{20_000 // 3 - 1}"
    pos = position_of(text, text.index(f"def {last}") + 4, session.encoding)
    session.change(uri, types.Range(start=pos, end=pos), "x")
    diagnostics = await session.diagnostics(uri)
    renamed = [d for d in diagnostics if d.code == "D103" and d.range.start == pos]
    assert len(renamed) == 1
    assert renamed[0].range.end.character == pos.character + len("x" + last)


async def test_nul_byte_file_gets_no_findings_and_server_lives(session: Session) -> None:
    uri = session.open("nul.py", "import os\x00\n")
    assert await session.diagnostics(uri) == []
    status = await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="drain.status")
    )
    assert any(d["uri"] == uri for d in status["documents"])


async def test_out_of_range_edit_is_an_error_and_the_server_keeps_running(session: Session) -> None:
    text = "import os\n"
    uri = session.open("oor.py", text)
    await session.diagnostics(uri)
    bad = types.Range(
        start=types.Position(line=50, character=0), end=types.Position(line=51, character=0)
    )
    session.client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangePartial(range=bad, text="x")],
        )
    )
    message = await wait_until(
        lambda: next((m for m in session.client.messages if "ignored an edit" in m.message), None)
    )
    assert message.type == types.MessageType.Error
    assert "line 50" in message.message
    # Still serving.
    status = await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="drain.status")
    )
    assert status["documents"][0]["uri"] == uri


async def test_status_command_and_unknown_command(session: Session) -> None:
    uri = session.open("sample.py", SAMPLE)
    await session.diagnostics(uri)
    status = await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="drain.status")
    )
    json.dumps(status)
    assert status["findings"] == {"D103": 1, "F401": 2}
    assert status["documents"][0]["findings"] == 3
    assert status["diagnosticsMode"] == ("pull" if session.pull else "push")
    with pytest.raises(Exception, match="not defined"):
        await session.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="drain.noSuchCommand")
        )


async def test_closing_clears_diagnostics(session: Session) -> None:
    uri = session.open("sample.py", SAMPLE)
    await session.diagnostics(uri)
    session.client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    result = await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="drain.status")
    )
    assert result["documents"] == []
    if not session.pull:
        await wait_until(lambda: len(session.client.diagnostics.get(uri, [None])) == 0)


async def test_documents_past_the_tree_cache_still_answer(session: Session) -> None:
    # More documents than the server keeps trees for: the first one's tree is dropped and
    # comes back on demand, for code actions and hover alike.
    uris = [session.open(f"m{i}.py", SAMPLE) for i in range(40)]
    for uri in uris:
        await session.diagnostics(uri)
    first = uris[0]
    actions = await session.actions(first, range_of(SAMPLE, "grüße", session.encoding))
    assert "Insert docstring" in [a.title for a in actions]
    text = session.apply(first, actions[0].edit)
    compile(text, "m0.py", "exec")
    hover = await session.client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=first),
            position=range_of(SAMPLE, "grüße", session.encoding).start,
        )
    )
    assert hover is not None


async def test_the_size_limit_is_a_setting(tmp_path: Path) -> None:
    client = await start_server(tmp_path, {"diagnostics": {"debounceMs": 0, "maxFileBytes": 100}})
    try:
        uri = (tmp_path / "m.py").as_uri()
        text = "import os\n" * 20  # 200 bytes
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )
        await wait_until(lambda: uri in client.diagnostics)
        (only,) = client.diagnostics[uri]
        assert only.severity == types.DiagnosticSeverity.Information
        assert "200 bytes, over the limit of 100 (diagnostics.maxFileBytes)" in only.message
    finally:
        await client.shutdown_session()


async def test_a_file_of_open_named_escapes_is_answered_at_once(tmp_path: Path) -> None:
    """20,000 lines of ``x = "\\N{"``: tree-sitter-python's lexer read ahead from each to the
    end of the file (about 30 s to parse); the server gives it the escapes neutralized and
    answers with CPython's error on the first line, then a hover, well inside the wait."""
    client = await start_server(tmp_path, {"diagnostics": {"debounceMs": 0}})
    try:
        uri = (tmp_path / "m.py").as_uri()
        text = 'x = "\\N{"\n' * 20_000
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )
        await wait_until(lambda: uri in client.diagnostics)
        (error,) = [d for d in client.diagnostics[uri] if d.code == "E999"]
        assert error.message.endswith("malformed \\N character escape")
        assert (error.range.start.line, error.range.start.character) == (0, 5)
        hover = await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=10_000, character=0),
            )
        )
        assert hover is None
    finally:
        await client.shutdown_session()


@pytest.mark.parametrize("preset", list(CLIENTS))
async def test_a_change_right_behind_a_large_open_is_applied_after_it(
    tmp_path: Path, preset: str
) -> None:
    """A 3 MB file (over the limit: read as it arrives, never parsed) opened, and at once
    edited back under the limit, in the client's position encoding: the edit lands on the
    opened text (same bytes, same positions), and the request behind it is answered."""
    client = await start_server(
        tmp_path, {"diagnostics": {"debounceMs": 0, "maxFileBytes": 1_000_000}}, preset=preset
    )
    try:
        uri = (tmp_path / "m.py").as_uri()
        rows = 200_000
        text = "s = 'é中😀'\r\n" * rows + "import os\n"
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )
        # Erase everything up to the last quote of the last "s" line (in the client's
        # encoding): what is left is x = '' and the import.
        units = {"utf-8": 14, "utf-16": 9, "utf-32": 8}[CLIENTS[preset]]
        end = types.Position(line=rows - 1, character=units)
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(start=types.Position(line=0, character=0), end=end),
                        text="x = '",
                    )
                ],
            )
        )
        status = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="drain.status")
        )
        (document,) = [d for d in status["documents"] if d["uri"] == uri]
        # x = ''\r\nimport os\n: 18 bytes, 3 lines.
        assert (document["version"], document["bytes"], document["lines"]) == (2, 18, 3)
        report = await client.text_document_diagnostic_async(
            types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        assert isinstance(report, types.RelatedFullDocumentDiagnosticReport)
        (f401,) = [d for d in report.items if d.code == "F401"]
        assert f401.range.start == types.Position(line=1, character=7)
    finally:
        await client.shutdown_session()
