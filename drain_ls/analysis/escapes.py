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

# A backslash and the letter after it: an escape when the run of backslashes it ends is odd.
# (Not ``\\+[xuUN]``: a search would try it at every backslash of a long run, each time to the
# run's end, in time quadratic in the run.)
_CANDIDATE = re.compile(rb"\\[xuUN]")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_DIGITS = {ord("x"): 2, ord("u"): 4, ord("U"): 8}
# ``{NAME}`` after ``\N``, within the string (no quote, no line break) and no longer than any
# name Unicode has (88 bytes) by far.
_NAME = re.compile(rb"\{([^}'\"\r\n]{0,256})\}")
# The nodes a string's text is made of (a lone backslash is its own node, "\\"; a format
# specification's text is decoded too).
_TEXT = frozenset({"string_content", "escape_sequence", "\\", "format_specifier"})


def escape_errors(
    root: Node, source: bytes, begin: int, end: int
) -> Iterator[tuple[int, int, str]]:
    """(start, end, message) of each malformed escape of a string in ``[begin, end)``."""
    position = begin
    # The last string looked up, its kind and where its text ends: a string's escapes ask
    # the tree once.
    known_until, known, body = -1, None, (-1, b"")
    while (match := _CANDIDATE.search(source, position, end)) is not None:
        at = match.start()  # the backslash of the escape, if it is one
        position = match.end()
        run = at
        while run > 0 and source[run - 1] == 0x5C:  # once per run: linear in all
            run -= 1
        if (at - run) % 2:
            continue  # an escaped backslash, then a letter
        problem = _malformed(source, at)
        if problem is None:
            continue
        stop, bytes_message, text_message = problem
        if at >= known_until:
            known, known_until, body = _string_kind(root, source, at)
        if known is None:  # a comment or a raw string: nothing in it is an escape
            position = max(position, known_until)
            continue
        if known == "str" and source[at + 1] == ord("N"):
            # The quick look stops at a line break or a quote: CPython reads the name to the
            # next ``}`` in the string (a triple-quoted one spans lines), however long.
            problem = _named(source, at, *body)
            if problem is None:
                continue
            stop, bytes_message, text_message = problem
        message = bytes_message if known == "bytes" else text_message
        if message is not None:
            yield at, stop, message  # the first of its string, as CPython reports it
            position = max(position, known_until)


def _malformed(source: bytes, at: int) -> tuple[int, str | None, str | None] | None:
    """What is wrong with the escape whose backslash is at ``at``: where it ends, and the
    message in bytes and in a str (None: fine there); None when it is fine in both."""
    letter = source[at + 1]
    if letter == ord("N"):
        braced = _NAME.match(source, at + 2)
        if braced is None:
            return at + 2, None, "(unicode error) malformed \\N character escape"
        name, close = braced.group(1), braced.end() - 1
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


def _named(source: bytes, at: int, body_end: int, quote: bytes) -> tuple[int, None, str] | None:
    """What is wrong with the ``\\N`` escape at ``at`` of a str (not an f-string) whose text
    ends at ``body_end`` and whose closing quotes are ``quote``, by CPython's rule
    (``_PyUnicode_DecodeUnicodeEscapeInternal``): the name runs from the ``{`` to the next
    ``}`` of the text; none, or an empty name, is malformed, and a name that is no
    character's is unknown. None: fine. (tree-sitter's own escape may run past the quotes,
    into the next string: its text ends at the first ``quote``.)"""
    quoted = source.find(quote, at + 3, body_end)
    if quoted != -1:
        body_end = quoted
    close = source.find(b"}", at + 3, body_end) if source[at + 2 : at + 3] == b"{" else -1
    if close <= at + 3:
        return at + 2, None, "(unicode error) malformed \\N character escape"
    try:
        character = unicodedata.lookup(source[at + 3 : close].decode("ascii"))
    except (KeyError, UnicodeDecodeError):
        character = ""
    if len(character) != 1:  # none, or a named sequence
        return close + 1, None, "(unicode error) unknown Unicode character name"
    return None


def _string_kind(root: Node, source: bytes, at: int) -> tuple[str | None, int, tuple[int, bytes]]:
    """Whether the byte at ``at`` is text of a string literal that is not raw: "str",
    "f-string" or "bytes", None otherwise (a comment, code, a raw string); where the string or
    the comment that holds it ends (``at`` when neither does); and where the string's text
    ends (before its closing quotes, if it has them), with its quotes."""
    node = root.descendant_for_byte_range(at, at + 1)
    if node is not None and node.type == "comment":
        return None, node.end_byte, (node.end_byte, b"\n")
    if node is None or node.type not in _TEXT:
        return None, at, (at, b"")
    while node is not None and node.type != "string":
        node = node.parent
    if node is None or node.child_count == 0:
        return None, at, (at, b"")
    opening, closing = node.children[0], node.children[-1]
    if opening.type != "string_start":
        return None, at, (at, b"")
    end = node.end_byte
    body_end = closing.start_byte if closing.type == "string_end" else end
    start = source[opening.start_byte : opening.end_byte]
    quote = start.lstrip(b"rRbBuUfFtT")
    prefix = start[: len(start) - len(quote)].lower()
    if b"r" in prefix:
        return None, end, (body_end, quote)
    kind = "bytes" if b"b" in prefix else "f-string" if b"f" in prefix or b"t" in prefix else "str"
    return kind, end, (body_end, quote)
