"""Time `drain-ls check` against the tree-sitter parse floor, ruff, pyflakes and pydocstyle on
the same files, cold and warm, and measure agreement with ruff.

    python benchmarks/check_stdlib.py [--root DIR] [--runs N] [--jobs N] [--skip-slow]

Files: every ``*.py`` under this interpreter's standard library (or ``--root``), without
``test/``, ``tests/``, ``idlelib/idle_test/`` and ``site-packages/`` directories. Every tool
gets the same file list in one invocation. The tools run in rounds (one run of each per
round, in turn, so that a burst of load on the machine hits them alike) after one untimed
warm-up run each; wall times are the best and the median of ``--runs`` rounds (pyflakes and
pydocstyle, which take tens of seconds, run once).

Rows: ``drain-ls check --no-cache`` (cold: every file parsed and analysed); ``drain-ls
check`` with a results cache that the previous run filled (warm: nothing changed); the
same with the cache emptied before each run (the first run, writing it); ruff with
``--no-cache`` and with its cache warm; ``benchmarks/parse_only.py``, which only reads and
parses every file with tree-sitter in drain-ls's worker pool with the same number of
processes (the floor under any cold drain-ls run); pyflakes; pydocstyle. Agreement with
ruff is matched on (file, code, row). Results go to stdout and ``--out``/results.md; every
disagreement to ``--out``/disagreements.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from pathlib import Path

CODES = "F401,D100,D101,D102,D103,D104,D105,D106,D107"
FLOOR = "parse floor (parse_only.py)"
COLD = "drain-ls check --no-cache"
WARM = "drain-ls check, warm cache"
FIRST = "drain-ls check, empty cache"
RUFF = "ruff check --no-cache"
RUFF_WARM = "ruff check, warm cache"
EXCLUDED_DIRS = {"test", "tests", "idle_test", "site-packages", "__pycache__"}


def stdlib_files(root: Path) -> list[Path]:
    """Every ``*.py`` under ``root``, test and site-packages directories left out."""
    files = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS)
        files += [Path(directory) / f for f in sorted(filenames) if f.endswith(".py")]
    return files


def tool(name: str) -> str:
    """A tool from this interpreter's environment first."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else (shutil.which(name) or name)


# Python tools run as installed ones do: with their bytecode cached. (Some machines set
# PYTHONDONTWRITEBYTECODE, which makes every run compile every module again.)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_once(
    command: list[str], cwd: str | os.PathLike[str] | None = None, timeout: float | None = None
) -> tuple[float, str, str]:
    """One run's wall time, standard output and standard error (both to files, not pipes,
    so that a reader never slows the tool down)."""
    elapsed, _, out, err = run_measured(command, cwd, timeout)
    return elapsed, out, err


def run_measured(
    command: list[str], cwd: str | os.PathLike[str] | None = None, timeout: float | None = None
) -> tuple[float, float, str, str]:
    """``run_once``, with the CPU time (user + system) of the tool and every process it
    started and waited for (its workers): a figure that other load on the machine moves
    far less than the wall time."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            command, stdout=out, stderr=err, check=False, env=ENV, cwd=cwd, timeout=timeout
        )
        elapsed = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        out.seek(0)
        err.seek(0)
        return elapsed, cpu, out.read(), err.read()


def timed(command: list[str], runs: int) -> tuple[list[float], str]:
    """Wall times of ``runs`` runs, after one untimed warm-up run (caches, bytecode), and the
    output of the last one (to a file, not a pipe)."""
    subprocess.run(command, capture_output=True, check=False, env=ENV)
    times = []
    output = ""
    for _ in range(runs):
        elapsed, output, _ = run_once(command)
        times.append(elapsed)
    return times, output


def keys_from_json(text: str) -> Counter[tuple[str, str, int]]:
    """(file, code, row) of every finding in a ruff-shaped JSON output."""
    rows = json.loads(text or "[]")
    return Counter(
        (str(Path(r["filename"]).resolve()), r["code"], r["location"]["row"]) for r in rows
    )


def family(code: str) -> str:
    """The family a code is counted in: F401 or D1xx."""
    return "F401" if code == "F401" else ("D1xx" if code.startswith("D1") else code)


def agreement(
    ours: Counter[tuple[str, str, int]], ruff: Counter[tuple[str, str, int]]
) -> list[dict[str, object]]:
    """Precision and recall against ruff, per family."""
    rows = []
    for fam in ("F401", "D1xx"):
        o = Counter({k: v for k, v in ours.items() if family(k[1]) == fam})
        r = Counter({k: v for k, v in ruff.items() if family(k[1]) == fam})
        tp = sum((o & r).values())
        n_o, n_r = sum(o.values()), sum(r.values())
        rows.append(
            {
                "family": fam,
                "ruff": n_r,
                "drain-ls": n_o,
                "agree": tp,
                "precision": tp / n_o if n_o else 1.0,
                "recall": tp / n_r if n_r else 1.0,
            }
        )
    return rows


def main() -> int:
    """Run the benchmark and write its report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(sysconfig.get_paths()["stdlib"]))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=None, help="drain-ls --jobs")
    parser.add_argument("--skip-slow", action="store_true", help="skip pyflakes and pydocstyle")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument(
        "--drain-cmd", default=None, help="command that runs drain-ls (default: the console script)"
    )
    args = parser.parse_args()

    files = stdlib_files(args.root)
    size = sum(f.stat().st_size for f in files)
    names = [str(f) for f in files]
    print(f"{len(files)} files, {size / 1e6:.1f} MB under {args.root}", file=sys.stderr)
    load = os.getloadavg()[0]

    drain = args.drain_cmd.split() if args.drain_cmd else [tool("drain-ls")]
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    drain_cmd = [*drain, "check", "--format", "json", "--select", CODES, *jobs]
    ruff_cmd = [tool("ruff"), "check", "--isolated", "--select", CODES, "--output-format", "json"]
    state = Path(tempfile.mkdtemp(prefix="check-stdlib-"))
    floor_cmd = [sys.executable, str(Path(__file__).parent / "parse_only.py"), *jobs]
    drain_first_cache = state / "drain-first"
    # name -> (command, a cache directory emptied before each timed run)
    tools: dict[str, tuple[list[str], Path | None]] = {
        COLD: ([*drain_cmd, "--no-cache"], None),
        WARM: ([*drain_cmd, "--cache-dir", str(state / "drain-warm")], None),
        FIRST: ([*drain_cmd, "--cache-dir", str(drain_first_cache)], drain_first_cache),
        RUFF: ([*ruff_cmd, "--no-cache"], None),
        RUFF_WARM: ([*ruff_cmd, "--cache-dir", str(state / "ruff-warm")], None),
        FLOOR: (floor_cmd, None),
    }
    results: dict[str, list[float]] = {name: [] for name in tools}
    cpu: dict[str, list[float]] = {name: [] for name in tools}
    outputs: dict[str, str] = {}
    try:
        for command, _ in tools.values():  # untimed: page cache, bytecode, the warm caches
            subprocess.run(command + names, capture_output=True, check=False, env=ENV)
        for _ in range(args.runs):
            for name, (command, empty) in tools.items():
                if empty is not None:
                    shutil.rmtree(empty, ignore_errors=True)
                elapsed, seconds, outputs[name], _ = run_measured(command + names)
                results[name].append(elapsed)
                cpu[name].append(seconds)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    drain_out, ruff_out = outputs[COLD], outputs[RUFF]
    if not outputs[WARM] == outputs[FIRST] == drain_out:
        print("warning: warm and cold drain-ls output differ", file=sys.stderr)
    if not args.skip_slow:
        results["pyflakes"], _ = timed([sys.executable, "-m", "pyflakes", *names], 1)
        results["pydocstyle"], _ = timed(
            [sys.executable, "-m", "pydocstyle", "--select", CODES.replace("F401,", ""), *names], 1
        )

    ours, ruff = keys_from_json(drain_out), keys_from_json(ruff_out)
    table = agreement(ours, ruff)
    best = {name: min(times) for name, times in results.items()}
    median = {name: statistics.median(times) for name, times in results.items()}
    ruff_best = best[RUFF]

    lines = [
        f"Files: {len(files)} ({size / 1e6:.1f} MB) from {args.root}; "
        f"{os.cpu_count()} cores; Python {platform.python_version()}; "
        f"ruff {_version([tool('ruff'), '--version'])}; load average before: {load:.2f}.",
        "",
        "| tool | best (s) | median (s) | runs | vs parse floor | vs ruff --no-cache "
        "| CPU, median (s) | CPU vs floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    cpu_median = {name: statistics.median(c) for name, c in cpu.items() if c}
    for name, times in results.items():
        row = (
            f"| {name} | {min(times):.3f} | {statistics.median(times):.3f} | {len(times)} | "
            f"{min(times) / best[FLOOR]:.2f}x | {min(times) / ruff_best:.1f}x |"
        )
        if name in cpu_median:
            row += f" {cpu_median[name]:.2f} | {cpu_median[name] / cpu_median[FLOOR]:.2f}x |"
        else:
            row += " | |"
        lines.append(row)
    lines += [
        "",
        f"- cold drain-ls / parse floor: **{best[COLD] / best[FLOOR]:.2f}x** best, "
        f"{median[COLD] / median[FLOOR]:.2f}x median, {cpu_median[COLD] / cpu_median[FLOOR]:.2f}x "
        f"in CPU time (goal: at most 1.3x); above the floor: {best[COLD] - best[FLOOR]:.3f} s.",
        f"- cold / warm drain-ls: **{best[COLD] / best[WARM]:.1f}x** best, "
        f"{median[COLD] / median[WARM]:.1f}x median (goal: at least 10x); ruff: "
        f"{best[RUFF] / best[RUFF_WARM]:.1f}x. The goal's own words, the first run (which "
        f"writes the cache) / the second: {best[FIRST] / best[WARM]:.1f}x best, "
        f"{median[FIRST] / median[WARM]:.1f}x median.",
        f"- cold drain-ls / ruff --no-cache: {best[COLD] / ruff_best:.1f}x; warm drain-ls / "
        f"warm ruff: {best[WARM] / best[RUFF_WARM]:.1f}x.",
    ]
    if "pyflakes" in best:
        peers = best["pyflakes"] + best["pydocstyle"]
        lines.append(
            f"- (pyflakes + pydocstyle) / cold drain-ls: **{peers / best[COLD]:.1f}x** "
            "(goal: at least 20x)."
        )
    lines += [
        "",
        "| family | ruff | drain-ls | agree | precision | recall |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in table:
        lines.append(
            f"| {row['family']} | {row['ruff']} | {row['drain-ls']} | {row['agree']} | "
            f"{row['precision']:.2%} | {row['recall']:.2%} |"
        )
    report = "\n".join(lines)
    print(report)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text(report + "\n")
    with open(args.out / "disagreements.txt", "w") as out:
        for label, counter in (("only drain-ls", ours - ruff), ("only ruff", ruff - ours)):
            for key in sorted(counter):
                out.write(f"{label}: {key[0]}:{key[2]} {key[1]}\n")
    return 0


def _version(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    match = re.search(r"[\d.]+", result.stdout)
    return match.group() if match else "?"


if __name__ == "__main__":
    raise SystemExit(main())
