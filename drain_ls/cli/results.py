"""The drains' results in the results cache, as the terminal reads them: for ``drain-ls show``
(``cli.show``) and ``drain-ls run --diff/--apply`` (``cli.apply_docstrings``).

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

The settings a run would use for a file (``project_of``) are here too.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drain_ls.cli.common import UsageError
from drain_ls.engine.drains import MODULE
from drain_ls.ledger import Ledger, LedgerError, ResultRow, RunStatus

if TYPE_CHECKING:
    from drain_ls.config import Settings
    from drain_ls.engine.custom import CustomDrain
    from drain_ls.engine.outcomes import Result

# Run statuses that delivered a result (a request answered, or a cache hit).
_DELIVERED = (RunStatus.DONE, RunStatus.CACHED)


# -- reading the results cache ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Made:
    """A result the run history attributes to a name of the workspace."""

    qualname: str
    task_model: str  # the model of the task's key (the model the run asked)
    stored: ResultRow


def history(
    ledger: Ledger,
    workspace: str,
    qualnames: Iterable[str],
    drain: str | None = None,
    model: str | None = None,
) -> list[Made]:
    """The cached results that runs in ``workspace`` made for these qualified names (by any
    file of it: the ledger does not say which), oldest first."""
    names = set(qualnames) - {MODULE}  # every file has a <module>: no telling them apart
    seen: dict[str, tuple[str, str]] = {}
    for run in ledger.runs(
        workspace=workspace, status=_DELIVERED, scope_keys=names, drain=drain, model=model
    ):
        seen[run.content_hash] = (run.scope_key, run.model)
    made = []
    for key, (qualname, task_model) in seen.items():
        stored = ledger.result(key)
        if stored is not None and (drain is None or stored.drain == drain):
            made.append(Made(qualname, task_model, stored))
    made.sort(key=lambda m: m.stored.created_at or 0.0)
    return made


def workspace_models(ledger: Ledger, workspace: str) -> list[str]:
    """The models runs in ``workspace`` asked (the keys of their results hash them)."""
    return ledger.run_models(workspace=workspace, status=_DELIVERED)


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


# -- the settings a run would use ------------------------------------------------------------


@dataclass(slots=True)
class Project:
    """What ``drain-ls run`` would work with for a file: its settings and workspace."""

    settings: Settings
    custom: list[CustomDrain]
    workspace: str
    model: str  # the model a run would ask
    cache_id: str = ""  # what else keys its results (``BackendChoice.cache_id``)


def project_of(path: Path, flags: dict[str, Any] | None = None) -> Project:
    """The settings ``drain-ls run`` resolves for ``path`` (the user's config narrowed by
    the workspace's ``[tool.drain-ls]``, ``flags`` on top: ``--backend``, ``--base-url``,
    ``--model``), and its workspace (the project root)."""
    from drain_ls.config import load_user_config, resolve_settings
    from drain_ls.config.workspace import workspace_layer
    from drain_ls.engine.choices import choose_backend
    from drain_ls.files import ConfigError

    try:
        layer, config = workspace_layer(path)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    user, user_problems = load_user_config()
    settings, problems, _ = resolve_settings(layer, user, flags or {})
    custom, custom_problems = list(settings.drains.custom.valid), settings.drains.custom.problems
    for problem in [*user_problems, *problems, *custom_problems]:
        print(f"warning: {problem}", file=sys.stderr)
    root = (config.root or Path.cwd()).resolve()
    choice = choose_backend(settings, preview=True)
    return Project(settings, custom, str(root), choice.model, choice.cache_id)
