"""Sharing the event loop with the keystrokes: long work done a slice at a time
(``in_slices``), the per-document timers and tasks that a change or a close cancels, and the
heap kept out of the garbage collector's sight (``freeze_heap``: a full collection held the
loop for 70-100 ms)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Generator
from typing import TypeVar, cast

# How long building a document's drain tasks (or cutting its tree) may hold the event loop
# at a time.
BUILD_SLICE = 0.002
T = TypeVar("T")


def freeze_heap() -> None:
    """Move every object alive now (mostly modules, classes and functions: the SDK alone is
    100,000 of them) out of the garbage collector's sight (``gc.freeze``).

    A full collection walks every object it tracks: with the SDK imported, 216,000 of them
    and 70-100 ms in one step of the event loop, in front of whatever keystroke comes
    (measured with ``benchmarks/loop_timing``, issue 17). Called once the server has
    started (``initialized``) and once the SDK is warm; what is frozen is still freed when
    its last reference goes, only a cycle among such objects would stay."""
    gc.freeze()


def _cancel_timer(timers: dict[str, asyncio.TimerHandle], uri: str) -> None:
    """Cancel and forget the timer ``timers`` holds for ``uri``, if any."""
    handle = timers.pop(uri, None)
    if handle is not None:
        handle.cancel()


async def in_slices(steps: Generator[None, None, T], current: Callable[[], bool]) -> T | None:
    """Run ``steps`` for at most ``BUILD_SLICE`` seconds at a time, letting the event loop
    answer what came in between; None (the steps closed) once ``current()`` says false."""
    loop = asyncio.get_running_loop()
    try:
        while True:
            deadline = loop.time() + BUILD_SLICE
            try:
                next(steps)
                while loop.time() < deadline:
                    next(steps)
            except StopIteration as done:
                return cast(T, done.value)
            await asyncio.sleep(0)
            if not current():
                return None
    finally:
        steps.close()


def _cancel_task(tasks: dict[str, asyncio.Task[None]], uri: str) -> None:
    """Cancel and forget the task ``tasks`` holds for ``uri``, if any."""
    task = tasks.pop(uri, None)
    if task is not None:
        task.cancel()
