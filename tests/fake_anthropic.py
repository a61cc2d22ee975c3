"""A local fake of the Anthropic Messages API, for tests: the real SDK talks to it over HTTP.

Every behaviour below is taken from the API documentation or from the SDK (anthropic 2.17.0) and
names its source; the few figures the documentation does not give are marked **fake's choice**.
Page paths are under https://platform.claude.com/docs/en/ (``api/errors`` is
https://platform.claude.com/docs/en/api/errors); SDK paths are inside the ``anthropic`` package.

Errors (``api/errors``; SDK ``_error_classes.py``, ``_exceptions.py``, ``types/shared/*_error.py``)
    Body ``{"type": "error", "error": {"type", "message"[, "details": {"error_code"}]},
    "request_id": "req_..."}`` and a ``request-id`` header on every response ("Error shapes",
    "Request ID"). ``details.error_code`` only where the SDK types give one (``ERROR_CLASSES`` maps
    (status, error_code) to a class). Scenarios, one per request (``scenarios``, then ``default``):

    ============================ ===== ============================================================
    ``429``                      429   ``rate_limit_error``, ``retry-after: retry_after``
                                       (``api/rate-limits``: a rate limit 429 carries retry-after)
    ``429-spend``                429   ``rate_limit_error``, ``enforced_spend_limit_reached``, no
                                       ``retry-after``, the message of ``api/rate-limits``
                                       "Reaching your spend cap" (SDK
                                       ``types/shared/enforced_spend_limit_reached_error.py``)
    ``429-contract``             429   ``contract_spend_limit_reached``
                                       (``types/shared/contract_spend_limit_reached_error.py``)
    ``429-ramp``                 429   ``ramp_limit_exceeded`` with ``retry-after``
                                       (``types/shared/ramp_limit_exceeded_error.py``: "Retry after
                                       the time in the retry-after header")
    ``400``                      400   ``invalid_request_error`` (``api/errors``)
    ``400-workspace-limit``      400   ``invalid_request_error`` "You have reached your specified
                                       workspace API usage limits. You will regain access on
                                       <first of next month> at 00:00 UTC." (``api/rate-limits``
                                       "Setting your own spend limit"; ``api/errors`` 400)
    ``402``                      402   ``billing_error`` (``api/errors``)
    ``402-linked``               402   ``billing_error`` + ``linked_organization_spend_limit_reached``
                                       (``types/shared/linked_organization_spend_limit_reached_
                                       error.py``, a ``PaymentRequiredError``)
    ``404-model``                404   ``not_found_error`` naming the model (``api/errors``)
    ``413``                      413   ``request_too_large`` (``api/errors`` "Request size limits")
    ``529``                      529   ``overloaded_error`` (``api/errors``)
    ``500``                      500   ``api_error`` "Internal server error" (``api/errors``; the
                                       default message of ``APIErrorObject`` in the API reference)
    ``midstream``                200   after half the text deltas, ``event: error`` with
                                       ``overloaded_error`` (``build-with-claude/streaming``
                                       "Error events"; the SDK raises ``APIStatusError`` with
                                       status 200, ``_streaming.py``)
    ``ok``, ``slow``, ``hang``   200   an answer; ``slow`` sleeps ``delay`` between deltas;
                                       ``hang`` pings until the client goes away
    ============================ ===== ============================================================

    Automatic errors: a body over ``max_request_bytes`` (32 MB for the Messages API) or a batch
    create over ``batch_max_bytes`` (256 MB) gets 413 ``request_too_large`` before anything else,
    authentication included ("On the direct Claude API, Cloudflare returns this error before the
    request reaches the API servers", ``api/errors``; "MB" read as MiB: fake's choice). A model not
    in ``types/model.py``, or past its date in ``_data/deprecated_models.py``, gets 404
    ``not_found_error`` "model: <id>" (``about-claude/model-deprecations``: "Requests to models
    past the retirement date will fail"; the message wording is the fake's). ``temperature``,
    ``top_p``, ``top_k`` get 400 "<name>: Extra inputs are not permitted": the SDK sends
    ``anthropic-version: 2026-10-21`` (``_constants.py``) and its ``types/message_create_params.py``
    has no sampling parameters (the wording follows the API's documented "block_binding: Extra
    inputs are not permitted", ``api/errors``). With ``api_key`` set, a request without it gets 401
    ``authentication_error`` whose message echoes what it sent: on purpose, so tests prove no API
    message reaches drain-ls' errors. Error responses are recorded as ``Billed(0, 0, 0, 0)``.

Rate limits (``api/rate-limits`` "Response headers", "Cache-aware ITPM")
    Per-kind windows ``requests``, ``tokens``, ``input-tokens``, ``output-tokens`` with ``limit``,
    ``remaining``, ``reset``; each response carries ``anthropic-ratelimit-{kind}-{limit,remaining,
    reset}``, ``reset`` an RFC 3339 UTC time at which the window "will be fully replenished"; token
    ``remaining`` values are "rounded to the nearest thousand". Once ``reset`` has passed the window
    is full again with a new reset one ``period`` (60 s) later. ``/v1/messages`` consumes one
    request, ``input_tokens + cache_creation_input_tokens`` input tokens (cache reads do not count
    toward ITPM), the output as it is produced, and ``tokens`` = input + output ("total is the sum
    of input and output tokens"). A request a window cannot take gets 429 ``rate_limit_error`` with
    ``retry-after`` = seconds to that window's reset. Defaults are the Start-tier Claude Haiku 4.5
    row (1,000 RPM, 2,000,000 ITPM, 400,000 OTPM; ``tokens`` their sum). Batch routes consume
    nothing (the Message Batches API has its own limits, not modelled). ``set_ratelimit(kind,
    limit=, remaining=, reset_in=)`` sets a window (``reset_in`` may be negative: already past).
    The old ``ratelimit={"tokens-limit": "1000", ...}`` dict, when not empty, replaces these
    headers verbatim (the windows still count and still refuse).

Models (``MODELS``; ids from ``types/model.py``, retirement from ``_data/deprecated_models.py``)
    Minimum cacheable prompt: ``build-with-claude/prompt-caching`` "Cache limitations" (512 for
    Fable 5.1, Mythos 5.1, Opus 5.5, Opus 5, Fable 5, Mythos 5; 2,048 Mythos Preview and Opus 4.7;
    4,096 Opus 4.6, Opus 4.5, Haiku 4.5; 1,024 Opus 4.8, Sonnet 5, Sonnet 4.6) and the model pages
    ``models/sonnet-5-5/overview`` and ``models/haiku-5-5/overview`` "Good to know" (512). Fable 5.2
    and Mythos 5.2: 512, **inferred** from every other Fable/Mythos 5.x (their page was not
    available). Tokenizer: the text counts ~30% more tokens on "the same newer tokenizer as
    Claude 4.7 and later models" (``models/haiku-5-5/overview``; Sonnet 5.5 shares Sonnet 5's,
    ``models/sonnet-5-5/whats-new-sonnet-5-5``): ratio 1.3 for Opus 4.7 and later, 1.0 before.
    Thinking (``build-with-claude/thinking-troubleshooting`` "Thinking support, defaults, and
    rejected configurations by model"; ``build-with-claude/thinking``): default ``Always on``
    (Fable, Mythos, Opus 5.5), ``On`` (Opus 5, Sonnet 5, Sonnet 5.5, Haiku 5.5) or off (Opus
    4.5-4.8, Sonnet 4.6, Haiku 4.5); the rejected ``thinking.type`` values and their 400 messages
    are that page's; Opus 5 and Haiku 5.5 accept ``disabled``, and Sonnet 5.5 ``between_tools``,
    only at effort ``high`` or below. Fable 5.2 / Mythos 5.2: "adaptive thinking is always on"
    (``models/fable-5-2/whats-new-fable-5-2``). Effort levels and defaults:
    ``build-with-claude/effort`` (``max``/``xhigh`` lists, "Compatibility"; Opus 5.5 and Haiku 5.5
    default ``medium``, ``models/haiku-5-5/overview``); Haiku 4.5 takes no ``effort`` (400,
    fake's wording). ``display`` defaults to ``omitted`` on Opus 4.7 and later and ``summarized``
    before (``build-with-claude/thinking`` "Controlling thinking display"; the 5.5 and 5.2 models
    are assumed to follow the 4.7-and-later rule).

Prompt caching (``build-with-claude/prompt-caching``)
    The prompt is ``tools``, then ``system``, then ``messages`` ("Prompt caching caches the full
    prefix"). Breakpoints: ``cache_control`` on a tool, system block or message block, and a
    top-level ``cache_control`` (automatic caching: the last message block). At most 4 ("You can
    define up to 4 cache breakpoints"; a 5th is a 400, and automatic caching with 4 explicit ones
    is a 400, "Edge cases"). A prefix below the model's minimum is not cached, silently ("no error
    is returned"). Writes happen only at breakpoints; a read looks back at most 20 block positions
    from each breakpoint for an entry an earlier request wrote ("How automatic prefix checking
    works") with a byte-identical prefix, for the same model, within its TTL (``ttl`` ``5m``
    default or ``1h``; a read refreshes the lifetime, measured from the request's start). The
    thinking configuration, effort and ``tool_choice`` are part of the messages prefix ("What
    invalidates the cache"). ``usage``: ``cache_read_input_tokens`` = the prefix read,
    ``cache_creation_input_tokens`` = what was written after it, split into
    ``cache_creation.ephemeral_5m_input_tokens`` / ``ephemeral_1h_input_tokens`` (SDK
    ``types/usage.py``, ``types/cache_creation.py``), ``input_tokens`` = the rest ("total_input_tokens
    = cache_read_input_tokens + cache_creation_input_tokens + input_tokens", ``api/rate-limits``).

Thinking (``build-with-claude/thinking``, ``build-with-claude/thinking-troubleshooting``)
    When a model thinks, the content starts with a ``thinking`` block (``content_block_start`` with
    ``{"type": "thinking", "thinking": "", "signature": ""}``, ``thinking_delta`` events, one
    ``signature_delta`` just before its ``content_block_stop``; with ``display: "omitted"`` one
    ``thinking_delta`` with an empty string), then the text block at index 1 ("Streaming thinking",
    "Full streaming event trace"; SDK ``types/thinking_delta.py``, ``types/signature_delta.py``).
    Thinking tokens are billed as output and count toward ``max_tokens``; when they use it up the
    message stops with ``stop_reason: "max_tokens"`` and no text block ("The response stops with
    stop_reason: max_tokens"). ``usage.output_tokens_details.thinking_tokens`` reports them (SDK
    ``types/output_tokens_details.py``). ``budget_tokens`` must be >= 1024 and less than
    ``max_tokens`` (SDK ``types/thinking_config_enabled_param.py``; 400, fake's wording).
    **Fake's choice**: a thinking request thinks ``thinking_tokens`` (300) tokens at effort
    ``high``, scaled by ``EFFORT_SHARE`` (low 1/3, medium 2/3, xhigh 1.5x, max 2x); with
    ``enabled``, ``min(budget_tokens, thinking_tokens)``; adaptive thinking never skips; the
    summary text and the signature are fixed strings.

Streaming (``build-with-claude/streaming`` "Event types"; SDK ``types/raw_message_stream_event.py``)
    ``message_start`` (empty content; usage with the final input, cache-write and cache-read counts
    and a placeholder ``output_tokens``), per block ``content_block_start``, deltas,
    ``content_block_stop``, then ``message_delta`` (cumulative usage) and ``message_stop``; a
    ``ping`` after the first block start. Non-streamed replies and batch results carry the same
    content blocks, usage and stop reason.

Message Batches (``build-with-claude/batch-processing``; SDK ``types/messages/message_batch.py``)
    ``POST /v1/messages/batches`` creates (the body is validated: a 400 names the first problem;
    at most ``batch_max_requests`` = 100,000 requests and ``batch_max_bytes`` = 256 MB, over which
    413 ``request_too_large``), ``GET .../{id}`` polls, ``GET .../{id}/results`` streams JSONL
    (``application/binary``, as the SDK asks; in reverse request order: match on ``custom_id``),
    ``POST .../{id}/cancel`` cancels. A batch stays ``in_progress`` for
    ``batch_polls_until_ended`` polls and ends on the next; each request then gets its outcome
    from ``batch_outcomes`` (``succeeded`` by default; ``errored`` or ``errored:<type>``,
    ``expired``, ``canceled``). A request the Messages API would refuse (unknown model, bad
    thinking, ...) comes back ``errored`` with that error. Succeeded requests are billed when the
    batch ends, with ``batch=True``. A canceled batch is ``canceling`` for
    ``batch_polls_while_canceling`` polls. A batch still in progress 24 h after creation
    (``expires_at``) ends with its requests ``expired`` ("Batch reached its 24 hour expiration").
    Results "are available for 29 days after creation. After that, you may still view the Batch,
    but its results will no longer be available for download": from then on ``archived_at`` is set
    (the SDK: "the time at which the Message Batch was archived and its results became
    unavailable") and the results URL answers 404 ``not_found_error`` (the status is the fake's
    choice: the page does not give one).

Billing and the clock
    ``fake.billed`` gets one ``Billed`` per request, appended (and, for a stream, its output
    updated) *before* the client can read the response, the error or the event it belongs to, so
    a client that has seen something can rely on ``fake.billed``; ``fake.log`` is appended when a
    request arrives. **Fake's choice**: tokens are UTF-8 bytes / 4, rounded up, times the model's
    tokenizer ratio (input: per rendered prompt block; output: per 8-character delta, at least 1).
    ``fake.advance(seconds)`` moves the fake's clock (``fake.now()``) for cache TTLs, rate-limit
    resets and batch expiry and archiving.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.local_http import LocalServer

SCENARIOS = (
    "ok",
    "slow",
    "hang",
    "429",
    "429-spend",
    "429-contract",
    "429-ramp",
    "400",
    "400-workspace-limit",
    "402",
    "402-linked",
    "404-model",
    "413",
    "529",
    "500",
    "midstream",
)
BATCH_OUTCOMES = ("succeeded", "errored", "expired", "canceled")
EFFORTS = ("low", "medium", "high", "xhigh", "max")  # types/output_config_param.py
EFFORT_SHARE = {"low": 1 / 3, "medium": 2 / 3, "high": 1.0, "xhigh": 1.5, "max": 2.0}  # fake's
RATE_KINDS = ("requests", "tokens", "input-tokens", "output-tokens")
_TTL = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1)}
_LOOKBACK = 20  # prompt-caching: "The lookback window is 20 blocks"
_MAX_BREAKPOINTS = 4  # prompt-caching: "You can define up to 4 cache breakpoints"
_CUSTOM_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_BATCH = re.compile(r"/v1/messages/batches/([^/]+)(/results|/cancel)?")
_SAMPLING = ("temperature", "top_p", "top_k")  # not in API version 2026-10-21 (_constants.py)
_MB = 1024 * 1024


# -- models ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """What the fake knows of one model (see the module docstring for each field's source)."""

    min_cacheable: int  # prompt-caching "Cache limitations" / the model's page
    tokenizer: float  # tokens per byte/4: 1.3 on the Opus 4.7 tokenizer and later
    thinking: str  # when ``thinking`` is omitted: "off" | "on" | "always" (cannot be disabled)
    thinking_types: frozenset[str]  # the thinking.type values it accepts
    efforts: tuple[str, ...]  # the output_config.effort levels it accepts (empty: none)
    default_effort: str | None
    display: str  # the default thinking display: "omitted" | "summarized"
    off_only_at_high: bool = False  # "disabled"/"between_tools" only at effort high or below
    retires: date | None = None  # _data/deprecated_models.py


_ALWAYS = ModelSpec(512, 1.3, "always", frozenset({"adaptive"}), EFFORTS, "high", "omitted")
MODELS: dict[str, ModelSpec] = {
    "claude-fable-5-2": _ALWAYS,  # min_cacheable inferred (see docstring)
    "claude-mythos-5-2": _ALWAYS,
    "claude-haiku-5-5": ModelSpec(
        512, 1.3, "on", frozenset({"adaptive", "disabled"}), EFFORTS, "medium", "omitted", True
    ),
    "claude-sonnet-5-5": ModelSpec(
        512, 1.3, "on", frozenset({"adaptive", "between_tools"}), EFFORTS, "high", "omitted", True
    ),
    "claude-fable-5-1": _ALWAYS,
    "claude-opus-5-5": replace(_ALWAYS, default_effort="medium"),
    "claude-mythos-5-1": _ALWAYS,
    "claude-sonnet-5": ModelSpec(
        1024, 1.3, "on", frozenset({"adaptive", "disabled"}), EFFORTS, "high", "omitted"
    ),
    "claude-fable-5": _ALWAYS,
    "claude-mythos-5": _ALWAYS,
    "claude-opus-5": ModelSpec(
        512, 1.3, "on", frozenset({"adaptive", "disabled"}), EFFORTS, "high", "omitted", True
    ),
    "claude-opus-4-8": ModelSpec(
        1024, 1.3, "off", frozenset({"adaptive", "disabled"}), EFFORTS, "high", "omitted"
    ),
    "claude-opus-4-7": ModelSpec(
        2048, 1.3, "off", frozenset({"adaptive", "disabled"}), EFFORTS, "high", "omitted"
    ),
    "claude-mythos-preview": ModelSpec(
        2048,
        1.3,
        "always",
        frozenset({"adaptive", "enabled"}),
        (*EFFORTS[:3], "max"),
        "high",
        "omitted",
        retires=date(2026, 6, 30),
    ),
    "claude-opus-4-6": ModelSpec(
        4096,
        1.0,
        "off",
        frozenset({"adaptive", "enabled", "disabled"}),
        (*EFFORTS[:3], "max"),
        "high",
        "summarized",
    ),
    "claude-sonnet-4-6": ModelSpec(
        1024,
        1.0,
        "off",
        frozenset({"adaptive", "enabled", "disabled"}),
        (*EFFORTS[:3], "max"),
        "high",
        "summarized",
    ),
    "claude-haiku-4-5": ModelSpec(
        4096, 1.0, "off", frozenset({"enabled", "disabled"}), (), None, "summarized"
    ),
    "claude-opus-4-5": ModelSpec(
        4096,
        1.0,
        "off",
        frozenset({"enabled", "disabled"}),
        EFFORTS[:3],
        "high",
        "summarized",
        retires=date(2027, 1, 22),
    ),
}
MODELS["claude-haiku-4-5-20251001"] = MODELS["claude-haiku-4-5"]
MODELS["claude-opus-4-5-20251101"] = MODELS["claude-opus-4-5"]

# The documented 400 messages (thinking-troubleshooting; api/errors "Common validation errors").
_ENABLED_REFUSED = (
    '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" '
    'and "output_config.effort" to control thinking behavior.'
)
_DISABLED_REFUSED = (
    '"thinking.type.disabled" is not supported for this model. Use "thinking.type.adaptive" '
    'and "output_config.effort" to control thinking behavior.'
)
_DISABLED_REFUSED_PREVIEW = (
    '"thinking.type.disabled" is not supported for this model. Thinking defaults to adaptive '
    'mode when not specified; use "thinking.type.enabled" with "budget_tokens" for extended '
    "thinking."
)
_DISABLED_USE_BETWEEN_TOOLS = (
    'To turn thinking off on this model, send "thinking": {"type": "between_tools"} instead of '
    '{"type": "disabled"}. The model does not think before responding. The short updates it '
    "writes between tool calls come back as thinking blocks."
)
_BETWEEN_TOOLS_REFUSED = '"thinking.type.between_tools" is not supported for this model.'
_ADAPTIVE_REFUSED = "adaptive thinking is not supported on this model"


def _effort_when_off(effort: str) -> str:
    return (
        f"output_config.effort '{effort}' is not supported when thinking is disabled on this "
        "model. Use effort 'high' or below, or enable thinking."
    )


# -- small pieces ---------------------------------------------------------------------------------


def _tokens(data: str | bytes, ratio: float = 1.0) -> int:
    """The fake's token count: UTF-8 bytes / 4, rounded up, times the tokenizer ratio."""
    size = len(data.encode("utf-8") if isinstance(data, str) else data)
    return math.ceil(size * ratio / 4)


def _answer(text: str, budget: int, ratio: float = 1.0) -> tuple[list[str], int, str]:
    """The chunks of ``text`` a stream sends (8 characters each), the output tokens they cost
    (at least 1 per chunk) and the stop reason: ``max_tokens`` when the next chunk would pass
    ``budget``."""
    chunks = [text[i : i + 8] for i in range(0, len(text), 8)] or [""]
    sent: list[str] = []
    output = 0
    for chunk in chunks:
        cost = max(1, _tokens(chunk, ratio))
        if output + cost > budget:
            return sent, output, "max_tokens"
        sent.append(chunk)
        output += cost
    return sent, output, "end_turn"


def _timestamp(when: datetime | None) -> str | None:
    return when.isoformat().replace("+00:00", "Z") if when is not None else None


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _first_of_next_month(now: datetime) -> str:
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return f"{year:04d}-{month:02d}-01"


def _render(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class ApiError(Exception):
    """An error response: what the fake sends instead of an answer."""

    def __init__(
        self,
        status: int,
        kind: str,
        message: str,
        error_code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.error_code = error_code
        self.headers = headers or {}

    def body(self, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.kind, "message": self.message}
        if self.error_code is not None:
            error["details"] = {"error_code": self.error_code}
        return {"type": "error", "error": error, "request_id": request_id}


def _bad(message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", message)


# -- state ----------------------------------------------------------------------------------------


@dataclass
class Billed:
    """What one request was billed."""

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int  # all cache writes (= usage.cache_creation_input_tokens)
    batch: bool = False  # billed through the Message Batches API, at half price
    custom_id: str | None = None  # the batch request it was billed for
    model: str | None = None
    thinking_tokens: int = 0  # part of output_tokens
    cache_write_1h_tokens: int = 0  # the part of cache_write_tokens written with ttl "1h"


@dataclass
class RateWindow:
    """One ``anthropic-ratelimit-{kind}-*`` window."""

    limit: int
    remaining: int
    reset_at: datetime
    period: float = 60.0  # seconds to a full window after a reset


@dataclass
class _Block:
    """One block of the rendered prompt."""

    rendered: bytes
    tokens: int
    ttl: str | None  # its cache_control's TTL, if it is a breakpoint
    messages: bool  # in ``messages`` (after the settings that are part of that prefix)


@dataclass
class _Plan:
    """What one Messages request is answered and billed."""

    model: str
    spec: ModelSpec
    max_tokens: int
    thinking_tokens: int  # 0: no thinking block
    display: str
    usage: dict[str, Any]  # input, cache read/write counts, cache_creation split
    writes: list[tuple[str, str]]  # (prefix digest, ttl) to store
    reads: list[str]  # digests to refresh

    @property
    def uncached(self) -> int:
        return int(self.usage["input_tokens"]) + int(self.usage["cache_creation_input_tokens"])


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


class _BadRequest(Exception):
    """A batch body the API would refuse with a 400."""


@dataclass
class FakeAnthropic:
    """Start with ``with FakeAnthropic() as fake:``; point the SDK at ``fake.url``."""

    reply: Callable[[dict[str, Any]], str] = lambda body: '"""Summarize the thing."""'
    scenarios: list[str] = field(default_factory=list)  # consumed one per request
    default: str = "ok"
    retry_after: float = 1.0
    ratelimit: dict[str, str] = field(default_factory=dict)  # static headers (see docstring)
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
    max_request_bytes: int = 32 * _MB  # api/errors "Request size limits": Messages API
    batch_max_bytes: int = 256 * _MB  # same table: Batch API
    thinking_tokens: int = 300  # fake's choice: what a thinking request thinks at effort high
    windows: dict[str, RateWindow] = field(default_factory=dict)
    _offset: float = 0.0  # seconds added to the real clock by advance()
    _cache: dict[str, tuple[datetime, str]] = field(default_factory=dict)  # digest -> expiry, ttl
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        now = self.now()
        defaults = {  # api/rate-limits, Start tier, Claude Haiku 4.5
            "requests": 1_000,
            "input-tokens": 2_000_000,
            "output-tokens": 400_000,
            "tokens": 2_400_000,
        }
        for kind, limit in defaults.items():
            self.windows.setdefault(kind, RateWindow(limit, limit, now + timedelta(seconds=60)))

    def __enter__(self) -> FakeAnthropic:
        self.server = LocalServer(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.close()

    @property
    def url(self) -> str:
        return self.server.root

    # -- clock and rate limits ------------------------------------------------------------------

    def now(self) -> datetime:
        """The fake's notion of now: the real UTC time plus what ``advance`` added."""
        return datetime.now(UTC) + timedelta(seconds=self._offset)

    def advance(self, seconds: float) -> None:
        """Move the fake's clock on (cache TTLs, rate-limit resets, batch expiry)."""
        with self._lock:
            self._offset += seconds

    def set_ratelimit(
        self,
        kind: str,
        *,
        limit: int | None = None,
        remaining: int | None = None,
        reset_in: float | None = None,
        period: float | None = None,
    ) -> RateWindow:
        """Set one window (``requests``, ``tokens``, ``input-tokens``, ``output-tokens``)."""
        assert kind in RATE_KINDS, kind
        with self._lock:
            window = self.windows[kind]
            if limit is not None:
                window.limit = limit
                window.remaining = min(window.remaining, limit)
            if remaining is not None:
                window.remaining = remaining
            if period is not None:
                window.period = period
            if reset_in is not None:
                window.reset_at = self.now() + timedelta(seconds=reset_in)
            return window

    def _window(self, kind: str, now: datetime) -> RateWindow:
        """The window as of ``now`` (under the lock): full again once its reset has passed."""
        window = self.windows[kind]
        if now >= window.reset_at:
            window.remaining = window.limit
            window.reset_at = now + timedelta(seconds=window.period)
        return window

    def _admit(self, uncached_input: int) -> None:
        """Take one request and its uncached input from the windows, or raise the 429."""
        with self._lock:
            now = self.now()
            needs = {
                "requests": 1,
                "input-tokens": uncached_input,
                "tokens": uncached_input,
                "output-tokens": 1,
            }
            for kind, need in needs.items():
                window = self._window(kind, now)
                if window.remaining < need:
                    wait = max(1, math.ceil((window.reset_at - now).total_seconds()))
                    raise ApiError(
                        429,
                        "rate_limit_error",
                        f"This request would exceed your organization's rate limit of "
                        f"{window.limit} {kind.replace('-', ' ')} per minute.",
                        headers={"retry-after": str(wait)},
                    )
            for kind in ("requests", "input-tokens", "tokens"):
                self.windows[kind].remaining -= needs[kind]

    def _spend_output(self, tokens: int) -> None:
        with self._lock:
            now = self.now()
            for kind in ("output-tokens", "tokens"):
                window = self._window(kind, now)
                window.remaining = max(0, window.remaining - tokens)

    def _rate_headers(self) -> list[tuple[str, str]]:
        if self.ratelimit:
            return [(f"anthropic-ratelimit-{k}", v) for k, v in self.ratelimit.items()]
        headers = []
        with self._lock:
            now = self.now()
            for kind in RATE_KINDS:
                window = self._window(kind, now)
                remaining = window.remaining
                if kind != "requests":  # "rounded to the nearest thousand"
                    remaining = math.floor(remaining / 1000 + 0.5) * 1000
                headers += [
                    (f"anthropic-ratelimit-{kind}-limit", str(window.limit)),
                    (f"anthropic-ratelimit-{kind}-remaining", str(remaining)),
                    (f"anthropic-ratelimit-{kind}-reset", _rfc3339(window.reset_at)),
                ]
        return headers

    # -- requests -------------------------------------------------------------------------------

    def _next_scenario(self) -> str:
        with self._lock:
            return self.scenarios.pop(0) if self.scenarios else self.default

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length", 0))
        data = handler.rfile.read(length) if length else b""
        raw = data.decode("utf-8", errors="replace")
        scenario = self._next_scenario()
        request_id = f"req_{uuid.uuid4().hex[:24]}"
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
        messages_route = method == "POST" and path == "/v1/messages"
        try:
            if not messages_route and not batch_route:
                raise ApiError(404, "not_found_error", f"no route {handler.path}")
            cap = self.batch_max_bytes if batch_route else self.max_request_bytes
            if len(data) > cap:
                raise ApiError(
                    413,
                    "request_too_large",
                    f"Request exceeds the maximum allowed number of bytes ({cap}).",
                )
            if self.api_key is not None and not self._authorized(handler):
                sent = handler.headers.get("x-api-key") or handler.headers.get("authorization")
                raise ApiError(401, "authentication_error", f"invalid credentials: {sent}")
            try:
                body = json.loads(raw) if raw else {}
            except json.JSONDecodeError as problem:
                raise _bad(f"The request body is not valid JSON: {problem}") from None
            self._scenario_error(scenario, body)
            if batch_route:
                self._batch_route(handler, method, path, body, request_id)
                return
            if not isinstance(body, dict):
                raise _bad("The request body must be a JSON object.")
            with self._lock:
                plan = self._plan(body)
                self._admit(plan.uncached)
                self._commit(plan)
            text = self.reply(body)
            if body.get("stream"):
                self._stream(handler, plan, text, scenario, request_id)
            else:
                self._message(handler, plan, text, request_id)
        except ApiError as error:
            self._error(handler, error, request_id)

    def _scenario_error(self, scenario: str, body: Any) -> None:
        """The error a scenario stands for, raised (or nothing)."""
        retry = {"retry-after": str(self.retry_after)}
        month = _first_of_next_month(self.now())
        model = body.get("model") if isinstance(body, dict) else None
        errors = {
            "429": ApiError(
                429,
                "rate_limit_error",
                "Number of requests has exceeded your per-minute rate limit.",
                headers=retry,
            ),
            "429-spend": ApiError(
                429,
                "rate_limit_error",
                "You have reached your API usage limits: your organization has crossed its "
                "monthly API usage threshold, set based on your organization's API tier. You "
                f"will regain access on {month} at 00:00 UTC.",
                "enforced_spend_limit_reached",
            ),
            "429-contract": ApiError(
                429,
                "rate_limit_error",
                "The organization has reached the spend limit of its contract.",
                "contract_spend_limit_reached",
            ),
            "429-ramp": ApiError(
                429,
                "rate_limit_error",
                "The request would exceed a ramp limit, which caps how fast usage can grow.",
                "ramp_limit_exceeded",
                headers=retry,
            ),
            "400": _bad('messages: roles must alternate between "user" and "assistant"'),
            "400-workspace-limit": _bad(
                "You have reached your specified workspace API usage limits. You will regain "
                f"access on {month} at 00:00 UTC."
            ),
            "402": ApiError(
                402,
                "billing_error",
                "There's an issue with your billing or payment information.",
            ),
            "402-linked": ApiError(
                402,
                "billing_error",
                "The organization linked to the request's user profile has reached a spend "
                "limit that it set, or lacks credit for the request.",
                "linked_organization_spend_limit_reached",
            ),
            "404-model": ApiError(404, "not_found_error", f"model: {model}"),
            "413": ApiError(
                413, "request_too_large", "Request exceeds the maximum allowed number of bytes."
            ),
            "529": ApiError(529, "overloaded_error", "Overloaded"),
            "500": ApiError(500, "api_error", "Internal server error"),
        }
        if scenario in errors:
            raise errors[scenario]

    def _authorized(self, handler: BaseHTTPRequestHandler) -> bool:
        key = handler.headers.get("x-api-key")
        bearer = handler.headers.get("authorization", "")
        return key == self.api_key or bearer == f"Bearer {self.api_key}"

    def _headers(self, handler: BaseHTTPRequestHandler, request_id: str) -> None:
        handler.send_header("request-id", request_id)
        for name, value in self._rate_headers():
            handler.send_header(name, value)

    def _error(self, handler: BaseHTTPRequestHandler, error: ApiError, request_id: str) -> None:
        with self._lock:
            self.billed.append(Billed(0, 0, 0, 0))  # before the client can see the error
        data = json.dumps(error.body(request_id)).encode()
        handler.send_response(error.status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(data)))
        for name, value in error.headers.items():
            handler.send_header(name, value)
        self._headers(handler, request_id)
        handler.end_headers()
        handler.wfile.write(data)

    # -- one Messages request: validation, caching, thinking -----------------------------------

    def _plan(self, body: dict[str, Any]) -> _Plan:
        """Validate a Messages body and price it (under the lock): raises the API's error."""
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _bad("model: Field required")
        spec = MODELS.get(model)
        if spec is None or (spec.retires is not None and self.now().date() >= spec.retires):
            raise ApiError(404, "not_found_error", f"model: {model}")
        for name in _SAMPLING:
            if name in body:
                raise _bad(f"{name}: Extra inputs are not permitted")
        max_tokens = body.get("max_tokens", 1024)
        if type(max_tokens) is not int or max_tokens < 1:
            raise _bad("max_tokens: Input should be an integer greater than or equal to 1")
        thinking_tokens, display, settings = self._thinking(body, spec, max_tokens)
        blocks, automatic = self._prompt(body, spec)
        usage, writes, reads = self._caching(model, spec, blocks, automatic, settings)
        return _Plan(model, spec, max_tokens, thinking_tokens, display, usage, writes, reads)

    def _thinking(
        self, body: dict[str, Any], spec: ModelSpec, max_tokens: int
    ) -> tuple[int, str, bytes]:
        """The thinking tokens, display and cache settings of a request."""
        config = body.get("output_config") or {}
        effort = config.get("effort") if isinstance(config, dict) else None
        if effort is not None:
            if effort not in EFFORTS:
                raise _bad(f"output_config.effort: Input should be one of {', '.join(EFFORTS)}")
            if not spec.efforts:
                raise _bad("output_config.effort: effort is not supported on this model")
            if effort not in spec.efforts:
                raise _bad(f"output_config.effort '{effort}' is not supported on this model")
        level = effort or spec.default_effort or "high"
        thinking = body.get("thinking")
        if thinking is None:
            kind = "adaptive" if spec.thinking in ("on", "always") else "disabled"
            thinking = {}
        elif not isinstance(thinking, dict) or not isinstance(thinking.get("type"), str):
            raise _bad("thinking.type: Field required")
        else:
            kind = thinking["type"]
        explicit = "type" in thinking
        if kind not in ("adaptive", "enabled", "disabled", "between_tools"):
            raise _bad(f"thinking.type: Input tag '{kind}' found is not a valid tag")
        if explicit and kind not in spec.thinking_types:
            if kind == "enabled":
                raise _bad(_ENABLED_REFUSED)
            if kind == "adaptive":
                raise _bad(_ADAPTIVE_REFUSED)
            if kind == "between_tools":
                raise _bad(_BETWEEN_TOOLS_REFUSED)
            if "between_tools" in spec.thinking_types:
                raise _bad(_DISABLED_USE_BETWEEN_TOOLS)
            if "enabled" in spec.thinking_types:  # Claude Mythos Preview
                raise _bad(_DISABLED_REFUSED_PREVIEW)
            raise _bad(_DISABLED_REFUSED)
        if kind in ("disabled", "between_tools"):
            if explicit and spec.off_only_at_high and level in ("xhigh", "max"):
                raise _bad(_effort_when_off(level))
            if kind == "disabled" and "display" in thinking:
                raise _bad("thinking.display: not allowed when thinking is disabled")
            tokens = 0
        elif kind == "enabled":
            budget = thinking.get("budget_tokens")
            if type(budget) is not int or budget < 1024 or budget >= max_tokens:
                raise _bad("thinking.budget_tokens: must be at least 1024 and less than max_tokens")
            tokens = min(budget, self.thinking_tokens)
        else:
            tokens = round(self.thinking_tokens * EFFORT_SHARE[level])
        display = thinking.get("display") or spec.display
        settings = _render(
            {"thinking": kind, "effort": level, "tool_choice": body.get("tool_choice")}
        )
        return tokens, display, settings

    def _prompt(self, body: dict[str, Any], spec: ModelSpec) -> tuple[list[_Block], str | None]:
        """The prompt's blocks (tools, system, messages) and the automatic breakpoint's TTL."""
        blocks: list[_Block] = []

        def ttl_of(where: str, marker: Any) -> str | None:
            if marker is None:
                return None
            if not isinstance(marker, dict) or marker.get("type") != "ephemeral":
                raise _bad(f"{where}.cache_control.type: Input should be 'ephemeral'")
            ttl = marker.get("ttl", "5m")
            if ttl not in _TTL:
                raise _bad(f"{where}.cache_control.ttl: Input should be '5m' or '1h'")
            return str(ttl)

        def add(where: str, block: Any, messages: bool, role: str | None = None) -> None:
            if isinstance(block, str):
                block = {"type": "text", "text": block}
            if not isinstance(block, dict):
                raise _bad(f"{where}: Input should be an object")
            ttl = ttl_of(where, block.get("cache_control"))
            content = {k: v for k, v in block.items() if k != "cache_control"}
            if role is not None:
                content["role"] = role
            rendered = _render(content)
            blocks.append(_Block(rendered, _tokens(rendered, spec.tokenizer), ttl, messages))

        for i, tool in enumerate(body.get("tools") or []):
            add(f"tools.{i}", tool, False)
        system = body.get("system")
        if isinstance(system, list):
            for i, block in enumerate(system):
                add(f"system.{i}", block, False)
        elif system:
            add("system", system, False)
        messages = body.get("messages")
        if not isinstance(messages, list):
            raise _bad("messages: Field required")
        for i, message in enumerate(messages):
            if not isinstance(message, dict):
                raise _bad(f"messages.{i}: Input should be an object")
            content = message.get("content")
            parts = content if isinstance(content, list) else [content or ""]
            for j, block in enumerate(parts):
                add(f"messages.{i}.content.{j}", block, True, str(message.get("role")))
        explicit = sum(1 for block in blocks if block.ttl is not None)
        if explicit > _MAX_BREAKPOINTS:
            raise _bad(
                f"A maximum of {_MAX_BREAKPOINTS} blocks with cache_control may be provided. "
                f"Found {explicit}."
            )
        automatic = ttl_of("cache_control", body.get("cache_control"))
        if automatic is not None:
            last = next((b for b in reversed(blocks) if b.messages), None)
            if last is not None and last.ttl is not None:
                if last.ttl != automatic:
                    raise _bad(
                        "cache_control: the last block already has a cache_control with a "
                        "different ttl"
                    )
            elif explicit >= _MAX_BREAKPOINTS:
                raise _bad(
                    f"A maximum of {_MAX_BREAKPOINTS} blocks with cache_control may be "
                    "provided, and automatic caching needs one more."
                )
            elif last is not None:
                last.ttl = automatic
        return blocks, automatic

    def _caching(
        self,
        model: str,
        spec: ModelSpec,
        blocks: list[_Block],
        automatic: str | None,
        settings: bytes,
    ) -> tuple[dict[str, Any], list[tuple[str, str]], list[str]]:
        """Split the input into reads, writes (5m, 1h) and plain input (under the lock)."""
        now = self.now()
        digest = hashlib.sha256(model.encode() + b"\x00")
        digests: list[str] = []
        totals: list[int] = []
        total = 0
        settled = False
        for block in blocks:
            if block.messages and not settled:
                digest.update(b"\x01" + settings)  # part of the messages prefix only
                settled = True
            digest.update(block.rendered + b"\x00")
            digests.append(digest.hexdigest())
            total += block.tokens
            totals.append(total)
        breakpoints = [i for i, block in enumerate(blocks) if block.ttl is not None]

        def cached(key: str) -> bool:
            entry = self._cache.get(key)
            if entry is None:
                return False
            if now >= entry[0]:
                del self._cache[key]
                return False
            return True

        read = 0
        reads: list[str] = []
        for point in breakpoints:
            for j in range(point, max(-1, point - _LOOKBACK), -1):
                if cached(digests[j]):
                    reads.append(digests[j])
                    read = max(read, totals[j])
                    break
        covered = read
        written = {"5m": 0, "1h": 0}
        writes: list[tuple[str, str]] = []
        for point in breakpoints:
            ttl = blocks[point].ttl
            assert ttl is not None
            if totals[point] < spec.min_cacheable or totals[point] <= covered:
                continue  # below the minimum: not cached, silently
            written[ttl] += totals[point] - covered
            covered = totals[point]
            writes.append((digests[point], ttl))
        usage = {
            "input_tokens": total - covered,
            "cache_creation_input_tokens": written["5m"] + written["1h"],
            "cache_read_input_tokens": read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": written["5m"],
                "ephemeral_1h_input_tokens": written["1h"],
            },
        }
        return usage, writes, reads

    def _commit(self, plan: _Plan) -> None:
        """Store the plan's cache writes and refresh its reads (under the lock)."""
        now = self.now()
        for key in plan.reads:
            expires, ttl = self._cache[key]
            self._cache[key] = (max(expires, now + _TTL[ttl]), ttl)
        for key, ttl in plan.writes:
            self._cache[key] = (now + _TTL[ttl], ttl)

    def _billed(self, plan: _Plan, batch: bool = False, custom_id: str | None = None) -> Billed:
        usage = plan.usage
        return Billed(
            usage["input_tokens"],
            0,
            usage["cache_read_input_tokens"],
            usage["cache_creation_input_tokens"],
            batch,
            custom_id,
            model=plan.model,
            cache_write_1h_tokens=usage["cache_creation"]["ephemeral_1h_input_tokens"],
        )

    def _content(
        self, plan: _Plan, text: str
    ) -> tuple[list[dict[str, Any]], list[str], int, int, str]:
        """The content blocks of an answer, the text chunks, output and thinking tokens, and
        the stop reason."""
        thinking = min(plan.thinking_tokens, plan.max_tokens)
        blocks: list[dict[str, Any]] = []
        if thinking:
            blocks.append(
                {
                    "type": "thinking",
                    "thinking": self._summary(plan) if plan.display == "summarized" else "",
                    "signature": self._signature(plan),
                }
            )
        if thinking >= plan.max_tokens:
            return blocks, [], thinking, thinking, "max_tokens"
        sent, output, stop_reason = _answer(text, plan.max_tokens - thinking, plan.spec.tokenizer)
        if sent or not thinking:
            blocks.append({"type": "text", "text": "".join(sent)})
        return blocks, sent, thinking + output, thinking, stop_reason

    def _summary(self, plan: _Plan) -> str:
        return f"The fake thought for {plan.thinking_tokens} tokens about the request."

    def _signature(self, plan: _Plan) -> str:
        seed = f"{plan.model}:{plan.thinking_tokens}".encode()
        return base64.b64encode(hashlib.sha256(seed).digest()).decode()

    def _usage(self, plan: _Plan, output: int, thinking: int) -> dict[str, Any]:
        usage = {**plan.usage, "output_tokens": output}
        if thinking:
            usage["output_tokens_details"] = {"thinking_tokens": thinking}
        return usage

    # -- answers ---------------------------------------------------------------------------------

    def _message(
        self, handler: BaseHTTPRequestHandler, plan: _Plan, text: str, request_id: str
    ) -> None:
        blocks, _, output, thinking, stop_reason = self._content(plan, text)
        billed = self._billed(plan)
        billed.output_tokens, billed.thinking_tokens = output, thinking
        with self._lock:
            self.billed.append(billed)
        self._spend_output(output)
        data = json.dumps(
            {
                "id": f"msg_{request_id[4:]}",
                "type": "message",
                "role": "assistant",
                "model": plan.model,
                "content": blocks,
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": self._usage(plan, output, thinking),
            }
        ).encode()
        handler.send_response(200)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(data)))
        self._headers(handler, request_id)
        handler.end_headers()
        handler.wfile.write(data)

    def _stream(
        self,
        handler: BaseHTTPRequestHandler,
        plan: _Plan,
        text: str,
        scenario: str,
        request_id: str,
    ) -> None:
        blocks, sent, output, thinking, stop_reason = self._content(plan, text)
        billed = self._billed(plan)
        billed.thinking_tokens = thinking
        with self._lock:
            self.billed.append(billed)  # before the first byte; its output grows before each send
        spent = 0

        def bill(tokens: int) -> None:
            nonlocal spent
            with self._lock:
                billed.output_tokens += tokens
            spent += tokens
            self._spend_output(tokens)

        def send(event: str, data: dict[str, Any]) -> None:
            handler.wfile.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
            handler.wfile.flush()

        pinged = False

        def start(index: int, block: dict[str, Any]) -> None:
            nonlocal pinged
            send(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": block},
            )
            if not pinged:
                send("ping", {"type": "ping"})
                pinged = True
                if scenario == "hang":
                    self._hang(handler, send)

        def delta(index: int, payload: dict[str, Any]) -> None:
            if scenario == "slow":
                time.sleep(self.delay)
            send(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": payload},
            )

        def midstream() -> None:
            send(
                "error",
                {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            )

        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream")
        handler.send_header("cache-control", "no-cache")
        handler.send_header("connection", "close")
        self._headers(handler, request_id)
        handler.end_headers()
        try:
            send(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": f"msg_{request_id[4:]}",
                        "type": "message",
                        "role": "assistant",
                        "model": plan.model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {**plan.usage, "output_tokens": 1},
                    },
                },
            )
            index = 0
            if thinking:
                bill(thinking)
                start(0, {"type": "thinking", "thinking": "", "signature": ""})
                summary = blocks[0]["thinking"]
                pieces = [summary[i : i + 32] for i in range(0, len(summary), 32)] or [""]
                for piece in pieces:
                    delta(0, {"type": "thinking_delta", "thinking": piece})
                delta(0, {"type": "signature_delta", "signature": blocks[0]["signature"]})
                send("content_block_stop", {"type": "content_block_stop", "index": 0})
                index = 1
            if len(blocks) > index:
                start(index, {"type": "text", "text": ""})
                for i, chunk in enumerate(sent):
                    bill(max(1, _tokens(chunk, plan.spec.tokenizer)))
                    delta(index, {"type": "text_delta", "text": chunk})
                    if scenario == "midstream" and i >= len(sent) // 2:
                        midstream()
                        return
                send("content_block_stop", {"type": "content_block_stop", "index": index})
            if scenario == "midstream":
                midstream()
                return
            bill(output - spent)  # nothing, unless a chunk was empty
            send(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {
                        "output_tokens": output,
                        "input_tokens": plan.usage["input_tokens"],
                        "cache_creation_input_tokens": plan.usage["cache_creation_input_tokens"],
                        "cache_read_input_tokens": plan.usage["cache_read_input_tokens"],
                        **(
                            {"output_tokens_details": {"thinking_tokens": thinking}}
                            if thinking
                            else {}
                        ),
                    },
                },
            )
            send("message_stop", {"type": "message_stop"})
        except (BrokenPipeError, ConnectionResetError):
            with self._lock:
                self.disconnects.append({"id": request_id, "time": time.monotonic()})

    def _hang(
        self, handler: BaseHTTPRequestHandler, send: Callable[[str, dict[str, Any]], None]
    ) -> None:
        """Until the client goes away: watch the socket for its EOF (a close is seen within a
        millisecond), and ping now and then as the API does."""
        connection = handler.connection
        last_ping = time.monotonic()
        while True:
            readable, _, _ = select.select([connection], [], [], 0.001)
            if readable and not connection.recv(1, socket.MSG_PEEK):
                raise ConnectionResetError
            if time.monotonic() - last_ping > 0.5:
                send("ping", {"type": "ping"})
                last_ping = time.monotonic()

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
                raise ApiError(405, "invalid_request_error", "use POST")
            try:
                requests = self._check_batch(body)
            except _BadRequest as problem:
                raise _bad(str(problem)) from None
            batch = _Batch(
                id=f"msgbatch_{uuid.uuid4().hex[:24]}",
                requests=requests,
                created_at=self.now(),
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
            raise ApiError(404, "not_found_error", "no such message batch")
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
                    found.cancel_initiated_at = self.now()
                data = self._batch_json(found)
            if refused:
                raise _bad("the message batch has ended and cannot be canceled")
            self._json(handler, data, request_id)
        else:
            raise ApiError(405, "invalid_request_error", f"no {method} here")

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
                    raise _BadRequest(f"{where}.params.{name}: Extra inputs are not permitted")
            extra = set(request) - {"custom_id", "params"}
            if extra:
                raise _BadRequest(f"{where}.{sorted(extra)[0]}: Extra inputs are not permitted")
            requests.append((custom_id, params))
        return requests

    def _poll(self, batch: _Batch) -> None:
        """One GET of the batch (under the lock): it moves on when its polls are used up."""
        if batch.status == "in_progress":
            batch.polls += 1
            if self.now() >= batch.created_at + timedelta(hours=24):
                self._end(batch, canceled=False, expired=True)
            elif batch.polls > self.batch_polls_until_ended:
                self._end(batch, canceled=False)
        elif batch.status == "canceling":
            batch.cancel_polls += 1
            if batch.cancel_polls > self.batch_polls_while_canceling:
                self._end(batch, canceled=True)

    def _end(self, batch: _Batch, canceled: bool, expired: bool = False) -> None:
        """Process every request: its outcome, its result line, its billing (under the lock)."""
        fallback = "canceled" if canceled else "expired" if expired else "succeeded"
        results = []
        for custom_id, params in batch.requests:
            outcome = self.batch_outcomes.get(custom_id, fallback)
            kind, _, error_type = outcome.partition(":")
            assert kind in BATCH_OUTCOMES, outcome
            result: dict[str, Any] = {"type": kind}
            error: ApiError | None = None
            if kind == "succeeded":
                try:
                    result["message"] = self._batch_message(custom_id, params)
                except ApiError as refused:
                    kind, error = "errored", refused
                    result = {"type": kind}
            elif kind == "errored":
                error = ApiError(
                    400,
                    error_type or "invalid_request_error",
                    "this request could not be processed",
                )
            if error is not None:
                result["error"] = error.body(f"req_{uuid.uuid4().hex[:24]}")
            batch.outcomes[custom_id] = kind
            results.append({"custom_id": custom_id, "result": result})
        batch.results = results[::-1]  # the API promises no order
        batch.status = "ended"
        batch.ended_at = self.now()

    def _batch_message(self, custom_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """What a stream of ``params`` would have answered, billed as a batch request."""
        plan = self._plan(params)  # the lock is reentrant
        self._commit(plan)
        blocks, _, output, thinking, stop_reason = self._content(plan, self.reply(params))
        billed = self._billed(plan, batch=True, custom_id=custom_id)
        billed.output_tokens, billed.thinking_tokens = output, thinking
        self.billed.append(billed)
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": plan.model,
            "content": blocks,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": self._usage(plan, output, thinking),
        }

    def _archived_at(self, batch: _Batch) -> datetime | None:
        archived = batch.created_at + timedelta(days=29)  # batch-processing: 29 days
        return archived if self.now() >= archived else None

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
            "archived_at": _timestamp(self._archived_at(batch)),
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
            archived = self._archived_at(batch)
        if not ended:
            raise ApiError(404, "not_found_error", "the batch has no results yet")
        if archived is not None:
            raise ApiError(
                404,
                "not_found_error",
                f"the results of message batch {batch.id} are no longer available: they are "
                "kept 29 days after its creation",
            )
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
