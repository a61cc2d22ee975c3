"""The language server: documents, analysis scheduling, diagnostics store, settings, tasks.

``handlers.py`` wires LSP messages to the methods here; this module holds the state and the
logic, and the features (``features/``) are plain functions of documents and findings.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import json
import logging
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, TypeVar, cast

import attrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcMethodNotFound
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    MsgId,
)
from pygls.protocol.language_server import LanguageServerProtocol, lsp_method
from pygls.uris import to_fs_path

from drain_ls import __version__
from drain_ls.analysis.checker import CheckSettings
from drain_ls.analysis.incremental import IncrementalChecker
from drain_ls.analysis.model import Finding
from drain_ls.backends.base import Progress
from drain_ls.budget import Usage
from drain_ls.commits import still_there
from drain_ls.config import (
    Settings,
    WorkspaceTrust,
    camelize_keys,
    load_user_config,
    requires_python_layer,
    resolve_settings,
    settings_to_json,
)
from drain_ls.engine.choices import choose_backend
from drain_ls.engine.custom import CustomDrain, drain_title, parse_custom_drains
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
from drain_ls.files import ConfigError, find_project_config
from drain_ls.lsp.documents import (
    UTF8,
    UTF16,
    UTF32,
    Change,
    ChangeError,
    Document,
    Position,
    encode_text,
)
from drain_ls.lsp.features.diagnostics import DiagnosticCache, make_converter, to_range
from drain_ls.lsp.transport import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    PARSE_ERROR,
    REQUEST_CANCELLED,
    SERVER_NOT_INITIALIZED,
    ChunkReader,
    PipeReader,
    Rejected,
    ThreadReader,
    check_envelope,
    describe,
    error_response,
    is_id,
    is_own_pipe,
    params_problem,
    pipe_reader,
    plain_text,
    serve,
)

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
# How long building a document's drain tasks (or cutting its tree) may hold the event loop
# at a time.
BUILD_SLICE = 0.002
T = TypeVar("T")


@dataclass(slots=True)
class Analysis:
    """The findings of one version of one document."""

    version: int | None
    findings: list[Finding]
    diagnostics: list[types.Diagnostic]
    result_id: str
    # The last findings moved, for a version with a syntax error: analysed once the user pauses.
    provisional: bool = False


class DrainProtocol(LanguageServerProtocol):
    """pygls's protocol without its own copy of every document.

    pygls would rebuild its copy of the whole text on every change (and split lines the way
    ``str.splitlines`` does, which LSP does not); the server keeps its own documents instead.
    """

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> Any:
        """Hand ``didOpen`` to the server without keeping a pygls copy."""
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Any:
        """Hand ``didChange`` to the server without keeping a pygls copy."""
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Any:
        """Exit, but only once the reply to a ``shutdown`` still running has gone out:
        clients like Helix send ``exit`` right behind ``shutdown``."""
        answered = self._shutdown_answered
        if answered is None or (answered.is_set() and not self._writes):
            return (yield from super().lsp_exit(*args))

        async def later() -> None:
            await self.shutdown_answered()
            for _ in super(DrainProtocol, self).lsp_exit(*args):
                pass

        # Not one of the server's tasks: shutdown cancels those.
        self._exit_task = asyncio.get_running_loop().create_task(later(), name="exit")
        return None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams) -> Any:
        """Hand ``didClose`` to the server."""
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield handler, (params,), None

    _writes: ClassVar[set[asyncio.Future[Any]]] = set()

    def publish_diagnostics_json(self, uri: str, version: int | None, diagnostics: str) -> None:
        """``textDocument/publishDiagnostics`` with the diagnostics already a JSON array."""
        self.notify_json(
            types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS,
            '{"uri":'
            + json.dumps(uri)
            + ',"diagnostics":'
            + diagnostics
            + ',"version":'
            + json.dumps(version)
            + "}",
        )

    def notify_json(self, method: str, params: str) -> None:
        """Send a notification whose ``params`` are already JSON (ASCII only): what
        ``notify`` sends, without encoding again what has not changed."""
        if self.writer is None:
            logger.error("cannot send %s: no transport", method)
            return
        body = '{"method":' + json.dumps(method) + ',"jsonrpc":"2.0","params":' + params + "}"
        self._write_json(body, method)

    def _write_json(self, body: str, what: str) -> None:
        """Send one message already encoded as JSON (ASCII only)."""
        if self.writer is None:
            logger.error("cannot send %s: no transport", what)
            return
        header = (
            f"Content-Length: {len(body)}\r\n"
            f"Content-Type: {self.CONTENT_TYPE}; charset={self.CHARSET}\r\n\r\n"
        )
        try:
            result = self.writer.write((header + body).encode("ascii"))
            if inspect.isawaitable(result):  # an asynchronous transport
                task = asyncio.ensure_future(result)
                self._writes.add(task)
                task.add_done_callback(self._writes.discard)
        except BrokenPipeError:
            raise
        except Exception:
            logger.exception("could not send %s", what)

    # -- receiving: every request answered, the lifecycle rules of LSP enforced ------------

    _initialize_seen = False  # the client's `initialize` request has arrived
    _shutdown_seen = False  # and its `shutdown` request
    _shutdown_id: Any = None  # whose reply `exit` waits for
    _shutdown_answered: asyncio.Event | None = None

    def receive_json(self, value: object) -> None:
        """Handle one message read by ``drain_ls.lsp.transport.serve`` (a body's JSON value)."""
        self.handle_message(self.structure_message(value) if isinstance(value, dict) else value)

    def reply_parse_error(self) -> None:
        """Answer a body that is not JSON (with id null: its id cannot be read)."""
        self._reply_error(None, PARSE_ERROR, "Parse error: the message body is not JSON")

    def structure_message(self, data: dict[str, Any]) -> Any:
        """The typed message ``data`` is, or a ``Rejected`` saying why it cannot be handled.

        Never raises: pygls's would, from inside ``json.loads``, and the request would go
        unanswered. Also called by pygls's own reader (TCP) for every nested object.
        """
        if "jsonrpc" not in data:
            return data  # a nested object, or not JSON-RPC (``handle_message`` says so)
        if (rejected := check_envelope(data)) is not None:
            return rejected
        msg_id = data.get("id")
        method = data.get("method")
        if method is None:  # the client's response to a request of the server's
            kind: Any = types.ResponseErrorMessage
            if "error" not in data:
                kind = self._result_types.pop(data["id"], None) or JsonRPCResponseMessage
            try:
                return self._converter.structure(data, kind)
            except Exception as exc:
                return Rejected(INVALID_PARAMS, params_problem(exc), response_to=msg_id)
        request = "id" in data
        reply_id = msg_id if request else None
        kind = self.get_message_type(method)
        if kind is None:
            kind = JsonRPCRequestMessage if request else JsonRPCNotification
            data = {"params": None, **data}  # optional in JSON-RPC
        elif request != ("id" in attrs.fields_dict(kind)):
            what = "a notification: it takes no id" if request else "a request: it needs an id"
            return Rejected(
                INVALID_REQUEST, f"{method} is {what}", method, request_id=reply_id, answer=request
            )
        try:
            message = self._converter.structure(data, kind)
        except Exception as exc:
            return Rejected(
                INVALID_PARAMS, params_problem(exc), method, request_id=reply_id, answer=request
            )
        if method == types.CANCEL_REQUEST and not is_id(message.params.id):
            return Rejected(
                INVALID_PARAMS, "Invalid params: id must be an integer or a string", method
            )
        return message

    def handle_message(self, message: Any) -> None:
        """Dispatch a message as pygls does, once the lifecycle rules allow it: before
        ``initialize`` requests get ServerNotInitialized and notifications are dropped; after
        ``shutdown`` requests get InvalidRequest; only ``exit`` is always accepted."""
        if not isinstance(message, Rejected) and not attrs.has(type(message)):
            message = check_envelope(message) or Rejected(
                INVALID_REQUEST, "Not a JSON-RPC message", answer=True
            )
        method = getattr(message, "method", None)
        if isinstance(message, Rejected):
            request, msg_id = message.answer, message.request_id
        else:
            msg_id = getattr(message, "id", None)
            request = method is not None and hasattr(message, "id")
        if isinstance(method, str) and (refusal := self._refusal(method, request)):
            code, text = refusal
            if request:
                self._reply_error(msg_id, code, text)
            else:
                logger.debug("ignored %s: %s", method, text)
            return
        if isinstance(message, Rejected):
            self._reject(message)
            return
        if request and method == types.INITIALIZE:
            self._initialize_seen = True
        elif request and method == types.SHUTDOWN:
            self._shutdown_seen = True
            self._shutdown_id = msg_id
            self._shutdown_answered = asyncio.Event()
        super().handle_message(message)

    def _refusal(self, method: str, request: bool) -> tuple[int, str] | None:
        """The error the lifecycle rules give ``method`` now (None: it may be handled)."""
        if method == types.EXIT and not request:
            return None
        if self._shutdown_seen:
            return INVALID_REQUEST, "The server is shutting down: only exit is accepted"
        if not self._initialize_seen:
            if request and method == types.INITIALIZE:
                return None
            return SERVER_NOT_INITIALIZED, "The server is not initialized: initialize first"
        if request and method == types.INITIALIZE:
            return INVALID_REQUEST, "initialize may only be sent once"
        return None

    def _reject(self, message: Rejected) -> None:
        what = message.method or "a message"
        if message.response_to is not None:
            logger.warning("the client's response does not deserialise: %s", message.message)
            error = types.ResponseError(code=message.code, message=message.message)
            self._handle_response(message.response_to, None, error)
        elif message.answer:
            logger.warning("answered %s with an error: %s", what, message.message)
            self._reply_error(message.request_id, message.code, message.message)
        else:
            logger.warning("ignored %s: %s", what, message.message)

    def _reply_error(self, msg_id: Any, code: int, message: str) -> None:
        self._write_json(json.dumps(error_response(msg_id, code, message)), "an error response")
        self._replied(msg_id)

    async def shutdown_answered(self, timeout: float = 10.0) -> None:
        """Wait (at most ``timeout``) until the reply to a ``shutdown`` under way is written:
        an event, not a count of loop turns (under load the reply came after any fixed
        number), also when the input ends right behind the request."""
        answered = self._shutdown_answered
        if answered is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(answered.wait(), timeout=timeout)
        if self._writes:  # an asynchronous transport still writing it
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*self._writes), timeout=timeout)

    def _replied(self, msg_id: Any) -> None:
        """A reply has been written: the one to ``shutdown`` lets a waiting ``exit`` go."""
        if (
            self._shutdown_answered is not None
            and msg_id is not None
            and msg_id == self._shutdown_id
        ):
            self._shutdown_answered.set()

    def _send_handler_result(self, future: Any, *, msg_id: MsgId) -> None:
        """Answer a request with its handler's result, or with a plain error (pygls's has
        the Python traceback, with the server's paths, in ``data``)."""
        from drain_ls.lsp.documents import PositionError

        self._request_futures.pop(msg_id, None)
        if future.cancelled():
            self._reply_error(msg_id, REQUEST_CANCELLED, "Request cancelled")
            return
        exc = future.exception()
        if exc is None:
            self._send_response(msg_id, result=future.result())
        elif isinstance(exc, JsonRpcException):
            self._reply_error(msg_id, exc.code, plain_text(exc.message) or exc.MESSAGE)
        elif isinstance(exc, PositionError):
            self._reply_error(msg_id, INVALID_PARAMS, f"Invalid params: {plain_text(str(exc))}")
        else:
            logger.error("a request failed: %s", describe(exc))
            logger.debug("the request's traceback", exc_info=exc)
            self._reply_error(msg_id, INTERNAL_ERROR, f"Internal error: {describe(exc)}")

    def _send_response(
        self, msg_id: MsgId, result: Any = None, error: types.ResponseError | None = None
    ) -> None:
        """Send a response; an error in a plain message without ``data``, a result that
        cannot be encoded as an internal error (pygls would send nothing)."""
        if error is not None:
            self._reply_error(msg_id, error.code, plain_text(error.message) or "Error")
            return
        response = self._result_types.pop(msg_id, JsonRPCResponseMessage)(
            id=msg_id, result=result, jsonrpc=self.VERSION
        )
        try:
            body = json.dumps(response, default=self._serialize_message)
        except Exception as exc:
            logger.error("cannot encode the result of request %r: %s", msg_id, describe(exc))
            self._reply_error(msg_id, INTERNAL_ERROR, "Internal error: the result is not JSON")
            return
        self._write_json(body, "a response")
        self._replied(msg_id)


def _encoding_name(encoding: object) -> str:
    value = str(getattr(encoding, "value", encoding) or UTF16).lower()
    return {"utf-8": UTF8, "utf-16": UTF16, "utf-32": UTF32}.get(value, UTF16)


class DrainServer(LanguageServer):
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
        self.file_layer: dict[str, Any] = {}  # the workspace's: untrusted (config.py)
        self.user_layer: dict[str, Any] = {}  # the user config file
        self.workspace_trust = WorkspaceTrust()
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

    # -- transport ----------------------------------------------------------------------------

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """Serve over stdio until ``exit`` or the end of the input (see ``drain_ls.lsp.transport``:
        a pipe on stdin is read by the event loop itself, anything else by a worker thread).

        An ``exit`` that no ``shutdown`` came before ends the process with status 1 (LSP).
        """
        stdin = stdin or sys.stdin.buffer
        stdout = stdout or sys.stdout.buffer
        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout))
        status: int | str | None = 0
        try:
            asyncio.run(self._serve_pipe(stdin, is_own_pipe(stdin, stdout)))
        except BrokenPipeError:
            logger.error("the connection to the client is lost: shutting down")
        except KeyboardInterrupt:
            pass
        except SystemExit as exc:  # `exit`
            status = exc.code
        finally:
            self.shutdown()  # type: ignore[no-untyped-call]
        if status:
            raise SystemExit(status)

    def start_tcp(self, host: str, port: int) -> None:
        """Serve one client at a time over TCP (debugging), through the same frame parser as
        stdio: a malformed frame is skipped there too (pygls's own loop would go deaf)."""
        self._stop_event = stop = threading.Event()
        protocol = self.protocol
        assert isinstance(protocol, DrainProtocol)

        async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            protocol.set_writer(writer)
            try:
                await serve(PipeReader(reader), protocol, stop)
                await protocol.shutdown_answered()
            finally:
                self.shutdown()  # type: ignore[no-untyped-call]

        async def listen() -> None:
            self._server = await asyncio.start_server(connection, host, port)
            logger.info("serving on %s:%s", host, port)
            async with self._server:
                await self._server.serve_forever()

        status: int | str | None = 0
        try:
            asyncio.run(listen())
        except (asyncio.CancelledError, KeyboardInterrupt):
            pass
        except SystemExit as exc:  # `exit`
            status = exc.code
        if status:
            raise SystemExit(status)

    async def _serve_pipe(self, stdin: BinaryIO, own_pipe: bool = True) -> None:
        reader: ChunkReader | None = await pipe_reader(stdin) if own_pipe else None
        if reader is None:
            reader = ThreadReader(stdin)
        protocol = self.protocol
        assert self._stop_event is not None and isinstance(protocol, DrainProtocol)
        await serve(reader, protocol, self._stop_event)
        await protocol.shutdown_answered()  # the input may end right behind `shutdown`

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
        """What the static checks select, from the settings in force."""
        return CheckSettings(
            select=self.settings.codes,
            docstring_style=self.settings.docstringStyle,
            target_version=self.settings.target,
        )

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
        if root is None:
            return
        try:
            project = find_project_config(root)
        except ConfigError as exc:
            self.warn_user(str(exc))
            return
        table = camelize_keys(project.table)
        self.file_layer = requires_python_layer(table, project.requires_python)

    def apply_settings(self) -> bool:
        """Rebuild the settings from every layer; True when they changed."""
        settings, problems, self.workspace_trust = resolve_settings(
            self.file_layer, self.user_layer, self.init_layer, self.client_layer
        )
        for problem in problems:
            if problem not in self.reported_problems:
                self.reported_problems.add(problem)
                self.warn_user(problem)
        custom, custom_problems = parse_custom_drains(settings.drains.get("custom"))
        for problem in custom_problems:
            if problem not in self.reported_problems:
                self.reported_problems.add(problem)
                self.warn_user(problem)
        self._custom = custom
        changed = settings != self.settings
        self.settings = settings
        if changed:
            self.settings_generation += 1
            self.checkers.clear()
            logger.info("settings: %s", settings_to_json(settings))
        self.configure_drains()
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
            limit=self.settings.diagnostics.maxFileBytes,
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
        delay = self.settings.diagnostics.debounceMs / 1000
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
                    self.path_of(uri), self.check_settings, fix_factories=False
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
        limit = context_limit(self.settings.budget.maxTokensPerDrain)
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

    def drain_status(self) -> dict[str, Any]:
        """The drains' state (``drain/status``'s fields)."""
        return self.engine.status()

    def report(self, days: int = 7) -> dict[str, Any]:
        """``drain.report``: the ledger's report (empty when nothing was ever sent)."""
        return self.engine.report(days)

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


_SEVERITIES = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "information": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}


class ClientLogHandler(logging.Handler):
    """Sends log records to the client as ``window/logMessage``."""

    LEVELS: ClassVar[dict[int, types.MessageType]] = {
        logging.DEBUG: types.MessageType.Debug,
        logging.INFO: types.MessageType.Info,
        logging.WARNING: types.MessageType.Warning,
        logging.ERROR: types.MessageType.Error,
        logging.CRITICAL: types.MessageType.Error,
    }

    def __init__(self, server: DrainServer) -> None:
        """Log to ``server``'s client."""
        super().__init__(logging.INFO)
        self.server = server

    def emit(self, record: logging.LogRecord) -> None:
        """Send one record as ``window/logMessage`` (never raises)."""
        if self.server.protocol.writer is None:
            return  # not connected yet
        try:
            message = self.format(record)
            kind = self.LEVELS.get(record.levelno, types.MessageType.Log)
            self.server.window_log_message(types.LogMessageParams(type=kind, message=message))
        except Exception:  # logging must never break the server
            pass


def configure_logging(server: DrainServer, log_file: str | None, level: str = "INFO") -> None:
    """Logs go to the client and, if asked, a file; never to stdout (that is the protocol)."""
    root = logging.getLogger("drain_ls")
    root.setLevel(level)
    root.propagate = False
    handler = ClientLogHandler(server)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(handler)
    # pygls logs every message at INFO: far too much, and it could carry document text.
    logging.getLogger("pygls").setLevel(logging.WARNING)
    if log_file:
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        root.addHandler(file_handler)
        logging.getLogger("pygls").addHandler(file_handler)


def freeze_heap() -> None:
    """Move every object alive now (mostly modules, classes and functions: the SDK alone is
    100,000 of them) out of the garbage collector's sight (``gc.freeze``).

    A full collection walks every object it tracks: with the SDK imported, 216,000 of them
    and 70-100 ms in one step of the event loop, in front of whatever keystroke comes
    (measured with ``benchmarks/loop_timing``, issue 17). Called once the server has
    started (``initialized``) and once the SDK is warm; what is frozen is still freed when
    its last reference goes, only a cycle among such objects would stay."""
    gc.freeze()


def _cancel_timer(timers: dict[str, asyncio.TimerHandle], uri: str) -> None:
    """Cancel and forget the timer ``timers`` holds for ``uri``, if any."""
    handle = timers.pop(uri, None)
    if handle is not None:
        handle.cancel()


async def in_slices(steps: Generator[None, None, T], current: Callable[[], bool]) -> T | None:
    """Run ``steps`` for at most ``BUILD_SLICE`` seconds at a time, letting the event loop
    answer what came in between; None (the steps closed) once ``current()`` says false."""
    loop = asyncio.get_running_loop()
    try:
        while True:
            deadline = loop.time() + BUILD_SLICE
            try:
                next(steps)
                while loop.time() < deadline:
                    next(steps)
            except StopIteration as done:
                return cast(T, done.value)
            await asyncio.sleep(0)
            if not current():
                return None
    finally:
        steps.close()


def _cancel_task(tasks: dict[str, asyncio.Task[None]], uri: str) -> None:
    """Cancel and forget the task ``tasks`` holds for ``uri``, if any."""
    task = tasks.pop(uri, None)
    if task is not None:
        task.cancel()
