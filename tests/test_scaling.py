"""Every analysis is linear (or n log n) in the file's size and its number of names: doubling
the input at most about doubles the cost. Timed as a ratio of two runs measured side by side
(in turns, best of seven each, in CPU time: on a busy machine, wall time let the shorter run
find a quiet moment more often than the longer one), never against a wall-clock limit: a
quadratic step shows as a ratio near 4."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import pytest

from drain_ls.analysis.checker import CheckSettings, check_source
from drain_ls.analysis.source import parse


def check_costs(*sources: bytes, runs: int = 7) -> list[float]:
    """The best time of ``runs`` checks of each source, run in turns, without the garbage
    collector: in a test worker's heap of millions of objects, a full collection that one
    run sets off and the other does not weighs more than the check (ratios near 4 seen)."""
    trees = [parse(source) for source in sources]
    best = [float("inf")] * len(sources)
    gc.collect()
    gc.disable()
    try:
        for _ in range(runs):
            for i, (source, tree) in enumerate(zip(sources, trees, strict=True)):
                start = time.process_time()
                check_source(source, "m.py", CheckSettings(), tree)
                best[i] = min(best[i], time.process_time() - start)
    finally:
        gc.enable()
    return best


SHAPES: dict[str, Callable[[int], bytes]] = {
    # Thousands of names on one line (a generated re-export module).
    "names on one line": lambda n: (
        "from m import " + ", ".join(f"n{i}" for i in range(n)) + "\n"
    ).encode(),
    # The same, one name a line in parentheses.
    "names in parentheses": lambda n: (
        "from m import (\n" + "".join(f"    n{i},\n" for i in range(n)) + ")\n"
    ).encode(),
    # Many modules imported, none used: a finding and a fix for every line.
    "unused imports": lambda n: "".join(f"import m{i}\n" for i in range(n)).encode(),
    # The same module imported again and again.
    "repeated imports": lambda n: ("import os\n" * n).encode(),
    # Many imports, each used once further down.
    "imports and their uses": lambda n: (
        "".join(f"import m{i}\n" for i in range(n)) + "".join(f"m{i}.f()\n" for i in range(n))
    ).encode(),
    # Many imports, each used in a function of its own: as many scopes as names.
    "imports used in functions": lambda n: (
        "".join(f"import m{i}\n" for i in range(n))
        + "".join(f"def f{i}():\n    return m{i}.f()\n" for i in range(n))
    ).encode(),
    # Broken headers that never close (the def-header search of 9794bf6 read each to the end:
    # 6 s for 20,000 lines); a call that never closes, over as many lines.
    "unclosed def headers": lambda n: ("def f(a=1,\n" * n).encode(),
    "unclosed call": lambda n: ("f(a=1, b,\n" * n).encode(),
    # Triple quotes that never close (each was searched for to the end of the file).
    "triple quotes never closed": lambda n: ("\\'''\n" * n).encode(),
    "one call of many keywords": lambda n: (
        "f(" + "".join(f"k{i}={i},\n" for i in range(n)) + "a)\n"
    ).encode(),
    # Errors on every line: defaults out of order, arguments out of order, keywords as names.
    "defaults out of order": lambda n: ("def f(a=1, b): pass\n" * n).encode(),
    "arguments out of order": lambda n: ("f(a=1, b, a=2)\n" * n).encode(),
    "async as a name": lambda n: ("x = async\n" * n).encode(),
    # Many definitions without docstrings.
    "definitions": lambda n: "".join(
        f"def f{i}(a, b):\n    return a + b\n\n\n" for i in range(n)
    ).encode(),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_twice_the_input_costs_at_most_about_twice_as_much(shape: str) -> None:
    make = SHAPES[shape]
    small, large = check_costs(make(4_000), make(8_000))
    assert large / small < 3.0, f"{shape}: {small * 1000:.1f} ms -> {large * 1000:.1f} ms"
