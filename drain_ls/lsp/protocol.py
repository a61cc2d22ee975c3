"""The JSON-RPC side of the language server: ``DrainProtocol``, pygls's protocol made strict,
and ``DrainServing``, which serves it over stdio or TCP (a base of ``DrainServer``).

The protocol receives the messages ``drain_ls.lsp.transport`` reads (typed, or rejected with
the error that says why: ``drain_ls.lsp.envelope``), enforces LSP's lifecycle rules (nothing
before ``initialize``, only ``exit`` after ``shutdown``), answers every request, with a plain
error when it fails, and writes JSON the server encoded itself; the server (``DrainServer``)
holds the documents and the logic.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import sys
import threading
from typing import Any, BinaryIO, ClassVar

import attrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    MsgId,
)
from pygls.protocol.language_server import LanguageServerProtocol, lsp_method

from drain_ls.lsp.envelope import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    PARSE_ERROR,
    REQUEST_CANCELLED,
    SERVER_NOT_INITIALIZED,
    Rejected,
    check_envelope,
    describe,
    error_response,
    is_id,
    params_problem,
    plain_text,
)
from drain_ls.lsp.transport import (
    ChunkReader,
    PipeReader,
    ThreadReader,
    is_own_pipe,
    pipe_reader,
    serve,
)

logger = logging.getLogger("drain_ls")


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
        from drain_ls.lsp.positions import PositionError

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


class DrainServing(LanguageServer):
    """Serving one client over stdio or TCP, ``DrainProtocol`` reading the frames of
    ``drain_ls.lsp.transport`` (never pygls's reader): a base of ``DrainServer``."""

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
