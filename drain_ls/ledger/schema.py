"""The ledger's schema: its version, the migrations that build it step by step (applied by
``LedgerFile._migrate``), the statuses a run goes through and those of a Message Batch."""

from __future__ import annotations

from enum import StrEnum

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


class RunStatus(StrEnum):
    """The ``status`` of a run (``runs.status``), as written to the file."""

    RESERVED = "reserved"  # its worst case counts; the request may be in flight
    BATCHED = "batched"  # reserved, and sent in a Message Batch that outlives the process
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"
    ABANDONED = "abandoned"  # its process died (or its batch was lost): the worst case counts
    CACHED = "cached"  # answered from the results cache: nothing sent


class BatchStatus(StrEnum):
    """The ``status`` of a Message Batch (``batches.status``)."""

    IN_PROGRESS = "in_progress"  # its results are not collected yet
    ENDED = "ended"  # collected
    LOST = "lost"  # the API no longer knows it (or its results expired)


RESERVED = RunStatus.RESERVED
BATCHED = RunStatus.BATCHED
SETTLED = (
    RunStatus.DONE,
    RunStatus.CANCELLED,
    RunStatus.FAILED,
    RunStatus.ABANDONED,
    RunStatus.CACHED,
)
