"""The configuration reference (``drain_ls.settings_reference``) covers every setting."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

import pytest

from drain_ls.config import (
    ReviewSettings,
    Settings,
    Trust,
    alias,
    build_settings,
    fields_by_alias,
    kebab_to_camel,
)
from drain_ls.engine.custom import BUILTIN_DRAINS
from drain_ls.engine.review import ReviewOptions
from drain_ls.settings_reference import (
    CONCURRENCY_RANGE,
    TRUST_WORDS,
    camel_to_kebab,
    entries,
    render,
    settings_fields,
    toml_value,
)

ROOT = Path(__file__).resolve().parent.parent


def test_every_settings_field_has_a_description() -> None:
    missing = [
        name
        for name, f in settings_fields()
        if not isinstance(f.metadata.get("doc"), str) or len(f.metadata["doc"].strip()) < 10
    ]
    assert not missing, f"settings fields without a `doc` in their metadata: {missing}"


def test_every_trust_value_is_explained() -> None:
    assert set(typing.get_args(Trust)) == set(TRUST_WORDS)
    assert {f.metadata.get("trust", "free") for _, f in settings_fields()} <= set(TRUST_WORDS)


def _leaves(value: typing.Any, prefix: str = "") -> dict[str, typing.Any]:
    out: dict[str, typing.Any] = {}
    for f in dataclasses.fields(value):
        current = getattr(value, f.name)
        if f.name == "drains":
            continue
        if dataclasses.is_dataclass(current):
            out |= _leaves(current, f"{prefix}{alias(f)}.")
        else:
            out[f"{prefix}{alias(f)}"] = current
    return out


def concurrency(drains: dict[str, typing.Any]) -> int:
    """``drains.concurrency`` in force for a user's ``drains`` table."""
    return build_settings({"drains": drains})[0].drains.streams


def _expected() -> dict[str, typing.Any]:
    """Every setting and its default, read from the code (not from the reference)."""
    review = ReviewOptions()
    expected = _leaves(Settings())
    expected |= {f"drains.{name}.enabled": True for name in BUILTIN_DRAINS}
    expected |= {
        "drains.review.maxCommits": review.max_commits,
        "drains.review.maxBytes": review.max_bytes,
        "drains.review.pollSeconds": review.poll_seconds,
        "drains.concurrency": concurrency({}),
        "drains.custom": [],
    }
    return expected


@pytest.fixture(scope="module")
def page() -> str:
    return render()


def test_the_page_lists_every_setting_with_its_default(page: str) -> None:
    for name, default in _expected().items():
        section = re.search(rf"^### `{re.escape(name)}`\n(.*?)(?=^##)", page + "\n##", re.M | re.S)
        assert section, f"`{name}` has no section in the reference"
        body = section.group(1)
        assert f"- **Default:** `{toml_value(default)}`" in body, name
        assert f"`{camel_to_kebab(name.split('.')[-1])}`" in body or "[[" in body, name
        assert f"`drainLs.{name}`" in body, name
        assert "- **A repository** " in body, name
    listed = set(re.findall(r"^### `([^`]+)`", page, re.M))
    assert listed == set(_expected()), listed ^ set(_expected())


def test_the_kebab_names_are_the_ones_the_settings_read() -> None:
    for entry in entries():
        for camel, kebab in zip(entry.name.split("."), entry.toml_name.split("."), strict=True):
            assert kebab_to_camel(kebab) == camel, entry.name


def test_ranges_and_trust_are_those_of_the_code() -> None:
    by_name = {entry.name: entry for entry in entries()}
    for name, f in settings_fields():
        if name in by_name:
            entry = by_name[name]
            assert (entry.minimum, entry.maximum) == (f.metadata.get("min"), f.metadata.get("max"))
            assert entry.trust == f.metadata.get("trust", "free"), name
    for key, f in fields_by_alias(ReviewSettings).items():
        if key == "enabled":
            continue
        trust, low, high = f.metadata["trust"], f.metadata["min"], f.metadata["max"]
        entry = by_name[f"drains.review.{key}"]
        assert (entry.trust, entry.minimum, entry.maximum) == (trust, low, high)
    # ``drains.concurrency``'s range is the one ``concurrency`` accepts.
    low, high = CONCURRENCY_RANGE
    assert concurrency({"concurrency": low}) == low
    assert concurrency({"concurrency": high}) == high
    assert concurrency({"concurrency": high + 1}) == concurrency({})
    assert concurrency({"concurrency": low - 1}) == concurrency({})


def test_the_docs_page_carries_the_marker_the_build_replaces() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    hooks = (ROOT / "docs" / "hooks.py").read_text()
    for marker in ("<!-- settings-reference -->", "<!-- /settings-reference -->"):
        assert text.count(marker) == 1, marker
        assert marker in hooks, marker
