"""Every analysis is linear (or n log n) in the file's size and its number of names: doubling
the input at most about doubles the cost. Timed as a ratio of two runs measured side by side
(best of five each, so that a busy machine slows both alike), never against a wall-clock
limit: a quadratic step shows as a ratio near 4."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from drain_ls.analysis.checker import CheckSettings, check_source
from drain_ls.analysis.source import parse


def best_of(runs: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def check_cost(source: bytes) -> float:
    tree = parse(source)
    return best_of(5, lambda: check_source(source, "m.py", CheckSettings(), tree))


SHAPES: dict[str, Callable[[int], bytes]] = {
    # Thousands of names on one line (a generated re-export module).
    "names on one line": lambda n: (
        "from m import " + ", ".join(f"n{i}" for i in range(n)) + "\n"
    ).encode(),
    # The same module imported again and again.
    "repeated imports": lambda n: ("import os\n" * n).encode(),
    # Many imports, each used once further down.
    "imports and their uses": lambda n: (
        "".join(f"import m{i}\n" for i in range(n)) + "".join(f"m{i}.f()\n" for i in range(n))
    ).encode(),
    # Many definitions without docstrings.
    "definitions": lambda n: "".join(
        f"def f{i}(a, b):\n    return a + b\n\n\n" for i in range(n)
    ).encode(),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_twice_the_input_costs_at_most_about_twice_as_much(shape: str) -> None:
    make = SHAPES[shape]
    small, large = check_cost(make(4_000)), check_cost(make(8_000))
    assert large / small < 3.0, f"{shape}: {small * 1000:.1f} ms -> {large * 1000:.1f} ms"
