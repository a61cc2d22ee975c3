"""``_Resolver``: the scopes of one file and the events of the name being analysed in
them, for the unused-import check (``imports``).

It classifies an occurrence of a name (a load, a store, a ``del``, a ``global``...), finds
the scope a node is evaluated in, and resolves a load to the scope whose binding it reaches
(ruff's semantics: class bodies skipped, deferred function bodies seeing the last binding).
"""

from __future__ import annotations

from tree_sitter import Node

from drain_ls.analysis.import_scopes import (
    _DEFAULT_PARAMETERS,
    _DEFERRED_SCOPES,
    _PARAMETER_NAMES,
    _PATTERN_CONTAINERS,
    _SCOPES,
    DELETE,
    GLOBAL,
    IMPORT,
    INFINITY,
    LOAD,
    NONLOCAL,
    STORE,
    UNBIND,
    Event,
    _first_for_in,
    _future_annotations,
    _in_annotation,
    _inside_import,
    _is_field,
    _parameter_owner,
    _Scope,
    _state_at,
)
from drain_ls.analysis.import_statements import ImportBinding
from drain_ls.analysis.type_strings import (
    _expression_names,
    _string_value,
    _type_string,
)
from drain_ls.analysis.typing_names import TypingNames


class _Resolver:
    """Scopes and per-name events of one file."""

    def __init__(
        self,
        root: Node,
        source: bytes,
        defer_annotations: bool = False,
        by_name: dict[str, list[ImportBinding]] | None = None,
    ) -> None:
        """The resolver of one file; ``defer_annotations``: annotations are deferred even
        without ``from __future__ import annotations`` (a target of Python 3.14 or later,
        PEP 649, as ruff's ``defers_annotations``); ``by_name``: the file's import bindings
        by name, when the caller has them."""
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
        # What the heads of subscripts and calls resolve to (``typing_names``).
        self.names = TypingNames(self, by_name)
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
            if _type_string(string, self.names):
                value = _string_value(string)
                if value is not None:
                    names = frozenset(_expression_names(value[0], value[1], self.names, string, 0))
            self.strings[string.id] = names
        return names

    def fresh(self) -> _Resolver:
        """A resolver of the same file with no events: its own scopes, for another name."""
        fresh = _Resolver(self.root, self.source)
        fresh.future_annotations = self.future_annotations
        return fresh

    # -- scopes ---------------------------------------------------------------------------

    def _scope_for(self, node: Node) -> _Scope:
        scope = self.scopes.get(node.id)
        if scope is None:
            if node.type == "module" or node.parent is None:
                # The root (an ERROR node when the whole file fails to parse) is the module;
                # so is the root of each chunk of a chunked document (drain_ls.analysis.forest).
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
            # The object of an attribute: a load, deferred in an annotation as any other.
            scope = self.scope_of(node)
            if self.future_annotations and _in_annotation(parent):
                self.add(scope, Event(INFINITY, LOAD, offset=node.start_byte, forward=True))
            else:
                self.add(scope, Event(node.start_byte, LOAD))
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
