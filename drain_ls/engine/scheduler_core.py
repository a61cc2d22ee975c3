"""The drain scheduler's state (``SchedulerCore``): what ``Scheduler.__init__`` sets up, the
errors that stop the drains (``_stop``, logged once per cause) and the status they publish
(``_publish``); ``describe``, an error on one short line.

``Scheduler`` (``drain_ls.engine.scheduler``) is this class with the ledger work
(``scheduler_ledger``), the runs (``scheduler_runs``) and the dispatch loop on top.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drain_ls.backends.base import Backend, Progress
from drain_ls.budget import Limits, Price, Usage
from drain_ls.engine.drains import Task
from drain_ls.engine.outcomes import DrainState, Outcome, Result, SchedulerState
from drain_ls.ledger import Ledger, LedgerError, Reservation, check_price

logger = logging.getLogger("drain_ls")

# Waiting for a ledger another process locks: first retry after 1 s, doubling up to 30 s.
LEDGER_RETRY_FIRST = 1.0
LEDGER_RETRY_MAX = 30.0
# A model server that is not running is checked again after 2 s, doubling up to 5 minutes.
BACKEND_RETRY_MIN = 2.0
BACKEND_RETRY_MAX = 300.0


def describe(exc: BaseException) -> str:
    """An error on one short line, for logs and the status: its type, and its message only
    when drain-ls or the system wrote it (an API's or a library's message may quote a
    request); else where in drain-ls it happened. Never a traceback."""
    name = type(exc).__name__
    if isinstance(exc, LedgerError | sqlite3.Error | OSError):
        text = " ".join(str(exc).split())
        if len(text) > 240:
            text = text[:237] + "..."
        return f"{name}: {text}" if text else name
    where = ""
    for frame, line in traceback.walk_tb(exc.__traceback__):
        if "drain_ls" in frame.f_code.co_filename:
            where = f" at {Path(frame.f_code.co_filename).name}:{line}"
    return f"{name}{where}"


@dataclass(slots=True)
class _Running:
    task: Task
    job: asyncio.Task[None]
    progress: Progress
    cancel_reason: str | None = None


@dataclass(slots=True)
class _Attempt:
    """One run of a task: its reservation until settled, whether its request went out."""

    reservation: Reservation | None = None
    sent: bool = False
    usage: Usage | None = None


class SchedulerCore:
    """The state of one server's scheduler, its errors and its status (``Scheduler``)."""

    def __init__(
        self,
        backend: Backend,
        ledger: Ledger | None,
        limits: Limits,
        price: Price,
        on_result: Callable[[Result], None],
        *,
        workspace: str = "",
        concurrency: int = 2,
        idle_delay: float = 2.0,
        cancel_policy: str = "affected",
        ratelimit_reserve: float = 0.5,
        pool: bool = False,
        max_attempts: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """A scheduler that sends through ``backend`` and accounts in ``ledger``."""
        self.backend = backend
        self.ledger = ledger
        self.limits = limits
        self.price = price
        self.on_result = on_result
        self.workspace = workspace
        self.concurrency = concurrency
        self.idle_delay = idle_delay
        self.cancel_policy = cancel_policy
        self.ratelimit_reserve = ratelimit_reserve
        self.pool = pool
        # How many times a task may fail with a transient error before it is deferred
        # (None: retried after each pause, as long as the session lasts).
        self.max_attempts = max_attempts
        self.attempts: dict[str, int] = {}
        # Answers that were billed but not usable (truncated, invalid): not bought again for
        # the same content in this session.
        self.rejected_keys: set[str] = set()
        self.delivered: set[tuple[str, str, str]] = set()  # (key, uri, qualname)
        self.clock = clock
        self.queue: dict[tuple[str, str, str], Task] = {}
        self.edited_at: dict[str, float] = {}  # uri -> last edit
        self.running: dict[tuple[str, str, str], _Running] = {}
        self.done_keys: dict[str, Result] = {}
        self.last_activity = clock()
        self.paused_until = 0.0
        self.blocked: str | None = None
        # Why nothing is sent any more (None: the drains run); its state in the status, and
        # whether drain.resume may try again (ledger and internal errors).
        self.stopped: str | None = None
        self._stop_state = DrainState.DISABLED
        self._resumable = False
        # Why the drains wait for the ledger (another process holds its lock), and when it
        # is tried again.
        self.ledger_wait: str | None = None
        # A model server that may not be running (the ``openai`` backend): ``check_backend``
        # says why it cannot serve (None: it can); until it can, nothing is dispatched and
        # ``backend_wait`` says why, checked again with a growing delay.
        self.check_backend: Callable[[], Awaitable[str | None]] | None = None
        self.backend_wait: str | None = None
        self.backend_problem: str | None = None  # the same reason, without the next try
        self._backend_ready = False
        self._backend_delay = BACKEND_RETRY_MIN
        self._backend_told: str | None = None
        # The most tokens one request may hold, prompt and answer (the model's context
        # window): a task that cannot fit is never sent.
        self.max_context: int | None = None
        self._ledger_retry_at = 0.0
        self._ledger_backoff = LEDGER_RETRY_FIRST
        self._ledger_tries = 0
        self._reopen_lock = asyncio.Lock()
        # Settlements the ledger could not take (locked): written once it can.
        self._unsettled: list[tuple[Reservation, Usage, str, int]] = []
        self._pending_io: set[asyncio.Future[Any]] = set()
        # The last error that did not stop the drains (shown as the status's reason).
        self.note: str | None = None
        self._logged: set[str] = set()
        self.user_paused = False
        self.backoff = 1.0
        self.status = SchedulerState()
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._last_status: tuple[object, ...] | None = None
        # Hooks for the editor: the state changed; a run started; a run ended.
        self.on_status: Callable[[], None] | None = None
        self.on_start: Callable[[Task, Progress, asyncio.Task[None]], None] | None = None
        self.on_end: Callable[[Task, Outcome, Usage, float, str], None] | None = None
        # Asks the user whether code may be sent; True, False, or None for no answer.
        self.consent: Callable[[], Awaitable[bool | None]] | None = None
        # Tokens the user's own work uses of the session limit (the claude-code source).
        self.primary_use: Callable[[], int] = lambda: 0
        self._consented = False
        self.dismiss_rates: dict[str, float] = {}
        if ledger is not None:
            try:
                self.dismiss_rates = ledger.dismiss_rates()
            except LedgerError as exc:
                self._log_error("reading the dismissal rates", exc, logging.INFO)
        if not self.free:
            try:
                check_price(price)
            except LedgerError:
                self._stop(
                    f"the model's price ({price.input!r}, {price.output!r} USD per million "
                    "tokens) is not a finite, non-negative number: nothing is sent"
                )
                logger.error("drains stopped: %s", self.stopped)

    @property
    def free(self) -> bool:
        """The offline backend costs nothing: no reservation, no ledger row."""
        return self.backend.name == "offline"

    # -- errors -----------------------------------------------------------------------------

    def _stop(
        self, reason: str, state: DrainState = DrainState.DISABLED, resumable: bool = False
    ) -> None:
        """Nothing more is sent, for ``reason`` (the first reason stays)."""
        if self.stopped is None:
            self.stopped, self._stop_state, self._resumable = reason, state, resumable

    def _log_once(self, level: int, message: str) -> None:
        if message not in self._logged:
            self._logged.add(message)
            logger.log(level, "%s", message)

    def _log_error(self, where: str, exc: BaseException, level: int = logging.ERROR) -> str:
        """Log an error once per distinct cause (never a traceback); its description."""
        cause = describe(exc)
        self._log_once(level, f"{where}: {cause}")
        return cause

    # -- the status -------------------------------------------------------------------------

    def _publish(self) -> None:
        status = self.status
        status.pending = len(self.queue)
        status.running = len(self.running)
        now = self.clock()
        if self.stopped:
            status.state, status.reason = self._stop_state, self.stopped
        elif self.blocked:
            status.state, status.reason = DrainState.OVER_BUDGET, self.blocked
        elif self.user_paused:
            status.state, status.reason = DrainState.PAUSED, "paused by the user"
        elif self.ledger_wait is not None:
            status.state, status.reason = DrainState.PAUSED, self.ledger_wait
        elif self.backend_wait is not None:
            status.state, status.reason = DrainState.PAUSED, self.backend_wait
        elif self.paused_until > now:
            status.state = DrainState.RATE_LIMITED
        elif self.running:
            status.state, status.reason = DrainState.RUNNING, self.note or ""
        elif self.queue and now - self.last_activity < self.idle_delay:
            status.state, status.reason = DrainState.PAUSED, "editing"
        else:
            status.state, status.reason = DrainState.IDLE, self.note or ""
        snapshot = (
            status.state,
            status.reason,
            status.pending,
            status.running,
            status.consumed_tokens,
            round(status.cost_usd, 6),
        )
        if snapshot != self._last_status:
            self._last_status = snapshot
            if self.on_status is not None:
                try:
                    self.on_status()
                except Exception as exc:
                    self._log_error("sending the drain status", exc)
