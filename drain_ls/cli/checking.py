"""Checking files for ``drain-ls check``: one file (``check_file``: a Python file or a
notebook, with ``--fix`` its repair, written only if it reads back and parses as well as
before), many (``run_checks``: in worker processes, through the results cache), and each
finding in the shape of ruff's JSON output (``finding_json``, ``FileResult``)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from drain_ls.analysis.check_settings import CheckSettings
from drain_ls.analysis.rules import RULE_URLS, RULES
from drain_ls.check_cache import Cached, Key, ResultsCache, read_key
from drain_ls.files import (
    MAX_NOTEBOOK_BYTES,
    MAX_SOURCE_BYTES,
    UnreadableFile,
    read_source,
    replace_verified,
)

if TYPE_CHECKING:
    from drain_ls.analysis.model import Finding
    from drain_ls.analysis.notebook import CellMap, Notebook
    from drain_ls.analysis.source import LineIndex

# The checks themselves (``drain_ls.analysis.checker`` and what it imports, ~60 ms) are
# imported by the functions that run them: a run whose every file is a cache hit runs none.


def _rule_name(code: str) -> str:
    rule = RULES.get(code)
    return rule.name if rule is not None else ""


@dataclass(slots=True)
class FileResult:
    """What checking one file produced, in plain data that pickles cheaply: per finding, its
    ``--format json`` line and its text line without the leading path."""

    path: str
    lines: list[str]
    texts: list[str]
    error: str | None = None
    fixed: int = 0
    marked: int = 0  # findings with a safe fix (``[*]`` in the text)
    fixable: int = 0  # findings with any fix
    key: Key | None = None  # for the results cache: what the findings were found in

    @property
    def count(self) -> int:
        """The number of findings."""
        return len(self.lines)

    @property
    def rows(self) -> list[dict[str, object]]:
        """The findings as ruff's JSON objects."""
        return [json.loads(line) for line in self.lines]


# What a directory walk checks (ruff's default ``include`` has notebooks too).
CHECKED_SUFFIXES = (".py", ".pyi", ".ipynb")


def _location(index: LineIndex, offset: int, cells: CellMap | None = None) -> dict[str, int]:
    if cells is not None:  # a notebook: rows count from the start of the offset's cell
        _, row, column = cells.position(offset)
    else:
        row, column = index.char_position(offset)
    return {"row": row + 1, "column": column + 1}


def finding_json(
    finding: Finding, path: str, index: LineIndex, cells: CellMap | None = None
) -> dict[str, object]:
    """One finding in the shape of ruff's JSON output (for a notebook, ``cells`` maps its
    module's offsets to cells: ``cell`` is the cell's number, rows count within it)."""
    location = partial(_location, index, cells=cells)
    fix = None
    if finding.fix is not None:
        fix = {
            "applicability": finding.fix.applicability,
            "message": finding.fix.message,
            "edits": [
                {
                    "content": e.text,
                    "location": location(e.start),
                    # In a notebook, an edit ends in its own cell (as it is applied).
                    "end_location": location(cells.clip(e.start, e.end) if cells else e.end),
                }
                for e in finding.fix.edits
            ],
        }
    noqa_row = None
    if finding.noqa_offsets:
        offset = finding.noqa_offsets[-1]
        noqa_row = (cells.position(offset)[1] if cells else index.row_of(offset)) + 1
    return {
        "cell": cells.position(finding.start)[0] if cells is not None else None,
        "code": finding.code,
        "end_location": location(finding.end),
        "filename": path,
        "fix": fix,
        "location": location(finding.start),
        "message": finding.message,
        "name": _rule_name(finding.code),
        "noqa_row": noqa_row,
        "url": RULE_URLS.get(finding.code),
        # Not part of the JSON output: whether --fix would repair it (docstring skeletons
        # are made on demand, so their fix is not listed).
        "_fixable": finding.fix is not None or finding.fix_factory is not None,
    }


def encode_row(row: dict[str, object]) -> str:
    """A row as one line of ``--format json`` output (json's C encoder: no indent)."""
    return json.dumps({k: v for k, v in row.items() if not k.startswith("_")})


def check_file(
    path: str, settings: CheckSettings, fix: bool, unsafe: bool, keyed: bool = False
) -> FileResult:
    """Check (and with ``fix`` repair) one file. With ``keyed``, a result that holds the
    findings of the bytes read (no error, no fix written) carries their ``key`` for the
    results cache. An exception is the file's internal error (``run_checks``)."""
    try:
        info = os.stat(path) if keyed else None  # before the read: see check_cache
    except OSError:
        info = None
    source, error = read_source(path, _limit(path))
    if source is None:
        return FileResult(path, [], [], error)
    if path.endswith(".ipynb"):
        result, written = _check_notebook_file(path, source, settings, fix, unsafe)
    else:
        result, written = _check_python_file(path, source, settings, fix, unsafe)
    if info is not None and not written and result.error is None:
        result.key = read_key(path, source, info)
    return result


def _limit(path: str) -> int:
    return MAX_NOTEBOOK_BYTES if path.endswith(".ipynb") else MAX_SOURCE_BYTES


def _check_python_file(
    path: str, source: bytes, settings: CheckSettings, fix: bool, unsafe: bool
) -> tuple[FileResult, bool]:
    """The file's result, and whether a fix rewrote it."""
    from drain_ls.analysis.checker import check_source
    from drain_ls.analysis.fixes import fix_source, parse_regression
    from drain_ls.analysis.source import LineIndex

    if not fix:
        return _result(path, check_source(source, path, settings), LineIndex(source)), False
    result = fix_source(source, path, settings, unsafe)
    if result.source == source:
        return _result(path, result.remaining, LineIndex(source)), False
    # Written only if what lands on disk reads back and parses as well as before.
    verify = partial(parse_regression, source, path=path)
    try:
        replace_verified(path, result.source, source, verify)
    except UnreadableFile as exc:
        findings = check_source(source, path, settings)
        return _result(path, findings, LineIndex(source), 0, _unwritten(exc)), False
    index = LineIndex(result.source)
    return _result(path, result.remaining, index, result.fixed), True


def _unwritten(exc: OSError) -> str:
    return f"cannot write the fixes: {exc}"


def _result(
    path: str,
    findings: list[Finding],
    index: LineIndex,
    fixed: int = 0,
    error: str | None = None,
    cells: CellMap | None = None,
) -> FileResult:
    if cells is None:
        return _plain_result(path, findings, index, fixed, error)
    lines: list[str] = []
    texts: list[str] = []
    marked = fixable = 0
    for finding in findings:
        row = finding_json(finding, path, index, cells)
        fix = row["fix"]
        mark = ""
        if row["_fixable"]:
            fixable += 1
            if not isinstance(fix, dict) or fix.get("applicability") == "safe":
                mark = "[*] "
                marked += 1
        location = row["location"]
        assert isinstance(location, dict)
        cell = f"cell {row['cell']}:" if row["cell"] is not None else ""
        texts.append(
            f":{cell}{location['row']}:{location['column']}: {row['code']} {mark}{row['message']}"
        )
        lines.append(encode_row(row))
    return FileResult(path, lines, texts, error, fixed, marked, fixable)


# json.dumps's own string encoder (``ensure_ascii``): a line made here is the line that
# ``encode_row(finding_json(...))`` makes, byte for byte (tests/test_check_cache.py), in a
# third of the time (no dicts to build and walk: 6,000 findings of the stdlib).
_quote = json.encoder.encode_basestring_ascii


def _plain_result(
    path: str, findings: list[Finding], index: LineIndex, fixed: int, error: str | None
) -> FileResult:
    """``_result`` for a file that is not a notebook, each JSON line written directly."""
    filename = _quote(path)
    position = index.char_position
    lines: list[str] = []
    texts: list[str] = []
    marked = fixable = 0
    for finding in findings:
        code = finding.code
        end_row, end_column = position(finding.end)
        row, column = position(finding.start)
        fix = finding.fix
        mark = ""
        if fix is not None or finding.fix_factory is not None:
            fixable += 1
            if fix is None or fix.applicability == "safe":
                mark = "[*] "
                marked += 1
        if fix is None:
            fix_json = "null"
        else:
            edits = []
            for edit in fix.edits:
                a_row, a_column = position(edit.start)
                b_row, b_column = position(edit.end)
                edits.append(
                    f'{{"content": {_quote(edit.text)}, "location": {{"row": {a_row + 1}, '
                    f'"column": {a_column + 1}}}, "end_location": {{"row": {b_row + 1}, '
                    f'"column": {b_column + 1}}}}}'
                )
            fix_json = (
                f'{{"applicability": {_quote(fix.applicability)}, "message": '
                f'{_nullable(fix.message)}, "edits": [{", ".join(edits)}]}}'
            )
        noqa_row = index.row_of(finding.noqa_offsets[-1]) + 1 if finding.noqa_offsets else None
        lines.append(
            f'{{"cell": null, "code": {_quote(code)}, "end_location": {{"row": {end_row + 1}, '
            f'"column": {end_column + 1}}}, "filename": {filename}, "fix": {fix_json}, '
            f'"location": {{"row": {row + 1}, "column": {column + 1}}}, "message": '
            f'{_quote(finding.message)}, "name": {_quote(_rule_name(code))}, '
            f'"noqa_row": {"null" if noqa_row is None else noqa_row}, '
            f'"url": {_nullable(RULE_URLS.get(code))}}}'
        )
        texts.append(f":{row + 1}:{column + 1}: {code} {mark}{finding.message}")
    return FileResult(path, lines, texts, error, fixed, marked, fixable)


def _nullable(text: str | None) -> str:
    return "null" if text is None else _quote(text)


def _check_notebook_file(
    path: str, source: bytes, settings: CheckSettings, fix: bool, unsafe: bool
) -> tuple[FileResult, bool]:
    """A notebook: its code cells checked as one module, findings reported per cell; a
    file that is not a notebook gets one ``E999`` at 1:1, whatever the selection (ruff).
    Also whether a fix rewrote it."""
    from drain_ls.analysis.model import Finding
    from drain_ls.analysis.notebook import NotebookError, check_notebook, read_notebook, rewrite
    from drain_ls.analysis.source import LineIndex

    try:
        notebook = read_notebook(source)
    except NotebookError as exc:
        finding = Finding("E999", str(exc), 0, 0)
        return _result(path, [finding], LineIndex(source)), False
    check = check_notebook(notebook, path, settings, fix=fix, unsafe=unsafe)
    if fix and check.changed(notebook):
        try:
            text = rewrite(notebook, check.texts)
            verify = partial(_notebook_regression, notebook, text, path=path)
            replace_verified(path, text.encode("utf-8"), source, verify)
        except (NotebookError, UnreadableFile) as exc:
            check = check_notebook(notebook, path, settings)
            error = f"cannot write the fixes: {exc}"
            return _result(path, check.findings, check.cells.index, 0, error, check.cells), False
        return _result(
            path, check.findings, check.cells.index, check.fixed, None, check.cells
        ), True
    return _result(path, check.findings, check.cells.index, check.fixed, None, check.cells), False


def _notebook_regression(
    notebook: Notebook, expected: str, written: bytes, path: str = "<notebook>"
) -> str | None:
    """Why the notebook file that was written is not the fixed notebook (None: it is)."""
    from drain_ls.analysis.fixes import parse_regression
    from drain_ls.analysis.notebook import NotebookError, masked_module, read_notebook

    if written != expected.encode("utf-8"):
        return "the fixed notebook did not read back as written"
    try:
        again = read_notebook(written)
    except NotebookError as exc:
        return f"the fixed notebook would not read back ({exc})"
    if [c.index for c in again.cells] != [c.index for c in notebook.cells]:
        return "the fixes would change which cells are Python"
    return parse_regression(masked_module(notebook), masked_module(again), path)


def run_checks(
    paths: list[str],
    settings: CheckSettings,
    jobs: int,
    fix: bool = False,
    unsafe: bool = False,
    cache: ResultsCache | None = None,
) -> list[FileResult]:
    """Check files, in ``jobs`` worker processes when that pays off; with a ``cache``, the
    files it holds findings for are not checked again, and the new findings are saved
    into it. A file whose check raises, or whose worker dies, is reported as an internal
    error; the run goes on."""
    results: list[FileResult] = []
    if cache is not None:
        misses = []
        for path in paths:
            hit = cache.lookup(path, _read_for_cache, fix)
            if hit is None:
                misses.append(path)
            else:
                results.append(
                    FileResult(path, hit.lines, hit.texts, None, 0, hit.marked, hit.fixable)
                )
        paths = misses
    work = partial(check_file, settings=settings, fix=fix, unsafe=unsafe, keyed=cache is not None)
    if len(paths) < 4:
        jobs = 1
    checked: list[FileResult] = []
    if paths:
        # The checks, imported (and the indentation scanner compiled) here, before the
        # workers fork: not once in each of them, and not while a Ctrl-C may stop them.
        import drain_ls.analysis.checker
        import drain_ls.analysis.fixes
        from drain_ls.analysis.indentation import compile_patterns

        if any(path.endswith(".ipynb") for path in paths):
            import drain_ls.analysis.notebook  # noqa: F401
        from drain_ls.pool import map_files  # not needed when every file is a cache hit

        compile_patterns()
        checked = map_files(paths, jobs, work, _lost, cost=_size, limit=time_limit)
    if cache is not None:
        for result in checked:
            if result.key is not None:
                cache.store(
                    result.path,
                    result.key,
                    Cached(result.lines, result.texts, result.marked, result.fixable),
                )
        cache.save()
    results += checked
    results.sort(key=lambda r: r.path)
    return results


def _read_for_cache(path: str) -> bytes | None:
    return read_source(path, _limit(path))[0]


def _lost(path: str, reason: str) -> FileResult:
    return FileResult(path, [], [], reason)


# A file's check may take this long, plus as much again per MiB, before it is stopped and
# reported (``drain_ls.pool``): tree-sitter-python takes time quadratic in the length of a
# few shapes of broken code (a long run of lines that are only a backslash: 8,000 lines, 16 KB,
# take 0.9 s to parse and 32,000 take 15 s), and a hostile file must not hold up a run, or the
# CI job that runs it, for hours. The slowest real code measured, broken while typed, parses at
# about 5 s per MiB: the limit is twice that, and a normal file takes a fiftieth of it.
TIME_LIMIT_SECONDS = 10.0


def time_limit(path: str) -> float:
    """How long ``path``'s check may take, in seconds (``TIME_LIMIT_SECONDS`` per MiB, and
    that for the first)."""
    return TIME_LIMIT_SECONDS * (1 + _size(path) / (1 << 20))


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
