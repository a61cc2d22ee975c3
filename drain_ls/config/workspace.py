"""A project's settings layer, from the nearest ``pyproject.toml`` at or above a file: one
loader for the language server, ``drain-ls check``, ``drain-ls run`` and ``drain-ls show``.

``workspace_layer`` is a workspace's whole ``[tool.drain-ls]`` (untrusted:
``resolve_settings`` narrows it). The static checks' settings (``RULE_KEYS``: ``select``,
``ignore``, ``docstring-style``, ``target-version``, the last implied by ``[project]
requires-python`` when not set) are checked and normalized by ``rule_layer`` for every
reader; ``check_settings_of`` resolves them under the user's layers (the editor's settings,
or ``drain-ls check``'s flags: they are "free", so the user's value wins). ``strict``
(``drain-ls check``) turns an invalid value into a ``ConfigError`` naming the file, as ruff
does; otherwise (the editor) ``resolve_settings`` reports it, and it is ignored.

``ProjectFinder`` finds each directory's nearest ``pyproject.toml`` as ``find_project_config``
does (at or above it, up to the file system's root), looking at each directory and reading
each file once until told that one changed (``forget``): the editor resolves the rules per
document with it, ``drain-ls check`` per file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from drain_ls.analysis.check_settings import DOCSTRING_STYLES, CheckSettings
from drain_ls.analysis.targets import TARGET_NAMES, parse_target_version
from drain_ls.config.layers import camelize_keys, unknown_selector
from drain_ls.config.settings import requires_python_layer
from drain_ls.config.trust import resolve_settings
from drain_ls.files import ConfigError, ProjectConfig, find_project_config

# The settings of the static checks a project may set (camelized).
RULE_KEYS = ("select", "ignore", "docstringStyle", "targetVersion")
_TOML_NAMES = {"docstringStyle": "docstring-style", "targetVersion": "target-version"}


def workspace_layer(start: Path) -> tuple[dict[str, Any], ProjectConfig]:
    """The settings layer of the workspace ``start`` (a file or a directory) is in: the
    ``[tool.drain-ls]`` table of the nearest ``pyproject.toml`` at or above it
    (``project_layer``; untrusted: ``resolve_settings`` narrows it); and the project found.
    Raises ``ConfigError`` for a ``pyproject.toml`` that cannot be read."""
    project = find_project_config(start if start.is_dir() else start.parent)
    return project_layer(project), project


def project_layer(project: ProjectConfig) -> dict[str, Any]:
    """``project``'s ``[tool.drain-ls]`` camelized, its rule settings as ``rule_layer``
    reads them (an invalid one is left as it is, for ``resolve_settings`` to report)."""
    layer = camelize_keys(project.table)
    rules, _ = rule_layer(project, layer=layer)
    return {**{k: v for k, v in layer.items() if k not in RULE_KEYS}, **rules}


def _check_rule(key: str, value: Any) -> tuple[Any, str | None]:
    """A rule setting's value normalized, or why it is invalid (in ``drain-ls check``'s
    words)."""
    name = _TOML_NAMES.get(key, key)
    if key in ("select", "ignore"):
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            return None, f"{name} must be a list of strings"
        unknown = unknown_selector(items)
        if unknown is not None:
            return None, f"unknown rule selector `{unknown}`"
        return [v.strip() for v in items if v.strip()], None
    if key == "docstringStyle":
        if value not in DOCSTRING_STYLES:
            return None, f"{name} must be one of {', '.join(DOCSTRING_STYLES)}"
        return value, None
    # targetVersion: ruff's names (``py312``; ``3.12`` too), or empty (not set).
    if not isinstance(value, str):
        return None, f"{name} must be one of {', '.join(TARGET_NAMES)}"
    if not value.strip():
        return "", None
    try:
        return parse_target_version(value).setting, None
    except ValueError as exc:
        return None, str(exc)


def rule_layer(
    project: ProjectConfig, strict: bool = False, layer: dict[str, Any] | None = None
) -> tuple[dict[str, Any], Path | None]:
    """The rule settings (``RULE_KEYS``) of ``project``'s ``[tool.drain-ls]`` (``layer``:
    already camelized), each checked and normalized, with the target version
    ``requires-python`` implies when none is set; and the file they came from. An invalid
    value is left as it is (``resolve_settings`` reports it, and ignores it); ``strict``
    raises ``ConfigError`` for it instead, naming the file."""
    layer = camelize_keys(project.table) if layer is None else layer
    path = project.root / "pyproject.toml" if project.root is not None else None
    rules: dict[str, Any] = {}
    for key in RULE_KEYS:
        if key not in layer:
            continue
        value, reason = _check_rule(key, layer[key])
        if reason is None:
            rules[key] = value
        elif strict:
            raise ConfigError(f"{path or 'pyproject.toml'}: [tool.drain-ls] {reason}")
        else:
            rules[key] = layer[key]
    return requires_python_layer(rules, project.requires_python), path


def check_settings_of(
    project: ProjectConfig,
    *user_layers: dict[str, Any] | None,
    strict: bool = False,
    source: str = "pyproject.toml",
) -> tuple[CheckSettings, list[str]]:
    """What the static checks select for the files whose nearest ``pyproject.toml`` is
    ``project``'s: its rule settings (``rule_layer``) under the user's layers (lowest
    precedence first), resolved by ``resolve_settings`` as every workspace setting is; and
    the problems found (``source`` names the file in them)."""
    rules, _ = rule_layer(project, strict)
    settings, problems, _ = resolve_settings(rules, *user_layers, source=source)
    return (
        CheckSettings(
            select=settings.codes,
            docstring_style=settings.docstring_style,
            target_version=settings.target,
        ),
        problems,
    )


def _holds_config(directory: str) -> bool:
    """Whether ``directory`` has a ``pyproject.toml`` where ``find_project_config`` stops."""
    try:
        info = os.stat(os.path.join(directory, "pyproject.toml"))
    except (OSError, ValueError):
        return False
    return not stat.S_ISDIR(info.st_mode)


def _resolved(directory: Path) -> Path:
    try:
        return directory.resolve()
    except (OSError, RuntimeError, ValueError):  # a loop of links, a NUL byte
        return Path(os.path.abspath(directory))


class ProjectFinder:
    """Each directory's nearest ``pyproject.toml`` (as ``find_project_config`` finds it),
    each directory looked at and each file read once (until ``forget``)."""

    def __init__(self) -> None:
        """Nothing looked at yet."""
        # A directory (as given, and resolved) -> the directory of its nearest pyproject.toml.
        self._nearest: dict[str, Path | None] = {}
        self._configs: dict[Path | None, ProjectConfig | ConfigError] = {}
        self._read: dict[Path, tuple[int, int, int] | None] = {}  # what each file was

    def root_of(self, directory: Path) -> Path | None:
        """The directory of the nearest ``pyproject.toml`` at or above ``directory`` (a
        directory, links resolved), or None when there is none."""
        given = str(directory)
        if given in self._nearest:
            return self._nearest[given]
        start = _resolved(directory)
        walked = [given]
        found: Path | None = None
        for candidate in (start, *start.parents):
            key = str(candidate)
            if key in self._nearest:
                found = self._nearest[key]
                break
            walked.append(key)
            if _holds_config(key):
                found = candidate
                break
        for key in walked:
            self._nearest[key] = found
        return found

    def config(self, root: Path | None) -> ProjectConfig:
        """The project whose ``pyproject.toml`` is in ``root`` (from ``root_of``), read
        once. Raises ``ConfigError`` (each time asked) for one that cannot be read."""
        if root not in self._configs:
            if root is not None:
                self._read[root] = _signature(root)
            try:
                self._configs[root] = find_project_config(root) if root else ProjectConfig()
            except ConfigError as exc:
                self._configs[root] = exc
        found = self._configs[root]
        if isinstance(found, ConfigError):
            raise found
        return found

    def forget(self, path: Path | None = None) -> None:
        """The ``pyproject.toml`` at ``path`` changed, appeared or went away (None: any
        may have): look, and read it, again."""
        self._nearest.clear()  # one that appeared or went away moves the nearest
        if path is None:
            self._configs.clear()
            self._read.clear()
            return
        for directory in {path.parent, _resolved(path.parent)}:
            self._configs.pop(directory, None)
            self._read.pop(directory, None)

    def changed(self) -> list[Path]:
        """The ``pyproject.toml`` files read that changed or went away since (one ``stat``
        each: for an editor that does not tell)."""
        return [
            root / "pyproject.toml"
            for root, signature in self._read.items()
            if _signature(root) != signature
        ]


def _signature(directory: Path) -> tuple[int, int, int] | None:
    try:
        info = os.stat(directory / "pyproject.toml")
    except (OSError, ValueError):
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino
