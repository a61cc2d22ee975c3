"""The interface every backend implements, and what a request and its outcome look like."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from drain_ls.budget import Usage


@dataclass(frozen=True, slots=True)
class DrainRequest:
    """One request: a shared context (cacheable across drains on a file) and a prompt."""

    drain: str
    model: str
    max_tokens: int
    context: str  # the per-file context, sent as a cached system block
    prompt: str  # what this drain asks about its scope
    instructions: str = ""
    scope: str = ""  # the code of the scope itself (what the offline backend works from)
    style: str = "google"
    scope_kind: str = ""  # a custom drain's scope: function, class, module, file, commits
    inputs: str = ""  # the results of the drain this one runs after
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

    def usage(self) -> Usage:
        """The billed usage: the API's final output count, or else an estimate from the text
        received (after a cancel there is no final count; counting a token per 3 bytes errs
        on the side of too much), never more than ``max_tokens``."""
        output = self.output_tokens
        if not self.finished:
            output = max(output, math.ceil(self.received_bytes / 3))
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
    """A request that failed; ``kind`` says how the scheduler should react."""

    KINDS = (
        "rate_limited",
        "spend_limit",
        "overloaded",
        "server",
        "midstream",
        "connection",
        "timeout",
        "auth",
        "request",
    )

    def __init__(
        self, kind: str, message: str, retry_after: float | None = None, usage: Usage | None = None
    ) -> None:
        """A failure of ``kind``; ``usage`` is what it was billed."""
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after
        self.usage = usage or Usage()


@dataclass(slots=True)
class RateLimits:
    """The latest ``anthropic-ratelimit-*`` headers: name -> value."""

    values: dict[str, str] = field(default_factory=dict)

    def remaining_share(self, kind: str = "tokens") -> float | None:
        """``remaining / limit`` for ``kind`` (tokens, input-tokens, ...), when known."""
        try:
            remaining = float(self.values[f"{kind}-remaining"])
            limit = float(self.values[f"{kind}-limit"])
        except (KeyError, ValueError):
            return None
        return remaining / limit if limit > 0 else None

    def seconds_to_reset(self) -> float | None:
        """Seconds until the soonest ``*-reset`` time among the headers (RFC 3339)."""
        now = datetime.now(UTC)
        waits = []
        for name, value in self.values.items():
            if not name.endswith("-reset"):
                continue
            try:
                when = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
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
