"""The Messages API request of every drain-ls call, streamed (``anthropic.py``) or batched
(``batches.py``): its parameters (``request_params``) and the SDK client that sends it
(``sdk_client``). Both backends import this module; neither imports the other.
"""

from __future__ import annotations

from typing import Any

import anthropic
from anthropic import AsyncAnthropic

from drain_ls.backends.base import DrainRequest, RateLimits
from drain_ls.models import lookup


def request_params(request: DrainRequest) -> dict[str, Any]:
    """The Messages API parameters of ``request``: what ``AnthropicBackend.complete`` sends
    (without ``stream``), and what each request of a batch carries.

    The file's context comes first and is the same bytes for every drain on the file, so a
    cache breakpoint after it (``cache_context``: only where it reaches the model's minimum
    and another drain will send it too) can be read back; the drain's own instructions and
    its scope follow. On a model that thinks by default, thinking is turned off (or kept
    at its lowest effort) so that it does not eat the answer's ``max_tokens``."""
    system: list[dict[str, Any]] = []
    if request.context:
        block: dict[str, Any] = {"type": "text", "text": request.context}
        if request.cache_context:
            block["cache_control"] = {"type": "ephemeral", "ttl": "5m"}
        system.append(block)
    if request.instructions:
        system.append({"type": "text", "text": request.instructions})
    params: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "system": system,
        "messages": [{"role": "user", "content": request.prompt}],
    }
    model = lookup(request.model)
    if model is not None:
        params.update(model.thinking_params())
    return params


class _HeaderWatcher(anthropic.Middleware):
    """Reads the rate-limit headers of every attempt."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits

    async def handle_async(self, request: Any, call_next: Any) -> Any:
        response = await call_next(request)
        for name, value in response.headers.items():
            lowered = name.lower()
            if lowered.startswith("anthropic-ratelimit-"):
                self.limits.update(lowered.removeprefix("anthropic-ratelimit-"), value)
            elif lowered == "retry-after":
                self.limits.update("retry-after", value)
        return response


def sdk_client(
    rate_limits: RateLimits,
    api_key: str | None = None,
    base_url: str | None = None,
    timeout: float = 60.0,
) -> AsyncAnthropic:
    """The SDK client of every drain-ls request (streamed or batched): no retries of its own
    (the scheduler owns backoff), the rate-limit headers of each response kept in
    ``rate_limits``; key and URL default to the environment."""
    return AsyncAnthropic(
        api_key=api_key,
        base_url=base_url,
        max_retries=0,
        timeout=timeout,
        middleware=[_HeaderWatcher(rate_limits)],
    )
