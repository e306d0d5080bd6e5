"""Mail merge: one case letter, many recipients, one letter each.

The steps, in order:

1. **Validate everything first.** The case and every record are read and validated before any
   letter is rendered; all problems are reported with the record's number, id, field and row.
2. **Plan the names.** Each letter's file name comes from a pattern, made safe and unique.
3. **Render.** Each (template, locale) is compiled once; a letter then costs a Jinja render and
   the writing of its DOCX. Records whose inputs and outputs are unchanged since the last run
   (``manifest.csv``) are skipped.
4. **Convert.** A pool of LibreOffice processes, each with its own profile, converts batches of
   DOCX files to PDF while rendering goes on; a failed batch is retried letter by letter.
5. **Record.** ``manifest.csv`` lists every record: its files, their SHA-256, pages, status.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from queue import SimpleQueue
from typing import Any

import jinja2
import pypdf
from jinja2.sandbox import SandboxedEnvironment

from .context import build_context
from .errors import ConversionError, DataError, Problem, TemplateError
from .loading import load_yaml, validate, validate_value
from .locales import Localizer
from .markup import ParagraphWriter
from .model import Case, Letter
from .pdf import LibreOffice
from .recipients import Record, letter_data, read_recipients, where_in_record
from .render import FORMATS, localizer_for, write_atomic
from .template import CompiledTemplate, LetterTemplate, compile_template, find_template, render_docx

DEFAULT_NAME = "{{ id }}-{{ name }}"
MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ("number", "id", "recipient", "locale", "docx", "docx_sha256", "pdf",
                    "pdf_sha256", "pages", "status", "error", "inputs")
MAX_NAME_BYTES = 150
MAX_REPORTED = 200  # problems listed in full; the rest are counted
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


@dataclass(frozen=True)
class MergeOptions:
    """How a merge runs; the defaults are what ``drafter merge`` does without flags."""

    template: str | Path | None = None
    formats: tuple[str, ...] = FORMATS
    name: str = DEFAULT_NAME  # Jinja pattern: number, id, name, locale, date, recipient
    jobs: int = 0  # LibreOffice processes; 0: one per core
    combine: bool = False
    only: frozenset[str] = frozenset()  # record ids (or numbers) to render; empty: all
    keep_going: bool = False
    force: bool = False
    dry_run: bool = False
    batch_size: int = 25  # letters per LibreOffice process
    timeout: float = 300.0  # seconds per LibreOffice process
    soffice: str | None = None  # LibreOffice program; None: found on PATH


@dataclass
class MergeReport:
    """What a merge did: counts, the problems it found, and the files it wrote."""

    total: int = 0  # records selected
    written: int = 0
    skipped: int = 0  # unchanged since the last run
    failed: int = 0  # rendering or conversion failed
    invalid: int = 0  # did not validate (with --keep-going)
    problems: list[Problem] = field(default_factory=list)
    rejected: dict[int, tuple[str, str]] = field(default_factory=dict)  # number -> (id, why)
    planned: list[str] = field(default_factory=list)  # --dry-run: the files it would write
    manifest: Path | None = None
    combined: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every selected letter exists now."""
        return not (self.failed or self.invalid)


Progress = Callable[[int, int], None]  # (letters done, letters in all)


def merge(case_path: Path, recipients_path: Path, outdir: Path,
          options: MergeOptions = MergeOptions(), *,
          on_progress: Progress | None = None) -> MergeReport:
    """Merge a case with recipients into one letter per recipient in ``outdir``.

    Raises :class:`DataError` listing every bad record (nothing is rendered), unless
    ``keep_going``: then good records are rendered and the bad ones are in the report.
    """
    case_source = load_yaml(case_path)
    if not isinstance(case_source.value, dict):
        raise DataError([Problem(str(case_path), "", "expected the case letter's fields")])
    validate(Case, case_source)
    template = find_template(options.template)
    report = MergeReport()
    plan = _plan(case_source.value, case_source.where, recipients_path, options, report)
    if report.problems and not options.keep_going:
        raise DataError(_capped(report.problems, report.invalid))
    if options.dry_run:
        report.planned = [f"{outdir / name}.{fmt}" for _, name, _ in plan
                          for fmt in options.formats]
        return report
    outdir.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(outdir)
    previous = _read_manifest(outdir / MANIFEST)
    run = _Run(template, outdir, options, previous, report, on_progress)
    with run:
        for record_number, name, letter in _letters(case_source.value, recipients_path, plan,
                                                    options):
            run.add(record_number, name, letter)
    return report


def _plan(case: dict[str, Any], case_where: Callable[..., str], recipients_path: Path,
          options: MergeOptions, report: MergeReport) -> list[tuple[int, str, str]]:
    """Validate every record; returns (number, file name, id) for each letter to write."""
    names = _Names()
    pattern = SandboxedEnvironment(undefined=jinja2.StrictUndefined,
                                   autoescape=False).from_string(options.name)
    plan = []
    for record in read_recipients(recipients_path):
        if options.only and record.id not in options.only and str(record.number) not in \
                options.only:
            continue
        report.total += 1
        try:
            letter = _validated(case, case_where, record)
            name = names.unique(_file_name(pattern, options.name, record, letter))
        except (DataError, TemplateError) as e:
            report.invalid += 1
            report.rejected[record.number] = (record.id, "; ".join(
                f"{p.field}: {p.message}" for p in e.problems))
            if len(report.problems) < MAX_REPORTED:
                report.problems.extend(e.problems)
            continue
        plan.append((record.number, name, record.id))
    return plan


def _validated(case: dict[str, Any], case_where: Callable[..., str], record: Record) -> Letter:
    return validate_value(Letter, letter_data(case, record),
                          lambda f: where_in_record(record, case_where, f),
                          record.warnings, label=record.label)


def _letters(case: dict[str, Any], recipients_path: Path, plan: list[tuple[int, str, str]],
             options: MergeOptions) -> Iterator[tuple[int, str, tuple[Record, Letter]]]:
    """The planned letters, read again from the file (so memory does not grow with it)."""
    names = {number: name for number, name, _ in plan}
    for record in read_recipients(recipients_path):
        if record.number in names:
            letter = _validated(case, lambda f: "", record)
            yield record.number, names[record.number], (record, letter)


def _capped(problems: list[Problem], count: int) -> list[Problem]:
    if count <= MAX_REPORTED:
        return problems
    return [*problems, Problem("", "", f"… and more problems in {count - MAX_REPORTED} more "
                                       "records")]


def safe_name(text: str) -> str:
    """A file name made from data: no folders, no control characters, no reserved names,
    bounded length; letters of any script are kept."""
    name = unicodedata.normalize("NFC", text)
    name = _UNSAFE.sub("-", name)
    name = re.sub(r"\s+", " ", name).strip(" .-")
    name = name.replace("..", ".")
    if _RESERVED.match(name):
        name = f"_{name}"
    encoded = name.encode("utf-8")[:MAX_NAME_BYTES]
    name = encoded.decode("utf-8", errors="ignore").rstrip(" .-")
    return name or "letter"


class _Names:
    """Hands out unique file names: a second "Wang Yi" becomes "Wang Yi-2"."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def unique(self, name: str) -> str:
        candidate, n = name, 1
        while candidate.casefold() in self.taken:  # case-insensitive file systems
            n += 1
            candidate = f"{name}-{n}"
        self.taken.add(candidate.casefold())
        return candidate


def _file_name(pattern: jinja2.Template, source: str, record: Record, letter: Letter) -> str:
    loc = Localizer(_locale(letter))
    values = {
        "number": record.number,
        "id": record.id,
        "name": loc.text(letter.recipient.name),
        "locale": letter.locale,
        "date": letter.date.isoformat(),
        "recipient": letter.recipient.model_dump(),
    }
    try:
        text = pattern.render(values)
    except jinja2.TemplateError as e:
        raise DataError([Problem(record.locate(()), "--name",
                                 f"{record.label}: the name pattern {source!r} fails: "
                                 f"{e}")]) from e
    return safe_name(text)


def _locale(letter: Letter) -> Any:
    from .locales import locale_for
    return locale_for(letter.locale)


def _remove_leftovers(outdir: Path) -> None:
    """Remove what an interrupted run left: temporary files and folders, never letters."""
    for leftover in outdir.glob(".drafter-*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
    for leftover in outdir.glob(".*.part"):
        leftover.unlink(missing_ok=True)


def _read_manifest(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as f:
        return {(row["number"], row["id"]): row for row in csv.DictReader(f)}


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _template_digest(template: LetterTemplate) -> str:
    digest = hashlib.sha256()
    for path in sorted(template.folder.rglob("*")) if template.folder.is_dir() else []:
        if path.is_file() and (path.suffix in (".docx", ".po") or path in
                               template.variants.values()):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _cell(value: str) -> str:
    """A manifest cell that a spreadsheet will not run as a formula (CSV injection)."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@dataclass
class _Letter:
    """One letter on its way through the run."""

    number: int
    id: str
    recipient: str
    locale: str
    inputs: str
    docx: Path | None = None
    pdf: Path | None = None
    pages: str = ""
    status: str = "written"
    error: str = ""


class _Run:
    """The rendering and conversion of one merge, with its manifest and PDF workers."""

    def __init__(self, template: LetterTemplate, outdir: Path, options: MergeOptions,
                 previous: dict[tuple[str, str], dict[str, str]], report: MergeReport,
                 on_progress: Progress | None) -> None:
        self.template = template
        self.outdir = outdir
        self.options = options
        self.previous = previous
        self.report = report
        self.on_progress = on_progress
        self.template_digest = _template_digest(template)
        self.compiled: dict[str, tuple[CompiledTemplate, ParagraphWriter]] = {}
        self.work = Path(tempfile.mkdtemp(prefix=".drafter-merge-", dir=outdir))
        self.wants_pdf = "pdf" in options.formats
        self.done = 0
        self.rows: dict[int, _Letter] = {}  # letters not yet in the manifest, by number
        self.order: list[int] = []  # numbers in file order, for the manifest
        self.batch: list[_Letter] = []
        self.futures: list[Future[None]] = []
        jobs = options.jobs or os.cpu_count() or 1
        self.pool = ThreadPoolExecutor(jobs) if self.wants_pdf else None
        self.profiles: SimpleQueue[Path] = SimpleQueue()
        for i in range(jobs if self.wants_pdf else 0):
            self.profiles.put(self.work / f"profile-{i}")
        self.manifest_rows: list[dict[str, str]] = []

    def __enter__(self) -> _Run:
        return self

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        try:
            if error is None:
                self._flush_batch()
            for future in self.futures:
                if error is None:
                    future.result()
                else:
                    future.cancel()
        finally:
            if self.pool:
                self.pool.shutdown(wait=True, cancel_futures=True)
            self._write_manifest()
            if error is None and self.options.combine:
                self._combine()
            shutil.rmtree(self.work, ignore_errors=True)

    def add(self, number: int, name: str, item: tuple[Record, Letter]) -> None:
        """Render one letter (or skip it, unchanged), and queue its PDF conversion."""
        record, letter = item
        compiled, writer = self._compiled(letter.locale)
        loc = compiled.localizer
        inputs = self._inputs(letter, name)
        entry = _Letter(number, record.id, loc.text(letter.recipient.name), loc.identifier,
                        inputs)
        self.order.append(number)
        self.rows[number] = entry
        if self._unchanged(entry, name):
            entry.status = "skipped"
            self.report.skipped += 1
            self._progress()
            return
        try:
            docx = render_docx(compiled, build_context(letter, loc, writer))
        except TemplateError as e:
            self._fail(entry, str(e))
            return
        target_dir = self.outdir if "docx" in self.options.formats else self.work
        entry.docx = target_dir / f"{name}.docx"
        write_atomic(entry.docx, docx, durable=False)
        if self.wants_pdf:
            self.batch.append(entry)
            if len(self.batch) >= self.options.batch_size:
                self._flush_batch()
        else:
            self._finish(entry)

    def _compiled(self, locale: str) -> tuple[CompiledTemplate, ParagraphWriter]:
        if locale not in self.compiled:
            loc = localizer_for(self.template, locale)
            self.compiled[locale] = (compile_template(self.template, loc),
                                     ParagraphWriter(right_to_left=loc.right_to_left))
        return self.compiled[locale]

    def _inputs(self, letter: Letter, name: str) -> str:
        digest = hashlib.sha256()
        digest.update(json.dumps(letter.model_dump(mode="json"), sort_keys=True,
                                 ensure_ascii=False).encode("utf-8"))
        digest.update(self.template_digest.encode())
        digest.update(json.dumps([sorted(self.options.formats), name]).encode())
        return digest.hexdigest()[:32]

    def _unchanged(self, entry: _Letter, name: str) -> bool:
        """Whether the last run wrote this letter from the same inputs, and its files are intact."""
        if self.options.force:
            return False
        row = self.previous.get((str(entry.number), entry.id))
        if not row or row.get("inputs") != entry.inputs or row.get("status") not in (
                "written", "skipped"):
            return False
        for fmt in self.options.formats:
            path = self.outdir / f"{name}.{fmt}"
            if row.get(fmt) != path.name or not path.is_file() or sha256_of(path) != row.get(
                    f"{fmt}_sha256"):
                return False
        entry.docx = self.outdir / f"{name}.docx" if "docx" in self.options.formats else None
        entry.pdf = self.outdir / f"{name}.pdf" if self.wants_pdf else None
        entry.pages = row.get("pages", "")
        return True

    def _flush_batch(self) -> None:
        if self.batch and self.pool:
            batch, self.batch = self.batch, []
            self.futures.append(self.pool.submit(self._convert, batch))

    def _convert(self, batch: list[_Letter]) -> None:
        """Convert a batch in one LibreOffice process; on failure, letter by letter."""
        profile = self.profiles.get()
        try:
            office = LibreOffice(self.options.soffice, timeout=self.options.timeout,
                                 profile=profile)
            sources = [entry.docx for entry in batch if entry.docx]
            try:
                pdfs = office.convert(sources, self.outdir)
            except ConversionError:
                shutil.rmtree(profile, ignore_errors=True)  # a killed office may leave locks
                for entry in batch:
                    self._convert_one(office, entry, profile)
                return
            for entry, pdf in zip(batch, pdfs, strict=True):
                entry.pdf = pdf
                self._finish(entry)
        finally:
            self.profiles.put(profile)

    def _convert_one(self, office: LibreOffice, entry: _Letter, profile: Path) -> None:
        assert entry.docx is not None
        try:
            (entry.pdf,) = office.convert([entry.docx], self.outdir)
        except ConversionError as e:
            shutil.rmtree(profile, ignore_errors=True)
            self._fail(entry, str(e).replace("\n", " "))
            return
        self._finish(entry)

    def _finish(self, entry: _Letter) -> None:
        if entry.pdf is not None:
            entry.pages = str(len(pypdf.PdfReader(entry.pdf).pages))
        if entry.docx is not None and "docx" not in self.options.formats:
            entry.docx.unlink(missing_ok=True)
            entry.docx = None
        self.report.written += 1
        self._progress()

    def _fail(self, entry: _Letter, error: str) -> None:
        entry.status, entry.error = "failed", error
        if entry.docx is not None and "docx" not in self.options.formats:
            entry.docx.unlink(missing_ok=True)
        entry.docx = None
        self.report.failed += 1
        self.report.problems.append(Problem(f"record {entry.number} ({entry.id})", "", error))
        self._progress()

    def _progress(self) -> None:
        self.done += 1
        if self.on_progress:
            self.on_progress(self.done, self.report.total - self.report.invalid)

    def _write_manifest(self) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, MANIFEST_COLUMNS, quoting=csv.QUOTE_MINIMAL)
        writer.writeheader()
        for number in sorted([*self.order, *self.report.rejected]):
            if number in self.report.rejected:
                record_id, why = self.report.rejected[number]
                writer.writerow({"number": str(number), "id": _cell(record_id),
                                 "status": "invalid", "error": _cell(why)})
                continue
            entry = self.rows[number]
            docx_ok = entry.docx is not None and entry.docx.is_file() and entry.docx.parent == \
                self.outdir
            pdf_ok = entry.pdf is not None and entry.pdf.is_file()
            status = entry.status if entry.status != "written" or (
                (docx_ok or "docx" not in self.options.formats)
                and (pdf_ok or not self.wants_pdf)) else "interrupted"
            writer.writerow({
                "number": str(entry.number), "id": _cell(entry.id),
                "recipient": _cell(entry.recipient), "locale": entry.locale,
                "docx": entry.docx.name if docx_ok and entry.docx else "",
                "docx_sha256": sha256_of(entry.docx) if docx_ok and entry.docx else "",
                "pdf": entry.pdf.name if pdf_ok and entry.pdf else "",
                "pdf_sha256": sha256_of(entry.pdf) if pdf_ok and entry.pdf else "",
                "pages": entry.pages if pdf_ok else "", "status": status,
                "error": _cell(entry.error), "inputs": entry.inputs,
            })
        path = self.outdir / MANIFEST
        write_atomic(path, buffer.getvalue().encode("utf-8"))
        self.report.manifest = path

    def _combine(self) -> None:
        from .combine import combine_docx, combine_pdf

        entries = [self.rows[n] for n in self.order if self.rows[n].status != "failed"]
        pdfs = [e.pdf for e in entries if e.pdf is not None]
        docxs = [e.docx for e in entries if e.docx is not None]
        if pdfs:
            self.report.combined.append(combine_pdf(pdfs, self.outdir / "combined.pdf"))
        if docxs:
            self.report.combined.append(combine_docx(docxs, self.outdir / "combined.docx"))


__all__ = ["MergeOptions", "MergeReport", "merge", "safe_name"]
