"""What a drain sees of a file besides its scope: the file's outline (its imports and
module-level signatures, the context every drain on it sends) and the source spans it was
made from, a module-scope drain's outline; the definitions a file has, with their
qualified names; their complexity."""

from __future__ import annotations

from tree_sitter import Node

from drain_ls.analysis.complexity import cyclomatic_complexity

MAX_CONTEXT_BYTES = 12_000


def context_limit(max_tokens_per_drain: int) -> int:
    """How long a file's context may be: at most half of what one drain run may reserve
    (its input is counted at a token a byte), so that the outline of a long module never
    leaves no room for the definition and the answer (it did: no drain ever ran on a
    module whose outline passed about 4.5 KB)."""
    return max(0, min(MAX_CONTEXT_BYTES, max_tokens_per_drain // 2))


def outline(source: bytes, root: Node, limit: int = MAX_CONTEXT_BYTES) -> str:
    """The file's context for every drain on it: its imports and module-level signatures,
    whole lines of it up to ``limit`` characters."""
    return outline_with_spans(source, root, limit)[0]


_DEFINITIONS = ("function_definition", "class_definition", "decorated_definition")


def outline_with_spans(
    source: bytes, root: Node, limit: int = MAX_CONTEXT_BYTES
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """``outline``, and the byte ranges of the source it was made from: an edit there makes
    the context a running drain sent stale (``Scheduler.edited``)."""
    lines: list[str] = []
    spans: list[tuple[int, int]] = []
    size = -1
    for node in root.named_children:
        kind = node.type
        if kind == "ERROR" or (node.has_error and kind not in _DEFINITIONS):
            # Broken text at module level (an import being typed): not in the outline, but
            # an edit there may put it back.
            spans.append((node.start_byte, node.end_byte))
            continue
        if kind in ("import_statement", "import_from_statement", "future_import_statement"):
            line = (node.text or b"").decode("utf-8", "replace")
            span = (node.start_byte, node.end_byte)
        else:
            definition = (
                node.child_by_field_name("definition") if kind == "decorated_definition" else node
            )
            if definition is None or definition.type not in (
                "function_definition",
                "class_definition",
            ):
                continue
            body = definition.child_by_field_name("body")
            end = body.start_byte if body is not None else definition.end_byte
            raw = source[definition.start_byte : end].rstrip()
            line = " ".join(raw.decode("utf-8", "replace").split())
            span = (node.start_byte, definition.start_byte + len(raw))  # to the ``:``
        if size + 1 + len(line) > limit:
            break
        size += 1 + len(line)
        lines.append(line)
        spans.append(span)
    return "\n".join(lines), tuple(spans)


def definitions(root: Node) -> list[tuple[Node, str, bool]]:
    """Every function and class definition outside function bodies: (node, qualname, public)."""
    out: list[tuple[Node, str, bool]] = []
    stack: list[tuple[Node, str, bool]] = [(root, "", True)]
    while stack:
        container, prefix, public = stack.pop()
        for child in container.named_children:
            node = (
                child.child_by_field_name("definition")
                if child.type == "decorated_definition"
                else child
            )
            if node is None or node.type not in ("function_definition", "class_definition"):
                continue
            name_node = node.child_by_field_name("name")
            name = (name_node.text or b"").decode("utf-8", "replace") if name_node else "?"
            is_public = public and not (name.startswith("_") and not name.endswith("__"))
            out.append((node, prefix + name, is_public))
            if node.type == "class_definition":
                body = node.child_by_field_name("body")
                if body is not None:
                    stack.append((body, prefix + name + ".", is_public))
    out.sort(key=lambda item: item[0].start_byte)
    return out


def qualname_of(definition: Node) -> str | None:
    """The qualified name ``definitions`` gives a function or class definition, from its
    ancestors alone (a hover asks for one, and a long module has a thousand); None for one
    that ``definitions`` leaves out (inside a function body, an ``if`` or any other
    statement)."""
    names: list[str] = []
    node = definition
    while True:
        name = node.child_by_field_name("name")
        names.append((name.text or b"").decode("utf-8", "replace") if name else "?")
        holder = node.parent
        if holder is not None and holder.type == "decorated_definition":
            holder = holder.parent
        if holder is None:
            return None
        if holder.type == "module":
            return ".".join(reversed(names))
        owner = holder.parent if holder.type == "block" else None
        if owner is None or owner.type != "class_definition":
            return None
        node = owner


def complexity_of(node: Node) -> int:
    """Cyclomatic complexity of a function (1 for a class)."""
    return cyclomatic_complexity(node) if node.type == "function_definition" else 1


def module_outline(source: bytes, root: Node, context: str) -> str:
    """What a ``module``-scope drain sees: the module docstring, then the outline."""
    first = next((c for c in root.named_children if c.type != "comment"), None)
    doc = ""
    if first is not None and first.type == "expression_statement" and first.named_child_count:
        value = first.named_children[0]
        if value.type in ("string", "concatenated_string"):
            doc = source[first.start_byte : first.end_byte].decode("utf-8", "replace") + "\n"
    return doc + context
