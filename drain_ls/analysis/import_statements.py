"""Import statements and the names they bind, for the unused-import check (``imports``).

``import_bindings`` reads the names one ``import``/``from ... import`` statement binds (an
``ImportBinding`` each, NFKC-normalised); ``find_import_statements`` finds every import
statement of a file, reading the module-level ones from the module's children and searching
the text between them for the keyword of the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

from drain_ls.analysis.source import IDENTIFIER_BYTES, normalize_identifier, text_start


@dataclass(slots=True)
class ImportBinding:
    """One name bound by an import statement."""

    name: str
    qualified: str
    node: Node  # what a finding points at
    element: Node  # the statement's child that names it (dotted_name or aliased_import)
    statement: Node
    reexport: bool
    # The statement's parent when it was known for free (a module-level statement, found
    # among the module's children): spares a walk up the tree per statement.
    container: Node | None = None


def import_bindings(statement: Node, container: Node | None = None) -> list[ImportBinding]:
    """The names an ``import`` or ``from ... import`` statement binds (none for ``*``).

    ``container``: the statement's parent, when the caller knows it."""
    bindings: list[ImportBinding] = []
    module = ""
    is_import = statement.type == "import_statement"
    if not is_import:
        module_node = statement.child_by_field_name("module_name")
        module = _text(module_node) if module_node is not None else ""
    append = bindings.append
    for element in statement.children_by_field_name("name"):
        kind = element.type
        if kind == "dotted_name":
            dotted = _text(element)
            if is_import:
                name = dotted.split(".", 1)[0] if "." in dotted else dotted
                append(ImportBinding(name, dotted, element, element, statement, False, container))
            else:
                qualified = _join(module, dotted)
                append(
                    ImportBinding(dotted, qualified, element, element, statement, False, container)
                )
        elif kind == "aliased_import":
            target = element.child_by_field_name("name")
            alias = element.child_by_field_name("alias")
            if target is None or alias is None:
                continue
            dotted = _text(target)
            name = _text(alias)
            qualified = _join(module, dotted)
            reexport = dotted == name
            append(ImportBinding(name, qualified, alias, element, statement, reexport, container))
    return bindings


def _join(module: str, name: str) -> str:
    if not module:
        return name
    return module + name if module.endswith(".") else f"{module}.{name}"


def _text(node: Node) -> str:
    """The text of a name without whitespace (``a . b`` is ``a.b``)."""
    text = node.text
    if not text:
        return ""
    decoded = text.decode("utf-8", errors="replace")
    if decoded.isascii():
        if decoded.isidentifier():
            return decoded  # the common case: nothing to take out
        return "".join(decoded.split())
    # Python reads identifiers NFKC-normalised: ``import ﬁle`` binds ``file``.
    return normalize_identifier("".join(decoded.split()))


_IMPORT_STATEMENTS = ("import_statement", "import_from_statement")


def find_import_statements(root: Node, source: bytes) -> list[Node]:
    """Every ``import``/``from ... import`` statement (not ``__future__``), in source order."""
    return [statement for statement, _ in _import_statements(root, source)]


def _import_statements(root: Node, source: bytes) -> list[tuple[Node, Node | None]]:
    """Every import statement (``find_import_statements``), each with its parent when that
    came for free.

    In a file that parses, the module-level statements are read from the module's children
    (one call), and only the text between them is searched for the keyword of the others:
    a search per keyword, with a walk down the tree from the root for each, cost a
    thousand times more than the analysis of a file of thousands of imports."""
    if root.has_error or root.type != "module":
        return [(statement, None) for statement in _keyword_statements(root, source, 0)]
    found: list[tuple[Node, Node | None]] = []
    previous = 0  # the end of the last module-level import statement
    # A ``ForestRoot`` (drain_ls.analysis.forest) stands for the module nodes of its chunks.
    modules: list[Node] = list(getattr(root, "roots", None) or (root,))
    for module in modules:
        for child in module.children:
            if child.type in _IMPORT_STATEMENTS:
                start = child.start_byte
                if source.find(b"import", previous, start) >= 0:
                    found.extend(
                        (s, None) for s in _keyword_statements(root, source, previous, start)
                    )
                found.append((child, module))
                previous = child.end_byte
    if source.find(b"import", previous) >= 0:
        found.extend((s, None) for s in _keyword_statements(root, source, previous))
    return found


def _keyword_statements(
    root: Node, source: bytes, begin: int, end: int | None = None
) -> list[Node]:
    """The import statements whose keyword is in ``source[begin:end]``, in source order."""
    statements: list[Node] = []
    seen: set[int] = set()
    limit = len(source)
    stop = limit if end is None else end
    first = text_start(source)
    i = source.find(b"import", max(begin, first), stop)
    while i >= 0:
        j = i + 6
        if (i == first or source[i - 1] not in IDENTIFIER_BYTES) and (
            j >= limit or source[j] not in IDENTIFIER_BYTES
        ):
            keyword = root.descendant_for_byte_range(i, j)
            statement = keyword.parent if keyword is not None and keyword.type == "import" else None
            if (
                statement is not None
                and statement.type in _IMPORT_STATEMENTS
                and statement.id not in seen
            ):
                seen.add(statement.id)
                statements.append(statement)
        i = source.find(b"import", j, stop)
    return statements


def bindings_by_name(root: Node, source: bytes) -> dict[str, list[ImportBinding]]:
    """Every name bound by an import statement, with its bindings in source order."""
    by_name: dict[str, list[ImportBinding]] = {}
    if b"import" not in source:
        return by_name
    for statement, container in _import_statements(root, source):
        for binding in import_bindings(statement, container):
            name = binding.name
            if name:  # not a name tree-sitter put in as missing
                bindings = by_name.get(name)
                if bindings is None:
                    by_name[name] = [binding]
                else:
                    bindings.append(binding)
    return by_name
