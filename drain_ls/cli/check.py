"""``drain-ls check``: its settings (the flags over each file's nearest ``[tool.drain-ls]``,
read by the editor's loader, ``config.workspace``: the rules selected, the docstring style,
the target version; the exclusions of the first path's), the results caches it opens, and
the findings printed as text or JSON (``checking`` checks the files)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from drain_ls.analysis.check_settings import CheckSettings
from drain_ls.analysis.rules import ALL_CODES
from drain_ls.analysis.targets import resolve_target
from drain_ls.check_cache import DEFAULT_DIRECTORY, ResultsCache
from drain_ls.cli.checking import CHECKED_SUFFIXES, FileResult, _lost, run_checks
from drain_ls.cli.common import EXIT_CLEAN, EXIT_FINDINGS, UsageError, _display
from drain_ls.config.workspace import ProjectFinder, check_settings_of
from drain_ls.files import ConfigError, Excluder, discover, find_project_config


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


def _flags_layer(args: argparse.Namespace) -> dict[str, object]:
    """The rule settings the flags set (``--select``, ``--docstring-style``,
    ``--target-version``): the user's layer over each project's (``--ignore`` is added to
    each project's ignore list instead, as ruff does)."""
    layer: dict[str, object] = {}
    select = parse_selectors(args.select)
    if select:
        layer["select"] = sorted(select)
    if args.docstring_style:
        layer["docstringStyle"] = args.docstring_style
    if args.target_version:  # empty: as if not given
        try:
            layer["targetVersion"] = resolve_target(args.target_version).setting
        except ValueError as exc:
            raise UsageError(f"[tool.drain-ls] {exc}") from None
    return layer


class _Rules:
    """The check settings of each file: its nearest ``pyproject.toml``'s rule settings
    (``config.workspace``, strictly: an invalid value is an error naming the file), under
    the flags; each directory looked up once, each ``pyproject.toml`` read once."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.flags = _flags_layer(args)
        self.ignore = frozenset(parse_selectors(args.ignore) or ())
        self.finder = ProjectFinder()
        self._by_root: dict[Path | None, CheckSettings] = {}

    def of_directory(self, directory: Path) -> CheckSettings:
        """The settings of the files in ``directory``. Raises ``UsageError``."""
        root = self.finder.root_of(directory)
        found = self._by_root.get(root)
        if found is None:
            try:
                project = self.finder.config(root)
                found, _ = check_settings_of(project, self.flags, strict=True)
            except ConfigError as exc:
                raise UsageError(str(exc)) from exc
            if self.ignore:
                found = replace(found, select=found.select - self.ignore)
            self._by_root[root] = found
        return found

    def groups(self, files: list[str]) -> dict[CheckSettings, list[str]]:
        """``files`` by the settings they are checked with."""
        out: dict[CheckSettings, list[str]] = {}
        by_directory: dict[str, CheckSettings] = {}
        for path in files:
            directory = os.path.dirname(path) or "."
            settings = by_directory.get(directory)
            if settings is None:
                settings = by_directory[directory] = self.of_directory(Path(directory))
            out.setdefault(settings, []).append(path)
        return out


def _settings(
    args: argparse.Namespace, rules: _Rules | None = None
) -> tuple[CheckSettings, Excluder]:
    """The settings of the first path's project (its errors come first), and what the run
    excludes (the first path's project's exclusions and ``.gitignore`` files)."""
    first = args.paths[0] if args.paths else Path(".")
    start = first if first.is_dir() else first.parent
    settings = (rules or _Rules(args)).of_directory(start)
    try:
        config = find_project_config(start)
        excluder = Excluder(config, respect_gitignore=not args.no_respect_gitignore, warn=_warn)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    return settings, excluder


def command_check(args: argparse.Namespace) -> int:
    """``drain-ls check``."""
    for path in args.paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file or directory")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    rules = _Rules(args)
    _, excluder = _settings(args, rules)
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
    # Each file with the rules of its nearest pyproject.toml: one run per set of rules.
    directory = _cache_directory(args, excluder)
    results: list[FileResult] = []
    for settings, group in rules.groups(files).items():
        cache = ResultsCache.open(directory, settings) if directory is not None else None
        results += run_checks(
            group, settings, jobs, fix=args.fix, unsafe=args.unsafe_fixes, cache=cache
        )
    results.sort(key=lambda r: r.path)
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


def _cache_directory(args: argparse.Namespace, excluder: Excluder) -> Path | None:
    """The directory of the results caches this run reads and writes (None: ``--no-cache``;
    one cache per set of rules, ``ResultsCache.open``). A
    location the project chose (the default, or ``[tool.drain-ls] cache-dir``) must stay
    inside the project root once links are followed: a repository is untrusted, and a
    ``.drain_ls_cache`` link to the home directory would have a ``.gitignore`` written there.
    """
    if args.no_cache or os.environ.get("DRAIN_LS_NO_CACHE", "").strip() not in ("", "0"):
        return None
    chosen = args.cache_dir or os.environ.get("DRAIN_LS_CACHE_DIR") or None
    if chosen is not None:  # the user's own choice: anywhere
        return Path(chosen).absolute()
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
    return directory


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


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
