"""Pictures of a letter's pages, for a quick look without opening Word.

:func:`page_images` is the one way from a rendered letter to PNG pages: the CLI's ``preview``
and ``watch`` and the studio all go through it, so a faster converter (a LibreOffice kept
running between changes) slots in here, as its ``converter`` argument.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import ConversionError, OutputError
from .files import write_atomic
from .pdf import Converter, page_count
from .render import RenderedLetter, write_letter

PDFTOPPM_HINT = "sudo apt-get install poppler-utils"


def pdf_to_png(pdf: Path, page: int, resolution: int) -> bytes:
    """Page ``page`` (1-based) of a PDF as a PNG at ``resolution`` dots per inch (pdftoppm)."""
    return _pdftoppm(pdf, page, page, resolution)[0]


def _pdftoppm(pdf: Path, first: int, last: int, resolution: int) -> list[bytes]:
    program = shutil.which("pdftoppm")
    if program is None:
        raise ConversionError(f"pdftoppm was not found; install it with:\n  {PDFTOPPM_HINT}")
    with tempfile.TemporaryDirectory() as work:
        stem = Path(work) / "page"
        subprocess.run([program, "-png", "-r", str(resolution), "-f", str(first), "-l",
                        str(last), str(pdf), str(stem)], check=True, capture_output=True)
        # pdftoppm numbers its files page-1.png or page-01.png, by the page count's digits
        return [p.read_bytes() for p in sorted(Path(work).glob("page-*.png"),
                                               key=lambda p: int(p.stem.rsplit("-", 1)[1]))]


def page_images(rendered: RenderedLetter, *, pages: list[int] | None = None,
                resolution: int = 60, converter: Converter | None = None) -> list[bytes]:
    """PNGs of a rendered letter's pages (``pages`` 1-based; None: every page).

    Raises :class:`OutputError` for a page the letter does not have.
    """
    with tempfile.TemporaryDirectory() as work:
        (pdf,) = write_letter(rendered, Path(work), "letter", ["pdf"], converter=converter)
        count = page_count(pdf)
        wanted = pages or list(range(1, count + 1))
        for page in wanted:
            if not 1 <= page <= count:
                raise OutputError(f"page {page} does not exist: the letter has {count} "
                                  f"page{'s' if count != 1 else ''}")
        images = _pdftoppm(pdf, min(wanted), max(wanted), resolution)
        return [images[page - min(wanted)] for page in wanted]


def preview(rendered: RenderedLetter, target: Path | str, *, pages: list[int] | None = None,
            resolution: int = 60, converter: Converter | None = None) -> list[Path]:
    """Write PNGs of a rendered letter's pages: ``target`` for one page, or
    ``target-1.png``, ``target-2.png``… for several. ``pages`` None: every page."""
    images = page_images(rendered, pages=pages, resolution=resolution, converter=converter)
    return _write_images(images, Path(target), pages)


def preview_pdf(pdf: Path, target: Path | str, *, resolution: int = 60) -> list[Path]:
    """Write PNGs of every page of a letter's PDF already written, named as :func:`preview`
    names them: no second conversion when a PDF and its pictures are both wanted."""
    return _write_images(_pdftoppm(pdf, 1, page_count(pdf), resolution), Path(target), None)


def _write_images(images: list[bytes], target: Path, pages: list[int] | None) -> list[Path]:
    if len(images) == 1:
        outputs = [target]
    else:
        numbers = pages or list(range(1, len(images) + 1))
        outputs = [target.with_name(f"{target.stem}-{page}{target.suffix or '.png'}")
                   for page in numbers]
    target.parent.mkdir(parents=True, exist_ok=True)
    for image, output in zip(images, outputs, strict=True):
        write_atomic(output, image)
    return outputs
