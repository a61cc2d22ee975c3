"""Re-analysing only what an edit touches, for the editor.

``IncrementalChecker`` gives the same findings as ``check_source(..., tolerant=True)`` but
remembers, between two versions of a document, what each piece of work found:

- missing docstrings per module-level statement, keyed by the statement's text and the
  module's context (``__all__``, what ``@overload`` means): an edit recomputes only the
  statements whose text changed;
- unused imports per imported name: a name is analysed again only when one of its
  occurrences lies in a statement that the edit changed, or when it was in the deleted text;
  the others keep their result, moved by the edit;
- syntax errors (``drain_ls.analysis.syntax.SyntaxTracker``): the legacy, indentation and
  version checks read only the module-level statements the changes touched.

``ChangeLog`` (``drain_ls.analysis.change_log``) collects what changed between two analyses: the edits (to move remembered
offsets), the ranges tree-sitter reports as changed plus the edited ranges themselves (it
does not report edits inside strings), and the deleted text.

The member findings remembered per statement are ``drain_ls.analysis.incremental_docstrings``'s.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from functools import partial
from operator import attrgetter

from tree_sitter import Node

from drain_ls.analysis.change_log import ChangeLog, _edited_spans, _moved_spans, _writes
from drain_ls.analysis.checker import CheckSettings, error_regions, stub_settings, with_syntax
from drain_ls.analysis.docstrings import (
    MemberContext,
    docstring_fix_at,
    is_private_module,
    member_context,
    module_finding,
)
from drain_ls.analysis.exports import is_module_level
from drain_ls.analysis.grammar_gaps import parse_input
from drain_ls.analysis.import_resolver import _Resolver
from drain_ls.analysis.import_scopes import LOAD, _inside_import
from drain_ls.analysis.import_statements import ImportBinding
from drain_ls.analysis.imports import (
    FRAGILE,
    dunder_all,
    import_bindings_by_name,
    unused_bindings_of,
    unused_import_findings,
)
from drain_ls.analysis.incremental_docstrings import (
    _entry,
    _member_findings,
    _restated,
    _Statements,
    _take_over,
)
from drain_ls.analysis.model import Finding
from drain_ls.analysis.noqa import NoqaMap
from drain_ls.analysis.source import LineIndex, Syntax, nfkc_occurrences, word_occurrences
from drain_ls.analysis.syntax import SyntaxTracker

__all__ = ["ChangeLog", "IncrementalChecker"]


_STATEMENT_PARENTS = frozenset({"module", "block"})


_start_byte = attrgetter("start_byte")
_end_byte = attrgetter("end_byte")


class IncrementalChecker:
    """The findings of successive versions of one document."""

    def __init__(self, path: str, settings: CheckSettings, fix_factories: bool = True) -> None:
        """A checker for the document at ``path`` (its name decides module privacy).

        With ``fix_factories`` off, docstring findings carry no ``fix_factory`` (a factory
        holds the version's tree) and the findings of unmoved statements are reused as they
        are from one version to the next.
        """
        self.path = path
        self.settings = stub_settings(settings, path)  # a stub: F401, no D1xx
        self._fix_factories = fix_factories
        self._private = is_private_module(path)
        self._syntax = SyntaxTracker(self.settings.target_version)
        self._defer = self.settings.defers_annotations
        # The module-level statements of the last version, with their member findings.
        self._statements: _Statements | None = None
        self._context: MemberContext | None = None
        self._unused: dict[str, list[int]] | None = None
        self._witnesses: dict[str, list[list[int]]] = {}
        # The heads that decided whether strings are type expressions (``typing_names``).
        self._heads: set[str] = set()
        self._bindings: dict[str, list[int]] = {}
        self._exports_memo: tuple[list[tuple[bool, bytes]], frozenset[str] | None] | None = None
        # The statements that said ``__all__`` in the last version checked.
        self._exports_spans: list[tuple[int, int]] | None = None
        # The text of the last analysed version and its findings.
        self._last: tuple[bytes, list[Finding]] | None = None
        # Whether that version parsed without an error.
        self._last_clean = False
        # Whether the last version checked says "noqa" nowhere (``_mentions_noqa``).
        self._noqa_free = False
        # ``__all__`` as the unused imports of the last version saw it.
        self._exports_seen: frozenset[str] | None = None

    def check(self, source: bytes, tree: Syntax, changes: ChangeLog | None = None) -> list[Finding]:
        """All findings of this version; ``changes`` says what changed since the last call."""
        last = self._last
        root = tree.root_node
        clean = not root.has_error
        if (
            changes is not None
            and not changes.full
            and last is not None
            and last[0] == source
            and clean
            and self._last_clean
        ):
            # The edits since put the same text back (a typo undone). Only without a syntax
            # error: then the findings depend on the text alone; with one, on where the
            # document's chunks keep it (``drain_ls.analysis.forest``), which the same text need not
            # have the same way twice.
            return list(last[1])
        select = self.settings.select
        incremental = changes is not None and not changes.full and self._unused is not None
        by_name = import_bindings_by_name(root, source)
        exported = self._exported(root, source, changes if incremental else None)
        findings: list[Finding] = []
        if "F401" in select:
            findings.extend(
                self._imports(root, source, by_name, exported, changes if incremental else None)
            )
        if any(code.startswith("D1") for code in select):
            bindings = [b for bs in by_name.values() for b in bs]
            context = member_context(root, source, bindings, exported, exports_known=True)
            docstrings = self._docstrings(root, source, context, changes if incremental else None)
            findings.extend(f for f in docstrings if f.code in select)
        if not findings:
            self._noqa_free = False  # not looked for: the next check looks at all of it
        elif self._mentions_noqa(source, changes):
            noqa = NoqaMap(source, LineIndex(source), root)
            findings = [f for f in findings if not noqa.silences(f)]
        # Syntax errors whatever the selection (as ruff).
        syntax_changes = changes if changes is not None and not changes.full else None
        report = self._syntax.check(_parsed(source, tree), tree, syntax_changes, original=source)
        findings = with_syntax(findings, report, source)
        findings.sort(key=lambda f: (f.start, f.code))
        self._last = (source, findings)
        self._last_clean = clean
        return list(findings)

    def _mentions_noqa(self, source: bytes, changes: ChangeLog | None) -> bool:
        """Whether ``source`` says "noqa" anywhere (any case), as ``NoqaMap`` asks before it
        reads a directive: when the last version did not, only the edited text is looked at
        (lowering a whole file cost 0.2 ms a keystroke on ``typing.py``)."""
        if self._noqa_free and changes is not None and not changes.full:
            free = not any(
                b"noqa" in source[max(0, start - 3) : end + 3].lower()
                for start, end in _edited_spans(changes)
            )
        else:
            free = b"noqa" not in source.lower()
        self._noqa_free = free
        return not free

    def provisional(self, source: bytes, tree: Syntax, changes: ChangeLog) -> list[Finding] | None:
        """The findings to show at once for a version with a syntax error, analysing nothing:
        the last analysed version's findings moved by the edits (those an edit touched are
        dropped), outside the error regions, and the syntax error. None when there is no
        last analysis to move.

        Nothing is remembered: the next ``check`` still sees every change since the last
        one. Fixes are dropped from the moved findings unless every edit since lies after
        them (the server makes import and docstring fixes from the current tree anyway).
        """
        last = self._last
        if last is None or changes.full:
            return None
        unchanged_before = changes.unchanged_before(len(source))
        moved: list[Finding] = []
        for finding in last[1]:
            if finding.code == "E999":
                continue
            span = changes.move_span(finding.start, finding.end)
            if span is None:
                continue
            start, end = span
            if start == finding.start and end < unchanged_before:
                moved.append(finding)
                continue
            fix = finding.fix
            if fix is not None and any(e.end >= unchanged_before for e in fix.edits):
                fix = None
            delta = start - finding.start
            moved.append(
                Finding(
                    finding.code,
                    finding.message,
                    start,
                    end,
                    noqa_offsets=tuple(o + delta for o in finding.noqa_offsets),
                    fix=fix,
                    data=finding.data,
                )
            )
        # Away from every error of the tree, those CPython accepts in a statement compiled
        # alone included: an earlier error can make tree-sitter misread a later statement
        # that compiles on its own, and the next ``check`` sees no definition there.
        regions = error_regions(tree)
        if regions:
            moved = [f for f in moved if not any(f.start < e and s < f.end for s, e in regions)]
        # The syntax errors of this version, the last version's kept as the base of the next
        # ``check`` (which still sees every change since).
        report = self._syntax.check(
            _parsed(source, tree), tree, changes, commit=False, original=source
        )
        findings = with_syntax(moved, report, source)
        findings.sort(key=lambda f: (f.start, f.code))
        return findings

    def _exported(
        self, root: Node, source: bytes, changes: ChangeLog | None = None
    ) -> frozenset[str] | None:
        """``__all__``, read again only when a statement that mentions it changed; not even
        looked for when no change touched those statements nor wrote the word (a search of
        the whole file at every keystroke)."""
        memo, spans = self._exports_memo, self._exports_spans
        if changes is not None and spans is not None and (memo is not None or not spans):
            moved = _moved_spans(spans, changes)
            if moved is not None and not _writes(source, changes, b"__all__"):
                self._exports_spans = moved
                return memo[1] if memo is not None else None
        occurrences = word_occurrences(source, b"__all__")
        if not occurrences:
            self._exports_memo = None
            self._exports_spans = []
            return None
        key: list[tuple[bool, bytes]] = []
        spans = []
        for start, end in occurrences:
            node = root.descendant_for_byte_range(start, end)
            while (
                node is not None
                and node.parent is not None
                and node.parent.type
                not in (
                    "module",
                    "block",
                )
            ):
                node = node.parent
            if node is not None:
                key.append((is_module_level(node), node.text or b""))
                spans.append((node.start_byte, node.end_byte))
            else:
                spans.append((start, end))
        self._exports_spans = spans
        if memo is not None and memo[0] == key:
            return memo[1]
        exported = dunder_all(root, source)
        self._exports_memo = (key, exported)
        return exported

    # -- docstrings ---------------------------------------------------------------------------

    def _docstrings(
        self, root: Node, source: bytes, context: MemberContext, changes: ChangeLog | None
    ) -> list[Finding]:
        """Member findings per module-level statement.

        The statements no changed range touches are skipped in bulk: each run of them
        between two changed regions is the run of the last version that starts and ends at
        the same (moved) offsets, with as many statements (same text, and tree-sitter reports
        structure changes among the changed ranges). Only the statements around the changes
        are analysed again, so an edit costs O(changed statements), not O(statements).
        """
        findings: list[Finding] = []
        module = module_finding(root, source, self.path, self._private)
        if module is not None:
            findings.append(module)
        if self._private:
            return findings
        style = self.settings.docstring_style
        children = root.named_children
        previous = self._statements
        restated = _restated(self._context, context)
        if changes is None or restated is None or previous is None:
            statements = _Statements()
            for statement in children:
                statements.append_new(statement, source, context, style)
        else:
            statements = self._reuse(children, source, context, style, changes, previous)
            if restated:  # ``__all__`` changed: the definitions it now lists or no longer does
                for index, entry in enumerate(statements.entries):
                    if entry.names and not restated.isdisjoint(entry.names):
                        statements.entries[index] = _entry(children[index], source, context, style)
        self._statements = statements
        self._context = context
        fix_at = partial(docstring_fix_at, root, source, style=style)
        for i, entry in enumerate(statements.entries):
            if not entry.members:
                continue
            base = statements.starts[i]
            if self._fix_factories:
                findings.extend(_member_findings(entry.members, base, fix_at))
            else:
                findings.extend(entry.findings_at(base))
        return findings

    def _reuse(
        self,
        children: list[Node],
        source: bytes,
        context: MemberContext,
        style: str,
        changes: ChangeLog,
        previous: _Statements,
    ) -> _Statements:
        """The statements of this version, those outside the changed regions taken over."""
        # The runs of statements (indices into ``children``) that a changed range touches;
        # a range between two statements makes an empty run there: no run taken over holds
        # an edit, so the edits move all of its statements by the same amount.
        dirty: list[list[int]] = []
        for s, e in sorted(changes.ranges):
            i = bisect_left(children, s, key=_end_byte)
            j = max(i - 1, bisect_right(children, e, key=_start_byte) - 1)
            if dirty and i <= dirty[-1][1] + 1:
                dirty[-1][1] = max(dirty[-1][1], j)
            else:
                dirty.append([i, j])
        statements = _Statements()
        position = 0
        for i, j in [*dirty, [len(children), len(children) - 1]]:
            if position < i:
                _take_over(statements, children[position:i], previous, changes)
            for statement in children[i : j + 1]:
                statements.append_new(statement, source, context, style)
            position = j + 1
        # What could not be taken over (see ``_take_over``) is analysed again.
        for index in statements.missing:
            statements.entries[index] = _entry(children[index], source, context, style)
        statements.missing.clear()
        return statements

    # -- unused imports -----------------------------------------------------------------------

    def _imports(
        self,
        root: Node,
        source: bytes,
        by_name: dict[str, list[ImportBinding]],
        exported: frozenset[str] | None,
        changes: ChangeLog | None,
    ) -> list[Finding]:
        previous_exports, self._exports_seen = self._exports_seen, exported
        if not by_name:
            self._unused = {}
            return []
        affected = set(by_name)
        if changes is not None and self._unused is not None:
            # A name that ``__all__`` now lists or no longer does is used differently.
            restated = (previous_exports or frozenset()) ^ (exported or frozenset())
            affected = self._affected(root, source, by_name, changes, restated)
        witnesses: dict[str, list[list[int]]] = {}
        # The heads of the names analysed again, and those of the names taken over.
        heads = set() if affected.issuperset(by_name) else set(self._heads)
        fresh = unused_bindings_of(
            root,
            source,
            by_name,
            affected,
            exported,
            exports_known=True,
            witnesses=witnesses,
            defer_annotations=self._defer,
            heads=heads,
        )
        unused: dict[str, list[ImportBinding]] = dict(fresh)
        retry: set[str] = set()
        for name, bindings in by_name.items():
            if name in fresh:
                continue
            moved = [changes.move(o) for o in (self._unused or {}).get(name, [])] if changes else []
            starts = {b.node.start_byte: b for b in bindings}
            if any(o is None or o not in starts for o in moved):
                retry.add(name)
                continue
            unused[name] = [starts[o] for o in moved if o is not None]
            groups = [
                [m for m in (_move(changes, o) for o in group) if m is not None]
                for group in self._witnesses.get(name, [])
            ]
            if any(not group for group in groups):
                retry.add(name)
                continue
            witnesses[name] = groups
        if retry:
            unused.update(
                unused_bindings_of(
                    root,
                    source,
                    by_name,
                    retry,
                    exported,
                    exports_known=True,
                    witnesses=witnesses,
                    defer_annotations=self._defer,
                    heads=heads,
                )
            )
        self._heads = heads
        self._unused = {name: [b.node.start_byte for b in bs] for name, bs in unused.items()}
        self._witnesses = witnesses
        self._bindings = {name: [b.node.start_byte for b in bs] for name, bs in by_name.items()}
        every = sorted((b for bs in unused.values() for b in bs), key=lambda b: b.node.start_byte)
        return unused_import_findings(every, source, self.path)

    def _affected(
        self,
        root: Node,
        source: bytes,
        by_name: dict[str, list[ImportBinding]],
        changes: ChangeLog,
        restated: frozenset[str],
    ) -> set[str]:
        """The names whose result the changes may have changed.

        A name is untouched when none of its occurrences lies in a changed statement. A name
        whose import was used stays used when the changed statements only add or keep loads
        of it (in code or in strings, which are string annotations or nothing): a load can
        only add a use. Anything else (a binding, a ``del``, a ``global``, the name in
        deleted text, the name ``restated``: listed in ``__all__`` or no longer) analyses the
        name again. Changed text that mentions the head of a subscript or a call that decided
        whether a string is a type expression (``List["X"]``, ``TypeVar(..., bound="X")``)
        analyses every name again: it may rebind the head. So does a change to a ``__future__``
        import (``annotations`` defers every annotation).
        """
        regions = _statement_regions(root, changes.ranges)
        texts = [source[s:e] for s, e in regions] + changes.removed
        if any(word_occurrences(text, head.encode()) for head in self._heads for text in texts):
            return set(by_name)
        if any(b"__future__" in text for text in texts):
            return set(by_name)  # ``from __future__ import annotations``: every annotation
        cached = self._unused or {}
        affected = {name for name in restated if name in by_name}
        # Names that the changed text spells otherwise (NFKC: ``\ufb01le`` is ``file``):
        # found once, not per name; only text that is not ASCII can hold one.
        respelled: set[str] = set()
        for text in texts:
            if not text.isascii():
                respelled.update(nfkc_occurrences(text, set(by_name)))
        affected.update(respelled)
        scratch: _Resolver | None = None
        for name, bindings in by_name.items():
            if name in affected:
                continue
            if name not in cached:
                affected.add(name)
                continue
            before = [_move(changes, o) for o in self._bindings.get(name, [])]
            if before != [b.node.start_byte for b in bindings]:
                affected.add(name)  # an import of the name appeared, went or was edited
                continue
            encoded = name.encode()
            if not any(encoded in text for text in texts):
                continue
            if any(encoded in removed for removed in changes.removed) or cached[name]:
                affected.add(name)
                continue
            # The proof that the import is used must still stand: each use found last time
            # is outside the changed statements.
            if not all(_stands(group, changes, regions) for group in self._witnesses.get(name, [])):
                affected.add(name)
                continue
            for start, end in _occurrences_in(source, encoded, regions):
                scratch = scratch or _Resolver(root, source, self._defer)
                if not _is_plain_load(scratch, root, start, end, name):
                    affected.add(name)
                    break
        return affected


def _stands(group: list[int], changes: ChangeLog, regions: list[tuple[int, int]]) -> bool:
    """Whether one of the remembered uses of an import is outside every changed statement."""
    for offset in group:
        moved = _move(changes, offset)
        if moved is None or moved == FRAGILE:
            continue
        if not any(s <= moved < e for s, e in regions):
            return True
    return False


def _move(changes: ChangeLog | None, offset: int) -> int | None:
    """A remembered offset in this version (-2, "used by __all__", stays as it is)."""
    if offset < 0 or changes is None:
        return offset
    return changes.move(offset)


def _occurrences_in(
    source: bytes, word: bytes, regions: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    found = set()
    for start, end in regions:
        for a, b in word_occurrences(source[start:end], word):
            found.add((start + a, start + b))
    return sorted(found)


def _is_plain_load(resolver: _Resolver, root: Node, start: int, end: int, name: str) -> bool:
    """Whether the occurrence at ``[start, end)`` reads the name and does nothing else."""
    node = root.descendant_for_byte_range(start, end)
    if node is None:
        return True
    if node.type in ("comment", "string_content"):
        return True  # nothing, or a string annotation's load
    if node.type != "identifier" or node.start_byte != start or node.end_byte != end:
        return False  # anything else (part of a larger token, an error): analysed again
    if _inside_import(node.parent):
        return False
    # A fresh one holds only this occurrence.
    resolver = _Resolver(root, resolver.source, resolver.future_annotations)
    resolver.add_occurrence(node, name)
    events = [e for scope in resolver.scopes.values() for e in scope.events]
    return all(e.kind == LOAD for e in events)


def _statement_regions(root: Node, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Each changed range grown to whole statements: from the start of the innermost
    statement around its start to the end of the innermost statement around its end."""
    regions = []
    for start, end in ranges:
        first = _statement_at(root, start)
        last = _statement_at(root, max(start, end - 1)) if end > start else first
        regions.append(
            (
                min(start, first.start_byte) if first is not None else start,
                max(end, last.end_byte) if last is not None else end,
            )
        )
    return regions


def _statement_at(root: Node, offset: int) -> Node | None:
    """The innermost statement (a child of the module or of a block) around ``offset``."""
    node = root.descendant_for_byte_range(offset, offset)
    while node is not None and node.parent is not None:
        if node.parent.type in _STATEMENT_PARENTS and node.type != "block":
            return node
        node = node.parent
    return None


def _parsed(source: bytes, tree: Syntax) -> bytes:
    """What ``tree`` was parsed from: ``parse_input(source)`` (lone CRs normalized, far named
    escapes neutralized: ``drain_ls.analysis.grammar_gaps``). A document's
    tree (``drain_ls.analysis.forest.Forest``) keeps it; anything else is normalized here (8 ms per
    5 MB of CRLF text: not twice per keystroke)."""
    kept = getattr(tree, "source", None)
    if isinstance(kept, bytes) and len(kept) == len(source):
        return kept
    return parse_input(source)
