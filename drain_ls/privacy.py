"""What may leave the machine: exclusions (never read or send) and redaction of secrets.

A workspace is untrusted input (a cloned or unpacked project), and so is everything in it.

Exclusions (``Exclusions.why_excluded``):

- a default deny list (``DEFAULT_DENY``: ``.env*``, ``*.pem``, ``*.key``, SSH key files,
  ``.ssh/``, ``.aws/``, ``.git/``, ``*secret*``, ``*credential*``, ``.netrc``, ``.npmrc``,
  ``.pypirc``) and the user's ``privacy.exclude`` globs, matched on the path relative to its
  workspace folder, case-insensitively on every segment (``.ENV``, ``Credentials.py``:
  macOS and Windows file systems ignore case, and a pattern should only ever exclude more;
  a user's negation ``!pattern`` un-excludes the case variants too);
- files the repository ignores, with git's semantics and without running git: the
  repository root is the nearest directory at or above the workspace folder holding a
  ``.git`` directory or a ``.git`` file (``gitdir: <path>``, worktrees and submodules;
  followed only to read ``info/exclude``, from ``commondir`` when there is one). Every
  ``.gitignore`` from that root down to the file's directory applies (patterns relative to
  the directory holding it, the deeper file and the later line win, ``!`` negates, a
  directory that is ignored ignores everything below it whatever a negation says), and,
  with the lowest precedence, ``$GIT_DIR/info/exclude``. A workspace folder inside an
  ignored directory sends nothing. A repository nested further down (a submodule) adds
  its own ``info/exclude``; its parent's rules still apply to it (stricter than git, never
  looser). Outside any repository the ``.gitignore`` files from the workspace folder down
  apply. A path is ignored when git would ignore it with ``core.ignorecase`` off or on.
  A symbolic link named ``.gitignore`` is read through (git skips it). The user's global
  ``core.excludesFile`` is not read;
- anything outside the workspace folders (symlinks resolved).

No pattern can re-include a file the deny list excludes (it is checked on its own, first).

Fail closed: an invalid ``privacy.exclude`` pattern, or one with more wildcards than
``files.slow_pattern`` allows (its matching could take hours), blocks sending
(``ExclusionError``). An ignore file that cannot be read (a FIFO, a device, over
``files.MAX_CONFIG_BYTES``, no permission) or parsed, or that holds such a pattern, and a
``.git`` file or ``commondir`` that cannot be read or is malformed, exclude everything below
the directory they govern, with that as the reason (naming the file, and the line).
Every one of these files is read through ``files.read_regular`` (never blocks, size-capped)
and re-read when its size or modification time changes.

Redaction (``redact``): before any text is sent, secrets inside code become placeholders:
private key blocks; AWS, Anthropic, OpenAI, GitHub, Slack, Google and Stripe key shapes;
JSON web tokens; ``Authorization`` header values (``Bearer``, ``Basic``, ``Token``...) and
bare ``Bearer``/``Basic`` credentials; passwords (and random-looking user names) in URLs
(``postgres://user:pw@host``); and string literals (quoted or triple-quoted) given to names
like ``*key*``, ``*secret*``, ``*token*``, ``*password*``: assigned (annotated or not),
keyword arguments, dict entries (``{"password": ...}``), subscripts
(``os.environ["API_TOKEN"] = ...``) and the argument after a quoted UPPER_CASE name
(``os.environ.setdefault("SECRET_KEY", ...)``, ``os.getenv("DB_PASSWORD", ...)``). A
password or secret (6 characters or more, no spaces) is redacted whatever it looks like,
placeholders such as ``"password"``, ``"****"`` or ``"{pw}"`` aside; a key or token only
when it looks random (12 characters or more of a token's alphabet, varied, with a digit or
mixed case, not a file name). Each replacement is reported (kind and line), never its value. A
placeholder keeps the line structure: a secret over several lines becomes one placeholder
per line, with the original line breaks (line numbers after it do not move).
"""

from __future__ import annotations

import base64
import binascii
import math
import os
import re
import stat
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pathspec

from drain_ls import files

DEFAULT_DENY = (
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".ssh/",
    ".aws/",
    ".git/",
    "*secret*",
    "*credential*",
    ".netrc",
    ".npmrc",
    ".pypirc",
)


class ExclusionError(ValueError):
    """A ``privacy.exclude`` pattern that cannot be understood: nothing is sent."""


class _Unusable(Exception):
    """An ignore file (or the ``.git`` file leading to one) that cannot be used: ``str()``
    is the reason, and everything below ``directory`` is excluded."""

    def __init__(self, reason: str, directory: Path) -> None:
        super().__init__(reason)
        self.directory = directory


@dataclass(frozen=True, slots=True)
class _IgnoreFile:
    """One parsed ignore file: its patterns as written and case-folded."""

    exact: pathspec.GitIgnoreSpec
    folded: pathspec.GitIgnoreSpec | None  # None: the folded patterns do not compile


@dataclass(frozen=True, slots=True)
class _Source:
    """Ignore patterns, relative to ``base``, that apply below it."""

    base: Path
    label: str
    rules: _IgnoreFile


_Signature = tuple[int, int, int, int, int]


def _compile(lines: list[str]) -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines(lines)


def _read(path: Path) -> bytes | None:
    """The bytes of ``path``, None when it does not exist; raises ``_Unreadable``."""
    try:
        return files.read_regular(path, files.MAX_CONFIG_BYTES)
    except FileNotFoundError:
        return None
    except files.UnreadableFile as exc:
        raise _Unreadable(f"cannot read {path}: {str(exc).removesuffix(', skipped')}") from None


class _Unreadable(Exception):
    """A file ``files.read_regular`` refused; ``str()`` says which and why."""


def _stat(path: Path, governs: Path) -> os.stat_result | None:
    """``os.stat(path)``, None when it does not exist; ``_Unusable`` (for everything under
    ``governs``) when it cannot be looked at."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _Unusable(f"cannot read {path}: {exc.strerror or exc}", governs) from None


class Exclusions:
    """Decides whether a file's content may be sent."""

    def __init__(self, roots: list[Path], patterns: tuple[str, ...] = ()) -> None:
        """Files under ``roots`` only, minus the deny list and ``patterns``."""
        self.roots = [root.resolve() for root in roots]
        for pattern in patterns:
            slow = files.slow_pattern(pattern)
            if slow is not None:
                raise ExclusionError(f"privacy.exclude: {pattern[:80]!r}: {slow}")
        # The deny list has a spec of its own, checked first: no pattern after it (a
        # workspace's ``!*``) can re-include what it excludes.
        self.deny = _compile([p.casefold() for p in DEFAULT_DENY])
        try:
            _compile(list(patterns))  # errors are reported as the user wrote the pattern
            self.spec = _compile([p.casefold() for p in patterns])
        except Exception as exc:  # pathspec raises several types for bad patterns
            raise ExclusionError(f"privacy.exclude: {exc}") from exc
        self._files: dict[Path, tuple[_Signature, _IgnoreFile | str]] = {}

    # --- reading ignore files ------------------------------------------------------------

    def _ignore_file(self, path: Path, governs: Path) -> _IgnoreFile | None:
        """The patterns of ``path`` (None when there is none); raises ``_Unusable``."""
        info = _stat(path, governs)
        if info is None:
            return None
        signature = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_mode)
        cached = self._files.get(path)
        if cached is None or cached[0] != signature:
            cached = (signature, self._parse(path))
            self._files[path] = cached
        result = cached[1]
        if isinstance(result, str):
            raise _Unusable(result, governs)
        return result

    def _parse(self, path: Path) -> _IgnoreFile | str:
        try:
            data = _read(path)
        except _Unreadable as exc:
            return str(exc)
        if data is None:
            return _compile_ignore([])
        text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
        lines = [line.removesuffix("\r") for line in text.split("\n")]
        try:
            return _compile_ignore(lines)
        except Exception as exc:  # pathspec raises several types for bad patterns
            return f"cannot parse {path}: {exc}"

    def _info_exclude(self, directory: Path) -> Path | None:
        """The ``info/exclude`` of the repository whose ``.git`` is in ``directory`` (None:
        no repository there); raises ``_Unusable``."""
        dot_git = directory / ".git"
        info = _stat(dot_git, directory)
        if info is None:
            return None
        if stat.S_ISDIR(info.st_mode):
            git_dir = dot_git
        else:
            # A worktree or submodule: ``gitdir: <path>``, relative to the file's directory.
            try:
                data = _read(dot_git)
            except _Unreadable as exc:
                raise _Unusable(str(exc), directory) from None
            first = (data or b"").decode("utf-8", errors="replace").split("\n", 1)[0]
            if not first.startswith("gitdir:") or not first[7:].strip():
                raise _Unusable(f"{dot_git} is not a `gitdir: <path>` file", directory)
            git_dir = directory / first[7:].strip()
        try:
            common = _read(git_dir / "commondir")
        except _Unreadable as exc:
            raise _Unusable(str(exc), directory) from None
        if common is not None and common.strip():
            git_dir = git_dir / common.decode("utf-8", errors="replace").strip()
        return git_dir / "info" / "exclude"

    def _sources(self, directory: Path) -> list[_Source]:
        """The ignore files ``directory`` holds, lowest precedence first."""
        out: list[_Source] = []
        exclude = self._info_exclude(directory)
        if exclude is not None:
            rules = self._ignore_file(exclude, directory)
            if rules is not None:
                out.append(_Source(directory, ".git/info/exclude", rules))
        rules = self._ignore_file(directory / ".gitignore", directory)
        if rules is not None:
            out.append(_Source(directory, ".gitignore", rules))
        return out

    @staticmethod
    def _top(root: Path) -> Path:
        """The repository root at or above ``root``, else ``root``."""
        for directory in (root, *root.parents):
            if os.path.lexists(directory / ".git"):
                return directory
        return root

    # --- deciding ------------------------------------------------------------------------

    def why_excluded(self, path: Path) -> str | None:
        """None when the file may be sent, else the reason."""
        real = path.resolve()
        root = next((r for r in self.roots if real.is_relative_to(r)), None)
        if root is None:
            return "outside the workspace folders"
        relative = real.relative_to(root).as_posix()
        folded = relative.casefold()
        if self.deny.match_file(folded) or self.spec.match_file(folded):
            return "matches the deny list or privacy.exclude"
        try:
            return self._ignored(self._top(root), real)
        except _Unusable as exc:
            return f"{exc}: nothing under {exc.directory} is sent"

    def _ignored(self, top: Path, real: Path) -> str | None:
        directories = [top]
        for part in real.parent.relative_to(top).parts:
            directories.append(directories[-1] / part)
        sources: list[_Source] = []
        for index, directory in enumerate(directories):
            # A directory git ignores is never entered: nothing below it can be re-included.
            label = _decide(sources, directory, is_dir=True) if index else None
            if label is not None:
                return f"ignored by {label}"
            sources.extend(self._sources(directory))
        label = _decide(sources, real, is_dir=False)
        return None if label is None else f"ignored by {label}"


def _compile_ignore(lines: list[str]) -> _IgnoreFile:
    """Raises (fail closed) on a pattern that does not compile or could take too long."""
    for number, line in enumerate(lines, 1):
        slow = files.slow_pattern(line)
        if slow is not None:
            raise ValueError(f"line {number}: {slow}")
    exact = _compile(lines)
    try:
        folded: pathspec.GitIgnoreSpec | None = _compile([line.casefold() for line in lines])
    except Exception:  # a range such as [Z-a] that no longer compiles once folded
        folded = None
    return _IgnoreFile(exact, folded)


def _decide(sources: list[_Source], path: Path, is_dir: bool) -> str | None:
    """The label of the ignore file that ignores ``path``, or None.

    Git's rule: the highest-precedence source with a matching pattern decides (the deepest
    ``.gitignore`` first, ``info/exclude`` last), its last matching pattern wins. Ignored
    when the patterns as written, or the case-folded ones, say so.
    """
    for fold in (False, True):
        for source in reversed(sources):
            spec = source.rules.folded if fold else source.rules.exact
            if spec is None:
                continue
            relative = path.relative_to(source.base).as_posix() + ("/" if is_dir else "")
            result = spec.check_file(relative.casefold() if fold else relative)
            if result.include is not None:
                if result.include:
                    return source.label
                break
    return None


@dataclass(frozen=True, slots=True)
class Redaction:
    """One secret replaced: what kind, on which line (1-based), never the value."""

    kind: str
    line: int


# --- what a secret looks like -----------------------------------------------------------

_LINE_BREAK = re.compile(r"\r\n|\r|\n")

# Values that stand for a secret without being one.
_PLACEHOLDERS = frozenset({"password", "passwd", "pass", "pwd", "secret", "token"})
_TEMPLATE = re.compile(r"%\(\w+\)|%[sdr](?![0-9A-Fa-f])|\{[\w.\[\]]*\}|\$\{|^\$\w+$|^<.*>$")
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9+/=_\-.~]+")
_FILE_NAME = re.compile(r"\.[A-Za-z]{2,4}$")


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(value)
    return -sum(c / len(value) * math.log2(c / len(value)) for c in counts.values())


def _random_looking(value: str) -> bool:
    """Long, varied, in a token's alphabet and not made of words: a digit, or mixed case
    without separators."""
    if len(value) < 12 or entropy(value) < 3.5 or _TOKEN_CHARS.fullmatch(value) is None:
        return False
    if any(c.isdigit() for c in value):
        return True
    mixed = any(c.islower() for c in value) and any(c.isupper() for c in value)
    return mixed and not any(c in value for c in "./\\:-")


def _real_value(value: str) -> bool:
    """Not a placeholder (``"password"``, ``"{pw}"``, ``"%s"``, ``"****"``)."""
    return (
        value.casefold() not in _PLACEHOLDERS
        and len(set(value)) > 1
        and any(c.isalnum() for c in value)
        and _TEMPLATE.search(value) is None
    )


def _basic_credentials(value: str) -> bool:
    """Base64 of ``user:password``."""
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded and decoded.isascii() and decoded.decode().isprintable()


def _always(value: str) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    group: str | int = 0
    accept: Callable[[str], bool] = _always


_TOKEN68 = r"[A-Za-z0-9\-._~+/]"
_URL_USER = r"""[^\s:@/?#'"<>\\`]"""
_URL_PASSWORD = r"""[^\s@/?#'"<>\\`]"""

_RULES: list[_Rule] = [
    _Rule(
        "private key",
        # The body stops at the first "-----" (possessive: one scan per BEGIN, however
        # many BEGIN lines there are without an END).
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----[^-]*+(?:-(?!----)[^-]*+)*+"
            r"-----END [A-Z ]*PRIVATE KEY-----"
        ),
    ),
    _Rule("AWS access key", re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b")),
    _Rule("Anthropic API key", re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{16,}")),
    _Rule("OpenAI API key", re.compile(r"\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}")),
    _Rule(
        "GitHub token",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})"),
    ),
    _Rule("Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{10,}")),
    _Rule("Google API key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
    _Rule("Stripe key", re.compile(r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}")),
    _Rule(
        "JSON web token",
        re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"),
    ),
    # "Authorization: Bearer x", {"Authorization": "Basic x"}, headers["Authorization"] = ...
    _Rule(
        "Authorization header",
        re.compile(
            r"""\bAuthorization['"]?\]?\s*[:=,]\s*[rbuRBU]{0,2}['"]?[ \t]*"""
            rf"""(?:Bearer|Basic|Token|Bot|ApiKey|Key)[ \t]+(?P<value>{_TOKEN68}{{8,}}=*)""",
            re.IGNORECASE,
        ),
        "value",
        _real_value,
    ),
    _Rule(
        "Bearer token",
        re.compile(rf"\bBearer[ \t]+(?P<value>{_TOKEN68}{{12,}}=*)", re.IGNORECASE),
        "value",
        _random_looking,
    ),
    _Rule(
        "Basic credentials",
        re.compile(r"\bBasic[ \t]+(?P<value>[A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])"),
        "value",
        _basic_credentials,
    ),
    # scheme://user:password@host (the user may be empty: redis://:pw@host)
    _Rule(
        "password in URL",
        re.compile(
            rf"\b[A-Za-z][A-Za-z0-9+.\-]{{1,30}}://{_URL_USER}{{0,256}}"
            rf":(?P<value>{_URL_PASSWORD}{{1,256}})@(?=[\w\[])"
        ),
        "value",
        _real_value,
    ),
    # scheme://TOKEN@host
    _Rule(
        "token in URL",
        re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]{1,30}://(?P<value>[A-Za-z0-9\-._~]{12,256})@(?=\w)"),
        "value",
        _random_looking,
    ),
]

# A string literal given to a name that says "secret": ``password = "..."``,
# ``api_key: str = '''...'''``, ``connect(password="...")``, ``{"api_key": "..."}``,
# ``os.environ["API_TOKEN"] = "..."``, ``os.environ.setdefault("SECRET_KEY", "...")``.
_SECRET_WORD = r"(?:key|secret|token|passw(?:or)?d|passphrase|pwd|credential)"
_VALUE = (
    r"""[rbuRBU]{0,2}(?:(?P<q3>'''|\"\"\")\s*(?P<v3>[^\s'"]{6,4096})\s*(?P=q3)"""
    r"""|(?P<q1>['"])(?P<v1>[^'"\n]{6,})(?P=q1))"""
)
# Names are matched whole and possessively (a lazy prefix before the secret word, retried
# at every length, made ``"key" * 20000`` quadratic); ``_SECRET_NAME`` then looks for the word.
_QUOTED_NAME = r"[\w.\-]++"
_SECRET_NAME = re.compile(_SECRET_WORD, re.IGNORECASE)
# (pattern, only UPPER_CASE names, the secret word in the name's last dotted part)
_ASSIGNED: list[tuple[re.Pattern[str], bool, bool]] = [
    (
        re.compile(
            r"(?<![\w.\-])(?P<name>[\w.]++)(?!-)"
            rf"\s*(?::\s*[\w.\[\], |]{{1,80}}?\s*=|[:=])\s*{_VALUE}",
            re.IGNORECASE,
        ),
        False,
        True,
    ),
    # a dict entry or a subscript
    (
        re.compile(
            rf"(?P<nq>['\"])(?P<name>{_QUOTED_NAME})(?P=nq)\s*(?:\]\s*=|:)\s*{_VALUE}",
            re.IGNORECASE,
        ),
        False,
        False,
    ),
    # an environment variable's name, then its value: os.environ.setdefault("SECRET_KEY",
    # "..."), os.getenv("DB_PASSWORD", "..."), os.putenv(...) (a list of names is not)
    (
        re.compile(
            rf"\(\s*(?P<nq>['\"])(?P<name>{_QUOTED_NAME})(?P=nq)\s*,\s*{_VALUE}",
            re.IGNORECASE,
        ),
        True,
        False,
    ),
]
_PASSWORD_WORDS = ("passw", "pwd", "secret", "passphrase")


def _assigned(text: str) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    for pattern, upper_only, last_part in _ASSIGNED:
        for match in pattern.finditer(text):
            group = "v3" if match.group("v3") is not None else "v1"
            value = match.group(group)
            name = match.group("name")
            if upper_only and not name.isupper():
                continue
            # An assigned name says "secret" in its last dotted part (``cfg.api_key``, not
            # ``key.path``); a quoted one anywhere.
            said = name.rpartition(".")[2] if last_part else name
            if _SECRET_NAME.search(said) is None:
                continue
            # A password is a secret whatever it looks like; a "key" or "token" only when
            # it looks random (a dict key or a token type is not).
            password = any(word in name.lower() for word in _PASSWORD_WORDS)
            if (
                " " not in value
                and _real_value(value)
                and (
                    (password and len(value) >= 6)
                    or (_random_looking(value) and not _FILE_NAME.search(value))
                )
            ):
                found.append((match.start(group), match.end(group), f"secret assigned to `{name}`"))
    return found


def _placeholder(kind: str, covered: str) -> str:
    """``<redacted: kind>``, then one ``<redacted: continued>`` per line break ``covered``
    held, with the same line breaks: the lines after it keep their numbers."""
    breaks = _LINE_BREAK.findall(covered)
    return f"<redacted: {kind}>" + "".join(b + "<redacted: continued>" for b in breaks)


def redact(text: str) -> tuple[str, list[Redaction]]:
    """``text`` with every secret found replaced by ``<redacted: kind>``."""
    found: list[tuple[int, int, str]] = []
    for rule in _RULES:
        for match in rule.pattern.finditer(text):
            if rule.accept(match.group(rule.group)):
                found.append((match.start(rule.group), match.end(rule.group), rule.kind))
    found.extend(_assigned(text))
    if not found:
        return text, []
    # Overlapping detections become one: the earliest (the longest on a tie) names it.
    found.sort(key=lambda item: (item[0], -item[1]))
    merged: list[tuple[int, int, str]] = []
    for start, end, kind in found:
        if merged and start < merged[-1][1]:
            first, last, named = merged[-1]
            merged[-1] = (first, max(last, end), named)
        else:
            merged.append((start, end, kind))
    out: list[str] = []
    redactions: list[Redaction] = []
    position = 0
    for start, end, kind in merged:
        out.append(text[position:start])
        out.append(_placeholder(kind, text[start:end]))
        redactions.append(Redaction(kind, text.count("\n", 0, start) + 1))
        position = end
    out.append(text[position:])
    return "".join(out), redactions
