"""The drains' results from the terminal: ``drain-ls show`` and ``drain-ls run --diff/--apply``.

Where results live (``drain_ls/ledger/``): the results cache is the ledger's ``results``
table, content-addressed. Its key (``Task.key``) hashes the drain, the prompt version, the
model, the docstring style, the definition's text, the file's outline and, for a custom
drain, its prompt and inputs; a row holds the drain, the model that answered, the answer
(``{"text", "model"}``), its tokens, its cost and when it was stored, and nothing about
where the code was. So the results of a definition's *current* text are found by building
its tasks again (``headless.tasks_for_file``) and looking their keys up. What a definition
had before it changed is found through the ledger's run history (the ``runs`` table: the
workspace, the qualified name and the key of every run), which does not record the file:
a definition of the same name in another file of the workspace can be taken for an
earlier version of this one (only ever shown as stale, never applied).

The scheduler caches nothing the free offline backend makes (``Scheduler.free``): ``drain-ls
run`` keeps those answers in the results cache itself (``keep_free_results``) so that
``drain-ls show`` finds them too.

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
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tree_sitter import Node

from drain_ls.analysis.fixes import apply_edits, parse_regression
from drain_ls.analysis.grammar_gaps import normalize_lone_cr
from drain_ls.analysis.model import Edit
from drain_ls.analysis.skeletons import definition_docstring_fix
from drain_ls.analysis.source import parse
from drain_ls.cli import EXIT_CLEAN, EXIT_FINDINGS, UsageError, _display
from drain_ls.engine.drains import BUILTIN, MODULE, definitions, sha
from drain_ls.files import UnreadableFile, read_source, replace_verified
from drain_ls.ledger import Ledger, LedgerError

if TYPE_CHECKING:
    from drain_ls.cli.headless import HeadlessRun, RunSummary
    from drain_ls.config import Settings
    from drain_ls.engine.custom import CustomDrain
    from drain_ls.engine.drains import Task
    from drain_ls.engine.scheduler import Result

DOCSTRINGS = "docstrings"
# The message of the editor's code action (features/actions.generated_docstring_actions).
INSERT_MESSAGE = "Insert generated docstring"
# Run statuses that delivered a result (a request answered, or a cache hit).
_DELIVERED = ("done", "cached")
_CHUNK = 500  # SQL parameters per query


# -- reading the results cache ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stored:
    """One row of the results cache, with its provenance."""

    key: str
    drain: str
    model: str
    text: str
    tokens: int | None
    cost: float | None
    created: float | None


def stored_result(ledger: Ledger, key: str) -> Stored | None:
    """The results cache's row for ``key`` (None: none, or a damaged one), with what
    ``Ledger.result`` leaves out: the drain, the tokens, the cost and when it was stored."""
    rows = ledger.query(
        "SELECT drain, model, value, tokens, cost_usd, created_at FROM results WHERE key = ?",
        (key,),
    )
    if not rows:
        return None
    drain, model, value, tokens, cost, created = rows[0]
    try:
        data = json.loads(value)
    except (TypeError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        return None
    answered = data.get("model")
    return Stored(
        key=key,
        drain=str(drain),
        model=answered if isinstance(answered, str) and answered else str(model),
        text=data["text"],
        tokens=tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None,
        cost=float(cost) if _finite(cost) else None,
        created=float(created) if _finite(created) else None,
    )


def _finite(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


@dataclass(frozen=True, slots=True)
class Made:
    """A result the run history attributes to a name of the workspace."""

    qualname: str
    task_model: str  # the model of the task's key (the model the run asked)
    stored: Stored


def history(
    ledger: Ledger,
    workspace: str,
    qualnames: Iterable[str],
    drain: str | None = None,
    model: str | None = None,
) -> list[Made]:
    """The cached results that runs in ``workspace`` made for these qualified names (by any
    file of it: the ledger does not say which), oldest first."""
    names = sorted(set(qualnames) - {MODULE})  # every file has a <module>: no telling them apart
    seen: dict[str, tuple[str, str]] = {}
    for at in range(0, len(names), _CHUNK):
        chunk = names[at : at + _CHUNK]
        sql = (
            "SELECT scope_key, model, content_hash FROM runs WHERE workspace = ? "
            f"AND status IN ({', '.join('?' * len(_DELIVERED))}) "
            f"AND scope_key IN ({', '.join('?' * len(chunk))})"
        )
        args: list[Any] = [workspace, *_DELIVERED, *chunk]
        if drain is not None:
            sql += " AND drain = ?"
            args.append(drain)
        if model is not None:
            sql += " AND model = ?"
            args.append(model)
        for qualname, task_model, key in ledger.query(sql + " ORDER BY id", tuple(args)):
            seen[str(key)] = (str(qualname), str(task_model))
    made = []
    for key, (qualname, task_model) in seen.items():
        stored = stored_result(ledger, key)
        if stored is not None and (drain is None or stored.drain == drain):
            made.append(Made(qualname, task_model, stored))
    made.sort(key=lambda m: m.stored.created or 0.0)
    return made


def workspace_models(ledger: Ledger, workspace: str) -> list[str]:
    """The models runs in ``workspace`` asked (the keys of their results hash them)."""
    rows = ledger.query(
        "SELECT DISTINCT model FROM runs WHERE workspace = ? "
        f"AND status IN ({', '.join('?' * len(_DELIVERED))})",
        (workspace, *_DELIVERED),
    )
    return sorted(str(row[0]) for row in rows if row[0])


def keep_free_results(ledger: Ledger, results: Sequence[Result]) -> None:
    """Store in the results cache what the free offline backend answered (the scheduler
    caches only paid answers), so that ``drain-ls show`` finds it; a result already there
    keeps its first date. A ledger that cannot be written costs a warning, not the run."""
    try:
        for result in results:
            if result.cached or ledger.result(result.key) is not None:
                continue
            ledger.store_result(
                result.key,
                drain=result.drain,
                model=result.model,
                content_hash=result.key,
                value={"text": result.text, "model": result.model},
                tokens=max(0, int(result.tokens)),
                cost=0.0,
            )
    except LedgerError as exc:
        print(f"warning: the offline results are not kept in the cache: {exc}", file=sys.stderr)


def backend_of(model: str) -> str:
    """The backend that answers as ``model`` (the cache records the model only)."""
    return "offline" if model == "offline" else "anthropic"


def _when(created: float | None) -> str | None:
    if created is None:
        return None
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="seconds")


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


# -- the settings a run would use ------------------------------------------------------------


@dataclass(slots=True)
class Project:
    """What ``drain-ls run`` would work with for a file: its settings and workspace."""

    settings: Settings
    custom: list[CustomDrain]
    workspace: str
    model: str  # the model a run would ask


def project_of(path: Path) -> Project:
    """The settings ``drain-ls run`` resolves for ``path`` (the user's config narrowed by
    the workspace's ``[tool.drain-ls]``), and its workspace (the project root)."""
    from drain_ls.config import camelize_keys, load_user_config, resolve_settings
    from drain_ls.engine.custom import parse_custom_drains
    from drain_ls.files import ConfigError, find_project_config

    try:
        config = find_project_config(path.parent)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    user, user_problems = load_user_config()
    settings, problems, _ = resolve_settings(camelize_keys(config.table), user, {})
    custom, custom_problems = parse_custom_drains(settings.drains.get("custom"))
    for problem in [*user_problems, *problems, *custom_problems]:
        print(f"warning: {problem}", file=sys.stderr)
    root = (config.root or Path.cwd()).resolve()
    model = settings.llm.model if settings.llm.backend != "offline" else "offline"
    return Project(settings, custom, str(root), model)


# -- drain-ls show ------------------------------------------------------------------------------


@dataclass(slots=True)
class Shown:
    """One result of a definition, as ``show`` prints it."""

    drain: str
    stored: Stored
    stale: bool
    dismissed: bool

    def as_json(self) -> dict[str, Any]:
        """The result and its provenance as JSON."""
        stored = self.stored
        return {
            "drain": self.drain,
            "text": stored.text,
            "model": stored.model,
            "backend": backend_of(stored.model),
            "createdAt": _when(stored.created),
            "tokens": stored.tokens,
            "costUsd": round(stored.cost, 6) if stored.cost is not None else None,
            "stale": self.stale,
            "dismissed": self.dismissed,
            "key": stored.key,
        }


@dataclass(slots=True)
class Definition:
    """A definition of the file (or the module), with its results."""

    name: str
    kind: str  # function, class, module
    line: int
    start: int = -1  # byte offset (-1: the module): two definitions may share a name
    results: list[Shown] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The definition and its results as JSON."""
        return {
            "name": self.name,
            "kind": self.kind,
            "line": self.line,
            "results": [r.as_json() for r in self.results],
        }


def split_target(target: str) -> tuple[Path, str | None]:
    """``PATH[:NAME]`` as a path and a qualified name (a path that exists wins: a name
    never hides a file whose own name has a colon)."""
    whole = Path(target)
    if whole.exists() or ":" not in target:
        return whole, None
    path, _, name = target.rpartition(":")
    return Path(path), name.strip() or None


def command_show(args: argparse.Namespace) -> int:
    """``drain-ls show PATH[:NAME]``: the cached results of a file's definitions."""
    path, name = split_target(args.target)
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    if path.is_dir():
        raise UsageError(f"{path}: a directory; show takes a file (PATH[:NAME])")
    source, error = read_source(str(path))
    if source is None:
        print(f"drain-ls: error: {_display(str(path))}: {error}", file=sys.stderr)
        return EXIT_FINDINGS
    project = project_of(path)
    try:
        found = definition_results(path.resolve(), source, project, Ledger())
    except LedgerError as exc:
        print(f"drain-ls: error: {exc}", file=sys.stderr)
        return EXIT_FINDINGS
    where = _display(str(path))
    if name is not None:
        chosen = [d for d in found if d.name == name]
        if not chosen:
            raise UsageError(_not_found(where, name, [d.name for d in found]))
        found = chosen
    found = [d for d in found if d.results]
    if not found:
        what = f"{where}:{name}" if name is not None else where
        hint = _display(str(path))
        print(
            f"drain-ls: error: {what}: no drain results in the cache "
            f"(`drain-ls run {hint}` makes them)",
            file=sys.stderr,
        )
        return EXIT_FINDINGS
    if args.json:
        json.dump(
            {"file": where, "definitions": [d.as_json() for d in found]}, sys.stdout, indent=2
        )
        sys.stdout.write("\n")
        return EXIT_CLEAN
    for index, definition in enumerate(found):
        if index:
            print()
        print(f"{where}:{definition.line}: {definition.name} ({definition.kind})")
        for shown in definition.results:
            print(_provenance_line(shown))
            for line in shown.stored.text.splitlines() or [""]:
                print(f"    {line}".rstrip())
    return EXIT_CLEAN


def _provenance_line(shown: Shown) -> str:
    stored = shown.stored
    parts = [f"{stored.model} ({backend_of(stored.model)})"]
    when = _when(stored.created)
    parts.append(when.replace("T", " ").replace("+00:00", " UTC") if when else "date unknown")
    parts.append(f"{stored.tokens:,} tokens" if stored.tokens is not None else "tokens unknown")
    parts.append(f"${stored.cost:.6f}" if stored.cost is not None else "cost unknown")
    state = "STALE: made for an earlier text of this definition" if shown.stale else "current"
    if shown.dismissed:
        state += ", dismissed in the editor"
    return f"  {shown.drain} [{state}]: {', '.join(parts)}"


def _not_found(where: str, name: str, names: list[str]) -> str:
    """A name the file does not define, with the close ones it does."""
    tail = [n for n in names if n.rsplit(".", 1)[-1] == name.rsplit(".", 1)[-1] and n != name]
    close = tail + [n for n in difflib.get_close_matches(name, names, n=5) if n not in tail]
    if close:
        return f"{where} has no definition `{name}`; close matches: {', '.join(close[:5])}"
    return f"{where} has no definition `{name}` (no close match)"


def definition_results(
    path: Path, source: bytes, project: Project, ledger: Ledger
) -> list[Definition]:
    """Every definition of the file (and ``<module>``), in order, with its cached results:
    per drain and model, the result for the current text, else the latest one made for an
    earlier text (stale)."""
    from drain_ls.engine.file_tasks import tasks_for_file

    tree = parse(normalize_lone_cr(source))
    module = Definition(MODULE, "module", 1)
    found: list[Definition] = [module]
    by_start: dict[int, Definition] = {}
    by_name: dict[str, Definition] = {}
    for node, qualname, _ in definitions(tree.root_node):
        kind = "class" if node.type == "class_definition" else "function"
        definition = Definition(qualname, kind, node.start_point.row + 1, node.start_byte)
        found.append(definition)
        by_start[node.start_byte] = definition
        by_name.setdefault(qualname, definition)

    def lookup(key: str) -> str | None:
        stored = stored_result(ledger, key)
        return stored.text if stored is not None else None

    models = {project.model, "offline", *workspace_models(ledger, project.workspace)}
    current: set[str] = set()
    # (definition, drain, model) -> the result shown
    chosen: dict[tuple[int, str, str], tuple[Definition, Shown]] = {}
    for model in sorted(models):
        for task in tasks_for_file(path, project.settings, model, project.custom, lookup, source):
            current.add(task.key)
            stored = stored_result(ledger, task.key)
            if stored is None:
                continue
            place = module
            if task.qualname != MODULE:
                place = by_start.get(task.start) or by_name.get(task.qualname) or module
            shown = Shown(task.drain, stored, False, ledger.dismissed(task.key))
            chosen[(place.start, task.drain, model)] = (place, shown)
    for made in history(ledger, project.workspace, by_name):
        place = by_name[made.qualname]
        slot = (place.start, made.stored.drain, made.task_model)
        if made.stored.key in current or (slot in chosen and not chosen[slot][1].stale):
            continue
        dismissed = ledger.dismissed(made.stored.key)
        chosen[slot] = (place, Shown(made.stored.drain, made.stored, True, dismissed))  # latest
    for place, shown in chosen.values():
        place.results.append(shown)
    order = {name: index for index, name in enumerate(BUILTIN)}
    for index, drain in enumerate(project.custom):
        order.setdefault(drain.name, len(BUILTIN) + index)
    for definition in found:
        definition.results.sort(
            key=lambda s: (order.get(s.drain, len(order)), s.drain, s.stale, s.stored.model)
        )
    return found


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
                    path, run.settings, run.model, run.custom, run.lookup, source
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
    return str(cached["text"]) if cached is not None else None


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
    tree = parse(normalize_lone_cr(source))
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
