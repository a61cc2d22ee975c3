"""``__all__`` at module level, in every form ruff understands.

``__all__ = [...]`` or ``(...)``, ``__all__: list[str] = [...]``, ``__all__ += [...]``,
``+`` chains and ``list(...)``/``tuple(...)`` around literals; inside ``if``/``try`` blocks too.
Like ruff (0.17), ``__all__.extend([...])`` and ``__all__.append("x")`` are not read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tree_sitter import Node

from drain_ls.analysis.source import word_occurrences

# Nodes that open a new scope: an __all__ inside one is not the module's.
SCOPE_TYPES = frozenset({"function_definition", "class_definition", "lambda"})
_CONTAINERS = frozenset(
    {"list", "tuple", "set", "parenthesized_expression", "expression_list", "argument_list"}
)


@dataclass(slots=True)
class Exports:
    """The names a module exports through ``__all__``."""

    names: dict[str, Node] = field(default_factory=dict)
    # The string nodes that spell an exported name: uses of the imports they name.
    strings: list[Node] = field(default_factory=list)


def _plain_prefix(string: Node) -> bool:
    """Whether a ``string`` node opens without an f, b or t prefix."""
    start = string.child(0)
    if start is None or start.text is None:
        return False
    prefix = start.text.lower().strip(b"\"'")
    return not (b"f" in prefix or b"b" in prefix or b"t" in prefix)


def string_value(node: Node) -> str | None:
    """The value of a plain (non-f, non-bytes) string literal node, else None."""
    if node.type == "concatenated_string":
        parts = [string_value(c) for c in node.named_children]
        if any(p is None for p in parts):
            return None
        return "".join(p for p in parts if p is not None)
    if node.type != "string" or not _plain_prefix(node):
        return None
    out = []
    for child in node.named_children:
        if child.type == "string_content" and child.text is not None:
            out.append(child.text.decode("utf-8", errors="replace"))
        elif child.type == "interpolation":
            return None
        elif child.type == "escape_sequence" and child.text is not None:
            try:
                out.append(child.text.decode("unicode_escape"))
            except UnicodeDecodeError:
                return None
    return "".join(out)


def is_plain_string(node: Node) -> bool:
    """Whether ``string_value(node)`` is not None, without copying or decoding the content
    (docstrings are the longest strings of a file, and only their kind matters)."""
    if node.type == "concatenated_string":
        return all(is_plain_string(c) for c in node.named_children)
    if node.type != "string" or not _plain_prefix(node):
        return False
    for child in node.named_children:
        if child.type == "interpolation":
            return False
        if child.type == "escape_sequence" and child.text is not None:
            try:
                child.text.decode("unicode_escape")
            except UnicodeDecodeError:
                return False
    return True


def is_module_level(node: Node) -> bool:
    """True when ``node`` is evaluated in the module's scope."""
    parent = node.parent
    while parent is not None:
        if parent.type in SCOPE_TYPES:
            return False
        parent = parent.parent
    return True


def _collect(expr: Node | None, out: Exports) -> None:
    """Add the string elements of an ``__all__`` value expression."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if node is None:
            continue
        kind = node.type
        if kind in _CONTAINERS:
            stack.extend(reversed(node.named_children))
        elif kind == "binary_operator":
            stack.append(node.child_by_field_name("right"))
            stack.append(node.child_by_field_name("left"))
        elif kind == "call":
            func = node.child_by_field_name("function")
            if func is not None and func.text in (b"list", b"tuple"):
                args = node.child_by_field_name("arguments")
                if args is not None:
                    stack.extend(reversed(args.named_children))
        elif kind in ("string", "concatenated_string"):
            value = string_value(node)
            if value is not None:
                out.names.setdefault(value, node)
                out.strings.append(node)


def find_exports(root: Node, source: bytes) -> Exports | None:
    """The module's ``__all__``, or None when the module defines none."""
    found: Exports | None = None
    for start, end in word_occurrences(source, b"__all__"):
        node = root.descendant_for_byte_range(start, end)
        if node is None or node.type != "identifier" or not is_module_level(node):
            continue
        parent = node.parent
        if parent is None:
            continue
        value: Node | None = None
        if parent.type in ("assignment", "augmented_assignment"):
            if parent.child_by_field_name("left") != node:
                continue
            value = parent.child_by_field_name("right")
        else:
            continue
        if found is None:
            found = Exports()
        _collect(value, found)
    return found
