"""Rendering one letter: data and template in, DOCX bytes out, then files on disk.

:func:`render_letter` is pure (a letter and a template give the bytes of a DOCX);
:func:`write_letter` is the outermost layer, the only one that writes a letter's files: in a
temporary folder (:mod:`drafter.files`), renamed into place when complete, so a crash never
leaves a half-written letter under its final name.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .compiled import compile_template, render_docx
from .context import build_context
from .errors import DataError, Location, OutputError, Problem, TemplateError, UsageError
from .fields import letter_model, template_fields
from .files import temporary_folder
from .loading import read_letter
from .locales import localizer_for, missing_catalog
from .manifest import merge_files_among
from .model import Letter, PaperSize
from .outputs import only_writer
from .package import load_docx
from .template import LetterTemplate, find_template

if TYPE_CHECKING:  # the PDF libraries are imported only when a PDF is made
    from .pdf import Converter

FORMATS = ("docx", "pdf")
DEFAULT_OUTDIR = Path("out")


@dataclass(frozen=True)
class RenderedLetter:
    """One letter rendered as a DOCX, with what a PDF of it needs to know."""

    docx: bytes
    locale: str
    paper: PaperSize
    properties: dict[str, str]  # title, subject, author, language
    links: tuple[str, ...]  # the URLs the letter links to
    warnings: tuple[Problem, ...] = ()  # about its data (Letter.warnings) and its rendering


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
    catalog = [Problem(Location(), "locale", missing, severity="warning")] if missing else []
    return RenderedLetter(render_docx(compiled, context), loc.identifier, context.paper,
                          context.properties, tuple(context.links.urls.values()),
                          (*letter.warnings, *catalog))


def write_letter(rendered: RenderedLetter, outdir: Path | str, name: str,
                 formats: Iterable[str] = FORMATS, *,
                 converter: Converter | None = None) -> list[Path]:
    """Write a rendered letter as ``outdir/name.docx`` and/or ``.pdf``; returns the paths."""
    outdir = Path(outdir)
    formats = list(dict.fromkeys(formats))
    # LibreOfficeMissing before anything is written: a failed PDF leaves no DOCX either.
    office = (converter or _libreoffice()) if "pdf" in formats else None
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{outdir}: cannot create the output folder: {e.strerror}") from e
    written: list[Path] = []
    try:
        with only_writer(outdir, wait=None), temporary_folder(outdir) as work:
            taken = merge_files_among(outdir, [f"{name}.{fmt}" for fmt in formats])
            if taken:
                raise OutputError(
                    f"{outdir / taken[0]}: this folder holds a merge, and the file is one of "
                    "its own (its manifest would no longer match the disk); write the letter "
                    "into another folder, or under another name (-o NAME.pdf)")
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


def _libreoffice() -> Converter:
    from .pdf import LibreOffice

    return LibreOffice()


def _place(source: Path, target: Path) -> Path:
    try:
        os.replace(source, target)
    except OSError as e:
        raise OutputError(f"{target}: cannot write: {e.strerror}") from e
    return target


def read_and_render(data: Path | str, template: LetterTemplate | str | Path | None = None, *,
                    locale: str | None = None,
                    text: str | None = None) -> tuple[RenderedLetter, list[Problem]]:
    """Read and validate a letter data file and render it; returns the letter and its
    warnings (``rendered.warnings``: numbers printed as given, characters removed, no catalog
    for its locale), each placed in the data file. The data may hold the fields the template
    declares (``fields.yaml``).

    ``text``: the data file's content as it is being edited (the studio), instead of what is
    on disk."""
    if not isinstance(template, LetterTemplate):
        template = find_template(template)
    letter, _ = read_letter(data, letter_model(template_fields(template)), text=text)
    rendered = render_letter(letter, template, locale=locale)
    # A warning of the rendering (no catalog fits the locale) is said where the letter's data
    # is, like its other warnings.
    placed = tuple(dataclasses.replace(w, location=Location(file=str(data))) if not str(
        w.location) else w for w in rendered.warnings)
    return dataclasses.replace(rendered, warnings=placed), list(placed)


def render_file(data: Path | str, output: Path | str = DEFAULT_OUTDIR, *,
                template: str | Path | None = None, formats: Sequence[str] = (),
                locale: str | None = None, converter: Converter | None = None) -> list[Path]:
    """Read, validate, render and write the letter of one data file; returns what was written.

    ``output`` is a folder (the files are named after the data file) or a file whose suffix
    says the format (``final.pdf``), as :func:`output_target` reads it; ``formats`` empty:
    DOCX and PDF, or the file's. Everything is validated before anything is written: on any
    error no file appears. The warnings are those of :func:`load_letter`'s letter.
    """
    data = Path(data)
    target = output_target(output, formats, FORMATS)
    rendered, _ = read_and_render(data, template, locale=locale)
    return write_letter(rendered, target.folder, target.name or data.stem, target.formats,
                        converter=converter)


@dataclass(frozen=True)
class OutputTarget:
    """Where one letter's files go: a folder, the name (None: the input's), the formats."""

    folder: Path
    name: str | None
    formats: tuple[str, ...]


def output_target(output: Path | str | None, formats: Sequence[str],
                  allowed: Sequence[str] = FORMATS, *,
                  default: Sequence[str] | None = None, option: str = "-o") -> OutputTarget:
    """Read an output path as a user means it: a folder, or a file whose suffix says the format.

    ``final.pdf`` is that file (only the PDF); ``drafts``, ``drafts/`` or an existing folder is
    a folder, where each format is named after the input; None is ``out/``. ``formats`` are
    those asked for (empty: ``default``, else every one ``allowed``). Raises
    :class:`UsageError` when the path and the formats disagree (``final.pdf`` with ``docx``
    asked for), or when the path could be either (``final.png`` for DOCX and PDF).
    """
    wanted = tuple(dict.fromkeys(formats))
    if output is None:
        return OutputTarget(DEFAULT_OUTDIR, None, wanted or tuple(default or allowed))
    text = os.fspath(output)
    path = Path(text)
    suffix = path.suffix.lower().removeprefix(".")
    if text.endswith(("/", os.sep)) or path.is_dir() or not suffix:
        return OutputTarget(path, None, wanted or tuple(default or allowed))
    names = " or ".join(f".{f}" for f in allowed)
    if suffix not in allowed:
        raise UsageError(f"{option} {text}: not a folder, nor a {names} file to write; give a "
                         f"folder (end it with / if its name has a dot) or a file name "
                         f"ending in {names}")
    if wanted and wanted != (suffix,):
        asked = " and ".join(wanted)
        raise UsageError(f"{option} {text} names a .{suffix} file, but {asked} "
                         f"{'was' if len(wanted) == 1 else 'were'} asked for (-f); give a "
                         "folder to write several formats, or leave out -f")
    return OutputTarget(path.parent, path.stem, (suffix,))


def convert_docx(docx_files: Path | str | Sequence[Path | str],
                 output: Path | str | None = None, *,
                 converter: Converter | None = None) -> list[Path]:
    """Make ready-to-send PDFs of existing Word files, as :func:`write_letter` makes a
    letter's: PDF/A-2b, tagged, fonts embedded, links kept, every PDF checked.

    ``output`` None: each PDF beside its DOCX; a folder: every PDF in it, named after its
    DOCX; a ``.pdf`` file name: the PDF of a single DOCX. Returns the PDFs, in input order.
    Raises :class:`DataError` for an input that is not a Word file (nothing is converted),
    :class:`ConversionError` when LibreOffice fails, and nothing half-written is left.
    """
    sources = ([Path(docx_files)] if isinstance(docx_files, str | os.PathLike)
               else [Path(f) for f in docx_files])
    problems = [p for source in sources for p in _not_a_docx(source)]
    if problems:
        raise DataError(problems)
    if not sources:
        return []
    office = converter or _libreoffice()
    if output is None:
        return [pdf for source in sources for pdf in office.convert([source], source.parent)]
    target = output_target(output, ("pdf",), ("pdf",))
    if target.name is None:
        return office.convert(sources, target.folder)
    if len(sources) > 1:
        raise UsageError(f"-o {output}: one PDF file for {len(sources)} Word files; give a "
                         "folder to write each one's PDF into")
    try:
        target.folder.mkdir(parents=True, exist_ok=True)
        with temporary_folder(target.folder, "convert") as work:
            (pdf,) = office.convert(sources, Path(work))
            return [_place(pdf, target.folder / f"{target.name}.pdf")]
    except OSError as e:
        raise OutputError(f"{output}: cannot write: {e.strerror or e}") from e


def _not_a_docx(path: Path) -> list[Problem]:
    """What is wrong with a file given to :func:`convert_docx`: not a regular file, not a
    DOCX, no safe Word document, or one that refers outside itself
    (:func:`~drafter.package.load_docx`); nothing for a DOCX that is fine."""
    where = Location(str(path))
    if path.suffix.lower() in (".doc", ".odt", ".rtf") and path.is_file():
        return [Problem(where, "", f"a {path.suffix} file; save it as .docx (Word document) in "
                        "Word or LibreOffice, then convert that")]
    try:
        load_docx(path)
    except TemplateError as e:
        return e.problems
    return []
