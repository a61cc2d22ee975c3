"""The ``drain-ls`` command line: the language server (default) and ``check``.

Here: the parser and ``main``, which runs a command from its module: ``check`` (``check``,
the files checked by ``checking``), ``run`` (``run``, ``headless``, ``apply_docstrings``),
``show`` (``show``, reading ``results``), ``queue`` and ``report`` (``report``), ``serve``
(``serve``); ``common`` holds what they share.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from drain_ls import __version__
from drain_ls.analysis.check_settings import DOCSTRING_STYLES, CheckSettings
from drain_ls.analysis.targets import DEFAULT_TARGET, TARGET_NAMES
from drain_ls.check_cache import DEFAULT_DIRECTORY
from drain_ls.cli.check import _settings as _settings  # read by the tests
from drain_ls.cli.check import command_check, parse_selectors
from drain_ls.cli.checking import (
    CHECKED_SUFFIXES,
    FileResult,
    check_file,
    encode_row,
    finding_json,
    run_checks,
)
from drain_ls.cli.checking import _result as _result  # read by the tests
from drain_ls.cli.common import (
    EXIT_CLEAN,
    EXIT_FINDINGS,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    UsageError,
    user_settings,
)
from drain_ls.cli.report import command_queue, command_report
from drain_ls.cli.run import TerminalPrompter, command_run
from drain_ls.cli.serve import command_serve

__all__ = [
    "CHECKED_SUFFIXES",
    "EXIT_CLEAN",
    "EXIT_FINDINGS",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "CheckSettings",
    "FileResult",
    "LineIndex",
    "TerminalPrompter",
    "UsageError",
    "build_parser",
    "check_file",
    "check_source",
    "command_check",
    "command_queue",
    "command_report",
    "command_run",
    "command_serve",
    "encode_row",
    "finding_json",
    "main",
    "parse_selectors",
    "run_checks",
    "user_settings",
]


def __getattr__(name: str) -> object:
    """``check_source`` and ``LineIndex``, re-exported for the tests, imported when first
    asked for: the checks load only when a file is checked (not when every file of a run is
    a cache hit)."""
    if name == "check_source":
        from drain_ls.analysis.checker import check_source

        return check_source
    if name == "LineIndex":
        from drain_ls.analysis.source import LineIndex

        return LineIndex
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def _version() -> str:
    """``drain-ls 0.1.0``, and whether the checks' byte scans run in C (``drain_ls._native``,
    built at install time when a C compiler was there) or in Python."""
    from drain_ls.analysis.native import NATIVE

    scans = "C" if NATIVE is not None else "Python (no C compiler at install time)"
    return f"drain-ls {__version__} (byte scans: {scans})"


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
    parser.add_argument("--version", action="version", version=_version())
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
    show.add_argument(
        "--backend",
        choices=("offline", "anthropic", "openai"),
        help="the results of this backend (as drain-ls run --backend)",
    )
    show.add_argument(
        "--base-url", metavar="URL", help="the openai backend's endpoint (as drain-ls run)"
    )
    show.add_argument("--model", help="the results of this model (as drain-ls run --model)")
    queue = commands.add_parser("queue", help="the deferred drain tasks, with their estimated cost")
    queue.add_argument("--json", action="store_true", help="print JSON")
    report = commands.add_parser("report", help="tokens, cost and tasks of the drains, per day")
    report.add_argument("--days", type=int, default=7, help="how many days (default 7)")
    report.add_argument("--json", action="store_true", help="print JSON")
    return parser


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
            from drain_ls.cli.show import command_show

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
