"""The budget is an invariant: whatever happens, settled + reserved never passes a cap."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import get_args

import pytest
from anthropic.types.model import Model
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from drain_ls.backends.base import Progress
from drain_ls.budget import (
    POOL_TIER,
    Limits,
    Price,
    Refusal,
    Spend,
    Usage,
    cost_usd,
    estimate_input_tokens,
    price_of,
    refusal,
    tier_share,
    worst_case,
)
from drain_ls.engine import batching
from drain_ls.engine.choices import LOCAL_PRICE
from drain_ls.ledger import Ledger, LedgerError, Reservation, RunRow, RunStatus
from drain_ls.models import lookup, retired_reason
from tests.ledger_file import raw_rows, schema_version, set_schema_version

HAIKU = price_of("claude-haiku-4-5")
# Every id the SDK lists (priced, unpriced, retired) and one nobody knows.
# Every model the SDK lists, one it does not, and a local model of the ``openai`` backend
# (issue 20: free, at ``LOCAL_PRICE``, still inside the token caps).
LOCAL_MODEL = "qwen2.5-coder:7b"
MODELS = sorted(set(get_args(get_args(Model)[0])) | {"claude-someday-9", LOCAL_MODEL})
_fake_pids = itertools.count(4_000_000)  # beyond Linux's pid_max: never a live process


def test_drain_budget_and_tier_shares_flow_down_only() -> None:
    limits = Limits(session_tokens=100_000, safety_margin=0.1, min_drain_tokens=0)
    assert limits.drain_budget() == 90_000
    assert limits.drain_budget(primary_use=50_000) == 40_000
    assert limits.tier_allowance(1, 0, {}) == 63_000
    # Tier 2 may use what tier 1 leaves...
    assert limits.tier_allowance(2, 0, {}) == 63_000 + 18_000
    # ...and once it has, tier 1 cannot take its share back.
    assert limits.tier_allowance(1, 0, {2: 81_000}) == 0
    assert limits.tier_allowance(POOL_TIER, 0, {}) == 9_000


def test_refusals_name_the_cap() -> None:
    limits = Limits(
        session_tokens=100_000,
        min_drain_tokens=10_000,
        max_tokens_per_drain=5_000,
        daily_tokens=6_000,
        daily_usd=0.01,
    )
    assert refusal(limits, Spend(), 2, 6_000, 0.0).cap == "budget.maxTokensPerDrain"
    assert refusal(limits, Spend(daily_tokens=2_000), 2, 4_500, 0.0).cap == "budget.dailyTokens"
    assert refusal(limits, Spend(), 2, 100, 0.02).cap == "budget.dailyUsd"
    assert refusal(limits, Spend(), 2, 100, 0.001) is None
    low = refusal(limits, Spend(), 2, 100, 0.0, primary_use=85_000)
    assert low is not None and low.cap == "budget.minDrainTokens"


def test_prices_and_worst_case() -> None:
    usage = Usage(
        input_tokens=1_000_000,
        output_tokens=1_000_000,
        cache_read_tokens=1_000_000,
        cache_write_tokens=1_000_000,
    )
    assert cost_usd(usage, HAIKU) == pytest.approx(1 + 5 + 0.1 + 1.25)
    assert cost_usd(usage, HAIKU, batch=True) == pytest.approx((1 + 5 + 0.1 + 1.25) / 2)
    tokens, usd = worst_case(1000, 500, HAIKU)
    assert tokens == 1500
    assert usd == pytest.approx((1000 * 2.0 + 500 * 5.0) / 1e6)
    # An unknown model has no price (it never runs) until the user gives one.
    assert price_of("claude-unknown") is None
    assert price_of("claude-unknown", {"claude-unknown": Price(0.5, 2.0)}) == Price(0.5, 2.0)
    assert estimate_input_tokens("héllo") >= len("héllo".encode())


def test_ledger_survives_a_dead_process_and_settles_it_at_worst_case(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    dead = Ledger(path)
    dead.pid = next(_fake_pids)
    made = dead.reserve(
        drain="docstrings",
        workspace="/w",
        scope_key="f",
        content_hash="h",
        model="claude-haiku-4-5",
        tier=2,
        input_estimate=1000,
        max_tokens=500,
        limits=Limits(),
        price=HAIKU,
    )
    assert isinstance(made, Reservation)
    fresh = Ledger(path)
    [row] = fresh.runs()
    assert row.status == RunStatus.ABANDONED
    assert row.input_tokens == made.tokens and row.cost_usd == pytest.approx(made.usd)
    assert fresh.spend().daily_tokens == made.tokens


def test_no_ledger_no_request(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(LedgerError, match="cannot use the ledger"):
        Ledger(blocker / "ledger.sqlite3")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    Ledger(path).close()
    set_schema_version(path, 99)
    with pytest.raises(LedgerError, match="newer"):
        Ledger(path)


def spent(row: RunRow) -> int:
    """What a run counts against the token caps: its reservation, or what was billed."""
    if row.status in (RunStatus.RESERVED, RunStatus.BATCHED):
        return row.reserved_tokens
    return row.billed_tokens


def dollars(row: RunRow) -> float:
    """What a run counts against the dollar cap."""
    return (
        row.reserved_usd if row.status in (RunStatus.RESERVED, RunStatus.BATCHED) else row.cost_usd
    )


class BudgetMachine(RuleBasedStateMachine):
    """Random interleavings of dispatch (streamed or in a Message Batch, from a session's own
    share or the shared pool), outcomes, batches collected or lost, sessions that end and
    donate, restarts and days."""

    def __init__(self) -> None:
        super().__init__()
        self.inflight: list[tuple[Reservation, int, int]] = []
        self.batched: list[tuple[Reservation, int, int]] = []  # survive restarts
        self.batches = 0
        self.now = 1_700_000_000.0
        self.prices: dict[int, Price] = {}

    @initialize(
        session=st.integers(5_000, 200_000),
        per_drain=st.integers(500, 8_000),
        daily=st.integers(1_000, 300_000),
        usd=st.floats(0.001, 0.5),
        small=st.booleans(),
    )
    def open(self, session: int, per_drain: int, daily: int, usd: float, small: bool) -> None:
        import tempfile

        if small:
            # Small sessions and generous days: the session shares run out first, and the
            # shared pool is what is left (the path the pool's invariant needs).
            session, per_drain, daily, usd = session // 10 + 5_000, 8_000, 300_000, 0.5
        self.directory = tempfile.mkdtemp()
        self.path = Path(self.directory) / "ledger.sqlite3"
        self.limits = Limits(
            session_tokens=session,
            min_drain_tokens=1_000,
            max_tokens_per_drain=per_drain,
            daily_tokens=daily,
            daily_usd=usd,
        )
        self.price: Price = HAIKU
        self.ledger = self._process()

    def _process(self) -> Ledger:
        ledger = Ledger(self.path, clock=lambda: self.now)
        ledger.pid = next(_fake_pids)  # this "process" can die without killing the test
        return ledger

    @rule(
        tier=st.sampled_from([1, 2, 2, 3]),
        estimate=st.integers(10, 3_000),
        max_tokens=st.integers(1, 2_000),
        pool=st.booleans(),
        batch=st.booleans(),
        model=st.sampled_from(MODELS),
    )
    def dispatch(
        self,
        tier: int,
        estimate: int,
        max_tokens: int,
        pool: bool,
        batch: bool,
        model: str = "claude-haiku-4-5",
    ) -> None:
        price = LOCAL_PRICE if model == LOCAL_MODEL else price_of(model)
        if price is None or retired_reason(model) is not None:
            # Unknown, unpriced or retired: the server and `drain-ls run` refuse the model
            # before anything is reserved (never priced as a guess).
            return
        found = lookup(model)
        # What a task on this model reserves: its answer plus the thinking it cannot turn off.
        max_tokens += found.thinking_allowance if found is not None else 0
        made = self.ledger.reserve(
            drain="d",
            workspace="/w",
            scope_key="s",
            content_hash="h",
            model=model,
            tier=tier,
            input_estimate=estimate,
            max_tokens=max_tokens,
            limits=self.limits,
            price=price,
            pool=pool,
            batch=batch,
        )
        if isinstance(made, Reservation):
            self.prices[made.run_id] = price  # settled at the price it was reserved at
            assert made.tier == tier or (pool and tier == 2 and made.tier == 3)
            if batch:
                self.batches += 1
                self.ledger.add_batch(f"batch_{self.batches}", "/w", [made.run_id])
                self.batched.append((made, estimate, max_tokens))
            else:
                self.inflight.append((made, estimate, max_tokens))
        else:
            assert isinstance(made, Refusal) and made.cap

    @rule(size=st.integers(100, 2_000), pool=st.booleans(), batch=st.booleans())
    def busy_session(self, size: int, pool: bool, batch: bool) -> None:
        # Built-in drains one after the other until a cap says no: the session's own share
        # runs out, and then (with the pool) the shared pool.
        for _ in range(60):
            before = len(self.inflight) + len(self.batched)
            self.dispatch(2, size, size // 2 + 1, pool, batch)
            if len(self.inflight) + len(self.batched) == before:
                break

    @precondition(lambda self: self.batched)
    @rule(index=st.integers(0, 50), used_in=st.floats(0, 1), used_out=st.floats(0, 1))
    def batch_collected(self, index: int, used_in: float, used_out: float) -> None:
        reservation, estimate, max_tokens = self.batched.pop(index % len(self.batched))
        usage = Usage(
            input_tokens=int(estimate * used_in), output_tokens=int(max_tokens * used_out)
        )
        self.ledger.settle(
            reservation.run_id, usage, "done", self.prices[reservation.run_id], batch=True
        )

    @precondition(lambda self: self.batched)
    @rule(index=st.integers(0, 50))
    def batch_lost(self, index: int) -> None:
        reservation, _, _ = self.batched.pop(index % len(self.batched))
        (row,) = self.ledger.runs(run_id=reservation.run_id)
        assert row.batch_id is not None
        assert self.ledger.abandon_batch(row.batch_id) == 1

    @rule()
    def session_ends(self) -> None:
        # A session that ends (cleanly) gives its unused tier-2 share to the pool, once.
        donated = self.ledger.donate(self.limits)
        assert self.ledger.donate(self.limits) == 0
        assert 0 <= donated <= tier_share(self.limits.drain_budget(), 2)
        self.inflight.clear()
        self.ledger.close()
        self.ledger = self._process()

    def _take(self, index: int) -> tuple[Reservation, int, int]:
        return self.inflight.pop(index % len(self.inflight))

    @precondition(lambda self: self.inflight)
    @rule(
        index=st.integers(0, 50),
        used_in=st.floats(0, 1),
        used_out=st.floats(0, 1),
        cached=st.floats(0, 1),
    )
    def stream_success(self, index: int, used_in: float, used_out: float, cached: float) -> None:
        reservation, estimate, max_tokens = self._take(index)
        sent = int(estimate * used_in)
        read = int(sent * cached)
        usage = Usage(
            input_tokens=sent - read,
            output_tokens=int(max_tokens * used_out),
            cache_read_tokens=read // 2,
            cache_write_tokens=read - read // 2,
        )
        self.ledger.settle(reservation.run_id, usage, "done", self.prices[reservation.run_id])

    @precondition(lambda self: self.inflight)
    @rule(
        index=st.integers(0, 50),
        received=st.floats(0, 1),
        outcome=st.sampled_from(["cancelled", "timeout", "midstream"]),
    )
    def interrupted(self, index: int, received: float, outcome: str) -> None:
        reservation, estimate, max_tokens = self._take(index)
        usage = Usage(input_tokens=estimate, output_tokens=int(max_tokens * received))
        status = "cancelled" if outcome != "midstream" else "failed"
        self.ledger.settle(
            reservation.run_id,
            usage,
            status,
            self.prices[reservation.run_id],
            wasted_tokens=usage.total,
        )

    @precondition(lambda self: self.inflight)
    @rule(index=st.integers(0, 50), status=st.sampled_from([429, 529, 500]))
    def refused_by_api(self, index: int, status: int) -> None:
        reservation, _, _ = self._take(index)
        self.ledger.settle(reservation.run_id, Usage(), "failed", self.prices[reservation.run_id])

    @precondition(lambda self: self.inflight)
    @rule(index=st.integers(0, 50), received=st.integers(0, 3_000))
    def cancelled_while_thinking(self, index: int, received: int) -> None:
        # A cancel after a thinking block began: the whole max_tokens counts as output
        # (thinking is billed in full; the stream shows a summary at most).
        reservation, estimate, max_tokens = self._take(index)
        progress = Progress(
            input_tokens=estimate, received_bytes=received, max_tokens=max_tokens, thinking=True
        )
        usage = progress.usage()
        assert usage.output_tokens == max_tokens
        self.ledger.settle(
            reservation.run_id,
            usage,
            "cancelled",
            self.prices[reservation.run_id],
            wasted_tokens=usage.total,
        )

    @precondition(lambda self: self.batched)
    @rule(index=st.integers(0, 50))
    def batch_results_expired(self, index: int) -> None:
        # Results kept 29 days: the batch settles at its worst case, its tasks wait again.
        reservation, _, _ = self.batched.pop(index % len(self.batched))
        (row,) = self.ledger.runs(run_id=reservation.run_id)
        assert row.batch_id is not None
        batching._lost(self.ledger, row.batch_id, "its results expired")
        (after,) = self.ledger.runs(run_id=reservation.run_id)
        assert after.status == RunStatus.ABANDONED
        assert after.cost_usd == after.reserved_usd

    @rule()
    def restart(self) -> None:
        # The process dies with requests in flight; a new one opens the ledger.
        self.inflight.clear()
        self.ledger.close()
        self.ledger = self._process()

    @rule(hours=st.integers(1, 30))
    def time_passes(self, hours: int) -> None:
        self.now += hours * 3600

    @invariant()
    def no_cap_is_ever_passed(self) -> None:
        if not hasattr(self, "ledger"):
            return
        limits = self.limits
        budget = limits.drain_budget()
        rows = self.ledger.runs()
        for row in rows:
            assert row.reserved_tokens <= limits.max_tokens_per_drain
            assert spent(row) <= row.reserved_tokens
        for day in {r.day for r in rows}:
            today = [r for r in rows if r.day == day]
            assert sum(spent(r) for r in today) <= limits.daily_tokens
            assert sum(dollars(r) for r in today) <= limits.daily_usd + 1e-9
        for session in {r.session for r in rows}:
            mine = [r for r in rows if r.session == session]
            tier = {t: sum(spent(r) for r in mine if r.tier == t) for t in (1, 2, 3)}
            assert tier[1] <= tier_share(budget, 1)
            assert tier[1] + tier[2] <= tier_share(budget, 1) + tier_share(budget, 2)
        # The pool: what any session drew on a day never passes what ended sessions gave.
        given: dict[str, int] = {}
        for donation in raw_rows(self.path, "pool"):
            given[donation["day"]] = given.get(donation["day"], 0) + donation["tokens"]
        for day in {r.day for r in rows}:
            drawn = sum(spent(r) for r in rows if r.day == day and r.tier == 3)
            assert drawn <= given.get(day, 0)
        # Batched runs are never settled behind the ledger's back by a restart.
        for reservation, _, _ in self.batched:
            (row,) = self.ledger.runs(run_id=reservation.run_id)
            assert row.status == RunStatus.BATCHED

    def teardown(self) -> None:
        if hasattr(self, "ledger"):
            self.ledger.close()


BudgetMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_budget_state_machine = BudgetMachine.TestCase


def _reserve_until_refused(path: str) -> int:
    ledger = Ledger(Path(path))
    limits = Limits(session_tokens=1_000_000, daily_tokens=50_000, daily_usd=100.0)
    made = 0
    while isinstance(
        ledger.reserve(
            drain="d",
            workspace="/w",
            scope_key="s",
            content_hash="h",
            model="claude-haiku-4-5",
            tier=2,
            input_estimate=700,
            max_tokens=300,
            limits=limits,
            price=HAIKU,
        ),
        Reservation,
    ):
        made += 1
    ledger.close()
    return made


def test_several_processes_never_pass_a_cap_together(tmp_path: Path) -> None:
    from concurrent.futures import ProcessPoolExecutor

    path = tmp_path / "ledger.sqlite3"
    Ledger(path).close()
    with ProcessPoolExecutor(max_workers=4) as pool:
        made = list(pool.map(_reserve_until_refused, [str(path)] * 4))
    # 1,000 tokens each against a daily cap of 50,000: exactly 50 in all, however they raced.
    assert sum(made) == 50
    assert Ledger(path).spend().daily_tokens == 50_000


def test_a_version_1_ledger_is_migrated_and_keeps_its_runs(tmp_path: Path) -> None:
    import sqlite3

    from drain_ls import ledger as ledger_module

    path = tmp_path / "ledger.sqlite3"
    db = sqlite3.connect(path)
    for statement in ledger_module._MIGRATIONS[1].split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute(
        "INSERT INTO runs (session, host, pid, pid_started, day, drain, workspace, scope_key, "
        "content_hash, model, tier, status, reserved_tokens, reserved_usd, input_tokens, "
        "started_at) VALUES ('s', 'h', 1, '', '2026-11-24', 'docstrings', '/w', 'f', 'x', "
        "'claude-haiku-4-5', 2, 'done', 10, 0.1, 7, 0)"
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    ledger = Ledger(path)
    assert schema_version(path) == ledger_module.SCHEMA_VERSION
    [row] = ledger.runs()
    assert row.input_tokens == 7 and row.saved_tokens == 0


def test_dismiss_rates_lower_a_drains_priority(tmp_path: Path) -> None:
    from drain_ls.engine.drains import Task
    from drain_ls.engine.scheduler import Scheduler

    ledger = Ledger(tmp_path / "ledger.sqlite3")
    for key in ("a", "b"):
        made = ledger.reserve(
            drain="summaries",
            workspace="/w",
            scope_key=key,
            content_hash=key,
            model="claude-haiku-4-5",
            tier=2,
            input_estimate=10,
            max_tokens=10,
            limits=Limits(),
            price=HAIKU,
        )
        assert isinstance(made, Reservation)
        ledger.settle(made.run_id, Usage(5, 5), "done", HAIKU)
    ledger.dismiss("a", "summaries")
    assert ledger.dismissed("a") and not ledger.dismissed("b")
    # One query for many keys (a module's thousand tasks), in chunks under SQLite's limit.
    many = [f"k{i}" for i in range(1200)]
    assert ledger.dismissed_among([*many[:700], "a", *many[700:]]) == {"a"}
    assert ledger.dismissed_among([]) == set()
    assert ledger.dismiss_rates() == {"summaries": 0.5}

    class Quiet:
        name = "offline"
        rate_limits = None

    scheduler = Scheduler(Quiet(), ledger, Limits(), HAIKU, lambda r: None)  # type: ignore[arg-type]
    common = {
        "uri": "u",
        "qualname": "f",
        "start": 0,
        "end": 1,
        "scope_text": "x",
        "context": "",
        "model": "m",
        "max_tokens": 1,
    }
    summary = Task(drain="summaries", **common)  # type: ignore[arg-type]
    docstring = Task(drain="docstrings", **common)  # type: ignore[arg-type]
    assert scheduler._value(docstring) > scheduler._value(summary)
