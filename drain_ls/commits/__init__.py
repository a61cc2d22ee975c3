"""Commit review ("session reflection"): the commits made since the last review, safe to send.

``commits_since`` asks git (a subprocess, no shell, read-only: git reads the object
database, and ``diff-tree`` the index and ``.gitattributes``, taking an unchanged file's bytes
from the working tree instead of its blob; nothing is written) for the non-merge commits
after ``since`` and turns them into a ``CommitBatch``: per commit a header line and its
unified diff, with

- excluded files (``privacy.Exclusions``) removed before their content is ever read: each
  commit's file list comes first (``--numstat -z``, names and line counts only), and the
  diff is then asked for the allowed paths only (literal pathspecs); a diff whose path is
  not on the allowed list is dropped (fail closed). Excluded files are counted, not named;
- binary, generated (lock files, minified code, notebooks) and very large files skipped;
- deleted files named, their old content not sent (``--irreversible-delete``);
- secrets redacted (``privacy.redact``) line by line, multi-line secrets (private key
  blocks) too, keeping the diff's line structure; commit subjects and hunk headers as well;
- a size bound: the newest commits are served first, whole hunks while they fit, then the
  longest prefix of a hunk that fits (whole lines, hunk header recounted), then nothing.

The answer of a reviewer (a model or ``offline_review``) is a list of ``path:line: message``
lines, which ``parse_findings`` reads leniently. ``still_there`` finds where a finding's line
is in the current text, from ``CommitBatch.added_lines`` (the lines the range added, numbered
in the newest version of each file, redacted like what is sent).

A repository is untrusted input (a cloned or unpacked project): its ``.git/config``, the
files that config includes (``include.path``, ``includeIf``, ``config.worktree``) and its
``.gitattributes`` must never make git run a program. Every call runs with
(``_Git``, ``_git_env``, ``_GIT_CONFIG``, ``_DIFF_OPTIONS``):

- ``-c`` settings, which take precedence over every configuration file:
  ``core.fsmonitor=`` (empty: off; the hook runs whenever ``diff-tree`` reads the index);
  ``core.hooksPath=/dev/null`` (no hook can exist there); ``core.editor=:`` and
  ``sequence.editor=:`` (git's "no editor"); ``core.askPass=`` (empty: no askpass program,
  not even ``SSH_ASKPASS``); ``credential.helper=`` (empty: the list of helpers, URL-specific
  ones included, is reset); ``core.sshCommand``, ``core.alternateRefsCommand``,
  ``gpg.program``, ``gpg.openpgp.program``, ``gpg.x509.program``, ``gpg.ssh.program`` and
  ``gpg.ssh.defaultKeyCommand`` set to ``/dev/null`` (nothing that can be run), with
  ``log.showSignature=false`` and a ``log`` format that needs no signature;
  ``protocol.allow=never`` and ``protocol.<name>.allow=never`` for file, git, ssh, http,
  https, ftp, ftps and ext (a partial clone fetches missing objects lazily from its
  promisor remote: that would run ``core.sshCommand``, ``core.gitProxy``,
  ``remote.<name>.uploadpack``, an ``ext::`` command, a remote helper, or a credential
  helper and askpass for http); ``safe.bareRepository=explicit`` (a bare repository, which
  a project can carry in its files, config included, is not used when opened as a folder:
  the review is then off); ``gc.auto=0`` and ``maintenance.auto=false``;
- flags for the settings whose names vary: ``--no-ext-diff`` (``diff.external``,
  ``diff.<driver>.command``) and ``--no-textconv`` (``diff.<driver>.textconv``) on every
  ``diff-tree`` and ``log``; ``--no-filters`` on ``hash-object`` (``filter.<driver>.*``
  run only when content moves between the working tree and the object database, which
  ``diff-tree`` never does for a file a filter applies to); ``--no-pager`` (``core.pager``,
  ``pager.<cmd>``);
- an environment without ``GIT_CONFIG_PARAMETERS``, ``GIT_CONFIG_COUNT``,
  ``GIT_CONFIG_KEY_*``/``GIT_CONFIG_VALUE_*``, ``GIT_CONFIG``, ``GIT_EXTERNAL_DIFF``,
  ``GIT_SSH``, ``GIT_SSH_COMMAND``, ``GIT_SSH_VARIANT``, ``GIT_PROXY_COMMAND`` and the
  variables that point git at another repository, and with ``GIT_CONFIG_NOSYSTEM=1``,
  ``GIT_ALLOW_PROTOCOL=`` (empty: no transport at all, remote helpers included),
  ``GIT_PROTOCOL_FROM_USER=0``, ``GIT_NO_LAZY_FETCH=1``, ``GIT_TERMINAL_PROMPT=0``,
  ``GIT_ASKPASS=`` and ``SSH_ASKPASS=`` (empty: none), ``GIT_EDITOR=:``,
  ``GIT_SEQUENCE_EDITOR=:``, ``GIT_PAGER=cat`` and ``PAGER=cat`` (git's "no pager");
- ``git`` found on the absolute entries of ``PATH`` only, and a ``PATH`` without relative
  entries for git's own children (a relative entry would be looked up in the repository).

Not neutralised, because git itself ignores them in a repository's configuration or our
commands never reach them: ``uploadpack.packObjectsHook`` (only read from protected
configuration), ``alias.*`` (an alias never replaces a built-in command), ``merge.<driver>.*``,
``difftool.*``, ``mergetool.*``, ``trailer.<token>.cmd``, ``browser.*``, ``man.*``,
``submodule.<name>.update``, hooks defined in configuration by newer gits (none of these
commands fires a hook). A repository that belongs to another user is refused by git
(``safe.directory``; only the user's global configuration can allow it, the system one is
not read): the review is then off, with that reason logged.

A project's ``.git`` can also name another repository on disk (a ``.git`` file's
``gitdir:``, absolute or ``../sibling``, a ``commondir`` file in that git dir, a symbolic
link, ``core.worktree``), which no clone makes but an unpacked archive can: its commits must
not be sent under this workspace's consent. ``_check_repository`` asks git where the git dir,
common dir and work tree are before any commit is read, and the review is off (logged) unless
they are the workspace's own: plain repositories, a folder of one, submodules and linked
worktrees (git's back-link) pass.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from drain_ls.budget import estimate_input_tokens
from drain_ls.privacy import redact

logger = logging.getLogger("drain_ls")

PROMPT_VERSION = 1
MAX_FINDINGS = 8

REVIEW_INSTRUCTIONS = """\
You review the commits below: for each commit a line `commit <sha> <subject>` and its \
unified diff (oldest commit first). Report only what a careful senior reviewer would ask \
the author to change: bugs, unhandled errors, security problems, debugging code left in, \
missing docstrings or tests for new public code, confusing names. Report at most 8 findings, \
the most important first.

Answer with one finding per line, exactly in the form
path:line: message
where `path` is the file's path relative to the repository as the diff shows it (without \
the `a/` or `b/` prefix), `line` is a line number in the new version of the file (the `+` \
side of the hunk; for a file changed by several commits, the newest one), and `message` is \
one sentence. No other text: no headings, no bullets, no code blocks.

Secrets were replaced by `<redacted: ...>` placeholders before you saw the code: do not \
report them. If nothing is worth reporting, answer exactly: no findings"""

# Files whose diffs are noise to a reviewer (and large): skipped like binary files.
_GENERATED = (
    "*.lock",
    "package-lock.json",
    "pnpm-lock.yaml",
    "*.min.js",
    "*.min.css",
    "*.map",
    "*.svg",
    "*.ipynb",
)
_MAX_FILE_LINES = 20_000  # added + deleted lines in one commit: more is skipped unread
_MAX_FILES_PER_COMMIT = 200
_MAX_SUBJECT = 200
_MIN_ROOM = 64  # bytes: less cannot hold a file header, a hunk header and a line
_TRUNCATION_NOTE = "[diff truncated: some files or hunks were left out to fit the size limit]"
_HEX = re.compile(r"[0-9a-fA-F]{4,64}")
# Variables that would point git elsewhere than ``root``, change its output, or run a program
# (see the module docstring); ``_git_env`` sets some of them again, to harmless values.
_SCRUBBED_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_EXTERNAL_DIFF",
    "GIT_DIFF_OPTS",
    "GIT_PAGER",
    "GIT_LITERAL_PATHSPECS",
    "GIT_GLOB_PATHSPECS",
    "GIT_NOGLOB_PATHSPECS",
    "GIT_ICASE_PATHSPECS",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_SSH_VARIANT",
    "GIT_PROXY_COMMAND",
    "SSH_ASKPASS_REQUIRE",
)
_SCRUBBED_ENV_PREFIXES = ("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_")
_NOWHERE = os.devnull  # neither a directory nor a program: a setting pointed there runs nothing
_GIT_CONFIG = (
    "core.quotepath=off",
    "log.showSignature=false",
    "diff.suppressBlankEmpty=false",
    "diff.noprefix=false",
    "diff.mnemonicPrefix=false",
    "i18n.logOutputEncoding=UTF-8",
    # Nothing a repository configures may run a program (the module docstring says why).
    "core.fsmonitor=",  # empty: off in every git ("false" named a hook program before 2.36)
    f"core.hooksPath={_NOWHERE}",
    "core.editor=:",
    "sequence.editor=:",
    "core.askPass=",
    "credential.helper=",
    f"core.sshCommand={_NOWHERE}",
    f"core.alternateRefsCommand={_NOWHERE}",
    f"gpg.program={_NOWHERE}",
    f"gpg.openpgp.program={_NOWHERE}",
    f"gpg.x509.program={_NOWHERE}",
    f"gpg.ssh.program={_NOWHERE}",
    f"gpg.ssh.defaultKeyCommand={_NOWHERE}",
    "protocol.allow=never",
    *(
        f"protocol.{name}.allow=never"
        for name in ("file", "git", "ssh", "http", "https", "ftp", "ftps", "ext")
    ),
    "safe.bareRepository=explicit",
    "gc.auto=0",
    "maintenance.auto=false",
)
# Words of git's refusal to read a repository, and why the review is then off.
_NOT_OWNED = (
    "off: git does not trust this repository, which belongs to another user "
    "(see git's safe.directory)"
)
_REFUSALS = (
    ("detected dubious ownership", _NOT_OWNED),
    ("is owned by someone else", _NOT_OWNED),  # the words of older git
    (
        "safe.bareRepository",
        "off: this folder is a bare repository, which git is told to use only when named "
        "explicitly (safe.bareRepository)",
    ),
)
_DIFF_OPTIONS = (
    "-r",
    "--no-commit-id",
    "--relative",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--src-prefix=a/",
    "--dst-prefix=b/",
)


@dataclass(frozen=True, slots=True)
class CommitInfo:
    """One reviewed commit: ``files`` are the paths (relative to the root) whose diff, or
    part of it, is in the batch's ``diff_text``."""

    sha: str
    date: str
    subject: str
    files: list[str]


@dataclass(frozen=True, slots=True)
class CommitBatch:
    """The commits to review and exactly what would be sent about them.

    ``diff_text`` is at most ``max_bytes`` of UTF-8. ``first`` is the oldest commit reviewed,
    ``last`` the HEAD reviewed (the next ``since``). ``added_lines`` maps a path to the lines
    the range added, by 1-based line number in the newest version of the file (redacted
    text: it holds no secret). ``since_lost`` is true when ``since`` was no longer an
    ancestor of HEAD (rebase, reset): the last commits were taken instead.
    ``omitted_commits`` counts new commits left out by ``max_commits``; ``skipped_files``
    the binary, generated and too large files whose diff is not sent.
    """

    root: Path
    commits: list[CommitInfo]
    diff_text: str
    first: str
    last: str
    excluded_files: int
    redactions: int
    truncated: bool
    added_lines: dict[str, dict[int, str]] = field(default_factory=dict)
    skipped_files: int = 0
    omitted_commits: int = 0
    since_lost: bool = False

    @property
    def paths(self) -> frozenset[str]:
        """The paths whose diff is in ``diff_text``: the only ones a finding may name."""
        return frozenset(path for commit in self.commits for path in commit.files)

    @property
    def empty(self) -> bool:
        """True when no diff at all is in ``diff_text`` (only excluded or skipped files):
        nothing worth a request, but ``last`` may still be recorded as reviewed."""
        return not self.paths

    @property
    def estimated_input_tokens(self) -> int:
        """An upper bound on the input tokens of a review request of this batch."""
        return estimate_input_tokens(REVIEW_INSTRUCTIONS, self.diff_text)


@dataclass(frozen=True, slots=True)
class ReviewFinding:
    """One finding of a review: ``line`` is 1-based, in the newest version of ``path``."""

    path: str
    line: int
    message: str


# --- git -------------------------------------------------------------------------------


class _GitError(Exception):
    """git is missing, failed, timed out, or answered something unexpected."""


def _absolute_path(path: str) -> str:
    """``PATH`` without its relative entries (an empty one is the current directory)."""
    return os.pathsep.join(entry for entry in path.split(os.pathsep) if os.path.isabs(entry))


def _git_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _SCRUBBED_ENV and not k.startswith(_SCRUBBED_ENV_PREFIXES)
    }
    env.update(
        PATH=_absolute_path(os.environ.get("PATH", os.defpath)),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_ALLOW_PROTOCOL="",  # no transport at all: a lazy fetch would run programs
        GIT_PROTOCOL_FROM_USER="0",
        GIT_NO_LAZY_FETCH="1",  # git 2.45 and later
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="",
        SSH_ASKPASS="",
        GIT_EDITOR=":",
        GIT_SEQUENCE_EDITOR=":",
        GIT_PAGER="cat",
        PAGER="cat",
        GIT_OPTIONAL_LOCKS="0",  # never take the index lock the user's own git needs
        LC_ALL="C",
        LANGUAGE="C",
    )
    return env


class _Git:
    """Runs git in ``root`` within one overall deadline."""

    def __init__(self, root: Path, timeout: float) -> None:
        self.root = root
        self.deadline = time.monotonic() + timeout
        self.env = _git_env()
        # Never a `git` of a relative PATH entry: that would be looked up in the workspace.
        self.program = shutil.which("git", path=self.env["PATH"])

    def run(self, *args: str, ok: tuple[int, ...] = (0,)) -> tuple[int, bytes]:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise _GitError("timed out")
        if self.program is None:
            raise _GitError("git is not installed")
        command = [self.program, "--no-pager", "--literal-pathspecs", "-C", str(self.root)]
        for setting in _GIT_CONFIG:
            command += ["-c", setting]
        command += args
        try:
            done = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                env=self.env,
                timeout=remaining,
                check=False,
            )
        except FileNotFoundError:
            raise _GitError("git is not installed") from None
        except subprocess.TimeoutExpired:
            raise _GitError(f"`git {args[0]}` timed out") from None
        except OSError as exc:
            raise _GitError(f"`git {args[0]}` could not run: {exc}") from None
        if done.returncode not in ok:
            message = done.stderr.decode("utf-8", "replace").strip().splitlines()
            reason = message[0] if message else f"exit status {done.returncode}"
            for sign, refusal in _REFUSALS:
                if sign in reason:
                    raise _GitError(refusal)
            raise _GitError(f"`git {args[0]}` failed: {reason}")
        return done.returncode, done.stdout


# --- diffs -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Line:
    prefix: str  # " ", "+", "-" or "\\"
    text: str
    redactions: int = 0

    @property
    def size(self) -> int:
        return len(self.prefix.encode()) + len(self.text.encode("utf-8")) + 1


@dataclass(slots=True)
class _Hunk:
    old_start: int
    new_start: int
    section: str
    lines: list[_Line] = field(default_factory=list)
    old_count: int = 0
    new_count: int = 0
    section_redactions: int = 0

    def header(self, old: int, new: int) -> str:
        """The ``@@`` line for ``old`` and ``new`` lines from the hunk's start."""
        section = f" {self.section}" if self.section else ""
        return f"@@ -{self.old_start},{old} +{self.new_start},{new} @@{section}"

    def render(self, count: int) -> list[str]:
        """The first ``count`` lines of the hunk, under a header that counts them."""
        lines = self.lines[:count]
        old = sum(1 for line in lines if line.prefix in " -")
        new = sum(1 for line in lines if line.prefix in " +")
        return [self.header(old, new), *(line.prefix + line.text for line in lines)]


@dataclass(slots=True)
class _FileDiff:
    path: str  # relative to the root; the old path for a deleted file
    old_path: str | None  # None for an added file
    deleted: bool = False
    hunks: list[_Hunk] = field(default_factory=list)

    def header(self) -> list[str]:
        new, old = _display(self.path), _display(self.old_path or self.path)
        if self.deleted:
            return [f"diff --git a/{old} b/{old}", f"--- a/{old}", "+++ /dev/null"]
        lines = [f"diff --git a/{old} b/{new}"]
        if self.old_path is not None and self.old_path != self.path:
            lines += [f"rename from {old}", f"rename to {new}"]
        if self.hunks:
            lines += ["--- /dev/null" if self.old_path is None else f"--- a/{old}", f"+++ b/{new}"]
        return lines


def _display(path: str) -> str:
    """A path as text that is safe on one line of the diff."""
    text = path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def _size(lines: Iterable[str]) -> int:
    return sum(len(line.encode("utf-8")) + 1 for line in lines)


_ESCAPES = {ord("a"): 7, ord("b"): 8, ord("t"): 9, ord("n"): 10, ord("v"): 11, ord("f"): 12}
_ESCAPES |= {ord("r"): 13, ord('"'): 34, ord("\\"): 92}


def _unquote(raw: bytes) -> bytes:
    """A path as git prints it: C-quoted when it has special characters."""
    if len(raw) < 2 or raw[:1] != b'"' or raw[-1:] != b'"':
        return raw
    body, out, i = raw[1:-1], bytearray(), 0
    while i < len(body):
        if body[i] == 0x5C and i + 1 < len(body):
            following = body[i + 1]
            if 0x30 <= following <= 0x37 and re.fullmatch(rb"[0-7]{3}", body[i + 1 : i + 4]):
                out.append(int(body[i + 1 : i + 4], 8) & 0xFF)
                i += 4
                continue
            out.append(_ESCAPES.get(following, following))
            i += 2
            continue
        out.append(body[i])
        i += 1
    return bytes(out)


def _split_quoted(rest: bytes) -> tuple[bytes, bytes] | None:
    """The two paths of ``diff --git a/X b/Y`` (both sides equal unless renamed)."""
    if rest.startswith(b'"'):
        i = 1
        while i < len(rest) and rest[i] != 0x22:
            i += 2 if rest[i] == 0x5C else 1
        first, second = rest[: i + 1], rest[i + 2 :]
        return _unquote(first), _unquote(second)
    if rest.endswith(b'"'):
        start = rest.rfind(b' "')
        return (rest[:start], _unquote(rest[start + 1 :])) if start > 0 else None
    if (len(rest) - 1) % 2:
        return None
    half = (len(rest) - 1) // 2
    first, second = rest[:half], rest[half + 1 :]
    return (first, second) if first[2:] == second[2:] else None


def _header_path(raw: bytes, prefix: bytes) -> bytes | None:
    """The path of a ``---``/``+++`` line (None for /dev/null)."""
    if raw.endswith(b"\t"):  # git adds a tab after a name with a space in it
        raw = raw[:-1]
    if raw == b"/dev/null":
        return None
    path = _unquote(raw)
    if not path.startswith(prefix):
        raise _GitError("unexpected diff header")
    return path[len(prefix) :]


_HUNK = re.compile(rb"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)")
_MISSING = b"\0missing"


@dataclass(slots=True)
class _Chunk:
    git_paths: tuple[bytes, bytes] | None
    minus: bytes | None = _MISSING
    plus: bytes | None = _MISSING
    rename_from: bytes | None = None
    rename_to: bytes | None = None
    deleted: bool = False
    binary: bool = False
    hunks: list[_Hunk] = field(default_factory=list)
    old_left: int = 0
    new_left: int = 0

    def finish(self) -> _FileDiff | None:
        if self.binary:
            return None
        if self.deleted:
            if self.git_paths is None or self.git_paths[0][2:] != self.git_paths[1][2:]:
                return None
            path = os.fsdecode(self.git_paths[0][2:])
            return _FileDiff(path, path, deleted=True)
        new = self.plus if self.plus is not _MISSING else self.rename_to
        old = self.minus if self.minus is not _MISSING else self.rename_from
        if new is None or new == _MISSING:
            return None  # a mode change, or something not understood: nothing to review
        return _FileDiff(
            os.fsdecode(new), None if old is None else os.fsdecode(old), hunks=self.hunks
        )


def _parse_patch(out: bytes) -> list[_FileDiff]:
    """The file diffs of ``git diff-tree -p`` output."""
    files: list[_FileDiff] = []
    chunk: _Chunk | None = None

    def finish() -> None:
        if chunk is not None and (done := chunk.finish()) is not None:
            files.append(done)

    for raw in out.split(b"\n"):
        if raw.startswith(b"diff --git "):
            finish()
            chunk = _Chunk(_split_quoted(raw[len(b"diff --git ") :]))
            continue
        if chunk is None:
            continue
        if raw.startswith(b"@@ "):
            match = _HUNK.match(raw)
            if match is None:
                raise _GitError("unexpected hunk header")
            old_start, old_count, new_start, new_count, section = match.groups()
            hunk = _Hunk(
                int(old_start),
                int(new_start),
                section.decode("utf-8", "replace").rstrip("\r"),
                old_count=1 if old_count is None else int(old_count),
                new_count=1 if new_count is None else int(new_count),
            )
            chunk.hunks.append(hunk)
            chunk.old_left, chunk.new_left = hunk.old_count, hunk.new_count
            continue
        if chunk.hunks:
            kind = raw[:1]
            text = raw[1:].decode("utf-8", "replace")
            if text.endswith("\r"):
                text = text[:-1]
            if kind == b"\\":
                chunk.hunks[-1].lines.append(_Line("\\", text))
            elif kind == b" " and chunk.old_left > 0 and chunk.new_left > 0:
                chunk.old_left -= 1
                chunk.new_left -= 1
                chunk.hunks[-1].lines.append(_Line(" ", text))
            elif kind == b"-" and chunk.old_left > 0:
                chunk.old_left -= 1
                chunk.hunks[-1].lines.append(_Line("-", text))
            elif kind == b"+" and chunk.new_left > 0:
                chunk.new_left -= 1
                chunk.hunks[-1].lines.append(_Line("+", text))
            continue
        if raw.startswith(b"--- "):
            chunk.minus = _header_path(raw[4:], b"a/")
        elif raw.startswith(b"+++ "):
            chunk.plus = _header_path(raw[4:], b"b/")
        elif raw.startswith(b"rename from "):
            chunk.rename_from = _unquote(raw[len(b"rename from ") :])
        elif raw.startswith(b"rename to "):
            chunk.rename_to = _unquote(raw[len(b"rename to ") :])
        elif raw.startswith(b"deleted file mode"):
            chunk.deleted = True
        elif raw.startswith((b"Binary files ", b"GIT binary patch")):
            chunk.binary = True
    finish()
    return files


def _redact_lines(lines: list[_Line]) -> None:
    """Redacts ``lines`` in place, keeping their number and prefixes."""
    if not redact("\n".join(line.text for line in lines))[1]:
        return  # the common case: nothing to hide
    for line in lines:
        if line.prefix != "\\":
            line.text, found = redact(line.text)
            line.redactions += len(found)
    before = [line.text for line in lines]
    after, found = redact("\n".join(before))
    if not found:
        return
    # A secret over several lines (a private key block) became one placeholder: the lines
    # it covered keep their prefixes and get placeholders, so the line numbers stay right.
    new = after.split("\n")
    head = 0
    while head < min(len(before), len(new)) and before[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(before), len(new)) - head and before[-1 - tail] == new[-1 - tail]:
        tail += 1
    middle = new[head : len(new) - tail]
    covered = range(head, len(before) - tail)
    if not covered:
        return
    for index, row in enumerate(covered):
        lines[row].text = middle[index] if index < len(middle) else "<redacted: continued>"
    if len(middle) > len(covered):  # cannot happen: a placeholder has no line break
        lines[covered[-1]].text = " ".join(middle[len(covered) - 1 :])
    lines[covered[0]].redactions += len(found)


def _redact_file(diff: _FileDiff) -> None:
    for hunk in diff.hunks:
        hunk.section, found = redact(hunk.section)
        hunk.section_redactions = len(found)
        _redact_lines(hunk.lines)


# --- what to review --------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    path: str
    old_path: str | None
    added: int | None  # None: binary
    removed: int | None


def _parse_numstat(out: bytes) -> list[_Entry]:
    tokens = out.split(b"\0")
    entries: list[_Entry] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if not token.strip():
            continue
        parts = token.split(b"\t", 2)
        if len(parts) != 3:
            raise _GitError("unexpected numstat output")
        added = None if parts[0] == b"-" else int(parts[0])
        removed = None if parts[1] == b"-" else int(parts[1])
        if parts[2]:
            entries.append(_Entry(os.fsdecode(parts[2]), None, added, removed))
        elif i + 1 < len(tokens):  # a rename: old and new path follow
            old, new = os.fsdecode(tokens[i]), os.fsdecode(tokens[i + 1])
            entries.append(_Entry(new, old, added, removed))
            i += 2
    return entries


def _is_python(path: str) -> bool:
    return path.endswith((".py", ".pyi"))


def _excluded(check: Callable[[Path], str | None] | None, root: Path, path: str) -> bool:
    if check is None:
        return False
    try:
        return check(root / path) is not None
    except Exception:  # a rule that cannot decide excludes (fail closed)
        logger.info("commit review: the exclusion check failed; the file is left out")
        return True


@dataclass(slots=True)
class _Raw:
    sha: str
    date: str
    subject: str
    header: str
    redactions: int


@dataclass(slots=True)
class _Selected:
    diff: _FileDiff
    hunks: list[tuple[_Hunk, int]] = field(default_factory=list)  # hunk, lines kept


class _Collector:
    """Gathers one batch: the per-commit diffs within the byte budget."""

    def __init__(
        self,
        git: _Git,
        root: Path,
        max_bytes: int,
        exclusions: Callable[[Path], str | None] | None,
        redact_secrets: bool,
    ) -> None:
        self.git = git
        self.root = root
        self.exclusions = exclusions
        self.redact_secrets = redact_secrets
        self.budget = max_bytes - _size([_TRUNCATION_NOTE])
        self.used = 0
        self.truncated = False
        self.excluded: set[str] = set()
        self.skipped: set[str] = set()

    def reviewable(self, sha: str) -> list[tuple[str, str | None]]:
        """(path, old path to include) of the files of ``sha`` whose diff may be read."""
        _, out = self.git.run(
            "diff-tree", *_DIFF_OPTIONS, "-z", "--numstat", "-M", "--root", sha, "--", "."
        )
        allowed: list[tuple[str, str | None]] = []
        for entry in _parse_numstat(out):
            if _excluded(self.exclusions, self.root, entry.path):
                self.excluded.add(entry.path)
                continue
            old = entry.old_path
            if old is not None and _excluded(self.exclusions, self.root, old):
                self.excluded.add(old)
                old = None  # then git shows the new file whole, nothing of the old one
            name = entry.path.rsplit("/", 1)[-1]
            if (
                entry.added is None
                or entry.removed is None
                or any(fnmatch.fnmatchcase(name, pattern) for pattern in _GENERATED)
                or entry.added + entry.removed > _MAX_FILE_LINES
            ):
                self.skipped.add(entry.path)
                continue
            allowed.append((entry.path, old))
        allowed.sort(key=lambda item: (not _is_python(item[0]), item[0]))
        if len(allowed) > _MAX_FILES_PER_COMMIT:
            self.truncated = True
            allowed = allowed[:_MAX_FILES_PER_COMMIT]
        return allowed

    def diffs(self, sha: str, allowed: list[tuple[str, str | None]]) -> list[_FileDiff]:
        """The diffs of the allowed files of ``sha``, in the order of ``allowed``."""
        if not allowed:
            return []  # never ask without a pathspec: that would be every file
        pathspecs = sorted({p for path, old in allowed for p in (path, old) if p is not None})
        _, out = self.git.run(
            "diff-tree",
            *_DIFF_OPTIONS,
            "-p",
            "-U3",
            "-M",
            "--root",
            "--irreversible-delete",
            sha,
            "--",
            *pathspecs,
        )
        wanted = dict(allowed)
        found: dict[str, _FileDiff] = {}
        for diff in _parse_patch(out):
            # Fail closed: only a diff of an allowed path (and allowed old path) is kept.
            if diff.path not in wanted:
                continue
            if diff.old_path not in (None, diff.path, wanted[diff.path]):
                continue
            if self.redact_secrets:
                _redact_file(diff)
            found[diff.path] = diff
        return [found[path] for path, _ in allowed if path in found]

    def select(self, diffs: list[_FileDiff]) -> list[_Selected]:
        """What of ``diffs`` fits in what is left of the budget."""
        chosen: list[_Selected] = []
        for diff in diffs:
            header = _size(diff.header())
            selected = _Selected(diff)
            if not diff.hunks:
                if self.used + header <= self.budget:
                    self.used += header
                    chosen.append(selected)
                else:
                    self.truncated = True
                continue
            for hunk in diff.hunks:
                extra = 0 if selected.hunks else header
                whole = _size(hunk.render(len(hunk.lines)))
                if self.used + extra + whole <= self.budget:
                    selected.hunks.append((hunk, len(hunk.lines)))
                    self.used += extra + whole
                    continue
                self.truncated = True
                count, size = self._prefix(hunk, self.budget - self.used - extra)
                if count:
                    selected.hunks.append((hunk, count))
                    self.used += extra + size
            if selected.hunks:
                chosen.append(selected)
        return chosen

    @staticmethod
    def _prefix(hunk: _Hunk, room: int) -> tuple[int, int]:
        """The most whole lines of ``hunk`` that fit in ``room`` bytes with their header
        (only if they hold a change), and their size."""
        best = (0, 0)
        body = old = new = 0
        changed = False
        for count, line in enumerate(hunk.lines, start=1):
            body += line.size
            if body > room:
                break
            old += line.prefix in " -"
            new += line.prefix in " +"
            changed = changed or line.prefix in "+-"
            size = body + len(hunk.header(old, new).encode("utf-8")) + 1
            if changed and size <= room:
                best = (count, size)
        return best


def _added(diffs: list[_FileDiff]) -> dict[str, dict[int, str]]:
    added: dict[str, dict[int, str]] = {}
    for diff in diffs:
        if diff.deleted:
            continue
        lines = added.setdefault(diff.path, {})
        for hunk in diff.hunks:
            number = hunk.new_start
            for line in hunk.lines:
                if line.prefix == "+":
                    lines[number] = line.text
                if line.prefix in " +":
                    number += 1
        if not lines:
            del added[diff.path]
    return added


def commits_since(
    root: Path,
    since: str | None,
    *,
    max_commits: int = 10,
    max_bytes: int = 24_000,
    exclusions: Callable[[Path], str | None] | None = None,
    redact_secrets: bool = True,
    timeout: float = 10,
) -> CommitBatch | None:
    """The non-merge commits after ``since`` (exclusive) up to HEAD, newest last, made
    ready to review within ``max_commits`` and ``max_bytes``.

    ``since=None``, or a ``since`` that is no longer an ancestor of HEAD, means the last
    ``max_commits`` commits. None when ``root`` is not in a git repository, git is missing
    or fails or times out (logged at INFO), or there is no new commit.
    """
    git = _Git(root, timeout)
    try:
        return _commits_since(git, root, since, max_commits, max_bytes, exclusions, redact_secrets)
    except (_GitError, ValueError, UnicodeError) as exc:  # ValueError: output not understood
        logger.info("commit review: %s", exc)
        return None


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _outside(root: Path, path: Path) -> _GitError:
    return _GitError(f"off: {root / '.git'} points to a repository outside the workspace ({path})")


def _check_repository(git: _Git, root: Path) -> None:
    """Raises ``_GitError`` (the review is off) unless the repository git finds for ``root``
    is the workspace's own: a ``.git`` file (or symlink, or a ``commondir`` in the git dir)
    of an unpacked archive can name any repository on disk, whose commits must not be sent.

    With ``top`` the work tree (which must be ``root`` or an ancestor of it: ``core.worktree``
    may name another folder), the git dir and the common dir (real paths) must each be

    - inside ``root`` (the workspace's own files), or
    - ``<top>/.git`` (``root`` is a folder of the repository), or
    - inside ``<a>/.git/modules`` for an ancestor ``a`` of ``top`` (a submodule's);

    or the git dir is ``<common>/worktrees/<name>``, outside ``root``, whose ``gitdir`` file
    (git's back-link from a linked worktree) names ``<top>/.git``. ``objects``, ``refs``,
    ``packed-refs``, ``reftable`` and ``HEAD`` of those dirs, and any loose ref, must not be
    symbolic links that lead out of them."""
    _, out = git.run("rev-parse", "--absolute-git-dir", "--git-common-dir", "--show-toplevel")
    lines = os.fsdecode(out).split("\n")
    if len(lines) != 4 or lines[3] or not all(lines[:3]):  # a newline in a path, or no top
        raise _GitError("off: git did not tell where the repository and its work tree are")
    real_root = root.resolve()
    git_dir, common, top = ((real_root / line).resolve() for line in lines[:3])
    if not _inside(real_root, top):
        raise _GitError(
            f"off: the repository's work tree ({top}) is outside the workspace ({real_root})"
        )

    def own(path: Path) -> bool:
        if _inside(path, real_root) or path == top / ".git":
            return True
        return any(
            path.is_relative_to(above / ".git" / "modules") and path != above / ".git" / "modules"
            for above in top.parents
        )

    if not (own(git_dir) and own(common)):
        linked = (
            git_dir.parent == common / "worktrees"
            and not _inside(git_dir, real_root)  # else the back-link is the archive's own
            and _back_link(git_dir) == top / ".git"
        )
        if not linked:
            raise _outside(top, common if own(git_dir) else git_dir)
    for folder in dict.fromkeys((git_dir, common)):
        _check_links(top, folder)


def _check_links(top: Path, folder: Path) -> None:
    """Raises ``_GitError`` when what git reads commits from in the git dir ``folder``
    (``HEAD``, ``objects``, ``refs``, ``packed-refs``, ``reftable``, a loose ref) is a
    symbolic link that leads out of it."""
    for name in ("HEAD", "objects", "refs", "packed-refs", "reftable"):
        target = (folder / name).resolve()
        if not _inside(target, folder):
            raise _outside(top, target)
    for above, _, files in os.walk(folder / "refs"):  # never into a symlinked folder
        for name in files:
            link = Path(above, name)
            if link.is_symlink() and not _inside(target := link.resolve(), folder):
                raise _outside(top, target)


def _back_link(git_dir: Path) -> Path | None:
    """Where a linked worktree's git dir says the worktree's ``.git`` file is (its folder a
    real path), or None."""
    try:
        text = (git_dir / "gitdir").read_text("utf-8").strip()
    except (OSError, UnicodeError):
        return None
    path = git_dir / text  # absolute, or relative to the git dir (extensions.relativeWorktrees)
    return path.parent.resolve() / path.name


def _resolve(git: _Git, revision: str) -> str | None:
    code, out = git.run("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}", ok=(0, 1))
    return out.decode("ascii", "replace").strip() if code == 0 else None


def _commits_since(
    git: _Git,
    root: Path,
    since: str | None,
    max_commits: int,
    max_bytes: int,
    exclusions: Callable[[Path], str | None] | None,
    redact_secrets: bool,
) -> CommitBatch | None:
    if max_commits < 1:
        return None
    _check_repository(git, root)  # not a repository, or another one: _GitError
    head = _resolve(git, "HEAD")
    if head is None:
        logger.info("commit review: the repository has no commit yet")
        return None
    base: str | None = None
    if since is not None:
        start = _resolve(git, since) if _HEX.fullmatch(since) else None
        if start == head:
            return None
        if start is not None:
            code, _ = git.run("merge-base", "--is-ancestor", start, head, ok=(0, 1))
            base = start if code == 0 else None
    revisions = f"{base}..{head}" if base else head
    _, out = git.run(
        "log",
        "--no-ext-diff",
        "--no-textconv",
        "--no-merges",
        "--full-history",
        f"--max-count={max_commits}",
        "--reverse",
        "-z",
        "--format=%H%x00%aI%x00%s",
        revisions,
        "--",
        ".",
    )
    fields = out.split(b"\0")
    fields = fields[: len(fields) - len(fields) % 3]
    raw: list[_Raw] = []
    for i in range(0, len(fields), 3):
        sha = fields[i].decode("ascii", "replace").strip()
        subject = fields[i + 2].decode("utf-8", "replace")
        subject, found = redact(subject) if redact_secrets else (subject, [])
        subject = subject[:_MAX_SUBJECT]  # after redaction: a cut must not hide a secret
        raw.append(
            _Raw(
                sha,
                fields[i + 1].decode("ascii", "replace"),
                subject,
                f"commit {sha[:12]} {_display(subject)}",
                len(found),
            )
        )
    if not raw:
        return None
    omitted = 0
    if base is not None and len(raw) == max_commits:
        _, counted = git.run(
            "rev-list", "--count", "--no-merges", "--full-history", revisions, "--", "."
        )
        omitted = max(0, int(counted.strip() or 0) - max_commits)

    # Newest first (the newest lines matter most): a commit's header, then as much of its
    # diff as fits; a commit whose header no longer fits is left out with all older ones.
    collector = _Collector(git, root, max_bytes, exclusions, redact_secrets)
    kept: list[_Raw] = []
    chosen: dict[str, list[_Selected]] = {}
    for commit in reversed(raw):
        if collector.used + _size([commit.header]) > collector.budget:
            collector.truncated = True
            break
        collector.used += _size([commit.header])
        kept.append(commit)
        allowed = collector.reviewable(commit.sha)
        if allowed and collector.budget - collector.used < _MIN_ROOM:
            collector.truncated = True  # no diff can fit: do not even read it
            allowed = []
        chosen[commit.sha] = collector.select(collector.diffs(commit.sha, allowed))
    if not kept:
        logger.info("commit review: max_bytes=%d leaves no room for a commit", max_bytes)
        return None
    kept.reverse()

    lines: list[str] = []
    commits: list[CommitInfo] = []
    redactions = 0
    for commit in kept:
        lines.append(commit.header)
        redactions += commit.redactions
        for selected in chosen[commit.sha]:
            lines += selected.diff.header()
            for hunk, count in selected.hunks:
                lines += hunk.render(count)
                redactions += hunk.section_redactions
                redactions += sum(line.redactions for line in hunk.lines[:count])
        files = [selected.diff.path for selected in chosen[commit.sha]]
        commits.append(CommitInfo(commit.sha, commit.date, commit.subject, files))
    if collector.truncated:
        lines.append(_TRUNCATION_NOTE)
    paths = sorted({path for commit in commits for path in commit.files})
    renamed = {
        old
        for selected_files in chosen.values()
        for selected in selected_files
        if (old := selected.diff.old_path) is not None and old != selected.diff.path
    }
    return CommitBatch(
        root=root,
        commits=commits,
        diff_text="".join(line + "\n" for line in lines),
        first=kept[0].sha,
        last=head,
        excluded_files=len(collector.excluded),
        redactions=redactions,
        truncated=collector.truncated,
        added_lines=_range_added(git, kept[0].sha, head, paths, renamed, redact_secrets),
        skipped_files=len(collector.skipped),
        omitted_commits=omitted,
        since_lost=since is not None and base is None,
    )


def _range_added(
    git: _Git,
    first: str,
    head: str,
    paths: list[str],
    renamed: set[str],
    redact_secrets: bool,
) -> dict[str, dict[int, str]]:
    """The lines the range added to ``paths``, numbered in their version at ``head``
    (``renamed``: the allowed old paths of renamed files, so that moved lines are not
    counted as added)."""
    if not paths:
        return {}
    before = _resolve(git, f"{first}^")
    if before is None:  # a root commit: compare with the empty tree
        _, out = git.run("hash-object", "--no-filters", "-t", "tree", "--stdin")
        before = out.decode("ascii").strip()
    _, out = git.run(
        "diff-tree",
        *_DIFF_OPTIONS,
        "-p",
        "-U0",
        "-M",
        "--irreversible-delete",
        before,
        head,
        "--",
        *sorted({*paths, *renamed}),
    )
    wanted = set(paths)
    diffs = [diff for diff in _parse_patch(out) if diff.path in wanted]
    if redact_secrets:
        for diff in diffs:
            _redact_file(diff)
    return _added(diffs)


# --- findings --------------------------------------------------------------------------


def parse_findings(
    text: str, batch: CommitBatch, *, limit: int = MAX_FINDINGS
) -> list[ReviewFinding]:
    """The ``path:line: message`` findings in a reviewer's answer, at most ``limit``.

    Lenient: bullets, numbering, backticks, bold, ``a/``/``b/``/``./`` or absolute path
    prefixes, ``path:line:column``, ``path, line N`` and prose around are accepted; a path
    that is not in the batch, or a line without a message, is dropped.
    """
    paths = sorted(batch.paths, key=lambda p: (-len(p), p))
    if not paths:
        return []
    root = re.escape(batch.root.as_posix().rstrip("/") + "/")
    alternatives = "|".join(re.escape(path) for path in paths)
    pattern = re.compile(
        rf"(?<![\w./\\-])(?:{root}|\./|[ab]/)??(?P<path>{alternatives})[`'\"*]*"
        r"(?::|,?\s*\(?(?i:line)\s+|#L|\s*\()(?P<line>\d+)\)?(?::\d+)?[`'\"*]*"
        r"\s*(?:[:\-\u2013\u2014]\s*)?(?P<message>.*)"
    )
    found: list[ReviewFinding] = []
    seen: set[tuple[str, int, str]] = set()
    for raw_line in text.splitlines():
        match = pattern.search(raw_line)
        if match is None:
            continue
        number = int(match.group("line"))
        message = match.group("message").strip().strip("*").strip()
        if number < 1 or not message:
            continue
        key = (match.group("path"), number, message)
        if key in seen:
            continue
        seen.add(key)
        found.append(ReviewFinding(*key))
        if len(found) >= limit:
            break
    return found


def still_there(finding: ReviewFinding, batch: CommitBatch, current_lines: list[str]) -> int | None:
    """The 0-based line of ``current_lines`` where the line the finding points at still
    is: the same line if its text is unchanged, else the nearest line within 50 with the
    same text (stripped; the earlier one on a tie), else None. Only lines the batch added
    can be found; a blank line never is."""
    text = batch.added_lines.get(finding.path, {}).get(finding.line)
    if text is None or not text.strip():
        return None
    wanted = text.strip()
    redacted = "<redacted: " in wanted

    def same(row: int) -> bool:
        if not 0 <= row < len(current_lines):
            return False
        current = current_lines[row].strip()
        if current == wanted:
            return True
        return redacted and redact(current)[0].strip() == wanted

    row = finding.line - 1
    if same(row):
        return row
    for distance in range(1, 51):
        for candidate in (row - distance, row + distance):
            if same(candidate):
                return candidate
    return None


# --- the offline reviewer --------------------------------------------------------------

_DEF = re.compile(r"(?P<indent>\s*)(?:async\s+def|def|class)\s+(?P<name>\w+)")
_DEBUGGER = re.compile(
    r"\bbreakpoint\(\)|\bi?pdb\.set_trace\(|^\s*(?:import\s+i?pdb\b|from\s+i?pdb\s+import\b)"
)
_BARE_EXCEPT = re.compile(r"^\s*except\s*:")
_BROAD_EXCEPT = re.compile(
    r"^\s*except\s+\(?\s*(?:Base)?Exception\s*\)?(?:\s+as\s+\w+)?\s*:\s*(?P<rest>[^#]*)"
)
_PRINT = re.compile(r"^\s*print\(")
_MARKER = re.compile(r"\b(?:TODO|FIXME|XXX)\b")
_DOCSTRING_START = re.compile(r"""[rRuUbBfF]{0,2}(?:\"|')""")
_LONG_FUNCTION = 60


def _is_test(path: str) -> bool:
    parts = path.split("/")
    name = parts[-1]
    return (
        any(part in ("tests", "test", "testing") for part in parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


def _is_script(path: str) -> bool:
    """Code whose job is to print: a command line, a script, an example."""
    parts = path.split("/")
    return parts[-1] in ("__main__.py", "cli.py") or any(
        part in ("scripts", "bin", "examples", "benchmarks", "tools") for part in parts[:-1]
    )


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def _code(text: str) -> str:
    """``text`` without a trailing comment (naive about ``#`` inside strings)."""
    return text.split("#", 1)[0]


def _signature_end(lines: dict[int, str], start: int) -> tuple[int, bool] | None:
    """The line that ends the ``def``/``class`` at ``start``, and whether its body is on
    that same line; None when that is not among the added lines."""
    depth = 0
    for row in range(start, start + 30):
        text = lines.get(row)
        if text is None:
            return None
        code = _code(text)
        depth += sum(code.count(c) for c in "([{") - sum(code.count(c) for c in ")]}")
        if depth > 0:
            continue
        stripped = code.rstrip()
        if stripped.endswith(":"):
            return row, False
        if ":" in stripped and not stripped.endswith("\\"):
            return row, True
    return None


def _definition_findings(path: str, lines: dict[int, str], row: int) -> list[tuple[int, str]]:
    match = _DEF.match(lines[row])
    if match is None:
        return []
    name = match.group("name")
    indent = len(match.group("indent").expandtabs())
    is_class = lines[row].lstrip().startswith("class")
    end = _signature_end(lines, row)
    if end is None or end[1]:
        return []
    body = end[0] + 1
    while body in lines and not lines[body].strip():
        body += 1
    if body not in lines or _indent(lines[body].expandtabs()) <= indent:
        return []
    found: list[tuple[int, str]] = []
    # Nested in a function (not public, as pydocstyle has it)? The first enclosing line
    # among the added ones tells: a ``def``, or an indented block (``with``, ``if``...:
    # function bodies, not class bodies) is a function; a class is not.
    # With no enclosing line known, deeper than one level (of spaces) is taken as nested.
    nested = _indent(lines[row]) > 4
    above = row - 1
    while indent > 0 and above in lines:
        text = lines[above]
        outer = _indent(text.expandtabs())
        if text.strip() and outer < indent:
            if text.lstrip().startswith("class"):
                nested = False
                break
            nested = _DEF.match(text) is not None or outer > 0
            break
        above -= 1
    decorator = lines.get(row - 1, "").strip()
    overload = decorator in ("@overload", "@typing.overload")
    documented = _DOCSTRING_START.match(lines[body].lstrip()) is not None
    if not (documented or nested or overload or name.startswith("_") or _is_test(path)):
        kind = "class" if is_class else "function"
        found.append((5, f"public {kind} `{name}` was added without a docstring"))
    if not is_class:
        last = body
        cursor = body
        while cursor in lines and (
            not lines[cursor].strip() or _indent(lines[cursor].expandtabs()) > indent
        ):
            if lines[cursor].strip():
                last = cursor
            cursor += 1
        length = last - row + 1
        if length > _LONG_FUNCTION:
            found.append((4, f"function `{name}` is {length} lines long; consider splitting it up"))
    return found


def _line_findings(path: str, lines: dict[int, str], row: int) -> list[tuple[int, str]]:
    text = lines[row]
    found: list[tuple[int, str]] = []
    debugger = _DEBUGGER.search(text)
    if debugger is not None:
        found.append((0, f"debugger call left in (`{debugger.group(0).strip()}`)"))
    if _BARE_EXCEPT.match(text):
        found.append(
            (1, "bare `except:` also catches KeyboardInterrupt and SystemExit; name the exception")
        )
    broad = _BROAD_EXCEPT.match(text)
    if broad is not None:
        rest = broad.group("rest").strip()
        following = lines.get(row + 1, "").strip()
        if rest in ("pass", "...") or (not rest and following in ("pass", "...")):
            found.append((1, "`except Exception: pass` silently swallows every error"))
    if _PRINT.match(text) and "file=" not in text and not (_is_test(path) or _is_script(path)):
        found.append((2, "`print()` left in (debugging?); use logging or remove it"))
    marker = _MARKER.search(text)
    if marker is not None and (
        "#" in text[: marker.start()] or text.lstrip().startswith(('"', "'"))
    ):
        note = text[marker.start() :].strip().strip("\"'").strip()
        if len(note) > 80:
            note = note[:77] + "..."
        found.append((3, f"{marker.group(0)} left in: {note}"))
    return found


def offline_review(batch: CommitBatch) -> str:
    """A free, deterministic review of the Python lines the batch added, in the
    ``path:line: message`` form a model answers with (at most 8 findings): debugger calls,
    bare or silent ``except``, ``print()`` outside tests and scripts, TODO/FIXME/XXX, public
    functions and classes added without a docstring, very long added functions. With
    nothing to report, a one-line overview that ``parse_findings`` reads as no finding."""
    found: list[tuple[int, str, int, str]] = []
    for path in sorted(batch.added_lines):
        if not _is_python(path):
            continue
        lines = batch.added_lines[path]
        for row in sorted(lines):
            for priority, message in _line_findings(path, lines, row):
                found.append((priority, path, row, message))
            for priority, message in _definition_findings(path, lines, row):
                found.append((priority, path, row, message))
    if not found:
        added = sum(len(lines) for lines in batch.added_lines.values())
        return (
            f"no findings: {len(batch.commits)} commit(s), {len(batch.paths)} file(s), "
            f"{added} added line(s) reviewed offline"
        )
    best = sorted(found)[:MAX_FINDINGS]
    best.sort(key=lambda item: (item[1], item[2], item[0]))
    return "\n".join(f"{path}:{row}: {message}" for _, path, row, message in best)
