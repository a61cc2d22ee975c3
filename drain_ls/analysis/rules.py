"""The rules drain-ls checks: one table of codes, names (ruff's), pages and fixes.

Plain data, apart from ``drain_ls.analysis.model`` (whose dataclasses cost about a
millisecond each to make at import): the settings, the command line and a warm ``check``
run, which needs the codes and not the findings, import this module alone.
"""

from __future__ import annotations

from typing import NamedTuple


class Rule(NamedTuple):
    """A rule drain-ls checks: its code, its name (ruff's) and whether ``--fix`` and the
    editor's code actions can fix its findings."""

    code: str
    name: str
    fixable: bool

    @property
    def url(self) -> str | None:
        """ruff's page for the rule (a syntax error has none)."""
        return None if self.code == "E999" else f"https://docs.astral.sh/ruff/rules/{self.name}/"


# Every rule, in the order ruff lists them.
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
