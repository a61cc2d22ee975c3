"""``__all__`` at module level, in every form ruff understands.

``__all__ = [...]`` or ``(...)``, ``__all__: list[str] = [...]``, ``__all__ += [...]``,
chains of binary operators (``+``, or any other) and ``list(...)``/``tuple(...)`` of one
list, set or tuple literal; inside ``if``/``try`` blocks too. Exactly what ruff's
``extract_dunder_all_names`` reads (crates/ruff_python_semantic/src/model/all.rs): not a bare
set literal, not ``list(set(a) | {"x"})``, not a string in a nested container. Like ruff
(0.17), ``__all__.extend([...])`` and ``__all__.append("x")`` are not read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tree_sitter import Node

from drain_ls.analysis.source import word_occurrences

# Nodes that open a new scope: an __all__ inside one is not the module's.
SCOPE_TYPES = frozenset({"function_definition", "class_definition", "lambda"})


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


def _unparenthesized(node: Node | None) -> Node | None:
    """``node`` without the parentheses around it (ruff's AST has none)."""
    while node is not None and node.type == "parenthesized_expression":
        inner = [c for c in node.named_children if c.type != "comment"]
        if len(inner) != 1:
            return node
        node = inner[0]
    return node


def _elements(node: Node | None) -> list[Node] | None:
    """The elements of one operand of an ``__all__`` value, as ruff's
    ``extract_dunder_all_elts`` reads it: a list or tuple literal; ``list(...)`` or
    ``tuple(...)`` (also ``list[str](...)``) of one list, set or tuple literal and no
    keyword; the value of a walrus. Anything else (a set literal, a call of anything else,
    ``list(set(a) | {...})``, a comprehension) gives nothing."""
    node = _unparenthesized(node)
    if node is None:
        return None
    kind = node.type
    if kind in ("list", "tuple", "expression_list"):
        return node.named_children
    if kind == "named_expression":
        return _elements(node.child_by_field_name("value"))
    if kind == "call":
        function = _unparenthesized(node.child_by_field_name("function"))
        if function is not None and function.type in ("subscript", "generic_type"):
            function = function.child_by_field_name("value") or function.named_child(0)
        if function is None or function.text not in (b"list", b"tuple"):
            return None
        arguments = node.child_by_field_name("arguments")
        if arguments is None or arguments.type != "argument_list":
            return None  # ``list(x for x in y)``
        args = [c for c in arguments.named_children if c.type != "comment"]
        if len(args) != 1:
            return None
        arg = _unparenthesized(args[0])
        if arg is not None and arg.type in ("list", "set", "tuple"):
            return arg.named_children
    return None


def _collect(expr: Node | None, out: Exports) -> None:
    """Add the names of an ``__all__`` value, as ruff's ``extract_dunder_all_names`` does:
    a binary operation (any operator) is a chain to the left, each right operand and the
    last left one read by ``_elements``; of their elements, only string literals count."""
    operands: list[Node | None] = []
    node = _unparenthesized(expr)
    while node is not None and node.type == "binary_operator":
        operands.append(node.child_by_field_name("right"))
        node = _unparenthesized(node.child_by_field_name("left"))
    operands.append(node)
    for operand in operands:
        for item in _elements(operand) or ():
            element = _unparenthesized(item)
            if element is not None and element.type in ("string", "concatenated_string"):
                value = string_value(element)
                if value is not None:
                    out.names.setdefault(value, element)
                    out.strings.append(element)


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
            grand = parent.parent
            if grand is not None and grand.type == "assignment" and grand.id != parent.id:
                continue  # ``x = __all__ = [...]``: ruff reads the first target only
            value = parent.child_by_field_name("right")
            while value is not None and value.type == "assignment":
                value = value.child_by_field_name("right")  # ``__all__ = x = [...]``
        else:
            continue
        if found is None:
            found = Exports()
        _collect(value, found)
    return found
