"""The studio's preview: time from a saved change to the updated page images, with a warm
LibreOffice (kept running, ``WarmLibreOffice``) against a cold ``soffice`` start per change,
measured in one run on the same letter.

Each change edits the letter's subject (a new DOCX each time, so nothing is cached), then
reads, validates and renders it and makes the PNG of every page (``page_images``), as the
studio does after each change. The cold baseline uses a kept profile, as a merge does, so
only LibreOffice's start is measured, not its first-run profile creation.

    python benchmarks/studio.py [CHANGES] [LETTER]     (target: warm >= 3x faster)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from drafter.loading import read_letter
from drafter.pdf import LibreOffice, WarmLibreOffice
from drafter.preview import page_images
from drafter.render import render_letter

from common import ROOT


def one_change(path: Path, text: str, n: int, converter: LibreOffice) -> float:
    start = time.perf_counter()
    changed = text.replace("subject: ", f"subject: Change {n}, ", 1)
    letter, _ = read_letter(path, changed)
    images = page_images(render_letter(letter), converter=converter)
    assert images and all(image.startswith(b"\x89PNG") for image in images)
    return time.perf_counter() - start


def main() -> None:
    changes = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    path = ROOT / "data" / "examples" / (sys.argv[2] if len(sys.argv) > 2 else "letter-en.yaml")
    text = path.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as cold_profile, \
            tempfile.TemporaryDirectory() as warm_profile:
        cold = LibreOffice(profile=Path(cold_profile))
        one_change(path, text, 0, cold)  # the profile is made once, not measured
        cold_times = [one_change(path, text, n, cold) for n in range(1, changes + 1)]
        with WarmLibreOffice(profile=Path(warm_profile)) as warm:
            one_change(path, text, 0, warm)  # LibreOffice starts: once per studio
            warm_times = [one_change(path, text, n, warm) for n in range(1, changes + 1)]
    cold_median, warm_median = statistics.median(cold_times), statistics.median(warm_times)
    print(f"letter: {path.name}, {changes} changes, save to page images")
    print(f"cold soffice per change: median {cold_median:.2f} s")
    print(f"warm LibreOffice:        median {warm_median:.2f} s")
    print(f"ratio: {cold_median / warm_median:.1f}x faster (target >= 3x)")


if __name__ == "__main__":
    main()
