"""The Message Batches client with the real SDK against the local fake API (never a mock)."""

from __future__ import annotations

import ast
import json
import socket
import traceback
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest
from anthropic import AsyncAnthropic

from drain_ls.backends.anthropic import AnthropicBackend
from drain_ls.backends.base import BackendError, DrainRequest, Progress
from drain_ls.backends.batches import BatchClient, BatchOutcome, request_params
from drain_ls.budget import Usage, cost_usd, price_of
from tests.fake_anthropic import FakeAnthropic

KEY = "sk-ant-test-not-a-real-key"
CANARY_KEY = "sk-ant-CANARY-4f1d9c0e7b2a"
CANARY_PROMPT = "PROMPT-CANARY-9e8d7c"
# Over Haiku 4.5's minimum cacheable prompt (4,096 tokens): a breakpoint there caches.
CONTEXT = "def f(x):\n    return x * 2\n" * 700


def drain(prompt: str, max_tokens: int = 200, context: str = CONTEXT) -> DrainRequest:
    return DrainRequest(
        drain="docstrings",
        model="claude-haiku-4-5",
        max_tokens=max_tokens,
        context=context,
        prompt=prompt,
        instructions="You write docstrings.",
        cache_context=bool(context),
    )


def echo(body: dict[str, object]) -> str:
    """A docstring naming the prompt it answers: results can be told apart."""
    messages = body["messages"]
    assert isinstance(messages, list)
    return f'"""Doc for {messages[0]["content"]}."""'


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(reply=echo) as api:
        yield api


def client(fake: FakeAnthropic, api_key: str = KEY) -> BatchClient:
    return BatchClient(api_key=api_key, base_url=fake.url)


def paths(fake: FakeAnthropic) -> list[str]:
    return [entry["path"].removeprefix("/v1/messages/batches") for entry in fake.log]


async def test_submit_poll_and_results_match_what_the_fake_billed(fake: FakeAnthropic) -> None:
    fake.ratelimit = {"requests-limit": "50", "requests-remaining": "40"}
    api = client(fake)
    items = [(f"task-{i}", drain(f"Write a docstring for f{i}.")) for i in range(3)]
    batch_id = await api.submit(items)
    assert batch_id.startswith("msgbatch_")
    assert fake.billed == []  # nothing is billed before the batch is processed

    first = await api.status(batch_id)
    assert first.id == batch_id
    assert (first.processing_status, first.ended) == ("in_progress", False)
    assert first.counts == {
        "processing": 3,
        "succeeded": 0,
        "errored": 0,
        "canceled": 0,
        "expired": 0,
    }
    assert first.expires_at is not None and first.created_at is not None
    assert (first.expires_at - first.created_at).total_seconds() == 24 * 3600

    second = await api.status(batch_id)
    assert (second.processing_status, second.ended) == ("ended", True)
    assert second.counts["succeeded"] == 3 and second.counts["processing"] == 0
    assert second.ended_at is not None

    outcomes = await api.results(batch_id)
    await api.close()
    assert set(outcomes) == {"task-0", "task-1", "task-2"}
    billed = {b.custom_id: b for b in fake.billed}
    assert all(b.batch for b in fake.billed) and len(fake.billed) == 3
    for i in range(3):
        outcome = outcomes[f"task-{i}"]
        assert outcome.kind == "succeeded" and outcome.error == ""
        # Matched on custom_id: the fake answers in reverse order.
        assert outcome.text == f'"""Doc for Write a docstring for f{i}.."""'
        assert isinstance(ast.literal_eval(outcome.text), str)  # a valid docstring literal
        assert outcome.stop_reason == "end_turn" and not outcome.truncated
        assert outcome.model == "claude-haiku-4-5"
        b = billed[f"task-{i}"]
        assert outcome.usage == Usage(
            b.input_tokens, b.output_tokens, b.cache_read_tokens, b.cache_write_tokens
        )
        response = outcome.response()
        assert response is not None and response.text == outcome.text
    # The shared file context is cached: written by one request, read by the others.
    writes = [o.usage.cache_write_tokens for o in outcomes.values()]
    reads = [o.usage.cache_read_tokens for o in outcomes.values()]
    assert sorted(writes)[-1] > 0 and sorted(writes)[:2] == [0, 0]
    assert sorted(reads)[0] == 0 and sorted(reads)[1:] == [max(writes)] * 2
    # Half price through the batch API, on what the fake billed.
    usage = outcomes["task-0"].usage
    price = price_of("claude-haiku-4-5")
    assert cost_usd(usage, price, batch=True) == pytest.approx(cost_usd(usage, price) / 2)
    assert api.rate_limits.remaining_share("requests") == 0.8
    # What the SDK sent: create, two polls, then results (a poll and the results_url).
    batch = f"/{batch_id}"
    assert paths(fake) == ["", batch, batch, batch, f"{batch}/results"]
    assert fake.log[-1]["headers"]["accept"] == "application/binary"
    assert fake.log[0]["headers"]["authorization"] == f"Bearer {KEY}"


async def test_results_can_be_read_again_without_new_billing(fake: FakeAnthropic) -> None:
    fake.batch_polls_until_ended = 0
    api = client(fake)
    batch_id = await api.submit([("only", drain("Document g."))])
    first = await api.results(batch_id)
    again = await api.results(batch_id)
    await api.close()
    assert first == again and first["only"].kind == "succeeded"
    assert len(fake.billed) == 1


async def test_params_are_what_the_streaming_backend_sends(fake: FakeAnthropic) -> None:
    """Each request of a batch carries what ``complete`` sends, and costs what it costs."""
    requests = {
        "plain": drain("Write a docstring for f."),
        "truncated": drain("Write a long docstring for f. " * 3, max_tokens=5),
        "bare": DrainRequest("docstrings", "claude-haiku-4-5", 50, "", "Document h."),
    }
    with FakeAnthropic(reply=echo) as streaming:
        backend = AnthropicBackend(api_key=KEY, base_url=streaming.url)
        streamed = {name: await backend.complete(r, Progress()) for name, r in requests.items()}
        await backend.close()
        bodies = [json.loads(entry["body"]) for entry in streaming.log]
    for body, request in zip(bodies, requests.values(), strict=True):
        assert body.pop("stream") is True
        assert body == request_params(request)

    fake.batch_polls_until_ended = 0
    api = client(fake)
    batch_id = await api.submit(list(requests.items()))
    outcomes = await api.results(batch_id)
    await api.close()
    [create] = [json.loads(entry["body"]) for entry in fake.log if entry["path"].endswith("es")]
    assert create == {
        "requests": [
            {"custom_id": name, "params": request_params(request)}
            for name, request in requests.items()
        ]
    }
    for name, response in streamed.items():
        outcome = outcomes[name]
        assert (outcome.text, outcome.stop_reason, outcome.usage) == (
            response.text,
            response.stop_reason,
            response.usage,
        )
    assert outcomes["truncated"].truncated and outcomes["truncated"].usage.output_tokens <= 5
    assert request_params(requests["bare"])["system"] == []


async def test_errored_expired_and_canceled_items_cost_nothing(fake: FakeAnthropic) -> None:
    fake.batch_outcomes = {
        "bad": "errored",
        "busy": "errored:overloaded_error",
        "late": "expired",
        "gone": "canceled",
    }
    api = client(fake)
    names = ["good", "bad", "busy", "late", "gone"]
    batch_id = await api.submit([(name, drain(f"Document {name}.")) for name in names])
    assert not (await api.status(batch_id)).ended
    status = await api.status(batch_id)
    outcomes = await api.results(batch_id)
    await api.close()
    assert status.counts == {
        "processing": 0,
        "succeeded": 1,
        "errored": 2,
        "canceled": 1,
        "expired": 1,
    }
    assert {name: o.kind for name, o in outcomes.items()} == {
        "good": "succeeded",
        "bad": "errored",
        "busy": "errored",
        "late": "expired",
        "gone": "canceled",
    }
    assert outcomes["bad"].error == "invalid_request_error" and not outcomes["bad"].retryable
    assert outcomes["busy"].error == "overloaded_error" and outcomes["busy"].retryable
    assert outcomes["late"].retryable and outcomes["gone"].retryable
    for name in ("bad", "busy", "late", "gone"):
        outcome = outcomes[name]
        assert outcome.usage == Usage() and outcome.text == "" and outcome.response() is None
        assert outcome.stop_reason is None
    assert [b.custom_id for b in fake.billed] == ["good"]
    assert outcomes["good"].usage.total > 0


@pytest.mark.parametrize(
    "bad_id",
    ["", "a" * 65, "has space", "dot.ted", "slash/", "new\n", "abc\n", "é", "tab\t"],
)
async def test_invalid_custom_ids_are_refused_before_sending(
    fake: FakeAnthropic, bad_id: str
) -> None:
    api = client(fake)
    with pytest.raises(ValueError, match="custom_id"):
        await api.submit([("fine", drain("Document f.")), (bad_id, drain("Document g."))])
    await api.close()
    assert fake.log == []


async def test_custom_id_edges_repeats_and_empty_batches(fake: FakeAnthropic) -> None:
    api = client(fake)
    with pytest.raises(ValueError, match="repeated"):
        await api.submit([("same", drain("a")), ("same", drain("b"))])
    with pytest.raises(ValueError, match="at least one"):
        await api.submit([])
    assert fake.log == []
    batch_id = await api.submit([("a" * 64, drain("a")), ("Az09_-", drain("b"))])
    await api.close()
    [body] = [json.loads(entry["body"]) for entry in fake.log]
    assert [r["custom_id"] for r in body["requests"]] == ["a" * 64, "Az09_-"]
    assert batch_id in fake.batches


@pytest.mark.parametrize(
    ("scenario", "kind", "retry_after"),
    [
        ("429", "rate_limited", 0.7),
        ("429-spend", "spend_limit", None),
        ("529", "overloaded", None),
        ("500", "server", None),
    ],
)
async def test_create_failures_map_to_backend_error_kinds(
    fake: FakeAnthropic, scenario: str, kind: str, retry_after: float | None
) -> None:
    fake.scenarios = [scenario]
    fake.retry_after = 0.7
    api = client(fake)
    with pytest.raises(BackendError) as caught:
        await api.submit([("one", drain("Document f."))])
    await api.close()
    assert caught.value.kind == kind
    assert caught.value.retry_after == retry_after
    assert caught.value.usage == Usage()
    assert len(fake.log) == 1  # no retry of the SDK's own
    assert fake.batches == {}


async def test_a_request_the_api_refuses_is_a_request_error(fake: FakeAnthropic) -> None:
    api = client(fake)
    with pytest.raises(BackendError) as caught:
        await api.submit([("zero", drain("Document f.", max_tokens=0))])
    await api.close()
    assert caught.value.kind == "request"
    assert str(caught.value) == "API error 400: invalid_request_error"


async def test_refused_credentials_and_missing_key(
    fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake.api_key = KEY
    api = client(fake, api_key="sk-ant-wrong")
    with pytest.raises(BackendError) as caught:
        await api.submit([("one", drain("Document f."))])
    await api.close()
    assert caught.value.kind == "auth"

    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    keyless = BatchClient(base_url=fake.url)
    with pytest.raises(BackendError) as caught:
        await keyless.status("msgbatch_x")
    await keyless.close()
    assert caught.value.kind == "auth" and "API key" in str(caught.value)


async def test_key_and_url_come_from_the_environment(
    fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.api_key = KEY
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    api = BatchClient()
    batch_id = await api.submit([("one", drain("Document f."))])
    await api.close()
    assert batch_id in fake.batches


async def test_cancel_then_results_of_a_canceled_batch(fake: FakeAnthropic) -> None:
    fake.batch_polls_until_ended = 5
    fake.batch_polls_while_canceling = 1
    fake.batch_outcomes = {"done": "succeeded"}  # finished before the cancel arrived
    api = client(fake)
    batch_id = await api.submit([("done", drain("a")), ("skip", drain("b"))])
    assert (await api.status(batch_id)).processing_status == "in_progress"
    canceling = await api.cancel(batch_id)
    assert (canceling.processing_status, canceling.ended) == ("canceling", False)
    assert canceling.counts["processing"] == 2
    with pytest.raises(BackendError) as early:
        await api.results(batch_id)  # its poll still sees the batch canceling
    assert early.value.kind == "request" and "not ended" in str(early.value)
    ended = await api.status(batch_id)
    assert ended.ended and ended.counts == {
        "processing": 0,
        "succeeded": 1,
        "errored": 0,
        "canceled": 1,
        "expired": 0,
    }
    outcomes = await api.results(batch_id)
    assert outcomes["done"].kind == "succeeded" and outcomes["skip"].kind == "canceled"
    assert [b.custom_id for b in fake.billed if b.batch] == ["done"]
    with pytest.raises(BackendError) as late:
        await api.cancel(batch_id)  # an ended batch cannot be canceled
    await api.close()
    assert late.value.kind == "request"


async def test_results_before_the_end_and_unknown_batches(fake: FakeAnthropic) -> None:
    api = client(fake)
    batch_id = await api.submit([("one", drain("a"))])
    with pytest.raises(BackendError) as early:
        await api.results(batch_id)
    assert early.value.kind == "request"
    with pytest.raises(BackendError) as unknown:
        await api.status("msgbatch_doesnotexist")
    await api.close()
    assert unknown.value.kind == "request" and "404" in str(unknown.value)


@pytest.mark.parametrize("declare_length", [True, False])
async def test_results_cut_short_are_a_connection_error(
    fake: FakeAnthropic, declare_length: bool
) -> None:
    fake.batch_polls_until_ended = 0
    fake.batch_results_truncate_at = 150
    fake.batch_results_declare_length = declare_length
    api = client(fake)
    batch_id = await api.submit([(f"t{i}", drain(f"Document f{i}.")) for i in range(4)])
    with pytest.raises(BackendError) as caught:
        await api.results(batch_id)
    assert caught.value.kind == "connection"
    fake.batch_results_truncate_at = None  # the results can be fetched again
    outcomes = await api.results(batch_id)
    await api.close()
    assert sorted(outcomes) == ["t0", "t1", "t2", "t3"]


async def test_unreachable_api_is_a_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api = BatchClient(api_key=KEY, base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(BackendError) as caught:
        await api.status("msgbatch_x")
    await api.close()
    assert caught.value.kind == "connection"


async def test_long_unicode_answers_survive_the_jsonl_chunking(fake: FakeAnthropic) -> None:
    fake.reply = lambda body: '"""' + "Décrit f — ünïcödé ✓. " * 40 + '"""'
    fake.batch_polls_until_ended = 0
    api = client(fake)
    batch_id = await api.submit([(f"u{i}", drain(f"Document f{i}.", 4000)) for i in range(20)])
    outcomes = await api.results(batch_id)
    await api.close()
    assert len(outcomes) == 20
    assert all(o.text == fake.reply({}) for o in outcomes.values())


async def test_no_key_or_prompt_in_any_error(fake: FakeAnthropic) -> None:
    """The fake's 401 echoes the key and its 400s quote the request: none of it may leak."""
    errors: list[BaseException] = []
    fake.api_key = KEY
    api = client(fake, api_key=CANARY_KEY)
    request = drain(CANARY_PROMPT, context=CANARY_PROMPT)
    for call in (
        lambda: api.submit([("one", request)]),
        lambda: api.status("msgbatch_x"),
        lambda: api.results("msgbatch_x"),
        lambda: api.cancel("msgbatch_x"),
    ):
        with pytest.raises(BackendError) as caught:
            await call()
        errors.append(caught.value)
    await api.close()
    # The premise: the SDK's own exception carries the fake's message, and so the key.
    raw = AsyncAnthropic(api_key=CANARY_KEY, base_url=fake.url, max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as sdk_error:
        await raw.messages.batches.retrieve("msgbatch_x")
    await raw.close()
    assert CANARY_KEY in str(sdk_error.value)

    fake.api_key = None
    api = client(fake, api_key=CANARY_KEY)
    for scenario in ("429", "429-spend", "529", "500"):
        fake.scenarios = [scenario]
        with pytest.raises(BackendError) as caught:
            await api.submit([("one", request)])
        errors.append(caught.value)
    with pytest.raises(BackendError) as refused:
        await api.submit([("zero", drain(CANARY_PROMPT, max_tokens=0))])
    errors.append(refused.value)
    with pytest.raises(ValueError) as invalid:
        await api.submit([("bad id", request)])
    errors.append(invalid.value)
    fake.batch_outcomes = {"one": "errored"}
    fake.batch_polls_until_ended = 0
    batch_id = await api.submit([("one", request)])
    outcome: BatchOutcome = (await api.results(batch_id))["one"]
    await api.close()

    assert [getattr(e, "kind", None) for e in errors[:4]] == ["auth"] * 4
    assert len(errors) == 10
    for error in errors:
        text = "".join(traceback.format_exception(error)) + repr(error)
        assert CANARY_KEY not in text
        assert CANARY_PROMPT not in text
        if isinstance(error, BackendError):
            assert error.__cause__ is None and error.__suppress_context__
    assert CANARY_PROMPT not in repr(outcome) and outcome.error == "invalid_request_error"
