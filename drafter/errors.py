"""The one exception tree of drafter.

Every error a user can cause is a :class:`DrafterError`. Its message says *where*: a file with
line and column, a field path, or, for templates, the words around the bad tag. The CLI prints
the message and exits non-zero; the Python API raises it.
"""

from __future__ import annotations

from dataclasses import dataclass


class DrafterError(Exception):
    """Base of every error drafter reports to a user."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One problem found while validating input: where it is and what was expected."""

    where: str  # "data/letter.yaml:12:5" or "template.docx, body paragraph 4"
    field: str  # "recipient.address.city" ("" when the whole file is at fault)
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        field = f" {self.field}:" if self.field else ""
        label = "" if self.severity == "error" else f" {self.severity}:"
        return f"{self.where}:{label}{field} {self.message}"


class ValidationError(DrafterError):
    """Input failed validation; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = len(problems)
        head = f"{count} problem{'s' if count != 1 else ''} found:"
        super().__init__("\n".join([head, *(f"  {p}" for p in problems)]))


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


class OutputError(DrafterError):
    """An output file cannot be written where it was asked to go."""
