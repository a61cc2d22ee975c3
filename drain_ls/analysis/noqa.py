"""``# noqa`` comments, with flake8's and ruff's syntax.

``# noqa`` silences every code on its line, ``# noqa: F401,D103`` (commas or spaces) only those
codes. ``# ruff: noqa`` or ``# flake8: noqa`` on a line of their own silence the whole file, and
``# ruff: noqa: F401`` the given codes in the whole file.
"""

from __future__ import annotations

import re

from drain_ls.analysis.model import Edit, Finding
from drain_ls.analysis.source import LineIndex

_CODE = r"[A-Z]+[0-9]+"
_NOQA = re.compile(
    rb"#\s*noqa(?::[\s]*(?P<codes>" + _CODE.encode() + rb"(?:[\s,]+" + _CODE.encode() + rb")*))?",
    re.IGNORECASE,
)
_FILE_NOQA = re.compile(
    rb"^[ \t]*#\s*(?:ruff|flake8)\s*:\s*noqa(?:\s*:\s*(?P<codes>"
    + _CODE.encode()
    + rb"(?:[\s,]+"
    + _CODE.encode()
    + rb")*))?",
    re.IGNORECASE | re.MULTILINE,
)
_SPLIT = re.compile(rb"[\s,]+")

ALL = frozenset({"*"})


def parse_codes(codes: bytes | None) -> frozenset[str]:
    """The codes of a noqa directive; ``ALL`` for a blanket one."""
    if not codes:
        return ALL
    return frozenset(c.decode().upper() for c in _SPLIT.split(codes.strip()) if c)


class NoqaMap:
    """Answers whether a finding is silenced by a noqa comment."""

    __slots__ = ("_any", "_file_codes", "_index", "_rows")

    def __init__(self, source: bytes, index: LineIndex) -> None:
        """Scan ``source`` for file-level directives; lines are read when asked about."""
        self._index = index
        self._rows: dict[int, frozenset[str] | None] = {}
        self._any = b"noqa" in source.lower()
        file_codes: set[str] = set()
        if self._any:
            for m in _FILE_NOQA.finditer(source):
                file_codes |= parse_codes(m.group("codes"))
        self._file_codes = frozenset(file_codes)

    def codes_on_row(self, row: int) -> frozenset[str] | None:
        """The codes silenced on ``row`` (``ALL`` for a blanket noqa), or None."""
        if row not in self._rows:
            self._rows[row] = self._scan(row)
        return self._rows[row]

    def _scan(self, row: int) -> frozenset[str] | None:
        text = self._index.line_text(row)
        if b"#" not in text:
            return None
        for m in _NOQA.finditer(text):
            # A directive inside a string literal is not a comment: require that no quote
            # opens after the last "#" that precedes the directive on this line.
            before = text[: m.start()]
            if before.count(b'"') % 2 or before.count(b"'") % 2:
                continue
            return parse_codes(m.group("codes"))
        return None

    def silences(self, finding: Finding) -> bool:
        """True when a noqa comment covers ``finding``."""
        if not self._any:
            return False
        if self._file_codes and ("*" in self._file_codes or finding.code in self._file_codes):
            return True
        for row in {self._index.row_of(offset) for offset in finding.noqa_offsets}:
            codes = self.codes_on_row(row)
            if codes is not None and ("*" in codes or finding.code in codes):
                return True
        return False


def add_noqa_edit(source: bytes, index: LineIndex, row: int, code: str) -> Edit | None:
    """An edit that silences ``code`` on ``row``: extends its ``# noqa: ...`` or adds one.

    None when the row is already silenced for the code or cannot take a comment (a line that
    continues with a backslash).
    """
    start = index.starts[row]
    text = index.line_text(row)
    if text.rstrip().endswith(b"\\"):
        return None
    match = None
    for m in _NOQA.finditer(text):
        before = text[: m.start()]
        if not (before.count(b'"') % 2 or before.count(b"'") % 2):
            match = m
            break
    if match is not None:
        codes = parse_codes(match.group("codes"))
        if "*" in codes or code in codes:
            return None
        end = start + match.end("codes")
        return Edit(end, end, f", {code}")
    content = text.rstrip()
    return Edit(start + len(content), start + len(text), f"  # noqa: {code}")
