"""The language server: documents, analysis scheduling, diagnostics store, settings, tasks.

``handlers.py`` wires LSP messages to the methods here; this module holds the state and the
logic, and the features (``features/``) are plain functions of documents and findings. The
JSON-RPC side, and serving it over stdio or TCP, are in ``protocol.py``; the drain engine's
front end, a base of ``DrainServer``, is ``DrainFront`` (``drain_front.py``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcMethodNotFound
from pygls.uris import to_fs_path

from drain_ls import __version__
from drain_ls.analysis.checker import CheckSettings
from drain_ls.analysis.incremental import IncrementalChecker
from drain_ls.analysis.model import Finding
from drain_ls.config import (
    Settings,
    WorkspaceTrust,
    load_user_config,
    resolve_settings,
    settings_to_json,
)
from drain_ls.config.workspace import workspace_layer
from drain_ls.engine.custom import CustomDrain
from drain_ls.engine.engine import DrainEngine
from drain_ls.engine.scheduler import Result
from drain_ls.files import ConfigError, ProjectConfig
from drain_ls.lsp.documents import Change, ChangeError, Document
from drain_ls.lsp.drain_front import DrainFront
from drain_ls.lsp.envelope import describe, plain_text
from drain_ls.lsp.features.diagnostics import DiagnosticCache, make_converter
from drain_ls.lsp.logs import configure_logging as configure_logging  # for `drain-ls serve`
from drain_ls.lsp.loop import _cancel_task, _cancel_timer, freeze_heap, in_slices
from drain_ls.lsp.positions import UTF8, UTF16, UTF32, Position, encode_text
from drain_ls.lsp.project_rules import ProjectRules, RulesFront
from drain_ls.lsp.protocol import DrainProtocol, DrainServing

logger = logging.getLogger("drain_ls")

# Syntax trees kept in memory: those of the documents touched last. A tree takes about 20
# bytes per byte of source; the others are parsed again when needed (milliseconds).
MAX_TREES = 32
# How long the user must pause before a large document's tree is chunked (again), and before
# a version with a syntax error, shown at once with the last findings, is analysed in full.
SETTLE_SECONDS = 0.3
# How long the analysis after a keystroke waits when the keystroke cancelled a drain's stream:
# enough turns of the event loop for the stream's connection to close first.
CANCEL_GRACE = 0.003


@dataclass(slots=True)
class Analysis:
    """The findings of one version of one document."""

    version: int | None
    findings: list[Finding]
    diagnostics: list[types.Diagnostic]
    result_id: str
    # The last findings moved, for a version with a syntax error: analysed once the user pauses.
    provisional: bool = False


def _encoding_name(encoding: object) -> str:
    value = str(getattr(encoding, "value", encoding) or UTF16).lower()
    return {"utf-8": UTF8, "utf-16": UTF16, "utf-32": UTF32}.get(value, UTF16)


class DrainServer(RulesFront, DrainFront, DrainServing):
    """drain-ls: static diagnostics now, background drains when idle."""

    def __init__(self) -> None:
        """A server with no documents yet and the default settings."""
        super().__init__(
            "drain-ls",
            __version__,
            protocol_cls=DrainProtocol,
            converter_factory=make_converter,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
        )
        self.documents: dict[str, Document] = {}
        self.analyses: dict[str, Analysis] = {}
        self.checkers: dict[str, IncrementalChecker] = {}
        self._diagnostic_caches: dict[str, DiagnosticCache] = {}
        self.json_converter = make_converter()  # pygls's, for what the server encodes itself
        self.settings = Settings()
        # The workspace's settings layer: untrusted (drain_ls/config/trust.py narrows it).
        self.file_layer: dict[str, Any] = {}
        self.user_layer: dict[str, Any] = {}  # the user config file
        self.workspace_trust = WorkspaceTrust()
        self.rules = ProjectRules()  # each document's, from its nearest pyproject.toml
        self.init_layer: dict[str, Any] = {}
        self.client_layer: dict[str, Any] = {}
        self.settings_generation = 0
        self.reported_problems: set[str] = set()
        self.pull_diagnostics = False
        self.tasks: set[asyncio.Task[Any]] = set()
        self._pending: dict[str, asyncio.TimerHandle] = {}
        # Per document: chunking its syntax tree again once the user pauses (see settle).
        self._settling: dict[str, asyncio.TimerHandle] = {}
        # Per document: its drain tasks being built (``submit_drains``), its tree being cut
        # into chunks (``_schedule_settle``).
        self._building: dict[str, asyncio.Task[None]] = {}
        self._cutting: dict[str, asyncio.Task[None]] = {}
        self._recent: dict[str, None] = {}  # URIs by last use, oldest first
        # The drains (``drain_ls.engine``): this server is their front end.
        self.engine = DrainEngine(self)
        self.engine.on_start = self._drain_started
        self.engine.on_end = self._drain_ended
        self.engine.freeze_heap = freeze_heap
        self._custom: list[CustomDrain] = []  # the custom drains of the settings in force
        self.drain_results: dict[str, dict[tuple[str, str], Result]] = {}
        self._progress: dict[int, tuple[str, asyncio.Task[Any]]] = {}
        self._excluded_logged: set[str] = set()
        self.started = time.monotonic()

    # -- errors and logs --------------------------------------------------------------------

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Log unexpected errors plainly instead of showing pygls's popup for each (their
        traceback only at DEBUG level)."""
        if isinstance(error, JsonRpcMethodNotFound):
            logger.warning("%s", plain_text(error.message))
            return
        logger.error(
            "internal error (%s): %s", getattr(source, "__name__", source), describe(error)
        )
        logger.debug("its traceback", exc_info=error)

    def warn_user(self, message: str) -> None:
        """A warning the user should see (a popup), also logged."""
        logger.warning("%s", message)
        self.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Warning, message=f"drain-ls: {message}")
        )

    # -- tasks --------------------------------------------------------------------------------

    def run_task(self, coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run a background task the server owns (and cancels at shutdown)."""
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.error("task %s failed: %r", task.get_name(), exc)

    def cancel_all_tasks(self) -> None:
        """Cancel every background task and pending analysis (shutdown)."""
        for handle in [*self._pending.values(), *self._settling.values()]:
            handle.cancel()
        self._pending.clear()
        self._settling.clear()
        for task in list(self.tasks):
            task.cancel()

    # -- settings -------------------------------------------------------------------------------

    @property
    def check_settings(self) -> CheckSettings:
        """What the static checks select, from the workspace's settings."""
        return CheckSettings(
            select=self.settings.codes,
            docstring_style=self.settings.docstring_style,
            target_version=self.settings.target,
        )

    def _tell(self, problems: list[str]) -> None:
        for problem in problems:
            if problem not in self.reported_problems:
                self.reported_problems.add(problem)
                self.warn_user(problem)

    def workspace_root(self) -> Path | None:
        """The first workspace folder (or the root URI) as a path."""
        try:
            workspace = self.workspace
        except RuntimeError:
            return None
        folders = list(workspace.folders.values())
        uri = folders[0].uri if folders else workspace.root_uri
        path = to_fs_path(uri) if uri else None
        return Path(path).resolve() if path else None

    def load_file_layer(self) -> None:
        """Read the workspace's ``[tool.drain-ls]`` (the nearest ``pyproject.toml`` at or
        above its root: untrusted, narrowed by ``resolve_settings``) and the user's own
        config file."""
        self.user_layer, problems = load_user_config()
        for problem in problems:
            self.warn_user(problem)
        root = self.workspace_root()
        self.file_layer = {}
        self.rules.set_workspace(self._workspace_paths(), None)
        if root is None:
            return
        try:
            self.file_layer, project = workspace_layer(root)
        except ConfigError as exc:
            self.warn_user(str(exc))
            project = ProjectConfig(self.rules.finder.root_of(root))
        self.rules.set_workspace(self._workspace_paths(), project.root)

    def apply_settings(self) -> bool:
        """Rebuild the settings from every layer; True when the workspace's changed (the
        documents whose rules alone changed are analysed again here)."""
        settings, problems, self.workspace_trust = resolve_settings(
            self.file_layer, self.user_layer, self.init_layer, self.client_layer
        )
        self._tell(problems)
        custom = list(settings.drains.custom.valid)
        self._tell(list(settings.drains.custom.problems))
        self._custom = custom
        changed = settings != self.settings
        self.settings = settings
        before = self.rules.reset()
        moved = [u for u in self.documents if u in before and self._rules_moved(u, before[u])]
        if changed:
            self.settings_generation += 1
            self.checkers.clear()
            logger.info("settings: %s", settings_to_json(settings))
        self.configure_drains()
        for uri in [] if changed else moved:
            self.checkers.pop(uri, None)
            self.analyse(uri)
        return changed

    # -- documents ----------------------------------------------------------------------------

    @property
    def encoding(self) -> str:
        """The negotiated position encoding."""
        try:
            return _encoding_name(self.workspace.position_encoding)
        except RuntimeError:
            return UTF16

    def open_document(self, uri: str, text: str, version: int | None, language_id: str) -> None:
        """A new document (or one opened again: in sync again), analysed at once.

        Lone surrogates become U+FFFD in our copy (``documents.encode_text``: positions stay
        the editor's, and no fix writes over them). A document over
        ``diagnostics.maxFileBytes`` (5 MiB) is neither parsed nor analysed: one diagnostic says why (``Document.not_analysed``).
        """
        data, replaced = encode_text(text)
        doc = Document(
            uri,
            data,
            version,
            self.encoding,
            language_id,
            limit=self.settings.diagnostics.max_file_bytes,
            lossy=replaced > 0,
        )
        self.documents[uri] = doc
        self._diagnostic_caches.pop(uri, None)
        self.checkers.pop(uri, None)  # opened again without a close: nothing carries over
        if replaced:
            logger.info("%s: %d lone surrogate(s) read as U+FFFD", uri, replaced)
        if doc.too_large:
            logger.warning("%s is %d bytes: not analysed", uri, len(data))
        if self.scheduler is not None:
            self.scheduler.activity()
        self.analyse(uri)

    def change_document(self, params: types.DidChangeTextDocumentParams) -> None:
        """Apply a change set to our copy, as a whole or not at all (``_reject_change``);
        then re-analyse after the debounce delay.

        A document out of sync ignores change sets until one holds a whole-text change,
        which brings it back in sync (LSP has no request for the editor's text: the editor
        sends it on a reopen, or such a change).
        """
        uri = params.text_document.uri
        doc = self.documents.get(uri)
        if doc is None:
            logger.error("didChange for %s, which is not open: ignored", uri)
            return
        version = params.text_document.version
        changes = [
            Change(
                Position(c.range.start.line, c.range.start.character),
                Position(c.range.end.line, c.range.end.character),
                c.text,
            )
            if isinstance(c, types.TextDocumentContentChangePartial)
            else Change(None, None, c.text)
            for c in params.content_changes
        ]
        resync = doc.out_of_sync is not None
        if resync and all(c.start is not None for c in changes):
            logger.info(
                "ignored version %s of %s: out of sync until it is opened again", version, uri
            )
            return
        _cancel_timer(self._settling, uri)
        scheduler = self.scheduler
        cancelled = 0

        def on_edit(start: int, end: int, new_end: int) -> bool:
            # Told before each edit is made: a stale stream closes first, and the tree is
            # reparsed after it (when the analysis reads it), not in front of the close.
            nonlocal cancelled
            if scheduler is not None:
                cancelled += scheduler.edited(uri, [(start, end, new_end)])
            return cancelled > 0

        try:
            doc.apply_changes(changes, version, on_edit)
        except ChangeError as exc:
            self._reject_change(doc, str(exc), version)
            return
        if resync:
            doc.out_of_sync = None
            logger.info("%s is in sync again (version %s)", uri, version)
        # A stream just cancelled closes its connection over the next few turns of the event
        # loop: the analysis waits for them (else a long one held the close back).
        self.schedule_analysis(uri, settle_first=cancelled > 0)

    def _reject_change(self, doc: Document, reason: str, version: int | None = None) -> None:
        """A change set we cannot apply: the document keeps its last good text, version and
        findings, and is out of sync: no code action or fix is offered for it until the
        editor sends its whole text again. The user is told once (then it is logged)."""
        told = doc.out_of_sync is not None
        doc.out_of_sync = reason
        message = (
            f"ignored an edit of {doc.uri} (version {version}; the server keeps version "
            f"{doc.version}): {reason}. The server's copy now differs from the editor's: "
            "reopen the file to resync (until then drain-ls offers no fixes for it)."
        )
        if told:
            logger.info("%s", message)
            return
        logger.error("%s", message)
        self.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Error, message=f"drain-ls: {message}")
        )

    def close_document(self, uri: str) -> None:
        """Forget a document and clear its diagnostics."""
        self.documents.pop(uri, None)
        self.rules.forget([uri])
        self._recent.pop(uri, None)
        self.drain_results.pop(uri, None)
        if self.scheduler is not None:
            self.scheduler.forget(uri)
        self.analyses.pop(uri, None)
        self.checkers.pop(uri, None)
        self._diagnostic_caches.pop(uri, None)
        _cancel_timer(self._pending, uri)
        _cancel_timer(self._settling, uri)
        _cancel_task(self._building, uri)
        _cancel_task(self._cutting, uri)
        if not self.pull_diagnostics:
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
            )

    # -- analysis -----------------------------------------------------------------------------

    def schedule_analysis(self, uri: str, settle_first: bool = False) -> None:
        """Re-analyse ``uri`` once the user pauses for ``diagnostics.debounceMs`` (and at
        least ``CANCEL_GRACE`` seconds when ``settle_first``: a cancelled stream closes)."""
        _cancel_timer(self._pending, uri)
        delay = self.settings.diagnostics.debounce_ms / 1000
        if settle_first:
            delay = max(delay, CANCEL_GRACE)
        loop = asyncio.get_running_loop()
        self._pending[uri] = loop.call_later(delay, self._analyse_pending, uri)

    def _analyse_pending(self, uri: str) -> None:
        self._pending.pop(uri, None)
        self.analyse(uri)

    def flush(self, uri: str) -> Analysis | None:
        """The analysis of the current version of ``uri``, running a pending one now."""
        doc = self.documents.get(uri)
        if doc is None:
            return None
        current = self.analyses.get(uri)
        if uri in self._pending or current is None or current.version != doc.version:
            _cancel_timer(self._pending, uri)
            return self.analyse(uri, publish=not self.pull_diagnostics)
        return current

    def path_of(self, uri: str) -> str:
        """The file system path of a document, or its URI when it has none (callers read
        ``path == uri`` as "not a file" and touch no file): a URI that is not ``file:``,
        or whose path is relative, holds a NUL byte, cannot be encoded, or is longer than
        any path can be."""
        try:
            path = to_fs_path(uri)
        except Exception:
            return uri
        if not path or "\0" in path or not os.path.isabs(path):
            return uri
        try:
            encoded = os.fsencode(path)
        except UnicodeError:  # a lone surrogate
            return uri
        # Linux's PATH_MAX and NAME_MAX: no file has a longer path or name.
        if len(encoded) >= 4096 or any(len(part) > 255 for part in encoded.split(b"/")):
            return uri
        return path

    def analyse(self, uri: str, publish: bool = True, exact: bool = False) -> Analysis | None:
        """Run the static checks on the current version of ``uri`` and publish them.

        A version with a syntax error is not analysed at the keystroke (unless ``exact``):
        its syntax error is published at once with the last findings, moved by the edits,
        outside the error (``IncrementalChecker.provisional``); the full analysis follows
        when the user pauses (``SETTLE_SECONDS``).
        """
        doc = self.documents.get(uri)
        if doc is None:
            return None
        findings: list[Finding] = []
        provisional = False
        not_analysed = doc.not_analysed  # too large: never parsed (``open_document``)
        if not_analysed is None and b"\0" in doc.source:
            logger.warning("%s contains NUL bytes: not analysed", uri)
        elif not_analysed is None:
            checker = self.checkers.get(uri)
            if checker is None:
                # Docstring fixes are made from the document when asked for: a stored
                # factory would keep this version's tree alive.
                checker = self.checkers[uri] = IncrementalChecker(
                    self.path_of(uri), self.check_settings_for(uri), fix_factories=False
                )
            try:
                quick = None
                if not exact and doc.tree.root_node.has_error:
                    quick = checker.provisional(doc.source, doc.tree, doc.changes)
                if quick is not None:
                    findings, provisional = quick, True
                else:
                    findings = checker.check(doc.source, doc.tree, doc.changes)
            except Exception:
                logger.exception("analysis of %s failed", uri)
                self.checkers.pop(uri, None)
        if not provisional:  # the changes are still to be analysed
            doc.changes.reset()
        self.touch(uri)
        cache = self._diagnostic_caches.get(uri)
        if cache is None:
            cache = self._diagnostic_caches[uri] = DiagnosticCache()
        diagnostics = cache.diagnostics(doc, findings, doc.take_shift())
        if not_analysed is not None:
            start = types.Position(line=0, character=0)
            diagnostics = [
                types.Diagnostic(
                    range=types.Range(start=start, end=start),
                    message=not_analysed,
                    severity=types.DiagnosticSeverity.Information,
                    source="drain-ls",
                )
            ]
        else:
            diagnostics += self._drain_diagnostics(doc)
        analysis = Analysis(
            doc.version,
            findings,
            diagnostics,
            f"{self.settings_generation}:{doc.version}:{len(diagnostics)}:{int(provisional)}",
            provisional,
        )
        self.analyses[uri] = analysis
        if publish and not self.pull_diagnostics:
            # What did not change since the last publication is not encoded again.
            protocol = self.protocol
            assert isinstance(protocol, DrainProtocol)
            protocol.publish_diagnostics_json(
                uri, doc.version, cache.json(diagnostics, self.json_converter)
            )
        self._schedule_settle(uri, doc, provisional)
        if self.scheduler is not None and not provisional and not_analysed is None:
            self.submit_drains(uri)
        return analysis

    def _schedule_settle(self, uri: str, doc: Document, provisional: bool = False) -> None:
        """Once the user pauses, analyse a provisional version in full. Cut a large
        document's tree into chunks at once, a slice at a time (``Forest.settle_steps``):
        otherwise the first keystroke does it, in one step (about 80 ms on a 10,000-line
        module)."""
        _cancel_timer(self._settling, uri)
        if provisional:
            loop = asyncio.get_running_loop()
            self._settling[uri] = loop.call_later(SETTLE_SECONDS, self._settle, uri)
        elif doc.has_tree and doc.tree.unsettled and uri not in self._cutting:
            self._cutting[uri] = self.run_task(self._cut(uri, doc), "cut into chunks")

    async def _cut(self, uri: str, doc: Document) -> None:
        try:
            await in_slices(doc.tree.settle_steps(), lambda: self.documents.get(uri) is doc)
        finally:
            if self._cutting.get(uri) is asyncio.current_task():
                del self._cutting[uri]

    def _settle(self, uri: str) -> None:
        self._settling.pop(uri, None)
        doc = self.documents.get(uri)
        if doc is None or uri in self._pending:
            return
        analysis = self.analyses.get(uri)
        verified = doc.verify_syntax()  # what keystrokes left for a pause
        if analysis is not None and verified and not analysis.provisional:
            self.analyse(uri, publish=not self.pull_diagnostics)
        elif analysis is not None and analysis.provisional and analysis.version == doc.version:
            exact = self.analyse(uri, publish=not self.pull_diagnostics, exact=True)
            if (
                self.pull_diagnostics
                and exact is not None
                and exact.findings != analysis.findings
                and self._client_refreshes_diagnostics()
            ):
                self.workspace_diagnostic_refresh(None)
        elif doc.has_tree:
            doc.tree.settle()

    def touch(self, uri: str) -> None:
        """``uri`` was used: keep its tree, and drop the trees of the least recently used."""
        self._recent.pop(uri, None)
        self._recent[uri] = None
        while len(self._recent) > MAX_TREES:
            oldest = next(iter(self._recent))
            del self._recent[oldest]
            doc = self.documents.get(oldest)
            if doc is not None:
                doc.drop_tree()

    def reanalyse_all(self) -> None:
        """Settings changed: every open document again, and pull clients told to refresh."""
        for uri in list(self.documents):
            self.analyse(uri)
        if self.pull_diagnostics and self._client_refreshes_diagnostics():
            self.workspace_diagnostic_refresh(None)

    def _client_refreshes_diagnostics(self) -> bool:
        workspace = self.client_capabilities.workspace
        diagnostics = workspace.diagnostics if workspace is not None else None
        return bool(diagnostics is not None and diagnostics.refresh_support)

    # -- status -------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """``drain.status``: what the server holds and the settings in force."""
        counts: dict[str, int] = {}
        for analysis in self.analyses.values():
            for finding in analysis.findings:
                counts[finding.code] = counts.get(finding.code, 0) + 1
        return {
            "version": __version__,
            "positionEncoding": self.encoding,
            "diagnosticsMode": "pull" if self.pull_diagnostics else "push",
            "documents": [
                {
                    "uri": uri,
                    "version": doc.version,
                    "bytes": len(doc.source),
                    "lines": len(doc.starts),
                    "findings": len(self.analyses[uri].findings) if uri in self.analyses else 0,
                }
                for uri, doc in sorted(self.documents.items())
            ],
            "findings": dict(sorted(counts.items())),
            "tasks": len(self.tasks),
            "drains": self.drain_status(),
            "uptimeSeconds": round(time.monotonic() - self.started, 3),
            "settings": settings_to_json(self.settings),
        }
