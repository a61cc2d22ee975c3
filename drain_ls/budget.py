"""The budget model (docs/budget.md): prices, caps, and the check every reservation must pass.

Pure: no I/O, no SDK. The ledger persists spend and calls ``refusal`` inside its transaction,
so that "settled + reserved never exceeds any cap" holds across processes.

- Session limit ``L`` and primary use ``U``; drain budget ``max(0, L - U - margin)`` with
  ``margin = safetyMargin * L``; no drain starts below ``minDrainTokens``.
- Tiers: 1 (the workspace's custom drains) 70%, 2 (universal built-in drains) 20%, the
  shared pool 10%. A tier's unused share flows down (tier 1 to tier 2), never up.
- Hard caps on top: per drain run, per day in tokens and in USD.
- A request reserves its worst case before it is sent: input estimate plus ``max_tokens``,
  priced as if every input token were written to the cache (the most expensive input).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

MILLION = 1_000_000

# Tier shares of the drain budget, in percent (integers: no rounding surprises).
TIER_SHARES: dict[int, int] = {1: 70, 2: 20, 3: 10}
POOL_TIER = 3


def tier_share(budget: int, tier: int) -> int:
    """A tier's share of a drain budget, in tokens."""
    return budget * TIER_SHARES[tier] // 100


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens. The cache and batch prices default to the documented ratios
    (pricing page: a 5-minute cache write 1.25x input, a 1-hour write 2x, a read 0.1x; the
    Message Batches API half of everything); the model catalogue gives them explicitly.
    Above ``long_above`` input tokens a request is billed at the long-context prices."""

    input: float
    output: float
    write_5m: float | None = None
    write_1h: float | None = None
    read: float | None = None
    batch_factor: float = 0.5
    long_above: int | None = None
    long_input: float | None = None
    long_output: float | None = None

    @property
    def cache_write(self) -> float:
        """A 5-minute cache write."""
        return self.write_5m if self.write_5m is not None else self.input * 1.25

    @property
    def cache_write_1h(self) -> float:
        """A 1-hour cache write (the dearest input token)."""
        return self.write_1h if self.write_1h is not None else self.input * 2.0

    @property
    def cache_read(self) -> float:
        """A cache read."""
        return self.read if self.read is not None else self.input * 0.1

    def for_input(self, input_tokens: int) -> Price:
        """The price that applies to a request of ``input_tokens`` (cache included): the
        long-context one above its threshold (every input-side price scaled alike)."""
        if self.long_above is None or input_tokens <= self.long_above:
            return self
        scale = (self.long_input or self.input) / self.input if self.input > 0 else 1.0
        return Price(
            self.long_input if self.long_input is not None else self.input,
            self.long_output if self.long_output is not None else self.output,
            self.cache_write * scale,
            self.cache_write_1h * scale,
            self.cache_read * scale,
            self.batch_factor,
        )

    def values(self) -> tuple[float, ...]:
        """Every price it holds (what a check of finiteness looks at)."""
        return (
            self.input,
            self.output,
            self.cache_write,
            self.cache_write_1h,
            self.cache_read,
            self.batch_factor,
            *(v for v in (self.long_input, self.long_output) if v is not None),
        )


OFFLINE = Price(0.0, 0.0)


def price_of(model: str, overrides: dict[str, Price] | None = None) -> Price | None:
    """The price of ``model``: the user's ``llm.prices`` entry, else the model catalogue's
    (``drain_ls/models.toml``); None for a model neither prices. Such a model is never run:
    a guess could let a dollar cap be passed (the trust model: a price only ever comes from
    the catalogue or the user)."""
    if model == "offline":
        return OFFLINE
    from drain_ls.models import lookup

    found = lookup(model)
    listed = found.price if found is not None else None
    if overrides and model in overrides:
        given = overrides[model]
        if listed is None:
            return given
        # The user's base prices (cache prices follow them), the catalogue's long-context
        # and batch terms: a price given for short prompts never undercuts long ones.
        return dataclasses.replace(
            listed, input=given.input, output=given.output, write_5m=None, write_1h=None, read=None
        )
    return listed


def unknown_model(model: str) -> str:
    """Why drains do not run on ``model``: the reason shown to the user."""
    return (
        f"model {model!r} has no known price: set llm.prices.{model} = "
        "{input = USD, output = USD} per million tokens in your own settings"
    )


def price_overrides(prices: dict[str, Any]) -> dict[str, Price]:
    """``llm.prices`` (validated by ``config.check_prices``) as a price table."""
    table = {}
    for model, entry in prices.items():
        try:
            price = Price(float(entry["input"]), float(entry["output"]))
        except (KeyError, TypeError, ValueError):
            continue
        if all(math.isfinite(v) and v >= 0 for v in (price.input, price.output)):
            table[model] = price
    return table


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one request, as the API bills them."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def total(self) -> int:
        """Every token billed."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )


def cost_usd(usage: Usage, price: Price, batch: bool = False) -> float:
    """What a request costs (the Message Batches API bills half)."""
    price = price.for_input(usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens)
    cost = (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_read_tokens * price.cache_read
        + usage.cache_write_tokens * price.cache_write
    ) / MILLION
    return cost * price.batch_factor if batch else cost


def worst_case(input_estimate: int, max_tokens: int, price: Price) -> tuple[int, float]:
    """Tokens and USD a request can cost at most: its reservation."""
    tokens = input_estimate + max_tokens
    price = price.for_input(input_estimate)
    usd = (input_estimate * price.cache_write_1h + max_tokens * price.output) / MILLION
    return tokens, usd


def estimate_input_tokens(*texts: str, messages: int = 1) -> int:
    """An upper bound on the input tokens of a request: a token covers at least one byte of
    UTF-8 text, plus a few tokens of framing per message."""
    return sum(len(t.encode("utf-8")) for t in texts) + 16 * messages + 16


@dataclass(frozen=True, slots=True)
class Limits:
    """The caps in force (from the ``budget.*`` settings)."""

    session_tokens: int = 200_000
    safety_margin: float = 0.10
    min_drain_tokens: int = 10_000
    max_tokens_per_drain: int = 5_000
    daily_tokens: int = 500_000
    daily_usd: float = 1.0
    # A headless ``drain-ls run``: no session tiers (the user asked for this work), and
    # ``--budget`` caps what the run reserves in all.
    tiered: bool = True
    run_tokens: int | None = None

    def drain_budget(self, primary_use: int = 0) -> int:
        """``max(0, L - U - margin)``."""
        margin = int(self.session_tokens * self.safety_margin)
        return max(0, self.session_tokens - primary_use - margin)

    def tier_allowance(self, tier: int, primary_use: int, used: dict[int, int]) -> int:
        """Tokens tier ``tier`` may still reserve this session.

        Shares flow down: tier 2 may use what tier 1 leaves, never the reverse. So for every
        tier ``k`` from ``tier`` down, what tiers 1..k use stays within their shares together.
        The pool tier has only its own share (the ledger feeds it across sessions).
        """
        budget = self.drain_budget(primary_use)
        if tier == POOL_TIER:
            return max(0, tier_share(budget, POOL_TIER) - used.get(POOL_TIER, 0))
        allowance: int | None = None
        share = spent = 0
        for k in (1, 2):
            share += tier_share(budget, k)
            spent += used.get(k, 0)
            if k >= tier:
                left = share - spent
                allowance = left if allowance is None else min(allowance, left)
        return max(0, allowance or 0)


@dataclass(frozen=True, slots=True)
class Spend:
    """What is settled or reserved already: per tier this session, and today."""

    session_by_tier: dict[int, int] = field(default_factory=dict)
    daily_tokens: int = 0
    daily_usd: float = 0.0


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a reservation cannot be made: the cap it would pass."""

    cap: str
    needed: float
    left: float

    def __str__(self) -> str:
        """``cap: needs N, M left``."""
        return f"{self.cap}: needs {self.needed:g}, {max(0.0, self.left):g} left"


def refusal(
    limits: Limits,
    spend: Spend,
    tier: int,
    tokens: int,
    usd: float,
    primary_use: int = 0,
    pool_left: int | None = None,
) -> Refusal | None:
    """None when a reservation of ``tokens`` and ``usd`` fits under every cap, else the
    first cap it would pass. A tier-3 (shared pool) reservation is limited by ``pool_left``,
    what ended sessions donated today and nobody drew yet."""
    if limits.tiered and limits.drain_budget(primary_use) < limits.min_drain_tokens:
        return Refusal(
            "budget.minDrainTokens", limits.min_drain_tokens, limits.drain_budget(primary_use)
        )
    if tokens > limits.max_tokens_per_drain:
        return Refusal("budget.maxTokensPerDrain", tokens, limits.max_tokens_per_drain)
    if limits.run_tokens is not None:
        used = sum(spend.session_by_tier.values())
        if used + tokens > limits.run_tokens:
            return Refusal("--budget", tokens, limits.run_tokens - used)
    if tier == POOL_TIER:
        if tokens > (pool_left or 0):
            return Refusal("shared pool", tokens, pool_left or 0)
    elif limits.tiered:
        allowance = limits.tier_allowance(tier, primary_use, spend.session_by_tier)
        if tokens > allowance:
            return Refusal(f"session budget (tier {tier})", tokens, allowance)
    if spend.daily_tokens + tokens > limits.daily_tokens:
        return Refusal("budget.dailyTokens", tokens, limits.daily_tokens - spend.daily_tokens)
    if spend.daily_usd + usd > limits.daily_usd + 1e-12:
        return Refusal("budget.dailyUsd", usd, limits.daily_usd - spend.daily_usd)
    return None
