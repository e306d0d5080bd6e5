"""Long work, off the request thread: merges in a process of their own, previews one at a time.

A merge runs :func:`drafter.merge.merge` in a child process, exactly as ``drafter merge`` does,
and reports its progress through a queue. Cancelling sends it SIGINT: the merge stops the way
Ctrl-C stops the CLI, keeping only complete letters and a manifest of what it reached.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DrafterError, LibreOfficeMissing
from ..merge import MergeOptions, MergeReport, merge
from ..pdf import Converter, LibreOffice, WarmLibreOffice, reserved_profiles
from ..preview import page_images
from ..render import RenderedLetter

MAX_PREVIEWS = 16  # drafts whose page images are kept in memory


@dataclass
class MergeJob:
    """One merge started from the studio, and what is known of it so far."""

    id: str
    case: str  # workspace-relative
    recipients: str
    outdir: Path
    state: str = "starting"  # starting, running, done, failed, cancelled
    done: int = 0
    total: int = 0
    error: str = ""
    report: MergeReport | None = None
    started: float = field(default_factory=time.monotonic)
    process: Any = None  # multiprocessing.Process
    changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def finished(self) -> bool:
        """Whether the merge has ended, well or not."""
        return self.state in ("done", "failed", "cancelled")

    def snapshot(self) -> dict[str, Any]:
        """The job as the page shows it."""
        percent = 100 if self.state == "done" else int(100 * self.done / self.total) \
            if self.total else 0
        report = self.report
        return {"id": self.id, "state": self.state, "done": self.done, "total": self.total,
                "percent": percent, "error": self.error,
                "summary": None if report is None else {
                    "written": report.written, "skipped": report.skipped,
                    "failed": report.failed, "invalid": report.invalid,
                    "total": report.total}}


def _merge_in_child(case: str, recipients: str, outdir: str, options: MergeOptions,
                    queue: Any) -> None:
    """The child process: one merge, its progress and its end sent through ``queue``."""
    def progress(done: int, total: int) -> None:
        queue.put(("progress", done, total))
    try:
        report = merge(Path(case), Path(recipients), Path(outdir), options,
                       on_progress=progress)
    except KeyboardInterrupt:
        queue.put(("cancelled", "stopped: only complete letters were kept"))
    except DrafterError as e:
        queue.put(("failed", str(e)))
    except Exception as e:  # reported on the page, not lost in a child's stderr
        queue.put(("failed", f"{type(e).__name__}: {e}"))
    else:
        queue.put(("done", report))


class Jobs:
    """The merges of one studio run, by id."""

    def __init__(self) -> None:
        self.jobs: dict[str, MergeJob] = {}
        self.context = multiprocessing.get_context("spawn")

    def start(self, case: Path, recipients: Path, outdir: Path, options: MergeOptions,
              names: tuple[str, str]) -> MergeJob:
        """Start a merge in a child process; returns at once."""
        job = MergeJob(secrets.token_hex(8), names[0], names[1], outdir)
        queue = self.context.Queue()
        job.process = self.context.Process(
            target=_merge_in_child, args=(str(case), str(recipients), str(outdir), options,
                                          queue), daemon=True)
        job.process.start()
        self.jobs[job.id] = job
        threading.Thread(target=self._follow, args=(job, queue), daemon=True).start()
        return job

    def _follow(self, job: MergeJob, queue: Any) -> None:
        job.state = "running"
        while True:
            try:
                message = queue.get(timeout=0.5)
            except Exception:  # queue.Empty: is the child still there?
                if job.process.is_alive():
                    continue
                message = ("failed", f"the merge process ended (exit status "
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

    def cancel(self, job: MergeJob) -> None:
        """Stop a running merge as Ctrl-C would."""
        if not job.finished and job.process is not None and job.process.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(job.process.pid, signal.SIGINT)

    def close(self) -> None:
        """Stop every merge still running, and wait for them."""
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
