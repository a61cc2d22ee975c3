"""The static checks' settings of each open document: the rule settings of the nearest
``pyproject.toml`` at or above its file (``config.workspace``: the loader ``drain-ls check``
uses, leniently), under the user's settings, as ``drain-ls check`` finds them.

Cached per ``pyproject.toml`` and per document: a keystroke never looks at the file system.
A document that is not a file, or whose file is outside every workspace folder, takes the
workspace's settings (as before: ``None``). The LLM, budget and privacy settings stay the
workspace's: a nested ``pyproject.toml`` sets only the rules.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drain_ls.analysis.checker import CheckSettings
from drain_ls.config.workspace import ProjectFinder, check_settings_of
from drain_ls.files import ConfigError, ProjectConfig

# (project, the name its problems give the file) -> its settings, warning about problems.
Resolve = Callable[[ProjectConfig, str], CheckSettings]
Warn = Callable[[str], None]


class ProjectRules:
    """The check settings of each document from its nearest ``pyproject.toml``."""

    def __init__(self) -> None:
        """Nothing looked up yet."""
        self.finder = ProjectFinder()
        self.folders: list[str] = []  # the workspace folders, resolved
        self.workspace_root: Path | None = None  # where the workspace's pyproject.toml is
        self._by_root: dict[Path | None, CheckSettings] = {}
        self._by_uri: dict[str, CheckSettings | None] = {}

    def set_workspace(self, folders: Iterable[str], root: Path | None) -> None:
        """The workspace folders, and the directory of the workspace's ``pyproject.toml``."""
        resolved = []
        for folder in folders:
            try:
                resolved.append(os.path.realpath(folder))
            except (OSError, ValueError):
                continue
        self.folders, self.workspace_root = resolved, root

    def of(self, uri: str, path: str, resolve: Resolve, warn: Warn) -> CheckSettings | None:
        """The settings of the document ``uri`` at ``path`` (``path == uri``: not a file);
        None: the workspace's. ``warn`` is told of a ``pyproject.toml`` that cannot be read."""
        if uri in self._by_uri:
            return self._by_uri[uri]
        found = self._lookup(path, resolve, warn) if path != uri else None
        self._by_uri[uri] = found
        return found

    def _lookup(self, path: str, resolve: Resolve, warn: Warn) -> CheckSettings | None:
        try:
            real = os.path.realpath(path)
        except (OSError, ValueError):
            return None
        inside = [
            f for f in self.folders if real == f or real.startswith(f.rstrip(os.sep) + os.sep)
        ]
        if not inside:
            return None  # outside the workspace: its settings, as before
        root = self.finder.root_of(Path(real).parent)
        found = self._by_root.get(root)
        if found is not None:
            return found
        if root is None or root == self.workspace_root:
            source = "pyproject.toml"  # the workspace's own: its problems are told already
        else:
            folder = max(inside, key=len)
            source = os.path.relpath(root / "pyproject.toml", folder)
            if source.startswith(".."):
                source = str(root / "pyproject.toml")
        try:
            project = self.finder.config(root)
        except ConfigError as exc:
            # Unreadable: as a pyproject.toml without [tool.drain-ls], and the user told why.
            if root != self.workspace_root:  # (the workspace's own is told already)
                warn(str(exc))
            found = resolve(ProjectConfig(), source)
        else:
            found = resolve(project, source)
        self._by_root[root] = found
        return found

    def forget(self, uris: Iterable[str]) -> None:
        """Forget the documents ``uris`` (closed)."""
        for uri in uris:
            self._by_uri.pop(uri, None)

    def reset(self) -> dict[str, CheckSettings | None]:
        """Resolve again (the user's settings, or a ``pyproject.toml``, changed: tell
        ``finder`` which first). Returns what each document had."""
        before = self._by_uri
        self._by_root, self._by_uri = {}, {}
        return before


class RulesFront:
    """The server's side of ``ProjectRules``: each document's check settings, and what a
    ``pyproject.toml`` change does. The server's state and methods it uses are declared
    here and defined by ``DrainServer`` (``drain_ls.lsp.server``)."""

    rules: ProjectRules
    user_layer: dict[str, Any]
    init_layer: dict[str, Any]
    client_layer: dict[str, Any]

    if TYPE_CHECKING:  # the server's own, defined by ``DrainServer``

        @property
        def check_settings(self) -> CheckSettings:
            """What the static checks select, from the workspace's settings."""

        def workspace_root(self) -> Path | None:
            """The first workspace folder (or the root URI) as a path."""

        def path_of(self, uri: str) -> str:
            """The file system path of a document, or its URI when it has none."""

        def warn_user(self, message: str) -> None:
            """A warning the user should see (a popup), also logged."""

        def _tell(self, problems: list[str]) -> None:
            """Warn about each problem not told yet."""

        def load_file_layer(self) -> None:
            """Read the workspace's ``[tool.drain-ls]`` and the user's config file."""

        def apply_settings(self) -> bool:
            """Rebuild the settings from every layer; True when the workspace's changed."""

        def reanalyse_all(self) -> None:
            """Every open document again."""

    def check_settings_for(self, uri: str) -> CheckSettings:
        """What the static checks select in ``uri``: the rules of the nearest
        ``pyproject.toml`` at or above its file under the user's settings, as ``drain-ls
        check`` reads them (``ProjectRules``, cached); the workspace's for a file outside it."""
        found = self.rules.of(uri, self.path_of(uri), self._project_rules, self._tell_one)
        return self.check_settings if found is None else found

    def _project_rules(self, project: ProjectConfig, source: str) -> CheckSettings:
        layers = (self.user_layer, self.init_layer, self.client_layer)
        settings, problems = check_settings_of(project, *layers, source=source)
        self._tell(problems)
        return settings

    def pyproject_changed(self, paths: list[Path]) -> None:
        """``pyproject.toml`` files changed, appeared or went away: the workspace's settings
        again if one is the workspace's, and the rules of the documents below them."""
        workspace = {self.rules.workspace_root, self.workspace_root()}
        for path in paths:
            self.rules.finder.forget(path)
        if any(Path(os.path.realpath(path.parent)) in workspace for path in paths):
            self.load_file_layer()
        if self.apply_settings():
            self.reanalyse_all()

    def _rules_moved(self, uri: str, before: CheckSettings | None) -> bool:
        return self.rules.of(uri, self.path_of(uri), self._project_rules, self._tell_one) != before

    def _tell_one(self, problem: str) -> None:
        self._tell([problem])

    def notice_pyproject_edits(self) -> None:
        """For an editor that does not report file changes: a ``stat`` of each
        ``pyproject.toml`` read (on open and save, never on a keystroke)."""
        changed = self.rules.finder.changed()
        if changed:
            self.pyproject_changed(changed)
