"""What may leave the machine: exclusions (never read or send) and redaction of secrets.

Exclusions: a default deny list (``.env*``, ``*.pem``, ``*.key``, ``id_rsa*``, ``.ssh/``,
``.aws/``, ``*secret*``, ``*credential*``, ``.netrc``, ``.npmrc``, ``.pypirc``), files that
``.gitignore`` ignores, the user's ``privacy.exclude`` globs, and anything outside the
workspace folders (symlinks resolved). An invalid exclusion pattern blocks sending.

Redaction: before any text is sent, secrets inside code become placeholders: private key
blocks; AWS, Anthropic, OpenAI, GitHub, Slack, Google and Stripe key shapes; and
high-entropy string literals assigned to names like ``*key*``, ``*secret*``, ``*token*``,
``*password*``. Each replacement is reported (kind and line), never its value.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pathspec

DEFAULT_DENY = (
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "id_rsa*",
    ".ssh/",
    ".aws/",
    "*secret*",
    "*credential*",
    ".netrc",
    ".npmrc",
    ".pypirc",
)


class ExclusionError(ValueError):
    """A ``privacy.exclude`` pattern that cannot be understood: nothing is sent."""


class Exclusions:
    """Decides whether a file's content may be sent."""

    def __init__(self, roots: list[Path], patterns: tuple[str, ...] = ()) -> None:
        """Files under ``roots`` only, minus the deny list and ``patterns``."""
        self.roots = [root.resolve() for root in roots]
        try:
            self.spec = pathspec.GitIgnoreSpec.from_lines([*DEFAULT_DENY, *patterns])
        except Exception as exc:  # pathspec raises several types for bad patterns
            raise ExclusionError(f"privacy.exclude: {exc}") from exc
        self._gitignore: dict[Path, pathspec.GitIgnoreSpec | None] = {}

    def _ignored(self, directory: Path, relative: str) -> bool:
        if directory not in self._gitignore:
            try:
                lines = (directory / ".gitignore").read_text(errors="replace").splitlines()
                self._gitignore[directory] = pathspec.GitIgnoreSpec.from_lines(lines)
            except OSError:
                self._gitignore[directory] = None
        spec = self._gitignore[directory]
        return spec is not None and spec.match_file(relative)

    def why_excluded(self, path: Path) -> str | None:
        """None when the file may be sent, else the reason."""
        real = path.resolve()
        root = next((r for r in self.roots if real.is_relative_to(r)), None)
        if root is None:
            return "outside the workspace folders"
        relative = real.relative_to(root).as_posix()
        if self.spec.match_file(relative):
            return "matches the deny list or privacy.exclude"
        directory = real.parent
        while True:
            if self._ignored(directory, real.relative_to(directory).as_posix()):
                return "ignored by .gitignore"
            if directory == root or directory.parent == directory:
                break
            directory = directory.parent
        return None


@dataclass(frozen=True, slots=True)
class Redaction:
    """One secret replaced: what kind, on which line (1-based), never the value."""

    kind: str
    line: int


_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "private key",
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
    ),
    ("AWS access key", re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b")),
    ("Anthropic API key", re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{16,}")),
    ("OpenAI API key", re.compile(r"\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}")),
    ("GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})")),
    ("Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{10,}")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
    ("Stripe key", re.compile(r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}")),
]
_ASSIGNED = re.compile(
    r"""(?P<name>\b[\w.]*(?:key|secret|token|passw(?:or)?d|pwd|credential)[\w]*\b)"""
    r"""\s*[:=]\s*[rbuRBU]{0,2}(?P<quote>['"])(?P<value>[^'"\n]{8,})(?P=quote)""",
    re.IGNORECASE,
)


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(value)
    return -sum(c / len(value) * math.log2(c / len(value)) for c in counts.values())


def redact(text: str) -> tuple[str, list[Redaction]]:
    """``text`` with every secret found replaced by ``<redacted: kind>``."""
    found: list[tuple[int, int, str]] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            found.append((match.start(), match.end(), kind))
    for match in _ASSIGNED.finditer(text):
        value = match.group("value")
        name = match.group("name").lower()
        # A password is a secret whatever it looks like; a "key" or "token" only when it
        # looks random (a dict key or a token type is not).
        password = any(word in name for word in ("passw", "pwd", "secret"))
        random_looking = len(value) >= 12 and entropy(value) >= 3.5
        if " " not in value and (password or random_looking):
            found.append(
                (
                    match.start("value"),
                    match.end("value"),
                    f"secret assigned to `{match.group('name')}`",
                )
            )
    if not found:
        return text, []
    found.sort()
    out: list[str] = []
    redactions: list[Redaction] = []
    position = 0
    for start, end, kind in found:
        if start < position:
            continue  # overlapping detections: the first one wins
        out.append(text[position:start])
        out.append(f"<redacted: {kind}>")
        redactions.append(Redaction(kind, text.count("\n", 0, start) + 1))
        position = end
    out.append(text[position:])
    return "".join(out), redactions
