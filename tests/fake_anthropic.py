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
"""

from __future__ import annotations

import json
import math
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SCENARIOS = ("ok", "slow", "hang", "429", "429-spend", "529", "500", "midstream")


def _tokens(text: str) -> int:
    return math.ceil(len(text.encode("utf-8")) / 4)


@dataclass
class Billed:
    """What one request was billed."""

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int


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
    _cache: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> FakeAnthropic:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
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
        if handler.path.rstrip("/") != "/v1/messages":
            self._error(handler, 404, "not_found_error", f"no route {handler.path}", request_id)
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

    def _record(self, usage: dict[str, int], output: int) -> None:
        self.billed.append(
            Billed(
                usage["input_tokens"],
                output,
                usage["cache_read_input_tokens"],
                usage["cache_creation_input_tokens"],
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
            stop_reason = "end_turn"
            for i, chunk in enumerate(chunks):
                cost = max(1, _tokens(chunk))
                if output + cost > max_tokens:
                    stop_reason = "max_tokens"
                    break
                output += cost
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
