"""Applying fixes: edits in byte offsets, passes until nothing is left to fix."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass

from drain_ls.analysis.checker import CheckSettings, check_source
from drain_ls.analysis.grammar_gaps import parse_input
from drain_ls.analysis.model import Edit, Finding, Fix
from drain_ls.analysis.source import parse
from drain_ls.analysis.syntax import syntax_error

# As ruff (its MAX_ITERATIONS): the statement deletions of one block are applied one per
# pass (see ``Fix.isolation``), so a module with many unused imports needs many passes.
MAX_PASSES = 100


def apply_edits(source: bytes, edits: Iterable[Edit]) -> bytes:
    """Apply non-overlapping edits (byte offsets into ``source``)."""
    out: list[bytes] = []
    position = 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        if edit.start < position:
            raise ValueError(f"overlapping edits at byte {edit.start}")
        out.append(source[position : edit.start])
        out.append(edit.text.encode("utf-8"))
        position = edit.end
    out.append(source[position:])
    return b"".join(out)


def _span(fix: Fix) -> tuple[int, int]:
    return min(e.start for e in fix.edits), max(e.end for e in fix.edits)


def compatible_fixes(findings: Iterable[Finding], unsafe: bool = False) -> list[Fix]:
    """A set of fixes that can be applied together: no two touch, none shares an isolation."""
    chosen: list[Fix] = []
    spans: list[tuple[int, int]] = []
    isolations: set[int] = set()
    seen: set[int] = set()
    for finding in findings:
        fix = finding.resolved_fix()
        if fix is None or not fix.edits or id(fix) in seen:
            continue
        seen.add(id(fix))
        if fix.applicability != "safe" and not unsafe:
            continue
        if fix.isolation is not None and fix.isolation in isolations:
            continue
        start, end = _span(fix)
        if any(start <= e and s <= end for s, e in spans):
            continue
        chosen.append(fix)
        spans.append((start, end))
        if fix.isolation is not None:
            isolations.add(fix.isolation)
    return chosen


@dataclass(slots=True)
class FixResult:
    """The outcome of fixing one source."""

    source: bytes
    fixed: int
    remaining: list[Finding]


def fix_source(
    source: bytes, path: str, settings: CheckSettings | None = None, unsafe: bool = False
) -> FixResult:
    """Apply every applicable fix, pass after pass, never leaving a syntax error behind."""
    findings = check_source(source, path, settings)
    fixed = 0
    if broken(source, path):
        return FixResult(source, 0, findings)
    for _ in range(MAX_PASSES):
        fixes = compatible_fixes(findings, unsafe)
        if not fixes:
            break
        candidate = apply_edits(source, (e for fix in fixes for e in fix.edits))
        if broken(candidate, path):
            # Never trade findings for a file that no longer compiles; but one fix that
            # would break it must not hold back the others: they are tried one by one.
            kept: list[Fix] = []
            for fix in fixes:
                trial = apply_edits(source, (e for f in (*kept, fix) for e in f.edits))
                if not broken(trial, path):
                    kept.append(fix)
            if not kept:
                break
            candidate = apply_edits(source, (e for fix in kept for e in fix.edits))
        after = check_source(candidate, path, settings)
        if len(candidate) > len(source) and _kinds(after) == _kinds(findings):
            # It only added text and fixed nothing: the next pass would add it again (a
            # docstring where the tree does not see one). A pass that removes text moves on.
            break
        fixed += max(0, len(findings) - len(after))
        source, findings = candidate, after
    return FixResult(source, fixed, findings)


def _kinds(findings: list[Finding]) -> list[tuple[str, str]]:
    """What the findings say, wherever they are (edits move them)."""
    return sorted((f.code, f.message) for f in findings)


def broken(source: bytes, path: str) -> bool:
    """True when ``source`` has a syntax error (tree-sitter's, confirmed by CPython)."""
    tree = parse(parse_input(source))
    return tree.root_node.has_error and syntax_error(source, path, tree) is not None


def compile_error(source: bytes, path: str = "<fixed>") -> str | None:
    """Why CPython cannot compile ``source`` (None when it can). Bytes, so that a BOM or a
    coding declaration is read as the interpreter reads them."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, path, "exec", flags=0x400, dont_inherit=True)  # PyCF_ONLY_AST
    except SyntaxError as exc:
        return f"{exc.msg} (line {exc.lineno})"
    except (ValueError, RecursionError, MemoryError) as exc:
        return str(exc) or type(exc).__name__
    return None


def parse_regression(before: bytes, after: bytes, path: str = "<fixed>") -> str | None:
    """Why ``after`` (a fixed ``before``) parses worse than ``before``, or None: it must have
    no tree-sitter error if ``before`` had none, and compile if ``before`` compiled."""
    if (
        not parse(parse_input(before)).root_node.has_error
        and parse(parse_input(after)).root_node.has_error
    ):
        return "the fixed file would not parse"
    if compile_error(before, path) is None:
        error = compile_error(after, path)
        if error is not None:
            return f"the fixed file would not compile: {error}"
    return None
