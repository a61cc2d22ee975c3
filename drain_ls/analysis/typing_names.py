"""What the head of a subscript or a call names, as ruff's semantic model resolves it
(``SemanticModel::resolve_qualified_name``, crates/ruff_python_semantic/src/model.rs): the
qualified name of the binding that the head's first name reaches where it is read.

The type-string check (``type_strings``) asks it whether ``List["X"]`` is ``typing.List``
and ``TypeVar("T", bound="X")`` is ``typing.TypeVar``: the strings are type expressions
only then. A name imported from elsewhere (``from compat import TypeVar``), defined in the
file, assigned, or bound nowhere (``TypeVar`` with no import, ``from typing import *``) is
not typing's; an alias (``from typing import List as L``, ``import typing as t``) is.

The resolution is the unused-import check's own (``import_resolver``): the first name's
events (imports, stores, ``del``, ``global``...) in the scopes of the file, and the load
resolved as ruff does (class bodies skipped, function bodies deferred). A name left
unresolved is a builtin (``("", "list")``), as ruff's builtins scope gives it.

Simplifications: a class or function the file defines resolves to nothing here (ruff
qualifies it with the module's own path, which only matters in the modules that define
typing's names: ``typing.py``, ``collections/__init__.py``...); another spelling of the name
(NFKC) is not looked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from tree_sitter import Node

from drain_ls.analysis.import_scopes import IMPORT, INFINITY, LOAD, Event, _Scope, _state_at
from drain_ls.analysis.import_statements import ImportBinding, bindings_by_name
from drain_ls.analysis.source import word_occurrences

if TYPE_CHECKING:
    from collections.abc import Sequence

Qualified = tuple[str, ...]


class _Scratch(Protocol):
    """What ``TypingNames`` uses of a resolver (``import_resolver._Resolver``)."""

    root: Node
    source: bytes
    module: _Scope

    def scope_of(self, node: Node) -> _Scope: ...
    def add(self, scope: _Scope, event: Event) -> None: ...
    def add_occurrence(self, node: Node, name: str, parent: Node | None = None) -> None: ...
    def resolve(self, scope: _Scope, time: int) -> tuple[_Scope, int] | None: ...
    def resolve_global(self) -> tuple[_Scope, int] | None: ...
    def fresh(self) -> _Scratch: ...


class TypingNames:
    """The qualified names of subscript and call heads in one file, resolved when asked."""

    __slots__ = ("_by_name", "_renamed", "_resolver", "_scratch", "consulted")

    def __init__(
        self, resolver: _Scratch, by_name: dict[str, list[ImportBinding]] | None = None
    ) -> None:
        """``by_name``: the file's import bindings by name, when the caller has them."""
        self._resolver = resolver
        self._by_name = by_name
        self._scratch: dict[str, _Scratch] = {}
        self._renamed: frozenset[str] | None = None
        # The first names of the heads looked at (resolved or not): an edit that mentions
        # one may change what a string is (``incremental``).
        self.consulted: set[str] = set()

    def _bindings(self) -> dict[str, list[ImportBinding]]:
        if self._by_name is None:
            self._by_name = bindings_by_name(self._resolver.root, self._resolver.source)
        return self._by_name

    def renamed(self, name: str) -> bool:
        """Whether an import binds ``name`` to something of another name (``from typing
        import List as L``, ``import typing as t``): the name alone does not say what it is."""
        if self._renamed is None:
            self._renamed = frozenset(
                name
                for name, bindings in self._bindings().items()
                if any(b.qualified.rsplit(".", 1)[-1] != name for b in bindings)
            )
        return name in self._renamed

    def _scratch_for(self, name: str) -> _Scratch:
        """A resolver holding the events of ``name`` (in every scope of the file)."""
        scratch = self._scratch.get(name)
        if scratch is None:
            scratch = self._resolver.fresh()
            for binding in self._bindings().get(name, ()):
                container = binding.container
                module = container is not None and container.type == "module"
                scope = scratch.module if module else scratch.scope_of(binding.statement)
                scratch.add(scope, Event(binding.statement.end_byte, IMPORT, binding))
            root = scratch.root
            for start, end in word_occurrences(scratch.source, name.encode()):
                node = root.descendant_for_byte_range(start, end)
                if (
                    node is not None
                    and node.type == "identifier"
                    and node.start_byte == start
                    and node.end_byte == end
                ):
                    scratch.add_occurrence(node, name)  # imports skip themselves
            self._scratch[name] = scratch
        return scratch

    def qualified(self, parts: Sequence[str], at: Node, forward: bool = False) -> Qualified:
        """The qualified name of the dotted name ``parts`` read at ``at``: the identifier
        of its first name, or (``forward``) a string whose type expression holds it, read
        once its scope is complete. ``()`` when it resolves to no import (a store, a
        definition, a relative import); ``("", *parts)`` when it resolves to nothing."""
        head = parts[0]
        scratch = self._scratch_for(head)
        scope = scratch.scope_of(at)
        time = INFINITY if forward else at.start_byte
        if not forward:
            for event in scope.events:
                if event.kind == LOAD and (event.offset if event.offset >= 0 else event.time) == (
                    at.start_byte
                ):
                    forward, time = event.forward, event.time
                    break
        if forward and scope is not scratch.module:
            target = scratch.resolve_global() or scratch.resolve(scope, time)
        else:
            target = scratch.resolve(scope, time)
        if target is None:
            return ("", *parts)
        state = _state_at(*target)
        if state is None or state.kind != IMPORT or state.binding is None:
            return ()
        binding = state.binding
        if binding.qualified.startswith("."):
            return ()
        if binding.statement.type == "import_statement" and binding.element.type == "dotted_name":
            base: Qualified = (binding.name,)  # ``import a.b`` binds ``a``
        else:
            base = tuple(binding.qualified.split("."))
        return (*base, *parts[1:])
