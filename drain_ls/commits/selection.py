"""Choosing what of the commits since the last review is sent (``commits_since``): the
commits, their reviewable files (excluded, binary, generated and very large files left out),
and the hunks that fit the size bound, newest first; and the lines the range added."""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from drain_ls.commits.batch import CommitBatch, CommitInfo
from drain_ls.commits.diff import (
    _added,
    _display,
    _FileDiff,
    _Hunk,
    _parse_numstat,
    _parse_patch,
    _redact_file,
    _size,
)
from drain_ls.commits.git import _DIFF_OPTIONS, _check_repository, _Git, _GitError, _resolve
from drain_ls.privacy import redact

logger = logging.getLogger("drain_ls")

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
