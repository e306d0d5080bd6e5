"""Mail merge: one case letter, many recipients, one letter each.

This module owns the order of a merge's steps, the compile cache and what a merge reports;
each step's work has its own home:

1. **Validate everything first.** The case and every record are read and validated before any
   letter is rendered; all problems are reported with the record's number, id, field and row.
2. **Plan the names.** Each letter's file name comes from a pattern, made safe and unique
   (:mod:`drafter.files`).
3. **Render.** Each (template, locale) is compiled once; a letter then costs a Jinja render and
   the writing of its DOCX. Records whose inputs and outputs are unchanged since the last run
   are skipped (:func:`drafter.manifest.unchanged`). Without PDF, many letters are rendered by
   processes forked from the merge, one per core (:mod:`drafter.workers`): forked as the
   first pass finds enough records, they validate them too and compile the template for each
   locale they meet, then render what this process, naming and recording the letters in
   order, hands them.
4. **Convert.** :class:`drafter.pdf.ConversionPool` converts the DOCX files to PDF while
   rendering goes on (letters of one template, locale and paper in chunks, as one document
   split back into letters, by LibreOffices kept running for the whole merge where its Python
   bridge is installed), and hands back each letter's PDF and pages, or its error.
5. **Record.** ``manifest.csv`` lists every record: its files, their SHA-256, pages, status
   (:class:`drafter.manifest.ManifestWriter`); ``--combine`` then joins the finished letters
   (:mod:`drafter.combine`). ``merge.json`` says what the merge was made from, so that
   :func:`merged_letters` (for ``drafter mail``) can read its letters again.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import json
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import jinja2
from jinja2 import meta

from .combine import combine_letters
from .compiled import CompiledTemplate, Layouts, compile_template, render_docx
from .context import CaseInLocale, build_context
from .errors import DataError, LibreOfficeMissing, Location, OutputError, Problem, TemplateError
from .fields import FIELDS_NAME, FieldSchema, letter_model, template_fields
from .files import (
    UniqueNames,
    remove_leftovers,
    safe_name,
    sha256_of,
    slug,
    temporary_folder,
    write_atomic,
)
from .loading import (
    FieldPath,
    Locate,
    contact_warnings,
    file_fields,
    link_warnings,
    load_yaml,
    validate,
    validate_letter,
)
from .locales import Localizer, locale_for, localizer_for, missing_catalog
from .manifest import (
    MANIFEST,
    LetterRow,
    ManifestWriter,
    Rows,
    finished_letters,
    keep_previous,
    read_manifest,
    stale_message,
    unchanged,
    unnamed_letters,
)
from .markup import ParagraphWriter
from .model import Case, Digits, Letter
from .outputs import SOURCES, only_writer, reserved_letter_names
from .pdf import DEFAULT_TIMEOUT, ConversionPool, Converted, LibreOffice, WarmLibreOffice
from .recipients import LETTER_FIELDS, Record, letter_data, read_recipients, where_in_record
from .render import FORMATS
from .sandbox import BoundedSandbox
from .template import LetterTemplate, find_template
from .workers import BATCH, HELD, Outcome, Workers, can_fork, cores

# The record's id when the file gives one (`cui-tiankai`), else the recipient's name, as a slug.
DEFAULT_NAME = "{{ (given_id or name) | slug }}"
MAX_REPORTED = 200  # problems listed in full; the rest are counted


@dataclass(frozen=True)
class MergeOptions:
    """How a merge runs; the defaults are what ``drafter merge`` does without flags."""

    template: str | Path | None = None
    formats: tuple[str, ...] = FORMATS
    name: str = DEFAULT_NAME  # Jinja pattern: number, id, name, locale, date, recipient
    jobs: int = 0  # LibreOffice processes (or for DOCX only, rendering processes); 0: per core
    combine: bool = False
    only: frozenset[str] = frozenset()  # record ids (or numbers) to render; empty: all
    keep_going: bool = False
    force: bool = False
    dry_run: bool = False
    batch_size: int = 0  # letters per LibreOffice process; 0: chosen from the count and jobs
    chunks: bool = True  # convert letters that can be combined as one document, then split
    chunk_size: int = 0  # letters per combined document; 0: chosen from the count and jobs
    timeout: float = DEFAULT_TIMEOUT  # seconds per LibreOffice process (kept running: per call)
    # Keep each LibreOffice running for the whole merge, where its Python bridge (python3-uno)
    # is installed; False, or without it: one LibreOffice process per chunk or batch.
    keep_running: bool = True
    soffice: str | None = None  # LibreOffice program; None: found on PATH
    wait: bool = False  # another drafter writing into the folder: wait for it (else refuse)


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
    # Letter files (.docx, .pdf) in the folder that the manifest does not name: an earlier
    # run's, under a name or in a format this one no longer makes. Never removed by drafter.
    stale: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every selected letter exists now."""
        return not (self.failed or self.invalid)

    def summary(self) -> str:
        """One line of counts: ``12 written, 0 unchanged (skipped), 0 failed, 0 invalid, of 12``."""
        return (f"{self.written} written, {self.skipped} unchanged (skipped), "
                f"{self.failed} failed, {self.invalid} invalid, of {self.total}")


Progress = Callable[[int, int], None]  # (letters done, letters in all)


def merge(case_path: Path | str, recipients_path: Path | str, outdir: Path | str,
          options: MergeOptions = MergeOptions(), *,
          on_progress: Progress | None = None) -> MergeReport:
    """Merge a case with recipients into one letter per recipient in ``outdir``.

    Raises :class:`DataError` listing every problem of the case file and of the recipients
    file's columns, or else every bad record (nothing is rendered), unless ``keep_going``:
    then good records are rendered and the bad ones are in the report. A file a value names
    (a signature image) is found relative to the file that value came from.
    """
    case_path, recipients_path, outdir = Path(case_path), Path(recipients_path), Path(outdir)
    case_source = load_yaml(case_path)
    if not isinstance(case_source.value, dict):
        raise DataError([Problem(Location(str(case_path)), "",
                                 "expected the case letter's fields")])
    template = find_template(options.template)
    schema = template_fields(template)
    found: list[Problem] = []
    case: Letter | None = None
    try:  # the case's own problems, its files included, said once, not once per record
        case = validate_letter(letter_model(schema, Case), case_source.value, case_source.where,
                               case_source.problems)
    except DataError as e:
        found += e.problems
    # A bad column of the recipients file is one problem, said once, not one of every record;
    # the records are still validated without it, so that theirs come in the same run.
    columns: list[Problem] = []
    next(read_recipients(recipients_path, LETTER_FIELDS | set(schema.names),
                         column_problems=columns), None)  # reads the first row
    if found:  # with a bad case every record would be bad: the case's problems first
        raise DataError([*found, *columns])
    report = MergeReport()
    report.warnings += [p for p in case_source.problems if p.severity == "warning"]
    writer = ParagraphWriter()  # the case's paragraphs parsed once: for warnings, then runs
    letters = _Letters(case_source.value, case_source.where, recipients_path, options, schema,
                       writer)
    templates = _Templates(template, case, writer)
    with contextlib.ExitStack() as processes:  # the rendering processes, when there are some
        plan: IO[str] | None = None  # the letters to render, for them
        workers = None
        if "pdf" not in options.formats and not options.dry_run:
            plan = processes.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8"))
            workers = _Forking(processes, options, functools.partial(
                _rendering, letters, templates, outdir))
        _validate_all(letters, templates, report, options, outdir, workers, plan)
        if columns:  # a column left out of every letter: no letter is right, even with keep_going
            raise DataError([*columns, *_capped(report.problems, report.invalid)])
        if report.problems and not options.keep_going:
            raise DataError(_capped(report.problems, report.invalid))
        if options.dry_run:
            return report
        # LibreOfficeMissing now, before any letter is written.
        office = _converter(options) if "pdf" in options.formats else None
        try:
            outdir.mkdir(parents=True, exist_ok=True)
            with only_writer(outdir, wait=options.wait):
                remove_leftovers(outdir)
                _write_letters(letters, report.total - report.invalid, report.rejected,
                               templates, outdir, options, office, report, on_progress,
                               workers.started if workers else None, plan)
                _write_sources(outdir, case_path, recipients_path, options)
                report.manifest = outdir / MANIFEST
                if options.combine:
                    report.combined += combine_letters(finished_letters(outdir), outdir)
                report.stale = unnamed_letters(outdir)
        except OSError as e:  # a full disk, a folder that cannot be written
            raise OutputError(f"{e.filename or outdir}: cannot write: {e.strerror or e}") from e
    if report.stale:
        report.warnings.append(Problem(Location(str(outdir)), "", stale_message(report.stale),
                                       severity="warning"))
    return report


def _converter(options: MergeOptions) -> LibreOffice:
    """The LibreOffice a merge converts with: kept running where it can be (faster: no start
    per chunk), else a process per chunk; raises :class:`LibreOfficeMissing` when there is no
    LibreOffice at all."""
    office = LibreOffice(options.soffice, timeout=options.timeout)
    if options.keep_running:
        with contextlib.suppress(LibreOfficeMissing):  # no python3-uno: a process per chunk
            return WarmLibreOffice(office.soffice, timeout=options.timeout)
    return office


def _write_letters(letters: _Letters, count: int, rejected: dict[int, tuple[str, str]],
                   templates: _Templates, outdir: Path, options: MergeOptions,
                   office: LibreOffice | None, report: MergeReport,
                   on_progress: Progress | None,
                   workers: Workers[Task, Any] | None = None, plan: IO[str] | None = None
                   ) -> None:
    """Render the ``count`` valid letters (a second pass over ``letters``, or with
    ``workers``, the rendering processes, over the ``plan`` the first pass made), convert them
    (with ``office``, when PDF is asked for) and write the manifest (with the ``rejected``
    records in their places), in a work folder that goes when they are done or stopped;
    ``report`` gets the counts and problems."""
    if workers is None:
        templates.compile_all()  # a template that fails in a locale: before any letter
    previous = read_manifest(outdir / MANIFEST)
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(temporary_folder(outdir, "merge")))
        manifest = stack.enter_context(ManifestWriter(
            outdir, work, rejected=rejected, previous=previous,
            keep_unreached=bool(options.only)))
        run = _Run(templates, outdir, work, options, previous, manifest, report, count,
                   on_progress)
        stack.callback(run.interrupt)  # after the conversions stop, before the manifest ends
        if workers is not None and plan is not None:
            plan.seek(0)
            _render_in_processes(plan, run, workers)
            return
        pool = stack.enter_context(ConversionPool(
            office, outdir, run.converted, jobs=options.jobs, letters=count,
            batch_size=options.batch_size, chunks=options.chunks,
            chunk_size=options.chunk_size)) if office else None
        for number, record, letter_or_error in letters:
            if isinstance(letter_or_error, DataError):
                continue
            name, letter = letter_or_error
            letter_row = run.render(number, name, record, letter)
            if letter_row and letter_row.docx and pool:
                pool.add(letter_row.docx, letter_row)


Task = tuple[Any, ...]  # to a rendering process: ("look", …) or ("render", …), see _rendering
Rendered = tuple[str, str, str]  # what a rendering process answers to "render"


@dataclass(frozen=True)
class _Look:
    """What the first pass finds of one record (:meth:`_Letters.look`)."""

    number: int
    id: str
    problems: list[Problem] | None = None  # why it is refused; None: it is valid
    name: str = ""  # its files' name, before it is made unique
    locale: str = ""
    digits: Digits = "default"
    recipient: str = ""  # the recipient's name in the letter's language (the manifest's)
    identifier: str = ""  # the letter's locale as the manifest gives it
    warnings: list[Problem] = field(default_factory=list)  # the record's own
    links: list[tuple[Problem, bool]] = field(default_factory=list)  # True: in the case file


class _Forking:
    """The rendering processes of a DOCX merge: forked (:class:`drafter.workers.Workers`,
    ``jobs`` of them) when the first pass finds more records than they hold at once, so that
    they look at the records too and compile the template meanwhile; they stay for the rest
    of the merge (``stack``)."""

    def __init__(self, stack: contextlib.ExitStack, options: MergeOptions,
                 start: Callable[[], Callable[[Task], Any]]) -> None:
        self.jobs = options.jobs or cores()
        self.least = self.jobs * BATCH * HELD  # fewer records: not worth a process
        self.stack = stack
        self.start_one = start
        self.started: Workers[Task, Any] | None = None

    def start(self) -> Workers[Task, Any] | None:
        """The processes, once forked; None where this process cannot fork."""
        if self.jobs > 1 and can_fork():
            with contextlib.suppress(OSError):  # no fork (no memory, no process left): here
                self.started = self.stack.enter_context(Workers(self.jobs, self.start_one))
        return self.started


def _validate_all(letters: _Letters, templates: _Templates, report: MergeReport,
                  options: MergeOptions, outdir: Path, workers: _Forking | None,
                  plan: IO[str] | None) -> None:
    """The first pass, before anything is written: every selected record validated and
    named, its problems and warnings in ``report`` (each warning of the case's own once),
    the (locale, digits) its letter needs in ``templates``; each valid letter also goes into
    ``plan`` (for the rendering processes, when ``workers`` start)."""
    names = UniqueNames(reserved_letter_names())  # never manifest.csv, combined.pdf…
    locales: dict[str, tuple[int, str]] = {}  # each locale, and the first record that has it

    def warn() -> bool:
        return len(report.warnings) < MAX_REPORTED

    for look in _looks(letters, templates, warn, workers):
        report.total += 1
        if look.problems is not None:
            report.invalid += 1
            report.rejected[look.number] = (look.id, "; ".join(p.brief for p in look.problems))
            if len(report.problems) < MAX_REPORTED:
                report.problems.extend(look.problems)
            continue
        name = names.unique(look.name)
        locales.setdefault(look.locale, (look.number, look.id))
        templates.forms.add((look.locale, look.digits))
        if warn():
            report.warnings += look.warnings
            report.warnings += [warning for warning, in_case in look.links
                                if not in_case or warning not in report.warnings]
        if options.dry_run:
            report.planned += [f"{outdir / name}.{fmt}" for fmt in options.formats]
        if plan is not None:
            plan.write(json.dumps([look.number, look.id, name, look.recipient,
                                   look.identifier], ensure_ascii=False) + "\n")
    for identifier, (number, record_id) in locales.items():  # once per language
        missing = missing_catalog(templates.template.catalogs, locale_for(identifier))
        if missing:
            report.warnings.append(Problem(Location(file=str(letters.path)), "locale", missing,
                                           severity="warning", record=number,
                                           record_id=record_id))


def _looks(letters: _Letters, templates: _Templates, warn: Callable[[], bool],
           workers: _Forking | None) -> Iterator[_Look]:
    """Each selected record looked at (:meth:`_Letters.look`; with its warnings while
    ``warn()``), in file order: here, or once there are more than ``workers`` hold at once,
    in the rendering processes, which compile the template for each locale they meet."""
    records = letters.records()
    head = list(itertools.islice(records, workers.least + 1)) if workers else []
    started = workers.start() if workers and len(head) > workers.least else None
    if started is None:
        for record in itertools.chain(head, records):
            yield letters.look(record, warn())
        return
    pending: dict[int, Record] = {}  # sent to a process, by number, until looked at
    order: deque[int] = deque()
    looked: dict[int, _Look] = {}

    def settle(outcomes: Iterator[Outcome[Task, Any]]) -> Iterator[_Look]:
        for outcome in outcomes:
            number = outcome.task[1]
            # A process that stopped took the record with it: looked at here.
            looked[number] = (letters.look(pending[number], True, templates)
                              if outcome.result is None else outcome.result)
        while order and order[0] in looked:
            del pending[order[0]]
            yield looked.pop(order.popleft())

    for record in itertools.chain(head, records):
        pending[record.number] = record
        order.append(record.number)
        yield from settle(started.add(("look", record.number, warn())))
    yield from settle(started.finish())


def _render_in_processes(plan: IO[str], run: _Run, workers: Workers[Task, Any]) -> None:
    """A DOCX merge on several cores: this process enters each letter of the ``plan`` in the
    manifest, in order; the rendering processes tell whether it is unchanged, else render
    and write it (:func:`_rendering`)."""
    rendering: dict[int, LetterRow] = {}  # by record number, until it is done
    force = run.options.force

    def settle(outcomes: Iterator[Outcome[Task, Any]]) -> None:
        for outcome in outcomes:
            _, number, name, _ = outcome.task
            letter_row = rendering.pop(number)
            rendered: Rendered = outcome.result or ("failed", "", outcome.stopped or "")
            status, letter_row.inputs, said = rendered
            if status == "unwritable":
                raise OutputError(said)
            if status == "failed":
                run.fail(letter_row, said)
            elif status == "written":
                run.wrote(letter_row, name, said)
            else:  # unchanged: the process has checked its files
                run.kept(letter_row, name)

    for line in plan:
        number, record_id, name, recipient, identifier = json.loads(line)
        letter_row = LetterRow(number, record_id, recipient, identifier, "")  # inputs: later
        run.manifest.add(letter_row)
        rendering[number] = letter_row
        previous = None if force else run.previous.get(letter_row.key)
        settle(workers.add(("render", number, name, previous)))
    settle(workers.finish())


def _rendering(letters: _Letters, templates: _Templates, outdir: Path
               ) -> Callable[[Task], _Look | Rendered]:
    """In a rendering process: what does its tasks, reading the recipients file in step
    (the records come in file order, from the top again for the second pass):

    - ``("look", number, warn)``: the record looked at (:meth:`_Letters.look`), the template
      compiled here for its locale (a template that fails stops the merge before any letter
      is written);
    - ``("render", number, name, previous)``: the record validated again, then
      ``(status, the letter's inputs, said)``: ``"skipped"`` when ``previous`` (its row in the
      last run's manifest) shows it unchanged, else ``"written"`` and its SHA-256,
      ``"failed"`` and why (the template), or ``"unwritable"`` and why (the folder).
    """
    records = _InStep(letters)
    formats = letters.options.formats

    def do(task: Task) -> _Look | Rendered:
        if task[0] == "look":
            _, number, warn = task
            return letters.look(records.find(number), warn, templates)
        _, number, name, previous = task
        record = records.find(number)
        letter = letters.validated(record)
        inputs = letter_inputs(letter, templates.digest, formats, name)
        files = _files(outdir, name, formats)
        row = LetterRow(number, record.id, "", "", inputs)
        if previous is not None and unchanged({row.key: previous}, row, files):
            return "skipped", inputs, ""
        try:
            return "written", inputs, _write_docx(templates, letter, files["docx"])
        except TemplateError as e:
            return "failed", inputs, str(e)
        except OutputError as e:
            return "unwritable", inputs, str(e)
    return do


class _InStep:
    """The records of a merge read in step with the numbers asked for, which come in file
    order; from the top again when a number comes back (the second pass)."""

    def __init__(self, letters: _Letters) -> None:
        self.letters = letters
        self._records: Iterator[Record] = iter(())
        self._last: int | None = None

    def find(self, number: int) -> Record:
        if self._last is None or number <= self._last:
            self._records = self.letters.records()
        self._last = number
        return next(record for record in self._records if record.number == number)


def _files(outdir: Path, name: str, formats: Iterable[str]) -> dict[str, Path]:
    """A letter's files in ``outdir``, by format."""
    return {fmt: outdir / f"{name}.{fmt}" for fmt in formats}


def _write_docx(templates: _Templates, letter: Letter, path: Path) -> str:
    """Render a letter and write its DOCX at ``path``; its SHA-256. Raises
    :class:`TemplateError` when the template fails on it, :class:`OutputError` when it cannot
    be written."""
    shared = templates.for_locale(letter.locale, letter.digits)
    docx = render_docx(shared.compiled, build_context(
        letter, shared.compiled.localizer, shared.writer, known=shared.known))
    write_atomic(path, docx, durable=False)
    return hashlib.sha256(docx).hexdigest()  # of the bytes just written, not read back


def _write_sources(outdir: Path, case_path: Path, recipients_path: Path,
                   options: MergeOptions) -> None:
    spec = options.template
    template = str(Path(spec).resolve()) if spec and Path(spec).exists() else spec
    write_atomic(outdir / SOURCES, json.dumps({
        "case": str(case_path.resolve()), "recipients": str(recipients_path.resolve()),
        "template": None if template is None else str(template), "name": options.name,
        "formats": list(options.formats)}, ensure_ascii=False, indent=2).encode("utf-8"),
        durable=False)


@dataclass(frozen=True)
class MergedLetter:
    """A letter of an earlier merge, validated again from its sources."""

    number: int
    id: str
    name: str  # its files' name, without the extension
    letter: Letter
    inputs: str  # the digest the manifest holds when the letter's files are up to date


def merged_letters(outdir: Path) -> tuple[LetterTemplate, Iterator[MergedLetter]]:
    """The template and the letters of the last merge into ``outdir``, read again from the
    case and recipients it was made from (``merge.json``).

    Raises :class:`DataError` when there was no merge, or when its sources no longer validate.
    """
    where = outdir / SOURCES
    try:
        sources = json.loads(where.read_text(encoding="utf-8"))
        case_path, recipients_path = Path(sources["case"]), Path(sources["recipients"])
        options = MergeOptions(template=sources["template"], name=sources["name"],
                               formats=tuple(sources["formats"]))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError([Problem(Location(str(where)), "", "no merge was found in this "
                                 "folder (run `drafter merge … -o` into it first)")]) from e
    case_source = load_yaml(case_path)
    if not isinstance(case_source.value, dict):
        raise DataError([Problem(Location(str(case_path)), "",
                                 "expected the case letter's fields")])
    template = find_template(options.template)
    schema = template_fields(template)
    validate(letter_model(schema, Case), case_source)
    template_digest = _template_digest(template)
    letters = _Letters(case_source.value, case_source.where, recipients_path, options, schema)

    def each() -> Iterator[MergedLetter]:
        for number, record, letter_or_error in letters:
            if isinstance(letter_or_error, DataError):
                raise letter_or_error
            name, letter = letter_or_error
            yield MergedLetter(number, record.id, name, letter,
                               letter_inputs(letter, template_digest, options.formats, name))
    return template, each()


def letter_inputs(letter: Letter, template_digest: str, formats: tuple[str, ...],
                  name: str) -> str:
    """A digest of everything a letter's files are made from: data, template, formats,
    name, and the pictures and annexes it shows (a logo may change under the same name)."""
    digest = hashlib.sha256()
    digest.update(letter.model_dump_json().encode("utf-8"))  # fields in the model's order
    digest.update(template_digest.encode())
    for _, _, path in file_fields(letter):
        digest.update(sha256_of(Path(path)).encode())
    digest.update(json.dumps([sorted(formats), name]).encode())
    return digest.hexdigest()[:32]


class _Letters:
    """The selected records, each validated into a letter with its file name (or the error).

    Iterating reads the recipients file again, so that memory does not grow with its length;
    names come out the same on every pass.
    """

    def __init__(self, case: dict[str, Any], case_where: Locate,
                 recipients_path: Path, options: MergeOptions, schema: FieldSchema,
                 writer: ParagraphWriter | None = None) -> None:
        self.case = case
        self.case_where = case_where
        self.case_file = case_where(()).file
        self.path = recipients_path
        self.options = options
        self.model = letter_model(schema)
        self.letter_fields = LETTER_FIELDS | set(schema.names)
        self.writer = writer or ParagraphWriter()  # the case's paragraphs: parsed once
        body = case.get("body")
        self.shared = len(body) if isinstance(body, list) else int(bool(body))  # the case's
        self.localizers: dict[str, Localizer] = {}
        try:
            environment = BoundedSandbox(undefined=jinja2.StrictUndefined, autoescape=False)
            environment.filters["slug"] = slug
            self.pattern = environment.from_string(options.name)
            # The recipient's whole data only for a pattern that reads it.
            self.reads = meta.find_undeclared_variables(environment.parse(options.name))
        except jinja2.TemplateSyntaxError as e:
            raise DataError([Problem(Location(option="--name"), "",
                                     f"the name pattern {options.name!r} is not "
                                     f"a Jinja template: {e.message}")]) from e

    def __iter__(self) -> Iterator[tuple[int, Record, tuple[str, Letter] | DataError]]:
        names = UniqueNames(reserved_letter_names())  # never manifest.csv, combined.pdf…
        for record in self.records():
            try:
                name, letter = self.named(record)
            except DataError as e:
                yield record.number, record, e
                continue
            yield record.number, record, (names.unique(name), letter)

    def records(self) -> Iterator[Record]:
        """The selected records, read from the file again."""
        only = self.options.only
        for record in read_recipients(self.path, self.letter_fields, column_problems=[]):
            if not only or record.id in only or str(record.number) in only:
                yield record

    def validated(self, record: Record) -> Letter:
        """A record's letter; raises :class:`DataError` with its problems."""
        return _validated(self.case, self.case_where, record, self.model)

    def named(self, record: Record) -> tuple[str, Letter]:
        """A record's letter, and its files' name before it is made unique."""
        letter = self.validated(record)
        loc = self._localizer(letter)
        return _file_name(self.pattern, self.options.name, record, letter, loc,
                          "recipient" in self.reads), letter

    def _localizer(self, letter: Letter) -> Localizer:
        loc = self.localizers.get(letter.locale)
        if loc is None:  # one per locale of the run: its choices of forms are kept
            loc = self.localizers[letter.locale] = Localizer(_locale(letter))
        return loc

    def look(self, record: Record, warn: bool, templates: _Templates | None = None) -> _Look:
        """What the first pass needs of a record: its problems, or its letter's name, locale
        and (when ``warn``) warnings; ``templates`` compiled for its locale on the way."""
        try:
            name, letter = self.named(record)
        except DataError as e:
            return _Look(record.number, record.id, e.problems)
        if templates is not None:
            templates.for_locale(letter.locale, letter.digits)
        warnings: list[Problem] = []
        links: list[tuple[Problem, bool]] = []
        if warn:
            locate = functools.partial(where_in_record, record, self.case_where)
            warnings += [*record.warnings, *(w.in_record(record.number, record.id)
                                             for w in contact_warnings(letter, locate))]
            for warning in link_warnings(letter, functools.partial(
                    _where_shared, self.shared, self.case_where, locate), self.writer):
                in_case = warning.location.file == self.case_file  # the case's: said once
                links.append((warning if in_case else warning.in_record(record.number,
                                                                        record.id), in_case))
        loc = self._localizer(letter)
        return _Look(record.number, record.id, None, name, letter.locale, letter.digits,
                     loc.text(letter.recipient.name), loc.identifier, warnings, links)


def _where_shared(shared: int, case_where: Locate, locate: Locate,
                  field: FieldPath) -> Location:
    """Where a field of a merged letter came from, the case's own body paragraphs (the first
    ``shared``) placed in the case file even when the record adds an ``extra_paragraph``."""
    if len(field) > 1 and field[0] == "body" and isinstance(field[1], int) and field[1] < shared:
        return case_where(field)
    return locate(field)


def _validated(case: dict[str, Any], case_where: Locate, record: Record,
               model: type[Letter] = Letter) -> Letter:
    def locate(field: FieldPath) -> Location:
        return where_in_record(record, case_where, field)

    try:
        # A recipient's file may be beside the recipients file or the case file, not elsewhere.
        case_folder = Path(case_where(()).file).parent
        return validate_letter(model, letter_data(case, record), locate, record.warnings,
                               roots=(case_folder,))
    except DataError as e:
        raise DataError([p.in_record(record.number, record.id) for p in e.problems]) from e


def _capped(problems: list[Problem], count: int) -> list[Problem]:
    if count <= MAX_REPORTED:
        return problems
    return [*problems, Problem(Location(), "",
                               f"… and more problems in {count - MAX_REPORTED} more "
                                       "records")]


def _file_name(pattern: jinja2.Template, source: str, record: Record, letter: Letter,
               loc: Localizer, recipient: bool = True) -> str:
    values = {
        "number": record.number,
        "id": record.id,
        "given_id": record.given_id,
        "name": loc.text(letter.recipient.name),
        "locale": letter.locale,
        "date": letter.date.isoformat(),
        "recipient": letter.recipient.model_dump() if recipient else {},
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


class _Templates:
    """The compile cache of one merge: the template compiled once for each locale, and a
    digest of its files (part of every letter's inputs)."""

    def __init__(self, template: LetterTemplate, case: Letter | None = None,
                 writer: ParagraphWriter | None = None) -> None:
        self.template = template
        self.case = case
        self.forms: set[tuple[str, Digits]] = set()  # what the letters ask for (first pass)
        self.writer = writer or ParagraphWriter()  # a paragraph's runs are the same in any locale
        self.digest = _template_digest(template)
        self._compiled: dict[str, _ForLocale] = {}
        self._layouts = Layouts()  # a layout is read once for all the locales that use it

    def for_locale(self, locale: str, digits: Digits = "default") -> _ForLocale:
        """The template compiled for ``locale`` (and the digits a letter asks for), the
        writer of its paragraphs and the case's texts in that locale."""
        key = f"{locale}/{digits}"
        if key not in self._compiled:
            loc = localizer_for(self.template, locale, digits)
            known = CaseInLocale(loc.resolved_parts(self.case) if self.case is not None else {})
            self._compiled[key] = _ForLocale(compile_template(self.template, loc, self._layouts),
                                             self.writer, known)
        return self._compiled[key]

    def compile_all(self) -> None:
        """Compile the template for every locale (and digits) the letters ask for."""
        for locale, digits in sorted(self.forms):
            self.for_locale(locale, digits)


@dataclass(frozen=True)
class _ForLocale:
    """What the letters of one locale of a merge share."""

    compiled: CompiledTemplate
    writer: ParagraphWriter  # converts the case's body paragraphs once
    known: CaseInLocale  # the case's parts in the locale (Localizer.resolve), and its blocks


def _template_digest(template: LetterTemplate) -> str:
    digest = hashlib.sha256()
    for path in sorted(template.folder.rglob("*")) if template.folder.is_dir() else []:
        if path.is_file() and (path.suffix in (".docx", ".po") or path.name == FIELDS_NAME
                               or path in template.variants.values()):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass
class _Run:
    """The letters of one merge on their way: rendered (or skipped, unchanged), converted
    elsewhere, then settled in the manifest and counted in the report."""

    templates: _Templates
    outdir: Path
    work: Path  # where a DOCX goes that only the PDF is made from
    options: MergeOptions
    previous: Rows
    manifest: ManifestWriter
    report: MergeReport
    count: int  # letters in all, for progress
    on_progress: Progress | None
    lock: threading.Lock = field(default_factory=threading.Lock)  # the report, from threads

    def render(self, number: int, name: str, record: Record, letter: Letter) -> LetterRow | None:
        """Render one letter (or skip it, unchanged); the letter when its PDF is to be made."""
        letter_row = self.begin(number, name, record, letter)
        if letter_row is None:
            return None
        try:
            digest = self.write(name, letter)
        except TemplateError as e:
            self.fail(letter_row, str(e))
            return None
        return self.wrote(letter_row, name, digest)

    def begin(self, number: int, name: str, record: Record, letter: Letter) -> LetterRow | None:
        """Enter a letter in the manifest; None when it is unchanged since the last run
        (skipped), else the letter, to be rendered."""
        letter_row = self.row(number, record, letter, self.inputs(letter, name))
        self.manifest.add(letter_row)
        if self.unchanged(letter_row, name):
            self._settle(letter_row, "skipped")
            return None
        return letter_row

    def row(self, number: int, record: Record, letter: Letter, inputs: str) -> LetterRow:
        """A letter's manifest row, from what it is made of (``inputs``: :func:`letter_inputs`,
        or "" until known)."""
        loc = self.templates.for_locale(letter.locale, letter.digits).compiled.localizer
        return LetterRow(number, record.id, loc.text(letter.recipient.name), loc.identifier,
                         inputs)

    def unchanged(self, letter_row: LetterRow, name: str) -> bool:
        """Whether the last run made this letter's files from the same inputs, and they are
        intact (then ``letter_row`` takes their names and digests)."""
        return not self.options.force and unchanged(self.previous, letter_row,
                                                    self._files(name))

    def kept(self, letter_row: LetterRow, name: str) -> None:
        """Settle a letter found unchanged elsewhere (a rendering process) as skipped."""
        keep_previous(self.previous, letter_row, self._files(name))
        self._settle(letter_row, "skipped")

    def _files(self, name: str) -> dict[str, Path]:
        return _files(self.outdir, name, self.options.formats)

    def write(self, name: str, letter: Letter) -> str:
        """Render a letter and write its DOCX; its SHA-256. Raises :class:`TemplateError`
        when the template fails on it, :class:`OutputError` when it cannot be written."""
        return _write_docx(self.templates, letter, self._docx(name))

    def wrote(self, letter_row: LetterRow, name: str, digest: str) -> LetterRow | None:
        """Record a letter's DOCX, written; the letter when its PDF is still to be made."""
        letter_row.docx = self._docx(name)  # only now: the manifest never names a missing file
        if "docx" in self.options.formats:
            letter_row.sha256["docx"] = digest
        if "pdf" in self.options.formats:
            return letter_row
        self._settle(letter_row, "written")
        return None

    def _docx(self, name: str) -> Path:
        return (self.outdir if "docx" in self.options.formats else self.work) / f"{name}.docx"

    def inputs(self, letter: Letter, name: str) -> str:
        """What a letter is made from, as a digest (:func:`letter_inputs`)."""
        return letter_inputs(letter, self.templates.digest, self.options.formats, name)

    def converted(self, letter_row: LetterRow, result: Converted) -> None:
        """Settle a letter whose conversion is over (called from a conversion thread)."""
        if result.pdf is None:
            self.fail(letter_row, str(result.error).replace("\n", " "))
            return
        letter_row.pdf, letter_row.pages = result.pdf, str(result.pages)
        letter_row.sha256["pdf"] = sha256_of(result.pdf)
        self._settle(letter_row, "written")

    def interrupt(self) -> None:
        """Mark the letters still in flight when the run stopped."""
        for letter_row in self.manifest.unfinished():
            letter_row.error = "the run was stopped"
            self._drop_unasked_docx(letter_row)
            self.manifest.finish(letter_row, "interrupted")

    def fail(self, letter_row: LetterRow, error: str) -> None:
        """Record a letter that could not be made, and why."""
        letter_row.pdf = None  # a DOCX that was asked for stays, and its row names it
        letter_row.error = error
        with self.lock:
            self.report.failed += 1
            self.report.problems.append(Problem(Location(), "", error, record=letter_row.number,
                                                record_id=letter_row.id))
        self._settle(letter_row, "failed")

    def _settle(self, letter_row: LetterRow, status: str) -> None:
        self._drop_unasked_docx(letter_row)
        if status == "written" and letter_row.docx is not None and (
                "docx" not in letter_row.sha256):
            letter_row.sha256["docx"] = sha256_of(letter_row.docx)
        with self.lock:
            if status == "written":
                self.report.written += 1
            elif status == "skipped":
                self.report.skipped += 1
        done = self.manifest.finish(letter_row, status)
        if self.on_progress:
            self.on_progress(done, self.count)

    def _drop_unasked_docx(self, letter_row: LetterRow) -> None:
        """Remove the DOCX a letter's PDF was made from when only the PDF was asked for."""
        if letter_row.docx is not None and "docx" not in self.options.formats:
            letter_row.docx.unlink(missing_ok=True)
            letter_row.docx = None


__all__ = ["MergeOptions", "MergeReport", "MergedLetter", "letter_inputs", "merge",
           "merged_letters"]
