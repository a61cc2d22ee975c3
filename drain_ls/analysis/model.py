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


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule drain-ls checks: its code, its name (ruff's) and whether ``--fix`` and the
    editor's code actions can fix its findings."""

    code: str
    name: str
    fixable: bool

    @property
    def url(self) -> str | None:
        """ruff's page for the rule (a syntax error has none)."""
        return None if self.code == "E999" else f"https://docs.astral.sh/ruff/rules/{self.name}/"


# Every rule, in the order ruff lists them: the one table of codes, names, pages and fixes.
RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in (
        Rule("E999", "syntax-error", fixable=False),
        Rule("F401", "unused-import", fixable=True),
        Rule("D100", "undocumented-public-module", fixable=True),
        Rule("D101", "undocumented-public-class", fixable=True),
        Rule("D102", "undocumented-public-method", fixable=True),
        Rule("D103", "undocumented-public-function", fixable=True),
        Rule("D104", "undocumented-public-package", fixable=True),
        Rule("D105", "undocumented-magic-method", fixable=True),
        Rule("D106", "undocumented-public-nested-class", fixable=True),
        Rule("D107", "undocumented-public-init", fixable=True),
    )
}
RULE_URLS: dict[str, str] = {code: rule.url for code, rule in RULES.items() if rule.url}
ALL_CODES: tuple[str, ...] = tuple(RULES)
