"""The decisions the editor and ``drain-ls run`` make the same way, each in one place: which
backend and model serve the drains, the limits they run inside, the consent question and
what its answer means, and which findings feed the docstring drain.

What differs between the two is said here too, as a parameter: the editor cannot stop to
ask for a key, so a missing ``ANTHROPIC_API_KEY`` falls back to the offline backend with a
warning, where ``drain-ls run`` refuses (the user would otherwise think the API answered);
the editor's budget is tiered over the session's window (``editor_limits``), a run's is
``--budget`` tokens (``run_limits``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from drain_ls.budget import Limits, Price, price_of, price_overrides, unknown_model
from drain_ls.config import Settings, WorkspaceTrust, consent_key, workspace_drains_note
from drain_ls.models import retired_reason

if TYPE_CHECKING:
    from drain_ls.analysis.model import Finding
    from drain_ls.backends.base import Backend
    from drain_ls.ledger import Ledger

# The docstring drain's findings: every D1xx that names a definition (not D100, D104: a
# module's docstring is the summary drain's).
DEFINITION_CODES = frozenset({"D101", "D102", "D103", "D105", "D106", "D107"})
KEY_VARIABLE = "ANTHROPIC_API_KEY"
# The consent question's answers, as the editor shows them.
ALLOW, ALLOW_ONCE, NEVER = "Allow", "Allow once", "Never"
CONSENT_CHOICES = (ALLOW, ALLOW_ONCE, NEVER)


class MissingKey(Exception):
    """``llm.backend`` is anthropic and no key is set (``drain-ls run`` stops there)."""


BackendName = Literal["anthropic", "offline", "openai"]
# What a local model server costs: nothing (its tokens still count against the token caps).
LOCAL_PRICE = Price(0.0, 0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class BackendChoice:
    """Which backend and model the drains use, at which price; or why they cannot run."""

    name: BackendName
    model: str
    price: Price | None
    # Why drains cannot run with these settings (a retired or unknown model): None if they can.
    refused: str | None = None
    # Something the user should hear once (no key: the offline backend instead).
    warning: str | None = None
    # The ``openai`` backend's endpoint, the variable its key is in, and whether it is local
    # (free, one drain at a time).
    base_url: str = ""
    key_env: str = ""
    local: bool = False
    context_window: int = 0  # ``llm.contextWindow``: 0, ask the server

    @property
    def free(self) -> bool:
        """The offline backend: nothing leaves the machine, nothing is billed."""
        return self.name == "offline"

    @property
    def destination(self) -> str:
        """Where code goes, as the consent question names it."""
        if self.name == "openai":
            from drain_ls.backends.endpoints import display_url

            return display_url(self.base_url)
        return {"anthropic": "Anthropic"}.get(self.name, self.name)

    @property
    def cache_id(self) -> str:
        """What the results cache keys besides the model (``Task.backend``): the ``openai``
        backend and its endpoint (a name like ``llama3`` says little about who answered);
        nothing for the others, whose model names are their own."""
        if self.name != "openai":
            return ""
        from drain_ls.backends.endpoints import display_url

        return f"openai {display_url(self.base_url)}"

    def make(self) -> Backend:
        """A new backend of this choice (the SDK is imported only here: most of a second)."""
        if self.name == "anthropic":
            from drain_ls.backends.anthropic import AnthropicBackend

            return AnthropicBackend()
        if self.name == "openai":
            from drain_ls.backends.openai_compat import OpenAICompatBackend

            return OpenAICompatBackend(self.base_url, self.key_env or None, local=self.local)
        from drain_ls.backends.offline import OfflineBackend

        return OfflineBackend()


def choose_backend(
    settings: Settings,
    environ: Mapping[str, str] | None = None,
    *,
    headless: bool = False,
    preview: bool = False,
) -> BackendChoice:
    """The backend, model and price ``settings`` ask for. Without a key, the editor falls
    back to the offline backend (``warning`` says so); ``headless`` (``drain-ls run``)
    raises ``MissingKey`` instead; a ``preview`` (``--dry-run``, ``drain.preview``) sends
    nothing and needs none."""
    environ = os.environ if environ is None else environ
    llm = settings.llm
    if llm.backend == "openai":
        return _choose_openai(settings, environ, headless, preview)
    warning = None
    name: BackendName = "offline"
    if llm.backend == "anthropic":
        if preview or environ.get(KEY_VARIABLE):
            name = "anthropic"
        elif headless:
            raise MissingKey(
                f"llm.backend is anthropic but {KEY_VARIABLE} is not set "
                "(or run with --backend offline: free, nothing sent)"
            )
        else:
            warning = f"no {KEY_VARIABLE}: drains use the offline backend"
    model = llm.model if name != "offline" else "offline"
    # A retired model first: pricing it would not make the API serve it.
    refused = retired_reason(model)
    price = price_of(model, price_overrides(llm.prices))
    if refused is None and price is None:
        refused = unknown_model(model)
    return BackendChoice(name, model, price, refused, warning)


def _choose_openai(
    settings: Settings, environ: Mapping[str, str], headless: bool, preview: bool
) -> BackendChoice:
    """The ``openai`` backend at ``llm.baseUrl``: free when local (a loopback address, or
    ``llm.local``) unless ``llm.prices`` prices its model; a remote endpoint is priced like
    any model (the catalogue, ``llm.prices``), and needs its key."""
    from drain_ls.backends.endpoints import display_url, is_local

    llm = settings.llm
    url = llm.base_url.strip().rstrip("/")
    key_env = llm.api_key_env.strip()
    if not url.startswith(("http://", "https://")):
        return BackendChoice(
            "openai",
            llm.model,
            None,
            f"llm.baseUrl must be an http:// or https:// URL ending in /v1, not {url!r}",
        )
    local = llm.local or is_local(url)
    variable = key_env or "OPENAI_API_KEY"
    if not (local or preview) and not environ.get(variable, "").strip():  # as resolve_key
        message = f"no {variable} for {display_url(url)}"
        if headless:
            raise MissingKey(f"{message} (or run with --backend offline: free, nothing sent)")
        return dataclasses.replace(
            choose_backend(dataclasses.replace(settings, llm=_offline(llm)), environ),
            warning=f"{message}: drains use the offline backend",
        )
    overrides = price_overrides(llm.prices)
    price = overrides.get(llm.model) or (LOCAL_PRICE if local else price_of(llm.model))
    refused = None if price is not None else unknown_model(llm.model)
    return BackendChoice(
        "openai",
        llm.model,
        price,
        refused,
        base_url=url,
        key_env=key_env,
        local=local,
        context_window=llm.context_window,
    )


def _offline(llm: Any) -> Any:
    return dataclasses.replace(llm, backend="offline")


def editor_limits(settings: Settings, session_tokens: int | None = None) -> Limits:
    """The editor's limits: a session window (``session_tokens``, else
    ``budget.sessionTokens``) shared in tiers with the user's foreground work, within the
    daily caps and the per-drain limit."""
    budget = settings.budget
    return Limits(
        session_tokens=session_tokens if session_tokens is not None else budget.session_tokens,
        safety_margin=budget.safety_margin,
        min_drain_tokens=budget.min_drain_tokens,
        max_tokens_per_drain=budget.max_tokens_per_drain,
        daily_tokens=budget.daily_tokens,
        daily_usd=budget.daily_usd,
    )


def run_limits(settings: Settings, run_tokens: int | None) -> Limits:
    """``drain-ls run``'s limits: no session tiers (nothing runs in the foreground), at most
    ``run_tokens`` (``--budget``) when given, within the daily caps and the per-drain limit."""
    budget = settings.budget
    return Limits(
        max_tokens_per_drain=budget.max_tokens_per_drain,
        daily_tokens=budget.daily_tokens,
        daily_usd=budget.daily_usd,
        tiered=False,
        run_tokens=run_tokens,
    )


def docstring_findings(findings: Iterable[Finding]) -> dict[int, str]:
    """What feeds the docstring drain: the definitions a D1xx finding names, by offset."""
    return {
        f.start: str(f.data.get("qualname", "")) for f in findings if f.code in DEFINITION_CODES
    }


# -- consent ---------------------------------------------------------------------------------


class Prompter(Protocol):
    """How an adapter asks its user a question (the editor's message box, the terminal)."""

    async def ask(self, question: str, choices: Sequence[str]) -> str | None:
        """One of ``choices``, or None when the question was dismissed or cannot be asked."""
        ...


def consent_question(
    workspace: str, settings: Settings, model: str, trust: WorkspaceTrust, where: str
) -> str:
    """The question asked before any code of ``workspace`` is sent to ``where``
    (``BackendChoice.destination``; one wording for the editor and ``drain-ls run``)."""
    budget = settings.budget
    batch = (
        " Deferred work goes through the Message Batches API, which zero data retention "
        "does not cover."
        if settings.llm.batch
        else ""
    )
    return (
        f"drain-ls would send code from {workspace} to {where} ({model}) in the background, "
        f"within a daily cap of {budget.daily_tokens:,} tokens and ${budget.daily_usd:.2f}. "
        f"Secrets are redacted and excluded files are never read.{batch}"
        f"{workspace_drains_note(trust)} Allow?"
    )


@dataclass(frozen=True, slots=True)
class Consent:
    """The answer: ``allowed`` (None: no answer, ask again later) and whether it was the
    remembered one."""

    allowed: bool | None
    remembered: bool = False


async def ask_consent(
    ledger: Ledger | None,
    workspace: str,
    settings: Settings,
    choice: BackendChoice,
    trust: WorkspaceTrust,
    prompter: Prompter,
) -> Consent:
    """May code of ``workspace`` be sent? An answer remembered in the ledger ("Allow",
    "Never"), else the prompter's ("Allow once" is not remembered; a dismissed question is
    asked again later). Always yes when consent is not required or nothing is sent."""
    if choice.free or not settings.privacy.require_consent:
        return Consent(True)
    key = consent_key(workspace, trust)
    if ledger is not None:
        remembered = ledger.consent(key)
        if remembered in ("allow", "never"):
            return Consent(remembered == "allow", remembered=True)
    question = consent_question(workspace, settings, choice.model, trust, choice.destination)
    answer = await prompter.ask(question, CONSENT_CHOICES)
    if answer in (ALLOW, NEVER) and ledger is not None:
        ledger.remember_consent(key, "allow" if answer == ALLOW else "never")
    if answer is None:
        return Consent(None)
    return Consent(answer in (ALLOW, ALLOW_ONCE))
