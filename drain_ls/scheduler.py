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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from drain_ls.backends.base import Backend, BackendError, Progress
from drain_ls.budget import Limits, Price, Refusal, Usage, cost_usd
from drain_ls.drains import Task, sha, validate
from drain_ls.ledger import Ledger, LedgerError, Reservation

logger = logging.getLogger("drain_ls")


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
class SchedulerState:
    """What the status line shows."""

    state: str = "idle"
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
        self.dismiss_rates: dict[str, float] = ledger.dismiss_rates() if ledger else {}
        self.running: dict[tuple[str, str, str], _Running] = {}
        self.done_keys: dict[str, Result] = {}
        self.last_activity = clock()
        self.paused_until = 0.0
        self.blocked: str | None = None
        self.stopped: str | None = None
        self.user_paused = False
        self.backoff = 1.0
        self.status = SchedulerState()
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._last_status: tuple[object, ...] | None = None
        # Hooks for the editor: the state changed; a run started; a run ended.
        self.on_status: Callable[[], None] | None = None
        self.on_start: Callable[[Task, Progress, asyncio.Task[None]], None] | None = None
        self.on_end: Callable[[Task, str, Usage, float], None] | None = None
        # Asks the user whether code may be sent; True, False, or None for no answer.
        self.consent: Callable[[], Awaitable[bool | None]] | None = None
        # Tokens the user's own work uses of the session limit (the claude-code source).
        self.primary_use: Callable[[], int] = lambda: 0
        self._consented = False

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
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        if session_end and self.ledger is not None and not self.free:
            # (The offline backend's work costs nothing and runs again when a file opens.)
            for task in queued:
                if task.key not in self.done_keys:
                    self._defer(task, "the editor closed before it ran")
            if self.pool and not self.free:
                with contextlib.suppress(LedgerError):
                    donated = self.ledger.donate(self.limits, self.primary_use())
                    if donated:
                        logger.info("%d unused tokens donated to the shared pool", donated)
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
        for task in tasks:
            known = self.done_keys.get(task.key)
            if known is not None:
                if (task.key, task.uri, task.qualname) not in self.delivered:
                    # The same code elsewhere (a copied file): the same answer, for free.
                    self._deliver(task, known.text, known.model, 0, 0.0, cached=True)
                continue
            if task.key in self.rejected_keys:
                continue
            if self.ledger is not None and self.ledger.dismissed(task.key):
                continue
            running = self.running.get(task.slot)
            if running is not None and running.task.key == task.key:
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
        """Start dispatching again (also clears a budget block, to try again)."""
        self.user_paused = False
        self.blocked = None
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

    # -- dispatching ------------------------------------------------------------------------

    def _ready_in(self) -> float | None:
        """Seconds until the next task may start (None: nothing to do now)."""
        if self.stopped or self.blocked or self.user_paused or not self.queue:
            return None
        limit = self.concurrency if (self._consented or self.free or self.consent is None) else 1
        if len(self.running) >= limit:
            return None
        now = self.clock()
        wait = max(self.last_activity + self.idle_delay - now, self.paused_until - now, 0.0)
        return wait

    async def _dispatch(self) -> None:
        while True:
            wait = self._ready_in()
            self._wake.clear()
            if wait is None:
                self._publish()
                await self._wake.wait()
                continue
            if wait > 0:
                self._publish()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)
                continue
            share = self.backend.rate_limits.remaining_share()
            if share is not None and share < self.ratelimit_reserve and not self.free:
                self.paused_until = self.clock() + 5.0
                self.status.reason = "holding back: rate-limit headroom"
                continue
            task = max(self.queue.values(), key=self._value)
            del self.queue[task.slot]
            progress = Progress()
            job = asyncio.get_running_loop().create_task(
                self._run(task, progress), name=f"drain {task.drain} {task.qualname}"
            )
            self.running[task.slot] = _Running(task, job, progress)
            if self.on_start is not None:
                self.on_start(task, progress, job)
            job.add_done_callback(partial(self._finished, task.slot))
            self._publish()

    def _finished(self, slot: tuple[str, str, str], _: object = None) -> None:
        self.running.pop(slot, None)
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
            self.stopped = (
                "no consent to send code from this workspace"
                if answer is None
                else "sending code from this workspace was refused"
            )
            self._publish()
            return False
        self._consented = True
        return True

    async def _run(self, task: Task, progress: Progress) -> None:
        if self.ledger is not None and not self.free:
            cached = self.ledger.result(task.key)
            if cached is not None:
                self.status.cache_hits += 1
                with contextlib.suppress(LedgerError):
                    self.ledger.record_hit(
                        drain=task.drain,
                        workspace=self.workspace,
                        scope_key=task.qualname,
                        key=task.key,
                        model=task.model,
                    )
                self._deliver(task, cached["text"], cached["model"], 0, 0.0, cached=True)
                self._undefer(task)
                self._ended(task, "cached", Usage(), 0.0)
                return
        reservation: Reservation | None = None
        if not await self.ask_consent():
            self.queue.setdefault(task.slot, task)
            self._ended(task, "no consent", Usage(), 0.0)
            return
        if not self.free:
            if self.ledger is None:
                self.stopped = "no ledger: nothing is sent"
                self._ended(task, "no ledger", Usage(), 0.0)
                return
            try:
                made = self.ledger.reserve(
                    drain=task.drain,
                    workspace=self.workspace,
                    scope_key=task.qualname,
                    content_hash=task.key,
                    model=task.model,
                    tier=task.tier,
                    input_estimate=task.input_estimate(),
                    max_tokens=task.max_tokens,
                    limits=self.limits,
                    price=self.price,
                    primary_use=self.primary_use(),
                    pool=self.pool,
                )
            except LedgerError as exc:
                self.stopped = f"ledger unavailable: {exc}"
                logger.error("%s", self.stopped)
                self._ended(task, "no ledger", Usage(), 0.0)
                return
            if isinstance(made, Refusal):
                self.blocked = f"over budget: {made}"
                self.queue.setdefault(task.slot, task)
                self._defer(task, str(made))
                logger.info("drains stopped: %s", self.blocked)
                self._ended(task, "over budget", Usage(), 0.0)
                return
            reservation = made
        try:
            response = await self.backend.complete(task.request(), progress)
        except asyncio.CancelledError:
            usage = progress.usage()
            cost = self._settle(reservation, usage, "cancelled", wasted=usage.total)
            self.status.cancelled += 1
            self._ended(task, "cancelled", usage, cost)
            raise
        except BackendError as exc:
            cost = self._settle(reservation, exc.usage, "failed")
            self.status.failed += 1
            retried = self._failure(task, exc)
            outcome = "retry" if retried else ("deferred" if retried is None else "failed")
            self._ended(task, f"{outcome} ({exc.kind})", exc.usage, cost)
            return
        except Exception:
            cost = self._settle(reservation, progress.usage(), "failed")
            self.status.failed += 1
            logger.exception("drain %s failed", task.drain)
            self._ended(task, "failed", progress.usage(), cost)
            return
        cost = self._settle(reservation, response.usage, "done")
        self.backoff = 1.0
        text = None if response.truncated else validate(task.drain, response.text)
        if self.free:
            self._record_free(task, "done" if text is not None else "failed")
        self._undefer(task)
        if text is None:
            self.status.failed += 1
            self.rejected_keys.add(task.key)
            logger.info("drain %s on %s: answer rejected", task.drain, task.qualname)
            self._ended(task, "rejected", response.usage, cost)
            return
        self.status.completed += 1
        if self.ledger is not None and not self.free:
            self.ledger.store_result(
                task.key,
                drain=task.drain,
                model=response.model,
                content_hash=task.key,
                value={"text": text, "model": response.model},
                tokens=response.usage.total,
                cost=cost,
            )
        self._deliver(task, text, response.model, response.usage.total, cost)
        self._ended(task, "done", response.usage, cost)

    def _settle(
        self, reservation: Reservation | None, usage: Usage, status: str, wasted: int = 0
    ) -> float:
        self.status.consumed_tokens += usage.total
        if status == "cancelled":
            self.status.wasted_tokens += wasted
        cost = cost_usd(usage, self.price)
        self.status.cost_usd += cost
        if reservation is None or self.ledger is None:
            return cost
        try:
            return self.ledger.settle(reservation.run_id, usage, status, self.price, wasted)
        except LedgerError as exc:
            logger.error("cannot settle run %s: %s", reservation.run_id, exc)
            return cost

    def _ended(self, task: Task, outcome: str, usage: Usage, cost: float) -> None:
        if self.on_end is not None:
            self.on_end(task, outcome, usage, cost)

    def _failure(self, task: Task, error: BackendError) -> bool | None:
        """React to a failed request: True when the task is queued again, None when it was
        deferred (too many attempts), False when it is dropped."""
        now = self.clock()
        if error.kind == "spend_limit":
            self.stopped = "spend limit reached: drains stop for today"
        elif error.kind == "rate_limited":
            wait = error.retry_after
            if wait is None:
                wait = self.backend.rate_limits.seconds_to_reset()
            self.paused_until = now + (wait if wait is not None else 30.0)
            self.status.reason = f"rate-limited until +{self.paused_until - now:.0f}s"
        elif error.kind in ("overloaded", "server", "midstream", "connection", "timeout"):
            delay = error.retry_after if error.retry_after is not None else self.backoff
            self.backoff = min(self.backoff * 2, 60.0)
            self.paused_until = now + delay
        elif error.kind == "auth":
            self.stopped = "the API refused the credentials"
        logger.info("drain %s on %s failed: %s", task.drain, task.qualname, error.kind)
        if error.kind in ("request", "auth", "spend_limit"):
            return False
        attempts = self.attempts[task.key] = self.attempts.get(task.key, 0) + 1
        if self.max_attempts is not None and attempts >= self.max_attempts:
            self._defer(task, f"failed {attempts} times ({error.kind})")
            return None
        self.queue.setdefault(task.slot, task)  # try again after the pause
        return True

    def _defer(self, task: Task, reason: str) -> None:
        if self.ledger is None or not task.uri.startswith("file://"):
            return  # an unsaved buffer cannot be found again
        if task.scope_kind == "commits":
            return  # the commit watcher gathers the same commits again
        with contextlib.suppress(LedgerError):
            self.ledger.defer(
                drain=task.drain,
                workspace=self.workspace,
                scope_key=task.qualname,
                content_hash=task.key,
                estimated_tokens=task.input_estimate() + task.max_tokens,
                reason=reason,
                path=task_path(task),
                model=task.model,
                tier=task.tier,
            )

    def defer_queued(self, reason: str) -> int:
        """Keep every queued task in the deferred queue (a headless run out of budget)."""
        tasks = list(self.queue.values())
        for task in tasks:
            self._defer(task, reason)
        return len(tasks)

    def _undefer(self, task: Task) -> None:
        if self.ledger is None:
            return
        with contextlib.suppress(LedgerError):
            self.ledger.undefer(
                drain=task.drain,
                workspace=self.workspace,
                path=task_path(task),
                scope_key=task.qualname,
            )

    def _record_free(self, task: Task, status: str) -> None:
        if self.ledger is None:
            return
        with contextlib.suppress(LedgerError):
            self.ledger.record_free(
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
        self.on_result(result)

    def _publish(self) -> None:
        status = self.status
        status.pending = len(self.queue)
        status.running = len(self.running)
        now = self.clock()
        if self.stopped:
            status.state, status.reason = (
                "over-budget" if "budget" in self.stopped else "disabled",
                self.stopped,
            )
        elif self.blocked:
            status.state, status.reason = "over-budget", self.blocked
        elif self.user_paused:
            status.state, status.reason = "paused", "paused by the user"
        elif self.paused_until > now:
            status.state = "rate-limited"
        elif self.running:
            status.state, status.reason = "running", ""
        elif self.queue and now - self.last_activity < self.idle_delay:
            status.state, status.reason = "paused", "editing"
        else:
            status.state, status.reason = "idle", ""
        if self.stopped and "spend limit" in self.stopped:
            status.state = "rate-limited"
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
                self.on_status()


def task_path(task: Task) -> str:
    """The file of a task, symlinks resolved (its URI when it is not a file)."""
    if task.uri.startswith("file://"):
        from pygls.uris import to_fs_path

        path = to_fs_path(task.uri)
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
