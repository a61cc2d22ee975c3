"""One run of a drain task (``SchedulerRuns``): the results cache, the context window,
consent, the reservation, the request, its settlement and the answer delivered; a failed
request's reaction (retry, pause for a rate limit, defer, or stop the drains)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

from drain_ls.backends.base import BackendError, Progress
from drain_ls.budget import Refusal, Usage
from drain_ls.engine.drains import Task, sha, validate
from drain_ls.engine.outcomes import DrainState, Outcome, Result, task_path
from drain_ls.engine.scheduler_core import _Attempt
from drain_ls.engine.scheduler_ledger import SchedulerLedger
from drain_ls.ledger import LedgerError

logger = logging.getLogger("drain_ls")


class SchedulerRuns(SchedulerLedger):
    """The scheduler's runs: each task from the results cache or the backend, to its end."""

    # -- a run ------------------------------------------------------------------------------

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
                self._deliver(task, cached.text, cached.model or task.model, 0, 0.0, cached=True)
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

    def _ended(
        self, task: Task, outcome: Outcome, usage: Usage, cost: float, detail: str = ""
    ) -> None:
        """Tell ``on_end`` (``detail``: the error's kind, when one ended it)."""
        if self.on_end is not None:
            try:
                self.on_end(task, outcome, usage, cost, detail)
            except Exception as exc:
                self._log_error("the run-ended hook", exc)

    # -- failed requests --------------------------------------------------------------------

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
