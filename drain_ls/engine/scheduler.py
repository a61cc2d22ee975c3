"""The idle scheduler: lowest-priority drain work, inside the budget, stopped by a keystroke.

- Ready when idle: no edit for ``idle.delayMs``, no pause (rate limits), not blocked (a cap).
- Runs the most valuable tasks first (public before private, recently edited first, small
  before large), at most ``concurrency`` at a time.
- An edit cancels at once the running tasks whose definition it touches (``affected``) or
  all of them (``all``); the analysis after the edit submits the tasks again, so a task
  whose content did not change runs again at the next idle time. Tokens billed for
  cancelled work are recorded as wasted.
- Every request reserves its worst case in the ledger first and is settled after; a
  reservation the budget refuses stops dispatching with that reason.
- 429 pauses until ``retry-after``; 529 backs off; a spend-limit 429 stops for the day; the
  rate-limit headers hold drains back while the remaining share is under the reserve.

The ledger is another process's too, and the scheduler never trusts it to work:

- Ledger work runs on the ledger's own thread (``Ledger.submit``): a lock held elsewhere
  makes the drains wait, never the editor. A lock (``locked``) holds the drains back with
  the reason shown (state ``paused``) and is tried again with backoff (1 s doubling to
  30 s); when it goes away the drains go on by themselves.
- A ledger file deleted or replaced while in use (``vanished``) stops the drains with the
  reason; the ledger is reopened or recreated where that is safe (``Ledger.reopen``), and
  ``drain.resume`` starts them again. Any other ledger error stops them too. Nothing is
  ever sent without a reservation written first.
- Every error inside the dispatch loop and the runs is caught there, logged once per cause
  (never a traceback, never a message that may quote a request), and shown in the status:
  before anything was sent it stops the drains (fail closed; ``drain.resume`` tries
  again), after it the task fails and the drains go on. The loop never dies silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sqlite3
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from drain_ls.backends.base import Backend, BackendError, Progress
from drain_ls.budget import Limits, Price, Refusal, Usage, cost_usd
from drain_ls.engine.drains import Task, sha, validate
from drain_ls.ledger import Ledger, LedgerError, Reservation, check_price
from drain_ls.uris import uri_to_path

logger = logging.getLogger("drain_ls")

P = ParamSpec("P")
T = TypeVar("T")

# Waiting for a ledger another process locks: first retry after 1 s, doubling up to 30 s.
LEDGER_RETRY_FIRST = 1.0
LEDGER_RETRY_MAX = 30.0
# A run with a bounded number of attempts (``drain-ls run``) gives up after this many.
LEDGER_TRIES_BOUNDED = 5


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


def _counts(usage: Usage, *more: int) -> bool:
    """Whether a usage (and ``more``) are non-negative token counts."""
    values = (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        *more,
    )
    return all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values)


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


# A model server that is not running is checked again after 2 s, doubling up to 5 minutes.
BACKEND_RETRY_MIN = 2.0
BACKEND_RETRY_MAX = 300.0


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


class Scheduler:
    """Owns the queue and the running drain tasks of one server."""

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

    # -- life -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start dispatching (in the running event loop)."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop().create_task(self._dispatch(), name="drains")

    async def close(self, session_end: bool = False) -> None:
        """Cancel everything, settle what was in flight, release the backend.

        At the end of a session (``session_end``) the work that did not run is kept in the
        ledger's deferred queue, and with ``budget.pool`` the session's unused tier-2 share
        goes to the shared pool."""
        if self._loop is not None:
            self._loop.cancel()
        queued = list(self.queue.values()) + [r.task for r in self.running.values()]
        jobs = [r.job for r in self.running.values()]
        for running in self.running.values():
            running.cancel_reason = "shutdown"
            running.job.cancel()
        for job in jobs:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await job
        if self._loop is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._loop
        if session_end and self.ledger is not None and not self.free:
            # (The offline backend's work costs nothing and runs again when a file opens.)
            for task in queued:
                if task.key not in self.done_keys:
                    self._defer(task, "the editor closed before it ran")
            if self.pool:
                try:
                    donated = await self._io(self.ledger.donate, self.limits, self.primary_use())
                except LedgerError as exc:
                    self._log_error("donating to the shared pool", exc, logging.INFO)
                else:
                    if donated:
                        logger.info("%d unused tokens donated to the shared pool", donated)
        while self._pending_io:  # every write in flight is done (a release may add one)
            await asyncio.gather(*self._pending_io, return_exceptions=True)
        await self.backend.close()

    # -- events from the editor -------------------------------------------------------------

    def activity(self) -> None:
        """The user did something: idle time starts again."""
        self.last_activity = self.clock()
        self._wake.set()

    def submit(self, uri: str, tasks: list[Task]) -> None:
        """The current tasks of ``uri`` (replacing what was queued for it)."""
        for slot in [s for s in self.queue if s[1] == uri]:
            del self.queue[slot]
        dismissed: set[str] = set()
        if self.ledger is not None and tasks:
            try:
                dismissed = self.ledger.dismissed_among([t.key for t in tasks])
            except LedgerError as exc:
                # Not known to be dismissed: the run meets the problem before it sends.
                self._log_error("reading the dismissed answers", exc, logging.INFO)
        for task in tasks:
            known = self.done_keys.get(task.key)
            if known is not None:
                if (task.key, task.uri, task.qualname) not in self.delivered:
                    # The same code elsewhere (a copied file): the same answer, for free.
                    self._deliver(task, known.text, known.model, 0, 0.0, cached=True)
                continue
            if task.key in self.rejected_keys or task.key in dismissed:
                continue
            running = self.running.get(task.slot)
            # The same task already running is not queued twice, unless an edit is cancelling
            # it: that run ends without an answer, and nothing else would queue it again.
            if (
                running is not None
                and running.task.key == task.key
                and running.cancel_reason != "edit"
            ):
                continue
            self.queue[task.slot] = task
        self._publish()
        self._wake.set()

    def forget(self, uri: str) -> None:
        """A closed document: drop its queued tasks (running ones finish or get cancelled)."""
        for slot in [s for s in self.queue if s[1] == uri]:
            del self.queue[slot]
        self._publish()

    def edited(self, uri: str, edits: list[tuple[int, int, int]]) -> int:
        """An edit of ``uri``: pause, and cancel the running tasks it makes stale."""
        self.activity()
        self.edited_at[uri] = self.clock()
        cancelled = 0
        for running in list(self.running.values()):
            task = running.task
            if task.uri != uri and self.cancel_policy != "all":
                continue
            hit = self.cancel_policy == "all"
            for start, old_end, new_end in edits:
                if task.uri != uri:
                    continue
                if start <= task.end and task.start <= old_end:
                    hit = True
                elif task.start >= old_end:
                    task.start += new_end - old_end
                    task.end += new_end - old_end
                if task.context_spans:
                    # The context it sent (imports, signatures) is stale too: at once, not
                    # when the file is analysed again (which a broken file may delay).
                    if any(start <= e and s <= old_end for s, e in task.context_spans):
                        hit = True
                    task.context_spans = tuple(
                        (s + new_end - old_end, e + new_end - old_end) if s >= old_end else (s, e)
                        for s, e in task.context_spans
                    )
            if hit and not running.job.done():
                running.cancel_reason = "edit"
                running.job.cancel()
                cancelled += 1
        return cancelled

    def context_changed(self, uri: str, context: str) -> None:
        """The file's context (imports, signatures) changed: its running tasks are stale."""
        for running in self.running.values():
            if running.task.uri == uri and running.task.context != context:
                running.cancel_reason = "edit"
                running.job.cancel()

    def pause(self) -> None:
        """The user paused the drains: nothing new starts until ``resume``."""
        self.user_paused = True
        self._publish()

    def resume(self) -> None:
        """Start dispatching again: also clears a budget block, and a stop caused by the
        ledger or an internal error, to try again (at once, even while a lock waits)."""
        self.user_paused = False
        self.blocked = None
        if self._resumable:
            self.stopped = None
            self._resumable = False
        self.note = None
        self.ledger_wait = None
        self._ledger_retry_at = 0.0
        self._ledger_backoff = LEDGER_RETRY_FIRST
        self._ledger_tries = 0
        self._wake.set()
        self._publish()

    def run_now(self) -> None:
        """Start the queued work now, without waiting for idle time."""
        self.user_paused = False
        self.last_activity = self.clock() - self.idle_delay
        self._wake.set()

    def cancel_all(self) -> int:
        """Cancel every running drain (they run again at the next idle time)."""
        count = 0
        for running in self.running.values():
            if not running.job.done():
                running.cancel_reason = "user"
                running.job.cancel()
                count += 1
        return count

    def unblock(self) -> None:
        """Settings or the day changed: try again."""
        self.blocked = None
        self._wake.set()

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

    # -- the ledger -------------------------------------------------------------------------

    async def _io(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn`` (a ledger method) on the ledger's thread. It runs to its end even when
        the caller is cancelled: a write is never half done."""
        assert self.ledger is not None
        return await asyncio.shield(self._track(self.ledger.submit(fn, *args, **kwargs)))

    def _track(self, future: asyncio.Future[T]) -> asyncio.Future[T]:
        """A ledger write ``close`` waits for (its caller may be cancelled before it ends)."""
        self._pending_io.add(future)
        future.add_done_callback(self._pending_io.discard)
        return future

    def _later(
        self, what: str, fn: Callable[P, object], /, *args: P.args, **kwargs: P.kwargs
    ) -> None:
        """Write on the ledger's thread without waiting (in order; ``close`` waits for it;
        an error is logged once: such a write is never needed before a request)."""
        ledger = self.ledger
        if ledger is None:
            return
        try:
            future = ledger.submit(fn, *args, **kwargs)
        except LedgerError as exc:
            self._log_error(what, exc, logging.INFO)
            return
        except RuntimeError:  # no event loop: a caller outside the editor
            try:
                fn(*args, **kwargs)
            except LedgerError as exc:
                self._log_error(what, exc, logging.INFO)
            return
        self._track(future).add_done_callback(partial(self._written, what))

    def _written(self, what: str, future: asyncio.Future[Any]) -> None:
        if not future.cancelled() and (exc := future.exception()) is not None:
            self._log_error(what, exc, logging.INFO)

    async def _ledger_failed(self, exc: LedgerError, task: Task | None = None) -> None:
        """The ledger failed a run (``task`` goes back to the queue): wait for a lock with
        backoff; stop the drains for anything else, with the reason."""
        if task is not None:
            self.queue.setdefault(task.slot, task)
        if exc.kind == "locked":
            delay = self._ledger_backoff
            self._ledger_backoff = min(delay * 2, LEDGER_RETRY_MAX)
            self._ledger_retry_at = self.clock() + delay
            self._ledger_tries += 1
            if self.ledger_wait is None:
                logger.warning("drains wait: %s; trying again with backoff", exc)
            self.ledger_wait = f"{exc}: drains wait, next try in {delay:g} s"
            if self.max_attempts is not None and self._ledger_tries >= LEDGER_TRIES_BOUNDED:
                self._stop(f"{exc}: gave up after {self._ledger_tries} tries", resumable=True)
                self._log_once(logging.ERROR, f"drains stopped: {self.stopped}")
        elif exc.kind == "vanished":
            await self._ledger_vanished(exc)
        else:
            self._stop(
                f"ledger unavailable: {exc}: nothing is sent (drain.resume tries again)",
                resumable=True,
            )
            self._log_once(logging.ERROR, f"drains stopped: {self.stopped}")
        self._publish()

    async def _ledger_vanished(self, exc: LedgerError) -> None:
        """The ledger file was deleted or replaced: stop the drains, and reopen (or
        recreate) it where that is safe, so that a resume finds a ledger that records."""
        ledger = self.ledger
        assert ledger is not None
        async with self._reopen_lock:
            try:
                outcome = await self._io(ledger.reopen)
            except LedgerError as again:
                outcome = f"{again} (drain.resume tries again)"
            else:
                if outcome.endswith("is in place"):
                    return  # another run reopened it meanwhile
                outcome += "; drain.resume starts the drains again"
        self._stop(f"{exc}: drains stopped; {outcome}", resumable=True)
        self._log_once(logging.ERROR, f"drains stopped: {self.stopped}")

    async def _ledger_ok(self) -> None:
        """The ledger took a write: stop waiting, and write what it could not take."""
        if self.ledger_wait is not None:
            logger.info("the ledger can be written again: drains go on")
            self.ledger_wait = None
            self._wake.set()
        self._ledger_backoff = LEDGER_RETRY_FIRST
        self._ledger_tries = 0
        pending, self._unsettled = self._unsettled, []
        for reservation, usage, status, wasted in pending:
            try:
                await self._io(self._settlement(reservation, usage, status, wasted))
            except LedgerError as exc:
                self._log_error("settling a run", exc)
                if exc.kind == "locked":
                    self._unsettled.append((reservation, usage, status, wasted))

    async def _open_ledger(self) -> None:
        """Open the ledger on its thread as the drains start: a problem shows at once."""
        if self.ledger is None or self.free:
            return
        try:
            await self._io(self.ledger.open)
        except LedgerError as exc:
            await self._ledger_failed(exc)

    async def _probe_ledger(self) -> None:
        """A lock held the drains back: is it gone?"""
        if self.ledger is None:
            self.ledger_wait = None
            return
        try:
            await self._io(self.ledger.probe)
        except LedgerError as exc:
            await self._ledger_failed(exc)
            return
        await self._ledger_ok()
        self._publish()

    # -- dispatching ------------------------------------------------------------------------

    def _ready_in(self) -> float | None:
        """Seconds until the next task may start, or the ledger be tried again (None:
        nothing to do now)."""
        if self.stopped or self.user_paused:
            return None
        if self.ledger_wait is not None:
            return max(self._ledger_retry_at - self.clock(), 0.0)
        if self.blocked or not self.queue:
            return None
        limit = self.concurrency if (self._consented or self.free or self.consent is None) else 1
        if len(self.running) >= limit:
            return None
        now = self.clock()
        wait = max(self.last_activity + self.idle_delay - now, self.paused_until - now, 0.0)
        return wait

    async def _probe_backend(self) -> None:
        """Ask the backend whether it can serve; if not, say why and wait (2 s, doubling to
        5 minutes: a server that is not running is not asked on every keystroke). The reason
        is logged once, not at every try."""
        assert self.check_backend is not None
        try:
            reason = await self.check_backend()
        except Exception as exc:  # a probe must never take the drains down
            reason = f"cannot check the model server ({describe(exc)})"
        if reason is None:
            if self.backend_wait is not None:
                logger.info("the model server answers: drains go on")
            self._backend_ready, self.backend_wait, self._backend_told = True, None, None
            self.backend_problem = None
            self._backend_delay = BACKEND_RETRY_MIN
            self._publish()
            return
        delay = self._backend_delay
        self._backend_delay = min(delay * 2, BACKEND_RETRY_MAX)
        if reason != self._backend_told:
            self._backend_told = reason
            logger.warning("drains wait: %s", reason)
        self.backend_problem = reason
        self.backend_wait = f"{reason} (checked again in {delay:g} s)"
        self._publish()
        await asyncio.sleep(delay)

    async def _dispatch(self) -> None:
        """The dispatch loop: an error in it stops the drains with the reason (it never
        ends it); ``drain.resume`` tries again."""
        opened = False
        while True:
            try:
                if not opened:
                    opened = True
                    await self._open_ledger()
                await self._dispatch_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                cause = self._log_error("the drain scheduler", exc)
                self._stop(
                    f"internal error in the drain scheduler ({cause}): nothing is sent "
                    "(drain.resume tries again)",
                    resumable=True,
                )
                with contextlib.suppress(Exception):
                    self._publish()
                self._wake.clear()
                await self._wake.wait()

    async def _dispatch_once(self) -> None:
        wait = self._ready_in()
        self._wake.clear()
        if wait is None:
            self._publish()
            await self._wake.wait()
            return
        if wait > 0:
            self._publish()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            return
        if self.ledger_wait is not None:
            await self._probe_ledger()
            return
        if self.check_backend is not None and not self._backend_ready:
            await self._probe_backend()
            return
        if not self.free:
            # Below the reserve, wait for the reset time of the low windows (they are full
            # again then, even if no response says so).
            low = self.backend.rate_limits.holding_back(self.ratelimit_reserve)
            if low is not None:
                wait = low[0]
                self._rate_limited(
                    self.clock(),
                    max(wait, 0.05),
                    f"holding back: under {self.ratelimit_reserve:.0%} of the rate limit left",
                )
                return
        task = max(self.queue.values(), key=self._value)
        del self.queue[task.slot]
        progress = Progress()
        job = asyncio.get_running_loop().create_task(
            self._run(task, progress), name=f"drain {task.drain} {task.qualname}"
        )
        self.running[task.slot] = _Running(task, job, progress)
        job.add_done_callback(partial(self._finished, task.slot))
        if self.on_start is not None:
            try:
                self.on_start(task, progress, job)
            except Exception as exc:
                self._log_error("the run-started hook", exc)
        self._publish()

    def _finished(self, slot: tuple[str, str, str], job: asyncio.Task[None]) -> None:
        self.running.pop(slot, None)
        if not job.cancelled() and (exc := job.exception()) is not None:
            self._log_error("a drain run", exc)  # _run catches everything: a safety net
        self._publish()
        self._wake.set()

    def _value(self, task: Task) -> float:
        """Expected value per token: public first, then recently edited files, then small."""
        edited = self.edited_at.get(task.uri)
        recency = 0.0 if edited is None else 1.0 / (1.0 + (self.clock() - edited) / 60.0)
        size = 1.0 / (1.0 + len(task.scope_text) / 2000)
        # Drains whose suggestions the user dismisses often are worth less.
        dismissed = self.dismiss_rates.get(task.drain, 0.0)
        return task.priority + (2.0 if task.public else 0.0) + recency + size - 2.0 * dismissed

    async def ask_consent(self) -> bool:
        """May code be sent (asked once per session; the offline backend needs no consent)?"""
        if self.free or self.consent is None or self._consented:
            return True
        answer = await self.consent()
        if not answer:
            self._stop(
                "no consent to send code from this workspace"
                if answer is None
                else "sending code from this workspace was refused"
            )
            self._publish()
            return False
        self._consented = True
        return True

    async def _run(self, task: Task, progress: Progress) -> None:
        attempt = _Attempt()
        try:
            await self._attempt(task, progress, attempt)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._crashed(task, progress, attempt, exc)

    async def _crashed(
        self, task: Task, progress: Progress, attempt: _Attempt, exc: Exception
    ) -> None:
        """An unexpected error in a run: before its request, the drains stop (fail closed);
        after it, the task fails (not bought again this session) and the drains go on."""
        cause = self._log_error(f"drain {task.drain}", exc)
        usage = attempt.usage or progress.usage()
        cost = 0.0
        if attempt.reservation is not None:
            try:
                cost = await self._settle(attempt, usage, "failed")
            except Exception as again:
                self._log_error("settling a failed run", again)
        self.status.failed += 1
        if attempt.sent:
            self.rejected_keys.add(task.key)
            self.note = f"drain {task.drain} failed: {cause}"
        else:
            self.queue.setdefault(task.slot, task)
            self._stop(
                f"internal error before a request was sent ({cause}): nothing is sent "
                "(drain.resume tries again)",
                resumable=True,
            )
        self._ended(task, Outcome.FAILED, usage, cost)
        self._publish()

    async def _attempt(self, task: Task, progress: Progress, attempt: _Attempt) -> None:
        ledger = self.ledger
        if ledger is not None and not self.free:
            try:
                # A read: never waits for a writer (WAL), and on this thread at most a few ms.
                cached = ledger.result(task.key)
            except LedgerError as exc:
                await self._ledger_failed(exc, task)
                self._ended(task, Outcome.NO_LEDGER, Usage(), 0.0)
                return
            if cached is not None:
                self.status.cache_hits += 1
                self._later(
                    "recording a cache hit",
                    ledger.record_hit,
                    drain=task.drain,
                    workspace=self.workspace,
                    scope_key=task.qualname,
                    key=task.key,
                    model=task.model,
                )
                model = cached.get("model")
                self._deliver(
                    task,
                    cached["text"],
                    model if isinstance(model, str) else task.model,
                    0,
                    0.0,
                    cached=True,
                )
                self._undefer(task)
                self._ended(task, Outcome.CACHED, Usage(), 0.0)
                return
        needed = task.input_estimate() + task.sent_max_tokens
        if self.max_context is not None and needed > self.max_context:
            # It cannot fit: never sent (a server would cut the prompt, or refuse it).
            reason = (
                f"needs about {needed:,} tokens, more than the model's context window "
                f"({self.max_context:,})"
            )
            self.note = f"drain {task.drain} on {task.qualname}: {reason}; deferred"
            self._defer(task, reason)
            self._ended(task, Outcome.TOO_LARGE, Usage(), 0.0)
            return
        try:
            consented = await self.ask_consent()
        except LedgerError as exc:  # the remembered answer cannot be read or written
            await self._ledger_failed(exc, task)
            self._ended(task, Outcome.NO_LEDGER, Usage(), 0.0)
            return
        if not consented:
            self.queue.setdefault(task.slot, task)
            self._ended(task, Outcome.NO_CONSENT, Usage(), 0.0)
            return
        if not self.free:
            if ledger is None:
                self._stop("no ledger: nothing is sent")
                self._ended(task, Outcome.NO_LEDGER, Usage(), 0.0)
                return
            # A run cancelled a moment ago may still be releasing what it reserved (on the
            # ledger's thread, behind its reservation): a reservation made first would find
            # the cap taken by a run that sent nothing, and stop the drains for the day.
            # (``asyncio.wait``, not ``gather``: a cancel here must not cancel those writes.)
            while self._pending_io:
                await asyncio.wait(set(self._pending_io))
            if self.stopped is not None:  # meanwhile another run met a ledger problem
                self.queue.setdefault(task.slot, task)
                self._ended(task, Outcome.STOPPED, Usage(), 0.0)
                return
            try:
                made = await self._reserve(ledger, task)
            except LedgerError as exc:
                await self._ledger_failed(exc, task)
                self._ended(task, Outcome.NO_LEDGER, Usage(), 0.0)
                return
            await self._ledger_ok()
            if isinstance(made, Refusal):
                self.blocked = f"over budget: {made}"
                self.queue.setdefault(task.slot, task)
                self._defer(task, str(made))
                logger.info("drains stopped: %s", self.blocked)
                self._ended(task, Outcome.OVER_BUDGET, Usage(), 0.0)
                return
            attempt.reservation = made
            if self.stopped is not None:
                # Another run met the ledger's problem (a vanished file, reopened) while this
                # one reserved: the drains are stopped, so nothing is sent; the task waits.
                await self._settle(attempt, Usage(), "cancelled")
                self.queue.setdefault(task.slot, task)
                self._ended(task, Outcome.STOPPED, Usage(), 0.0)
                return
        attempt.sent = True
        try:
            response = await self.backend.complete(task.request(), progress)
        except asyncio.CancelledError:
            usage = progress.usage()
            # Settled in the background: a cancelled run ends at once.
            cost = await self._settle(attempt, usage, "cancelled", wasted=usage.total, wait=False)
            self.status.cancelled += 1
            self._ended(task, Outcome.CANCELLED, usage, cost)
            raise
        except BackendError as exc:
            cost = await self._settle(attempt, exc.usage, "failed")
            self.status.failed += 1
            retried = self._failure(task, exc)
            outcome = (
                Outcome.RETRY
                if retried
                else (Outcome.DEFERRED if retried is None else Outcome.FAILED)
            )
            self._ended(task, outcome, exc.usage, cost, exc.kind)
            return
        except Exception as exc:
            usage = progress.usage()
            cost = await self._settle(attempt, usage, "failed")
            self.status.failed += 1
            self.note = f"drain {task.drain} failed: {self._log_error(f'drain {task.drain}', exc)}"
            self._ended(task, Outcome.FAILED, usage, cost)
            return
        attempt.usage = response.usage
        cost = await self._settle(attempt, response.usage, "done")
        self.backoff = 1.0
        text = None if response.truncated else validate(task.drain, response.text)
        if self.free:
            self._record_free(task, "done" if text is not None else "failed")
        self._undefer(task)
        if text is None:
            self.status.failed += 1
            self.rejected_keys.add(task.key)
            logger.info("drain %s on %s: answer rejected", task.drain, task.qualname)
            self._ended(task, Outcome.REJECTED, response.usage, cost)
            return
        self.status.completed += 1
        self.note = None
        if ledger is not None and not self.free:
            self._later(
                "storing a result",
                ledger.store_result,
                task.key,
                drain=task.drain,
                model=response.model,
                content_hash=task.key,
                value={"text": text, "model": response.model},
                tokens=response.usage.total,
                cost=cost,
            )
        self._deliver(task, text, response.model, response.usage.total, cost)
        self._ended(task, Outcome.DONE, response.usage, cost)

    async def _reserve(self, ledger: Ledger, task: Task) -> Reservation | Refusal:
        """Reserve the task's worst case, on the ledger's thread (a run cancelled meanwhile
        releases what was reserved: nothing was sent)."""
        future = self._track(
            ledger.submit(
                ledger.reserve,
                drain=task.drain,
                workspace=self.workspace,
                scope_key=task.qualname,
                content_hash=task.key,
                model=task.model,
                tier=task.tier,
                input_estimate=task.input_estimate(),
                max_tokens=task.sent_max_tokens,
                limits=self.limits,
                price=self.price,
                primary_use=self.primary_use(),
                pool=self.pool,
            )
        )
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            future.add_done_callback(self._release)
            raise

    def _release(self, future: asyncio.Future[Reservation | Refusal]) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        made = future.result()
        if isinstance(made, Reservation) and self.ledger is not None:
            self._later(
                "releasing a reservation",
                self.ledger.settle,
                made.run_id,
                Usage(),
                "cancelled",
                self.price,
                generation=made.generation,
            )

    async def _settle(
        self, attempt: _Attempt, usage: Usage, status: str, wasted: int = 0, wait: bool = True
    ) -> float:
        """Settle the attempt's reservation with ``usage`` (once); the run's cost. Without
        ``wait`` (a cancelled run) the ledger is written in the background (``close`` waits
        for it). A usage that is not a count is never recorded: the reservation stays at its
        worst case and the drains stop."""
        reservation, attempt.reservation = attempt.reservation, None
        cost = 0.0
        if _counts(usage, wasted):
            try:
                cost = cost_usd(usage, self.price)
            except (TypeError, ValueError, OverflowError):
                cost = math.nan
        valid = _counts(usage, wasted) and math.isfinite(cost) and cost >= 0
        if valid:
            self.status.consumed_tokens += usage.total
            if status == "cancelled":
                self.status.wasted_tokens += wasted
            self.status.cost_usd += cost
        else:
            cost = 0.0
        if reservation is None or self.ledger is None:
            if not valid:
                self._log_once(logging.ERROR, "a run reported a usage that is not a count")
            return cost
        write = self._write_settlement(reservation, usage, status, wasted, cost)
        if wait:
            return await write
        self._track(asyncio.ensure_future(write))
        return cost

    def _settlement(
        self, reservation: Reservation, usage: Usage, status: str, wasted: int
    ) -> Callable[[], float]:
        """The ledger call that replaces ``reservation`` with ``usage``."""
        assert self.ledger is not None
        return partial(
            self.ledger.settle,
            reservation.run_id,
            usage,
            status,
            self.price,
            wasted,
            generation=reservation.generation,
        )

    async def _write_settlement(
        self, reservation: Reservation, usage: Usage, status: str, wasted: int, cost: float
    ) -> float:
        """Replace the reservation with ``usage`` in the ledger; the cost it recorded (else
        ``cost``). A lock keeps it for later; a vanished file is reopened first."""
        settle = self._settlement(reservation, usage, status, wasted)
        try:
            return await self._io(settle)
        except LedgerError as exc:
            error = exc
        if error.kind == "vanished":
            await self._ledger_failed(error)  # reopened: the reservation was carried over
            try:
                return await self._io(settle)
            except LedgerError as exc:
                error = exc
        self._log_error("settling a run", error)
        if error.kind == "locked":
            self._unsettled.append((reservation, usage, status, wasted))
        if error.kind != "vanished":
            await self._ledger_failed(error)
        return cost

    def _ended(
        self, task: Task, outcome: Outcome, usage: Usage, cost: float, detail: str = ""
    ) -> None:
        """Tell ``on_end`` (``detail``: the error's kind, when one ended it)."""
        if self.on_end is not None:
            try:
                self.on_end(task, outcome, usage, cost, detail)
            except Exception as exc:
                self._log_error("the run-ended hook", exc)

    def _failure(self, task: Task, error: BackendError) -> bool | None:
        """React to a failed request: True when the task is queued again, None when it was
        deferred (it waits in the ledger's queue, and in this session's queue when the drains
        may still run it). No task is ever dropped without a reason on record."""
        now = self.clock()
        logger.info("drain %s on %s failed: %s", task.drain, task.qualname, error.kind)
        if error.kind == "connection" and self.check_backend is not None:
            # The server went away: the task waits, and the next dispatch asks the server
            # (with its backoff) instead of failing every queued task in turn.
            self._backend_ready = False
            self.queue.setdefault(task.slot, task)
            return True
        if error.kind in BackendError.STOPPING:
            # Nothing more will succeed until the user acts (raises a limit, pays, picks a
            # model, fixes the key): stop, say which limit, keep the task for later.
            state = (
                DrainState.OVER_BUDGET
                if error.kind in ("spend_limit", "billing")
                else DrainState.DISABLED
            )
            what = f"model {task.model!r}: {error}" if error.kind == "model" else str(error)
            self._stop(f"{what}: drains stopped (drain.resume tries again)", state, True)
            logger.warning("drains stopped: %s", self.stopped)
            self.queue.setdefault(task.slot, task)
            self._defer(task, str(error))
            return None
        if error.kind in ("too_large", "request"):
            # This request cannot succeed as it is: it waits in the deferred queue (with the
            # reason) and is not sent again in this session.
            self.note = f"drain {task.drain} on {task.qualname}: {error}; deferred"
            self._defer(task, str(error))
            return None
        if error.kind == "rate_limited":
            wait = error.retry_after
            if wait is None:
                wait = self.backend.rate_limits.seconds_to_reset()
            self._rate_limited(now, wait if wait is not None else 30.0)
        else:  # overloaded, server, midstream, connection, timeout
            delay = error.retry_after if error.retry_after is not None else self.backoff
            self.backoff = min(self.backoff * 2, 60.0)
            self.paused_until = now + min(delay, 3600.0)  # a retry-after of days is not obeyed
        attempts = self.attempts[task.key] = self.attempts.get(task.key, 0) + 1
        if self.max_attempts is not None and attempts >= self.max_attempts:
            self._defer(task, f"failed {attempts} times ({error.kind})")
            return None
        self.queue.setdefault(task.slot, task)  # try again after the pause
        return True

    def _rate_limited(self, now: float, wait: float, why: str = "") -> None:
        """Send nothing for ``wait`` seconds; the status says until when (local time)."""
        wait = max(0.0, min(wait, 24 * 3600.0))
        self.paused_until = max(self.paused_until, now + wait)
        until = datetime.now().astimezone() + timedelta(seconds=self.paused_until - now)
        self.status.reason = f"rate-limited until {until:%H:%M:%S}" + (f" ({why})" if why else "")

    def _defer(self, task: Task, reason: str) -> None:
        if self.ledger is None or not task.uri.startswith("file://"):
            return  # an unsaved buffer cannot be found again
        if task.scope_kind == "commits":
            return  # the commit watcher gathers the same commits again
        self._later(
            "deferring a task",
            self.ledger.defer,
            drain=task.drain,
            workspace=self.workspace,
            scope_key=task.qualname,
            content_hash=task.key,
            estimated_tokens=task.input_estimate() + task.sent_max_tokens,
            reason=reason,
            path=task_path(task),
            model=task.model,
            tier=task.tier,
        )

    def defer_queued(self, reason: str) -> int:
        """Keep every queued task in the deferred queue (a headless run out of budget); the
        writes are done when ``close`` returns."""
        tasks = list(self.queue.values())
        for task in tasks:
            self._defer(task, reason)
        return len(tasks)

    def _undefer(self, task: Task) -> None:
        if self.ledger is None:
            return
        self._later(
            "updating the deferred queue",
            self.ledger.undefer,
            drain=task.drain,
            workspace=self.workspace,
            path=task_path(task),
            scope_key=task.qualname,
        )

    def _record_free(self, task: Task, status: str) -> None:
        if self.ledger is None:
            return
        self._later(
            "recording an offline run",
            self.ledger.record_free,
            drain=task.drain,
            workspace=self.workspace,
            scope_key=task.qualname,
            key=task.key,
            tier=task.tier,
            status=status,
        )

    def _deliver(
        self, task: Task, text: str, model: str, tokens: int, cost: float, cached: bool = False
    ) -> None:
        result = Result(
            task.drain,
            task.uri,
            task.qualname,
            task.key,
            sha(task.scope_text),
            text,
            model,
            tokens,
            cost,
            time.time(),
            cached,
            task.scope_kind,
            task_path(task),
        )
        self.done_keys[task.key] = result
        self.delivered.add((task.key, task.uri, task.qualname))
        try:
            self.on_result(result)
        except Exception as exc:
            self._log_error(f"delivering a result of drain {task.drain}", exc)

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
