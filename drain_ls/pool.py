"""Run a function over many files on all cores: forked workers that take one file at a time.

On Linux, ``map_files`` forks its workers, so they start with everything already imported,
and deals files through one pipe shared by all of them: a worker reads the next file's index
(4 bytes, a read no other worker can split) when it is done with the last, so that the workers
finish together whatever the files cost. Each result comes back as soon as it is ready, on the
worker's own pipe. A worker that dies (a crash in a C extension, a kill) costs only the file it
had in hand, which gets ``lost``'s result; the other workers take over the rest.

Elsewhere (macOS and Windows start processes by spawning, where a fork is unsafe or missing),
``concurrent.futures``' process pool runs the same function over balanced chunks.

Compared with ``concurrent.futures`` on Linux, there is no manager thread, no queue-feeder
threads and no ``multiprocessing`` import (~15 ms of a short run), and a dead worker does not
break the run.
"""

from __future__ import annotations

import os
import pickle
import selectors
import signal
import struct
import sys
from collections.abc import Callable
from typing import TypeVar

R = TypeVar("R")

_INDEX = struct.Struct("<I")
_LENGTH = struct.Struct("<I")
# Writes of at most PIPE_BUF bytes are atomic (POSIX guarantees 512; Linux has 4096): a
# batch of whole indices never interleaves with another, so every 4-byte read is one index.
_BATCH = 512


def map_files(
    paths: list[str],
    jobs: int,
    work: Callable[[str], R],
    lost: Callable[[str, str], R],
    cost: Callable[[str], int] | None = None,
) -> list[R]:
    """``work(path)`` for every path, in ``jobs`` processes, results in the order of ``paths``.

    ``work`` must not raise. ``cost`` estimates a file's work (the biggest are dealt first).
    A file whose worker dies gets ``lost(path, reason)``.
    """
    if jobs <= 1 or len(paths) < 2:
        return [work(path) for path in paths]
    jobs = min(jobs, len(paths))
    order = list(range(len(paths)))
    if cost is not None:
        costs = [cost(path) for path in paths]
        order.sort(key=costs.__getitem__, reverse=True)
    if sys.platform != "linux":
        return _map_with_executor(paths, jobs, work, order)
    return _map_forked(paths, jobs, work, lost, order)


def _map_forked(
    paths: list[str],
    jobs: int,
    work: Callable[[str], R],
    lost: Callable[[str, str], R],
    order: list[int],
) -> list[R]:
    task_read, task_write = os.pipe()
    feeder = _Feeder(b"".join(_INDEX.pack(i) for i in order), task_write)
    workers: dict[int, int] = {}  # result pipe -> pid
    try:
        for _ in range(jobs):
            result_read, result_write = os.pipe()
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:  # the worker
                status = 1
                try:
                    os.close(task_write)
                    os.close(result_read)
                    for inherited in workers:
                        os.close(inherited)
                    _serve(paths, work, lost, task_read, result_write)
                    status = 0
                finally:
                    os._exit(status)
            os.close(result_write)
            workers[result_read] = pid
        os.close(task_read)
        results: dict[int, R] = _collect(feeder, workers)
    finally:
        feeder.close()
        for fd in workers:
            os.close(fd)
        for pid in workers.values():
            _reap(pid)
    out: list[R] = []
    for index, path in enumerate(paths):
        if index in results:
            out.append(results[index])
        else:
            out.append(lost(path, "internal error: the worker checking it stopped unexpectedly"))
    return out


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


def _serve(
    paths: list[str],
    work: Callable[[str], R],
    lost: Callable[[str, str], R],
    tasks: int,
    results: int,
) -> None:
    """The worker: take an index, do the work, send the result; until the tasks run out.
    Signals are handled as in the parent: Ctrl-C (KeyboardInterrupt) ends the worker
    silently, through ``os._exit``; where the parent ignores SIGINT, so does the worker."""
    while True:
        data = os.read(tasks, _INDEX.size)
        if not data:
            return
        (index,) = _INDEX.unpack(data)
        path = paths[index]
        try:
            result = work(path)
            blob = pickle.dumps((index, result), pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # a bug must cost one file, not the run
            reason = f"internal error: {type(exc).__name__}: {exc}"
            blob = pickle.dumps((index, lost(path, reason)), pickle.HIGHEST_PROTOCOL)
        view = memoryview(_LENGTH.pack(len(blob)) + blob)
        while view:
            view = view[os.write(results, view) :]


def _collect(feeder: _Feeder, workers: dict[int, int]) -> dict[int, R]:
    """Feed the tasks and read the results, never blocking on any one pipe, until every
    worker has closed its result pipe."""
    results: dict[int, R] = {}
    buffers = {fd: bytearray() for fd in workers}
    with selectors.DefaultSelector() as selector:
        os.set_blocking(feeder.fd, False)
        selector.register(feeder.fd, selectors.EVENT_WRITE)
        for fd in workers:
            selector.register(fd, selectors.EVENT_READ)
        open_pipes = len(workers)
        while open_pipes:
            for key, _ in selector.select():
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
                    continue
                buffer = buffers[fd]
                buffer += chunk
                while len(buffer) >= _LENGTH.size:
                    (size,) = _LENGTH.unpack_from(buffer)
                    end = _LENGTH.size + size
                    if len(buffer) < end:
                        break
                    index, result = pickle.loads(buffer[_LENGTH.size : end])
                    results[index] = result
                    del buffer[:end]
    return results


def _map_with_executor(
    paths: list[str], jobs: int, work: Callable[[str], R], order: list[int]
) -> list[R]:
    from concurrent.futures import ProcessPoolExecutor

    # Biggest files first, dealt round-robin: chunks of about equal cost.
    chunks = [[(i, paths[i]) for i in order[k :: jobs * 4]] for k in range(jobs * 4)]
    results: dict[int, R] = {}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_run_chunk, work, chunk) for chunk in chunks if chunk]
        for future in futures:
            results.update(future.result())
    return [results[i] for i in range(len(paths))]


def _run_chunk(work: Callable[[str], R], chunk: list[tuple[int, str]]) -> dict[int, R]:
    return {i: work(path) for i, path in chunk}


def _reap(pid: int) -> None:
    """Wait for a worker; one still running (the parent was interrupted) is stopped first."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == 0:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
    except (ChildProcessError, ProcessLookupError):
        pass
