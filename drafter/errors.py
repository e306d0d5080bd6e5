"""The one exception tree of drafter, and the problems its errors carry.

Every error a user can cause is a :class:`DrafterError`. Its message says *where*: a file with
line and column, a spreadsheet row and column, a field path, a mail-merge record, or, for
templates, the part, the paragraph and the words around the bad tag. A :class:`Problem` keeps
each of these as data (:class:`Location`) and formats itself; :func:`did_you_mean` is the one
way messages suggest the nearest known name. The CLI prints the message and exits non-zero;
the Python API raises it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

Severity = Literal["error", "warning"]


class DrafterError(Exception):
    """Base of every error drafter reports to a user."""

    exit_code = 1


@dataclass(frozen=True)
class Location:
    """Where a problem is, as a user looks for it; the empty location is nowhere in particular.

    A text file gives ``line`` and ``column`` (``letter.yaml:12:5``); a CSV file the line its
    row starts on and the column by its name (``recipients.csv:7, column address.city``); a
    spreadsheet its sheet, column letter and row (``recipients.xlsx:Sheet!C4, column name``); a
    header problem, found once for a whole column, only the file and the column's name
    (``recipients.csv, column Email``); a template its
    part and paragraph (``letter.docx, body paragraph 4 (in a table)``).
    """

    file: str = ""
    line: int | None = None  # 1-based: a text file's line, or a worksheet's row
    column: int | None = None  # 1-based, within the line of a text file
    sheet: str = ""  # the worksheet of a spreadsheet
    letter: str = ""  # a spreadsheet column's letter (``C``), as the spreadsheet shows it
    heading: str = ""  # a CSV or spreadsheet column, by the name in its first row
    part: str = ""  # a template's part: body, header, footer, footnotes, endnotes
    paragraph: int | None = None  # 1-based, within the part
    in_table: bool = False  # the paragraph sits in a table
    option: str = ""  # the command-line option a value came from, e.g. ``--name``

    def __str__(self) -> str:
        text = self.option or self.file
        if self.line is not None:
            text += (f":{self.sheet}!{self.letter}{self.line}" if self.sheet
                     else f":{self.line}")
            if self.column is not None:
                text += f":{self.column}"
        places = [text] if text else []
        if self.heading:
            places.append(f"column {self.heading}")
        if self.part:
            paragraph = "" if self.paragraph is None else f" paragraph {self.paragraph}"
            table = " (in a table)" if self.in_table and paragraph else ""
            places.append(f"{self.part}{paragraph}{table}")
        return ", ".join(places)

    @property
    def position(self) -> tuple[int, int]:
        """(line, column) for ordering problems as they appear in a file; 0 when unknown."""
        return (self.line or 0, self.column or 0)


@dataclass(frozen=True)
class Problem:
    """One problem found while validating input: where it is and what was expected.

    Printed as ``letter.yaml:12:5: warning: recipient.address.city: record 4 (xi): message``,
    each piece only when it is known; a template problem ends with the paragraph's text
    (``… — in "Dear {{ name }"``). A problem with no location is placed by its record alone.
    """

    location: Location
    field: str  # "recipient.address.city" ("" when the whole file is at fault)
    message: str
    severity: Severity = "error"
    record: int | None = None  # the mail-merge record's number, 1-based, in file order
    record_id: str = ""  # the record's id (its `id` column or its number)
    text: str = ""  # a template paragraph's visible text, the bad tag in it

    @property
    def where(self) -> str:
        """The location as printed: ``letter.yaml:12:5``, or the record when there is none."""
        return str(self.location) or self.record_label

    @property
    def record_label(self) -> str:
        """How messages name the record: ``record 5 (xi-jinping)``; "" outside a merge."""
        return "" if self.record is None else f"record {self.record} ({self.record_id})"

    def in_record(self, number: int, record_id: str) -> Problem:
        """The same problem, said of a mail-merge record."""
        return replace(self, record=number, record_id=record_id)

    def __str__(self) -> str:
        return self._text(with_record=True)

    @property
    def brief(self) -> str:
        """The problem without its record, for a place that names the record already (the
        manifest's number and id columns): ``recipients.csv:7, column email: 'x' is not …``."""
        return self._text(with_record=False)

    def _text(self, *, with_record: bool) -> str:
        where = str(self.location)
        pieces = [where or (self.record_label if with_record else "")]
        if self.severity != "error":
            pieces.append(self.severity)
        # A spreadsheet's column is named by its heading, in the user's words; the field path
        # behind it (``recipient.contacts[0]``) would only repeat it in drafter's.
        if self.field and not self.location.heading:
            pieces.append(self.field)
        if where and with_record and self.record is not None:
            pieces.append(self.record_label)
        message = f'{self.message} — in "{self.text}"' if self.text else self.message
        return ": ".join([*(p for p in pieces if p), message])


def sorted_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Problems in the order a reader meets them: by line and column (a stable sort, so
    problems without a position keep their order, first)."""
    return sorted(problems, key=lambda p: p.location.position)


def nearest(name: str, known: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The known name nearest to ``name`` (case-insensitively), or None when none is near
    enough (``cutoff``: difflib's similarity ratio, 0 to 1)."""
    by_folded: dict[str, str] = {}
    for candidate in known:
        by_folded.setdefault(candidate.casefold(), candidate)
    close = difflib.get_close_matches(name.casefold(), list(by_folded), n=1, cutoff=cutoff)
    return by_folded[close[0]] if close else None


def did_you_mean(name: str, known: Iterable[str], cutoff: float = 0.6) -> str:
    """``; did you mean 'address'?`` for the known name nearest to ``name``, or "" when none is
    near enough (see :func:`nearest`)."""
    close = nearest(name, known, cutoff)
    return f"; did you mean {close!r}?" if close else ""


class ValidationError(DrafterError):
    """Input failed validation; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = len(problems)
        head = f"{count} problem{'s' if count != 1 else ''} found:"
        super().__init__("\n".join([head, *(f"  {p}" for p in problems)]))

    def __reduce__(self) -> tuple[type[ValidationError], tuple[list[Problem]]]:
        # Made again from its problems (a merge's rendering process sends it to the merge),
        # not from its message.
        return type(self), (self.problems,)


class DataError(ValidationError):
    """A data file (letter YAML, recipients CSV/XLSX) is malformed or invalid."""


class TemplateError(ValidationError):
    """A DOCX template cannot be used: bad archive, bad tag, unknown variable."""


class LocaleError(DrafterError):
    """A locale identifier is not a CLDR locale Babel knows."""


class ConversionError(DrafterError):
    """LibreOffice could not turn a DOCX into a PDF."""


class LibreOfficeMissing(ConversionError):
    """No `soffice` program was found; the message says how to install it."""


class UsageError(DrafterError):
    """Command-line options, or the arguments of a function, that contradict each other or
    leave a choice open (``-o final.png`` for a command that writes DOCX and PDF)."""

    exit_code = 2


class OutputError(DrafterError):
    """An output file cannot be written where it was asked to go."""


class StudioError(DrafterError):
    """The studio refused something: a path outside its workspace, an address it may not
    listen on without being told, a merge or page that does not exist."""
