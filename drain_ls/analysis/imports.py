"""Unused imports (F401), with ruff's semantics, found on a tree-sitter tree.

What is flagged: the last binding of a name in a module or function scope (never a class body)
when that binding is an import that nothing uses. As in ruff, a binding inherits the uses of
the binding of the same name it shadows in the same scope, unless a ``del`` came between.
``import a as a`` and ``from x import a as a`` are explicit re-exports and ``from __future__``
imports are directives: neither is ever flagged, and neither are star imports.

A use is a load that resolves to the binding. Module and class bodies are visited in order;
function and lambda bodies, strings read as type expressions and ``__all__`` are resolved
after the scope that holds them is complete, so they see its last binding (ruff's deferred
visiting).
``del name`` uses the binding; ``global``/``nonlocal`` make a function's loads resolve to the
outer scope and exempt that function's own imports of the name. Under ``from __future__ import
annotations`` annotations are deferred too; a forward reference (such an annotation, a string
type expression) resolves to the module's binding of the name when there is one (ruff's
``resolve_load``). A use of ``m`` from ``import a as m`` also uses ``import a.b`` in the same
scope (ruff's ``resolve_submodule``). Names compare NFKC-normalised, as Python reads them.

The analysis is driven by occurrences: for every imported name, a regular expression finds
its occurrences in the source and tree-sitter classifies only those nodes. That keeps the cost
proportional to the imports and their uses instead of to the size of the tree. Occurrences
next to a dot, which can only be uses, are classified last and only until every import of
the name is proven used.
"""

from __future__ import annotations

import ast
import gc
import os
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tree_sitter import Node

from drain_ls.analysis.exports import find_exports
from drain_ls.analysis.model import Edit, Finding, Fix
from drain_ls.analysis.source import (
    _PER_WORD_BUDGET,
    _WORD,
    IDENTIFIER_BYTES,
    LineIndex,
    Syntax,
    nfkc_occurrences,
    normalize_identifier,
    text_start,
    word_index,
    word_occurrences,
)

INFINITY = 1 << 62
# A witness that is no offset: the result rests on more than a use (an exemption).
FRAGILE = -3

_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError"})
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


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while the analysis creates objects by the
    hundred thousand (bindings, findings, fixes; none in a cycle). Each full collection
    walks every object alive: a file of 20,000 imports set off enough of them to take a
    quarter of its check."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


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
    # A ``ForestRoot`` (drain_ls.forest) stands for the module nodes of its chunks.
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


class _Resolver:
    """Scopes and per-name events of one file."""

    def __init__(self, root: Node, source: bytes, defer_annotations: bool = False) -> None:
        """The resolver of one file; ``defer_annotations``: annotations are deferred even
        without ``from __future__ import annotations`` (a target of Python 3.14 or later,
        PEP 649, as ruff's ``defers_annotations``)."""
        self.root = root
        self.source = source
        self.scopes: dict[int, _Scope] = {}
        # The scopes that have events for the name being analysed, by ``order``: a name is
        # analysed in the scopes it touches, not in all (a file of thousands of functions
        # made that quadratic).
        self.touched: dict[int, _Scope] = {}
        self.memo: dict[int, _Scope] = {}  # ``scope_of`` by node id
        self.module = self._scope_for(root)
        self.strings: dict[int, frozenset[str]] = {}  # ``type_string_names`` by node id
        self.aliases = _TypingAliases(source)  # of typing modules, for callees
        # Annotations are deferred (PEP 563): ``from __future__ import annotations``.
        self.future_annotations = defer_annotations or (
            b"annotations" in source and _future_annotations(root, source)
        )

    # -- strings --------------------------------------------------------------------------

    def type_string_names(self, string: Node) -> frozenset[str]:
        """The names a string literal uses: none unless ruff parses it as a type expression
        (``_type_string``); then the names its expression loads."""
        names = self.strings.get(string.id)
        if names is None:
            names = frozenset()
            if _type_string(string, self.aliases):
                value = _string_value(string)
                if value is not None:
                    names = frozenset(_expression_names(value[0], value[1], self.aliases, 0))
            self.strings[string.id] = names
        return names

    # -- scopes ---------------------------------------------------------------------------

    def _scope_for(self, node: Node) -> _Scope:
        scope = self.scopes.get(node.id)
        if scope is None:
            if node.type == "module" or node.parent is None:
                # The root (an ERROR node when the whole file fails to parse) is the module;
                # so is the root of each chunk of a chunked document (drain_ls.forest).
                if self.scopes:
                    return self.module
                scope = _Scope(node, None, False, 0, 0)
            else:
                parent = self.scope_of(node)
                deferred = node.type in _DEFERRED_SCOPES
                order = len(self.scopes)
                scope = _Scope(node, parent, deferred, node.start_byte, order)
            self.scopes[node.id] = scope
        return scope

    def scope_of(self, node: Node) -> _Scope:
        """The scope in which ``node`` is evaluated."""
        key = node.id
        scope = self.memo.get(key)
        if scope is None:
            scope = self.memo[key] = self._scope_of(node)
        return scope

    def _scope_of(self, node: Node) -> _Scope:
        # Each step up the tree is a walk down from the root in tree-sitter: an occurrence
        # asks for its scope two or three times, and is walked up from once.
        position = node.start_byte
        child = node
        parent = node.parent
        while parent is not None:
            kind = parent.type
            if kind in _SCOPES:
                if kind == "module":
                    return self._scope_for(parent)
                if kind in ("function_definition", "lambda", "class_definition"):
                    body = parent.child_by_field_name("body")
                    if body is not None and body.start_byte <= position < body.end_byte:
                        return self._scope_for(parent)
                    if kind == "lambda" and body is not None and child.id == body.id:
                        return self._scope_for(parent)
                else:  # a comprehension: all but its first iterable is its own
                    first = _first_for_in(parent)
                    right = first.child_by_field_name("right") if first is not None else None
                    if right is None or not (right.start_byte <= position < right.end_byte):
                        return self._scope_for(parent)
            child = parent
            parent = parent.parent
        return self.module

    # -- events ---------------------------------------------------------------------------

    def add(self, scope: _Scope, event: Event) -> None:
        """Record an event of the name being analysed in ``scope``."""
        if not scope.events:
            self.touched[scope.order] = scope
        scope.events.append(event)

    def add_occurrence(self, node: Node, name: str, parent: Node | None = None) -> None:
        """Classify one identifier occurrence of ``name`` and record its event.

        ``parent``: the node's parent, when the caller has it."""
        if parent is None:
            parent = node.parent
            if parent is None:
                return
        kind = parent.type
        if kind == "attribute":
            attribute = parent.child_by_field_name("attribute")
            if attribute is not None and attribute.id == node.id:
                return
            # The object of an attribute: a load (what follows would find the same).
            self.add(self.scope_of(node), Event(node.start_byte, LOAD))
            return
        elif kind == "keyword_argument":
            if _is_field(parent, "name", node):
                return
        elif kind in ("import_statement", "import_from_statement", "aliased_import", "dotted_name"):
            if _inside_import(parent):
                return
            if kind == "dotted_name":
                self._add_pattern_name(node, parent)
                return
        elif kind in ("global_statement", "nonlocal_statement"):
            scope = self.scope_of(node)
            self.add(scope, Event(node.start_byte, GLOBAL if kind[0] == "g" else NONLOCAL))
            return
        elif kind in ("function_definition", "class_definition"):
            if _is_field(parent, "name", node):
                scope = self.scope_of(parent)
                if kind == "function_definition":
                    body = parent.child_by_field_name("body")
                    time = body.start_byte if body is not None else parent.end_byte
                else:
                    time = parent.end_byte
                self.add(scope, Event(time, STORE))
                return
        elif kind in ("parameters", "lambda_parameters") or kind in _PARAMETER_NAMES:
            function = _parameter_owner(node)
            if function is not None:
                self.add(self._scope_for(function), Event(-1, STORE))
                return
        elif kind in _DEFAULT_PARAMETERS:
            if _is_field(parent, "name", node):
                function = _parameter_owner(node)
                if function is not None:
                    self.add(self._scope_for(function), Event(-1, STORE))
                    return
        elif kind == "named_expression":
            if _is_field(parent, "name", node):
                scope = self.scope_of(parent)
                while scope.is_comprehension and scope.parent is not None:
                    scope = scope.parent
                self.add(scope, Event(parent.end_byte, STORE))
                return
        elif kind == "augmented_assignment":
            if _is_field(parent, "left", node):
                scope = self.scope_of(node)
                self.add(scope, Event(node.start_byte, LOAD))
                self.add(scope, Event(parent.end_byte, STORE))
                return
        elif kind in ("as_pattern_target", "as_pattern") and self._add_alias(node, parent):
            return
        elif kind == "type" and parent.parent is not None:
            if parent.parent.type == "type_alias_statement" and _is_field(
                parent.parent, "left", parent
            ):
                self.add(self.scope_of(parent), Event(parent.parent.end_byte, STORE))
                return
        elif kind == "generic_type":
            grand = parent.parent
            if (
                grand is not None
                and grand.parent is not None
                and grand.parent.type == "type_alias_statement"
                and parent.named_child(0) is not None
                and parent.named_child(0).id == node.id
            ):
                self.add(self.scope_of(grand), Event(grand.parent.end_byte, STORE))
                return
        store_time = self._store_time(node)
        scope = self.scope_of(node)
        if store_time is None:
            if self._in_delete(node):
                self.add(scope, Event(node.start_byte, DELETE))
            elif self.future_annotations and _in_annotation(parent):
                # Visited once the module is complete, as a forward reference.
                self.add(scope, Event(INFINITY, LOAD, offset=node.start_byte, forward=True))
            else:
                self.add(scope, Event(node.start_byte, LOAD))
        elif store_time >= 0:
            self.add(scope, Event(store_time, STORE))

    def _add_pattern_name(self, node: Node, dotted: Node) -> None:
        """A name inside a ``match`` pattern: a capture when it stands alone."""
        scope = self.scope_of(node)
        if dotted.named_child_count == 1:
            if dotted.parent is not None and dotted.parent.type in ("class_pattern",):
                self.add(scope, Event(node.start_byte, LOAD))
            else:
                self.add(scope, Event(node.start_byte, STORE))
        elif dotted.named_child(0) is not None and dotted.named_child(0).id == node.id:
            self.add(scope, Event(node.start_byte, LOAD))

    def _add_alias(self, node: Node, parent: Node) -> bool:
        """``with x as name``, ``except E as name``, ``case p as name``."""
        target = parent if parent.type == "as_pattern_target" else None
        pattern = parent.parent if target is not None else parent
        if pattern is None or pattern.type != "as_pattern":
            return False
        alias = pattern.child_by_field_name("alias")
        if (
            target is None
            and (alias is None or alias.id != node.id)
            and pattern.named_child_count
            and pattern.named_children[-1].id != node.id
        ):
            return False
        holder = pattern.parent
        scope = self.scope_of(node)
        if holder is not None and holder.type == "except_clause":
            self.add(scope, Event(pattern.end_byte, STORE))
            self.add(scope, Event(holder.end_byte, UNBIND))
        else:
            self.add(scope, Event(pattern.end_byte, STORE))
        return True

    def _store_time(self, node: Node) -> int | None:
        """When ``node`` is an assignment or loop target: the time of the store (-2: not a
        binding, as in an annotation without value); else None."""
        child = node
        parent = node.parent
        while parent is not None and parent.type in _PATTERN_CONTAINERS:
            child = parent
            parent = parent.parent
        if parent is None:
            return None
        kind = parent.type
        if kind == "assignment":
            if not _is_field(parent, "left", child):
                return None
            if parent.child_by_field_name("right") is None:
                return -2
            top = parent
            while top.parent is not None and top.parent.type == "assignment":
                top = top.parent
            return top.end_byte
        if kind in ("for_statement", "for_in_clause"):
            if not _is_field(parent, "left", child):
                return None
            if kind == "for_in_clause":
                # A comprehension binds its targets before it evaluates its element.
                return 0
            right = parent.child_by_field_name("right")
            return right.end_byte if right is not None else parent.end_byte
        return None

    @staticmethod
    def _in_delete(node: Node) -> bool:
        parent = node.parent
        while parent is not None and parent.type in ("expression_list", "tuple", "list"):
            parent = parent.parent
        return parent is not None and parent.type == "delete_statement"

    def add_deferred_load(self, node: Node) -> None:
        """A use resolved once its scope is complete (a string type expression)."""
        self.add(self.scope_of(node), Event(INFINITY, LOAD, offset=node.start_byte, forward=True))

    # -- resolution -------------------------------------------------------------------------

    def resolve(self, scope: _Scope, time: int) -> tuple[_Scope, int] | None:
        """The scope whose binding a load at ``time`` in ``scope`` reaches, and when."""
        first = True
        current: _Scope | None = scope
        while current is not None:
            if first or not current.is_class:
                state = _state_at(current, time)
                if state is not None:
                    if state.kind in (STORE, IMPORT):
                        return current, time
                    if state.kind in (DELETE, UNBIND):
                        return None
                    if state.kind == GLOBAL:
                        return self.resolve_global()
                    if state.kind == NONLOCAL:
                        return self.resolve_nonlocal(current)
            first = False
            if current.deferred:
                time = INFINITY
            elif time != INFINITY:
                time = current.position
            current = current.parent
        return None

    def resolve_global(self) -> tuple[_Scope, int] | None:
        state = _state_at(self.module, INFINITY)
        if state is not None and state.kind in (STORE, IMPORT):
            return self.module, INFINITY
        return None

    def resolve_nonlocal(self, scope: _Scope) -> tuple[_Scope, int] | None:
        current = scope.parent
        while current is not None and current.node.type != "module":
            if current.node.type == "function_definition":
                return self.resolve(current, INFINITY)
            current = current.parent
        return None


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


# ``is_standard_library_generic_member`` in ruff (crates/ruff_python_stdlib/src/typing.rs): a
# subscript of one of these, anywhere, makes its slice a type expression.
_GENERICS = frozenset(
    {
        "dict", "frozenset", "list", "set", "tuple", "type", "defaultdict", "deque",
        "AbstractAsyncContextManager", "AbstractContextManager", "AbstractSet",
        "AsyncContextManager", "AsyncGenerator", "AsyncIterable", "AsyncIterator", "Awaitable",
        "BinaryIO", "ByteString", "Callable", "ChainMap", "ClassVar", "Collection",
        "Concatenate", "Container", "ContextManager", "Coroutine", "Counter", "DefaultDict",
        "Deque", "Dict", "Final", "FrozenSet", "Generator", "Generic", "IO", "ItemsView",
        "Iterable", "Iterator", "KeysView", "List", "Mapping", "MappingView", "Match",
        "MutableMapping", "MutableSequence", "MutableSet", "Optional", "OrderedDict", "Pattern",
        "Reversible", "Sequence", "Set", "TextIO", "Tuple", "Type", "TypeGuard", "Union",
        "Unpack", "ValuesView", "WeakKeyDictionary", "WeakSet", "WeakValueDictionary",
    }
)  # fmt: skip
# Calls whose arguments may be type expressions (ruff's ``typing::Callable``), by the
# callee's last name; an attribute callee must be on one of ``_CALLEE_MODULES``.
_TYPING_CALLS = frozenset(
    {"cast", "NewType", "TypeVar", "TypeAliasType", "NamedTuple", "TypedDict"}
)
_MYPY_ARGS = frozenset({"Arg", "DefaultArg", "NamedArg", "DefaultNamedArg", "VarArg", "KwArg"})
_CALLEE_MODULES = frozenset({b"typing", b"typing_extensions", b"_typeshed", b"mypy_extensions"})
_TYPING_ALIAS = re.compile(rb"import\s+(?:typing|typing_extensions)\s+as\s+(\w+)")


class _TypingAliases:
    """The names of ``import typing as t`` (or typing_extensions) in a file, found when
    first asked for: most files never ask."""

    __slots__ = ("names", "source")

    def __init__(self, source: bytes) -> None:
        self.source = source
        self.names: frozenset[bytes] | None = None

    def __contains__(self, module: object) -> bool:
        if self.names is None:
            self.names = frozenset(_TYPING_ALIAS.findall(self.source))
        return module in self.names


_NESTING = 20  # strings in strings parsed at most this deep


def _type_argument(
    callee: str, position: int | None, keyword: str | None, positionals: int
) -> bool:
    """Whether the argument (``position``-th positional, or ``keyword=``) of a call of
    ``callee`` is a type expression, as in ruff (NamedTuple's and TypedDict's positional
    arguments are left to the caller)."""
    if callee == "cast":
        return position == 0 or keyword == "typ"
    if callee == "NewType":
        return position == 1 or keyword == "tp"
    if callee == "TypeVar":
        return (position is not None and position >= 1) or keyword in ("bound", "default")
    if callee == "TypeAliasType":
        return position == 1 or keyword in ("value", "type_params")
    if callee in ("NamedTuple", "TypedDict"):
        return keyword is not None
    if callee in _MYPY_ARGS:
        return position == 0 or (keyword == "type" and positionals == 0)
    return False


def _callee(function: Node | None, aliases: _TypingAliases) -> str | None:
    """The typing callable that ``function`` names: its last name, for a bare name or an
    attribute of a typing module (or of a module alias ``import typing as t``)."""
    if function is None:
        return None
    if function.type == "identifier":
        name = (function.text or b"").decode()
    elif function.type == "attribute":
        obj = function.child_by_field_name("object")
        attribute = function.child_by_field_name("attribute")
        if obj is None or attribute is None or obj.type != "identifier":
            return None
        module = obj.text or b""
        if module not in _CALLEE_MODULES and module not in aliases:
            return None
        name = (attribute.text or b"").decode()
    else:
        return None
    return name if name in _TYPING_CALLS or name in _MYPY_ARGS else None


def _call_decides(call: Node, path: list[Node], aliases: _TypingAliases) -> bool:
    """Whether the string at ``path[0]``, inside an argument of ``call`` (``path[-1]`` is the
    argument list), is a type expression."""
    callee = _callee(call.child_by_field_name("function"), aliases)
    if callee is None or len(path) < 2:
        return False  # any other call: its arguments are values
    argument = path[-2]
    keyword = None
    value = argument
    if argument.type == "keyword_argument":
        name = argument.child_by_field_name("name")
        keyword = (name.text or b"").decode() if name is not None else None
        value = argument.child_by_field_name("value") or argument
    elif argument.type in ("list_splat", "dictionary_splat"):
        return False
    position = None
    positionals = 0
    for child in path[-1].named_children:
        if child.type in ("keyword_argument", "list_splat", "dictionary_splat", "comment"):
            continue
        if child.id == argument.id:
            position = positionals
        positionals += 1
    if keyword is None and callee == "NamedTuple":
        # ``NamedTuple("N", [("a", TYPE), ...])``: the second item of each pair.
        if position == 1 and value.type in ("list", "tuple") and len(path) >= 4:
            items = path[-3].named_children if path[-3].type == "tuple" else []
            return len(items) == 2 and items[1].id == path[-4].id
        return False
    if keyword is None and callee == "TypedDict":
        # ``TypedDict("T", {"k": TYPE})``: the values of a dictionary.
        if len(path) >= 4 and value.type == "dictionary" and path[-3].type == "pair":
            return _is_field(path[-3], "value", path[-4])
        return False
    return _type_argument(callee, position, keyword, positionals)


def _type_string(string: Node, aliases: _TypingAliases) -> bool:
    """True when the string literal ``string`` is a type expression, where ruff parses a
    string for the names it uses: in an annotation (and a ``type`` statement or a type
    parameter), as the value of ``X: TypeAlias = ...``, in the slice of a standard-library
    generic (``list["X"]``, ``Optional["X"]``, anywhere), and in the type arguments of
    ``cast``, ``NewType``, ``TypeVar``, ``TypeAliasType``, ``NamedTuple``, ``TypedDict``
    and mypy_extensions' ``Arg`` family. Never inside ``Literal[...]``, in the metadata of
    ``Annotated[T, ...]`` or in the arguments of other calls.

    Simplifications: a subscript's head and a bare callee are known by their last name
    alone (ruff resolves them to typing, which ``from typing import cast as c`` defeats
    here); class bases of stubs are not type expressions here.
    """
    found = False
    path: list[Node] = []
    child = string
    parent = string.parent
    while parent is not None:
        path.append(child)
        kind = parent.type
        if kind == "type":
            found = True
        elif kind in ("generic_type", "subscript"):
            if kind == "generic_type":
                head = parent.named_children[0] if parent.named_child_count else None
                arguments = child.named_children if child.type == "type_parameter" else []
                argument = path[-2] if len(path) >= 2 else None
            else:
                head = parent.child_by_field_name("value")
                arguments = parent.children_by_field_name("subscript")
                argument = child
            if head is not None and head.id != child.id:
                base = (head.text or b"").rsplit(b".", 1)[-1].decode()
                if base == "Literal":
                    return False
                if base == "Annotated":
                    return (
                        bool(arguments) and argument is not None and arguments[0].id == argument.id
                    )
                if base in _GENERICS:
                    return True
        elif kind == "argument_list":
            call = parent.parent
            if call is not None and call.type == "call":
                path.append(parent)
                return _call_decides(call, path, aliases)
        elif kind == "assignment":
            if _is_field(parent, "right", child):
                annotation = parent.child_by_field_name("type")
                return (
                    annotation is not None
                    and (annotation.text or b"").rsplit(b".", 1)[-1] == b"TypeAlias"
                )
            return found
        elif kind in ("expression_statement", "block", "module") or kind in _SCOPES:
            return found
        child = parent
        parent = parent.parent
    return found


def _string_value(string: Node) -> tuple[str, bool] | None:
    """The value of a str literal (implicit concatenation joined) and whether it is one
    triple-quoted part; None for bytes, f-strings and t-strings."""
    parts = string.named_children if string.type == "concatenated_string" else [string]
    values = []
    for part in parts:
        if part.type != "string":
            return None
        start = part.children[0] if part.child_count else None
        opening = (start.text or b"") if start is not None else b""
        if any(c in opening for c in b"bBfFtT"):
            return None
        try:
            value = ast.literal_eval((part.text or b"").decode())
        except (SyntaxError, ValueError, UnicodeDecodeError, MemoryError, RecursionError):
            return None
        if not isinstance(value, str):
            return None
        values.append(value)
    triple = len(parts) == 1 and (parts[0].text or b"").endswith((b'"""', b"'''"))
    return "".join(values), triple


def _expression_names(value: str, triple: bool, aliases: _TypingAliases, depth: int) -> set[str]:
    """The names a string type expression loads: each identifier that starts a dotted chain,
    and those of the strings nested in its type positions. Nothing when ruff's parse fails
    (F722), as with leading whitespace outside a triple-quoted string."""
    if depth > _NESTING or (not triple and value[:1].isspace()):
        return set()
    try:
        tree = ast.parse(f"({value}\n)" if triple else value, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return set()
    names: set[str] = set()
    try:
        _visit_type(tree.body, True, names, aliases, depth)
    except RecursionError:
        return set()
    return names


def _visit_type(
    node: ast.AST, typedef: bool, names: set[str], aliases: _TypingAliases, depth: int
) -> None:
    """Collect the names of ``node``, parsing its strings where ``typedef`` holds."""
    if isinstance(node, ast.Name):
        names.add(node.id)
        return
    if isinstance(node, ast.Constant):
        if typedef and isinstance(node.value, str):
            names |= _expression_names(node.value, False, aliases, depth + 1)
        return
    if isinstance(node, ast.Subscript):
        _visit_type(node.value, typedef, names, aliases, depth)
        head = node.value
        base = head.id if isinstance(head, ast.Name) else getattr(head, "attr", None)
        if base == "Literal":
            _visit_type(node.slice, False, names, aliases, depth)
        elif base == "Annotated" and isinstance(node.slice, ast.Tuple) and node.slice.elts:
            for i, element in enumerate(node.slice.elts):
                _visit_type(element, i == 0, names, aliases, depth)
        else:
            _visit_type(node.slice, typedef or base in _GENERICS, names, aliases, depth)
        return
    if isinstance(node, ast.Call):
        _visit_type(node.func, typedef, names, aliases, depth)
        function = node.func
        if isinstance(function, ast.Name):
            callee: str | None = function.id
        elif isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name):
            module = function.value.id.encode()
            ok = module in _CALLEE_MODULES or module in aliases
            callee = function.attr if ok else None
        else:
            callee = None
        positionals = len(node.args)
        for i, argument in enumerate(node.args):
            typed = callee is not None and _type_argument(callee, i, None, positionals)
            _visit_type(argument, typed, names, aliases, depth)
        for keyword in node.keywords:
            typed = callee is not None and _type_argument(callee, None, keyword.arg, positionals)
            _visit_type(keyword.value, typed, names, aliases, depth)
        return
    for child in ast.iter_child_nodes(node):
        _visit_type(child, typedef, names, aliases, depth)


def dunder_all(root: Node, source: bytes) -> frozenset[str] | None:
    """The names in the module's ``__all__``, or None when it has none."""
    exports = find_exports(root, source) if b"__all__" in source else None
    return frozenset(exports.names) if exports is not None else None


def import_bindings_by_name(root: Node, source: bytes) -> dict[str, list[ImportBinding]]:
    """Every name bound by an import statement, with its bindings in source order."""
    by_name: dict[str, list[ImportBinding]] = {}
    if b"import" not in source:
        return by_name
    with _collector_paused():
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


def unused_bindings_of(
    root: Node,
    source: bytes,
    by_name: dict[str, list[ImportBinding]],
    names: set[str] | None = None,
    exported: frozenset[str] | None = None,
    exports_known: bool = False,
    witnesses: dict[str, list[list[int]]] | None = None,
    defer_annotations: bool = False,
) -> dict[str, list[ImportBinding]]:
    """For each analysed name (all, or ``names``), its unused import bindings.

    ``exported`` is the module's ``__all__`` (None: none) when the caller knows it
    (``exports_known``); otherwise it is read here. ``witnesses`` receives, per name and
    per used import, the offsets of a few of its uses (-2 for a use by ``__all__``), or
    ``[FRAGILE]`` for an import that is not flagged for another reason than a use, or ``[]``
    for one that no offset of the name proves used (a submodule import used through an alias
    of its package, ``_submodule_used_through_alias``; a name also spelled otherwise, NFKC):
    a proof that no edit keeps standing, so the name is analysed again after every change.
    ``defer_annotations``: resolve every annotation once the module is complete, as ruff does
    for a target of Python 3.14 or later (``from __future__ import annotations`` does it
    anyway).
    """
    with _collector_paused():
        return _unused_by_name(
            root, source, by_name, names, exported, exports_known, witnesses, defer_annotations
        )


def _unused_by_name(
    root: Node,
    source: bytes,
    by_name: dict[str, list[ImportBinding]],
    names: set[str] | None,
    exported: frozenset[str] | None,
    exports_known: bool,
    witnesses: dict[str, list[list[int]]] | None,
    defer_annotations: bool = False,
) -> dict[str, list[ImportBinding]]:
    resolver = _Resolver(root, source, defer_annotations)
    if not exports_known:
        exported = dunder_all(root, source)
    result: dict[str, list[ImportBinding]] = {}
    wanted = [name for name in by_name if names is None or name in names]
    # Other spellings of the names (NFKC), in a source that is not all ASCII.
    variants = nfkc_occurrences(source, set(wanted))
    if len(wanted) * max(1, len(source)) <= _PER_WORD_BUDGET:
        # A search per name (``word_index``), cheap while there are few names.
        occurrences = word_index(source, (name.encode() for name in wanted))
        for name in wanted:
            found = occurrences[name.encode()]
            if name in variants:
                found = sorted(found + variants[name])
            result[name] = _unused_of_name(resolver, name, by_name, exported, witnesses, found)
        return result
    # Thousands of names: most are imported once and mentioned nowhere else (a generated
    # module, a long list of re-exports). Counting every word of the source (in C) shows
    # them without a look at where the words are; only the others need positions.
    counts = Counter(_WORD.findall(source, text_start(source)))
    # In ASCII text, an imported name is a whole word where the import names it: a name
    # counted once is counted there. Other bytes may join it to a longer word.
    ascii_only = source.isascii()
    clean = not root.has_error
    unmentioned: set[str] = set()
    rest: list[bytes] = []
    for name in wanted:
        bindings = by_name[name]
        word = name.encode()
        if len(bindings) == 1 and clean and name not in variants:
            binding = bindings[0]
            count = counts.get(word, 0)
            container = binding.container
            if (
                count <= 1
                and not binding.reexport
                and not (exported and name in exported)
                and container is not None
                and container.type == "module"
                and (count == 0 or ascii_only or _word_in(source, word, binding.node))
            ):
                # ``_never_mentioned``: a module-level import, its word nowhere else.
                unmentioned.add(name)
                continue
        if _WORD.fullmatch(word) or name in variants:
            rest.append(word)
    # ``word_index`` of the others as its pass over every word would find them: a name
    # that is no word (``a.b``) has no occurrence.
    occurrences = word_index(source, rest) if rest else {}
    # Names analysed in order, as scopes are made in the order they are first met.
    for name in wanted:
        if name in unmentioned:
            if witnesses is not None:
                witnesses.setdefault(name, [])
            result[name] = by_name[name][:]
        else:
            found = occurrences.get(name.encode(), [])
            if name in variants:
                found = sorted(found + variants[name])
            result[name] = _unused_of_name(resolver, name, by_name, exported, witnesses, found)
    return result


def _unused_of_name(
    resolver: _Resolver,
    name: str,
    by_name: dict[str, list[ImportBinding]],
    exported: frozenset[str] | None,
    witnesses: dict[str, list[list[int]]] | None,
    found: list[tuple[int, int]],
) -> list[ImportBinding]:
    """The unused bindings of ``name``, whose occurrences are ``found``."""
    bindings = by_name[name]
    if all(b.reexport for b in bindings):
        return []
    seen: list[list[int]] | None = None
    if witnesses is not None:
        seen = witnesses.setdefault(name, [])
        if any(name.encode() not in resolver.source[s:e] for s, e in found):
            seen.append([])  # another spelling (NFKC) is among the occurrences
    if _never_mentioned(resolver, name, bindings, exported, found):
        # The common case of a long import list: one import, its name nowhere else.
        return [b for b in bindings if not b.reexport]
    unused = _unused_bindings(resolver, name, bindings, exported, seen, found)
    kept = [b for b in unused if not _submodule_used_through_alias(resolver, b, by_name, exported)]
    if seen is not None and len(kept) < len(unused):
        seen.append([])  # used through another name's uses: no offset proves it
    return kept


def _word_in(source: bytes, word: bytes, node: Node) -> bool:
    """``word`` occurs as a whole word in the text of ``node``."""
    end = node.end_byte
    first = text_start(source)
    i = source.find(word, max(node.start_byte, first), end)
    while i >= 0:
        j = i + len(word)
        if (i == first or source[i - 1] not in IDENTIFIER_BYTES) and (
            j >= len(source) or source[j] not in IDENTIFIER_BYTES
        ):
            return True
        i = source.find(word, j, end)
    return False


def _statement_scope(resolver: _Resolver, binding: ImportBinding) -> _Scope:
    """The scope of ``binding``'s statement."""
    container = binding.container
    if container is not None and container.type == "module":
        return resolver.module  # so ``scope_of`` finds too
    return resolver.scope_of(binding.statement)


def unused_import_findings(unused: list[ImportBinding], source: bytes, path: str) -> list[Finding]:
    """F401 findings for the unused bindings, with fixes grouped by statement."""
    if not unused:
        return []
    with _collector_paused():
        return _findings(unused, source, os.path.basename(path) == "__init__.py")


def find_unused_imports(tree: Syntax, source: bytes, path: str = "") -> list[Finding]:
    """F401 findings, each with a fix that removes the unused names."""
    root = tree.root_node
    by_name = import_bindings_by_name(root, source)
    if not by_name:
        return []
    unused = unused_bindings_of(root, source, by_name)
    return unused_import_findings([b for bs in unused.values() for b in bs], source, path)


def _never_mentioned(
    resolver: _Resolver,
    name: str,
    bindings: list[ImportBinding],
    exported: frozenset[str] | None,
    occurrences: list[tuple[int, int]],
) -> bool:
    """One import of ``name`` (outside a class body, where imports are never flagged), and
    no occurrence of the word anywhere but in that statement or ``__all__``: unused without
    a look at scopes (``_unused_bindings`` would find the same, a thousand times slower)."""
    if len(bindings) != 1 or resolver.root.has_error or (exported and name in exported):
        return False
    statement = bindings[0].statement
    start, end = statement.start_byte, statement.end_byte
    if any(not start <= s < end for s, _ in occurrences):
        return False
    return not resolver.scope_of(statement).is_class


def _inside(spans: list[tuple[int, int]], starts: list[int], offset: int) -> bool:
    """``offset`` falls in one of ``spans`` (sorted, not nested: statements), found by
    bisection (a name imported by thousands of statements made this quadratic)."""
    i = bisect_right(starts, offset) - 1
    return i >= 0 and spans[i][0] <= offset < spans[i][1]


def _unused_bindings(
    resolver: _Resolver,
    name: str,
    bindings: list[ImportBinding],
    exported: frozenset[str] | None,
    witnesses: list[list[int]] | None = None,
    occurrences: list[tuple[int, int]] | None = None,
) -> list[ImportBinding]:
    for scope in resolver.touched.values():
        scope.events.clear()
    resolver.touched.clear()
    source = resolver.source
    statement_ids = {b.statement.id for b in bindings}
    for binding in bindings:
        scope = _statement_scope(resolver, binding)
        resolver.add(scope, Event(binding.statement.end_byte, IMPORT, binding))
    # An occurrence right after or before a dot (``os.path``, ``x.os``, ``from .os import``)
    # is never a binding in a file that parses: it is an attribute, part of a dotted name,
    # or a load. Such occurrences (more than half of all) can only prove a use: they are
    # classified last, and only until every import they could prove used is (see below).
    # The incremental checker wants witnesses of every use, in the usual order: no deferring.
    defer = witnesses is None and not resolver.root.has_error
    deferred: list[tuple[int, int]] = []
    # The name's own import statements, where an occurrence is never an event: skipped
    # without a look at the tree (about a fifth of all occurrences).
    own = (
        sorted({(b.statement.start_byte, b.statement.end_byte) for b in bindings}) if defer else []
    )
    own_starts = [s for s, _ in own]
    if occurrences is None:
        occurrences = word_occurrences(source, name.encode())
        variants = nfkc_occurrences(source, {name}).get(name)
        if variants:
            occurrences = sorted(occurrences + variants)
    for start, end in occurrences:
        if defer and (source[end : end + 1] == b"." or source[start - 1 : start] == b"."):
            deferred.append((start, end))
        elif not _inside(own, own_starts, start):
            _classify_occurrence(resolver, name, start, end, statement_ids, collect=False)
    if exported is not None and name in exported:
        resolver.add(resolver.module, Event(INFINITY, LOAD, offset=-2))

    # The scopes with events, in the order they were made.
    scopes = {scope.node.id: scope for _, scope in sorted(resolver.touched.items())}
    used: set[int] = set()  # ids of scopes whose last binding of the name is used
    # Each load resolves to a scope at a time; the scope's last binding is used when the
    # load comes after the start of its chain of shadowing bindings.
    segment_start: dict[int, int] = {}
    last_import: dict[int, Event] = {}
    exempt = 0  # scopes with an import of the name that is neither checked nor flagged
    for scope_id, scope in scopes.items():
        events = sorted((e for e in scope.events if e.kind != LOAD), key=lambda e: e.time)
        if not any(e.kind == IMPORT for e in events):
            continue
        if events[-1].kind != IMPORT:
            exempt += 1
            continue
        if any(e.kind in (GLOBAL, NONLOCAL) for e in events) or scope.is_class:
            exempt += 1
            continue
        start = events[-1].time
        for event in reversed(events):
            if event.kind in (DELETE, UNBIND):
                break
            start = event.time
        segment_start[scope_id] = start
        last_import[scope_id] = events[-1]
    if witnesses is not None and exempt:
        witnesses.append([FRAGILE])
    if not last_import:
        return []
    proofs: dict[int, list[int]] = {}

    def mark(scope: _Scope, event: Event) -> None:
        """Mark the binding that ``event`` (a load or a ``del``) in ``scope`` uses."""
        if event.kind == DELETE:
            state = _state_at(scope, event.time)
            target: tuple[_Scope, int] | None = (
                (scope, event.time) if state and state.kind in (STORE, IMPORT) else None
            )
        elif event.forward and scope is not resolver.module:
            target = resolver.resolve_global() or resolver.resolve(scope, event.time)
        else:
            target = resolver.resolve(scope, event.time)
        if target is None:
            return
        target_scope, time = target
        key = target_scope.node.id
        if key in segment_start and time > segment_start[key]:
            used.add(key)
            if witnesses is not None:
                proofs.setdefault(key, []).append(
                    event.offset if event.offset != -1 else event.time
                )

    for scope in list(scopes.values()):
        for event in scope.events:
            if event.kind in (LOAD, DELETE):
                mark(scope, event)
    # The deferred occurrences add loads only, which change no binding: resolving them one
    # at a time, in source order, and stopping once every checked import is used gives the
    # same answer as resolving them all.
    for start, end in deferred:
        if used.issuperset(last_import):
            break
        for scope, event in _classify_occurrence(
            resolver, name, start, end, statement_ids, collect=True
        ):
            mark(scope, event)
    result = []
    for scope_id, event in last_import.items():
        if scope_id in used or event.binding is None:
            continue
        if event.binding.reexport:
            if witnesses is not None:
                witnesses.append([FRAGILE])
        else:
            result.append(event.binding)
    if witnesses is not None:
        for offsets in proofs.values():
            # A few uses spread over the file: one edit rarely touches them all.
            offsets.sort()
            n = len(offsets)
            witnesses.append(sorted({offsets[i] for i in (0, n // 3, (2 * n) // 3, n - 1)}))
    return result


def _classify_occurrence(
    resolver: _Resolver,
    name: str,
    start: int,
    end: int,
    statement_ids: set[int],
    collect: bool,
) -> list[tuple[_Scope, Event]]:
    """Record the event (if any) of the occurrence of ``name`` at bytes ``[start, end)``.

    With ``collect``, for an occurrence that can only be a load, return the loads it added
    to its scope, for the caller to resolve as it goes; otherwise return nothing.
    """
    root = resolver.root
    node = root.descendant_for_byte_range(start, end)
    if node is None:
        return []
    kind = node.type
    if kind == "identifier":
        if node.start_byte != start or node.end_byte != end:
            return []
        parent = node.parent
        if parent is None:
            return []
        # An import statement holds no attribute: the object of one is in none.
        statement = None if parent.type == "attribute" else _import_statement_above(parent)
        if statement is not None and (statement.id in statement_ids or _inside_import(parent)):
            return []
        if not collect:
            resolver.add_occurrence(node, name, parent)
            return []
        scope = resolver.scope_of(node)
        before = len(scope.events)
        resolver.add_occurrence(node, name, parent)
        return [(scope, e) for e in scope.events[before:] if e.kind == LOAD]
    if kind in ("string_content", "string"):
        string = node if kind == "string" else node.parent
        if string is None or string.type != "string":
            return []
        if resolver.source[string.start_byte : start].rstrip().endswith(b"."):
            return []  # an attribute's name (``"os.path"``): a cheap early answer
        if string.parent is not None and string.parent.type == "concatenated_string":
            string = string.parent
        if name in resolver.type_string_names(string):
            if not collect:
                resolver.add_deferred_load(string)
                return []
            scope = resolver.scope_of(string)
            before = len(scope.events)
            resolver.add_deferred_load(string)
            return [(scope, e) for e in scope.events[before:]]
    return []


def _submodule_used_through_alias(
    resolver: _Resolver,
    binding: ImportBinding,
    by_name: dict[str, list[ImportBinding]],
    exported: frozenset[str] | None,
) -> bool:
    """``import a as m`` + ``import a.b``: a use of ``m`` uses ``a.b`` too (ruff's
    ``resolve_submodule``: any load of the alias, when the alias imports the top-level module
    of the submodule import, in the same scope; the alias is judged used as a whole here)."""
    if binding.statement.type != "import_statement" or binding.element.type != "dotted_name":
        return False
    top = binding.name
    if "." not in binding.qualified:
        return False
    scope: _Scope | None = None
    for others in by_name.values():
        for other in others:
            if (
                other.qualified != top
                or other.name == top
                or other.element.type != "aliased_import"
                or other.statement.type != "import_statement"
            ):
                continue
            if scope is None:
                scope = _statement_scope(resolver, binding)
            if _statement_scope(resolver, other) is not scope:
                continue
            alias = by_name.get(other.name, [])
            unused = _unused_bindings(resolver, other.name, alias, exported)
            if all(b is not other for b in unused):
                return True
    return False


def _import_statement_above(parent: Node | None) -> Node | None:
    """The import statement among ``parent`` and its next three ancestors, if any."""
    depth = 0
    while parent is not None and depth < 4:
        if parent.type in ("import_statement", "import_from_statement", "future_import_statement"):
            return parent
        parent = parent.parent
        depth += 1
    return None


# -- findings and fixes -------------------------------------------------------------------------


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
