"""The drain engine end to end: a real server, the real SDK, the local fake of the API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from tests.fake_anthropic import FakeAnthropic
from tests.lsp_support import (
    apply_workspace_edit,
    fake_api_env,
    range_of,
    server_config,
    start_server,
    wait_until,
)

SOURCE = '''"""A module."""


def add(a, b):
    return a + b
'''
DOCSTRING = '"""Add two numbers.\n\nArgs:\n    a: The first.\n    b: The second.\n"""'


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(reply=lambda body: DOCSTRING) as api:
        yield api


def settings(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "llm": {"enabled": True, "backend": "anthropic", "model": "claude-haiku-4-5"},
        "idle": {"delayMs": 50},
        "diagnostics": {"debounceMs": 0},
        "drains": {"summaries": {"enabled": False}},
        "privacy": {"requireConsent": False},
    }
    for key, value in overrides.items():
        base[key] = {**base.get(key, {}), **value}
    return base


class Editor:
    """One server process and the documents open in it."""

    def __init__(self, client: LanguageClient, root: Path) -> None:
        self.client = client
        self.root = root
        self.texts: dict[str, str] = {}
        self.versions: dict[str, int] = {}

    def open(self, name: str, text: str) -> str:
        uri = (self.root / name).as_uri()
        self.texts[uri], self.versions[uri] = text, 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )
        return uri

    def change(self, uri: str, at: str, new: str) -> None:
        """Insert ``new`` before the first ``at``."""
        text = self.texts[uri]
        position = range_of(text, at, "utf-16").start
        index = text.index(at)
        self.texts[uri] = text[:index] + new + text[index:]
        self.versions[uri] += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=uri, version=self.versions[uri]
                ),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(start=position, end=position), text=new
                    )
                ],
            )
        )

    async def actions(self, uri: str, at: str) -> list[types.CodeAction]:
        result = await self.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=range_of(self.texts[uri], at, "utf-16"),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        return [a for a in result or [] if isinstance(a, types.CodeAction)]

    async def generated(self, uri: str, at: str = "add") -> types.CodeAction:
        async def poll() -> types.CodeAction | None:
            for action in await self.actions(uri, at):
                if action.title == "Insert generated docstring":
                    return action
            return None

        for _ in range(1500):
            action = await poll()
            if action is not None:
                return action
            await asyncio.sleep(0.01)
        raise AssertionError("no generated docstring was offered")

    async def status(self) -> dict[str, Any]:
        result = await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="drain.status")
        )
        return dict(result["drains"])


async def start(root: Path, fake: FakeAnthropic, home: Path, options: dict[str, Any]) -> Editor:
    env = fake_api_env(fake.url, home, "sk-ant-test-canary-0123456789")
    return Editor(await start_server(root, options, env), root)


@pytest.fixture
async def editor(tmp_path: Path, fake: FakeAnthropic) -> AsyncIterator[Editor]:
    session = await start(tmp_path, fake, tmp_path / "home", settings())
    yield session
    await session.client.shutdown_session()


async def test_generated_docstring_is_offered_and_applied(
    editor: Editor, fake: FakeAnthropic
) -> None:
    uri = editor.open("m.py", SOURCE)
    action = await editor.generated(uri)
    text = apply_workspace_edit(editor.texts[uri], uri, action.edit, "utf-16", 1)  # type: ignore[arg-type]
    assert '    """Add two numbers.\n\n    Args:\n        a: The first.' in text
    compile(text, "m.py", "exec")
    # One request, scoped to the function, the file's outline first; no cache breakpoint
    # (one drain on a small file: nothing to read it back, and under the model's minimum).
    [request] = [json.loads(entry["body"]) for entry in fake.log]
    assert "def add(a, b):\n    return a + b" in request["messages"][0]["content"]
    assert "cache_control" not in json.dumps(request)
    assert "docstrings" in request["system"][-1]["text"]
    status = await editor.status()
    assert status["completed"] == 1
    assert status["consumedTokens"] == sum(
        b.input_tokens + b.output_tokens + b.cache_read_tokens + b.cache_write_tokens
        for b in fake.billed
    )


async def test_keystroke_during_a_slow_stream_closes_the_connection_and_the_task_runs_again(
    editor: Editor, fake: FakeAnthropic
) -> None:
    fake.scenarios = ["hang"]
    uri = editor.open("m.py", SOURCE)
    await wait_until(lambda: len(fake.log) == 1)
    await asyncio.sleep(0.1)  # the stream is open and waiting
    editor.change(uri, "return a + b", "# typing\n    ")
    await wait_until(lambda: fake.disconnects)
    assert fake.disconnects[0]["id"] == fake.log[0]["id"]
    # At the next idle time the task runs again, on the new text, and completes.
    action = await editor.generated(uri)
    assert action.edit is not None
    assert len(fake.log) == 2
    assert "# typing" in json.loads(fake.log[1]["body"])["messages"][0]["content"]
    status = await editor.status()
    assert status["cancelled"] == 1 and status["wastedTokens"] > 0


async def test_rate_limit_pauses_then_resumes(editor: Editor, fake: FakeAnthropic) -> None:
    fake.scenarios = ["429"]
    fake.retry_after = 0.4
    uri = editor.open("m.py", SOURCE)
    await editor.generated(uri)
    assert [entry["scenario"] for entry in fake.log] == ["429", "ok"]
    assert fake.log[1]["time"] - fake.log[0]["time"] >= 0.4


async def test_a_budget_that_runs_out_stops_the_drains_with_a_reason(
    tmp_path: Path, fake: FakeAnthropic
) -> None:
    editor = await start(
        tmp_path,
        fake,
        tmp_path / "home",
        # One run reserves about 730 tokens and bills about 130: a second one cannot fit.
        settings(budget={"dailyTokens": 800, "maxTokensPerDrain": 1_200}),
    )
    try:
        uri = editor.open("m.py", SOURCE + "\n\ndef sub(a, b):\n    return a - b\n")
        await wait_until(lambda: len(fake.log) >= 1)

        async def stopped() -> dict[str, Any] | None:
            status = await editor.status()
            return status if status["state"] == "over-budget" else None

        for _ in range(500):
            status = await stopped()
            if status:
                break
            await asyncio.sleep(0.01)
        assert status is not None
        assert "budget.dailyTokens" in status["reason"]
        assert len(fake.log) == 1  # the second request was never sent
        assert uri
    finally:
        await editor.client.shutdown_session()


async def test_a_restart_reuses_cached_results_without_a_request(
    tmp_path: Path, fake: FakeAnthropic
) -> None:
    home = tmp_path / "home"
    first = await start(tmp_path, fake, home, settings())
    uri = first.open("m.py", SOURCE)
    await first.generated(uri)
    await first.client.shutdown_session()
    assert len(fake.log) == 1
    second = await start(tmp_path, fake, home, settings())
    try:
        uri = second.open("m.py", SOURCE)
        await second.generated(uri)
        assert len(fake.log) == 1
        assert (await second.status())["cacheHits"] == 1
    finally:
        await second.client.shutdown_session()


async def test_offline_backend_needs_no_key_and_sends_nothing(
    tmp_path: Path, fake: FakeAnthropic
) -> None:
    editor = await start(tmp_path, fake, tmp_path / "home", settings(llm={"backend": "offline"}))
    try:
        uri = editor.open("m.py", SOURCE)
        action = await editor.generated(uri)
        text = apply_workspace_edit(editor.texts[uri], uri, action.edit, "utf-16", 1)  # type: ignore[arg-type]
        assert '    """TODO: Summarize `add`.' in text
        assert fake.log == []
        assert (await editor.status())["backend"] == "offline"
    finally:
        await editor.client.shutdown_session()


COMPLEX = '''"""A module."""


def route(kind, value):
    """Pick a handler."""
    if kind == 1:
        return value
    elif kind == 2:
        return value * 2
    elif kind == 3:
        return value * 3
    elif kind == 4:
        return value * 4
    elif kind == 5 and value:
        return value * 5
    for x in range(value):
        if x and kind or value:
            return x
    return None
'''


async def test_summary_in_hover_and_simplify_as_information(
    tmp_path: Path, fake: FakeAnthropic
) -> None:
    def reply(body: dict[str, Any]) -> str:
        system = body["system"][-1]["text"]  # the drain's instructions, after the context
        if "summarize" in system:
            return "Routes a value by kind. Watch the fall-through."
        return "Replace the elif chain with a dict of handlers."

    fake.reply = reply
    editor = await start(
        tmp_path, fake, tmp_path / "home", settings(drains={"summaries": {"enabled": True}})
    )
    try:
        uri = editor.open("c.py", COMPLEX)

        def information() -> list[types.Diagnostic]:
            return [
                d
                for d in editor.client.diagnostics.get(uri, [])
                if d.severity == types.DiagnosticSeverity.Information
            ]

        await wait_until(information)
        [diagnostic] = information()
        assert diagnostic.code == "simplify"
        assert diagnostic.message == "Simplify: Replace the elif chain with a dict of handlers."
        assert diagnostic.range == range_of(COMPLEX, "route", "utf-16")

        async def hover() -> str:
            result = await editor.client.text_document_hover_async(
                types.HoverParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    position=range_of(COMPLEX, "route", "utf-16").start,
                )
            )
            assert result is not None and isinstance(result.contents, types.MarkupContent)
            return result.contents.value

        for _ in range(500):
            value = await hover()
            if "Summary" in value:
                break
            await asyncio.sleep(0.01)
        assert "**Summary** — Routes a value by kind. Watch the fall-through." in value
        assert "claude-haiku-4-5" in value and "tokens" in value and "$" in value
        # An edit inside the function: the summary no longer describes this code (and the
        # new requests it causes never finish here).
        fake.default = "hang"
        editor.change(uri, "return None", "x = 1\n    ")
        await wait_until(lambda: not information())
        assert "Summary" not in await hover()
    finally:
        await editor.client.shutdown_session()


async def test_overloaded_api_backs_off_and_resumes(editor: Editor, fake: FakeAnthropic) -> None:
    fake.scenarios = ["529", "midstream"]
    uri = editor.open("m.py", SOURCE)
    await editor.generated(uri)
    assert [entry["scenario"] for entry in fake.log] == ["529", "midstream", "ok"]
    status = await editor.status()
    assert status["failed"] == 2 and status["completed"] == 1


def _field(value: Any, name: str) -> Any:
    return value[name] if isinstance(value, dict) else getattr(value, name)


async def test_status_notifications_and_progress_for_each_run(
    editor: Editor, fake: FakeAnthropic
) -> None:
    uri = editor.open("m.py", SOURCE)
    await editor.generated(uri)
    statuses = editor.client.drain_statuses  # type: ignore[attr-defined]
    await wait_until(
        lambda: any(_field(s, "state") == "idle" and _field(s, "consumedTokens") for s in statuses)
    )
    states = [_field(s, "state") for s in statuses]
    assert "running" in states
    last = statuses[-1]
    assert _field(last, "budgetTokens") == 180_000
    assert _field(last, "costUsd") > 0
    # One progress bar for the run: begin with the drain and scope, end with the cost.
    await wait_until(
        lambda: any(
            any(isinstance(v, types.WorkDoneProgressEnd) for v in values)
            for values in editor.client.progress_reports.values()
        )
    )
    [values] = [v for v in editor.client.progress_reports.values() if v]
    assert isinstance(values[0], types.WorkDoneProgressBegin)
    assert values[0].title == "drain-ls docstrings: add"
    assert isinstance(values[-1], types.WorkDoneProgressEnd)
    assert values[-1].message is not None and values[-1].message.startswith("done: ")
    assert "$" in values[-1].message


async def test_cancelling_the_progress_cancels_the_drain(
    editor: Editor, fake: FakeAnthropic
) -> None:
    fake.scenarios = ["hang"]
    fake.default = "hang"
    editor.open("m.py", SOURCE)
    await wait_until(lambda: editor.client.progress_reports)
    await wait_until(
        lambda: any(
            isinstance(v, types.WorkDoneProgressBegin)
            for values in editor.client.progress_reports.values()
            for v in values
        )
    )
    [token] = list(editor.client.progress_reports)
    # The bar begins when the drain starts, a moment before its request goes out: cancel
    # once the request hangs in the API, so that there is a stream to close.
    await wait_until(lambda: fake.log)
    editor.client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    await wait_until(lambda: fake.disconnects)
    assert fake.disconnects[0]["id"] == fake.log[0]["id"]
    # The API sees the connection close before the server has counted the cancel (it does
    # once the cancelled stream has unwound): wait for the count, never for a fixed time.
    for _ in range(500):
        if (await editor.status())["cancelled"] >= 1:
            break
        await asyncio.sleep(0.01)
    assert (await editor.status())["cancelled"] >= 1


async def test_report_totals_equal_what_the_api_billed(tmp_path: Path, fake: FakeAnthropic) -> None:
    home = tmp_path / "home"
    editor = await start(tmp_path, fake, home, settings())
    try:
        uri = editor.open("m.py", SOURCE + "\n\ndef sub(a, b):\n    return a - b\n")
        await editor.generated(uri)
        await editor.generated(uri, "sub")
        report = await editor.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="drain.report", arguments=[7])
        )
        status = await editor.status()
    finally:
        await editor.client.shutdown_session()
    total = report["total"]
    # The status line's "cost today" is the ledger's, across sessions.
    assert status["costTodayUsd"] == pytest.approx(total["costUsd"], abs=1e-6)
    assert status["costTodayUsd"] > 0
    assert total["tokens"]["input"] == sum(b.input_tokens for b in fake.billed)
    assert total["tokens"]["output"] == sum(b.output_tokens for b in fake.billed)
    assert total["tokens"]["cacheRead"] == sum(b.cache_read_tokens for b in fake.billed)
    assert total["tokens"]["cacheWrite"] == sum(b.cache_write_tokens for b in fake.billed)
    assert total["completed"] == 2
    assert report["topDrains"][0]["drain"] == "docstrings"
    assert report["budgetLeftToday"]["tokens"] < 500_000

    # The same numbers from the command line, and a readable table.
    import os
    import subprocess
    import sys

    env = {**os.environ, "DRAIN_LS_HOME": str(home)}
    cli = subprocess.run(
        [sys.executable, "-m", "drain_ls", "report", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert json.loads(cli.stdout)["total"] == total
    table = subprocess.run(
        [sys.executable, "-m", "drain_ls", "report", "--days", "2"],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "160"},
        timeout=60,
    )
    assert table.returncode == 0
    assert "tokens per day" in table.stdout and "budget left today" in table.stdout


AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
CANARY = "canary-5b7e2f9c1d"
API_KEY = "sk-ant-test-canary-0123456789"


async def test_nothing_secret_leaves_the_machine(tmp_path: Path, fake: FakeAnthropic) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("ignored.py\n")
    (tmp_path / ".env").write_text(f"TOKEN={CANARY}\n")
    log_file = tmp_path / "server.log"
    config = server_config(
        {
            "ANTHROPIC_BASE_URL": fake.url,
            "ANTHROPIC_API_KEY": API_KEY,
            "DRAIN_LS_HOME": str(tmp_path / "home"),
        }
    )
    config.server_command.extend(["--log-file", str(log_file), "--log-level", "DEBUG"])
    client = await config.start()
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=tmp_path.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=tmp_path.as_uri(), name="ws")],
            initialization_options=settings(),
        )
    )
    editor = Editor(client, tmp_path)
    try:
        ignored = editor.open(
            "ignored.py", f'SECRET = "{CANARY}"\n\n\ndef leak():\n    return SECRET\n'
        )
        source = (
            f'"""App."""\n\n\ndef connect(region):\n    key = "{AWS_KEY}"\n    return key, region\n'
        )
        uri = editor.open("app.py", source)
        action = await editor.generated(uri, "connect")
        assert action.edit is not None
        assert not [a for a in await editor.actions(ignored, "leak") if "generated" in a.title]
    finally:
        await client.shutdown_session()
    sent = "\n".join(entry["body"] + json.dumps(entry["headers"]) for entry in fake.log)
    assert fake.log and all("ignored.py" not in e["body"] for e in fake.log)
    assert CANARY not in sent
    assert AWS_KEY not in sent
    assert "<redacted: AWS access key>" in sent
    # The API key reaches the API (its auth header) and nowhere else.
    assert any(API_KEY in json.dumps(e["headers"]) for e in fake.log)
    assert API_KEY not in log_file.read_text()
    for path in (tmp_path / "home").iterdir():
        assert API_KEY.encode() not in path.read_bytes()
        assert b"def connect" not in path.read_bytes()  # no prompt bodies in the ledger
    messages = json.dumps([m.message for m in client.log_messages + client.messages])
    assert API_KEY not in messages and CANARY not in messages


@pytest.mark.parametrize(
    ("answer", "sent", "asked_again"),
    [
        ("Allow", True, False),
        ("Allow once", True, True),
        ("Never", False, False),
        (None, False, True),
    ],
)
async def test_consent_is_asked_and_remembered_per_workspace(
    tmp_path: Path, fake: FakeAnthropic, answer: str | None, sent: bool, asked_again: bool
) -> None:
    home = tmp_path / "home"
    options = settings(privacy={"requireConsent": True})
    first = await start(tmp_path, fake, home, options)
    first.client.answer = answer  # type: ignore[attr-defined]
    try:
        uri = first.open("m.py", SOURCE)
        await wait_until(lambda: first.client.questions)  # type: ignore[attr-defined]
        [question] = first.client.questions  # type: ignore[attr-defined]
        assert str(tmp_path) in question.message and "claude-haiku-4-5" in question.message
        assert [a.title for a in question.actions or []] == ["Allow", "Allow once", "Never"]
        if sent:
            await first.generated(uri)
        else:
            status = await first.status()
            for _ in range(200):
                if status["state"] in ("disabled", "over-budget") and status["reason"]:
                    break
                await asyncio.sleep(0.01)
                status = await first.status()
            assert "consent" in status["reason"] or "refused" in status["reason"]
            assert fake.log == []
    finally:
        await first.client.shutdown_session()
    second = await start(tmp_path, fake, home, options)
    second.client.answer = None  # type: ignore[attr-defined]
    try:
        # New code: a cached result would need no request, and so no question.
        second.open("n.py", SOURCE.replace("add", "mul").replace("+", "*"))
        if asked_again:
            await wait_until(lambda: second.client.questions)  # type: ignore[attr-defined]
        else:
            await asyncio.sleep(0.5)
            assert second.client.questions == []  # type: ignore[attr-defined]
        assert bool(fake.log) == sent
    finally:
        await second.client.shutdown_session()


async def test_dismissed_suggestions_never_come_back(tmp_path: Path, fake: FakeAnthropic) -> None:
    home = tmp_path / "home"
    editor = await start(tmp_path, fake, home, settings())
    try:
        uri = editor.open("m.py", SOURCE)
        await editor.generated(uri)
        raw = await editor.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=range_of(SOURCE, "add", "utf-16"),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        # lsprotocol's client reads a code action that carries a command as a bare Command
        # (and mangles it): check the action is offered, then run what it runs.
        assert "Dismiss this suggestion (docstrings)" in [a.title for a in raw or []]
        result = await editor.client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="drain.dismiss", arguments=[uri, "docstrings", "add"]
            )
        )
        assert result["dismissed"] is True
        titles = [a.title for a in await editor.actions(uri, "add")]
        assert "Insert generated docstring" not in titles
    finally:
        await editor.client.shutdown_session()
    again = await start(tmp_path, fake, home, settings())
    try:
        uri = again.open("m.py", SOURCE)
        await asyncio.sleep(0.5)
        assert "Insert generated docstring" not in [
            a.title for a in await again.actions(uri, "add")
        ]
        assert len(fake.log) == 1
    finally:
        await again.client.shutdown_session()


async def test_preview_shows_exactly_what_would_be_sent_and_sends_nothing(
    editor: Editor, fake: FakeAnthropic
) -> None:
    fake.default = "hang"
    source = (
        '"""App."""\n\n\ndef connect(region):\n    key = "AKIAIOSFODNN7EXAMPLE"\n    return key\n'
    )
    uri = editor.open("app.py", source)
    before = len(fake.log)
    preview = await editor.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="drain.preview", arguments=[uri, "docstrings"])
    )
    [entry] = preview["previews"]
    content = entry["request"]["messages"][0]["content"]
    assert "<redacted: AWS access key>" in content and "AKIA" not in content
    assert entry["redactions"] == [{"kind": "AWS access key", "line": 2}]
    assert entry["worstCaseTokens"] == entry["inputTokensEstimate"] + entry["request"]["max_tokens"]
    assert entry["worstCaseUsd"] > 0
    assert len(fake.log) == before  # the preview itself sent nothing


async def test_pause_resume_run_now_and_cancel_all(tmp_path: Path, fake: FakeAnthropic) -> None:
    editor = await start(tmp_path, fake, tmp_path / "home", settings(idle={"delayMs": 60_000}))
    try:

        async def command(name: str) -> dict[str, Any]:
            return dict(
                await editor.client.workspace_execute_command_async(
                    types.ExecuteCommandParams(command=name)
                )
            )

        paused = await command("drain.pause")
        assert paused["state"] == "paused" and "user" in paused["reason"]
        uri = editor.open("m.py", SOURCE)
        await command("drain.runNow")  # run now also lifts the pause
        fake.default = "hang"
        fake.scenarios = ["hang"]
        await wait_until(lambda: fake.log)  # no idle wait: the idle delay is a minute
        await wait_until(lambda: editor.client.drain_statuses)  # type: ignore[attr-defined]
        await asyncio.sleep(0.05)  # the stream is open
        cancelled = await command("drain.cancelAll")
        assert cancelled["cancelledNow"] == 1
        await wait_until(lambda: fake.disconnects)
        assert (await command("drain.resume"))["state"] in ("paused", "idle", "running")
        assert uri
    finally:
        await editor.client.shutdown_session()


async def test_claude_code_budget_source_counts_the_sessions_context(
    tmp_path: Path, fake: FakeAnthropic
) -> None:
    from drain_ls.claude_code import project_key

    config = tmp_path / "claude"
    directory = config / "projects" / project_key(tmp_path)
    directory.mkdir(parents=True)
    (directory / "s.jsonl").write_text(
        json.dumps(
            {
                "type": "assistant",
                "requestId": "r",
                "message": {
                    "id": "m",
                    "usage": {
                        "input_tokens": 1000,
                        "cache_creation_input_tokens": 2000,
                        "cache_read_input_tokens": 47000,
                    },
                },
            }
        )
        + "\n"
    )
    client = await server_config(
        {
            "ANTHROPIC_BASE_URL": fake.url,
            "ANTHROPIC_API_KEY": "sk-ant-test",
            "DRAIN_LS_HOME": str(tmp_path / "home"),
            "CLAUDE_CONFIG_DIR": str(config),
        }
    ).start()
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=tmp_path.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=tmp_path.as_uri(), name="ws")],
            initialization_options=settings(budget={"source": "claude-code"}),
        )
    )
    try:
        status = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="drain.status")
        )
        # 200,000-token window - 50,000 in use - 10% margin.
        assert status["drains"]["budgetTokens"] == 200_000 - 50_000 - 20_000
    finally:
        await client.shutdown_session()
