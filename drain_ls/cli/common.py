"""What the ``drain-ls`` commands share: the exit codes, a usage error (exit code 2), the
user's own settings for a command that reads no workspace, and paths as the user sees them
(relative to the working directory)."""

from __future__ import annotations

import argparse
import os
from functools import lru_cache
from typing import Any

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # as shells report a command that SIGINT stopped


class UsageError(Exception):
    """A command-line mistake: exit code 2."""


def user_settings() -> tuple[Any, list[str]]:
    """The user's own settings (the user config file), for commands that read no workspace."""
    from drain_ls.config import build_settings, load_user_config

    layer, problems = load_user_config()
    settings, more = build_settings(layer)
    return settings, [*problems, *more]


def _display(path: str) -> str:
    return _relative(path, os.getcwd())


@lru_cache(maxsize=4096)
def _relative(path: str, cwd: str) -> str:
    """``path`` relative to ``cwd``, remembered: every finding of a file asks (10 us each)."""
    try:
        return os.path.relpath(path, cwd)
    except ValueError:
        return path


def llm_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The user's ``--backend``, ``--base-url`` and ``--model`` as a settings layer (of
    ``drain-ls run`` and ``drain-ls show``; a command without them gives none)."""
    given = {
        "backend": getattr(args, "backend", None),
        "baseUrl": getattr(args, "base_url", None),
        "model": getattr(args, "model", None),
    }
    chosen = {name: value for name, value in given.items() if value}
    return {"llm": chosen} if chosen else {}
