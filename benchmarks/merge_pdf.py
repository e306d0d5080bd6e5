"""PDF conversion: drafter's LibreOffice pool against LibreOffice converting the same files in
batch, measured in one run.

1. Render COUNT letters as DOCX (not timed).
2. Baseline: one LibreOffice process after another, each converting 200 files (the most the
   `soffice` launcher takes), in one warm profile: LibreOffice's own batch speed.
3. drafter with -j 1 and with -j 2 converting the same DOCX files (`LibreOffice` pool as
   `drafter merge` runs it: batches, own profiles, every PDF checked).

Prints seconds and letters/s for each, and the ratios (targets: -j 1 within 1.2x of the batch
time; -j 2 at least 1.6x faster than -j 1 on two cores).

    python benchmarks/merge_pdf.py [COUNT]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drafter.merge import MergeOptions, merge
from drafter.pdf import MAX_BATCH, _export_filter, find_soffice

from common import write_case, write_recipients


def baseline(docx: list[Path], outdir: Path, profile: Path) -> float:
    soffice = find_soffice()
    outdir.mkdir()
    start = time.perf_counter()
    for i in range(0, len(docx), MAX_BATCH):
        subprocess.run([soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless",
                        "--convert-to", _export_filter(pdfa=True), "--outdir", str(outdir),
                        *map(str, docx[i:i + MAX_BATCH])], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    assert len(list(outdir.glob("*.pdf"))) == len(docx)
    return elapsed


def drafter_pdf(case: Path, recipients: Path, outdir: Path, jobs: int) -> float:
    start = time.perf_counter()
    report = merge(case, recipients, outdir, MergeOptions(formats=("pdf",), jobs=jobs))
    elapsed = time.perf_counter() - start
    assert report.written == report.total and report.ok
    return elapsed


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        case, recipients = write_case(folder), write_recipients(folder, count)
        merge(case, recipients, folder / "docx", MergeOptions(formats=("docx",)))
        docx = sorted((folder / "docx").glob("*.docx"))
        warm = folder / "profile"
        # LibreOffice's first start builds a profile; both sides start warm.
        baseline(docx[:1], folder / "warm-up", warm)
        merge(case, write_recipients(folder, 2), folder / "warm-up-drafter",
              MergeOptions(formats=("pdf",), jobs=2, batch_size=1))
        batch = baseline(docx, folder / "batch", warm)
        one = drafter_pdf(case, recipients, folder / "j1", 1)
        two = drafter_pdf(case, recipients, folder / "j2", 2)
    print(f"letters: {count}")
    print(f"LibreOffice batch: {batch:7.1f} s  {count / batch:6.2f} letters/s")
    print(f"drafter -j 1:      {one:7.1f} s  {count / one:6.2f} letters/s  "
          f"{one / batch:.2f}x the batch time (target <= 1.2x)")
    print(f"drafter -j 2:      {two:7.1f} s  {count / two:6.2f} letters/s  "
          f"{one / two:.2f}x faster than -j 1 (target >= 1.6x)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
