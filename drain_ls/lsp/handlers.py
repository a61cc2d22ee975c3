"""The only place that registers LSP features and commands: thin handlers over ``DrainServer``."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from lsprotocol import types
from tree_sitter import Node

from drain_ls.engine.custom import drain_title
from drain_ls.engine.drains import BUILTIN, MODULE, definitions, qualname_of
from drain_ls.engine.scheduler import Result, age
from drain_ls.lsp.documents import Document
from drain_ls.lsp.features.actions import (
    FIX_ALL_KIND,
    code_actions,
    fix_all_edit,
    generated_docstring_actions,
    wanted,
)
from drain_ls.lsp.features.hover import hover_markdown
from drain_ls.lsp.loop import freeze_heap
from drain_ls.lsp.positions import Position
from drain_ls.lsp.server import DrainServer
from drain_ls.lsp.warm_messages import warm_messages

logger = logging.getLogger("drain_ls")

COMMANDS = ("drain.status",)
# Seconds after ``initialized`` when what start-up made is frozen (``freeze_heap``).
FREEZE_AFTER = 1.0


def _client_supports_document_changes(ls: DrainServer) -> bool:
    workspace = ls.client_capabilities.workspace
    edit = workspace.workspace_edit if workspace is not None else None
    return bool(edit is not None and edit.document_changes)


def create_server() -> DrainServer:
    """A server with every feature registered."""
    server = DrainServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: DrainServer, params: types.InitializeParams) -> None:
        options = params.initialization_options
        if isinstance(options, dict):
            # Some clients wrap the object in the section name.
            section = options.get("drainLs")
            ls.init_layer = section if isinstance(section, dict) else options
        text_document = params.capabilities.text_document
        ls.pull_diagnostics = bool(text_document is not None and text_document.diagnostic)
        ls.load_file_layer()
        ls.apply_settings()
        logger.info(
            "drain-ls initialized: encoding %s, %s diagnostics",
            ls.encoding,
            "pull" if ls.pull_diagnostics else "push",
        )

    @server.feature(types.INITIALIZED)
    async def initialized(ls: DrainServer, params: types.InitializedParams) -> None:
        await pull_configuration(ls)
        ls.run_task(watch_pyprojects(ls), "watch pyproject.toml")
        # Before the first keystroke, which should cost what the others do.
        warm_messages(ls.protocol, ls.json_converter)
        asyncio.get_running_loop().call_later(FREEZE_AFTER, freeze_heap)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: DrainServer, params: types.DidChangeConfigurationParams
    ) -> None:
        if _client_has_configuration(ls):
            await pull_configuration(ls)
            return
        settings = params.settings
        if isinstance(settings, dict):
            section = settings.get("drainLs", settings)
            ls.client_layer = section if isinstance(section, dict) else {}
            if ls.apply_settings():
                ls.reanalyse_all()

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(
        ls: DrainServer, params: types.DidChangeWatchedFilesParams
    ) -> None:
        paths = [
            Path(path)
            for change in params.changes
            if change.uri.endswith("/pyproject.toml")
            and (path := ls.path_of(change.uri)) != change.uri
        ]
        if paths:
            ls.pyproject_changed(paths)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: DrainServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.notice_pyproject_edits()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: DrainServer, params: types.DidOpenTextDocumentParams) -> None:
        doc = params.text_document
        ls.notice_pyproject_edits()
        ls.open_document(doc.uri, doc.text, doc.version, doc.language_id)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: DrainServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.change_document(params)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: DrainServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.close_document(params.text_document.uri)

    @server.feature(
        types.TEXT_DOCUMENT_DIAGNOSTIC,
        types.DiagnosticOptions(
            identifier="drain-ls", inter_file_dependencies=False, workspace_diagnostics=False
        ),
    )
    def diagnostic(
        ls: DrainServer, params: types.DocumentDiagnosticParams
    ) -> types.DocumentDiagnosticReport:
        analysis = ls.flush(params.text_document.uri)
        if analysis is None:
            return types.RelatedFullDocumentDiagnosticReport(items=[])
        if params.previous_result_id == analysis.result_id:
            return types.RelatedUnchangedDocumentDiagnosticReport(result_id=analysis.result_id)
        return types.RelatedFullDocumentDiagnosticReport(
            items=analysis.diagnostics, result_id=analysis.result_id
        )

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL_KIND],
            resolve_provider=True,
        ),
    )
    def code_action(
        ls: DrainServer, params: types.CodeActionParams
    ) -> list[types.CodeAction] | None:
        uri = params.text_document.uri
        analysis = ls.flush(uri)
        doc = ls.documents.get(uri)
        if analysis is None or doc is None or doc.out_of_sync is not None:
            return None  # out of sync: an edit could land on text the editor no longer has
        ls.touch(uri)
        start = doc.offset_at(Position(params.range.start.line, params.range.start.character))
        end = doc.offset_at(Position(params.range.end.line, params.range.end.character))
        only = params.context.only
        actions = code_actions(
            doc,
            analysis.findings,
            min(start, end),
            max(start, end),
            [str(k) for k in only] if only else None,
            _client_supports_document_changes(ls),
            ls.check_settings_for(uri).docstring_style,
        )
        if wanted(types.CodeActionKind.QuickFix, [str(k) for k in only] if only else None):
            actions = (
                generated_docstring_actions(
                    doc,
                    analysis.findings,
                    min(start, end),
                    max(start, end),
                    lambda drain, qualname, scope: _result_text(ls, uri, drain, qualname, scope),
                    _client_supports_document_changes(ls),
                )
                + actions
            )
        actions += _dismiss_actions(ls, doc, min(start, end), max(start, end))
        if actions and not _client_resolves_edits(ls):
            actions = [resolve_action(ls, a) for a in actions]
        if doc.lossy:
            actions = [a for a in actions if not _writes_replacement(doc, a)]
        return actions

    @server.feature(types.CODE_ACTION_RESOLVE)
    def code_action_resolve(ls: DrainServer, action: types.CodeAction) -> types.CodeAction:
        return resolve_action(ls, action)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: DrainServer, params: types.HoverParams) -> types.Hover | None:
        doc = ls.documents.get(params.text_document.uri)
        if doc is None:
            return None
        ls.touch(doc.uri)
        offset = doc.offset_at(Position(params.position.line, params.position.character))
        result = hover_markdown(doc, offset, lambda d, node: _summary_sections(ls, d, node))
        if result is None:
            if params.position.line == 0:
                return _module_hover(ls, doc)
            return None
        markdown, name = result
        a = doc.position_at(name.start_byte)
        b = doc.position_at(name.end_byte)
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=markdown),
            range=types.Range(
                start=types.Position(line=a.line, character=a.character),
                end=types.Position(line=b.line, character=b.character),
            ),
        )

    @server.command("drain.status")
    def status(ls: DrainServer, *args: Any) -> dict[str, Any]:
        return ls.status()

    @server.command("drain.runNow")
    def run_now(ls: DrainServer, *args: Any) -> dict[str, Any]:
        if ls.scheduler is not None:
            ls.scheduler.run_now()
        return ls.drain_status()

    @server.command("drain.pause")
    def pause(ls: DrainServer, *args: Any) -> dict[str, Any]:
        if ls.scheduler is not None:
            ls.scheduler.pause()
        return ls.drain_status()

    @server.command("drain.resume")
    def resume(ls: DrainServer, *args: Any) -> dict[str, Any]:
        if ls.scheduler is not None:
            ls.scheduler.resume()
        return ls.drain_status()

    @server.command("drain.cancelAll")
    def cancel_all(ls: DrainServer, *args: Any) -> dict[str, Any]:
        cancelled = ls.scheduler.cancel_all() if ls.scheduler is not None else 0
        return {**ls.drain_status(), "cancelledNow": cancelled}

    @server.command("drain.preview")
    def preview_command(ls: DrainServer, *args: Any) -> dict[str, Any]:
        if not args or not isinstance(args[0], str):
            raise ValueError("drain.preview needs a document URI (then a drain, a name)")
        drain = args[1] if len(args) > 1 and isinstance(args[1], str) else None
        qualname = args[2] if len(args) > 2 and isinstance(args[2], str) else None
        return ls.preview(args[0], drain, qualname)

    @server.command("drain.dismiss")
    def dismiss_command(ls: DrainServer, *args: Any) -> dict[str, Any]:
        if len(args) < 3 or not all(isinstance(a, str) for a in args[:3]):
            raise ValueError("drain.dismiss needs a URI, a drain and a name")
        return {"dismissed": ls.dismiss(args[0], args[1], args[2])}

    @server.command("drain.report")
    def report_command(ls: DrainServer, *args: Any) -> dict[str, Any]:
        days = args[0] if args and isinstance(args[0], int) and args[0] > 0 else 7
        return ls.report(days)

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: DrainServer, *args: Any) -> None:
        logger.info("shutting down")
        await ls.engine.close(session_end=True)
        ls.cancel_all_tasks()

    return server


def _dismiss_actions(
    ls: DrainServer, doc: Document, start: int, end: int
) -> list[types.CodeAction]:
    """ "Dismiss this suggestion" for each drain result on a definition under the range."""
    results = ls.drain_results.get(doc.uri)
    if not results:
        return []
    actions = []
    for node, qualname, _ in definitions(doc.tree.root_node):
        name = node.child_by_field_name("name")
        if name is None or not (name.start_byte <= end and start <= name.end_byte):
            continue
        scope = doc.source[node.start_byte : node.end_byte].decode("utf-8", "surrogateescape")
        drains = [*BUILTIN, *(d.name for d in ls.custom_drains)]
        for drain in drains:
            if ls.drain_result(doc.uri, drain, qualname, scope) is None:
                continue
            actions.append(
                types.CodeAction(
                    title=f"Dismiss this suggestion ({drain})",
                    kind=types.CodeActionKind.QuickFix,
                    command=types.Command(
                        title="Dismiss this suggestion",
                        command="drain.dismiss",
                        arguments=[doc.uri, drain, qualname],
                    ),
                )
            )
    return actions


def _result_text(ls: DrainServer, uri: str, drain: str, qualname: str, scope: str) -> str | None:
    result = ls.drain_result(uri, drain, qualname, scope)
    return result.text if result is not None else None


def _provenance(result: Result) -> str:
    return (
        f"{result.model} · {result.tokens} tokens · ${result.cost:.4f} · {age(result.created)}"
        + (" · cached" if result.cached else "")
    )


def _hover_drains(ls: DrainServer, scopes: tuple[str, ...]) -> list[str]:
    return [d.name for d in ls.custom_drains if d.output == "hover" and d.scope in scopes]


def _summary_sections(ls: DrainServer, doc: Document, definition: Node) -> list[str]:
    """The drains' answers for a hovered definition (the ``summaries`` drain and custom
    drains with ``output = "hover"``), with their provenance."""
    qualname = qualname_of(definition)
    if qualname is None:
        return []
    node = definition
    scope = doc.source[node.start_byte : node.end_byte].decode("utf-8", "surrogateescape")
    sections = []
    for drain in ["summaries", *_hover_drains(ls, ("function", "class"))]:
        result = ls.drain_result(doc.uri, drain, qualname, scope)
        if result is None:
            continue
        title = drain_title(drain)
        sections.append(f"**{title}** — {result.text}\n\n*{_provenance(result)}*")
    return sections


def _module_hover(ls: DrainServer, doc: Document) -> types.Hover | None:
    """On the first line: the answers of module- and file-scope drains with hover output."""
    sections = []
    for drain in _hover_drains(ls, ("module", "file")):
        result = ls.drain_result(doc.uri, drain, MODULE, ls.module_scope(doc, drain))
        if result is not None:
            sections.append(f"**{drain}** — {result.text}\n\n*{_provenance(result)}*")
    if not sections:
        return None
    return types.Hover(
        contents=types.MarkupContent(
            kind=types.MarkupKind.Markdown, value="\n\n---\n\n".join(sections)
        )
    )


def _client_has_configuration(ls: DrainServer) -> bool:
    workspace = ls.client_capabilities.workspace
    return bool(workspace is not None and workspace.configuration)


def _client_resolves_edits(ls: DrainServer) -> bool:
    text_document = ls.client_capabilities.text_document
    action = text_document.code_action if text_document is not None else None
    support = action.resolve_support if action is not None else None
    return bool(support is not None and "edit" in support.properties)


def resolve_action(ls: DrainServer, action: types.CodeAction) -> types.CodeAction:
    """Fill in the edit of a lazily computed action ("Remove all unused imports")."""
    data = action.data
    if action.edit is not None or not isinstance(data, dict) or data.get("action") != "fixAll":
        return action
    uri = data.get("uri")
    doc = ls.documents.get(uri) if isinstance(uri, str) else None
    if doc is None or doc.out_of_sync is not None:
        return action  # no edit: the server's text may not be the editor's
    if data.get("version") != doc.version:
        logger.info("fix-all for %s computed on version %s", uri, doc.version)
    action.edit = fix_all_edit(doc, ls.path_of(doc.uri), _client_supports_document_changes(ls))
    if _writes_replacement(doc, action):
        action.edit = None  # it would write U+FFFD over a lone surrogate of the editor's
    return action


def _writes_replacement(doc: Document, action: types.CodeAction) -> bool:
    """Whether ``action`` writes U+FFFD into a document where U+FFFD may stand for a lone
    surrogate of the editor's text (``Document.lossy``): it would replace the editor's
    character."""
    edit = action.edit
    if not doc.lossy or edit is None:
        return False
    texts = [
        e.new_text
        for change in edit.document_changes or []
        if isinstance(change, types.TextDocumentEdit)
        for e in change.edits
        if isinstance(e, types.TextEdit | types.AnnotatedTextEdit)
    ]
    texts += [e.new_text for edits in (edit.changes or {}).values() for e in edits]
    return any("\ufffd" in text for text in texts)


async def watch_pyprojects(ls: DrainServer) -> None:
    """Ask a client that can to report changes to any ``pyproject.toml``
    (``workspace/didChangeWatchedFiles``): the rules of the documents below it change. (A
    client that cannot: each one read is looked at again when a document is opened or
    saved.)"""
    workspace = ls.client_capabilities.workspace
    watched = workspace.did_change_watched_files if workspace is not None else None
    if watched is None or not watched.dynamic_registration:
        return
    watcher = types.FileSystemWatcher(glob_pattern="**/pyproject.toml")
    registration = types.Registration(
        id="drain-ls-pyproject",
        method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
        register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=[watcher]),
    )
    try:
        # Shielded: pygls bug #621, as for workspace/configuration.
        await asyncio.shield(
            ls.client_register_capability_async(
                types.RegistrationParams(registrations=[registration])
            )
        )
    except Exception as exc:
        logger.info("the client did not register the pyproject.toml watcher: %s", exc)


async def pull_configuration(ls: DrainServer) -> None:
    """Ask the client for the ``drainLs`` section and apply it."""
    if not _client_has_configuration(ls):
        return
    try:
        # Shielded: pygls bug #621 turns a cancelled configuration request into an error.
        result = await asyncio.shield(
            ls.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section="drainLs")])
            )
        )
    except Exception as exc:
        logger.warning("workspace/configuration failed: %s", exc)
        return
    section = result[0] if result else None
    ls.client_layer = section if isinstance(section, dict) else {}
    if ls.apply_settings():
        ls.reanalyse_all()
