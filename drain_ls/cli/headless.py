"""``drain-ls run PATH... [--budget TOKENS]``: the drains of files, from the command line.

The editor's drain engine (``drain_ls.engine``), with no idle wait: built-in
drains, the workspace's custom drains (in rounds, so that a drain that runs ``after``
another gets its results), and the deferred tasks of these files. What a cap or
``--budget`` stops is kept in the deferred queue for the next run or idle time. A progress
bar while it runs; a summary per drain at the end, whose rows add up to its totals.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drain_ls.backends.base import Backend
from drain_ls.budget import Limits, Price, Usage
from drain_ls.commits import CommitBatch
from drain_ls.config import Settings
from drain_ls.engine.choices import BackendChoice
from drain_ls.engine.custom import CustomDrain
from drain_ls.engine.drains import Task
from drain_ls.engine.engine import DrainEngine
from drain_ls.engine.file_tasks import read_python, tasks_for_file
from drain_ls.engine.scheduler import Outcome, Result
from drain_ls.ledger import Ledger

if TYPE_CHECKING:
    from drain_ls.backends.batches import BatchClient

# A request failing with a transient error is tried this many times, then deferred.
HEADLESS_ATTEMPTS = 3


@dataclass(slots=True)
class DrainTally:
    """One row of the summary."""

    tasks: int = 0
    done: int = 0
    cached: int = 0
    failed: int = 0
    deferred: int = 0
    batched: int = 0  # sent in a Message Batch: answered later
    input_tokens: int = 0
    output_tokens: int = 0
    cache_tokens: int = 0
    cost_usd: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """The row as JSON."""
        return {
            "tasks": self.tasks,
            "done": self.done,
            "cached": self.cached,
            "failed": self.failed,
            "deferred": self.deferred,
            "batched": self.batched,
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "cacheTokens": self.cache_tokens,
            "totalTokens": self.input_tokens + self.output_tokens + self.cache_tokens,
            "costUsd": round(self.cost_usd, 6),
        }


@dataclass(slots=True)
class RunSummary:
    """What a headless run did."""

    files: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    drains: dict[str, DrainTally] = field(default_factory=dict)
    stopped: str | None = None
    results: list[Result] = field(default_factory=list)
    batch_answers: int = 0  # answers of earlier Message Batches collected by this run

    def tally(self, drain: str) -> DrainTally:
        """The row of ``drain``."""
        return self.drains.setdefault(drain, DrainTally())

    def as_json(self) -> dict[str, Any]:
        """The summary as JSON: per drain and in total (the rows add up to the total)."""
        total = DrainTally()
        for row in self.drains.values():
            total.tasks += row.tasks
            total.done += row.done
            total.cached += row.cached
            total.failed += row.failed
            total.deferred += row.deferred
            total.batched += row.batched
            total.input_tokens += row.input_tokens
            total.output_tokens += row.output_tokens
            total.cache_tokens += row.cache_tokens
            total.cost_usd += row.cost_usd
        return {
            "files": self.files,
            "skipped": [{"file": f, "reason": r} for f, r in self.skipped],
            "drains": {name: row.as_json() for name, row in sorted(self.drains.items())},
            "total": total.as_json(),
            "stopped": self.stopped,
            "batchAnswersCollected": self.batch_answers,
        }


class HeadlessRun:
    """Runs the drains of a set of files to completion (or to the budget's end): the
    ``DrainEngine`` of the editor, fronted by the command line (no open files, no idle
    wait, rounds instead of editor events)."""

    def __init__(
        self,
        files: list[Path],
        settings: Settings,
        custom: Sequence[CustomDrain],
        backend: Backend,
        ledger: Ledger,
        limits: Limits,
        price: Price,
        model: str,
        workspace: str,
        on_progress: Callable[[int, int, str], None] | None = None,
        batch_client: BatchClient | None = None,
        choice: BackendChoice | None = None,
    ) -> None:
        """A run over ``files`` (already filtered by the exclusions); ``choice``: the
        settings' backend choice ``backend`` was made from (default: from its name)."""
        self.files = files
        self.settings = settings
        self.custom = list(custom)
        self.ledger = ledger
        self.model = model
        self.price = price
        self.summary = RunSummary(files=len(files))
        self.on_progress = on_progress
        self.seen: set[tuple[str, str]] = set()  # (key, uri): the same code in two files
        self.in_flight: set[str] = set()  # keys waiting in a Message Batch
        self.finished = 0
        self.engine = engine = DrainEngine(self)
        engine.settings, engine.custom_drains, engine.ledger = settings, self.custom, ledger
        engine.root = Path(workspace) if workspace else None
        engine.folders = [workspace] if workspace else []
        if choice is None:
            offline = backend.name == "offline"
            choice = BackendChoice("offline" if offline else "anthropic", model, price)
        self.scheduler = engine.make_scheduler(
            backend,
            limits,
            choice,
            idle_delay=0.0,
            max_attempts=HEADLESS_ATTEMPTS,
        )
        engine.on_end = self._ended
        self._sources: dict[Path, bytes] = {}
        self._batch: CommitBatch | None = None
        self._batch_read = False
        self.batch_client = batch_client
        self._deferred_slots: set[tuple[str, str, str]] = set()
        self._to_batch: list[Task] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- what the engine asks of its front end ----------------------------------------------

    def warn(self, message: str) -> None:
        """On stderr."""
        print(f"warning: {message}", file=sys.stderr)

    async def ask(self, question: str, choices: Sequence[str]) -> str | None:
        """Consent is asked before the run starts (``drain-ls run``): never here."""
        return None

    def run_task(self, coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """A task of the run."""
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def open_paths(self) -> set[str]:
        """No file is open: the deferred tasks of these files are this run's."""
        return set()

    def resubmit(self) -> None:
        """The rounds of ``run`` submit what is new."""

    def status_changed(self) -> None:
        """The progress bar says it."""

    def file_result(self, result: Result) -> None:
        """Every answer, in the summary."""
        self.summary.results.append(result)

    def reviews_changed(self) -> None:
        """Nothing shows them but the report."""

    def admit(self, tasks: list[Task]) -> list[Task]:
        """The tasks of ``tasks`` this run has not submitted yet and the user did not
        dismiss (counted in the summary)."""
        fresh = []
        for task in tasks:
            if (task.key, task.uri) in self.seen or task.key in self.in_flight:
                continue
            self.seen.add((task.key, task.uri))
            if self.ledger.dismissed(task.key):
                continue  # the user dismissed this answer: never asked for again
            self.summary.tally(task.drain).tasks += 1
            fresh.append(task)
        return fresh

    def lookup(self, key: str) -> str | None:
        """A result by task key: this run's, else the results cache."""
        return self.engine.result_text(key)

    # -- the run ------------------------------------------------------------------------------

    def _ended(self, task: Task, outcome: Outcome, usage: Usage, cost: float, detail: str) -> None:
        row = self.summary.tally(task.drain)
        row.input_tokens += usage.input_tokens
        row.output_tokens += usage.output_tokens
        row.cache_tokens += usage.cache_read_tokens + usage.cache_write_tokens
        row.cost_usd += cost
        if outcome is Outcome.CACHED:
            row.cached += 1
        elif outcome is Outcome.DONE:
            row.done += 1
        elif outcome is Outcome.RETRY:
            return  # it runs again: counted when it ends for good
        elif outcome in (Outcome.DEFERRED, Outcome.TOO_LARGE):
            row.deferred += 1
        elif outcome in (Outcome.FAILED, Outcome.CANCELLED, Outcome.REJECTED):
            row.failed += 1
        else:
            return  # refused by a cap: counted as deferred at the end
        self.finished += 1
        if self.on_progress is not None:
            self.on_progress(self.finished, self._total(), f"{task.drain} {task.qualname}")

    def _total(self) -> int:
        return sum(row.tasks for row in self.summary.drains.values())

    def _review_round(self) -> int:
        """The review of the commits since the last one (when the workspace is a git
        repository and the review or a commits-scope drain is on)."""
        options = self.settings.drains.review
        root = self.engine.root
        if root is None or (
            not options.enabled and not any(d.scope == "commits" for d in self.custom)
        ):
            return 0
        if not self._batch_read:
            self._batch_read = True
            self._batch = self.engine.review_batch(root)
        if self._batch is None:
            return 0
        fresh = self.admit(self.engine.review_tasks(self._batch))
        if fresh:
            self.scheduler.submit(root.as_uri(), fresh)
        return len(fresh)

    def _round(self) -> int:
        """Submit the tasks not seen yet; how many."""
        added = self._review_round()
        for path in self.files:
            source = self._sources.get(path)
            if source is None:
                source = read_python(path)
                if source is None:
                    continue
                self._sources[path] = source
            fresh = []
            for task in self.admit(
                tasks_for_file(
                    path,
                    self.settings,
                    self.model,
                    self.custom,
                    self.lookup,
                    source,
                    self.engine.cache_id,
                )
            ):
                if (
                    self.batch_client is not None
                    and (str(path), task.drain, task.qualname) in self._deferred_slots
                    and self.ledger.result(task.key) is None
                ):
                    self._to_batch.append(task)  # deferred work goes to a Message Batch
                    continue
                fresh.append(task)
            if fresh:
                self.scheduler.submit(path.as_uri(), fresh)
                added += len(fresh)
        return added

    async def _batches(self, client: BatchClient) -> None:
        """Collect the answers of earlier batches; note which tasks are deferred."""
        collected = await self.engine.collect_batches(client)
        self.summary.batch_answers = collected.succeeded
        in_flight = self.engine.batched
        for row in self.ledger.deferred(self.scheduler.workspace):
            if row.content_hash in in_flight:
                continue
            self._deferred_slots.add((row.path, row.drain, row.scope_key))
        self.in_flight = in_flight  # waiting in a batch: neither streamed nor sent again

    async def _send_batch(self, client: BatchClient) -> None:
        tasks, self._to_batch = self._to_batch, []
        sent = await self.engine.send_batch(client, tasks)
        for task in tasks[: sent.tasks]:
            self.summary.tally(task.drain).batched += 1
        for task in tasks[sent.tasks :]:
            self.summary.tally(task.drain).deferred += 1
        if sent.refused:
            self.summary.stopped = f"over budget: {sent.refused}"

    def _held(self) -> str | None:
        """Why the run cannot go on: a cap, a stop, or a model server that cannot serve
        (the editor waits for it and asks again; a run says why and defers its tasks)."""
        scheduler = self.scheduler
        return scheduler.blocked or scheduler.stopped or scheduler.backend_problem

    async def run(self) -> RunSummary:
        """Rounds of tasks until nothing new comes, a cap stops the run, or it is done."""
        scheduler = self.scheduler
        scheduler.start()
        try:
            if self.batch_client is not None:
                await self._batches(self.batch_client)
            while self._round() or self._to_batch:
                if self._to_batch and self.batch_client is not None:
                    await self._send_batch(self.batch_client)
                if self.on_progress is not None:
                    self.on_progress(self.finished, self._total(), "")
                scheduler.run_now()
                while scheduler.queue or scheduler.running:
                    if self._held():
                        break
                    await asyncio.sleep(0.01)
                if self._held():
                    break
            while scheduler.running:
                await asyncio.sleep(0.01)
            stopped = self._held()
            if stopped:
                self.summary.stopped = stopped
                for task in scheduler.queue.values():
                    self.summary.tally(task.drain).deferred += 1
                scheduler.defer_queued(stopped)
                scheduler.queue.clear()
        finally:
            await self.engine.close()
            for job in list(self._tasks):
                job.cancel()
        return self.summary


def render_summary(summary: RunSummary, model: str, out: Any = None) -> None:
    """The summary as a table (rich)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out or sys.stdout)
    data = summary.as_json()
    table = Table(title=f"drain-ls run: {summary.files} file(s), {model}")
    columns = ["drain", "tasks", "done", "cached", "failed", "deferred", "tokens", "USD"]
    if data["total"]["batched"]:
        columns.insert(6, "batched")
    for column in columns:
        table.add_column(column, justify="left" if column == "drain" else "right")
    rows = [*data["drains"].items(), ("total", data["total"])]
    for name, row in rows:
        table.add_row(
            name,
            str(row["tasks"]),
            str(row["done"]),
            str(row["cached"]),
            str(row["failed"]),
            str(row["deferred"]),
            *([str(row["batched"])] if "batched" in columns else []),
            f"{row['totalTokens']:,}",
            f"{row['costUsd']:.4f}",
        )
    console.print(table)
    if summary.stopped:
        console.print(
            f"stopped: {summary.stopped}; {data['total']['deferred']} task(s) deferred "
            "(drain-ls queue lists them; the next run or idle time takes them up)"
        )
    for file, reason in summary.skipped:
        console.print(f"skipped {file}: {reason}")
