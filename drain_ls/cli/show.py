"""``drain-ls show PATH[:NAME]``: the cached results of a file's definitions (or of one),
with their provenance: drain, model and backend, when, tokens and cost, and whether each
was made for the current text of its definition or an earlier one (stale)."""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drain_ls.analysis.grammar_gaps import parse_input
from drain_ls.analysis.source import parse
from drain_ls.cli.common import EXIT_CLEAN, EXIT_FINDINGS, UsageError, _display, llm_flags
from drain_ls.cli.results import (
    Project,
    _when,
    backend_of,
    history,
    project_of,
    workspace_models,
)
from drain_ls.engine.drains import BUILTIN, MODULE, definitions
from drain_ls.files import read_source
from drain_ls.ledger import Ledger, LedgerError, ResultRow

# -- drain-ls show ------------------------------------------------------------------------------


@dataclass(slots=True)
class Shown:
    """One result of a definition, as ``show`` prints it."""

    drain: str
    stored: ResultRow
    stale: bool
    dismissed: bool
    backend: str = ""  # who answered, when known ("openai URL"); else from the model

    def as_json(self) -> dict[str, Any]:
        """The result and its provenance as JSON."""
        stored = self.stored
        return {
            "drain": self.drain,
            "text": stored.text,
            "model": stored.model,
            "backend": self.backend or backend_of(stored.model),
            "createdAt": _when(stored.created_at),
            "tokens": stored.tokens,
            "costUsd": round(stored.cost_usd, 6) if stored.cost_usd is not None else None,
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
    project = project_of(path, llm_flags(args))
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
    parts = [f"{stored.model} ({shown.backend or backend_of(stored.model)})"]
    when = _when(stored.created_at)
    parts.append(when.replace("T", " ").replace("+00:00", " UTC") if when else "date unknown")
    parts.append(f"{stored.tokens:,} tokens" if stored.tokens is not None else "tokens unknown")
    parts.append(f"${stored.cost_usd:.6f}" if stored.cost_usd is not None else "cost unknown")
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

    tree = parse(parse_input(source))
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
        stored = ledger.result(key)
        return stored.text if stored is not None else None

    models = {project.model, "offline", *workspace_models(ledger, project.workspace)}
    current: set[str] = set()
    # (definition, drain, model) -> the result shown
    chosen: dict[tuple[int, str, str], tuple[Definition, Shown]] = {}
    for model in sorted(models):
        # The endpoint of an ``openai`` backend keys its results too (``Task.backend``).
        ids = [""] + ([project.cache_id] if project.cache_id and model == project.model else [])
        for cache_id in ids:
            for task in tasks_for_file(
                path, project.settings, model, project.custom, lookup, source, cache_id
            ):
                current.add(task.key)
                stored = ledger.result(task.key)
                if stored is None:
                    continue
                place = module
                if task.qualname != MODULE:
                    place = by_start.get(task.start) or by_name.get(task.qualname) or module
                shown = Shown(task.drain, stored, False, ledger.dismissed(task.key), cache_id)
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
