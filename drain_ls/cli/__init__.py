"""The ``drain-ls`` command line: the language server (default) and ``check``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from drain_ls import __version__
from drain_ls.analysis.checker import DOCSTRING_STYLES, CheckSettings, check_source
from drain_ls.analysis.fixes import fix_source, parse_regression
from drain_ls.analysis.model import ALL_CODES, RULE_URLS, RULES, Finding
from drain_ls.analysis.notebook import (
    CellMap,
    Notebook,
    NotebookError,
    check_notebook,
    masked_module,
    read_notebook,
    rewrite,
)
from drain_ls.analysis.source import LineIndex
from drain_ls.analysis.versions import DEFAULT_TARGET, TARGET_NAMES, PythonVersion, resolve_target
from drain_ls.check_cache import DEFAULT_DIRECTORY, Cached, Key, ResultsCache, read_key
from drain_ls.files import (
    MAX_NOTEBOOK_BYTES,
    MAX_SOURCE_BYTES,
    ConfigError,
    Excluder,
    ProjectConfig,
    UnreadableFile,
    discover,
    find_project_config,
    read_source,
    replace_verified,
)

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # as shells report a command that SIGINT stopped


class UsageError(Exception):
    """A command-line mistake: exit code 2."""


def user_settings() -> tuple[Any, list[str]]:
    """The user's own settings (the user config file), for commands that read no workspace."""
    from drain_ls.config import build_settings, load_user_config

    layer, problems = load_user_config()
    settings, more = build_settings(layer)
    return settings, [*problems, *more]


def _usd(value: float | None) -> str:
    return f"~${value:.4f}" if value is not None else "price unknown"


def _rule_name(code: str) -> str:
    rule = RULES.get(code)
    return rule.name if rule is not None else ""


def parse_selectors(text: str | Sequence[str] | None) -> set[str] | None:
    """Codes named by a comma-separated list of codes, prefixes (``D1``) or ``ALL``."""
    if text is None:
        return None
    items = text.split(",") if isinstance(text, str) else list(text)
    codes: set[str] = set()
    for raw in items:
        item = raw.strip().upper()
        if not item:
            continue
        if item == "ALL":
            codes.update(ALL_CODES)
            continue
        matched = {c for c in ALL_CODES if c.startswith(item)}
        if not matched:
            raise UsageError(f"unknown rule selector `{raw.strip()}`")
        codes |= matched
    return codes


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
        from drain_ls.pool import map_files  # not needed when every file is a cache hit

        checked = map_files(paths, jobs, work, _lost, cost=_size)
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


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _add_check_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = commands.add_parser(
        "check",
        help="report unused imports (F401) and missing docstrings (D100-D107)",
        description="Check Python files for unused imports (F401), missing docstrings "
        "(D100-D107) and syntax errors (E999), with ruff's semantics.",
    )
    check.add_argument("paths", nargs="*", type=Path, default=[Path(".")], metavar="PATH")
    check.add_argument("--select", help="comma-separated codes or prefixes (default: all)")
    check.add_argument("--ignore", help="comma-separated codes or prefixes to leave out")
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.add_argument("--fix", action="store_true", help="apply the safe fixes in place")
    check.add_argument(
        "--unsafe-fixes", action="store_true", help="with --fix, apply unsafe fixes too"
    )
    check.add_argument("--jobs", "-j", type=int, default=None, help="worker processes")
    check.add_argument(
        "--docstring-style", choices=DOCSTRING_STYLES, help="style of inserted docstrings"
    )
    check.add_argument(
        "--target-version",
        choices=TARGET_NAMES,
        help="the oldest Python the code must run on: newer syntax is an E999 (default: "
        "[tool.drain-ls] target-version, else the lower bound of [project] requires-python, "
        f"else {DEFAULT_TARGET.setting})",
    )
    check.add_argument(
        "--no-respect-gitignore", action="store_true", help="check files .gitignore excludes"
    )
    check.add_argument(
        "--no-cache", action="store_true", help="neither read nor write the results cache"
    )
    check.add_argument(
        "--cache-dir",
        type=Path,
        help=f"where the results cache lives (default: {DEFAULT_DIRECTORY} at the project root)",
    )


def _serve_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("serving")
    group.add_argument(
        "--stdio", action="store_true", help="speak LSP on stdin/stdout (the default)"
    )
    group.add_argument("--tcp", action="store_true", help="listen on TCP instead (debugging)")
    group.add_argument("--host", default="127.0.0.1", help="TCP host (default 127.0.0.1)")
    group.add_argument("--port", type=int, default=2087, help="TCP port (default 2087)")
    group.add_argument("--log-file", help="also write the server's log to this file")
    group.add_argument(
        "--log-level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="log level (default INFO)",
    )
    return options


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    serve_options = _serve_options()
    parser = argparse.ArgumentParser(
        prog="drain-ls",
        description="A Python language server that spends spare LLM token budget on "
        "low-priority background work while the editor is idle. With no command, it serves "
        "LSP on stdio.",
        parents=[serve_options],
    )
    parser.add_argument("--version", action="version", version=f"drain-ls {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "serve",
        help="run the language server (the default command)",
        parents=[serve_options],
    )
    _add_check_parser(commands)
    run = commands.add_parser(
        "run",
        help="run the drains of files now, headless (--dry-run: what they would send; "
        "--diff/--apply: the generated docstrings)",
        description="Run the drains of files now, headless, with the editor's budget, ledger "
        "and results cache. --diff and --apply then take the generated docstrings made for "
        'the current text of each definition (as the editor\'s "Insert generated docstring"; '
        "a result made for a text that has changed since is stale: counted, never applied). "
        'With --json, the summary has a "docstrings" object (with --diff, the diff in it). '
        "The offline backend's answers are kept in the results cache too (drain-ls show).",
        epilog="exit codes: 0 done (--diff: nothing to insert; --apply: every file written); "
        "1 --diff printed a diff, --apply could not write a file (its error on stderr), or "
        "the run could not start (no consent, no ledger); 2 usage error",
    )
    run.add_argument("paths", nargs="*", type=Path, default=[Path(".")], metavar="PATH")
    after = run.add_mutually_exclusive_group()
    after.add_argument(
        "--dry-run", action="store_true", help="show what would be sent; send nothing"
    )
    after.add_argument(
        "--diff",
        action="store_true",
        help="then print the generated docstrings as a unified diff on stdout (the summary "
        "goes to stderr); write nothing",
    )
    after.add_argument(
        "--apply",
        action="store_true",
        help="then insert the generated docstrings into the files (as check --fix writes: "
        "only if the file still parses, atomically, read back)",
    )
    run.add_argument("--json", action="store_true", help="print the summary (or requests) as JSON")
    run.add_argument(
        "--budget", type=int, metavar="TOKENS", help="spend at most TOKENS in this run"
    )
    run.add_argument(
        "--backend",
        choices=("offline", "anthropic", "openai"),
        help="override llm.backend for this run (openai: any OpenAI-compatible server, such "
        "as Ollama or llama.cpp, at llm.baseUrl)",
    )
    run.add_argument(
        "--base-url",
        metavar="URL",
        help="override llm.baseUrl for this run (the openai backend's endpoint, ending in /v1)",
    )
    run.add_argument("--model", help="override llm.model for this run")
    run.add_argument(
        "--yes", action="store_true", help="allow sending code from this workspace, this once"
    )
    show = commands.add_parser(
        "show",
        help="the cached drain results of a file's definitions, with their provenance",
        description="Print the cached drain results (docstring, summary, simplification, "
        "custom drains) of a definition, or of every definition of the file that has some: "
        "drain, model and backend, when, tokens and cost, and whether the result is stale "
        "(made for an earlier text of the definition).",
        epilog="exit codes: 0 results shown; 1 no results (or the file or the ledger cannot "
        "be read); 2 no such file, or no such definition (close matches listed)",
    )
    show.add_argument(
        "target", metavar="PATH[:NAME]", help="a Python file; NAME: a qualified name (Class.method)"
    )
    show.add_argument("--json", action="store_true", help="print JSON")
    queue = commands.add_parser("queue", help="the deferred drain tasks, with their estimated cost")
    queue.add_argument("--json", action="store_true", help="print JSON")
    report = commands.add_parser("report", help="tokens, cost and tasks of the drains, per day")
    report.add_argument("--days", type=int, default=7, help="how many days (default 7)")
    report.add_argument("--json", action="store_true", help="print JSON")
    return parser


def command_run(args: argparse.Namespace) -> int:
    """``drain-ls run``: the drains of files, headless (``--dry-run``: what they would send)."""
    from drain_ls.config import camelize_keys, load_user_config, resolve_settings
    from drain_ls.engine.choices import MissingKey, choose_backend
    from drain_ls.engine.custom import parse_custom_drains
    from drain_ls.engine.drains import preview
    from drain_ls.engine.file_tasks import tasks_for_file
    from drain_ls.privacy import ExclusionError, Exclusions

    for path in args.paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file or directory")
    if args.budget is not None and args.budget < 1:
        raise UsageError("--budget must be a positive number of tokens")
    first = args.paths[0]
    try:
        project = find_project_config(first if first.is_dir() else first.parent)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    # The trust model (config.py): the workspace's pyproject.toml only narrows what the
    # user's config file and flags allow.
    user, user_problems = load_user_config()
    given = {"backend": args.backend, "baseUrl": args.base_url, "model": args.model}
    flags = {"llm": {k: v for k, v in given.items() if v}} if any(given.values()) else {}
    settings, problems, trust = resolve_settings(camelize_keys(project.table), user, flags)
    custom, custom_problems = parse_custom_drains(settings.drains.get("custom"))
    for problem in [*user_problems, *problems, *custom_problems]:
        print(f"warning: {problem}", file=sys.stderr)
    try:
        # A dry run sends nothing: it needs no key, and shows the model the settings name.
        choice = choose_backend(settings, headless=True, preview=args.dry_run)
    except MissingKey as exc:
        raise UsageError(str(exc)) from exc
    if choice.refused is not None or choice.price is None:
        raise UsageError(str(choice.refused))
    model, price = choice.model, choice.price
    root = (project.root or Path.cwd()).resolve()
    try:
        exclusions = Exclusions([root], settings.privacy.exclude)
    except ExclusionError as exc:
        raise UsageError(f"{exc}: nothing would be sent") from exc
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []

    def unreadable(path: Path, why: str) -> None:
        skipped.append((_display(str(path)), why))

    for file in discover(args.paths, Excluder(project), unreadable):
        reason = exclusions.why_excluded(file.resolve())
        _, error = read_source(str(file))
        if reason is not None or error is not None:
            skipped.append((_display(str(file)), str(reason or error)))
            continue
        files.append(file.resolve())
    if not args.dry_run:
        return _run_drains(args, files, skipped, settings, custom, choice, root, trust)
    for name, reason in skipped:
        print(f"skipped: {name}: {reason}", file=sys.stderr)
    previews: list[dict[str, Any]] = []
    total_tokens, total_usd = 0, 0.0
    planned = [
        (_display(str(file)), task)
        for file in files
        for task in tasks_for_file(
            file, settings, model, custom, lambda key: None, None, choice.cache_id
        )
    ]
    planned += [
        (_display(str(root)), task) for task in _review_preview(root, settings, custom, model)
    ]
    for where, task in planned:
        entry = preview(task, price)
        total_tokens += int(entry["worstCaseTokens"])  # type: ignore[call-overload]
        total_usd += float(entry["worstCaseUsd"])  # type: ignore[arg-type]
        previews.append({"file": where, "model": model, **entry})
    if args.json:
        json.dump(
            {
                "previews": previews,
                "worstCaseTokens": total_tokens,
                "worstCaseUsd": round(total_usd, 6),
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
        return EXIT_CLEAN
    for p in previews:
        redacted = f", {len(p['redactions'])} secret(s) redacted" if p["redactions"] else ""
        print(
            f"{p['file']}: {p['drain']} {p['qualname']}: at most {p['worstCaseTokens']:,} "
            f"tokens, ${p['worstCaseUsd']:.5f}{redacted}"
        )
    print(
        f"{len(previews)} request(s) to {model}: at most {total_tokens:,} tokens, "
        f"${total_usd:.4f} (dry run: nothing sent; drains that run after others are "
        "listed once those have results)"
    )
    return EXIT_CLEAN


def _review_preview(root: Path, settings: Any, custom: Any, model: str) -> list[Any]:
    """The commit review tasks a run would send (nothing when there is nothing new)."""
    from drain_ls.engine.review import ReviewOptions, gather, review_tasks
    from drain_ls.ledger import Ledger, LedgerError
    from drain_ls.privacy import ExclusionError, Exclusions

    options = ReviewOptions.from_settings(settings.drains)
    if not options.enabled and not any(d.scope == "commits" for d in custom):
        return []
    try:
        since = Ledger().last_review(str(root))
        exclusions = Exclusions([root], settings.privacy.exclude)
    except (LedgerError, ExclusionError):
        return []
    batch = gather(root, since, options, exclusions.why_excluded, settings.privacy.redactSecrets)
    if batch is None:
        return []
    return review_tasks(
        batch,
        drains=settings.drains,
        custom=custom,
        model=model,
        max_tokens_per_drain=settings.budget.maxTokensPerDrain,
        lookup=lambda key: None,
    )


def _run_drains(
    args: argparse.Namespace,
    files: list[Path],
    skipped: list[tuple[str, str]],
    settings: Any,
    custom: Any,
    choice: Any,
    root: Path,
    trust: Any,
) -> int:
    """The headless run: consent, the ledger, the budget, a progress bar and a summary."""
    import asyncio

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from drain_ls.cli.headless import HeadlessRun, render_summary
    from drain_ls.engine.choices import ask_consent, run_limits
    from drain_ls.ledger import Ledger, LedgerError

    try:
        ledger = Ledger()
    except LedgerError as exc:
        print(f"drain-ls: error: {exc}: nothing is sent", file=sys.stderr)
        return EXIT_FINDINGS
    workspace = str(root)
    model = choice.model
    if not args.yes:
        consent = asyncio.run(
            ask_consent(ledger, workspace, settings, choice, trust, TerminalPrompter())
        )
        if consent.allowed is not True:
            if consent.remembered:
                print(
                    f"drain-ls: sending code from {workspace} was refused (answered in the "
                    "editor); nothing is sent",
                    file=sys.stderr,
                )
            return EXIT_FINDINGS
    backend = choice.make()
    limits = run_limits(settings, args.budget)
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]drain-ls run"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=not args.json and console.is_terminal,
        disable=args.json and not console.is_terminal,
    ) as progress:
        bar = progress.add_task("", total=None)

        def on_progress(done: int, total: int, what: str) -> None:
            progress.update(bar, completed=done, total=max(total, 1), description=what)

        batch_client = None
        if settings.llm.batch and not choice.free:
            from drain_ls.backends.batches import BatchClient

            batch_client = BatchClient()
        run = HeadlessRun(
            files,
            settings,
            custom,
            backend,
            ledger,
            limits,
            choice.price,
            model,
            workspace,
            on_progress,
            batch_client,
            choice,
        )

        async def go() -> Any:
            try:
                return await run.run()
            finally:
                if batch_client is not None:
                    await batch_client.close()

        summary = asyncio.run(go())
    summary.skipped = skipped
    from drain_ls.cli.results import after_run  # offline answers kept; --diff / --apply

    shown = after_run(args, run, summary)
    if shown is not None:
        return shown
    if args.json:
        json.dump({"model": model, **summary.as_json()}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        render_summary(summary, model)
        print("the cost report: drain-ls report; what is left: drain-ls queue")
    return EXIT_CLEAN


class TerminalPrompter:
    """Asks on the terminal (stderr: stdout may be --json); "always" is remembered as the
    editor's "Allow", "yes" is the editor's "Allow once". With no terminal to ask on, the
    answer is no, and the user is told how to give one."""

    async def ask(self, question: str, choices: Sequence[str]) -> str | None:
        """The editor's title of the answer given (None: no)."""
        from drain_ls.engine.choices import ALLOW, ALLOW_ONCE

        if not sys.stdin.isatty():
            print(
                "drain-ls: no consent to send code from this workspace: answer in the editor, "
                "or run with --yes",
                file=sys.stderr,
            )
            return None
        sys.stderr.write(f"{question} [y]es / [a]lways / [N]o: ")
        sys.stderr.flush()
        try:
            answer = input().strip().lower()
        except EOFError:
            answer = ""
        if answer in ("a", "always"):
            return ALLOW
        return ALLOW_ONCE if answer in ("y", "yes") else None


def command_queue(args: argparse.Namespace) -> int:
    """``drain-ls queue``: tasks that could not run (a cap, a closed editor), kept for later."""
    from drain_ls.budget import price_of, price_overrides
    from drain_ls.ledger import Ledger, LedgerError
    from drain_ls.models import default_model

    user, _ = user_settings()
    prices = price_overrides(user.llm.prices)
    try:
        ledger = Ledger()
    except LedgerError as exc:
        print(f"drain-ls: error: {exc}", file=sys.stderr)
        return EXIT_FINDINGS
    rows = []
    for task in ledger.deferred():
        tokens = int(task["estimated_tokens"])
        # The worst case at the task's model's output price (the dearer of the two).
        price = price_of(str(task["model"] or default_model()), prices)
        usd = round(tokens * price.output / 1e6, 6) if price is not None else None
        rows.append({**task, "estimatedUsd": usd})
    batches = ledger.open_batches()
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_CLEAN
    for row in rows:
        where = _display(str(row["path"])) if row["path"] else row["workspace"]
        print(
            f"{where}: {row['drain']} {row['scope_key']}: at most "
            f"{row['estimated_tokens']:,} tokens ({_usd(row['estimatedUsd'])}); {row['reason']}"
        )
    total = sum(int(r["estimated_tokens"]) for r in rows)
    total_usd = sum(float(r["estimatedUsd"] or 0) for r in rows)
    print(f"{len(rows)} deferred task(s), at most {total:,} tokens (~${total_usd:.4f})")
    for batch in batches:
        print(
            f"Message Batch {batch['id']}: {batch['requests']} request(s), waiting for results "
            "(drain-ls run or the editor collects them)"
        )
    return EXIT_CLEAN


def command_report(args: argparse.Namespace) -> int:
    """``drain-ls report``."""
    from drain_ls.ledger import Ledger, LedgerError
    from drain_ls.report import MAX_DAYS, render, report

    if not 1 <= args.days <= MAX_DAYS:
        raise UsageError(f"--days must be between 1 and {MAX_DAYS} (got {args.days})")
    try:
        ledger = Ledger()
        data = report(ledger, args.days)
    except LedgerError as exc:
        print(f"drain-ls: error: {exc}", file=sys.stderr)
        return EXIT_FINDINGS
    if args.json:
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        render(data)
    return EXIT_CLEAN


def command_serve(args: argparse.Namespace) -> int:
    """``drain-ls [serve]``: the language server."""
    from drain_ls.lsp.handlers import create_server
    from drain_ls.lsp.server import configure_logging

    server = create_server()
    configure_logging(server, args.log_file, args.log_level)
    if args.tcp:
        server.start_tcp(args.host, args.port)
    else:
        server.start_io()
    return EXIT_CLEAN


def _settings(args: argparse.Namespace) -> tuple[CheckSettings, Excluder]:
    first = args.paths[0] if args.paths else Path(".")
    start = first if first.is_dir() else first.parent
    try:
        config = find_project_config(start)
        select = parse_selectors(args.select) or parse_selectors(config.strings("select"))
        ignore = parse_selectors(args.ignore) or set()
        ignore |= parse_selectors(config.strings("ignore")) or set()
        style = args.docstring_style or config.table.get("docstring-style", "google")
        if style not in DOCSTRING_STYLES:
            raise ConfigError(
                f"[tool.drain-ls] docstring-style must be one of {', '.join(DOCSTRING_STYLES)}"
            )
        target = _target_version(args.target_version, config)
        excluder = Excluder(config, respect_gitignore=not args.no_respect_gitignore, warn=_warn)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    codes = frozenset((select or set(ALL_CODES)) - ignore)
    settings = CheckSettings(select=codes, docstring_style=str(style), target_version=target)
    return settings, excluder


def _target_version(flag: str | None, config: ProjectConfig) -> PythonVersion:
    """``--target-version``, else ``[tool.drain-ls] target-version``, else the lower bound
    of ``[project] requires-python`` (as ruff infers it), else the newest."""
    value = flag if flag is not None else config.table.get("target-version")
    if value is not None and not isinstance(value, str):
        raise ConfigError(
            f"[tool.drain-ls] target-version must be one of {', '.join(TARGET_NAMES)}"
        )
    try:
        return resolve_target(value, config.requires_python)
    except ValueError as exc:
        raise ConfigError(f"[tool.drain-ls] {exc}") from None


def command_check(args: argparse.Namespace) -> int:
    """``drain-ls check``."""
    for path in args.paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file or directory")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    settings, excluder = _settings(args)
    # FIFOs, devices and sockets are never opened: each is a one-line error of its own.
    special: list[FileResult] = []
    found_files = discover(
        args.paths,
        excluder,
        lambda path, reason: special.append(_lost(str(path), reason)),
        CHECKED_SUFFIXES,
    )
    files = [str(p) for p in found_files]
    jobs = args.jobs or os.cpu_count() or 1
    cache = _open_cache(args, settings, excluder)
    results = run_checks(files, settings, jobs, fix=args.fix, unsafe=args.unsafe_fixes, cache=cache)
    if special:
        results = sorted(results + special, key=lambda r: r.path)

    found = sum(r.count for r in results)
    errors = [(r.path, r.error) for r in results if r.error]
    fixed = sum(r.fixed for r in results)
    for path, error in errors:
        print(f"error: {_display(path)}: {error}", file=sys.stderr)
    if args.format == "json":
        # One finding per line: readable, and encoded by the workers.
        lines = [line for r in results for line in r.lines]
        sys.stdout.write("[\n" + ",\n".join(lines) + "\n]\n")
    else:
        _print_text(results, fixed, len(results) - len(errors), len(errors))
    return EXIT_FINDINGS if found or errors else EXIT_CLEAN


def _open_cache(
    args: argparse.Namespace, settings: CheckSettings, excluder: Excluder
) -> ResultsCache | None:
    """The results cache this run reads and writes (None: ``--no-cache``, or no key). A
    location the project chose (the default, or ``[tool.drain-ls] cache-dir``) must stay
    inside the project root once links are followed: a repository is untrusted, and a
    ``.drain_ls_cache`` link to the home directory would have a ``.gitignore`` written there.
    """
    if args.no_cache or os.environ.get("DRAIN_LS_NO_CACHE", "").strip() not in ("", "0"):
        return None
    chosen = args.cache_dir or os.environ.get("DRAIN_LS_CACHE_DIR") or None
    if chosen is not None:  # the user's own choice: anywhere
        return ResultsCache.open(Path(chosen).absolute(), settings)
    root = (excluder.root or Path.cwd()).absolute()
    configured = excluder.table.get("cache-dir", DEFAULT_DIRECTORY)
    if not isinstance(configured, str) or not configured.strip():
        raise UsageError("[tool.drain-ls] cache-dir must be a string")
    directory = root / configured
    real, real_root = os.path.realpath(directory), os.path.realpath(root)
    if os.path.commonpath([real, real_root]) != real_root or real == real_root:
        _warn(
            f"the results cache is off: {directory} is not inside the project "
            f"({real_root}); set --cache-dir or DRAIN_LS_CACHE_DIR to put it elsewhere"
        )
        return None
    return ResultsCache.open(directory, settings)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _display(path: str) -> str:
    return _relative(path, os.getcwd())


@lru_cache(maxsize=4096)
def _relative(path: str, cwd: str) -> str:
    """``path`` relative to ``cwd``, remembered: every finding of a file asks (10 us each)."""
    try:
        return os.path.relpath(path, cwd)
    except ValueError:
        return path


def _print_text(results: list[FileResult], fixed: int, checked: int, unchecked: int = 0) -> None:
    out = sys.stdout
    count = fixable = 0
    for result in results:
        if result.texts:
            where = _display(result.path)
            out.write("".join(f"{where}{text}\n" for text in result.texts))
            count += len(result.texts)
            fixable += result.marked
    if count:
        summary = f"Found {count} finding{'s' if count != 1 else ''}"
        if fixed:
            summary += f" ({fixed} fixed, {count} remaining)"
        out.write(summary + ".\n")
        if fixable:
            out.write(f"[*] {fixable} fixable with `drain-ls check --fix`.\n")
    elif unchecked:  # never "All checks passed" when a file was not checked
        out.write(
            f"No findings in {checked} file{'s' if checked != 1 else ''}; {unchecked} "
            f"file{'s' if unchecked != 1 else ''} could not be checked (errors above).\n"
        )
    elif fixed:
        out.write(f"Fixed {fixed} finding{'s' if fixed != 1 else ''}; all checks pass.\n")
    else:
        out.write(f"All checks passed ({checked} file{'s' if checked != 1 else ''}).\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``drain-ls`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            return command_check(args)
        if args.command == "report":
            return command_report(args)
        if args.command == "run":
            return command_run(args)
        if args.command == "queue":
            return command_queue(args)
        if args.command == "show":
            from drain_ls.cli.results import command_show

            return command_show(args)
        if args.command in (None, "serve"):
            return command_serve(args)
    except UsageError as exc:
        print(f"drain-ls: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # Ctrl-C; any check workers are stopped (drain_ls.pool)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_FINDINGS
    parser.print_help()
    return EXIT_USAGE
