"""The vocabulary of the unused-import check's name resolution (``imports``): scopes and
the events of one name in them, and the syntax-tree questions the resolver asks.

The kinds of tree-sitter nodes that open a scope, the kinds of event (``LOAD``, ``STORE``,
``IMPORT``...), ``Event`` and ``_Scope``; ``_state_at`` (a name's binding state in a scope
at a time); whether a node is in an annotation, inside an import statement, a parameter's
name; whether a module says ``from __future__ import annotations``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tree_sitter import Node

from drain_ls.analysis.import_statements import ImportBinding

INFINITY = 1 << 62


_COMPREHENSIONS = frozenset(
    {"list_comprehension", "set_comprehension", "dictionary_comprehension", "generator_expression"}
)
_SCOPES = (
    frozenset({"module", "function_definition", "lambda", "class_definition"}) | _COMPREHENSIONS
)
_DEFERRED_SCOPES = frozenset({"function_definition", "lambda"})
_PATTERN_CONTAINERS = frozenset(
    {
        "pattern_list",
        "tuple_pattern",
        "list_pattern",
        "list_splat_pattern",
        "tuple",
        "list",
        "parenthesized_expression",
        "expression_list",
    }
)
_PARAMETER_NAMES = frozenset(
    {"typed_parameter", "list_splat_pattern", "dictionary_splat_pattern", "keyword_separator"}
)
_DEFAULT_PARAMETERS = frozenset({"default_parameter", "typed_default_parameter"})

# Event kinds of one name in one scope.
LOAD = 0
STORE = 1
IMPORT = 2
DELETE = 3
GLOBAL = 4
NONLOCAL = 5
UNBIND = 6  # the end of an ``except ... as name`` handler


@dataclass(slots=True)
class Event:
    """Something that happens to a name in a scope, at a time in that scope's visiting order."""

    time: int
    kind: int
    binding: ImportBinding | None = None
    offset: int = -1  # where a deferred load is (-2: in ``__all__``); else ``time`` is
    # A forward reference (a string type expression, an annotation under ``from __future__
    # import annotations``): it resolves to the module's binding when there is one (ruff's
    # ``resolve_load``, after PEP 563).
    forward: bool = False


@dataclass(slots=True)
class _Scope:
    node: Node
    parent: _Scope | None
    deferred: bool  # visited after its parent scope is complete
    position: int  # where it is visited inside its parent
    order: int  # how many scopes were made before it
    events: list[Event] = field(default_factory=list)  # of the name being analysed

    @property
    def is_class(self) -> bool:
        return self.node.type == "class_definition"

    @property
    def is_comprehension(self) -> bool:
        return self.node.type in _COMPREHENSIONS


_FUTURE_IMPORT = re.compile(rb"\bfrom[ \t\\\r\n]+__future__\b")


def _future_annotations(root: Node, source: bytes) -> bool:
    """Whether a module-level ``from __future__ import annotations`` is in ``source``."""
    for match in _FUTURE_IMPORT.finditer(source):
        node = root.descendant_for_byte_range(match.start(), match.start() + 4)
        while node is not None and node.type != "future_import_statement":
            node = node.parent if node.type in ("from", "ERROR") else None
        if node is None or node.parent is None or node.parent.type != "module":
            continue
        for name in node.children_by_field_name("name"):
            target = name.child_by_field_name("name") if name.type == "aliased_import" else name
            if target is not None and target.text == b"annotations":
                return True
    return False


# The fields that hold an annotation, by the type of the node that has them.
_ANNOTATION_FIELDS = {
    "typed_parameter": "type",
    "typed_default_parameter": "type",
    "function_definition": "return_type",
    "assignment": "type",
}


def _in_annotation(node: Node | None) -> bool:
    """Whether ``node`` is part of an annotation (of a parameter, a return, a variable)."""
    while node is not None:
        kind = node.type
        if kind == "type":
            holder = node.parent
            field = _ANNOTATION_FIELDS.get(holder.type) if holder is not None else None
            if holder is not None and field is not None and _is_field(holder, field, node):
                return True
        elif kind in _STATEMENT_BOUNDARIES:
            return False
        node = node.parent
    return False


# Nodes above which no annotation holds a node (a statement, a body, a scope).
_STATEMENT_BOUNDARIES = frozenset(
    {
        "module",
        "block",
        "expression_statement",
        "class_definition",
        "decorated_definition",
        "return_statement",
    }
)


def _state_at(scope: _Scope, time: int) -> Event | None:
    """The latest binding-changing event of the name in ``scope`` before ``time``."""
    latest: Event | None = None
    for event in scope.events:
        if (
            event.kind != LOAD
            and event.time < time
            and (latest is None or event.time >= latest.time)
        ):
            latest = event
    return latest


def _first_for_in(node: Node) -> Node | None:
    for child in node.named_children:
        if child.type == "for_in_clause":
            return child
    return None


def _is_field(parent: Node, name: str, node: Node) -> bool:
    value = parent.child_by_field_name(name)
    return value is not None and value.id == node.id


def _inside_import(node: Node | None) -> bool:
    while node is not None and node.type in ("dotted_name", "aliased_import", "relative_import"):
        node = node.parent
    return node is not None and node.type in (
        "import_statement",
        "import_from_statement",
        "future_import_statement",
    )


def _parameter_owner(node: Node) -> Node | None:
    """The function or lambda whose parameter ``node`` names, if it names one."""
    child = node
    parent = node.parent
    while parent is not None:
        if parent.type in ("parameters", "lambda_parameters"):
            owner = parent.parent
            return owner if owner is not None and owner.type in _DEFERRED_SCOPES else None
        if parent.type in _DEFAULT_PARAMETERS:
            if not _is_field(parent, "name", child):
                return None
        elif parent.type == "typed_parameter":
            type_node = parent.child_by_field_name("type")
            if type_node is not None and type_node.id == child.id:
                return None
        elif parent.type not in ("list_splat_pattern", "dictionary_splat_pattern"):
            return None
        child = parent
        parent = parent.parent
    return None
