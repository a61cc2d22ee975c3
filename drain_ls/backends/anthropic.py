"""The Anthropic backend, on the real SDK (``AsyncAnthropic``, streaming).

- ``max_retries=0``: background work owns its backoff (the scheduler honours
  ``retry-after``); a spend-limit 429 is never retried.
- Usage comes from ``message_start`` (input, cache writes and reads) and ``message_delta``
  (cumulative output); after a cancel the output is estimated from the text received, or
  is ``max_tokens`` once a thinking block has begun (thinking is billed in full).
- Errors are classified by status, type and ``error_code`` (``errors.classify``).
- The ``anthropic-ratelimit-*`` headers of every response land in ``rate_limits``.
- The per-file context is the first system block, the same for every drain on the file; it
  is a cache breakpoint only where it reaches the model's minimum (``request_params``).
- ``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL`` are read by the SDK; the key is never
  logged or put in an error message.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import anthropic

from drain_ls.backends.base import BackendError, DrainRequest, DrainResponse, Progress, RateLimits
from drain_ls.backends.errors import classify
from drain_ls.backends.messages import request_params, sdk_client

logger = logging.getLogger(__name__)


class AnthropicBackend:
    """Streams each request through the Messages API."""

    name = "anthropic"

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        """A client with no retries of its own; key and URL default to the environment."""
        self.rate_limits = RateLimits()
        self.client = sdk_client(self.rate_limits, api_key, base_url, timeout)

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self.client.close()

    async def complete(self, request: DrainRequest, progress: Progress) -> DrainResponse:
        """One streamed request; cancelling the task closes the connection at once."""
        progress.max_tokens = request.max_tokens
        try:
            async with self.client.messages.stream(**request_params(request)) as stream:
                async for raw_event in stream:
                    # The SDK's event union does not narrow on ``type``: read it as data.
                    event: Any = raw_event
                    kind = event.type
                    if kind == "message_start":
                        usage = event.message.usage
                        progress.started = True
                        progress.input_tokens = usage.input_tokens or 0
                        progress.cache_read_tokens = usage.cache_read_input_tokens or 0
                        progress.cache_write_tokens = usage.cache_creation_input_tokens or 0
                    elif kind == "content_block_start":
                        block_type = getattr(event.content_block, "type", "")
                        if block_type in ("thinking", "redacted_thinking"):
                            progress.thinking = True
                    elif kind == "content_block_delta":
                        delta = event.delta
                        text = getattr(delta, "text", None) or getattr(delta, "thinking", "")
                        progress.received_bytes += len((text or "").encode("utf-8"))
                    elif kind == "message_delta":
                        progress.output_tokens = event.usage.output_tokens or 0
                        progress.finished = True
                message = await stream.get_final_message()
        except anthropic.APIStatusError as exc:
            raise classify(exc, progress.usage()) from None
        except anthropic.APITimeoutError:
            raise BackendError("timeout", "the request timed out", usage=progress.usage()) from None
        except anthropic.APIConnectionError:
            raise BackendError(
                "connection", "cannot reach the API", usage=progress.usage()
            ) from None
        text = "".join(
            getattr(block, "text", "") or ""
            for block in message.content
            if getattr(block, "type", "") == "text"
        )
        return DrainResponse(text, progress.usage(), message.stop_reason, message.model)


def _event(kind: str, **data: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()


# A whole streamed answer in the Messages API's SSE wire format
# (https://docs.anthropic.com/en/api/messages-streaming, "Basic streaming request").
_WARM_STREAM = b"".join(
    (
        _event(
            "message_start",
            message={
                "id": "msg_warm",
                "type": "message",
                "role": "assistant",
                "model": "warm-up",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 1, "output_tokens": 1},
            },
        ),
        _event("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        _event("content_block_delta", index=0, delta={"type": "text_delta", "text": "ok"}),
        _event("content_block_stop", index=0),
        _event(
            "message_delta",
            delta={"stop_reason": "end_turn", "stop_sequence": None},
            usage={"output_tokens": 1},
        ),
        _event("message_stop"),
    )
)


def warm_up(model: str) -> None:
    """Stream one canned answer to a request for ``model`` through the backend and the SDK,
    from a server of our own on 127.0.0.1 (nothing leaves the machine); to be called on a
    worker thread when the backend is made.

    On its first stream the SDK imports modules (anyio's asyncio backend, the HTTP
    connection code) and builds its pydantic validators: 45 ms in one step of the event
    loop, measured with ``benchmarks/loop_timing``, which a keystroke arriving then waited
    behind (issue 17). Never raises."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")  # the request's body is not needed
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_WARM_STREAM), _WARM_STREAM)
        )
        await writer.drain()
        writer.close()

    async def stream() -> None:
        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        backend = AnthropicBackend(api_key="warm-up", base_url=f"http://127.0.0.1:{port}")
        request = DrainRequest(drain="docstrings", model=model, max_tokens=1, context="", prompt="")
        try:
            await backend.complete(request, Progress())
        finally:
            await backend.close()
            server.close()

    try:
        asyncio.run(stream())
    except Exception as exc:  # only a warm-up: the first real stream pays instead
        logger.debug("SDK warm-up failed: %r", exc)
