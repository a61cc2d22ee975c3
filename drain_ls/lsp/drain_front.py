"""The drain engine's front end in the language server (``DrainFront``, a base of ``DrainServer``).

What ``drain_ls.engine.engine.Host`` asks of its front end (the workspace, the open files, a
question to the user, a change of status), the drain tasks of each document built a slice at
a time (``submit_drains``), the drains' results and commit reviews shown as diagnostics,
``$/progress`` bars for drain runs, ``drain/status``, and the ``drain.*`` commands' answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Coroutine, Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from drain_ls.backends.base import Progress
from drain_ls.budget import Usage
from drain_ls.commits import still_there
from drain_ls.config import Settings, WorkspaceTrust
from drain_ls.engine.choices import choose_backend
from drain_ls.engine.custom import CustomDrain, drain_title
from drain_ls.engine.drains import (
    MODULE,
    Task,
    context_limit,
    definitions,
    module_outline,
    outline,
    preview,
    sha,
)
from drain_ls.engine.engine import DrainEngine
from drain_ls.engine.scheduler import Outcome, Result, Scheduler
from drain_ls.lsp.documents import Document
from drain_ls.lsp.features.diagnostics import to_range
from drain_ls.lsp.loop import _cancel_task, in_slices

if TYPE_CHECKING:
    from drain_ls.lsp.server import Analysis

logger = logging.getLogger("drain_ls")


class DrainFront(LanguageServer):
    """The drains' side of ``DrainServer``: what it is to the drain engine, and what the
    drains show the user. The server's own state and methods that it uses are declared here,
    and defined by ``DrainServer`` (``drain_ls.lsp.server``)."""

    documents: dict[str, Document]
    analyses: dict[str, Analysis]
    settings: Settings
    workspace_trust: WorkspaceTrust
    settings_generation: int
    engine: DrainEngine
    drain_results: dict[str, dict[tuple[str, str], Result]]
    _custom: list[CustomDrain]
    _building: dict[str, asyncio.Task[None]]
    _progress: dict[int, tuple[str, asyncio.Task[Any]]]
    _excluded_logged: set[str]

    if TYPE_CHECKING:  # the server's own methods, defined by ``DrainServer``

        def workspace_root(self) -> Path | None:
            """The first workspace folder (or the root URI) as a path."""

        def path_of(self, uri: str) -> str:
            """The file system path of a document, or its URI when it has none."""

        def warn_user(self, message: str) -> None:
            """A warning the user should see (a popup), also logged."""

        def run_task(self, coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
            """Run a background task the server owns (and cancels at shutdown)."""

        def analyse(self, uri: str, publish: bool = True, exact: bool = False) -> Analysis | None:
            """Run the static checks on the current version of ``uri`` and publish them."""

        def flush(self, uri: str) -> Analysis | None:
            """The analysis of the current version of ``uri``, running a pending one now."""

    # -- drain diagnostics --------------------------------------------------------------------

    def _drain_diagnostics(self, doc: Document) -> list[types.Diagnostic]:
        """Diagnostics of the ``simplify`` drain, of custom drains with ``output =
        "diagnostic"``, for code that did not change since, and of commit reviews, on the
        lines they point at that still exist."""
        out = self._review_diagnostics(doc) if self.engine.reviews else []
        results = self.drain_results.get(doc.uri)
        if not results:
            return out
        return out + self._result_diagnostics(doc, results)

    def _review_diagnostics(self, doc: Document) -> list[types.Diagnostic]:
        root = self.workspace_root()
        path = self.path_of(doc.uri)
        if root is None or path == doc.uri:
            return []
        try:
            relative = Path(path).resolve().relative_to(root).as_posix()
        except ValueError:
            return []
        lines: list[str] | None = None
        out = []
        for drain, review in self.engine.reviews.items():
            custom = self.custom_drain(drain)
            if custom is not None and custom.output != "diagnostic":
                continue
            severity = (
                _SEVERITIES[custom.severity] if custom else types.DiagnosticSeverity.Information
            )
            for finding in review.findings:
                if finding.path != relative:
                    continue
                if lines is None:
                    lines = re.split(r"\r\n|\r|\n", doc.source.decode("utf-8", "surrogateescape"))
                row = still_there(finding, review.batch, lines)
                if row is None:
                    continue
                start = doc.starts[row]
                text = lines[row]
                indent = len(text) - len(text.lstrip())
                out.append(
                    types.Diagnostic(
                        range=to_range(
                            doc,
                            start + len(text[:indent].encode("utf-8", "surrogateescape")),
                            start + len(text.encode("utf-8", "surrogateescape")),
                        ),
                        message=f"{drain}: {finding.message}",
                        severity=severity,
                        code=drain,
                        source="drain-ls",
                    )
                )
        return out

    def _result_diagnostics(
        self, doc: Document, results: dict[tuple[str, str], Result]
    ) -> list[types.Diagnostic]:
        wanted = {"simplify": types.DiagnosticSeverity.Information}
        for drain_def in self.custom_drains:
            if drain_def.output == "diagnostic":
                wanted[drain_def.name] = _SEVERITIES[drain_def.severity]
        out = []
        for (drain, qualname), result in results.items():
            if drain not in wanted or qualname != MODULE:
                continue
            if result.scope_hash != sha(self.module_scope(doc, drain)):
                continue
            end = doc.source.find(b"\n")
            out.append(
                self._drain_diagnostic(
                    doc, drain, result, 0, end if end >= 0 else len(doc.source), wanted[drain]
                )
            )
        for node, qualname, _ in definitions(doc.tree.root_node):
            text: str | None = None
            for drain, severity in wanted.items():
                found = results.get((drain, qualname))
                if found is None:
                    continue
                if text is None:
                    text = doc.source[node.start_byte : node.end_byte].decode(
                        "utf-8", "surrogateescape"
                    )
                if found.scope_hash != sha(text):
                    continue
                name = node.child_by_field_name("name") or node
                out.append(
                    self._drain_diagnostic(
                        doc, drain, found, name.start_byte, name.end_byte, severity
                    )
                )
        return out

    def module_scope(self, doc: Document, drain: str) -> str:
        """What a module- or file-scope drain was given for the current text of ``doc``."""
        custom = self.custom_drain(drain)
        if custom is not None and custom.scope == "module":
            root = doc.tree.root_node
            return module_outline(doc.source, root, outline(doc.source, root))
        return doc.source.decode("utf-8", "surrogateescape")

    def _drain_diagnostic(
        self,
        doc: Document,
        drain: str,
        result: Result,
        start: int,
        end: int,
        severity: types.DiagnosticSeverity,
    ) -> types.Diagnostic:
        label = drain_title(drain)
        return types.Diagnostic(
            range=to_range(doc, start, end),
            message=f"{label}: {result.text}",
            severity=severity,
            code=drain,
            source="drain-ls",
        )

    # -- drains -------------------------------------------------------------------------------

    def configure_drains(self) -> None:
        """Start, restart or stop the drains (``DrainEngine.configure``) to match the
        settings."""
        self.engine.configure(
            self.settings,
            self._custom,
            self.workspace_trust,
            self.workspace_root(),
            self._workspace_paths(),
            self.settings_generation,
        )

    # -- what the engine asks of its front end (``drain_ls.engine.engine.Host``) ------------

    def _workspace_paths(self) -> list[str]:
        try:
            workspace = self.workspace
        except RuntimeError:
            return []
        uris = [f.uri for f in workspace.folders.values()] or (
            [workspace.root_uri] if workspace.root_uri else []
        )
        return [p for p in (to_fs_path(u) for u in uris) if p]

    def warn(self, message: str) -> None:
        """Tell the user (``window/showMessage``)."""
        self.warn_user(message)

    def open_paths(self) -> set[str]:
        """The resolved paths of the open documents."""
        return {str(Path(p).resolve()) for p in map(self.path_of, self.documents)}

    def resubmit(self) -> None:
        """The drains of every open document, again."""
        for uri in list(self.documents):
            self.submit_drains(uri)

    def admit(self, tasks: list[Task]) -> list[Task]:
        """All of them."""
        return tasks

    def status_changed(self) -> None:
        """``drain/status``, on every change of the drains' state."""
        self.send_drain_status()

    def reviews_changed(self) -> None:
        """A commit review's findings are diagnostics: every open document again."""
        for uri in list(self.documents):
            self.analyse(uri)

    async def ask(self, question: str, choices: Sequence[str]) -> str | None:
        """Ask with ``window/showMessageRequest``: the title chosen, None if dismissed."""
        try:
            # Shielded: pygls bug #621 turns a cancelled request into an error on the reply.
            choice = await asyncio.shield(
                self.window_show_message_request_async(
                    types.ShowMessageRequestParams(
                        type=types.MessageType.Info,
                        message=question,
                        actions=[types.MessageActionItem(title=c) for c in choices],
                    )
                )
            )
        except Exception as exc:
            logger.info("no answer to the consent question: %s", exc)
            return None
        return choice.title if choice is not None else None

    @property
    def scheduler(self) -> Scheduler | None:
        """The engine's scheduler (None while the drains are off)."""
        return self.engine.scheduler

    @property
    def custom_drains(self) -> list[CustomDrain]:
        """The custom drains in force."""
        return self.engine.custom_drains

    def custom_drain(self, name: str) -> CustomDrain | None:
        """The custom drain called ``name``."""
        return self.engine.custom_drain(name)

    def result_text(self, key: str) -> str | None:
        """A drain's answer by its task key (``DrainEngine.result_text``)."""
        return self.engine.result_text(key)

    def send_drain_status(self) -> None:
        """``drain/status``, on every change of the drains' state."""
        if self.protocol.writer is None:
            return
        try:
            status = self.engine.status()
        except Exception as exc:  # a status must never take the drains (or a request) down
            from drain_ls.engine.scheduler import describe

            logger.error("cannot make drain/status: %s", describe(exc))
            return
        self.protocol.notify("drain/status", status)

    def _client_shows_progress(self) -> bool:
        window = self.client_capabilities.window
        return bool(window is not None and window.work_done_progress)

    def _drain_started(self, task: Task, progress: Progress, job: asyncio.Task[None]) -> None:
        """A ``$/progress`` bar for a drain run; cancelling it cancels the drain."""
        if not self._client_shows_progress():
            return
        token = f"drain-{uuid.uuid4().hex[:12]}"
        created = self.run_task(self._begin_progress(token, task, progress, job), "progress")
        self._progress[id(task)] = (token, created)

    async def _begin_progress(
        self, token: str, task: Task, progress: Progress, job: asyncio.Task[None]
    ) -> None:
        try:
            # Shielded: pygls bug #621 turns a cancelled request into an error on the reply.
            await asyncio.shield(self.work_done_progress.create_async(token))
        except Exception as exc:
            logger.info("no progress bar: %s", exc)
            return
        future = self.work_done_progress.tokens.get(token)
        if future is not None:
            future.add_done_callback(lambda f: job.cancel() if f.cancelled() else None)
        self.work_done_progress.begin(
            token,
            types.WorkDoneProgressBegin(
                title=f"drain-ls {task.drain}: {task.qualname}",
                cancellable=True,
                message=f"{self.engine.model}",
            ),
        )
        while not job.done():
            await asyncio.sleep(0.5)
            if not job.done():
                tokens = progress.usage().total
                self.work_done_progress.report(
                    token, types.WorkDoneProgressReport(message=f"{tokens} tokens so far")
                )

    def _drain_ended(
        self, task: Task, outcome: Outcome, usage: Usage, cost: float, detail: str
    ) -> None:
        entry = self._progress.pop(id(task), None)
        if entry is None:
            return
        token, created = entry

        async def end() -> None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await created
            if token in self.work_done_progress.tokens:
                self.work_done_progress.end(
                    token,
                    types.WorkDoneProgressEnd(
                        message=f"{outcome}{f' ({detail})' if detail else ''}: "
                        f"{usage.total} tokens, ${cost:.5f}"
                    ),
                )
                # pygls never forgets a token (#607).
                self.work_done_progress.tokens.pop(token, None)

        self.run_task(end(), "progress end")

    def submit_drains(self, uri: str) -> None:
        """Give the scheduler the tasks of the current version of ``uri``.

        They are built a slice at a time on the event loop (``task_steps``; about 200 ms
        for the first version of a 10,000-line module, redacting every definition, 10 ms
        for the next), and the build is dropped when a newer version arrives: a keystroke
        never waits behind it, and its tree may then be edited under it.
        """
        scheduler = self.scheduler
        doc = self.documents.get(uri)
        analysis = self.analyses.get(uri)
        _cancel_task(self._building, uri)
        if scheduler is None or doc is None or analysis is None:
            return
        reason = self._excluded(uri)
        if reason is not None:
            if uri not in self._excluded_logged:
                self._excluded_logged.add(uri)
                logger.info("no drains for %s: %s", uri, reason)
            scheduler.submit(uri, [])
            return
        steps = self.engine.document_steps(
            uri, doc.source, doc.tree.root_node, doc.version, analysis.findings
        )
        self._building[uri] = self.run_task(
            self._build_tasks(uri, doc, doc.source, scheduler, steps), "drain tasks"
        )

    async def _build_tasks(
        self,
        uri: str,
        doc: Document,
        source: bytes,
        scheduler: Scheduler,
        steps: Generator[None, None, list[Task]],
    ) -> None:
        """Run ``steps`` a slice at a time; drop them when the document changed (or closed)
        since: a newer version submits its own."""
        try:
            tasks = await in_slices(
                steps, lambda: self.documents.get(uri) is doc and doc.source is source
            )
        finally:
            if self._building.get(uri) is asyncio.current_task():
                del self._building[uri]
        if tasks is None:
            return
        batched = self.engine.batched
        if batched:
            tasks = [t for t in tasks if t.key not in batched]  # a batch will answer
        limit = context_limit(self.settings.budget.max_tokens_per_drain)
        scheduler.context_changed(uri, outline(source, doc.tree.root_node, limit))
        scheduler.submit(uri, tasks)

    def _excluded(self, uri: str) -> str | None:
        """Why the content of ``uri`` may not be sent (None: it may)."""
        path = self.path_of(uri)
        return self.engine.excluded(path if path != uri else None)

    def file_result(self, result: Result) -> None:
        """A drain's answer for an open document: shown; a closed one's is in the cache."""
        if result.uri not in self.documents:
            return  # a deferred task of a closed file: its result is in the cache
        self.drain_results.setdefault(result.uri, {})[(result.drain, result.qualname)] = result
        logger.info(
            "drain %s on %s: %d tokens, $%.5f%s",
            result.drain,
            result.qualname,
            result.tokens,
            result.cost,
            " (cached)" if result.cached else "",
        )
        custom = self.custom_drain(result.drain)
        if result.drain == "simplify" or (custom is not None and custom.output == "diagnostic"):
            self.analyse(result.uri)
        elif any(d.after == result.drain for d in self.custom_drains):
            self.submit_drains(result.uri)  # a drain that runs after this one may start now

    def drain_result(self, uri: str, drain: str, qualname: str, scope_text: str) -> Result | None:
        """A drain's result for a definition, if it was made for exactly this code."""
        result = self.drain_results.get(uri, {}).get((drain, qualname))
        if result is None or result.scope_hash != sha(scope_text):
            return None
        return result

    def dismiss(self, uri: str, drain: str, qualname: str) -> bool:
        """``drain.dismiss``: this result never comes back, and its drain loses priority."""
        result = self.drain_results.get(uri, {}).pop((drain, qualname), None)
        if result is None or not self.engine.dismiss(result):
            return False
        custom = self.custom_drain(drain)
        if drain == "simplify" or (custom is not None and custom.output == "diagnostic"):
            self.analyse(uri)
        return True

    def preview(
        self, uri: str, drain: str | None = None, qualname: str | None = None
    ) -> dict[str, Any]:
        """``drain.preview``: exactly what the drains of ``uri`` would send, and the cost."""
        doc = self.documents.get(uri)
        analysis = self.flush(uri)
        if doc is None or analysis is None:
            return {"error": f"{uri} is not open"}
        choice = choose_backend(self.settings, preview=True)
        if choice.refused is not None or choice.price is None:
            return {"error": choice.refused}
        reason = None if choice.free else self._excluded(uri)
        model, price = choice.model, choice.price
        tasks = self.engine.document_tasks(
            uri, doc.source, doc.tree.root_node, doc.version, analysis.findings, model
        )
        out = []
        for task in tasks:
            if (drain and task.drain != drain) or (qualname and task.qualname != qualname):
                continue
            out.append({**preview(task, price), "excluded": reason})
        return {"uri": uri, "backend": self.settings.llm.backend, "previews": out}

    # -- status -------------------------------------------------------------------------------

    def drain_status(self) -> dict[str, Any]:
        """The drains' state (``drain/status``'s fields)."""
        return self.engine.status()

    def report(self, days: int = 7) -> dict[str, Any]:
        """``drain.report``: the ledger's report (empty when nothing was ever sent)."""
        return self.engine.report(days)


_SEVERITIES = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "information": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}
