"""Escape sequences that tree-sitter accepts in a string and Python rejects.

In a string literal that is not raw, Python decodes ``\\xHH``, ``\\uHHHH``, ``\\UHHHHHHHH`` and
``\\N{NAME}`` when it compiles the module, and a malformed one is a syntax error: too few hex
digits, a code point past U+10FFFF, a name that is not a character's (an alias is one; a named
sequence is not), ``\\N`` without its braces. In bytes, only ``\\x`` is an escape of these.
tree-sitter-python reads all of them as text, and ruff reports each as a syntax error. Every
escape found is checked by its bytes first; only one that is malformed is looked up in the
tree, to tell a string's text (and its prefix) from a comment's or a raw string's.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from tree_sitter import Node

# A run of backslashes and the letter after it: an escape when the run is odd.
_CANDIDATE = re.compile(rb"\\+[xuUN]")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_DIGITS = {ord("x"): 2, ord("u"): 4, ord("U"): 8}
# The nodes a string's text is made of (a lone backslash is its own node, "\\"; a format
# specification's text is decoded too).
_TEXT = frozenset({"string_content", "escape_sequence", "\\", "format_specifier"})


def escape_errors(
    root: Node, source: bytes, begin: int, end: int
) -> Iterator[tuple[int, int, str]]:
    """(start, end, message) of each malformed escape of a string in ``[begin, end)``."""
    for match in _CANDIDATE.finditer(source, begin, end):
        at = match.end() - 2  # the backslash of the escape, if it is one
        if (at - match.start()) % 2:
            continue  # an escaped backslash, then a letter
        problem = _malformed(source, at)
        if problem is None:
            continue
        stop, bytes_message, text_message = problem
        kind = _string_kind(root, source, at)
        message = bytes_message if kind == "bytes" else text_message if kind == "str" else None
        if message is not None:
            yield at, stop, message


def _malformed(source: bytes, at: int) -> tuple[int, str | None, str | None] | None:
    """What is wrong with the escape whose backslash is at ``at``: where it ends, and the
    message in bytes and in a str (None: fine there); None when it is fine in both."""
    letter = source[at + 1]
    if letter == ord("N"):
        close = at + 3
        while close < len(source) and source[close] not in b"}'\"\r\n":
            close += 1  # (a quote or a line break: the string ended first)
        if source[at + 2 : at + 3] != b"{" or source[close : close + 1] != b"}":
            return at + 2, None, "(unicode error) malformed \\N character escape"
        name = source[at + 3 : close]
        try:
            character = unicodedata.lookup(name.decode("ascii"))
        except (KeyError, UnicodeDecodeError):
            character = ""
        if len(character) != 1:  # none, or a named sequence
            return close + 1, None, "(unicode error) unknown Unicode character name"
        return None
    digits = _DIGITS[letter]
    hex_digits = source[at + 2 : at + 2 + digits]
    count = 0
    while count < len(hex_digits) and hex_digits[count] in _HEX:
        count += 1
    stop = at + 2 + count
    if count < digits:
        spelled = {2: "\\xXX", 4: "\\uXXXX", 8: "\\UXXXXXXXX"}[digits]
        text_message = f"(unicode error) truncated {spelled} escape"
        bytes_message = "(value error) invalid \\x escape" if letter == ord("x") else None
        return stop, bytes_message, text_message
    if letter == ord("U") and int(hex_digits, 16) > 0x10FFFF:
        return stop, None, "(unicode error) illegal Unicode character"
    return None


def _string_kind(root: Node, source: bytes, at: int) -> str | None:
    """Whether the byte at ``at`` is text of a string literal that is not raw: "str" or "bytes";
    None otherwise (a comment, code, a raw string)."""
    node = root.descendant_for_byte_range(at, at + 1)
    if node is None or node.type not in _TEXT:
        return None
    while node is not None and node.type != "string":
        node = node.parent
    if node is None or node.child_count == 0:
        return None
    opening = node.children[0]
    if opening.type != "string_start":
        return None
    prefix = source[opening.start_byte : opening.end_byte].rstrip(b"'\"").lower()
    if b"r" in prefix:
        return None
    return "bytes" if b"b" in prefix else "str"
