"""``drain-ls run``, the deferred queue and the shared pool: real processes, real SDK, fake API."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from drain_ls.budget import Limits, Price, Usage
from drain_ls.ledger import Ledger, Reservation, RunStatus
from tests.fake_anthropic import FakeAnthropic
from tests.ledger_file import columns, count
from tests.lsp_support import fake_api_env, start_server, wait_until

API_KEY = "sk-ant-test-headless-0123456789"


def drain_ls(
    *args: str, home: Path, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drain_ls", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        input=stdin,
        env={**os.environ, "DRAIN_LS_HOME": str(home), "COLUMNS": "160", **(env or {})},
        timeout=120,
    )


def check_adds_up(summary: dict[str, Any]) -> None:
    total = summary["total"]
    for field in ("tasks", "done", "cached", "failed", "deferred", "batched", "totalTokens"):
        assert total[field] == sum(row[field] for row in summary["drains"].values()), field
    for name, row in summary["drains"].items():
        parts = ("done", "cached", "failed", "deferred", "batched")
        assert row["tasks"] == sum(row[part] for part in parts), name
    assert total["costUsd"] == pytest.approx(
        sum(row["costUsd"] for row in summary["drains"].values()), abs=1e-5
    )


JSON_CUSTOM = """
[tool.drain-ls.llm]
backend = "offline"

[[tool.drain-ls.drains.custom]]
name = "module-doc"
prompt = "Write the module docstring from the summaries."
scope = "module"
after = "summaries"
output = "report"
"""


def test_run_on_the_stdlib_json_package_offline(tmp_path: Path) -> None:
    package = tmp_path / "json"
    shutil.copytree(Path(sysconfig.get_paths()["stdlib"]) / "json", package)
    shutil.rmtree(package / "__pycache__", ignore_errors=True)
    (tmp_path / "pyproject.toml").write_text(JSON_CUSTOM)
    home = tmp_path / "home"

    table = drain_ls("run", "json", home=home, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "drain-ls run: 5 file(s), offline" in table.stdout
    assert "module-doc" in table.stdout and "summaries" in table.stdout
    progress = re.search(r"(\d+)/(\d+)", table.stderr)  # the progress bar's last state
    assert progress is not None and progress.group(1) == progress.group(2)

    summary = json.loads(drain_ls("run", "json", "--json", home=home, cwd=tmp_path).stdout)
    check_adds_up(summary)
    assert summary["total"]["tasks"] == int(progress.group(2))
    rows = summary["drains"]
    assert rows["module-doc"]["done"] == 5  # one per module, after the summaries
    assert rows["summaries"]["done"] == rows["summaries"]["tasks"] > 20
    assert summary["total"]["costUsd"] == 0 and summary["total"]["failed"] == 0

    report = json.loads(drain_ls("report", "--json", home=home, cwd=tmp_path).stdout)
    # Two runs: the report counts both, task for task.
    assert report["total"]["completed"] == 2 * summary["total"]["done"]
    entries = [e for e in report["entries"] if e["drain"] == "module-doc"]
    assert {Path(e["path"]).name for e in entries} == {
        "__init__.py", "decoder.py", "encoder.py", "scanner.py", "tool.py",
    }  # fmt: skip
    decoder = next(e for e in entries if e["path"].endswith("decoder.py"))
    assert "Built from" in decoder["text"] and "JSONDecoder" in decoder["text"]
    text = drain_ls("report", home=home, cwd=tmp_path)
    assert "latest entries" in text.stdout and "module-doc" in text.stdout


# The workspace may turn a drain off; the backend, the model and batches are the user's
# own settings (their config file, here in DRAIN_LS_HOME): the trust model.
PROJECT = """
[tool.drain-ls.drains]
simplify = { enabled = false }
"""

USER_CONFIG = """
[llm]
backend = "anthropic"
model = "claude-haiku-4-5"
"""


def write_project(root: Path, batched: bool = False) -> None:
    """The workspace's pyproject.toml, and the user's config in ``root/home``."""
    (root / "pyproject.toml").write_text(PROJECT)
    (root / "home").mkdir(exist_ok=True)
    user = USER_CONFIG + ("batch = true\n" if batched else "")
    (root / "home" / "config.toml").write_text(user)


def run_with_budget(
    root: Path, home: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """``drain-ls run --budget 2500`` on ``root``: some tasks run, the rest are deferred."""
    return drain_ls("run", ".", "--budget", "2500", "--yes", "--json", home=home, cwd=root, env=env)


MODULE = "\n\n".join(
    f"def function_{i}(a, b):\n    return a + b * {i}\n" for i in range(6)
)  # six public functions: twelve tasks (docstrings and summaries)


def test_budget_defers_and_the_next_run_takes_the_queue_up(tmp_path: Path) -> None:
    write_project(tmp_path)
    (tmp_path / "mod.py").write_text(MODULE)
    home = tmp_path / "home"
    with FakeAnthropic(reply=lambda body: '"""Add things."""') as fake:
        env = fake_api_env(fake.url, home, API_KEY)

        # No consent, no terminal to ask on: nothing is sent.
        refused = drain_ls("run", ".", home=home, cwd=tmp_path, env=env)
        assert refused.returncode == 1 and "--yes" in refused.stderr
        assert fake.log == []

        first = run_with_budget(tmp_path, home, env)
        assert first.returncode == 0, first.stderr
        summary = json.loads(first.stdout)
        check_adds_up(summary)
        total = summary["total"]
        assert total["tasks"] == 12
        assert 0 < total["done"] < 12 and total["deferred"] == 12 - total["done"]
        assert summary["stopped"].startswith("over budget: --budget")
        # What the run counted is what the API billed, and the reservations kept it under
        # the budget.
        billed = sum(b.input_tokens + b.output_tokens for b in fake.billed)
        billed += sum(b.cache_read_tokens + b.cache_write_tokens for b in fake.billed)
        assert total["totalTokens"] == billed <= 2500

        queue = json.loads(drain_ls("queue", "--json", home=home, cwd=tmp_path).stdout)
        assert len(queue) == total["deferred"]
        assert {Path(row["path"]).name for row in queue} == {"mod.py"}
        assert all(row["estimatedUsd"] > 0 and "--budget" in row["reason"] for row in queue)
        assert "def function_" not in json.dumps(queue)  # a place, never the code

        second = drain_ls("run", ".", "--yes", "--json", home=home, cwd=tmp_path, env=env)
        again = json.loads(second.stdout)
        check_adds_up(again)
        assert again["total"]["done"] == total["deferred"]
        assert again["total"]["cached"] == total["done"]  # never paid twice
        assert again["stopped"] is None
        assert json.loads(drain_ls("queue", "--json", home=home, cwd=tmp_path).stdout) == []


@pytest.mark.parametrize("streams", ["fast", "slow"])
def test_deferred_tasks_of_closed_files_run_at_the_next_idle_time(
    tmp_path: Path, streams: str
) -> None:
    """A cap stops the drains and defers; the next session runs them without the file open.
    With slow streams, a drain is still streaming when the cap is reached (as it was once
    under load): it finishes, and is not asked again."""
    write_project(tmp_path)
    (tmp_path / "mod.py").write_text(MODULE)
    home = tmp_path / "home"

    async def session(fake: FakeAnthropic, daily_tokens: int, open_file: bool) -> None:
        options = {
            "llm": {"enabled": True},
            "idle": {"delayMs": 20},
            "privacy": {"requireConsent": False},
            "budget": {"dailyTokens": daily_tokens},
        }
        client = await start_server(tmp_path, options, fake_api_env(fake.url, home, API_KEY))
        try:
            if open_file:
                uri = (tmp_path / "mod.py").as_uri()
                client.text_document_did_open(
                    types.DidOpenTextDocumentParams(
                        text_document=types.TextDocumentItem(
                            uri=uri, language_id="python", version=1, text=MODULE
                        )
                    )
                )

            async def state() -> dict[str, Any]:
                status = await client.workspace_execute_command_async(
                    types.ExecuteCommandParams(command="drain.status")
                )
                return dict(status["drains"])

            if open_file:
                await wait_until(lambda: fake.billed, timeout=30)
                for _ in range(400):
                    if (await state())["state"] == "over-budget":
                        break
                    await asyncio.sleep(0.05)
                assert (await state())["state"] == "over-budget"
                # A drain already streaming when the cap was reached goes on to its end (its
                # reservation fits): wait for it. Shut down under it, its answer is lost and
                # the next session asks again, billed twice (13, seen once at load 5).
                for _ in range(400):
                    if (await state())["running"] == 0:
                        break
                    await asyncio.sleep(0.05)
                assert (await state())["running"] == 0
            else:
                for _ in range(400):
                    current = await state()
                    if current["pending"] == 0 and current["running"] == 0 and fake.billed:
                        break
                    await asyncio.sleep(0.05)
        finally:
            await client.shutdown_session()

    slow = ["slow"] * 3 if streams == "slow" else []
    with FakeAnthropic(reply=lambda body: '"""Add things."""', scenarios=slow, delay=0.4) as fake:
        asyncio.run(session(fake, daily_tokens=1500, open_file=True))
        first_billed = len(fake.billed)
        ledger = Ledger(home / "ledger.sqlite3")
        deferred = ledger.deferred(str(tmp_path.resolve()))
        assert deferred and all(Path(row.path).name == "mod.py" for row in deferred)
        assert 0 < first_billed < 12

        asyncio.run(session(fake, daily_tokens=500_000, open_file=False))
        assert len(fake.billed) == 12  # every task ran once, none twice
        assert ledger.deferred(str(tmp_path.resolve())) == []
        cached = count(home / "ledger.sqlite3", "results")
        assert cached == 12  # waiting in the results cache for when the file opens


def test_shared_pool_donations_and_draws() -> None:
    price = Price(1.0, 5.0)
    limits = Limits(
        session_tokens=20_000,
        min_drain_tokens=1_000,
        max_tokens_per_drain=20_000,
        daily_tokens=100_000,
    )
    path = Path(os.environ["DRAIN_LS_HOME"]) / f"pool-{os.getpid()}.sqlite3"
    if path.exists():
        path.unlink()
    ended = Ledger(path, session="ended")
    # 20,000 - 10% margin = 18,000; tier 2 is 20% = 3,600. The ended session used 600.
    made = ended.reserve(
        drain="summaries", workspace="w", scope_key="a", content_hash="h", model="m", tier=2,
        input_estimate=400, max_tokens=200, limits=limits, price=price,
    )  # fmt: skip
    assert isinstance(made, Reservation)
    ended.settle(made.run_id, Usage(400, 200), "done", price)
    assert ended.donate(limits) == 3_000
    assert ended.donate(limits) == 0  # once per session
    assert ended.pool_left() == 3_000

    current = Ledger(path, session="current")

    def ask(tokens: int, pool: bool) -> Any:
        return current.reserve(
            drain="summaries", workspace="w", scope_key="b", content_hash="h", model="m",
            tier=2, input_estimate=tokens - 100, max_tokens=100, limits=limits, price=price,
            pool=pool,
        )  # fmt: skip

    # Tier 2 may use its 20% and what tier 1 leaves of its 70%: 16,200 tokens.
    own = ask(16_200, pool=True)
    assert own.tier == 2  # its own allowance first
    refused = ask(2_000, pool=False)
    assert refused.cap == "session budget (tier 2)"
    drawn = ask(2_000, pool=True)
    assert drawn.tier == 3  # from the pool
    assert current.pool_left() == 1_000
    over = ask(1_500, pool=True)
    assert over.cap == "session budget (tier 2)"  # the pool cannot cover it either
    # Only counts cross sessions: the pool holds a number per session, nothing else.
    assert columns(path, "pool") == ["session", "day", "tokens", "donated_at"]
    # Daily caps still hold for pool draws.
    # 600 + 16,200 + 2,000 spent today: the pool has 1,000 left, the day only 200.
    tight = Limits(
        session_tokens=20_000, min_drain_tokens=1_000, max_tokens_per_drain=20_000,
        daily_tokens=19_000,
    )  # fmt: skip
    capped = current.reserve(
        drain="summaries", workspace="w", scope_key="c", content_hash="h", model="m", tier=2,
        input_estimate=400, max_tokens=100, limits=tight, price=price, pool=True,
    )  # fmt: skip
    assert capped.cap == "budget.dailyTokens"
    assert len(current.runs(tier=3)) == 1


async def _serve_session(
    root: Path, home: Path, fake: FakeAnthropic, options: dict[str, Any], text: str | None
) -> dict[str, Any]:
    """One editor session: open ``text`` (if any), let the drains run, shut down."""
    client = await start_server(root, options, fake_api_env(fake.url, home, API_KEY))
    state: dict[str, Any] = {}
    try:
        if text is not None:
            client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=(root / "pool.py").as_uri(), language_id="python", version=1, text=text
                    )
                )
            )
            for _ in range(600):
                status = await client.workspace_execute_command_async(
                    types.ExecuteCommandParams(command="drain.status")
                )
                state = dict(status["drains"])
                if state["completed"] == 4 or state["state"] == "over-budget":
                    break
                await asyncio.sleep(0.05)
    finally:
        await client.shutdown_session()
    return state


async def test_a_session_that_ends_donates_to_the_pool_and_the_next_draws_from_it(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    options: dict[str, Any] = {
        "llm": {"enabled": True, "backend": "anthropic"},
        "idle": {"delayMs": 20},
        "privacy": {"requireConsent": False},
        "drains": {"concurrency": 1},
        # 20,000 tokens, 95% margin: a drain budget of 1,000 tokens, room for one request.
        "budget": {"sessionTokens": 20_000, "safetyMargin": 0.95, "minDrainTokens": 500},
    }
    text = "def one(a):\n    return a\n\n\ndef two(b):\n    return b\n"
    with FakeAnthropic(reply=lambda body: '"""Return it."""') as fake:
        # Without the pool the session's own share runs out.
        alone = await _serve_session(tmp_path, home, fake, options, text)
        assert alone["state"] == "over-budget" and alone["completed"] < 4
        ledger = Ledger(home / "ledger.sqlite3")
        assert ledger.pool_left() == 0  # not opted in: nothing donated

        # A session with the pool on ends without using its share: it donates it.
        pooled = {
            **options,
            "budget": {
                **options["budget"],
                "pool": True,
                "sessionTokens": 200_000,
                "safetyMargin": 0.1,
            },
        }
        await _serve_session(tmp_path, home, fake, pooled, None)
        donated = ledger.pool_left()
        assert donated == 200_000 * 90 // 100 * 20 // 100  # its whole tier-2 share

        # The next small session draws what its own share cannot cover from the pool.
        small = {**options, "budget": {**options["budget"], "pool": True}}
        (tmp_path / "pool.py").write_text("")
        done = await _serve_session(tmp_path, home, fake, small, text.replace("one", "uno"))
        assert done["completed"] == 4 and done["state"] != "over-budget"
        drawn = ledger.runs(tier=3)
        assert len(drawn) >= 1
        assert ledger.pool_left() == donated - sum(run.billed_tokens for run in drawn)


def test_deferred_tasks_go_through_message_batches_at_half_price(tmp_path: Path) -> None:
    write_project(tmp_path)
    (tmp_path / "mod.py").write_text(MODULE)
    home = tmp_path / "home"
    with FakeAnthropic(reply=lambda body: '"""Add things."""') as fake:
        fake.batch_polls_until_ended = 1
        env = fake_api_env(fake.url, home, API_KEY)
        first = json.loads(run_with_budget(tmp_path, home, env).stdout)
        deferred = first["total"]["deferred"]
        assert deferred > 0
        streamed = len(fake.billed)

        # Opted in: the deferred tasks go to a batch, not to the streaming endpoint.
        write_project(tmp_path, batched=True)
        second = json.loads(
            drain_ls("run", ".", "--yes", "--json", home=home, cwd=tmp_path, env=env).stdout
        )
        check_adds_up(second)
        assert second["total"]["batched"] == deferred
        assert second["total"]["cached"] == first["total"]["done"]
        assert len(fake.billed) == streamed  # nothing streamed, nothing billed yet
        (batch,) = fake.batches.values()
        assert len(batch.requests) == deferred
        queue = json.loads(drain_ls("queue", "--json", home=home, cwd=tmp_path).stdout)
        assert len(queue) == deferred and all("Message Batch" in r["reason"] for r in queue)
        ledger = Ledger(home / "ledger.sqlite3")
        assert len(ledger.runs(status=RunStatus.BATCHED)) == deferred

        # Still processing: the next run neither streams nor sends those tasks again.
        waiting = json.loads(
            drain_ls("run", ".", "--yes", "--json", home=home, cwd=tmp_path, env=env).stdout
        )
        assert waiting["batchAnswersCollected"] == 0 and waiting["total"]["tasks"] == 12 - deferred
        assert len(fake.billed) == streamed and len(fake.batches) == 1

        # Once it has ended, a run collects the answers: cached, settled at the batch price.
        third = json.loads(
            drain_ls("run", ".", "--yes", "--json", home=home, cwd=tmp_path, env=env).stdout
        )
        check_adds_up(third)
        assert third["batchAnswersCollected"] == deferred
        assert third["total"]["cached"] == 12 and third["total"]["done"] == 0
        assert json.loads(drain_ls("queue", "--json", home=home, cwd=tmp_path).stdout) == []
        price = Price(1.0, 5.0)  # claude-haiku-4-5
        batch_billed = [b for b in fake.billed if b.batch]
        assert len(batch_billed) == deferred
        runs = ledger.runs(in_batch=True)
        assert all(r.status == RunStatus.DONE for r in runs)
        for run in runs:
            billed = next(b for b in batch_billed if b.custom_id == f"run-{run.id}")
            assert run.input_tokens == billed.input_tokens
            assert run.output_tokens == billed.output_tokens
            full = (billed.input_tokens * price.input + billed.output_tokens * price.output) / 1e6
            full += billed.cache_read_tokens * price.cache_read / 1e6
            full += billed.cache_write_tokens * price.cache_write / 1e6
            assert run.cost_usd == pytest.approx(full / 2)


async def test_the_server_sends_deferred_work_as_a_batch_and_collects_it(tmp_path: Path) -> None:
    write_project(tmp_path)
    (tmp_path / "mod.py").write_text(MODULE)
    home = tmp_path / "home"
    with FakeAnthropic(reply=lambda body: '"""Add things."""') as fake:
        env = fake_api_env(fake.url, home, API_KEY)
        first = run_with_budget(tmp_path, home, env)
        deferred = json.loads(first.stdout)["total"]["deferred"]
        streamed = len(fake.billed)
        options = {
            "llm": {"enabled": True, "batch": True, "batchPollSeconds": 1},
            "privacy": {"requireConsent": False},
        }
        client = await start_server(tmp_path, options, fake_api_env(fake.url, home, API_KEY))
        ledger = Ledger(home / "ledger.sqlite3")
        try:
            await wait_until(lambda: fake.batches, timeout=30)
            await wait_until(
                lambda: count(home / "ledger.sqlite3", "results") == 12,
                timeout=30,
            )
        finally:
            await client.shutdown_session()
        assert len(fake.billed) == streamed + deferred  # each deferred task once, in the batch
        assert all(b.batch for b in fake.billed[streamed:])
        assert ledger.deferred(str(tmp_path.resolve())) == []
        assert ledger.open_batches() == []


def test_dry_run_previews_the_commit_review_without_secrets(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(
            [
                "git",
                "-C",
                str(tmp_path),
                "-c",
                "user.name=T",
                "-c",
                "user.email=t@example.com",
                *args,
            ],
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    (tmp_path / "app.py").write_text(
        'AWS = "AKIAIOSFODNN7EXAMPLE"\n\n\ndef run():\n    return AWS\n'
    )
    (tmp_path / ".env").write_text("TOKEN=canary-dotenv-77\n")
    git("add", "-f", "app.py", ".env")
    git("commit", "-q", "-m", "add app")
    home = tmp_path / "home"
    out = drain_ls("run", "--dry-run", "--json", ".", home=home, cwd=tmp_path)
    data = json.loads(out.stdout)
    (review,) = [p for p in data["previews"] if p["drain"] == "review"]
    sent = json.dumps(review["request"])
    assert "add app" in sent and "def run():" in sent
    assert "AKIAIOSFODNN7EXAMPLE" not in sent and "<redacted" in sent
    assert "canary-dotenv-77" not in sent and ".env" not in sent
    assert review["worstCaseTokens"] > 0
    assert not (home / "ledger.sqlite3").exists() or Ledger(home / "ledger.sqlite3").runs() == []


def test_a_batch_the_api_no_longer_knows_is_counted_and_its_tasks_go_out_again(
    tmp_path: Path,
) -> None:
    write_project(tmp_path)
    (tmp_path / "mod.py").write_text(MODULE)
    home = tmp_path / "home"
    with FakeAnthropic(reply=lambda body: '"""Add things."""') as fake:
        env = fake_api_env(fake.url, home, API_KEY)
        first = run_with_budget(tmp_path, home, env)
        deferred = json.loads(first.stdout)["total"]["deferred"]
        write_project(tmp_path, batched=True)
        drain_ls("run", ".", "--yes", "--json", home=home, cwd=tmp_path, env=env)
        ledger = Ledger(home / "ledger.sqlite3")
        reserved = sum(r.reserved_tokens for r in ledger.runs(status=RunStatus.BATCHED))
        assert reserved > 0
        fake.batches.clear()  # the API forgot it (another key, or expired long ago)

        again = json.loads(
            drain_ls("run", ".", "--yes", "--json", home=home, cwd=tmp_path, env=env).stdout
        )
        lost = ledger.runs(status=RunStatus.ABANDONED)
        assert len(lost) == deferred  # counted at their worst case: they may have been billed
        assert sum(r.input_tokens for r in lost) == reserved
        assert again["total"]["batched"] == deferred  # and sent again in a new batch
        assert len(fake.batches) == 1


def test_a_file_with_lone_cr_line_endings_gets_its_drain_tasks(tmp_path: Path) -> None:
    """``drain-ls run`` reads a file as the checks do: lone CRs are line breaks (CPython's
    reading), so its functions without docstrings get tasks (the raw parse saw one broken
    line and no definitions)."""
    from drain_ls.config import build_settings
    from drain_ls.engine.file_tasks import tasks_for_file

    source = b'"""M."""\rimport os\r\rdef f(a, b):\r    if a:\r        return os.sep\r    return b\r\r\rdef g():\r    return 1\r'
    path = tmp_path / "m.py"
    path.write_bytes(source)
    settings, _ = build_settings()
    tasks = tasks_for_file(path, settings, "offline", (), lambda key: None, source)
    assert sorted(t.qualname for t in tasks if t.drain == "docstrings") == ["f", "g"]
