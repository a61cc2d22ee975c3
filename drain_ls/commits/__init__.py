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

Running git on an untrusted repository safely (the settings, flags and environment of every
call, and the check that the repository is the workspace's own) is described in
``drain_ls.commits.git``.

The package, by what each module holds:

- ``batch``: the reviewer's instructions, ``CommitInfo`` and ``CommitBatch``;
- ``git``: running git safely (``_Git``), and where the repository is (``_check_repository``);
- ``diff``: reading git's file lists and diffs, redacting them, rendering hunks;
- ``selection``: ``commits_since``, the commits and hunks chosen within the size bound;
- ``findings``: ``ReviewFinding``, ``parse_findings`` and ``still_there``;
- ``offline``: ``offline_review``, the free reviewer.
"""

from __future__ import annotations

# Tests patch ``drain_ls.commits.subprocess.run`` (the module git runs through).
import subprocess as subprocess

from drain_ls.commits.batch import PROMPT_VERSION, REVIEW_INSTRUCTIONS, CommitBatch, CommitInfo
from drain_ls.commits.findings import MAX_FINDINGS, ReviewFinding, parse_findings, still_there
from drain_ls.commits.offline import offline_review
from drain_ls.commits.selection import _Collector as _Collector
from drain_ls.commits.selection import commits_since

__all__ = [
    "MAX_FINDINGS",
    "PROMPT_VERSION",
    "REVIEW_INSTRUCTIONS",
    "CommitBatch",
    "CommitInfo",
    "ReviewFinding",
    "commits_since",
    "offline_review",
    "parse_findings",
    "still_there",
]
