"""The cost and activity report: per day and in total, from the ledger (CLI and LSP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from drain_ls.budget import Limits
from drain_ls.ledger import Ledger

_TOTALS = """
    SELECT day,
        SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens),
        SUM(cost_usd),
        SUM(status = 'done'), SUM(status IN ('cancelled', 'abandoned')), SUM(status = 'failed'),
        SUM(status = 'cached'), SUM(wasted_tokens), SUM(saved_tokens)
    FROM runs WHERE day >= ? AND status != 'reserved' GROUP BY day ORDER BY day
"""


def report(
    ledger: Ledger, days: int = 7, limits: Limits | None = None, workspace: str | None = None
) -> dict[str, Any]:
    """Tokens, cost and tasks per day and in total for the last ``days`` days, the latest
    report entries (custom drains, commit reviews) and the shared pool."""
    today = datetime.fromtimestamp(ledger.clock(), UTC).date()
    since = (today - timedelta(days=days - 1)).isoformat()
    per_day = []
    keys = ("input", "output", "cacheRead", "cacheWrite")
    for row in ledger.db.execute(_TOTALS, (since,)):
        day, *values = row
        tokens = dict(zip(keys, (int(v or 0) for v in values[:4]), strict=True))
        per_day.append(
            {
                "day": day,
                "tokens": tokens,
                "totalTokens": sum(tokens.values()),
                "costUsd": round(float(values[4] or 0), 6),
                "completed": int(values[5] or 0),
                "cancelled": int(values[6] or 0),
                "failed": int(values[7] or 0),
                "cacheHits": int(values[8] or 0),
                "wastedTokens": int(values[9] or 0),
                "savedTokens": int(values[10] or 0),
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
        {"drain": drain, "costUsd": round(float(cost), 6), "runs": int(runs)}
        for drain, cost, runs in ledger.db.execute(
            "SELECT drain, SUM(cost_usd), COUNT(*) FROM runs WHERE day >= ? "
            "AND status != 'cached' GROUP BY drain ORDER BY SUM(cost_usd) DESC LIMIT 5",
            (since,),
        )
    ]
    spend = ledger.spend()
    limits = limits or Limits()
    entries = [
        {
            "drain": e["drain"],
            "workspace": e["workspace"],
            "path": e["path"],
            "scope": e["scope_key"],
            "text": e["text"],
            "model": e["model"],
            "created": datetime.fromtimestamp(e["created_at"], UTC).isoformat(timespec="seconds"),
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
            "tokens": max(0, limits.daily_tokens - spend.daily_tokens),
            "usd": round(max(0.0, limits.daily_usd - spend.daily_usd), 6),
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
