"""The findings of the unused-import check (``imports``) and their fixes.

``_findings`` makes the F401 findings of the unused bindings (ruff's messages: a ``try``
that catches ``ImportError``, a package's ``__init__``), with one fix per statement;
``remove_imports_fix`` deletes names from a statement, or the statement itself
(``delete_statement``, which leaves ``pass`` in a block it would empty).
"""

from __future__ import annotations

import re

from tree_sitter import Node

from drain_ls.analysis.import_scopes import _SCOPES
from drain_ls.analysis.import_statements import ImportBinding, import_bindings
from drain_ls.analysis.model import Edit, Finding, Fix
from drain_ls.analysis.source import LineIndex, Syntax, text_start

_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError"})


def _in_import_error_try(statement: Node, parent: Node | None = None) -> bool:
    """True when ``statement`` is in a ``try`` body whose handlers catch ImportError.

    ``parent``: the statement's parent, when the caller has it."""
    child = statement
    if parent is None:
        parent = statement.parent
    while parent is not None and parent.type not in _SCOPES:
        if parent.type == "try_statement":
            body = parent.child_by_field_name("body")
            if body is not None and body.id == child.id:
                for clause in parent.named_children:
                    if clause.type == "except_clause" and _catches_import_error(clause):
                        return True
        child = parent
        parent = parent.parent
    return False


def _catches_import_error(clause: Node) -> bool:
    for child in clause.named_children:
        if child.type == "block":
            return False
        text = child.text or b""
        names = re.findall(rb"[A-Za-z_][A-Za-z0-9_]*", text)
        if any(n.decode() in _IMPORT_ERRORS for n in names):
            return True
    return False


def _findings(unused: list[ImportBinding], source: bytes, is_init: bool) -> list[Finding]:
    index = LineIndex(source)
    plain = b"\r" not in source
    by_statement: dict[int, list[ImportBinding]] = {}
    for binding in unused:
        key = binding.statement.id
        same = by_statement.get(key)
        if same is None:
            by_statement[key] = [binding]
        else:
            same.append(binding)
    findings: list[Finding] = []
    append = findings.append
    for group in by_statement.values():
        statement = group[0].statement
        in_except = _in_import_error_try(statement, group[0].container)
        removal = None if in_except else remove_imports_fix(group, source, index, plain)
        statement_start = statement.start_byte
        if len(group) > 1:
            group = sorted(group, key=lambda b: b.node.start_byte)
        for binding in group:
            qualified = binding.qualified
            message = f"`{qualified}` imported but unused"
            fix = removal
            if in_except:
                message += "; consider using `importlib.util.find_spec` to test for availability"
            elif is_init and qualified.startswith("."):
                # A package's own module imported in its __init__: most likely a re-export.
                message += "; consider removing, adding to `__all__`, or using a redundant alias"
                fix = _redundant_alias_fix(binding)
            elif is_init and removal is not None:
                fix = Fix(removal.message, removal.edits, "unsafe")
            start, end = binding.node.byte_range
            append(
                Finding(
                    "F401",
                    message,
                    start,
                    end,
                    (statement_start, start),  # the offsets of a noqa comment
                    fix,
                    {"name": binding.name, "qualified": qualified},
                )
            )
    return findings


def _redundant_alias_fix(binding: ImportBinding) -> Fix | None:
    """``from . import x`` -> ``from . import x as x``: mark a re-export explicitly."""
    if binding.element.type != "dotted_name" or "." in binding.name:
        return None
    end = binding.element.end_byte
    return Fix(
        f"Use an explicit re-export: `{binding.name} as {binding.name}`",
        (Edit(end, end, f" as {binding.name}"),),
    )


def remove_one_import_fix(tree: Syntax, source: bytes, start: int, end: int) -> Fix | None:
    """A fix that removes only the import binding whose name spans bytes ``[start, end)``."""
    node = tree.root_node.descendant_for_byte_range(start, end)
    while node is not None and node.type not in ("import_statement", "import_from_statement"):
        node = node.parent
    if node is None:
        return None
    for binding in import_bindings(node):
        if binding.node.start_byte == start and binding.node.end_byte == end:
            fix = remove_imports_fix([binding], source)
            return Fix(f"Remove unused import `{binding.name}`", fix.edits, fix.applicability)
    return None


def remove_imports_fix(
    bindings: list[ImportBinding],
    source: bytes,
    index: LineIndex | None = None,
    plain: bool = False,
) -> Fix:
    """A fix removing ``bindings`` (all from one statement) from their statement.

    ``plain``: the caller knows that ``source`` has no carriage return."""
    index = index or LineIndex(source)
    first = bindings[0]
    statement = first.statement
    elements: list[Node] | None = None
    if len(bindings) == 1:
        names = f"`{first.qualified}`"
        # The binding's name, and the module's in a ``from`` import, are named children:
        # with no other, the statement names nothing else (comments are named children).
        if statement.named_child_count != (1 if statement.type == "import_statement" else 2):
            elements = statement.children_by_field_name("name")
    else:
        # ruff's title when a statement has several unused imports (its ``fix_title``): a
        # list of the names would make every finding's fix as long as the statement (20,000
        # names on one line: 4 GB of JSON).
        names = ""
        elements = statement.children_by_field_name("name")
    if elements is not None:
        remove = {b.element.id for b in bindings}
        if not all(e.id in remove for e in elements):
            edits = _remove_elements(elements, remove, source, index)
            return Fix(_removal_title(names), edits)
    parent = statement.parent if first.container is None else first.container
    whole = None
    if plain and parent is not None and parent.type == "module":
        whole = _whole_lines(statement, source)
    return Fix(
        _removal_title(names),
        whole or delete_statement(statement, source, index, parent),
        isolation=parent.start_byte if parent is not None else None,
    )


def _removal_title(names: str) -> str:
    return f"Remove unused import: {names}" if names else "Remove unused import"


def _whole_lines(statement: Node, source: bytes) -> tuple[Edit, ...] | None:
    """``delete_statement`` of a module-level statement that has its lines to itself, in a
    source without carriage returns (whose rows tree-sitter counts as ``LineIndex`` does):
    the edit that deletes those lines. None for any other statement."""
    start, end = statement.byte_range
    size = len(source)
    if (start == text_start(source) or source[start - 1] == 0x0A) and (
        end == size or source[end] == 0x0A
    ):
        return (Edit(start, min(end + 1, size), ""),)
    return None


def _remove_elements(
    elements: list[Node], remove: set[int], source: bytes, index: LineIndex
) -> tuple[Edit, ...]:
    """Delete some names of a multi-name import, separators included.

    Each maximal run of removed names is deleted up to the next kept name, or, for a run at the
    end, from the end of the kept name before it: runs never overlap and no separator is left
    dangling (``import a, b, c`` minus b and c is ``import a``).
    """
    edits: list[Edit] = []
    n = len(elements)
    i = 0
    while i < n:
        if elements[i].id not in remove:
            i += 1
            continue
        j = i
        while j + 1 < n and elements[j + 1].id in remove:
            j += 1
        if j + 1 < n:
            edits.append(Edit(elements[i].start_byte, elements[j + 1].start_byte, ""))
        else:
            edits.append(_remove_tail(elements[i - 1], elements[i], elements[j], source, index))
        i = j + 1
    return tuple(edits)


def _remove_tail(kept: Node, first: Node, last: Node, source: bytes, index: LineIndex) -> Edit:
    """Delete the names ``first``..``last`` that end an import, after the kept name ``kept``.

    In a parenthesized import with one name per line, whole lines go, so that a comment on
    the kept name's line stays where it is.
    """
    line_start = index.line_start_of(first.start_byte)
    after_kept = source[kept.end_byte : kept.end_byte + 64].lstrip(b" \t")
    last_row = index.row_of(last.end_byte)
    rest = source[last.end_byte : index.line_end(last_row)].strip(b" \t")
    if (
        not source[line_start : first.start_byte].strip(b" \t")
        and after_kept.startswith(b",")
        and (rest in (b"", b",") or rest.lstrip(b",").lstrip().startswith(b"#"))
        and index.row_of(kept.end_byte) < index.row_of(first.start_byte)
    ):
        next_row = last_row + 1
        end = index.starts[next_row] if next_row < len(index.starts) else len(source)
        return Edit(line_start, end, "")
    return Edit(kept.end_byte, last.end_byte, "")


def delete_statement(
    statement: Node, source: bytes, index: LineIndex, parent: Node | None = None
) -> tuple[Edit, ...]:
    """Edits that delete a whole simple statement, leaving ``pass`` if its block empties.

    ``parent``: the statement's parent, when the caller has it."""
    if parent is None:
        parent = statement.parent
    start, end = statement.byte_range
    if parent is not None and parent.type == "block" and _statements_in(parent) == 1:
        return (Edit(start, end, "pass"),)
    starts = index.starts
    last_row = statement.end_point.row
    # The first line starts after a byte order mark (which stays).
    line_start = starts[statement.start_point.row] or text_start(source)
    line_end = index.line_end(last_row)
    # What follows on the last line: maybe "; other", maybe a comment.
    j = end
    while j < line_end and source[j] in b" \t":
        j += 1
    if j < line_end and source[j] == 0x3B:  # ";"
        k = j + 1
        while k < line_end and source[k] in b" \t":
            k += 1
        if k < line_end and source[k] != 0x23:  # "#"
            return (Edit(start, k, ""),)
    before = source[line_start:start]
    stripped_before = before.strip()
    if stripped_before.endswith(b";"):
        # "x = 1; import os": delete "; import os".
        semi = line_start + before.rstrip().rfind(b";")
        return (Edit(semi, end, ""),)
    if stripped_before:
        # "if x: import os" style one-liner with a colon before: the block has one child.
        return (Edit(start, end, "pass"),)
    next_row = last_row + 1
    stop = starts[next_row] if next_row < len(starts) else len(source)
    return (Edit(line_start, stop, ""),)


def _statements_in(block: Node, most: int = 2) -> int:
    """How many children of ``block`` are not comments, counted up to ``most`` (a cursor:
    listing the children of a block of thousands of imports, for each, was quadratic)."""
    count = 0
    cursor = block.walk()
    if not cursor.goto_first_child():
        return 0
    while True:
        node = cursor.node
        if node is not None and node.is_named and node.type != "comment":
            count += 1
            if count >= most:
                return count
        if not cursor.goto_next_sibling():
            return count
