"""Peak memory of `drafter merge` (DOCX only) over 10,000 and 100,000 recipients.

Each run is a fresh `drafter merge` process; its peak resident set size comes from the kernel
(`getrusage` of the child). Recipients are streamed, so the peak should not grow with the count
(target: < 300 MB at 10,000, and about the same at 100,000).

    python benchmarks/merge_memory.py [COUNT ...]     (default: 10000 100000)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import write_case, write_recipients


def peak_rss_mb(case: Path, recipients: Path, outdir: Path) -> tuple[float, float]:
    drafter = Path(sys.executable).parent / "drafter"
    start = time.perf_counter()
    child = subprocess.Popen([str(drafter), "merge", str(case), str(recipients), "-o",
                              str(outdir), "-f", "docx", "-q"], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)  # this child's own peak, in KiB on Linux
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 0, f"drafter merge exited with {child.returncode}"
    return usage.ru_maxrss / 1024, elapsed


def main() -> None:
    counts = [int(a) for a in sys.argv[1:]] or [10_000, 100_000]
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        case = write_case(folder)
        for count in counts:
            recipients = write_recipients(folder, count)
            peak, elapsed = peak_rss_mb(case, recipients, folder / f"out-{count}")
            print(f"{count:>7} recipients: peak RSS {peak:6.1f} MB, {elapsed:6.1f} s, "
                  f"{count / elapsed:6.1f} letters/s")
            for letter in (folder / f"out-{count}").glob("*.docx"):
                letter.unlink()  # keep the disk use of the next, larger run in bounds


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
