"""The results cache of ``drain-ls check``: a run over unchanged files reads their findings back
instead of parsing and analysing them again (as ruff's ``.ruff_cache``).

Where. ``.drain_ls_cache/`` at the project root (the directory of the ``pyproject.toml``
found, else the working directory), or ``--cache-dir``, ``DRAIN_LS_CACHE_DIR``, or
``[tool.drain-ls] cache-dir`` (relative to the project root), in that order; ``--no-cache``
(or ``DRAIN_LS_NO_CACHE=1``) turns it off. The directory holds a ``.gitignore`` of ``*``, a
``CACHEDIR.TAG`` (backup tools skip it), and one directory per drain-ls version with one
file per set of settings (as ruff keeps one per package and settings).

Key. A cache file's name is a hash of everything findings depend on besides a file's path
and bytes: drain-ls's version and a fingerprint of its code and the parser's (names, sizes
and modification times of the modules of drain-ls, ``tree_sitter`` and
``tree_sitter_python``: a changed checkout or a new grammar never reads results of the old
code), Python's version (the syntax check compiles), and every field of the check settings
(read generically from the dataclass). In it, per absolute path: the SHA-256 of the bytes
that were checked, how many packages (directories with an ``__init__.py``) hold the file
(it decides whether the module is private, for D1xx), and the findings, ready to print.
A hit needs the same bytes and the same packages.

Content, not modification time. ruff trusts a path's mtime and permissions; drain-ls keys
on the bytes, so that a rewrite within the clock's granularity, a copy that keeps times
(``cp -p``, ``rsync -t``, an archive) or a file changed back is never served stale findings,
and a ``git checkout`` or a CI restore (new times, same bytes) still hits. Hashing costs
reading every file, so, as git's index does, the ``stat`` of a file taken before it was
read (size, mtime, ctime, inode, device) is kept as a shortcut to its hash: while it is
unchanged, the file is not read again. Any write changes the ctime (which ``touch`` and
``cp -p`` cannot set back), and a file whose times are within ``RACY_NS`` of the check
("racily clean": a second write in the same clock tick would leave them as they are) keeps
no shortcut, so it is hashed again next time.

Trust. A repository is untrusted input, and so is a cache directory inside it: one could be
committed (``git add -f``) or unpacked with the sources, with entries that claim "no
findings" for files that have some. Each cache file is therefore signed (HMAC-SHA256 over
its name and contents) with a random per-user key kept outside every project
(``$DRAIN_LS_HOME/check-cache.key``, else the user cache directory, mode 0600). A file this
user's drain-ls did not write is ignored (and replaced): it cannot hide a finding, nor add
one. (CI that restores ``.drain_ls_cache`` on another machine must restore that key too, or
it only misses.) The payload is unmarshalled only once its signature checks. A place the
project chose (the default directory, a link there, ``cache-dir``) must stay inside the
project (``drain_ls.cli``); wherever the directory is, only ``<version>/<hex>`` files are
written in it, and ``.gitignore`` / ``CACHEDIR.TAG`` only when absent, never over a file.

Concurrent runs. Only the main process writes, once, at the end of a run that checked
something new: it reads the file again, merges its own entries in (dropping paths that no
longer exist), writes a temporary file and renames it over the old one (``os.replace``). A
reader sees a whole file, old or new; two runs that finish together may lose one another's
new entries (they are checked again next time), never mix them. An unreadable, truncated,
corrupt or foreign file is a miss, never an error; a cache that cannot be written is
skipped without a word.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import importlib.util
import json
import marshal
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drain_ls import __version__
from drain_ls.files import read_regular

DEFAULT_DIRECTORY = ".drain_ls_cache"
FORMAT = 2  # of a cache file: bump it when an entry changes shape
MAX_CACHE_BYTES = 512 * 1024 * 1024
PARSER_PACKAGES = ("tree_sitter", "tree_sitter_python")
RACY_NS = 3_000_000_000  # a file changed this recently keeps no stat shortcut
_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by drain-ls.\n"
    "# For information about cache directory tags, see:\n"
    "#\thttps://bford.info/cachedir/\n"
)

# An entry: (stat shortcut or None, content hash, packages, JSON lines, text lines, marked, fixable)
Entry = tuple[tuple[int, ...] | None, str, int, list[str], list[str], int, int]


@dataclass(slots=True)
class Cached:
    """The findings of one file, ready to print: one ``--format json`` line and one text line
    without its leading path (``:row:column: CODE message``) per finding, how many of them are
    marked ``[*]`` (a safe fix), and how many have any fix (``--fix`` must then run)."""

    lines: list[str]
    texts: list[str]
    marked: int
    fixable: int


@dataclass(slots=True)
class Key:
    """What a result was computed from, as the worker that read the file saw it."""

    shortcut: tuple[int, ...] | None
    digest: str
    packages: int


class ResultsCache:
    """The entries of one drain-ls version and one set of settings (``open`` makes one)."""

    def __init__(self, directory: Path, settings: object, secret: bytes) -> None:
        """Entries under ``directory/<version>``, for ``settings`` (a dataclass), signed with
        ``secret``; the file is read now."""
        self.directory = directory / __version__
        self.secret = secret
        material = [
            FORMAT,
            __version__,
            _code_fingerprint(),
            sys.implementation.name,
            list(sys.version_info[:3]),
            marshal.version,
            settings_key(settings),
        ]
        name = hashlib.sha256(json.dumps(material).encode()).hexdigest()[:40]
        self.file = os.path.join(self.directory, name)
        self.entries = self._load()
        self.updates: dict[str, Entry] = {}

    @classmethod
    def open(cls, directory: Path, settings: object) -> ResultsCache | None:
        """The cache at ``directory`` (None when its key cannot be read or made)."""
        secret = _secret()
        return None if secret is None else cls(directory, settings, secret)

    def lookup(
        self, path: str, read: Callable[[str], bytes | None], fix: bool = False
    ) -> Cached | None:
        """The findings stored for ``path`` if it still holds the bytes they were found in
        (``read(path)`` gives them, when the stat shortcut does not settle it) and is in the
        same packages; with ``fix``, only findings that no fix could change. None: a miss."""
        entry = self.entries.get(path)
        if entry is None:
            return None
        try:
            shortcut, digest, packages, lines, texts, marked, fixable = entry
            if fix and fixable:
                return None
            info = os.stat(path)
            if shortcut is None or shortcut != _shortcut(info):
                source = read(path)
                if source is None or content_digest(source) != digest:
                    return None
                refreshed = _shortcut(info, time.time_ns())
                if refreshed != shortcut:
                    self.updates[path] = (refreshed, *entry[1:])
            if packages != package_depth(path):
                return None
            return Cached(lines, texts, int(marked), int(fixable))
        except (OSError, ValueError, TypeError):  # gone, or an entry of another shape
            return None

    def store(self, path: str, key: Key, cached: Cached) -> None:
        """Remember ``cached`` for ``path`` as ``key`` says it was read (written by ``save``)."""
        self.updates[path] = (
            key.shortcut,
            key.digest,
            key.packages,
            cached.lines,
            cached.texts,
            cached.marked,
            cached.fixable,
        )

    def save(self) -> None:
        """Write the new entries, merged into the file as it is now; nothing happens when
        there are none, or when the cache cannot be written."""
        if not self.updates:
            return
        with contextlib.suppress(OSError):
            self._prepare()
            merged = {p: e for p, e in self._load().items() if os.path.lexists(p)}
            merged.update(self.updates)
            payload = marshal.dumps(merged)
            _write_atomic(self.file, self._mac(payload) + b"\n" + payload)
            self.updates = {}

    def _load(self) -> dict[str, Entry]:
        """The entries of the cache file; none if it is missing, unreadable, too large, not
        signed with this user's key, or not what this version writes."""
        try:
            data = read_regular(self.file, MAX_CACHE_BYTES)  # never blocks on a FIFO
            # Views, not copies: a cache of a large tree holds megabytes of findings.
            newline = data.find(b"\n")
            if newline < 0:
                return {}
            payload = memoryview(data)[newline + 1 :]
            if not hmac.compare_digest(data[:newline], self._mac(payload)):
                return {}
            entries = marshal.loads(payload)
        except (OSError, ValueError, EOFError, TypeError):
            return {}
        return entries if isinstance(entries, dict) else {}

    def _mac(self, payload: bytes | memoryview) -> bytes:
        """The signature of ``payload`` in this file (its name, a NUL, then the payload)."""
        signer = hmac.new(self.secret, os.path.basename(self.file).encode() + b"\0", "sha256")
        signer.update(payload)
        return signer.hexdigest().encode()

    def _prepare(self) -> None:
        """Make the version directory, and tag the cache directory when it is new."""
        root = self.directory.parent
        root.mkdir(parents=True, exist_ok=True)
        for name, text in ((".gitignore", "# Made by drain-ls.\n*\n"), ("CACHEDIR.TAG", _TAG)):
            with contextlib.suppress(OSError):  # FileExistsError: never over an existing file
                fd = os.open(root / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                with os.fdopen(fd, "w") as handle:
                    handle.write(text)
        self.directory.mkdir(exist_ok=True)


def read_key(path: str, source: bytes, info: os.stat_result) -> Key:
    """The key of ``source``, read from ``path`` after ``info`` (its ``stat``) was taken."""
    return Key(_shortcut(info, time.time_ns()), content_digest(source), package_depth(path))


def _shortcut(info: os.stat_result, now: int | None = None) -> tuple[int, ...] | None:
    """What must stay the same for a file to be taken as unchanged without reading it; None
    when, at ``now``, it changed too recently for its times to tell (git's "racily clean")."""
    if now is not None and max(info.st_mtime_ns, info.st_ctime_ns) > now - RACY_NS:
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)


def content_digest(source: bytes) -> str:
    """The hash that keys a file's bytes."""
    return hashlib.sha256(source).hexdigest()


def settings_key(settings: object) -> Any:
    """Every field of a settings dataclass as plain, ordered JSON data (sets sorted)."""
    if dataclasses.is_dataclass(settings) and not isinstance(settings, type):
        return {
            f.name: settings_key(getattr(settings, f.name)) for f in dataclasses.fields(settings)
        }
    if isinstance(settings, set | frozenset):
        return sorted((settings_key(v) for v in settings), key=repr)
    if isinstance(settings, list | tuple):
        return [settings_key(v) for v in settings]
    if isinstance(settings, dict):
        return {str(k): settings_key(v) for k, v in sorted(settings.items(), key=repr)}
    if settings is None or isinstance(settings, bool | int | float | str):
        return settings
    return repr(settings)  # an enum, a path: its repr names its value


_depths: dict[str, int] = {}


def package_depth(path: str) -> int:
    """How many directories above ``path`` in a row have an ``__init__.py`` (the packages the
    module is in: a private name among them makes it private)."""
    directory = os.path.dirname(path)
    # An absolute directory as given is looked up first: ``abspath`` (a normalisation of
    # the string) costs more than the lookup, once per file of a warm run.
    depth = _depths.get(directory) if os.path.isabs(directory) else None
    if depth is not None:
        return depth
    given = directory
    directory = os.path.dirname(os.path.abspath(path))
    depth = _depths.get(directory)
    if depth is None:
        depth = 0
        if os.path.isfile(os.path.join(directory, "__init__.py")):
            parent = os.path.dirname(directory)
            depth = 1 if parent == directory else 1 + package_depth(os.path.join(parent, "x"))
        _depths[directory] = depth
    if os.path.isabs(given):
        _depths[given] = depth
    return depth


def _code_fingerprint() -> str:
    """Names, sizes and modification times of drain-ls's own modules and of the parser's
    (``tree_sitter``, ``tree_sitter_python``: a new grammar can change findings)."""
    package = os.path.dirname(os.path.abspath(__file__))
    directories = [package, os.path.join(package, "analysis")]
    for name in PARSER_PACKAGES:
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None)
        if origin is None:
            with contextlib.suppress(ImportError, ValueError):
                spec = importlib.util.find_spec(name)
                origin = spec.origin if spec is not None else None
        if origin:
            directories.append(os.path.dirname(origin))
    parts: list[str] = []
    for directory in directories:
        with contextlib.suppress(OSError), os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.endswith((".py", ".so", ".pyd", ".toml")):
                    info = entry.stat()
                    parts.append(f"{directory}/{entry.name}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()


def key_path() -> Path:
    """Where the per-user key that signs cache files lives (outside every project)."""
    home = os.environ.get("DRAIN_LS_HOME")
    if home:
        return Path(home) / "check-cache.key"
    if sys.platform.startswith("linux"):  # platformdirs' answer, without its import
        base = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.expanduser("~/.cache")
        return Path(base) / "drain-ls" / "check-cache.key"
    import platformdirs

    return Path(platformdirs.user_cache_dir("drain-ls", appauthor=False)) / "check-cache.key"


def _secret() -> bytes | None:
    """This user's key, made on first use (None: it cannot be read or made)."""
    path = key_path()
    for _ in range(2):
        try:
            secret = read_regular(path, 64)
            if len(secret) == 64:
                return secret
        except OSError:
            pass
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            _write_atomic(str(path), os.urandom(32).hex().encode(), mode=0o600, keep=True)
    return None


def _write_atomic(path: str, data: bytes, mode: int = 0o644, keep: bool = False) -> None:
    """Write ``path`` through a temporary file renamed over it (``keep``: never over an
    existing file, so that two first runs agree on one key)."""
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(temporary, flags, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        if keep:
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass
            except OSError:  # no hard links on this file system
                os.replace(temporary, path)
        else:
            os.replace(temporary, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
