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

The ``Scheduler`` is one class, assembled from these modules:

- ``outcomes``: ``DrainState``, ``Outcome``, ``Result``, ``SchedulerState``;
- ``scheduler_core``: its state, its errors and the status it publishes;
- ``scheduler_ledger``: the ledger's thread, its waits, reservations and settlements, the
  deferred queue;
- ``scheduler_runs``: one run of a task, and the reaction to a failed request;
- here: its life, the events from the editor and the dispatch loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import partial

from drain_ls.backends.base import Progress
from drain_ls.engine.drains import Task
from drain_ls.engine.outcomes import DrainState, Outcome, Result, SchedulerState, age, task_path
from drain_ls.engine.scheduler_core import (
    BACKEND_RETRY_MAX,
    BACKEND_RETRY_MIN,
    LEDGER_RETRY_FIRST,
    _Running,
    describe,
)
from drain_ls.engine.scheduler_runs import SchedulerRuns
from drain_ls.ledger import LedgerError

__all__ = [
    "DrainState",
    "Outcome",
    "Result",
    "Scheduler",
    "SchedulerState",
    "age",
    "describe",
    "task_path",
]

logger = logging.getLogger("drain_ls")


class Scheduler(SchedulerRuns):
    """Owns the queue and the running drain tasks of one server."""

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
