"""Reading git's output about a commit: its file list (``--numstat -z``) and unified diffs
(``_parse_patch``), secrets redacted line by line keeping the diff's line structure
(``_redact_file``), rendered back hunk by hunk, and the lines a diff added (``_added``)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from drain_ls.commits.git import _GitError
from drain_ls.privacy import redact


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
