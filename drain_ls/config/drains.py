"""The ``drains`` table, typed: a switch per built-in drain (``BUILTIN_DRAINS``), the commit
review's limits, how many drains may stream at once, and the custom drains, each parsed and
validated once, when the settings are built (``config.layers``). A value of the wrong type or
out of range is reported and replaced by its default, as for every other setting. What a
workspace may do with each key is ``config.trust.narrow_drains``'s to say (the ``trust`` in
the metadata below is what the reference shows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drain_ls.config.fields import _doc, _num, _trust
from drain_ls.engine.custom import BUILTIN_DRAINS, CustomDrain, parse_custom_drains

DEFAULT_CONCURRENCY = 2


@dataclass(frozen=True, slots=True)
class DrainSwitch:
    """``drains.<name>`` of a built-in drain."""

    enabled: bool = field(
        default=True,
        metadata=_trust("off", "Whether the drain runs when drains are on (on by default)."),
    )


@dataclass(frozen=True, slots=True)
class ReviewSettings:
    """``drains.review``: whether and how much to review (``engine.review``)."""

    enabled: bool = field(
        default=True,
        metadata=_trust("off", "Whether the commit review runs when drains are on."),
    )
    max_commits: int = field(
        default=10,
        metadata=_num(1, 100, "lower", "At most this many (non-merge) commits per review."),
    )
    max_bytes: int = field(
        default=24_000,
        metadata=_num(
            1_000,
            200_000,
            "lower",
            "At most this many bytes of diff per review (the newest commits first).",
        ),
    )
    poll_seconds: float = field(
        default=30.0,
        metadata=_num(
            0.5,
            86_400,
            "raise",
            "How often the server looks for new commits, in seconds (the review itself waits "
            "for idle time).",
        ),
    )


@dataclass(frozen=True, slots=True)
class CustomDrains:
    """``drains.custom``: the entries as written (the user's, then a workspace's), the valid
    drains parsed from them, in dependency order, and the problems found (each names the
    field it is about; the server and the commands report them)."""

    written: tuple[Any, ...] = ()
    valid: tuple[CustomDrain, ...] = ()
    problems: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: Any) -> CustomDrains:
        """The custom drains of a ``drains.custom`` value (a list of tables, or one table)."""
        valid, problems = parse_custom_drains(raw)
        written = [raw] if isinstance(raw, dict) else raw if isinstance(raw, list) else []
        return cls(tuple(written), tuple(valid), tuple(problems))


@dataclass(frozen=True, slots=True)
class DrainsSettings:
    """Per-drain switches, the review's limits, concurrency and custom drains."""

    docstrings: DrainSwitch = field(
        default_factory=DrainSwitch,
        metadata=_doc(
            "The `docstrings` drain: a generated docstring for each definition with a D1xx "
            'finding, offered as the code action "Insert generated docstring".'
        ),
    )
    summaries: DrainSwitch = field(
        default_factory=DrainSwitch,
        metadata=_doc(
            "The `summaries` drain: two sentences about each public function and class, "
            "shown in hover."
        ),
    )
    simplify: DrainSwitch = field(
        default_factory=DrainSwitch,
        metadata=_doc(
            "The `simplify` drain: one suggestion for each function with cyclomatic "
            "complexity above 10, as an Information diagnostic."
        ),
    )
    review: ReviewSettings = field(
        default_factory=ReviewSettings,
        metadata=_doc(
            "The commit review: the commits made since the last review, as a report entry "
            "and Information diagnostics on the lines it points at."
        ),
    )
    # None: not set, so DEFAULT_CONCURRENCY, and one at a time for a local model server
    # (``engine.engine``). An invalid value counts as DEFAULT_CONCURRENCY, set (``fallback``).
    concurrency: int | None = field(
        default=None,
        metadata={
            "fallback": DEFAULT_CONCURRENCY,
            **_num(1, 16, "lower", "How many drains may stream at once."),
        },
    )
    custom: CustomDrains = field(
        default_factory=CustomDrains,
        metadata=_doc(
            "Custom drains: `name`, `prompt`, `scope`, `select`, `max-tokens`, `output`, "
            "`severity`, `after` (camelCase in the editor: `maxTokens`; see "
            "[custom drains](drains/custom.md)). A bad drain is skipped with a warning that "
            "names the field."
        ),
    )

    @property
    def streams(self) -> int:
        """How many drains may stream at once: ``concurrency``, else the default."""
        return DEFAULT_CONCURRENCY if self.concurrency is None else self.concurrency

    def is_enabled(self, name: str) -> bool:
        """Whether the drain ``name`` is on: a built-in drain's switch (a custom drain that
        is off is left out of ``custom.valid``)."""
        switch: DrainSwitch | ReviewSettings | None = (
            getattr(self, name) if name in BUILTIN_DRAINS else None
        )
        return switch is None or switch.enabled
