"""Deferred tasks through the Message Batches API (``llm.batch = true``, off by default).

Half the price, results within 24 hours, and not covered by zero data retention (the
consent question says so). Each task reserves its worst case at the batch price before the
batch is sent, exactly like a streamed request; the runs stay reserved (status ``batched``)
in the ledger until the results are collected, whatever happens to the process that sent
them, and are then settled at the batch price with what the API billed. A succeeded answer
lands in the results cache (the editor shows it when the file is opened; ``drain-ls run``
finds it); a request that errored, expired or was canceled is billed nothing and stays in
the deferred queue.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from drain_ls.backends.base import BackendError
from drain_ls.budget import Limits, Price, Refusal, Usage, price_of
from drain_ls.engine.drains import Task, validate
from drain_ls.engine.scheduler import task_path
from drain_ls.ledger import Ledger, LedgerError, RunStatus

if TYPE_CHECKING:
    from drain_ls.backends.batches import BatchClient

logger = logging.getLogger("drain_ls")

# The batch-processing page: results can be retrieved for 29 days after the batch is created.
RESULTS_KEPT_SECONDS = 29 * 24 * 3600


@dataclass(slots=True)
class Sent:
    """What ``send`` did."""

    batch_id: str | None = None  # the first batch sent
    batch_ids: list[str] = field(default_factory=list)  # every batch sent (split by size)
    tasks: int = 0
    refused: str | None = None  # the cap that stopped adding tasks


@dataclass(slots=True)
class Collected:
    """What ``collect`` found."""

    batches: int = 0  # batches ended and collected
    pending: int = 0  # batches still processing
    expired: int = 0  # batches whose results are gone (settled at worst case, deferred again)
    succeeded: int = 0
    failed: int = 0
    tokens: int = 0
    cost_usd: float = 0.0


async def send(
    client: BatchClient,
    ledger: Ledger,
    tasks: Sequence[Task],
    *,
    workspace: str,
    limits: Limits,
    price: Price,
    pool: bool = False,
    primary_use: int = 0,
) -> Sent:
    """Reserve each task at the batch price (until a cap refuses one) and send them as one
    batch. Tasks already in an open batch are skipped."""
    sent = Sent()
    in_flight = ledger.batched_hashes()
    reserved: list[tuple[int, Task]] = []
    for task in tasks:
        if task.key in in_flight:
            continue
        made = ledger.reserve(
            drain=task.drain,
            workspace=workspace,
            scope_key=task.qualname,
            content_hash=task.key,
            model=task.model,
            tier=task.tier,
            input_estimate=task.input_estimate(),
            max_tokens=task.sent_max_tokens,
            limits=limits,
            price=price,
            primary_use=primary_use,
            pool=pool,
            batch=True,
        )
        if isinstance(made, Refusal):
            sent.refused = str(made)
            break
        reserved.append((made.run_id, task))
    if not reserved:
        return sent
    chunks, oversized = split(reserved)
    for run_id, _ in oversized:  # no batch can hold it: released, the task stays deferred
        with contextlib.suppress(LedgerError):
            ledger.settle(run_id, Usage(), "failed", price, batch=True)
    if oversized:
        logger.warning("%d request(s) over the batch size limit were not sent", len(oversized))
    for number, chunk in enumerate(chunks):
        try:
            batch_id = await client.submit([(f"run-{run_id}", t.request()) for run_id, t in chunk])
        except (BackendError, ValueError) as exc:
            # This batch and the ones after it are never sent: nothing billed; their tasks
            # stay in the deferred queue.
            for unsent in chunks[number:]:
                for run_id, _ in unsent:
                    with contextlib.suppress(LedgerError):
                        ledger.settle(run_id, Usage(), "failed", price, batch=True)
            logger.info("the batch was not sent: %s", getattr(exc, "kind", type(exc).__name__))
            sent.refused = sent.refused or f"the API refused the batch ({exc})"
            return sent
        _record_batch(ledger, workspace, batch_id, chunk)
        sent.batch_id = sent.batch_id or batch_id
        sent.batch_ids.append(batch_id)
        sent.tasks += len(chunk)
        logger.info("%d deferred task(s) sent as Message Batch %s", len(chunk), batch_id)
    return sent


def split(
    reserved: list[tuple[int, Task]],
) -> tuple[list[list[tuple[int, Task]]], list[tuple[int, Task]]]:
    """The reserved tasks in batches under the API's limits: at most ``MAX_REQUESTS``
    requests and ``MAX_BATCH_BYTES`` of request body each (the batch-processing page: 100,000
    requests or 256 MB, whichever comes first); and the requests no batch can hold (over the
    size limit on their own), left out."""
    from drain_ls.backends.batches import MAX_BATCH_BYTES, MAX_REQUESTS
    from drain_ls.backends.messages import request_params

    chunks: list[list[tuple[int, Task]]] = [[]]
    oversized: list[tuple[int, Task]] = []
    size = 0
    for run_id, task in reserved:
        entry = {"custom_id": f"run-{run_id}", "params": request_params(task.request())}
        cost = len(json.dumps(entry).encode("utf-8")) + 1
        if cost > MAX_BATCH_BYTES:
            oversized.append((run_id, task))
            continue
        current = chunks[-1]
        if current and (size + cost > MAX_BATCH_BYTES or len(current) >= MAX_REQUESTS):
            chunks.append([])
            size = 0
        chunks[-1].append((run_id, task))
        size += cost
    return [chunk for chunk in chunks if chunk], oversized


def _record_batch(
    ledger: Ledger, workspace: str, batch_id: str, chunk: list[tuple[int, Task]]
) -> None:
    ledger.add_batch(batch_id, workspace, [run_id for run_id, _ in chunk])
    for _, task in chunk:
        ledger.defer(
            drain=task.drain,
            workspace=workspace,
            scope_key=task.qualname,
            content_hash=task.key,
            estimated_tokens=task.input_estimate() + task.sent_max_tokens,
            reason=f"in Message Batch {batch_id}",
            path=task_path(task),
            model=task.model,
            tier=task.tier,
        )
        ledger.update_deferred_reason(task.key, f"in Message Batch {batch_id}")


def _lost(ledger: Ledger, batch_id: str, why: str) -> None:
    """A batch whose results cannot be had: its runs settle at their worst case, and its
    tasks stay deferred, to be sent again."""
    hashes = [run.content_hash for run in ledger.runs(batch_id=batch_id, status=RunStatus.BATCHED)]
    runs = ledger.abandon_batch(batch_id)
    for content_hash in hashes:
        ledger.update_deferred_reason(
            content_hash, f"Message Batch {batch_id} was lost ({why}); deferred again"
        )
    logger.warning(
        "Message Batch %s: %s; %d run(s) counted at their worst case", batch_id, why, runs
    )


async def collect(
    client: BatchClient,
    ledger: Ledger,
    price: Price,
    workspace: str | None = None,
    now: float | None = None,
    price_for: Callable[[str], Price | None] | None = None,
) -> Collected:
    """Poll the open batches; for each that ended, settle its runs at the batch price and
    cache the answers."""
    # Each run at the price of the model it was sent with (the one collecting may use another).
    price_for = price_for or price_of
    out = Collected()
    for batch in ledger.open_batches(workspace):
        batch_id = batch.id
        if (now or time.time()) - batch.created_at > RESULTS_KEPT_SECONDS:
            # Its results are gone (kept 29 days): whatever it was billed is unknown, so its
            # runs count at their worst case, and its tasks wait in the deferred queue again.
            _lost(ledger, batch_id, "its results expired (kept 29 days)")
            out.expired += 1
            continue
        try:
            status = await client.status(batch_id)
            if not status.ended:
                out.pending += 1
                continue
            outcomes = await client.results(batch_id)
        except BackendError as exc:
            if exc.status == 404:
                # Unknown to the API (another key, or its results expired): counted as spent
                # at its worst case; its tasks go out again later.
                _lost(ledger, batch_id, "the API no longer knows it")
                out.expired += 1
                continue
            logger.info("batch %s: cannot poll (%s)", batch_id, exc.kind)
            out.pending += 1
            continue
        out.batches += 1
        for run in ledger.runs(batch_id=batch_id, status=RunStatus.BATCHED):
            outcome = outcomes.get(f"run-{run.id}")
            response = outcome.response() if outcome is not None else None
            run_price = price_for(run.model) or price
            if response is None:
                ledger.settle(run.id, Usage(), "failed", run_price, batch=True)
                out.failed += 1
                if outcome is not None and not outcome.retryable:
                    # An invalid request fails again: it leaves the queue.
                    ledger.undefer_hash(run.drain, run.content_hash)
                else:
                    ledger.update_deferred_reason(
                        run.content_hash, "the batch request did not run; deferred again"
                    )
                continue
            cost = ledger.settle(run.id, response.usage, "done", run_price, batch=True)
            out.tokens += response.usage.total
            out.cost_usd += cost
            # Billed: done, whatever the answer is worth (never bought again for this code).
            ledger.undefer_hash(run.drain, run.content_hash)
            text = None if response.truncated else validate(run.drain, response.text)
            if text is None:
                out.failed += 1
                continue
            ledger.store_result(
                run.content_hash,
                drain=run.drain,
                model=response.model,
                content_hash=run.content_hash,
                value={"text": text, "model": response.model},
                tokens=response.usage.total,
                cost=cost,
            )
            out.succeeded += 1
        ledger.end_batch(batch_id)
        logger.info(
            "Message Batch %s collected: %d answer(s), %d failed",
            batch_id,
            out.succeeded,
            out.failed,
        )
    return out
