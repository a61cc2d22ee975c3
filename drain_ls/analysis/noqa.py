"""``# noqa`` comments, read exactly as ruff reads them (crates/ruff_linter/src/noqa.rs).

``# noqa`` silences every code on its line, ``# noqa: F401,D103`` (commas or spaces) only those
codes. ``# ruff: noqa`` or ``# flake8: noqa`` on a line of their own silence the whole file, and
``# ruff: noqa: F401`` the given codes in the whole file. A directive ruff finds invalid
silences nothing (ruff warns about it): ``# noqa(F401)``, ``#noqaF401``, ``# noqa: unused``
(no code), ``# noqa: F401.`` (text glued to a code), ``# noqa: f401`` (codes are upper case).
"""

from __future__ import annotations

import re

from tree_sitter import Node

from drain_ls.analysis.model import Edit, Finding
from drain_ls.analysis.source import LineIndex

# A file-level directive (``ruff:`` or ``flake8:`` then ``noqa``; the prefix is case-sensitive,
# ``noqa`` not) in a comment that has its line to itself (maybe after other ``#``s of it).
_FILE_NOQA = re.compile(
    rb"^[ \t\f]*+#(?:[^\n#]*+#)*?[ \t\f]*(?:ruff|flake8)[ \t\f]*:[ \t\f]*(?i:noqa)", re.MULTILINE
)
_WHITESPACE = b" \t\f\v\r\n"
_UPPER = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGITS = frozenset(b"0123456789")

ALL = frozenset({"*"})
# What ``lex_directive`` gives for a directive ruff finds invalid (it warns and ignores it).
INVALID = frozenset({"!"})


def _is_noqa(text: bytes, at: int) -> bool:
    return text[at : at + 4].lower() == b"noqa"


def _skip_whitespace(text: bytes, at: int) -> int:
    while at < len(text) and text[at] in _WHITESPACE:
        at += 1
    return at


def lex_directive(text: bytes, at: int) -> tuple[frozenset[str], int]:
    """The codes of the directive whose ``noqa`` ends at ``at`` in the comment ``text``
    (``ALL`` for a blanket one, ``INVALID`` for one ruff rejects), and where its codes end.

    ruff's ``NoqaLexer::lex_directive`` (crates/ruff_linter/src/noqa.rs): after ``noqa``, the
    end, ``#`` or whitespace not followed by ``:`` make a blanket directive; ``:`` (maybe after
    whitespace) starts the codes; anything else (``# noqa(F401)``, ``#noqaF401``) is invalid.
    A code is ``[A-Z]+[0-9]+`` (case-sensitive), followed by ``,``, whitespace, ``#``, another
    code or the end; other text after a code (``F401.``) makes the directive invalid; the
    first word that is not a code ends the list (a reason); a list with no code is invalid.
    """
    size = len(text)
    if at >= size or text[at] == 0x23:  # "#"
        return ALL, at
    if text[at] == 0x3A:  # ":"
        at += 1
    elif text[at] in _WHITESPACE:
        at = _skip_whitespace(text, at)
        if at >= size or text[at] != 0x3A:
            return ALL, at
        at += 1
    else:
        return INVALID, at
    codes: list[str] = []
    end = at
    squashed = False  # the last code ran into this one (``F401F841``)
    while at < size:
        at = _skip_whitespace(text, at)
        if at >= size:
            break
        if text[at] == 0x2C:  # ","
            at += 1
            continue
        if text[at] not in _UPPER:
            break  # a reason, not a code
        first = at
        while at < size and text[at] in _UPPER:
            at += 1
        if at >= size or text[at] not in _DIGITS:
            if squashed:
                return INVALID, at
            break  # a word in capitals: a reason
        while at < size and text[at] in _DIGITS:
            at += 1
        codes.append(text[first:at].decode())
        end = at
        if at >= size:
            break
        follower = text[at]
        if follower == 0x2C:
            at += 1
            squashed = False
        elif follower in _WHITESPACE or follower == 0x23:
            squashed = False
        elif follower in _UPPER:
            squashed = True
        else:
            return INVALID, at
    if not codes:
        return INVALID, at
    return frozenset(codes), end


def inline_directive(comment: bytes) -> tuple[frozenset[str], int, int] | None:
    """The ``# noqa`` directive of a comment (from its ``#`` to the end of its line), as
    ruff's ``lex_inline_noqa`` reads it: the first ``#`` followed (after whitespace) by
    ``noqa`` in any case. Its codes (``ALL``, ``INVALID``), where its ``#`` is and where its
    codes end; None when there is none."""
    at = comment.find(b"#")
    while at >= 0:
        word = _skip_whitespace(comment, at + 1)
        if _is_noqa(comment, word):
            codes, end = lex_directive(comment, word + 4)
            return codes, at, end
        at = comment.find(b"#", at + 1)
    return None


def _comment_start(text: bytes) -> int:
    """Where the comment of a line starts (-1: none), a ``#`` outside a string literal as
    far as the line shows (quotes before it are paired)."""
    at = text.find(b"#")
    while at >= 0:
        before = text[:at]
        if not (before.count(b'"') % 2 or before.count(b"'") % 2):
            return at
        at = text.find(b"#", at + 1)
    return -1


class NoqaMap:
    """Answers whether a finding is silenced by a noqa comment.

    With the tree's ``root``, a line's comment is the ``comment`` node on it (exact); without,
    the first ``#`` after balanced quotes on the line (a line that starts inside a string may
    mislead it). As in ruff (its ``NoqaMapping``), a finding on a line continued by a
    backslash is silenced by a directive on the last line of the continued lines.
    """

    __slots__ = ("_any", "_file_codes", "_index", "_root", "_rows")

    def __init__(self, source: bytes, index: LineIndex, root: Node | None = None) -> None:
        """Scan ``source`` for file-level directives; lines are read when asked about."""
        self._index = index
        self._root = root
        self._rows: dict[int, frozenset[str] | None] = {}
        self._any = b"noqa" in source.lower()
        file_codes: set[str] = set()
        if self._any:
            for m in _FILE_NOQA.finditer(source):
                if root is not None and not self._is_comment(source.rfind(b"#", 0, m.end())):
                    continue  # inside a string
                line_end = source.find(b"\n", m.end())
                codes, _ = lex_directive(
                    source[: len(source) if line_end < 0 else line_end], m.end()
                )
                if codes is not INVALID:
                    file_codes |= codes
        self._file_codes = frozenset(file_codes)

    def _is_comment(self, offset: int) -> bool:
        """Whether the ``#`` at byte ``offset`` opens a comment (the tree says)."""
        if self._root is None or offset < 0:
            return offset >= 0
        node = self._root.descendant_for_byte_range(offset, offset + 1)
        while node is not None and node.type != "comment" and node.start_byte == offset:
            node = node.parent  # a leaf that starts there, inside a comment node
        return node is not None and node.type == "comment"

    def _comment_start(self, row: int, text: bytes) -> int:
        """Where the comment of ``row`` (whose text is ``text``) starts; -1: none."""
        if self._root is None:
            return _comment_start(text)
        base = self._index.starts[row]
        at = text.find(b"#")
        while at >= 0:
            if self._is_comment(base + at):
                return at
            at = text.find(b"#", at + 1)
        return -1

    def codes_on_row(self, row: int) -> frozenset[str] | None:
        """The codes silenced on ``row`` (``ALL`` for a blanket noqa), or None."""
        if row not in self._rows:
            self._rows[row] = self._scan(row)
        return self._rows[row]

    def _scan(self, row: int) -> frozenset[str] | None:
        text = self._index.line_text(row)
        if b"#" not in text:
            return None
        start = self._comment_start(row, text)
        if start < 0:
            return None
        directive = inline_directive(text[start:])
        if directive is None or directive[0] is INVALID:
            return None  # ruff warns about an invalid directive, and ignores it
        return directive[0]

    def _continued(self, row: int) -> bool:
        """Whether ``row`` ends with a backslash that joins the next line to it."""
        text = self._index.line_text(row)
        if not text.endswith(b"\\") or row + 1 >= len(self._index.starts):
            return False
        if self._root is None:
            return _comment_start(text) < 0
        offset = self._index.starts[row] + len(text) - 1
        node = self._root.descendant_for_byte_range(offset, offset + 1)
        while node is not None and node.type not in ("module", "block"):
            if node.type in ("string", "comment", "concatenated_string"):
                return False
            node = node.parent
        return True

    def silences(self, finding: Finding) -> bool:
        """True when a noqa comment covers ``finding``."""
        if not self._any:
            return False
        if self._file_codes and ("*" in self._file_codes or finding.code in self._file_codes):
            return True
        rows = set()
        for offset in finding.noqa_offsets:
            row = self._index.row_of(offset)
            while self._continued(row):
                row += 1
            rows.add(row)
        for row in rows:
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
    comment = _comment_start(text)
    directive = inline_directive(text[comment:]) if comment >= 0 else None
    if directive is not None:
        codes, at, end = directive
        if codes is INVALID:
            # A directive of our own before it: ruff reads only the first one of a comment.
            at += start + comment
            return Edit(at, at, f"# noqa: {code} ")
        if "*" in codes or code in codes:
            return None
        end += start + comment
        return Edit(end, end, f", {code}")
    content = text.rstrip()
    return Edit(start + len(content), start + len(text), f"  # noqa: {code}")
