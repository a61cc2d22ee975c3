"""The offline reviewer: a free, deterministic review of the Python lines a batch added
(``offline_review``), answering in the ``path:line: message`` form of a model."""

from __future__ import annotations

import re

from drain_ls.commits.batch import CommitBatch
from drain_ls.commits.findings import MAX_FINDINGS
from drain_ls.commits.selection import _is_python

_DEF = re.compile(r"(?P<indent>\s*)(?:async\s+def|def|class)\s+(?P<name>\w+)")
_DEBUGGER = re.compile(
    r"\bbreakpoint\(\)|\bi?pdb\.set_trace\(|^\s*(?:import\s+i?pdb\b|from\s+i?pdb\s+import\b)"
)
_BARE_EXCEPT = re.compile(r"^\s*except\s*:")
_BROAD_EXCEPT = re.compile(
    r"^\s*except\s+\(?\s*(?:Base)?Exception\s*\)?(?:\s+as\s+\w+)?\s*:\s*(?P<rest>[^#]*)"
)
_PRINT = re.compile(r"^\s*print\(")
_MARKER = re.compile(r"\b(?:TODO|FIXME|XXX)\b")
_DOCSTRING_START = re.compile(r"""[rRuUbBfF]{0,2}(?:\"|')""")
_LONG_FUNCTION = 60


def _is_test(path: str) -> bool:
    parts = path.split("/")
    name = parts[-1]
    return (
        any(part in ("tests", "test", "testing") for part in parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


def _is_script(path: str) -> bool:
    """Code whose job is to print: a command line, a script, an example."""
    parts = path.split("/")
    return parts[-1] in ("__main__.py", "cli.py") or any(
        part in ("scripts", "bin", "examples", "benchmarks", "tools") for part in parts[:-1]
    )


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def _code(text: str) -> str:
    """``text`` without a trailing comment (naive about ``#`` inside strings)."""
    return text.split("#", 1)[0]


def _signature_end(lines: dict[int, str], start: int) -> tuple[int, bool] | None:
    """The line that ends the ``def``/``class`` at ``start``, and whether its body is on
    that same line; None when that is not among the added lines."""
    depth = 0
    for row in range(start, start + 30):
        text = lines.get(row)
        if text is None:
            return None
        code = _code(text)
        depth += sum(code.count(c) for c in "([{") - sum(code.count(c) for c in ")]}")
        if depth > 0:
            continue
        stripped = code.rstrip()
        if stripped.endswith(":"):
            return row, False
        if ":" in stripped and not stripped.endswith("\\"):
            return row, True
    return None


def _definition_findings(path: str, lines: dict[int, str], row: int) -> list[tuple[int, str]]:
    match = _DEF.match(lines[row])
    if match is None:
        return []
    name = match.group("name")
    indent = len(match.group("indent").expandtabs())
    is_class = lines[row].lstrip().startswith("class")
    end = _signature_end(lines, row)
    if end is None or end[1]:
        return []
    body = end[0] + 1
    while body in lines and not lines[body].strip():
        body += 1
    if body not in lines or _indent(lines[body].expandtabs()) <= indent:
        return []
    found: list[tuple[int, str]] = []
    # Nested in a function (not public, as pydocstyle has it)? The first enclosing line
    # among the added ones tells: a ``def``, or an indented block (``with``, ``if``...:
    # function bodies, not class bodies) is a function; a class is not.
    # With no enclosing line known, deeper than one level (of spaces) is taken as nested.
    nested = _indent(lines[row]) > 4
    above = row - 1
    while indent > 0 and above in lines:
        text = lines[above]
        outer = _indent(text.expandtabs())
        if text.strip() and outer < indent:
            if text.lstrip().startswith("class"):
                nested = False
                break
            nested = _DEF.match(text) is not None or outer > 0
            break
        above -= 1
    decorator = lines.get(row - 1, "").strip()
    overload = decorator in ("@overload", "@typing.overload")
    documented = _DOCSTRING_START.match(lines[body].lstrip()) is not None
    if not (documented or nested or overload or name.startswith("_") or _is_test(path)):
        kind = "class" if is_class else "function"
        found.append((5, f"public {kind} `{name}` was added without a docstring"))
    if not is_class:
        last = body
        cursor = body
        while cursor in lines and (
            not lines[cursor].strip() or _indent(lines[cursor].expandtabs()) > indent
        ):
            if lines[cursor].strip():
                last = cursor
            cursor += 1
        length = last - row + 1
        if length > _LONG_FUNCTION:
            found.append((4, f"function `{name}` is {length} lines long; consider splitting it up"))
    return found


def _line_findings(path: str, lines: dict[int, str], row: int) -> list[tuple[int, str]]:
    text = lines[row]
    found: list[tuple[int, str]] = []
    debugger = _DEBUGGER.search(text)
    if debugger is not None:
        found.append((0, f"debugger call left in (`{debugger.group(0).strip()}`)"))
    if _BARE_EXCEPT.match(text):
        found.append(
            (1, "bare `except:` also catches KeyboardInterrupt and SystemExit; name the exception")
        )
    broad = _BROAD_EXCEPT.match(text)
    if broad is not None:
        rest = broad.group("rest").strip()
        following = lines.get(row + 1, "").strip()
        if rest in ("pass", "...") or (not rest and following in ("pass", "...")):
            found.append((1, "`except Exception: pass` silently swallows every error"))
    if _PRINT.match(text) and "file=" not in text and not (_is_test(path) or _is_script(path)):
        found.append((2, "`print()` left in (debugging?); use logging or remove it"))
    marker = _MARKER.search(text)
    if marker is not None and (
        "#" in text[: marker.start()] or text.lstrip().startswith(('"', "'"))
    ):
        note = text[marker.start() :].strip().strip("\"'").strip()
        if len(note) > 80:
            note = note[:77] + "..."
        found.append((3, f"{marker.group(0)} left in: {note}"))
    return found


def offline_review(batch: CommitBatch) -> str:
    """A free, deterministic review of the Python lines the batch added, in the
    ``path:line: message`` form a model answers with (at most 8 findings): debugger calls,
    bare or silent ``except``, ``print()`` outside tests and scripts, TODO/FIXME/XXX, public
    functions and classes added without a docstring, very long added functions. With
    nothing to report, a one-line overview that ``parse_findings`` reads as no finding."""
    found: list[tuple[int, str, int, str]] = []
    for path in sorted(batch.added_lines):
        if not _is_python(path):
            continue
        lines = batch.added_lines[path]
        for row in sorted(lines):
            for priority, message in _line_findings(path, lines, row):
                found.append((priority, path, row, message))
            for priority, message in _definition_findings(path, lines, row):
                found.append((priority, path, row, message))
    if not found:
        added = sum(len(lines) for lines in batch.added_lines.values())
        return (
            f"no findings: {len(batch.commits)} commit(s), {len(batch.paths)} file(s), "
            f"{added} added line(s) reviewed offline"
        )
    best = sorted(found)[:MAX_FINDINGS]
    best.sort(key=lambda item: (item[1], item[2], item[0]))
    return "\n".join(f"{path}:{row}: {message}" for _, path, row, message in best)
