"""Typed settings: snake_case fields, the camelCase names users write as their aliases, and
the ``drains`` table parsed once into ``DrainsSettings`` (issue 19)."""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, Literal

import pytest

from drain_ls.config import (
    DEFAULT_CONCURRENCY,
    CustomDrains,
    DrainsSettings,
    DrainSwitch,
    ReviewSettings,
    Settings,
    alias,
    build_settings,
    camelize_keys,
    kebab_to_camel,
    resolve_settings,
    settings_to_json,
    snake_to_camel,
)
from drain_ls.engine.custom import BUILTIN_DRAINS
from drain_ls.settings_reference import camel_to_kebab, render

SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")


def settings_classes(cls: type[Any] = Settings) -> Iterator[type[Any]]:
    """Every settings class, ``Settings`` first (``CustomDrains`` is a list to users)."""
    yield cls
    for hint in typing.get_type_hints(cls).values():
        if dataclasses.is_dataclass(hint) and hint is not CustomDrains:
            yield from settings_classes(typing.cast(type, hint))


def leaves(cls: type[Any] = Settings, prefix: str = "") -> Iterator[tuple[str, Any, Any]]:
    """Every leaf setting: (dotted alias, field, its type)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint) and hint is not CustomDrains:
            yield from leaves(typing.cast(type, hint), f"{prefix}{alias(f)}.")
        else:
            yield prefix + alias(f), f, hint


def test_the_settings_classes_are_the_ones_expected() -> None:
    classes = set(settings_classes())
    assert {DrainsSettings, DrainSwitch, ReviewSettings} < classes and len(classes) == 10
    # One switch per built-in drain, named as the drain.
    hints = typing.get_type_hints(DrainsSettings)
    assert all(hints[name] in (DrainSwitch, ReviewSettings) for name in BUILTIN_DRAINS)


@pytest.mark.parametrize("cls", list(dict.fromkeys(settings_classes())), ids=lambda c: c.__name__)
def test_every_field_is_snake_case_with_its_camel_case_alias(cls: type[Any]) -> None:
    for f in dataclasses.fields(cls):
        assert SNAKE.match(f.name), f"{cls.__name__}.{f.name} is not snake_case"
        name = alias(f)
        assert CAMEL.match(name) and name == snake_to_camel(f.name), (cls.__name__, f.name)
        # ... and its kebab-case name in [tool.drain-ls] comes back to it.
        assert kebab_to_camel(camel_to_kebab(name)) == name, name


def _other_value(name: str, f: dataclasses.Field[Any], hint: Any) -> Any:
    """A valid value of a leaf setting other than its default (as JSON has it)."""
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
    low, high = f.metadata.get("min"), f.metadata.get("max")
    if hint is CustomDrains:
        return [{"name": "notes", "prompt": "Say one thing.", "scope": "file"}]
    if hint is bool:
        return not default
    if hint in (int, float) or typing.get_args(hint) == (int, type(None)):
        value = 3 if default in (None, 0) else default + 1
        if high is not None and value > high:
            value = high if high != default else low
        return float(value) if hint is float else value
    if typing.get_origin(hint) is Literal:
        return next(a for a in typing.get_args(hint) if a != default)
    if typing.get_origin(hint) is tuple:
        return ["F401"] if name in ("select", "ignore") else ["build/"]
    if hint is str:
        return "OTHER_KEY" if name == "llm.apiKeyEnv" else f"x-{default}"
    if hint is dict or typing.get_origin(hint) is dict:
        return {"my-model": {"input": 1.0, "output": 2.0}}
    raise AssertionError(f"no value for {name}: {hint!r}")


def _layer() -> dict[str, Any]:
    """A user's layer (camelCase) that sets every leaf setting to a value not its default."""
    layer: dict[str, Any] = {}
    for name, f, hint in leaves():
        *path, key = name.split(".")
        table = layer
        for part in path:
            table = table.setdefault(part, {})
        table[key] = _other_value(name, f, hint)
    return layer


def _get(settings: Any, name: str) -> Any:
    """A dotted alias's value, through the snake_case attributes."""
    value = settings
    for part in name.split("."):
        value = getattr(value, next(f.name for f in dataclasses.fields(value) if alias(f) == part))
    return value


def test_every_setting_round_trips_through_the_loader_and_settings_to_json() -> None:
    layer = _layer()
    settings, problems = build_settings(layer)
    assert problems == [] and settings.drains.custom.problems == ()
    for name, _, _ in leaves():
        value = _get(settings, name)
        expected: Any = layer
        for part in name.split("."):
            expected = expected[part]
        if isinstance(value, CustomDrains):
            assert list(value.written) == expected and [d.name for d in value.valid] == ["notes"]
        else:
            assert (list(value) if isinstance(value, tuple) else value) == expected, name
            assert value != _default_of(name), name
    # settings_to_json writes the names users write: exactly the layer back, and the same
    # settings built again.
    data = settings_to_json(settings)
    assert data == layer
    again, problems = build_settings(data)
    assert problems == [] and again == settings
    # The same through [tool.drain-ls]'s kebab-case (camelized) and as a user layer that a
    # workspace does not touch.
    kebab = _kebab(layer)
    assert build_settings(camelize_keys(kebab))[0] == settings
    resolved, problems, _ = resolve_settings({}, layer)
    assert problems == [] and resolved == settings


def _default_of(name: str) -> Any:
    return _get(Settings(), name)


def _kebab(value: Any, path: tuple[str, ...] = ()) -> Any:
    if isinstance(value, dict) and path != ("llm", "prices"):
        return {camel_to_kebab(k): _kebab(v, (*path, k)) for k, v in value.items()}
    return value


def test_the_defaults_as_json_read_back_as_the_defaults() -> None:
    data = settings_to_json(Settings())
    assert data["drains"]["concurrency"] is None  # not set
    assert data["drains"]["review"] == {
        "enabled": True,
        "maxCommits": 10,
        "maxBytes": 24_000,
        "pollSeconds": 30.0,
    }
    assert data["drains"]["custom"] == [] and data["budget"]["maxTokensPerDrain"] == 5_000
    assert build_settings(data) == (Settings(), [])


def test_snake_case_names_are_not_settings_users_write() -> None:
    """The Python names are no aliases: as before, such a key is an unknown setting."""
    settings, problems = build_settings(
        {
            "budget": {"daily_usd": 5.0},
            "docstring_style": "numpy",
            "drains": {"review": {"max_commits": 1}},
        }
    )
    assert settings == Settings()
    for name in ("budget.daily_usd", "docstring_style", "drains.review.max_commits"):
        assert f"unknown setting `{name}` ignored" in problems, problems
    settings, problems, _ = resolve_settings({"idle": {"delay_ms": 9_000}})
    assert settings == Settings() and any("unknown setting `idle.delay_ms`" in p for p in problems)


# -- the typed drains table --------------------------------------------------------------------


def test_the_drains_table_defaults() -> None:
    drains = Settings().drains
    assert drains == DrainsSettings()
    assert drains.concurrency is None and drains.streams == DEFAULT_CONCURRENCY == 2
    assert all(drains.is_enabled(name) for name in BUILTIN_DRAINS)
    assert drains.is_enabled("a-custom-drain")
    assert drains.review == ReviewSettings(True, 10, 24_000, 30.0)
    assert drains.custom == CustomDrains()


@pytest.mark.parametrize(
    ("table", "name", "expected"),
    [
        # concurrency: 1 to 16; a bad value counts as 2, set (as before: the local backend's
        # "one at a time when not set" does not apply).
        ({"concurrency": 0}, "drains.concurrency", ("concurrency", 2)),
        ({"concurrency": 17}, "drains.concurrency", ("concurrency", 2)),
        ({"concurrency": "4"}, "drains.concurrency", ("concurrency", 2)),
        ({"concurrency": 2.5}, "drains.concurrency", ("concurrency", 2)),
        ({"concurrency": True}, "drains.concurrency", ("concurrency", 2)),
        # the review's limits: outside their range, the default.
        ({"review": {"maxCommits": 0}}, "drains.review.maxCommits", ("review.max_commits", 10)),
        ({"review": {"maxCommits": 101}}, "drains.review.maxCommits", ("review.max_commits", 10)),
        ({"review": {"maxCommits": 2.5}}, "drains.review.maxCommits", ("review.max_commits", 10)),
        ({"review": {"maxBytes": 999}}, "drains.review.maxBytes", ("review.max_bytes", 24_000)),
        ({"review": {"maxBytes": "big"}}, "drains.review.maxBytes", ("review.max_bytes", 24_000)),
        (
            {"review": {"pollSeconds": 0.1}},
            "drains.review.pollSeconds",
            ("review.poll_seconds", 30.0),
        ),
        (
            {"review": {"pollSeconds": False}},
            "drains.review.pollSeconds",
            ("review.poll_seconds", 30.0),
        ),
        # a switch is a table with a boolean.
        ({"summaries": {"enabled": "no"}}, "drains.summaries.enabled", ("summaries.enabled", True)),
        ({"summaries": False}, "drains.summaries", ("summaries.enabled", True)),
        ({"nonsense": {"enabled": False}}, "drains.nonsense", ("summaries.enabled", True)),
    ],
)
def test_a_bad_drains_value_is_named_and_falls_back(
    table: dict[str, Any], name: str, expected: tuple[str, Any]
) -> None:
    settings, problems = build_settings({"drains": table})
    assert any(f"`{name}`" in p for p in problems), problems
    attribute, value = expected
    got: Any = settings.drains
    for part in attribute.split("."):
        got = getattr(got, part)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"concurrency": 1}, (1, 1)),
        ({"concurrency": 16}, (16, 16)),
        ({"concurrency": None}, (None, 2)),  # null: not set (settings_to_json writes it)
        ({}, (None, 2)),
    ],
)
def test_concurrency_in_range_is_taken_and_unset_is_known(
    table: dict[str, Any], expected: tuple[int | None, int]
) -> None:
    settings, problems = build_settings({"drains": table})
    assert problems == []
    assert (settings.drains.concurrency, settings.drains.streams) == expected


def test_good_drains_values_are_typed() -> None:
    settings, problems = build_settings(
        {
            "drains": {
                "simplify": {"enabled": False},
                "review": {"enabled": False, "maxCommits": 3, "maxBytes": 1_000, "pollSeconds": 5},
            }
        }
    )
    assert problems == []
    drains = settings.drains
    assert drains.simplify == DrainSwitch(enabled=False) and not drains.is_enabled("simplify")
    assert drains.is_enabled("docstrings") and not drains.is_enabled("review")
    assert drains.review == ReviewSettings(False, 3, 1_000, 5.0)
    assert isinstance(drains.review.poll_seconds, float)


def test_custom_drains_are_parsed_once_with_their_problems_kept() -> None:
    good = {"name": "notes", "prompt": "Say one thing.", "scope": "file"}
    bad = {"name": "Bad Name", "prompt": "x"}
    settings, problems = build_settings({"drains": {"custom": [good, bad]}})
    assert problems == []  # a custom drain's problems are reported with the drains
    custom = settings.drains.custom
    assert [d.name for d in custom.valid] == ["notes"] and custom.written == (good, bad)
    assert len(custom.problems) == 1 and "drains.custom[1].name" in custom.problems[0]
    # One table is one drain; anything else is a problem and no drain.
    one, _ = build_settings({"drains": {"custom": good}})
    assert [d.name for d in one.drains.custom.valid] == ["notes"]
    assert one.drains.custom.written == (good,)
    none, _ = build_settings({"drains": {"custom": "notes"}})
    assert none.drains.custom.valid == () and none.drains.custom.written == ()
    assert "must be a list of drains" in none.drains.custom.problems[0]


def test_a_workspace_s_custom_drains_are_parsed_with_the_user_s() -> None:
    """Yours and the workspace's in one list, parsed together (a workspace's drain may run
    after one of yours; the cap counts both)."""
    mine = {"drains": {"custom": [{"name": "first", "prompt": "One.", "scope": "file"}]}}
    theirs = {
        "drains": {
            "custom": [{"name": "second", "prompt": "Two.", "scope": "file", "after": "first"}]
        }
    }
    settings, problems, _ = resolve_settings(theirs, mine)
    assert problems == []
    assert [d.name for d in settings.drains.custom.valid] == ["first", "second"]
    assert len(settings.drains.custom.written) == 2


def test_a_local_model_server_runs_one_drain_at_a_time_unless_concurrency_is_set() -> None:
    from drain_ls.engine.choices import choose_backend
    from drain_ls.engine.engine import DrainEngine

    def concurrency_for(drains: dict[str, Any]) -> int:
        settings, _ = build_settings(
            {"llm": {"enabled": True, "backend": "openai", "model": "m"}, "drains": drains}
        )
        choice = choose_backend(settings, {})
        assert choice.local
        engine = DrainEngine(SimpleNamespace())  # type: ignore[arg-type]
        engine.settings = settings
        scheduler = SimpleNamespace(concurrency=settings.drains.streams)
        engine._serve_openai(scheduler, choice)  # type: ignore[arg-type]
        return int(scheduler.concurrency)

    assert concurrency_for({}) == 1
    assert concurrency_for({"concurrency": 3}) == 3
    assert concurrency_for({"concurrency": 2}) == 2
    assert concurrency_for({"concurrency": 99}) == 2  # set, if badly: as before


# -- the reference ------------------------------------------------------------------------------


def test_the_reference_lists_the_camel_case_names() -> None:
    page = render()
    headings = set(re.findall(r"^### `([^`]+)`", page, re.M))
    for name, _, _ in leaves():
        assert name in headings, name
        assert f"`drainLs.{name}`" in page, name
    assert not [h for h in headings if "_" in h], "a snake_case name in the reference"
    for toml in ("`max-tokens-per-drain`", "`max-commits`", "`api-key-env`", "`delay-ms`"):
        assert toml in page, toml
