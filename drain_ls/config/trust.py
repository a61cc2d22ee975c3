"""The trust model at work: the user's settings narrowed by a workspace's ``[tool.drain-ls]``
(``resolve_settings``), each field as its ``trust`` allows (lower a cap, turn a switch
off...), the ``drains`` table by its own rules (``narrow_drains``); what the workspace
brought (``WorkspaceTrust``: its custom drains, the settings it tried to widen), and what a
consent answer is remembered for."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import typing
from dataclasses import dataclass
from typing import Any

from drain_ls.config.drains import CustomDrains, DrainsSettings, DrainSwitch, ReviewSettings
from drain_ls.config.fields import fields_by_alias
from drain_ls.config.layers import _build, _check_field, _describe, _merge_user_layers, bound_layer
from drain_ls.config.settings import Settings
from drain_ls.config.user_file import user_config_path
from drain_ls.engine.custom import BUILTIN_DRAINS

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
    known = fields_by_alias(cls)
    changes: dict[str, Any] = {}
    for key, value in theirs.items():
        name = f"{prefix}{key}"
        if key not in known:
            problems.append(f"{source}: unknown setting `{name}` ignored")
            continue
        meta = known[key]
        hint, current = hints[meta.name], getattr(mine, meta.name)
        if hint is DrainsSettings:
            changes[meta.name] = narrow_drains(current, value, source, problems, ignored)
            continue
        if dataclasses.is_dataclass(hint):
            changes[meta.name] = _narrow(
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
        trust = meta.metadata.get("trust", "free")
        if trust == "user":
            converted = value
        else:
            ok, converted = _check_field(meta.name, value, hint, meta)
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
        changes[meta.name] = result
    return dataclasses.replace(mine, **changes) if changes else mine


def _number_in(value: Any, kind: type, low: float, high: float) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if kind is int and not isinstance(value, int):
        return False
    return math.isfinite(value) and low <= value <= high


def narrow_drains(
    mine: DrainsSettings, theirs: Any, source: str, problems: list[str], ignored: list[str]
) -> DrainsSettings:
    """The ``drains`` table narrowed by a workspace's: it may turn a built-in drain off,
    lower its limits and ``concurrency``, and declare custom drains of its own (named in the
    consent question); nothing else. A number outside its range is refused (the default
    would apply: a way to raise a cap by asking for less)."""
    if not isinstance(theirs, dict):
        problems.append(f"{source}: `drains` must be a table; ignored")
        return mine
    out = mine
    for key, value in theirs.items():
        name = f"drains.{key}"
        if key == "custom":
            extra = [value] if isinstance(value, dict) else value
            if not isinstance(extra, list):
                problems.append(f"{source}: `{name}` must be a list of drains; ignored")
                continue
            custom = CustomDrains.parse([*out.custom.written, *extra])
            out = dataclasses.replace(out, custom=custom)
        elif key == "concurrency":
            current = out.streams  # what is in force
            low, high = _range(fields_by_alias(DrainsSettings)[key])
            # Where the user set none, the default in force may be lower than ``streams``
            # says (a local model server runs one drain at a time): a workspace's value
            # equal to the default would count as set and lift that; only a lower one is
            # taken.
            lower = value < current or (mine.concurrency is not None and value == current)
            if _number_in(value, int, low, high) and lower:
                out = dataclasses.replace(out, concurrency=value)
            elif value != current:
                ignored.append(name)
                problems.append(_refusal(source, name, value, "lower"))
        elif key in BUILTIN_DRAINS and isinstance(value, dict):
            entry: DrainSwitch | ReviewSettings = getattr(out, key)
            numbers = fields_by_alias(type(entry))
            hints = typing.get_type_hints(type(entry))
            for sub, item in value.items():
                subname = f"{name}.{sub}"
                if sub == "enabled":
                    if item is False:
                        entry = dataclasses.replace(entry, enabled=False)
                    elif item is not entry.enabled:
                        ignored.append(subname)
                        problems.append(_refusal(source, subname, item, "off"))
                    continue
                meta = numbers.get(sub)
                if meta is None:
                    problems.append(f"{source}: unknown setting `{subname}` ignored")
                    continue
                trust = meta.metadata["trust"]
                in_force = getattr(entry, meta.name)
                valid = _number_in(item, hints[meta.name], *_range(meta))
                if valid and _narrower(trust, in_force, item, True) is not _REFUSED:
                    entry = dataclasses.replace(entry, **{meta.name: item})
                elif item != in_force:
                    ignored.append(subname)
                    problems.append(_refusal(source, subname, item, trust))
            changed: dict[str, Any] = {key: entry}
            out = dataclasses.replace(out, **changed)
        else:
            ignored.append(name)
            problems.append(_refusal(source, name, value, "user"))
    return out


def _range(meta: dataclasses.Field[Any]) -> tuple[float, float]:
    return meta.metadata["min"], meta.metadata["max"]


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
    # The names the question shows are those of the workspace's drains that will run: read
    # from the drains in force (the user's and the workspace's, parsed together: a
    # workspace drain may run ``after`` one of the user's, which its list alone does not
    # declare), never a raw string a workspace wrote to read like something else. A name
    # the user's list holds is the user's drain (the first of a name wins).
    mine_names = {
        entry.get("name") for entry in mine.drains.custom.written if isinstance(entry, dict)
    }
    names = tuple(
        drain.name for drain in settings.drains.custom.valid if drain.name not in mine_names
    )
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
