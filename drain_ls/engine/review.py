"""The commit review drain (session reflection) and the custom drains with ``scope = "commits"``.

When the editor is idle, the commits made since the last review of the workspace (from the
ledger) are reviewed: ``commits.commits_since`` gathers them (bounded, excluded files
removed, secrets redacted), one task per drain sends them, and the answer becomes a report
entry (``drain.report``, ``drain-ls report``) and, for each finding whose line still exists
in an open document, an Information diagnostic. ``drains.review`` takes ``enabled``,
``maxCommits`` (10), ``maxBytes`` (24,000) and ``pollSeconds`` (30: how often to look for
new commits).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from drain_ls.commits import CommitBatch, ReviewFinding, commits_since, parse_findings
from drain_ls.config.drains import DrainsSettings, ReviewSettings
from drain_ls.engine.custom import BUILTIN_DRAINS, CustomDrain
from drain_ls.engine.drains import Task

REVIEW = BUILTIN_DRAINS["review"].name
DEFAULT_MAX_TOKENS = 700


# ``drains.review``, typed and validated with the settings (``config.drains``).
ReviewOptions = ReviewSettings


def gather(
    root: Path,
    since: str | None,
    options: ReviewOptions,
    exclusions: Callable[[Path], str | None] | None,
    redact_secrets: bool,
) -> CommitBatch | None:
    """The commits to review (None: not a git repository, or nothing new)."""
    return commits_since(
        root,
        since,
        max_commits=options.max_commits,
        max_bytes=options.max_bytes,
        exclusions=exclusions,
        redact_secrets=redact_secrets,
    )


def review_tasks(
    batch: CommitBatch,
    *,
    drains: DrainsSettings,
    custom: Sequence[CustomDrain],
    model: str,
    max_tokens_per_drain: int,
    lookup: Callable[[str], str | None],
    backend: str = "",
) -> list[Task]:
    """The review task and the tasks of custom drains with ``scope = "commits"``.

    They are keyed on the redacted diff: the same commits are never reviewed twice. A
    custom drain that runs ``after = "review"`` gets the review's answer once it exists."""
    if batch.empty:
        return []
    uri = batch.root.as_uri()
    name = f"{batch.first[:12]}..{batch.last[:12]}"
    tasks: list[Task] = []
    by_drain: dict[str, Task] = {}

    def make(drain: str, prompt: str, max_tokens: int, inputs: str = "") -> Task | None:
        task = Task(
            drain=drain,
            uri=uri,
            qualname=name,
            start=0,
            end=0,
            scope_text=batch.diff_text,
            context="",
            model=model,
            max_tokens=max_tokens,
            tier=1,
            custom_prompt=prompt,
            inputs=inputs,
            scope_kind="commits",
            attachment=batch,
            backend=backend,
        )
        if model != "offline":
            # Room for the answer once the input and any thinking the model cannot turn off
            # are counted (``task_building.fit``), with a floor of 64 tokens for a review.
            thinking = task.sent_max_tokens - task.max_tokens
            room = max_tokens_per_drain - task.input_estimate() - thinking
            if room < 64:
                return None  # larger than one drain run may be: never sent
            task.max_tokens = min(task.max_tokens, room)
        return task

    if drains.review.enabled:
        review = make(REVIEW, "", DEFAULT_MAX_TOKENS)
        if review is not None:
            tasks.append(review)
            by_drain[REVIEW] = review
    for drain in custom:
        if drain.scope != "commits":
            continue
        inputs = ""
        if drain.after is not None:
            earlier = by_drain.get(drain.after)
            answer = lookup(earlier.key) if earlier is not None else None
            if earlier is not None and answer is None:
                continue  # not yet
            inputs = f"- {drain.after}: {answer}" if answer else ""
        task = make(drain.name, drain.prompt, drain.max_tokens, inputs)
        if task is not None:
            tasks.append(task)
            by_drain[drain.name] = task
    return tasks


@dataclass(slots=True)
class ReviewResult:
    """A review's answer, what it points at, and the batch it was about."""

    drain: str
    batch: CommitBatch
    text: str
    findings: list[ReviewFinding] = field(default_factory=list)


def read_result(drain: str, batch: CommitBatch, text: str) -> ReviewResult:
    """The findings in a review's answer."""
    return ReviewResult(drain, batch, text, parse_findings(text, batch))
