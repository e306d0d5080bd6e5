"""A merge's ``manifest.csv``: its columns, reading it, writing it, and resuming from it.

The manifest lists every record of a run in file order: its files, their SHA-256, the PDF's
pages, the letter's status (``written``, ``skipped``, ``failed``, ``interrupted``, ``invalid``)
and error, and a digest of its inputs, by which the next run decides what it may skip
(:func:`unchanged`). :class:`ManifestWriter` writes letters in file order as they finish, so
memory holds only the letters in flight, and moves the manifest into place whole. Cells that
come from data are quoted so that a spreadsheet never runs them as formulas (CSV injection).
"""

from __future__ import annotations

import csv
import io
import os
import shlex
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, NamedTuple

from .files import sha256_of, write_atomic
from .outputs import MANIFEST, SOURCES, is_own_file

# The last four are a letter's email: filled by `drafter mail` and `drafter send` (send.py).
MANIFEST_COLUMNS = ("number", "id", "recipient", "locale", "docx", "docx_sha256", "pdf",
                    "pdf_sha256", "pages", "status", "error", "inputs",
                    "mail", "message_id", "delivery", "delivery_note")
QUOTED_COLUMNS = ("id", "recipient", "docx", "pdf", "error",  # the columns that come from data
                  "mail", "delivery_note")
FINISHED = ("written", "skipped")  # the statuses of a letter whose files exist

Key = tuple[str, str]  # a record's (number, id), as the manifest writes them
Rows = Mapping[Key, Mapping[str, str]]  # a manifest's rows by record, unquoted


def quote_cell(value: str) -> str:
    """A manifest cell that a spreadsheet will not run as a formula (CSV injection); a cell
    that starts with a quote gets one more, so that :func:`unquote_cell` reads back every
    value."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r", "'") else value


def unquote_cell(value: str) -> str:
    """A manifest cell's value, as it was before :func:`quote_cell`."""
    return value[1:] if value[:1] == "'" else value


def read_manifest(path: Path) -> dict[Key, dict[str, str]]:
    """The rows of a manifest by (number, id), unquoted; none when it is missing or cannot be
    read (then every letter is done again)."""
    if not path.is_file():
        return {}
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = [{key: unquote_cell(value or "") for key, value in row.items() if key}
                    for row in csv.DictReader(f)]
    except (OSError, UnicodeDecodeError, csv.Error):
        return {}
    return {(row.get("number", ""), row.get("id", "")): row for row in rows}


@dataclass
class LetterRow:
    """One letter's line in the manifest, filled in as the letter goes through the run."""

    number: int
    id: str
    recipient: str
    locale: str
    inputs: str  # digest of everything the letter is made from
    docx: Path | None = None
    pdf: Path | None = None
    pages: str = ""
    status: str = ""  # "" while in progress; then written, skipped, failed or interrupted
    error: str = ""
    sha256: dict[str, str] = field(default_factory=dict)  # format -> digest of its file

    @property
    def key(self) -> Key:
        return (str(self.number), self.id)

    def cells(self) -> dict[str, str]:
        """The letter's line in the manifest, quoted."""
        return {
            "number": str(self.number), "id": quote_cell(self.id),
            "recipient": quote_cell(self.recipient), "locale": self.locale,
            "docx": quote_cell(self.docx.name) if self.docx else "",
            "docx_sha256": self.sha256.get("docx", ""),
            "pdf": quote_cell(self.pdf.name) if self.pdf else "",
            "pdf_sha256": self.sha256.get("pdf", ""), "pages": self.pages, "status": self.status,
            "error": quote_cell(self.error), "inputs": self.inputs,
        }


def unchanged(previous: Rows, letter: LetterRow, files: Mapping[str, Path]) -> bool:
    """Whether the last run (its manifest rows, ``previous``) wrote this letter from the same
    inputs, and its ``files`` (by format) are intact; if so, ``letter`` takes their names,
    digests and pages."""
    row = previous.get(letter.key)
    if not row or row.get("inputs") != letter.inputs or row.get("status") not in FINISHED:
        return False
    for fmt, path in files.items():
        if row.get(fmt) != path.name or not path.is_file() or sha256_of(path) != row.get(
                f"{fmt}_sha256"):
            return False
    keep_previous(previous, letter, files)
    return True


def keep_previous(previous: Rows, letter: LetterRow, files: Mapping[str, Path]) -> None:
    """Give ``letter`` the names, digests and pages of its files from the last run's row (once
    :func:`unchanged` has found them intact)."""
    row = previous[letter.key]
    letter.docx, letter.pdf = files.get("docx"), files.get("pdf")
    letter.sha256.update({fmt: row[f"{fmt}_sha256"] for fmt in files})
    letter.pages = row.get("pages", "")


class FinishedLetter(NamedTuple):
    """A letter whose files exist, as its manifest row names them."""

    docx: Path | None
    pdf: Path | None
    pages: int | None  # its PDF's pages, when known


def finished_letters(outdir: Path) -> list[FinishedLetter]:
    """The letters that the manifest in ``outdir`` lists as written or skipped, in file order."""
    letters = []
    for row in read_manifest(outdir / MANIFEST).values():
        if row["status"] in FINISHED:
            letters.append(FinishedLetter(
                outdir / row["docx"] if row["docx"] else None,
                outdir / row["pdf"] if row["pdf"] else None,
                int(row["pages"]) if row["pages"].isdigit() else None))
    return letters


LETTER_COLUMNS = ("docx", "pdf")  # the columns that name a letter's files, by their suffix
MAX_STALE_LISTED = 10  # stale files named in the warning; the rest are counted


def unnamed_letters(outdir: Path) -> list[Path]:
    """The letter files (``.docx``, ``.pdf``) at the top of ``outdir`` that its manifest does
    not name, nor are drafter's own (``combined.pdf``…), in name order: letters of an earlier
    run whose recipient was renamed or whose format is no longer asked for, or files of the
    user's. They are reported, never removed.

    The folder is counted first: when it holds no more letter files than the manifest names,
    there are none, and no set of names is built (a folder of 100,000 letters stays cheap).
    """
    suffixes = tuple(f".{column}" for column in LETTER_COLUMNS)

    def letter_files() -> Iterator[str]:
        with os.scandir(outdir) as entries:
            for entry in entries:
                if (entry.name.lower().endswith(suffixes) and not entry.name.startswith(".")
                        and not is_own_file(entry.name) and entry.is_file(follow_symlinks=False)):
                    yield entry.name

    if sum(1 for _ in letter_files()) <= sum(1 for _ in _named_files(outdir)):
        return []
    names = set(_named_files(outdir))
    return sorted(outdir / name for name in letter_files() if name not in names)


def _named_files(outdir: Path) -> Iterator[str]:
    """The letter files the manifest in ``outdir`` names, read row by row (not held)."""
    try:
        with (outdir / MANIFEST).open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                for column in LETTER_COLUMNS:
                    if row.get(column):
                        yield unquote_cell(row[column])
    except (OSError, UnicodeDecodeError, csv.Error):
        return


def merge_files_among(outdir: Path, names: Iterable[str]) -> list[str]:
    """Those of ``names`` that belong to a merge in ``outdir`` (its letters, by its manifest,
    and drafter's own files), compared case-insensitively; none when ``outdir`` holds no
    merge. Another command writing them would leave the manifest wrong about the disk."""
    if not (outdir / SOURCES).is_file():
        return []
    taken = {name.casefold() for name in _named_files(outdir)}
    return [name for name in names if is_own_file(name) or name.casefold() in taken]


def stale_message(stale: list[Path]) -> str:
    """The warning about :func:`unnamed_letters`: what they are, and how to remove them."""
    shown = [path.name for path in stale[:MAX_STALE_LISTED]]
    more = f" and {len(stale) - len(shown)} more" if len(stale) > len(shown) else ""
    folder = stale[0].parent
    return (f"{len(stale)} letter file{'s' if len(stale) != 1 else ''} in the folder "
            f"{'are' if len(stale) != 1 else 'is'} in no row of its manifest: "
            f"{', '.join(shown)}{more} (an earlier run's, for a recipient renamed or a format "
            "no longer asked for, or files of yours); drafter leaves them alone: remove them "
            f"if they are not yours (cd {shlex.quote(str(folder))} && rm -- "
            f"{' '.join(shlex.quote(name) for name in shown)}{' …' if more else ''})")


def rewrite_manifest(outdir: Path, rows: Iterable[Mapping[str, str]]) -> Path:
    """Write ``outdir``'s manifest anew from rows as :func:`read_manifest` reads them (a
    later step filling in columns: ``drafter mail`` and ``drafter send``), atomically."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, MANIFEST_COLUMNS)
    writer.writeheader()
    writer.writerows(_quoted(row) for row in rows)
    write_atomic(outdir / MANIFEST, buffer.getvalue().encode("utf-8"))
    return outdir / MANIFEST


class ManifestWriter:
    """``manifest.csv`` being written while a run goes on, moved into ``outdir`` at the end.

    Letters are added in file order (:meth:`add`) and written as soon as they and every letter
    before them are finished (:meth:`finish`, safe from any thread); the records that did not
    validate (``rejected``: number -> (id, why)) go in between, in their places. It is written
    in ``work`` and moved into place whole when the ``with`` block ends; letters never finished
    by then are left out. A run that stopped early (an exception) or that rendered only some
    records (``keep_unreached``) keeps the ``previous`` rows of the records it did not write,
    as they were.
    """

    def __init__(self, outdir: Path, work: Path, *, rejected: Mapping[int, tuple[str, str]],
                 previous: Rows, keep_unreached: bool) -> None:
        self.path = outdir / MANIFEST
        self.draft = work / MANIFEST
        self.previous = previous
        self.keep_unreached = keep_unreached
        self.finished = 0  # letters finished so far
        self._lock = threading.Lock()
        self._in_flight: deque[LetterRow] = deque()
        self._rejected = iter(sorted(rejected.items()))
        self._next_rejected = next(self._rejected, None)
        self._file: IO[str] | None = None
        self._writer: csv.DictWriter[str] | None = None

    def __enter__(self) -> ManifestWriter:
        self._file = self.draft.open("w", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._file, MANIFEST_COLUMNS)
        self._writer.writeheader()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        assert self._file is not None
        with self._file:
            with self._lock:
                self._write_finished(final=True)
            if error is not None or self.keep_unreached:
                self._keep_previous()
        os.replace(self.draft, self.path)

    def add(self, letter: LetterRow) -> None:
        """A letter the run has started, in file order."""
        with self._lock:
            self._in_flight.append(letter)

    def finish(self, letter: LetterRow, status: str) -> int:
        """Record a letter's status and write what can be written; how many letters are done."""
        with self._lock:
            letter.status = status
            self.finished += 1
            self._write_finished()
            return self.finished

    def unfinished(self) -> list[LetterRow]:
        """The letters added and not finished (those a stopped run leaves in flight)."""
        with self._lock:
            return [letter for letter in self._in_flight if not letter.status]

    def _write_finished(self, final: bool = False) -> None:
        """Write the finished letters at the head of the queue, and the rejected records before
        them, in file order; ``final``: also the rejected records after the last letter."""
        assert self._writer is not None
        while self._in_flight and self._in_flight[0].status:
            letter = self._in_flight.popleft()
            self._write_rejected(before=letter.number)
            self._writer.writerow(letter.cells())
        if final:
            self._write_rejected(before=None)

    def _write_rejected(self, before: int | None) -> None:
        assert self._writer is not None
        while self._next_rejected and (before is None or self._next_rejected[0] < before):
            number, (record_id, why) = self._next_rejected
            self._writer.writerow({"number": str(number), "id": quote_cell(record_id),
                                   "status": "invalid", "error": quote_cell(why)})
            self._next_rejected = next(self._rejected, None)

    def _keep_previous(self) -> None:
        """Add the last manifest's rows of the records this run did not reach, as they were,
        each in its place in file order."""
        assert self._file is not None and self._writer is not None
        if not self.previous:
            return
        self._file.flush()
        with self.draft.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))  # what this run reached (held only on this path)
        reached = {(row["number"], unquote_cell(row["id"])) for row in rows}
        kept = [_quoted(row) for key, row in self.previous.items() if key not in reached]
        if not kept:
            return
        rows += kept
        rows.sort(key=lambda row: int(row["number"]) if row["number"].isdigit() else 0)
        self._file.seek(0)
        self._file.truncate()
        self._writer.writeheader()
        self._writer.writerows(rows)


def _quoted(row: Mapping[str, str]) -> dict[str, str]:
    """A row read by :func:`read_manifest`, as it is written."""
    return {column: quote_cell(row.get(column, "")) if column in QUOTED_COLUMNS
            else row.get(column, "") for column in MANIFEST_COLUMNS}
