"""Peak memory of `drafter merge` (DOCX only) over 10,000 and 100,000 recipients.

Each run is a fresh `drafter merge` process; its peak resident set size comes from the kernel
(`getrusage` of the child). Recipients are streamed, so the peak should not grow with the count
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
import time
from pathlib import Path

from merge_docx import CAMPAIGN, campaign_recipients

from common import write_case, write_recipients


def peak_rss_mb(case: Path, recipients: Path, outdir: Path,
                formats: list[str]) -> tuple[float, float]:
    drafter = Path(sys.executable).parent / "drafter"
    start = time.perf_counter()
    flags = [flag for fmt in formats for flag in ("-f", fmt)]
    child = subprocess.Popen([str(drafter), "merge", str(case), str(recipients), "-o",
                              str(outdir), *flags, "-q"], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)  # this child's own peak, in KiB on Linux
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 0, f"drafter merge exited with {child.returncode}"
    return usage.ru_maxrss / 1024, elapsed


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
            peak, elapsed = peak_rss_mb(case, recipients, folder / f"out-{count}", formats)
            print(f"{count:>7} recipients ({', '.join(formats)}): peak RSS {peak:6.1f} MB, "
                  f"{elapsed:6.1f} s, {count / elapsed:6.1f} letters/s")
            for letter in (folder / f"out-{count}").glob("*.*"):
                letter.unlink()  # keep the disk use of the next, larger run in bounds


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
