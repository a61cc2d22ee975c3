"""Finding the Python files to check: directories recursed, ``.gitignore`` and excludes honoured."""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from drain_ls.analysis.source import LineIndex

if TYPE_CHECKING:
    import pathspec

# Directories no one wants linted (ruff's defaults).
DEFAULT_EXCLUDES = (
    ".bzr",
    ".direnv",
    ".eggs",
    ".git",
    ".git-rewrite",
    ".hg",
    ".ipynb_checkpoints",
    ".mypy_cache",
    ".nox",
    ".pants.d",
    ".pyenv",
    ".pytest_cache",
    ".pytype",
    ".ruff_cache",
    ".svn",
    ".tox",
    ".venv",
    ".vscode",
    "__pypackages__",
    "_build",
    "buck-out",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    "venv",
)


# Size caps, checked before a byte is read: a workspace is untrusted input, and a file
# named like a config file may be a FIFO, a device or a link to /dev/zero.
MAX_SOURCE_BYTES = 5 * 1024 * 1024
MAX_CONFIG_BYTES = 1024 * 1024


class ConfigError(ValueError):
    """A bad ``[tool.drain-ls]`` table."""


class UnreadableFile(OSError):
    """A file that is not read: not a regular file, too large, or an I/O error.

    ``str()`` is a one-line reason fit for the user (no traceback, no errno noise).
    """


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of ``path`` when it is a regular file of at most ``limit`` bytes.

    Opened without blocking (a FIFO never stalls the caller) and checked with ``fstat`` on
    the open descriptor (no race with a rename); a file that grows past ``limit`` while it
    is read is refused too. Raises ``UnreadableFile`` (``FileNotFoundError`` when missing).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFile("not a regular file (a FIFO, device or socket), skipped")
        if info.st_size > limit:
            raise UnreadableFile(f"too large ({info.st_size:,} bytes; the limit is {limit:,})")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise UnreadableFile(f"too large (over {limit:,} bytes)")
        return b"".join(chunks)
    except UnreadableFile:
        raise
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


@dataclass(slots=True)
class ProjectConfig:
    """``[tool.drain-ls]`` from the nearest ``pyproject.toml``."""

    root: Path | None = None
    table: dict[str, object] = field(default_factory=dict)

    def strings(self, key: str) -> list[str]:
        """A list-of-strings setting (a single string is accepted too)."""
        value = self.table.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"[tool.drain-ls] {key} must be a list of strings")
        return value


def find_project_config(start: Path) -> ProjectConfig:
    """Read ``[tool.drain-ls]`` from the first ``pyproject.toml`` at or above ``start``."""
    start = start.resolve()
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            import tomllib  # only when there is one to read

            try:
                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"{candidate}: {exc}") from exc
            tool = data.get("tool", {})
            table = tool.get("drain-ls", {}) if isinstance(tool, dict) else {}
            if not isinstance(table, dict):
                raise ConfigError(f"{candidate}: [tool.drain-ls] must be a table")
            return ProjectConfig(directory, table)
    return ProjectConfig()


@functools.cache
def _git_root(start: Path) -> Path | None:
    if (start / ".git").exists():
        return start
    return None if start.parent == start else _git_root(start.parent)


def _spec_from_lines(lines: list[str]) -> pathspec.GitIgnoreSpec:
    # pathspec is imported when a pattern is first met: a check of explicit files (or of a
    # tree without .gitignore files) never pays for its import.
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(lines)


def _read_gitignore(directory: Path) -> pathspec.GitIgnoreSpec | None:
    path = directory / ".gitignore"
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return _spec_from_lines(lines)


class Excluder:
    """Decides which paths a directory walk skips."""

    def __init__(self, config: ProjectConfig, respect_gitignore: bool = True) -> None:
        """Exclude what ``config`` and (if ``respect_gitignore``) .gitignore files say."""
        self.respect_gitignore = respect_gitignore
        self.root = config.root
        patterns = config.strings("exclude") + config.strings("extend-exclude")
        self.user = _spec_from_lines(patterns) if patterns else None
        self._gitignores: dict[Path, pathspec.GitIgnoreSpec | None] = {}

    def _spec(self, directory: Path) -> pathspec.GitIgnoreSpec | None:
        if directory not in self._gitignores:
            self._gitignores[directory] = _read_gitignore(directory)
        return self._gitignores[directory]

    def excluded(self, path: Path, is_dir: bool) -> bool:
        """True when ``path`` (absolute) is excluded by defaults, config or .gitignore."""
        if is_dir and path.name in DEFAULT_EXCLUDES:
            return True
        if self.user is not None and self.root is not None:
            try:
                relative = path.relative_to(self.root).as_posix()
            except ValueError:
                relative = None
            if relative is not None and self.user.match_file(relative + ("/" if is_dir else "")):
                return True
        if self.respect_gitignore:
            top = _git_root(path.parent)
            if top is not None:
                for directory in (path.parent, *path.parent.parents):
                    spec = self._spec(directory)
                    if spec is not None:
                        relative = path.relative_to(directory).as_posix()
                        if spec.match_file(relative + ("/" if is_dir else "")):
                            return True
                    if directory == top:
                        break
        return False


def discover(paths: list[Path], excluder: Excluder) -> Iterator[Path]:
    """The Python files under ``paths``: explicit files always, directories recursed."""
    seen: set[Path] = set()
    for given in paths:
        path = given.absolute()
        if path.is_file():
            if path not in seen:
                seen.add(path)
                yield path
            continue
        for directory, dirnames, filenames in os.walk(path):
            base = Path(directory)
            dirnames[:] = sorted(
                d for d in dirnames if not excluder.excluded(base / d, is_dir=True)
            )
            for name in sorted(filenames):
                if not name.endswith(".py"):
                    continue
                file = base / name
                if file not in seen and not excluder.excluded(file, is_dir=False):
                    seen.add(file)
                    yield file


def read_source(path: str) -> tuple[bytes | None, str | None]:
    """The file's bytes, or a one-line reason it cannot be checked."""
    try:
        with open(path, "rb") as handle:
            source = handle.read()
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"
    if b"\0" in source:
        return None, "binary file (contains NUL bytes), skipped"
    try:
        if not source.isascii():  # ASCII is valid UTF-8, and far cheaper to check
            source.decode("utf-8")
    except UnicodeDecodeError as exc:
        index = LineIndex(source)
        row = index.row_of(exc.start)
        column = exc.start - index.starts[row]
        return None, (
            f"not valid UTF-8 (byte 0x{source[exc.start]:02x} at line {row + 1}, "
            f"byte {column + 1}), skipped"
        )
    return source, None
