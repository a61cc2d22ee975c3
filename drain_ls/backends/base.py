"""The interface every backend implements, and what a request and its outcome look like."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from drain_ls.budget import Usage


@dataclass(frozen=True, slots=True)
class DrainRequest:
    """One request: a shared context (cacheable across drains on a file) and a prompt."""

    drain: str
    model: str
    max_tokens: int
    context: str  # the per-file context: the first system block, the same for every drain
    prompt: str  # what this drain asks about its scope
    instructions: str = ""
    scope: str = ""  # the code of the scope itself (what the offline backend works from)
    style: str = "google"
    scope_kind: str = ""  # a custom drain's scope: function, class, module, file, commits
    inputs: str = ""  # the results of the drain this one runs after
    cache_context: bool = False  # mark the context as a cache breakpoint
    # What a local backend may use besides the text (a commit review's batch); never sent.
    attachment: object = field(default=None, repr=False, compare=False)


@dataclass(slots=True)
class Progress:
    """What a request has cost so far: still readable when the request is cancelled."""

    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0  # the API's count, once it has sent one
    received_bytes: int = 0  # text received so far
    started: bool = False  # the API accepted the request (message_start)
    finished: bool = False  # the API sent its final output count (message_delta)
    max_tokens: int | None = None
    thinking: bool = False  # a thinking block started

    def usage(self) -> Usage:
        """The billed usage: the API's final output count, or else an estimate from the text
        received (after a cancel there is no final count; counting a token per 3 bytes errs
        on the side of too much), never more than ``max_tokens``. Once the model has begun
        to think, the estimate is ``max_tokens``: thinking is billed in full as output while
        the stream shows at most a summary of it (the thinking page), so what was received
        says nothing about what was billed."""
        output = self.output_tokens
        if not self.finished:
            output = max(output, math.ceil(self.received_bytes / 3))
            if self.thinking and self.max_tokens is not None:
                output = self.max_tokens
            if self.max_tokens is not None:
                output = min(output, self.max_tokens)
        return Usage(
            input_tokens=self.input_tokens,
            output_tokens=output,
            cache_read_tokens=self.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens,
        )


@dataclass(frozen=True, slots=True)
class DrainResponse:
    """A complete answer."""

    text: str
    usage: Usage
    stop_reason: str | None
    model: str

    @property
    def truncated(self) -> bool:
        """The answer hit ``max_tokens``: never cached, never shown."""
        return self.stop_reason == "max_tokens"


class BackendError(Exception):
    """A request that failed; ``kind`` says how the scheduler should react.

    - ``rate_limited``, ``overloaded``, ``server``, ``midstream``, ``connection``,
      ``timeout``: transient; the task waits (``retry_after``, the rate-limit reset, or a
      backoff) and runs again.
    - ``spend_limit`` (a 429 naming a spend limit, a 400 for a workspace's usage limit),
      ``billing`` (a 402), ``model`` (a 404 for the model: unknown or retired), ``auth``:
      nothing more will succeed; the drains stop with ``message`` as the reason and the
      task is deferred, never dropped.
    - ``too_large`` (a 413) and ``request`` (any other 4xx): this task cannot run as it is;
      it is deferred with the reason, and the drains go on.
    """

    KINDS = (
        "rate_limited",
        "spend_limit",
        "billing",
        "model",
        "overloaded",
        "server",
        "midstream",
        "connection",
        "timeout",
        "auth",
        "too_large",
        "request",
    )
    # What stops every drain (the reason is shown; drain.resume tries again).
    STOPPING = frozenset({"spend_limit", "billing", "model", "auth"})

    def __init__(
        self,
        kind: str,
        message: str,
        retry_after: float | None = None,
        usage: Usage | None = None,
        *,
        status: int | None = None,
        error_type: str | None = None,
        error_code: str | None = None,
    ) -> None:
        """A failure of ``kind``; ``usage`` is what it was billed; ``status``,
        ``error_type`` and ``error_code`` are the API's (never its message)."""
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after
        self.usage = usage or Usage()
        self.status = status
        self.error_type = error_type
        self.error_code = error_code


def _reset_time(value: str) -> datetime | None:
    """An RFC 3339 time (``2026-12-06T13:05:42Z``), as the ``*-reset`` headers give it."""
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


RATE_LIMIT_KINDS = ("requests", "tokens", "input-tokens", "output-tokens")
STALE_AFTER = 60.0  # seconds after which values with no readable reset time are stale


@dataclass(slots=True)
class RateLimits:
    """The latest ``anthropic-ratelimit-*`` headers: name -> value.

    A ``*-remaining`` value is only true until its ``*-reset`` time: after that the window
    is full again, whether or not another response arrives (the rate-limits page), so a
    kind whose reset has passed counts as fully available.
    """

    values: dict[str, str] = field(default_factory=dict)
    now: Any = None  # a clock for tests: () -> aware datetime
    received_at: datetime | None = None  # when the values came (for a window with no reset)

    def update(self, name: str, value: str) -> None:
        """One header of a response just received."""
        self.values[name] = value
        self.received_at = self._now()

    def _now(self) -> datetime:
        return self.now() if self.now is not None else datetime.now(UTC)

    def _reset(self, kind: str) -> datetime | None:
        """When ``kind``'s window is full again: its ``*-reset`` time, or, when none can be
        read (a proxy dropped it, another format), ``STALE_AFTER`` after the values came:
        a window is a minute long on the rate-limits page, so they are stale by then."""
        value = self.values.get(f"{kind}-reset")
        when = _reset_time(value) if value is not None else None
        if when is None and self.received_at is not None:
            when = self.received_at + timedelta(seconds=STALE_AFTER)
        return when

    def remaining_share(self, kind: str = "tokens") -> float | None:
        """``remaining / limit`` for ``kind`` (tokens, input-tokens, ...), when known and
        its reset time has not passed (after it: 1.0)."""
        try:
            remaining = float(self.values[f"{kind}-remaining"])
            limit = float(self.values[f"{kind}-limit"])
        except (KeyError, ValueError):
            return None
        if not (math.isfinite(remaining) and math.isfinite(limit)) or limit <= 0:
            return None
        reset = self._reset(kind)
        if reset is not None and reset <= self._now():
            return 1.0
        return max(0.0, min(1.0, remaining / limit))

    def holding_back(self, reserve: float) -> tuple[float, datetime] | None:
        """None when every kind has at least ``reserve`` of its window left. Else (seconds
        to wait, until when): the latest reset among the low kinds, when every low window is
        full again. Values of unknown age with no reset time hold nothing back (they could
        otherwise hold it back for good)."""
        now = self._now()
        waits: list[datetime] = []
        for kind in RATE_LIMIT_KINDS:
            share = self.remaining_share(kind)
            if share is None or share >= reserve:
                continue
            reset = self._reset(kind)
            if reset is not None:
                waits.append(reset)
        if not waits:
            return None
        until = max(waits)
        return max(0.0, (until - now).total_seconds()), until

    def seconds_to_reset(self) -> float | None:
        """Seconds until the soonest ``*-reset`` time among the headers (RFC 3339)."""
        now = self._now()
        waits = []
        for name, value in self.values.items():
            if not name.endswith("-reset"):
                continue
            when = _reset_time(value)
            if when is not None:
                waits.append(max(0.0, (when - now).total_seconds()))
        return min(waits) if waits else None


class Backend(Protocol):
    """Writes the text a drain asks for."""

    name: str
    rate_limits: RateLimits

    async def complete(self, request: DrainRequest, progress: Progress) -> DrainResponse:
        """Send one request; on failure raise ``BackendError``; cancellable at any await."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def describe(value: Any) -> str:
    """A short, secret-free description of an exception for logs."""
    return f"{type(value).__name__}"
