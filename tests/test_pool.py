"""The CLI's worker pool: every file once, in order, on several processes, and a worker that
dies costs only its file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from unittest.mock import patch

import pytest

from drain_ls.pool import _map_with_executor, map_files

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the forked pool is Linux's")


def _work(path: str) -> tuple[str, int]:
    return path.upper(), os.getpid()


def _lost(path: str, reason: str) -> tuple[str, int]:
    return f"lost {path}: {reason}", -1


def test_results_come_in_the_order_of_the_paths_from_several_workers() -> None:
    paths = [f"file{i}" for i in range(300)]
    results = map_files(paths, 3, _slow_work, _lost, cost=lambda p: int(p[4:]) % 7)
    assert [r[0] for r in results] == [p.upper() for p in paths]
    pids = {pid for _, pid in results}
    assert os.getpid() not in pids
    assert len(pids) == 3  # each worker took some files


def _slow_work(path: str) -> tuple[str, int]:
    # Long enough that one worker cannot take every file before the others start.
    for _ in range(20_000):
        pass
    return _work(path)


def test_more_tasks_than_a_pipe_holds() -> None:
    # 40,000 indices are 160 KB: more than a pipe's 64 KB, so the parent must write them as
    # the workers read, while it reads their results.
    paths = [str(i) for i in range(40_000)]
    results = map_files(paths, 2, _work, _lost)
    assert [r[0] for r in results] == paths


def test_a_worker_that_dies_costs_only_its_file() -> None:
    def work(path: str) -> tuple[str, int]:
        if path == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        return _work(path)

    paths = ["a", "b", "crash", *(f"f{i}" for i in range(50))]
    results = map_files(paths, 2, work, _lost)
    assert results[2][0].startswith("lost crash: internal error")
    assert results[2][1] == -1
    others = [r for i, r in enumerate(results) if i != 2]
    assert [r[0] for r in others] == [p.upper() for p in paths if p != "crash"]


def test_every_worker_dying_loses_the_files_and_not_the_run() -> None:
    def work(path: str) -> tuple[str, int]:
        os._exit(3)

    results = map_files([f"f{i}" for i in range(10)], 2, work, _lost)
    assert all(r[1] == -1 for r in results)


def test_an_exception_in_the_work_is_that_files_error() -> None:
    def work(path: str) -> tuple[str, int]:
        if path == "bad":
            raise ValueError("boom")
        return _work(path)

    results = map_files(["x", "bad", "y", "z"], 2, work, _lost)
    assert results[1][0] == "lost bad: internal error: ValueError: boom"
    assert [results[0][0], results[2][0], results[3][0]] == ["X", "Y", "Z"]


class _Unreadable(Exception):
    """Pickles, but its ``__init__`` takes two arguments: unpickling it fails."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(a)


def test_a_result_that_cannot_be_read_back_costs_only_its_file() -> None:
    def work(path: str) -> object:
        return _Unreadable(path, "x") if path == "odd" else path.upper()

    results = map_files(["a", "odd", "b"], 2, work, lambda p, r: f"lost {p}: {r}")
    assert results[0] == "A" and results[2] == "B"
    assert str(results[1]).startswith("lost odd: internal error: its result could not be read")


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_when_workers_cannot_start_the_run_goes_on_and_leaks_nothing() -> None:
    real_fork = os.fork
    forks = 0

    def fork_twice() -> int:
        nonlocal forks
        forks += 1
        if forks > 1:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return real_fork()

    paths = [f"f{i}" for i in range(40)]
    before = _open_descriptors()
    with patch.object(os, "fork", fork_twice):  # one worker starts, the next cannot
        results = map_files(paths, 4, _work, _lost)
    assert [r[0] for r in results] == [p.upper() for p in paths]
    assert len({pid for _, pid in results}) == 1
    with patch.object(os, "fork", side_effect=OSError(12, "Cannot allocate memory")):
        results = map_files(paths, 4, _work, _lost)  # none starts: done here
    assert {pid for _, pid in results} == {os.getpid()}
    assert _open_descriptors() == before


def test_what_the_work_prints_is_not_lost() -> None:
    script = (
        "import sys\n"
        "from drain_ls.pool import map_files\n"
        "def work(path):\n"
        "    print('checked', path)\n"
        "    return path\n"
        "print('before')\n"  # buffered in the parent when the workers fork: printed once
        "map_files([f'f{i}' for i in range(20)], 2, work, lambda p, r: r)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    ).stdout.splitlines()
    assert out.count("before") == 1
    assert sorted(out[1:]) == sorted(f"checked f{i}" for i in range(20))


def test_one_job_or_one_file_runs_in_this_process() -> None:
    assert map_files(["a", "b"], 1, _work, _lost) == [("A", os.getpid()), ("B", os.getpid())]
    assert map_files(["a"], 4, _work, _lost) == [("A", os.getpid())]
    assert map_files([], 4, _work, _lost) == []


def test_the_executor_used_where_processes_are_spawned_gives_the_same_results() -> None:
    paths = [f"p{i}" for i in range(25)]
    order = list(reversed(range(25)))
    results = _map_with_executor(paths, 2, _work, _lost, order)
    assert [r[0] for r in results] == [p.upper() for p in paths]


# -- Ctrl-C, through the command line ---------------------------------------------------------


def _many_files(root: Path, count: int = 200) -> None:
    # ~2,000 small functions per file: the run lasts long enough to be interrupted.
    body = "".join(
        f"def f{i}(a, b=1):\n    return os.path.join(a, str(b))\n\n" for i in range(2000)
    )
    for i in range(count):
        (root / f"m{i}.py").write_text(f'"""M{i}."""\nimport os\nimport sys\n\n{body}')


def _start_check(root: Path, sigint: signal.Handlers) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "drain_ls", "check", "--format", "json", "--jobs", "2", "."],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell's foreground job
        preexec_fn=lambda: signal.signal(signal.SIGINT, sigint),
    )


def _wait_for_workers(process: subprocess.Popen[str]) -> None:
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    deadline = time.monotonic() + 60
    while not children.read_text().split():
        assert process.poll() is None, "the check ended before its workers started"
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_ctrl_c_stops_the_workers_and_exits_130_without_a_traceback(tmp_path: Path) -> None:
    _many_files(tmp_path)
    process = _start_check(tmp_path, signal.SIG_DFL)
    _wait_for_workers(process)
    os.killpg(process.pid, signal.SIGINT)  # what the terminal sends to the foreground job
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err == ""
    assert out == ""
    deadline = time.monotonic() + 10
    while True:  # no worker is left behind
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "a worker outlived the interrupted check"
        time.sleep(0.01)


def test_a_check_that_ignores_sigint_finishes_every_file(tmp_path: Path) -> None:
    # As under nohup or in a shell's background job: the workers must ignore it too.
    _many_files(tmp_path, 60)
    process = _start_check(tmp_path, signal.SIG_IGN)
    _wait_for_workers(process)
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1, err
    assert "internal error" not in err
    files = {Path(row["filename"]).name for row in json.loads(out) if row["code"] == "F401"}
    assert files == {f"m{i}.py" for i in range(60)}


def _hangs_on_slow(path: str) -> tuple[str, int]:
    if path.startswith("slow"):
        time.sleep(120)
    return _work(path)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_file_past_its_time_limit_is_stopped_and_another_worker_goes_on(jobs: int) -> None:
    """A worker still on a file when its time is up is killed: the file gets ``lost``'s
    result, and a new worker checks the files left (with one job as with several)."""
    paths = ["a", "slow1", *(f"f{i}" for i in range(20)), "slow2", "z"]
    start = time.monotonic()
    results = map_files(paths, jobs, _hangs_on_slow, _lost, limit=lambda path: 0.5)
    assert time.monotonic() - start < 60  # not the two minutes of a hung file
    for path, (text, pid) in zip(paths, results, strict=True):
        if path.startswith("slow"):
            assert text == f"lost {path}: stopped after 0 s, the time limit for this file"
        else:
            assert (text, pid != os.getpid()) == (path.upper(), True)
    assert len({pid for _, pid in results if pid != -1}) >= 2  # the killed one was replaced


def test_with_a_time_limit_even_one_file_is_checked_in_a_worker() -> None:
    [(text, pid)] = map_files(["slow"], 1, _hangs_on_slow, _lost, limit=lambda path: 0.3)
    assert (text.startswith("lost slow: stopped"), pid) == (True, -1)
    [(text, pid)] = map_files(["one"], 4, _work, _lost, limit=lambda path: 30.0)
    assert (text, pid != os.getpid()) == ("ONE", True)


def test_a_hostile_file_costs_the_check_its_time_limit_not_the_run(tmp_path: Path) -> None:
    """``drain-ls check``'s own pool and limit on a file that tree-sitter-python takes time
    quadratic in its length to parse (20,000 lines of ``x\\``: about a minute unstopped)."""
    from drain_ls.analysis.checker import CheckSettings
    from drain_ls.cli import checking

    hostile = tmp_path / "hostile.py"
    hostile.write_bytes(b"x\\\n" * 20_000)
    plain = tmp_path / "plain.py"
    plain.write_bytes(b"import os\n")
    start = time.monotonic()
    with patch.object(checking, "TIME_LIMIT_SECONDS", 0.5):
        results = checking.run_checks([str(hostile), str(plain)], CheckSettings(), jobs=2)
    assert time.monotonic() - start < 30
    by_path = {Path(r.path).name: r for r in results}
    assert by_path["hostile.py"].error == "stopped after 1 s, the time limit for this file"
    assert by_path["plain.py"].error is None
    assert by_path["plain.py"].count == 2  # D100 and F401


def test_with_a_time_limit_a_worker_that_dies_is_replaced_even_with_one_job() -> None:
    def work(path: str) -> tuple[str, int]:
        if path.startswith("crash"):
            os.kill(os.getpid(), signal.SIGKILL)
        return _work(path)

    paths = ["a", "crash1", "b", "crash2", *(f"f{i}" for i in range(10))]
    results = map_files(paths, 1, work, _lost, limit=lambda path: 30.0)
    for path, (text, _) in zip(paths, results, strict=True):
        expected = f"lost {path}: internal error: the worker checking it stopped unexpectedly"
        assert text == (expected if path.startswith("crash") else path.upper())
