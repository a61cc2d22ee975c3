"""``drain-ls run``: the drains of files now, headless, with the editor's budget, ledger
and results cache (``--dry-run``: what they would send), consent asked on the terminal
(``TerminalPrompter``); ``headless`` runs them, ``apply_docstrings`` takes the generated
docstrings after (``--diff``, ``--apply``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from drain_ls.cli.common import EXIT_CLEAN, EXIT_FINDINGS, UsageError, _display, llm_flags
from drain_ls.config.workspace import workspace_layer
from drain_ls.files import ConfigError, Excluder, discover, read_source


def command_run(args: argparse.Namespace) -> int:
    """``drain-ls run``: the drains of files, headless (``--dry-run``: what they would send)."""
    from drain_ls.config import load_user_config, resolve_settings
    from drain_ls.engine.choices import MissingKey, choose_backend
    from drain_ls.engine.drains import preview
    from drain_ls.engine.file_tasks import tasks_for_file
    from drain_ls.privacy import ExclusionError, Exclusions

    for path in args.paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file or directory")
    if args.budget is not None and args.budget < 1:
        raise UsageError("--budget must be a positive number of tokens")
    first = args.paths[0]
    try:
        layer, project = workspace_layer(first)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    # The trust model (drain_ls.config): the workspace's pyproject.toml only narrows what the
    # user's config file and flags allow.
    user, user_problems = load_user_config()
    flags = llm_flags(args)
    settings, problems, trust = resolve_settings(layer, user, flags)
    custom, custom_problems = list(settings.drains.custom.valid), settings.drains.custom.problems
    for problem in [*user_problems, *problems, *custom_problems]:
        print(f"warning: {problem}", file=sys.stderr)
    try:
        # A dry run sends nothing: it needs no key, and shows the model the settings name.
        choice = choose_backend(settings, headless=True, preview=args.dry_run)
    except MissingKey as exc:
        raise UsageError(str(exc)) from exc
    if choice.refused is not None or choice.price is None:
        raise UsageError(str(choice.refused))
    model, price = choice.model, choice.price
    root = (project.root or Path.cwd()).resolve()
    try:
        exclusions = Exclusions([root], settings.privacy.exclude)
    except ExclusionError as exc:
        raise UsageError(f"{exc}: nothing would be sent") from exc
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []

    def unreadable(path: Path, why: str) -> None:
        skipped.append((_display(str(path)), why))

    for file in discover(args.paths, Excluder(project), unreadable):
        reason = exclusions.why_excluded(file.resolve())
        _, error = read_source(str(file))
        if reason is not None or error is not None:
            skipped.append((_display(str(file)), str(reason or error)))
            continue
        files.append(file.resolve())
    if not args.dry_run:
        return _run_drains(args, files, skipped, settings, custom, choice, root, trust)
    for name, reason in skipped:
        print(f"skipped: {name}: {reason}", file=sys.stderr)
    previews: list[dict[str, Any]] = []
    total_tokens, total_usd = 0, 0.0
    planned = [
        (_display(str(file)), task)
        for file in files
        for task in tasks_for_file(
            file, settings, model, custom, lambda key: None, None, choice.cache_id
        )
    ]
    planned += [
        (_display(str(root)), task) for task in _review_preview(root, settings, custom, model)
    ]
    for where, task in planned:
        entry = preview(task, price)
        total_tokens += int(entry["worstCaseTokens"])  # type: ignore[call-overload]
        total_usd += float(entry["worstCaseUsd"])  # type: ignore[arg-type]
        previews.append({"file": where, "model": model, **entry})
    if args.json:
        json.dump(
            {
                "previews": previews,
                "worstCaseTokens": total_tokens,
                "worstCaseUsd": round(total_usd, 6),
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
        return EXIT_CLEAN
    for p in previews:
        redacted = f", {len(p['redactions'])} secret(s) redacted" if p["redactions"] else ""
        print(
            f"{p['file']}: {p['drain']} {p['qualname']}: at most {p['worstCaseTokens']:,} "
            f"tokens, ${p['worstCaseUsd']:.5f}{redacted}"
        )
    print(
        f"{len(previews)} request(s) to {model}: at most {total_tokens:,} tokens, "
        f"${total_usd:.4f} (dry run: nothing sent; drains that run after others are "
        "listed once those have results)"
    )
    return EXIT_CLEAN


def _review_preview(root: Path, settings: Any, custom: Any, model: str) -> list[Any]:
    """The commit review tasks a run would send (nothing when there is nothing new)."""
    from drain_ls.engine.review import gather, review_tasks
    from drain_ls.ledger import Ledger, LedgerError
    from drain_ls.privacy import ExclusionError, Exclusions

    options = settings.drains.review
    if not options.enabled and not any(d.scope == "commits" for d in custom):
        return []
    try:
        since = Ledger().last_review(str(root))
        exclusions = Exclusions([root], settings.privacy.exclude)
    except (LedgerError, ExclusionError):
        return []
    batch = gather(root, since, options, exclusions.why_excluded, settings.privacy.redact_secrets)
    if batch is None:
        return []
    return review_tasks(
        batch,
        drains=settings.drains,
        custom=custom,
        model=model,
        max_tokens_per_drain=settings.budget.max_tokens_per_drain,
        lookup=lambda key: None,
    )


def _run_drains(
    args: argparse.Namespace,
    files: list[Path],
    skipped: list[tuple[str, str]],
    settings: Any,
    custom: Any,
    choice: Any,
    root: Path,
    trust: Any,
) -> int:
    """The headless run: consent, the ledger, the budget, a progress bar and a summary."""
    import asyncio

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from drain_ls.cli.headless import HeadlessRun, render_summary
    from drain_ls.engine.choices import ask_consent, run_limits
    from drain_ls.ledger import Ledger, LedgerError

    try:
        ledger = Ledger()
    except LedgerError as exc:
        print(f"drain-ls: error: {exc}: nothing is sent", file=sys.stderr)
        return EXIT_FINDINGS
    workspace = str(root)
    model = choice.model
    if not args.yes:
        consent = asyncio.run(
            ask_consent(ledger, workspace, settings, choice, trust, TerminalPrompter())
        )
        if consent.allowed is not True:
            if consent.remembered:
                print(
                    f"drain-ls: sending code from {workspace} was refused (answered in the "
                    "editor); nothing is sent",
                    file=sys.stderr,
                )
            return EXIT_FINDINGS
    backend = choice.make()
    limits = run_limits(settings, args.budget)
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]drain-ls run"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=not args.json and console.is_terminal,
        disable=args.json and not console.is_terminal,
    ) as progress:
        bar = progress.add_task("", total=None)

        def on_progress(done: int, total: int, what: str) -> None:
            progress.update(bar, completed=done, total=max(total, 1), description=what)

        batch_client = None
        if settings.llm.batch and not choice.free:
            from drain_ls.backends.batches import BatchClient

            batch_client = BatchClient()
        run = HeadlessRun(
            files,
            settings,
            custom,
            backend,
            ledger,
            limits,
            choice.price,
            model,
            workspace,
            on_progress,
            batch_client,
            choice,
        )

        async def go() -> Any:
            try:
                return await run.run()
            finally:
                if batch_client is not None:
                    await batch_client.close()

        summary = asyncio.run(go())
    summary.skipped = skipped
    from drain_ls.cli.apply_docstrings import after_run  # offline answers kept; --diff / --apply

    shown = after_run(args, run, summary)
    if shown is not None:
        return shown
    if args.json:
        json.dump({"model": model, **summary.as_json()}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        render_summary(summary, model)
        print("the cost report: drain-ls report; what is left: drain-ls queue")
    return EXIT_CLEAN


class TerminalPrompter:
    """Asks on the terminal (stderr: stdout may be --json); "always" is remembered as the
    editor's "Allow", "yes" is the editor's "Allow once". With no terminal to ask on, the
    answer is no, and the user is told how to give one."""

    async def ask(self, question: str, choices: Sequence[str]) -> str | None:
        """The editor's title of the answer given (None: no)."""
        from drain_ls.engine.choices import ALLOW, ALLOW_ONCE

        if not sys.stdin.isatty():
            print(
                "drain-ls: no consent to send code from this workspace: answer in the editor, "
                "or run with --yes",
                file=sys.stderr,
            )
            return None
        sys.stderr.write(f"{question} [y]es / [a]lways / [N]o: ")
        sys.stderr.flush()
        try:
            answer = input().strip().lower()
        except EOFError:
            answer = ""
        if answer in ("a", "always"):
            return ALLOW
        return ALLOW_ONCE if answer in ("y", "yes") else None
