"""The ledger: every drain run, its reservation and its real cost, in SQLite (WAL).

A run is *reserved* (its worst case counted against every cap) inside an ``IMMEDIATE``
transaction, so several server processes sharing the ledger can never pass a cap together;
it is *settled* with the usage the API reported. A run left reserved by a process that died
is settled at its worst case when a ledger is next opened: the reservation never blocks
forever and the spend is never under-counted. If the ledger cannot be written, nothing is
sent (``LedgerError``).

Never stored: prompts, code, API keys. A run records the drain, the workspace, a scope key
and the content hash of what was sent.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

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

SCHEMA_VERSION = 5

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        session TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        pid_started TEXT NOT NULL,
        day TEXT NOT NULL,
        drain TEXT NOT NULL,
        workspace TEXT NOT NULL,
        scope_key TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        model TEXT NOT NULL,
        tier INTEGER NOT NULL,
        status TEXT NOT NULL,
        reserved_tokens INTEGER NOT NULL,
        reserved_usd REAL NOT NULL,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cache_read_tokens INTEGER NOT NULL DEFAULT 0,
        cache_write_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL DEFAULT 0,
        wasted_tokens INTEGER NOT NULL DEFAULT 0,
        started_at REAL NOT NULL,
        ended_at REAL
    );
    CREATE INDEX runs_day ON runs (day);
    CREATE INDEX runs_session ON runs (session);
    CREATE INDEX runs_status ON runs (status);
    CREATE TABLE results (
        key TEXT PRIMARY KEY,
        drain TEXT NOT NULL,
        model TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        value TEXT NOT NULL,
        tokens INTEGER NOT NULL,
        cost_usd REAL NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE deferred (
        id INTEGER PRIMARY KEY,
        drain TEXT NOT NULL,
        workspace TEXT NOT NULL,
        scope_key TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        estimated_tokens INTEGER NOT NULL,
        reason TEXT NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE (drain, workspace, scope_key, content_hash)
    );
    """,
    # 2: cache hits are runs too (status "cached"), with the tokens they saved.
    2: """
    ALTER TABLE runs ADD COLUMN saved_tokens INTEGER NOT NULL DEFAULT 0;
    """,
    # 3: the user's answer, per workspace, to "may drain-ls send code?".
    3: """
    CREATE TABLE consent (
        workspace TEXT PRIMARY KEY,
        answer TEXT NOT NULL,
        answered_at REAL NOT NULL
    );
    """,
    # 4: suggestions the user dismissed, by content address: they never come back.
    4: """
    CREATE TABLE dismissed (
        key TEXT PRIMARY KEY,
        drain TEXT NOT NULL,
        dismissed_at REAL NOT NULL
    );
    """,
    # 5: the deferred queue knows where a task's code is (a path, never the code); report
    # entries of custom drains and commit reviews; the shared pool; Message Batches.
    5: """
    ALTER TABLE deferred ADD COLUMN path TEXT NOT NULL DEFAULT '';
    ALTER TABLE deferred ADD COLUMN model TEXT NOT NULL DEFAULT '';
    ALTER TABLE deferred ADD COLUMN tier INTEGER NOT NULL DEFAULT 2;
    CREATE INDEX deferred_workspace ON deferred (workspace);
    CREATE TABLE entries (
        id INTEGER PRIMARY KEY,
        workspace TEXT NOT NULL,
        drain TEXT NOT NULL,
        path TEXT NOT NULL,
        scope_key TEXT NOT NULL,
        text TEXT NOT NULL,
        model TEXT NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE (workspace, drain, path, scope_key)
    );
    CREATE TABLE pool (
        session TEXT PRIMARY KEY,
        day TEXT NOT NULL,
        tokens INTEGER NOT NULL,
        donated_at REAL NOT NULL
    );
    CREATE TABLE reviews (
        workspace TEXT PRIMARY KEY,
        last_commit TEXT NOT NULL,
        reviewed_at REAL NOT NULL
    );
    CREATE TABLE batches (
        id TEXT PRIMARY KEY,
        workspace TEXT NOT NULL,
        status TEXT NOT NULL,
        requests INTEGER NOT NULL,
        created_at REAL NOT NULL,
        ended_at REAL
    );
    ALTER TABLE runs ADD COLUMN batch_id TEXT;
    """,
}

RESERVED = "reserved"
BATCHED = "batched"  # reserved, and sent in a Message Batch that outlives the process
SETTLED = ("done", "cancelled", "failed", "abandoned", "cached")


class LedgerError(RuntimeError):
    """The ledger cannot be read or written: no request may be sent."""


def default_path() -> Path:
    """``$DRAIN_LS_HOME/ledger.sqlite3``, else the platform's user data directory."""
    home = os.environ.get("DRAIN_LS_HOME")
    base = Path(home) if home else Path(platformdirs.user_data_dir("drain-ls"))
    return base / "ledger.sqlite3"


def _process_started(pid: int) -> str:
    """When process ``pid`` started (to tell it from a later process with the same pid)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[19]  # starttime, in clock ticks since boot
    except (OSError, IndexError):
        return ""


def _alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    now = _process_started(pid)
    return not (started and now and now != started)


def _rows(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    """A query's rows as dicts, by column name."""
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


@dataclass(frozen=True, slots=True)
class Reservation:
    """A run that may now send its request."""

    run_id: int
    tokens: int
    usd: float
    tier: int = 2


class Ledger:
    """One connection to the ledger database."""

    def __init__(
        self,
        path: Path | None = None,
        session: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Open (creating and migrating) the ledger; settle what dead processes left."""
        self.path = path or default_path()
        self.session = session or uuid.uuid4().hex
        self.clock = clock
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.pid_started = _process_started(self.pid)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
            self.recover()
        except (OSError, sqlite3.Error) as exc:
            raise LedgerError(f"cannot use the ledger at {self.path}: {exc}") from exc

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot lock the ledger: {exc}") from exc
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            try:
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise LedgerError(f"cannot write the ledger: {exc}") from exc

    def _migrate(self) -> None:
        with self._transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise LedgerError(
                    f"the ledger's schema is version {version}, newer than this drain-ls "
                    f"({SCHEMA_VERSION}): upgrade drain-ls"
                )
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[step].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {step}")

    def _insert_run(self, db: sqlite3.Connection, **columns: object) -> int:
        """A new row of ``runs`` for this process and day; its id. Columns left out take
        their defaults (reserved 0, usage 0)."""
        row: dict[str, object] = {
            "session": self.session,
            "host": self.host,
            "pid": self.pid,
            "pid_started": self.pid_started,
            "day": self.today(),
            "reserved_tokens": 0,
            "reserved_usd": 0.0,
            **columns,
        }
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        cursor = db.execute(f"INSERT INTO runs ({names}) VALUES ({marks})", tuple(row.values()))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def today(self) -> str:
        """The day spend is counted on (UTC)."""
        return datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%d")

    # -- spend ------------------------------------------------------------------------------

    def spend(self, db: sqlite3.Connection | None = None) -> Spend:
        """Settled plus reserved (and batched): per tier in this session, and today across
        sessions. Runs of the offline backend cost nothing and count against no cap."""
        db = db or self.db
        counted = (
            "CASE WHEN status IN ('reserved', 'batched') THEN reserved_tokens ELSE "
            "input_tokens + output_tokens + cache_read_tokens + cache_write_tokens END"
        )
        dollars = "CASE WHEN status IN ('reserved', 'batched') THEN reserved_usd ELSE cost_usd END"
        by_tier = {
            tier: tokens
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
        return Spend(by_tier, int(tokens), float(usd))

    def pool_left(self, db: sqlite3.Connection | None = None) -> int:
        """Tokens in the shared pool today: donated by ended sessions, minus what any
        session drew from it (tier 3 runs, counted at their reservation while open)."""
        db = db or self.db
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
        return max(0, int(donated) - int(drawn))

    def donate(self, limits: Limits, primary_use: int = 0) -> int:
        """This session ends: give its unused tier-2 share to the shared pool (once)."""
        with self._transaction() as db:
            used = self.spend(db).session_by_tier
            share = tier_share(limits.drain_budget(primary_use), 2) - used.get(2, 0)
            tokens = max(0, min(share, limits.tier_allowance(2, primary_use, used)))
            if tokens <= 0:
                return 0
            inserted = db.execute(
                "INSERT OR IGNORE INTO pool VALUES (?, ?, ?, ?)",
                (self.session, self.today(), tokens, self.clock()),
            ).rowcount
        return tokens if inserted else 0

    # -- runs -------------------------------------------------------------------------------

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
        Batches rate (half)."""
        tokens, usd = worst_case(input_estimate, max_tokens, price)
        if batch:
            usd /= 2
        with self._transaction() as db:
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
        return Reservation(run_id, tokens, usd, tier)

    def settle(
        self,
        run_id: int,
        usage: Usage,
        status: str,
        price: Price,
        wasted_tokens: int = 0,
        batch: bool = False,
    ) -> float:
        """Replace a reservation with what the API billed; the run's cost in USD."""
        if status not in SETTLED:
            raise ValueError(f"unknown run status {status!r}")
        cost = cost_usd(usage, price, batch)
        with self._transaction() as db:
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

    def recover(self) -> int:
        """Settle at their worst case the reservations of processes that died; how many."""
        with self._transaction() as db:
            stale = [
                run_id
                for run_id, host, pid, started in db.execute(
                    "SELECT id, host, pid, pid_started FROM runs WHERE status = ?", (RESERVED,)
                )
                if host == self.host and pid != self.pid and not _alive(pid, started)
            ]
            for run_id in stale:
                # The request may have been billed in full: count the worst case, as spent.
                db.execute(
                    "UPDATE runs SET status = 'abandoned', input_tokens = reserved_tokens, "
                    "cost_usd = reserved_usd, wasted_tokens = reserved_tokens, ended_at = ? "
                    "WHERE id = ?",
                    (self.clock(), run_id),
                )
        return len(stale)

    def runs(self, where: str = "1", args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Rows of the runs table (for reports and tests)."""
        cursor = self.db.execute(f"SELECT * FROM runs WHERE {where} ORDER BY id", args)
        return _rows(cursor)

    # -- results cache ----------------------------------------------------------------------

    def result(self, key: str) -> dict[str, Any] | None:
        """A cached result by its content-addressed key."""
        row = self.db.execute("SELECT value FROM results WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def record_hit(
        self, *, drain: str, workspace: str, scope_key: str, key: str, model: str
    ) -> None:
        """A cached result was used instead of a request: count the tokens it saved."""
        row = self.db.execute("SELECT tokens FROM results WHERE key = ?", (key,)).fetchone()
        saved = int(row[0]) if row else 0
        now = self.clock()
        with self._transaction() as db:
            self._insert_run(
                db,
                drain=drain,
                workspace=workspace,
                scope_key=scope_key,
                content_hash=key,
                model=model,
                tier=2,
                status="cached",
                started_at=now,
                ended_at=now,
                saved_tokens=saved,
            )

    def store_result(
        self,
        key: str,
        *,
        drain: str,
        model: str,
        content_hash: str,
        value: dict[str, Any],
        tokens: int,
        cost: float,
    ) -> None:
        """Cache a complete, validated result (never a failure or a truncated answer)."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (key, drain, model, content_hash, json.dumps(value), tokens, cost, self.clock()),
            )

    # -- dismissed suggestions --------------------------------------------------------------

    def dismiss(self, key: str, drain: str) -> None:
        """Never show this result again."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO dismissed VALUES (?, ?, ?)", (key, drain, self.clock())
            )

    def dismissed(self, key: str) -> bool:
        """Whether the user dismissed this result."""
        return (
            self.db.execute("SELECT 1 FROM dismissed WHERE key = ?", (key,)).fetchone() is not None
        )

    def dismiss_rates(self) -> dict[str, float]:
        """Per drain: dismissed results / results delivered (completed or cached)."""
        delivered = dict(
            self.db.execute(
                "SELECT drain, COUNT(*) FROM runs WHERE status IN ('done', 'cached') GROUP BY drain"
            ).fetchall()
        )
        rates = {}
        for drain, count in self.db.execute("SELECT drain, COUNT(*) FROM dismissed GROUP BY drain"):
            rates[drain] = min(1.0, count / max(1, delivered.get(drain, count)))
        return rates

    # -- consent ----------------------------------------------------------------------------

    def consent(self, workspace: str) -> str | None:
        """The remembered answer for ``workspace`` ("allow" or "never"), if any."""
        row = self.db.execute(
            "SELECT answer FROM consent WHERE workspace = ?", (workspace,)
        ).fetchone()
        return str(row[0]) if row else None

    def remember_consent(self, workspace: str, answer: str) -> None:
        """Remember "allow" or "never" for ``workspace``."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO consent VALUES (?, ?, ?)", (workspace, answer, self.clock())
            )

    # -- deferred queue ---------------------------------------------------------------------

    def defer(
        self,
        *,
        drain: str,
        workspace: str,
        scope_key: str,
        content_hash: str,
        estimated_tokens: int,
        reason: str,
        path: str = "",
        model: str = "",
        tier: int = 2,
    ) -> None:
        """Keep a task that could not run for later (once per scope and content): where its
        code is (``path`` and ``scope_key``), never the code."""
        with self._transaction() as db:
            db.execute(
                "DELETE FROM deferred WHERE drain = ? AND workspace = ? AND path = ? "
                "AND scope_key = ? AND content_hash != ?",
                (drain, workspace, path, scope_key, content_hash),
            )
            db.execute(
                "INSERT OR IGNORE INTO deferred (drain, workspace, scope_key, content_hash, "
                "estimated_tokens, reason, created_at, path, model, tier) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    drain,
                    workspace,
                    scope_key,
                    content_hash,
                    estimated_tokens,
                    reason,
                    self.clock(),
                    path,
                    model,
                    tier,
                ),
            )

    def undefer(self, *, drain: str, workspace: str, path: str, scope_key: str) -> None:
        """A deferred task ran (or its scope is gone): forget it."""
        with self._transaction() as db:
            db.execute(
                "DELETE FROM deferred WHERE drain = ? AND workspace = ? AND path = ? "
                "AND scope_key = ?",
                (drain, workspace, path, scope_key),
            )

    def deferred(self, workspace: str | None = None) -> list[dict[str, Any]]:
        """The deferred tasks (of ``workspace``, or all), oldest first."""
        where, args = ("WHERE workspace = ?", (workspace,)) if workspace is not None else ("", ())
        cursor = self.db.execute(f"SELECT * FROM deferred {where} ORDER BY id", args)
        return _rows(cursor)

    # -- free runs, report entries, reviews -------------------------------------------------

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

    def add_entry(
        self, *, workspace: str, drain: str, path: str, scope_key: str, text: str, model: str
    ) -> None:
        """A report entry (a custom drain with ``output = "report"``, a commit review): the
        latest one per drain and scope."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO entries (workspace, drain, path, scope_key, text, "
                "model, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (workspace, drain, path, scope_key, text, model, self.clock()),
            )

    def entries(self, workspace: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """The latest report entries, newest first."""
        where, args = ("WHERE workspace = ?", (workspace,)) if workspace is not None else ("", ())
        cursor = self.db.execute(
            f"SELECT workspace, drain, path, scope_key, text, model, created_at FROM entries "
            f"{where} ORDER BY created_at DESC, id DESC LIMIT ?",
            (*args, limit),
        )
        return _rows(cursor)

    def last_review(self, workspace: str) -> str | None:
        """The last commit reviewed in ``workspace``."""
        row = self.db.execute(
            "SELECT last_commit FROM reviews WHERE workspace = ?", (workspace,)
        ).fetchone()
        return str(row[0]) if row else None

    def reviewed(self, workspace: str, commit: str) -> None:
        """Commits up to ``commit`` are reviewed."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO reviews VALUES (?, ?, ?)", (workspace, commit, self.clock())
            )

    # -- Message Batches --------------------------------------------------------------------

    def add_batch(self, batch_id: str, workspace: str, run_ids: list[int]) -> None:
        """Runs sent in a Message Batch: they stay reserved until the batch's results are in,
        whatever happens to this process."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO batches VALUES (?, ?, 'in_progress', ?, ?, NULL)",
                (batch_id, workspace, len(run_ids), self.clock()),
            )
            for run_id in run_ids:
                db.execute(
                    "UPDATE runs SET status = ?, batch_id = ? WHERE id = ? AND status = ?",
                    (BATCHED, batch_id, run_id, RESERVED),
                )

    def open_batches(self, workspace: str | None = None) -> list[dict[str, Any]]:
        """Batches whose results are not collected yet."""
        where = "status = 'in_progress'" + (" AND workspace = ?" if workspace is not None else "")
        cursor = self.db.execute(
            f"SELECT * FROM batches WHERE {where} ORDER BY created_at",
            (workspace,) if workspace is not None else (),
        )
        return _rows(cursor)

    def batched_hashes(self) -> set[str]:
        """Content hashes of the runs waiting in open batches (not to be sent again)."""
        return {
            str(row[0])
            for row in self.db.execute("SELECT content_hash FROM runs WHERE status = ?", (BATCHED,))
        }

    def undefer_hash(self, drain: str, content_hash: str) -> None:
        """The deferred task with this content ran (in a batch): forget it."""
        with self._transaction() as db:
            db.execute(
                "DELETE FROM deferred WHERE drain = ? AND content_hash = ?", (drain, content_hash)
            )

    def update_deferred_reason(self, content_hash: str, reason: str) -> None:
        """Say why a deferred task is still waiting."""
        with self._transaction() as db:
            db.execute(
                "UPDATE deferred SET reason = ? WHERE content_hash = ?", (reason, content_hash)
            )

    def abandon_batch(self, batch_id: str) -> int:
        """A batch the API no longer knows: its runs count at their worst case (they may
        have been billed), and the batch is closed; how many runs."""
        with self._transaction() as db:
            count = db.execute(
                "UPDATE runs SET status = 'abandoned', input_tokens = reserved_tokens, "
                "cost_usd = reserved_usd, wasted_tokens = reserved_tokens, ended_at = ? "
                "WHERE batch_id = ? AND status = ?",
                (self.clock(), batch_id, BATCHED),
            ).rowcount
            db.execute(
                "UPDATE batches SET status = 'lost', ended_at = ? WHERE id = ?",
                (self.clock(), batch_id),
            )
        return int(count)

    def end_batch(self, batch_id: str, status: str = "ended") -> None:
        """The batch's results are collected."""
        with self._transaction() as db:
            db.execute(
                "UPDATE batches SET status = ?, ended_at = ? WHERE id = ?",
                (status, self.clock(), batch_id),
            )
