"""What the drain scheduler reports: the drains' state (``DrainState``), how a run ended
(``Outcome``), a drain's answer (``Result``) and the status line's counters
(``SchedulerState``); with two helpers its readers share, a task's file (``task_path``) and
how long ago a result was made (``age``)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from drain_ls.engine.drains import Task
from drain_ls.uris import uri_to_path


@dataclass(frozen=True, slots=True)
class Result:
    """A drain's validated answer about one definition, with its provenance."""

    drain: str
    uri: str
    qualname: str
    key: str
    scope_hash: str
    text: str
    model: str
    tokens: int
    cost: float
    created: float  # time.time()
    cached: bool = False
    scope_kind: str = ""  # a custom drain's scope
    path: str = ""


class DrainState(StrEnum):
    """The drains' state, as ``drain/status`` and the editors' status items show it."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    RATE_LIMITED = "rate-limited"
    OVER_BUDGET = "over-budget"
    DISABLED = "disabled"


class Outcome(StrEnum):
    """How a task's run ended (``Scheduler.on_end``)."""

    DONE = "done"
    CACHED = "cached"  # answered from the results cache: nothing sent
    REJECTED = "rejected"  # answered, billed, and not a valid answer
    CANCELLED = "cancelled"  # an edit or the user stopped it
    FAILED = "failed"  # an error: not tried again
    RETRY = "retry"  # a transient error: queued again
    DEFERRED = "deferred"  # a transient error, tried enough: in the deferred queue
    OVER_BUDGET = "over budget"  # a cap refused it (before sending)
    TOO_LARGE = "too large"  # it cannot fit the model's context window: deferred, not sent
    STOPPED = "stopped"  # the drains are stopped
    NO_CONSENT = "no consent"
    NO_LEDGER = "no ledger"


@dataclass(slots=True)
class SchedulerState:
    """What the status line shows."""

    state: DrainState = DrainState.IDLE
    reason: str = ""
    pending: int = 0
    running: int = 0
    consumed_tokens: int = 0
    cost_usd: float = 0.0
    wasted_tokens: int = 0
    completed: int = 0
    cancelled: int = 0
    failed: int = 0
    cache_hits: int = 0
    requests: list[str] = field(default_factory=list)


def task_path(task: Task) -> str:
    """The file of a task, symlinks resolved (its URI when it is not a file)."""
    if task.uri.startswith("file://"):
        path = uri_to_path(task.uri)
        if path:
            try:
                return str(Path(path).resolve())
            except OSError:
                return path
    return task.uri


def age(created: float) -> str:
    """How long ago, for humans."""
    seconds = max(0.0, time.time() - created)
    if seconds < 90:
        return f"{math.floor(seconds)} s ago"
    if seconds < 5400:
        return f"{math.floor(seconds / 60)} min ago"
    return f"{seconds / 3600:.1f} h ago"
