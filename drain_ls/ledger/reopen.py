"""After the ledger file vanished (deleted or replaced while in use): ``reopen`` opens or
creates the file now at the path and carries today's runs, today's pool and every open
reservation and batch over from the vanished one."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

from drain_ls.ledger.connection import _JOURNALS, LedgerFile, _lstat, _rows
from drain_ls.ledger.errors import LedgerError
from drain_ls.ledger.schema import BATCHED, RESERVED


class ReopenMixin(LedgerFile):
    """``Ledger.reopen``, and what it carries from the vanished file to the new one."""

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
