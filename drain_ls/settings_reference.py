"""The configuration reference, as Markdown, rendered from the settings definitions.

Every field of ``drain_ls.config.Settings`` (and of its nested sections) carries its
description (``doc``), what a workspace may do with it (``trust``) and, for numbers, its range
(``min``, ``max``) in its ``metadata``, the ``drains`` table's (``config.drains``) too, which
the reference shows in a part of its own. Every name is the one users write (the fields'
camelCase aliases: ``config.fields.alias``). The documentation build
(``docs/hooks.py``) puts ``render()`` into ``docs/configuration.md``, so the reference cannot
drift from the code: ``tests/test_settings_reference.py`` fails when a field has no
description.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from drain_ls.config import DrainsSettings, ReviewSettings, Settings, alias, fields_by_alias

# What a repository's ``[tool.drain-ls]`` may do with a setting, in words.
TRUST_WORDS: dict[str, str] = {
    "free": "may set it; your own value, when you set one, wins",
    "lower": "may only lower it (within its range), never raise it",
    "raise": "may only raise it (within its range), never lower it",
    "off": "may only turn it off, never on",
    "on": "may only turn it on, never off",
    "more": "may only add patterns (never a `!` negation that takes files out)",
    "offline": 'may only set it to `"offline"`',
    "user": "cannot set it: it is yours alone (a value there is ignored, with a warning)",
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One setting as the reference shows it."""

    name: str  # dotted camelCase, as the editor uses it: ``budget.dailyUsd``
    kind: str  # in words: "integer", "one of ..."
    default: Any  # the value, as Python has it
    doc: str
    trust: str  # a key of ``TRUST_WORDS``, or a sentence of its own
    minimum: float | None = None
    maximum: float | None = None

    @property
    def toml_name(self) -> str:
        """The kebab-case name in ``[tool.drain-ls]`` and the user config file."""
        return ".".join(camel_to_kebab(part) for part in self.name.split("."))

    @property
    def section(self) -> str:
        """The settings section (``budget``), or "" for a top-level setting."""
        return self.name.rpartition(".")[0].split(".")[0]


def camel_to_kebab(name: str) -> str:
    """``maxTokensPerDrain`` -> ``max-tokens-per-drain`` (``kebab_to_camel`` reversed)."""
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in name)


def _kind(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return "one of " + ", ".join(f"`{toml_value(a)}`" for a in typing.get_args(hint))
    if origin is tuple:
        return "list of strings"
    if origin is dict or hint is dict:
        return "table"
    return {bool: "boolean", int: "integer", float: "number", str: "string"}[hint]


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    assert f.default_factory is not dataclasses.MISSING, f.name
    return f.default_factory()


def _is_section(hint: Any) -> bool:
    # A nested settings class, but the ``drains`` table (its own part of the reference).
    return dataclasses.is_dataclass(hint) and hint is not DrainsSettings


def settings_fields(cls: type[Any] = Settings, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every field of the settings classes, sections included, as (dotted name as users
    write it, field); the ``drains`` table is one field (``drains_entries``)."""
    hints = typing.get_type_hints(cls)
    for name, f in fields_by_alias(cls).items():
        yield prefix + name, f
        if _is_section(hints[f.name]):
            yield from settings_fields(hints[f.name], f"{prefix}{name}.")


def sections() -> list[tuple[str, str]]:
    """The nested settings sections, in order, with their descriptions."""
    hints = typing.get_type_hints(Settings)
    return [
        (alias(f), f.metadata.get("doc", ""))
        for f in dataclasses.fields(Settings)
        if _is_section(hints[f.name])
    ]


def _field_entry(name: str, f: dataclasses.Field[Any], cls: type[Any]) -> Entry:
    return Entry(
        name=name,
        kind=_kind(typing.get_type_hints(cls)[f.name]),
        default=_default(f),
        doc=f.metadata.get("doc", ""),
        trust=f.metadata.get("trust", "free"),
        minimum=f.metadata.get("min"),
        maximum=f.metadata.get("max"),
    )


def dataclass_entries() -> list[Entry]:
    """The settings defined as dataclass fields (every leaf; the sections are headings)."""
    out: list[Entry] = []
    for cls, prefix in _classes():
        hints = typing.get_type_hints(cls)
        for name, f in fields_by_alias(cls).items():
            if dataclasses.is_dataclass(hints[f.name]):
                continue
            out.append(_field_entry(prefix + name, f, cls))
    return out


def _classes() -> list[tuple[type[Any], str]]:
    hints = typing.get_type_hints(Settings)
    nested = [
        (hints[f.name], f"{alias(f)}.")
        for f in dataclasses.fields(Settings)
        if _is_section(hints[f.name])
    ]
    return [(Settings, ""), *nested]


CONCURRENCY_RANGE: tuple[float, float] = (
    fields_by_alias(DrainsSettings)["concurrency"].metadata["min"],
    fields_by_alias(DrainsSettings)["concurrency"].metadata["max"],
)


def drains_entries() -> list[Entry]:
    """The keys of the ``drains`` table (``config.drains``): the switches, the review's
    limits and ``concurrency`` from their fields, ``custom`` as a list of tables."""
    from drain_ls.engine.custom import BUILTIN_DRAINS, MAX_CUSTOM_DRAINS

    drains, drain_fields = DrainsSettings(), fields_by_alias(DrainsSettings)
    out = []
    for name in BUILTIN_DRAINS:
        switch = getattr(drains, drain_fields[name].name)
        trust = fields_by_alias(type(switch))["enabled"].metadata["trust"]
        doc = drain_fields[name].metadata["doc"]
        out.append(Entry(f"drains.{name}.enabled", "boolean", switch.enabled, doc, trust))
    for key, f in fields_by_alias(ReviewSettings).items():
        if key != "enabled":
            out.append(_field_entry(f"drains.review.{key}", f, ReviewSettings))
    meta = drain_fields["concurrency"].metadata  # None, not set: ``streams`` in force
    low, high = CONCURRENCY_RANGE
    out.append(
        Entry(
            "drains.concurrency", "integer", drains.streams, meta["doc"], meta["trust"], low, high
        )
    )
    out.append(
        Entry(
            "drains.custom",
            "list of tables",
            [],
            drain_fields["custom"].metadata["doc"],
            "may declare its own custom drains, added to yours: they are named and counted in "
            "the consent question, which is asked again when they change; at most "
            f"{MAX_CUSTOM_DRAINS} custom drains in all",
        )
    )
    return out


def entries() -> list[Entry]:
    """Every setting, in the order of the reference."""
    return [*dataclass_entries(), *drains_entries()]


def toml_value(value: Any) -> str:
    """A default as it is written in TOML (and, but for tables, in JSON)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return json.dumps(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{}" if not value else json.dumps(value)
    raise TypeError(f"no TOML form for {value!r}")


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else str(value)


def _range(entry: Entry) -> str:
    if entry.minimum is None and entry.maximum is None:
        return ""
    if entry.maximum is None:
        return f"{_number(entry.minimum or 0)} or more"
    if entry.minimum is None:
        return f"at most {_number(entry.maximum)}"
    return f"{_number(entry.minimum)} to {_number(entry.maximum)}"


def _toml_place(entry: Entry) -> str:
    table, _, key = entry.toml_name.rpartition(".")
    name = f"`{entry.toml_name}`"
    if entry.kind == "list of tables":
        return (
            f"{name}: `[[tool.drain-ls.{table}.{key}]]`, and `[[{table}.{key}]]` in your user "
            "config file"
        )
    if not table:
        return f"{name}: in `[tool.drain-ls]`, and at the top level of your user config file"
    return (
        f"{name}: `{key}` in `[tool.drain-ls.{table}]`, and in `[{table}]` of your user config file"
    )


def _render_entry(entry: Entry) -> list[str]:
    kind = entry.kind + (f", {_range(entry)}" if _range(entry) else "")
    return [
        f"### `{entry.name}`",
        "",
        entry.doc,
        "",
        f"- **Default:** `{toml_value(entry.default)}`",
        f"- **Type:** {kind}",
        f"- **`[tool.drain-ls]`:** {_toml_place(entry)}",
        f"- **VS Code:** `drainLs.{entry.name}`",
        f"- **A repository** {TRUST_WORDS.get(entry.trust, entry.trust)}.",
        "",
    ]


def _summary(items: list[Entry]) -> list[str]:
    lines = ["| setting | default | a repository |", "|---|---|---|"]
    for entry in items:
        anchor = entry.name.replace(".", "").lower()
        lines.append(
            f"| [`{entry.name}`](#{anchor}) | `{toml_value(entry.default)}` | "
            f"{entry.trust if entry.trust in TRUST_WORDS else 'adds its own'} |"
        )
    return [*lines, ""]


def render() -> str:
    """The reference: a summary table, then every setting, section by section."""
    items = entries()
    lines = [
        "Every setting, its name in the editor (camelCase, dotted) and in `[tool.drain-ls]` "
        "and the user config file (kebab-case: `budget.daily-usd` is `daily-usd` in "
        "`[tool.drain-ls.budget]`), its type, default and range, and what a repository's "
        "`[tool.drain-ls]` may do with it ([Trust](privacy.md#trust-what-a-repository-may-set)).",
        "",
        "The last column of the summary, in words:",
        "",
    ]
    lines += [f"- `{key}`: a repository {words}." for key, words in TRUST_WORDS.items()]
    lines += ["", "## Summary", "", *_summary(items)]
    top = [e for e in items if not e.section]
    lines += ["## Static checks", ""]
    for entry in top:
        lines += _render_entry(entry)
    for section, doc in sections():
        lines += [f"## `{section}`", "", doc, ""]
        for entry in items:
            if entry.section == section and not entry.name.startswith("drains."):
                lines += _render_entry(entry)
    drains_doc = fields_by_alias(Settings)["drains"].metadata.get("doc", "")
    lines += ["## `drains`", "", drains_doc, ""]
    for entry in items:
        if entry.name.startswith("drains."):
            lines += _render_entry(entry)
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
