"""Work spread over forked processes: how a DOCX merge renders its letters on every core.

This module owns those processes: starting them (forked, so that each starts with what the
parent has made, such as compiled templates, without copying it through a pipe), handing each a
few small tasks at a time, collecting the results in the order they come, and saying which tasks
a process that stopped took with it. What a task is, how it is done and what its result means
belong to the caller (:mod:`drafter.merge`).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import pickle
import signal
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Generic, TypeVar

Task = TypeVar("Task")
Result = TypeVar("Result")

BATCH = 8  # tasks per message to a process
HELD = 2  # batches a process holds at once: the one it works on and the next


def cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether this process can fork safely: the platform forks, no other thread runs (a
    thread's lock held at the fork would stay locked in the child), and this process is not
    itself a daemonic worker of another program's pool (which may not have children)."""
    return ("fork" in multiprocessing.get_all_start_methods()
            and threading.active_count() == 1
            and not multiprocessing.current_process().daemon)


@dataclass(frozen=True)
class Outcome(Generic[Task, Result]):
    """A task done (``result``), or lost with the process that had it (``stopped`` says how)."""

    task: Task
    result: Result | None = None
    stopped: str | None = None


class Workers(Generic[Task, Result]):
    """``jobs`` forked processes, each doing tasks with the function ``start`` makes in it.

    ``start`` runs once in each process, after the fork; the function it returns takes a task
    and returns its result (both must pickle). A task that raises stops the whole work: its
    exception is raised here (caused by a :class:`RuntimeError` holding its traceback in the
    process), as it would be in one process. A
    process that dies (killed, out of memory) costs the tasks it held, each given back as an
    :class:`Outcome` with ``stopped``; the others go on, and when none is left the remaining
    tasks are done in this process.

    ``add`` and ``finish`` yield the outcomes finished so far, in the order they finish::

        with Workers(2, start) as workers:
            for task in tasks:
                for outcome in workers.add(task):
                    ...
            for outcome in workers.finish():
                ...
    """

    def __init__(self, jobs: int, start: Callable[[], Callable[[Task], Result]]) -> None:
        self.jobs = jobs
        self.start = start
        self._processes: list[Any] = []  # multiprocessing's forked Process
        self._connections: list[Connection] = []
        self._held: list[deque[list[Task]]] = []
        self._batch: list[Task] = []
        self._here: Callable[[Task], Result] | None = None  # when every process has stopped

    def __enter__(self) -> Workers[Task, Result]:
        context = multiprocessing.get_context("fork")
        gc.freeze()  # what the processes inherit stays out of their collections: not copied
        try:
            for _ in range(self.jobs):
                mine, theirs = context.Pipe()
                process = context.Process(
                    target=_serve, args=(theirs, [*self._connections, mine], self.start),
                    daemon=True, name="drafter-render")
                process.start()
                theirs.close()
                self._processes.append(process)
                self._connections.append(mine)
                self._held.append(deque())
        except BaseException:
            self._stop()
            raise
        finally:
            gc.unfreeze()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop(graceful=exc[0] is None)

    def add(self, task: Task) -> Iterator[Outcome[Task, Result]]:
        """Queue ``task``; yields the outcomes that finished while waiting for room."""
        self._batch.append(task)
        if len(self._batch) >= BATCH:
            yield from self._send()

    def finish(self) -> Iterator[Outcome[Task, Result]]:
        """Send what is queued and yield every outcome still to come."""
        if self._batch:
            yield from self._send()
        while any(self._held):
            yield from self._collect()

    def _send(self) -> Iterator[Outcome[Task, Result]]:
        batch, self._batch = self._batch, []
        while True:
            alive = [i for i, p in enumerate(self._processes) if p is not None]
            if not alive:
                yield from self._do_here(batch)
                return
            room = [i for i in alive if len(self._held[i]) < HELD]
            if room:
                least = min(room, key=lambda i: len(self._held[i]))
                try:
                    self._connections[least].send(batch)
                except OSError:  # it has stopped since its last answer
                    yield from self._lost(least)
                    continue
                self._held[least].append(batch)
                return
            yield from self._collect()

    def _collect(self) -> Iterator[Outcome[Task, Result]]:
        """Wait until a process answers or stops; yield what that settles."""
        busy = [i for i, held in enumerate(self._held) if held]
        ready = set(wait([self._connections[i] for i in busy]
                         + [self._processes[i].sentinel for i in busy]))
        for i in busy:
            connection = self._connections[i]
            if connection not in ready and self._processes[i].sentinel not in ready:
                continue
            try:
                answer: list[tuple[bool, Any]] | None = (
                    connection.recv() if connection.poll() else None)
            except (EOFError, OSError):  # it died while answering
                answer = None
            if answer is None:
                yield from self._lost(i)
                continue
            for task, (ok, value) in zip(self._held[i].popleft(), answer, strict=True):
                if not ok:
                    error, where = value
                    failed = RuntimeError(f"a rendering process failed:\n{where}")
                    raise (error or failed) from failed
                yield Outcome(task, value)

    def _lost(self, i: int) -> Iterator[Outcome[Task, Result]]:
        process = self._processes[i]
        process.join()
        code = process.exitcode
        why = (f"killed by signal {-code}" if code is not None and code < 0
               else f"exit code {code}")
        self._processes[i] = None
        self._connections[i].close()
        held, self._held[i] = self._held[i], deque()
        for batch in held:
            for task in batch:
                yield Outcome(task, stopped=f"the process rendering it stopped ({why})")

    def _do_here(self, batch: list[Task]) -> Iterator[Outcome[Task, Result]]:
        if self._here is None:
            self._here = self.start()
        for task in batch:
            yield Outcome(task, self._here(task))

    def _stop(self, graceful: bool = False) -> None:
        for i, process in enumerate(self._processes):
            if process is None:
                continue
            if graceful:
                with contextlib.suppress(OSError):  # it has stopped on its own
                    self._connections[i].send(None)
                process.join(5)
            if process.is_alive():
                process.terminate()
                process.join(5)
            if process.is_alive():
                process.kill()
                process.join()
            self._connections[i].close()
        self._processes = [None] * len(self._processes)


def _serve(connection: Connection, others: list[Connection],
           start: Callable[[], Callable[[Any], Any]]) -> None:
    """A process's loop: batches in, one ``(ok, result or failure)`` per task out; None ends.

    It ends too when its parent does (even killed): it holds what the parent held at the fork
    (an output folder's lock), which must not outlive it. ``others``: the parent's ends of the
    pipes, inherited at the fork, closed here. A failure is the exception with its traceback
    (or only the traceback, when the exception cannot be sent).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, _stopped)  # the parent's own handler is not ours
    for other in others:
        other.close()
    parent = multiprocessing.parent_process()
    do = start()
    while True:
        if parent is not None and connection not in wait([connection, parent.sentinel]):
            return  # the parent has ended
        try:
            batch = connection.recv()
        except EOFError:
            return
        if batch is None:
            break
        answer = []
        for task in batch:
            try:
                answer.append((True, do(task)))
            except Exception as e:
                answer.append((False, (_sendable(e), traceback.format_exc())))
        connection.send(answer)
    connection.close()


def _stopped(signum: int, frame: object) -> None:
    """SIGTERM in a worker: end as an exception does, so that a file half written is removed."""
    raise SystemExit(128 + signum)


def _sendable(error: Exception) -> Exception | None:
    """``error`` when it survives the pipe (pickles and unpickles), else None."""
    try:
        copy: Exception = pickle.loads(pickle.dumps(error))
        return copy
    except Exception:
        return None
