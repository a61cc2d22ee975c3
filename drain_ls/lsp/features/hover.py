"""Hover on a function or class name: signature, docstring, size and complexity, from the tree."""

from __future__ import annotations

from collections.abc import Callable

from tree_sitter import Node

from drain_ls.analysis.complexity import cyclomatic_complexity
from drain_ls.analysis.exports import string_value
from drain_ls.lsp.documents import Document

# Extra markdown sections a later layer adds (the drains' summaries), keyed by definition.
SectionProvider = Callable[[Document, Node], list[str]]


def definition_at(doc: Document, offset: int) -> Node | None:
    """The function or class definition whose name is at byte ``offset``."""
    node = doc.tree.root_node.descendant_for_byte_range(offset, offset)
    if node is None:
        return None
    if node.type != "identifier" and offset > 0:
        # The cursor may sit just after the name.
        node = doc.tree.root_node.descendant_for_byte_range(offset - 1, offset - 1)
    if node is None or node.type != "identifier":
        return None
    parent = node.parent
    if parent is None or parent.type not in ("function_definition", "class_definition"):
        return None
    name = parent.child_by_field_name("name")
    if name is None or name.id != node.id:
        return None
    return parent


def signature(definition: Node) -> str:
    """``def name(params) -> ret`` / ``class Name(bases)``, on one line."""
    body = definition.child_by_field_name("body")
    end = body.start_byte if body is not None else definition.end_byte
    text = (definition.text or b"")[: end - definition.start_byte].decode("utf-8", "replace")
    text = " ".join(text.split()).rstrip()
    if text.endswith(":"):
        text = text[:-1].rstrip()
    text = text.replace("( ", "(").replace(" )", ")").replace(", )", ")")
    return text


def docstring_of(definition: Node) -> str | None:
    """The docstring of a function or class definition, if it has one."""
    body = definition.child_by_field_name("body")
    if body is None:
        return None
    for child in body.named_children:
        if child.type == "comment":
            continue
        if child.type != "expression_statement" or child.named_child_count != 1:
            return None
        value = child.named_children[0]
        if value.type == "parenthesized_expression" and value.named_child_count == 1:
            value = value.named_children[0]
        return string_value(value)
    return None


def first_line(docstring: str) -> str:
    """The summary line of a docstring."""
    for line in docstring.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def hover_markdown(
    doc: Document, offset: int, sections: SectionProvider | None = None
) -> tuple[str, Node] | None:
    """Markdown for a hover at ``offset`` and the name node it is about, or None."""
    definition = definition_at(doc, offset)
    if definition is None:
        return None
    name = definition.child_by_field_name("name")
    assert name is not None
    kind = "class" if definition.type == "class_definition" else "function"
    lines = ["```python", signature(definition), "```", ""]
    docstring = docstring_of(definition)
    summary = first_line(docstring) if docstring else ""
    lines.append(summary if summary else "*no docstring*")
    size = definition.end_point.row - definition.start_point.row + 1
    facts = [f"{size} line{'s' if size != 1 else ''}"]
    if kind == "function":
        facts.append(f"cyclomatic complexity {cyclomatic_complexity(definition)}")
    lines.extend(["", "---", " · ".join(facts)])
    if sections is not None:
        for section in sections(doc, definition):
            lines.extend(["", "---", section])
    return "\n".join(lines), name
