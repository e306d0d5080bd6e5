"""PDF conversion: drafter's merge (letters converted in chunks, one document each, split back
into letters) against LibreOffice converting the same letters' DOCX files in batch, measured in
one run.

1. Render COUNT letters as DOCX (not timed).
2. Baseline: LibreOffice's own batch speed: `soffice --convert-to pdf` given the separate DOCX
   files, in a warm profile, 200 files per process (the most its launcher takes), one process
   after another.
3. drafter `merge -f pdf` with -j 1 and with -j 2, everything included (rendering, combining,
   converting, splitting, checking, the manifest with SHA-256).
4. The same with letters in English, Chinese and Korean (the campaign example's case, its
   recipients in those three locales taken in turn), against the baseline on those letters.

Prints seconds and letters/s for each, and the ratios (targets: -j 1 at least 4x faster than
the batch; -j 2 at least 1.7x faster than -j 1).

    python benchmarks/merge_pdf.py [--letters COUNT] [--chunk-size N] [--no-mixed]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drafter.merge import MergeOptions, merge
from drafter.pdf import MAX_BATCH, _export_filter, find_soffice

from common import CAMPAIGN, write_case, write_mixed_recipients, write_recipients


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


def drafter_pdf(case: Path, recipients: Path, outdir: Path, jobs: int, chunk_size: int,
                chunks: bool = True) -> float:
    start = time.perf_counter()
    own = time.process_time()  # drafter's own CPU (LibreOffice's is its processes')
    report = merge(case, recipients, outdir, MergeOptions(formats=("pdf",), jobs=jobs,
                                                          chunk_size=chunk_size, chunks=chunks))
    elapsed = time.perf_counter() - start
    print(f"  -j {jobs}: {time.process_time() - own:.1f} s of CPU in drafter's own process "
          f"over {elapsed:.1f} s", flush=True)
    assert report.written == report.total and report.ok, report.problems
    assert len(list(outdir.glob("*.pdf"))) == report.total
    return elapsed


def line(label: str, seconds: float, count: int, note: str = "") -> str:
    return f"{label:<22}{seconds:7.1f} s  {count / seconds:6.2f} letters/s  {note}".rstrip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=1000)
    parser.add_argument("--chunk-size", type=int, default=0, help="0: drafter's default")
    parser.add_argument("--no-mixed", action="store_true", help="skip the en+zh+ko run")
    args = parser.parse_args()
    count = args.letters
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        case, recipients = write_case(folder), write_recipients(folder, count)
        merge(case, recipients, folder / "docx", MergeOptions(formats=("docx",)))
        docx = sorted((folder / "docx").glob("*.docx"))
        warm = folder / "profile"
        # LibreOffice's first start builds a profile; both sides start warm.
        baseline(docx[:1], folder / "warm-up", warm)
        merge(case, write_recipients(folder, 4), folder / "warm-up-drafter",
              MergeOptions(formats=("pdf",), jobs=2))
        batch = baseline(docx, folder / "batch", warm)
        one = drafter_pdf(case, recipients, folder / "j1", 1, args.chunk_size)
        two = drafter_pdf(case, recipients, folder / "j2", 2, args.chunk_size)
        print(f"letters: {count} (English)")
        print(line("LibreOffice batch:", batch, count))
        print(line("drafter -j 1:", one, count,
                   f"{batch / one:.2f}x faster than the batch (target >= 4x)"))
        print(line("drafter -j 2:", two, count,
                   f"{one / two:.2f}x faster than -j 1 (target >= 1.7x)"), flush=True)
        if args.no_mixed:
            return
        mixed_case = CAMPAIGN / "case.yaml"
        mixed = write_mixed_recipients(folder, count)
        merge(mixed_case, mixed, folder / "mixed-docx", MergeOptions(formats=("docx",)))
        mixed_docx = sorted((folder / "mixed-docx").glob("*.docx"))
        mixed_batch = baseline(mixed_docx, folder / "mixed-batch", warm)
        mixed_one = drafter_pdf(mixed_case, mixed, folder / "mixed-j1", 1, args.chunk_size)
        print(f"letters: {count} (English, Chinese, Korean in turn)")
        print(line("LibreOffice batch:", mixed_batch, count))
        print(line("drafter -j 1:", mixed_one, count,
                   f"{mixed_batch / mixed_one:.2f}x faster than the batch"))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
