"""The ``openai`` backend in every place a backend is chosen (issue 20): the settings, the
engine's choice, ``drain-ls run --backend openai``, and the language server end to end, all
against the local fake OpenAI-compatible server (``tests/fake_openai.py``) through the real
``openai`` SDK."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from drain_ls.config import WorkspaceTrust, build_settings, resolve_settings
from drain_ls.engine.choices import (
    LOCAL_PRICE,
    MissingKey,
    choose_backend,
    consent_question,
)
from drain_ls.engine.file_tasks import tasks_for_file
from tests.fake_openai import FakeOpenAI
from tests.lsp_support import apply_workspace_edit, range_of, start_server, wait_until
from tests.test_drains_e2e import COMPLEX, SOURCE, Editor

MODEL = "qwen2.5-coder:7b"
DOCSTRING = '"""Add two numbers.\n\nArgs:\n    a: The first.\n    b: The second.\n"""'


def _settings(llm: dict[str, Any], **rest: Any) -> Any:
    settings, problems = build_settings({"llm": {"backend": "openai", **llm}, **rest})
    assert not problems, problems
    return settings


# -- the choice ----------------------------------------------------------------------------------


def test_a_local_endpoint_is_free_needs_no_key_and_keys_results_by_endpoint() -> None:
    choice = choose_backend(_settings({"model": MODEL}), {})
    assert (choice.name, choice.model, choice.local, choice.refused) == (
        "openai",
        MODEL,
        True,
        None,
    )
    assert choice.base_url == "http://localhost:11434/v1" and choice.price == LOCAL_PRICE
    assert choice.destination == "http://localhost:11434/v1"
    assert choice.cache_id == "openai http://localhost:11434/v1"
    other = choose_backend(_settings({"model": MODEL, "baseUrl": "http://127.0.0.1:8080/v1"}), {})
    assert other.cache_id != choice.cache_id
    # A price the user gives wins over $0.
    priced = _settings({"model": MODEL, "prices": {MODEL: {"input": 0.5, "output": 1}}})
    assert choose_backend(priced, {}).price.input == 0.5  # type: ignore[union-attr]


def test_a_remote_endpoint_needs_its_key_and_a_price() -> None:
    remote = _settings({"model": "gpt-9-nonesuch", "baseUrl": "https://api.openai.com/v1"})
    with pytest.raises(MissingKey, match=r"OPENAI_API_KEY for https://api\.openai\.com/v1"):
        choose_backend(remote, {}, headless=True)
    editor = choose_backend(remote, {})
    assert editor.name == "offline" and "OPENAI_API_KEY" in (editor.warning or "")
    keyed = choose_backend(remote, {"OPENAI_API_KEY": "sk-x"})
    assert keyed.name == "openai" and not keyed.local
    assert keyed.price is None and "gpt-9-nonesuch" in (keyed.refused or "")
    # Its own variable, named by llm.apiKeyEnv.
    named = _settings(
        {"model": MODEL, "baseUrl": "https://llm.example/v1", "apiKeyEnv": "MY_KEY", "local": True}
    )
    assert choose_backend(named, {"MY_KEY": "k"}, headless=True).local
    lan = _settings({"model": MODEL, "baseUrl": "http://192.168.1.20:11434/v1", "local": True})
    assert choose_backend(lan, {}, headless=True).price == LOCAL_PRICE


def test_a_base_url_that_is_not_http_is_refused_with_the_reason() -> None:
    choice = choose_backend(_settings({"model": MODEL, "baseUrl": "file:///etc/passwd"}), {})
    assert choice.refused is not None and "llm.baseUrl" in choice.refused


def test_a_repository_cannot_choose_the_endpoint_or_the_backend() -> None:
    workspace = {"llm": {"backend": "openai", "baseUrl": "http://evil.example/v1", "local": True}}
    settings, problems, _ = resolve_settings(workspace, {}, {})
    assert settings.llm.backend == "offline"
    assert settings.llm.base_url == "http://localhost:11434/v1" and not settings.llm.local
    assert len(problems) == 3


def test_the_consent_question_names_the_endpoint() -> None:
    settings = _settings({"model": MODEL, "baseUrl": "http://user:pw@10.0.0.5:8000/v1?x=1"})
    choice = choose_backend(settings, {"OPENAI_API_KEY": "k"})
    question = consent_question("/ws", settings, MODEL, WorkspaceTrust(), choice.destination)
    assert f"to http://10.0.0.5:8000/v1 ({MODEL})" in question and "pw" not in question


def test_the_same_code_through_another_backend_is_another_result(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(SOURCE)
    local = choose_backend(_settings({"model": MODEL}), {})
    settings = _settings({"model": MODEL})

    def keys(cache_id: str) -> set[str]:
        return {
            t.key for t in tasks_for_file(path, settings, MODEL, [], lambda k: None, None, cache_id)
        }

    assert keys(local.cache_id).isdisjoint(keys(""))
    assert keys(local.cache_id) == keys(local.cache_id)


# -- drain-ls run ------------------------------------------------------------------------------


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DRAIN_LS_HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    env.pop("OPENAI_API_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "drain_ls", "run", "proj", "--backend", "openai", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "m.py").write_text(SOURCE)
    return tmp_path


def test_drain_ls_run_through_a_local_server_costs_nothing(project: Path) -> None:
    def chats(server: FakeOpenAI) -> list[dict[str, Any]]:
        return [e for e in server.log if e["path"] == "/v1/chat/completions"]

    with FakeOpenAI(reply=lambda body: DOCSTRING) as fake:
        done = _run(project, "--base-url", fake.base_url, "--model", MODEL, "--yes", "--json")
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["model"] == MODEL
        assert summary["total"]["done"] == 2 and summary["total"]["costUsd"] == 0.0
        billed = sum(b.prompt_tokens + b.completion_tokens for b in fake.billed)
        assert summary["total"]["totalTokens"] == billed
        assert {json.loads(c["body"])["model"] for c in chats(fake)} == {MODEL}
        # The next run finds both answers in the results cache: nothing is asked again.
        again = _run(project, "--base-url", fake.base_url, "--model", MODEL, "--yes", "--json")
        assert json.loads(again.stdout)["total"]["cached"] == 2
        assert len(chats(fake)) == 2
    # Another server with a model of the same name: its own answers (keyed by endpoint).
    with FakeOpenAI(reply=lambda body: DOCSTRING) as other:
        third = _run(project, "--base-url", other.base_url, "--model", MODEL, "--yes", "--json")
        assert json.loads(third.stdout)["total"]["done"] == 2 and len(chats(other)) == 2


def test_drain_ls_run_says_which_models_the_server_has(project: Path) -> None:
    with FakeOpenAI() as fake:
        done = _run(project, "--base-url", fake.base_url, "--model", "nope:1b", "--yes", "--json")
        assert not [e for e in fake.log if e["path"] == "/v1/chat/completions"]
    summary = json.loads(done.stdout)
    assert summary["stopped"].startswith(
        f"model 'nope:1b' not found at {fake.base_url}; it has: qwen2.5-coder:7b, llama3.2:latest"
    )
    assert summary["total"]["deferred"] == 2 and summary["total"]["done"] == 0


def test_drain_ls_run_with_no_server_names_the_url(project: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"  # nothing listens there
    done = _run(project, "--base-url", url, "--model", MODEL, "--yes", "--json")
    summary = json.loads(done.stdout)
    assert (
        summary["stopped"]
        == f"no model server at {url}: start the model server or change llm.baseUrl"
    )
    assert summary["total"]["deferred"] == 2


def test_drain_ls_run_to_a_remote_endpoint_without_a_key_sends_nothing(project: Path) -> None:
    done = _run(project, "--base-url", "https://api.openai.com/v1", "--model", "gpt-4o")
    assert done.returncode == 2
    assert "no OPENAI_API_KEY for https://api.openai.com/v1" in done.stderr


# -- the language server ---------------------------------------------------------------------


def _editor_settings(url: str, **drains: Any) -> dict[str, Any]:
    return {
        "llm": {"enabled": True, "backend": "openai", "baseUrl": url, "model": MODEL},
        "idle": {"delayMs": 50},
        "diagnostics": {"debounceMs": 0},
        "drains": {"summaries": {"enabled": False}, **drains},
        "privacy": {"requireConsent": False},
    }


async def _start(root: Path, options: dict[str, Any]) -> Editor:
    env = {"DRAIN_LS_HOME": str(root / "home"), "XDG_CONFIG_HOME": str(root / "config")}
    return Editor(await start_server(root, options, env), root)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply=lambda body: DOCSTRING) as server:
        yield server


async def test_the_editor_inserts_a_docstring_written_by_a_local_model(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    editor = await _start(tmp_path, _editor_settings(fake.base_url))
    try:
        uri = editor.open("m.py", SOURCE)
        action = await editor.generated(uri)
        text = apply_workspace_edit(editor.texts[uri], uri, action.edit, "utf-16", 1)  # type: ignore[arg-type]
        assert '    """Add two numbers.\n\n    Args:\n        a: The first.' in text
        status = await editor.status()
        assert status["backend"] == "openai" and status["costUsd"] == 0.0
        assert status["consumedTokens"] == sum(
            b.prompt_tokens + b.completion_tokens for b in fake.billed
        )
    finally:
        await editor.client.shutdown_session()


async def test_summaries_simplify_and_a_custom_drain_through_a_local_model(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    def reply(body: dict[str, Any]) -> str:
        system = body["messages"][0]["content"]
        if "summarize" in system:
            return "Routes a value by kind. Watch the fall-through."
        if "TODO" in system:
            return "No TODOs."
        return "Replace the elif chain with a dict of handlers."

    fake.reply = reply
    todo = {
        "name": "todo",
        "prompt": "List the TODOs.",
        "scope": "function",
        "output": "diagnostic",
    }
    options = _editor_settings(
        fake.base_url, summaries={"enabled": True}, docstrings={"enabled": False}, custom=[todo]
    )
    editor = await _start(tmp_path, options)
    try:
        uri = editor.open("c.py", COMPLEX)

        def by_code() -> dict[str, str]:
            return {
                str(d.code): d.message
                for d in editor.client.diagnostics.get(uri, [])
                if d.source == "drain-ls" and d.code in ("simplify", "todo")
            }

        await wait_until(lambda: len(by_code()) == 2, timeout=30)
        assert by_code() == {
            "simplify": "Simplify: Replace the elif chain with a dict of handlers.",
            "todo": "todo: No TODOs.",
        }
        for _ in range(500):
            hover = await editor.client.text_document_hover_async(
                types.HoverParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    position=range_of(COMPLEX, "route", "utf-16").start,
                )
            )
            value = hover.contents.value if hover is not None else ""  # type: ignore[union-attr]
            if "Summary" in value:
                break
            await asyncio.sleep(0.01)
        assert "**Summary** — Routes a value by kind. Watch the fall-through." in value
        assert MODEL in value
    finally:
        await editor.client.shutdown_session()


async def test_a_keystroke_closes_the_local_stream(tmp_path: Path, fake: FakeOpenAI) -> None:
    fake.scenarios = ["hang"]
    editor = await _start(tmp_path, _editor_settings(fake.base_url))
    try:
        uri = editor.open("m.py", SOURCE)
        await wait_until(lambda: [e for e in fake.log if e["scenario"] == "hang"])
        await asyncio.sleep(0.1)
        editor.change(uri, "return a + b", "# typing\n    ")
        await wait_until(lambda: fake.disconnects)
        action = await editor.generated(uri)  # at the next idle time, on the new text
        assert action.edit is not None
    finally:
        await editor.client.shutdown_session()


async def test_a_server_started_later_is_found_and_the_status_names_it_meanwhile(
    tmp_path: Path,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    editor = await _start(tmp_path, _editor_settings(url))
    try:
        uri = editor.open("m.py", SOURCE)

        async def reason() -> str:
            return str((await editor.status()).get("reason", ""))

        for _ in range(500):
            if (await reason()).startswith(f"no model server at {url}"):
                break
            await asyncio.sleep(0.02)
        assert (await reason()).startswith(
            f"no model server at {url}: start the model server or change llm.baseUrl"
        )
        assert (await editor.status())["state"] == "paused"
        from tests.local_http import LocalServer

        server = FakeOpenAI(reply=lambda body: DOCSTRING)
        server.server = LocalServer(server, port=port)
        try:
            action = await editor.generated(uri)  # found at a later check, then answered
            assert action.edit is not None
        finally:
            server.server.close()
    finally:
        await editor.client.shutdown_session()


@pytest.mark.parametrize(
    ("scenario", "kind"), [("429", "rate-limited"), ("midstream", "failed"), ("503", "failed")]
)
async def test_429_503_and_a_midstream_error_are_tried_again(
    tmp_path: Path, fake: FakeOpenAI, scenario: str, kind: str
) -> None:
    fake.scenarios = [scenario]
    fake.retry_after = "0.3"
    editor = await _start(tmp_path, _editor_settings(fake.base_url))
    try:
        uri = editor.open("m.py", SOURCE)
        await editor.generated(uri)
        chats = [e for e in fake.log if e["path"] == "/v1/chat/completions"]
        assert [e["scenario"] for e in chats] == [scenario, "ok"]
        status = await editor.status()
        assert status["completed"] == 1 and status["failed"] == 1
    finally:
        await editor.client.shutdown_session()


async def test_a_request_larger_than_the_context_window_is_never_sent(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    fake.num_ctx = 64  # Ollama: a Modelfile's PARAMETER num_ctx 64
    editor = await _start(tmp_path, _editor_settings(fake.base_url))
    try:
        editor.open("m.py", SOURCE)

        async def note() -> str:
            return str((await editor.status()).get("reason", ""))

        for _ in range(500):
            if "context window" in await note():
                break
            await asyncio.sleep(0.02)
        assert "more than the model's context window (64)" in await note()
        assert not [e for e in fake.log if e["path"] == "/v1/chat/completions"]
    finally:
        await editor.client.shutdown_session()


def test_a_dry_run_shows_a_remote_model_s_requests_without_its_key(project: Path) -> None:
    (project / "home").mkdir()
    (project / "home" / "config.toml").write_text(
        '[llm]\nprices = { "gpt-nonesuch" = { input = 2.0, output = 8.0 } }\n'
    )
    done = _run(
        project,
        "--base-url",
        "https://api.openai.com/v1",
        "--model",
        "gpt-nonesuch",
        "--dry-run",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    previews = json.loads(done.stdout)["previews"]
    assert {p["model"] for p in previews} == {"gpt-nonesuch"} and len(previews) == 2
    assert all(p["worstCaseUsd"] > 0 for p in previews)


async def test_the_editor_previews_a_local_model_s_requests_at_no_cost(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    fake.default = "hang"
    editor = await _start(tmp_path, _editor_settings(fake.base_url))
    try:
        uri = editor.open("m.py", SOURCE)
        preview = await editor.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="drain.preview", arguments=[uri, "docstrings"])
        )
        assert "error" not in preview, preview
        [entry] = preview["previews"]
        assert entry["worstCaseUsd"] == 0 and entry["worstCaseTokens"] > 0
        assert preview["backend"] == "openai"
    finally:
        await editor.client.shutdown_session()


def test_show_names_the_endpoint_of_a_local_model_s_results(project: Path) -> None:
    with FakeOpenAI(reply=lambda body: DOCSTRING) as fake:
        flags = ["--base-url", fake.base_url, "--model", MODEL]
        done = _run(project, *flags, "--yes", "--diff")
        assert done.returncode == 1 and '+    """Add two numbers.' in done.stdout
        env = {**os.environ, "DRAIN_LS_HOME": str(project / "home")}
        show_flags = ["--backend", "openai", *flags]
        shown = subprocess.run(
            [sys.executable, "-m", "drain_ls", "show", "proj/m.py:add", "--json", *show_flags],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert shown.returncode == 0, shown.stderr
    [definition] = json.loads(shown.stdout)["definitions"]
    results = {r["drain"]: r for r in definition["results"]}
    assert not results["docstrings"]["stale"]
    assert results["docstrings"]["backend"] == f"openai {fake.base_url}"
    assert results["docstrings"]["model"] == MODEL


async def test_an_unknown_model_is_named_with_the_models_the_server_has(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    options = _editor_settings(fake.base_url)
    options["llm"]["model"] = "nope:1b"
    editor = await _start(tmp_path, options)
    try:
        editor.open("m.py", SOURCE)
        expected = (
            f"model 'nope:1b' not found at {fake.base_url}; "
            "it has: qwen2.5-coder:7b, llama3.2:latest"
        )

        async def reason() -> str:
            return str((await editor.status()).get("reason", ""))

        for _ in range(500):
            if (await reason()).startswith(expected):
                break
            await asyncio.sleep(0.02)
        assert (await reason()).startswith(expected)
        assert (await editor.status())["state"] == "paused"
        assert not [e for e in fake.log if e["path"] == "/v1/chat/completions"]
    finally:
        await editor.client.shutdown_session()
