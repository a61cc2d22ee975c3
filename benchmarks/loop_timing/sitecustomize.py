"""Find what holds a process's asyncio event loop: every callback that runs longer than
``LOOP_TIMING_MS`` (default 8) is written to ``LOOP_TIMING_FILE``, with the process id, the
time, how long it ran and what it was (a task's name and coroutine).

Put this folder first on ``PYTHONPATH`` of the benchmark that starts the server, e.g.

    LOOP_TIMING_FILE=/tmp/loop.log PYTHONPATH=benchmarks/loop_timing \\
        python benchmarks/drain_costs.py

The server inherits the environment, so its loop is timed too (as is the client's: the
process ids tell them apart). This is how the 68 ms keystrokes of issue 17 were traced to
building drain tasks and cutting the tree into chunks in one step.
"""

from __future__ import annotations

import asyncio
import asyncio.events
import os
import time
from typing import Any

_FILE = os.environ.get("LOOP_TIMING_FILE")
_LIMIT_MS = float(os.environ.get("LOOP_TIMING_MS", "8"))
_run = asyncio.events.Handle._run


def _label(callback: Any) -> str:
    task = getattr(callback, "__self__", None)
    if isinstance(task, asyncio.Task):
        coroutine = task.get_coro()
        return f"task {task.get_name()} {getattr(coroutine, '__qualname__', coroutine)}"
    return repr(callback)[:160]


def _timed(self: asyncio.events.Handle) -> None:
    start = time.perf_counter()
    try:
        _run(self)
    finally:
        elapsed = (time.perf_counter() - start) * 1000
        if elapsed > _LIMIT_MS and _FILE:
            with open(_FILE, "a", encoding="utf-8") as out:
                label = _label(self._callback)  # type: ignore[attr-defined]
                out.write(f"{os.getpid()} {time.time():.3f} {elapsed:.1f}ms {label}\n")


if _FILE:
    asyncio.events.Handle._run = _timed  # type: ignore[method-assign]
