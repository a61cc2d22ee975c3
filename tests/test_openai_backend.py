"""The ``openai`` backend with the real ``openai`` SDK against the local fake server (never a
mock): streaming, usage and its estimate, cancel, every error kind, the endpoint probe, the
context window, and the cleaning of small models' answers."""

from __future__ import annotations

import asyncio
import json
import math
import socket
import time
from collections.abc import Iterator

import pytest
from openai.types.chat import ChatCompletionChunk

from drain_ls.backends.answers import clean
from drain_ls.backends.base import BackendError, DrainRequest, Progress
from drain_ls.backends.endpoints import (
    LOCAL_KEY,
    context_window,
    display_url,
    is_local,
    no_server_reason,
    probe,
    resolve_key,
)
from drain_ls.backends.openai_compat import OpenAICompatBackend
from drain_ls.engine.drains import validate
from tests.fake_openai import FakeOpenAI

MODEL = "qwen2.5-coder:7b"
REQUEST = DrainRequest(
    drain="docstrings",
    model=MODEL,
    max_tokens=200,
    context="import math\n\ndef f(x): ...\n",
    prompt="Definition `f`:\n\ndef f(x):\n    return x * 2\n",
    instructions="You write Python docstrings.",
)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def chat_log(fake: FakeOpenAI) -> list[dict[str, object]]:
    return [entry for entry in fake.log if entry["path"] == "/v1/chat/completions"]


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- streaming and usage -----------------------------------------------------------------------


async def test_streamed_answer_and_usage_match_what_the_server_counted(
    fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-users-real-openai-key")
    api = OpenAICompatBackend(fake.base_url)
    progress = Progress()
    response = await api.complete(REQUEST, progress)
    await api.close()
    assert response.text == '"""Summarize the thing."""'
    assert response.stop_reason == "end_turn" and not response.truncated
    assert response.usage.input_tokens == fake.billed[-1].prompt_tokens
    assert response.usage.output_tokens == fake.billed[-1].completion_tokens
    assert progress.started and progress.finished and api.usage_estimated == 0
    assert progress.received_bytes == len(response.text)
    entry = chat_log(fake)[-1]
    body = json.loads(str(entry["body"]))
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 200 and "max_completion_tokens" not in body
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["messages"][0]["content"] == f"{REQUEST.context}\n\n{REQUEST.instructions}"
    assert body["messages"][1]["content"] == REQUEST.prompt
    # A local endpoint gets a placeholder, never the user's OpenAI key.
    assert entry["headers"]["authorization"] == f"Bearer {LOCAL_KEY}"  # type: ignore[index]


async def test_every_chunk_the_fake_sends_is_a_chat_completion_chunk(fake: FakeOpenAI) -> None:
    fake.cached_tokens = 5
    api = OpenAICompatBackend(fake.base_url)
    response = await api.complete(REQUEST, Progress())
    await api.close()
    assert fake.sent
    for data in fake.sent:
        ChatCompletionChunk.model_validate(data)  # the SDK's own type, validated strictly
    assert fake.sent[-1]["choices"] == [] and fake.sent[-1]["usage"] is not None
    # cached prompt tokens are cache reads, the rest input
    assert response.usage.cache_read_tokens == 5
    assert response.usage.input_tokens == fake.billed[-1].prompt_tokens - 5


@pytest.mark.parametrize("how", ["server never sends usage", "scenario no-usage"])
async def test_without_a_usage_chunk_the_usage_is_estimated_at_bytes_over_four(
    fake: FakeOpenAI, how: str
) -> None:
    if how.startswith("server"):
        fake.usage = False
    else:
        fake.scenarios = ["no-usage"]
    api = OpenAICompatBackend(fake.base_url)
    response = await api.complete(REQUEST, Progress())
    await api.close()
    sent = f"{REQUEST.context}\n\n{REQUEST.instructions}" + REQUEST.prompt
    assert response.usage.input_tokens == math.ceil(len(sent.encode()) / 4)
    assert response.usage.output_tokens == math.ceil(len(response.text.encode()) / 4)
    assert api.usage_estimated == 1
    assert all("usage" not in data for data in fake.sent)


async def test_max_tokens_truncation_is_reported(fake: FakeOpenAI) -> None:
    fake.reply = lambda body: "x" * 4000
    api = OpenAICompatBackend(fake.base_url)
    response = await api.complete(REQUEST, Progress())
    await api.close()
    assert response.truncated and response.stop_reason == "max_tokens"
    assert response.usage.output_tokens <= REQUEST.max_tokens


async def test_rate_limit_headers_are_read_and_the_token_parameter_can_be_chosen() -> None:
    with FakeOpenAI(flavor="openai", models=["gpt-4.1-mini"]) as fake:
        request = DrainRequest("summaries", "gpt-4.1-mini", 100, "", "Summarize f.")
        api = OpenAICompatBackend(fake.base_url, token_param="max_completion_tokens")
        await api.complete(request, Progress())
        await api.close()
        body = json.loads(str(chat_log(fake)[-1]["body"]))
    assert body["max_completion_tokens"] == 100 and "max_tokens" not in body
    assert api.rate_limits.remaining_share("tokens") == pytest.approx(149984 / 150000)
    assert api.rate_limits.remaining_share("requests") == pytest.approx(59 / 60)
    assert api.rate_limits.values["tokens-reset"] > api.rate_limits.values["requests-reset"]


# -- cancel ------------------------------------------------------------------------------------


async def test_cancel_closes_the_connection_and_keeps_the_prompt_estimate(
    fake: FakeOpenAI,
) -> None:
    fake.scenarios = ["hang"]
    api = OpenAICompatBackend(fake.base_url)
    progress = Progress()
    task = asyncio.ensure_future(api.complete(REQUEST, progress))
    for _ in range(500):
        if progress.started:
            break
        await asyncio.sleep(0.01)
    assert progress.started
    keystroke = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(500):
        if fake.disconnects:
            break
        await asyncio.sleep(0.001)
    await api.close()
    assert fake.disconnects and fake.disconnects[0]["id"] == chat_log(fake)[-1]["id"]
    closed_after = fake.disconnects[0]["time"] - keystroke
    print(f"keystroke -> stream closed: {closed_after * 1000:.2f} ms")  # measured, not asserted
    assert closed_after < 5.0  # loose: only that the close came from the cancel, not a timeout
    assert progress.usage().input_tokens > 0  # a cancelled prompt is still charged


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flavor", "scenario", "kind"),
    [
        ("ollama", "429", "rate_limited"),
        ("openai", "429", "rate_limited"),
        ("openai", "429-quota", "billing"),
        ("ollama", "503", "overloaded"),
        ("llamacpp", "503", "overloaded"),
        ("ollama", "500", "server"),
        ("ollama", "401", "auth"),
        ("ollama", "400", "request"),
        ("openai", "400-context", "too_large"),
        ("llamacpp", "400-context", "too_large"),
        ("ollama", "404-model", "model"),
        ("ollama", "midstream", "midstream"),
        ("ollama", "drop", "midstream"),
    ],
)
async def test_errors_have_a_kind_and_are_not_retried(
    flavor: str, scenario: str, kind: str
) -> None:
    with FakeOpenAI(flavor=flavor, models=[MODEL], scenarios=[scenario]) as fake:
        api = OpenAICompatBackend(fake.base_url)
        with pytest.raises(BackendError) as raised:
            await api.complete(REQUEST, Progress())
        await api.close()
        assert len(chat_log(fake)) == 1  # max_retries=0: the scheduler owns the backoff
    error = raised.value
    assert error.kind == kind
    if kind in ("rate_limited", "overloaded"):
        assert error.retry_after == 7
    if kind == "midstream":
        assert error.usage.input_tokens > 0  # the prompt estimate, kept
    if kind == "model":
        assert f"model {MODEL!r} not found" in str(error) and f"it has: {MODEL}" in str(error)
    for echoed in ("Incorrect API key", "maximum context length", "server busy", "current quota"):
        assert echoed not in str(error)


async def test_a_refused_key_never_reaches_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_LLM_KEY", "sk-wrong-secret-key")
    with FakeOpenAI(api_key="sk-right-key") as fake:
        api = OpenAICompatBackend(fake.base_url, key_env="MY_LLM_KEY")
        with pytest.raises(BackendError) as raised:
            await api.complete(REQUEST, Progress())
        await api.close()
        sent = chat_log(fake)[-1]["headers"]["authorization"]  # type: ignore[index]
    assert sent == "Bearer sk-wrong-secret-key"  # key_env is honoured on a local endpoint
    assert raised.value.kind == "auth" and "sk-wrong" not in str(raised.value)


def test_the_key_comes_from_the_environment_never_a_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(BackendError) as raised:
        resolve_key("https://api.openai.com/v1")
    assert raised.value.kind == "auth" and "OPENAI_API_KEY" in str(raised.value)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-remote")
    assert resolve_key("https://api.openai.com/v1") == "sk-remote"
    assert resolve_key("http://localhost:11434/v1") == LOCAL_KEY
    monkeypatch.setenv("VLLM_KEY", "token-abc")
    assert resolve_key("http://127.0.0.1:8000/v1", "VLLM_KEY") == "token-abc"
    with pytest.raises(BackendError, match="set VLLM_OTHER"):
        resolve_key("https://gpu.example.com/v1", "VLLM_OTHER")


# -- the endpoint: not running, unknown model, no /v1 -------------------------------------------


async def test_a_server_that_is_not_running_gives_the_reason_naming_the_url() -> None:
    base_url = f"http://127.0.0.1:{closed_port()}/v1"
    found = await probe(base_url, MODEL)
    assert not found.reachable
    assert found.reason == (
        f"no model server at {base_url}: start the model server or change llm.baseUrl"
    )
    api = OpenAICompatBackend(base_url)
    with pytest.raises(BackendError) as raised:
        await api.complete(REQUEST, Progress())
    await api.close()
    assert raised.value.kind == "connection" and str(raised.value) == found.reason
    assert no_server_reason("http://localhost:11434/v1") == (
        "no model server at http://localhost:11434/v1: start Ollama or change llm.baseUrl"
    )


async def test_an_unknown_model_gives_the_reason_listing_the_servers_models(
    fake: FakeOpenAI,
) -> None:
    found = await probe(fake.base_url, "qwen3:8b")
    assert found.reachable and found.models == ["qwen2.5-coder:7b", "llama3.2:latest"]
    assert found.reason == (
        f"model 'qwen3:8b' not found at {fake.base_url}; it has: qwen2.5-coder:7b, llama3.2:latest"
    )
    assert (await probe(fake.base_url, "llama3.2")).reason is None  # Ollama's implicit :latest
    api = OpenAICompatBackend(fake.base_url)
    other = DrainRequest("docstrings", "qwen3:8b", 100, "", "Write a docstring.")
    with pytest.raises(BackendError) as raised:
        await api.complete(other, Progress())
    await api.close()
    assert raised.value.kind == "model" and str(raised.value) == found.reason


async def test_llama_cpp_serves_its_model_under_any_name() -> None:
    with FakeOpenAI(flavor="llamacpp", models=["/models/qwen2.5-coder-7b-q4_k_m.gguf"]) as fake:
        found = await probe(fake.base_url, "anything")
        api = OpenAICompatBackend(fake.base_url)
        response = await api.complete(REQUEST, Progress())
        await api.close()
    assert found.reason is None and found.models is None
    assert response.model == "/models/qwen2.5-coder-7b-q4_k_m.gguf"


async def test_a_base_url_without_v1_is_named(fake: FakeOpenAI) -> None:
    found = await probe(fake.root, MODEL)
    assert found.reachable and found.reason is not None and "/v1" in found.reason
    api = OpenAICompatBackend(fake.root)
    with pytest.raises(BackendError) as raised:
        await api.complete(REQUEST, Progress())
    await api.close()
    assert raised.value.kind == "model" and "/v1" in str(raised.value)


# -- the context window --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "tokens", "source"),
    [
        ({}, 4096, "ollama default"),
        ({"num_ctx": 8192}, 8192, "ollama num_ctx"),
        ({"num_ctx": 65536}, 32768, "ollama num_ctx"),  # never past the trained maximum
        ({"loaded_context": 16384}, 16384, "ollama ps"),
        ({"trained_context": 2048}, 2048, "ollama default"),
    ],
)
async def test_ollama_context_window(settings: dict[str, int], tokens: int, source: str) -> None:
    with FakeOpenAI(**settings) as fake:  # type: ignore[arg-type]
        window = await context_window(fake.base_url, MODEL)
        found = await probe(fake.base_url, MODEL)
    assert window is not None and (window.tokens, window.source) == (tokens, source)
    assert window.trained == settings.get("trained_context", 32768)
    assert found.context == window


async def test_llama_cpp_and_openai_context_windows() -> None:
    with FakeOpenAI(flavor="llamacpp", models=["model.gguf"], n_ctx=12288) as fake:
        window = await context_window(fake.base_url, "model.gguf")
    assert window is not None and (window.tokens, window.source) == (12288, "llama.cpp /props")
    with FakeOpenAI(flavor="openai", models=["gpt-4.1-mini"]) as fake:
        assert await context_window(fake.base_url, "gpt-4.1-mini") is None  # the server won't say
    assert await context_window(f"http://127.0.0.1:{closed_port()}/v1", MODEL) is None


# -- endpoint helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://localhost:11434/v1", True),
        ("http://LOCALHOST:8080/v1", True),
        ("http://api.localhost/v1", True),
        ("http://127.0.0.1:8080/v1", True),
        ("http://127.1.2.3:1234/v1", True),
        ("http://[::1]:8000/v1", True),
        ("http://[::ffff:127.0.0.1]:8000/v1", True),
        ("http://0.0.0.0:11434/v1", False),
        ("http://192.168.1.20:11434/v1", False),
        ("https://api.openai.com/v1", False),
        ("http://localhost.example.com/v1", False),
        ("http://127.0.0.1.nip.io/v1", False),
    ],
)
def test_is_local(url: str, local: bool) -> None:
    assert is_local(url) is local


def test_urls_in_messages_carry_no_credentials() -> None:
    assert display_url("http://user:pw@localhost:11434/v1/?key=sk-1#x") == (
        "http://localhost:11434/v1"
    )
    assert display_url("http://[::1]:8000/v1") == "http://[::1]:8000/v1"
    assert display_url("http://localhost:port/v1") == "http://localhost/v1"


# -- answers of small models -------------------------------------------------------------------

DOCSTRING = '"""Return twice x.\n\nArgs:\n    x: A number.\n"""'
SMALL_MODEL_DOCSTRINGS = {
    "fenced": f"```python\n{DOCSTRING}\n```",
    "preamble and afterword": (
        f"Here is the docstring for `f`:\n\n{DOCSTRING}\n\nThis follows the Google style."
    ),
    "whole function": (
        'def f(x):\n    """Return twice x.\n\n    Args:\n        x: A number.\n    """\n'
        "    return x * 2\n"
    ),
    "whole function, fenced, with prose": (
        "Sure! Here's the function with a docstring added:\n\n```python\ndef f(x):\n"
        '    """Return twice x.\n\n    Args:\n        x: A number.\n    """\n'
        "    return x * 2\n```\n"
    ),
    "indented as in the body": '    """Return twice x.\n\n    Args:\n        x: A number.\n    """',
    "reasoning left in": f"<think>\nThe function doubles x. Google style.\n</think>\n{DOCSTRING}",
    "single quotes": "'''Return twice x.'''",
}


@pytest.mark.parametrize("name", sorted(SMALL_MODEL_DOCSTRINGS))
def test_small_model_docstrings_are_cleaned_into_one_literal(name: str) -> None:
    raw = SMALL_MODEL_DOCSTRINGS[name]
    cleaned = validate("docstrings", clean("docstrings", raw))
    assert cleaned is not None
    assert "Return twice x." in cleaned and "def " not in cleaned and "```" not in cleaned
    if name not in ("fenced", "indented as in the body", "single quotes"):  # validate takes these
        assert validate("docstrings", raw) is None  # what the cleaning is for


@pytest.mark.parametrize(
    "raw",
    [
        "This function returns twice its argument.",  # no literal: nothing is invented
        "I'm sorry, I can't help with that.",
        "def f(x):\n    return x * 2\n",  # a function without a docstring
        '"""Return twice x."""\ndef f(x):\n    return x * 2\n',  # a literal, then code
    ],
)
def test_answers_without_a_docstring_stay_unusable(raw: str) -> None:
    assert validate("docstrings", clean("docstrings", raw)) in (None, '"""Return twice x."""')
    if raw.startswith("def") or raw.startswith("This") or raw.startswith("I'm"):
        assert validate("docstrings", clean("docstrings", raw)) is None


@pytest.mark.parametrize(
    ("drain", "raw", "expected"),
    [
        (
            "summaries",
            "Sure! Here's a summary:\n\n**Summary:** `f` doubles its argument. Watch out for "
            "non-numeric input such as `__init__` arguments.",
            "`f` doubles its argument. Watch out for non-numeric input such as `__init__` "
            "arguments.",
        ),
        (
            "summaries",
            "<think>short</think>`f` doubles x.\nIt has no side effects.",
            "`f` doubles x. It has no side effects.",
        ),
        (
            "simplify",
            "```\nExtract the nested loops into a helper.\n```",
            "Extract the nested loops into a helper.",
        ),
        (
            "simplify",
            "## Suggestion\n- Replace the if/elif chain with a dict lookup.",
            "Suggestion Replace the if/elif chain with a dict lookup.",
        ),
    ],
)
def test_small_model_prose_is_cleaned(drain: str, raw: str, expected: str) -> None:
    assert validate(drain, clean(drain, raw)) == expected


def test_custom_drain_answers_keep_their_form() -> None:
    raw = "- one\n- two\n```python\nx = 1\n```"
    assert clean("my-drain", f"<think>hm</think>{raw}") == raw


async def test_the_backend_hands_validate_a_cleaned_answer(fake: FakeOpenAI) -> None:
    fake.reply = lambda body: SMALL_MODEL_DOCSTRINGS["whole function, fenced, with prose"]
    api = OpenAICompatBackend(fake.base_url)
    response = await api.complete(REQUEST, Progress())
    raw = OpenAICompatBackend(fake.base_url, clean_answers=False)
    unclean = await raw.complete(REQUEST, Progress())
    await api.close()
    await raw.close()
    assert validate("docstrings", response.text) is not None
    assert validate("docstrings", unclean.text) is None
    assert response.usage.output_tokens == unclean.usage.output_tokens  # billed as sent


def test_a_docstring_taken_from_a_whole_function_inserts_cleanly() -> None:
    """The literal cut out of a returned function keeps the body's indentation on its
    continuation lines; the code action re-indents it to the definition it goes in."""
    from drain_ls.analysis.skeletons import definition_docstring_fix
    from drain_ls.analysis.source import parse

    literal = validate("docstrings", clean("docstrings", SMALL_MODEL_DOCSTRINGS["whole function"]))
    assert literal is not None
    source = b"class C:\n    def f(self, x):\n        return x * 2\n"
    method = parse(source).root_node.children[0].child_by_field_name("body").children[0]
    fix = definition_docstring_fix(method, source, literal=literal)
    assert fix is not None
    (edit,) = fix.edits
    fixed = source[: edit.start] + edit.text.encode() + source[edit.end :]
    assert fixed.decode() == (
        "class C:\n    def f(self, x):\n"
        '        """Return twice x.\n\n        Args:\n            x: A number.\n        """\n'
        "        return x * 2\n"
    )
