"""The user's settings layers, merged and validated: TOML's kebab-case names camelCased,
every layer bounded before it is read (``bound_layer``: depth, numbers, lengths), merged
(lowest precedence first) and built into ``Settings``, each key read as a field's alias (its
camelCase name: ``config.fields``) and each value checked against its field's type and range
(a wrong one is reported with the setting's name and replaced by the default); ``llm.prices``
checked entry by entry, ``drains.custom`` parsed into drains (``config.drains``)."""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Iterable
from typing import Any, Literal

from drain_ls.analysis.rules import ALL_CODES
from drain_ls.config.drains import CustomDrains
from drain_ls.config.fields import fields_by_alias
from drain_ls.config.settings import LlmSettings, Settings

MAX_DEPTH = 12  # nesting of any settings object: deeper is dropped, never recursed into
MAX_PRICE = 10_000.0  # USD per million tokens: more is a typo, not a model


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


def _optional(hint: Any) -> Any:
    """``X`` of a hint ``X | None`` (None: not such a hint)."""
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0]
    return None


def unknown_selector(items: Iterable[str]) -> str | None:
    """The first item of a ``select`` or ``ignore`` list that is neither ``ALL`` nor a code
    or a prefix of one (``F401``, ``D1``), stripped; None when every item is."""
    for item in items:
        name = item.strip().upper()
        if name and name != "ALL" and not any(code.startswith(name) for code in ALL_CODES):
            return item.strip()
    return None


def _check(value: Any, hint: Any, meta: dataclasses.Field[Any] | None) -> tuple[bool, Any]:
    """Validate one value against a field's type; (ok, converted value)."""
    origin = typing.get_origin(hint)
    inner = _optional(hint)
    if inner is not None:  # null: not set
        return (True, None) if value is None else _check(value, inner, meta)
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
    hint = _optional(hint) or hint
    origin = typing.get_origin(hint)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin is tuple and meta is not None and meta.name in ("select", "ignore"):
        return "a list of rule codes or prefixes (`F401`, `D1`, `ALL`)"
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
    known = fields_by_alias(cls)
    for key, value in raw.items():
        name = f"{prefix}{key}"
        meta = known.get(key)
        if meta is None:
            problems.append(f"unknown setting `{name}` ignored")
            continue
        hint = hints[meta.name]
        if hint is CustomDrains:  # parsed on its own: its problems are kept with it
            values[meta.name] = CustomDrains.parse(value)
            continue
        if dataclasses.is_dataclass(hint):
            values[meta.name] = _build(typing.cast(type, hint), value, name + ".", problems)
            continue
        if meta.name == "prices" and cls is LlmSettings:
            values[meta.name] = check_prices(value, name, problems)
            continue
        ok, converted = _check_field(meta.name, value, hint, meta)
        if not ok:
            default = meta.default
            if default is dataclasses.MISSING and meta.default_factory is not dataclasses.MISSING:
                default = typing.cast(Any, meta.default_factory)()
            # A field may fall back on another value than its default (``drains.concurrency``).
            default = meta.metadata.get("fallback", default)
            problems.append(
                f"setting `{name}` must be {_describe(hint, meta)}, got {value!r}; "
                f"using the default {default!r}"
            )
            if "fallback" in meta.metadata:
                values[meta.name] = default
            continue
        values[meta.name] = converted
    return cls(**values)


def _check_field(key: str, value: Any, hint: Any, meta: dataclasses.Field[Any]) -> tuple[bool, Any]:
    ok, converted = _check(value, hint, meta)
    if ok and key in ("select", "ignore"):
        ok = all(_CODE_LIST.match(v) for v in converted) and unknown_selector(converted) is None
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
