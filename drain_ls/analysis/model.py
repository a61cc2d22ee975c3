"""The values every analysis produces: findings, edits and fixes, all in byte offsets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace ``source[start:end]`` (byte offsets) with ``text``."""

    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Fix:
    """A set of non-overlapping edits that together repair one finding."""

    message: str
    edits: tuple[Edit, ...]
    applicability: str = "safe"
    # Fixes with the same key must not be applied in the same pass (two statement deletions in
    # one block could each leave the other's ``pass`` out and empty the block).
    isolation: int | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """One diagnostic: a code, a message and the byte range it points at.

    A ``# noqa`` comment silences it on the line of any byte offset in ``noqa_offsets``.
    """

    code: str
    message: str
    start: int
    end: int
    noqa_offsets: tuple[int, ...] = ()
    fix: Fix | None = None
    # Extra structured data for consumers (the LSP server, fixers): never shown as text.
    data: dict[str, object] = field(default_factory=dict, compare=False, hash=False)
    # A fix too costly to compute for every finding, made when someone asks for it.
    fix_factory: Callable[[], Fix | None] | None = field(default=None, compare=False, hash=False)

    def resolved_fix(self) -> Fix | None:
        """The fix, computing it now if it is made on demand."""
        if self.fix is None and self.fix_factory is not None:
            return self.fix_factory()
        return self.fix


RULE_URLS: dict[str, str] = {
    "F401": "https://docs.astral.sh/ruff/rules/unused-import/",
    "D100": "https://docs.astral.sh/ruff/rules/undocumented-public-module/",
    "D101": "https://docs.astral.sh/ruff/rules/undocumented-public-class/",
    "D102": "https://docs.astral.sh/ruff/rules/undocumented-public-method/",
    "D103": "https://docs.astral.sh/ruff/rules/undocumented-public-function/",
    "D104": "https://docs.astral.sh/ruff/rules/undocumented-public-package/",
    "D105": "https://docs.astral.sh/ruff/rules/undocumented-magic-method/",
    "D106": "https://docs.astral.sh/ruff/rules/undocumented-public-nested-class/",
    "D107": "https://docs.astral.sh/ruff/rules/undocumented-public-init/",
}

ALL_CODES: tuple[str, ...] = ("E999", "F401", *sorted(c for c in RULE_URLS if c.startswith("D")))
