"""The drain tasks of files on disk, as the editor would make them for the same text:
what ``drain-ls run`` and the deferred queue (tasks of files that are not open) send."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from drain_ls.analysis.checker import CheckSettings, check_source
from drain_ls.analysis.grammar_gaps import parse_input
from drain_ls.analysis.source import parse
from drain_ls.config import Settings
from drain_ls.engine.choices import DEFINITION_CODES, docstring_findings
from drain_ls.engine.custom import CustomDrain
from drain_ls.engine.drains import MODULE, Task, definitions
from drain_ls.engine.task_building import build_tasks
from drain_ls.files import read_source


def read_python(path: Path) -> bytes | None:
    """A Python file's bytes, or None when it cannot be read, is binary or is not UTF-8."""
    return read_source(str(path))[0]


def scopes_of(source: bytes) -> set[str]:
    """The qualified names of a file's definitions, and ``<module>``."""
    return {MODULE} | {name for _, name, _ in definitions(parse(parse_input(source)).root_node)}


def tasks_for_file(
    path: Path,
    settings: Settings,
    model: str,
    custom: Sequence[CustomDrain],
    lookup: Callable[[str], str | None],
    source: bytes | None = None,
    backend: str = "",
) -> list[Task]:
    """The drain tasks of a file on disk (as the editor would make them for it);
    ``backend``: ``BackendChoice.cache_id``."""
    source = source if source is not None else read_python(path)
    if source is None:
        return []
    # Parsed as the checks parse it (lone CRs are line breaks: same length, same offsets).
    tree = parse(parse_input(source))
    select = DEFINITION_CODES & settings.codes  # `select`/`ignore` hold for drains too
    check = CheckSettings(select=select, target_version=settings.target)
    names = docstring_findings(check_source(source, str(path), check, tree))
    return build_tasks(
        path.as_uri(),
        source,
        tree.root_node,
        None,
        names,
        model=model,
        max_tokens_per_drain=settings.budget.max_tokens_per_drain,
        drains=settings.drains,
        style=settings.docstring_style,
        redact_secrets=settings.privacy.redact_secrets,
        custom=custom,
        lookup=lookup,
        backend=backend,
    )
