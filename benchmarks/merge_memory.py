"""Peak memory of `drafter merge` (DOCX only) over 10,000 and 100,000 recipients.

Each run is a fresh `drafter merge` process; its peak resident set size comes from the kernel
(`wait4` of the child: the largest of it and the processes it waited for). A DOCX merge renders
in processes forked from it (drafter/workers.py), which share its memory until they write to
it, so the whole tree is also sampled every half second: the peak of its proportional set size
(PSS, from /proc/PID/smaps_rollup: shared pages counted once in all), drafter's processes apart
from LibreOffice's. Recipients are streamed, so the peaks should not grow with the count
(target: < 300 MB at 10,000, and about the same at 100,000).

``--multilingual`` merges the campaign example (its texts in seven languages, its recipients
repeated) instead of the source letter; ``-f pdf`` (repeatable) asks for other formats than
DOCX, e.g. PDF for 10,000 recipients (the peak is the merge process's own; LibreOffice's
processes are its children and are measured apart from it).

    python benchmarks/merge_memory.py [--multilingual] [-f FORMAT ...] [COUNT ...]
                                                      (default: -f docx 10000 100000)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from merge_docx import CAMPAIGN, campaign_recipients

from common import write_case, write_recipients


def tree(pid: int) -> list[int]:
    """``pid`` and every process under it."""
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        try:
            for task in Path(f"/proc/{found[-1]}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except OSError:  # it has just ended
            continue
    return found


def pss_mb(pids: list[int]) -> tuple[float, float]:
    """The summed PSS of ``pids`` in MB: drafter's processes, LibreOffice's."""
    ours = office = 0.0
    for pid in pids:
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:  # it has just ended
            continue
        kib = next((int(line.split()[1]) for line in rollup.splitlines()
                    if line.startswith("Pss:")), 0)
        if name in ("soffice.bin", "oosplash", "soffice") or b"office_worker" in command:
            office += kib / 1024  # LibreOffice, and the Python bridge drafter drives it with
        else:
            ours += kib / 1024
    return ours, office


def peak_rss_mb(case: Path, recipients: Path, outdir: Path,
                formats: list[str]) -> tuple[float, float, float, float]:
    """The merge's own peak RSS, the peak PSS of drafter's processes and of LibreOffice's
    (sampled), and the time taken."""
    drafter = Path(sys.executable).parent / "drafter"
    start = time.perf_counter()
    flags = [flag for fmt in formats for flag in ("-f", fmt)]
    child = subprocess.Popen([str(drafter), "merge", str(case), str(recipients), "-o",
                              str(outdir), *flags, "-q"], stdout=subprocess.DEVNULL)
    peaks = [0.0, 0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            ours, office = pss_mb(tree(child.pid))
            peaks[0], peaks[1] = max(peaks[0], ours), max(peaks[1], office)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(child.pid, 0)  # in KiB on Linux
    done.set()
    sampler.join()
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 0, f"drafter merge exited with {child.returncode}"
    return usage.ru_maxrss / 1024, peaks[0], peaks[1], elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("counts", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument("-f", "--format", dest="formats", action="append",
                        choices=["docx", "pdf"])
    parser.add_argument("--multilingual", action="store_true")
    arguments = parser.parse_args()
    formats = arguments.formats or ["docx"]
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        case = CAMPAIGN / "case.yaml" if arguments.multilingual else write_case(folder)
        for count in arguments.counts:
            recipients = (campaign_recipients(folder, count) if arguments.multilingual
                          else write_recipients(folder, count))
            peak, ours, office, elapsed = peak_rss_mb(case, recipients,
                                                      folder / f"out-{count}", formats)
            print(f"{count:>7} recipients ({', '.join(formats)}): peak RSS {peak:6.1f} MB, "
                  f"all of drafter's processes (PSS) {ours:6.1f} MB"
                  + (f", LibreOffice's {office:6.1f} MB" if office else "")
                  + f", {elapsed:6.1f} s, {count / elapsed:6.1f} letters/s")
            for letter in (folder / f"out-{count}").glob("*.*"):
                letter.unlink()  # keep the disk use of the next, larger run in bounds


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
