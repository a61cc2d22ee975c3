"""Typed settings, merged from the user's layers and, narrowed, from the workspace's.

**The trust model.** A workspace is untrusted input: a repository the user just cloned wrote
its ``pyproject.toml``. So settings come from two kinds of source:

- *the user's*, lowest precedence first: the defaults, the user config file
  (``user_config_path``), ``initializationOptions``, then what the client answers to
  ``workspace/configuration`` (section ``drainLs``) or sends with
  ``workspace/didChangeConfiguration``; on the command line, the user config file and the flags;
- *the workspace's*: ``[tool.drain-ls]`` in its ``pyproject.toml`` (kebab-case names).

Every field says (``trust`` in its metadata) what a workspace may do with it: ``free``
(static checks: what to select, the docstring style; the user's value, when set, wins),
``lower`` / ``raise`` (a cap a workspace may only lower, a margin or a reserve it may only
raise), ``off`` (a switch it may only turn off), ``on`` (one it may only turn on: consent,
redaction), ``more`` (a list it may only extend: exclusions), ``offline`` (the backend: it may
only choose the offline one), and ``user`` (the model, prices, budget source, batches: never
from a workspace). So a repository can narrow what drain-ls sends and spends, never widen it:
it cannot turn on sending, choose where code goes, skip consent or redaction, or raise a cap.
What it tried is reported once, with the setting's name. A workspace's custom drains are
kept, but the consent question names them and is asked again when they change
(``WorkspaceTrust.fingerprint``).

Every layer is bounded before it is read: nesting deeper than ``MAX_DEPTH`` is dropped, every
number is finite and inside its field's range, and a value of the wrong type is reported with
the setting's name and replaced by the default.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from drain_ls.analysis.model import ALL_CODES
from drain_ls.analysis.versions import PythonVersion, resolve_target, target_from_requires_python
from drain_ls.models import default_model

# What a workspace's ``[tool.drain-ls]`` may do with a setting (see the module docstring).
Trust = Literal["free", "lower", "raise", "off", "on", "more", "offline", "user"]

MAX_DEPTH = 12  # nesting of any settings object: deeper is dropped, never recursed into
MAX_PRICE = 10_000.0  # USD per million tokens: more is a typo, not a model


def _num(
    minimum: float | None = None,
    maximum: float | None = None,
    trust: Trust = "free",
    doc: str = "",
) -> dict[str, Any]:
    return {"min": minimum, "max": maximum, "trust": trust, "doc": doc}


def _trust(trust: Trust, doc: str = "") -> dict[str, Any]:
    return {"trust": trust, "doc": doc}


def _doc(doc: str) -> dict[str, Any]:
    # Only a description: what a workspace may do is the default, "free".
    return {"doc": doc}


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
    baseUrl: str = field(
        default="http://localhost:11434/v1",
        metadata=_trust(
            "user",
            "The endpoint of the `openai` backend, ending in `/v1`: Ollama's "
            "`http://localhost:11434/v1` (the default), llama.cpp's "
            "`http://localhost:8080/v1`, LM Studio's `http://localhost:1234/v1`, "
            "`https://api.openai.com/v1`. Never a repository's: it decides where code goes.",
        ),
    )
    apiKeyEnv: str = field(
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
    contextWindow: int = field(
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
        default_factory=default_model,
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
    batchPollSeconds: float = field(
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

    sessionTokens: int = field(
        default=200_000,
        metadata=_num(
            0,
            100_000_000,
            "lower",
            "The session limit in tokens. The drain budget is this limit minus the primary use "
            "minus the safety margin, shared out in tiers.",
        ),
    )
    safetyMargin: float = field(
        default=0.10,
        metadata=_num(0, 1, "raise", "Share of the session limit kept back as a margin."),
    )
    minDrainTokens: int = field(
        default=10_000,
        metadata=_num(
            0, 100_000_000, "raise", "Below this drain budget, in tokens, no drain starts."
        ),
    )
    maxTokensPerDrain: int = field(
        default=5_000,
        metadata=_num(
            1,
            1_000_000,
            "lower",
            "Hard cap on the tokens of one drain run (input plus output, worst case).",
        ),
    )
    dailyTokens: int = field(
        default=500_000,
        metadata=_num(
            0,
            1_000_000_000,
            "lower",
            "Hard cap on the tokens the drains spend per day (UTC).",
        ),
    )
    dailyUsd: float = field(
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
    ratelimitReserve: float = field(
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

    debounceMs: int = field(
        default=150,
        metadata=_num(
            0,
            60_000,
            doc="Delay, in milliseconds, before a file is analysed again after a change.",
        ),
    )
    # A document over this size is neither parsed nor analysed (one diagnostic says why); a
    # workspace may lower it, never raise it.
    maxFileBytes: int = field(
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
    delayMs: int = field(
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

    requireConsent: bool = field(
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
    redactSecrets: bool = field(
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
    docstringStyle: Literal["google", "numpy", "sphinx"] = field(
        default="google",
        metadata=_doc("The style of docstring skeletons and generated docstrings."),
    )
    # The oldest Python the code must parse with (``drain_ls.analysis.versions``); empty: the
    # lower bound of the project's ``requires-python``, else the newest. Not a cap: "free".
    targetVersion: Literal[
        "", "py37", "py38", "py39", "py310", "py311", "py312", "py313", "py314"
    ] = field(
        default="",
        metadata=_doc(
            "The oldest Python the code must parse with, as ruff's `target-version`: syntax "
            "newer than it is an `E999`. Empty: the lower bound of the workspace's "
            "`[project] requires-python`, else the newest, `py314`."
        ),
    )
    # Per-drain switches and custom drains: validated by the drains themselves; what a
    # workspace may set in them is ``narrow_drains``'s to say.
    drains: dict[str, Any] = field(
        default_factory=dict,
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
        return resolve_target(self.targetVersion)


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


def kebab_to_camel(name: str) -> str:
    """``max-tokens-per-drain`` -> ``maxTokensPerDrain``."""
    head, *rest = name.split("-")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# Tables whose keys are names, not settings: model names in ``llm.prices``.
_VERBATIM_KEYS = {("llm", "prices")}


def camelize_keys(value: Any, path: tuple[str, ...] = ()) -> Any:
    """Rename every kebab-case key of a nested TOML table to camelCase (but model names);
    below ``MAX_DEPTH`` levels the value is left as it is (``bound_layer`` drops it)."""
    if len(path) > MAX_DEPTH:
        return value
    if isinstance(value, dict):
        if path in _VERBATIM_KEYS:
            return {str(k): camelize_keys(v, (*path, str(k))) for k, v in value.items()}
        out = {}
        for key, item in value.items():
            name = kebab_to_camel(str(key))
            out[name] = camelize_keys(item, (*path, name))
        return out
    if isinstance(value, list):
        return [camelize_keys(v, path) for v in value]
    return value


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``, nested dicts merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


_CODE_LIST = re.compile(r"^[A-Za-z]+[0-9]*$")


def _check(value: Any, hint: Any, meta: dataclasses.Field[Any] | None) -> tuple[bool, Any]:
    """Validate one value against a field's type; (ok, converted value)."""
    origin = typing.get_origin(hint)
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(float(value))
        )
        value = float(value) if ok else value
    elif hint is str:
        # Empty only where that means something (``llm.apiKeyEnv``: no variable of its own).
        empty = meta is not None and bool(meta.metadata.get("empty"))
        return isinstance(value, str) and (empty or bool(value.strip())), value
    elif origin is Literal:
        return value in typing.get_args(hint), value
    elif origin is tuple:
        if isinstance(value, str):
            value = [value]
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        return ok, tuple(value) if ok else value
    elif origin is dict or hint is dict:
        return isinstance(value, dict), value
    else:  # pragma: no cover - a field type this function does not know
        raise TypeError(f"unsupported settings type {hint!r}")
    if ok and meta is not None:
        low, high = meta.metadata.get("min"), meta.metadata.get("max")
        ok = (low is None or value >= low) and (high is None or value <= high)
    return ok, value


def _describe(hint: Any, meta: dataclasses.Field[Any] | None) -> str:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin is tuple:
        return "a list of strings"
    name = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        hint, "an object"
    )
    if meta is not None and (
        meta.metadata.get("min") is not None or meta.metadata.get("max") is not None
    ):
        low, high = meta.metadata.get("min"), meta.metadata.get("max")
        if high is None:
            name += f" >= {low}"
        else:
            name += f" between {low} and {high}"
    return name


def _build(cls: type[Any], raw: Any, prefix: str, problems: list[str]) -> Any:
    if not isinstance(raw, dict):
        if raw is not None:
            problems.append(f"`{prefix.rstrip('.')}` must be an object; using the defaults")
        return cls()
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    known = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if key not in known:
            problems.append(f"unknown setting `{name}` ignored")
            continue
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            values[key] = _build(typing.cast(type, hint), value, name + ".", problems)
            continue
        if key == "prices" and cls is LlmSettings:
            values[key] = check_prices(value, name, problems)
            continue
        ok, converted = _check_field(key, value, hint, known[key])
        if not ok:
            default = known[key].default
            if (
                default is dataclasses.MISSING
                and known[key].default_factory is not dataclasses.MISSING
            ):
                default = typing.cast(Any, known[key].default_factory)()
            problems.append(
                f"setting `{name}` must be {_describe(hint, known[key])}, got {value!r}; "
                f"using the default {default!r}"
            )
            continue
        values[key] = converted
    return cls(**values)


def _check_field(key: str, value: Any, hint: Any, meta: dataclasses.Field[Any]) -> tuple[bool, Any]:
    ok, converted = _check(value, hint, meta)
    if ok and key in ("select", "ignore"):
        ok = all(_CODE_LIST.match(v) for v in converted)
    return ok, converted


def check_prices(value: Any, name: str, problems: list[str]) -> dict[str, Any]:
    """``llm.prices``: each model's ``input`` and ``output`` (and the optional batch price)
    in USD per million tokens, finite and between 0 and ``MAX_PRICE``; a bad entry is
    reported and left out (the model is then priced as if no entry were given)."""
    if not isinstance(value, dict):
        problems.append(f"setting `{name}` must be an object of model prices; ignored")
        return {}
    table: dict[str, Any] = {}
    for model, entry in value.items():
        fields = ("input", "output")
        good = (
            isinstance(entry, dict)
            and all(key in entry for key in fields)
            and all(
                isinstance(number, (int, float))
                and not isinstance(number, bool)
                and math.isfinite(number)
                and 0 <= number <= MAX_PRICE
                for number in entry.values()
            )
            and set(entry) <= {"input", "output", "batchInput", "batchOutput"}
        )
        if not good:
            problems.append(
                f"setting `{name}.{model}` must be {{input = USD, output = USD}} per million "
                f"tokens, each a number between 0 and {MAX_PRICE:g}; ignored"
            )
            continue
        table[str(model)] = {key: float(number) for key, number in entry.items()}
    return table


def bound_layer(raw: Any, source: str, problems: list[str]) -> dict[str, Any]:
    """A settings layer with nothing unbounded left in it: objects nested deeper than
    ``MAX_DEPTH``, numbers that are not finite or beyond 10**15, strings over 100,000
    characters and lists over 10,000 items are dropped, each reported once."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(f"{source}: the settings must be an object; ignored")
        return {}

    def bound(value: Any, path: str, depth: int) -> tuple[bool, Any]:
        if isinstance(value, dict):
            if depth >= MAX_DEPTH:
                problems.append(f"{source}: `{path}` is nested too deeply; ignored")
                return False, None
            out = {}
            for key, item in value.items():
                ok, kept = bound(item, f"{path}.{key}" if path else str(key), depth + 1)
                if ok:
                    out[str(key)] = kept
            return True, out
        if isinstance(value, list):
            if depth >= MAX_DEPTH or len(value) > 10_000:
                problems.append(f"{source}: `{path}` is nested too deeply or too long; ignored")
                return False, None
            items = [bound(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
            return True, [kept for ok, kept in items if ok]
        if isinstance(value, bool) or value is None:
            return True, value
        if isinstance(value, int):
            if abs(value) > 10**15:
                problems.append(f"{source}: `{path}` is out of range; ignored")
                return False, None
            return True, value
        if isinstance(value, float):
            if not math.isfinite(value):
                problems.append(f"{source}: `{path}` must be a finite number; ignored")
                return False, None
            return True, value
        if isinstance(value, str):
            if len(value) > 100_000:
                problems.append(f"{source}: `{path}` is too long; ignored")
                return False, None
            return True, value
        problems.append(f"{source}: `{path}` has a value of an unknown type; ignored")
        return False, None

    _, bounded = bound(raw, "", 0)
    return typing.cast(dict[str, Any], bounded)


def build_settings(*layers: dict[str, Any] | None) -> tuple[Settings, list[str]]:
    """Merge the user's layers (lowest precedence first) into validated settings and the
    problems found. Every layer here is trusted: a workspace's goes through
    ``resolve_settings``."""
    problems: list[str] = []
    merged = _merge_user_layers(layers, problems)
    settings = _build(Settings, merged, "", problems)
    return settings, problems


def _merge_user_layers(
    layers: Iterable[dict[str, Any] | None], problems: list[str]
) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in layers:
        if layer:
            merged = deep_merge(merged, bound_layer(layer, "settings", problems))
    return merged


# --- the trust model -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkspaceTrust:
    """What a workspace's own ``[tool.drain-ls]`` brought that the user must be told about.

    ``custom_drains`` are the names of the custom drains the workspace declares (they send
    its code with its own prompts, so the consent question names them); ``fingerprint`` is
    a digest of their definitions (empty when there are none), part of what consent is
    remembered for; ``ignored`` the settings it tried to widen, which were ignored.
    """

    custom_drains: tuple[str, ...] = ()
    fingerprint: str = ""
    ignored: tuple[str, ...] = ()
    turned_off: bool = False  # the workspace turned off drains the user had on


_VERBS: dict[str, str] = {
    "lower": "can lower `{name}`, never raise it",
    "raise": "can raise `{name}`, never lower it",
    "off": "can turn `{name}` off, never on",
    "on": "can turn `{name}` on, never off",
    "offline": "can only set `{name}` to 'offline'",
    "more": "can add patterns to `{name}`, never a negation (`!...`) that takes files out",
    "user": "cannot set `{name}`: it is your own setting (editor settings or {config})",
}


def _refusal(source: str, name: str, value: Any, trust: str) -> str:
    verb = _VERBS.get(trust, _VERBS["user"]).format(name=name, config=user_config_path())
    return (
        f"{source} sets `{name}` = {json.dumps(value, default=str)[:80]}: ignored. "
        f"A workspace {verb} (drain-ls's trust model)"
    )


_REFUSED = object()


def _narrower(trust: str, mine: Any, theirs: Any, mine_set: bool) -> Any:
    """The value in force when the user has ``mine`` and the workspace asks for ``theirs``;
    ``_REFUSED`` when the workspace's value would widen the user's."""
    if theirs == mine:
        return mine
    if trust == "free":
        return mine if mine_set else theirs
    if trust == "lower":
        return theirs if theirs < mine else _REFUSED
    if trust == "raise":
        return theirs if theirs > mine else _REFUSED
    if trust == "off":
        return False if theirs is False else _REFUSED
    if trust == "on":
        return True if theirs is True else _REFUSED
    if trust == "more":  # (negations were taken out by ``_narrow``)
        return tuple(dict.fromkeys((*mine, *theirs)))
    if trust == "offline":
        return "offline" if theirs == "offline" else _REFUSED
    return _REFUSED


def _narrow(
    cls: type[Any],
    mine: Any,
    mine_raw: Any,
    theirs: Any,
    prefix: str,
    source: str,
    problems: list[str],
    ignored: list[str],
) -> Any:
    """``mine`` (the user's settings object of type ``cls``) narrowed by the workspace's
    raw layer ``theirs``."""
    if not isinstance(theirs, dict):
        if theirs is not None:
            problems.append(f"{source}: `{prefix.rstrip('.')}` must be a table; ignored")
        return mine
    mine_raw = mine_raw if isinstance(mine_raw, dict) else {}
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    changes: dict[str, Any] = {}
    for key, value in theirs.items():
        name = f"{prefix}{key}"
        if key not in known:
            problems.append(f"{source}: unknown setting `{name}` ignored")
            continue
        hint, meta, current = hints[key], known[key], getattr(mine, key)
        if dataclasses.is_dataclass(hint):
            changes[key] = _narrow(
                typing.cast(type, hint),
                current,
                mine_raw.get(key),
                value,
                name + ".",
                source,
                problems,
                ignored,
            )
            continue
        if key == "drains" and cls is Settings:
            changes[key] = narrow_drains(current, value, source, problems, ignored)
            continue
        trust = meta.metadata.get("trust", "free")
        if trust == "user":
            converted = value
        else:
            ok, converted = _check_field(key, value, hint, meta)
            if not ok:
                problems.append(
                    f"{source}: setting `{name}` must be {_describe(hint, meta)}, got "
                    f"{json.dumps(value, default=str)[:80]}; ignored"
                )
                continue
        if trust == "more":
            # A negation (`!x`) would take files out of the user's exclusions: refused, the
            # workspace's other patterns kept.
            negations = [item for item in converted if item.lstrip().startswith("!")]
            if negations:
                ignored.append(name)
                problems.append(_refusal(source, name, negations, trust))
                converted = tuple(item for item in converted if item not in negations)
        result = _narrower(trust, current, converted, key in mine_raw)
        if result is _REFUSED:
            ignored.append(name)
            problems.append(_refusal(source, name, value, trust))
            continue
        changes[key] = result
    return dataclasses.replace(mine, **changes) if changes else mine


# Numbers inside the commit review's table: the direction a workspace may move each, and
# the range ``drain_ls.engine.review.ReviewOptions`` accepts (outside it, the default would apply:
# a way to raise a cap by asking for less).
_REVIEW_NUMBERS: dict[str, tuple[str, type, float, float]] = {
    "maxCommits": ("lower", int, 1, 100),
    "maxBytes": ("lower", int, 1_000, 200_000),
    "pollSeconds": ("raise", float, 0.5, 86_400),
}


def _number_in(value: Any, kind: type, low: float, high: float) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if kind is int and not isinstance(value, int):
        return False
    return math.isfinite(value) and low <= value <= high


def narrow_drains(
    mine: dict[str, Any], theirs: Any, source: str, problems: list[str], ignored: list[str]
) -> dict[str, Any]:
    """The ``drains`` table narrowed by a workspace's: it may turn a built-in drain off,
    lower its limits and ``concurrency``, and declare custom drains of its own (named in the
    consent question); nothing else."""
    from drain_ls.engine.custom import BUILTIN_DRAINS
    from drain_ls.engine.drains import concurrency
    from drain_ls.engine.review import REVIEW, ReviewOptions

    if not isinstance(theirs, dict):
        problems.append(f"{source}: `drains` must be a table; ignored")
        return mine
    out = {key: dict(value) if isinstance(value, dict) else value for key, value in mine.items()}
    for key, value in theirs.items():
        name = f"drains.{key}"
        if key == "custom":
            own = out.get("custom", [])
            own = [own] if isinstance(own, dict) else own if isinstance(own, list) else []
            extra = [value] if isinstance(value, dict) else value
            if not isinstance(extra, list):
                problems.append(f"{source}: `{name}` must be a list of drains; ignored")
                continue
            out["custom"] = [*own, *extra]
        elif key == "concurrency":
            current = concurrency(out)  # what is in force: an invalid value counts as 2
            if _number_in(value, int, 1, 16) and value <= current:
                out["concurrency"] = value
            elif value != current:
                ignored.append(name)
                problems.append(_refusal(source, name, value, "lower"))
        elif key in BUILTIN_DRAINS and isinstance(value, dict):
            entry = out.get(key)
            entry = dict(entry) if isinstance(entry, dict) else {}
            for sub, item in value.items():
                subname = f"{name}.{sub}"
                if sub == "enabled":
                    if item is False:
                        entry["enabled"] = False
                    elif item is not entry.get("enabled", True):
                        ignored.append(subname)
                        problems.append(_refusal(source, subname, item, "off"))
                    continue
                rule = _REVIEW_NUMBERS.get(sub) if key == REVIEW else None
                if rule is None:
                    problems.append(f"{source}: unknown setting `{subname}` ignored")
                    continue
                trust, kind, low, high = rule
                review = ReviewOptions.from_settings({REVIEW: entry})  # what is in force
                in_force: float = {
                    "maxCommits": review.max_commits,
                    "maxBytes": review.max_bytes,
                    "pollSeconds": review.poll_seconds,
                }[sub]
                valid = _number_in(item, kind, low, high)
                if valid and _narrower(trust, in_force, item, True) is not _REFUSED:
                    entry[sub] = item
                elif item != in_force:
                    ignored.append(subname)
                    problems.append(_refusal(source, subname, item, trust))
            out[key] = entry
        else:
            ignored.append(name)
            problems.append(_refusal(source, name, value, "user"))
    return out


def resolve_settings(
    workspace: dict[str, Any] | None,
    *user_layers: dict[str, Any] | None,
    source: str = "pyproject.toml",
) -> tuple[Settings, list[str], WorkspaceTrust]:
    """The settings in force: the user's layers (lowest precedence first) merged, then
    narrowed by the ``workspace`` layer (``[tool.drain-ls]``, camelCased) as the trust model
    allows; with the problems found (each names its setting) and what the workspace
    brought."""
    problems: list[str] = []
    mine_raw = _merge_user_layers(user_layers, problems)
    mine = _build(Settings, mine_raw, "", problems)
    theirs = bound_layer(workspace, source, problems)
    ignored: list[str] = []
    settings = _narrow(Settings, mine, mine_raw, theirs, "", source, problems, ignored)
    custom = (
        theirs.get("drains", {}).get("custom") if isinstance(theirs.get("drains"), dict) else None
    )
    custom = [custom] if isinstance(custom, dict) else custom if isinstance(custom, list) else []
    from drain_ls.engine.custom import parse_custom_drains

    # The names the question shows are those of drains that will run (validated), never a
    # raw string a workspace wrote to read like something else.
    names = tuple(drain.name for drain in parse_custom_drains(custom)[0])
    fingerprint = (
        hashlib.sha256(json.dumps(custom, sort_keys=True, default=str).encode()).hexdigest()[:16]
        if custom
        else ""
    )
    turned_off = mine.llm.enabled and not settings.llm.enabled
    return settings, problems, WorkspaceTrust(names, fingerprint, tuple(ignored), turned_off)


def consent_key(workspace: str, trust: WorkspaceTrust) -> str:
    """What a consent answer is remembered for: the workspace, and the custom drains it
    declares (a change to them, say by a ``git pull``, asks again)."""
    return f"{workspace}#custom:{trust.fingerprint}" if trust.fingerprint else workspace


def workspace_drains_note(trust: WorkspaceTrust) -> str:
    """The consent question's sentence on the workspace's own drains ("" when none)."""
    count = len(trust.custom_drains)
    if not count:
        return ""
    names = ", ".join(trust.custom_drains[:5]) + (f" and {count - 5} more" if count > 5 else "")
    return (
        f" This workspace's pyproject.toml also declares {count} drain(s) with prompts of "
        f"its own ({names}): they send its code too."
    )


def user_config_path() -> Path:
    """The user's own settings file (TOML, the ``[tool.drain-ls]`` names at the top level):
    ``$DRAIN_LS_CONFIG``, else ``config.toml`` in ``$DRAIN_LS_HOME`` when that is set, else
    in the platform's config directory (``~/.config/drain-ls/config.toml`` on Linux)."""
    explicit = os.environ.get("DRAIN_LS_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("DRAIN_LS_HOME")
    if home:
        return Path(home).expanduser() / "config.toml"
    import platformdirs

    return Path(platformdirs.user_config_dir("drain-ls", appauthor=False)) / "config.toml"


def load_user_config() -> tuple[dict[str, Any], list[str]]:
    """The user config file as a camelCased layer (empty when there is none), and the
    problems reading it."""
    import tomllib

    from drain_ls.files import MAX_CONFIG_BYTES, UnreadableFile, read_regular

    path = user_config_path()
    try:
        data = tomllib.loads(read_regular(path, MAX_CONFIG_BYTES).decode("utf-8"))
    except FileNotFoundError:
        return {}, []
    except (UnreadableFile, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return {}, [f"cannot read {path}: {exc}"]
    except RecursionError:
        return {}, [f"cannot read {path}: nested too deeply"]
    return camelize_keys(data), []


def settings_to_json(settings: Settings) -> dict[str, Any]:
    """The settings as plain JSON-able data (for ``drain.status``)."""

    def convert(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: convert(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, tuple):
            return list(value)
        return value

    result = convert(settings)
    assert isinstance(result, dict)
    return result
