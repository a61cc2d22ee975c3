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

The parts: ``import_statements`` (the statements and the names they bind),
``import_scopes`` and ``import_resolver`` (scopes, events and name resolution),
``type_strings`` (strings read as type expressions), ``import_fixes`` (the findings and
their fixes). This module holds the entry points and the per-name analysis.
"""

from __future__ import annotations

import gc
import os
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from tree_sitter import Node

from drain_ls.analysis.exports import find_exports
from drain_ls.analysis.import_fixes import _findings, remove_imports_fix, remove_one_import_fix
from drain_ls.analysis.import_resolver import _Resolver
from drain_ls.analysis.import_scopes import (
    DELETE,
    GLOBAL,
    IMPORT,
    INFINITY,
    LOAD,
    NONLOCAL,
    STORE,
    UNBIND,
    Event,
    _inside_import,
    _Scope,
    _state_at,
)
from drain_ls.analysis.import_statements import (
    ImportBinding,
    bindings_by_name,
    import_bindings,
)

# Re-exported: the fast-path tests use them from here.
from drain_ls.analysis.import_statements import _import_statements as _import_statements
from drain_ls.analysis.import_statements import _keyword_statements as _keyword_statements
from drain_ls.analysis.model import Finding
from drain_ls.analysis.source import (
    _PER_WORD_BUDGET,
    _WORD,
    IDENTIFIER_BYTES,
    Syntax,
    nfkc_occurrences,
    text_start,
    word_index,
    word_occurrences,
)

__all__ = [
    "FRAGILE",
    "ImportBinding",
    "dunder_all",
    "find_unused_imports",
    "import_bindings",
    "import_bindings_by_name",
    "remove_imports_fix",
    "remove_one_import_fix",
    "unused_bindings_of",
    "unused_import_findings",
]


# A witness that is no offset: the result rests on more than a use (an exemption).
FRAGILE = -3


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


def dunder_all(root: Node, source: bytes) -> frozenset[str] | None:
    """The names in the module's ``__all__``, or None when it has none."""
    exports = find_exports(root, source) if b"__all__" in source else None
    return frozenset(exports.names) if exports is not None else None


def import_bindings_by_name(root: Node, source: bytes) -> dict[str, list[ImportBinding]]:
    """Every name bound by an import statement, with its bindings in source order."""
    with _collector_paused():
        return bindings_by_name(root, source)


def unused_bindings_of(
    root: Node,
    source: bytes,
    by_name: dict[str, list[ImportBinding]],
    names: set[str] | None = None,
    exported: frozenset[str] | None = None,
    exports_known: bool = False,
    witnesses: dict[str, list[list[int]]] | None = None,
    defer_annotations: bool = False,
    heads: set[str] | None = None,
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
    anyway). ``heads`` receives the first names of the subscript and call heads looked at to
    decide whether a string is a type expression (``typing_names``): an edit that mentions
    one may change that.
    """
    with _collector_paused():
        return _unused_by_name(
            root,
            source,
            by_name,
            names,
            exported,
            exports_known,
            witnesses,
            defer_annotations,
            heads,
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
    heads: set[str] | None = None,
) -> dict[str, list[ImportBinding]]:
    resolver = _Resolver(root, source, defer_annotations, by_name)
    if heads is not None:
        resolver.names.consulted = heads
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
    # or a load. Nor is a call (``name(``), but for the name of a ``def`` or a ``class``.
    # Such occurrences (more than two thirds of all) can only prove a use: they are
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
        after = source[end : end + 1]
        if defer and (
            after == b"."
            or source[start - 1 : start] == b"."
            or (after == b"(" and not _defined_at(source, start))
        ):
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


def _defined_at(source: bytes, start: int) -> bool:
    """Whether the name at ``start`` may be what a ``def`` or a ``class`` defines: the word
    before it (past blanks and line joins) ends with one of them (a bigger word too: the
    answer only has to be yes whenever it is one)."""
    window = max(0, start - 64)
    before = source[window:start].rstrip(b" \t\f\\\r\n")
    if not before and window > 0:
        return True  # only blanks and joins as far as it looks: it does not guess
    return before.endswith((b"def", b"class"))


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
