"""The ``openai`` backend: any OpenAI-compatible server (Ollama, llama.cpp's ``llama-server``,
LM Studio, vLLM, OpenAI itself) through the official ``openai`` SDK, Chat Completions, streamed.

- One request: the file's context and the drain's instructions as one system message (the
  context first, so a server's prefix cache can reuse it; one message because some local chat
  templates refuse a second system message), the prompt as the user message; ``stream=True``
  with ``stream_options.include_usage`` (the final chunk has empty ``choices`` and the usage).
- ``max_retries=0``: the scheduler owns backoff. 429 and 503 carry ``retry_after``.
- Usage: the server's usage chunk (``prompt_tokens`` less ``cached_tokens`` as input, the cached
  part as cache reads). A server that sends none (older Ollama, some proxies) is **estimated**
  at UTF-8 bytes / 4 for the prompt and the answer (``usage_estimated`` counts those answers);
  until the usage chunk comes the input is that estimate, so a cancelled request is still
  charged for its prompt.
- Cancelling the task leaves ``async with stream``, which closes the HTTP response at once.
- The key: the environment variable ``key_env`` names, else ``OPENAI_API_KEY`` for a remote
  endpoint; a loopback endpoint needs none (a placeholder is sent, and the user's OpenAI key
  is not sent to whatever listens on a local port unless ``key_env`` asks for it). The key is
  never logged and never part of an error message; URLs in messages lose any user:password.
- ``endpoints.probe`` says why an endpoint cannot serve (nothing listening, no such model:
  with the models it has), ``endpoints.context_window`` what the server will hold.
- Answers from small models are cleaned (``answers.clean``) before ``drains.validate``.
"""

from __future__ import annotations

import logging
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx2
import openai
from openai import AsyncOpenAI

from drain_ls.backends.answers import clean
from drain_ls.backends.base import BackendError, DrainRequest, DrainResponse, Progress, RateLimits
from drain_ls.backends.endpoints import (
    display_url,
    is_local,
    list_models,
    no_server_reason,
    resolve_key,
    unknown_model_reason,
)
from drain_ls.budget import Usage

logger = logging.getLogger(__name__)

BYTES_PER_TOKEN = 4  # the estimate when a server reports no usage
_STOP = {"stop": "end_turn", "length": "max_tokens"}
# OpenAI's error codes page: a 429 of type ``insufficient_quota`` is money, not rate.
_SPEND_CODES = {
    "organization_spend_limit_exceeded",
    "project_spend_limit_exceeded",
    "organization_usage_limit_exceeded",
}
_CONTEXT_CODES = {"context_length_exceeded", "exceed_context_size_error"}  # OpenAI, llama.cpp


# -- errors and headers ----------------------------------------------------------------------


def _retry_after(headers: Any) -> float | None:
    """``retry-after-ms`` or ``retry-after`` (seconds), as the SDK reads them."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name) if headers is not None else None
        try:
            seconds = float(value) / divisor if value is not None else None
        except ValueError:
            continue
        if seconds is not None and math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


def classify(
    exc: openai.APIError,
    usage: Usage,
    base_url: str,
    model: str,
    models: list[str] | None = None,
    started: bool = False,
) -> BackendError:
    """The ``BackendError`` for an SDK error, decided by status, ``error.type`` and
    ``error.code`` (never by the message, which a server may fill with the prompt).
    ``started``: the server had accepted the request (a drop is then a broken stream)."""
    fields: dict[str, Any] = {"usage": usage, "error_type": _short(exc.type) or None}
    fields["error_code"] = _short(exc.code) or None
    url = display_url(base_url)
    if not isinstance(exc, openai.APIStatusError):
        if isinstance(exc, openai.APITimeoutError):
            return BackendError("timeout", f"{url} timed out", **fields)
        if isinstance(exc, openai.APIConnectionError) and not started:
            return BackendError("connection", no_server_reason(base_url), **fields)
        what = "closed the stream" if isinstance(exc, openai.APIConnectionError) else "stream error"
        return BackendError("midstream", f"{url}: {what} ({_short(exc.type)})", **fields)
    status = exc.status_code
    fields["status"] = status
    retry = _retry_after(exc.response.headers)
    code = _short(exc.code)
    if exc.type == "insufficient_quota" or code == "credit_balance_exhausted":
        kind = "spend_limit" if code in _SPEND_CODES else "billing"
        return BackendError(
            kind, f"the API refused for quota or billing ({code or _short(exc.type)})", **fields
        )
    if status == 429:
        return BackendError(
            "rate_limited", f"rate limited ({code or _short(exc.type)})", retry, **fields
        )
    if status in (503, 529):
        return BackendError(
            "overloaded", f"{display_url(base_url)} is busy ({status})", retry, **fields
        )
    if status in (401, 403):
        return BackendError(
            "auth", f"{display_url(base_url)} refused the API key ({status})", **fields
        )
    if status == 404 and not isinstance(exc.body, dict):  # a plain 404 page: not the API
        return BackendError("model", f"no OpenAI-compatible API at {url}: add /v1?", **fields)
    if status == 404:
        return BackendError("model", unknown_model_reason(model, base_url, models), **fields)
    if status == 413 or code in _CONTEXT_CODES or exc.type in _CONTEXT_CODES:
        return BackendError("too_large", f"the request does not fit ({code or status})", **fields)
    if status >= 500 or status in (408, 409):
        return BackendError("server", f"server error {status}", retry, **fields)
    return BackendError(
        "request", f"request refused ({status}: {code or _short(exc.type)})", **fields
    )


def _short(value: object) -> str:
    """A server's ``type`` or ``code``, as text cut short for a message (llama.cpp's ``code``
    is a number; openai 3.0 passes it on as one)."""
    return str(value)[:64] if value is not None else ""


def _duration(value: str) -> float | None:
    """An ``x-ratelimit-reset-*`` duration (``1s``, ``6m0s``, ``20ms``) in seconds."""
    total, matched = 0.0, False
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", value):
        total += float(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
        matched = True
    return total if matched else None


def read_rate_limits(limits: RateLimits, headers: Any) -> None:
    """OpenAI's ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` into ``limits``
    under the names ``RateLimits`` reads (``tokens-remaining``, ...), each reset duration
    turned into the RFC 3339 time it ends."""
    for name, value in headers.items():
        lowered = name.lower()
        if not lowered.startswith("x-ratelimit-"):
            continue
        field, _, kind = lowered.removeprefix("x-ratelimit-").partition("-")
        if kind not in ("requests", "tokens") or field not in ("limit", "remaining", "reset"):
            continue
        if field == "reset":
            seconds = _duration(value)
            if seconds is None:
                continue
            value = (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()
        limits.update(f"{kind}-{field}", value)


# -- the backend -----------------------------------------------------------------------------


def chat_params(request: DrainRequest, token_param: str = "max_tokens") -> dict[str, Any]:
    """The Chat Completions parameters of ``request`` (what ``complete`` sends)."""
    system = "\n\n".join(part for part in (request.context, request.instructions) if part)
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": request.prompt})
    return {
        "model": request.model,
        "messages": messages,
        token_param: request.max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def estimate_tokens(*texts: str) -> int:
    """UTF-8 bytes / 4, rounded up: the estimate when the server reports no usage."""
    return math.ceil(sum(len(text.encode("utf-8")) for text in texts) / BYTES_PER_TOKEN)


class OpenAICompatBackend:
    """Streams each request through an OpenAI-compatible Chat Completions endpoint."""

    name = "openai"

    def __init__(
        self,
        base_url: str,
        key_env: str | None = None,
        timeout: float = 120.0,
        token_param: str | None = None,
        clean_answers: bool = True,
        local: bool | None = None,
    ) -> None:
        """A client for ``base_url`` (``.../v1``) with no retries of its own; the key from
        ``$key_env`` or ``OPENAI_API_KEY`` (``resolve_key``: raises ``BackendError("auth")``
        for a remote endpoint without one). ``token_param`` defaults to
        ``max_completion_tokens`` on api.openai.com and ``max_tokens`` elsewhere (Ollama
        reads only ``max_tokens``). A model load can take long: ``timeout`` is generous, the
        connect timeout short, so a server that is not running is known at once. ``local``:
        the user says the endpoint is local (``llm.local``; default: a loopback address)."""
        self.base_url = base_url
        self.local = is_local(base_url) if local is None else local
        self.rate_limits = RateLimits()
        self.clean_answers = clean_answers
        self.usage_estimated = 0  # answers whose usage is an estimate (no usage chunk)
        host = (urlsplit(base_url).hostname or "").lower()
        self.token_param = token_param or (
            "max_completion_tokens" if host == "api.openai.com" else "max_tokens"
        )
        self.client = AsyncOpenAI(
            api_key=resolve_key(base_url, key_env, self.local),
            base_url=base_url,
            max_retries=0,
            timeout=httpx2.Timeout(timeout, connect=5.0),
        )

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self.client.close()

    async def complete(self, request: DrainRequest, progress: Progress) -> DrainResponse:
        """One streamed request; cancelling the task closes the connection at once."""
        progress.max_tokens = request.max_tokens
        params = chat_params(request, self.token_param)
        sent = [str(message["content"]) for message in params["messages"]]
        parts: list[str] = []
        stop: str | None = None
        model = request.model
        try:
            stream = await self.client.chat.completions.create(**params)
            async with stream:
                read_rate_limits(self.rate_limits, stream.response.headers)
                progress.started = True
                progress.input_tokens = estimate_tokens(*sent)  # until the usage chunk
                async for chunk in stream:
                    model = chunk.model or model
                    for choice in chunk.choices:
                        text = choice.delta.content or ""
                        extra = choice.delta.model_extra or {}
                        thought = extra.get("reasoning_content") or extra.get("reasoning") or ""
                        parts.append(text)
                        size = len(text.encode("utf-8"))
                        if isinstance(thought, str):
                            size += len(thought.encode("utf-8"))
                        progress.received_bytes += size
                        stop = choice.finish_reason or stop
                    if chunk.usage is not None:
                        cached = 0
                        details = chunk.usage.prompt_tokens_details
                        if details is not None and details.cached_tokens:
                            cached = details.cached_tokens
                        prompt = chunk.usage.prompt_tokens or 0
                        if prompt:  # Ollama: 0 when the prompt's evaluation was cached
                            progress.input_tokens = max(0, prompt - cached)
                            progress.cache_read_tokens = min(cached, prompt)
                        progress.output_tokens = chunk.usage.completion_tokens or 0
                        progress.finished = True
        except openai.APIError as exc:
            models = None
            if isinstance(exc, openai.APIStatusError):
                read_rate_limits(self.rate_limits, exc.response.headers)
                if exc.status_code == 404:
                    models = await list_models(self.client)
            usage = progress.usage()
            error = classify(exc, usage, self.base_url, request.model, models, progress.started)
            raise error from None
        if stop is None:  # the stream ended with no finish_reason: cut off, not an answer
            url = display_url(self.base_url)
            raise BackendError(
                "midstream", f"{url}: the stream ended early", usage=progress.usage()
            )
        if not progress.finished:  # no usage chunk: estimate, and say so
            self.usage_estimated += 1
            logger.debug("no usage from %s: estimated at bytes/4", display_url(self.base_url))
            progress.output_tokens = min(
                request.max_tokens, math.ceil(progress.received_bytes / BYTES_PER_TOKEN)
            )
            progress.finished = True
        text = "".join(parts)
        if self.clean_answers:
            text = clean(request.drain, text)
        return DrainResponse(text, progress.usage(), _STOP.get(stop, stop), model)
