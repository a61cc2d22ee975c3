"""Code actions, answered from findings that are already computed: no I/O, no LLM."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from lsprotocol import types

from drain_ls.analysis.docstrings import docstring_fix_at
from drain_ls.analysis.imports import remove_one_import_fix
from drain_ls.analysis.model import Edit, Finding, Fix
from drain_ls.analysis.noqa import add_noqa_edit
from drain_ls.analysis.skeletons import definition_docstring_fix
from drain_ls.analysis.source import LineIndex
from drain_ls.lsp.documents import Document
from drain_ls.lsp.features.diagnostics import to_diagnostic, to_range

FIX_ALL_KIND = "source.fixAll.drain-ls"
QUICKFIX = types.CodeActionKind.QuickFix


def workspace_edit(
    doc: Document, edits: Iterable[Edit], document_changes: bool = True
) -> types.WorkspaceEdit:
    """A workspace edit of ``doc`` at its current version."""
    text_edits: Sequence[types.TextEdit] = [
        types.TextEdit(range=to_range(doc, e.start, e.end), new_text=e.text)
        for e in sorted(edits, key=lambda e: (e.start, e.end))
    ]
    if document_changes:
        return types.WorkspaceEdit(
            document_changes=[
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(
                        uri=doc.uri, version=doc.version
                    ),
                    edits=list(text_edits),
                )
            ]
        )
    return types.WorkspaceEdit(changes={doc.uri: list(text_edits)})


def wanted(kind: str, only: Sequence[str] | None) -> bool:
    """Whether a client that asked for ``only`` kinds wants an action of ``kind``."""
    if not only:
        return True
    return any(kind == k or kind.startswith(k + ".") for k in only)


def _intersects(finding: Finding, start: int, end: int) -> bool:
    return finding.start <= end and start <= finding.end


def code_actions(
    doc: Document,
    findings: list[Finding],
    start: int,
    end: int,
    only: Sequence[str] | None = None,
    document_changes: bool = True,
    docstring_style: str = "google",
) -> list[types.CodeAction]:
    """The actions for the findings that touch bytes ``[start, end]`` of ``doc``.

    "Remove all unused imports" comes without its edit: the client resolves it
    (``codeAction/resolve``) only when the user picks it.
    """
    actions: list[types.CodeAction] = []
    index: LineIndex | None = None
    if wanted(QUICKFIX, only):
        for finding in findings:
            if not _intersects(finding, start, end) or finding.code == "E999":
                continue
            diagnostic = to_diagnostic(doc, finding)
            if finding.code == "F401":
                fix = remove_one_import_fix(doc.tree, doc.source, finding.start, finding.end)
                name = finding.data.get("name", "")
                if fix is not None:
                    actions.append(
                        types.CodeAction(
                            title=f"Remove unused import `{name}`",
                            kind=QUICKFIX,
                            diagnostics=[diagnostic],
                            is_preferred=True,
                            edit=workspace_edit(doc, fix.edits, document_changes),
                        )
                    )
            elif (fix := _fix_of(doc, finding, docstring_style)) is not None and fix.edits:
                actions.append(
                    types.CodeAction(
                        title=fix.message,
                        kind=QUICKFIX,
                        diagnostics=[diagnostic],
                        edit=workspace_edit(doc, fix.edits, document_changes),
                    )
                )
            index = index or LineIndex(doc.source)
            noqa = _noqa_edit(doc, index, finding)
            if noqa is not None:
                actions.append(
                    types.CodeAction(
                        title=f"Ignore `{finding.code}` on this line",
                        kind=QUICKFIX,
                        diagnostics=[diagnostic],
                        edit=workspace_edit(doc, [noqa], document_changes),
                    )
                )
    if wanted(FIX_ALL_KIND, only) and any(f.code == "F401" for f in findings):
        actions.append(
            types.CodeAction(
                title="Remove all unused imports",
                kind=FIX_ALL_KIND,
                data={"uri": doc.uri, "version": doc.version, "action": "fixAll"},
            )
        )
    return actions


# (drain, qualname, scope text) -> the drain's text, when it was made for exactly that code
ResultLookup = Callable[[str, str, str], str | None]


def generated_docstring_actions(
    doc: Document,
    findings: list[Finding],
    start: int,
    end: int,
    lookup: ResultLookup,
    document_changes: bool = True,
) -> list[types.CodeAction]:
    """ "Insert generated docstring" for each D1xx finding that a drain has answered."""
    actions = []
    for finding in findings:
        if not finding.code.startswith("D1") or finding.code in ("D100", "D104"):
            continue
        if not _intersects(finding, start, end):
            continue
        node = doc.tree.root_node.descendant_for_byte_range(finding.start, finding.start)
        definition = node.parent if node is not None else None
        if definition is None or definition.type not in ("function_definition", "class_definition"):
            continue
        scope = doc.source[definition.start_byte : definition.end_byte].decode(
            "utf-8", "surrogateescape"
        )
        text = lookup("docstrings", str(finding.data.get("qualname", "")), scope)
        if text is None:
            continue
        fix = definition_docstring_fix(
            definition,
            doc.source,
            literal=text,
            message="Insert generated docstring",
        )
        if fix is None:
            continue
        actions.append(
            types.CodeAction(
                title=fix.message,
                kind=QUICKFIX,
                diagnostics=[to_diagnostic(doc, finding)],
                is_preferred=True,
                edit=workspace_edit(doc, fix.edits, document_changes),
            )
        )
    return actions


def _fix_of(doc: Document, finding: Finding, style: str) -> Fix | None:
    """The finding's fix; docstring skeletons are made from the document now."""
    fix = finding.resolved_fix()
    if fix is None and finding.code.startswith("D1") and finding.code not in ("D100", "D104"):
        fix = docstring_fix_at(doc.tree.root_node, doc.source, finding.start, style)
    return fix


def _noqa_edit(doc: Document, index: LineIndex, finding: Finding) -> Edit | None:
    """Silence the finding on its name's row, or else on its statement's first row."""
    rows = sorted({index.row_of(o) for o in finding.noqa_offsets}, reverse=True)
    for row in rows:
        edit = add_noqa_edit(doc.source, index, row, finding.code)
        if edit is not None:
            return edit
    return None


def minimal_edit(old: bytes, new: bytes) -> Edit | None:
    """One edit that turns ``old`` into ``new`` (common prefix and suffix left alone)."""
    if old == new:
        return None
    prefix = 0
    limit = min(len(old), len(new))
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    # Never split a UTF-8 sequence: the first differing byte must start a character.
    while 0 < prefix < len(old) and (old[prefix] & 0xC0) == 0x80:
        prefix -= 1
    suffix = 0
    while suffix < limit - prefix and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]:
        suffix += 1
    while suffix > 0 and (old[len(old) - suffix] & 0xC0) == 0x80:
        suffix -= 1
    text = new[prefix : len(new) - suffix].decode("utf-8", errors="surrogateescape")
    return Edit(prefix, len(old) - suffix, text)


def fix_all_edit(doc: Document, path: str, document_changes: bool = True) -> types.WorkspaceEdit:
    """The edit of "Remove all unused imports": every F401 fix, applied pass after pass."""
    from drain_ls.analysis.checker import CheckSettings
    from drain_ls.analysis.fixes import fix_source

    result = fix_source(doc.source, path, CheckSettings(select=frozenset({"F401"})))
    edit = minimal_edit(doc.source, result.source)
    return workspace_edit(doc, [edit] if edit is not None else [], document_changes)
