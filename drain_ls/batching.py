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
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from drain_ls.backends.base import BackendError
from drain_ls.budget import Limits, Price, Refusal, Usage
from drain_ls.drains import Task, validate
from drain_ls.ledger import Ledger, LedgerError
from drain_ls.scheduler import task_path

if TYPE_CHECKING:
    from drain_ls.backends.batches import BatchClient

logger = logging.getLogger("drain_ls")


@dataclass(slots=True)
class Sent:
    """What ``send`` did."""

    batch_id: str | None = None
    tasks: int = 0
    refused: str | None = None  # the cap that stopped adding tasks


@dataclass(slots=True)
class Collected:
    """What ``collect`` found."""

    batches: int = 0  # batches ended and collected
    pending: int = 0  # batches still processing
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
            max_tokens=task.max_tokens,
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
    try:
        batch_id = await client.submit([(f"run-{run_id}", t.request()) for run_id, t in reserved])
    except (BackendError, ValueError) as exc:
        for run_id, _ in reserved:  # never sent: nothing billed
            with contextlib.suppress(LedgerError):
                ledger.settle(run_id, Usage(), "failed", price, batch=True)
        logger.info("the batch was not sent: %s", getattr(exc, "kind", type(exc).__name__))
        sent.refused = sent.refused or "the API refused the batch"
        return sent
    ledger.add_batch(batch_id, workspace, [run_id for run_id, _ in reserved])
    for _, task in reserved:
        ledger.defer(
            drain=task.drain,
            workspace=workspace,
            scope_key=task.qualname,
            content_hash=task.key,
            estimated_tokens=task.input_estimate() + task.max_tokens,
            reason=f"in Message Batch {batch_id}",
            path=task_path(task),
            model=task.model,
            tier=task.tier,
        )
        ledger.update_deferred_reason(task.key, f"in Message Batch {batch_id}")
    sent.batch_id, sent.tasks = batch_id, len(reserved)
    logger.info("%d deferred task(s) sent as Message Batch %s", len(reserved), batch_id)
    return sent


async def collect(
    client: BatchClient, ledger: Ledger, price: Price, workspace: str | None = None
) -> Collected:
    """Poll the open batches; for each that ended, settle its runs at the batch price and
    cache the answers."""
    out = Collected()
    for batch in ledger.open_batches(workspace):
        batch_id = str(batch["id"])
        try:
            status = await client.status(batch_id)
            if not status.ended:
                out.pending += 1
                continue
            outcomes = await client.results(batch_id)
        except BackendError as exc:
            if exc.kind == "request" and "404" in str(exc):
                # Unknown to the API (another key, or gone): counted as spent at its worst
                # case; its tasks are still in the deferred queue and go out again later.
                runs = ledger.abandon_batch(batch_id)
                logger.warning("Message Batch %s is unknown to the API: %d runs", batch_id, runs)
                continue
            logger.info("batch %s: cannot poll (%s)", batch_id, exc.kind)
            out.pending += 1
            continue
        out.batches += 1
        for run in ledger.runs("batch_id = ? AND status = 'batched'", (batch_id,)):
            outcome = outcomes.get(f"run-{run['id']}")
            response = outcome.response() if outcome is not None else None
            if response is None:
                ledger.settle(run["id"], Usage(), "failed", price, batch=True)
                out.failed += 1
                if outcome is not None and not outcome.retryable:
                    # An invalid request fails again: it leaves the queue.
                    ledger.undefer_hash(run["drain"], run["content_hash"])
                else:
                    ledger.update_deferred_reason(
                        run["content_hash"], "the batch request did not run; deferred again"
                    )
                continue
            cost = ledger.settle(run["id"], response.usage, "done", price, batch=True)
            out.tokens += response.usage.total
            out.cost_usd += cost
            # Billed: done, whatever the answer is worth (never bought again for this code).
            ledger.undefer_hash(run["drain"], run["content_hash"])
            text = None if response.truncated else validate(run["drain"], response.text)
            if text is None:
                out.failed += 1
                continue
            ledger.store_result(
                run["content_hash"],
                drain=run["drain"],
                model=response.model,
                content_hash=run["content_hash"],
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
