"""The ledger file as an outsider sees it, for tests that need what the ledger's typed API
does not show: a table's columns, its schema version, how many rows a table holds, a table's
rows as SQLite keeps them. The file is opened read-only, on a connection of its own, never
the ledger's (``tests/test_ledger_api.py`` checks that nothing outside ``drain_ls/ledger/``
runs SQL through a ``Ledger``; this module alone may reach its connection, to make a fault:
``refuse_writes``).

Prefer the typed API (``Ledger.runs``, ``Ledger.result``, ...) where it answers the question.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from drain_ls.ledger import Ledger

TABLES = ("runs", "results", "deferred", "consent", "dismissed", "entries", "pool", "reviews")
TABLES += ("batches",)


@contextmanager
def reading(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection of its own to the ledger file at ``path``."""
    db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    try:
        yield db
    finally:
        db.close()


def _table(table: str) -> str:
    if table not in TABLES:
        raise ValueError(f"not a table of the ledger: {table!r}")
    return table


def raw_rows(path: Path, table: str = "runs") -> list[dict[str, Any]]:
    """The rows of ``table`` as SQLite keeps them, by column name, in insertion order (none
    when there is no file)."""
    if not path.exists():
        return []
    with reading(path) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute(f"SELECT * FROM {_table(table)} ORDER BY rowid")]


def count(path: Path, table: str) -> int:
    """How many rows ``table`` holds."""
    with reading(path) as db:
        return int(db.execute(f"SELECT COUNT(*) FROM {_table(table)}").fetchone()[0])


def columns(path: Path, table: str) -> list[str]:
    """The columns of ``table``, in order."""
    with reading(path) as db:
        return [row[1] for row in db.execute(f"PRAGMA table_info({_table(table)})")]


def schema_version(path: Path) -> int:
    """The file's schema version (``PRAGMA user_version``)."""
    with reading(path) as db:
        return int(db.execute("PRAGMA user_version").fetchone()[0])


def set_schema_version(path: Path, version: int) -> None:
    """Write another schema version into the file, as a newer drain-ls would have."""
    db = sqlite3.connect(path)
    try:
        db.execute(f"PRAGMA user_version = {int(version)}")
        db.commit()
    finally:
        db.close()


def refuse_writes(ledger: Ledger) -> None:
    """Make this thread's connection of ``ledger`` refuse every write, as a read-only file
    or a full disk does (run it on the thread that writes: ``ledger.submit``)."""
    ledger._connection().execute("PRAGMA query_only = ON")
