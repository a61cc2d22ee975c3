"""Drains against the real API, end to end: a real server (or ``drain-ls run``, or the batch
functions), the real SDK, and the local fake of the API (``tests/fake_anthropic.py``).

What is checked here is what drain-ls does with what the API documents: the rate-limit
hold-back that ends at the headers' reset time; spend, billing, workspace and model errors
that stop the drains and keep the task; requests the API cannot take, deferred; unknown and
retired models; thinking kept out of a short answer's ``max_tokens``; the default model;
prompt caching only above the model's minimum; Claude Code's window from its model; batches
whose results expired, and queues split into batches by size; and, for every model id the
SDK lists, a run that never bills past ``budget.dailyUsd``.
"""

from __future__ import annotations

import asyncio
import json
import time
import typing
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from anthropic.types.model import Model as SdkModel
from lsprotocol import types

from drain_ls.budget import Usage, cost_usd
from drain_ls.ledger import DeferredRow, Ledger, RunRow
from tests.fake_anthropic import FakeAnthropic
from tests.lsp_support import fake_api_env, range_of, start_server, wait_until
from tests.settings_support import drains_of
from tests.test_drains_e2e import Editor as DrainsEditor

KEY = "sk-ant-test-api-e2e-0123456789"
DOCSTRING = '"""Compute a value.\n\nArgs:\n    a: The first.\n    b: The second.\n"""'
SUMMARY = "Adds two numbers. Watch out for strings, which it concatenates."

ONE = '''"""A module."""


def add(a, b):
    return a + b
'''

TWO = '''"""A module."""


def add(a, b):
    return a + b


def sub(a, b):
    return a - b
'''

# A documented public function: its only task is a summary.
DOCUMENTED = '''"""A module."""


def add(a, b):
    """Add two numbers."""
    return a + b
'''


def reply(body: dict[str, Any]) -> str:
    """A docstring for the docstrings drain, two sentences for a summary."""
    system = body.get("system") or []
    text = " ".join(b.get("text", "") for b in system) if isinstance(system, list) else system
    return SUMMARY if "summarize" in text else DOCSTRING


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(reply=reply) as api:
        yield api


def settings(model: str | None = "claude-haiku-4-5", **overrides: Any) -> dict[str, Any]:
    """The user's settings (initializationOptions): fast idle time, no consent question,
    one drain at a time (the order of the requests is then the order of the tests' steps)."""
    base: dict[str, Any] = {
        "llm": {"enabled": True, "backend": "anthropic"},
        "idle": {"delayMs": 50},
        "diagnostics": {"debounceMs": 0},
        "drains": {"summaries": {"enabled": False}, "concurrency": 1},
        "privacy": {"requireConsent": False},
    }
    if model is not None:
        base["llm"]["model"] = model
    for key, value in overrides.items():
        base[key] = {**base.get(key, {}), **value}
    return base


class Editor(DrainsEditor):
    """One server process, the documents open in it (opened and changed as
    ``test_drains_e2e`` does), and its ledger."""

    def __init__(self, client: Any, root: Path, home: Path) -> None:
        super().__init__(client, root)
        self.home = home

    async def titles(self, uri: str, at: str) -> list[str]:
        result = await self.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=range_of(self.texts[uri], at, "utf-16"),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        return [a.title for a in result or []]

    async def generated(self, uri: str, at: str, timeout: float = 15.0) -> None:
        """Wait until the generated docstring of ``at`` is offered."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while "Insert generated docstring" not in await self.titles(uri, at):
            if loop.time() > deadline:
                raise AssertionError(f"no generated docstring was offered for {at}")
            await asyncio.sleep(0.01)

    async def hover(self, uri: str, at: str) -> str:
        result = await self.client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=range_of(self.texts[uri], at, "utf-16").start,
            )
        )
        if result is None or not isinstance(result.contents, types.MarkupContent):
            return ""
        return result.contents.value

    async def command(self, name: str, *arguments: Any) -> dict[str, Any]:
        result = await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=list(arguments) or None)
        )
        return dict(result)

    async def status(self) -> dict[str, Any]:
        return dict((await self.command("drain.status"))["drains"])

    async def status_when(
        self, check: Callable[[dict[str, Any]], bool], timeout: float = 10.0
    ) -> dict[str, Any]:
        """The first status ``check`` accepts, or the last one after ``timeout`` (for the
        test's assertion to show)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            status = await self.status()
            if check(status) or loop.time() > deadline:
                return status
            await asyncio.sleep(0.01)

    def ledger(self) -> Ledger:
        return Ledger(self.home / "ledger.sqlite3")

    async def deferred(self) -> list[DeferredRow]:
        """The ledger's deferred queue (what ``drain-ls queue --json`` lists)."""

        def read() -> list[DeferredRow]:
            ledger = self.ledger()
            try:
                return ledger.deferred()
            finally:
                ledger.close()

        return await asyncio.to_thread(read)

    async def runs(self) -> list[RunRow]:
        def read() -> list[RunRow]:
            ledger = self.ledger()
            try:
                return ledger.runs()
            finally:
                ledger.close()

        return await asyncio.to_thread(read)


async def start(
    root: Path, fake: FakeAnthropic, options: dict[str, Any], env: dict[str, str] | None = None
) -> Editor:
    home = root / "home"
    client = await start_server(root, options, {**fake_api_env(fake.url, home, KEY), **(env or {})})
    return Editor(client, root, home)


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator[list[Editor]]:
    """Editors a test starts (``start``), shut down after it."""
    editors: list[Editor] = []
    yield editors
    for editor in editors:
        await editor.client.shutdown_session()


async def open_editor(
    editors: list[Editor],
    root: Path,
    fake: FakeAnthropic,
    options: dict[str, Any],
    env: dict[str, str] | None = None,
) -> Editor:
    editor = await start(root, fake, options, env)
    editors.append(editor)
    return editor


def bodies(fake: FakeAnthropic) -> list[dict[str, Any]]:
    """The Messages requests the fake received, parsed."""
    return [json.loads(e["body"]) for e in fake.log if e["path"].startswith("/v1/messages")]


def scope_of(body: dict[str, Any]) -> str:
    """Which function (of ``add``, ``sub``) a request is about."""
    content = body["messages"][0]["content"]
    return "add" if "def add" in content else "sub"


def usage_of(billed: Any) -> Usage:
    """What the fake billed for one request, as drain-ls counts it."""
    return Usage(
        billed.input_tokens,
        billed.output_tokens,
        billed.cache_read_tokens,
        billed.cache_write_tokens,
    )


def billed_tokens(fake: FakeAnthropic) -> int:
    return sum(usage_of(b).total for b in fake.billed)


# -- 1. the rate-limit hold-back ------------------------------------------------------------


async def test_the_rate_limit_hold_back_ends_at_the_reset_time(
    tmp_path: Path, fake: FakeAnthropic, session: list[Editor]
) -> None:
    editor = await open_editor(session, tmp_path, fake, settings())
    # The first response shows 10,000 of 50,000 tokens left (the fake rounds to the nearest
    # thousand: a request of a few hundred tokens leaves it at 10,000): under the 50% reserve.
    wall = fake.now()
    mono = time.monotonic()
    window = fake.set_ratelimit("tokens", limit=50_000, remaining=10_000, reset_in=2.5)
    # What drain-ls can know of the reset: the header's RFC 3339 time, to the second.
    reset = window.reset_at.replace(microsecond=0)
    uri = editor.open("m.py", TWO)
    status = await editor.status_when(lambda s: s["state"] == "rate-limited")
    assert status["state"] == "rate-limited", status
    assert status["reason"].startswith("rate-limited until "), status
    assert status["completed"] == 1 and status["pending"] == 1, status
    assert len(fake.log) == 1
    # No new response comes: the second request goes out once the window's reset has passed.
    await wait_until(lambda: len(fake.log) >= 2, timeout=10)
    arrived = wall + timedelta(seconds=fake.log[1]["time"] - mono)  # never later than it was
    assert arrived >= reset
    await editor.generated(uri, "add")
    await editor.generated(uri, "sub")
    assert len(fake.log) == 2


# -- 2. spend, billing and model errors; requests the API cannot take -----------------------


@pytest.mark.parametrize(
    ("scenario", "state", "words"),
    [
        ("429-spend", "over-budget", "spend limit"),
        ("429-contract", "over-budget", "spend limit"),
        ("402", "over-budget", "billing"),
        ("402-linked", "over-budget", "spend limit"),
        ("400-workspace-limit", "over-budget", "workspace"),
        ("404-model", "disabled", "model"),
    ],
)
async def test_a_limit_or_model_error_stops_the_drains_and_keeps_the_task(
    tmp_path: Path,
    fake: FakeAnthropic,
    session: list[Editor],
    scenario: str,
    state: str,
    words: str,
) -> None:
    fake.scenarios = [scenario]
    editor = await open_editor(session, tmp_path, fake, settings())
    uri = editor.open("m.py", TWO)
    status = await editor.status_when(lambda s: s["state"] == state)
    assert status["state"] == state, status
    assert words in status["reason"], status
    assert status["pending"] >= 1, status  # the task is kept, not dropped
    [first] = [scope_of(body) for body in bodies(fake)]
    # It waits in the ledger's deferred queue, with the reason.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not (rows := [r for r in await editor.deferred() if r.scope_key == first]):
        assert loop.time() < deadline, "the task never reached the deferred queue"
        await asyncio.sleep(0.02)
    assert words in rows[0].reason and rows[0].drain == "docstrings"
    # Stopped: nothing more is sent (a negative: given the dispatcher time to misbehave).
    await asyncio.sleep(0.3)
    assert len(fake.log) == 1
    assert (await editor.status())["state"] == state
    # The user raises the limit (the fake answers again) and resumes: the docstrings arrive.
    await editor.command("drain.resume")
    await editor.generated(uri, "add")
    await editor.generated(uri, "sub")
    assert len(fake.log) == 3
    deadline = loop.time() + 10
    while await editor.deferred():  # it ran: it leaves the deferred queue
        assert loop.time() < deadline, "the task stayed in the deferred queue"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(("scenario", "words"), [("413", "size limit"), ("400", "API error 400")])
async def test_a_request_the_api_cannot_take_is_deferred_and_the_drains_go_on(
    tmp_path: Path, fake: FakeAnthropic, session: list[Editor], scenario: str, words: str
) -> None:
    fake.scenarios = [scenario]
    editor = await open_editor(session, tmp_path, fake, settings())
    uri = editor.open("m.py", TWO)
    await wait_until(lambda: fake.log)
    first = scope_of(bodies(fake)[0])
    other = "sub" if first == "add" else "add"
    await editor.generated(uri, other)  # the drains went on
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not (rows := [r for r in await editor.deferred() if r.scope_key == first]):
        assert loop.time() < deadline, "the refused task never reached the deferred queue"
        await asyncio.sleep(0.02)
    assert words in rows[0].reason
    status = await editor.status_when(lambda s: s["completed"] == 1 and s["failed"] == 1)
    assert status["state"] not in ("over-budget", "disabled"), status
    assert (status["completed"], status["failed"]) == (1, 1), status
    assert "Insert generated docstring" not in await editor.titles(uri, first)
    assert len(fake.log) == 2  # not sent again as it is


# -- 3. unknown and retired models ------------------------------------------------------------


async def test_an_unknown_model_sends_nothing_until_priced_then_its_404_turns_drains_off(
    tmp_path: Path, fake: FakeAnthropic, session: list[Editor]
) -> None:
    model = "claude-someday-9"
    editor = await open_editor(session, tmp_path, fake, settings(model))
    editor.open("m.py", ONE)
    status = await editor.status()
    assert status["state"] == "disabled", status
    assert model in status["reason"] and "llm.prices" in status["reason"], status
    await asyncio.sleep(0.3)  # a negative: time enough for a request to go out
    assert fake.log == []
    # The user prices it: it is sent, the API does not know it (404), the drains stop.
    options = settings(model, llm={"prices": {model: {"input": 1, "output": 5}}})
    (tmp_path / "priced").mkdir()
    editor = await open_editor(session, tmp_path / "priced", fake, options)
    editor.open("m.py", TWO)
    status = await editor.status_when(lambda s: s["state"] == "disabled")
    assert status["state"] == "disabled", status
    assert "model" in status["reason"], status
    assert status["pending"] >= 1, status
    await asyncio.sleep(0.3)
    assert len(fake.log) == 1  # the 404; nothing after it
    assert json.loads(fake.log[0]["body"])["model"] == model


@pytest.mark.parametrize("priced", [False, True], ids=["catalogue", "user-priced"])
async def test_a_retired_model_is_never_sent_to(
    tmp_path: Path, fake: FakeAnthropic, session: list[Editor], priced: bool
) -> None:
    model = "claude-mythos-preview"  # retired on 2026-06-30 (the SDK's deprecated_models)
    prices = {"prices": {model: {"input": 1, "output": 5}}} if priced else {}
    editor = await open_editor(session, tmp_path, fake, settings(model, llm=prices))
    editor.open("m.py", ONE)
    status = await editor.status()
    assert status["state"] == "disabled", status
    assert model in status["reason"] and "retired" in status["reason"], status
    await asyncio.sleep(0.3)
    assert fake.log == []


# -- 4. thinking ------------------------------------------------------------------------------


async def summary_shown(editor: Editor, uri: str) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while "Summary" not in (value := await editor.hover(uri, "add")):
        if loop.time() > deadline:
            break
        await asyncio.sleep(0.01)
    return value


SUMMARIES_ONLY = {"summaries": {"enabled": True}, "docstrings": {"enabled": False}}


async def test_thinking_is_turned_off_where_the_model_allows_it(
    tmp_path: Path, fake: FakeAnthropic, session: list[Editor]
) -> None:
    editor = await open_editor(
        session, tmp_path, fake, settings("claude-haiku-5-5", drains=SUMMARIES_ONLY)
    )
    uri = editor.open("m.py", DOCUMENTED)
    value = await summary_shown(editor, uri)
    [body] = bodies(fake)
    assert body["thinking"] == {"type": "disabled"}
    # A summary's short max_tokens (160, or a little more for the model's tokenizer), with
    # no room added for thinking: there is none.
    assert 160 <= body["max_tokens"] < 1024 and "output_config" not in body
    assert f"**Summary** — {SUMMARY}" in value
    status = await editor.status_when(lambda s: s["completed"] == 1)
    assert (status["completed"], status["failed"]) == (1, 0), status
    assert fake.billed[0].thinking_tokens == 0


async def test_thinking_that_cannot_be_turned_off_gets_room_and_is_reserved(
    tmp_path: Path, fake: FakeAnthropic, session: list[Editor]
) -> None:
    editor = await open_editor(
        session, tmp_path, fake, settings("claude-opus-5-5", drains=SUMMARIES_ONLY)
    )
    uri = editor.open("m.py", DOCUMENTED)
    value = await summary_shown(editor, uri)
    [body] = bodies(fake)
    assert body["output_config"] == {"effort": "low"} and "thinking" not in body
    # The summary's max_tokens (160 or a little more), and 1,024 more for the thinking.
    assert 160 + 1024 <= body["max_tokens"] < 2 * 1024
    assert f"**Summary** — {SUMMARY}" in value  # whole: not cut at max_tokens
    [billed] = fake.billed
    assert billed.thinking_tokens > 0
    status = await editor.status_when(lambda s: s["completed"] == 1 and s["consumedTokens"])
    assert (status["completed"], status["failed"]) == (1, 0), status
    assert status["consumedTokens"] == billed_tokens(fake)
    [run] = await editor.runs()
    assert run.status == "done"
    assert run.reserved_tokens >= billed_tokens(fake)
    assert run.output_tokens == billed.output_tokens


def reported_tokens(editor: Editor) -> int:
    """The most a drain's progress bar reported as spent ("N tokens so far")."""
    most = 0
    for values in editor.client.progress_reports.values():
        for value in values:
            message = getattr(value, "message", None) or ""
            if isinstance(value, types.WorkDoneProgressReport) and "tokens so far" in message:
                most = max(most, int(message.split()[0]))
    return most


async def test_a_cancel_after_thinking_began_counts_max_tokens_as_wasted(
    tmp_path: Path, fake: FakeAnthropic, session: list[Editor]
) -> None:
    fake.scenarios = ["hang"]  # the thinking block starts, then nothing more
    editor = await open_editor(session, tmp_path, fake, settings("claude-opus-5-5"))
    uri = editor.open("m.py", ONE)
    await wait_until(lambda: fake.log)
    max_tokens = bodies(fake)[0]["max_tokens"]
    # The server has seen the thinking block start when its progress bar counts max_tokens
    # (reported every half second); without that it never will: go on and let it fail below.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while reported_tokens(editor) < max_tokens and loop.time() < deadline:
        await asyncio.sleep(0.02)
    editor.change(uri, "return a + b", "# typing\n    ")
    await wait_until(lambda: fake.disconnects)
    status = await editor.status_when(lambda s: s["cancelled"] >= 1)
    assert status["cancelled"] == 1, status
    assert status["wastedTokens"] >= max_tokens, status
    await editor.generated(uri, "add")  # and it runs again, to the end


# -- 5. the default model ---------------------------------------------------------------------


async def test_the_default_model_is_the_current_haiku(
    tmp_path: Path, fake: FakeAnthropic, session: list[Editor]
) -> None:
    editor = await open_editor(session, tmp_path, fake, settings(model=None))
    uri = editor.open("m.py", ONE)
    await editor.generated(uri, "add")
    [body] = bodies(fake)
    assert body["model"] == "claude-haiku-5-5"
    assert body["thinking"] == {"type": "disabled"}
    from drain_ls.models import default_model

    assert default_model() == "claude-haiku-5-5"


# -- 6. prompt caching ------------------------------------------------------------------------


async def test_a_small_file_sends_no_cache_breakpoint(
    tmp_path: Path, fake: FakeAnthropic, session: list[Editor]
) -> None:
    editor = await open_editor(session, tmp_path, fake, settings("claude-haiku-5-5"))
    uri = editor.open("m.py", TWO)
    await editor.generated(uri, "add")
    await editor.generated(uri, "sub")
    sent = bodies(fake)
    assert len(sent) == 2
    assert all("cache_control" not in json.dumps(body) for body in sent)
    assert all(b.cache_read_tokens == b.cache_write_tokens == 0 for b in fake.billed)


def big_file(documented: int = 64, undocumented: int = 3) -> str:
    """A module whose outline (its signatures) passes 512 tokens."""
    parts = ['"""A module of many functions."""\n']
    for i in range(documented):
        parts.append(
            f"\n\ndef compute_value_{i:02d}(first_argument: int, second_argument: str = "
            f'"default", *, third_argument: float = 1.0) -> dict[str, int]:\n'
            f'    """Compute value {i}."""\n    return {{second_argument: first_argument}}\n'
        )
    for i in range(undocumented):
        parts.append(
            f"\n\ndef undocumented_{i}(first_argument: int, second_argument: int) -> int:\n"
            f"    return first_argument + second_argument * {i}\n"
        )
    return "".join(parts)


async def test_a_file_over_the_minimum_caches_its_outline_once_and_reads_it_back(
    tmp_path: Path, fake: FakeAnthropic, session: list[Editor]
) -> None:
    options = settings("claude-haiku-5-5", budget={"maxTokensPerDrain": 30_000})
    editor = await open_editor(session, tmp_path, fake, options)
    uri = editor.open("big.py", big_file())
    for i in range(3):
        await editor.generated(uri, f"undocumented_{i}")
    sent = bodies(fake)
    assert len(sent) == 3
    first = sent[0]["system"][0]
    assert first["cache_control"]["type"] == "ephemeral"
    assert "def compute_value_63(" in first["text"]  # the file's outline
    assert all(body["system"][0] == first for body in sent)  # byte for byte the same
    # One request writes the outline to the cache, the others read it.
    assert fake.billed[0].cache_write_tokens > 0
    assert all(b.cache_read_tokens == fake.billed[0].cache_write_tokens for b in fake.billed[1:])
    from drain_ls.models import lookup

    model = lookup("claude-haiku-5-5")
    assert model is not None and model.price is not None
    assert fake.billed[0].cache_write_tokens >= model.min_cacheable
    price = model.price
    billed = sum(cost_usd(usage_of(b), price) for b in fake.billed)
    uncached = sum(
        cost_usd(
            Usage(b.input_tokens + b.cache_read_tokens + b.cache_write_tokens, b.output_tokens),
            price,
        )
        for b in fake.billed
    )
    assert billed < uncached


# -- 7. Claude Code's window ------------------------------------------------------------------


async def test_claude_codes_window_is_its_models(
    tmp_path: Path, fake: FakeAnthropic, session: list[Editor]
) -> None:
    from drain_ls.claude_code import project_key

    config = tmp_path / "claude"
    directory = config / "projects" / project_key(tmp_path)
    directory.mkdir(parents=True)
    entry = {
        "type": "assistant",
        "requestId": "r",
        "message": {
            "id": "m",
            "model": "claude-haiku-5-5",
            "usage": {
                "input_tokens": 1000,
                "cache_creation_input_tokens": 2000,
                "cache_read_input_tokens": 47000,
            },
        },
    }
    (directory / "s.jsonl").write_text(json.dumps(entry) + "\n")
    editor = await open_editor(
        session,
        tmp_path,
        fake,
        settings(budget={"source": "claude-code"}),
        {"CLAUDE_CONFIG_DIR": str(config)},
    )
    # A 1,000,000-token window - 50,000 in use - a 10% margin (not a 200,000-token window).
    expected = 1_000_000 - 50_000 - 100_000
    status = await editor.status_when(lambda s: s["budgetTokens"] == expected, timeout=5)
    assert status["budgetTokens"] == expected, status
    from drain_ls.models import lookup

    model = lookup("claude-haiku-5-5")
    assert model is not None and model.context_window == 1_000_000


# -- 8. Message Batches -----------------------------------------------------------------------


def batch_tasks(root: Path, count: int, model: str = "claude-haiku-4-5") -> list[Any]:
    from drain_ls.config import Settings
    from drain_ls.engine.file_tasks import tasks_for_file

    path = root / "m.py"
    source = '"""A module."""\n' + "".join(
        f"\n\ndef f{i}(a, b):\n    return a + b * {i}\n" for i in range(count)
    )
    path.write_text(source)
    options = Settings(drains=drains_of({"summaries": {"enabled": False}}))
    tasks = tasks_for_file(path, options, model, [], lambda key: None)
    assert len(tasks) == count
    return tasks


DAY = 24 * 3600


@pytest.mark.parametrize("whose_clock", ["drain-ls", "api"])
async def test_a_batch_whose_results_expired_is_settled_and_sent_again(
    tmp_path: Path, fake: FakeAnthropic, whose_clock: str
) -> None:
    """After 29 days a batch's results are gone: drain-ls sees it by its own clock, or by
    the API's 404 for the results."""
    from drain_ls.backends.batches import BatchClient
    from drain_ls.budget import Limits, price_of
    from drain_ls.engine import batching

    fake.batch_polls_until_ended = 5  # still in progress when drain-ls stops looking
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    client = BatchClient(api_key=KEY, base_url=fake.url)
    price = price_of("claude-haiku-4-5")
    assert price is not None
    try:
        tasks = batch_tasks(tmp_path, 2)
        workspace = str(tmp_path)
        sent = await batching.send(
            client, ledger, tasks, workspace=workspace, limits=Limits(), price=price
        )
        assert sent.tasks == 2 and len(fake.batches) == 1
        reasons = {r.reason for r in ledger.deferred()}
        assert reasons == {f"in Message Batch {sent.batch_id}"}
        fake.advance(29 * DAY + 60)
        if whose_clock == "drain-ls":
            now = time.time() + 29 * DAY + 60
            collected = await batching.collect(client, ledger, price, now=now)
        else:
            collected = await batching.collect(client, ledger, price)
        runs = ledger.runs()
        assert [r.status for r in runs] == ["abandoned", "abandoned"]
        for run in runs:  # counted at their worst case: they may have been billed
            assert run.input_tokens == run.reserved_tokens
            assert run.cost_usd == pytest.approx(run.reserved_usd)
        deferred = ledger.deferred()
        assert sorted(r.scope_key for r in deferred) == ["f0", "f1"]
        assert all(not r.reason.startswith("in Message Batch") for r in deferred)
        assert ledger.open_batches() == []
        assert collected.expired == 1 and collected.succeeded == 0
        again = await batching.send(
            client, ledger, tasks, workspace=workspace, limits=Limits(), price=price
        )
        assert again.tasks == 2 and again.batch_id != sent.batch_id
        assert len(fake.batches) == 2
    finally:
        await client.close()
        ledger.close()


async def test_a_queue_over_the_batch_size_is_split(
    tmp_path: Path, fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    from drain_ls.backends import batches
    from drain_ls.backends.base import BackendError
    from drain_ls.budget import Limits, price_of
    from drain_ls.engine import batching

    tasks = batch_tasks(tmp_path, 6)
    entry = {"custom_id": "run-1", "params": batches.request_params(tasks[0].request())}
    one = len(json.dumps(entry).encode())
    limit = int(one * 2.5)  # two requests a batch
    monkeypatch.setattr(batches, "MAX_BATCH_BYTES", limit)
    fake.batch_max_bytes = limit + 64  # the JSON around the requests
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    client = batches.BatchClient(api_key=KEY, base_url=fake.url)
    price = price_of("claude-haiku-4-5")
    assert price is not None
    try:
        sent = await batching.send(
            client, ledger, tasks, workspace=str(tmp_path), limits=Limits(), price=price
        )
        assert sent.refused is None and sent.tasks == 6
        assert len(sent.batch_ids) >= 3
        assert sorted(sent.batch_ids) == sorted(fake.batches)
        assert sent.batch_id == sent.batch_ids[0]
        creates = [e for e in fake.log if e["path"] == "/v1/messages/batches"]
        assert len(creates) == len(sent.batch_ids)
        assert all(len(e["body"].encode()) <= fake.batch_max_bytes for e in creates)
        sizes = [len(batch.requests) for batch in fake.batches.values()]
        assert sum(sizes) == 6
        ids = {cid for batch in fake.batches.values() for cid, _ in batch.requests}
        assert ids == {f"run-{r.id}" for r in ledger.runs()}
        assert {r.status for r in ledger.runs()} == {"batched"}
        assert len(ledger.open_batches()) == len(sent.batch_ids)
        # Unsplit, the API would have refused it.
        with pytest.raises(BackendError) as refused:
            await client.submit([(f"t{i}", t.request()) for i, t in enumerate(tasks)])
        assert refused.value.kind == "too_large"
    finally:
        await client.close()
        ledger.close()


# -- 9. every model the SDK lists, within budget.dailyUsd ------------------------------------

SDK_MODELS = typing.get_args(typing.get_args(SdkModel)[0])
DAILY_USD = 0.02

EIGHT = '"""A module."""\n' + "".join(
    f"\n\ndef f{i}(a, b):\n    return a + b * {i}\n" for i in range(8)
)


@pytest.mark.parametrize("model", SDK_MODELS)
def test_a_run_on_any_sdk_model_never_bills_past_the_daily_dollar_cap(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    model: str,
) -> None:
    """``drain-ls run`` (in this process) on eight undocumented functions: a priced model
    bills at most ``budget.dailyUsd`` (what the fake billed, at the catalogue's price), and
    what drain-ls recorded is what the API billed; an unpriced or retired one sends nothing."""
    from drain_ls.cli import main

    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        f'[llm]\nbackend = "anthropic"\nmodel = "{model}"\n\n'
        f"[budget]\ndailyUsd = {DAILY_USD}\n\n"
        "[drains]\nsummaries = { enabled = false }\n"
    )
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "m.py").write_text(EIGHT)
    with FakeAnthropic(reply=reply) as fake:
        monkeypatch.delenv("DRAIN_LS_CONFIG", raising=False)
        monkeypatch.setenv("DRAIN_LS_HOME", str(home))
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        monkeypatch.chdir(workspace)
        code = main(["run", "m.py", "--json", "--yes"])
        out = capsys.readouterr()
        from drain_ls.models import lookup

        entry = lookup(model)
        assert entry is not None, f"{model} is not in the catalogue"
        if entry.price is None or entry.retired():
            assert code == 2, out
            assert model in out.err
            assert fake.log == []
            return
        assert code == 0, out.err
        summary = json.loads(out.out)
        billed = sum(cost_usd(usage_of(b), entry.price) for b in fake.billed)
        assert billed <= DAILY_USD + 1e-12
        assert summary["total"]["costUsd"] == pytest.approx(billed, abs=2e-6)
        assert summary["total"]["totalTokens"] == billed_tokens(fake)
        assert all(b.model in (model, *entry.aliases, entry.id) for b in fake.billed)
        # The cap, and only the cap, keeps a priced model from running: it ran, or the very
        # first reservation was over budget.dailyUsd.
        if summary["total"]["done"] < 8:
            assert "budget.dailyUsd" in (summary["stopped"] or ""), summary
        if not fake.billed:
            assert summary["total"]["deferred"] == 8, summary


async def test_a_batch_is_settled_at_the_price_of_the_model_it_ran_on(
    tmp_path: Path, fake: FakeAnthropic
) -> None:
    """Sent on Opus 5.5, collected by a session on Haiku 5.5 (the user switched models, or
    another workspace's server collects it): the ledger records what the API billed."""
    from drain_ls.backends.batches import BatchClient
    from drain_ls.budget import Limits, price_of
    from drain_ls.engine import batching

    fake.batch_polls_until_ended = 0
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    client = BatchClient(api_key=KEY, base_url=fake.url)
    opus, haiku = price_of("claude-opus-5-5"), price_of("claude-haiku-5-5")
    assert opus is not None and haiku is not None
    try:
        tasks = batch_tasks(tmp_path, 2, model="claude-opus-5-5")
        sent = await batching.send(
            client, ledger, tasks, workspace=str(tmp_path), limits=Limits(), price=opus
        )
        assert sent.tasks == 2
        collected = await batching.collect(client, ledger, haiku)
        assert collected.succeeded == 2
        billed = sum(
            cost_usd(
                Usage(b.input_tokens, b.output_tokens, b.cache_read_tokens, b.cache_write_tokens),
                opus,
                batch=True,
            )
            for b in fake.billed
            if b.batch
        )
        assert billed > 0
        assert collected.cost_usd == pytest.approx(billed)
        assert sum(r.cost_usd for r in ledger.runs()) == pytest.approx(billed)
    finally:
        await client.close()
        ledger.close()


@pytest.mark.parametrize(
    ("error", "kept"),
    [
        ("billing_error", True),
        ("not_found_error", True),  # the model retired while the batch waited
        ("permission_error", True),
        ("overloaded_error", True),
        ("invalid_request_error", False),  # would fail again as it is: it leaves the queue
    ],
)
async def test_a_batch_request_that_errored_keeps_its_task_unless_it_is_invalid(
    tmp_path: Path, fake: FakeAnthropic, error: str, kept: bool
) -> None:
    from drain_ls.backends.batches import BatchClient
    from drain_ls.budget import Limits, price_of
    from drain_ls.engine import batching

    fake.batch_polls_until_ended = 0
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    client = BatchClient(api_key=KEY, base_url=fake.url)
    price = price_of("claude-haiku-5-5")
    assert price is not None
    try:
        tasks = batch_tasks(tmp_path, 2, model="claude-haiku-5-5")
        await batching.send(
            client, ledger, tasks, workspace=str(tmp_path), limits=Limits(), price=price
        )
        run_ids = [r.id for r in ledger.runs()]
        fake.batch_outcomes = {f"run-{i}": f"errored:{error}" for i in run_ids}
        collected = await batching.collect(client, ledger, price)
        assert collected.failed == 2
        left = ledger.deferred()
        assert len(left) == (2 if kept else 0), left
        assert all("deferred again" in r.reason for r in left)
    finally:
        await client.close()
        ledger.close()


@pytest.mark.parametrize("model", ["claude-opus-5-5", "claude-haiku-5-5", "claude-haiku-4-5"])
def test_a_commit_review_fits_the_per_drain_cap_with_the_thinking_it_cannot_turn_off(
    tmp_path: Path, model: str
) -> None:
    """A review's answer shrinks to leave room for the thinking allowance: its reservation
    never passes ``maxTokensPerDrain`` (which would stop every drain as over budget)."""
    from drain_ls.budget import Limits, Spend, refusal
    from drain_ls.commits import CommitBatch, CommitInfo
    from drain_ls.engine.review import review_tasks

    diff = "+ x = 1\n" * 300  # 2.4 KB: an answer of 700 tokens plus 1,024 would not fit
    commit = CommitInfo("b" * 40, "2026-12-01", "a change", ["a.py"])
    batch = CommitBatch(tmp_path, [commit], diff, "a" * 40, "b" * 40, 0, 0, False)
    limits = Limits()
    [task] = review_tasks(
        batch,
        drains=drains_of({"review": {"enabled": True}}),
        custom=[],
        model=model,
        max_tokens_per_drain=limits.max_tokens_per_drain,
        lookup=lambda key: None,
    )
    reserved = task.input_estimate() + task.sent_max_tokens
    assert reserved <= limits.max_tokens_per_drain
    assert refusal(limits, Spend(), task.tier, reserved, 0.0) is None
    assert task.max_tokens >= 64
