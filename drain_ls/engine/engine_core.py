"""The state of ``DrainEngine`` (``EngineCore``): what ``__init__`` sets up, and what every
part of the engine uses: the tasks of a file, a result by its key, the custom drains, the
privacy exclusions, report entries and dismissals, and the hand-over of tasks to the
scheduler (``submit``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator
from pathlib import Path
from typing import Any

from drain_ls.analysis.model import Finding
from drain_ls.commits import CommitBatch
from drain_ls.config import Settings, WorkspaceTrust
from drain_ls.engine.choices import BackendChoice, docstring_findings
from drain_ls.engine.custom import CustomDrain
from drain_ls.engine.drains import Task
from drain_ls.engine.host import Host
from drain_ls.engine.outcomes import Result
from drain_ls.engine.review import ReviewResult
from drain_ls.engine.scheduler import Scheduler
from drain_ls.engine.task_building import build_tasks, task_steps
from drain_ls.ledger import Ledger, LedgerError
from drain_ls.privacy import ExclusionError, Exclusions


class EngineCore:
    """The drains of one workspace: the state and the tasks (``DrainEngine``)."""

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
        self.choice: BackendChoice | None = None  # the choice the scheduler was made for
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
        options = self._task_options(model)
        return task_steps(uri, source, root, version, docstring_findings(findings), **options)

    def document_tasks(
        self,
        uri: str,
        source: bytes,
        root: Any,
        version: int | None,
        findings: list[Finding],
        model: str | None = None,
    ) -> list[Task]:
        """The drain tasks of one version of a file, built at once (``build_tasks``)."""
        options = self._task_options(model)
        return build_tasks(uri, source, root, version, docstring_findings(findings), **options)

    def _task_options(self, model: str | None) -> dict[str, Any]:
        """What the settings say about building tasks, for ``model`` (default: the
        scheduler's)."""
        settings = self.settings
        return {
            "model": model or self.model,
            "max_tokens_per_drain": settings.budget.max_tokens_per_drain,
            "drains": settings.drains,
            "style": settings.docstring_style,
            "redact_secrets": settings.privacy.redact_secrets,
            "custom": self.custom_drains,
            "lookup": self.result_text,
            "backend": self.cache_id,
        }

    def result_text(self, key: str) -> str | None:
        """A drain's answer by its task key: from this session, else the results cache."""
        scheduler = self.scheduler
        if scheduler is not None and key in scheduler.done_keys:
            return scheduler.done_keys[key].text
        if self.ledger is not None:
            with contextlib.suppress(LedgerError):
                cached = self.ledger.result(key)
                if cached is not None:
                    return cached.text
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

    def submit(self, scheduler: Scheduler, uri: str, tasks: list[Task]) -> None:
        """Hand the tasks the front end admits (``Host.admit``) to the scheduler."""
        tasks = self.host.admit(tasks)
        if tasks:
            scheduler.submit(uri, tasks)

    # -- results ------------------------------------------------------------------------------

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
