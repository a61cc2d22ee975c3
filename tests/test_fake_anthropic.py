"""The fake API is what the documentation says: checked with the real SDK against it.

Each test drives ``anthropic.AsyncAnthropic`` (``max_retries=0``) at ``tests.fake_anthropic`` and
asserts what the docs and the SDK's own types promise (see the fake's module docstring for the
source of each behaviour).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anthropic
import pytest

from tests.fake_anthropic import MODELS, Billed, FakeAnthropic

HAIKU = "claude-haiku-4-5"  # thinks only when asked, minimum cacheable prompt 4,096
USER = [{"role": "user", "content": "Write a docstring for f."}]


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as api:
        yield api


@pytest.fixture
async def client(fake: FakeAnthropic) -> AsyncIterator[anthropic.AsyncAnthropic]:
    sdk = anthropic.AsyncAnthropic(base_url=fake.url, api_key="test", max_retries=0)
    yield sdk
    await sdk.close()


async def create(client: anthropic.AsyncAnthropic, **params: Any) -> anthropic.types.Message:
    params.setdefault("model", HAIKU)
    params.setdefault("max_tokens", 200)
    params.setdefault("messages", USER)
    return await client.messages.create(**params)


async def stream(client: anthropic.AsyncAnthropic, **params: Any) -> anthropic.types.Message:
    params.setdefault("model", HAIKU)
    params.setdefault("max_tokens", 200)
    params.setdefault("messages", USER)
    async with client.messages.stream(**params) as events:
        return await events.get_final_message()


# -- errors ---------------------------------------------------------------------------------------

ERRORS = [
    # scenario, class, status, error.type, details.error_code, retry-after sent
    ("429", anthropic.RateLimitError, 429, "rate_limit_error", None, True),
    ("429-spend", anthropic.EnforcedSpendLimitReachedError, 429, "rate_limit_error",
     "enforced_spend_limit_reached", False),
    ("429-contract", anthropic.ContractSpendLimitReachedError, 429, "rate_limit_error",
     "contract_spend_limit_reached", False),
    ("429-ramp", anthropic.RampLimitExceededError, 429, "rate_limit_error",
     "ramp_limit_exceeded", True),
    ("400", anthropic.BadRequestError, 400, "invalid_request_error", None, False),
    ("400-workspace-limit", anthropic.BadRequestError, 400, "invalid_request_error", None, False),
    ("402", anthropic.PaymentRequiredError, 402, "billing_error", None, False),
    ("402-linked", anthropic.LinkedOrganizationSpendLimitReachedError, 402, "billing_error",
     "linked_organization_spend_limit_reached", False),
    ("404-model", anthropic.NotFoundError, 404, "not_found_error", None, False),
    ("413", anthropic.ContentTooLargeError, 413, "request_too_large", None, False),
    ("529", anthropic.OverloadedError, 529, "overloaded_error", None, False),
    ("500", anthropic.InternalServerError, 500, "api_error", None, False),
]  # fmt: skip


@pytest.mark.parametrize("how", [create, stream])
@pytest.mark.parametrize(("scenario", "cls", "status", "kind", "code", "retry"), ERRORS)
async def test_each_error_scenario_raises_the_documented_sdk_class(
    fake: FakeAnthropic,
    client: anthropic.AsyncAnthropic,
    how: Any,
    scenario: str,
    cls: type[anthropic.APIStatusError],
    status: int,
    kind: str,
    code: str | None,
    retry: bool,
) -> None:
    fake.scenarios = [scenario]
    with pytest.raises(anthropic.APIStatusError) as raised:
        await how(client)
    error = raised.value
    assert type(error) is cls
    assert (error.status_code, error.type, error.error_code) == (status, kind, code)
    assert error.request_id == fake.log[-1]["id"] == error.body["request_id"]
    assert error.request_id.startswith("req_")
    assert ("retry-after" in error.response.headers) is retry
    if scenario == "404-model":
        assert HAIKU in error.api_message
    if scenario == "400-workspace-limit":
        assert error.api_message.startswith(
            "You have reached your specified workspace API usage limits."
        )
        assert "at 00:00 UTC" in error.api_message


async def test_a_midstream_error_is_an_api_status_error_with_status_200(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    for call in (stream, lambda c: consume(c, stream=True)):
        fake.scenarios = ["midstream"]
        with pytest.raises(anthropic.APIStatusError) as raised:
            await call(client)
        error = raised.value
        assert type(error) is anthropic.APIStatusError
        assert (error.status_code, error.type, error.error_code) == (200, "overloaded_error", None)
        assert error.request_id == fake.log[-1]["id"]


async def consume(client: anthropic.AsyncAnthropic, **params: Any) -> list[Any]:
    events = await create(client, **params)
    return [event async for event in events]  # type: ignore[attr-defined]


@pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")
@pytest.mark.parametrize("model", ["claude-someday-9", "claude-mythos-preview"])
async def test_an_unknown_or_retired_model_is_not_found(
    client: anthropic.AsyncAnthropic, model: str
) -> None:
    for how in (create, stream):
        with pytest.raises(anthropic.NotFoundError) as raised:
            await how(client, model=model)
        assert raised.value.type == "not_found_error" and model in raised.value.api_message


@pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")
async def test_a_model_stops_answering_once_the_clock_passes_its_retirement(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    retires = MODELS["claude-opus-4-5"].retires
    assert retires is not None
    await create(client, model="claude-opus-4-5")
    gap = datetime(retires.year, retires.month, retires.day, tzinfo=UTC) - fake.now()
    fake.advance(gap.total_seconds() + 1)
    with pytest.raises(anthropic.NotFoundError):
        await create(client, model="claude-opus-4-5")


async def test_a_body_over_the_size_limit_is_request_too_large(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    fake.max_request_bytes = 2_000
    fake.api_key = "right"  # the 413 comes before the API servers see the key
    await_big = create(client, messages=[{"role": "user", "content": "x" * 3_000}])
    with pytest.raises(anthropic.ContentTooLargeError) as raised:
        await await_big
    assert raised.value.type == "request_too_large"


async def test_sampling_parameters_are_refused(client: anthropic.AsyncAnthropic) -> None:
    for name in ("temperature", "top_p", "top_k"):
        with pytest.raises(anthropic.BadRequestError) as raised:
            await create(client, extra_body={name: 1})
        assert raised.value.api_message == f"{name}: Extra inputs are not permitted"


class SlowList(list[Billed]):
    """A ``fake.billed`` whose appends take a while: a fake that wrote its response before
    recording the billing would let the client see the response while the append sleeps."""

    def append(self, item: Billed) -> None:
        time.sleep(0.02)
        super().append(item)


async def test_billing_is_recorded_before_the_client_sees_the_answer_or_the_error(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    fake.billed = SlowList()
    expected = 0
    for i in range(12):
        scenario = ["500", "429-spend", "midstream", "ok"][i % 4]
        fake.scenarios = [scenario]
        expected += 1
        received: list[str] = []
        try:
            async with client.messages.stream(model=HAIKU, max_tokens=200, messages=USER) as s:
                async for text in s.text_stream:
                    received.append(text)
                final = await s.get_final_message()
        except anthropic.APIStatusError:
            # Checked the moment the error arrives, never after a wait.
            assert len(fake.billed) == expected
            sent = sum(max(1, math.ceil(len(t.encode()) / 4)) for t in received)
            assert fake.billed[-1].output_tokens == sent
            assert scenario != "ok"
        else:
            assert len(fake.billed) == expected
            assert fake.billed[-1].output_tokens == final.usage.output_tokens
            assert fake.billed[-1].input_tokens == final.usage.input_tokens
        fake.scenarios = [scenario if scenario != "midstream" else "ok"]
        expected += 1
        try:
            answer = await create(client)
        except anthropic.APIStatusError:
            assert len(fake.billed) == expected and fake.billed[-1].output_tokens == 0
        else:
            assert len(fake.billed) == expected
            assert fake.billed[-1].output_tokens == answer.usage.output_tokens


# -- thinking -------------------------------------------------------------------------------------


async def test_a_model_that_thinks_by_default_streams_a_thinking_block_then_the_text(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    for how in (stream, create):
        message = await how(client, model="claude-sonnet-5-5", max_tokens=1_000)
        thinking, text = message.content
        assert isinstance(thinking, anthropic.types.ThinkingBlock) and thinking.signature
        assert thinking.thinking == ""  # display "omitted" is the default on newer models
        assert isinstance(text, anthropic.types.TextBlock)
        assert text.text == '"""Summarize the thing."""'
        assert message.stop_reason == "end_turn"
        details = message.usage.output_tokens_details
        assert details is not None and details.thinking_tokens == fake.thinking_tokens
        assert message.usage.output_tokens == fake.billed[-1].output_tokens
        assert fake.billed[-1].thinking_tokens == fake.thinking_tokens
    # A model that does not think unless asked answers with the text alone.
    message = await stream(client)
    assert [block.type for block in message.content] == ["text"]


async def test_summarized_thinking_carries_its_text_and_effort_changes_how_much(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    message = await stream(
        client, model="claude-opus-4-6", max_tokens=1_000, thinking={"type": "adaptive"}
    )
    assert message.content[0].type == "thinking" and message.content[0].thinking  # type: ignore[union-attr]
    low = await stream(
        client, model="claude-sonnet-5-5", max_tokens=1_000, output_config={"effort": "low"}
    )
    assert low.usage.output_tokens_details is not None
    assert 0 < low.usage.output_tokens_details.thinking_tokens < fake.thinking_tokens


async def test_thinking_that_uses_up_max_tokens_stops_without_text(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    for how in (stream, create):
        message = await how(client, model="claude-opus-5-5", max_tokens=100)
        assert message.stop_reason == "max_tokens"
        assert [block.type for block in message.content] == ["thinking"]
        assert message.usage.output_tokens == 100 == fake.billed[-1].output_tokens


@pytest.mark.parametrize(
    ("model", "params", "message"),
    [
        ("claude-opus-5-5", {"thinking": {"type": "disabled"}}, '"thinking.type.disabled" is'),
        ("claude-fable-5-1", {"thinking": {"type": "disabled"}}, '"thinking.type.disabled" is'),
        (
            "claude-sonnet-5",
            {"thinking": {"type": "enabled", "budget_tokens": 1024}},
            '"thinking.type.enabled" is not supported',
        ),
        ("claude-sonnet-5-5", {"thinking": {"type": "disabled"}}, 'send "thinking": {"type": "be'),
        ("claude-opus-4-8", {"thinking": {"type": "between_tools"}}, 'between_tools" is not'),
        (HAIKU, {"thinking": {"type": "adaptive"}}, "adaptive thinking is not supported"),
        (
            "claude-opus-5",
            {"thinking": {"type": "disabled"}, "output_config": {"effort": "xhigh"}},
            "output_config.effort 'xhigh' is not supported when thinking is disabled",
        ),
        (HAIKU, {"output_config": {"effort": "low"}}, "effort"),
        ("claude-opus-4-6", {"output_config": {"effort": "xhigh"}}, "'xhigh'"),
        (HAIKU, {"thinking": {"type": "enabled", "budget_tokens": 500}}, "budget_tokens"),
    ],
)
async def test_a_thinking_configuration_the_model_rejects_is_a_400(
    client: anthropic.AsyncAnthropic, model: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        await create(client, model=model, max_tokens=2_000, **params)
    assert raised.value.type == "invalid_request_error"
    assert message in raised.value.api_message


async def test_accepted_ways_to_turn_thinking_off(client: anthropic.AsyncAnthropic) -> None:
    for model, thinking in [
        ("claude-sonnet-5", {"type": "disabled"}),
        ("claude-opus-5", {"type": "disabled"}),
        ("claude-sonnet-5-5", {"type": "between_tools"}),
    ]:
        message = await create(client, model=model, thinking=thinking)
        assert [block.type for block in message.content] == ["text"]


# -- prompt caching -------------------------------------------------------------------------------


def system(text: str, ttl: str = "5m") -> list[dict[str, Any]]:
    return [{"type": "text", "text": text, "cache_control": {"type": "ephemeral", "ttl": ttl}}]


async def test_a_prefix_below_the_model_minimum_is_not_cached(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    small = "x" * 15_000  # about 3,760 tokens: under Haiku 4.5's 4,096
    for _ in range(2):
        usage = (await create(client, system=system(small))).usage
        assert usage.cache_creation_input_tokens == usage.cache_read_input_tokens == 0
        assert fake.billed[-1].cache_write_tokens == fake.billed[-1].cache_read_tokens == 0
    # The same prefix clears the 512-token minimum of a 5.x model.
    usage = (
        await create(client, model="claude-sonnet-5-5", max_tokens=1_000, system=system(small))
    ).usage
    assert usage.cache_creation_input_tokens and usage.cache_creation_input_tokens > 0


async def test_a_byte_identical_prefix_is_read_and_a_changed_byte_misses(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    big = "y" * 20_000
    first = (await create(client, system=system(big))).usage
    assert first.cache_creation_input_tokens and first.cache_creation_input_tokens >= 4_096
    assert first.cache_creation is not None
    assert first.cache_creation.ephemeral_5m_input_tokens == first.cache_creation_input_tokens
    second = (
        await stream(client, system=system(big), messages=[USER[0] | {"content": "Hi."}])
    ).usage
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert second.cache_creation_input_tokens == 0
    assert fake.billed[-1].cache_read_tokens == second.cache_read_input_tokens
    changed = (await create(client, system=system(big[:-1] + "z"))).usage
    assert changed.cache_read_input_tokens == 0
    assert changed.cache_creation_input_tokens == first.cache_creation_input_tokens
    other_model = (await create(client, model="claude-opus-4-6", system=system(big))).usage
    assert other_model.cache_read_input_tokens == 0  # a cache is per model


async def test_tools_come_first_in_the_cached_prefix(client: anthropic.AsyncAnthropic) -> None:
    tool = {"name": "look", "description": "Look.", "input_schema": {"type": "object"}}
    big = "t" * 20_000
    await create(client, tools=[tool], system=system(big))
    same = (await create(client, tools=[tool], system=system(big))).usage
    assert same.cache_read_input_tokens and same.cache_read_input_tokens > 0
    renamed = (await create(client, tools=[tool | {"name": "peek"}], system=system(big))).usage
    assert renamed.cache_read_input_tokens == 0


async def test_a_cache_entry_expires_after_its_ttl(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    five, hour = "f" * 20_000, "h" * 20_000
    await create(client, system=system(five))
    await create(client, system=system(hour, "1h"))
    assert fake.billed[-1].cache_write_1h_tokens == fake.billed[-1].cache_write_tokens > 0
    fake.advance(4 * 60)  # a read refreshes the 5-minute lifetime
    assert (await create(client, system=system(five))).usage.cache_read_input_tokens
    fake.advance(4 * 60)
    assert (await create(client, system=system(five))).usage.cache_read_input_tokens
    fake.advance(5 * 60 + 1)
    expired = (await create(client, system=system(five))).usage
    assert expired.cache_read_input_tokens == 0 and expired.cache_creation_input_tokens
    kept = (await create(client, system=system(hour, "1h"))).usage
    assert kept.cache_read_input_tokens and kept.cache_read_input_tokens > 0
    fake.advance(3_600 + 1)
    assert (await create(client, system=system(hour, "1h"))).usage.cache_read_input_tokens == 0


async def test_at_most_four_breakpoints(client: anthropic.AsyncAnthropic) -> None:
    blocks = [system(f"block {i}")[0] for i in range(4)]
    await create(client, system=blocks)
    with pytest.raises(anthropic.BadRequestError):
        await create(client, system=[*blocks, system("block 4")[0]])
    with pytest.raises(anthropic.BadRequestError):  # automatic caching needs a fifth slot
        await create(client, system=blocks, cache_control={"type": "ephemeral"})


async def test_automatic_caching_marks_the_last_message_block(
    client: anthropic.AsyncAnthropic,
) -> None:
    messages = [{"role": "user", "content": "m" * 20_000}]
    first = (await create(client, messages=messages, cache_control={"type": "ephemeral"})).usage
    assert first.cache_creation_input_tokens and first.input_tokens == 0
    turn = [*messages, {"role": "assistant", "content": "ok"}, {"role": "user", "content": "more"}]
    second = (await create(client, messages=turn, cache_control={"type": "ephemeral"})).usage
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens


async def test_newer_models_count_about_thirty_percent_more_tokens(
    client: anthropic.AsyncAnthropic,
) -> None:
    text = [{"role": "user", "content": "w" * 40_000}]
    old = (await create(client, model="claude-sonnet-4-6", messages=text)).usage.input_tokens
    new = (await create(client, model="claude-sonnet-5", messages=text, max_tokens=1_000)).usage
    assert new.input_tokens / old == pytest.approx(1.3, abs=0.01)


# -- rate limits ----------------------------------------------------------------------------------


def ratelimit(response: Any, kind: str) -> tuple[int, int, datetime]:
    headers = response.headers
    reset = headers[f"anthropic-ratelimit-{kind}-reset"]
    return (
        int(headers[f"anthropic-ratelimit-{kind}-limit"]),
        int(headers[f"anthropic-ratelimit-{kind}-remaining"]),
        datetime.fromisoformat(reset.replace("Z", "+00:00")),
    )


async def test_rate_limit_headers_come_from_windows_that_reset(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    raw = client.messages.with_raw_response
    fake.set_ratelimit("tokens", limit=50_000, remaining=10_000, reset_in=2.0)
    first = await raw.create(model=HAIKU, max_tokens=200, messages=USER)
    limit, remaining, reset = ratelimit(first, "tokens")
    assert (limit, remaining) == (50_000, 10_000)  # "rounded to the nearest thousand"
    assert timedelta(0) < reset - fake.now() <= timedelta(seconds=2)
    assert fake.windows["tokens"].remaining < 10_000  # the request consumed from it
    requests = ratelimit(first, "requests")
    assert requests[1] == requests[0] - 1
    fake.advance(3)
    second = await raw.create(model=HAIKU, max_tokens=200, messages=USER)
    limit, remaining, reset = ratelimit(second, "tokens")
    assert (limit, remaining) == (50_000, 50_000)
    assert reset - fake.now() > timedelta(seconds=50)  # a new window


async def test_an_exhausted_window_refuses_until_its_reset(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    fake.set_ratelimit("requests", remaining=0, reset_in=5)
    with pytest.raises(anthropic.RateLimitError) as raised:
        await create(client)
    assert raised.value.response.headers["retry-after"] == "5"
    assert raised.value.response.headers["anthropic-ratelimit-requests-remaining"] == "0"
    fake.advance(5)
    await create(client)
    fake.set_ratelimit("input-tokens", remaining=3, reset_in=-1)  # already past: full again
    await create(client)


async def test_a_static_ratelimit_dict_replaces_the_headers(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    fake.ratelimit = {"tokens-limit": "1000", "tokens-remaining": "250"}
    response = await client.messages.with_raw_response.create(
        model=HAIKU, max_tokens=200, messages=USER
    )
    ratelimit_headers = {k: v for k, v in response.headers.items() if "ratelimit" in k}
    assert ratelimit_headers == {
        "anthropic-ratelimit-tokens-limit": "1000",
        "anthropic-ratelimit-tokens-remaining": "250",
    }


# -- batches --------------------------------------------------------------------------------------


def batch_request(custom_id: str, **params: Any) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "params": {"model": HAIKU, "max_tokens": 200, "messages": USER, **params},
    }


async def ended(client: anthropic.AsyncAnthropic, batch_id: str) -> Any:
    for _ in range(10):
        batch = await client.messages.batches.retrieve(batch_id)
        if batch.processing_status == "ended":
            return batch
    raise AssertionError("the batch never ended")


async def test_batch_results_are_gone_29_days_after_creation(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    batch = await client.messages.batches.create(
        requests=[
            batch_request("a"),
            batch_request("b", model="claude-sonnet-5-5", max_tokens=1_000),
            batch_request("c", model="claude-someday-9"),
        ]
    )
    done = await ended(client, batch.id)
    assert done.archived_at is None
    results = {r.custom_id: r.result async for r in await client.messages.batches.results(batch.id)}
    assert results["a"].type == "succeeded"
    assert [b.type for b in results["b"].message.content] == ["thinking", "text"]  # type: ignore[union-attr]
    assert results["c"].type == "errored"
    assert results["c"].error.error.type == "not_found_error"  # type: ignore[union-attr]
    assert sorted(b.custom_id or "" for b in fake.billed if b.batch) == ["a", "b"]
    fake.advance(timedelta(days=29).total_seconds())
    archived = await client.messages.batches.retrieve(batch.id)
    assert archived.archived_at is not None and archived.results_url
    with pytest.raises(anthropic.NotFoundError):
        await client.messages.batches.results(batch.id)


async def test_a_batch_not_done_in_24_hours_expires(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    fake.batch_polls_until_ended = 100
    batch = await client.messages.batches.create(requests=[batch_request("a")])
    fake.advance(timedelta(hours=24).total_seconds())
    done = await client.messages.batches.retrieve(batch.id)
    assert done.processing_status == "ended" and done.request_counts.expired == 1
    assert not [b for b in fake.billed if b.batch]


async def test_a_batch_over_its_size_limit_is_request_too_large(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    fake.batch_max_bytes = 5_000
    fake.max_request_bytes = 10  # the batch route has its own limit
    await client.messages.batches.create(requests=[batch_request("small")])
    with pytest.raises(anthropic.ContentTooLargeError):
        await client.messages.batches.create(requests=[batch_request(f"r{i}") for i in range(100)])
    assert json.loads(fake.log[-1]["body"])["requests"][0]["custom_id"] == "r0"
