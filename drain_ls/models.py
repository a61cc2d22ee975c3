"""The model catalogue: every model drain-ls can send to, from one data file.

``drain_ls/models.toml`` holds, for each model id the Anthropic SDK lists, its prices (base,
cache, batch, long context), context window, maximum output, minimum cacheable prompt,
thinking behaviour, and legacy and retirement dates, with the page or SDK file each figure
comes from. Updating the catalogue is that file and ``tests/test_model_catalogue.py``.

What drain-ls does with it:

- Reservations price a request from it (``budget.price_of``); a model it does not price is
  refused unless the user's ``llm.prices`` gives the price.
- A model past its retirement date stops the drains with a message naming it.
- ``thinking_params`` keeps a short answer inside its ``max_tokens`` on the models that
  think by default.
- ``min_cacheable`` decides whether a request marks ``cache_control`` at all.
- The ``claude-code`` budget source reads a session's window from it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from drain_ls.budget import Price
from drain_ls.default_model import DEFAULT_MODEL as DEFAULT_MODEL

# Tokens a drain's answer may add to ``max_tokens`` on a model whose thinking cannot be
# turned off (it thinks at ``effort: low``): enough for a short answer after a little
# thinking. The reservation covers it.
THINKING_ALLOWANCE = 1024


@dataclass(frozen=True, slots=True)
class Model:
    """One model of the catalogue."""

    id: str
    name: str
    price: Price | None  # None: the catalogue has no price (the user must give one)
    context_window: int
    max_output: int
    min_cacheable: int
    thinking_default: str  # what the model does when ``thinking`` is omitted: off | adaptive
    thinking_types: tuple[str, ...]  # the ``thinking.type`` values it accepts
    effort: tuple[str, ...]  # the ``output_config.effort`` levels it accepts
    tokens_per_text: float = 1.0
    status: str = "active"  # active | legacy | deprecated | retired
    deprecated_on: date | None = None
    retires_on: date | None = None
    aliases: tuple[str, ...] = ()

    def retired(self, today: date | None = None) -> bool:
        """The API no longer serves it (its retirement date has come)."""
        today = today or datetime.now(UTC).date()
        return self.status == "retired" or (
            self.retires_on is not None and self.retires_on <= today
        )

    def thinking_params(self) -> dict[str, Any]:
        """What a drain request sends so that thinking does not eat its answer: thinking
        turned off where the model accepts that, else the lowest effort it accepts (and
        ``thinking_allowance`` more ``max_tokens``); nothing for a model that does not think
        unless asked."""
        if self.thinking_default == "off":
            return {}
        if "disabled" in self.thinking_types:
            return {"thinking": {"type": "disabled"}}
        if "between_tools" in self.thinking_types:
            # Thinking off but for notes between tool calls (the thinking page: the lowest
            # setting of a model that cannot disable it); a drain calls no tools.
            return {"thinking": {"type": "between_tools"}}
        for level in ("low", "medium"):
            if level in self.effort:
                return {"output_config": {"effort": level}}
        return {}

    @property
    def thinking_allowance(self) -> int:
        """Extra ``max_tokens`` a request needs for the thinking it cannot turn off."""
        if self.thinking_default == "off" or not self.thinking_params().get("output_config"):
            return 0
        return THINKING_ALLOWANCE


def _date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _price(entry: dict[str, Any]) -> Price | None:
    if entry.get("unpriced") or "input" not in entry or "output" not in entry:
        return None
    base_in, base_out = float(entry["input"]), float(entry["output"])
    batch_in = entry.get("batch_input")
    factor = float(batch_in) / base_in if batch_in is not None and base_in > 0 else 0.5
    return Price(
        base_in,
        base_out,
        write_5m=_float(entry.get("cache_write_5m")),
        write_1h=_float(entry.get("cache_write_1h")),
        read=_float(entry.get("cache_read")),
        batch_factor=factor,
        long_above=int(entry["long_context_above"]) if "long_context_above" in entry else None,
        long_input=_float(entry.get("long_input")),
        long_output=_float(entry.get("long_output")),
    )


def _float(value: Any) -> float | None:
    return float(value) if value is not None else None


def _model(entry: dict[str, Any]) -> Model:
    return Model(
        id=str(entry["id"]),
        name=str(entry.get("name", entry["id"])),
        price=_price(entry),
        context_window=int(entry["context_window"]),
        max_output=int(entry["max_output"]),
        min_cacheable=int(entry["min_cacheable"]),
        thinking_default=str(entry.get("thinking_default", "off")),
        thinking_types=tuple(entry.get("thinking_types", ())),
        effort=tuple(entry.get("effort", ())),
        tokens_per_text=float(entry.get("tokens_per_text", 1.0)),
        status=str(entry.get("status", "active")),
        deprecated_on=_date(entry.get("deprecated_on")),
        retires_on=_date(entry.get("retires_on")),
        aliases=tuple(entry.get("aliases", ())),
    )


def load(text: str | None = None) -> dict[str, Model]:
    """id (and alias) -> model, from ``text`` or the packaged ``models.toml``."""
    import tomllib  # here: reading a default setting needs no catalogue (``DEFAULT_MODEL``)
    from importlib import resources

    if text is None:
        text = resources.files("drain_ls").joinpath("models.toml").read_text("utf-8")
    data = tomllib.loads(text)
    table: dict[str, Model] = {}
    for entry in data.get("model", []):
        model = _model(entry)
        for name in (model.id, *model.aliases):
            table[name] = model
    return table


@functools.cache
def catalogue() -> dict[str, Model]:
    """The packaged catalogue (read once)."""
    return load()


def lookup(model_id: str) -> Model | None:
    """The catalogue's entry for ``model_id`` (an id or an alias), if any."""
    return catalogue().get(model_id)


# The default model, ``current_haiku()`` of the packaged catalogue, written out (in a module
# of its own) so that reading a default setting neither parses the catalogue (27 ms of every
# ``drain-ls check`` run, whose settings hold a model it never uses) nor imports this module.


def default_model() -> str:
    """The default ``llm.model``: the catalogue's current Haiku (``current_haiku``)."""
    return DEFAULT_MODEL


def current_haiku() -> str:
    """The current Haiku: the cheapest priced, active Haiku with no retirement date."""
    candidates = [
        m
        for m in set(catalogue().values())
        if m.id.startswith("claude-haiku-")
        and m.price is not None
        and m.status == "active"
        and m.retires_on is None
    ]
    best = min(candidates, key=lambda m: (m.price.input if m.price else 0.0, len(m.id), m.id))
    return best.id


def retired_reason(model_id: str, today: date | None = None) -> str | None:
    """Why drains cannot run on ``model_id`` because it is retired (None: it is not)."""
    model = lookup(model_id)
    if model is None or not model.retired(today):
        return None
    when = f" on {model.retires_on.isoformat()}" if model.retires_on else ""
    return (
        f"model {model_id!r} was retired{when}: the API no longer serves it; "
        f"set llm.model to a current model such as {default_model()!r}"
    )


def retiring_note(model_id: str, today: date | None = None) -> str | None:
    """A warning for a model that still works but has a retirement date (None otherwise)."""
    model = lookup(model_id)
    if model is None or model.retires_on is None or model.retired(today):
        return None
    return (
        f"model {model_id!r} is deprecated and retires on {model.retires_on.isoformat()}: "
        f"drains stop then; a current model is {default_model()!r}"
    )
