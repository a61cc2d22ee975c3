"""The cost and activity report: per day and in total, from the ledger (CLI and LSP).

Whatever the ledger holds (another process may write it) and whatever ``days`` asks, the
report is made: ``days`` is bounded to ``1..MAX_DAYS``, values that are not numbers count
as 0, and dates out of range are left empty. A ledger that cannot be read raises
``LedgerError``.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

from drain_ls.budget import Limits
from drain_ls.ledger import Ledger

# The longest report (ten years): ``drain-ls report --days`` refuses more.
MAX_DAYS = 3650


def bounded_days(days: object, default: int = 7) -> int:
    """``days`` as a number of days in ``1..MAX_DAYS`` (``default`` when it is not one)."""
    if isinstance(days, bool) or not isinstance(days, int | float | str):
        return default
    try:
        value = int(days)
    except (ValueError, OverflowError):
        return default
    return max(1, min(value, MAX_DAYS))


def _int(value: object) -> int:
    """A count from the ledger (anything else counts as 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    if not math.isfinite(value):
        return 0
    return max(0, int(value))


def _usd(value: object) -> float:
    """An amount from the ledger, rounded (anything else counts as 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    if not math.isfinite(value):
        return 0.0
    return round(max(0.0, float(value)), 6)


def _today(ledger: Ledger) -> date:
    try:
        return datetime.fromtimestamp(ledger.clock(), UTC).date()
    except (OverflowError, OSError, ValueError):
        return datetime.now(UTC).date()


def _when(timestamp: object) -> str:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        return ""
    try:
        return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return ""


def report(
    ledger: Ledger, days: int = 7, limits: Limits | None = None, workspace: str | None = None
) -> dict[str, Any]:
    """Tokens, cost and tasks per day and in total for the last ``days`` days (bounded to
    ``1..MAX_DAYS``), the latest report entries (custom drains, commit reviews) and the
    shared pool."""
    days = bounded_days(days)
    today = _today(ledger)
    try:
        since = today - timedelta(days=days - 1)
    except OverflowError:
        since = date.min
    per_day: list[dict[str, Any]] = []
    keys = ("input", "output", "cacheRead", "cacheWrite")
    for day in ledger.day_totals(since):
        tokens = {
            "input": day.input_tokens,
            "output": day.output_tokens,
            "cacheRead": day.cache_read_tokens,
            "cacheWrite": day.cache_write_tokens,
        }
        per_day.append(
            {
                "day": day.day,
                "tokens": tokens,
                "totalTokens": sum(tokens.values()),
                "costUsd": _usd(day.cost_usd),
                "completed": day.completed,
                "cancelled": day.cancelled,
                "failed": day.failed,
                "cacheHits": day.cache_hits,
                "wastedTokens": day.wasted_tokens,
                "savedTokens": day.saved_tokens,
            }
        )
    total: dict[str, Any] = {
        "tokens": {k: sum(d["tokens"][k] for d in per_day) for k in keys},
        "costUsd": round(sum(d["costUsd"] for d in per_day), 6),
    }
    for field in (
        "totalTokens",
        "completed",
        "cancelled",
        "failed",
        "cacheHits",
        "wastedTokens",
        "savedTokens",
    ):
        total[field] = sum(d[field] for d in per_day)
    top = [
        {"drain": d.drain, "costUsd": _usd(d.cost_usd), "runs": d.runs}
        for d in ledger.drain_costs(since, limit=5)
    ]
    spend = ledger.spend()
    limits = limits or Limits()
    entries = [
        {
            "drain": e.drain,
            "workspace": e.workspace,
            "path": e.path,
            "scope": e.scope_key,
            "text": e.text,
            "model": e.model,
            "created": _when(e.created_at),
        }
        for e in ledger.entries(workspace, limit=30)
    ]
    return {
        "days": days,
        "perDay": per_day,
        "total": total,
        "topDrains": top,
        "entries": entries,
        "poolTokensToday": ledger.pool_left(),
        "budgetLeftToday": {
            "tokens": max(0, limits.daily_tokens - _int(spend.daily_tokens)),
            "usd": round(max(0.0, limits.daily_usd - _usd(spend.daily_usd)), 6),
        },
    }


def render(data: dict[str, Any]) -> None:
    """Print the report as tables and a per-day bar chart (rich)."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=140)
    table = Table(title=f"drain-ls: the last {data['days']} days")
    for column in (
        "day",
        "input",
        "output",
        "cache read",
        "cache write",
        "cost (USD)",
        "done",
        "cancelled",
        "failed",
        "cached",
        "wasted",
        "saved",
    ):
        table.add_column(column, justify="left" if column == "day" else "right")
    rows = [*data["perDay"], {"day": "total", **data["total"]}]
    for row in rows:
        tokens = row["tokens"]
        table.add_row(
            row["day"],
            f"{tokens['input']:,}",
            f"{tokens['output']:,}",
            f"{tokens['cacheRead']:,}",
            f"{tokens['cacheWrite']:,}",
            f"{row['costUsd']:.4f}",
            str(row["completed"]),
            str(row["cancelled"]),
            str(row["failed"]),
            str(row["cacheHits"]),
            f"{row['wastedTokens']:,}",
            f"{row['savedTokens']:,}",
        )
    console.print(table)
    peak = max((d["totalTokens"] for d in data["perDay"]), default=0)
    if peak:
        console.print("tokens per day")
        for day in data["perDay"]:
            bar = "█" * max(1, round(40 * day["totalTokens"] / peak))
            console.print(f"{day['day']}  {bar} {day['totalTokens']:,}")
    if data["topDrains"]:
        console.print(
            "top drains by cost: "
            + ", ".join(
                f"{d['drain']} ${d['costUsd']:.4f} ({d['runs']} runs)" for d in data["topDrains"]
            )
        )
    if data.get("entries"):
        console.print("latest entries (custom drains and commit reviews):")
        for entry in data["entries"]:
            where = entry["path"] + ("" if entry["scope"] == "<module>" else f" {entry['scope']}")
            console.print(f"[bold]{entry['drain']}[/bold] {where} ({entry['created']}):")
            console.print("  " + entry["text"].replace("\n", "\n  "), markup=False)
    left = data["budgetLeftToday"]
    console.print(f"budget left today: {left['tokens']:,} tokens, ${left['usd']:.4f}")
