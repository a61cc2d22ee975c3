"""Deferred drains through the Message Batches API (billed at half price), on the real SDK.

- ``BatchClient`` wraps the SDK client ``AnthropicBackend`` uses (``messages.sdk_client``,
  ``max_retries=0``): the scheduler owns the backoff. Key and URL default to
  ``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL``.
- Each request of a batch carries exactly the parameters ``AnthropicBackend.complete`` sends
  (``messages.request_params``): the same context first, the same thinking settings.
- SDK failures become ``BackendError`` with the kinds ``AnthropicBackend`` uses (the same
  mapping); neither the API key nor any prompt text ever goes into a message.
- A batch ends within 24 hours. Its results are a JSONL stream (one line per request, in
  any order) fetched from the ``results_url`` the batch reports once it has ended.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anthropic
import httpx2

from drain_ls.backends.base import BackendError, DrainRequest, DrainResponse, RateLimits
from drain_ls.backends.errors import classify
from drain_ls.backends.messages import request_params, sdk_client
from drain_ls.budget import Usage

CUSTOM_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
MAX_REQUESTS = 100_000  # the API's limit per batch
# ... and 256 MB of request body, whichever comes first (the batch-processing page); a
# margin is kept for the JSON around the requests.
MAX_BATCH_BYTES = 256 * 1000 * 1000 - 64 * 1024
PROCESSING_STATUSES = ("in_progress", "canceling", "ended")
OUTCOME_KINDS = ("succeeded", "errored", "canceled", "expired")
# Errored results of these types fail again as they are (the request itself is wrong): they
# leave the queue. Any other error (the API's, a limit, billing, a model retired meanwhile)
# keeps the task deferred, to be sent again.
_INVALID_REQUEST_ERRORS = frozenset({"invalid_request_error", "request_too_large"})
_NO_CREDENTIALS = "Could not resolve authentication method"


@dataclass(frozen=True, slots=True)
class BatchStatus:
    """Where a batch is: ``processing_status`` is ``in_progress``, ``canceling`` or ``ended``;
    ``counts`` has ``processing``, ``succeeded``, ``errored``, ``canceled`` and ``expired``
    (the last four stay zero until the whole batch has ended)."""

    id: str
    processing_status: str
    counts: dict[str, int]
    ended: bool
    created_at: datetime | None = None
    expires_at: datetime | None = None  # 24 hours after creation: processing stops then
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """The result of one request of a batch. ``usage`` is zero unless it ``succeeded``;
    ``error`` is the API's error type for an ``errored`` one (never its message)."""

    custom_id: str
    kind: str  # succeeded, errored, canceled, expired
    text: str = ""
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None
    model: str = ""
    error: str = ""

    @property
    def truncated(self) -> bool:
        """The answer hit ``max_tokens``: never cached, never shown."""
        return self.stop_reason == "max_tokens"

    @property
    def retryable(self) -> bool:
        """Sending the request again may succeed: it never ran (canceled, expired) or failed
        for a reason other than the request itself; an invalid request would fail again."""
        if self.kind in ("canceled", "expired"):
            return True
        return self.kind == "errored" and self.error not in _INVALID_REQUEST_ERRORS

    def response(self) -> DrainResponse | None:
        """The answer as ``AnthropicBackend.complete`` returns it, when it succeeded."""
        if self.kind != "succeeded":
            return None
        return DrainResponse(self.text, self.usage, self.stop_reason, self.model)


def check_custom_id(custom_id: str) -> None:
    """Raise ``ValueError`` unless ``custom_id`` is 1 to 64 of ``a-z A-Z 0-9 _ -``."""
    if not isinstance(custom_id, str) or not CUSTOM_ID.fullmatch(custom_id):
        shown = repr(custom_id)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise ValueError(f"invalid batch custom_id {shown}: 1 to 64 of a-z A-Z 0-9 _ -")


def backend_error(exc: anthropic.APIStatusError) -> BackendError:
    """The ``BackendError`` of an API error on a batch route (a 404 is the batch's)."""
    return classify(exc, route="batch")


@contextmanager
def _mapped(action: str) -> Iterator[None]:
    """Turn what the SDK (or its HTTP client, while a body streams) raises into
    ``BackendError``; no message of the API is kept (it may quote the request)."""
    try:
        yield
    except anthropic.APIStatusError as exc:
        raise backend_error(exc) from None
    except anthropic.APITimeoutError:
        raise BackendError("timeout", f"{action}: the request timed out") from None
    except anthropic.APIConnectionError:
        raise BackendError("connection", f"{action}: cannot reach the API") from None
    except httpx2.TimeoutException:
        raise BackendError("timeout", f"{action}: the response timed out") from None
    except httpx2.TransportError:
        raise BackendError("connection", f"{action}: the connection broke") from None
    except json.JSONDecodeError:
        raise BackendError("connection", f"{action}: the response was cut short") from None
    except anthropic.AnthropicError as exc:
        if "results_url" in str(exc):  # the SDK asks for results only once a batch has ended
            raise BackendError("request", f"{action}: the batch has not ended") from None
        raise BackendError("request", f"{action}: the SDK refused the call") from None
    except TypeError as exc:
        if _NO_CREDENTIALS in str(exc):
            raise BackendError("auth", f"{action}: no API key is set") from None
        raise


def _counts(batch: Any) -> dict[str, int]:
    counts = batch.request_counts
    return {
        name: int(getattr(counts, name, 0) or 0)
        for name in ("processing", "succeeded", "errored", "canceled", "expired")
    }


def _status(batch: Any) -> BatchStatus:
    return BatchStatus(
        id=batch.id,
        processing_status=batch.processing_status,
        counts=_counts(batch),
        ended=batch.processing_status == "ended",
        created_at=getattr(batch, "created_at", None),
        expires_at=getattr(batch, "expires_at", None),
        ended_at=getattr(batch, "ended_at", None),
    )


def _outcome(entry: Any) -> BatchOutcome:
    custom_id = str(getattr(entry, "custom_id", ""))
    result: Any = getattr(entry, "result", None)
    kind = getattr(result, "type", None)
    if kind == "succeeded":
        message = result.message
        usage = message.usage
        return BatchOutcome(
            custom_id,
            "succeeded",
            text="".join(getattr(block, "text", "") or "" for block in message.content),
            usage=Usage(
                input_tokens=usage.input_tokens or 0,
                output_tokens=usage.output_tokens or 0,
                cache_read_tokens=usage.cache_read_input_tokens or 0,
                cache_write_tokens=usage.cache_creation_input_tokens or 0,
            ),
            stop_reason=message.stop_reason,
            model=message.model or "",
        )
    if kind == "errored":
        error = getattr(getattr(result, "error", None), "error", None)
        return BatchOutcome(custom_id, "errored", error=str(getattr(error, "type", "error")))
    if kind in ("canceled", "expired"):
        return BatchOutcome(custom_id, kind)
    return BatchOutcome(custom_id, "errored", error="unknown_result")


class BatchClient:
    """Submits drain requests as a Message Batch, polls it, and reads its results."""

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

    async def submit(self, items: Iterable[tuple[str, DrainRequest]]) -> str:
        """Send ``(custom_id, request)`` pairs as one batch; returns the batch id.

        ``ValueError`` for an invalid or repeated custom_id, or no or too many requests;
        ``BackendError`` when the API refuses the batch."""
        requests: list[dict[str, Any]] = []
        seen: set[str] = set()
        for custom_id, request in items:
            check_custom_id(custom_id)
            if custom_id in seen:
                raise ValueError(f"repeated batch custom_id {custom_id!r}")
            seen.add(custom_id)
            requests.append({"custom_id": custom_id, "params": request_params(request)})
        if not requests:
            raise ValueError("a batch needs at least one request")
        if len(requests) > MAX_REQUESTS:
            raise ValueError(f"a batch holds at most {MAX_REQUESTS} requests")
        with _mapped("batch create"):
            batch = await self.client.messages.batches.create(
                requests=requests  # type: ignore[arg-type]
            )
        return batch.id

    async def status(self, batch_id: str) -> BatchStatus:
        """The batch's processing status and request counts (one poll)."""
        with _mapped("batch status"):
            batch = await self.client.messages.batches.retrieve(batch_id)
        return _status(batch)

    async def results(self, batch_id: str) -> dict[str, BatchOutcome]:
        """custom_id -> outcome, for an ended batch (``BackendError`` of kind ``request``
        before it has ended). Reading them again gives the same answer."""
        outcomes: dict[str, BatchOutcome] = {}
        with _mapped("batch results"):
            lines = await self.client.messages.batches.results(batch_id)
            try:
                async for entry in lines:
                    outcome = _outcome(entry)
                    outcomes[outcome.custom_id] = outcome
            finally:
                await lines.close()
        return outcomes

    async def cancel(self, batch_id: str) -> BatchStatus:
        """Ask the API to stop the batch; requests already done keep their results. The
        batch is ``canceling`` until it has ``ended``: read the results then."""
        with _mapped("batch cancel"):
            batch = await self.client.messages.batches.cancel(batch_id)
        return _status(batch)
