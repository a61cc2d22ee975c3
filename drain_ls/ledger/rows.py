"""What the ledger's reads return: one frozen dataclass per kind of row, its fields typed as
the schema declares them (``schema.py``), statuses as enums.

The file is not ours alone, and SQLite keeps whatever another process writes, whatever the
column's type: a value that is not of its column's type reads as 0 (a count, an id), NaN (an
amount or a time), ``""`` (a text) or None (a nullable column), so that a report can always be
made. In the results cache's provenance (``ResultRow``) such a value reads as None: ``drain-ls
show`` says "unknown". An unknown status is a ``LedgerError``: nothing can be assumed of the
run. Sums (``DayTotals``, ``DrainCost``) that are not finite, non-negative numbers read as 0.
The caps never read these rows: the spend they count is summed in SQL, and a sum the ledger
cannot count counts as more than any cap (``runs.py``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

from drain_ls.ledger.errors import LedgerError
from drain_ls.ledger.schema import BatchStatus, RunStatus

# -- reading a value as its column's type -----------------------------------------------------


def _finite(value: object) -> float | None:
    """A finite number as a float, else None (text, NULL, a boolean, an infinity, NaN)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _int(value: object) -> int:
    """An INTEGER column (0 when the file holds something else)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = _finite(value)
    return int(number) if number is not None else 0


def _count(value: object) -> int:
    """A count of tokens or requests: a whole number, at least 0."""
    return max(0, _int(value))


def _real(value: object) -> float:
    """A REAL column: an amount in USD or a Unix time (NaN when it is not a number)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return math.nan


def _real_or_none(value: object) -> float | None:
    return None if value is None else _real(value)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _text_or_none(value: object) -> str | None:
    return None if value is None else _text(value)


def _known_count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _known_amount(value: object) -> float | None:
    """A finite, non-negative amount or time, else None."""
    number = _finite(value)
    return number if number is not None and number >= 0 else None


def _sum_count(value: object) -> int:
    """A sum of counts (0 when it is not a finite number)."""
    number = _finite(value)
    return max(0, int(number)) if number is not None else 0


def _sum_amount(value: object) -> float:
    """A sum of amounts (0 when it is not a finite number)."""
    number = _finite(value)
    return max(0.0, number) if number is not None else 0.0


def _run_status(value: object) -> RunStatus:
    try:
        return RunStatus(_text(value))
    except ValueError:
        raise LedgerError(f"a run in the ledger has an unknown status {value!r}") from None


def _batch_status(value: object) -> BatchStatus:
    try:
        return BatchStatus(_text(value))
    except ValueError:
        raise LedgerError(f"a batch in the ledger has an unknown status {value!r}") from None


# -- the rows ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunRow:
    """A run (``runs``): a request reserved, sent and settled, a cache hit, or a task of the
    offline backend. Times are Unix times (seconds); ``day`` is the UTC day its spend counts
    on (``YYYY-MM-DD``)."""

    id: int
    session: str
    host: str
    pid: int
    pid_started: str
    day: str
    drain: str
    workspace: str
    scope_key: str  # the qualified name of the definition (``<module>`` for a file)
    content_hash: str  # the task's key: its result's key in the results cache
    model: str
    tier: int
    status: RunStatus
    reserved_tokens: int
    reserved_usd: float
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float
    wasted_tokens: int
    started_at: float
    ended_at: float | None  # None while it is reserved or batched
    saved_tokens: int  # a cache hit: the tokens the cached result cost
    batch_id: str | None  # the Message Batch it was sent in

    @property
    def billed_tokens(self) -> int:
        """The tokens the API billed (input, output and cache)."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )


RUN_COLUMNS = (
    "id, session, host, pid, pid_started, day, drain, workspace, scope_key, content_hash, "
    "model, tier, status, reserved_tokens, reserved_usd, input_tokens, output_tokens, "
    "cache_read_tokens, cache_write_tokens, cost_usd, wasted_tokens, started_at, ended_at, "
    "saved_tokens, batch_id"
)


def run_row(row: Sequence[object]) -> RunRow:
    """A ``RunRow`` from the values of ``SELECT {RUN_COLUMNS}``."""
    return RunRow(
        id=_int(row[0]),
        session=_text(row[1]),
        host=_text(row[2]),
        pid=_int(row[3]),
        pid_started=_text(row[4]),
        day=_text(row[5]),
        drain=_text(row[6]),
        workspace=_text(row[7]),
        scope_key=_text(row[8]),
        content_hash=_text(row[9]),
        model=_text(row[10]),
        tier=_int(row[11]),
        status=_run_status(row[12]),
        reserved_tokens=_count(row[13]),
        reserved_usd=_real(row[14]),
        input_tokens=_count(row[15]),
        output_tokens=_count(row[16]),
        cache_read_tokens=_count(row[17]),
        cache_write_tokens=_count(row[18]),
        cost_usd=_real(row[19]),
        wasted_tokens=_count(row[20]),
        started_at=_real(row[21]),
        ended_at=_real_or_none(row[22]),
        saved_tokens=_count(row[23]),
        batch_id=_text_or_none(row[24]),
    )


@dataclass(frozen=True, slots=True)
class ResultRow:
    """A complete, validated result in the results cache (``results``), by its
    content-addressed key, with its provenance. ``tokens``, ``cost_usd`` and ``created_at``
    are None when the file holds something that is not a valid value for them."""

    key: str
    drain: str
    model: str  # the model that answered
    content_hash: str
    text: str
    tokens: int | None
    cost_usd: float | None
    created_at: float | None


RESULT_COLUMNS = "key, drain, model, content_hash, value, tokens, cost_usd, created_at"


def result_row(row: Sequence[object]) -> ResultRow | None:
    """A ``ResultRow`` from ``SELECT {RESULT_COLUMNS}`` (None for a damaged value)."""
    raw = row[4]
    if not isinstance(raw, str | bytes):
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        return None
    answered = value.get("model")
    return ResultRow(
        key=_text(row[0]),
        drain=_text(row[1]),
        model=answered if isinstance(answered, str) and answered else _text(row[2]),
        content_hash=_text(row[3]),
        text=value["text"],
        tokens=_known_count(row[5]),
        cost_usd=_known_amount(row[6]),
        created_at=_known_amount(row[7]),
    )


@dataclass(frozen=True, slots=True)
class DeferredRow:
    """A task kept for later (``deferred``): where its code is, never the code."""

    id: int
    drain: str
    workspace: str
    scope_key: str
    content_hash: str
    estimated_tokens: int
    reason: str
    created_at: float
    path: str  # "" when it was deferred by a drain-ls that did not record it
    model: str  # "" likewise
    tier: int


DEFERRED_COLUMNS = (
    "id, drain, workspace, scope_key, content_hash, estimated_tokens, reason, created_at, "
    "path, model, tier"
)


def deferred_row(row: Sequence[object]) -> DeferredRow:
    """A ``DeferredRow`` from ``SELECT {DEFERRED_COLUMNS}``."""
    return DeferredRow(
        id=_int(row[0]),
        drain=_text(row[1]),
        workspace=_text(row[2]),
        scope_key=_text(row[3]),
        content_hash=_text(row[4]),
        estimated_tokens=_count(row[5]),
        reason=_text(row[6]),
        created_at=_real(row[7]),
        path=_text(row[8]),
        model=_text(row[9]),
        tier=_int(row[10]),
    )


@dataclass(frozen=True, slots=True)
class BatchRow:
    """A Message Batch (``batches``)."""

    id: str
    workspace: str
    status: BatchStatus
    requests: int
    created_at: float
    ended_at: float | None  # None while in progress


BATCH_COLUMNS = "id, workspace, status, requests, created_at, ended_at"


def batch_row(row: Sequence[object]) -> BatchRow:
    """A ``BatchRow`` from ``SELECT {BATCH_COLUMNS}``."""
    return BatchRow(
        id=_text(row[0]),
        workspace=_text(row[1]),
        status=_batch_status(row[2]),
        requests=_count(row[3]),
        created_at=_real(row[4]),
        ended_at=_real_or_none(row[5]),
    )


@dataclass(frozen=True, slots=True)
class ReportEntry:
    """A report entry (``entries``): what a custom drain with ``output = "report"`` or a
    commit review wrote, the latest per drain and scope."""

    workspace: str
    drain: str
    path: str
    scope_key: str
    text: str
    model: str
    created_at: float


ENTRY_COLUMNS = "workspace, drain, path, scope_key, text, model, created_at"


def report_entry(row: Sequence[object]) -> ReportEntry:
    """A ``ReportEntry`` from ``SELECT {ENTRY_COLUMNS}``."""
    return ReportEntry(
        workspace=_text(row[0]),
        drain=_text(row[1]),
        path=_text(row[2]),
        scope_key=_text(row[3]),
        text=_text(row[4]),
        model=_text(row[5]),
        created_at=_real(row[6]),
    )


@dataclass(frozen=True, slots=True)
class DayTotals:
    """A day's runs, all drains together (reservations still open left out)."""

    day: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float
    completed: int  # done
    cancelled: int  # cancelled or abandoned
    failed: int
    cache_hits: int
    wasted_tokens: int
    saved_tokens: int


def day_totals(row: Sequence[object]) -> DayTotals:
    """``DayTotals`` from a row of ``runs.DAY_TOTALS``."""
    return DayTotals(
        day=_text(row[0]),
        input_tokens=_sum_count(row[1]),
        output_tokens=_sum_count(row[2]),
        cache_read_tokens=_sum_count(row[3]),
        cache_write_tokens=_sum_count(row[4]),
        cost_usd=_sum_amount(row[5]),
        completed=_sum_count(row[6]),
        cancelled=_sum_count(row[7]),
        failed=_sum_count(row[8]),
        cache_hits=_sum_count(row[9]),
        wasted_tokens=_sum_count(row[10]),
        saved_tokens=_sum_count(row[11]),
    )


@dataclass(frozen=True, slots=True)
class DrainCost:
    """What a drain's runs (cache hits left out) cost since a day."""

    drain: str
    cost_usd: float
    runs: int
