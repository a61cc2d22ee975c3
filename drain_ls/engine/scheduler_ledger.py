"""The drain scheduler and its ledger (``SchedulerLedger``): ledger work on the ledger's
own thread, the waits for a ledger another process locks (with backoff), a ledger file
deleted or replaced while in use, reservations and their settlement, and the deferred
queue. Nothing is ever sent without a reservation written first."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from functools import partial
from typing import Any, ParamSpec, TypeVar

from drain_ls.budget import Refusal, Usage, cost_usd
from drain_ls.engine.drains import Task
from drain_ls.engine.outcomes import task_path
from drain_ls.engine.scheduler_core import (
    LEDGER_RETRY_FIRST,
    LEDGER_RETRY_MAX,
    SchedulerCore,
    _Attempt,
)
from drain_ls.ledger import Ledger, LedgerError, Reservation

logger = logging.getLogger("drain_ls")

P = ParamSpec("P")
T = TypeVar("T")
# A run with a bounded number of attempts (``drain-ls run``) gives up after this many.
LEDGER_TRIES_BOUNDED = 5


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


class SchedulerLedger(SchedulerCore):
    """The scheduler's ledger work: waits, reservations, settlements, the deferred queue."""

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
        if future.cancelled() or (exc := future.exception()) is None:
            return
        if isinstance(exc, LedgerError) and exc.kind == "vanished":
            # The ledger was deleted under a write made after a run (a result stored): the
            # drains stop and it is recreated now, said once, as when a run meets it (it was
            # said twice, the write's error first, when the next run met it too).
            try:
                self._track(asyncio.ensure_future(self._ledger_failed(exc)))
            except RuntimeError:  # the loop is gone: the editor is closing
                self._log_error(what, exc, logging.INFO)
            return
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

    # -- reservations and their settlement --------------------------------------------------

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

    # -- the deferred queue -----------------------------------------------------------------

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
