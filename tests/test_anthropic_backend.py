"""The Anthropic backend with the real SDK against the local fake API (never a mock)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from drain_ls.backends.anthropic import AnthropicBackend
from drain_ls.backends.base import BackendError, DrainRequest, Progress
from tests.fake_anthropic import FakeAnthropic

# A context above Haiku 5.5's minimum cacheable prompt (512 tokens), marked as a breakpoint.
REQUEST = DrainRequest(
    drain="docstrings",
    model="claude-haiku-5-5",
    max_tokens=200,
    context="def f(x):\n    return x * 2\n" * 100,
    prompt="Write a docstring for f.",
    instructions="You write docstrings.",
    cache_context=True,
)


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(ratelimit={"tokens-limit": "1000", "tokens-remaining": "250"}) as api:
        yield api


def backend(fake: FakeAnthropic) -> AnthropicBackend:
    return AnthropicBackend(api_key="sk-ant-test-not-a-real-key", base_url=fake.url)


async def test_streamed_answer_and_usage_match_what_the_api_billed(fake: FakeAnthropic) -> None:
    api = backend(fake)
    progress = Progress()
    response = await api.complete(REQUEST, progress)
    await api.close()
    assert response.text == '"""Summarize the thing."""'
    assert response.stop_reason == "end_turn" and not response.truncated
    billed = fake.billed[-1]
    assert response.usage.input_tokens == billed.input_tokens
    assert response.usage.output_tokens == billed.output_tokens
    assert response.usage.cache_write_tokens == billed.cache_write_tokens > 0
    # The request went through the real SDK: streaming, no sampling parameters, the context
    # first, as a cached system block, thinking off (Haiku 5.5 thinks by default).
    body = json.loads(fake.log[-1]["body"])
    assert body["stream"] is True
    assert "temperature" not in body
    assert body["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "5m"}
    assert body["system"][0]["text"] == REQUEST.context
    assert body["thinking"] == {"type": "disabled"}
    assert fake.billed[-1].thinking_tokens == 0
    assert api.rate_limits.remaining_share() == 0.25


async def test_a_breakpoint_below_the_models_minimum_caches_nothing(fake: FakeAnthropic) -> None:
    api = backend(fake)
    small = DrainRequest(
        drain="docstrings",
        model="claude-haiku-4-5",  # minimum 4,096 tokens
        max_tokens=200,
        context=REQUEST.context,
        prompt="Write a docstring for f.",
        instructions="You write docstrings.",
        cache_context=True,
    )
    first = await api.complete(small, Progress())
    second = await api.complete(small, Progress())
    await api.close()
    for response in (first, second):
        assert response.usage.cache_write_tokens == response.usage.cache_read_tokens == 0


async def test_second_drain_on_the_same_file_reads_the_cache(fake: FakeAnthropic) -> None:
    api = backend(fake)
    first = await api.complete(REQUEST, Progress())
    other = DrainRequest(
        drain="summaries",
        model=REQUEST.model,
        max_tokens=100,
        context=REQUEST.context,
        prompt="Summarize f.",
        instructions="You summarize code.",  # another drain's instructions: after the breakpoint
        cache_context=True,
    )
    second = await api.complete(other, Progress())
    await api.close()
    assert first.usage.cache_write_tokens > 0 and first.usage.cache_read_tokens == 0
    assert second.usage.cache_read_tokens == first.usage.cache_write_tokens
    assert second.usage.cache_write_tokens == 0


async def test_cancel_closes_the_connection_and_keeps_the_billed_estimate(
    fake: FakeAnthropic,
) -> None:
    fake.scenarios = ["hang"]
    api = backend(fake)
    progress = Progress()
    task = asyncio.ensure_future(api.complete(REQUEST, progress))
    for _ in range(500):
        if progress.started:
            break
        await asyncio.sleep(0.01)
    assert progress.started
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(500):
        if fake.disconnects:
            break
        await asyncio.sleep(0.01)
    await api.close()
    assert fake.disconnects and fake.disconnects[0]["id"] == fake.log[-1]["id"]
    assert progress.usage().input_tokens == fake.billed[-1].input_tokens


@pytest.mark.parametrize(
    ("scenario", "kind"),
    [
        ("429", "rate_limited"),
        ("429-spend", "spend_limit"),
        ("529", "overloaded"),
        ("500", "server"),
        ("midstream", "midstream"),
    ],
)
async def test_errors_have_a_kind_and_are_not_retried(
    fake: FakeAnthropic, scenario: str, kind: str
) -> None:
    fake.scenarios = [scenario]
    fake.retry_after = 7
    api = backend(fake)
    with pytest.raises(BackendError) as raised:
        await api.complete(REQUEST, Progress())
    await api.close()
    assert raised.value.kind == kind
    assert len(fake.log) == 1  # max_retries=0: our scheduler owns the backoff
    if kind == "rate_limited":
        assert raised.value.retry_after == 7
    if kind == "midstream":
        assert raised.value.usage.input_tokens == fake.billed[-1].input_tokens
    assert "sk-ant-test" not in str(raised.value)


async def test_max_tokens_truncation_is_reported(fake: FakeAnthropic) -> None:
    fake.reply = lambda body: "x" * 4000
    api = backend(fake)
    response = await api.complete(REQUEST, Progress())
    await api.close()
    assert response.truncated
    assert response.usage.output_tokens <= REQUEST.max_tokens


_FIRST_STREAM = """
import asyncio, sys
import drain_ls.lsp.server  # what the server has imported before its first drain
from drain_ls.backends.anthropic import AnthropicBackend, warm_up
from drain_ls.backends.base import Progress
from tests.fake_anthropic import FakeAnthropic
from tests.test_anthropic_backend import REQUEST

if sys.argv[1] == "warm":
    warm_up(REQUEST.model)
with FakeAnthropic() as fake:
    async def first() -> set[str]:
        api = AnthropicBackend(api_key="sk-ant-test-not-a-real-key", base_url=fake.url)
        before = set(sys.modules)
        await api.complete(REQUEST, Progress())
        await api.close()
        return set(sys.modules) - before
    print(len(asyncio.run(first())))
"""


@pytest.mark.parametrize(("warm", "imported"), [("warm", False), ("cold", True)])
def test_the_warm_up_leaves_the_first_stream_nothing_to_import(warm: str, imported: bool) -> None:
    """``warm_up`` (run on a thread when the server makes the backend) streams through the
    SDK from 127.0.0.1 so that the first drain's stream imports nothing on the event loop
    (45 ms in one step, measured). In a process of its own: this one has imported it all."""
    import subprocess
    import sys
    from pathlib import Path

    out = subprocess.run(
        [sys.executable, "-c", _FIRST_STREAM, warm],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert (int(out.stdout.split()[-1]) > 0) is imported, out.stdout
