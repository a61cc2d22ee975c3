"""The CPU a language server spends per keystroke: drain-ls against `ruff server`, same client.

    python benchmarks/keystroke_cpu.py [--rounds N] [--reps N] [--skip-ruff] [--settle S]
        [--timeout S]

The openers of ``lsp_latency.py``'s edit shapes (``( [ { " ' \"\"\" ''' # \\``, each typed at
the end of its anchor line and erased, one character per ``didChange``) at the top, middle
and end of this interpreter's ``typing.py``, ``--reps`` times (78 keystrokes each time),
with a hover at the cursor behind every keystroke, closed loop (the next keystroke waits for
the diagnostics of the last and the hover's answer). The servers are the ones ``lsp_latency.py`` starts, with the same
settings. For each server and round: the CPU time (user + system, every thread) of the
server's process from ``/proc/PID/stat``, read after the file was opened and analysed and
again after the last keystroke, divided by the number of keystrokes. Rounds alternate the
servers; each round starts a new server process.

Why CPU and not latency: on a shared machine wall-clock latency moves with whatever else
runs, while the CPU a process spends on the same keystrokes moves far less, so two versions
of drain-ls compare well by it (run this once per version, in turns). Linux only (/proc).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import sysconfig
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from lsp_latency import (  # a sibling script, not a package
    OPENERS,
    POSITIONS,
    FileResult,
    Run,
    Session,
    anchors,
    servers,
    shape_edits,
)

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` (all its threads), in seconds."""
    # Fields 14 and 15 (utime, stime); the name in field 2 may hold spaces, so count from
    # after its closing parenthesis (field 3 is the first there).
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def one_round(session: Session, runs: list[Run], settle: float) -> tuple[float, int, int]:
    """(CPU seconds, keystrokes, keystrokes unanswered) of one server on ``runs``."""
    result = FileResult()
    if not await session.ensure(result.events):
        raise RuntimeError(f"{session.server.name} did not start: {result.events}")
    client = session.client
    assert client is not None
    await client.quiet(settle, limit=10)
    before = cpu_seconds(client.pid)
    for run in runs:
        await session.play(run, result, settle=0.0)
    after = cpu_seconds(client.pid)
    samples = result.samples.get(session.server.name, [])
    lost = sum(1 for s in samples if s.publish_ms is None) + sum(result.skipped.values())
    await client.stop()
    session.client = None
    return after - before, len(samples), lost


async def main_async(args: argparse.Namespace) -> int:
    text = (Path(sysconfig.get_paths()["stdlib"]) / "typing.py").read_text()
    lines = text.split("\n")
    anchor = anchors(text)
    runs = [
        Run(shape, position, rep, shape_edits(shape, lines, anchor, position))
        for rep in range(args.reps)
        for position in POSITIONS
        for shape in OPENERS
    ]
    chosen = servers(args.skip_ruff)
    per_key: dict[str, list[float]] = {s.name: [] for s in chosen}
    with tempfile.TemporaryDirectory() as workdir:
        for round_ in range(args.rounds):
            order = chosen if round_ % 2 == 0 else chosen[::-1]
            for server in order:
                session = Session(server, Path(workdir), "typing", text, args.timeout)
                cpu, keys, lost = await one_round(session, runs, args.settle)
                per_key[server.name].append(cpu / keys * 1000)
                note = f", {lost} unanswered" if lost else ""
                print(
                    f"round {round_ + 1} {server.name}: {cpu:.2f} s CPU for {keys} keystrokes, "
                    f"{cpu / keys * 1000:.2f} ms each{note}",
                    file=sys.stderr,
                )
    print("| server | CPU per keystroke, ms (each round) | median |")
    print("|---|---|---:|")
    for name, values in per_key.items():
        rounds = ", ".join(f"{v:.2f}" for v in values)
        print(f"| {name} | {rounds} | {statistics.median(values):.2f} |")
    return 0


def main() -> int:
    """Measure, print a table (progress on stderr)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reps", type=int, default=6, help="times each shape is played")
    parser.add_argument("--skip-ruff", action="store_true")
    parser.add_argument("--settle", type=float, default=1.0, help="quiet seconds before a round")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per keystroke")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
