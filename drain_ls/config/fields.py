"""What every settings field carries, in one place: its metadata (``doc``, ``trust``, and
``min``/``max`` for a number) and its *alias*, the name users write.

A field's Python name is snake_case (``max_tokens_per_drain``); its alias, the only name
read from and written to the outside (``initializationOptions``, ``workspace/configuration``,
the user config file and ``[tool.drain-ls]`` once camelized, ``settings_to_json``, the
configuration reference), is that name in camelCase (``maxTokensPerDrain``): ``alias`` derives
it, and a field's metadata may name another (``"alias"``) should one ever not follow the
rule. The loader (``config.layers``) reads raw keys through ``fields_by_alias``; a snake_case
key is no alias, so it is reported as an unknown setting, as before."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

# What a workspace's ``[tool.drain-ls]`` may do with a setting (see ``drain_ls.config``).
Trust = Literal["free", "lower", "raise", "off", "on", "more", "offline", "user"]


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


def snake_to_camel(name: str) -> str:
    """``max_tokens_per_drain`` -> ``maxTokensPerDrain``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def alias(f: dataclasses.Field[Any]) -> str:
    """The name users write for the field ``f``: its metadata's ``alias``, else its name in
    camelCase."""
    return str(f.metadata.get("alias") or snake_to_camel(f.name))


_BY_ALIAS: dict[type[Any], dict[str, dataclasses.Field[Any]]] = {}


def fields_by_alias(cls: type[Any]) -> dict[str, dataclasses.Field[Any]]:
    """The fields of the settings class ``cls``, by alias, in their order."""
    found = _BY_ALIAS.get(cls)
    if found is None:
        found = _BY_ALIAS[cls] = {alias(f): f for f in dataclasses.fields(cls)}
    return found
