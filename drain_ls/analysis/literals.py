"""Literals that tree-sitter-python accepts and CPython rejects, as ``E999`` errors of
``drain_ls.analysis.legacy`` in CPython's words: bytes and text side by side (``"a" b"b"``,
``f"{x}" b""``: "cannot mix bytes and nonbytes literals", over the whole run, where ruff
points), and a number with an underscore that no digit follows (``1_``, ``1.5_``, ``1_j``:
"invalid decimal literal", at that underscore, where CPython points; the other bases are
errors for the tree too). ``drain_ls.analysis.token_scan`` finds the nodes to look at."""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

LITERALS = frozenset({"concatenated_string", "integer", "float"})
_DECIMAL = frozenset(bytes([d]) for d in b"0123456789")
_BASES = {
    b"0x": ("hexadecimal", frozenset(bytes([d]) for d in b"0123456789abcdefABCDEF")),
    b"0o": ("octal", frozenset(bytes([d]) for d in b"01234567")),
    b"0b": ("binary", frozenset({b"0", b"1"})),
}

Error = tuple[int, int, str]


def literal_errors(node: Node) -> Iterator[Error]:
    """The error of one literal (a node of a type in ``LITERALS``), if any."""
    if node.type == "concatenated_string":
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


def _is_bytes(string: Node) -> bool:
    start = string.child(0)
    prefix = start.text if start is not None and start.text is not None else b""
    return b"b" in prefix.lower()
