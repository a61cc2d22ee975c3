"""Typed settings, merged from ``[tool.drain-ls]`` and the client.

Precedence, lowest first: the defaults, ``[tool.drain-ls]`` in the workspace's
``pyproject.toml`` (kebab-case names), ``initializationOptions``, then what the client answers
to ``workspace/configuration`` (section ``drainLs``) or sends with
``workspace/didChangeConfiguration``. All layers use the same nested names
(``{"llm": {"enabled": true}}``). A value of the wrong type or out of range is reported with the
setting's name and the default is used instead.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from drain_ls.analysis.model import ALL_CODES


def _num(minimum: float | None = None, maximum: float | None = None) -> dict[str, Any]:
    return {"min": minimum, "max": maximum}


@dataclass(frozen=True, slots=True)
class LlmSettings:
    """Which model, through which backend; off until the user turns it on."""

    enabled: bool = False
    backend: Literal["offline", "anthropic"] = "offline"
    model: str = "claude-haiku-4-5"
    batch: bool = False
    # How often open Message Batches are polled for their results.
    batchPollSeconds: float = field(default=60.0, metadata=_num(1, 86_400))
    # Overrides of the price table: {"model": {"input": USD per MTok, "output": ...}}.
    prices: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BudgetSettings:
    """The hard limits drains run inside (DESIGN.md, budget model)."""

    sessionTokens: int = field(default=200_000, metadata=_num(0))
    safetyMargin: float = field(default=0.10, metadata=_num(0, 1))
    minDrainTokens: int = field(default=10_000, metadata=_num(0))
    maxTokensPerDrain: int = field(default=5_000, metadata=_num(1))
    dailyTokens: int = field(default=500_000, metadata=_num(0))
    dailyUsd: float = field(default=1.0, metadata=_num(0))
    source: Literal["fixed", "claude-code"] = "fixed"
    ratelimitReserve: float = field(default=0.5, metadata=_num(0, 1))
    pool: bool = False


@dataclass(frozen=True, slots=True)
class DiagnosticsSettings:
    """Static diagnostics."""

    debounceMs: int = field(default=150, metadata=_num(0, 60_000))


@dataclass(frozen=True, slots=True)
class IdleSettings:
    """When the editor counts as idle."""

    delayMs: int = field(default=2_000, metadata=_num(0, 3_600_000))


@dataclass(frozen=True, slots=True)
class CancelSettings:
    """What a keystroke cancels."""

    policy: Literal["affected", "all"] = "affected"


@dataclass(frozen=True, slots=True)
class PrivacySettings:
    """What may leave the machine."""

    requireConsent: bool = True
    exclude: tuple[str, ...] = ()
    redactSecrets: bool = True


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting in force."""

    llm: LlmSettings = field(default_factory=LlmSettings)
    budget: BudgetSettings = field(default_factory=BudgetSettings)
    diagnostics: DiagnosticsSettings = field(default_factory=DiagnosticsSettings)
    idle: IdleSettings = field(default_factory=IdleSettings)
    cancel: CancelSettings = field(default_factory=CancelSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    docstringStyle: Literal["google", "numpy", "sphinx"] = "google"
    # Per-drain switches and custom drains: validated by the drains themselves.
    drains: dict[str, Any] = field(default_factory=dict)

    @property
    def codes(self) -> frozenset[str]:
        """The codes selected, minus the ignored ones (prefixes allowed in both)."""
        return select_codes(self.select, self.ignore)


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
    """Rename every kebab-case key of a nested TOML table to camelCase (but model names)."""
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
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif hint is str:
        return isinstance(value, str) and bool(value.strip()), value
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
        ok, converted = _check(value, hint, known[key])
        if ok and key in ("select", "ignore"):
            ok = all(_CODE_LIST.match(v) for v in converted)
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


def build_settings(*layers: dict[str, Any] | None) -> tuple[Settings, list[str]]:
    """Merge layers (lowest precedence first) into validated settings and the problems found."""
    merged: dict[str, Any] = {}
    for layer in layers:
        if layer:
            merged = deep_merge(merged, layer)
    problems: list[str] = []
    settings = _build(Settings, merged, "", problems)
    return settings, problems


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
