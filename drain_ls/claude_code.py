"""The ``claude-code`` budget source: how much of its context window Claude Code is using.

With ``budget.source = "claude-code"`` the session limit is the model's context window and
the primary use is the context the latest Claude Code session of this workspace used, read
from its transcript: ``~/.claude/projects/<cwd with / as ->/<session>.jsonl``
(``CLAUDE_CONFIG_DIR`` moves ``~/.claude``). Each assistant message is written once per
content block with the same usage: entries are deduplicated on (``message.id``,
``requestId``), keeping the largest, and the context used is input + cache writes + cache
reads of the last assistant entry.
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


def projects_dir() -> Path:
    """Where Claude Code keeps its transcripts."""
    base = os.environ.get("CLAUDE_CONFIG_DIR")
    return (Path(base) if base else Path.home() / ".claude") / "projects"


def project_key(workspace: Path) -> str:
    """Claude Code's directory name for a working directory: every character but ASCII
    letters and digits becomes ``-``."""
    return re.sub(r"[^A-Za-z0-9]", "-", str(workspace.resolve()))


def context_used(transcript: Path) -> int | None:
    """Input + cache writes + cache reads of the last assistant entry, deduplicated."""
    usages: dict[tuple[str, str], tuple[int, int]] = {}  # key -> (order, tokens)
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
        order += 1
        previous = usages.get(key)
        first_seen = previous[0] if previous else order
        usages[key] = (first_seen, max(tokens, previous[1] if previous else 0))
    if not usages:
        return None
    return max(usages.values())[1]


def latest_session(workspace: Path) -> ContextUse | None:
    """The context use of the most recently written transcript of ``workspace``."""
    directory = projects_dir() / project_key(workspace)
    try:
        transcripts = sorted(directory.glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
    except OSError:
        return None
    for transcript in reversed(transcripts):
        used = context_used(transcript)
        if used is not None:
            return ContextUse(transcript, used)
    return None
