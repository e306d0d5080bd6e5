"""``drafter watch``: time from a save to the new PDF, with the LibreOffice the watch keeps
running (``WarmLibreOffice``) against the watch's cold path, a ``soffice`` started per save
(what it does without python3-uno), measured in one run on the same letter.

Both go through the real watch loop (:meth:`drafter.watch.Watch.run` with its file watcher):
each save changes the letter's subject in its YAML file, and the time is taken from the write
to the watch's ``on_render`` for the PDF. Both use a kept LibreOffice profile, so only
LibreOffice's start is measured, not its first-run profile creation.

    python benchmarks/watch.py [SAVES] [LETTER]     (target: warm >= 3x faster)
"""

from __future__ import annotations

import queue
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from drafter import watch as watch_module
from drafter.errors import LibreOfficeMissing
from drafter.watch import Watch

from common import ROOT


def no_warm_libreoffice(*_: Any, **__: Any) -> Any:
    raise LibreOfficeMissing("as on a machine without python3-uno")


def save_to_pdf_times(letter: Path, text: str, folder: Path, saves: int) -> list[float]:
    """Seconds from each save to its PDF, in a watch of ``letter`` (the first render, which
    starts LibreOffice, is not counted)."""
    rendered: queue.Queue[list[Path]] = queue.Queue()
    problems: list[Any] = []
    stop = threading.Event()
    watch = Watch(letter, folder / "out", formats=["pdf"], profile=folder / "profile")
    thread = threading.Thread(target=watch.run, kwargs={
        "on_render": rendered.put, "on_problem": problems.append, "stop": stop})
    thread.start()
    times = []
    try:
        rendered.get(timeout=300)  # the first render: LibreOffice starts
        for n in range(1, saves + 1):
            start = time.perf_counter()
            letter.write_text(text.replace("subject: ", f"subject: Save {n}, ", 1),
                              encoding="utf-8")
            rendered.get(timeout=300)
            times.append(time.perf_counter() - start)
    finally:
        stop.set()
        thread.join()
    assert not problems, problems
    return times


def main() -> None:
    saves = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    source = ROOT / "data" / "examples" / (sys.argv[2] if len(sys.argv) > 2 else "letter-en.yaml")
    text = source.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as work:
        folders = {kind: Path(work) / kind for kind in ("cold", "warm")}
        for folder in folders.values():
            folder.mkdir()
            shutil.copy(source, folder / source.name)
        warm_class = watch_module.WarmLibreOffice
        watch_module.WarmLibreOffice = no_warm_libreoffice  # type: ignore[misc,assignment]
        try:
            cold = save_to_pdf_times(folders["cold"] / source.name, text, folders["cold"],
                                     saves)
        finally:
            watch_module.WarmLibreOffice = warm_class  # type: ignore[misc]
        warm = save_to_pdf_times(folders["warm"] / source.name, text, folders["warm"], saves)
    cold_median, warm_median = statistics.median(cold), statistics.median(warm)
    print(f"letter: {source.name}, {saves} saves, save to PDF in drafter watch")
    print(f"cold soffice per save:   median {cold_median:.2f} s")
    print(f"warm LibreOffice:        median {warm_median:.2f} s")
    print(f"ratio: {cold_median / warm_median:.1f}x faster (target >= 3x)")


if __name__ == "__main__":
    main()
