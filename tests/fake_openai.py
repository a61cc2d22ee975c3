"""A local fake OpenAI-compatible server, for tests: the real ``openai`` SDK talks to it over HTTP.

It plays one of three servers (``flavor``): ``ollama`` (the OpenAI layer plus ``/api/show`` and
``/api/ps``), ``llamacpp`` (``llama-server``: one model under any name, ``/props``) or ``openai``
(the API itself, with its rate-limit headers). Each behaviour names its source; what no source
gives is marked **fake's choice**.

Sources
    [chat]   OpenAI API reference, Chat Completions, "Create chat completion" and "The chat
             completion chunk object" (https://platform.openai.com/docs/api-reference/chat), as
             the SDK types it: ``openai/types/chat/chat_completion_chunk.py`` (``ChatCompletionChunk``:
             ``id``, ``object: "chat.completion.chunk"``, ``created``, ``model``, ``choices[]``
             with ``index``, ``delta {role, content}``, ``finish_reason`` in stop | length | ...)
             and ``openai/types/completion_usage.py`` (``CompletionUsage``: ``prompt_tokens``,
             ``completion_tokens``, ``total_tokens``, ``prompt_tokens_details.cached_tokens``).
    [usage]  ``ChatCompletionStreamOptions.include_usage`` (same reference; the SDK's
             ``chat_completion_stream_options_param.py``): "an additional chunk will be streamed
             before the ``data: [DONE]`` message. The ``usage`` field on this chunk shows the token
             usage statistics for the entire request, and the ``choices`` field will always be an
             empty array. All other chunks will also include a ``usage`` field, but with a null
             value."
    [sse]    The SDK's ``_streaming.py``: ``data:`` lines, ``data: [DONE]`` ends the stream, and a
             ``data:`` object with an ``error`` key raises ``APIError`` mid-stream (its ``body`` is
             the error object).
    [errors] https://developers.openai.com/docs/guides/error-codes and the SDK's
             ``_exceptions.py`` (``APIError`` reads ``code``, ``param``, ``type`` from the body's
             ``error``): body ``{"error": {"message", "type", "param", "code"}}``. 401 "Incorrect
             API key provided", 429 "Rate limit reached for requests" (code ``rate_limit_exceeded``;
             its ``type`` ``requests`` is the **fake's choice**)
             and 429 "You exceeded your current quota, please check your plan and billing details"
             (type and code ``insufficient_quota``), 500 "The server had an error while processing
             your request", 503 "The engine is currently overloaded, please try again later".
             ``retry-after`` on 429 and 503: the SDK's ``_base_client.py`` reads ``retry-after-ms``
             and ``retry-after``.
    [limits] https://developers.openai.com/api/docs/guides/rate-limits, "Rate limits in headers":
             ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}``, resets as durations
             (``1s``, ``6m0s``); the fake sends that page's example values (flavor ``openai``).
    [ollama] Ollama's ``docs/api/openai-compatibility.mdx`` (``stream_options.include_usage``
             supported; ``api_key`` "required but ignored"; ``max_tokens``, not
             ``max_completion_tokens``; no way to set the context size through this API), its
             ``openai/openai.go`` (error types by status: 400 ``invalid_request_error``, 404
             ``not_found_error``, else ``api_error``; ``system_fingerprint: "fp_ollama"``; the
             delta carries ``role`` and a ``reasoning`` field; ``/v1/models`` ``owned_by`` is the
             namespace, ``library`` by default), ``docs/api.md`` / https://docs.ollama.com/api-
             reference/show-model-details (``POST /api/show`` -> ``parameters`` text such as
             ``num_ctx 2048``, ``model_info["<arch>.context_length"]``; unknown model: 404
             ``{"error": "model 'x' not found"}``), ``GET /api/ps`` (``models[].context_length``:
             the context the loaded model runs with), ``docs/context-length.mdx``
             (default 4k context under 24 GiB VRAM) and ``docs/faq.md`` (``OLLAMA_MAX_QUEUE``:
             more requests than it queues get 503).
    [llama]  llama.cpp ``tools/server/README.md``: ``GET /props`` ->
             ``default_generation_settings.n_ctx`` (per slot), ``total_slots``, ``model_path``;
             ``GET /v1/models`` "always has one single element", ``id`` the model path,
             ``owned_by: "llamacpp"``, ``meta.n_ctx_train``; in single-model mode the request's
             ``model`` is not checked (**fake's reading** of "the returned list always has one
             single element"). Errors ``{"error": {"code": <status>, "message", "type"}}``, e.g.
             ``exceed_context_size_error`` (400) and ``unavailable_error`` (503 while loading).

Scenarios (``scenarios``, one per chat request, then ``default``)
    ``ok``, ``slow`` (``delay`` between chunks), ``hang`` (after the first chunk, until the
    client goes away: its EOF is seen within a millisecond), ``no-usage`` (no usage chunk even
    when asked: ``usage=False`` does that for every request), ``midstream`` (after half the
    chunks, a ``data: {"error": ...}`` line, then the connection closes), ``drop`` (after half
    the chunks the connection closes: no ``finish_reason``, no ``[DONE]``, as when a server
    dies), and the errors
    ``400``, ``400-context``, ``401``, ``404-model``, ``429``, ``429-quota``, ``500``, ``503``.
    A model not in ``models`` gets the 404 of ``404-model`` (except ``llamacpp``). With
    ``api_key`` set, a request without it gets 401 whose message echoes what it sent (so tests
    prove no server message reaches drain-ls' errors).

Tokens (**fake's choice**): UTF-8 bytes / 3, rounded up: the prompt is the messages' contents,
the answer is sent in 8-character chunks, each at least 1 token, stopping with ``length`` at
``max_tokens`` (or ``max_completion_tokens``). ``fake.billed`` gets one ``Billed`` per chat
request before the first byte of the answer, its output grown before each chunk is sent.
``fake.sent`` keeps every JSON object streamed, for checking against the SDK's types.
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
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.local_http import LocalServer

SCENARIOS = (
    "ok",
    "slow",
    "hang",
    "no-usage",
    "midstream",
    "drop",
    "400",
    "400-context",
    "401",
    "404-model",
    "429",
    "429-quota",
    "500",
    "503",
)
FLAVORS = ("ollama", "llamacpp", "openai")
# [limits]: the example of "Rate limits in headers".
OPENAI_RATE_HEADERS = {
    "x-ratelimit-limit-requests": "60",
    "x-ratelimit-limit-tokens": "150000",
    "x-ratelimit-remaining-requests": "59",
    "x-ratelimit-remaining-tokens": "149984",
    "x-ratelimit-reset-requests": "1s",
    "x-ratelimit-reset-tokens": "6m0s",
}


def tokens(text: str) -> int:
    """The fake's token count: UTF-8 bytes / 3, rounded up."""
    return math.ceil(len(text.encode("utf-8")) / 3)


@dataclass
class Billed:
    """What one chat request cost, as the fake counts it."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0


class ServerError(Exception):
    """An error response: status, the error object and extra headers."""

    def __init__(self, status: int, error: dict[str, Any], headers: dict[str, str] | None = None):
        """An error ``status`` with the ``error`` object sent."""
        super().__init__(error.get("message"))
        self.status = status
        self.error = error
        self.headers = headers or {}


@dataclass
class FakeOpenAI:
    """Start with ``with FakeOpenAI() as fake:``; point the SDK at ``fake.base_url``."""

    flavor: str = "ollama"
    models: list[str] = field(default_factory=lambda: ["qwen2.5-coder:7b", "llama3.2:latest"])
    reply: Callable[[dict[str, Any]], str] = lambda body: '"""Summarize the thing."""'
    scenarios: list[str] = field(default_factory=list)
    default: str = "ok"
    usage: bool = True  # False: a server that never sends a usage chunk
    cached_tokens: int = 0  # reported as prompt_tokens_details.cached_tokens
    retry_after: str | None = "7"
    delay: float = 0.05
    api_key: str | None = None
    num_ctx: int | None = None  # Ollama: a Modelfile's PARAMETER num_ctx
    loaded_context: int | None = None  # Ollama: the loaded model's context in /api/ps
    trained_context: int = 32768  # Ollama model_info / llama.cpp n_ctx_train
    n_ctx: int = 8192  # llama.cpp: per-slot context in /props
    log: list[dict[str, Any]] = field(default_factory=list)
    disconnects: list[dict[str, Any]] = field(default_factory=list)
    billed: list[Billed] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __enter__(self) -> FakeOpenAI:
        """Serve on 127.0.0.1, a free port, in a thread per request."""
        assert self.flavor in FLAVORS, self.flavor
        self.server = LocalServer(self)
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop serving."""
        self.server.close()

    @property
    def root(self) -> str:
        """The server's root URL (``/api/*``, ``/props``)."""
        return self.server.root

    @property
    def base_url(self) -> str:
        """What ``llm.baseUrl`` would be: the root and ``/v1``."""
        return f"{self.root}/v1"

    # -- routing --------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length", 0))
        raw = handler.rfile.read(length).decode("utf-8", "replace") if length else ""
        path = handler.path.split("?", 1)[0].rstrip("/")
        request_id = f"req_{uuid.uuid4().hex[:16]}"
        scenario = ""
        if handler.command == "POST" and path == "/v1/chat/completions":
            with self._lock:
                scenario = self.scenarios.pop(0) if self.scenarios else self.default
        with self._lock:
            self.log.append(
                {
                    "id": request_id,
                    "time": time.monotonic(),
                    "method": handler.command,
                    "path": path,
                    "scenario": scenario,
                    "body": raw,
                    "headers": {k.lower(): v for k, v in handler.headers.items()},
                }
            )
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = None
        try:
            if scenario:
                self._authorize(handler)
                self._chat(handler, body if isinstance(body, dict) else {}, scenario, request_id)
            elif handler.command == "GET" and path == "/v1/models":
                self._authorize(handler)
                self._json(handler, 200, self._model_list())
            elif self.flavor == "ollama" and handler.command == "POST" and path == "/api/show":
                self._ollama_show(handler, body if isinstance(body, dict) else {})
            elif self.flavor == "ollama" and handler.command == "GET" and path == "/api/ps":
                self._ollama_ps(handler)
            elif self.flavor == "llamacpp" and handler.command == "GET" and path == "/props":
                self._json(handler, 200, self._props())
            else:
                self._json(handler, 404, {"error": "404 page not found"}, text=True)
        except ServerError as error:
            body_out: dict[str, Any] = {"error": error.error}
            self._json(handler, error.status, body_out, error.headers)
        except (BrokenPipeError, ConnectionResetError):
            with self._lock:
                self.disconnects.append({"id": request_id, "time": time.monotonic()})

    def _authorize(self, handler: BaseHTTPRequestHandler) -> None:
        if self.api_key is None:
            return
        sent = handler.headers.get("authorization", "")
        if sent != f"Bearer {self.api_key}":
            raise self._error(401, f"Incorrect API key provided: {sent}.", "invalid_api_key")

    def _error(
        self, status: int, message: str, code: str | None = None, kind: str | None = None
    ) -> ServerError:
        """An error in the flavor's shape ([errors], [ollama], [llama])."""
        headers = {}
        if status in (429, 503) and self.retry_after is not None:
            headers["retry-after"] = self.retry_after
        if self.flavor == "llamacpp":
            kind = kind or {503: "unavailable_error", 404: "not_found_error"}.get(
                status, "invalid_request_error" if status < 500 else "server_error"
            )
            return ServerError(status, {"code": status, "message": message, "type": kind}, headers)
        if self.flavor == "ollama" and kind is None:
            kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
        if kind is None:
            kind = "invalid_request_error" if status < 500 else "server_error"
        error = {"message": message, "type": kind, "param": None, "code": code}
        return ServerError(status, error, headers)

    def _scenario_error(self, scenario: str, model: str) -> ServerError | None:
        errors = {
            "400": lambda: self._error(400, "messages: invalid message format"),
            "400-context": lambda: self._error(
                400,
                "This model's maximum context length is 8192 tokens.",
                "context_length_exceeded",
                "exceed_context_size_error" if self.flavor == "llamacpp" else None,
            ),
            "401": lambda: self._error(401, "Incorrect API key provided.", "invalid_api_key"),
            "404-model": lambda: self._not_found(model),
            "429": lambda: self._error(
                429, "Rate limit reached for requests", "rate_limit_exceeded", "requests"
            ),
            "429-quota": lambda: self._error(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                "insufficient_quota",
            ),
            "500": lambda: self._error(
                500, "The server had an error while processing your request."
            ),
            "503": lambda: self._error(
                503,
                "Loading model"
                if self.flavor == "llamacpp"
                else "server busy, please try again.  maximum pending requests exceeded"
                if self.flavor == "ollama"
                else "The engine is currently overloaded, please try again later.",
            ),
        }
        make = errors.get(scenario)
        return make() if make is not None else None

    def _not_found(self, model: str) -> ServerError:
        if self.flavor == "ollama":
            return self._error(404, f'model "{model}" not found, try pulling it first')
        return self._error(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            "model_not_found",
        )

    # -- /v1/chat/completions ---------------------------------------------------------------------

    def _known(self, model: str) -> bool:
        if self.flavor == "llamacpp":
            return True
        tagged = model if ":" in model else f"{model}:latest"
        return model in self.models or tagged in self.models

    def _chat(
        self, handler: BaseHTTPRequestHandler, body: dict[str, Any], scenario: str, rid: str
    ) -> None:
        model = str(body.get("model", ""))
        error = self._scenario_error(scenario, model)
        if error is None and not self._known(model):
            error = self._not_found(model)
        if error is not None:
            with self._lock:
                self.billed.append(Billed(0, 0))
            raise error
        messages = body.get("messages") or []
        prompt = tokens("".join(str(m.get("content", "")) for m in messages))
        budget = body.get("max_completion_tokens") or body.get("max_tokens") or 1 << 30
        text = self.reply(body)
        chunks = [text[i : i + 8] for i in range(0, len(text), 8)]
        billed = Billed(prompt, 0, min(self.cached_tokens, prompt))
        with self._lock:
            self.billed.append(billed)
        include = bool((body.get("stream_options") or {}).get("include_usage"))
        usage_on = include and self.usage and scenario != "no-usage"
        created = int(time.time())
        served = self.models[0] if self.flavor == "llamacpp" else model
        chat_id = f"chatcmpl-{rid[4:]}"

        def send(data: dict[str, Any] | str) -> None:
            if isinstance(data, dict):
                with self._lock:
                    self.sent.append(data)
                line = json.dumps(data)
            else:
                line = data
            handler.wfile.write(f"data: {line}\n\n".encode())
            handler.wfile.flush()

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            data: dict[str, Any] = {
                "id": chat_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": served,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            if self.flavor == "ollama":
                data["system_fingerprint"] = "fp_ollama"
            if usage_on:
                data["usage"] = None  # [usage]: "with a null value"
            return data

        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream")
        handler.send_header("cache-control", "no-cache")
        handler.send_header("connection", "close")
        handler.send_header("x-request-id", rid)
        if self.flavor == "openai":
            for name, value in OPENAI_RATE_HEADERS.items():
                handler.send_header(name, value)
        handler.end_headers()
        send(chunk({"role": "assistant", "content": ""}))
        if scenario == "hang":
            self._hang(handler)
        finish = "stop"
        for i, piece in enumerate(chunks):
            cost = max(1, tokens(piece))
            if billed.completion_tokens + cost > budget:
                finish = "length"
                break
            with self._lock:
                billed.completion_tokens += cost
            if scenario == "slow":
                time.sleep(self.delay)
            send(chunk({"content": piece}))
            if scenario == "drop" and i >= len(chunks) // 2:
                return  # the connection closes: no finish_reason, no [DONE]
            if scenario == "midstream" and i >= len(chunks) // 2:
                send({"error": self._error(500, "error during generation").error})
                return
        send(chunk({}, finish))
        if usage_on:
            usage: dict[str, Any] = {
                "prompt_tokens": billed.prompt_tokens,
                "completion_tokens": billed.completion_tokens,
                "total_tokens": billed.prompt_tokens + billed.completion_tokens,
            }
            if billed.cached_tokens:
                usage["prompt_tokens_details"] = {"cached_tokens": billed.cached_tokens}
            final = chunk({})
            final["choices"] = []
            final["usage"] = usage
            send(final)
        send("[DONE]")

    def _hang(self, handler: BaseHTTPRequestHandler) -> None:
        """Until the client goes away: watch the socket for its EOF."""
        connection = handler.connection
        while True:
            readable, _, _ = select.select([connection], [], [], 0.001)
            if readable and not connection.recv(1, socket.MSG_PEEK):
                raise ConnectionResetError

    # -- listings and server properties -----------------------------------------------------------

    def _model_list(self) -> dict[str, Any]:
        if self.flavor == "llamacpp":
            entry = {
                "id": self.models[0],
                "object": "model",
                "created": 1735142223,
                "owned_by": "llamacpp",
                "meta": {"n_ctx_train": self.trained_context},
            }
            return {"object": "list", "data": [entry]}
        owner = "library" if self.flavor == "ollama" else "openai"
        data = [
            {"id": name, "object": "model", "created": 1735142223, "owned_by": owner}
            for name in self.models
        ]
        return {"object": "list", "data": data}

    def _ollama_show(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        model = str(body.get("model") or body.get("name") or "")
        if not self._known(model):
            self._json(handler, 404, {"error": f"model '{model}' not found"})
            return
        parameters = 'stop "<|im_end|>"'
        if self.num_ctx is not None:
            parameters = f"num_ctx {self.num_ctx}\n{parameters}"
        self._json(
            handler,
            200,
            {
                "parameters": parameters,
                "license": "Apache License 2.0",
                "modified_at": "2026-11-02T10:11:12.000000000Z",
                "details": {"format": "gguf", "family": "qwen2", "parameter_size": "7.6B"},
                "model_info": {
                    "general.architecture": "qwen2",
                    "general.parameter_count": 7615616512,
                    "qwen2.context_length": self.trained_context,
                    "qwen2.embedding_length": 3584,
                },
                "capabilities": ["completion", "tools", "insert"],
            },
        )

    def _ollama_ps(self, handler: BaseHTTPRequestHandler) -> None:
        running = []
        if self.loaded_context is not None:
            name = self.models[0]
            running.append(
                {
                    "name": name,
                    "model": name,
                    "size": 5618579456,
                    "details": {"format": "gguf", "family": "qwen2"},
                    "expires_at": "2026-12-06T20:00:00Z",
                    "size_vram": 5618579456,
                    "context_length": self.loaded_context,
                }
            )
        self._json(handler, 200, {"models": running})

    def _props(self) -> dict[str, Any]:
        return {
            "default_generation_settings": {"id": 0, "n_ctx": self.n_ctx, "params": {}},
            "total_slots": 1,
            "model_path": self.models[0],
            "build_info": "b7000-fake",
            "is_sleeping": False,
        }

    def _json(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        data: dict[str, Any],
        headers: dict[str, str] | None = None,
        text: bool = False,
    ) -> None:
        payload = (data["error"] if text else json.dumps(data)).encode()
        handler.send_response(status)
        handler.send_header("content-type", "text/plain" if text else "application/json")
        handler.send_header("content-length", str(len(payload)))
        handler.send_header("connection", "close")
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        if self.flavor == "openai":
            for name, value in OPENAI_RATE_HEADERS.items():
                handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)
