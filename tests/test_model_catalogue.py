"""The model catalogue (``drain_ls/models.toml``) covers every model id the installed Anthropic
SDK lists, gives every figure the right type and range, and names a source for each of them.

Updating the catalogue is that file and this test. The checks are plain functions returning a
list of problems, so the last tests can show that they fail on a broken catalogue.
"""

from __future__ import annotations

import copy
import functools
import math
import re
import tomllib
import typing
from datetime import date, datetime
from pathlib import Path
from typing import Any

import anthropic
import pytest
from anthropic._data import DEPRECATED_MODELS
from anthropic.types.model import Model as SdkModel

CATALOGUE = Path(__file__).resolve().parents[1] / "drain_ls" / "models.toml"
SDK_ROOT = Path(anthropic.__file__).resolve().parent

PRICE_FIELDS = (
    "input",
    "output",
    "cache_write_5m",
    "cache_write_1h",
    "cache_read",
    "batch_input",
    "batch_output",
)
LONG_FIELDS = ("long_context_above", "long_input", "long_output")
# Required on every model; a field no page gives may hold a placeholder named in ``unknown``.
REQUIRED = (
    "context_window",
    "max_output",
    "min_cacheable",
    "thinking_default",
    "thinking_types",
    "effort",
    "tokens_per_text",
    "status",
)
OPTIONAL_FIGURES = ("deprecated_on", "retires_on", "aliases")
FIGURES = frozenset(PRICE_FIELDS + LONG_FIELDS + REQUIRED + OPTIONAL_FIGURES)
NOT_FIGURES = frozenset({"id", "name", "unpriced", "unknown", "source"})
MAY_BE_UNKNOWN = frozenset({"min_cacheable"})
THINKING_TYPES = ("adaptive", "between_tools", "disabled", "enabled")
EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")
STATUSES = ("active", "legacy", "deprecated", "retired")


@functools.cache
def _text() -> str:
    return CATALOGUE.read_text("utf-8")


def load() -> dict[str, Any]:
    """A fresh copy of the catalogue (tests that break it must not share it)."""
    return copy.deepcopy(_parsed())


@functools.cache
def _parsed() -> dict[str, Any]:
    return tomllib.loads(_text())


def sdk_model_ids() -> tuple[str, ...]:
    """Every id in the Literal member of ``anthropic.types.model.Model``."""
    literals = [a for a in typing.get_args(SdkModel) if typing.get_origin(a) is typing.Literal]
    assert len(literals) == 1, "Model is no longer Union[Literal[...], str]"
    return tuple(typing.get_args(literals[0]))


def sdk_date(text: str) -> date:
    """The SDK's "January 22nd, 2027" as a date."""
    plain = re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1", text.strip())
    return datetime.strptime(plain, "%B %d, %Y").date()


def _iso(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _names(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """id and alias -> model entry."""
    table: dict[str, dict[str, Any]] = {}
    for entry in data.get("model", []):
        for name in (entry.get("id"), *entry.get("aliases", [])):
            if isinstance(name, str):
                table.setdefault(name, entry)
    return table


# --- the checks ---------------------------------------------------------------------------


def coverage_problems(data: dict[str, Any]) -> list[str]:
    problems = []
    seen: dict[str, str] = {}
    for entry in data.get("model", []):
        for name in (entry.get("id"), *entry.get("aliases", [])):
            if name in seen:
                problems.append(
                    f"{name!r} appears twice (in {seen[name]!r} and {entry.get('id')!r})"
                )
            seen[name] = str(entry.get("id"))
    for model_id in sdk_model_ids():
        if model_id not in seen:
            problems.append(f"the SDK's model {model_id!r} is not in the catalogue")
    return problems


def header_problems(data: dict[str, Any]) -> list[str]:
    problems = []
    if not _text().startswith("#"):
        problems.append("the file does not start with its header comment")
    checked = _iso(data.get("checked"))
    if checked is None:
        problems.append("`checked` is not an ISO date")
    elif not date(2026, 1, 1) <= checked <= date.today():
        problems.append(f"`checked` {checked} is not a plausible past date")
    sources = data.get("sources")
    if not isinstance(sources, dict) or not sources:
        problems.append("[sources] is missing or empty")
    else:
        for key, url in sources.items():
            if not (isinstance(url, str) and url.startswith("https://")):
                problems.append(f"source {key!r} is not an https URL")
    if not data.get("model"):
        problems.append("there is no [[model]]")
    return problems


def _price_problems(entry: dict[str, Any]) -> list[str]:
    mid = entry.get("id")
    problems = []
    priced = [f for f in PRICE_FIELDS + LONG_FIELDS if f in entry]
    unpriced = entry.get("unpriced", False)
    if not isinstance(unpriced, bool):
        return [f"{mid}: unpriced must be true or false"]
    if unpriced:
        if priced:
            problems.append(f"{mid}: unpriced, yet sets {priced}")
        return problems
    for field in PRICE_FIELDS:
        value = entry.get(field)
        if not _number(value) or not math.isfinite(value) or value < 0:
            problems.append(f"{mid}: {field} must be a finite price >= 0, not {value!r}")
    if problems:
        return problems
    if (
        not entry["cache_read"]
        < entry["input"]
        < entry["cache_write_5m"]
        <= entry["cache_write_1h"]
    ):
        problems.append(f"{mid}: needs cache_read < input < cache_write_5m <= cache_write_1h")
    if entry["output"] < entry["input"]:
        problems.append(f"{mid}: output is cheaper than input")
    # The batch page: "All usage is charged at 50% of the standard API prices."
    for batch, base in (("batch_input", "input"), ("batch_output", "output")):
        if not math.isclose(entry[batch], entry[base] / 2, rel_tol=1e-9, abs_tol=1e-12):
            problems.append(f"{mid}: {batch} is not half of {base}")
    long = [f for f in LONG_FIELDS if f in entry]
    if long and len(long) != len(LONG_FIELDS):
        problems.append(f"{mid}: long-context pricing needs all of {LONG_FIELDS}")
    elif long:
        above = entry["long_context_above"]
        if not isinstance(above, int) or isinstance(above, bool) or not above > 0:
            problems.append(f"{mid}: long_context_above must be a positive integer")
        elif _number(entry.get("context_window")) and above >= entry["context_window"]:
            problems.append(f"{mid}: long_context_above is not below the context window")
        for field, base in (("long_input", "input"), ("long_output", "output")):
            value = entry[field]
            if not _number(value) or not math.isfinite(value) or value < entry[base]:
                problems.append(f"{mid}: {field} must be a price >= {base}")
    return problems


def _int_in(entry: dict[str, Any], field: str, low: int, high: int) -> list[str]:
    value = entry.get(field)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        return [f"{entry.get('id')}: {field} must be an integer in [{low}, {high}], not {value!r}"]
    return []


def _levels_problems(mid: Any, field: str, value: Any, allowed: tuple[str, ...]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return [f"{mid}: {field} must be a list of strings"]
    if len(set(value)) != len(value):
        return [f"{mid}: {field} repeats a value"]
    if not set(value) <= set(allowed):
        return [f"{mid}: {field} has unknown values {sorted(set(value) - set(allowed))}"]
    if value != [v for v in allowed if v in value]:
        return [f"{mid}: {field} is not in the order {allowed}"]
    return []


def _field_problems(entry: dict[str, Any]) -> list[str]:
    mid = entry.get("id")
    if not isinstance(mid, str) or not re.fullmatch(r"claude-[a-z0-9-]+", mid):
        return [f"{mid!r}: id must be a claude-... model id"]
    problems = []
    if not isinstance(entry.get("name"), str) or not entry["name"].startswith("Claude "):
        problems.append(f"{mid}: name must be the model's display name")
    aliases = entry.get("aliases")
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        problems.append(f"{mid}: aliases must be a list of ids")
    elif mid in aliases:
        problems.append(f"{mid}: lists itself as an alias")
    for field in entry:
        if field not in FIGURES | NOT_FIGURES:
            problems.append(f"{mid}: unknown field {field!r}")
    for field in REQUIRED:
        if field not in entry:
            problems.append(f"{mid}: missing {field}")
    if problems:
        return problems
    problems += _int_in(entry, "context_window", 100_000, 10_000_000)
    problems += _int_in(entry, "max_output", 4_096, entry["context_window"])
    problems += _int_in(entry, "min_cacheable", 256, 8_192)
    if entry["thinking_default"] not in ("off", "adaptive"):
        problems.append(f"{mid}: thinking_default must be off or adaptive")
    types = entry["thinking_types"]
    problems += _levels_problems(mid, "thinking_types", types, THINKING_TYPES)
    problems += _levels_problems(mid, "effort", entry["effort"], EFFORT_LEVELS)
    if not problems:
        if not types:
            problems.append(f"{mid}: accepts no thinking type at all")
        if entry["thinking_default"] == "adaptive" and "adaptive" not in types:
            problems.append(f"{mid}: thinks adaptively by default but does not accept adaptive")
        if entry["thinking_default"] == "off" and "disabled" not in types:
            problems.append(f"{mid}: does not think by default, so it accepts disabled")
        # drain-ls keeps a short answer out of thinking's way: turned off, or at low effort.
        if (
            entry["thinking_default"] == "adaptive"
            and "disabled" not in types
            and "low" not in entry["effort"]
        ):
            problems.append(f"{mid}: thinks by default, cannot turn it off, and has no low effort")
    ratio = entry["tokens_per_text"]
    if not _number(ratio) or not 1.0 <= ratio <= 2.0:
        problems.append(f"{mid}: tokens_per_text must be a number in [1.0, 2.0]")
    problems += _price_problems(entry)
    return problems


def _status_problems(entry: dict[str, Any], checked: date | None) -> list[str]:
    mid = entry.get("id")
    status = entry.get("status")
    if status not in STATUSES:
        return [f"{mid}: status must be one of {STATUSES}"]
    problems = []
    dates = {}
    for field in ("deprecated_on", "retires_on"):
        if field in entry:
            if not isinstance(entry[field], str) or _iso(entry[field]) is None:
                problems.append(f"{mid}: {field} must be an ISO date string")
            else:
                dates[field] = _iso(entry[field])
    if problems:
        return problems
    retires = dates.get("retires_on")
    if status in ("deprecated", "retired") and retires is None:
        problems.append(f"{mid}: {status}, yet no retires_on")
    if status in ("active", "legacy") and dates:
        problems.append(f"{mid}: {status}, yet has {sorted(dates)}")
    if status == "retired" and retires and checked and retires > checked:
        problems.append(f"{mid}: retired, yet retires_on {retires} is after `checked`")
    if "deprecated_on" in dates and retires and dates["deprecated_on"] > retires:
        problems.append(f"{mid}: deprecated_on is after retires_on")
    return problems


def lifecycle_problems(data: dict[str, Any]) -> list[str]:
    checked = _iso(data.get("checked"))
    problems = []
    for entry in data.get("model", []):
        problems += _status_problems(entry, checked)
    names = _names(data)
    for model_id, when in DEPRECATED_MODELS.items():
        entry = names.get(model_id)
        if entry is None:
            continue  # coverage_problems reports it if the SDK lists the id
        if _iso(entry.get("retires_on")) != sdk_date(when):
            problems.append(
                f"{model_id}: retires_on must be the SDK's {when!r}, not {entry.get('retires_on')!r}"
            )
        if entry.get("status") not in ("deprecated", "retired"):
            problems.append(
                f"{model_id}: the SDK deprecates it, yet its status is {entry.get('status')!r}"
            )
    return problems


def field_problems(data: dict[str, Any]) -> list[str]:
    problems = []
    for entry in data.get("model", []):
        problems += _field_problems(entry)
    return problems


def _sourceable(entry: dict[str, Any]) -> set[str]:
    """The figures ``entry`` sets, each of which needs a source."""
    unknown = set(entry.get("unknown", []))
    figures = {f for f in entry if f in FIGURES and f not in unknown}
    if not entry.get("aliases"):
        figures.discard("aliases")
    return figures


def source_problems(data: dict[str, Any]) -> list[str]:
    sources = data.get("sources", {})
    used: set[str] = set()
    problems = []
    for entry in data.get("model", []):
        mid = entry.get("id")
        table = entry.get("source")
        if not isinstance(table, dict):
            problems.append(f"{mid}: no [model.source] table")
            continue
        unknown = entry.get("unknown", [])
        if not isinstance(unknown, list) or not set(unknown) <= MAY_BE_UNKNOWN:
            problems.append(f"{mid}: unknown may only name {sorted(MAY_BE_UNKNOWN)}")
            continue
        for field in sorted(_sourceable(entry) - set(table)):
            problems.append(f"{mid}: {field} has no source")
        for field, ref in table.items():
            if field not in _sourceable(entry):
                problems.append(f"{mid}: source for {field!r}, which is not a figure it sets")
            elif not isinstance(ref, str):
                problems.append(f"{mid}: source of {field} must be a string")
            elif ref.startswith("sdk:"):
                if not (SDK_ROOT / ref.removeprefix("sdk:")).is_file():
                    problems.append(
                        f"{mid}: {ref} is not a file of the installed anthropic package"
                    )
            elif ref not in sources:
                problems.append(f"{mid}: source {ref!r} of {field} is not a key of [sources]")
            else:
                used.add(ref)
    for key in sorted(set(sources) - used):
        problems.append(f"[sources] {key!r} is cited by no figure")
    # A placeholder is a rule, not a figure: the largest value any sourced model has.
    for field in MAY_BE_UNKNOWN:
        known = [
            e[field]
            for e in data.get("model", [])
            if field in e and field not in e.get("unknown", []) and _number(e[field])
        ]
        for entry in data.get("model", []):
            if field in entry.get("unknown", []) and known and entry.get(field) != max(known):
                problems.append(
                    f"{entry.get('id')}: the placeholder {field} must be {max(known)}, "
                    f"the largest documented value"
                )
    return problems


ALL_CHECKS = (
    header_problems,
    coverage_problems,
    field_problems,
    lifecycle_problems,
    source_problems,
)


def all_problems(data: dict[str, Any]) -> list[str]:
    return [p for check in ALL_CHECKS for p in check(data)]


# --- the tests -----------------------------------------------------------------------------


def test_the_sdk_lists_models() -> None:
    ids = sdk_model_ids()
    assert len(ids) >= 10
    assert "claude-haiku-4-5-20251001" in ids


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_the_catalogue_passes(check: typing.Callable[[dict[str, Any]], list[str]]) -> None:
    assert check(load()) == []


def test_sdk_dates_parse() -> None:
    assert sdk_date("January 22nd, 2027") == date(2027, 1, 22)
    assert sdk_date("June 30th, 2026") == date(2026, 6, 30)
    assert sdk_date("March 1st, 2027") == date(2027, 3, 1)


def _entry(data: dict[str, Any], model_id: str) -> dict[str, Any]:
    return next(e for e in data["model"] if e["id"] == model_id)


def _first_priced(data: dict[str, Any]) -> dict[str, Any]:
    return next(e for e in data["model"] if not e.get("unpriced"))


def _breakages() -> dict[str, typing.Callable[[dict[str, Any]], None]]:
    """Ways to break the catalogue, each of which some check must catch."""

    def drop_model(d: dict[str, Any]) -> None:
        d["model"] = [e for e in d["model"] if e["id"] != "claude-haiku-5-5"]

    def drop_alias(d: dict[str, Any]) -> None:
        _entry(d, "claude-opus-4-5-20251101")["aliases"] = []

    def duplicate(d: dict[str, Any]) -> None:
        d["model"].append(copy.deepcopy(d["model"][0]))

    def drop_source(d: dict[str, Any]) -> None:
        del _first_priced(d)["source"]["input"]

    def dangling_source(d: dict[str, Any]) -> None:
        _first_priced(d)["source"]["output"] = "no-such-page"

    def missing_sdk_file(d: dict[str, Any]) -> None:
        _entry(d, "claude-opus-4-5-20251101")["source"]["retires_on"] = "sdk:_data/nope.py"

    def drop_source_page(d: dict[str, Any]) -> None:
        del d["sources"]["pricing"]

    def wrong_retirement(d: dict[str, Any]) -> None:
        _entry(d, "claude-opus-4-5-20251101")["retires_on"] = "2027-01-23"

    def cheap_batch(d: dict[str, Any]) -> None:
        _first_priced(d)["batch_input"] = 0.0

    def read_dearer_than_input(d: dict[str, Any]) -> None:
        entry = _first_priced(d)
        entry["cache_read"] = entry["input"] * 2

    def negative_price(d: dict[str, Any]) -> None:
        _first_priced(d)["output"] = -1.0

    def infinite_price(d: dict[str, Any]) -> None:
        _first_priced(d)["input"] = math.inf

    def unpriced_with_price(d: dict[str, Any]) -> None:
        _entry(d, "claude-mythos-preview")["input"] = 1.0

    def priced_without_price(d: dict[str, Any]) -> None:
        del _first_priced(d)["cache_write_1h"]

    def small_window(d: dict[str, Any]) -> None:
        _first_priced(d)["context_window"] = 8_000

    def huge_cache_minimum(d: dict[str, Any]) -> None:
        _first_priced(d)["min_cacheable"] = 1_000_000

    def adaptive_not_accepted(d: dict[str, Any]) -> None:
        _entry(d, "claude-opus-5-5")["thinking_types"] = ["disabled"]

    def no_way_to_keep_short(d: dict[str, Any]) -> None:
        _entry(d, "claude-opus-5-5")["effort"] = ["high", "max"]

    def unknown_effort(d: dict[str, Any]) -> None:
        _entry(d, "claude-opus-5-5")["effort"] = ["low", "turbo"]

    def retired_in_future(d: dict[str, Any]) -> None:
        _entry(d, "claude-opus-4-5-20251101")["status"] = "retired"

    def active_but_deprecated_by_sdk(d: dict[str, Any]) -> None:
        _entry(d, "claude-opus-4-5-20251101")["status"] = "active"

    def missing_field(d: dict[str, Any]) -> None:
        del _first_priced(d)["max_output"]

    def stray_field(d: dict[str, Any]) -> None:
        _first_priced(d)["inptu"] = 1.0

    def bad_placeholder(d: dict[str, Any]) -> None:
        _entry(d, "claude-fable-5-2")["min_cacheable"] = 512

    def sourced_placeholder(d: dict[str, Any]) -> None:
        _entry(d, "claude-fable-5-2")["source"]["min_cacheable"] = "prompt-caching"

    def long_context_half_set(d: dict[str, Any]) -> None:
        del _entry(d, "claude-haiku-5-5")["long_output"]

    return {f.__name__: f for f in locals().values() if callable(f)}


@pytest.mark.parametrize("breakage", sorted(_breakages()))
def test_the_checks_catch_a_broken_catalogue(breakage: str) -> None:
    data = load()
    _breakages()[breakage](data)
    assert all_problems(data), f"no check noticed: {breakage}"


def test_the_default_model_written_out_is_the_catalogue_s_current_haiku() -> None:
    """``DEFAULT_MODEL`` saves a parse of the catalogue at start-up; it must stay what the
    rule picks from ``models.toml`` (a new Haiku there fails this until it is updated)."""
    from drain_ls.models import DEFAULT_MODEL, current_haiku, default_model, lookup

    assert default_model() == DEFAULT_MODEL == current_haiku()
    model = lookup(DEFAULT_MODEL)
    assert model is not None and model.status == "active" and model.retires_on is None
