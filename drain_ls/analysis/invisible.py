"""Invisible characters that tree-sitter-python skips where CPython rejects them: an
``E999`` of ``drain_ls.analysis.legacy``.

tree-sitter-python's grammar counts U+200B (zero width space), U+2060 (word joiner) and
U+FEFF (zero width no-break space, a byte order mark) as whitespace anywhere, and reads U+200C
and U+200D (zero width non-joiner and joiner) as part of an identifier; CPython's tokenizer
rejects each of them outside strings and comments ("invalid non-printable character
U+200B"), and so does ruff. Pasted from a web page or a chat, they are there and cannot be
seen. (A file's leading byte order mark is no character of its text. A bytes literal with
any character past ASCII is ``drain_ls.analysis.literals``'.)

Cost: nothing for a file of ASCII (``bytes.isascii``: most files); else 1.6 ms per MB of
files that are not (the 4,439 of a Python installation and the package corpus: 5,783 of these
characters in them, each a look at the tree, all in strings and comments).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tree_sitter import Node

# Their UTF-8 encodings: E2 80 8B-8D, E2 81 A0, EF BB BF.
_CHARACTER = rb"\xe2\x80[\x8b-\x8d]|\xe2\x81\xa0|\xef\xbb\xbf"
_BOM = b"\xef\xbb\xbf"
_AFTER_E2 = frozenset({b"\x80\x8b", b"\x80\x8c", b"\x80\x8d", b"\x81\xa0"})
# What tree-sitter may skip before a module's first node.
_LEADING = re.compile(rb"(?:[ \t\f\r\n]|" + _CHARACTER + rb")*\Z")
_STRING_TEXT = frozenset({"string_content", "format_specifier"})
_TEXT = _STRING_TEXT | {"comment"}

Error = tuple[int, int, str]


def invisible_errors(root: Node, source: bytes, begin: int, end: int) -> Iterator[Error]:
    """(start, end, message) of each such character in ``source[begin:end]`` that is code."""
    if source.isascii():
        return
    if begin == root.start_byte and begin > 0:
        leading = _LEADING.search(source, 0, begin)
        begin = leading.start() if leading is not None else begin
    for at in _occurrences(source, begin, end):
        node = root.descendant_for_byte_range(at, at + 3)
        if (node is not None and node.type in _TEXT) or _in_comment(root, source, at):
            continue
        name = ord(source[at : at + 3].decode("utf-8"))
        yield at, at + 3, f"invalid non-printable character U+{name:04X}"


def _occurrences(source: bytes, begin: int, end: int) -> Iterator[int]:
    """Where they are in ``source[begin:end]`` (a search for their first byte: a third of the
    time of one search for each), but for a byte order mark at the start."""
    at = source.find(b"\xe2", begin, end)
    while at >= 0:
        if source[at + 1 : at + 3] in _AFTER_E2:
            yield at
        at = source.find(b"\xe2", at + 1, end)
    at = source.find(_BOM, max(begin, 1), end)
    while at >= 0:
        yield at
        at = source.find(_BOM, at + 3, end)


def _in_comment(root: Node, source: bytes, at: int) -> bool:
    """Whether a ``#`` before ``at`` on its line starts a comment: one that is no string's
    text. (tree-sitter leaves out of its tree the comments before a dedent, which its
    scanner reads while it measures the indentation, and the end of a comment that such a
    character ends.)"""
    line = source.rfind(b"\n", 0, at) + 1
    hash_at = source.find(b"#", line, at)
    while hash_at >= 0:
        node = root.descendant_for_byte_range(hash_at, hash_at + 1)
        if node is None or node.type not in _STRING_TEXT:
            return True
        hash_at = source.find(b"#", hash_at + 1, at)
    return False
