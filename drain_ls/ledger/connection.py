"""The ledger file and its connections: one connection per thread, bounded waits for locks,
the ledger's own thread (``submit``), the check that the file is still the one opened,
write and read transactions, migrations, and the settlement of what dead processes left.

``LedgerFile`` is the base of ``Ledger``: the other modules of this package add the methods
that read and write its tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import platformdirs

from drain_ls.ledger.errors import LedgerError, _kind
from drain_ls.ledger.schema import _MIGRATIONS, RESERVED, SCHEMA_VERSION

P = ParamSpec("P")
T = TypeVar("T")

# How long a connection waits for a lock another connection holds (seconds): off the event
# loop, briefly; on a thread that runs an event loop (the editor's requests), hardly at all.
BUSY_TIMEOUT = 1.5
LOOP_BUSY_TIMEOUT = 0.01


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


class _Local(threading.local):
    """A thread's own connection, for one generation of the ledger file."""

    conn: sqlite3.Connection | None = None
    generation: int = -1
    timeout: float = -1.0


class LedgerFile:
    """The ledger database, with one connection per thread that uses it: the file, its
    connections and transactions (``Ledger`` adds what is read and written)."""

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
        """This thread's connection, to read (an SQLite error becomes a ``LedgerError``).
        Only this package runs SQL on the ledger: what it reads, it returns as typed rows
        (``rows.py``)."""
        db = self._connection()
        try:
            yield db
        except sqlite3.Error as exc:
            raise self._error("read", exc) from exc

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
