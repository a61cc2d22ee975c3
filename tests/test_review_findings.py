"""Review of issue 7 (custom drains, drain-ls run, deferred work, batches, pool, commit review).

Each test here fails on the code as reviewed and names the bug it shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any, ClassVar

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from drain_ls.analysis.source import parse
from drain_ls.backends.base import BackendError, DrainRequest, DrainResponse, Progress, RateLimits
from drain_ls.backends.offline import OfflineBackend
from drain_ls.budget import Limits, Usage, price_of
from drain_ls.cli.headless import HeadlessRun
from drain_ls.config import DrainsSettings, build_settings
from drain_ls.engine.custom import parse_custom_drains
from drain_ls.engine.file_tasks import tasks_for_file
from drain_ls.engine.scheduler import Scheduler
from drain_ls.engine.task_building import build_tasks
from drain_ls.ledger import Ledger, RunStatus
from tests.fake_anthropic import FakeAnthropic
from tests.lsp_support import server_config, wait_until

API_KEY = "sk-ant-test-review-findings-0123456789"
MODEL = "claude-haiku-4-5"
SOURCE = "def area(width, height):\n    return width * height\n"
DOCUMENTED = 'def area(width, height):\n    """The area."""\n    return width * height\n'


# -- helpers ----------------------------------------------------------------------------------


class ScriptedBackend:
    """A paid (not offline) backend whose answers the test scripts; counts its calls."""

    name = "scripted"

    def __init__(self, answer: Any) -> None:
        self.rate_limits = RateLimits()
        self.answer = answer  # callable(call_number) -> DrainResponse, or raises
        self.calls = 0

    async def complete(self, request: DrainRequest, progress: Progress) -> DrainResponse:
        self.calls += 1
        return self.answer(self.calls)

    async def close(self) -> None:
        return None


def truncated(_: int) -> DrainResponse:
    """An answer cut at max_tokens: billed, but never cached or shown."""
    return DrainResponse(
        "path.py:1: partial answer that ran out of", Usage(900, 700), "max_tokens", MODEL
    )


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
        env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"},
    )


def in_process_server(root: Path, ledger: Ledger, layer: dict[str, Any]) -> Any:
    """A DrainServer without a client: settings from ``layer``, ``root`` as its workspace."""
    from drain_ls.lsp.server import DrainServer

    server = DrainServer()
    settings, problems = build_settings(layer)
    assert not problems, problems
    server.settings = server.engine.settings = settings
    server.engine.custom_drains = list(settings.drains.custom.valid)
    server.engine.ledger = ledger
    server.engine.root = root
    server.engine.folders = [str(root)]
    server.workspace_root = lambda: root  # type: ignore[method-assign]
    server._workspace_paths = lambda: [str(root)]  # type: ignore[method-assign]
    return server


async def until(condition: Any, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def check_adds_up(summary: dict[str, Any]) -> None:
    for name, row in summary["drains"].items():
        parts = ("done", "cached", "failed", "deferred", "batched")
        assert row["tasks"] == sum(row[part] for part in parts), (name, row)


# -- 1. Message Batches are sent without consent, and after llm.batch is turned off ----------


def _seed_deferred(home: Path, root: Path) -> None:
    """A task deferred by an earlier session for a file that is not open now."""
    ledger = Ledger(home / "ledger.sqlite3")
    ledger.defer(
        drain="summaries",
        workspace=str(root.resolve()),
        scope_key="area",
        content_hash="0" * 32,
        estimated_tokens=300,
        reason="the editor closed before it ran",
        path=str(root / "mod.py"),
        model=MODEL,
        tier=2,
    )
    ledger.close()


async def _start(root: Path, env: dict[str, str], options: dict[str, Any]) -> LanguageClient:
    client = await server_config(env).start()
    assert isinstance(client, LanguageClient)
    try:
        await client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities("visual-studio-code"),
                root_uri=root.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="ws")],
                initialization_options=options,
            )
        )
    except BaseException:
        if client._server is not None and client._server.returncode is None:
            client._server.kill()
            await client._server.wait()
        await client.stop()
        raise
    return client


async def test_batches_are_never_sent_from_a_workspace_that_refused_consent(tmp_path: Path) -> None:
    """The user answered "Never" for this workspace: no code may leave, not even in a batch."""
    root = tmp_path / "ws"
    root.mkdir()
    (root / "mod.py").write_text(SOURCE)
    home = tmp_path / "home"
    _seed_deferred(home, root)
    consent = Ledger(home / "ledger.sqlite3")
    consent.remember_consent(str(root.resolve()), "never")
    consent.close()
    with FakeAnthropic(reply=lambda body: "Computes an area.") as fake:
        env = {
            "ANTHROPIC_BASE_URL": fake.url,
            "ANTHROPIC_API_KEY": API_KEY,
            "DRAIN_LS_HOME": str(home),
        }
        client = await _start(
            root,
            env,
            {
                "llm": {
                    "enabled": True,
                    "backend": "anthropic",
                    "batch": True,
                    "batchPollSeconds": 1,
                }
            },
        )
        try:
            with contextlib.suppress(TimeoutError):
                await wait_until(lambda: fake.batches, timeout=4)
        finally:
            await client.shutdown_session()
        sent = [r for batch in fake.batches.values() for r in batch.requests]
        assert sent == [], f"{len(sent)} request(s) with this workspace's code went out in a batch"


async def test_turning_llm_batch_off_stops_the_batch_loop(tmp_path: Path) -> None:
    """``llm.batch`` is the opt-in for a path zero data retention does not cover: turning it
    off must stop sending batches at once."""
    root = tmp_path / "ws"
    root.mkdir()
    (root / "mod.py").write_text(SOURCE)
    home = tmp_path / "home"
    with FakeAnthropic(reply=lambda body: "Computes an area.") as fake:
        env = {
            "ANTHROPIC_BASE_URL": fake.url,
            "ANTHROPIC_API_KEY": API_KEY,
            "DRAIN_LS_HOME": str(home),
        }
        options = {
            "llm": {"enabled": True, "backend": "anthropic", "batch": True, "batchPollSeconds": 1},
            "privacy": {"requireConsent": False},
        }
        client = await _start(root, env, options)
        try:
            off = {**options, "llm": {**options["llm"], "batch": False}}
            client.set_configuration(off, section="drainLs")
            client.workspace_did_change_configuration(
                types.DidChangeConfigurationParams(settings=None)
            )

            async def batch_setting() -> bool:
                status = await client.workspace_execute_command_async(
                    types.ExecuteCommandParams(command="drain.status")
                )
                return bool(status["settings"]["llm"]["batch"])

            for _ in range(200):
                if not await batch_setting():
                    break
                await asyncio.sleep(0.02)
            assert not await batch_setting()
            _seed_deferred(home, root)  # work deferred after the opt-out
            with contextlib.suppress(TimeoutError):
                await wait_until(lambda: fake.batches, timeout=4)
        finally:
            await client.shutdown_session()
        assert fake.batches == {}, "a Message Batch was sent after llm.batch was turned off"


# -- 2. A billed but truncated batch answer stays deferred and is bought again every poll ----


class EndedBatches:
    """A BatchClient stand-in: every batch has ended at once, every answer hit max_tokens."""

    submitted: ClassVar[list[list[str]]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.rate_limits = RateLimits()

    async def submit(self, items: Any) -> str:
        ids = [custom_id for custom_id, _ in items]
        EndedBatches.submitted.append(ids)
        return f"msgbatch_{len(EndedBatches.submitted)}"

    async def status(self, batch_id: str) -> Any:
        from drain_ls.backends.batches import BatchStatus

        return BatchStatus(batch_id, "ended", {"succeeded": 1}, True)

    async def results(self, batch_id: str) -> Any:
        from drain_ls.backends.batches import BatchOutcome

        ids = EndedBatches.submitted[int(batch_id.rsplit("_", 1)[1]) - 1]
        return {
            custom_id: BatchOutcome(
                custom_id, "succeeded", "Computes the area of", Usage(120, 160), "max_tokens", MODEL
            )
            for custom_id in ids
        }

    async def close(self) -> None:
        return None


async def test_a_truncated_batch_answer_is_not_bought_again_on_every_poll(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import drain_ls.backends.batches as batches_module

    EndedBatches.submitted = []
    monkeypatch.setattr(batches_module, "BatchClient", EndedBatches)
    root = tmp_path / "ws"
    root.mkdir()
    (root / "mod.py").write_text(DOCUMENTED)  # one task: its summary
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    server = in_process_server(
        root,
        ledger,
        {"llm": {"batchPollSeconds": 1}, "drains": {"review": {"enabled": False}}},
    )
    server.engine.model = MODEL
    server.engine.scheduler = Scheduler(
        ScriptedBackend(truncated), ledger, Limits(), price_of(MODEL), server.engine.on_result,
        workspace=str(root),
    )  # fmt: skip
    (task,) = tasks_for_file(root / "mod.py", server.settings, MODEL, [], lambda key: None)
    ledger.defer(
        drain=task.drain, workspace=str(root), scope_key=task.qualname, content_hash=task.key,
        estimated_tokens=task.input_estimate() + task.max_tokens, reason="cap",
        path=str(root / "mod.py"), model=MODEL, tier=2,
    )  # fmt: skip
    loop = asyncio.get_running_loop().create_task(server.engine._batches())
    try:
        await asyncio.sleep(3.5)  # three polls
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
    paid = ledger.runs(status=RunStatus.DONE, in_batch=True)
    assert len(EndedBatches.submitted) == 1, (
        f"the same request was sent in {len(EndedBatches.submitted)} batches and paid "
        f"{len(paid)} times: its deferred row survives a billed, truncated answer"
    )


# -- 3. A rejected (truncated) commit review is bought again at every commit poll -------------


async def test_a_rejected_review_is_not_sent_again_at_every_poll(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    (root / "app.py").write_text("def main():\n    print('hi')\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "add app")
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    server = in_process_server(root, ledger, {})
    server.engine.model = MODEL
    backend = ScriptedBackend(truncated)
    server.engine.scheduler = Scheduler(
        backend, ledger, Limits(), price_of(MODEL), server.engine.on_result,
        workspace=str(root), idle_delay=0.0,
    )  # fmt: skip
    server.scheduler.start()
    try:
        assert await server.engine.check_commits(root) == 1
        await until(lambda: backend.calls == 1 and not server.scheduler.running)
        # The next poll of the commit watcher (every drains.review.pollSeconds, 30 s).
        await server.engine.check_commits(root)
        await asyncio.sleep(0.3)
    finally:
        await server.scheduler.close()
    billed = ledger.runs(drain="review", status=RunStatus.DONE)
    assert backend.calls == 1, (
        f"the same commits were reviewed {backend.calls} times ({len(billed)} billed runs)"
    )


# -- 4. A deferred row that is not a file path crashes the server's deferred queue -----------


def test_a_deferred_untitled_document_does_not_crash_deferred_tasks(tmp_path: Path) -> None:
    """``Scheduler.close(session_end=True)`` defers the queued tasks of an untitled buffer
    of an offline session with ``path = task_path(task)``, i.e. its URI. The next session's
    ``deferred_tasks`` (called by configure_drains and by the batch loop) must not raise on
    such a row (ledgers written by this version already hold them)."""
    root = tmp_path / "ws"
    root.mkdir()
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ledger.defer(
        drain="summaries", workspace=str(root), scope_key="area", content_hash="2" * 32,
        estimated_tokens=300, reason="the editor closed before it ran",
        path="untitled:Untitled-1", model="offline", tier=2,
    )  # fmt: skip
    server = in_process_server(root, ledger, {})
    server.engine.model = MODEL
    assert server.engine.deferred_tasks() == []  # raises ValueError: relative path as a file URI


async def test_an_untitled_buffer_left_by_an_offline_session_does_not_break_initialize(
    tmp_path: Path,
) -> None:
    """End to end: an offline session with an untitled buffer ends before its idle time; the
    next session (anthropic backend) must still initialize."""
    root = tmp_path / "ws"
    root.mkdir()
    home = tmp_path / "home"
    with FakeAnthropic(reply=lambda body: "Computes an area.") as fake:
        env = {
            "ANTHROPIC_BASE_URL": fake.url,
            "ANTHROPIC_API_KEY": API_KEY,
            "DRAIN_LS_HOME": str(home),
        }
        offline = await _start(root, env, {"llm": {"enabled": True, "backend": "offline"}})
        try:
            offline.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri="untitled:Untitled-1", language_id="python", version=1, text=SOURCE
                    )
                )
            )
            await asyncio.sleep(0.5)  # analysed, drains queued for idle time (2 s)
        finally:
            await offline.shutdown_session()

        try:
            paid = await _start(root, env, {"llm": {"enabled": True, "backend": "anthropic"}})
        except Exception as exc:  # the initialize request fails: the editor gives up
            pytest.fail(f"initialize failed: {exc}")
        await paid.shutdown_session()


# -- 5. drain-ls run never ends while the API keeps failing with a retryable error -----------


def _headless(tmp_path: Path, backend: Any, model: str = MODEL) -> tuple[HeadlessRun, Ledger]:
    root = tmp_path / "ws"
    root.mkdir(exist_ok=True)
    (root / "mod.py").write_text(DOCUMENTED)  # one task: its summary
    settings, _ = build_settings({"drains": {"review": {"enabled": False}}})
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    run = HeadlessRun(
        [root / "mod.py"], settings, [], backend, ledger, Limits(tiered=False),
        price_of(model), model, str(root),
    )  # fmt: skip
    return run, ledger


async def test_drain_ls_run_ends_when_the_api_keeps_failing(tmp_path: Path) -> None:
    def overloaded(_: int) -> DrainResponse:
        raise BackendError("overloaded", "529", retry_after=0.01)

    run, _ = _headless(tmp_path, ScriptedBackend(overloaded))
    try:
        summary = await asyncio.wait_for(run.run(), timeout=10)
    except TimeoutError:
        pytest.fail(
            f"drain-ls run still retrying after 10 s ({run.scheduler.backend.calls} attempts)"
        )
    check_adds_up(summary.as_json())


async def test_drain_ls_run_summary_adds_up_after_a_retried_failure(tmp_path: Path) -> None:
    def flaky(call: int) -> DrainResponse:
        if call == 1:
            raise BackendError("overloaded", "529", retry_after=0.01)
        return DrainResponse("Computes an area.", Usage(100, 20), "end_turn", MODEL)

    run, _ = _headless(tmp_path, ScriptedBackend(flaky))
    summary = (await asyncio.wait_for(run.run(), timeout=20)).as_json()
    # One task: counted once as failed and once more as done.
    check_adds_up(summary)


# -- 6. Identical files share a task key: the second file's work is dropped ------------------


async def test_identical_files_each_get_their_report_entry(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    for package in ("a", "b"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text('"""A package."""\n')
    settings, _ = build_settings(
        {
            "drains": {
                "review": {"enabled": False},
                "custom": [
                    {
                        "name": "pkg-doc",
                        "prompt": "Describe it.",
                        "scope": "file",
                        "output": "report",
                    }
                ],
            }
        }
    )
    custom, problems = list(settings.drains.custom.valid), settings.drains.custom.problems
    assert not problems
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    files = [root / "a" / "__init__.py", root / "b" / "__init__.py"]
    run = HeadlessRun(
        files, settings, custom, OfflineBackend(), ledger, Limits(tiered=False),
        price_of("offline"), "offline", str(root),
    )  # fmt: skip
    summary = (await run.run()).as_json()
    entries = sorted(Path(e.path).parent.name for e in ledger.entries())
    assert summary["drains"]["pkg-doc"]["tasks"] == 2 and entries == ["a", "b"], (
        summary["drains"]["pkg-doc"],
        entries,
    )


# -- 7. Deferred rows whose file is gone stay in the queue forever ----------------------------


def test_a_deferred_task_of_a_deleted_file_leaves_the_queue(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    gone = root / "gone.py"
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ledger.defer(
        drain="summaries", workspace=str(root), scope_key="area", content_hash="1" * 32,
        estimated_tokens=300, reason="cap", path=str(gone), model=MODEL, tier=2,
    )  # fmt: skip
    server = in_process_server(root, ledger, {})
    server.engine.model = MODEL
    assert server.engine.deferred_tasks() == []
    assert ledger.deferred(str(root)) == [], "drain-ls queue lists a deleted file's task forever"


# -- 8. The claude-code budget source does not find transcripts of most workspaces -----------


def test_claude_code_transcripts_of_a_workspace_with_an_underscore_are_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claude Code names a project's directory after its cwd with every character that is
    not an ASCII letter or digit replaced by ``-`` (``/home/me/my_app`` -> ``-home-me-my-app``).
    Not finding the transcript means a primary use of 0: the drains get the whole budget
    while Claude Code's context is full."""
    from drain_ls.claude_code import latest_session

    workspace = tmp_path / "my_app"
    workspace.mkdir()
    config = tmp_path / "claude"
    directory = config / "projects" / re.sub(r"[^A-Za-z0-9]", "-", str(workspace.resolve()))
    directory.mkdir(parents=True)
    usage = {"input_tokens": 5_000, "cache_creation_input_tokens": 100_000}
    entry = {"type": "assistant", "requestId": "r", "message": {"id": "m", "usage": usage}}
    (directory / "session.jsonl").write_text(json.dumps(entry) + "\n")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(config))
    use = latest_session(workspace)
    assert use is not None and use.used_tokens == 105_000


def test_an_odd_usage_value_in_a_transcript_does_not_raise(tmp_path: Path) -> None:
    """``primary_use`` is read inside the scheduler's status publishing and every
    reservation: an exception there kills the dispatch loop."""
    from drain_ls.claude_code import context_used

    path = tmp_path / "s.jsonl"
    good = {
        "type": "assistant",
        "requestId": "a",
        "message": {"id": "1", "usage": {"input_tokens": 7}},
    }
    odd = {
        "type": "assistant",
        "requestId": "b",
        "message": {"id": "2", "usage": {"input_tokens": "n/a"}},
    }
    path.write_text(json.dumps(good) + "\n" + json.dumps(odd) + "\n")
    found = context_used(path)
    assert found is None or found[0] in (0, 7)


# -- 9. `after` across commit-scope and file drains is accepted but never composes ----------


def test_after_between_a_commits_drain_and_a_definition_drain_is_reported() -> None:
    drains, problems = parse_custom_drains(
        [
            {"name": "changelog", "prompt": "A changelog line.", "scope": "commits"},
            {"name": "risks", "prompt": "Risks, given the changelog.", "after": "changelog"},
        ]
    )
    # `risks` runs on functions, `changelog` on commits: it can never receive that result
    # (task_building.py skips commit drains, so `risks` silently runs with no inputs).
    assert [d.name for d in drains] == ["changelog"] and any("risks" in p for p in problems), (
        [d.name for d in drains],
        problems,
    )


# -- 10. drain-ls run (and the deferred queue) ignore the select/ignore settings --------------


def test_drain_ls_run_makes_no_docstring_tasks_when_d1_is_ignored(tmp_path: Path) -> None:
    """The editor writes docstrings only for D1xx findings, and ``ignore = ["D1"]`` leaves
    none; ``tasks_for_file`` (drain-ls run, and the server's deferred queue) checks D101-D107
    whatever the settings say, and pays for docstrings the user turned off."""
    path = tmp_path / "mod.py"
    path.write_text(SOURCE)
    settings, problems = build_settings({"ignore": ["D1"]})
    assert not problems and not any(code.startswith("D1") for code in settings.codes)
    tasks = tasks_for_file(path, settings, MODEL, [], lambda key: None)
    assert [t.drain for t in tasks] == ["summaries"], [t.drain for t in tasks]


# -- 11. A suggestion dismissed in the editor breaks drain-ls run's summary ------------------


async def test_drain_ls_run_summary_adds_up_with_a_dismissed_suggestion(tmp_path: Path) -> None:
    run, ledger = _headless(tmp_path, OfflineBackend(), "offline")
    (task,) = tasks_for_file(run.files[0], run.settings, "offline", [], lambda key: None)
    ledger.dismiss(task.key, task.drain)
    summary = (await asyncio.wait_for(run.run(), timeout=10)).as_json()
    check_adds_up(summary)  # tasks 1, and neither done, cached, failed nor deferred


# -- 12. Dismissing a custom drain's diagnostic leaves it on screen ---------------------------


def test_dismissing_a_custom_diagnostic_removes_it(tmp_path: Path) -> None:
    import time

    from drain_ls.engine.drains import sha
    from drain_ls.engine.scheduler import Result

    root = tmp_path / "ws"
    root.mkdir()
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    custom = [
        {"name": "risks", "prompt": "One risk.", "output": "diagnostic", "severity": "warning"}
    ]
    server = in_process_server(root, ledger, {"drains": {"custom": custom}})
    server.pull_diagnostics = True  # no client to publish to: the store is what a pull returns
    uri = (root / "mod.py").as_uri()
    server.open_document(uri, DOCUMENTED, 1, "python")
    server.drain_results[uri] = {
        ("risks", "area"): Result(
            "risks",
            uri,
            "area",
            "k" * 32,
            sha(DOCUMENTED.rstrip("\n")),
            "Negative sizes.",
            MODEL,
            10,
            0.0,
            time.time(),
        )
    }
    server.analyse(uri, publish=False)
    shown = lambda: [d.code for d in server.flush(uri).diagnostics]  # noqa: E731
    assert "risks" in shown()
    assert server.dismiss(uri, "risks", "area")
    assert "risks" not in shown(), "the dismissed diagnostic is still reported"


# -- 13. Two files with the same code: the editor shows the result in only one ---------------


async def test_a_result_is_delivered_for_each_file_with_the_same_code(tmp_path: Path) -> None:
    from drain_ls.engine.scheduler import Result

    results: list[Result] = []
    scheduler = Scheduler(
        OfflineBackend(), None, Limits(), price_of("offline"), results.append, idle_delay=0.0
    )
    scheduler.start()
    source = DOCUMENTED.encode()
    tree = parse(source)

    def tasks(uri: str) -> list[Any]:
        return build_tasks(
            uri, source, tree.root_node, 1, {}, model="offline", max_tokens_per_drain=5000,
            drains=DrainsSettings(),
        )  # fmt: skip

    try:
        scheduler.submit("file:///a.py", tasks("file:///a.py"))
        await until(lambda: len(results) == 1)
        scheduler.submit("file:///b.py", tasks("file:///b.py"))  # opened later, same code
        with contextlib.suppress(AssertionError):
            await until(lambda: len(results) == 2, timeout=1.0)
    finally:
        await scheduler.close()
    assert sorted(r.uri for r in results) == ["file:///a.py", "file:///b.py"], (
        "b.py never gets its summary: the task is skipped because a.py's has the same key"
    )


# -- 14. A workspace opened through a symlink: drain-ls run never clears the editor's rows ---


async def test_drain_ls_run_clears_what_the_editor_deferred_through_a_symlink(
    tmp_path: Path,
) -> None:
    """The server records the workspace resolved but a task's path as the editor's URI says
    it (``task_path``: not resolved); ``drain-ls run`` resolves both. The run does the work,
    and the editor's row stays in ``drain-ls queue``."""
    real = tmp_path / "real"
    real.mkdir()
    (real / "mod.py").write_text(DOCUMENTED)
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    workspace = str(link.resolve())  # DrainServer.workspace_root() resolves
    uri = (link / "mod.py").as_uri()  # what the editor opened
    source = DOCUMENTED.encode()
    tree = parse(source)

    class Paid(OfflineBackend):
        name = "paid"  # not free: its unrun work is deferred when the session ends

    editor = Scheduler(
        Paid(), ledger, Limits(), price_of("offline"), lambda r: None,
        workspace=workspace, idle_delay=60.0,
    )  # fmt: skip
    editor.start()
    editor.submit(uri, build_tasks(uri, source, tree.root_node, 1, {}, model="offline",
                                   max_tokens_per_drain=5000, drains=DrainsSettings()))  # fmt: skip
    await editor.close(session_end=True)
    assert len(ledger.deferred(workspace)) == 1

    settings, _ = build_settings({"drains": {"review": {"enabled": False}}})
    run = HeadlessRun(
        [(real / "mod.py").resolve()], settings, [], OfflineBackend(), ledger,
        Limits(tiered=False), price_of("offline"), "offline", workspace,
    )  # fmt: skip
    summary = (await run.run()).as_json()
    assert summary["total"]["done"] == 1
    assert ledger.deferred(workspace) == [], "the task ran, but drain-ls queue still lists it"
