"""Pictures of a letter's pages, for a quick look without opening Word."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import ConversionError, OutputError
from .files import write_atomic
from .pdf import LibreOffice, page_count
from .render import RenderedLetter, write_letter

PDFTOPPM_HINT = "sudo apt-get install poppler-utils"


def pdf_to_png(pdf: Path, page: int, resolution: int) -> bytes:
    """Page ``page`` (1-based) of a PDF as a PNG at ``resolution`` dots per inch (pdftoppm)."""
    program = shutil.which("pdftoppm")
    if program is None:
        raise ConversionError(f"pdftoppm was not found; install it with:\n  {PDFTOPPM_HINT}")
    with tempfile.TemporaryDirectory() as work:
        stem = Path(work) / "page"
        subprocess.run([program, "-png", "-r", str(resolution), "-f", str(page), "-l",
                        str(page), "-singlefile", str(pdf), str(stem)], check=True,
                       capture_output=True)
        return stem.with_suffix(".png").read_bytes()


def preview(rendered: RenderedLetter, target: Path, *, pages: list[int] | None = None,
            resolution: int = 60, converter: LibreOffice | None = None) -> list[Path]:
    """Write PNGs of a rendered letter's pages: ``target`` for one page, or
    ``target-1.png``, ``target-2.png``… for several. ``pages`` None: every page."""
    with tempfile.TemporaryDirectory() as work:
        (pdf,) = write_letter(rendered, Path(work), "letter", ["pdf"], converter=converter)
        count = page_count(pdf)
        wanted = pages or list(range(1, count + 1))
        for page in wanted:
            if not 1 <= page <= count:
                raise OutputError(f"page {page} does not exist: the letter has {count} "
                                  f"page{'s' if count != 1 else ''}")
        if len(wanted) == 1:
            outputs = [target]
        else:
            outputs = [target.with_name(f"{target.stem}-{page}{target.suffix or '.png'}")
                       for page in wanted]
        target.parent.mkdir(parents=True, exist_ok=True)
        for page, output in zip(wanted, outputs, strict=True):
            write_atomic(output, pdf_to_png(pdf, page, resolution))
    return outputs
