"""What a review yields: ``ReviewFinding``, read from a reviewer's ``path:line: message``
answer (``parse_findings``), and found again in the current text (``still_there``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from drain_ls.commits.batch import CommitBatch
from drain_ls.privacy import redact

MAX_FINDINGS = 8


@dataclass(frozen=True, slots=True)
class ReviewFinding:
    """One finding of a review: ``line`` is 1-based, in the newest version of ``path``."""

    path: str
    line: int
    message: str


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
