"""The values every analysis produces: findings, edits and fixes, all in byte offsets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# The table of rules, where it always was for the modules that read it here.
from drain_ls.analysis.rules import ALL_CODES as ALL_CODES
from drain_ls.analysis.rules import RULE_URLS as RULE_URLS
from drain_ls.analysis.rules import RULES as RULES
from drain_ls.analysis.rules import Rule as Rule


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
