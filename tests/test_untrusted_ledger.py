"""The ledger is not ours alone: another process may lock it, delete it, replace it, drop its
tables; a price may be NaN. The editor is answered at once whatever happens, nothing is ever
sent that the ledger does not record, and the reason is always in ``drain/status``."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from drain_ls.backends.anthropic import AnthropicBackend
from drain_ls.budget import Limits, Price, Usage
from drain_ls.engine.drains import Task
from drain_ls.engine.scheduler import Result, Scheduler
from drain_ls.ledger import Ledger, LedgerError, Reservation
from drain_ls.report import report
from tests.fake_anthropic import FakeAnthropic
from tests.ledger_file import raw_rows, refuse_writes
from tests.lsp_support import fake_api_env, range_of, start_server, wait_until
from tests.test_drains_e2e import settings
from tests.test_scheduler import tasks

HAIKU = Price(1.0, 5.0)
SOURCE = '''"""A module."""


def add(a, b):
    return a + b
'''
MORE = "\n\ndef sub(a, b):\n    return a - b\n"
DOCSTRING = '"""Add two numbers.\n\nArgs:\n    a: The first.\n    b: The second.\n"""'

# Holds an exclusive lock on a SQLite file until a line arrives on stdin (or time is up):
# what `sqlite3 ledger.sqlite3 'BEGIN EXCLUSIVE;'` left open does.
HOLDER = """
import select, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
select.select([sys.stdin], [], [], float(sys.argv[2]))
db.execute("ROLLBACK")
db.close()
"""


@contextmanager
def lock_held(path: Path, seconds: float = 90.0) -> Iterator[Callable[[], None]]:
    """Another process holds the exclusive lock of ``path``; call the result to release it."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline().strip() == "locked"

    def release() -> None:
        if holder.poll() is None:
            assert holder.stdin is not None
            holder.stdin.write("\n")
            holder.stdin.flush()
            holder.wait(timeout=10)

    try:
        yield release
    finally:
        release()


def rows(path: Path) -> list[dict[str, Any]]:
    """The runs in the file at ``path`` (none when there is no file), read as an outsider."""
    return raw_rows(path, "runs")


def billed(path: Path) -> list[dict[str, Any]]:
    """The runs that sent a request: every row but reservations released unused."""
    return [
        r
        for r in rows(path)
        if not (r["status"] == "cancelled" and r["input_tokens"] == r["output_tokens"] == 0)
    ]


def reserve(ledger: Ledger, price: Price = HAIKU, key: str = "h") -> Reservation:
    made = ledger.reserve(
        drain="docstrings",
        workspace="/w",
        scope_key="f",
        content_hash=key,
        model="claude-haiku-4-5",
        tier=2,
        input_estimate=100,
        max_tokens=100,
        limits=Limits(),
        price=price,
    )
    assert isinstance(made, Reservation)
    return made


# -- the ledger -------------------------------------------------------------------------------


def test_a_lock_held_elsewhere_is_waited_for_briefly_and_said(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path, busy_timeout=0.3)
    with lock_held(path):
        started = time.monotonic()
        with pytest.raises(LedgerError) as caught:
            reserve(ledger)
        assert time.monotonic() - started < 5  # the lock is held for 90 s
        assert caught.value.kind == "locked" and "locked" in str(caught.value)
        assert ledger.runs() == []  # reading does not wait for the writer (WAL)
    reserve(ledger)  # the lock is gone: no restart needed
    assert len(ledger.runs()) == 1


async def test_on_the_event_loop_a_lock_is_hardly_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path)
    with lock_held(path):
        started = time.monotonic()
        with pytest.raises(LedgerError, match="locked"):
            ledger.dismiss("k", "docstrings")  # on the loop's thread: a few ms at most
        on_loop = time.monotonic() - started
        started = time.monotonic()
        with pytest.raises(LedgerError, match="locked"):
            await ledger.submit(ledger.dismiss, "k", "docstrings")  # the ledger's thread
        off_loop = time.monotonic() - started
    assert on_loop < off_loop / 10 and off_loop < 5
    await ledger.submit(ledger.dismiss, "k", "docstrings")
    assert ledger.dismissed("k")


def test_a_lazy_ledger_opened_under_a_lock_opens_later(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    with lock_held(path):  # a new file, locked in rollback mode: even reads wait
        ledger = Ledger(path, lazy=True, busy_timeout=0.2)
        with pytest.raises(LedgerError) as caught:
            ledger.runs()
        assert caught.value.kind == "locked"
    assert ledger.runs() == []
    reserve(ledger)


def test_a_deleted_ledger_is_found_before_reserving_and_recreated(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path)
    done = reserve(ledger, key="done")
    ledger.settle(done.run_id, Usage(40, 10), "done", HAIKU)
    open_run = reserve(ledger, key="open")  # its request is in flight
    spent = ledger.spend()
    for name in os.listdir(tmp_path):
        (tmp_path / name).unlink()  # rm ledger.sqlite3*
    with pytest.raises(LedgerError) as caught:
        reserve(ledger, key="unrecorded")
    assert caught.value.kind == "vanished" and str(path) in str(caught.value)
    assert not path.exists()  # nothing was written anywhere
    outcome = ledger.reopen()
    assert "new ledger" in outcome and "carried over" in outcome
    assert path.exists()
    assert [r["content_hash"] for r in rows(path)] == ["done", "open"]
    assert ledger.spend() == spent  # today's caps still hold
    # The run in flight settles in the new file, whatever its id there.
    ledger.settle(open_run.run_id, Usage(30, 5), "done", HAIKU, generation=open_run.generation)
    assert [r["status"] for r in rows(path)] == ["done", "done"]
    reserve(ledger, key="next")
    assert len(rows(path)) == 3


def test_only_the_main_file_deleted_its_old_journal_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path)
    reserve(ledger, key="a")
    path.unlink()  # -wal and -shm stay
    with pytest.raises(LedgerError, match="deleted"):
        reserve(ledger, key="b")
    ledger.reopen()
    reserve(ledger, key="c")
    assert [r["content_hash"] for r in rows(path)] == ["a", "c"]
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check.close()


def test_a_replaced_ledger_is_used_only_when_it_is_a_plain_file_in_our_directory(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path)
    reserve(ledger, key="a")
    other = Ledger(tmp_path / "other.sqlite3")
    reserve(other, key="x")
    other.close()
    os.replace(tmp_path / "other.sqlite3", path)
    with pytest.raises(LedgerError, match="replaced"):
        reserve(ledger, key="b")
    assert "is used" in ledger.reopen()
    assert [r["content_hash"] for r in rows(path)] == ["x", "a"]
    # A link or a directory put in its place is never used.
    for name in os.listdir(tmp_path):
        (tmp_path / name).unlink()
    path.mkdir()
    with pytest.raises(LedgerError, match=r"replaced|deleted"):
        reserve(ledger, key="c")
    with pytest.raises(LedgerError, match="not a regular file"):
        ledger.reopen()
    path.rmdir()
    path.symlink_to(tmp_path / "elsewhere.sqlite3")
    with pytest.raises(LedgerError, match="not a regular file"):
        ledger.reopen()
    assert not (tmp_path / "elsewhere.sqlite3").exists()


def test_no_ledger_is_recreated_when_its_directory_is_gone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ledger = Ledger(home / "ledger.sqlite3")
    for name in os.listdir(home):
        (home / name).unlink()
    home.rmdir()
    with pytest.raises(LedgerError) as caught:
        reserve(ledger)
    assert caught.value.kind == "vanished"
    with pytest.raises(LedgerError, match=r"directory .* is gone"):
        ledger.reopen()
    assert not home.exists()
    with pytest.raises(LedgerError, match="deleted"):
        ledger.dismiss("k", "docstrings")  # no write goes to the vanished file
    assert not home.exists()


@pytest.mark.parametrize(
    "price", [Price(math.nan, 5.0), Price(1.0, math.inf), Price(-1.0, 5.0), Price(1.0, -5.0)]
)
def test_a_price_that_is_not_a_finite_non_negative_number_is_never_recorded(
    tmp_path: Path, price: Price
) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    with pytest.raises(LedgerError) as caught:
        reserve(ledger, price)
    assert caught.value.kind == "invalid"
    assert ledger.runs() == []


@pytest.mark.parametrize(
    "usage",
    [Usage(-1, 5), Usage(10, -5), Usage(10, 5, cache_read_tokens=-1), Usage(10.5, 5)],  # type: ignore[arg-type]
)
def test_a_usage_that_is_not_a_count_is_never_recorded(tmp_path: Path, usage: Usage) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    made = reserve(ledger)
    with pytest.raises(LedgerError) as caught:
        ledger.settle(made.run_id, usage, "done", HAIKU)
    assert caught.value.kind == "invalid"
    # The reservation stays, counted at its worst case: fail closed.
    [row] = ledger.runs()
    assert row.status == "reserved" and ledger.spend().daily_tokens == made.tokens
    with pytest.raises(LedgerError):
        ledger.settle(made.run_id, Usage(1, 1), "done", Price(math.nan, 1.0))
    with pytest.raises(LedgerError):
        ledger.store_result(
            "k", drain="d", model="m", content_hash="k", value={"text": "x"}, tokens=1, cost=-1.0
        )


def test_a_dropped_table_is_a_ledger_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path)
    outsider = sqlite3.connect(path)
    outsider.execute("DROP TABLE runs")
    outsider.commit()
    outsider.close()
    with pytest.raises(LedgerError, match="no such table: runs"):
        reserve(ledger)
    with pytest.raises(LedgerError, match="no such table: runs"):
        ledger.runs()


def test_spend_the_ledger_cannot_count_refuses_every_reservation(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path)
    made = reserve(ledger)
    ledger.settle(made.run_id, Usage(40, 10), "done", HAIKU)
    outsider = sqlite3.connect(path)
    outsider.execute("UPDATE runs SET cost_usd = 1e999, input_tokens = 1e999")
    outsider.commit()
    outsider.close()
    refused = ledger.reserve(
        drain="docstrings",
        workspace="/w",
        scope_key="g",
        content_hash="g",
        model="claude-haiku-4-5",
        tier=2,
        input_estimate=10,
        max_tokens=10,
        limits=Limits(),
        price=HAIKU,
    )
    assert not isinstance(refused, Reservation)  # a cap refuses: fail closed
    assert ledger.pool_left() == 0


def test_the_report_bounds_absurd_days_and_values(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    made = reserve(ledger)
    ledger.settle(made.run_id, Usage(40, 10), "done", HAIKU)
    outsider = sqlite3.connect(tmp_path / "ledger.sqlite3")
    outsider.execute("UPDATE runs SET output_tokens = 'lots', cost_usd = 1e999")
    outsider.execute(
        "INSERT INTO entries (workspace, drain, path, scope_key, text, model, created_at) "
        "VALUES ('/w', 'd', 'p', 's', 't', 'm', 1e300)"
    )
    outsider.commit()
    outsider.close()
    for days in (3_000_000, 10**30, 0, -5):
        data = report(ledger, days)
        assert 1 <= data["days"] <= 3650
        assert math.isfinite(data["total"]["costUsd"])
    assert report(ledger, 7)["entries"][0]["created"] == ""


def test_report_days_out_of_range_is_a_usage_error(tmp_path: Path) -> None:
    env = {**os.environ, "DRAIN_LS_HOME": str(tmp_path)}
    for days in ("3000000", "0"):
        done = subprocess.run(
            [sys.executable, "-m", "drain_ls", "report", "--days", days],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert "--days" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "drain_ls", "report", "--days", "3650", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


# -- the scheduler ----------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(reply=lambda body: '"""Doc."""') as api:
        yield api


def scheduler_for(
    fake: FakeAnthropic, ledger: Ledger, price: Price = HAIKU, **options: Any
) -> Scheduler:
    return Scheduler(
        AnthropicBackend(api_key="sk-ant-test", base_url=fake.url),
        ledger,
        Limits(),
        price,
        lambda result: None,
        idle_delay=0.01,
        **options,
    )


@pytest.mark.parametrize("price", [Price(math.nan, math.nan), Price(-1.0, 5.0)])
async def test_a_bad_price_stops_the_drains_with_the_reason_and_nothing_is_sent(
    fake: FakeAnthropic, tmp_path: Path, price: Price
) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    scheduler = scheduler_for(fake, ledger, price)
    scheduler.start()
    scheduler.submit("file:///m.py", tasks())
    await asyncio.sleep(0.3)
    scheduler._publish()
    assert scheduler.status.state == "disabled" and "price" in scheduler.status.reason
    assert fake.log == [] and ledger.runs() == []
    assert scheduler._loop is not None and not scheduler._loop.done()
    await scheduler.close()


async def test_a_dropped_table_stops_the_drains_with_the_reason(
    fake: FakeAnthropic, tmp_path: Path
) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path)
    outsider = sqlite3.connect(path)
    outsider.execute("DROP TABLE runs")
    outsider.commit()
    outsider.close()
    scheduler = scheduler_for(fake, ledger)
    scheduler.start()
    scheduler.submit("file:///m.py", tasks())
    await wait_until(lambda: scheduler.stopped, timeout=10)
    scheduler._publish()
    assert scheduler.status.state == "disabled"
    assert "no such table: runs" in scheduler.status.reason
    assert "ledger" in scheduler.status.reason
    assert fake.log == []
    assert scheduler.queue  # the work waits, it is not lost
    assert scheduler._loop is not None and not scheduler._loop.done()
    await scheduler.close()


async def test_an_unwritable_ledger_stops_the_drains_with_the_reason_logged_once(
    fake: FakeAnthropic, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")

    # What a read-only file or a full disk does to a write (on the thread that writes).
    await ledger.submit(refuse_writes, ledger)
    scheduler = scheduler_for(fake, ledger)
    with caplog.at_level(logging.INFO, logger="drain_ls"):
        scheduler.start()
        scheduler.submit("file:///m.py", tasks())
        await wait_until(lambda: scheduler.stopped, timeout=10)
        scheduler.resume()  # tried again: the same answer, not logged again
        await wait_until(lambda: scheduler.stopped, timeout=10)
    scheduler._publish()
    assert scheduler.status.state == "disabled"
    assert "ledger" in scheduler.status.reason and "readonly" in scheduler.status.reason
    assert len([r for r in caplog.records if "readonly" in r.getMessage()]) == 1
    assert fake.log == [] and ledger.runs() == []
    await scheduler.close()


async def test_an_error_in_the_dispatch_loop_is_logged_once_shown_and_survived(
    fake: FakeAnthropic, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    results: list[Result] = []
    scheduler = Scheduler(
        AnthropicBackend(api_key="sk-ant-test", base_url=fake.url),
        ledger,
        Limits(),
        HAIKU,
        results.append,
        idle_delay=0.01,
    )
    secret = "def first(a): the prompt body"

    def broken(task: Task) -> float:
        raise ValueError(secret)

    scheduler._value = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO, logger="drain_ls"):
        scheduler.start()
        scheduler.submit("file:///m.py", tasks())
        await wait_until(lambda: scheduler.stopped, timeout=10)
        for _ in range(5):
            scheduler.activity()  # wakes the loop again and again
            await asyncio.sleep(0.02)
        scheduler._publish()
        assert scheduler.status.state == "disabled"
        assert "internal error" in scheduler.status.reason
        assert "ValueError" in scheduler.status.reason
        assert scheduler._loop is not None and not scheduler._loop.done()
        logged = [r for r in caplog.records if "ValueError" in r.getMessage()]
        assert len(logged) == 1 and logged[0].exc_info is None
        assert all(secret not in r.getMessage() for r in caplog.records)
        assert fake.log == []
        # Fixed: drain.resume goes on, without a restart.
        del scheduler._value
        scheduler.resume()
        await wait_until(lambda: len(results) == 2, timeout=10)
    await scheduler.close()
    assert len(fake.log) == 2 and len(ledger.runs()) == 2


async def test_an_error_in_a_run_is_caught_logged_and_shown(
    fake: FakeAnthropic, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    calls: list[Result] = []

    def deliver(result: Result) -> None:
        calls.append(result)
        raise KeyError("the answer text")

    scheduler = Scheduler(
        AnthropicBackend(api_key="sk-ant-test", base_url=fake.url),
        ledger,
        Limits(),
        HAIKU,
        deliver,
        idle_delay=0.01,
    )
    with caplog.at_level(logging.INFO, logger="drain_ls"):
        scheduler.start()
        scheduler.submit("file:///m.py", tasks())
        await wait_until(lambda: len(calls) == 2, timeout=10)
        await wait_until(lambda: not scheduler.running, timeout=10)
    assert scheduler.stopped is None  # after the request: the drains go on
    assert all("the answer text" not in r.getMessage() for r in caplog.records)
    assert len([r for r in caplog.records if "KeyError" in r.getMessage()]) == 1
    await scheduler.close()
    assert [r.status for r in ledger.runs()] == ["done", "done"]


async def test_the_drains_wait_for_a_lock_and_go_on_when_it_is_gone(
    fake: FakeAnthropic, tmp_path: Path
) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path, busy_timeout=0.2)
    scheduler = scheduler_for(fake, ledger)
    with lock_held(path) as release:
        scheduler.start()
        scheduler.submit("file:///m.py", tasks())
        await wait_until(lambda: scheduler.ledger_wait, timeout=10)
        scheduler._publish()
        assert scheduler.status.state == "paused"
        assert "locked" in scheduler.status.reason and str(path) in scheduler.status.reason
        assert fake.log == []
        release()
    await wait_until(lambda: len(fake.log) == 2 and not scheduler.running, timeout=30)
    scheduler._publish()
    assert scheduler.status.state == "idle" and scheduler.status.reason == ""
    await scheduler.close()
    assert [r.status for r in ledger.runs()] == ["done", "done"]


async def test_a_run_held_by_a_lock_when_it_settles_is_settled_later(
    fake: FakeAnthropic, tmp_path: Path
) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path, busy_timeout=0.2)
    fake.default = "slow"
    scheduler = scheduler_for(fake, ledger, concurrency=1)
    scheduler.start()
    scheduler.submit("file:///m.py", tasks()[:1])
    await wait_until(lambda: fake.log, timeout=10)
    with lock_held(path) as release:
        await wait_until(lambda: scheduler._unsettled, timeout=10)
        assert [r["status"] for r in rows(path)] == ["reserved"]  # its worst case counts
        release()
    await wait_until(lambda: [r["status"] for r in rows(path)] == ["done"], timeout=30)
    await scheduler.close()


# -- end to end: a real server, the real SDK, the local fake of the API -------------------------


class Editor:
    """A server process, one document in it, and timed requests."""

    def __init__(self, client: LanguageClient, root: Path) -> None:
        self.client = client
        self.uri = (root / "m.py").as_uri()
        self.text = SOURCE
        self.version = 1

    def open(self) -> None:
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=self.uri, language_id="python", version=1, text=self.text
                )
            )
        )

    def append(self, text: str) -> None:
        """Type ``text`` at the end of the document."""
        lines = self.text.split("\n")
        end = types.Position(line=len(lines) - 1, character=len(lines[-1]))
        self.text += text
        self.version += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=self.uri, version=self.version
                ),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(start=end, end=end), text=text
                    )
                ],
            )
        )

    async def hover(self) -> float:
        """How long a hover on ``add`` took to be answered."""
        started = time.monotonic()
        await self.client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=self.uri),
                position=range_of(self.text, "add", "utf-16").start,
            )
        )
        return time.monotonic() - started

    async def titles(self, at: str = "add") -> list[str]:
        result = await self.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=self.uri),
                range=range_of(self.text, at, "utf-16"),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        return [a.title for a in result or []]

    async def command(self, name: str) -> dict[str, Any]:
        result = await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name)
        )
        return dict(result)

    async def status(self) -> dict[str, Any]:
        return dict((await self.command("drain.status"))["drains"])

    async def status_until(self, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        for _ in range(3000):
            status = await self.status()
            if check(status):
                return status
            await asyncio.sleep(0.01)
        raise AssertionError(f"status never matched: {status}")

    async def generated(self, at: str = "add") -> None:
        for _ in range(3000):
            if "Insert generated docstring" in await self.titles(at):
                return
            await asyncio.sleep(0.01)
        raise AssertionError("no generated docstring was offered")


@pytest.fixture
def api() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(reply=lambda body: DOCSTRING) as fake_api:
        yield fake_api


@pytest.fixture
async def session(tmp_path: Path, api: FakeAnthropic) -> AsyncIterator[Editor]:
    env = fake_api_env(api.url, tmp_path / "home", "sk-ant-test-0123456789")
    client = await start_server(tmp_path, settings(), env)
    yield Editor(client, tmp_path)
    await client.shutdown_session()


@pytest.mark.parametrize("existing", [True, False], ids=["wal-ledger", "new-file"])
async def test_initialize_and_requests_are_answered_while_the_ledger_is_locked(
    tmp_path: Path, api: FakeAnthropic, existing: bool
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    path = home / "ledger.sqlite3"
    if existing:
        Ledger(path).close()
    env = fake_api_env(api.url, home, "sk-ant-test-0123456789")
    with lock_held(path) as release:  # for 90 s unless released
        started = time.monotonic()
        client = await start_server(tmp_path, settings(), env)
        initialized = time.monotonic() - started
        editor = Editor(client, tmp_path)
        try:
            # Not held up by the lock, which is held for 90 s: a server that waited for it
            # would take that long. (A tighter wall-clock bound, 10 s, failed on a loaded
            # machine where starting the server alone took 12-13 s.)
            assert initialized < 45
            editor.open()
            status = await editor.status_until(lambda s: "locked" in s["reason"])
            assert status["state"] == "paused" and str(path) in status["reason"]
            # Hover, code actions and edits are answered at once while the drains wait.
            assert await editor.hover() < 5
            editor.append("\n# an edit\n")
            assert "Insert generated docstring" not in await editor.titles()
            assert await editor.hover() < 5
            assert api.log == []  # nothing sent that the ledger could not record
            release()
            # The lock is gone: the drains go on by themselves, no restart.
            await editor.generated()
            status = await editor.status_until(lambda s: s["state"] == "idle")
            assert status["reason"] == "" and status["completed"] == 1
            assert len(api.log) == len(rows(path)) == 1
        finally:
            await client.shutdown_session()


@pytest.mark.parametrize("journal", [False, True], ids=["main-file", "with-journal"])
async def test_a_ledger_deleted_mid_session_never_lets_a_request_go_unrecorded(
    tmp_path: Path, api: FakeAnthropic, session: Editor, journal: bool
) -> None:
    path = tmp_path / "home" / "ledger.sqlite3"
    session.open()
    await session.generated()
    assert len(api.log) == len(rows(path)) == 1
    for name in ["ledger.sqlite3", *(["ledger.sqlite3-wal", "ledger.sqlite3-shm"] * journal)]:
        (path.parent / name).unlink(missing_ok=True)
    session.append(MORE)  # a new function: a new drain task
    status = await session.status_until(lambda s: s["state"] == "disabled")
    assert "ledger" in status["reason"] and "deleted" in status["reason"]
    assert str(path) in status["reason"]
    await asyncio.sleep(0.3)
    assert len(api.log) == 1  # nothing was sent unrecorded
    # Recreated, with today's run (and at most a reservation released unused by a run that
    # was reserving when the other met the deleted file: nothing sent, nothing spent).
    assert [r["status"] for r in billed(path)] == ["done"]
    assert await session.hover() < 5
    said = [m.message for m in session.client.log_messages if "deleted while in use" in m.message]
    assert len(said) == 1  # logged once
    # drain.resume: the drains go on with the new ledger, which records every request.
    await session.command("drain.resume")
    await session.generated("sub")
    await session.status_until(lambda s: s["state"] == "idle")
    recorded = billed(path)
    # (The new function changed the file's outline: `add` is asked about again too.)
    assert len(api.log) == len(recorded) >= 2
    assert "sub" in [r["scope_key"] for r in recorded]
    assert all(r["status"] == "done" and r["cost_usd"] > 0 for r in recorded)
    report = await session.command("drain.report")
    assert report["total"]["costUsd"] == pytest.approx(
        sum(r["cost_usd"] for r in recorded), abs=1e-5
    )


async def test_a_table_dropped_mid_session_stops_the_drains_with_the_reason(
    tmp_path: Path, api: FakeAnthropic, session: Editor
) -> None:
    path = tmp_path / "home" / "ledger.sqlite3"
    session.open()
    await session.generated()
    outsider = sqlite3.connect(path)
    outsider.execute("DROP TABLE runs")
    outsider.commit()
    outsider.close()
    session.append(MORE)
    status = await session.status_until(lambda s: s["state"] == "disabled")
    assert "no such table: runs" in status["reason"] and "ledger" in status["reason"]
    await asyncio.sleep(0.3)
    assert len(api.log) == 1  # nothing dispatched
    assert await session.hover() < 5  # the server goes on serving
    assert "Insert generated docstring" in await session.titles()


@pytest.mark.parametrize(
    "price",
    [
        {"input": -1.0, "output": -5.0},
        {"input": 1.0, "output": -50.0},
        {"input": math.nan, "output": 5.0},  # JSON has no NaN; Python's json reads one
    ],
)
async def test_a_negative_or_nan_price_is_never_recorded(
    tmp_path: Path, api: FakeAnthropic, price: dict[str, float]
) -> None:
    home = tmp_path / "home"
    env = fake_api_env(api.url, home, "sk-ant-test-0123456789")
    client = await start_server(
        tmp_path, settings(llm={"prices": {"claude-haiku-4-5": price}}), env
    )
    editor = Editor(client, tmp_path)
    try:
        editor.open()
        # Either the drains refuse the price (and say so), or they run at a valid one.
        status = await editor.status_until(
            lambda s: s["state"] == "disabled" or s["completed"] >= 1
        )
        await asyncio.sleep(0.3)
        recorded = rows(home / "ledger.sqlite3")
        assert len(api.log) == len(recorded)  # every request recorded
        for row in recorded:
            for column in ("reserved_usd", "cost_usd"):
                assert math.isfinite(row[column]) and row[column] >= 0, row
        if status["state"] == "disabled":
            assert "price" in status["reason"] and api.log == []
        assert math.isfinite(status["costUsd"]) and status["costUsd"] >= 0
    finally:
        await client.shutdown_session()


def test_a_lock_held_by_a_thread_of_this_process_is_handled_too(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path, busy_timeout=0.2)
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(30)
        db.execute("ROLLBACK")
        db.close()

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait(10)
    try:
        with pytest.raises(LedgerError) as caught:
            reserve(ledger)
        assert caught.value.kind == "locked"
    finally:
        release.set()
        holder.join(10)
    reserve(ledger)
