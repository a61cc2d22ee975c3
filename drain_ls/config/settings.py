"""The settings' definitions: a frozen dataclass per section (``LlmSettings``,
``BudgetSettings``..., the ``drains`` table's in ``config.drains``) and ``Settings``, every
field with its description (``doc``), what a workspace may do with it (``trust``) and, for a
number, its range (``min``, ``max``) in its metadata (``settings_reference`` renders them);
the rules selected (``select_codes``), the target version a workspace's ``requires-python``
implies, and the settings as JSON. Fields are snake_case; users write their camelCase alias
(``config.fields.alias``: ``budget.max_tokens_per_drain`` is ``budget.maxTokensPerDrain``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from drain_ls.analysis.rules import ALL_CODES
from drain_ls.analysis.targets import PythonVersion, resolve_target, target_from_requires_python
from drain_ls.config.drains import CustomDrains, DrainsSettings
from drain_ls.config.fields import Trust as Trust
from drain_ls.config.fields import _doc, _num, _trust, alias
from drain_ls.default_model import DEFAULT_MODEL


@dataclass(frozen=True, slots=True)
class LlmSettings:
    """Which model, through which backend; off until the user turns it on."""

    enabled: bool = field(
        default=False,
        metadata=_trust(
            "off",
            "Run the drains (generated docstrings, summaries in hover, simplification hints, "
            "the commit review, custom drains) when the editor is idle. Off by default: with "
            "it off nothing leaves the machine and only the static checks run.",
        ),
    )
    backend: Literal["offline", "anthropic", "openai"] = field(
        default="offline",
        metadata=_trust(
            "offline",
            "Where drains are answered: `offline` is deterministic, free and sends nothing; "
            "`anthropic` is the Anthropic Messages API and needs `ANTHROPIC_API_KEY`; "
            "`openai` is any OpenAI-compatible server at `llm.baseUrl` (Ollama, llama.cpp, "
            "LM Studio, vLLM, OpenAI).",
        ),
    )
    base_url: str = field(
        default="http://localhost:11434/v1",
        metadata=_trust(
            "user",
            "The endpoint of the `openai` backend, ending in `/v1`: Ollama's "
            "`http://localhost:11434/v1` (the default), llama.cpp's "
            "`http://localhost:8080/v1`, LM Studio's `http://localhost:1234/v1`, "
            "`https://api.openai.com/v1`. Never a repository's: it decides where code goes.",
        ),
    )
    api_key_env: str = field(
        default="",
        metadata={
            "empty": True,
            **_trust(
                "user",
                "The name of the environment variable that holds the `openai` backend's key "
                "(empty: `OPENAI_API_KEY` for a remote endpoint; a local one needs none, and is "
                "not sent your `OPENAI_API_KEY`). The key itself is never a setting.",
            ),
        },
    )
    context_window: int = field(
        default=0,
        metadata=_num(
            0,
            10_000_000,
            "user",
            "The context window of the `openai` backend's model, in tokens, when the server "
            "does not tell it (0: ask the server: Ollama's `/api/show`, llama.cpp's "
            "`/props`). No request that cannot fit is sent.",
        ),
    )
    local: bool = field(
        default=False,
        metadata=_trust(
            "user",
            "Treat the `openai` endpoint as local even when it is not on this machine (a "
            "server on your own network): free ($0, still inside the token caps) and one "
            "drain at a time. An endpoint on 127.0.0.1 or localhost always is.",
        ),
    )
    model: str = field(
        default=DEFAULT_MODEL,
        metadata=_trust(
            "user",
            "The model the drains use with the `anthropic` or `openai` backend (for Ollama, a "
            "name `ollama list` shows); the default is the current Haiku of the model "
            "catalogue (`drain_ls/models.toml`).",
        ),
    )
    batch: bool = field(
        default=False,
        metadata=_trust(
            "off",
            "Send deferred drain tasks through the Message Batches API, at half the price. Off "
            "by default: the Message Batches API is not covered by zero data retention, and "
            "the consent question says so.",
        ),
    )
    # How often open Message Batches are polled for their results.
    batch_poll_seconds: float = field(
        default=60.0,
        metadata=_num(
            1,
            86_400,
            "raise",
            "How often open Message Batches are polled for their results, in seconds.",
        ),
    )
    # Overrides of the price table: {"model": {"input": USD per MTok, "output": ...}}.
    prices: dict[str, Any] = field(
        default_factory=dict,
        metadata=_trust(
            "user",
            "Overrides of the price table, in USD per million tokens (finite, 0 to 10,000): "
            '`{"my-model": {"input": 1.0, "output": 5.0}}`, optionally with `batchInput` and '
            "`batchOutput`. A model priced neither here nor in the catalogue never runs.",
        ),
    )


@dataclass(frozen=True, slots=True)
class BudgetSettings:
    """The hard limits drains run inside (docs/budget.md)."""

    session_tokens: int = field(
        default=200_000,
        metadata=_num(
            0,
            100_000_000,
            "lower",
            "The session limit in tokens. The drain budget is this limit minus the primary use "
            "minus the safety margin, shared out in tiers.",
        ),
    )
    safety_margin: float = field(
        default=0.10,
        metadata=_num(0, 1, "raise", "Share of the session limit kept back as a margin."),
    )
    min_drain_tokens: int = field(
        default=10_000,
        metadata=_num(
            0, 100_000_000, "raise", "Below this drain budget, in tokens, no drain starts."
        ),
    )
    max_tokens_per_drain: int = field(
        default=5_000,
        metadata=_num(
            1,
            1_000_000,
            "lower",
            "Hard cap on the tokens of one drain run (input plus output, worst case).",
        ),
    )
    daily_tokens: int = field(
        default=500_000,
        metadata=_num(
            0,
            1_000_000_000,
            "lower",
            "Hard cap on the tokens the drains spend per day (UTC).",
        ),
    )
    daily_usd: float = field(
        default=1.0,
        metadata=_num(
            0, 100_000, "lower", "Hard cap on the dollars the drains spend per day (UTC)."
        ),
    )
    source: Literal["fixed", "claude-code"] = field(
        default="fixed",
        metadata=_trust(
            "user",
            "Where the primary use comes from. `fixed`: the session limit above. "
            "`claude-code`: the session limit is the context window of the model your Claude "
            "Code session uses and the primary use is the context of the workspace's latest "
            "session, so drains only get what the foreground work leaves.",
        ),
    )
    ratelimit_reserve: float = field(
        default=0.5,
        metadata=_num(
            0,
            1,
            "raise",
            "Share of the API rate limit left to other tools: drains wait while the "
            "`anthropic-ratelimit-*` headers show less than this share of a window left.",
        ),
    )
    pool: bool = field(
        default=False,
        metadata=_trust(
            "off",
            "The shared pool: a session that ends donates its unused built-in-drain share to "
            "a pool in the ledger, which the built-in drains of other sessions may draw from "
            "once their own share is spent (within the daily caps). Only token counts cross "
            "sessions.",
        ),
    )


@dataclass(frozen=True, slots=True)
class DiagnosticsSettings:
    """Static diagnostics."""

    debounce_ms: int = field(
        default=150,
        metadata=_num(
            0,
            60_000,
            doc="Delay, in milliseconds, before a file is analysed again after a change.",
        ),
    )
    # A document over this size is neither parsed nor analysed (one diagnostic says why); a
    # workspace may lower it, never raise it.
    max_file_bytes: int = field(
        default=5 * 1024 * 1024,
        metadata=_num(
            0,
            1 << 30,
            "lower",
            "A file larger than this many bytes (default 5 MiB) is neither parsed nor "
            "analysed: one Information diagnostic says why.",
        ),
    )


@dataclass(frozen=True, slots=True)
class IdleSettings:
    """When the editor counts as idle."""

    # A workspace may make drains wait longer, never start sooner.
    delay_ms: int = field(
        default=2_000,
        metadata=_num(
            0,
            3_600_000,
            "raise",
            "The editor counts as idle, and drains may start, this many milliseconds after "
            "the last edit.",
        ),
    )


@dataclass(frozen=True, slots=True)
class CancelSettings:
    """What a keystroke cancels."""

    # "all" cancels (and so wastes) more billed work: the user's choice alone.
    policy: Literal["affected", "all"] = field(
        default="affected",
        metadata=_trust(
            "user",
            "What a keystroke cancels: `affected`, the drains whose function the edit touches; "
            "`all`, every running drain (the tokens they were billed are wasted).",
        ),
    )


@dataclass(frozen=True, slots=True)
class PrivacySettings:
    """What may leave the machine."""

    require_consent: bool = field(
        default=True,
        metadata=_trust(
            "on",
            "Ask once per workspace before any code is sent (Allow, Allow once, Never). "
            "`false` skips the question (scripts, tests), a workspace's custom drains included.",
        ),
    )
    exclude: tuple[str, ...] = field(
        default=(),
        metadata=_trust(
            "more",
            "Gitignore-style patterns (case-insensitive) of files the drains never read or "
            "send, on top of the built-in deny list and the repository's ignore files. An "
            "invalid pattern blocks sending until fixed.",
        ),
    )
    redact_secrets: bool = field(
        default=True,
        metadata=_trust(
            "on",
            "Replace secrets found in code (keys, tokens, passwords) with "
            "`<redacted: kind>` before anything is sent, keeping line numbers.",
        ),
    )


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting in force."""

    llm: LlmSettings = field(
        default_factory=LlmSettings,
        metadata=_doc("Which model, through which backend; off until you turn it on."),
    )
    budget: BudgetSettings = field(
        default_factory=BudgetSettings,
        metadata=_doc(
            "The hard limits drains run inside: every request reserves its worst case "
            "against them before it is sent."
        ),
    )
    diagnostics: DiagnosticsSettings = field(
        default_factory=DiagnosticsSettings,
        metadata=_doc("The static diagnostics in the editor."),
    )
    idle: IdleSettings = field(
        default_factory=IdleSettings,
        metadata=_doc("When the editor counts as idle, so that drains may run."),
    )
    cancel: CancelSettings = field(
        default_factory=CancelSettings,
        metadata=_doc("What a keystroke cancels."),
    )
    privacy: PrivacySettings = field(
        default_factory=PrivacySettings,
        metadata=_doc("What may leave the machine."),
    )
    select: tuple[str, ...] = field(
        default=(),
        metadata=_doc("Codes or prefixes to report (`F401`, `D1`, `D`, `ALL`). Empty: all."),
    )
    ignore: tuple[str, ...] = field(
        default=(),
        metadata=_doc('Codes or prefixes not to report, for example `["D107"]`.'),
    )
    exclude: tuple[str, ...] = field(
        default=(),
        metadata=_doc(
            "Gitignore-style patterns of files not to check (`drain-ls check` and the server)."
        ),
    )
    docstring_style: Literal["google", "numpy", "sphinx"] = field(
        default="google",
        metadata=_doc("The style of docstring skeletons and generated docstrings."),
    )
    # The oldest Python the code must parse with (``drain_ls.analysis.versions``); empty: the
    # lower bound of the project's ``requires-python``, else the newest. Not a cap: "free".
    target_version: Literal[
        "", "py37", "py38", "py39", "py310", "py311", "py312", "py313", "py314"
    ] = field(
        default="",
        metadata=_doc(
            "The oldest Python the code must parse with, as ruff's `target-version`: syntax "
            "newer than it is an `E999`. Empty: the lower bound of the workspace's "
            "`[project] requires-python`, else the newest, `py314`."
        ),
    )
    # Per-drain switches, the review's limits, concurrency and custom drains, parsed once
    # (``config.drains``); what a workspace may set in them is ``narrow_drains``'s to say.
    drains: DrainsSettings = field(
        default_factory=DrainsSettings,
        metadata=_trust(
            "user",
            "Per-drain switches, how many drains run at once, the commit review's limits and "
            "custom drains: one table whose keys are listed one by one below.",
        ),
    )

    @property
    def codes(self) -> frozenset[str]:
        """The codes selected, minus the ignored ones (prefixes allowed in both)."""
        return select_codes(self.select, self.ignore)

    @property
    def target(self) -> PythonVersion:
        """``targetVersion`` as a version (empty: the newest; a workspace's ``requires-python``
        comes in as its ``targetVersion``: ``requires_python_layer``)."""
        return resolve_target(self.target_version)


def requires_python_layer(table: dict[str, Any], requires_python: str | None) -> dict[str, Any]:
    """A workspace's settings layer (``[tool.drain-ls]``, camelized) with the target version
    that its ``[project] requires-python`` implies when it sets none (as ruff infers it)."""
    inferred = target_from_requires_python(requires_python) if requires_python else None
    if inferred is None or "targetVersion" in table:
        return table
    return {**table, "targetVersion": inferred.setting}


def select_codes(
    select: tuple[str, ...] | list[str], ignore: tuple[str, ...] | list[str]
) -> frozenset[str]:
    """Expand code prefixes (``D1``, ``F``, ``ALL``) in select and ignore lists."""

    def expand(items: tuple[str, ...] | list[str]) -> set[str]:
        out: set[str] = set()
        for item in items:
            item = item.strip().upper()
            out |= set(ALL_CODES) if item == "ALL" else {c for c in ALL_CODES if c.startswith(item)}
        return out

    chosen = expand(select) if select else set(ALL_CODES)
    return frozenset(chosen - expand(ignore))


def settings_to_json(settings: Settings) -> dict[str, Any]:
    """The settings as plain JSON-able data (for ``drain.status``), by the names users write
    (``fields.alias``): what ``build_settings`` reads back as the same settings."""

    def convert(value: Any) -> Any:
        if isinstance(value, CustomDrains):
            return convert(value.written)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {alias(f): convert(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, tuple):
            return list(value)
        return value

    result = convert(settings)
    assert isinstance(result, dict)
    return result
