"""``drain-ls queue`` and ``drain-ls report``: what the ledger holds, the deferred tasks with
their estimated cost and the open Message Batches, and the drains' tokens, cost and tasks
per day."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from drain_ls.cli.common import EXIT_CLEAN, EXIT_FINDINGS, UsageError, _display, user_settings


def _usd(value: float | None) -> str:
    return f"~${value:.4f}" if value is not None else "price unknown"


def command_queue(args: argparse.Namespace) -> int:
    """``drain-ls queue``: tasks that could not run (a cap, a closed editor), kept for later."""
    from drain_ls.budget import price_of, price_overrides
    from drain_ls.ledger import Ledger, LedgerError
    from drain_ls.models import default_model

    user, _ = user_settings()
    prices = price_overrides(user.llm.prices)
    try:
        ledger = Ledger()
    except LedgerError as exc:
        print(f"drain-ls: error: {exc}", file=sys.stderr)
        return EXIT_FINDINGS
    rows = []
    for task in ledger.deferred():
        tokens = task.estimated_tokens
        # The worst case at the task's model's output price (the dearer of the two).
        price = price_of(task.model or default_model(), prices)
        usd = round(tokens * price.output / 1e6, 6) if price is not None else None
        rows.append({**asdict(task), "estimatedUsd": usd})
    batches = ledger.open_batches()
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_CLEAN
    for row in rows:
        where = _display(str(row["path"])) if row["path"] else row["workspace"]
        print(
            f"{where}: {row['drain']} {row['scope_key']}: at most "
            f"{row['estimated_tokens']:,} tokens ({_usd(row['estimatedUsd'])}); {row['reason']}"
        )
    total = sum(int(r["estimated_tokens"]) for r in rows)
    total_usd = sum(float(r["estimatedUsd"] or 0) for r in rows)
    print(f"{len(rows)} deferred task(s), at most {total:,} tokens (~${total_usd:.4f})")
    for batch in batches:
        print(
            f"Message Batch {batch.id}: {batch.requests} request(s), waiting for results "
            "(drain-ls run or the editor collects them)"
        )
    return EXIT_CLEAN


def command_report(args: argparse.Namespace) -> int:
    """``drain-ls report``."""
    from drain_ls.ledger import Ledger, LedgerError
    from drain_ls.report import MAX_DAYS, render, report

    if not 1 <= args.days <= MAX_DAYS:
        raise UsageError(f"--days must be between 1 and {MAX_DAYS} (got {args.days})")
    try:
        ledger = Ledger()
        data = report(ledger, args.days)
    except LedgerError as exc:
        print(f"drain-ls: error: {exc}", file=sys.stderr)
        return EXIT_FINDINGS
    if args.json:
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        render(data)
    return EXIT_CLEAN
