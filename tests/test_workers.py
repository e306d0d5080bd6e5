"""Forked processes doing a merge's tasks: every task's outcome comes back once, a process
that dies costs only the tasks it held, and a task that fails stops the work loudly."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import pytest

from drafter.workers import Outcome, Workers


def run_all(jobs: int, start: Callable[[], Callable[[int], int]],
            tasks: range) -> list[Outcome[int, int]]:
    outcomes: list[Outcome[int, int]] = []
    with Workers(jobs, start) as workers:
        for task in tasks:
            outcomes += workers.add(task)
        outcomes += workers.finish()
    return outcomes


def squares() -> Callable[[int], int]:
    return lambda n: n * n


def test_every_task_comes_back_once_with_its_result() -> None:
    outcomes = run_all(2, squares, range(100))
    assert sorted(o.task for o in outcomes) == list(range(100))
    assert all(o.result == o.task * o.task and o.stopped is None for o in outcomes)


def test_the_work_is_done_in_other_processes() -> None:
    def start() -> Callable[[int], int]:
        return lambda n: os.getpid()
    pids = {o.result for o in run_all(2, start, range(64))}
    assert os.getpid() not in pids and len(pids) == 2


def test_a_process_that_dies_costs_only_the_tasks_it_held() -> None:
    def start() -> Callable[[int], int]:
        def do(n: int) -> int:
            if n == 13:
                os.kill(os.getpid(), signal.SIGKILL)
            return n * n
        return do
    outcomes = run_all(2, start, range(100))
    assert sorted(o.task for o in outcomes) == list(range(100))
    lost = [o for o in outcomes if o.stopped]
    assert 13 in {o.task for o in lost}
    assert {o.stopped for o in lost} == {"the process rendering it stopped (killed by signal 9)"}
    assert 8 <= len(lost) <= 16  # its batch, and the next one it held
    assert all(o.result == o.task * o.task for o in outcomes if not o.stopped)


def test_when_every_process_has_died_the_rest_is_done_here() -> None:
    parent = os.getpid()

    def start() -> Callable[[int], int]:
        def do(n: int) -> int:
            if os.getpid() != parent:
                os.kill(os.getpid(), signal.SIGKILL)
            return n * n
        return do
    outcomes = run_all(2, start, range(100))
    assert sorted(o.task for o in outcomes) == list(range(100))
    done = [o for o in outcomes if not o.stopped]
    assert len(done) >= 100 - 2 * 2 * 8 and all(o.result == o.task * o.task for o in done)


def test_a_task_that_raises_stops_the_work_with_its_traceback() -> None:
    def start() -> Callable[[int], int]:
        def do(n: int) -> int:
            if n == 30:
                raise ValueError("thirty is not allowed")
            return n
        return do
    with pytest.raises(ValueError, match="thirty is not allowed") as raised:
        run_all(2, start, range(100))
    assert isinstance(raised.value.__cause__, RuntimeError)
    assert "in do" in str(raised.value.__cause__)  # the traceback in the process


def test_the_processes_end_with_their_parent_even_killed(tmp_path) -> None:
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(
        "import multiprocessing, os, signal\n"
        "from drafter.workers import Workers\n"
        "with Workers(2, lambda: (lambda n: n)) as workers:\n"
        "    list(workers.add(1))\n"
        "    print(*[p.pid for p in multiprocessing.active_children()], flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n")
    parent = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            check=False)
    assert parent.returncode == -signal.SIGKILL
    children = [int(pid) for pid in parent.stdout.split()]
    assert len(children) == 2

    def running(pid: int) -> bool:  # an ended process nobody has reaped yet is a zombie (Z)
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            return False
    deadline = time.monotonic() + 30
    while any(map(running, children)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(running, children))
