"""What the user decided and what the report shows: consent per workspace, dismissed
suggestions, report entries (custom drains, commit reviews) and the last commit reviewed."""

from __future__ import annotations

from collections.abc import Sequence

from drain_ls.ledger.connection import LedgerFile
from drain_ls.ledger.rows import ENTRY_COLUMNS, ReportEntry, report_entry


class RecordsMixin(LedgerFile):
    """The consent, dismissed, entries and reviews tables."""

    def dismiss(self, key: str, drain: str) -> None:
        """Never show this result again."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO dismissed VALUES (?, ?, ?)", (key, drain, self.clock())
            )

    def dismissed(self, key: str) -> bool:
        """Whether the user dismissed this result."""
        with self._reading() as db:
            return (
                db.execute("SELECT 1 FROM dismissed WHERE key = ?", (key,)).fetchone() is not None
            )

    def dismissed_among(self, keys: Sequence[str]) -> set[str]:
        """The keys among ``keys`` whose result the user dismissed (one query per 500 keys,
        not one per key: a long module submits a thousand tasks at every pause)."""
        found: set[str] = set()
        with self._reading() as db:
            for at in range(0, len(keys), 500):
                chunk = keys[at : at + 500]
                marks = ",".join("?" * len(chunk))
                found.update(
                    row[0]
                    for row in db.execute(
                        f"SELECT key FROM dismissed WHERE key IN ({marks})", tuple(chunk)
                    )
                )
        return found

    def dismiss_rates(self) -> dict[str, float]:
        """Per drain: dismissed results / results delivered (completed or cached)."""
        with self._reading() as db:
            delivered = dict(
                db.execute(
                    "SELECT drain, COUNT(*) FROM runs WHERE status IN ('done', 'cached') "
                    "GROUP BY drain"
                ).fetchall()
            )
            dismissed = db.execute(
                "SELECT drain, COUNT(*) FROM dismissed GROUP BY drain"
            ).fetchall()
        rates = {}
        for drain, count in dismissed:
            rates[drain] = min(1.0, count / max(1, delivered.get(drain, count)))
        return rates

    def consent(self, workspace: str) -> str | None:
        """The remembered answer for ``workspace`` ("allow" or "never"), if any."""
        with self._reading() as db:
            row = db.execute(
                "SELECT answer FROM consent WHERE workspace = ?", (workspace,)
            ).fetchone()
        return str(row[0]) if row else None

    def remember_consent(self, workspace: str, answer: str) -> None:
        """Remember "allow" or "never" for ``workspace``."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO consent VALUES (?, ?, ?)", (workspace, answer, self.clock())
            )

    def add_entry(
        self, *, workspace: str, drain: str, path: str, scope_key: str, text: str, model: str
    ) -> None:
        """A report entry (a custom drain with ``output = "report"``, a commit review): the
        latest one per drain and scope."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO entries (workspace, drain, path, scope_key, text, "
                "model, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (workspace, drain, path, scope_key, text, model, self.clock()),
            )

    def entries(self, workspace: str | None = None, limit: int = 50) -> list[ReportEntry]:
        """The latest report entries (of ``workspace``, or all), newest first."""
        where, args = ("WHERE workspace = ?", (workspace,)) if workspace is not None else ("", ())
        with self._reading() as db:
            rows = db.execute(
                f"SELECT {ENTRY_COLUMNS} FROM entries {where} "
                "ORDER BY created_at DESC, id DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [report_entry(row) for row in rows]

    def last_review(self, workspace: str) -> str | None:
        """The last commit reviewed in ``workspace``."""
        with self._reading() as db:
            row = db.execute(
                "SELECT last_commit FROM reviews WHERE workspace = ?", (workspace,)
            ).fetchone()
        return str(row[0]) if row else None

    def reviewed(self, workspace: str, commit: str) -> None:
        """Commits up to ``commit`` are reviewed."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO reviews VALUES (?, ?, ?)", (workspace, commit, self.clock())
            )
