"""Custom drains (tier 1): the drains a workspace declares for itself.

Declared in ``pyproject.toml``::

    [[tool.drain-ls.drains.custom]]
    name = "security-notes"
    prompt = "Point out one input-validation risk in this function, or say none."
    scope = "function"          # function, class, module, file, commits
    select = "public"           # all, public, missing-docstring, complexity>N
    max-tokens = 300
    output = "diagnostic"       # diagnostic, hover, report
    severity = "warning"        # for output = "diagnostic": error, warning, information, hint
    after = "summaries"         # optional: run after another drain and receive its results

or the same objects in the ``drains.custom`` setting (camelCase: ``maxTokens``). Each drain is
validated on its own: a bad one is reported with the field it got wrong and skipped; the
others run. ``after`` chains drains (composition): a drain receives the results of the
drain it runs after, for the same definition, or for every definition of the file when it
works on the whole module or file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class BuiltinDrain:
    """A drain drain-ls ships: its name (in settings, the ledger and ``drain/status``), the
    title the editor shows its answers under, and what it reads (a definition, or the
    commits since the last review)."""

    name: str
    title: str
    scope: str


# The one table of built-in drains (custom drains may not take their names).
BUILTIN_DRAINS: dict[str, BuiltinDrain] = {
    drain.name: drain
    for drain in (
        BuiltinDrain("docstrings", "Docstring", "definition"),
        BuiltinDrain("summaries", "Summary", "definition"),
        BuiltinDrain("simplify", "Simplify", "definition"),
        BuiltinDrain("review", "Review", "commits"),
    )
}


def drain_title(name: str) -> str:
    """How the editor titles a drain's answers: a built-in drain's title, else its name."""
    builtin = BUILTIN_DRAINS.get(name)
    return builtin.title if builtin is not None else name


SCOPES = ("function", "class", "module", "file", "commits")
OUTPUTS = ("diagnostic", "hover", "report")
SEVERITIES = ("error", "warning", "information", "hint")
DEFINITION_SCOPES = ("function", "class")
MAX_PROMPT_CHARS = 4_000
DEFAULT_MAX_TOKENS = 400
MAX_TOKENS_LIMIT = 8_192
# Custom drains in all (yours and a workspace's): more is not a workflow but an attack on
# the server's time (each one is a task per scope, on every version of a file).
MAX_CUSTOM_DRAINS = 32
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_COMPLEXITY = re.compile(r"^complexity\s*>\s*(\d+)$")
_KNOWN_FIELDS = {
    "name",
    "prompt",
    "scope",
    "select",
    "maxTokens",
    "output",
    "severity",
    "after",
    "enabled",
}


@dataclass(frozen=True, slots=True)
class CustomDrain:
    """One validated custom drain."""

    name: str
    prompt: str
    scope: str = "function"
    select: str = "all"
    max_tokens: int = DEFAULT_MAX_TOKENS
    output: str = "report"
    severity: str = "information"
    after: str | None = None

    @property
    def min_complexity(self) -> int | None:
        """N of ``select = "complexity>N"``."""
        match = _COMPLEXITY.match(self.select)
        return int(match.group(1)) if match else None

    def selects(self, *, public: bool, missing_docstring: bool, complexity: int) -> bool:
        """Whether a definition is one this drain works on."""
        if self.select == "all":
            return True
        if self.select == "public":
            return public
        if self.select == "missing-docstring":
            return missing_docstring
        threshold = self.min_complexity
        return threshold is not None and complexity > threshold


def _field(index: int, name: str, key: str) -> str:
    label = f"`{name}`" if name else f"#{index + 1}"
    return f"custom drain {label}: `drains.custom[{index}].{key}`"


def parse_custom_drains(raw: Any) -> tuple[list[CustomDrain], list[str]]:
    """The valid drains of the ``drains.custom`` list, in dependency order, and the problems.

    A drain with a problem is skipped (with a message naming the field); so is a drain that
    runs ``after`` a drain that does not exist, is skipped, or depends on it in a cycle.
    """
    if raw is None:
        return [], []
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        return [], ["setting `drains.custom` must be a list of drains; none is used"]
    problems: list[str] = []
    drains: dict[str, CustomDrain] = {}
    if len(raw) > MAX_CUSTOM_DRAINS:
        problems.append(
            f"setting `drains.custom` has {len(raw)} drains; only the first "
            f"{MAX_CUSTOM_DRAINS} are used"
        )
        raw = raw[:MAX_CUSTOM_DRAINS]
    for index, entry in enumerate(raw):
        drain = _parse_one(index, entry, problems)
        if drain is None:
            continue
        if drain.name in drains:
            problems.append(
                f"{_field(index, drain.name, 'name')}: the name is used by another custom "
                "drain; this one is skipped"
            )
            continue
        drains[drain.name] = drain
    return _ordered(drains, problems), problems


def _parse_one(index: int, entry: Any, problems: list[str]) -> CustomDrain | None:
    if not isinstance(entry, dict):
        problems.append(f"`drains.custom[{index}]` must be an object; it is skipped")
        return None
    name = entry.get("name")
    label = name if isinstance(name, str) else ""
    if entry.get("enabled", True) is False:
        return None

    def bad(key: str, expected: str) -> None:
        problems.append(
            f"{_field(index, label, key)} must be {expected}, got {entry.get(key)!r}; "
            "the drain is skipped"
        )

    for key in entry:
        if key not in _KNOWN_FIELDS:
            problems.append(f"{_field(index, label, key)}: unknown field ignored")
    if not isinstance(name, str) or not _NAME.match(name):
        bad("name", "a lowercase name (letters, digits, - and _, at most 40)")
        return None
    if name in BUILTIN_DRAINS:
        bad("name", f"a name other than the built-in drains ({', '.join(BUILTIN_DRAINS)})")
        return None
    prompt = entry.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip() or len(prompt) > MAX_PROMPT_CHARS:
        bad("prompt", f"a non-empty string of at most {MAX_PROMPT_CHARS} characters")
        return None
    scope = entry.get("scope", "function")
    if scope not in SCOPES:
        bad("scope", "one of " + ", ".join(SCOPES))
        return None
    select = entry.get("select", "all")
    if not isinstance(select, str):
        bad("select", 'one of "all", "public", "missing-docstring", "complexity>N"')
        return None
    select = select.strip().lower()
    if select not in ("all", "public", "missing-docstring") and not _COMPLEXITY.match(select):
        bad("select", 'one of "all", "public", "missing-docstring", "complexity>N"')
        return None
    if select != "all" and scope not in DEFINITION_SCOPES:
        bad("select", f'"all" for scope {scope!r} (select picks functions or classes)')
        return None
    if _COMPLEXITY.match(select) and scope != "function":
        bad("select", 'not "complexity>N" for classes (complexity is per function)')
        return None
    max_tokens = entry.get("maxTokens", DEFAULT_MAX_TOKENS)
    if (
        not isinstance(max_tokens, int)
        or isinstance(max_tokens, bool)
        or not 16 <= max_tokens <= MAX_TOKENS_LIMIT
    ):
        bad("maxTokens", f"an integer between 16 and {MAX_TOKENS_LIMIT}")
        return None
    output = entry.get("output", "report")
    if output not in OUTPUTS:
        bad("output", "one of " + ", ".join(OUTPUTS))
        return None
    if scope == "commits" and output == "hover":
        bad("output", '"diagnostic" or "report" for scope "commits" (there is nothing to hover)')
        return None
    severity = entry.get("severity", "information")
    if severity not in SEVERITIES:
        bad("severity", "one of " + ", ".join(SEVERITIES))
        return None
    after = entry.get("after")
    if after is not None and (not isinstance(after, str) or not after.strip()):
        bad("after", "the name of another drain")
        return None
    return CustomDrain(
        name=name,
        prompt=prompt.strip(),
        scope=scope,
        select=select,
        max_tokens=max_tokens,
        output=output,
        severity=severity,
        after=after,
    )


def _ordered(drains: dict[str, CustomDrain], problems: list[str]) -> list[CustomDrain]:
    """Drains in dependency order; those whose ``after`` is missing or cyclic are dropped."""
    ordered: list[CustomDrain] = []
    state: dict[str, str] = {}  # name -> "visiting" | "done" | "dropped"

    def visit(name: str, chain: list[str]) -> bool:
        if state.get(name) == "done":
            return True
        if state.get(name) == "dropped":
            return False
        drain = drains[name]
        if state.get(name) == "visiting":
            cycle = " -> ".join([*chain[chain.index(name) :], name])
            problems.append(
                f"custom drain `{name}`: `after` makes a cycle ({cycle}); the drain is skipped"
            )
            state[name] = "dropped"
            return False
        state[name] = "visiting"
        ok = True
        if drain.after is not None and drain.after not in BUILTIN_DRAINS:
            if drain.after not in drains:
                problems.append(
                    f"custom drain `{name}`: `after` names `{drain.after}`, which is neither "
                    "a built-in nor a valid custom drain; the drain is skipped"
                )
                ok = False
            else:
                ok = visit(drain.after, [*chain, name])
                if not ok and state.get(name) != "dropped":
                    problems.append(
                        f"custom drain `{name}`: it runs after `{drain.after}`, which is "
                        "skipped; so is this one"
                    )
        if drain.after is not None and ok:
            earlier = drains.get(drain.after)
            earlier_commits = drain.after == "review" or (
                earlier is not None and earlier.scope == "commits"
            )
            if earlier_commits != (drain.scope == "commits"):
                problems.append(
                    f"custom drain `{name}`: `after` links a drain on commits and a drain on "
                    "code; one cannot build on the other, so the drain is skipped"
                )
                ok = False
        if not ok or state.get(name) == "dropped":
            state[name] = "dropped"
            return False
        state[name] = "done"
        ordered.append(drain)
        return True

    for name in drains:
        visit(name, [])
    return ordered
