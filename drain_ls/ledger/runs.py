"""Runs and their spend: reserving a request's worst case against every cap (``reserve``,
a ``Reservation``), settling it with what the API billed (``settle``), the spend counted so
far, the shared pool, the runs of the offline backend, and reading runs back (``runs``, by
keyword filters; the report's sums ``day_totals`` and ``drain_costs``)."""

from __future__ import annotations

import contextlib
import math
import sqlite3
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from drain_ls.budget import (
    POOL_TIER,
    Limits,
    Price,
    Refusal,
    Spend,
    Usage,
    cost_usd,
    refusal,
    tier_share,
    worst_case,
)
from drain_ls.ledger.connection import LedgerFile
from drain_ls.ledger.errors import LedgerError, _check_dollars, _check_tokens, check_price
from drain_ls.ledger.rows import (
    RUN_COLUMNS,
    DayTotals,
    DrainCost,
    RunRow,
    _count,
    _sum_amount,
    _text,
    day_totals,
    run_row,
)
from drain_ls.ledger.schema import BATCHED, RESERVED, SETTLED, RunStatus

# What a sum the ledger cannot count (another process wrote garbage) counts as: more than
# any cap, so that nothing more is reserved on top of it.
_UNKNOWN_SPEND = 2**62
_CHUNK = 500  # SQL parameters per query (SQLite's limit is far above)

# A day's runs, summed for the report (``DayTotals``); open reservations are left out.
_DAY_TOTALS = """
    SELECT day,
        SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens),
        SUM(cost_usd),
        SUM(status = 'done'), SUM(status IN ('cancelled', 'abandoned')), SUM(status = 'failed'),
        SUM(status = 'cached'), SUM(wasted_tokens), SUM(saved_tokens)
    FROM runs WHERE day >= ? AND status != 'reserved' GROUP BY day ORDER BY day
"""


def _statuses(status: RunStatus | Collection[RunStatus]) -> list[RunStatus]:
    """One status or several, as statuses (a ``ValueError`` for one that is not)."""
    if isinstance(status, str):
        return [RunStatus(status)]
    return [RunStatus(s) for s in status]


def _spent_tokens(value: object) -> int:
    """A sum of tokens from the file; anything but a finite number counts as too much."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return _UNKNOWN_SPEND
    return min(int(value), _UNKNOWN_SPEND)


def _spent_usd(value: object) -> float:
    """A sum of dollars from the file; anything but a finite number counts as too much."""
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return math.inf
    return float(value)


@dataclass(frozen=True, slots=True)
class Reservation:
    """A run that may now send its request (``generation``: of the ledger file it was
    written to; see ``Ledger.reopen``)."""

    run_id: int
    tokens: int
    usd: float
    tier: int = 2
    generation: int = 0


class RunsMixin(LedgerFile):
    """The runs table: reservations, settlements, spend and the shared pool."""

    def spend(self, db: sqlite3.Connection | None = None) -> Spend:
        """Settled plus reserved (and batched): per tier in this session, and today across
        sessions. Runs of the offline backend cost nothing and count against no cap."""
        if db is None:
            with self._reading() as conn:
                return self.spend(conn)
        counted = (
            "CASE WHEN status IN ('reserved', 'batched') THEN reserved_tokens ELSE "
            "input_tokens + output_tokens + cache_read_tokens + cache_write_tokens END"
        )
        dollars = "CASE WHEN status IN ('reserved', 'batched') THEN reserved_usd ELSE cost_usd END"
        by_tier = {
            tier: _spent_tokens(tokens)
            for tier, tokens in db.execute(
                f"SELECT tier, SUM({counted}) FROM runs WHERE session = ? AND model != 'offline' "
                "GROUP BY tier",
                (self.session,),
            )
        }
        tokens, usd = db.execute(
            f"SELECT COALESCE(SUM({counted}), 0), COALESCE(SUM({dollars}), 0) FROM runs "
            "WHERE day = ? AND model != 'offline'",
            (self.today(),),
        ).fetchone()
        return Spend(by_tier, _spent_tokens(tokens), _spent_usd(usd))

    def pool_left(self, db: sqlite3.Connection | None = None) -> int:
        """Tokens in the shared pool today: donated by ended sessions, minus what any
        session drew from it (tier 3 runs, counted at their reservation while open)."""
        if db is None:
            with self._reading() as conn:
                return self.pool_left(conn)
        day = self.today()
        donated = db.execute(
            "SELECT COALESCE(SUM(tokens), 0) FROM pool WHERE day = ?", (day,)
        ).fetchone()[0]
        drawn = db.execute(
            "SELECT COALESCE(SUM(CASE WHEN status IN ('reserved', 'batched') THEN "
            "reserved_tokens ELSE input_tokens + output_tokens + cache_read_tokens + "
            "cache_write_tokens END), 0) FROM runs WHERE day = ? AND tier = ?",
            (day, POOL_TIER),
        ).fetchone()[0]
        given = _spent_tokens(donated)
        if given >= _UNKNOWN_SPEND:
            given = 0  # a donation nobody can count gives nothing
        return max(0, given - _spent_tokens(drawn))

    def donate(self, limits: Limits, primary_use: int = 0) -> int:
        """This session ends: give its unused tier-2 share to the shared pool (once)."""
        with self._transaction() as db:
            used = self.spend(db).session_by_tier
            share = tier_share(limits.drain_budget(primary_use), 2) - used.get(2, 0)
            tokens = max(0, min(share, limits.tier_allowance(2, primary_use, used)))
            if tokens <= 0:
                return 0
            _check_tokens(donated_tokens=tokens)
            inserted = db.execute(
                "INSERT OR IGNORE INTO pool VALUES (?, ?, ?, ?)",
                (self.session, self.today(), tokens, self.clock()),
            ).rowcount
        return tokens if inserted else 0

    def reserve(
        self,
        *,
        drain: str,
        workspace: str,
        scope_key: str,
        content_hash: str,
        model: str,
        tier: int,
        input_estimate: int,
        max_tokens: int,
        limits: Limits,
        price: Price,
        primary_use: int = 0,
        pool: bool = False,
        batch: bool = False,
    ) -> Reservation | Refusal:
        """Reserve a request's worst case against every cap, or say which cap refuses it.

        With ``pool``, a tier-2 request that its session's share refuses may draw from the
        shared pool (as tier 3), within the daily caps. ``batch`` prices it at the Message
        Batches rate (half).

        Nothing is sent unless this returns a ``Reservation``: it is then written to the file
        at ``path`` (checked before and after), or a ``LedgerError`` says why not."""
        check_price(price)
        _check_tokens(input_estimate=input_estimate, max_tokens=max_tokens)
        tokens, usd = worst_case(input_estimate, max_tokens, price)
        if batch:
            usd *= price.batch_factor
        _check_tokens(reserved_tokens=tokens)
        _check_dollars(reserved_usd=usd)
        with self._transaction(durable=True) as db:
            spend = self.spend(db)
            refused = refusal(limits, spend, tier, tokens, usd, primary_use)
            if (
                refused is not None
                and pool
                and tier == 2
                and refused.cap.startswith("session budget")
            ):
                pooled = refusal(
                    limits, spend, POOL_TIER, tokens, usd, primary_use, self.pool_left(db)
                )
                if pooled is None:
                    tier, refused = POOL_TIER, None
                elif pooled.cap != "shared pool":
                    refused = pooled  # the pool would do, but a daily cap says no
            if refused is not None:
                return refused
            run_id = self._insert_run(
                db,
                drain=drain,
                workspace=workspace,
                scope_key=scope_key,
                content_hash=content_hash,
                model=model,
                tier=tier,
                status=RESERVED,
                reserved_tokens=tokens,
                reserved_usd=usd,
                started_at=self.clock(),
            )
        generation = self._generation
        try:
            self.check()
        except LedgerError:
            # Deleted or replaced while this was written: the request is not sent, and the
            # run (carried over by reopen) says so.
            with contextlib.suppress(sqlite3.Error, LedgerError):
                db.execute(
                    "UPDATE runs SET status = 'failed', ended_at = ? WHERE id = ?",
                    (self.clock(), run_id),
                )
            raise
        return Reservation(run_id, tokens, usd, tier, generation)

    def settle(
        self,
        run_id: int,
        usage: Usage,
        status: str,
        price: Price,
        wasted_tokens: int = 0,
        batch: bool = False,
        generation: int | None = None,
    ) -> float:
        """Replace a reservation with what the API billed; the run's cost in USD.

        ``generation``: of the file the reservation was written to (``Reservation``), None
        for the current one. A usage or cost that is not a finite, non-negative number is
        refused (``invalid``): the reservation then stays, counted at its worst case."""
        if status not in SETTLED:
            raise ValueError(f"unknown run status {status!r}")
        check_price(price)
        _check_tokens(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            wasted_tokens=wasted_tokens,
        )
        cost = cost_usd(usage, price, batch)
        _check_dollars(cost_usd=cost)
        with self._transaction() as db:
            run_id = self._current_id(run_id, generation)
            updated = db.execute(
                "UPDATE runs SET status = ?, input_tokens = ?, output_tokens = ?, "
                "cache_read_tokens = ?, cache_write_tokens = ?, cost_usd = ?, "
                "wasted_tokens = ?, ended_at = ? WHERE id = ? AND status IN (?, ?)",
                (
                    status,
                    usage.input_tokens,
                    usage.output_tokens,
                    usage.cache_read_tokens,
                    usage.cache_write_tokens,
                    cost,
                    wasted_tokens,
                    self.clock(),
                    run_id,
                    RESERVED,
                    BATCHED,
                ),
            ).rowcount
        if updated != 1:
            raise LedgerError(f"run {run_id} is not reserved")
        return cost

    def runs(
        self,
        *,
        run_id: int | None = None,
        status: RunStatus | Collection[RunStatus] | None = None,
        drain: str | None = None,
        workspace: str | None = None,
        scope_keys: Collection[str] | None = None,
        model: str | None = None,
        tier: int | None = None,
        batch_id: str | None = None,
        in_batch: bool | None = None,
    ) -> list[RunRow]:
        """The runs that match every filter given (None: any), oldest first. ``status``:
        one status or any of several; ``scope_keys``: any of these qualified names (none:
        no run); ``in_batch``: sent in a Message Batch (True) or not (False)."""
        where, args = self._run_filter(
            run_id, status, drain, workspace, model, tier, batch_id, in_batch
        )
        with self._reading() as db:
            if scope_keys is None:
                cursor = db.execute(
                    f"SELECT {RUN_COLUMNS} FROM runs WHERE {where} ORDER BY id", args
                )
                return [run_row(row) for row in cursor]
            keys = sorted(set(scope_keys))
            found: list[RunRow] = []
            for at in range(0, len(keys), _CHUNK):
                chunk = keys[at : at + _CHUNK]
                cursor = db.execute(
                    f"SELECT {RUN_COLUMNS} FROM runs WHERE {where} "
                    f"AND scope_key IN ({', '.join('?' * len(chunk))})",
                    (*args, *chunk),
                )
                found.extend(run_row(row) for row in cursor)
        return sorted(found, key=lambda run: run.id)

    def run_models(
        self, *, workspace: str, status: RunStatus | Collection[RunStatus] | None = None
    ) -> list[str]:
        """The models (sorted, none empty) that runs in ``workspace`` asked."""
        where, args = self._run_filter(None, status, None, workspace, None, None, None, None)
        with self._reading() as db:
            rows = db.execute(f"SELECT DISTINCT model FROM runs WHERE {where}", args).fetchall()
        return sorted({_text(row[0]) for row in rows} - {""})

    @staticmethod
    def _run_filter(
        run_id: int | None,
        status: RunStatus | Collection[RunStatus] | None,
        drain: str | None,
        workspace: str | None,
        model: str | None,
        tier: int | None,
        batch_id: str | None,
        in_batch: bool | None,
    ) -> tuple[str, tuple[object, ...]]:
        """The WHERE clause of a read of runs (its columns fixed here) and its parameters."""
        clauses: list[str] = []
        args: list[object] = []
        for column, value in (
            ("id", run_id),
            ("drain", drain),
            ("workspace", workspace),
            ("model", model),
            ("tier", tier),
            ("batch_id", batch_id),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if status is not None:
            wanted = _statuses(status)
            clauses.append(f"status IN ({', '.join('?' * len(wanted))})")
            args.extend(str(s) for s in wanted)
        if in_batch is not None:
            clauses.append("batch_id IS NOT NULL" if in_batch else "batch_id IS NULL")
        return " AND ".join(clauses) or "1", tuple(args)

    def day_totals(self, since: date) -> list[DayTotals]:
        """Per day from ``since`` (UTC days, oldest first): tokens, cost and tasks, all
        drains together, open reservations left out."""
        with self._reading() as db:
            rows = db.execute(_DAY_TOTALS, (since.isoformat(),)).fetchall()
        return [day_totals(row) for row in rows]

    def drain_costs(self, since: date, limit: int = 5) -> list[DrainCost]:
        """The ``limit`` drains that cost most from ``since`` (cache hits left out), with
        how many runs each had."""
        with self._reading() as db:
            rows = db.execute(
                "SELECT drain, SUM(cost_usd), COUNT(*) FROM runs WHERE day >= ? "
                "AND status != 'cached' GROUP BY drain ORDER BY SUM(cost_usd) DESC LIMIT ?",
                (since.isoformat(), limit),
            ).fetchall()
        return [DrainCost(_text(d), _sum_amount(cost), _count(n)) for d, cost, n in rows]

    def record_free(
        self, *, drain: str, workspace: str, scope_key: str, key: str, tier: int, status: str
    ) -> None:
        """A run of the offline backend: counted as a task, costing nothing."""
        now = self.clock()
        with self._transaction() as db:
            self._insert_run(
                db,
                drain=drain,
                workspace=workspace,
                scope_key=scope_key,
                content_hash=key,
                model="offline",
                tier=tier,
                status=status,
                started_at=now,
                ended_at=now,
            )
