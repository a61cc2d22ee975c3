"""What an OpenAI-compatible endpoint is and can do, asked of the server itself: whether it is
on this machine (``is_local``), which key it gets (``resolve_key``), why it cannot serve
(``probe``: nothing listening, no OpenAI-compatible API, a refused key, an unknown model with the
models it has) and how much context it gives a model (``context_window``: Ollama's ``/api/show``
and ``/api/ps``, llama.cpp's ``/props``). Messages name URLs without user, password or query,
and never a key.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2
import openai
from openai import AsyncOpenAI

from drain_ls.backends.base import BackendError

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
LOCAL_KEY = "no-key-local"  # Ollama: "required but ignored" (docs/api/openai-compatibility.mdx)
OLLAMA_PORT = 11434
# Ollama's smallest default context (docs/context-length.mdx: "< 24 GiB VRAM: 4k context"):
# what a model that is not loaded and has no num_ctx parameter can be relied on to hold.
OLLAMA_DEFAULT_CONTEXT = 4096


def is_local(base_url: str) -> bool:
    """Whether ``base_url`` points at this machine: ``localhost`` (and ``*.localhost``),
    127.0.0.0/8 or ::1 (also as ::ffff:127.x.y.z)."""
    host = (urlsplit(base_url).hostname or "").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def display_url(base_url: str) -> str:
    """``base_url`` fit for a message: no user, password, query or fragment."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = _port(base_url)
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _port(base_url: str) -> int | None:
    try:
        return urlsplit(base_url).port
    except ValueError:  # not a number, or out of range
        return None


def server_root(base_url: str) -> str:
    """The server's own root (where Ollama's ``/api/*`` and llama.cpp's ``/props`` live):
    ``base_url`` without its ``/v1``."""
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def resolve_key(base_url: str, key_env: str | None = None, local: bool | None = None) -> str:
    """The API key to send: ``$key_env`` when named (local or not), else ``$OPENAI_API_KEY``
    for a remote endpoint, else a placeholder for a local one (``local``: the user says it
    is, ``llm.local``; default: a loopback address). A remote endpoint without a key raises
    ``BackendError("auth")`` naming the variable, never a value."""
    local = is_local(base_url) if local is None else local
    name = key_env or (None if local else DEFAULT_KEY_ENV)
    key = os.environ.get(name, "").strip() if name else ""
    if key:
        return key
    if local:
        return LOCAL_KEY
    raise BackendError("auth", f"no API key for {display_url(base_url)}: set {name}")


def no_server_reason(base_url: str) -> str:
    """The reason shown when nothing answers at ``base_url``."""
    what = "Ollama" if _port(base_url) == OLLAMA_PORT else "the model server"
    if not is_local(base_url):
        return f"cannot reach {display_url(base_url)}: check the network or llm.baseUrl"
    return f"no model server at {display_url(base_url)}: start {what} or change llm.baseUrl"


def unknown_model_reason(model: str, base_url: str, models: list[str] | None) -> str:
    """The reason shown for a model the server does not have, with the ones it has."""
    reason = f"model {model!r} not found at {display_url(base_url)}"
    if models:
        shown = [" ".join(name.split())[:80] for name in models[:20]]
        more = f" and {len(models) - 20} more" if len(models) > 20 else ""
        reason += f"; it has: {', '.join(shown)}{more}"
    elif models is not None:
        reason += "; it has no models (ollama pull <model>)"
    return reason


def _has_model(model: str, models: list[str]) -> bool:
    """Ollama names ``llama3`` and ``llama3:latest`` the same model."""
    tagged = model if ":" in model else f"{model}:latest"
    return any(name in (model, tagged) or f"{name}:latest" == model for name in models)


@dataclass(frozen=True, slots=True)
class ContextWindow:
    """How many tokens the server holds for a request, and where that figure came from."""

    tokens: int
    source: str  # "ollama num_ctx", "ollama ps", "ollama default", "llama.cpp /props"
    trained: int | None = None  # the model's own maximum, where the server tells it


@dataclass(frozen=True, slots=True)
class Probe:
    """What ``probe`` found: ``reason`` is None when the endpoint can serve ``model``."""

    url: str
    reachable: bool
    models: list[str] | None = None  # None: the server did not list its models
    reason: str | None = None
    context: ContextWindow | None = None


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


async def context_window(
    base_url: str, model: str, client: httpx2.AsyncClient | None = None, timeout: float = 3.0
) -> ContextWindow | None:
    """The context the server gives ``model``, where it tells; else None (use
    ``llm.contextWindow`` or the catalogue).

    Ollama (``POST /api/show``): ``num_ctx`` in ``parameters`` when the Modelfile sets it;
    else the ``context_length`` of the loaded model in ``/api/ps``; else its smallest default,
    4,096 (never more than ``model_info["<arch>.context_length"]``, the trained maximum: the
    OpenAI API cannot raise Ollama's context, and a longer prompt is cut silently).
    llama.cpp (``GET /props``): ``default_generation_settings.n_ctx``, per slot."""
    root = server_root(base_url)
    own = client is None
    http = client or httpx2.AsyncClient(timeout=timeout)
    try:
        try:
            shown = await http.post(f"{root}/api/show", json={"model": model})
        except httpx2.HTTPError:
            return None
        if shown.status_code == 200:
            return await _ollama_context(http, root, model, _json(shown))
        try:
            props = await http.get(f"{root}/props")
        except httpx2.HTTPError:
            return None
        settings = _json(props).get("default_generation_settings") if props.is_success else None
        n_ctx = _positive(settings.get("n_ctx")) if isinstance(settings, dict) else None
        return ContextWindow(n_ctx, "llama.cpp /props") if n_ctx else None
    finally:
        if own:
            await http.aclose()


async def _ollama_context(
    http: httpx2.AsyncClient, root: str, model: str, shown: dict[str, Any]
) -> ContextWindow:
    info = shown.get("model_info")
    trained = None
    if isinstance(info, dict):
        lengths = [_positive(v) for k, v in info.items() if k.endswith(".context_length")]
        trained = next((n for n in lengths if n), None)
    parameters = shown.get("parameters")
    match = (
        re.search(r"^\s*num_ctx\s+(\d+)", parameters, re.M) if isinstance(parameters, str) else None
    )
    tokens, source = (int(match.group(1)), "ollama num_ctx") if match else (0, "")
    if not tokens:
        try:
            running = _json(await http.get(f"{root}/api/ps")).get("models")
        except httpx2.HTTPError:
            running = None
        for entry in running if isinstance(running, list) else []:
            if isinstance(entry, dict) and _has_model(model, [str(entry.get("model", ""))]):
                tokens, source = _positive(entry.get("context_length")) or 0, "ollama ps"
    if not tokens:
        tokens, source = OLLAMA_DEFAULT_CONTEXT, "ollama default"
    return ContextWindow(min(tokens, trained) if trained else tokens, source, trained)


def _json(response: httpx2.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


async def list_models(client: AsyncOpenAI) -> list[str] | None:
    """The ids ``GET /v1/models`` lists (None when the server cannot list them)."""
    try:
        page = await client.with_options(timeout=5.0).models.list()
    except openai.OpenAIError:
        return None
    return _model_ids(page.data)


def _model_ids(data: list[Any]) -> list[str] | None:
    """The ids of a ``/v1/models`` listing; None for llama.cpp, which lists its one model
    (``owned_by: "llamacpp"``) and serves it under any name."""
    if data and all(getattr(entry, "owned_by", "") == "llamacpp" for entry in data):
        return None
    return [entry.id for entry in data]


async def probe(
    base_url: str,
    model: str | None = None,
    key_env: str | None = None,
    local: bool | None = None,
    timeout: float = 3.0,
) -> Probe:
    """Whether ``base_url`` can serve ``model``, and the reason when it cannot: nothing
    listening ("no model server at URL: start Ollama or change llm.baseUrl"), no
    OpenAI-compatible API there, a refused key, an unknown model ("model X not found at URL;
    it has: a, b, c"); with the context window where the server tells it."""
    url = display_url(base_url)
    try:
        key = resolve_key(base_url, key_env, local)
    except BackendError as exc:
        return Probe(url, False, reason=str(exc))
    client = AsyncOpenAI(api_key=key, base_url=base_url, max_retries=0, timeout=timeout)
    try:
        try:
            page = await client.models.list()
        except openai.APIConnectionError:
            return Probe(url, False, reason=no_server_reason(base_url))
        except openai.APIStatusError as exc:
            if exc.status_code in (401, 403):
                return Probe(url, True, reason=f"{url} refused the API key ({exc.status_code})")
            if exc.status_code != 404:
                return Probe(url, True, reason=f"{url} answered {exc.status_code} to /models")
            return Probe(url, True, reason=f"no OpenAI-compatible API at {url}: add /v1?")
        models = _model_ids(page.data)
        if model is None:
            return Probe(url, True, models)
        if models is not None and not _has_model(model, models):
            return Probe(url, True, models, unknown_model_reason(model, base_url, models))
        window = await context_window(base_url, model, timeout=timeout)
        return Probe(url, True, models, context=window)
    finally:
        await client.close()
