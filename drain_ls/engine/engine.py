"""``DrainEngine``: the drains of one workspace, for any front end.

It owns what the language server and ``drain-ls run`` share: the settings in force for the
drains, the ledger, the backend and the scheduler, the built-in and custom drains, the
commit review, the deferred queue, Message Batches, the shared pool and the budget source
(Claude Code's session or a fixed window). It knows nothing of LSP: its front end (a
``Host``) tells it which files are open and is told what happened (a result, a review, a
change of state), and asks the user through a ``Prompter``. ``drain_ls.lsp.server`` adapts it to
the editor; ``drain_ls.cli.headless`` runs it over files from the command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import sqlite3
import threading
from collections.abc import Coroutine, Generator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from drain_ls.analysis.model import Finding
from drain_ls.backends.base import Backend, Progress
from drain_ls.budget import Limits, Usage, price_of, price_overrides
from drain_ls.claude_code import CONTEXT_WINDOW, latest_session
from drain_ls.commits import CommitBatch
from drain_ls.config import Settings, WorkspaceTrust
from drain_ls.engine.choices import (
    BackendChoice,
    Prompter,
    ask_consent,
    choose_backend,
    docstring_findings,
    editor_limits,
)
from drain_ls.engine.custom import CustomDrain
from drain_ls.engine.drains import BUILTIN, Task, concurrency, task_steps
from drain_ls.engine.file_tasks import read_python, scopes_of, tasks_for_file
from drain_ls.engine.review import (
    REVIEW,
    ReviewOptions,
    ReviewResult,
    gather,
    read_result,
    review_tasks,
)
from drain_ls.engine.scheduler import Outcome, Result, Scheduler
from drain_ls.ledger import Ledger, LedgerError
from drain_ls.models import retiring_note
from drain_ls.privacy import ExclusionError, Exclusions

if TYPE_CHECKING:
    from drain_ls.engine.batching import Collected

logger = logging.getLogger("drain_ls")

# Seconds between two looks at Claude Code's transcript (``budget.source = "claude-code"``).
CLAUDE_CODE_POLL_SECONDS = 2.0


class Host(Prompter, Protocol):
    """What the engine needs of its front end."""

    def warn(self, message: str) -> None:
        """Tell the user (once per message is the engine's business)."""
        ...

    def run_task(self, coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``coroutine`` as a task the front end cancels when it stops."""
        ...

    def open_paths(self) -> set[str]:
        """The resolved paths of the files the user has open (their drains are the front
        end's to submit: the deferred queue leaves them out)."""
        ...

    def resubmit(self) -> None:
        """Submit the drains of every open file again (the scheduler changed, or answers
        arrived in the results cache)."""
        ...

    def status_changed(self) -> None:
        """The drains' state changed (``DrainEngine.status``)."""
        ...

    def file_result(self, result: Result) -> None:
        """A drain's answer (a review's too, once the engine has read it)."""
        ...

    def admit(self, tasks: list[Task]) -> list[Task]:
        """Which of ``tasks`` (of the review, or deferred) go to the scheduler."""
        ...

    def reviews_changed(self) -> None:
        """A commit review has new findings (``DrainEngine.reviews``)."""
        ...


class DrainEngine:
    """The drains of one workspace (``root``), as the settings say."""

    def __init__(self, host: Host) -> None:
        """An engine with the drains off until ``configure``."""
        self.host = host
        self.settings = Settings()
        self.trust = WorkspaceTrust()
        self.custom_drains: list[CustomDrain] = []
        self.root: Path | None = None
        self.folders: list[str] = []  # every workspace folder (exclusions are relative to them)
        self.generation = 0  # of the settings: cached exclusions are rebuilt when it moves
        self.scheduler: Scheduler | None = None
        self.ledger: Ledger | None = None
        self.model = "offline"  # the model of the scheduler's backend
        self.cache_id = ""  # and what else keys its results (``BackendChoice.cache_id``)
        self.off_reason: str | None = None  # why drains are off, when not llm.enabled
        self.batched: set[str] = set()  # task keys waiting in open Message Batches
        self.reviews: dict[str, ReviewResult] = {}
        self._review_batches: dict[str, CommitBatch] = {}
        self._config: tuple[object, ...] | None = None
        self._warned_once: set[str] = set()
        self._sdk_warm = False
        self._watchers: list[asyncio.Task[Any]] = []
        self._claude_used: int | None = None
        self._exclusions: tuple[object, Exclusions | None] | None = None
        # Told when a drain starts and ends (the editor's progress bars).
        self.on_start: Any = None
        self.on_end: Any = None
        # Called on the loop once the SDK is warm (the server freezes what start-up made).
        self.freeze_heap: Any = None

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
            llm.batchPollSeconds,
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
            ReviewOptions.from_settings(settings.drains).enabled
            or any(d.scope == "commits" for d in self.custom_drains)
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
            idle_delay=settings.idle.delayMs / 1000 if idle_delay is None else idle_delay,
            concurrency=concurrency(settings.drains),
            cancel_policy=settings.cancel.policy,
            ratelimit_reserve=settings.budget.ratelimitReserve,
            pool=settings.budget.pool,
            max_attempts=max_attempts,
        )
        self.scheduler.on_start = self._started
        self.scheduler.on_end = self._ended
        self.model = choice.model
        self.cache_id = choice.cache_id
        if choice.name == "openai":
            self._serve_openai(self.scheduler, choice)
        return self.scheduler

    def _serve_openai(self, scheduler: Scheduler, choice: BackendChoice) -> None:
        """A model server of the user's (``openai``): nothing is sent until it answers (and
        has the model); no request larger than its context window is sent; a local one runs
        one drain at a time unless ``drains.concurrency`` says otherwise, so the user's own
        chat with it is not kept waiting."""
        if choice.local and "concurrency" not in self.settings.drains:
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
        choice = choose_backend(self.settings)
        answer = await ask_consent(
            self.ledger,
            str(root) if root else "(no workspace)",
            self.settings,
            dataclasses.replace(choice, model=self.model),
            self.trust,
            self.host,
        )
        return answer.allowed

    # -- tasks --------------------------------------------------------------------------------

    def document_steps(
        self,
        uri: str,
        source: bytes,
        root: Any,
        version: int | None,
        findings: list[Finding],
        model: str | None = None,
    ) -> Generator[None, None, list[Task]]:
        """The steps that build the drain tasks of one version of a file (``task_steps``)."""
        settings = self.settings
        return task_steps(
            uri,
            source,
            root,
            version,
            docstring_findings(findings),
            model=model or self.model,
            max_tokens_per_drain=settings.budget.maxTokensPerDrain,
            drains=settings.drains,
            style=settings.docstringStyle,
            redact_secrets=settings.privacy.redactSecrets,
            custom=self.custom_drains,
            lookup=self.result_text,
            backend=self.cache_id,
        )

    def document_tasks(
        self,
        uri: str,
        source: bytes,
        root: Any,
        version: int | None,
        findings: list[Finding],
        model: str | None = None,
    ) -> list[Task]:
        """The drain tasks of one version of a file, built at once."""
        steps = self.document_steps(uri, source, root, version, findings, model)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return cast("list[Task]", done.value)

    def result_text(self, key: str) -> str | None:
        """A drain's answer by its task key: from this session, else the results cache."""
        scheduler = self.scheduler
        if scheduler is not None and key in scheduler.done_keys:
            return scheduler.done_keys[key].text
        if self.ledger is not None:
            with contextlib.suppress(LedgerError):
                cached = self.ledger.result(key)
                if cached is not None:
                    return str(cached["text"])
        return None

    def custom_drain(self, name: str) -> CustomDrain | None:
        """The workspace's custom drain called ``name``."""
        return next((d for d in self.custom_drains if d.name == name), None)

    def excluded(self, path: str | None) -> str | None:
        """Why the content of the file at ``path`` may not be sent (None: it may; a path of
        None is not a file)."""
        if self.scheduler is not None and self.scheduler.free:
            return None  # the offline backend sends nothing anywhere
        key = (self.generation, self.settings.privacy.exclude)
        if self._exclusions is None or self._exclusions[0] != key:
            roots = [Path(p) for p in self.folders]
            try:
                self._exclusions = (key, Exclusions(roots, self.settings.privacy.exclude))
            except ExclusionError as exc:
                self._exclusions = (key, None)
                self.host.warn(f"{exc}: nothing will be sent until it is fixed")
        exclusions = self._exclusions[1]
        if exclusions is None:
            return "invalid privacy.exclude"
        if path is None:
            return "not a file"
        return exclusions.why_excluded(Path(path))

    # -- results ------------------------------------------------------------------------------

    def on_result(self, result: Result) -> None:
        """A drain's answer: a review's findings or a report entry, then the front end's."""
        custom = self.custom_drain(result.drain)
        if result.scope_kind == "commits":
            self._on_review(result)
        elif custom is not None and custom.output == "report":
            self.add_entry(result, result.path)
        self.host.file_result(result)

    def add_entry(self, result: Result, path: str) -> None:
        """A report entry (``drain.report``, ``drain-ls report``) in the ledger."""
        if self.ledger is None:
            return
        root = self.root
        with contextlib.suppress(LedgerError):
            self.ledger.add_entry(
                workspace=str(root) if root else "",
                drain=result.drain,
                path=path,
                scope_key=result.qualname,
                text=result.text,
                model=result.model,
            )

    def dismiss(self, result: Result) -> bool:
        """``drain.dismiss``: this answer never comes back, and its drain loses priority."""
        if self.ledger is None:
            try:
                self.ledger = Ledger()
            except LedgerError as exc:
                self.host.warn(f"cannot remember the dismissal: {exc}")
                return False
        self.ledger.dismiss(result.key, result.drain)
        if self.scheduler is not None:
            self.scheduler.dismiss_rates = self.ledger.dismiss_rates()
            self.scheduler.done_keys.pop(result.key, None)
        return True

    # -- the commit review --------------------------------------------------------------------

    async def _watch_commits(self, root: Path) -> None:
        """Look for new commits now and then; their review runs at the next idle time."""
        while True:
            with contextlib.suppress(Exception):
                await self.check_commits(root)
            await asyncio.sleep(ReviewOptions.from_settings(self.settings.drains).poll_seconds)

    async def check_commits(self, root: Path) -> int:
        """Queue the review of the commits made since the last one; how many tasks."""
        scheduler = self.scheduler
        batch = await asyncio.to_thread(self.review_batch, root)
        if batch is None or scheduler is None or scheduler is not self.scheduler:
            return 0
        return self.submit_review(scheduler, root, batch)

    def review_batch(self, root: Path) -> CommitBatch | None:
        """The commits since the last review, read and redacted (None: nothing to review,
        or the drains or their exclusions are off). A batch of only excluded or skipped
        files is marked reviewed at once."""
        ledger = self.ledger
        if ledger is None:
            return None
        try:
            exclusions = Exclusions([root], self.settings.privacy.exclude)
        except ExclusionError:
            return None  # nothing is sent until the pattern is fixed (warned elsewhere)
        workspace = str(root)
        batch = gather(
            root,
            ledger.last_review(workspace),
            ReviewOptions.from_settings(self.settings.drains),
            exclusions.why_excluded,
            self.settings.privacy.redactSecrets,
        )
        if batch is not None and batch.empty:
            ledger.reviewed(workspace, batch.last)
            return None
        if batch is not None:
            self._review_batches[batch.last] = batch
        return batch

    def review_tasks(self, batch: CommitBatch) -> list[Task]:
        """The review tasks of ``batch`` whose inputs exist (a drain that runs after
        another waits for its answer)."""
        return review_tasks(
            batch,
            drains=self.settings.drains,
            custom=self.custom_drains,
            model=self.model,
            max_tokens_per_drain=self.settings.budget.maxTokensPerDrain,
            lookup=self.result_text,
            backend=self.cache_id,
        )

    def submit_review(self, scheduler: Scheduler, root: Path, batch: CommitBatch) -> int:
        """The review tasks of ``batch``, to the scheduler; how many."""
        tasks = self.review_tasks(batch)
        self.submit(scheduler, root.as_uri(), tasks)
        return len(tasks)

    def submit(self, scheduler: Scheduler, uri: str, tasks: list[Task]) -> None:
        """Hand the tasks the front end admits (``Host.admit``) to the scheduler."""
        tasks = self.host.admit(tasks)
        if tasks:
            scheduler.submit(uri, tasks)

    def _on_review(self, result: Result) -> None:
        """A review's answer: a report entry, findings the front end shows where their lines
        still are, and the drains that run after it."""
        last = result.qualname.rsplit("..", 1)[-1]
        batch = next((b for key, b in self._review_batches.items() if key.startswith(last)), None)
        root = self.root
        if batch is None or root is None:
            return
        self.reviews[result.drain] = read_result(result.drain, batch, result.text)
        self.add_entry(result, str(root))
        if self.ledger is not None:
            with contextlib.suppress(LedgerError):
                review_on = ReviewOptions.from_settings(self.settings.drains).enabled
                if result.drain == REVIEW or not review_on:
                    self.ledger.reviewed(str(root), batch.last)
        logger.info(
            "%s of %d commit(s): %d finding(s)",
            result.drain,
            len(batch.commits),
            len(self.reviews[result.drain].findings),
        )
        self.host.reviews_changed()
        scheduler = self.scheduler
        if scheduler is not None and any(
            d.after == result.drain and d.scope == "commits" for d in self.custom_drains
        ):
            # The drains that run after this one on the same commits may start now.
            self.submit_review(scheduler, root, batch)

    # -- deferred work and Message Batches ----------------------------------------------------

    async def collect_batches(self, client: Any) -> Collected:
        """The answers of every open Message Batch, into the results cache and the ledger:
        every workspace's, in the editor and in ``drain-ls run`` alike (what a batch cost
        counts against today's caps whichever workspace sent it, and its answers serve any
        file with the same code)."""
        from drain_ls.engine import batching

        scheduler, ledger = self.scheduler, self.ledger
        assert scheduler is not None and ledger is not None
        prices = price_overrides(self.settings.llm.prices)
        collected = await batching.collect(
            client, ledger, scheduler.price, price_for=partial(price_of, overrides=prices)
        )
        self.batched = ledger.batched_hashes()
        return collected

    async def send_batch(self, client: Any, tasks: list[Task]) -> Any:
        """``tasks`` as one Message Batch, reserved in the ledger (``batching.send``)."""
        from drain_ls.engine import batching

        scheduler, ledger = self.scheduler, self.ledger
        assert scheduler is not None and ledger is not None
        root = self.root
        return await batching.send(
            client,
            ledger,
            tasks,
            workspace=str(root) if root else "",
            limits=scheduler.limits,
            price=scheduler.price,
            pool=scheduler.pool,
            primary_use=scheduler.primary_use(),
        )

    async def _batches(self) -> None:
        """``llm.batch``: collect the open Message Batches, send the deferred tasks of closed
        files as a new one, and poll again later."""
        from drain_ls.backends.batches import BatchClient

        client = BatchClient()
        try:
            while True:
                scheduler, ledger, root = self.scheduler, self.ledger, self.root
                if scheduler is None or ledger is None or root is None:
                    return
                try:
                    if (await self.collect_batches(client)).batches:
                        self.host.resubmit()  # answers now in the results cache
                    held = scheduler.stopped or scheduler.blocked or scheduler.user_paused
                    tasks = [] if held else self.deferred_tasks()
                    if (
                        tasks
                        and not ledger.open_batches(str(root))
                        and await scheduler.ask_consent()
                        and scheduler is self.scheduler
                    ):
                        # Reserved but not yet marked in the ledger while the batch is sent:
                        # an editor that opens one of these files meanwhile must not stream it.
                        self.batched |= {t.key for t in tasks}
                        await self.send_batch(client, tasks)
                    self.batched = ledger.batched_hashes()
                except LedgerError as exc:
                    logger.error("Message Batches: %s", exc)
                except Exception:  # the loop must go on (and never take the server down)
                    logger.exception("Message Batches: unexpected error")
                await asyncio.sleep(self.settings.llm.batchPollSeconds)
        finally:
            await client.close()

    def deferred_tasks(self) -> list[Task]:
        """The deferred tasks of this workspace whose files are not open, rebuilt from the
        files as they are now (never from stored code). Rows whose file or definition is
        gone leave the queue."""
        ledger, root = self.ledger, self.root
        if ledger is None or root is None:
            return []
        try:
            rows = ledger.deferred(str(root))
            in_flight = ledger.batched_hashes()
        except LedgerError:
            return []
        open_paths = self.host.open_paths()
        wanted: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            path = str(row["path"])
            if not path or not Path(path).is_absolute():
                self._forget_deferred(ledger, row)  # not a file: it can never run
            elif path not in open_paths:
                wanted.setdefault(path, []).append(row)
        out: list[Task] = []
        for path, file_rows in wanted.items():
            file = Path(path)
            if self.excluded(path) is not None:
                continue
            source = read_python(file)
            if source is None:
                for row in file_rows:
                    self._forget_deferred(ledger, row)  # deleted, unreadable or binary now
                continue
            tasks = tasks_for_file(
                file,
                self.settings,
                self.model,
                self.custom_drains,
                self.result_text,
                source,
                self.cache_id,
            )
            slots = {(t.drain, t.qualname) for t in tasks}
            deferred = {(r["drain"], r["scope_key"]) for r in file_rows}
            unbuilt = [r for r in file_rows if (r["drain"], r["scope_key"]) not in slots]
            scopes = scopes_of(source) if unbuilt else set()  # a second parse, only if needed
            for row in unbuilt:
                if row["scope_key"] not in scopes or self._drain_gone(row["drain"]):
                    self._forget_deferred(ledger, row)  # the definition or drain is gone
            out.extend(
                t for t in tasks if (t.drain, t.qualname) in deferred and t.key not in in_flight
            )
        return out

    def _drain_gone(self, drain: str) -> bool:
        return drain not in BUILTIN and self.custom_drain(drain) is None

    @staticmethod
    def _forget_deferred(ledger: Ledger, row: dict[str, Any]) -> None:
        with contextlib.suppress(LedgerError):
            ledger.undefer(
                drain=str(row["drain"]),
                workspace=str(row["workspace"]),
                path=str(row["path"]),
                scope_key=str(row["scope_key"]),
            )

    def submit_deferred(self) -> int:
        """The deferred tasks of this workspace whose files are not open: they run at idle
        time after the open documents' work, and their results land in the results cache."""
        scheduler = self.scheduler
        if scheduler is None:
            return 0
        by_uri: dict[str, list[Task]] = {}
        for task in self.deferred_tasks():
            task.priority = -3.0  # after everything the user has open
            by_uri.setdefault(task.uri, []).append(task)
        for uri, tasks in by_uri.items():
            self.submit(scheduler, uri, tasks)
        count = sum(len(t) for t in by_uri.values())
        if count:
            logger.info("%d deferred drain task(s) queued for idle time", count)
        return count

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
