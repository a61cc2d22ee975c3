"""The work ``DrainEngine`` left for later (``DeferredMixin``): the deferred queue, rebuilt
from the files as they are now, and Message Batches (``llm.batch``) sent and collected."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drain_ls.budget import price_of, price_overrides
from drain_ls.engine.drains import BUILTIN, Task
from drain_ls.engine.engine_core import EngineCore
from drain_ls.engine.file_tasks import read_python, scopes_of, tasks_for_file
from drain_ls.ledger import DeferredRow, Ledger, LedgerError

if TYPE_CHECKING:
    from drain_ls.engine.batching import Collected

logger = logging.getLogger("drain_ls")


class DeferredMixin(EngineCore):
    """The deferred queue and Message Batches."""

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
                await asyncio.sleep(self.settings.llm.batch_poll_seconds)
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
        wanted: dict[str, list[DeferredRow]] = {}
        for row in rows:
            path = row.path
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
            deferred = {(r.drain, r.scope_key) for r in file_rows}
            unbuilt = [r for r in file_rows if (r.drain, r.scope_key) not in slots]
            scopes = scopes_of(source) if unbuilt else set()  # a second parse, only if needed
            for row in unbuilt:
                if row.scope_key not in scopes or self._drain_gone(row.drain):
                    self._forget_deferred(ledger, row)  # the definition or drain is gone
            out.extend(
                t for t in tasks if (t.drain, t.qualname) in deferred and t.key not in in_flight
            )
        return out

    def _drain_gone(self, drain: str) -> bool:
        return drain not in BUILTIN and self.custom_drain(drain) is None

    @staticmethod
    def _forget_deferred(ledger: Ledger, row: DeferredRow) -> None:
        with contextlib.suppress(LedgerError):
            ledger.undefer(
                drain=row.drain, workspace=row.workspace, path=row.path, scope_key=row.scope_key
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
