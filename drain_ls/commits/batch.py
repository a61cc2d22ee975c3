"""What a commit review is about: the reviewer's instructions (``REVIEW_INSTRUCTIONS``), the
commits reviewed (``CommitInfo``) and the batch of them made ready to send (``CommitBatch``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from drain_ls.budget import estimate_input_tokens

PROMPT_VERSION = 1

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
