"""Work left for later: the deferred queue (tasks that could not run, by where their code
is, never the code) and the Message Batches whose runs stay reserved until their results
are in."""

from __future__ import annotations

from drain_ls.ledger.connection import LedgerFile
from drain_ls.ledger.errors import _check_tokens
from drain_ls.ledger.rows import (
    BATCH_COLUMNS,
    DEFERRED_COLUMNS,
    BatchRow,
    DeferredRow,
    batch_row,
    deferred_row,
)
from drain_ls.ledger.schema import BATCHED, RESERVED, BatchStatus


class QueueMixin(LedgerFile):
    """The deferred and batches tables."""

    def defer(
        self,
        *,
        drain: str,
        workspace: str,
        scope_key: str,
        content_hash: str,
        estimated_tokens: int,
        reason: str,
        path: str = "",
        model: str = "",
        tier: int = 2,
    ) -> None:
        """Keep a task that could not run for later (once per scope and content): where its
        code is (``path`` and ``scope_key``), never the code."""
        _check_tokens(estimated_tokens=estimated_tokens)
        with self._transaction() as db:
            db.execute(
                "DELETE FROM deferred WHERE drain = ? AND workspace = ? AND path = ? "
                "AND scope_key = ? AND content_hash != ?",
                (drain, workspace, path, scope_key, content_hash),
            )
            db.execute(
                "INSERT OR IGNORE INTO deferred (drain, workspace, scope_key, content_hash, "
                "estimated_tokens, reason, created_at, path, model, tier) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    drain,
                    workspace,
                    scope_key,
                    content_hash,
                    estimated_tokens,
                    reason,
                    self.clock(),
                    path,
                    model,
                    tier,
                ),
            )

    def undefer(self, *, drain: str, workspace: str, path: str, scope_key: str) -> None:
        """A deferred task ran (or its scope is gone): forget it."""
        with self._transaction() as db:
            db.execute(
                "DELETE FROM deferred WHERE drain = ? AND workspace = ? AND path = ? "
                "AND scope_key = ?",
                (drain, workspace, path, scope_key),
            )

    def deferred(self, workspace: str | None = None) -> list[DeferredRow]:
        """The deferred tasks (of ``workspace``, or all), oldest first."""
        where, args = ("WHERE workspace = ?", (workspace,)) if workspace is not None else ("", ())
        with self._reading() as db:
            rows = db.execute(
                f"SELECT {DEFERRED_COLUMNS} FROM deferred {where} ORDER BY id", args
            ).fetchall()
        return [deferred_row(row) for row in rows]

    def add_batch(self, batch_id: str, workspace: str, run_ids: list[int]) -> None:
        """Runs sent in a Message Batch: they stay reserved until the batch's results are in,
        whatever happens to this process."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO batches VALUES (?, ?, ?, ?, ?, NULL)",
                (batch_id, workspace, BatchStatus.IN_PROGRESS, len(run_ids), self.clock()),
            )
            for run_id in run_ids:
                db.execute(
                    "UPDATE runs SET status = ?, batch_id = ? WHERE id = ? AND status = ?",
                    (BATCHED, batch_id, run_id, RESERVED),
                )

    def open_batches(self, workspace: str | None = None) -> list[BatchRow]:
        """Batches whose results are not collected yet (of ``workspace``, or all), oldest
        first."""
        where = "status = ?" + (" AND workspace = ?" if workspace is not None else "")
        args = (BatchStatus.IN_PROGRESS, *((workspace,) if workspace is not None else ()))
        with self._reading() as db:
            rows = db.execute(
                f"SELECT {BATCH_COLUMNS} FROM batches WHERE {where} ORDER BY created_at", args
            ).fetchall()
        return [batch_row(row) for row in rows]

    def batched_hashes(self) -> set[str]:
        """Content hashes of the runs waiting in open batches (not to be sent again)."""
        with self._reading() as db:
            return {
                str(row[0])
                for row in db.execute("SELECT content_hash FROM runs WHERE status = ?", (BATCHED,))
            }

    def undefer_hash(self, drain: str, content_hash: str) -> None:
        """The deferred task with this content ran (in a batch): forget it."""
        with self._transaction() as db:
            db.execute(
                "DELETE FROM deferred WHERE drain = ? AND content_hash = ?", (drain, content_hash)
            )

    def update_deferred_reason(self, content_hash: str, reason: str) -> None:
        """Say why a deferred task is still waiting."""
        with self._transaction() as db:
            db.execute(
                "UPDATE deferred SET reason = ? WHERE content_hash = ?", (reason, content_hash)
            )

    def abandon_batch(self, batch_id: str) -> int:
        """A batch the API no longer knows: its runs count at their worst case (they may
        have been billed), and the batch is closed; how many runs."""
        with self._transaction() as db:
            count = db.execute(
                "UPDATE runs SET status = 'abandoned', input_tokens = reserved_tokens, "
                "cost_usd = reserved_usd, wasted_tokens = reserved_tokens, ended_at = ? "
                "WHERE batch_id = ? AND status = ?",
                (self.clock(), batch_id, BATCHED),
            ).rowcount
            db.execute(
                "UPDATE batches SET status = ?, ended_at = ? WHERE id = ?",
                (BatchStatus.LOST, self.clock(), batch_id),
            )
        return int(count)

    def end_batch(self, batch_id: str, status: BatchStatus = BatchStatus.ENDED) -> None:
        """The batch's results are collected."""
        with self._transaction() as db:
            db.execute(
                "UPDATE batches SET status = ?, ended_at = ? WHERE id = ?",
                (status, self.clock(), batch_id),
            )
