"""Run a function over many files on all cores: forked workers that take one file at a time.

On Linux, ``map_files`` forks its workers, so they start with everything already imported,
and deals files through one pipe shared by all of them: a worker reads the next file's index
(4 bytes, a read no other worker can split) when it is done with the last, so that the workers
finish together whatever the files cost. Each result comes back as soon as it is ready, on the
worker's own pipe. A worker that dies (a crash in a C extension, a kill) costs only the file it
had in hand, which gets ``lost``'s result; the other workers take over the rest. So does a
result that cannot be pickled or read back, or an exception that ``work`` lets out.

With a ``limit`` (seconds per file), a worker tells the parent which file it starts; one
still on it when its time is up is killed, the file gets ``lost``'s result, and a new worker
takes its place (as one does for a worker that dies with a file in hand). tree-sitter takes
time quadratic in the length of a few shapes of broken code: a hostile file must cost its
time limit, not the run. A run with a limit forks even for one file or one job.

Elsewhere (macOS and Windows start processes by spawning, where a fork is unsafe or missing),
``concurrent.futures``' process pool runs the same function over balanced chunks; there, a
dead worker costs the files of every chunk not yet done.

Compared with ``concurrent.futures`` on Linux, there is no manager thread, no queue-feeder
threads and no ``multiprocessing`` import (~15 ms of a short run), and a dead worker does not
break the run.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import selectors
import signal
import struct
import sys
import time
from collections.abc import Callable
from typing import TypeVar

R = TypeVar("R")

_INDEX = struct.Struct("<I")
_HEADER = struct.Struct("<II")  # a result's file index and the length of its pickle
DIED = "internal error: the worker checking it stopped unexpectedly"
# A result's size that says the worker starts the file instead (``limit``).
_STARTED = 0xFFFFFFFF
# Writes of at most PIPE_BUF bytes are atomic (POSIX guarantees 512; Linux has 4096): a
# batch of whole indices never interleaves with another, so every 4-byte read is one index.
_BATCH = 512


def map_files(
    paths: list[str],
    jobs: int,
    work: Callable[[str], R],
    lost: Callable[[str, str], R],
    cost: Callable[[str], int] | None = None,
    limit: Callable[[str], float] | None = None,
) -> list[R]:
    """``work(path)`` for every path, in ``jobs`` processes, results in the order of ``paths``.

    ``cost`` estimates a file's work (the biggest are dealt first). A file whose work raises,
    or whose worker dies, gets ``lost(path, reason)``; so does one that takes more than
    ``limit(path)`` seconds (on Linux; with a limit, even one file is checked in a worker).
    """
    if not paths:
        return []
    forked = sys.platform == "linux"
    if (jobs <= 1 or len(paths) < 2) and (limit is None or not forked):
        return [_attempt(work, lost, path) for path in paths]
    jobs = min(jobs, len(paths))
    order = list(range(len(paths)))
    if cost is not None:
        costs = [cost(path) for path in paths]
        order.sort(key=costs.__getitem__, reverse=True)
    if not forked:
        return _map_with_executor(paths, jobs, work, lost, order)
    return _map_forked(paths, max(1, jobs), work, lost, order, limit)


def _attempt(work: Callable[[str], R], lost: Callable[[str, str], R], path: str) -> R:
    try:
        return work(path)
    except Exception as exc:  # a bug must cost one file, not the run
        return lost(path, _internal_error(exc))


def _internal_error(exc: Exception) -> str:
    return f"internal error: {type(exc).__name__}: {exc}"


def _map_forked(
    paths: list[str],
    jobs: int,
    work: Callable[[str], R],
    lost: Callable[[str, str], R],
    order: list[int],
    limit: Callable[[str], float] | None = None,
) -> list[R]:
    task_read, task_write = os.pipe()
    feeder = _Feeder(b"".join(_INDEX.pack(i) for i in order), task_write)
    workers: dict[int, int] = {}  # result pipe -> pid
    try:
        for _ in range(jobs):
            try:
                _start_worker(paths, work, lost, task_read, task_write, workers, limit)
            except OSError:  # out of processes or descriptors: the workers started will do
                break
        if limit is None:  # else kept, for a worker that takes a killed one's place
            os.close(task_read)
            task_read = -1
        if not workers:
            return [_attempt(work, lost, path) for path in paths]

        def replace() -> None:
            _start_worker(paths, work, lost, task_read, feeder.fd, workers, limit)

        results: dict[int, R] = _collect(feeder, workers, paths, lost, limit, replace)
    finally:
        if task_read >= 0:
            os.close(task_read)
        feeder.close()
        for fd in workers:
            os.close(fd)
        for pid in workers.values():
            _reap(pid)
    return [results[i] if i in results else lost(path, DIED) for i, path in enumerate(paths)]


def _start_worker(
    paths: list[str],
    work: Callable[[str], R],
    lost: Callable[[str, str], R],
    task_read: int,
    task_write: int,
    workers: dict[int, int],
    limit: Callable[[str], float] | None = None,
) -> None:
    """Fork a worker and add it to ``workers`` (its result pipe -> its pid). ``task_write``:
    the parent's end of the task pipe, or -1 once it is closed."""
    result_read, result_write = os.pipe()
    sys.stdout.flush()  # or the worker would write the parent's buffered output again
    sys.stderr.flush()
    # Ctrl-C waits until the worker is known: the parent must be able to stop it, and the
    # worker must not run the caller's code on a KeyboardInterrupt.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        pid = os.fork()
    except OSError:
        os.close(result_read)
        os.close(result_write)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        raise
    if pid == 0:  # the worker
        status = 1
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            if task_write >= 0:
                os.close(task_write)
            os.close(result_read)
            for inherited in workers:
                os.close(inherited)
            _serve(paths, work, lost, task_read, result_write, limit is not None)
            status = 0
        finally:
            for stream in (sys.stdout, sys.stderr):  # what ``work`` printed
                with contextlib.suppress(Exception):
                    stream.flush()
            os._exit(status)
    os.close(result_write)
    workers[result_read] = pid
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _serve(
    paths: list[str],
    work: Callable[[str], R],
    lost: Callable[[str, str], R],
    tasks: int,
    results: int,
    announce: bool = False,
) -> None:
    """The worker: take an index, do the work, send the result; until the tasks run out.
    ``announce``: first tell the parent which file it starts (for its time limit).
    Signals are handled as in the parent: Ctrl-C (KeyboardInterrupt) ends the worker
    silently, through ``os._exit``; where the parent ignores SIGINT, so does the worker."""
    while True:
        data = os.read(tasks, _INDEX.size)
        if not data:
            return
        (index,) = _INDEX.unpack(data)
        path = paths[index]
        if announce:
            os.write(results, _HEADER.pack(index, _STARTED))  # 8 bytes: never split
        try:
            blob = pickle.dumps(_attempt(work, lost, path), pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # a result that cannot be pickled
            blob = pickle.dumps(lost(path, _internal_error(exc)), pickle.HIGHEST_PROTOCOL)
        view = memoryview(_HEADER.pack(index, len(blob)) + blob)
        while view:
            view = view[os.write(results, view) :]


class _Feeder:
    """The parent's end of the task pipe, written as the workers make room."""

    def __init__(self, tasks: bytes, fd: int) -> None:
        self.tasks = tasks
        self.fd = fd
        self.sent = 0

    def feed(self) -> bool:
        """Write what the pipe takes; True once every task is written (or nobody reads)."""
        try:
            self.sent += os.write(self.fd, self.tasks[self.sent : self.sent + _INDEX.size * _BATCH])
        except BlockingIOError:
            return False
        except BrokenPipeError:  # every worker died
            return True
        return self.sent >= len(self.tasks)

    def close(self) -> None:
        """Close the pipe: the workers see the end of the tasks."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _collect(
    feeder: _Feeder,
    workers: dict[int, int],
    paths: list[str],
    lost: Callable[[str, str], R],
    limit: Callable[[str], float] | None = None,
    replace: Callable[[], None] | None = None,
) -> dict[int, R]:
    """Feed the tasks and read the results, never blocking on any one pipe, until every
    worker has closed its result pipe. With a ``limit``, a worker past its file's time is
    killed and ``replace`` forks another while files are left."""
    results: dict[int, R] = {}
    buffers = {fd: bytearray() for fd in workers}
    # With a limit: the file each worker is on, and when its time is up (by result pipe).
    started: dict[int, tuple[int, float]] = {}

    def respawn(selector: selectors.BaseSelector) -> int:
        """Fork a worker in the place of one that is gone, if files are left: how many."""
        if replace is None or len(results) + len(started) >= len(paths):
            return 0
        fresh = set(workers)
        with contextlib.suppress(OSError):
            replace()
        for new in set(workers) - fresh:
            buffers[new] = bytearray()
            selector.register(new, selectors.EVENT_READ)
        return len(set(workers) - fresh)

    with selectors.DefaultSelector() as selector:
        os.set_blocking(feeder.fd, False)
        selector.register(feeder.fd, selectors.EVENT_WRITE)
        for fd in workers:
            selector.register(fd, selectors.EVENT_READ)
        open_pipes = len(workers)
        while open_pipes:
            timeout = None
            if started:
                timeout = max(0.0, min(due for _, due in started.values()) - time.monotonic())
            ready = selector.select(timeout)
            if started:
                now = time.monotonic()
                killed: set[int] = (
                    set()
                )  # (a new worker's pipe may get the number of a killed one's)
                for fd, (index, due) in list(started.items()):
                    if due > now:
                        continue
                    del started[fd]
                    killed.add(fd)
                    os.kill(workers[fd], signal.SIGKILL)
                    assert limit is not None  # (only then are the files announced)
                    reason = (
                        f"stopped after {limit(paths[index]):.0f} s, the time limit for this file"
                    )
                    results[index] = lost(paths[index], reason)
                    selector.unregister(fd)
                    open_pipes -= 1
                    os.close(fd)
                    buffers.pop(fd)
                    _reap(workers.pop(fd))
                    open_pipes += respawn(selector)
                ready = [(key, mask) for key, mask in ready if key.fd not in killed]
            for key, _ in ready:
                fd = key.fd
                if fd == feeder.fd:
                    if feeder.feed():
                        selector.unregister(fd)
                        feeder.close()
                    continue
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    selector.unregister(fd)
                    open_pipes -= 1
                    held = started.pop(fd, None)
                    if held is not None:  # it died with a file in hand: another goes on
                        results[held[0]] = lost(paths[held[0]], DIED)
                        open_pipes += respawn(selector)
                    continue
                buffer = buffers[fd]
                buffer += chunk
                while len(buffer) >= _HEADER.size:
                    index, size = _HEADER.unpack_from(buffer)
                    if size == _STARTED:
                        assert limit is not None
                        started[fd] = (index, time.monotonic() + limit(paths[index]))
                        del buffer[: _HEADER.size]
                        continue
                    started.pop(fd, None)
                    end = _HEADER.size + size
                    if len(buffer) < end:
                        break
                    try:
                        results[index] = pickle.loads(buffer[_HEADER.size : end])
                    except Exception as exc:  # a result that pickles but does not unpickle
                        reason = f"internal error: its result could not be read back: {exc}"
                        results[index] = lost(paths[index], reason)
                    del buffer[:end]
    return results


def _map_with_executor(
    paths: list[str],
    jobs: int,
    work: Callable[[str], R],
    lost: Callable[[str, str], R],
    order: list[int],
) -> list[R]:
    from concurrent.futures import ProcessPoolExecutor

    # Biggest files first, dealt round-robin: chunks of about equal cost.
    chunks = [[(i, paths[i]) for i in order[k :: jobs * 4]] for k in range(jobs * 4)]
    results: dict[int, R] = {}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [(pool.submit(_run_chunk, work, lost, c), c) for c in chunks if c]
        for future, chunk in futures:
            try:
                results.update(future.result())
            except Exception as exc:  # a dead worker breaks the pool: its chunks are lost
                reason = f"internal error: the worker pool stopped: {type(exc).__name__}"
                results.update({i: lost(path, reason) for i, path in chunk})
    return [results[i] for i in range(len(paths))]


def _run_chunk(
    work: Callable[[str], R], lost: Callable[[str, str], R], chunk: list[tuple[int, str]]
) -> dict[int, R]:
    return {i: _attempt(work, lost, path) for i, path in chunk}


def _reap(pid: int) -> None:
    """Wait for a worker; one still running (the parent was interrupted) is stopped first."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == 0:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
    except (ChildProcessError, ProcessLookupError):
        pass
