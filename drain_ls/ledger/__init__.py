"""The ledger: every drain run, its reservation and its real cost, in SQLite (WAL).

A run is *reserved* (its worst case counted against every cap) inside an ``IMMEDIATE``
transaction, so several server processes sharing the ledger can never pass a cap together;
it is *settled* with the usage the API reported. A run left reserved by a process that died
is settled at its worst case when a ledger is next opened: the reservation never blocks
forever and the spend is never under-counted. If the ledger cannot be written, nothing is
sent (``LedgerError``).

The file is not ours alone: another process may lock it, delete it or damage it.

- Waits are short and bounded: ``BUSY_TIMEOUT`` (1.5 s) on other threads, and
  ``LOOP_BUSY_TIMEOUT`` (10 ms) on a thread that runs an event loop, so that the editor's
  requests never wait for a lock. Work that may wait goes to the ledger's own thread
  (``submit``). Each thread has its own connection (WAL: readers never wait for a writer).
- A ``LedgerError`` says why (``kind``): ``locked`` (try again later), ``vanished`` (the file
  was deleted or replaced while in use), ``unwritable``, ``invalid`` (a value that must never be
  recorded), ``closed``, ``error`` (a damaged schema, a newer version...).
- Before every write, the file at the path must still be the one opened (its ``st_dev`` and
  ``st_ino``): a reservation written to a deleted file would be spend nobody sees. ``reopen``
  then opens (or creates, where that is safe) the file now at the path, and carries today's
  runs and every open reservation over from the vanished file.
- Amounts are checked before they are recorded: a non-finite or negative price, cost or
  token count is refused (``invalid``), never written.

Never stored: prompts, code, API keys. A run records the drain, the workspace, a scope key
and the content hash of what was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import socket
import sqlite3
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

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

P = ParamSpec("P")
T = TypeVar("T")

# How long a connection waits for a lock another connection holds (seconds): off the event
# loop, briefly; on a thread that runs an event loop (the editor's requests), hardly at all.
BUSY_TIMEOUT = 1.5
LOOP_BUSY_TIMEOUT = 0.01

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

# SQLite's primary result codes, by what they mean for the drains.
_LOCKED_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
_UNWRITABLE_CODES = {3, 8, 10, 13, 14}  # PERM, READONLY, IOERR, FULL, CANTOPEN


class LedgerError(RuntimeError):
    """The ledger cannot be read or written: no request may be sent.

    ``kind``: ``locked`` (another connection holds the lock: try again later), ``vanished``
    (the file was deleted or replaced while in use), ``unwritable`` (read-only, full, no
    permission, an I/O error), ``invalid`` (a value that must never be recorded), ``closed``,
    or ``error`` (anything else: a damaged schema, a newer version)."""

    def __init__(self, message: str, kind: str = "error") -> None:
        """An error of ``kind``, described by ``message`` (no prompt, no code)."""
        super().__init__(message)
        self.kind = kind


def _kind(exc: BaseException) -> str:
    """What an SQLite or OS error means for the drains (a ``LedgerError`` kind)."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        if primary in _LOCKED_CODES:
            return "locked"
        if primary in _UNWRITABLE_CODES:
            return "unwritable"
        return "error"
    if isinstance(exc, OSError):
        return "unwritable"
    return "error"


def _check_tokens(**counts: object) -> None:
    """Token counts are non-negative integers: anything else is never recorded."""
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise LedgerError(
                f"refused to record {name} = {value!r}: not a non-negative token count", "invalid"
            )


def _check_dollars(**amounts: object) -> None:
    """Prices and costs are finite, non-negative numbers: anything else is never recorded."""
    for name, value in amounts.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise LedgerError(
                f"refused to record {name} = {value!r}: not a finite, non-negative amount",
                "invalid",
            )


def check_price(price: Price) -> None:
    """``LedgerError`` (``invalid``) unless every price is finite and non-negative."""
    _check_dollars(**{f"price_{i}": value for i, value in enumerate(price.values())})


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


# What a sum the ledger cannot count (another process wrote garbage) counts as: more than
# any cap, so that nothing more is reserved on top of it.
_UNKNOWN_SPEND = 2**62


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


_JOURNALS = ("-wal", "-shm")


def _lstat(path: Path) -> os.stat_result | None:
    """What is at ``path`` (a link is not followed), or None."""
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LedgerError(f"cannot check {path}: {exc}", _kind(exc)) from exc


def _on_event_loop() -> bool:
    """Whether this thread runs an event loop (where nothing may wait long)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _consume(future: asyncio.Future[Any]) -> None:
    """Mark a future's exception as seen (its caller may have been cancelled)."""
    if not future.cancelled():
        future.exception()


@dataclass(frozen=True, slots=True)
class Reservation:
    """A run that may now send its request (``generation``: of the ledger file it was
    written to; see ``Ledger.reopen``)."""

    run_id: int
    tokens: int
    usd: float
    tier: int = 2
    generation: int = 0


class _Local(threading.local):
    """A thread's own connection, for one generation of the ledger file."""

    conn: sqlite3.Connection | None = None
    generation: int = -1
    timeout: float = -1.0


class Ledger:
    """The ledger database, with one connection per thread that uses it."""

    def __init__(
        self,
        path: Path | None = None,
        session: str | None = None,
        clock: Callable[[], float] = time.time,
        *,
        lazy: bool = False,
        busy_timeout: float = BUSY_TIMEOUT,
        loop_busy_timeout: float = LOOP_BUSY_TIMEOUT,
    ) -> None:
        """Open (creating and migrating) the ledger; settle what dead processes left.

        With ``lazy``, nothing is opened yet: the first use opens it (and a use that fails,
        a lock held elsewhere, say, tries again on the next)."""
        self.path = path or default_path()
        self.session = session or uuid.uuid4().hex
        self.clock = clock
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.pid_started = _process_started(self.pid)
        self.busy_timeout = busy_timeout
        self.loop_busy_timeout = loop_busy_timeout
        self._local = _Local()
        self._lock = threading.Lock()  # the fields below
        self._opening = threading.Lock()  # one thread opens (or reopens) the file at a time
        self._connections: list[sqlite3.Connection] = []
        self._generation = 0  # how many times the file was reopened (see reopen)
        self._ready = -1  # the generation whose file is open and migrated
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the open file
        self._journals: dict[str, tuple[int, int]] = {}  # and of its -wal and -shm
        self._moved: dict[tuple[int, int], int] = {}  # (generation, run id) -> run id now
        # What reopen() read from a vanished file and has not written to the new one yet.
        self._carry: tuple[int, dict[str, list[dict[str, Any]]], str] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False
        if not lazy:
            self.open()

    # -- connections ------------------------------------------------------------------------

    def open(self) -> None:
        """Open the file if it is not open yet (``LedgerError`` when it cannot be used)."""
        self._connection()

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection (opening the ledger if needed)."""
        return self._connection()

    def _timeout(self) -> float:
        return self.loop_busy_timeout if _on_event_loop() else self.busy_timeout

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise LedgerError(f"the ledger {self.path} is closed", "closed")
        local = self._local
        if local.conn is not None and local.generation != self._generation:
            self._drop(local.conn)  # a connection to a file that was replaced
            local.conn = None
        if self._ready != self._generation:
            self._open_file()
        if local.conn is None:
            self.check()  # never a new connection to a file that is not ours any more
            conn = self._connect(create=False)
            try:
                self.check()  # (nor one made while it was replaced)
            except LedgerError:
                self._drop(conn)
                raise
            local.conn, local.generation, local.timeout = conn, self._generation, -1.0
        conn = local.conn
        wanted = self._timeout()
        if local.timeout != wanted:
            try:
                conn.execute(f"PRAGMA busy_timeout = {int(wanted * 1000)}")
            except sqlite3.Error as exc:
                raise self._error("use", exc) from exc
            local.timeout = wanted
        return conn

    def _connect(self, create: bool) -> sqlite3.Connection:
        """A new connection to the file at ``path`` (created only with ``create``)."""
        uri = self.path.absolute().as_uri() + ("?mode=rwc" if create else "?mode=rw")
        try:
            conn = sqlite3.connect(
                uri,
                uri=True,
                timeout=self._timeout(),
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot use the ledger at {self.path}: {exc}", _kind(exc)) from exc
        try:
            # Writes hold the lock briefly (no flush to disk on each commit): a reservation
            # alone is flushed before it returns (``_transaction(durable=True)``).
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            conn.close()
            raise LedgerError(f"cannot use the ledger at {self.path}: {exc}", _kind(exc)) from exc
        with self._lock:
            self._connections.append(conn)
        return conn

    def _drop(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            if conn in self._connections:
                self._connections.remove(conn)
        with contextlib.suppress(sqlite3.Error):
            conn.close()

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """The right to open or reopen the file (never waited for long on the event loop)."""
        if not self._opening.acquire(timeout=self._timeout()):
            raise LedgerError(f"the ledger {self.path} is being opened by another thread", "locked")
        try:
            yield
        finally:
            self._opening.release()

    def _open_file(self) -> None:
        """Open, set up and migrate the file at ``path`` (the first time it is used)."""
        with self._exclusive():
            if self._ready == self._generation:
                return
            if self._identity is not None:
                # Opened before, and then deleted or replaced: only reopen() goes on.
                raise LedgerError(f"the ledger {self.path} was deleted or replaced", "vanished")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LedgerError(
                    f"cannot use the ledger at {self.path}: {exc}", _kind(exc)
                ) from exc
            conn = self._connect(create=True)
            try:
                identity = self._prepare(conn)
            except BaseException:
                self._drop(conn)
                raise
            local = self._local
            if local.conn is not None:
                self._drop(local.conn)
            local.conn, local.generation, local.timeout = conn, self._generation, -1.0
            with self._lock:
                self._identity = identity
                self._ready = self._generation
        with contextlib.suppress(LedgerError):
            self.recover()  # a lock held elsewhere: the next process start does it

    def _prepare(self, conn: sqlite3.Connection) -> tuple[int, int]:
        """WAL mode and the current schema on a new connection; the file's identity."""
        try:
            if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            self._migrate(conn)
            found = os.stat(self.path)
        except LedgerError:
            raise
        except (OSError, sqlite3.Error) as exc:
            raise LedgerError(f"cannot use the ledger at {self.path}: {exc}", _kind(exc)) from exc
        for suffix in _JOURNALS:
            journal = _lstat(Path(f"{self.path}{suffix}"))
            if journal is not None:
                self._journals[suffix] = (journal.st_dev, journal.st_ino)
            else:
                self._journals.pop(suffix, None)
        return found.st_dev, found.st_ino

    def close(self) -> None:
        """Close every connection and the ledger's thread."""
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=not _on_event_loop())
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local.conn = None

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> asyncio.Future[T]:
        """Run ``fn`` (a method of this ledger) on the ledger's own thread, in order: work
        that may wait for a lock never blocks the event loop."""
        if self._closed:
            raise LedgerError(f"the ledger {self.path} is closed", "closed")
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="drain-ls-ledger")
            executor = self._executor
        future = asyncio.get_running_loop().run_in_executor(executor, partial(fn, *args, **kwargs))
        future.add_done_callback(_consume)
        return future

    # -- the file ---------------------------------------------------------------------------

    def check(self) -> None:
        """``LedgerError`` (``vanished``) when the file at ``path`` is not the one this
        ledger opened any more: deleted, or replaced by another."""
        expected = self._identity
        if expected is None:
            return
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            raise LedgerError(
                f"the ledger {self.path} was deleted while in use", "vanished"
            ) from None
        except OSError as exc:
            raise LedgerError(f"cannot check the ledger {self.path}: {exc}", _kind(exc)) from exc
        if (found.st_dev, found.st_ino) != expected:
            raise LedgerError(f"the ledger {self.path} was replaced while in use", "vanished")

    def probe(self) -> None:
        """Whether the ledger can be written now (``LedgerError`` if not): the file is the
        one opened, and its write lock can be taken."""
        with self._transaction():
            pass

    def reopen(self) -> str:
        """After the file vanished (deleted or replaced while in use): a fresh connection to
        the file now at ``path``, or a new ledger there, where that is safe: the directory
        still exists and belongs to this user, and what is at the path, if anything, is a
        regular file of this user (never a link). Today's runs, today's pool and every run
        still reserved or batched are carried over from the vanished file (read through the
        connections still open to it): the daily caps still hold, and open reservations can
        still be settled. Says what was done; ``LedgerError`` when it was not done (every
        use then fails as ``vanished`` until a later call succeeds)."""
        with self._exclusive():
            try:
                self.check()
            except LedgerError as exc:
                if exc.kind != "vanished":
                    raise
            else:
                if self._ready == self._generation:
                    return f"the ledger {self.path} is in place"
            uid = os.geteuid()
            folder = self.path.parent
            try:
                folder_stat = os.stat(folder)
            except OSError:
                raise LedgerError(
                    f"its directory {folder} is gone: no ledger was recreated", "vanished"
                ) from None
            if not stat.S_ISDIR(folder_stat.st_mode) or folder_stat.st_uid != uid:
                raise LedgerError(
                    f"{folder} is not a directory of this user: no ledger was recreated",
                    "vanished",
                )
            present = _lstat(self.path)
            if present is not None and (not stat.S_ISREG(present.st_mode) or present.st_uid != uid):
                raise LedgerError(
                    f"{self.path} is now not a regular file of this user: it is not used",
                    "vanished",
                )
            if self._carry is None:
                self._carry = (self._generation, *self._carry_out())
            with self._lock:
                # Every connection to the vanished file goes (SQLite neither checkpoints
                # nor deletes the journal of a moved file when it closes).
                self._generation += 1
                self._ready = -1
                connections, self._connections = self._connections, []
            for old in connections:
                with contextlib.suppress(sqlite3.Error):
                    old.close()
            self._local.conn = None
            # The vanished file's journal (-wal, -shm) left at the path must not be taken
            # for the new file's: SQLite would replay the old pages over it. With no file
            # at the path, any journal there is stale; next to a replacement, only the
            # ones this ledger used.
            for suffix in _JOURNALS:
                journal = Path(f"{self.path}{suffix}")
                found = _lstat(journal)
                if (
                    found is not None
                    and stat.S_ISREG(found.st_mode)
                    and found.st_uid == uid
                    and (
                        present is None
                        or (found.st_dev, found.st_ino) == self._journals.get(suffix)
                    )
                ):
                    with contextlib.suppress(FileNotFoundError):
                        journal.unlink()
            carried_from, carried, missing = self._carry
            conn = self._connect(create=True)
            try:
                identity = self._prepare(conn)
                moved = self._carry_in(conn, carried_from, carried)
            except BaseException:
                self._drop(conn)
                raise
            with self._lock:
                self._moved = {
                    key: moved[(carried_from, run_id)]
                    for key, run_id in self._moved.items()
                    if (carried_from, run_id) in moved
                }
                self._moved.update(moved)
                self._ready = self._generation
                self._identity = identity
                self._carry = None
            local = self._local
            local.conn, local.generation, local.timeout = conn, self._generation, -1.0
        what = (
            f"a new ledger was created at {self.path}"
            if present is None
            else f"the file now at {self.path} is used"
        )
        if missing:
            return f"{what} (today's runs could not be carried over: {missing})"
        return f"{what}, with today's runs carried over"

    def _carry_out(self) -> tuple[dict[str, list[dict[str, Any]]], str]:
        """What must survive the vanished file: runs of today or still open, batches in
        progress, today's pool. Read through a connection still open to that file."""
        with self._lock:
            connections = list(self._connections)
        conn = self._local.conn
        if conn is None and connections:
            conn = connections[0]
        if conn is None:
            return {}, "no connection to the vanished file"
        today = self.today()
        try:
            return {
                "runs": _rows(
                    conn.execute(
                        "SELECT * FROM runs WHERE day = ? OR status IN (?, ?) ORDER BY id",
                        (today, RESERVED, BATCHED),
                    )
                ),
                "batches": _rows(
                    conn.execute("SELECT * FROM batches WHERE status = 'in_progress'")
                ),
                "pool": _rows(conn.execute("SELECT * FROM pool WHERE day = ?", (today,))),
            }, ""
        except sqlite3.Error as exc:
            return {}, str(exc)

    def _carry_in(
        self,
        conn: sqlite3.Connection,
        generation: int,
        carried: dict[str, list[dict[str, Any]]],
    ) -> dict[tuple[int, int], int]:
        """Write what ``_carry_out`` read (from ``generation`` of the file) into the new
        file, once: a run another process carried over already is found again. The new id
        of each run, by (generation, old id)."""
        moved: dict[tuple[int, int], int] = {}
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
                for run in carried.get("runs", []):
                    found = conn.execute(
                        "SELECT id FROM runs WHERE session = ? AND host = ? AND pid = ? "
                        "AND started_at = ? AND drain = ? AND scope_key = ? AND content_hash = ?",
                        (
                            run["session"],
                            run["host"],
                            run["pid"],
                            run["started_at"],
                            run["drain"],
                            run["scope_key"],
                            run["content_hash"],
                        ),
                    ).fetchone()
                    if found is not None:
                        moved[(generation, int(run["id"]))] = int(found[0])
                        continue
                    row = {k: v for k, v in run.items() if k != "id" and k in columns}
                    cursor = conn.execute(
                        f"INSERT INTO runs ({', '.join(row)}) VALUES "
                        f"({', '.join('?' for _ in row)})",
                        tuple(row.values()),
                    )
                    assert cursor.lastrowid is not None
                    moved[(generation, int(run["id"]))] = cursor.lastrowid
                for table in ("batches", "pool"):
                    for item in carried.get(table, []):
                        conn.execute(
                            f"INSERT OR IGNORE INTO {table} ({', '.join(item)}) VALUES "
                            f"({', '.join('?' for _ in item)})",
                            tuple(item.values()),
                        )
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise self._error("write", exc) from exc
        return moved

    def _current_id(self, run_id: int, generation: int | None) -> int:
        """The id now of a run reserved in ``generation`` of the file (None: the current)."""
        if generation is None or generation == self._generation:
            return run_id
        moved = self._moved.get((generation, run_id))
        if moved is None:
            raise LedgerError(f"run {run_id} was not carried over to the new ledger file")
        return moved

    def _error(self, doing: str, exc: BaseException) -> LedgerError:
        kind = _kind(exc)
        if kind == "locked":
            return LedgerError(
                f"the ledger {self.path} is locked by another process ({exc})", "locked"
            )
        return LedgerError(f"cannot {doing} the ledger {self.path}: {exc}", kind)

    @contextmanager
    def _transaction(self, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """A write transaction on the file opened (checked first); ``durable``: on disk
        (flushed) when it returns."""
        db = self._connection()
        self.check()
        try:
            try:
                if durable:
                    db.execute("PRAGMA synchronous = FULL")
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._error("lock", exc) from exc
            try:
                yield db
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._error("write", exc) from exc
                raise
            try:
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise self._error("write", exc) from exc
        finally:
            if durable:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("PRAGMA synchronous = NORMAL")

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        try:
            yield db
        except sqlite3.Error as exc:
            raise self._error("read", exc) from exc

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """The rows of a read-only query (``LedgerError`` when it cannot be read)."""
        with self._reading() as db:
            return list(db.execute(sql, args))

    def _migrate(self, db: sqlite3.Connection) -> None:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version == SCHEMA_VERSION:
            return  # nothing to write: no lock needed
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"the ledger's schema is version {version}, newer than this drain-ls "
                f"({SCHEMA_VERSION}): upgrade drain-ls"
            )
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._error("lock", exc) from exc
        try:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[step].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {step}")
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise

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

    def recover(self) -> int:
        """Settle at their worst case the reservations of processes that died; how many.
        (Read first: the write lock is taken only when there is something to settle.)"""
        with self._reading() as db:
            stale = [
                run_id
                for run_id, host, pid, started in db.execute(
                    "SELECT id, host, pid, pid_started FROM runs WHERE status = ?", (RESERVED,)
                ).fetchall()
                if host == self.host and pid != self.pid and not _alive(pid, started)
            ]
        if not stale:
            return 0
        with self._transaction() as db:
            for run_id in stale:
                # The request may have been billed in full: count the worst case, as spent.
                db.execute(
                    "UPDATE runs SET status = 'abandoned', input_tokens = reserved_tokens, "
                    "cost_usd = reserved_usd, wasted_tokens = reserved_tokens, ended_at = ? "
                    "WHERE id = ? AND status = ?",
                    (self.clock(), run_id, RESERVED),
                )
        return len(stale)

    def runs(self, where: str = "1", args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Rows of the runs table (for reports and tests)."""
        with self._reading() as db:
            return _rows(db.execute(f"SELECT * FROM runs WHERE {where} ORDER BY id", args))

    # -- results cache ----------------------------------------------------------------------

    def result(self, key: str) -> dict[str, Any] | None:
        """A cached result by its content-addressed key (None for a damaged entry)."""
        with self._reading() as db:
            row = db.execute("SELECT value FROM results WHERE key = ?", (key,)).fetchone()
        if not row:
            return None
        try:
            value = json.loads(row[0])
        except (TypeError, ValueError):
            return None
        return value if isinstance(value, dict) and isinstance(value.get("text"), str) else None

    def record_hit(
        self, *, drain: str, workspace: str, scope_key: str, key: str, model: str
    ) -> None:
        """A cached result was used instead of a request: count the tokens it saved."""
        with self._reading() as db:
            row = db.execute("SELECT tokens FROM results WHERE key = ?", (key,)).fetchone()
        saved = row[0] if row and isinstance(row[0], int) and row[0] >= 0 else 0
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
        _check_tokens(tokens=tokens)
        _check_dollars(cost_usd=cost)
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
        with self._reading() as db:
            return (
                db.execute("SELECT 1 FROM dismissed WHERE key = ?", (key,)).fetchone() is not None
            )

    def dismissed_among(self, keys: Sequence[str]) -> set[str]:
        """The keys among ``keys`` whose result the user dismissed (one query per 500 keys,
        not one per key: a long module submits a thousand tasks at every pause)."""
        found: set[str] = set()
        with self._reading() as db:
            for at in range(0, len(keys), 500):
                chunk = keys[at : at + 500]
                marks = ",".join("?" * len(chunk))
                found.update(
                    row[0]
                    for row in db.execute(
                        f"SELECT key FROM dismissed WHERE key IN ({marks})", tuple(chunk)
                    )
                )
        return found

    def dismiss_rates(self) -> dict[str, float]:
        """Per drain: dismissed results / results delivered (completed or cached)."""
        with self._reading() as db:
            delivered = dict(
                db.execute(
                    "SELECT drain, COUNT(*) FROM runs WHERE status IN ('done', 'cached') "
                    "GROUP BY drain"
                ).fetchall()
            )
            dismissed = db.execute(
                "SELECT drain, COUNT(*) FROM dismissed GROUP BY drain"
            ).fetchall()
        rates = {}
        for drain, count in dismissed:
            rates[drain] = min(1.0, count / max(1, delivered.get(drain, count)))
        return rates

    # -- consent ----------------------------------------------------------------------------

    def consent(self, workspace: str) -> str | None:
        """The remembered answer for ``workspace`` ("allow" or "never"), if any."""
        with self._reading() as db:
            row = db.execute(
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
        _check_tokens(estimated_tokens=estimated_tokens)
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
        with self._reading() as db:
            return _rows(db.execute(f"SELECT * FROM deferred {where} ORDER BY id", args))

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
        with self._reading() as db:
            return _rows(
                db.execute(
                    f"SELECT workspace, drain, path, scope_key, text, model, created_at "
                    f"FROM entries {where} ORDER BY created_at DESC, id DESC LIMIT ?",
                    (*args, limit),
                )
            )

    def last_review(self, workspace: str) -> str | None:
        """The last commit reviewed in ``workspace``."""
        with self._reading() as db:
            row = db.execute(
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
        with self._reading() as db:
            return _rows(
                db.execute(
                    f"SELECT * FROM batches WHERE {where} ORDER BY created_at",
                    (workspace,) if workspace is not None else (),
                )
            )

    def batched_hashes(self) -> set[str]:
        """Content hashes of the runs waiting in open batches (not to be sent again)."""
        with self._reading() as db:
            return {
                str(row[0])
                for row in db.execute("SELECT content_hash FROM runs WHERE status = ?", (BATCHED,))
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
