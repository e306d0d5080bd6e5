"""Long work, off the request thread: merges and sends in a process of their own, previews one
at a time.

A merge runs :func:`drafter.merge.merge` in a child process, exactly as ``drafter merge`` does,
and reports its progress through a queue; a send runs :func:`drafter.send.send_drafts` the same
way, as ``drafter send --send`` does. Cancelling sends the child SIGINT: it stops the way
Ctrl-C stops the CLI (a merge keeps only complete letters and a manifest of what it reached; a
send has logged every message the server accepted).

Previews of a draft go through :func:`drafter.preview.page_images`, one at a time, with one
LibreOffice kept running between changes (:class:`drafter.pdf.WarmLibreOffice`); a preview
asked for while a newer one of the same draft is waiting is dropped rather than converted.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import secrets
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DrafterError, LibreOfficeMissing, StudioError
from ..merge import MergeOptions, MergeReport, merge
from ..pdf import Converter, LibreOffice, WarmLibreOffice, reserved_profiles
from ..preview import page_images
from ..render import RenderedLetter
from ..send import SendOptions, send_drafts

MAX_PREVIEWS = 16  # drafts whose page images are kept in memory


@dataclass
class Job:
    """A merge or a send started from the studio, and what is known of it so far."""

    id: str
    kind: str  # "merge" or "send"
    case: str  # workspace-relative: the merge's files ("" for a send)
    recipients: str
    outdir: Path
    state: str = "starting"  # starting, running, done, failed, cancelled
    done: int = 0
    total: int = 0
    error: str = ""
    report: Any = None  # a MergeReport or a SendReport, once done
    started: float = field(default_factory=time.monotonic)
    process: Any = None  # multiprocessing.Process
    changed: threading.Condition = field(default_factory=threading.Condition)
    settings: dict[str, str] = field(default_factory=dict)  # a send's form, without password

    @property
    def finished(self) -> bool:
        """Whether the work has ended, well or not."""
        return self.state in ("done", "failed", "cancelled")

    @property
    def unit(self) -> str:
        """What the job counts: letters, or messages."""
        return "letters" if self.kind == "merge" else "messages"

    def snapshot(self) -> dict[str, Any]:
        """The job as the page shows it."""
        percent = 100 if self.state == "done" else int(100 * self.done / self.total) \
            if self.total else 0
        return {"id": self.id, "kind": self.kind, "state": self.state, "done": self.done,
                "total": self.total, "percent": percent, "error": self.error,
                "unit": self.unit, "summary": self.summary()}

    def summary(self) -> str | None:
        """What a finished job did, in a line; None before it ends well."""
        report = self.report
        if report is None:
            return None
        if isinstance(report, MergeReport):
            return report.summary()
        said = (f"{report.sent} sent, {len(report.failed)} failed, {len(report.deferred)} "
                f"deferred, {len(report.uncertain)} uncertain, {report.skipped} skipped (sent "
                f"before), {report.left} left for later, {report.not_emailed} not emailed")
        return said if report.planned or report.skipped else f"nothing to send: {said}"


MergeJob = Job  # the name the merge pages knew it by


def _merge_in_child(case: str, recipients: str, outdir: str, options: MergeOptions,
                    queue: Any) -> None:
    """The child process: one merge, its progress and its end sent through ``queue``."""
    _report_to(queue, lambda progress: merge(Path(case), Path(recipients), Path(outdir),
                                             options, on_progress=progress),
               cancelled="only complete letters were kept")


def _send_in_child(outdir: str, options: SendOptions, password: str | None,
                   queue: Any) -> None:
    """The child process: one send, as ``drafter send --send`` does. The password came
    through the pipe that started the process; it is never written anywhere."""
    _report_to(queue, lambda progress: send_drafts(Path(outdir), options, password=password,
                                                   on_progress=progress),
               cancelled="the messages the server accepted are logged; a message that was "
                         "being sent is uncertain (listed when you send again)")


def _report_to(queue: Any, work: Callable[[Callable[[int, int], None]], Any], *,
               cancelled: str) -> None:
    """Run a child's ``work`` (given its progress callback), sending its progress and its end
    (done with its report, cancelled, or failed with the message) through ``queue``."""
    def progress(done: int, total: int) -> None:
        queue.put(("progress", done, total))
    try:
        report = work(progress)
    except KeyboardInterrupt:
        queue.put(("cancelled", cancelled))
    except DrafterError as e:
        queue.put(("failed", str(e)))
    except Exception as e:  # reported on the page, not lost in a child's stderr
        queue.put(("failed", f"{type(e).__name__}: {e}"))
    else:
        queue.put(("done", report))


class Jobs:
    """The merges and sends of one studio run, by id."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.context = multiprocessing.get_context("spawn")

    def start(self, case: Path, recipients: Path, outdir: Path, options: MergeOptions,
              names: tuple[str, str]) -> Job:
        """Start a merge in a child process; returns at once."""
        job = Job(secrets.token_hex(8), "merge", names[0], names[1], outdir)
        return self._run(job, _merge_in_child, (str(case), str(recipients), str(outdir),
                                                options))

    def send(self, outdir: Path, options: SendOptions, password: str | None) -> Job:
        """Start sending the drafts of a merge in a child process; returns at once. Refused
        while another send of the same folder runs (send.py also refuses it, with a lock)."""
        for other in self.jobs.values():
            if other.kind == "send" and other.outdir == outdir and not other.finished:
                raise StudioError("these messages are being sent now; wait for that send to "
                                  "end, or cancel it")
        job = Job(secrets.token_hex(8), "send", "", "", outdir)
        return self._run(job, _send_in_child, (str(outdir), options, password))

    def _run(self, job: Job, target: Any, args: tuple[Any, ...]) -> Job:
        queue = self.context.Queue()
        job.process = self.context.Process(target=target, args=(*args, queue), daemon=True)
        job.process.start()
        self.jobs[job.id] = job
        threading.Thread(target=self._follow, args=(job, queue), daemon=True).start()
        return job

    def _follow(self, job: Job, queue: Any) -> None:
        job.state = "running"
        while True:
            try:
                message = queue.get(timeout=0.5)
            except Exception:  # queue.Empty: is the child still there?
                if job.process.is_alive():
                    continue
                message = ("failed", f"the {job.kind} process ended (exit status "
                                     f"{job.process.exitcode})")
            with job.changed:
                kind = message[0]
                if kind == "progress":
                    job.done, job.total = message[1], message[2]
                elif kind == "done":
                    job.report = message[1]
                    job.state = "done"
                else:
                    job.state, job.error = kind, message[1]
                job.changed.notify_all()
            if job.finished:
                job.process.join(timeout=30)
                return

    def cancel(self, job: Job) -> None:
        """Stop a running merge or send as Ctrl-C would."""
        if not job.finished and job.process is not None and job.process.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(job.process.pid, signal.SIGINT)

    def close(self) -> None:
        """Stop every job still running, and wait for them."""
        for job in self.jobs.values():
            self.cancel(job)
        for job in self.jobs.values():
            if job.process is not None:
                job.process.join(timeout=60)
                if job.process.is_alive():
                    job.process.kill()


class Previews:
    """Page images of drafts, made one at a time with one kept LibreOffice profile."""

    def __init__(self, converter: Converter | None = None, resolution: int = 80) -> None:
        self.resolution = resolution
        self.lock = threading.Lock()  # the bookkeeping below
        self.converting = threading.Lock()
        self.latest: dict[str, int] = {}  # draft -> the newest request's number
        self.counter = 0
        self.images: OrderedDict[str, list[bytes]] = OrderedDict()
        self._profiles = reserved_profiles(1)
        self._given = converter

    def __enter__(self) -> Previews:
        (profile,) = self._profiles.__enter__()
        self.converter = self._given or _LazyOffice(profile)
        return self

    def __exit__(self, *exc: object) -> None:
        if isinstance(self.converter, _LazyOffice):
            self.converter.close()
        self._profiles.__exit__(None, None, None)

    def key(self, rendered: RenderedLetter) -> str:
        """The name under which a rendered letter's pages are kept."""
        return hashlib.sha256(rendered.docx).hexdigest()[:24]

    def pages(self, draft: str, rendered: RenderedLetter) -> tuple[str, int] | None:
        """Make (or find) the page images of a draft's letter: (key, page count). ``None``
        when a newer preview of the same draft was asked for meanwhile."""
        with self.lock:
            self.counter += 1
            mine = self.latest[draft] = self.counter
        key = self.key(rendered)
        with self.lock:
            if key in self.images:
                self.images.move_to_end(key)
                return key, len(self.images[key])
        with self.converting:  # one conversion at a time: one LibreOffice profile
            with self.lock:
                if self.latest.get(draft) != mine:
                    return None
            images = page_images(rendered, resolution=self.resolution,
                                 converter=self.converter)
        with self.lock:
            self.images[key] = images
            while len(self.images) > MAX_PREVIEWS:
                self.images.popitem(last=False)
        return key, len(images)

    def image(self, key: str, page: int) -> bytes | None:
        """A kept page image (1-based), or ``None``."""
        with self.lock:
            images = self.images.get(key)
        return images[page - 1] if images and 1 <= page <= len(images) else None


class _LazyOffice:
    """The previews' converter, started when the first preview needs it: a LibreOffice kept
    running (:class:`~drafter.pdf.WarmLibreOffice`) where LibreOffice's Python bridge is
    installed, else a LibreOffice started per preview. A studio without LibreOffice still
    drafts and checks, and says what to install when asked for pages."""

    def __init__(self, profile: Path) -> None:
        self.profile = profile
        self.office: LibreOffice | None = None

    def convert(self, docx_files: Any, outdir: Path) -> list[Path]:
        if self.office is None:
            try:
                self.office = WarmLibreOffice(profile=self.profile, timeout=120)
            except LibreOfficeMissing:  # no uno bridge (or no LibreOffice: said again below)
                self.office = LibreOffice(profile=self.profile, timeout=120)
        return self.office.convert(docx_files, outdir)

    def close(self) -> None:
        if isinstance(self.office, WarmLibreOffice):
            self.office.close()
