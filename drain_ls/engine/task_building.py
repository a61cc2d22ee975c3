"""Which drain tasks a file gets: ``build_tasks`` (at once) and ``task_steps`` (a few
definitions at a time), the built-in drains' answer sizes (``answer_tokens``), the fit of a
task in the per-drain cap (``fit``, remembered per content), the context shared between the
tasks of a file, and the tasks of the workspace's custom drains."""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, cast

from cachetools import LRUCache
from tree_sitter import Node

from drain_ls.engine.custom import DEFINITION_SCOPES, CustomDrain
from drain_ls.engine.drains import BUILTIN, MODULE, Task
from drain_ls.engine.outlines import (
    complexity_of,
    context_limit,
    definitions,
    module_outline,
    outline_with_spans,
)

if TYPE_CHECKING:
    from drain_ls.config.drains import DrainsSettings

SIMPLIFY_THRESHOLD = 10

DEFAULT_MAX_TOKENS = {"docstrings": 400, "summaries": 160, "simplify": 240}


def build_tasks(
    uri: str,
    source: bytes,
    root: Node,
    version: int | None,
    docstring_findings: dict[int, str],
    *,
    model: str,
    max_tokens_per_drain: int,
    drains: DrainsSettings,
    style: str = "google",
    redact_secrets: bool = True,
    custom: Sequence[CustomDrain] = (),
    lookup: Callable[[str], str | None] | None = None,
    backend: str = "",
) -> list[Task]:
    """The drain tasks of one document version.

    ``docstring_findings`` maps the name offset of each definition with a D1xx finding to
    its qualified name. ``custom`` are the workspace's drains (in dependency order);
    ``lookup`` finds a result by task key: a drain that runs ``after`` another gets a task
    only once the results it builds on exist.
    """
    steps = task_steps(
        uri,
        source,
        root,
        version,
        docstring_findings,
        model=model,
        max_tokens_per_drain=max_tokens_per_drain,
        drains=drains,
        style=style,
        redact_secrets=redact_secrets,
        custom=custom,
        lookup=lookup,
        backend=backend,
    )
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return cast("list[Task]", done.value)


# Definitions handled between two yields of ``task_steps``.
STEP_DEFINITIONS = 4


def task_steps(
    uri: str,
    source: bytes,
    root: Node,
    version: int | None,
    docstring_findings: dict[int, str],
    *,
    model: str,
    max_tokens_per_drain: int,
    drains: DrainsSettings,
    style: str = "google",
    redact_secrets: bool = True,
    custom: Sequence[CustomDrain] = (),
    lookup: Callable[[str], str | None] | None = None,
    backend: str = "",
) -> Generator[None, None, list[Task]]:
    """``build_tasks`` a few definitions at a time: a generator that yields between steps
    and returns the tasks. The language server runs it on the event loop a slice at a time,
    and drops it when a newer version arrives (the tree it reads may then be edited), so
    that building the tasks of a long module never holds up a keystroke."""
    context, spans = outline_with_spans(source, root, context_limit(max_tokens_per_drain))
    tasks: list[Task] = []
    defs = definitions(root)
    yield
    wanted_drains = [d for d in BUILTIN if drains.is_enabled(d)]
    for index, (node, qualname, public) in enumerate(defs):
        if index and index % STEP_DEFINITIONS == 0:
            yield
        scope = source[node.start_byte : node.end_byte].decode("utf-8", "surrogateescape")
        name = node.child_by_field_name("name")
        wanted: list[str] = []
        if (
            "docstrings" in wanted_drains
            and name is not None
            and name.start_byte in docstring_findings
        ):
            wanted.append("docstrings")
        if public and "summaries" in wanted_drains:
            wanted.append("summaries")
        if (
            "simplify" in wanted_drains
            and node.type == "function_definition"
            and _complexity(node, scope) > SIMPLIFY_THRESHOLD
        ):
            wanted.append("simplify")
        for drain in wanted:
            task = Task(
                drain=drain,
                uri=uri,
                qualname=docstring_findings.get(name.start_byte, qualname) if name else qualname,
                start=node.start_byte,
                end=node.end_byte,
                scope_text=scope,
                context=context,
                model=model,
                max_tokens=answer_tokens(drain, model),
                public=public,
                version=version,
                style=style,
                redact_secrets=redact_secrets,
                backend=backend,
            )
            if model != "offline" and not _fits(task, max_tokens_per_drain):
                continue  # too large for one drain run: never sent
            tasks.append(task)
    if custom:
        yield
        tasks.extend(
            _custom_tasks(
                uri,
                source,
                root,
                version,
                docstring_findings,
                defs,
                context,
                tasks,
                custom,
                lookup or (lambda key: None),
                model=model,
                max_tokens_per_drain=max_tokens_per_drain,
                style=style,
                redact_secrets=redact_secrets,
                backend=backend,
            )
        )
    share_contexts(tasks)
    for task in tasks:
        if task.context and task.context == context:
            task.context_spans = spans
    return tasks


# What tasks built for one version learnt about a definition's text, for the next version
# (most definitions are unchanged from one pause to the next): its complexity, and the
# ``max_tokens`` that ``fit`` left (None: it does not fit).
_COMPLEXITY: LRUCache[str, int] = LRUCache(maxsize=8192)
_FIT: LRUCache[tuple[str, str, bool, str, int, int], int | None] = LRUCache(maxsize=16384)


def _complexity(node: Node, scope: str) -> int:
    known = _COMPLEXITY.get(scope)
    if known is None:
        known = _COMPLEXITY[scope] = complexity_of(node)
    return known


def _fits(task: Task, max_tokens_per_drain: int) -> bool:
    """``fit``, remembered: the content key covers what the request holds but the qualified
    name, the redaction and the kind of scope."""
    memo = (
        task.key,
        task.qualname,
        task.redact_secrets,
        task.scope_kind,
        task.max_tokens,
        max_tokens_per_drain,
    )
    if memo in _FIT:
        room = _FIT[memo]
        if room is None:
            return False
        task.max_tokens = room
        return True
    fits = fit(task, max_tokens_per_drain)
    _FIT[memo] = task.max_tokens if fits else None
    return fits


def answer_tokens(drain: str, model_id: str) -> int:
    """A built-in drain's ``max_tokens`` for its answer on ``model_id``: more on a model
    whose tokenizer counts the same text as more tokens (about 1.3x on Claude 4.7 and
    later: the pricing page), so that the same docstring is not cut short."""
    from drain_ls.models import lookup

    model = lookup(model_id)
    ratio = model.tokens_per_text if model is not None else 1.0
    return math.ceil(DEFAULT_MAX_TOKENS[drain] * max(1.0, ratio))


def fit(task: Task, max_tokens_per_drain: int) -> bool:
    """Shrink the answer's ``max_tokens`` so that the whole request (its input estimate,
    the answer, any thinking the model cannot turn off) stays within the per-drain cap;
    False when fewer than 32 tokens would be left for the answer (never sent)."""
    thinking = task.sent_max_tokens - task.max_tokens
    room = max_tokens_per_drain - task.input_estimate() - thinking
    if room < 32:
        return False
    task.max_tokens = min(task.max_tokens, room)
    return True


def share_contexts(tasks: Sequence[Task]) -> None:
    """Mark the tasks whose context another task of the same file also sends: their
    requests begin with the same bytes, so a cache breakpoint there can be read back."""
    counts: dict[str, int] = {}
    for task in tasks:
        if task.context:
            counts[task.context] = counts.get(task.context, 0) + 1
    for task in tasks:
        task.shared_context = counts.get(task.context, 0) >= 2


def _custom_tasks(
    uri: str,
    source: bytes,
    root: Node,
    version: int | None,
    docstring_findings: dict[int, str],
    defs: list[tuple[Node, str, bool]],
    context: str,
    builtin: list[Task],
    custom: Sequence[CustomDrain],
    lookup: Callable[[str], str | None],
    *,
    model: str,
    max_tokens_per_drain: int,
    style: str,
    redact_secrets: bool,
    backend: str,
) -> list[Task]:
    by_drain: dict[str, list[Task]] = {}
    for task in builtin:
        by_drain.setdefault(task.drain, []).append(task)
    out: list[Task] = []
    for drain in custom:
        if drain.scope == "commits":
            continue  # commit-scope drains run with the commit review
        scopes: list[tuple[str, int, int, str, bool]] = []  # qualname, start, end, text, public
        if drain.scope in DEFINITION_SCOPES:
            kind = f"{drain.scope}_definition"
            for node, qualname, public in defs:
                if node.type != kind:
                    continue
                name = node.child_by_field_name("name")
                missing = name is not None and name.start_byte in docstring_findings
                text = source[node.start_byte : node.end_byte].decode("utf-8", "surrogateescape")
                if not drain.selects(
                    public=public, missing_docstring=missing, complexity=_complexity(node, text)
                ):
                    continue
                scopes.append((qualname, node.start_byte, node.end_byte, text, public))
        elif drain.scope == "module":
            scopes.append((MODULE, 0, len(source), module_outline(source, root, context), True))
        else:
            text = source.decode("utf-8", "surrogateescape")
            scopes.append((MODULE, 0, len(source), text, True))
        made: list[Task] = []
        for qualname, start, end, text, public in scopes:
            inputs = ""
            if drain.after is not None:
                earlier = by_drain.get(drain.after, [])
                if drain.scope in DEFINITION_SCOPES:
                    needed = [t for t in earlier if t.qualname in (qualname, MODULE)]
                else:
                    needed = earlier
                answers = [(t.qualname, lookup(t.key)) for t in needed]
                if any(answer is None for _, answer in answers):
                    continue  # not yet: this task is built when the results are in
                inputs = "\n".join(f"- {name}: {answer}" for name, answer in answers)
            task = Task(
                drain=drain.name,
                uri=uri,
                qualname=qualname,
                start=start,
                end=end,
                scope_text=text,
                context="" if drain.scope in ("module", "file") else context,
                model=model,
                max_tokens=drain.max_tokens,
                public=public,
                version=version,
                style=style,
                redact_secrets=redact_secrets,
                tier=1,
                custom_prompt=drain.prompt,
                inputs=inputs,
                scope_kind=drain.scope,
                backend=backend,
            )
            if model != "offline" and not _fits(task, max_tokens_per_drain):
                continue
            made.append(task)
        by_drain[drain.name] = made
        out.extend(made)
    return out
