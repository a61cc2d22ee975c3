"""``drain-ls run --diff`` / ``--apply``: the generated docstrings of a run, shown as a
unified diff or written into the files.

``run --diff`` / ``--apply`` insert a generated docstring exactly as the editor's code action
"Insert generated docstring" does (``skeletons.definition_docstring_fix`` with the answer as
the literal), only for the text it was made for, and with the guarantees of
``drain-ls check --fix``: the file must parse as well as before, nothing else changes,
the write is atomic and read back (``files.replace_verified``).
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from tree_sitter import Node

from drain_ls.analysis.fixes import apply_edits, parse_regression
from drain_ls.analysis.grammar_gaps import parse_input
from drain_ls.analysis.model import Edit
from drain_ls.analysis.skeletons import definition_docstring_fix
from drain_ls.analysis.source import parse
from drain_ls.cli.common import EXIT_CLEAN, EXIT_FINDINGS, _display
from drain_ls.cli.results import history, keep_free_results
from drain_ls.engine.drains import sha
from drain_ls.files import UnreadableFile, read_source, replace_verified
from drain_ls.ledger import Ledger, LedgerError

if TYPE_CHECKING:
    from drain_ls.cli.headless import HeadlessRun, RunSummary
    from drain_ls.engine.drains import Task
    from drain_ls.engine.outcomes import Result

DOCSTRINGS = "docstrings"
# The message of the editor's code action (features/actions.generated_docstring_actions).
INSERT_MESSAGE = "Insert generated docstring"


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


# -- drain-ls run --diff / --apply --------------------------------------------------------------


@dataclass(slots=True)
class FilePlan:
    """What the generated docstrings would do to one file."""

    path: Path
    original: bytes
    updated: bytes | None = None  # None: nothing to insert (or ``error``)
    inserted: int = 0
    stale: int = 0
    error: str | None = None


def after_run(args: argparse.Namespace, run: HeadlessRun, summary: RunSummary) -> int | None:
    """What ``drain-ls run`` does once its drains are done: keep the offline backend's
    answers in the results cache, then with ``--diff`` or ``--apply`` show or write the
    generated docstrings and return the exit code (None: the usual summary follows)."""
    if run.scheduler.free:
        keep_free_results(run.ledger, summary.results)
    diff, write = getattr(args, "diff", False), getattr(args, "apply", False)
    if not diff and not write:
        return None
    plans = plan_docstrings(run, summary.results)
    return report_docstrings(args, run, summary, plans, write)


def plan_docstrings(run: HeadlessRun, results: Sequence[Result]) -> list[FilePlan]:
    """For each file the run covered, as it is now: the generated docstrings made for the
    current text of its definitions (this run's answers, else the results cache), and how
    many results are stale (made for a text that has changed since)."""
    from drain_ls.engine.file_tasks import tasks_for_file

    mine: dict[tuple[str, str], Result] = {}
    for result in results:
        if result.drain == DOCSTRINGS:
            mine[(result.uri, result.qualname)] = result
    ledger = run.ledger
    read: list[tuple[Path, bytes | None, str | None, list[Task]]] = []
    current: set[str] = set()
    names: set[str] = set()
    for path in run.files:
        source, error = read_source(str(path))
        tasks: list[Task] = []
        if source is not None:
            tasks = [
                t
                for t in tasks_for_file(
                    path,
                    run.settings,
                    run.model,
                    run.custom,
                    run.lookup,
                    source,
                    run.engine.cache_id,
                )
                if t.drain == DOCSTRINGS
            ]
        current.update(t.key for t in tasks)
        names.update(t.qualname for t in tasks)
        read.append((path, source, error, tasks))
    earlier: dict[str, int] = {}
    try:
        for made in history(ledger, run.scheduler.workspace, names, DOCSTRINGS, run.model):
            if made.stored.key not in current:
                earlier[made.qualname] = earlier.get(made.qualname, 0) + 1
    except LedgerError as exc:
        print(f"warning: the run history cannot be read: {exc}", file=sys.stderr)
    plans = []
    for path, source, error, tasks in read:
        if source is None:
            plans.append(FilePlan(path, b"", error=error))
            continue
        plans.append(_plan_file(path, source, tasks, mine, earlier, partial(_cached_text, ledger)))
    return plans


def _cached_text(ledger: Ledger, key: str) -> str | None:
    """The cached answer of ``key``, unless the user dismissed it."""
    try:
        if ledger.dismissed(key):
            return None
        cached = ledger.result(key)
    except LedgerError:
        return None
    return cached.text if cached is not None else None


def _plan_file(
    path: Path,
    source: bytes,
    tasks: list[Task],
    mine: dict[tuple[str, str], Result],
    earlier: dict[str, int],
    cached: Callable[[str], str | None],
) -> FilePlan:
    plan = FilePlan(path, source)
    uri = path.as_uri()
    ours = {qualname: r for (u, qualname), r in mine.items() if u == uri}
    tree = parse(parse_input(source))
    edits: list[Edit] = []
    for task in tasks:
        result = ours.pop(task.qualname, None)
        text = None
        if result is not None and result.scope_hash == sha(task.scope_text):
            text = result.text  # as the editor: made for exactly this definition's text
        else:
            text = cached(task.key)
        if text is None:
            if result is not None or earlier.get(task.qualname):
                plan.stale += 1
            continue
        node = _definition_at(tree.root_node, task.start, task.end)
        if node is None:
            continue
        fix = definition_docstring_fix(node, source, literal=text, message=INSERT_MESSAGE)
        if fix is None:
            continue
        edits.extend(fix.edits)
        plan.inserted += 1
    plan.stale += len(ours)  # the run answered for definitions that have changed since
    if not edits:
        return plan
    try:
        updated = apply_edits(source, edits)
    except (ValueError, UnicodeEncodeError) as exc:
        plan.error, plan.inserted = f"cannot insert the docstrings: {exc}", 0
        return plan
    reason = parse_regression(source, updated, str(path))
    if reason is not None:
        plan.error, plan.inserted = f"cannot insert the docstrings: {reason}", 0
        return plan
    plan.updated = updated
    return plan


def _definition_at(root: Node, start: int, end: int) -> Node | None:
    """The function or class definition spanning exactly bytes ``[start, end)``."""
    node: Node | None = root.descendant_for_byte_range(start, end)
    while node is not None:
        if (
            node.type in ("function_definition", "class_definition")
            and node.start_byte == start
            and node.end_byte == end
        ):
            return node
        if node.start_byte < start or node.end_byte > end:
            return None
        node = node.parent
    return None


def write_plan(plan: FilePlan) -> str | None:
    """Write a planned file (atomically, only if it is still what was read, read back and
    compared); the one-line reason it was not written, or None."""
    assert plan.updated is not None
    path = str(plan.path)
    verify = partial(parse_regression, plan.original, path=path)
    try:
        replace_verified(path, plan.updated, plan.original, verify)
    except UnreadableFile as exc:
        return f"cannot write the docstrings: {exc}"
    again, error = read_source(path)
    if again != plan.updated:
        return f"the file did not read back as written ({error or 'other bytes'})"
    return None


def unified_diff(where: str, before: bytes, after: bytes) -> str:
    """``before`` -> ``after`` as ``git diff`` shows it (lines end at ``\\n``: a CRLF line
    keeps its ``\\r``), paths ``a/WHERE`` and ``b/WHERE``."""
    old = _lines(before.decode("utf-8", "surrogateescape"))
    new = _lines(after.decode("utf-8", "surrogateescape"))
    out = []
    for line in difflib.unified_diff(old, new, f"a/{where}", f"b/{where}"):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _lines(text: str) -> list[str]:
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _where(path: Path) -> str:
    return _display(str(path)).replace("\\", "/")


def report_docstrings(
    args: argparse.Namespace,
    run: HeadlessRun,
    summary: RunSummary,
    plans: list[FilePlan],
    write: bool,
) -> int:
    """Print the summary and the diff (``--diff``) or write the files (``--apply``); the
    exit code: 1 when ``--diff`` shows a change, or a file could not be changed."""
    from drain_ls.cli.headless import render_summary

    errors: list[tuple[str, str]] = []
    diffs: list[str] = []
    changed: list[str] = []
    inserted = stale = 0
    for plan in sorted(plans, key=lambda p: _where(p.path)):
        where = _where(plan.path)
        stale += plan.stale
        if plan.error is not None:
            errors.append((where, plan.error))
            continue
        if plan.updated is None:
            continue
        if write:
            error = write_plan(plan)
            if error is not None:
                errors.append((where, error))
                continue
        else:
            diffs.append(unified_diff(where, plan.original, plan.updated))
        changed.append(where)
        inserted += plan.inserted
    verb = "Inserted" if write else "Would insert"
    line = (
        f"{verb} {_plural(inserted, 'generated docstring')} into {_plural(len(changed), 'file')}"
        f"; {_plural(stale, 'stale result')} skipped (made for a definition that has changed)."
    )
    if not inserted and not write:
        line = f"No generated docstrings to insert; {_plural(stale, 'stale result')} skipped."
    for where, error in errors:
        print(f"error: {where}: {error}", file=sys.stderr)
    if args.json:
        data = {"model": run.model, **summary.as_json()}
        data["docstrings"] = {
            "mode": "apply" if write else "diff",
            "docstrings": inserted,
            "files": changed,
            "stale": stale,
            "errors": [{"file": where, "error": error} for where, error in errors],
            **({} if write else {"diff": "".join(diffs)}),
        }
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif write:
        render_summary(summary, run.model)
        print(line)
    else:
        render_summary(summary, run.model, sys.stderr)
        _write_bytes("".join(diffs).encode("utf-8", "surrogateescape"))
        print(line, file=sys.stderr)
    if errors or (diffs and not write):
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _write_bytes(data: bytes) -> None:
    """``data`` on stdout as it is (a CRLF file's lines keep their ``\\r``)."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(data.decode("utf-8", "surrogateescape"))
    else:
        buffer.write(data)
        buffer.flush()
