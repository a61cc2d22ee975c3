"""The drain engine on its own (``drain_ls.engine``): its decisions, and the engine driven
by a front end of the test's with an injected backend, as the server and ``drain-ls run``
drive it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

import pytest

from drain_ls.backends.base import DrainRequest, DrainResponse, Progress, RateLimits
from drain_ls.budget import Limits, Usage, price_of
from drain_ls.config import WorkspaceTrust, build_settings, consent_key
from drain_ls.engine.choices import (
    ALLOW,
    ALLOW_ONCE,
    CONSENT_CHOICES,
    NEVER,
    BackendChoice,
    MissingKey,
    ask_consent,
    choose_backend,
    consent_question,
    editor_limits,
    run_limits,
)
from drain_ls.engine.drains import Task
from drain_ls.engine.engine import DrainEngine
from drain_ls.engine.scheduler import Result
from drain_ls.ledger import Ledger

MODEL = "claude-haiku-4-5"
KEY = {"ANTHROPIC_API_KEY": "sk-ant-test"}


# -- the decisions -----------------------------------------------------------------------------


def _settings(layer: dict[str, Any] | None = None) -> Any:
    settings, problems = build_settings(layer or {})
    assert not problems, problems
    return settings


def test_without_a_key_the_editor_falls_back_to_offline_and_a_run_refuses() -> None:
    settings = _settings({"llm": {"backend": "anthropic", "model": MODEL}})
    editor = choose_backend(settings, {})
    assert (editor.name, editor.model, editor.free) == ("offline", "offline", True)
    assert editor.warning is not None and "ANTHROPIC_API_KEY" in editor.warning
    with pytest.raises(MissingKey, match="--backend offline"):
        choose_backend(settings, {}, headless=True)
    paid = choose_backend(settings, KEY, headless=True)
    assert (paid.name, paid.model, paid.refused, paid.warning) == ("anthropic", MODEL, None, None)
    assert paid.price == price_of(MODEL)


def test_a_retired_or_unknown_model_is_refused_with_the_reason() -> None:
    retired = choose_backend(
        _settings({"llm": {"backend": "anthropic", "model": "claude-2.1"}}), KEY
    )
    assert retired.refused is not None and "claude-2.1" in retired.refused
    unknown = choose_backend(
        _settings({"llm": {"backend": "anthropic", "model": "claude-nonesuch-9"}}), KEY
    )
    assert unknown.refused is not None and "claude-nonesuch-9" in unknown.refused
    assert unknown.price is None
    priced = _settings(
        {
            "llm": {
                "backend": "anthropic",
                "model": "claude-nonesuch-9",
                "prices": {"claude-nonesuch-9": {"input": 1, "output": 5}},
            }
        }
    )
    assert choose_backend(priced, KEY).refused is None


def test_the_editor_shares_a_session_window_and_a_run_has_its_own_budget() -> None:
    settings = _settings({"budget": {"sessionTokens": 90_000, "dailyUsd": 2.5}})
    editor = editor_limits(settings)
    assert (editor.session_tokens, editor.tiered, editor.run_tokens) == (90_000, True, None)
    assert editor_limits(settings, 1_000_000).session_tokens == 1_000_000
    run = run_limits(settings, 4_000)
    assert (run.tiered, run.run_tokens, run.daily_usd) == (False, 4_000, 2.5)
    assert editor.daily_usd == run.daily_usd == 2.5


class Answers:
    """A prompter that answers from a list and records the questions."""

    def __init__(self, *answers: str | None) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    async def ask(self, question: str, choices: Sequence[str]) -> str | None:
        self.asked.append((question, tuple(choices)))
        return self.answers.pop(0)


async def test_consent_is_remembered_for_allow_and_never_only(tmp_path: Path) -> None:
    settings = _settings({"llm": {"backend": "anthropic", "model": MODEL}})
    choice = choose_backend(settings, KEY)
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    trust = WorkspaceTrust()
    prompter = Answers(None, ALLOW_ONCE, ALLOW_ONCE, NEVER)
    outcomes = []
    for _ in range(5):
        consent = await ask_consent(ledger, "/ws", settings, choice, trust, prompter)
        outcomes.append((consent.allowed, consent.remembered))
    # Dismissed (asked again), allowed once (twice: asked each time), then never: remembered.
    assert outcomes == [(None, False), (True, False), (True, False), (False, False), (False, True)]
    assert len(prompter.asked) == 4
    assert all(choices == CONSENT_CHOICES for _, choices in prompter.asked)
    assert ledger.consent(consent_key("/ws", trust)) == "never"
    # Another workspace is asked; "Allow" is remembered.
    other = Answers(ALLOW)
    assert (await ask_consent(ledger, "/other", settings, choice, trust, other)).allowed
    again = await ask_consent(ledger, "/other", settings, choice, trust, Answers())
    assert (again.allowed, again.remembered) == (True, True)


async def test_nothing_is_asked_when_nothing_is_sent_or_consent_is_not_required(
    tmp_path: Path,
) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    offline = _settings()
    choice = choose_backend(offline, {})
    prompter = Answers()
    assert (await ask_consent(ledger, "/ws", offline, choice, WorkspaceTrust(), prompter)).allowed
    settings = _settings(
        {"llm": {"backend": "anthropic", "model": MODEL}, "privacy": {"requireConsent": False}}
    )
    paid = choose_backend(settings, KEY)
    assert (await ask_consent(ledger, "/ws", settings, paid, WorkspaceTrust(), prompter)).allowed
    assert prompter.asked == []


def test_the_question_names_the_caps_the_destination_and_the_batch_api() -> None:
    settings = _settings(
        {
            "llm": {"backend": "anthropic", "model": MODEL, "batch": True},
            "budget": {"dailyTokens": 123_456, "dailyUsd": 0.75},
        }
    )
    question = consent_question("/ws", settings, MODEL, WorkspaceTrust(), "Anthropic")
    assert question.startswith(f"drain-ls would send code from /ws to Anthropic ({MODEL})")
    assert "123,456 tokens and $0.75" in question and "Message Batches API" in question
    assert question.endswith("Allow?")


async def test_the_terminal_and_the_editor_ask_the_same_question(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One wording: ``drain-ls run`` asked "to Anthropic", the editor "to anthropic"."""
    from drain_ls.cli import TerminalPrompter

    settings = _settings({"llm": {"backend": "anthropic", "model": MODEL}})
    choice = choose_backend(settings, KEY)
    editor = Answers(ALLOW_ONCE)
    await ask_consent(
        Ledger(tmp_path / "a.sqlite3"), "/ws", settings, choice, WorkspaceTrust(), editor
    )

    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Tty())
    monkeypatch.setattr("builtins.input", lambda: "a")
    ledger = Ledger(tmp_path / "b.sqlite3")
    consent = await ask_consent(
        ledger, "/ws", settings, choice, WorkspaceTrust(), TerminalPrompter()
    )
    assert consent.allowed and ledger.consent(consent_key("/ws", WorkspaceTrust())) == "allow"
    asked = capsys.readouterr().err
    assert asked == editor.asked[0][0] + " [y]es / [a]lways / [N]o: "


# -- the engine, driven by a front end of the test's ------------------------------------------


class Scripted:
    """A paid backend whose answer is the request's drain name."""

    name = "scripted"

    def __init__(self) -> None:
        self.rate_limits = RateLimits()
        self.requests: list[DrainRequest] = []

    async def complete(self, request: DrainRequest, progress: Progress) -> DrainResponse:
        self.requests.append(request)
        return DrainResponse("An answer.", Usage(100, 20), "end_turn", MODEL)

    async def close(self) -> None:
        return None


class FrontEnd:
    """What the language server and ``drain-ls run`` are to the engine."""

    def __init__(self, open_paths: set[str] | None = None) -> None:
        self.results: list[Result] = []
        self.warnings: list[str] = []
        self.statuses = 0
        self.reviews = 0
        self.resubmitted = 0
        self.paths = open_paths or set()
        self.tasks: set[asyncio.Task[Any]] = set()

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    async def ask(self, question: str, choices: Sequence[str]) -> str | None:
        return ALLOW_ONCE

    def run_task(self, coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self.tasks.add(task)
        return task

    def open_paths(self) -> set[str]:
        return self.paths

    def resubmit(self) -> None:
        self.resubmitted += 1

    def status_changed(self) -> None:
        self.statuses += 1

    def file_result(self, result: Result) -> None:
        self.results.append(result)

    def reviews_changed(self) -> None:
        self.reviews += 1

    def admit(self, tasks: list[Task]) -> list[Task]:
        return tasks


def _engine(tmp_path: Path, front: FrontEnd, layer: dict[str, Any]) -> DrainEngine:
    engine = DrainEngine(front)
    settings = _settings(layer)
    engine.settings = settings
    engine.custom_drains = list(settings.drains.custom.valid)
    engine.ledger = Ledger(tmp_path / "ledger.sqlite3")
    engine.root = tmp_path
    engine.folders = [str(tmp_path)]
    return engine


async def _drain(engine: DrainEngine) -> None:
    scheduler = engine.scheduler
    assert scheduler is not None
    scheduler.run_now()
    for _ in range(500):
        if not scheduler.queue and not scheduler.running:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the drains did not finish")


async def test_a_report_drain_s_answers_land_in_the_ledger_and_reach_the_front_end(
    tmp_path: Path,
) -> None:
    front = FrontEnd()
    report = {"name": "todo", "prompt": "List the TODOs.", "scope": "function", "output": "report"}
    engine = _engine(
        tmp_path,
        front,
        {
            "drains": {
                "custom": [report],
                "review": {"enabled": False},
                "summaries": {"enabled": False},
            }
        },
    )
    backend = Scripted()
    engine.make_scheduler(
        backend, Limits(tiered=False), BackendChoice("anthropic", MODEL, price_of(MODEL))
    )
    assert engine.scheduler is not None
    engine.scheduler.consent = engine.consent
    engine.scheduler.start()
    path = tmp_path / "m.py"
    path.write_text('"""M."""\n\n\ndef f(x):\n    """F."""\n    return x\n')
    from drain_ls.engine.file_tasks import tasks_for_file

    tasks = tasks_for_file(path, engine.settings, MODEL, engine.custom_drains, engine.result_text)
    assert [t.drain for t in tasks] == ["todo"]
    engine.submit(engine.scheduler, path.as_uri(), tasks)
    try:
        await _drain(engine)
    finally:
        await engine.close()
    assert [(r.drain, r.qualname, r.text) for r in front.results] == [("todo", "f", "An answer.")]
    assert engine.ledger is not None
    entries = engine.ledger.entries()
    assert [(e.drain, e.scope_key, e.text) for e in entries] == [("todo", "f", "An answer.")]
    # And the answer serves the next lookup from the results cache.
    assert engine.result_text(tasks[0].key) == "An answer."


async def test_the_deferred_queue_leaves_out_the_files_the_front_end_has_open(
    tmp_path: Path,
) -> None:
    opened, closed = tmp_path / "open.py", tmp_path / "closed.py"
    opened.write_text("def area(w, h):\n    return w * h\n")
    closed.write_text("def volume(w, h, d):\n    return w * h * d\n")
    front = FrontEnd({str(opened.resolve())})
    engine = _engine(tmp_path, front, {"drains": {"review": {"enabled": False}}})
    engine.model = MODEL
    assert engine.ledger is not None
    from drain_ls.engine.file_tasks import tasks_for_file

    for path in (opened, closed):
        for task in tasks_for_file(path, engine.settings, MODEL, [], lambda key: None):
            engine.ledger.defer(
                drain=task.drain, workspace=str(tmp_path), scope_key=task.qualname,
                content_hash=task.key, estimated_tokens=500, reason="cap",
                path=str(path.resolve()), model=MODEL, tier=2,
            )  # fmt: skip
    deferred = engine.deferred_tasks()
    assert deferred and {Path(t.uri).name for t in deferred} == {"closed.py"}


def test_the_server_and_drain_ls_run_are_front_ends_of_one_engine(tmp_path: Path) -> None:
    from drain_ls.backends.offline import OfflineBackend
    from drain_ls.cli.headless import HeadlessRun
    from drain_ls.lsp.server import DrainServer

    server = DrainServer()
    run = HeadlessRun(
        [], _settings(), [], OfflineBackend(), Ledger(tmp_path / "l.sqlite3"),
        Limits(tiered=False), price_of("offline"), "offline", str(tmp_path),
    )  # fmt: skip
    assert type(server.engine) is type(run.engine) is DrainEngine
    assert server.engine.host is server and run.engine.host is run
    assert run.scheduler is run.engine.scheduler
