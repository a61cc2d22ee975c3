"""Literals that tree-sitter-python accepts and CPython rejects, as ``E999`` errors of
``drain_ls.analysis.legacy`` in CPython's words: a one-quote string that starts with a line
break (``x = '`` then a line break: tree-sitter reads on to the next quote, where CPython says
"unterminated string literal (detected at line 1)", at the string), bytes and text side by
side (``"a" b"b"``, ``f"{x}" b""``: "cannot mix bytes and nonbytes literals", over the whole
run, where ruff points), a bytes literal that holds a character past ASCII (``b"é"``: "bytes
can only contain ASCII literal characters", over it, as CPython), and a number with an
underscore that no digit follows (``1_``, ``1.5_``, ``1_j``: "invalid decimal literal", at that
underscore, where CPython points; the other bases are errors for the tree too). ``drain_ls.analysis.token_scan`` finds the nodes to look at."""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

LITERALS = frozenset({"string", "concatenated_string", "integer", "float"})
_DECIMAL = frozenset(bytes([d]) for d in b"0123456789")
_BASES = {
    b"0x": ("hexadecimal", frozenset(bytes([d]) for d in b"0123456789abcdefABCDEF")),
    b"0o": ("octal", frozenset(bytes([d]) for d in b"01234567")),
    b"0b": ("binary", frozenset({b"0", b"1"})),
}

Error = tuple[int, int, str]


def literal_errors(node: Node) -> Iterator[Error]:
    """The error of one literal (a node of a type in ``LITERALS``), if any."""
    if node.type == "string":
        yield from _unterminated(node)
        yield from _not_ascii(node)
        return
    if node.type == "concatenated_string":
        for part in node.named_children:
            if part.type == "string":
                yield from _unterminated(part)
                yield from _not_ascii(part)
        kinds = {_is_bytes(part) for part in node.named_children if part.type == "string"}
        if len(kinds) == 2:
            yield node.start_byte, node.end_byte, "cannot mix bytes and nonbytes literals"
        return
    text = node.text or b""
    base, digits = _BASES.get(text[:2].lower(), ("decimal", _DECIMAL))
    for at, byte in enumerate(text):
        if byte == 0x5F and text[at + 1 : at + 2] not in digits:  # ``_``, then no digit
            yield node.start_byte + at, node.start_byte + at + 1, f"invalid {base} literal"
            return


def _unterminated(string: Node) -> Iterator[Error]:
    """A one-quote string with a line break in its text (not escaped; a replacement field of an
    f-string may hold one): CPython's error at the string's start."""
    start = string.child(0)
    opening = start.text if start is not None and start.text is not None else b""
    if start is None or start.type != "string_start" or opening[-3:] in _TRIPLE:
        return
    for part in string.children:
        if part.type == "string_content" and _has_line_break(part.text or b""):
            prefix = opening[:-1].lower()
            kind = "f-string" if b"f" in prefix else "t-string" if b"t" in prefix else "string"
            line = string.start_point.row + 1
            message = f"unterminated {kind} literal (detected at line {line})"
            yield string.start_byte, start.end_byte, message
            return


_TRIPLE = (b"'''", b'"""')


def _not_ascii(string: Node) -> Iterator[Error]:
    """A bytes literal that holds a character past ASCII: CPython's error over it."""
    text = string.text
    if text is not None and not text.isascii() and _is_bytes(string):
        yield string.start_byte, string.end_byte, "bytes can only contain ASCII literal characters"


def _has_line_break(text: bytes) -> bool:
    """Whether ``text`` holds a line break that no backslash escapes."""
    at = 0
    while at < len(text):
        byte = text[at]
        if byte == 0x5C:  # a backslash: it and what it escapes (a CRLF line break is one)
            at += 3 if text[at + 1 : at + 3] == b"\r\n" else 2
            continue
        if byte in (0x0A, 0x0D):
            return True
        at += 1
    return False


def _is_bytes(string: Node) -> bool:
    start = string.child(0)
    prefix = start.text if start is not None and start.text is not None else b""
    return b"b" in prefix.lower()
