"""A local fake of the Anthropic Messages API, for tests: the real SDK talks to it over HTTP.

It speaks the wire format: ``POST /v1/messages`` answers JSON, or with ``"stream": true`` a
``text/event-stream`` of ``message_start``, ``content_block_start``, ``ping``,
``content_block_delta``..., ``content_block_stop``, ``message_delta``, ``message_stop``;
errors as ``{"type": "error", "error": {"type": ..., "message": ...}}``; the
``anthropic-ratelimit-*`` headers on every response. Scenarios are chosen per request
(``ok``, ``slow``, ``hang``, ``429``, ``429-spend``, ``529``, ``500``, ``midstream``), and
every request and every client disconnect is logged with a timestamp.

Billing is deterministic: input tokens are the request body's UTF-8 bytes divided by 4
(rounded up), output tokens one per 4 bytes of text sent (at least 1 per delta), capped at
``max_tokens``. Blocks marked ``cache_control`` are written to a cache on first sight and
read from it afterwards.

Message Batches (``/v1/messages/batches``): ``POST`` creates a batch (the body is validated:
a 400 ``invalid_request_error`` names the first problem), ``GET .../{id}`` polls it,
``GET .../{id}/results`` streams its JSONL results (``application/binary``, as the SDK asks,
in reverse request order: match on ``custom_id``), ``POST .../{id}/cancel`` cancels it. A
batch stays ``in_progress`` for ``batch_polls_until_ended`` polls and ends on the next one;
each request then gets its outcome from ``batch_outcomes`` (``succeeded`` by default;
``errored`` or ``errored:<error type>``, ``expired``, ``canceled``), a succeeded one the same
answer text, usage, cache accounting and stop reason as a stream of the same parameters.
Succeeded requests are billed when the batch ends, with ``batch=True`` (half price). A
canceled batch is ``canceling`` for ``batch_polls_while_canceling`` polls, then ends with its
requests ``canceled`` unless ``batch_outcomes`` names theirs (done before the cancel). The
error scenarios (``429``, ``429-spend``, ``529``, ``500``) apply to these routes too.

With ``api_key`` set, a request without that key gets a 401 whose message echoes what it
sent: on purpose, so tests prove no API message reaches drain-ls' errors.
"""

from __future__ import annotations

import json
import math
import re
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SCENARIOS = ("ok", "slow", "hang", "429", "429-spend", "529", "500", "midstream")
BATCH_OUTCOMES = ("succeeded", "errored", "expired", "canceled")
_CUSTOM_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_BATCH = re.compile(r"/v1/messages/batches/([^/]+)(/results|/cancel)?")
_SAMPLING = ("temperature", "top_p", "top_k")  # rejected by API version 2026-10-21


def _tokens(text: str) -> int:
    return math.ceil(len(text.encode("utf-8")) / 4)


def _answer(text: str, max_tokens: int) -> tuple[list[str], int, str]:
    """The chunks of ``text`` a stream sends (8 characters each), the output tokens they
    cost (one per 4 bytes, at least 1 per chunk) and the stop reason: ``max_tokens`` when
    the next chunk would pass the cap."""
    chunks = [text[i : i + 8] for i in range(0, len(text), 8)] or [""]
    sent: list[str] = []
    output = 0
    for chunk in chunks:
        cost = max(1, _tokens(chunk))
        if output + cost > max_tokens:
            return sent, output, "max_tokens"
        sent.append(chunk)
        output += cost
    return sent, output, "end_turn"


def _timestamp(when: datetime | None) -> str | None:
    return when.isoformat().replace("+00:00", "Z") if when is not None else None


class _BadRequest(Exception):
    """A batch body the API would refuse with a 400."""


@dataclass
class Billed:
    """What one request was billed."""

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    batch: bool = False  # billed through the Message Batches API, at half price
    custom_id: str | None = None  # the batch request it was billed for


@dataclass
class _Batch:
    """One Message Batch, as the fake keeps it."""

    id: str
    requests: list[tuple[str, dict[str, Any]]]
    created_at: datetime
    status: str = "in_progress"
    polls: int = 0
    cancel_polls: int = 0
    cancel_initiated_at: datetime | None = None
    ended_at: datetime | None = None
    outcomes: dict[str, str] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FakeAnthropic:
    """Start with ``with FakeAnthropic() as fake:``; point the SDK at ``fake.url``."""

    reply: Callable[[dict[str, Any]], str] = lambda body: '"""Summarize the thing."""'
    scenarios: list[str] = field(default_factory=list)  # consumed one per request
    default: str = "ok"
    retry_after: float = 1.0
    ratelimit: dict[str, str] = field(default_factory=dict)
    delay: float = 0.05  # between deltas of a slow stream
    log: list[dict[str, Any]] = field(default_factory=list)
    disconnects: list[dict[str, Any]] = field(default_factory=list)
    billed: list[Billed] = field(default_factory=list)
    api_key: str | None = None  # when set, every request must carry it
    batch_polls_until_ended: int = 1  # polls that still see a new batch in_progress
    batch_polls_while_canceling: int = 0  # polls that see a canceled batch canceling
    batch_outcomes: dict[str, str] = field(default_factory=dict)  # custom_id -> outcome
    batch_max_requests: int = 100_000
    batch_results_truncate_at: int | None = None  # bytes of the results sent before closing
    batch_results_declare_length: bool = True  # content-length of the whole results
    batches: dict[str, _Batch] = field(default_factory=dict)
    _cache: set[str] = field(default_factory=set)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __enter__(self) -> FakeAnthropic:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    # -- requests -----------------------------------------------------------------------------

    def _next_scenario(self) -> str:
        with self._lock:
            return self.scenarios.pop(0) if self.scenarios else self.default

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length", 0))
        raw = handler.rfile.read(length).decode("utf-8")
        body = json.loads(raw) if raw else {}
        scenario = self._next_scenario()
        request_id = f"req_{uuid.uuid4().hex[:12]}"
        entry = {
            "id": request_id,
            "time": time.monotonic(),
            "path": handler.path,
            "scenario": scenario,
            "body": raw,
            "headers": {k.lower(): v for k, v in handler.headers.items()},
        }
        with self._lock:
            self.log.append(entry)
        path = handler.path.split("?", 1)[0].rstrip("/")
        method = handler.command
        batch_route = path == "/v1/messages/batches" or _BATCH.fullmatch(path) is not None
        if not (method == "POST" and path == "/v1/messages") and not batch_route:
            self._error(handler, 404, "not_found_error", f"no route {handler.path}", request_id)
            return
        if self.api_key is not None and not self._authorized(handler):
            sent = handler.headers.get("x-api-key") or handler.headers.get("authorization")
            self._error(
                handler, 401, "authentication_error", f"invalid credentials: {sent}", request_id
            )
            return
        if scenario == "429":
            self._error(
                handler,
                429,
                "rate_limit_error",
                "Rate limited",
                request_id,
                {"retry-after": str(self.retry_after)},
            )
            return
        if scenario == "429-spend":
            self._error(
                handler,
                429,
                "rate_limit_error",
                "You have reached your specified API usage limits.",
                request_id,
            )
            return
        if scenario == "529":
            self._error(handler, 529, "overloaded_error", "Overloaded", request_id)
            return
        if scenario == "500":
            self._error(handler, 500, "api_error", "Internal server error", request_id)
            return
        if batch_route:
            self._batch_route(handler, method, path, body, request_id)
            return
        usage = self._bill_input(body)
        text = self.reply(body)
        if body.get("stream"):
            self._stream(handler, body, text, usage, scenario, request_id)
        else:
            self._message(handler, body, text, usage, request_id)

    def _bill_input(self, body: dict[str, Any]) -> dict[str, int]:
        """Split the input into cache reads, cache writes and plain input tokens."""
        cached = 0
        read = write = 0
        blocks = []
        system = body.get("system")
        if isinstance(system, list):
            blocks += system
        for message in body.get("messages", []):
            if isinstance(message.get("content"), list):
                blocks += message["content"]
        prefix = ""
        for block in blocks:
            prefix += json.dumps(block, sort_keys=True)
            if isinstance(block, dict) and block.get("cache_control"):
                size = _tokens(prefix) - cached
                with self._lock:
                    if prefix in self._cache:
                        read += size
                    else:
                        self._cache.add(prefix)
                        write += size
                cached += size
        total = _tokens(json.dumps(body.get("system", "")) + json.dumps(body.get("messages", [])))
        plain = max(0, total - read - write)
        return {
            "input_tokens": plain,
            "cache_read_input_tokens": read,
            "cache_creation_input_tokens": write,
        }

    def _headers(self, handler: BaseHTTPRequestHandler, request_id: str) -> None:
        handler.send_header("request-id", request_id)
        for name, value in self.ratelimit.items():
            handler.send_header(f"anthropic-ratelimit-{name}", value)

    def _error(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        kind: str,
        message: str,
        request_id: str,
        extra: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(data)))
        for name, value in (extra or {}).items():
            handler.send_header(name, value)
        self._headers(handler, request_id)
        handler.end_headers()
        handler.wfile.write(data)
        self.billed.append(Billed(0, 0, 0, 0))

    def _authorized(self, handler: BaseHTTPRequestHandler) -> bool:
        key = handler.headers.get("x-api-key")
        bearer = handler.headers.get("authorization", "")
        return key == self.api_key or bearer == f"Bearer {self.api_key}"

    def _message(
        self,
        handler: BaseHTTPRequestHandler,
        body: dict[str, Any],
        text: str,
        usage: dict[str, int],
        request_id: str,
    ) -> None:
        max_tokens = int(body.get("max_tokens", 1024))
        output = min(max_tokens, max(1, _tokens(text)))
        data = json.dumps(
            {
                "id": f"msg_{request_id}",
                "type": "message",
                "role": "assistant",
                "model": body.get("model", ""),
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {**usage, "output_tokens": output},
            }
        ).encode()
        handler.send_response(200)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(data)))
        self._headers(handler, request_id)
        handler.end_headers()
        handler.wfile.write(data)
        self._record(usage, output)

    def _record(
        self,
        usage: dict[str, int],
        output: int,
        batch: bool = False,
        custom_id: str | None = None,
    ) -> None:
        self.billed.append(
            Billed(
                usage["input_tokens"],
                output,
                usage["cache_read_input_tokens"],
                usage["cache_creation_input_tokens"],
                batch,
                custom_id,
            )
        )

    def _stream(
        self,
        handler: BaseHTTPRequestHandler,
        body: dict[str, Any],
        text: str,
        usage: dict[str, int],
        scenario: str,
        request_id: str,
    ) -> None:
        max_tokens = int(body.get("max_tokens", 1024))
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream")
        handler.send_header("cache-control", "no-cache")
        handler.send_header("connection", "close")
        self._headers(handler, request_id)
        handler.end_headers()
        output = 0

        def send(event: str, data: dict[str, Any]) -> None:
            handler.wfile.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
            handler.wfile.flush()

        try:
            send(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": f"msg_{request_id}",
                        "type": "message",
                        "role": "assistant",
                        "model": body.get("model", ""),
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {**usage, "output_tokens": 1},
                    },
                },
            )
            send(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            send("ping", {"type": "ping"})
            if scenario == "hang":
                # Until the client goes away: watch the socket for its EOF (a close is seen
                # within a millisecond), and ping now and then as the API does.
                connection = handler.connection
                last_ping = time.monotonic()
                while True:
                    readable, _, _ = select.select([connection], [], [], 0.001)
                    if readable and not connection.recv(1, socket.MSG_PEEK):
                        raise ConnectionResetError
                    if time.monotonic() - last_ping > 0.5:
                        send("ping", {"type": "ping"})
                        last_ping = time.monotonic()
            chunks = [text[i : i + 8] for i in range(0, len(text), 8)] or [""]
            sent, _, stop_reason = _answer(text, max_tokens)
            for i, chunk in enumerate(sent):
                output += max(1, _tokens(chunk))
                if scenario == "slow":
                    time.sleep(self.delay)
                send(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": chunk},
                    },
                )
                if scenario == "midstream" and i >= len(chunks) // 2:
                    send(
                        "error",
                        {
                            "type": "error",
                            "error": {"type": "overloaded_error", "message": "Overloaded"},
                        },
                    )
                    self._record(usage, output)
                    return
            send("content_block_stop", {"type": "content_block_stop", "index": 0})
            send(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": output},
                },
            )
            send("message_stop", {"type": "message_stop"})
            self._record(usage, output)
        except (BrokenPipeError, ConnectionResetError):
            with self._lock:
                self.disconnects.append({"id": request_id, "time": time.monotonic()})
            self._record(usage, output)

    # -- message batches ----------------------------------------------------------------------

    def _batch_route(
        self,
        handler: BaseHTTPRequestHandler,
        method: str,
        path: str,
        body: Any,
        request_id: str,
    ) -> None:
        if path == "/v1/messages/batches":
            if method != "POST":
                self._error(handler, 405, "invalid_request_error", "use POST", request_id)
                return
            try:
                requests = self._check_batch(body)
            except _BadRequest as problem:
                self._error(handler, 400, "invalid_request_error", str(problem), request_id)
                return
            batch = _Batch(
                id=f"msgbatch_{uuid.uuid4().hex[:24]}",
                requests=requests,
                created_at=datetime.now(UTC),
            )
            with self._lock:
                self.batches[batch.id] = batch
                data = self._batch_json(batch)
            self._json(handler, data, request_id)
            return
        match = _BATCH.fullmatch(path)
        assert match is not None
        batch_id, action = match.group(1), match.group(2) or ""
        with self._lock:
            found = self.batches.get(batch_id)
        if found is None:
            self._error(handler, 404, "not_found_error", "no such message batch", request_id)
            return
        if (method, action) == ("GET", ""):
            with self._lock:
                self._poll(found)
                data = self._batch_json(found)
            self._json(handler, data, request_id)
        elif (method, action) == ("GET", "/results"):
            self._batch_results(handler, found, request_id)
        elif (method, action) == ("POST", "/cancel"):
            with self._lock:
                refused = found.status == "ended"
                if not refused and found.status == "in_progress":
                    found.status = "canceling"
                    found.cancel_initiated_at = datetime.now(UTC)
                data = self._batch_json(found)
            if refused:
                self._error(
                    handler,
                    400,
                    "invalid_request_error",
                    "the message batch has ended and cannot be canceled",
                    request_id,
                )
            else:
                self._json(handler, data, request_id)
        else:
            self._error(handler, 405, "invalid_request_error", f"no {method} here", request_id)

    def _check_batch(self, body: Any) -> list[tuple[str, dict[str, Any]]]:
        """The requests of a create body, or ``_BadRequest`` naming the first problem."""
        if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
            raise _BadRequest("requests: Field required (a list)")
        if not body["requests"]:
            raise _BadRequest("requests: List should have at least 1 item")
        if len(body["requests"]) > self.batch_max_requests:
            raise _BadRequest(f"requests: at most {self.batch_max_requests} items")
        seen: set[str] = set()
        requests = []
        for i, request in enumerate(body["requests"]):
            where = f"requests.{i}"
            if not isinstance(request, dict):
                raise _BadRequest(f"{where}: Input should be an object")
            custom_id = request.get("custom_id")
            if not isinstance(custom_id, str) or not _CUSTOM_ID.fullmatch(custom_id):
                raise _BadRequest(f"{where}.custom_id: String should match ^[a-zA-Z0-9_-]{{1,64}}$")
            if custom_id in seen:
                raise _BadRequest(f"{where}.custom_id: must be unique within the batch")
            seen.add(custom_id)
            params = request.get("params")
            if not isinstance(params, dict):
                raise _BadRequest(f"{where}.params: Field required")
            if not isinstance(params.get("model"), str) or not params["model"]:
                raise _BadRequest(f"{where}.params.model: Field required")
            max_tokens = params.get("max_tokens")
            if type(max_tokens) is not int or max_tokens < 1:
                raise _BadRequest(f"{where}.params.max_tokens: Input should be an integer >= 1")
            if not isinstance(params.get("messages"), list) or not params["messages"]:
                raise _BadRequest(f"{where}.params.messages: Field required (a non-empty list)")
            if "stream" in params:
                raise _BadRequest(f"{where}.params.stream: not supported in a batch")
            for name in _SAMPLING:
                if name in params:
                    raise _BadRequest(f"{where}.params.{name}: not supported by this API version")
            extra = set(request) - {"custom_id", "params"}
            if extra:
                raise _BadRequest(f"{where}.{sorted(extra)[0]}: Extra inputs are not permitted")
            requests.append((custom_id, params))
        return requests

    def _poll(self, batch: _Batch) -> None:
        """One GET of the batch (under the lock): it moves on when its polls are used up."""
        if batch.status == "in_progress":
            batch.polls += 1
            if batch.polls > self.batch_polls_until_ended:
                self._end(batch, canceled=False)
        elif batch.status == "canceling":
            batch.cancel_polls += 1
            if batch.cancel_polls > self.batch_polls_while_canceling:
                self._end(batch, canceled=True)

    def _end(self, batch: _Batch, canceled: bool) -> None:
        """Process every request: its outcome, its result line, its billing (under the lock)."""
        results = []
        for custom_id, params in batch.requests:
            outcome = self.batch_outcomes.get(custom_id, "canceled" if canceled else "succeeded")
            kind, _, error_type = outcome.partition(":")
            assert kind in BATCH_OUTCOMES, outcome
            batch.outcomes[custom_id] = kind
            result: dict[str, Any] = {"type": kind}
            if kind == "succeeded":
                result["message"] = self._batch_message(custom_id, params)
            elif kind == "errored":
                result["error"] = {
                    "type": "error",
                    "error": {
                        "type": error_type or "invalid_request_error",
                        "message": "this request could not be processed",
                    },
                    "request_id": f"req_{uuid.uuid4().hex[:12]}",
                }
            results.append({"custom_id": custom_id, "result": result})
        batch.results = results[::-1]  # the API promises no order
        batch.status = "ended"
        batch.ended_at = datetime.now(UTC)

    def _batch_message(self, custom_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """What a stream of ``params`` would have answered, billed as a batch request."""
        usage = self._bill_input(params)  # the lock is reentrant
        sent, output, stop_reason = _answer(self.reply(params), int(params["max_tokens"]))
        self._record(usage, output, batch=True, custom_id=custom_id)
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": params.get("model", ""),
            "content": [{"type": "text", "text": "".join(sent)}],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {**usage, "output_tokens": output},
        }

    def _batch_json(self, batch: _Batch) -> dict[str, Any]:
        ended = batch.status == "ended"
        counts = dict.fromkeys(("processing", *BATCH_OUTCOMES), 0)
        if ended:
            for kind in batch.outcomes.values():
                counts[kind] += 1
        else:
            counts["processing"] = len(batch.requests)
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": batch.status,
            "request_counts": counts,
            "created_at": _timestamp(batch.created_at),
            "expires_at": _timestamp(batch.created_at + timedelta(hours=24)),
            "ended_at": _timestamp(batch.ended_at),
            "cancel_initiated_at": _timestamp(batch.cancel_initiated_at),
            "archived_at": None,
            "results_url": f"{self.url}/v1/messages/batches/{batch.id}/results" if ended else None,
        }

    def _json(self, handler: BaseHTTPRequestHandler, data: dict[str, Any], request_id: str) -> None:
        raw = json.dumps(data).encode()
        handler.send_response(200)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(raw)))
        self._headers(handler, request_id)
        handler.end_headers()
        handler.wfile.write(raw)

    def _batch_results(
        self, handler: BaseHTTPRequestHandler, batch: _Batch, request_id: str
    ) -> None:
        with self._lock:
            ended = batch.status == "ended"
            lines = list(batch.results)
        if not ended:
            self._error(handler, 404, "not_found_error", "the batch has no results yet", request_id)
            return
        raw = "".join(json.dumps(line) + "\n" for line in lines).encode()
        cut = self.batch_results_truncate_at
        handler.send_response(200)
        handler.send_header("content-type", "application/binary")
        if cut is None or self.batch_results_declare_length:
            handler.send_header("content-length", str(len(raw)))
        if cut is not None:
            handler.send_header("connection", "close")
            handler.close_connection = True
        self._headers(handler, request_id)
        handler.end_headers()
        handler.wfile.write(raw if cut is None else raw[:cut])
        handler.wfile.flush()
