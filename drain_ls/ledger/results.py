"""The results cache: complete, validated results by their content-addressed key, and the
runs a cached result saved."""

from __future__ import annotations

import json
from typing import Any

from drain_ls.ledger.connection import LedgerFile
from drain_ls.ledger.errors import _check_dollars, _check_tokens
from drain_ls.ledger.rows import RESULT_COLUMNS, ResultRow, result_row


class ResultsMixin(LedgerFile):
    """The results table: cached results, and the tokens each use of one saved."""

    def result(self, key: str) -> ResultRow | None:
        """A cached result by its content-addressed key, with its provenance (None: none,
        or a damaged one)."""
        with self._reading() as db:
            row = db.execute(
                f"SELECT {RESULT_COLUMNS} FROM results WHERE key = ?", (key,)
            ).fetchone()
        return result_row(row) if row else None

    def record_hit(
        self, *, drain: str, workspace: str, scope_key: str, key: str, model: str
    ) -> None:
        """A cached result was used instead of a request: count the tokens it saved."""
        with self._reading() as db:
            row = db.execute("SELECT tokens FROM results WHERE key = ?", (key,)).fetchone()
        saved = row[0] if row and isinstance(row[0], int) and row[0] >= 0 else 0
        now = self.clock()
        with self._transaction() as db:
            self._insert_run(
                db,
                drain=drain,
                workspace=workspace,
                scope_key=scope_key,
                content_hash=key,
                model=model,
                tier=2,
                status="cached",
                started_at=now,
                ended_at=now,
                saved_tokens=saved,
            )

    def store_result(
        self,
        key: str,
        *,
        drain: str,
        model: str,
        content_hash: str,
        value: dict[str, Any],
        tokens: int,
        cost: float,
    ) -> None:
        """Cache a complete, validated result (never a failure or a truncated answer)."""
        _check_tokens(tokens=tokens)
        _check_dollars(cost_usd=cost)
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (key, drain, model, content_hash, json.dumps(value), tokens, cost, self.clock()),
            )
