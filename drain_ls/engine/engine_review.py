"""The commit review of ``DrainEngine`` (``ReviewMixin``): new commits looked for now and
then, their review tasks queued for idle time, and a review's answer read into findings
(``engine.review`` builds and reads them)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from drain_ls.commits import CommitBatch
from drain_ls.engine.drains import Task
from drain_ls.engine.engine_core import EngineCore
from drain_ls.engine.outcomes import Result
from drain_ls.engine.review import REVIEW, gather, read_result, review_tasks
from drain_ls.engine.scheduler import Scheduler
from drain_ls.ledger import LedgerError
from drain_ls.privacy import ExclusionError, Exclusions

logger = logging.getLogger("drain_ls")


class ReviewMixin(EngineCore):
    """The commit review's watcher, tasks and answers."""

    # -- the commit review --------------------------------------------------------------------

    async def _watch_commits(self, root: Path) -> None:
        """Look for new commits now and then; their review runs at the next idle time."""
        while True:
            with contextlib.suppress(Exception):
                await self.check_commits(root)
            await asyncio.sleep(self.settings.drains.review.poll_seconds)

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
            self.settings.drains.review,
            exclusions.why_excluded,
            self.settings.privacy.redact_secrets,
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
            max_tokens_per_drain=self.settings.budget.max_tokens_per_drain,
            lookup=self.result_text,
            backend=self.cache_id,
        )

    def submit_review(self, scheduler: Scheduler, root: Path, batch: CommitBatch) -> int:
        """The review tasks of ``batch``, to the scheduler; how many."""
        tasks = self.review_tasks(batch)
        self.submit(scheduler, root.as_uri(), tasks)
        return len(tasks)

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
                review_on = self.settings.drains.review.enabled
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
