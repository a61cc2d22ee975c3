"""Finding the Python files to check: directories recursed, ``.gitignore`` and excludes honoured.

A workspace is untrusted input. A directory walk ``stat``s each ``*.py`` first and never opens
a FIFO, device or socket (``discover`` reports it); every file read here (sources, the
``pyproject.toml``, ``.gitignore`` files) goes through ``read_regular``: a regular file only,
opened without blocking, its size capped before a byte is read.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pathspec


def _log_warning(message: str) -> None:
    """The ``drain_ls`` logger's warning (logging is imported only when there is one)."""
    import logging

    logging.getLogger("drain_ls").warning(message)


# Directories no one wants linted: those ruff skips by default (0.17: not ``build``, which is
# the name of real packages too, such as ``hatchling.cli.build``), and our cache.
DEFAULT_EXCLUDES = (
    ".bzr",
    ".direnv",
    ".drain_ls_cache",
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
    "dist",
    "node_modules",
    "site-packages",
    "venv",
)


# Size caps, checked before a byte is read: a workspace is untrusted input, and a file
# named like a config file may be a FIFO, a device or a link to /dev/zero.
MAX_SOURCE_BYTES = 5 * 1024 * 1024
# A notebook holds its outputs too (plots as base64): a few MiB of code cells is rare, tens
# of MiB of images are not.
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024
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
    is read is refused too. A FIFO or device is not even opened (``stat`` first: opening
    some devices does something), unless it replaces the file between the two calls.
    Raises ``UnreadableFile`` (``FileNotFoundError`` when missing).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise UnreadableFile(not_regular(mode))
        fd = os.open(path, flags)
    except (FileNotFoundError, UnreadableFile):
        raise
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFile(not_regular(info.st_mode))
        if info.st_size > limit:
            raise UnreadableFile(f"too large ({info.st_size:,} bytes; the limit is {limit:,})")
        chunks: list[bytes] = []
        size = 0
        # The whole file in one read as a rule (one chunk is joined without a copy); more
        # when it grew since the fstat, or its size is not told (0, as some file systems).
        want = max(info.st_size + 1, 1 << 16)
        while size <= limit:
            chunk = os.read(fd, min(want, limit + 1 - size))
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


def not_regular(mode: int) -> str:
    """Why a file of ``mode`` (``st_mode``) is not read, in one line."""
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    )
    kind = next((name for test, name in kinds if test(mode)), "not a file")
    return f"not a regular file ({kind})"


def write_regular(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` over ``path`` if it is (still) a regular file; opened without blocking,
    so a file replaced by a FIFO since it was read never stalls the caller. Never through a
    symbolic link (it may lead out of the tree being fixed): ``UnreadableFile``."""
    flags = os.O_WRONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    if not nofollow and os.path.islink(path):  # no O_NOFOLLOW (Windows): check first
        raise UnreadableFile("a symbolic link, not written")
    try:
        fd = os.open(path, flags | nofollow)
    except OSError:
        if nofollow and os.path.islink(path):  # ELOOP (EMLINK, EFTYPE on some BSDs)
            raise UnreadableFile("a symbolic link, not written") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFile(not_regular(info.st_mode))
        os.set_blocking(fd, True)
        os.ftruncate(fd, 0)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def replace_verified(
    path: str | os.PathLike[str],
    data: bytes,
    original: bytes,
    verify: Callable[[bytes], str | None],
) -> None:
    """Replace the contents of ``path`` (which were ``original``) with ``data``, atomically.

    ``data`` goes to a new file in the same directory, with the mode (and, when it can be
    kept, the owner and group) of ``path``; it is read back, and ``verify(what was read)``
    must return None (else it is the one-line reason the file is left alone). Only then is
    the new file renamed over ``path`` (``os.replace``), and only if ``path`` is still the
    regular file that held ``original``. A symbolic link, a file with other hard links
    (replacing it would split them) and a file changed since it was read are not written.
    Raises ``UnreadableFile`` with the reason; ``path`` is then as it was.
    """
    path = os.fspath(path)
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise UnreadableFile(f"cannot write: {exc.strerror or exc}") from None
    if stat.S_ISLNK(info.st_mode):
        raise UnreadableFile("a symbolic link, not written")
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableFile(not_regular(info.st_mode) + ", not written")
    if info.st_nlink > 1:
        raise UnreadableFile(
            f"has {info.st_nlink} hard links; not written (replacing it would split them)"
        )
    if _read_back(path, len(original)) != original:
        raise UnreadableFile("changed since it was read, not written")
    directory, name = os.path.split(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_NOFOLLOW", 0)
    for attempt in range(100):
        temporary = os.path.join(directory, f".{name}.drain-ls-{os.getpid()}-{attempt}.tmp")
        try:
            fd = os.open(temporary, flags, 0o600)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise UnreadableFile(f"cannot write a temporary file: {exc.strerror or exc}") from None
    else:
        raise UnreadableFile("cannot write a temporary file: too many left behind")
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if hasattr(os, "fchmod"):
                os.fchmod(fd, stat.S_IMODE(info.st_mode))
            else:  # Windows before Python 3.13
                os.chmod(temporary, stat.S_IMODE(info.st_mode))
            made = os.fstat(fd)
            if hasattr(os, "fchown") and (made.st_uid, made.st_gid) != (
                info.st_uid,
                info.st_gid,
            ):
                try:
                    os.fchown(fd, info.st_uid, info.st_gid)
                except OSError:
                    raise UnreadableFile(
                        "its owner or group could not be kept by a replacement, not written"
                    ) from None
            os.fsync(fd)
        finally:
            os.close(fd)
        written = _read_back(temporary, len(data))
        if written is None or written != data:
            raise UnreadableFile("the fixed file did not read back as written, not written")
        reason = verify(written)
        if reason is not None:
            raise UnreadableFile(f"{reason}, not written")
        now = os.lstat(path)
        if (now.st_ino, now.st_dev, now.st_mtime_ns, now.st_size) != (
            info.st_ino,
            info.st_dev,
            info.st_mtime_ns,
            info.st_size,
        ):
            raise UnreadableFile("changed while it was being fixed, not written")
        os.replace(temporary, path)
    except UnreadableFile:
        raise
    except OSError as exc:
        raise UnreadableFile(f"cannot write: {exc.strerror or exc}") from None
    finally:
        if os.path.lexists(temporary):  # not renamed: whatever went wrong, none is left
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _read_back(path: str, expected: int) -> bytes | None:
    """The bytes of the regular file ``path``; None if it cannot be read or holds more than
    ``expected`` bytes (it is not what it should be: no need to read it all)."""
    try:
        return read_regular(path, expected + 1)
    except OSError:
        return None


@dataclass(slots=True)
class ProjectConfig:
    """``[tool.drain-ls]`` from the nearest ``pyproject.toml``."""

    root: Path | None = None
    table: dict[str, object] = field(default_factory=dict)
    # ``[project] requires-python`` of the same file (the default ``target-version``).
    requires_python: str | None = None

    def strings(self, key: str) -> list[str]:
        """A list-of-strings setting (a single string is accepted too)."""
        value = self.table.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"[tool.drain-ls] {key} must be a list of strings")
        return value


def find_project_config(start: Path) -> ProjectConfig:
    """Read ``[tool.drain-ls]`` from the first ``pyproject.toml`` at or above ``start``.

    The workspace is untrusted: a ``pyproject.toml`` is read only if it is a regular file of
    at most ``MAX_CONFIG_BYTES`` (never a FIFO or device: nothing blocks). Anything wrong with
    it (not readable, not UTF-8, not TOML, nested too deep, ``tool`` or ``[tool.drain-ls]``
    not a table) raises ``ConfigError`` with a one-line message naming the file.
    """
    try:
        start = start.resolve()
    except (OSError, RuntimeError, ValueError):  # a loop of links, a NUL byte
        start = Path(os.path.abspath(start))
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        try:
            info = os.stat(candidate)
        except (OSError, ValueError):
            continue  # not there (or not reachable): look further up
        if stat.S_ISDIR(info.st_mode):
            continue
        try:
            data = read_regular(candidate, MAX_CONFIG_BYTES)
        except FileNotFoundError:
            continue  # gone since
        except UnreadableFile as exc:
            raise ConfigError(f"{candidate}: {exc}") from None
        return ProjectConfig(directory, *_tool_table(candidate, data))
    return ProjectConfig()


def _tool_table(path: Path, data: bytes) -> tuple[dict[str, object], str | None]:
    """``[tool.drain-ls]`` of the ``pyproject.toml`` at ``path``, whose bytes are ``data``,
    and its ``[project] requires-python`` (None: not a string, or not there)."""
    import tomllib  # only when there is one to read

    try:
        document = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 (byte {exc.start + 1})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to read") from None
    tool = document.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{path}: `tool` must be a table")
    table = tool.get("drain-ls", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.drain-ls] must be a table")
    project = document.get("project")
    requires = project.get("requires-python") if isinstance(project, dict) else None
    return table, requires if isinstance(requires, str) else None


@functools.cache
def _git_root(start: Path) -> Path | None:
    if (start / ".git").exists():
        return start
    return None if start.parent == start else _git_root(start.parent)


# Wildcards an ignore pattern may hold. pathspec matches with backtracking regular
# expressions, whose time grows as a power of the path's length with the number of
# wildcards: ``*a*a*a*a*a*a*b`` against a file named ``aaa…a.py`` takes seconds, then hours.
# Up to 2 ``*`` in one path segment and 3 unbounded wildcards in all (each ``*``, each
# ``**`` segment but a trailing one, and the implicit leading ``**/`` of a pattern without
# a slash) keep a match within milliseconds on any real path; no common pattern needs more.
MAX_SEGMENT_STARS = 2
MAX_WILDCARDS = 3


def slow_pattern(line: str) -> str | None:
    """Why the ignore pattern ``line`` (a ``.gitignore`` line) could take too long to match,
    or None. Over-counts when unsure (a ``*`` inside ``[...]``): never under."""
    body = line.strip()
    if not body or line.startswith("#"):
        return None
    body = re.sub(r"\\.", "x", body.removeprefix("!")).rstrip("/")  # \* is no wildcard
    segments = [s for s in body.split("/") if s]
    # Without a slash (but a leading ``**/``), a pattern matches at any depth.
    count = 0 if "/" in body.removeprefix("**/") or body.startswith("/") else 1
    for index, segment in enumerate(segments):
        if segment == "**":
            count += 0 if index == len(segments) - 1 or (index == 0 and count) else 1
            continue
        stars = segment.count("*")
        if stars > MAX_SEGMENT_STARS:
            return (
                f"more than {MAX_SEGMENT_STARS} `*` in one path segment (matching it"
                " could take hours)"
            )
        count += stars
    if count > MAX_WILDCARDS:
        return f"more than {MAX_WILDCARDS} wildcards (matching it could take hours)"
    return None


def _spec_from_lines(
    lines: list[str], warn: Callable[[str], None] | None = None, where: str = ""
) -> pathspec.GitIgnoreSpec:
    # pathspec is imported when a pattern is first met: a check of explicit files (or of a
    # tree without .gitignore files) never pays for its import.
    import pathspec

    usable: list[str] = []
    for number, line in enumerate(lines, 1):
        reason = slow_pattern(line)
        if reason is None:
            usable.append(line)
        else:
            (warn or _log_warning)(f"{where} {number}: {reason}; the pattern is dropped")
    return pathspec.GitIgnoreSpec.from_lines(usable)


def _read_gitignore(
    directory: Path, warn: Callable[[str], None] | None = None
) -> pathspec.GitIgnoreSpec | None:
    """The patterns of ``directory/.gitignore`` (None: there is none, or it cannot be read:
    ``warn`` is told why; a FIFO or device is never read, nor a file over
    ``MAX_CONFIG_BYTES``)."""
    path = directory / ".gitignore"
    try:
        data = read_regular(path, MAX_CONFIG_BYTES)
    except FileNotFoundError:
        return None
    except OSError as exc:  # UnreadableFile, or NotADirectoryError
        (warn or _log_warning)(f"{path}: {exc}; its patterns are not applied")
        return None
    return _spec_from_lines(
        data.decode("utf-8", errors="replace").splitlines(), warn, f"{path}: line"
    )


class Excluder:
    """Decides which paths a directory walk skips."""

    def __init__(
        self,
        config: ProjectConfig,
        respect_gitignore: bool = True,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        """Exclude what ``config`` and (if ``respect_gitignore``) .gitignore files say;
        ``warn``: told, in one line, of a .gitignore that cannot be read."""
        self.respect_gitignore = respect_gitignore
        self.warn = warn
        self.root = config.root
        self.table = config.table  # the rest of ``[tool.drain-ls]`` (``cache-dir``)
        patterns = config.strings("exclude") + config.strings("extend-exclude")
        where = (
            f"{config.root / 'pyproject.toml'}: exclude entry" if config.root else "exclude entry"
        )
        self.user = _spec_from_lines(patterns, warn, where) if patterns else None
        self._gitignores: dict[Path, pathspec.GitIgnoreSpec | None] = {}

    def _spec(self, directory: Path) -> pathspec.GitIgnoreSpec | None:
        if directory not in self._gitignores:
            self._gitignores[directory] = _read_gitignore(directory, self.warn)
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


def discover(
    paths: list[Path],
    excluder: Excluder,
    unreadable: Callable[[Path, str], None] | None = None,
    suffixes: tuple[str, ...] = (".py",),
) -> Iterator[Path]:
    """The Python files under ``paths``: explicit files always, directories recursed (the
    files whose name ends with one of ``suffixes``).

    Only regular files are yielded (or links to them; a path ``stat`` fails on, such as a
    broken link, too: reading it says why). Anything else named explicitly or ``*.py`` in a
    directory (a FIFO, a device, a socket) is never opened: ``unreadable(path, reason)`` is
    told instead (one line), and it is left out.
    """
    seen: set[Path] = set()

    def regular(path: Path, mode: int | None = None) -> bool:
        if mode is None:
            try:
                mode = os.stat(path).st_mode
            except (OSError, ValueError):
                return True  # the read will say why it cannot be read
        if stat.S_ISREG(mode):
            return True
        if unreadable is not None:
            unreadable(path, not_regular(mode) + ", skipped")
        return False

    for given in paths:
        path = given.absolute()
        try:  # one stat says both whether to walk it and whether to read it
            mode: int | None = os.stat(path).st_mode
        except (OSError, ValueError):
            mode = None
        if mode is None or not stat.S_ISDIR(mode):
            if path not in seen:
                seen.add(path)
                if mode is None or regular(path, mode):
                    yield path
            continue
        for directory, dirnames, filenames in os.walk(path):
            base = Path(directory)
            dirnames[:] = sorted(
                d for d in dirnames if not excluder.excluded(base / d, is_dir=True)
            )
            for name in sorted(filenames):
                if not name.endswith(suffixes):
                    continue
                file = base / name
                if file not in seen and not excluder.excluded(file, is_dir=False):
                    seen.add(file)
                    if regular(file):
                        yield file


def read_source(path: str, limit: int = MAX_SOURCE_BYTES) -> tuple[bytes | None, str | None]:
    """The file's bytes, or a one-line reason it cannot be checked: only a regular file of
    at most ``limit`` bytes is read (``read_regular``: a FIFO never blocks)."""
    try:
        source = read_regular(path, limit)
    except UnreadableFile as exc:
        reason = str(exc)
        return None, reason if reason.startswith("cannot read") else f"{reason}, skipped"
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"
    if b"\0" in source:
        return None, "binary file (contains NUL bytes), skipped"
    try:
        if not source.isascii():  # ASCII is valid UTF-8, and far cheaper to check
            source.decode("utf-8")
    except UnicodeDecodeError as exc:
        from drain_ls.analysis.source import LineIndex

        index = LineIndex(source)
        row = index.row_of(exc.start)
        column = exc.start - index.starts[row]
        return None, (
            f"not valid UTF-8 (byte 0x{source[exc.start]:02x} at line {row + 1}, "
            f"byte {column + 1}), skipped"
        )
    return source, None
