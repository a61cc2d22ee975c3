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

Which tasks a file gets is ``task_building``'s to say; what a drain sees of a file (its
outline, its definitions) is ``outlines``'s (re-exported here).
"""

from __future__ import annotations

import ast
import functools
import hashlib
from dataclasses import dataclass, field

from drain_ls.backends.base import DrainRequest
from drain_ls.budget import Price, estimate_input_tokens
from drain_ls.engine.custom import BUILTIN_DRAINS
from drain_ls.engine.outlines import (
    MAX_CONTEXT_BYTES,
    complexity_of,
    context_limit,
    definitions,
    module_outline,
    outline,
    outline_with_spans,
    qualname_of,
)
from drain_ls.privacy import redact

__all__ = [
    "BUILTIN",
    "CUSTOM_INSTRUCTIONS",
    "INSTRUCTIONS",
    "MAX_CONTEXT_BYTES",
    "MAX_SCOPE_BYTES",
    "MODULE",
    "PROMPT_VERSION",
    "Task",
    "cacheable",
    "complexity_of",
    "context_limit",
    "definitions",
    "module_outline",
    "outline",
    "outline_with_spans",
    "preview",
    "qualname_of",
    "sha",
    "validate",
]

PROMPT_VERSION = "1"
# The built-in drains that read a definition (``custom.BUILTIN_DRAINS``).
BUILTIN = tuple(d.name for d in BUILTIN_DRAINS.values() if d.scope == "definition")
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
