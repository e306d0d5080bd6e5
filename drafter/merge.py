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
import functools
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import unicodedata
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from queue import SimpleQueue
from typing import Any

import jinja2
import pypdf

from .compiled import CompiledTemplate, compile_template, render_docx
from .context import build_context
from .errors import ConversionError, DataError, Location, OutputError, Problem, TemplateError
from .loading import Locate, contact_warnings, load_yaml, validate, validate_value
from .locales import Localizer, locale_for, localizer_for, missing_catalog
from .markup import ParagraphWriter
from .model import Case, Letter
from .pdf import LibreOffice, reserved_profiles
from .recipients import Record, letter_data, read_recipients, where_in_record
from .render import FORMATS, write_atomic
from .sandbox import BoundedSandbox
from .template import LetterTemplate, find_template

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
    batch_size: int = 0  # letters per LibreOffice process; 0: chosen from the count and jobs
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
    warnings: list[Problem] = field(default_factory=list)  # the first MAX_REPORTED
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
        raise DataError([Problem(Location(str(case_path)), "",
                                 "expected the case letter's fields")])
    validate(Case, case_source)
    template = find_template(options.template)
    report = MergeReport()
    report.warnings += [p for p in case_source.problems if p.severity == "warning"]
    letters = _Letters(case_source.value, case_source.where, recipients_path, options)
    locales: dict[str, tuple[int, str]] = {}  # each locale, and the first record that has it
    for number, record, letter_or_error in letters:  # first pass: validate only
        report.total += 1
        if isinstance(letter_or_error, DataError):
            report.invalid += 1
            report.rejected[number] = (record.id, "; ".join(
                f"{p.field}: {p.record_label}: {p.message}" for p in letter_or_error.problems))
            if len(report.problems) < MAX_REPORTED:
                report.problems.extend(letter_or_error.problems)
        else:
            name, letter = letter_or_error
            locales.setdefault(letter.locale, (record.number, record.id))
            if len(report.warnings) < MAX_REPORTED:
                locate = functools.partial(where_in_record, record, case_source.where)
                report.warnings += [*record.warnings, *(w.in_record(record.number, record.id)
                                                        for w in contact_warnings(letter, locate))]
            if options.dry_run:
                report.planned += [f"{outdir / name}.{fmt}" for fmt in options.formats]
    for identifier, (number, record_id) in locales.items():  # once per language
        missing = missing_catalog(template.catalogs, locale_for(identifier))
        if missing:
            report.warnings.append(Problem(Location(file=str(recipients_path)), "locale", missing,
                                           severity="warning", record=number,
                                           record_id=record_id))
    if report.problems and not options.keep_going:
        raise DataError(_capped(report.problems, report.invalid))
    if options.dry_run:
        return report
    if "pdf" in options.formats:
        LibreOffice(options.soffice)  # LibreOfficeMissing now, before any letter is written
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(outdir)
        previous = _read_manifest(outdir / MANIFEST)
        with _Run(template, outdir, options, previous, report, on_progress) as run:
            for number, record, letter_or_error in letters:  # second pass: render
                if not isinstance(letter_or_error, DataError):
                    name, letter = letter_or_error
                    run.add(number, name, (record, letter))
    except OSError as e:  # a full disk, a folder that cannot be written
        raise OutputError(f"{e.filename or outdir}: cannot write: {e.strerror or e}") from e
    return report


class _Letters:
    """The selected records, each validated into a letter with its file name (or the error).

    Iterating reads the recipients file again, so that memory does not grow with its length;
    names come out the same on every pass.
    """

    def __init__(self, case: dict[str, Any], case_where: Locate,
                 recipients_path: Path, options: MergeOptions) -> None:
        self.case = case
        self.case_where = case_where
        self.path = recipients_path
        self.options = options
        try:
            self.pattern = BoundedSandbox(undefined=jinja2.StrictUndefined,
                                          autoescape=False).from_string(options.name)
        except jinja2.TemplateSyntaxError as e:
            raise DataError([Problem(Location(option="--name"), "",
                                     f"the name pattern {options.name!r} is not "
                                     f"a Jinja template: {e.message}")]) from e

    def __iter__(self) -> Iterator[tuple[int, Record, tuple[str, Letter] | DataError]]:
        names = _Names()
        only = self.options.only
        for record in read_recipients(self.path):
            if only and record.id not in only and str(record.number) not in only:
                continue
            try:
                letter = _validated(self.case, self.case_where, record)
                name = names.unique(_file_name(self.pattern, self.options.name, record, letter))
            except DataError as e:
                yield record.number, record, e
                continue
            yield record.number, record, (name, letter)


def _validated(case: dict[str, Any], case_where: Locate, record: Record) -> Letter:
    try:
        return validate_value(Letter, letter_data(case, record),
                              lambda f: where_in_record(record, case_where, f), record.warnings)
    except DataError as e:
        raise DataError([p.in_record(record.number, record.id) for p in e.problems]) from e


def _capped(problems: list[Problem], count: int) -> list[Problem]:
    if count <= MAX_REPORTED:
        return problems
    return [*problems, Problem(Location(), "",
                               f"… and more problems in {count - MAX_REPORTED} more "
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
        # Digests, not the names: 100,000 recipients must not cost 100,000 strings of memory.
        self.taken: set[bytes] = set()

    def unique(self, name: str) -> str:
        candidate, n = name, 1
        while self._key(candidate) in self.taken:
            n += 1
            candidate = f"{name}-{n}"
        self.taken.add(self._key(candidate))
        return candidate

    @staticmethod
    def _key(name: str) -> bytes:
        # case-insensitive, as the file systems of Windows and macOS are
        return hashlib.blake2b(name.casefold().encode("utf-8"), digest_size=12).digest()


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
    except (jinja2.TemplateError, TypeError, ValueError, OverflowError, RecursionError) as e:
        raise DataError([Problem(record.where(()), "--name",
                                 f"the name pattern {source!r} fails: {e}",
                                 record=record.number, record_id=record.id)]) from e
    return safe_name(text)


def _locale(letter: Letter) -> Any:
    from .locales import locale_for
    return locale_for(letter.locale)


def _remove_leftovers(outdir: Path) -> None:
    """Remove what an interrupted run left: temporary files and folders, never letters."""
    for leftover in outdir.glob(".drafter-*"):
        if leftover.is_symlink():
            leftover.unlink()  # only the link: what it points to is not drafter's
        elif leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
    for leftover in outdir.glob(".*.part"):
        leftover.unlink(missing_ok=True)


def _read_manifest(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    """The rows of the last run's manifest by (number, id); none when it cannot be read (then
    every letter is done again)."""
    if not path.is_file():
        return {}
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = [{key: _uncell(value or "") for key, value in row.items() if key}
                    for row in csv.DictReader(f)]
    except (OSError, UnicodeDecodeError, csv.Error):
        return {}
    return {(row.get("number", ""), row.get("id", "")): row for row in rows}


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
    """A manifest cell that a spreadsheet will not run as a formula (CSV injection); a cell
    that starts with a quote gets one more, so that :func:`_uncell` reads back every value."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r", "'") else value


_CELLS = ("id", "recipient", "docx", "pdf", "error")  # the columns that go through _cell


def _uncell(value: str) -> str:
    """A manifest cell's value, as it was before :func:`_cell`."""
    return value[1:] if value[:1] == "'" else value


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
    status: str = ""  # "" while in progress; then written, skipped, failed or interrupted
    error: str = ""
    sha256: dict[str, str] = field(default_factory=dict)

    def row(self) -> dict[str, str]:
        """The letter's line in the manifest."""
        return {
            "number": str(self.number), "id": _cell(self.id), "recipient": _cell(self.recipient),
            "locale": self.locale, "docx": _cell(self.docx.name) if self.docx else "",
            "docx_sha256": self.sha256.get("docx", ""),
            "pdf": _cell(self.pdf.name) if self.pdf else "",
            "pdf_sha256": self.sha256.get("pdf", ""), "pages": self.pages, "status": self.status,
            "error": _cell(self.error), "inputs": self.inputs,
        }


class _Run:
    """The rendering and conversion of one merge, with its manifest and PDF workers.

    Letters go into the manifest in file order as soon as they are finished, so memory holds
    only the letters in flight, whatever the number of recipients.
    """

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
        self.lock = threading.Lock()
        self.in_flight: deque[_Letter] = deque()
        self.rejected = iter(sorted(report.rejected.items()))
        self.next_rejected = next(self.rejected, None)
        self.manifest_path = self.work / MANIFEST
        self.manifest_file = self.manifest_path.open("w", newline="", encoding="utf-8")
        self.manifest = csv.DictWriter(self.manifest_file, MANIFEST_COLUMNS)
        self.manifest.writeheader()
        self.batch: list[_Letter] = []
        self.futures: list[Future[None]] = []
        jobs = options.jobs or os.cpu_count() or 1
        # Big batches spare LibreOffice's start-up; enough of them keep every process busy.
        letters = report.total - report.invalid
        self.batch_size = options.batch_size or min(200, max(10, -(-letters // (jobs * 3))))
        self.pool = ThreadPoolExecutor(jobs) if self.wants_pdf else None
        self.profiles: SimpleQueue[Path] = SimpleQueue()
        self.holding = reserved_profiles(jobs if self.wants_pdf else 0)
        for profile in self.holding.__enter__():
            self.profiles.put(profile)

    def __enter__(self) -> _Run:
        return self

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        try:
            if error is None:
                self._flush_batch()
                for future in self.futures:
                    future.result()
        finally:
            if self.pool:
                self.pool.shutdown(wait=True, cancel_futures=True)
            with self.lock:
                for entry in self.in_flight:
                    if not entry.status:
                        entry.status, entry.error = "interrupted", "the run was stopped"
                        if "docx" not in self.options.formats:
                            entry.docx = None  # it was in the work folder, removed below
                self._drain(final=True)
                if error is not None or self.options.only:
                    self._keep_previous()
            self.holding.__exit__(None, None, None)
            try:
                self.manifest_file.close()
                os.replace(self.manifest_path, self.outdir / MANIFEST)
                self.report.manifest = self.outdir / MANIFEST
                if error is None and self.options.combine:
                    self._combine()
            finally:  # also when the disk is full: no hidden folder is left behind
                shutil.rmtree(self.work, ignore_errors=True)

    def add(self, number: int, name: str, item: tuple[Record, Letter]) -> None:
        """Render one letter (or skip it, unchanged), and queue its PDF conversion."""
        record, letter = item
        compiled, writer = self._compiled(letter.locale)
        loc = compiled.localizer
        entry = _Letter(number, record.id, loc.text(letter.recipient.name), loc.identifier,
                        self._inputs(letter, name))
        with self.lock:
            self.in_flight.append(entry)
        if self._unchanged(entry, name):
            self._finish(entry, "skipped")
            return
        try:
            docx = render_docx(compiled, build_context(letter, loc, writer))
        except TemplateError as e:
            self._fail(entry, str(e))
            return
        target_dir = self.outdir if "docx" in self.options.formats else self.work
        path = target_dir / f"{name}.docx"
        write_atomic(path, docx, durable=False)
        entry.docx = path  # only now: the manifest never names a file that is not there
        if self.wants_pdf:
            self.batch.append(entry)
            if len(self.batch) >= self.batch_size:
                self._flush_batch()
        else:
            self._finish(entry, "written")

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
            setattr(entry, fmt, path)
            entry.sha256[fmt] = row[f"{fmt}_sha256"]
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
                self._finish(entry, "written")
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
        self._finish(entry, "written")

    def _finish(self, entry: _Letter, status: str) -> None:
        if status == "written":
            if entry.pdf is not None:
                entry.pages = str(len(pypdf.PdfReader(entry.pdf).pages))
                entry.sha256["pdf"] = sha256_of(entry.pdf)
            if entry.docx is not None and "docx" not in self.options.formats:
                entry.docx.unlink(missing_ok=True)  # only the PDF was asked for
                entry.docx = None
            if entry.docx is not None:
                entry.sha256["docx"] = sha256_of(entry.docx)
            self.report.written += 1
        else:
            self.report.skipped += 1
        self._settle(entry, status)

    def _fail(self, entry: _Letter, error: str) -> None:
        if entry.docx is not None and "docx" not in self.options.formats:
            entry.docx.unlink(missing_ok=True)
            entry.docx = None
        entry.pdf = None  # a DOCX that was asked for stays, and its row names it
        entry.error = error
        self.report.failed += 1
        self.report.problems.append(Problem(Location(), "", error, record=entry.number,
                                            record_id=entry.id))
        self._settle(entry, "failed")

    def _settle(self, entry: _Letter, status: str) -> None:
        with self.lock:
            entry.status = status
            self.done += 1
            self._drain()
            done, total = self.done, self.report.total - self.report.invalid
        if self.on_progress:
            self.on_progress(done, total)

    def _drain(self, final: bool = False) -> None:
        """Write the finished letters at the head of the queue, and invalid records before
        them, to the manifest, in file order."""
        while self.in_flight and self.in_flight[0].status:
            entry = self.in_flight.popleft()
            self._write_rejected(before=entry.number)
            self.manifest.writerow(entry.row())
        if final:
            self._write_rejected(before=None)

    def _write_rejected(self, before: int | None) -> None:
        while self.next_rejected and (before is None or self.next_rejected[0] < before):
            number, (record_id, why) = self.next_rejected
            self.manifest.writerow({"number": str(number), "id": _cell(record_id),
                                    "status": "invalid", "error": _cell(why)})
            self.next_rejected = next(self.rejected, None)

    def _keep_previous(self) -> None:
        """Add the last manifest's rows of the records this run did not reach, as they were,
        each in its place in file order."""
        if not self.previous:
            return
        self.manifest_file.flush()
        with self.manifest_path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))  # what this run reached (held only on this path)
        reached = {(row["number"], _uncell(row["id"])) for row in rows}
        kept = [{column: _cell(row.get(column, "")) if column in _CELLS else row.get(column, "")
                 for column in MANIFEST_COLUMNS}
                for key, row in self.previous.items() if key not in reached]
        if not kept:
            return
        rows += kept
        rows.sort(key=lambda row: int(row["number"]) if row["number"].isdigit() else 0)
        self.manifest_file.seek(0)
        self.manifest_file.truncate()
        self.manifest.writeheader()
        self.manifest.writerows(rows)

    def _combine(self) -> None:
        from .combine import combine_docx, combine_pdf

        rows = _read_manifest(self.outdir / MANIFEST).values()
        finished = [row for row in rows if row["status"] in ("written", "skipped")]
        pdfs = [self.outdir / row["pdf"] for row in finished if row["pdf"]]
        docxs = [self.outdir / row["docx"] for row in finished if row["docx"]]
        pages = [int(row["pages"]) for row in finished if row["docx"] and row["pages"]]
        if pdfs:
            self.report.combined.append(combine_pdf(pdfs, self.outdir / "combined.pdf"))
        if docxs:
            self.report.combined.append(combine_docx(docxs, self.outdir / "combined.docx",
                                                     pages if len(pages) == len(docxs) else None))


__all__ = ["MergeOptions", "MergeReport", "merge", "safe_name"]
