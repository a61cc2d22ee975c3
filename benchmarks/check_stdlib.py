"""Time `drain-ls check` against ruff, pyflakes and pydocstyle on the same files, and measure
agreement with ruff.

    python benchmarks/check_stdlib.py [--root DIR] [--runs N] [--jobs N] [--skip-slow]

Files: every ``*.py`` under this interpreter's standard library (or ``--root``), without
``test/``, ``tests/``, ``idlelib/idle_test/`` and ``site-packages/`` directories. Every tool
gets the same file list in one invocation; wall times are the best and the median of
``--runs`` (pyflakes and pydocstyle, which take tens of seconds, run once). A last row,
``benchmarks/parse_only.py``, only reads and parses every file with tree-sitter in drain-ls's
worker pool: the floor under any drain-ls run. Agreement with ruff is matched on (file, code,
row). Results go to stdout and ``--out``/results.md; every disagreement to
``--out``/disagreements.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
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
FLOOR = "tree-sitter parse alone"
EXCLUDED_DIRS = {"test", "tests", "idle_test", "site-packages", "__pycache__"}


def stdlib_files(root: Path) -> list[Path]:
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
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        subprocess.run(
            command, stdout=out, stderr=err, check=False, env=ENV, cwd=cwd, timeout=timeout
        )
        elapsed = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        return elapsed, out.read(), err.read()


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
    rows = json.loads(text or "[]")
    return Counter(
        (str(Path(r["filename"]).resolve()), r["code"], r["location"]["row"]) for r in rows
    )


def family(code: str) -> str:
    return "F401" if code == "F401" else ("D1xx" if code.startswith("D1") else code)


def agreement(
    ours: Counter[tuple[str, str, int]], ruff: Counter[tuple[str, str, int]]
) -> list[dict[str, object]]:
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

    drain = args.drain_cmd.split() if args.drain_cmd else [tool("drain-ls")]
    drain_cmd = [*drain, "check", "--format", "json", "--select", CODES]
    if args.jobs:
        drain_cmd += ["--jobs", str(args.jobs)]
    ruff_cmd = [
        tool("ruff"),
        "check",
        "--isolated",
        "--no-cache",
        "--select",
        CODES,
        "--output-format",
        "json",
    ]

    results: dict[str, list[float]] = {}
    results["drain-ls check"], drain_out = timed(drain_cmd + names, args.runs)
    results["ruff check"], ruff_out = timed(ruff_cmd + names, args.runs)
    # The floor: tree-sitter's parse of every file in drain-ls's workers, and nothing else.
    floor_cmd = [sys.executable, str(Path(__file__).parent / "parse_only.py")]
    if args.jobs:
        floor_cmd += ["--jobs", str(args.jobs)]
    results[FLOOR], _ = timed(floor_cmd + names, args.runs)
    if not args.skip_slow:
        results["pyflakes"], _ = timed([sys.executable, "-m", "pyflakes", *names], 1)
        results["pydocstyle"], _ = timed(
            [sys.executable, "-m", "pydocstyle", "--select", CODES.replace("F401,", ""), *names], 1
        )

    ours, ruff = keys_from_json(drain_out), keys_from_json(ruff_out)
    table = agreement(ours, ruff)
    best = {name: min(times) for name, times in results.items()}
    ruff_best = best["ruff check"]

    lines = [
        f"Files: {len(files)} ({size / 1e6:.1f} MB) from {args.root}; "
        f"{os.cpu_count()} cores; Python {platform.python_version()}; "
        f"ruff {_version([tool('ruff'), '--version'])}.",
        "",
        "| tool | best (s) | median (s) | runs | vs ruff |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, times in results.items():
        lines.append(
            f"| {name} | {min(times):.2f} | {statistics.median(times):.2f} | {len(times)} | "
            f"{min(times) / ruff_best:.1f}x |"
        )
    lines += [
        "",
        f"drain-ls / ruff: **{best['drain-ls check'] / ruff_best:.1f}x** (goal: at most 5x).",
        f"The parse alone (`benchmarks/parse_only.py`: read and parse every file with "
        f"tree-sitter in drain-ls's workers, nothing else) is {best[FLOOR] / ruff_best:.1f}x "
        f"ruff's whole run; drain-ls's analysis, reporting and start-up add "
        f"{best['drain-ls check'] - best[FLOOR]:.2f} s.",
    ]
    if "pyflakes" in best:
        peers = best["pyflakes"] + best["pydocstyle"]
        lines.append(
            f"(pyflakes + pydocstyle) / drain-ls: **{peers / best['drain-ls check']:.0f}x** "
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
