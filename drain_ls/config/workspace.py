"""The workspace's settings layer: one loader for the language server, ``drain-ls run`` and
``drain-ls show`` (``drain-ls check`` finds the same ``pyproject.toml`` the same way, and
reads its rule settings strictly, as ruff does)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drain_ls.config.layers import camelize_keys
from drain_ls.config.settings import requires_python_layer
from drain_ls.files import ProjectConfig, find_project_config


def workspace_layer(start: Path) -> tuple[dict[str, Any], ProjectConfig]:
    """The settings layer of the workspace ``start`` (a file or a directory) is in: the
    ``[tool.drain-ls]`` table of the nearest ``pyproject.toml`` at or above it, camelized,
    with the target version its ``[project] requires-python`` implies when it sets none
    (untrusted: ``resolve_settings`` narrows it); and the project found. Raises
    ``ConfigError`` for a ``pyproject.toml`` that cannot be read."""
    project = find_project_config(start if start.is_dir() else start.parent)
    return requires_python_layer(camelize_keys(project.table), project.requires_python), project
