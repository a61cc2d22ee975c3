"""Find what holds a process's asyncio event loop: every callback that runs longer than
``LOOP_TIMING_MS`` (default 8) is written to ``LOOP_TIMING_FILE``, with the process id, the
time it ended, how long it ran and what it was (a task's name and coroutine).

Put this folder first on ``PYTHONPATH`` of the benchmark that starts the server, e.g.

    LOOP_TIMING_FILE=/tmp/loop.log PYTHONPATH=benchmarks/loop_timing \\
        python benchmarks/drain_costs.py

The server inherits the environment, so its loop is timed too (as is the client's: the
process ids tell them apart). This is how the 68 ms keystrokes of issue 17 were traced to
building drain tasks and cutting the tree into chunks in one step.

With ``LOOP_TIMING_STACKS=1`` a thread also samples the loop thread's stack every
millisecond while a callback runs; a long callback's entry is followed by its most frequent
innermost frames (``file:line function``, sample counts), which says where the time went.
Every garbage collection over the limit is written too (``gc gen2 103.0ms``, with the
number of objects the collector tracks), whichever callback it interrupted.
"""

from __future__ import annotations

import asyncio
import asyncio.events
import collections
import gc
import os
import sys
import threading
import time
from typing import Any

_FILE = os.environ.get("LOOP_TIMING_FILE")
_LIMIT_MS = float(os.environ.get("LOOP_TIMING_MS", "8"))
_STACKS = os.environ.get("LOOP_TIMING_STACKS") == "1"
_run = asyncio.events.Handle._run


class _Sampler:
    """Samples one thread's innermost frames while ``active``."""

    def __init__(self) -> None:
        # The loop thread gives the GIL up to another thread every switch interval (5 ms by
        # default) or at a blocking call: with the default, samples gather at the blocking
        # calls (a write, os.urandom) and miss the code between them. The shorter interval
        # slows the process a little: its figures are for finding where time goes, not for
        # quoting.
        sys.setswitchinterval(0.0002)
        self.thread_id = threading.get_ident()
        self.active = False
        self.samples: collections.Counter[str] = collections.Counter()
        threading.Thread(target=self._loop, daemon=True, name="loop-timing").start()

    def _loop(self) -> None:
        while True:
            time.sleep(0.001)
            if not self.active:
                continue
            frame = sys._current_frames().get(self.thread_id)
            parts = []
            while frame is not None and len(parts) < 4:
                code = frame.f_code
                if not code.co_filename.startswith("<frozen"):  # the import machinery
                    where = f"{os.path.basename(code.co_filename)}:{frame.f_lineno}"
                    parts.append(f"{where} {code.co_name}")
                frame = frame.f_back
            if parts:
                self.samples[" < ".join(parts)] += 1


_sampler: _Sampler | None = None


def _label(callback: Any) -> str:
    task = getattr(callback, "__self__", None)
    if isinstance(task, asyncio.Task):
        coroutine = task.get_coro()
        return f"task {task.get_name()} {getattr(coroutine, '__qualname__', coroutine)}"
    return repr(callback)[:160]


def _timed(self: asyncio.events.Handle) -> None:
    global _sampler
    if _STACKS and _sampler is None:
        _sampler = _Sampler()
    if _sampler is not None:
        _sampler.samples.clear()
        _sampler.active = True
    start = time.perf_counter()
    try:
        _run(self)
    finally:
        elapsed = (time.perf_counter() - start) * 1000
        if _sampler is not None:
            _sampler.active = False
        if elapsed > _LIMIT_MS and _FILE:
            with open(_FILE, "a", encoding="utf-8") as out:
                label = _label(self._callback)  # type: ignore[attr-defined]
                out.write(f"{os.getpid()} {time.time():.3f} {elapsed:.1f}ms {label}\n")
                if _sampler is not None:
                    for stack, count in _sampler.samples.most_common(6):
                        out.write(f"    {count:4d} {stack}\n")


_gc_start = 0.0


def _gc_timed(phase: str, info: dict[str, int]) -> None:
    global _gc_start
    if phase == "start":
        _gc_start = time.perf_counter()
        return
    elapsed = (time.perf_counter() - _gc_start) * 1000
    if elapsed > _LIMIT_MS and _FILE:
        with open(_FILE, "a", encoding="utf-8") as out:
            out.write(
                f"{os.getpid()} {time.time():.3f} {elapsed:.1f}ms gc gen{info['generation']} "
                f"collected {info['collected']} of {len(gc.get_objects())} tracked\n"
            )


if _FILE:
    asyncio.events.Handle._run = _timed  # type: ignore[method-assign]
    gc.callbacks.append(_gc_timed)
