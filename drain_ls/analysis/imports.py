"""Unused imports (F401), with ruff's semantics, found on a tree-sitter tree.

What is flagged: the last binding of a name in a module or function scope (never a class body)
when that binding is an import that nothing uses. As in ruff, a binding inherits the uses of
the binding of the same name it shadows in the same scope, unless a ``del`` came between.
``import a as a`` and ``from x import a as a`` are explicit re-exports and ``from __future__``
imports are directives: neither is ever flagged, and neither are star imports.

A use is a load that resolves to the binding. Module and class bodies are visited in order;
function and lambda bodies, string annotations and ``__all__`` are resolved after the scope
that holds them is complete, so they see its last binding (ruff's deferred visiting).
``del name`` uses the binding; ``global``/``nonlocal`` make a function's loads resolve to the
outer scope and exempt that function's own imports of the name.

The analysis is driven by occurrences: for every imported name, a regular expression finds
its occurrences in the source and tree-sitter classifies only those nodes. That keeps the cost
proportional to the imports and their uses instead of to the size of the tree. Occurrences
next to a dot, which can only be uses, are classified last and only until every import of
the name is proven used.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_right
from dataclasses import dataclass, field

from tree_sitter import Node

from drain_ls.analysis.exports import find_exports
from drain_ls.analysis.model import Edit, Finding, Fix
from drain_ls.analysis.source import LineIndex, Syntax, word_index, word_occurrences

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


@dataclass(slots=True)
class ImportBinding:
    """One name bound by an import statement."""

    name: str
    qualified: str
    node: Node  # what a finding points at
    element: Node  # the statement's child that names it (dotted_name or aliased_import)
    statement: Node
    reexport: bool


@dataclass(slots=True)
class Event:
    """Something that happens to a name in a scope, at a time in that scope's visiting order."""

    time: int
    kind: int
    binding: ImportBinding | None = None
    offset: int = -1  # where a deferred load is (-2: in ``__all__``); else ``time`` is


@dataclass(slots=True)
class _Scope:
    node: Node
    parent: _Scope | None
    deferred: bool  # visited after its parent scope is complete
    position: int  # where it is visited inside its parent
    events: list[Event] = field(default_factory=list)  # of the name being analysed

    @property
    def is_class(self) -> bool:
        return self.node.type == "class_definition"

    @property
    def is_comprehension(self) -> bool:
        return self.node.type in _COMPREHENSIONS


def import_bindings(statement: Node) -> list[ImportBinding]:
    """The names an ``import`` or ``from ... import`` statement binds (none for ``*``)."""
    bindings: list[ImportBinding] = []
    module = ""
    if statement.type == "import_from_statement":
        module_node = statement.child_by_field_name("module_name")
        module = _text(module_node) if module_node is not None else ""
    for element in statement.children_by_field_name("name"):
        if element.type == "aliased_import":
            target = element.child_by_field_name("name")
            alias = element.child_by_field_name("alias")
            if target is None or alias is None:
                continue
            dotted = _text(target)
            name = _text(alias)
            qualified = _join(module, dotted)
            reexport = dotted == name
            bindings.append(ImportBinding(name, qualified, alias, element, statement, reexport))
        elif element.type == "dotted_name":
            dotted = _text(element)
            if statement.type == "import_statement":
                name = dotted.split(".", 1)[0]
                bindings.append(ImportBinding(name, dotted, element, element, statement, False))
            else:
                bindings.append(
                    ImportBinding(dotted, _join(module, dotted), element, element, statement, False)
                )
    return bindings


def _join(module: str, name: str) -> str:
    if not module:
        return name
    return module + name if module.endswith(".") else f"{module}.{name}"


def _text(node: Node) -> str:
    text = node.text
    return "".join(text.decode("utf-8", errors="replace").split()) if text else ""


def find_import_statements(root: Node, source: bytes) -> list[Node]:
    """Every ``import``/``from ... import`` statement (not ``__future__``), in source order."""
    statements: list[Node] = []
    seen: set[int] = set()
    for start, end in word_occurrences(source, b"import"):
        keyword = root.descendant_for_byte_range(start, end)
        if keyword is None or keyword.type != "import":
            continue
        statement = keyword.parent
        if statement is None or statement.type not in ("import_statement", "import_from_statement"):
            continue
        if statement.id not in seen:
            seen.add(statement.id)
            statements.append(statement)
    return statements


class _Resolver:
    """Scopes and per-name events of one file."""

    def __init__(self, root: Node, source: bytes) -> None:
        self.root = root
        self.source = source
        self.scopes: dict[int, _Scope] = {}
        # The scopes that have events for the name being analysed.
        self.touched: dict[int, _Scope] = {}
        self.module = self._scope_for(root)

    # -- scopes ---------------------------------------------------------------------------

    def _scope_for(self, node: Node) -> _Scope:
        scope = self.scopes.get(node.id)
        if scope is None:
            if node.type == "module" or node.parent is None:
                # The root (an ERROR node when the whole file fails to parse) is the module;
                # so is the root of each chunk of a chunked document (drain_ls.forest).
                if self.scopes:
                    return self.module
                scope = _Scope(node, None, False, 0)
            else:
                parent = self.scope_of(node)
                scope = _Scope(node, parent, node.type in _DEFERRED_SCOPES, node.start_byte)
            self.scopes[node.id] = scope
        return scope

    def scope_of(self, node: Node) -> _Scope:
        """The scope in which ``node`` is evaluated."""
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

    def add_occurrence(self, node: Node, name: str) -> None:
        """Classify one identifier occurrence of ``name`` and record its event."""
        parent = node.parent
        if parent is None:
            return
        kind = parent.type
        if kind == "attribute":
            attribute = parent.child_by_field_name("attribute")
            if attribute is not None and attribute.id == node.id:
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
            scope.events.append(Event(node.start_byte, GLOBAL if kind[0] == "g" else NONLOCAL))
            return
        elif kind in ("function_definition", "class_definition"):
            if _is_field(parent, "name", node):
                scope = self.scope_of(parent)
                if kind == "function_definition":
                    body = parent.child_by_field_name("body")
                    time = body.start_byte if body is not None else parent.end_byte
                else:
                    time = parent.end_byte
                scope.events.append(Event(time, STORE))
                return
        elif kind in ("parameters", "lambda_parameters") or kind in _PARAMETER_NAMES:
            function = _parameter_owner(node)
            if function is not None:
                self._scope_for(function).events.append(Event(-1, STORE))
                return
        elif kind in _DEFAULT_PARAMETERS:
            if _is_field(parent, "name", node):
                function = _parameter_owner(node)
                if function is not None:
                    self._scope_for(function).events.append(Event(-1, STORE))
                    return
        elif kind == "named_expression":
            if _is_field(parent, "name", node):
                scope = self.scope_of(parent)
                while scope.is_comprehension and scope.parent is not None:
                    scope = scope.parent
                scope.events.append(Event(parent.end_byte, STORE))
                return
        elif kind == "augmented_assignment":
            if _is_field(parent, "left", node):
                scope = self.scope_of(node)
                scope.events.append(Event(node.start_byte, LOAD))
                scope.events.append(Event(parent.end_byte, STORE))
                return
        elif kind in ("as_pattern_target", "as_pattern") and self._add_alias(node, parent):
            return
        elif kind == "type" and parent.parent is not None:
            if parent.parent.type == "type_alias_statement" and _is_field(
                parent.parent, "left", parent
            ):
                self.scope_of(parent).events.append(Event(parent.parent.end_byte, STORE))
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
                self.scope_of(grand).events.append(Event(grand.parent.end_byte, STORE))
                return
        store_time = self._store_time(node)
        scope = self.scope_of(node)
        if store_time is None:
            if self._in_delete(node):
                scope.events.append(Event(node.start_byte, DELETE))
            else:
                scope.events.append(Event(node.start_byte, LOAD))
        elif store_time >= 0:
            scope.events.append(Event(store_time, STORE))

    def _add_pattern_name(self, node: Node, dotted: Node) -> None:
        """A name inside a ``match`` pattern: a capture when it stands alone."""
        scope = self.scope_of(node)
        if dotted.named_child_count == 1:
            if dotted.parent is not None and dotted.parent.type in ("class_pattern",):
                scope.events.append(Event(node.start_byte, LOAD))
            else:
                scope.events.append(Event(node.start_byte, STORE))
        elif dotted.named_child(0) is not None and dotted.named_child(0).id == node.id:
            scope.events.append(Event(node.start_byte, LOAD))

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
            scope.events.append(Event(pattern.end_byte, STORE))
            scope.events.append(Event(holder.end_byte, UNBIND))
        else:
            scope.events.append(Event(pattern.end_byte, STORE))
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
        """A use resolved once its scope is complete (string annotations)."""
        self.scope_of(node).events.append(Event(INFINITY, LOAD, offset=node.start_byte))

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


def _in_import_error_try(statement: Node) -> bool:
    """True when ``statement`` is in a ``try`` body whose handlers catch ImportError."""
    child = statement
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


def _annotation_string(string: Node) -> bool:
    """True when the string literal ``string`` is (part of) a type annotation.

    Strings inside ``Literal[...]`` and the metadata of ``Annotated[T, ...]`` are values,
    not types.
    """
    found = False
    grandchild: Node | None = None
    child = string
    parent = string.parent
    while parent is not None:
        kind = parent.type
        if kind == "type":
            found = True
        elif kind in ("generic_type", "subscript"):
            if kind == "generic_type":
                head = parent.named_children[0] if parent.named_child_count else None
                arguments = child.named_children if child.type == "type_parameter" else []
                argument = grandchild
            else:
                head = parent.child_by_field_name("value")
                arguments = parent.children_by_field_name("subscript")
                argument = child
            base = (head.text or b"").rsplit(b".", 1)[-1] if head is not None else b""
            if head is not None and head.id != child.id:
                if base == b"Literal":
                    return False
                if (
                    base == b"Annotated"
                    and arguments
                    and argument is not None
                    and arguments[0].id != argument.id
                ):
                    return False
        elif kind in ("expression_statement", "block", "module") or kind in _SCOPES:
            return found
        grandchild = child
        child = parent
        parent = parent.parent
    return found


def dunder_all(root: Node, source: bytes) -> frozenset[str] | None:
    """The names in the module's ``__all__``, or None when it has none."""
    exports = find_exports(root, source) if b"__all__" in source else None
    return frozenset(exports.names) if exports is not None else None


def import_bindings_by_name(root: Node, source: bytes) -> dict[str, list[ImportBinding]]:
    """Every name bound by an import statement, with its bindings in source order."""
    by_name: dict[str, list[ImportBinding]] = {}
    if b"import" not in source:
        return by_name
    for statement in find_import_statements(root, source):
        for binding in import_bindings(statement):
            if binding.name:  # not a name tree-sitter put in as missing
                by_name.setdefault(binding.name, []).append(binding)
    return by_name


def unused_bindings_of(
    root: Node,
    source: bytes,
    by_name: dict[str, list[ImportBinding]],
    names: set[str] | None = None,
    exported: frozenset[str] | None = None,
    exports_known: bool = False,
    witnesses: dict[str, list[list[int]]] | None = None,
) -> dict[str, list[ImportBinding]]:
    """For each analysed name (all, or ``names``), its unused import bindings.

    ``exported`` is the module's ``__all__`` (None: none) when the caller knows it
    (``exports_known``); otherwise it is read here. ``witnesses`` receives, per name and
    per used import, the offsets of a few of its uses (-2 for a use by ``__all__``), or
    ``[FRAGILE]`` for an import that is not flagged for another reason than a use.
    """
    resolver = _Resolver(root, source)
    if not exports_known:
        exported = dunder_all(root, source)
    result: dict[str, list[ImportBinding]] = {}
    wanted = [name for name in by_name if names is None or name in names]
    # Every name's occurrences in one pass over the source.
    occurrences = word_index(source, (name.encode() for name in wanted))
    for name in wanted:
        bindings = by_name[name]
        if all(b.reexport for b in bindings):
            result[name] = []
            continue
        seen: list[list[int]] | None = None
        if witnesses is not None:
            seen = witnesses.setdefault(name, [])
        found = occurrences[name.encode()]
        if _never_mentioned(resolver, name, bindings, exported, found):
            # The common case of a long import list: one import, its name nowhere else.
            result[name] = [b for b in bindings if not b.reexport]
            continue
        unused = _unused_bindings(resolver, name, bindings, exported, seen, found)
        kept = [b for b in unused if not _submodule_used_through_alias(b, by_name, root, source)]
        if seen is not None and len(kept) < len(unused):
            seen.append([FRAGILE])
        result[name] = kept
    return result


def unused_import_findings(unused: list[ImportBinding], source: bytes, path: str) -> list[Finding]:
    """F401 findings for the unused bindings, with fixes grouped by statement."""
    if not unused:
        return []
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
    source = resolver.source
    statement_ids = {b.statement.id for b in bindings}
    for binding in bindings:
        scope = resolver.scope_of(binding.statement)
        scope.events.append(Event(binding.statement.end_byte, IMPORT, binding))
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
    for start, end in occurrences:
        if defer and (source[end : end + 1] == b"." or source[start - 1 : start] == b"."):
            deferred.append((start, end))
        elif not _inside(own, own_starts, start):
            _classify_occurrence(resolver, name, start, end, statement_ids, collect=False)
    if exported is not None and name in exported:
        resolver.module.events.append(Event(INFINITY, LOAD, offset=-2))

    scopes = resolver.touched = {
        scope.node.id: scope for scope in resolver.scopes.values() if scope.events
    }
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
            scopes.setdefault(scope.node.id, scope)  # cleared before the next name
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
    source = resolver.source
    node = root.descendant_for_byte_range(start, end)
    if node is None:
        return []
    kind = node.type
    if kind == "identifier":
        if node.start_byte != start or node.end_byte != end:
            return []
        statement = _import_statement_of(node)
        if statement is not None and (statement.id in statement_ids or _inside_import(node.parent)):
            return []
        if not collect:
            resolver.add_occurrence(node, name)
            return []
        scope = resolver.scope_of(node)
        before = len(scope.events)
        resolver.add_occurrence(node, name)
        return [(scope, e) for e in scope.events[before:] if e.kind == LOAD]
    if kind in ("string_content", "string"):
        string = node if kind == "string" else node.parent
        if string is None or string.type != "string":
            return []
        prefix = source[string.start_byte : start].rstrip()
        if prefix.endswith(b"."):
            return []
        if _annotation_string(string):
            if not collect:
                resolver.add_deferred_load(string)
                return []
            scope = resolver.scope_of(string)
            before = len(scope.events)
            resolver.add_deferred_load(string)
            return [(scope, e) for e in scope.events[before:]]
    return []


def _submodule_used_through_alias(
    binding: ImportBinding, by_name: dict[str, list[ImportBinding]], root: Node, source: bytes
) -> bool:
    """``import a as m`` + ``import a.b``: a use of ``m.b`` uses ``a.b`` (as in ruff)."""
    if binding.statement.type != "import_statement" or binding.element.type != "dotted_name":
        return False
    qualified = binding.qualified
    if "." not in qualified:
        return False
    for others in by_name.values():
        for other in others:
            prefix = other.qualified
            if other.name == binding.name or not qualified.startswith(prefix + "."):
                continue
            if other.statement.type != "import_statement":
                continue
            dotted = (other.name + qualified[len(prefix) :]).encode()
            for start, _ in word_occurrences(source, dotted):
                node = root.descendant_for_byte_range(start, start + len(other.name))
                if node is not None and node.type == "identifier":
                    parent = node.parent
                    if (
                        parent is not None
                        and parent.type == "attribute"
                        and _is_field(parent, "object", node)
                    ):
                        return True
    return False


def _import_statement_of(node: Node) -> Node | None:
    parent = node.parent
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
    by_statement: dict[int, list[ImportBinding]] = {}
    for binding in unused:
        by_statement.setdefault(binding.statement.id, []).append(binding)
    findings: list[Finding] = []
    for group in by_statement.values():
        statement = group[0].statement
        in_except = _in_import_error_try(statement)
        removal = None if in_except else remove_imports_fix(group, source, index)
        for binding in sorted(group, key=lambda b: b.node.start_byte):
            message = f"`{binding.qualified}` imported but unused"
            fix = removal
            if in_except:
                message += "; consider using `importlib.util.find_spec` to test for availability"
            elif is_init and binding.qualified.startswith("."):
                # A package's own module imported in its __init__: most likely a re-export.
                message += "; consider removing, adding to `__all__`, or using a redundant alias"
                fix = _redundant_alias_fix(binding)
            elif is_init and removal is not None:
                fix = Fix(removal.message, removal.edits, "unsafe")
            offsets = (statement.start_byte, binding.node.start_byte)
            findings.append(
                Finding(
                    "F401",
                    message,
                    binding.node.start_byte,
                    binding.node.end_byte,
                    noqa_offsets=offsets,
                    fix=fix,
                    data={"name": binding.name, "qualified": binding.qualified},
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
    bindings: list[ImportBinding], source: bytes, index: LineIndex | None = None
) -> Fix:
    """A fix removing ``bindings`` (all from one statement) from their statement."""
    index = index or LineIndex(source)
    statement = bindings[0].statement
    elements = statement.children_by_field_name("name")
    remove = {b.element.id for b in bindings}
    if all(e.id in remove for e in elements):
        edits = delete_statement(statement, source, index)
        names = ", ".join(f"`{b.qualified}`" for b in bindings)
        parent = statement.parent
        return Fix(
            f"Remove unused import: {names}",
            edits,
            isolation=parent.start_byte if parent is not None else None,
        )
    names = ", ".join(f"`{b.qualified}`" for b in bindings)
    return Fix(f"Remove unused import: {names}", _remove_elements(elements, remove, source, index))


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


def delete_statement(statement: Node, source: bytes, index: LineIndex) -> tuple[Edit, ...]:
    """Edits that delete a whole simple statement, leaving ``pass`` if its block empties."""
    parent = statement.parent
    siblings = [
        c for c in (parent.named_children if parent is not None else []) if c.type != "comment"
    ]
    only_child = parent is not None and parent.type == "block" and len(siblings) == 1
    start, end = statement.start_byte, statement.end_byte
    first_row = statement.start_point.row
    last_row = statement.end_point.row
    line_start = index.starts[first_row]
    before = source[line_start:start]
    # What follows on the last line: maybe "; other", maybe a comment.
    j = end
    line_end = index.line_end(last_row)
    while j < line_end and source[j : j + 1] in (b" ", b"\t"):
        j += 1
    if only_child:
        return (Edit(start, end, "pass"),)
    if j < line_end and source[j : j + 1] == b";":
        k = j + 1
        while k < line_end and source[k : k + 1] in (b" ", b"\t"):
            k += 1
        if k < line_end and source[k : k + 1] != b"#":
            return (Edit(start, k, ""),)
        j = k
    stripped_before = before.strip()
    if stripped_before.endswith(b";"):
        # "x = 1; import os": delete "; import os".
        semi = line_start + before.rstrip().rfind(b";")
        return (Edit(semi, end, ""),)
    if stripped_before:
        # "if x: import os" style one-liner with a colon before: the block has one child.
        return (Edit(start, end, "pass"),)
    next_row = last_row + 1
    stop = index.starts[next_row] if next_row < len(index.starts) else len(source)
    return (Edit(line_start, stop, ""),)
