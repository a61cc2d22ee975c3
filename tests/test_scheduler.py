"""The scheduler with the real backend and ledger, without an editor around it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from drain_ls.analysis.source import parse
from drain_ls.backends.anthropic import AnthropicBackend
from drain_ls.budget import Limits, price_of
from drain_ls.engine.drains import Task
from drain_ls.engine.scheduler import Result, Scheduler
from drain_ls.engine.task_building import build_tasks
from drain_ls.ledger import Ledger
from tests.fake_anthropic import FakeAnthropic
from tests.settings_support import drains_of

SOURCE = b'''"""M."""


def first(a):
    return a


def second(b):
    return b
'''


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(reply=lambda body: '"""Doc."""') as api:
        yield api


def tasks(uri: str = "file:///m.py", source: bytes = SOURCE) -> list[Task]:
    tree = parse(source)
    names = {source.index(b"first"): "first", source.index(b"second"): "second"}
    return build_tasks(
        uri,
        source,
        tree.root_node,
        1,
        names,
        model="claude-haiku-4-5",
        max_tokens_per_drain=5000,
        drains=drains_of({"summaries": {"enabled": False}}),
    )


def make(
    fake: FakeAnthropic, tmp_path: Path, results: list[Result], **options: object
) -> Scheduler:
    return Scheduler(
        AnthropicBackend(api_key="sk-ant-test", base_url=fake.url),
        Ledger(tmp_path / "ledger.sqlite3"),
        Limits(),
        price_of("claude-haiku-4-5"),
        results.append,
        idle_delay=0.01,
        **options,  # type: ignore[arg-type]
    )


async def until(condition: object, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():  # type: ignore[operator]
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def test_policy_all_cancels_every_running_drain(fake: FakeAnthropic, tmp_path: Path) -> None:
    fake.default = "hang"
    results: list[Result] = []
    scheduler = make(fake, tmp_path, results, cancel_policy="all")
    scheduler.start()
    scheduler.submit("file:///m.py", tasks())
    await until(lambda: len(scheduler.running) == 2 and len(fake.log) == 2)
    # An edit of another file, far from both functions, still cancels both.
    assert scheduler.edited("file:///other.py", [(0, 0, 1)]) == 2
    await until(lambda: len(fake.disconnects) == 2)
    await scheduler.close()
    runs = scheduler.ledger.runs() if scheduler.ledger else []
    assert [r.status for r in runs] == ["cancelled", "cancelled"]


async def test_policy_affected_cancels_only_the_touched_drain(
    fake: FakeAnthropic, tmp_path: Path
) -> None:
    fake.default = "hang"
    scheduler = make(fake, tmp_path, [])
    scheduler.start()
    scheduler.submit("file:///m.py", tasks())
    await until(lambda: len(scheduler.running) == 2 and len(fake.log) == 2)
    inside_second = SOURCE.index(b"return b")
    assert (
        scheduler.edited("file:///m.py", [(inside_second, inside_second, inside_second + 1)]) == 1
    )
    await until(lambda: len(fake.disconnects) == 1)
    assert [r.task.qualname for r in scheduler.running.values()] == ["first"]
    await scheduler.close()


async def test_spend_limit_stops_for_the_day(fake: FakeAnthropic, tmp_path: Path) -> None:
    fake.scenarios = ["429-spend"]
    scheduler = make(fake, tmp_path, [], concurrency=1)
    scheduler.start()
    scheduler.submit("file:///m.py", tasks())
    await until(lambda: scheduler.stopped is not None)
    await asyncio.sleep(0.1)
    assert len(fake.log) == 1  # nothing more is sent
    assert "spend limit" in (scheduler.stopped or "")
    await scheduler.close()


async def test_rate_limit_headroom_holds_drains_back(fake: FakeAnthropic, tmp_path: Path) -> None:
    fake.ratelimit = {"tokens-limit": "1000", "tokens-remaining": "100"}
    scheduler = make(fake, tmp_path, [], concurrency=1, ratelimit_reserve=0.5)
    scheduler.start()
    scheduler.submit("file:///m.py", tasks())
    await until(lambda: len(fake.log) == 1)
    await asyncio.sleep(0.3)
    # The first response said 10% is left, under the 50% reserve: the second waits.
    assert len(fake.log) == 1
    assert scheduler.paused_until > 0
    await scheduler.close()


async def test_an_edit_of_the_context_cancels_at_once_whatever_the_scope(
    fake: FakeAnthropic, tmp_path: Path
) -> None:
    """The context a drain sent (the imports, the signatures) is made from the document: a
    keystroke there makes every drain on the file stale at once, not when the file is
    analysed again (a broken file is analysed only when the user pauses)."""
    fake.default = "hang"
    scheduler = make(fake, tmp_path, [])
    scheduler.start()
    source = b"import os\n" + SOURCE
    scheduler.submit("file:///m.py", tasks(source=source))
    await until(lambda: len(scheduler.running) == 2 and len(fake.log) == 2)
    in_import = len(b"import os")  # typing `(` after it
    assert scheduler.edited("file:///m.py", [(in_import, in_import, in_import + 1)]) == 2
    await until(lambda: len(fake.disconnects) == 2)
    await scheduler.close()


async def test_a_ledger_deleted_under_a_result_s_write_stops_the_drains_and_says_so_once(
    fake: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: object
) -> None:
    """The result of a run is stored after it is delivered, on the ledger's thread: a ledger
    deleted in between fails that write. The drains stop and the ledger is recreated then,
    said once (the write's own error was said too, and nothing stopped until the next run
    met the deleted file: found by CI, whose run deleted the ledger in between)."""
    import logging
    import threading

    release = threading.Event()
    real = Ledger.store_result

    def held(self: Ledger, *args: object, **kwargs: object) -> None:
        release.wait(10)
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Ledger, "store_result", held)
    results: list[Result] = []
    scheduler = make(fake, tmp_path, results)
    scheduler.start()
    with caplog.at_level(logging.INFO):  # type: ignore[attr-defined]
        scheduler.submit("file:///m.py", tasks()[:1])
        await until(lambda: len(results) == 1)  # delivered; its write waits
        (tmp_path / "ledger.sqlite3").unlink()
        release.set()
        await until(lambda: scheduler.stopped is not None)
        await scheduler.close()
    assert "deleted" in scheduler.stopped
    said = [r for r in caplog.records if "deleted while in use" in r.getMessage()]  # type: ignore[attr-defined]
    assert len(said) == 1, [r.getMessage() for r in said]
    assert len(fake.log) == 1 and (tmp_path / "ledger.sqlite3").exists()  # recreated
