"""Timing for the tests that compare a cost with a peer's measured in the same run (never
with a wall-clock limit: the machines are shared and noisy)."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_seconds(run: Callable[[], object], rounds: int = 3) -> float:
    """The least time ``run()`` took in ``rounds`` runs."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best
