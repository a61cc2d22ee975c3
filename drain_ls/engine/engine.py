"""``DrainEngine``: the drains of one workspace, for any front end.

It owns what the language server and ``drain-ls run`` share: the settings in force for the
drains, the ledger, the backend and the scheduler, the built-in and custom drains, the
commit review, the deferred queue, Message Batches, the shared pool and the budget source
(Claude Code's session or a fixed window). It knows nothing of LSP: its front end (a
``Host``) tells it which files are open and is told what happened (a result, a review, a
change of state), and asks the user through a ``Prompter``. ``drain_ls.lsp.server`` adapts it to
the editor; ``drain_ls.cli.headless`` runs it over files from the command line.

``DrainEngine`` is one class, assembled from these modules:

- ``host``: ``Host``, what the engine needs of its front end;
- ``engine_core``: its state, the tasks of a file, results by key, the exclusions;
- ``engine_review``: the commit review;
- ``engine_deferred``: the deferred queue and Message Batches;
- here: the configuration (backend, scheduler, watchers), results, the budget source and
  the state.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from drain_ls.backends.base import Backend, Progress
from drain_ls.budget import Limits, Usage
from drain_ls.claude_code import CONTEXT_WINDOW, latest_session
from drain_ls.config import Settings, WorkspaceTrust
from drain_ls.engine.choices import BackendChoice, ask_consent, choose_backend, editor_limits
from drain_ls.engine.custom import CustomDrain
from drain_ls.engine.drains import Task
from drain_ls.engine.engine_deferred import DeferredMixin
from drain_ls.engine.engine_review import ReviewMixin
from drain_ls.engine.host import Host
from drain_ls.engine.outcomes import Outcome, Result
from drain_ls.engine.scheduler import Scheduler
from drain_ls.ledger import Ledger, LedgerError
from drain_ls.models import retiring_note

__all__ = ["CLAUDE_CODE_POLL_SECONDS", "DrainEngine", "Host"]

logger = logging.getLogger("drain_ls")

# Seconds between two looks at Claude Code's transcript (``budget.source = "claude-code"``).
CLAUDE_CODE_POLL_SECONDS = 2.0


class DrainEngine(ReviewMixin, DeferredMixin):
    """The drains of one workspace (``root``), as the settings say."""

    # -- configuration ------------------------------------------------------------------------

    def configure(
        self,
        settings: Settings,
        custom: list[CustomDrain],
        trust: WorkspaceTrust,
        root: Path | None,
        folders: list[str],
        generation: int,
    ) -> None:
        """Start, restart or stop the drains to match the settings."""
        self.settings, self.custom_drains, self.trust = settings, custom, trust
        self.root, self.folders, self.generation = root, folders, generation
        llm, budget = settings.llm, settings.budget
        config = (
            llm.enabled,
            llm.backend,
            llm.model,
            llm.batch,
            llm.batch_poll_seconds,
            repr(llm.prices),
            budget,
            settings.idle,
            settings.cancel,
            repr(settings.drains),
        )
        if config == self._config:
            return
        self._config = config
        self.off_reason = None
        if not llm.enabled and "llm.enabled" in trust.ignored:
            self.off_reason = (
                "llm.enabled is false (a workspace's pyproject.toml cannot turn drains on: "
                "use your own settings)"
            )
        elif not llm.enabled and trust.turned_off:
            self.off_reason = "this workspace's pyproject.toml turns drains off"
        old, self.scheduler = self.scheduler, None
        if old is not None:
            self.host.run_task(old.close(), "close drains")
        for watcher in self._watchers:
            watcher.cancel()
        self._watchers = []
        if not llm.enabled:
            if old is not None:
                self.host.status_changed()  # now "disabled"
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # not serving (a unit test): nothing to schedule
        choice = choose_backend(settings)
        if choice.warning is not None:
            self.host.warn(choice.warning)
        if choice.refused is not None or choice.price is None:
            self.off_reason = choice.refused
            self.host.warn(f"drains are off: {self.off_reason}")
            self.host.status_changed()
            return
        backend = choice.make()
        if choice.name == "anthropic":
            self._warm_up(choice.model)
        if self.ledger is None:
            # Opened on its own thread when the drains start, and tried again after a
            # failure (a lock another process holds): initialize never waits for it; the
            # drains wait instead, and drain/status says why.
            self.ledger = Ledger(lazy=True)
        window = CONTEXT_WINDOW if budget.source == "claude-code" else None
        retiring = retiring_note(choice.model)
        if retiring is not None and retiring not in self._warned_once:
            self._warned_once.add(retiring)
            self.host.warn(retiring)
        scheduler = self.make_scheduler(backend, editor_limits(settings, window), choice)
        scheduler.on_status = self.host.status_changed
        scheduler.consent = self.consent
        root = self.root
        if budget.source == "claude-code":
            scheduler.primary_use = self._claude_code_use
            if root is not None:
                self._watch(self._watch_claude_code(root), "claude-code")
        scheduler.start()
        self.host.resubmit()
        if not choice.free and llm.batch:
            self._watch(self._batches(), "message batches")
        elif not choice.free:
            try:
                self.submit_deferred()
            except Exception:  # a bad row must never break initialize
                logger.exception("cannot queue the deferred tasks")
        if root is not None and (
            settings.drains.review.enabled or any(d.scope == "commits" for d in self.custom_drains)
        ):
            self._watch(self._watch_commits(root), "commit review")
        logger.info("drains on: backend %s, model %s", backend.name, choice.model)

    def make_scheduler(
        self,
        backend: Backend,
        limits: Limits,
        choice: BackendChoice,
        *,
        idle_delay: float | None = None,
        max_attempts: int | None = None,
    ) -> Scheduler:
        """The scheduler of this engine's drains (``self.scheduler``)."""
        assert choice.price is not None and self.ledger is not None
        settings = self.settings
        self.scheduler = Scheduler(
            backend,
            self.ledger,
            limits,
            choice.price,
            self.on_result,
            workspace=str(self.root) if self.root else "",
            idle_delay=settings.idle.delay_ms / 1000 if idle_delay is None else idle_delay,
            concurrency=settings.drains.streams,
            cancel_policy=settings.cancel.policy,
            ratelimit_reserve=settings.budget.ratelimit_reserve,
            pool=settings.budget.pool,
            max_attempts=max_attempts,
        )
        self.scheduler.on_start = self._started
        self.scheduler.on_end = self._ended
        self.choice, self.model, self.cache_id = choice, choice.model, choice.cache_id
        if choice.name == "openai":
            self._serve_openai(self.scheduler, choice)
        return self.scheduler

    def _serve_openai(self, scheduler: Scheduler, choice: BackendChoice) -> None:
        """A model server of the user's (``openai``): nothing is sent until it answers (and
        has the model); no request larger than its context window is sent; a local one runs
        one drain at a time unless ``drains.concurrency`` says otherwise, so the user's own
        chat with it is not kept waiting."""
        if choice.local and self.settings.drains.concurrency is None:
            scheduler.concurrency = 1

        async def check() -> str | None:
            from drain_ls.backends.endpoints import probe

            found = await probe(choice.base_url, choice.model, choice.key_env or None, choice.local)
            if found.reason is None:
                told = found.context.tokens if found.context is not None else None
                scheduler.max_context = choice.context_window or told or None
            return found.reason

        scheduler.check_backend = check

    def _warm_up(self, model: str) -> None:
        """Stream one canned answer through the SDK on a thread, once: the first real
        stream would build its validators in one 45 ms step, in front of a keystroke."""
        if self._sdk_warm:
            return
        self._sdk_warm = True
        from drain_ls.backends.anthropic import warm_up

        loop = asyncio.get_running_loop()
        freeze = self.freeze_heap

        def warm() -> None:
            warm_up(model)
            if freeze is not None:
                loop.call_soon_threadsafe(freeze)

        threading.Thread(target=warm, name="SDK warm-up", daemon=True).start()

    def _watch(self, coroutine: Coroutine[Any, Any, Any], name: str) -> None:
        self._watchers.append(self.host.run_task(coroutine, name))

    def _started(self, task: Task, progress: Progress, job: asyncio.Task[None]) -> None:
        if self.on_start is not None:
            self.on_start(task, progress, job)

    def _ended(self, task: Task, outcome: Outcome, usage: Usage, cost: float, detail: str) -> None:
        if self.on_end is not None:
            self.on_end(task, outcome, usage, cost, detail)

    async def consent(self) -> bool | None:
        """May code of this workspace be sent? (``choices.ask_consent``.)"""
        root = self.root
        choice = self.choice or choose_backend(self.settings)  # the scheduler's, once made
        answer = await ask_consent(
            self.ledger,
            str(root) if root else "(no workspace)",
            self.settings,
            dataclasses.replace(choice, model=self.model),
            self.trust,
            self.host,
        )
        return answer.allowed

    # -- results ------------------------------------------------------------------------------

    def on_result(self, result: Result) -> None:
        """A drain's answer: a review's findings or a report entry, then the front end's."""
        custom = self.custom_drain(result.drain)
        if result.scope_kind == "commits":
            self._on_review(result)
        elif custom is not None and custom.output == "report":
            self.add_entry(result, result.path)
        self.host.file_result(result)

    # -- the budget source --------------------------------------------------------------------

    async def _watch_claude_code(self, root: Path) -> None:
        """The foreground session's context changes as the user works with Claude Code: when
        it does, the drains' budget changes, so a refusal is tried again and the status
        (``budgetTokens``) is sent again."""
        last: int | None = None
        while True:
            use = await asyncio.to_thread(latest_session, root)
            used = use.used_tokens if use is not None else 0
            self._claude_used = used
            scheduler = self.scheduler
            window = use.window if use is not None else CONTEXT_WINDOW
            if scheduler is not None and scheduler.limits.session_tokens != window:
                # The session's model decides its window (the catalogue's figure).
                logger.info(
                    "Claude Code's model %s: a window of %d tokens", use and use.model, window
                )
                scheduler.limits = dataclasses.replace(scheduler.limits, session_tokens=window)
                scheduler.unblock()
                self.host.status_changed()
            if used != last and scheduler is not None:
                if last is not None:
                    logger.info("Claude Code's context: %d tokens", used)
                    scheduler.unblock()
                last = used
                self.host.status_changed()
            await asyncio.sleep(CLAUDE_CODE_POLL_SECONDS)

    def _claude_code_use(self) -> int:
        """Context the latest Claude Code session of this workspace uses (0 if none): what
        the watcher read last (reading a transcript can take a while: never on each call)."""
        if self._claude_used is not None:
            return self._claude_used
        root = self.root
        use = latest_session(root) if root is not None else None
        return use.used_tokens if use is not None else 0

    # -- state --------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The drains' state: the fields of ``drain/status``."""
        scheduler = self.scheduler
        if scheduler is None:
            return {
                "state": "disabled",
                "reason": self.off_reason or "llm.enabled is false",
                "pending": 0,
                "running": 0,
                "consumedTokens": 0,
                "budgetTokens": 0,
                "costUsd": 0.0,
            }
        scheduler._publish()
        s = scheduler.status
        return {
            "state": s.state,
            "reason": s.reason,
            "pending": s.pending,
            "running": s.running,
            "consumedTokens": s.consumed_tokens,
            "budgetTokens": scheduler.limits.drain_budget(scheduler.primary_use()),
            "costUsd": round(s.cost_usd, 6),
            "costTodayUsd": self._cost_today(),
            "wastedTokens": s.wasted_tokens,
            "completed": s.completed,
            "cancelled": s.cancelled,
            "failed": s.failed,
            "cacheHits": s.cache_hits,
            "backend": scheduler.backend.name,
            # Answers whose usage the server did not send: estimated (the openai backend).
            "usageEstimated": int(getattr(scheduler.backend, "usage_estimated", 0)),
        }

    def _cost_today(self) -> float:
        """Today's spend in USD across sessions (settled and reserved), from the ledger."""
        if self.ledger is None:
            return 0.0
        try:
            return round(self.ledger.spend().daily_usd, 6)
        except (LedgerError, sqlite3.Error):
            return 0.0

    def report(self, days: int = 7) -> dict[str, Any]:
        """``drain.report``: the ledger's report (empty when nothing was ever sent)."""
        from drain_ls.report import report

        ledger = self.ledger
        if ledger is None:
            try:
                ledger = self.ledger = Ledger()
            except LedgerError as exc:
                return {"error": str(exc)}
        scheduler = self.scheduler
        root = self.root
        return report(
            ledger,
            days,
            scheduler.limits if scheduler is not None else None,
            workspace=str(root) if root is not None else None,
        )

    async def close(self, session_end: bool = False) -> None:
        """Stop the watchers and the scheduler (``session_end``: the user's session is over,
        as at the editor's shutdown)."""
        for watcher in self._watchers:
            watcher.cancel()
        self._watchers = []
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None:
            await scheduler.close(session_end=session_end)
