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

Only this package runs SQL on the file: callers read through methods with keyword filters,
which return typed rows (``rows``: ``RunRow``, ``ResultRow``, ``DeferredRow``, ``BatchRow``,
``ReportEntry``, ``DayTotals``, ``DrainCost``), never SQL of theirs
(``tests/test_ledger_api.py`` checks it).

The package, by what each module holds (``Ledger`` is one class, assembled from them):

- ``errors``: ``LedgerError`` and its kinds, the checks of amounts (``check_price``);
- ``schema``: the schema version, its migrations, the statuses of a run (``RunStatus``)
  and of a batch (``BatchStatus``);
- ``rows``: the typed rows the reads return, and how a value of the file is read;
- ``connection``: ``LedgerFile``, the file and its connections, transactions, migration,
  the recovery of dead processes' reservations;
- ``reopen``: ``reopen``, and what it carries over from a vanished file;
- ``runs``: reservations (``Reservation``), settlement, spend, the shared pool;
- ``results``: the results cache;
- ``records``: consent, dismissed suggestions, report entries, reviewed commits;
- ``queue``: the deferred queue and Message Batches.
"""

from __future__ import annotations

from drain_ls.ledger.connection import (
    BUSY_TIMEOUT,
    LOOP_BUSY_TIMEOUT,
    LedgerFile,
    default_path,
)
from drain_ls.ledger.errors import LedgerError, check_price
from drain_ls.ledger.queue import QueueMixin
from drain_ls.ledger.records import RecordsMixin
from drain_ls.ledger.reopen import ReopenMixin
from drain_ls.ledger.results import ResultsMixin
from drain_ls.ledger.rows import (
    BatchRow,
    DayTotals,
    DeferredRow,
    DrainCost,
    ReportEntry,
    ResultRow,
    RunRow,
)
from drain_ls.ledger.runs import Reservation, RunsMixin
from drain_ls.ledger.schema import _MIGRATIONS as _MIGRATIONS  # read by the migration tests
from drain_ls.ledger.schema import (
    BATCHED,
    RESERVED,
    SCHEMA_VERSION,
    SETTLED,
    BatchStatus,
    RunStatus,
)

__all__ = [
    "BATCHED",
    "BUSY_TIMEOUT",
    "LOOP_BUSY_TIMEOUT",
    "RESERVED",
    "SCHEMA_VERSION",
    "SETTLED",
    "BatchRow",
    "BatchStatus",
    "DayTotals",
    "DeferredRow",
    "DrainCost",
    "Ledger",
    "LedgerError",
    "LedgerFile",
    "ReportEntry",
    "Reservation",
    "ResultRow",
    "RunRow",
    "RunStatus",
    "check_price",
    "default_path",
]


class Ledger(RunsMixin, ResultsMixin, RecordsMixin, QueueMixin, ReopenMixin, LedgerFile):
    """The ledger database, with one connection per thread that uses it."""
