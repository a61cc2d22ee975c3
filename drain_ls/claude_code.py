"""The ``claude-code`` budget source: how much of its context window Claude Code is using.

With ``budget.source = "claude-code"`` the session limit is the model's context window and
the primary use is the context the latest Claude Code session of this workspace used, read
from its transcript: ``~/.claude/projects/<cwd with / as ->/<session>.jsonl``
(``CLAUDE_CONFIG_DIR`` moves ``~/.claude``). Each assistant message is written once per
content block with the same usage: entries are deduplicated on (``message.id``,
``requestId``), keeping the largest, and the context used is input + cache writes + cache
reads of the last assistant entry. The window is the one the model catalogue gives for that
entry's model (``message.model``); 200,000 tokens for a model it does not know.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

CONTEXT_WINDOW = 200_000


@dataclass(frozen=True, slots=True)
class ContextUse:
    """The context of the latest Claude Code session of a workspace."""

    transcript: Path
    used_tokens: int
    window: int = CONTEXT_WINDOW
    model: str | None = None  # the model of the last assistant entry


def window_of(model: str | None) -> int:
    """The context window of ``model`` from the catalogue (200,000 when unknown)."""
    from drain_ls.models import lookup

    found = lookup(model) if model else None
    return found.context_window if found is not None else CONTEXT_WINDOW


def projects_dir() -> Path:
    """Where Claude Code keeps its transcripts."""
    base = os.environ.get("CLAUDE_CONFIG_DIR")
    return (Path(base) if base else Path.home() / ".claude") / "projects"


def project_key(workspace: Path) -> str:
    """Claude Code's directory name for a working directory: every character but ASCII
    letters and digits becomes ``-``."""
    return re.sub(r"[^A-Za-z0-9]", "-", str(workspace.resolve()))


def context_used(transcript: Path) -> tuple[int, str | None] | None:
    """Input + cache writes + cache reads of the last assistant entry, deduplicated, and
    that entry's model."""
    usages: dict[tuple[str, str], tuple[int, int, str | None]] = {}  # key -> (order, tokens, model)
    order = 0
    try:
        lines = transcript.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line being written
        if not isinstance(entry, dict) or entry.get("type") != "assistant":
            continue
        message = entry.get("message") or {}
        usage = message.get("usage") if isinstance(message, dict) else None
        if not isinstance(usage, dict):
            continue
        tokens = sum(
            value
            for name in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
            if isinstance(value := usage.get(name), int) and not isinstance(value, bool)
        )
        key = (str(message.get("id", "")), str(entry.get("requestId", "")))
        model = message.get("model")
        order += 1
        previous = usages.get(key)
        first_seen = previous[0] if previous else order
        usages[key] = (
            first_seen,
            max(tokens, previous[1] if previous else 0),
            model if isinstance(model, str) else None,
        )
    if not usages:
        return None
    _, tokens, model = max(usages.values(), key=lambda entry: entry[0])
    return tokens, model


def latest_session(workspace: Path) -> ContextUse | None:
    """The context use of the most recently written transcript of ``workspace``."""
    directory = projects_dir() / project_key(workspace)
    try:
        transcripts = sorted(directory.glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
    except OSError:
        return None
    for transcript in reversed(transcripts):
        found = context_used(transcript)
        if found is not None:
            used, model = found
            return ContextUse(transcript, used, window_of(model), model)
    return None
