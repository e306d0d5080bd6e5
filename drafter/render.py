"""Rendering one letter: data and template in, DOCX bytes out, then files on disk.

:func:`render_letter` is pure (a letter and a template give the bytes of a DOCX);
:func:`write_letter` is the outermost layer, the only one that writes a letter's files: in a
temporary folder (:mod:`drafter.files`), renamed into place when complete, so a crash never
leaves a half-written letter under its final name.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .compiled import compile_template, render_docx
from .context import build_context
from .errors import Location, OutputError, Problem
from .fields import letter_model, template_fields
from .files import temporary_folder
from .loading import read_letter
from .locales import localizer_for, missing_catalog
from .model import Letter, PaperSize
from .pdf import Converter, LibreOffice
from .template import LetterTemplate, find_template

FORMATS = ("docx", "pdf")


@dataclass(frozen=True)
class RenderedLetter:
    """One letter rendered as a DOCX, with what a PDF of it needs to know."""

    docx: bytes
    locale: str
    paper: PaperSize
    properties: dict[str, str]  # title, subject, author, language
    links: tuple[str, ...]  # the URLs the letter links to
    warnings: tuple[str, ...] = ()  # e.g. no catalog for the locale: English phrases printed


def render_letter(letter: Letter, template: LetterTemplate | str | Path | None = None, *,
                  locale: str | None = None) -> RenderedLetter:
    """Render a letter with a template (a built-in name, a folder or a .docx; default: the
    built-in advocacy letter). ``locale`` overrides the letter's own."""
    if not isinstance(template, LetterTemplate):
        template = find_template(template)
    loc = localizer_for(template, locale or letter.locale, letter.digits)
    compiled = compile_template(template, loc)
    context = build_context(letter, loc)
    missing = missing_catalog(template.catalogs, loc.locale)
    return RenderedLetter(render_docx(compiled, context), loc.identifier, context.paper,
                          context.properties, tuple(context.links.urls.values()),
                          (missing,) if missing else ())


def write_letter(rendered: RenderedLetter, outdir: Path, name: str,
                 formats: Iterable[str] = FORMATS, *,
                 converter: Converter | None = None) -> list[Path]:
    """Write a rendered letter as ``outdir/name.docx`` and/or ``.pdf``; returns the paths."""
    formats = list(dict.fromkeys(formats))
    # LibreOfficeMissing before anything is written: a failed PDF leaves no DOCX either.
    office = (converter or LibreOffice()) if "pdf" in formats else None
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{outdir}: cannot create the output folder: {e.strerror}") from e
    written: list[Path] = []
    try:
        with temporary_folder(outdir) as work:
            docx = Path(work) / f"{name}.docx"
            docx.write_bytes(rendered.docx)
            if office is not None:
                (pdf,) = office.convert([docx], Path(work))
                written.append(_place(pdf, outdir / f"{name}.pdf"))
            if "docx" in formats:
                written.insert(0, _place(docx, outdir / f"{name}.docx"))
    except OSError as e:  # a full disk: the temporary folder goes, no file is half-written
        raise OutputError(f"{outdir}: cannot write {name}: {e.strerror or e}") from e
    return written


def _place(source: Path, target: Path) -> Path:
    try:
        os.replace(source, target)
    except OSError as e:
        raise OutputError(f"{target}: cannot write: {e.strerror}") from e
    return target


def read_and_render(data: Path | str, template: LetterTemplate | str | Path | None = None, *,
                    locale: str | None = None,
                    text: str | None = None) -> tuple[RenderedLetter, list[Problem]]:
    """Read and validate a letter data file and render it; returns the letter and the
    warnings about its data (numbers printed as given, characters removed, no catalog for its
    locale). The data may hold the fields the template declares (``fields.yaml``).

    ``text``: the data file's content as it is being edited (the studio), instead of what is
    on disk."""
    if not isinstance(template, LetterTemplate):
        template = find_template(template)
    letter, warnings = read_letter(data, letter_model(template_fields(template)), text=text)
    rendered = render_letter(letter, template, locale=locale)
    # A locale no catalog fits: said where the letter's data is, like its other warnings.
    return rendered, [*warnings, *(Problem(Location(file=str(data)), "locale", message,
                                           severity="warning") for message in rendered.warnings)]


def render_file(data: Path, outdir: Path, *, template: str | Path | None = None,
                formats: Sequence[str] = FORMATS, locale: str | None = None,
                converter: Converter | None = None) -> list[Path]:
    """Read, validate, render and write the letter of one data file; returns what was written.

    Everything is validated before anything is written: on any error no file appears.
    """
    rendered, _ = read_and_render(data, template, locale=locale)
    return write_letter(rendered, outdir, data.stem, formats, converter=converter)
