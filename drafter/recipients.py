"""Reading mail-merge recipients from YAML, CSV or XLSX, one record at a time.

Every format gives the same thing: a :class:`Record` per recipient, its fields as nested data
(dotted headers such as ``address.city`` or ``name.zh`` become nested fields) and a way to say
where any of its fields came from (``recipients.csv:7, column address.city``). CSV and XLSX are
streamed: a list of 100,000 rows is never held in memory. This module owns reading recipients
files and placing their cells in a letter's data; validating them is the merge's job.

Columns are recipient fields (``name``, ``title``, ``address.city``…), except:

- ``id``: the record's identifier (for file names, ``--only`` and the manifest);
- ``phone``, ``fax``, ``email``: the recipient's contacts, several separated by ``;``; a number
  in single quotes (``'+011 10 6238 1025'``) is printed as given, unchecked;
- a letter field (``locale``, ``date``, ``paper``, ``subject``, ``salutation``, ``close``,
  ``reference``, ``enclosures``, ``signatory.…``, ``sender.…``) or a field the template
  declares (``case_number``; ``people.1.name`` for the first record of a list): overrides the
  case's value for this letter;
- ``extra_paragraph``: a paragraph added after the case's body;
- ``recipient.…``: the same as without the prefix.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import functools
import io
import typing
import zipfile
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic

from .errors import DataError, Location, Problem, nearest
from .files import open_regular
from .loading import FieldPath, Locate, SourceData, dotted, read_yaml_list
from .markup import has_control_characters, strip_control_characters
from .model import CONTACT_KINDS, Letter, Person, parse_locale
from .package import DAMAGED, MAX_TOTAL_BYTES, unpacking_problem, verify_members

MAX_TABLE_BYTES = 1 << 30  # a recipients CSV file, read row by row: 1 GiB

LETTER_FIELDS = frozenset(Letter.model_fields) - {"recipient", "body", "cc"}
EXTRA_PARAGRAPH = "extra_paragraph"
RECORD_ID = "id"
# A CSV cell may span at most this many lines and characters: past them, a quote that is
# never closed (or closed rows later) has swallowed the rows after it.
MAX_CELL_LINES = 30
MAX_CELL_CHARACTERS = 20_000
MAX_SHEET_PROBLEMS = 50  # merged cells and formulas without values, listed in one run
_QUOTE_HINT = ("a quote (\") opens a cell that runs on into the rows after it: close it, or "
               "write a quote inside a quoted cell as two (\"\")")
_TEXT_AFTER_QUOTE = ("text follows the quote that closes a cell (\"Xi\" Jinping): quote the "
                     "whole cell and double the quotes in it (\"\"\"Xi\"\" Jinping\"), or "
                     "leave the quotes out")


@dataclass(frozen=True)
class Record:
    """One recipient: its number, its id, its fields as letter data, and where they came from."""

    number: int  # 1-based, in file order
    id: str
    data: dict[str, Any]  # {"recipient": {...}, "locale": ..., "extra_paragraph": ...}
    where: Locate  # where a field of `data` came from
    warnings: tuple[Problem, ...] = ()
    given_id: str = ""  # the `id` the file gives the record; "" when it gives none

    def locate(self, field: FieldPath) -> str:
        """Where a field came from, as messages say it: ``recipients.csv:7, column name``."""
        return str(self.where(field))


def read_recipients(path: Path | str, letter_fields: Collection[str] = LETTER_FIELDS, *,
                    column_problems: list[Problem] | None = None) -> Iterator[Record]:
    """The records of a recipients file (.yaml/.yml, .csv, .xlsx), in order.

    ``letter_fields``: the columns that are the letter's fields rather than the recipient's
    (:data:`LETTER_FIELDS`, and the fields the template declares).

    A column of a CSV or XLSX file that names no field is a problem of the whole column, said
    once: with ``column_problems`` (a list) it is added there and the column is left out of
    every record, so that the records' own problems can be found in the same run; without,
    it is raised (:class:`DataError`) before the first record.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    fields = frozenset(letter_fields)
    if suffix in (".yaml", ".yml"):
        return _from_yaml(path, fields)
    if suffix in (".csv", ".tsv", ".txt"):
        return _from_csv(path, fields, column_problems)
    if suffix in (".xlsx", ".xlsm"):
        return _from_xlsx(path, fields, column_problems)
    raise DataError([Problem(Location(str(path)), "",
                             "recipients must be a .yaml, .csv or .xlsx file")])


def _from_yaml(path: Path, fields: frozenset[str]) -> Iterator[Record]:
    # One recipient at a time, as CSV and XLSX are read: a list of 100,000 takes the memory
    # of one (loading.read_yaml_list).
    for item in read_yaml_list(path, "recipients"):
        errors = [p for p in item.source.problems if p.severity == "error"]
        if errors:
            raise DataError(errors)
        index, number, source = item.index, item.index + 1, item.source
        if not isinstance(item.value, dict):
            raise DataError([Problem(source.where(item.field), f"recipients[{index}]",
                                     "expected the recipient's fields (`key: value` lines)")])
        # The warnings (control characters removed) about this record, named by its field.
        prefix = dotted(item.field)
        data: dict[str, Any] = {}
        origin: dict[FieldPath, FieldPath] = {}  # letter field -> field in the YAML file
        for key, value in item.value.items():
            for field, cell in _place(str(key), value, fields):
                _set(data, field, cell)
                origin[field] = (*item.field, str(key))
        record_id = str(item.value.get(RECORD_ID) or number)

        def where(field: FieldPath, origin: dict[FieldPath, FieldPath] = origin,
                  source: SourceData = source, own: FieldPath = item.field) -> Location:
            for end in range(len(field), 0, -1):
                if field[:end] in origin:
                    return source.where(origin[field[:end]] + field[end:])
            return source.where(own)

        yield Record(number, record_id, data, where, tuple(
            dataclasses.replace(p, field=p.field[len(prefix):].lstrip("."))
            for p in source.problems), given_id=str(item.value.get(RECORD_ID) or ""))


def _from_csv(path: Path, fields: frozenset[str],
              column_problems: list[Problem] | None) -> Iterator[Record]:
    try:
        # A regular file (never a device or a FIFO) of at most MAX_TABLE_BYTES, read as it goes.
        f = io.TextIOWrapper(open_regular(path, MAX_TABLE_BYTES),
                             encoding="utf-8-sig", newline="")  # a BOM, as Excel writes, is dropped
        sample = f.read(8192)
    except UnicodeDecodeError as e:
        raise DataError([Problem(Location(str(path)), "", "the file is not UTF-8 text; save it as "
                                 "UTF-8 (in Excel: CSV UTF-8)")]) from e
    except OSError as e:
        raise DataError([Problem(Location(str(path)), "",
                                 f"cannot read the file: {e.strerror}")]) from e
    with f:
        # The separator from the first row alone: the column names hold no quotes, while the
        # rows may (a quoted number, `'+011 …'`, a cell with a `;` in it) and mislead the sniffer.
        try:
            delimiter = csv.Sniffer().sniff(sample.splitlines()[0] if sample else "",
                                            ",;\t").delimiter
        except csv.Error:
            delimiter = ","
        f.seek(0)
        # strict: a quote never closed, or text after a closing quote, is an error, never a
        # cell that silently takes in the rows after it.
        reader = csv.reader(f, csv.excel, delimiter=delimiter, strict=True)
        try:
            yield from _csv_records(path, reader, fields, column_problems)
        except UnicodeDecodeError as e:
            raise DataError([Problem(Location(str(path), reader.line_num + 1), "",
                                     "the file is not UTF-8 text; save it as UTF-8 "
                                     "(in Excel: CSV UTF-8)")]) from e


def _csv_rows(path: Path, reader: Any) -> Iterator[tuple[int, list[str]]]:
    """The rows of a CSV file with the line each starts on; a row the csv module cannot read,
    a NUL byte in the first row (UTF-16 without a byte-order mark, a binary file: a NUL in a
    record's cell is removed with the other control characters, and said), or a cell past
    :data:`MAX_CELL_LINES` or :data:`MAX_CELL_CHARACTERS` is an error at the row's first
    line."""
    end = 0
    while True:
        line = end + 1  # where the row starts: a cell may span lines
        try:
            row = next(reader, None)
        except csv.Error as e:
            why = (_QUOTE_HINT if "unexpected end of data" in str(e) else _TEXT_AFTER_QUOTE
                   if "expected after" in str(e) else str(e))
            raise DataError([Problem(Location(str(path), line), "",
                                     f"cannot read this row of the CSV file: {why}")]) from e
        if row is None:
            return
        end = reader.line_num
        for index, cell in enumerate(row):
            if "\0" in cell and line == 1:
                raise DataError([Problem(Location(str(path), line), "", (
                    f"cell {index + 1} holds a NUL byte: is the file saved as UTF-16 or in a "
                    "program's own format? Save it as CSV UTF-8"))])
            if cell.count("\n") >= MAX_CELL_LINES or len(cell) > MAX_CELL_CHARACTERS:
                raise DataError([Problem(Location(str(path), line), "", (
                    f"cell {index + 1} runs from line {line} to line {end} "
                    f"({len(cell):,} characters; a cell may have at most {MAX_CELL_LINES} "
                    f"lines and {MAX_CELL_CHARACTERS:,} characters): {_QUOTE_HINT}"))])
        yield line, row


def _csv_records(path: Path, reader: Any, fields: frozenset[str],
                 column_problems: list[Problem] | None) -> Iterator[Record]:
    rows = _csv_rows(path, reader)
    header = next(rows, (1, []))[1]
    if not header:
        raise DataError([Problem(Location(str(path)), "",
                                 "the file is empty; the first row must name "
                                 "the columns (name, title, address.city …)")])
    header = [h.strip() for h in header]
    unknown = _check_header(path, header, fields, column_problems)
    number = 0
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue  # blank lines between records
        number += 1
        if len(row) > len(header):
            raise DataError([Problem(Location(str(path), line), "", f"{len(row)} cells but only "
                                     f"{len(header)} column names in the first row")])
        _refuse_unnamed(Location(str(path), line), header, row)
        # Fewer cells than columns: the missing ones at the end are empty, as Excel writes.
        cells = {h: v for h, v in zip(header, row, strict=False) if h not in unknown}
        yield _record(number, cells, Location(str(path), line), fields)


def _refuse_unnamed(row: Location, header: list[str], cells: Iterable[Any],
                    letters: Sequence[str] = ()) -> None:
    """A value in a column whose first row is empty would be lost: an error, at its cell."""
    for index, (name, value) in enumerate(zip(header, cells, strict=False)):
        if not name and value is not None and str(value).strip():
            where = (dataclasses.replace(row, letter=letters[index]) if letters
                     else row)
            raise DataError([Problem(where, "", (
                f"a value ({str(value).strip()[:40]!r}) in column {index + 1}, whose first row "
                "names no column: give the column a name, or move the value"))])


def _from_xlsx(path: Path, fields: frozenset[str],
               column_problems: list[Problem] | None) -> Iterator[Record]:
    import openpyxl  # only merges from spreadsheets need it
    from openpyxl.utils import get_column_letter
    from openpyxl.utils.exceptions import InvalidFileException

    unreadable = (InvalidFileException, *DAMAGED, KeyError, ValueError,
                  SyntaxError)  # SyntaxError: the XML parsers' errors
    spreadsheet = open_regular(path, MAX_TOTAL_BYTES)  # checked and read as one open file
    try:
        with zipfile.ZipFile(spreadsheet) as archive:
            bomb = unpacking_problem(archive)
            # openpyxl reads whole members at once: each must be no bigger than it says.
            damage = None if bomb else verify_members(archive)
        if bomb or damage:
            raise DataError([Problem(Location(str(path)), "", f"refused: {bomb}" if bomb else
                                     f"cannot read the spreadsheet: {damage}")])
        spreadsheet.seek(0)
        workbook = openpyxl.load_workbook(spreadsheet, read_only=True, data_only=True)
    except BaseException as e:
        spreadsheet.close()
        if isinstance(e, unreadable):
            raise DataError([Problem(Location(str(path)), "",
                                     f"cannot read the spreadsheet: {e}")]) from e
        raise
    try:
        sheet = workbook.worksheets[0]
        if sheet.sheet_state != "visible":
            raise DataError([Problem(Location(str(path), sheet=sheet.title), "", (
                f"the first sheet, {sheet.title!r}, is hidden: drafter reads the recipients "
                "from the first sheet; show it, or move the recipients' sheet first"))])
        hidden = _check_sheet(path, sheet.title, sheet._worksheet_path)
        rows = sheet.iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        if not any(header):
            raise DataError([Problem(Location(str(path), 1, sheet=sheet.title), "",
                                     "the first row must name "
                                     "the columns (name, title, address.city …)")])
        unknown = _check_header(path, header, fields, column_problems)
        columns = [get_column_letter(i) for i in range(1, len(header) + 1)]
        letters = {h: columns[i] for i, h in enumerate(header) if h}
        number = 0
        for row_number, row in enumerate(rows, start=2):
            where = Location(str(path), row_number, sheet=sheet.title)
            _refuse_unnamed(where, header, row, columns)
            cells = {h: _cell_text(v) for h, v in zip(header, row, strict=False)
                     if h and h not in unknown}
            if not any(cells.values()):
                continue
            number += 1
            record = _record(number, cells, where, fields, letters)
            if row_number in hidden:
                record = dataclasses.replace(record, warnings=(*record.warnings, Problem(
                    where, "", "this row is hidden in the spreadsheet (filtered out?); its "
                    "letter is made like the others: delete the row to leave it out",
                    severity="warning")))
            yield record
    except unreadable as e:  # a damaged sheet, found only while reading it
        raise DataError([Problem(Location(str(path)), "",
                                 f"cannot read the spreadsheet: {e}")]) from e
    finally:
        workbook.close()
        spreadsheet.close()


def _check_sheet(path: Path, title: str, member: str) -> set[int]:
    """Refuse what a sheet's values would silently lose: merged cells (only the first keeps
    the value) and formulas with no saved result (written by a program that does not
    calculate them: openpyxl reads them as empty). Returns the numbers of its hidden rows."""
    from lxml import etree

    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    hidden: set[int] = set()
    problems: list[Problem] = []
    with zipfile.ZipFile(path) as archive, archive.open(member) as source:
        for _, element in etree.iterparse(source, events=("end",), huge_tree=False,
                                          resolve_entities=False, no_network=True):
            tag = element.tag
            if tag == f"{main}c":
                formula = element.find(f"{main}f")
                value = element.find(f"{main}v")
                if formula is not None and (value is None or not (value.text or "")) and (
                        len(problems) < MAX_SHEET_PROBLEMS):
                    cell = element.get("r", "")
                    problems.append(Problem(_cell_location(path, title, cell), "", (
                        f"the formula ={formula.text or ''} has no saved value (the file was "
                        "written by a program that does not calculate): open the file in "
                        "Excel or LibreOffice and save it, or write the values")))
                element.clear()
            elif tag == f"{main}row":
                if element.get("hidden") in ("1", "true"):
                    hidden.add(int(element.get("r", "0")))
                element.clear()
            elif tag == f"{main}mergeCell" and len(problems) < MAX_SHEET_PROBLEMS:
                cells = element.get("ref", "")
                problems.append(Problem(_cell_location(path, title, cells.split(":")[0]), "", (
                    f"cells {cells} are merged: only the first holds the value, the other rows "
                    "would have none; unmerge them and fill in every cell")))
    if problems:
        raise DataError(problems)
    return hidden


def _cell_location(path: Path, title: str, cell: str) -> Location:
    """A cell's place (``C4``) as a :class:`Location`."""
    letter = cell.rstrip("0123456789")
    digits = cell[len(letter):]
    return Location(str(path), int(digits) if digits else None, sheet=title, letter=letter)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a postal code typed as a number
    return str(value)


def _check_header(path: Path, header: list[str], fields: frozenset[str],
                  problems: list[Problem] | None) -> set[str]:
    """The columns of a first row that name no field, each reported once (not once per row)
    with the nearest valid column; returns them, for the rows to leave out. ``problems``
    None: raise them at once."""
    seen: set[str] = set()
    found: list[Problem] = []
    unknown: set[str] = set()
    for name in header:
        if name and name in seen:
            raise DataError([Problem(Location(str(path)), "", f"column {name!r} appears twice")])
        seen.add(name)
        if name and not is_known_column(name, fields):
            unknown.add(name)
            found.append(Problem(Location(str(path), heading=name), "",
                                 unknown_column_message(name, fields)))
    if found and problems is None:
        raise DataError(found)
    if problems is not None:
        problems.extend(found)
    return unknown


@functools.cache
def known_columns() -> dict[str, bool]:
    """Every column a recipients file may have, with whether it takes a per-language form
    (``name.zh``): ``id``, ``extra_paragraph``, the contacts, the recipient's fields and the
    letter's fields a record may override."""
    columns: dict[str, bool] = {RECORD_ID: False, EXTRA_PARAGRAPH: True,
                                **dict.fromkeys(CONTACT_KINDS, False)}
    columns.update(_model_columns(Person, "", skip=frozenset({"contacts"})))
    for name in sorted(LETTER_FIELDS):
        info = Letter.model_fields[name]
        inner = _model_in(info.annotation)
        if inner is not None:
            columns.update(_model_columns(inner, f"{name}.", skip=frozenset({"contacts"})))
        else:
            columns[name] = _takes_text(info.annotation)
    return columns


def is_known_column(column: str, letter_fields: Collection[str] = LETTER_FIELDS) -> bool:
    """Whether a column names a field: ``name``, ``name.zh``, ``address.city``, ``fax``…, or
    one the template declares (in ``letter_fields`` beyond the letter's own)."""
    known = known_columns()
    name = column.removeprefix("recipient.") if column.startswith("recipient.") else column
    declared = set(letter_fields) - set(Letter.model_fields)
    if name in known or name.split(".")[0] in declared:
        return True
    base, _, language = name.rpartition(".")
    if not known.get(base):
        return False
    try:
        parse_locale(language)
    except ValueError:
        return language == "default"
    return True


def unknown_column_message(column: str, letter_fields: Collection[str] = LETTER_FIELDS) -> str:
    """``unknown column 'Email'; did you mean 'email'? …`` with the valid column names (and
    the fields the template declares, in ``letter_fields`` beyond the letter's own)."""
    declared = sorted(set(letter_fields) - set(Letter.model_fields))
    known = [*(c for c in known_columns() if not c.startswith(("sender.", "signatory."))),
             *declared]
    close = nearest(column, [*known_columns(), *declared], cutoff=0.6)
    hint = f"; did you mean {close!r}?" if close else "."
    return (f"unknown column {column!r}{hint} The columns are: {', '.join(known)}; also "
            "signatory.… and sender.… fields, and NAME.LANGUAGE for a text in one language "
            "(name.zh); see docs/mail-merge.md")


def _model_columns(model: type[pydantic.BaseModel], prefix: str,
                   skip: frozenset[str] = frozenset()) -> dict[str, bool]:
    columns: dict[str, bool] = {}
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        inner = _model_in(info.annotation)
        if inner is not None:
            columns.update(_model_columns(inner, f"{prefix}{name}.", skip))
        else:
            columns[f"{prefix}{name}"] = _takes_text(info.annotation)
    return columns


def _model_in(annotation: Any) -> type[pydantic.BaseModel] | None:
    for arg in (annotation, *typing.get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, pydantic.BaseModel):
            return arg
    return None


def _takes_text(annotation: Any) -> bool:
    """Whether a field takes a per-language text (``Text``: a mapping of locale to text)."""
    if annotation is dict or typing.get_origin(annotation) is dict:
        return True
    return any(_takes_text(arg) for arg in typing.get_args(annotation))


def _record(number: int, cells: dict[str, str], row: Location, fields: frozenset[str],
            letters: dict[str, str] | None = None) -> Record:
    data: dict[str, Any] = {}
    columns: dict[FieldPath, str] = {}
    warnings: list[Problem] = []
    letters = letters or {}

    def at(column: str) -> Location:  # the cell: its column's name, and letter in a sheet
        return dataclasses.replace(row, heading=column, letter=letters.get(column, ""))

    for column, value in cells.items():
        if not column or value is None or not value.strip():
            continue  # an empty cell leaves the case's value alone
        if has_control_characters(value):
            warnings.append(Problem(at(column), column,
                                    "invisible control characters removed", severity="warning"))
            value = strip_control_characters(value)
        for field, cell in _place(column, value.strip(), fields):
            _set(data, field, cell)
            columns[field] = column
    # The letter lists the contacts of the phone, fax and email columns in column order
    # (letter_data): contacts[i] is then the cell of the i-th of them.
    contacts = data.get("recipient", {}).get("contacts")
    if isinstance(contacts, dict):
        for i, key in enumerate(contacts):
            columns[("recipient", "contacts", i)] = columns[("recipient", "contacts", key)]
    record_id = str(cells.get(RECORD_ID) or number).strip()

    def where(field: FieldPath) -> Location:
        field = as_written(data, field)
        for end in range(len(field), 0, -1):
            if field[:end] in columns:
                return at(columns[field[:end]])
        return row

    return Record(number, record_id, data, where, tuple(warnings),
                  given_id=str(cells.get(RECORD_ID) or "").strip())


def _place(column: str, value: Any, fields: frozenset[str]) -> Iterator[tuple[FieldPath, Any]]:
    """Where a column's value goes in the letter's data (``fields``: the letter's own)."""
    parts = tuple(column.removeprefix("recipient.").split("."))
    if column == RECORD_ID:
        return
    if column == EXTRA_PARAGRAPH:
        yield (EXTRA_PARAGRAPH,), value
    elif parts[0] in fields and not column.startswith("recipient."):
        yield parts, value
    elif len(parts) == 1 and parts[0] in CONTACT_KINDS and isinstance(value, str):
        for i, item in enumerate(v.strip() for v in value.replace("\n", ";").split(";")):
            if len(item) > 2 and item[0] == item[-1] == "'":  # '+011 …': printed as given
                yield (("recipient", "contacts", f"{parts[0]}:{i}"),
                       {parts[0]: item[1:-1].strip(), "as_given": "true"})
            elif item:
                yield ("recipient", "contacts", f"{parts[0]}:{i}"), {parts[0]: item}
    elif parts[-1] == "street" and isinstance(value, str):
        yield ("recipient", *parts), [line.strip() for line in value.splitlines() if line.strip()]
    else:
        yield ("recipient", *parts), value


def _set(data: dict[str, Any], field: FieldPath, value: Any) -> None:
    """Set a nested field; `name` and `name.zh` side by side make a per-locale text."""
    target = data
    for part in field[:-1]:
        current = target.get(str(part))
        if isinstance(current, str):  # name: X, then name.zh: Y -> {default: X, zh: Y}
            current = {"default": current}
        elif not isinstance(current, dict):
            current = {}
        target[str(part)] = current
        target = current
    last = str(field[-1])
    if isinstance(target.get(last), dict) and isinstance(value, str):
        target[last]["default"] = value
    else:
        target[last] = value


def letter_data(case: dict[str, Any], record: Record) -> dict[str, Any]:
    """The data of one letter: the case, with the record's recipient and overrides."""
    data = {key: value for key, value in case.items()}
    overrides = dict(record.data)
    recipient = overrides.pop("recipient", {})
    contacts = recipient.pop("contacts", None)
    if isinstance(contacts, dict):  # from phone/fax/email columns, in column order
        recipient["contacts"] = list(contacts.values())
    elif contacts is not None:  # a YAML record's own `contacts:` list
        recipient["contacts"] = contacts
    data["recipient"] = _merged(case.get("recipient"), recipient)
    extra = overrides.pop(EXTRA_PARAGRAPH, None)
    for key, value in overrides.items():
        data[key] = _merged(case.get(key), value)
    if extra:
        body = case.get("body") or []
        data["body"] = [*(body if isinstance(body, list) else [body]), extra]
    return data


def _merged(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merged(base.get(key), value)
        return merged
    return override


def as_written(data: dict[str, Any], field: FieldPath) -> FieldPath:
    """A field path of the validated letter as the record wrote it: the first item of a list
    given in numbered columns (``people.1.name``, ``people.2.name``) is ``people.1``."""
    current: Any = data
    written: list[str | int] = []
    for part in field:
        if isinstance(part, int) and isinstance(current, dict) and current and all(
                str(key).isdigit() for key in current):
            keys = sorted(current, key=int)
            part = keys[part] if part < len(keys) else part
        written.append(part)
        current = current.get(str(part)) if isinstance(current, dict) else (
            current[part] if isinstance(current, list) and isinstance(part, int)
            and part < len(current) else None)
    return tuple(written)


def where_in_record(record: Record, case_where: Locate, field: FieldPath) -> Location:
    """Where a letter field came from: the record's row or YAML entry, or the case file; a
    field missing from the whole letter is the record's to give."""
    if not field:
        return record.where(())
    field = as_written(record.data, field)
    for end in range(len(field), 0, -1):
        if _has(record.data, field[:end]) or (field[0] == "body" and EXTRA_PARAGRAPH in
                                               record.data and end == 1):
            return record.where(field)
    return case_where(field)


def _has(data: dict[str, Any], field: FieldPath) -> bool:
    current: Any = data
    for part in field:
        if isinstance(current, dict) and str(part) in current:
            current = current[str(part)]
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            current = current[part]
        else:
            return False
    return True


__all__ = ["Record", "letter_data", "read_recipients", "where_in_record"]
