"""The built-in drains: what each one scopes, what it asks, and how its answer is checked.

- ``docstrings``: a docstring for each definition with a D1xx finding. The answer must be a
  single string literal; it is offered as the code action "Insert generated docstring".
- ``summaries``: two sentences about each public function and class, shown in hover with
  their provenance.
- ``simplify``: for functions whose cyclomatic complexity passes a threshold, one concrete
  suggestion, shown as an Information diagnostic.

Every task is content-addressed (docs/drains/index.md): its key hashes the drain, the
prompt version, the model, the scoped definition's text and the file's context (an outline:
imports and signatures). Editing one function never invalidates another's result.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import cast

from cachetools import LRUCache
from tree_sitter import Node

from drain_ls.analysis.complexity import cyclomatic_complexity
from drain_ls.backends.base import DrainRequest
from drain_ls.budget import Price, estimate_input_tokens
from drain_ls.engine.custom import BUILTIN_DRAINS, DEFINITION_SCOPES, CustomDrain
from drain_ls.privacy import redact

PROMPT_VERSION = "1"
# The built-in drains that read a definition (``custom.BUILTIN_DRAINS``).
BUILTIN = tuple(d.name for d in BUILTIN_DRAINS.values() if d.scope == "definition")
SIMPLIFY_THRESHOLD = 10
MAX_CONTEXT_BYTES = 12_000
MAX_SCOPE_BYTES = 12_000

INSTRUCTIONS = {
    "docstrings": (
        "You write Python docstrings. Answer with exactly one Python string literal in "
        "triple double quotes, nothing else: a one-line summary, then the arguments, return "
        "value and exceptions in {style} style. Do not repeat the code."
    ),
    "summaries": (
        "You summarize Python code for a colleague. Answer with two plain sentences: what "
        "the definition does, and what to watch out for. No markdown."
    ),
    "simplify": (
        "You review Python functions that are too complex. Answer with one concrete "
        "suggestion (at most three sentences) that would lower the complexity."
    ),
}


CUSTOM_INSTRUCTIONS = (
    "You are a background assistant working on a Python code base for its developers. "
    "Answer briefly, in plain text, without markdown headings. The task:\n\n"
)
MODULE = "<module>"


@functools.lru_cache(maxsize=8192)
def _redacted(text: str) -> str:
    """``text`` with its secrets redacted, remembered: every task of a file sends the same
    context, and tasks are built again for every version (redacting each anew took a
    second on a 10,000-line module at every pause)."""
    return redact(text)[0]


def sha(*parts: str) -> str:
    """A short content hash."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogateescape"))
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def context_limit(max_tokens_per_drain: int) -> int:
    """How long a file's context may be: at most half of what one drain run may reserve
    (its input is counted at a token a byte), so that the outline of a long module never
    leaves no room for the definition and the answer (it did: no drain ever ran on a
    module whose outline passed about 4.5 KB)."""
    return max(0, min(MAX_CONTEXT_BYTES, max_tokens_per_drain // 2))


def outline(source: bytes, root: Node, limit: int = MAX_CONTEXT_BYTES) -> str:
    """The file's context for every drain on it: its imports and module-level signatures,
    whole lines of it up to ``limit`` characters."""
    return outline_with_spans(source, root, limit)[0]


_DEFINITIONS = ("function_definition", "class_definition", "decorated_definition")


def outline_with_spans(
    source: bytes, root: Node, limit: int = MAX_CONTEXT_BYTES
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """``outline``, and the byte ranges of the source it was made from: an edit there makes
    the context a running drain sent stale (``Scheduler.edited``)."""
    lines: list[str] = []
    spans: list[tuple[int, int]] = []
    size = -1
    for node in root.named_children:
        kind = node.type
        if kind == "ERROR" or (node.has_error and kind not in _DEFINITIONS):
            # Broken text at module level (an import being typed): not in the outline, but
            # an edit there may put it back.
            spans.append((node.start_byte, node.end_byte))
            continue
        if kind in ("import_statement", "import_from_statement", "future_import_statement"):
            line = (node.text or b"").decode("utf-8", "replace")
            span = (node.start_byte, node.end_byte)
        else:
            definition = (
                node.child_by_field_name("definition") if kind == "decorated_definition" else node
            )
            if definition is None or definition.type not in (
                "function_definition",
                "class_definition",
            ):
                continue
            body = definition.child_by_field_name("body")
            end = body.start_byte if body is not None else definition.end_byte
            raw = source[definition.start_byte : end].rstrip()
            line = " ".join(raw.decode("utf-8", "replace").split())
            span = (node.start_byte, definition.start_byte + len(raw))  # to the ``:``
        if size + 1 + len(line) > limit:
            break
        size += 1 + len(line)
        lines.append(line)
        spans.append(span)
    return "\n".join(lines), tuple(spans)


@dataclass(slots=True)
class Task:
    """One unit of drain work on one definition of one open document."""

    drain: str
    uri: str
    qualname: str
    start: int  # byte range of the definition in the version it was made from
    end: int
    scope_text: str
    context: str
    model: str
    max_tokens: int
    public: bool = True
    version: int | None = None
    style: str = "google"
    priority: float = 0.0
    redact_secrets: bool = True
    tier: int = 2  # 1: the workspace's custom drains and commit review; 2: built-in drains
    custom_prompt: str = ""  # a custom drain's prompt (its instructions)
    inputs: str = ""  # the results of the drain this one runs after
    scope_kind: str = ""  # function, class, module, file, commits
    # What a local backend may use besides the text (a commit review's batch); never sent.
    attachment: object = field(default=None, repr=False, compare=False)
    # Other tasks of the same file send the same context: worth a cache breakpoint when it
    # is long enough for the model (``share_context``).
    shared_context: bool = field(default=False, compare=False)
    # The byte ranges of the document the context was made from (moved by edits).
    context_spans: tuple[tuple[int, int], ...] = field(default=(), compare=False)
    # Who answers, when the model's name alone does not say it: the ``openai`` backend and its
    # endpoint (``engine.choices.BackendChoice.cache_id``); part of the key when set.
    backend: str = ""
    key: str = field(init=False)

    def __post_init__(self) -> None:
        """Content address: drain, prompt version, model, scope text and context (and for a
        custom drain its prompt and the results it was given)."""
        self.key = sha(
            self.drain,
            PROMPT_VERSION,
            self.model,
            self.style,
            self.scope_text,
            self.context,
            self.custom_prompt,
            self.inputs,
            *((self.backend,) if self.backend else ()),
        )

    @property
    def slot(self) -> tuple[str, str, str]:
        """What a newer task for the same place replaces."""
        return (self.drain, self.uri, self.qualname)

    @property
    def sent_max_tokens(self) -> int:
        """The ``max_tokens`` the request carries: the answer's, plus the thinking a model
        cannot turn off (what a reservation covers)."""
        from drain_ls.models import lookup

        model = lookup(self.model)
        return self.max_tokens + (model.thinking_allowance if model is not None else 0)

    def request(self) -> DrainRequest:
        """The request this task sends: secrets in the code redacted first."""
        if self.custom_prompt:
            instructions = CUSTOM_INSTRUCTIONS + self.custom_prompt
        elif self.drain == "review":
            from drain_ls.commits import REVIEW_INSTRUCTIONS

            instructions = REVIEW_INSTRUCTIONS
        else:
            instructions = INSTRUCTIONS[self.drain].format(style=self.style)
        scope, context, inputs = self.scope_text, self.context, self.inputs
        if self.redact_secrets:
            scope, context, inputs = _redacted(scope), _redacted(context), _redacted(inputs)
        what = {"module": "Module outline", "file": "File", "commits": "Commits"}.get(
            self.scope_kind, "Definition"
        )
        prompt = f"{what} `{self.qualname}`:\n\n{scope[:MAX_SCOPE_BYTES]}"
        if inputs:
            prompt += f"\n\nEarlier results to build on:\n{inputs[:MAX_CONTEXT_BYTES]}"
        return DrainRequest(
            drain=self.drain,
            model=self.model,
            max_tokens=self.sent_max_tokens,
            context=context,
            cache_context=self.shared_context and cacheable(self.model, context),
            prompt=prompt,
            instructions=instructions,
            scope=scope,
            style=self.style,
            scope_kind=self.scope_kind,
            inputs=inputs,
            attachment=self.attachment,
        )

    def input_estimate(self) -> int:
        """An upper bound on the input tokens (see ``estimate_input_tokens``)."""
        request = self.request()
        return estimate_input_tokens(request.instructions, request.context, request.prompt)


def validate(drain: str, text: str) -> str | None:
    """The answer, cleaned, or None when it is not what the drain asked for."""
    text = text.strip()
    if not text:
        return None
    if drain == "docstrings":
        if text.startswith("```"):
            text = text.strip("`").removeprefix("python").strip()
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return None
        if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
            return None
        value = tree.body[0].value
        if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
            return None
        return text
    if drain in BUILTIN:
        return " ".join(text.split())[:600]
    # Custom drains and reviews keep their lines (a report entry may be a list).
    lines = [line.rstrip() for line in text.splitlines()]
    return "\n".join(lines)[:4000].strip() or None


def definitions(root: Node) -> list[tuple[Node, str, bool]]:
    """Every function and class definition outside function bodies: (node, qualname, public)."""
    out: list[tuple[Node, str, bool]] = []
    stack: list[tuple[Node, str, bool]] = [(root, "", True)]
    while stack:
        container, prefix, public = stack.pop()
        for child in container.named_children:
            node = (
                child.child_by_field_name("definition")
                if child.type == "decorated_definition"
                else child
            )
            if node is None or node.type not in ("function_definition", "class_definition"):
                continue
            name_node = node.child_by_field_name("name")
            name = (name_node.text or b"").decode("utf-8", "replace") if name_node else "?"
            is_public = public and not (name.startswith("_") and not name.endswith("__"))
            out.append((node, prefix + name, is_public))
            if node.type == "class_definition":
                body = node.child_by_field_name("body")
                if body is not None:
                    stack.append((body, prefix + name + ".", is_public))
    out.sort(key=lambda item: item[0].start_byte)
    return out


def qualname_of(definition: Node) -> str | None:
    """The qualified name ``definitions`` gives a function or class definition, from its
    ancestors alone (a hover asks for one, and a long module has a thousand); None for one
    that ``definitions`` leaves out (inside a function body, an ``if`` or any other
    statement)."""
    names: list[str] = []
    node = definition
    while True:
        name = node.child_by_field_name("name")
        names.append((name.text or b"").decode("utf-8", "replace") if name else "?")
        holder = node.parent
        if holder is not None and holder.type == "decorated_definition":
            holder = holder.parent
        if holder is None:
            return None
        if holder.type == "module":
            return ".".join(reversed(names))
        owner = holder.parent if holder.type == "block" else None
        if owner is None or owner.type != "class_definition":
            return None
        node = owner


def complexity_of(node: Node) -> int:
    """Cyclomatic complexity of a function (1 for a class)."""
    return cyclomatic_complexity(node) if node.type == "function_definition" else 1


DEFAULT_MAX_TOKENS = {"docstrings": 400, "summaries": 160, "simplify": 240}


def enabled(drains: dict[str, object], name: str) -> bool:
    """``drains.<name>.enabled`` (on by default)."""
    entry = drains.get(name)
    if isinstance(entry, dict):
        return bool(entry.get("enabled", True))
    return True


def concurrency(drains: dict[str, object]) -> int:
    """``drains.concurrency``: how many drains may stream at once (default 2, at most 16)."""
    value = drains.get("concurrency", 2)
    return value if isinstance(value, int) and 1 <= value <= 16 else 2


def build_tasks(
    uri: str,
    source: bytes,
    root: Node,
    version: int | None,
    docstring_findings: dict[int, str],
    *,
    model: str,
    max_tokens_per_drain: int,
    drains: dict[str, object],
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
    drains: dict[str, object],
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
    wanted_drains = [d for d in BUILTIN if enabled(drains, d)]
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


def cacheable(model_id: str, context: str) -> bool:
    """The context is long enough for ``model_id`` to cache it (the prompt-caching page: a
    prefix under the model's minimum is silently not cached, so a breakpoint there would
    only be noise). Counted low (3.5 bytes a token, times the model's tokenizer ratio)."""
    from drain_ls.models import lookup

    model = lookup(model_id)
    if model is None or not context:
        return False
    tokens = len(context.encode("utf-8")) / 3.5 * model.tokens_per_text
    return tokens >= model.min_cacheable


def module_outline(source: bytes, root: Node, context: str) -> str:
    """What a ``module``-scope drain sees: the module docstring, then the outline."""
    first = next((c for c in root.named_children if c.type != "comment"), None)
    doc = ""
    if first is not None and first.type == "expression_statement" and first.named_child_count:
        value = first.named_children[0]
        if value.type in ("string", "concatenated_string"):
            doc = source[first.start_byte : first.end_byte].decode("utf-8", "replace") + "\n"
    return doc + context


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


def preview(task: Task, price: Price | None = None) -> dict[str, object]:
    """Exactly what ``task`` would send (after redaction), what was redacted, and the worst
    case it would reserve at ``price`` (default: the model's in the catalogue)."""
    from drain_ls.budget import price_of, unknown_model, worst_case

    request = task.request()
    found = redact(task.scope_text)[1] if task.redact_secrets else []
    estimate = task.input_estimate()
    price = price or price_of(task.model)
    if price is None:
        raise ValueError(unknown_model(task.model))
    tokens, usd = worst_case(estimate, request.max_tokens, price)
    return {
        "drain": task.drain,
        "qualname": task.qualname,
        "request": {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "system": [part for part in (request.context, request.instructions) if part],
            "messages": [{"role": "user", "content": request.prompt}],
        },
        "redactions": [{"kind": r.kind, "line": r.line} for r in found],
        "inputTokensEstimate": estimate,
        "worstCaseTokens": tokens,
        "worstCaseUsd": round(usd, 6),
    }
