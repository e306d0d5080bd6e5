"""A letter as a form: its fields described for a form to show, and a form's edits written
back into the letter's YAML.

:func:`letter_form` describes every field a template's letters take, the built-in ones (from
the data model, :mod:`drafter.model`) and the template's declared ones (``fields.yaml``,
:mod:`drafter.fields`), as a tree of :class:`FormField`: a name, its path in the data, a kind
(``text``, ``paragraphs``, ``date``, ``choice``, ``number``, ``boolean``, ``texts``,
``contacts``, ``file``, ``group``, ``records``), whether it is required, its choices and a
description in the user's language. :func:`form_values` reads a letter's YAML as the form's
values (text stays text: ``country: NO`` is Norway). :func:`set_field` writes one value into
the YAML and gives the new text, keeping the rest of the file as it was written: comments,
order, quoting and line breaks (ruamel.yaml's round trip; lines it would reflow and the edit
does not touch stay as they were). A new field goes where the form has it, after the field
before it.

The web studio's form is built from these; the letter's validation is the same as for the
YAML, so a problem's field (``people[1].detained_on``) names the form's input.
"""

from __future__ import annotations

import datetime as dt
import difflib
import io
import re
import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import pydantic
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import YAMLError

from .errors import DataError, Location, Problem
from .fields import Declared, template_fields
from .loading import FieldPath, dotted, load_yaml
from .locales import Localizer
from .model import Contact, Letter, Text, parse_locale
from .template import LetterTemplate

FormKind = Literal["text", "paragraphs", "date", "choice", "number", "boolean", "texts",
                   "contacts", "file", "group", "records"]

# What each built-in field is for, in the words of docs/data-format.md.
DESCRIPTIONS: dict[str, str] = {
    "locale": "The letter's language and country, e.g. en_US, zh_Hans_CN, fr_FR",
    "date": "The date the letter is dated, as YYYY-MM-DD",
    "paper": "A4 or Letter; empty: the custom of the locale's country",
    "digits": "The digits of dates and numbers: the locale's default, 0-9, or the language's own",
    "sender": "The organization sending the letter, in the letterhead",
    "recipient": "Who the letter is to",
    "reference": "Our case or file number, which the reply should quote",
    "their_reference": "The recipient's reference, when answering their letter",
    "delivery": "How the letter goes, e.g. By fax and email",
    "subject": "What the letter is about, in one line",
    "salutation": "Empty: Dear … in the letter's language",
    "body": "The letter's paragraphs, one a box",
    "close": "Empty: Sincerely, in the letter's language",
    "signatory": "The person who signs the letter",
    "enclosures": "What goes with the letter, printed under the signature",
    "cc": "People in copy, printed at the end of the letter",
    "bcc": "Blind copies: never printed; an email goes to them in Bcc",
    "mail": "Only when the letter is sent by email: more addresses, never printed",
    "honorific": "e.g. President, Minister, Ms",
    "name": "The name as the person writes it",
    "gender": "Lets the language's salutation and close agree",
    "form_of_address": "e.g. Mr President, Monsieur le Président",
    "address": "A postal address; the country's convention lays it out",
    "street": "Street lines, one a box",
    "country": "A two-letter ISO 3166 code, e.g. CN, DE, KR, US",
    "country_name": "The country as printed; empty: its name in the letter's language",
    "layout": "An address layout in Google's notation (%N%n%O%n%A…); empty: the country's",
    "contacts": "Phone and fax numbers and email addresses",
    "website": "The sender's website, printed as a link",
    "logo": "An image file for the letterhead, relative to the letter's file",
    "signature": "An image of the signature, relative to the letter's file",
}
# Fields the form leaves to the YAML: how a contact is printed is said beside it there.
_HIDDEN = frozenset({"as_given"})


@dataclass(frozen=True)
class FormField:
    """One field of a letter's form."""

    name: str
    path: tuple[str | int, ...]  # where its value is in the data; () for a record's column
    kind: FormKind
    label: str
    description: str = ""  # in the user's language; "" when there is none
    required: bool = False
    choices: tuple[str, ...] = ()  # a choice's values
    fields: tuple[FormField, ...] = ()  # a group's fields, a records' columns
    declared: bool = False  # one of the template's own fields (fields.yaml)

    def as_dict(self) -> dict[str, Any]:
        """The field as JSON for a page's script."""
        return {"name": self.name, "path": list(self.path), "field": dotted(self.path),
                "kind": self.kind, "label": self.label, "description": self.description,
                "required": self.required, "choices": list(self.choices),
                "fields": [f.as_dict() for f in self.fields], "declared": self.declared}


def letter_form(template: LetterTemplate, language: str = "en") -> list[FormField]:
    """The form of a template's letters: the built-in fields, with the template's declared
    ones after the subject; descriptions in ``language`` (a CLDR identifier) where the
    template gives them in it, else in its default or first language."""
    try:
        loc = Localizer(parse_locale(language))
    except ValueError:
        loc = Localizer(parse_locale("en"))
    schema = template_fields(template)
    built_in = [_from_model(name, info, (name,), loc)
                for name, info in Letter.model_fields.items()]
    declared = [_from_declared(d, (d.name,), loc) for d in schema.fields]
    at = next(i for i, f in enumerate(built_in) if f.name == "subject") + 1
    return built_in[:at] + declared + built_in[at:]


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _from_declared(declared: Declared, path: FieldPath, loc: Localizer) -> FormField:
    kind: FormKind = {"markdown": "text", "image": "file", "document": "file"}.get(
        declared.type, declared.type)  # type: ignore[assignment]
    columns = tuple(_from_declared(d, (d.name,), loc) for d in declared.fields)
    return FormField(declared.name, path, kind, _label(declared.name),
                     loc.text(declared.description), declared.required, (), columns, True)


def _from_model(name: str, info: Any, path: FieldPath, loc: Localizer) -> FormField:
    kind, choices, inner = _kind_of(info.annotation, name)
    fields: tuple[FormField, ...] = ()
    if inner is not None:
        relative = path if kind == "group" else ()
        fields = tuple(_from_model(n, i, (*relative, n), loc)
                       for n, i in inner.model_fields.items() if n not in _HIDDEN)
    return FormField(name, path, kind, _label(name), DESCRIPTIONS.get(name, ""),
                     info.is_required(), choices, fields)


def _kind_of(annotation: Any, name: str) -> tuple[FormKind, tuple[str, ...],
                                                  type[pydantic.BaseModel] | None]:
    """A model field's form kind, its choices, and the model of a group or of records."""
    while get_origin(annotation) is typing.Annotated:
        if annotation == Text:
            return "text", (), None
        annotation = get_args(annotation)[0]
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return _kind_of(options[0], name)
        return "text", (), None  # str | dict: a text given once or per locale
    if origin is Literal:
        return "choice", tuple(str(a) for a in get_args(annotation)), None
    if origin is list:
        (item,) = get_args(annotation)
        while get_origin(item) is typing.Annotated and item != Text:
            item = get_args(item)[0]
        if item is Contact:
            return "contacts", (), None
        if isinstance(item, type) and issubclass(item, pydantic.BaseModel):
            return "records", (), item
        return ("paragraphs" if name == "body" else "texts"), (), None
    if annotation is dt.date:
        return "date", (), None
    if annotation is bool:
        return "boolean", (), None
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return "group", (), annotation
    if name in ("logo", "signature"):
        return "file", (), None
    return "text", (), None


def find_field(form: Sequence[FormField], path: FieldPath) -> FormField | None:
    """The form's field at a data path (``people``, 1, ``name``: the records' column)."""
    fields, found = list(form), None
    for part in path:
        if isinstance(part, int):
            continue  # a row of records: its columns are the records' fields
        found = next((f for f in fields if f.name == part), None)
        if found is None:
            return None
        fields = list(found.fields)
    return found


def form_values(text: str, name: str = "letter.yaml") -> Any:
    """The values of a letter's YAML as the form shows them: plain data, every scalar text.
    Raises :class:`DataError` when the YAML cannot be read (its syntax error at its line)."""
    source = load_yaml(Path(name), text)
    errors = [p for p in source.problems if p.severity == "error"]
    if errors:
        raise DataError(errors)
    return source.value if source.value is not None else {}


# -- writing one value back ------------------------------------------------------------------

class _DatesAsText(RoundTripConstructor):
    """Dates stay text, as drafter's own reading keeps them: a date that is no date
    (2024-02-31) is the letter's problem, reported at its field, not the YAML's."""


_DatesAsText.add_constructor("tag:yaml.org,2002:timestamp", _DatesAsText.construct_yaml_str)


def _yaml() -> YAML:
    yaml = YAML()  # round trip: comments, order and styles are kept
    yaml.Constructor = _DatesAsText
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # an edited line stays one line; untouched ones stay as written
    return yaml


_INTEGER = re.compile(r"^-?\d+$")


def _typed(kind: FormKind | None, value: Any) -> Any:
    """A form's value as YAML should hold it: a date unquoted, a number as a number."""
    if isinstance(value, str):
        if kind == "date":
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                return value  # validation says what is wrong with it, at its line
        if kind == "number" and _INTEGER.match(value.strip()):
            return int(value.strip())
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def set_field(text: str, path: FieldPath, value: Any,
              form: Sequence[FormField] = ()) -> str:
    """The letter's YAML with the value at ``path`` set to ``value`` (None or "" removes the
    field; an index one past a list's end appends to it), everything else as written.

    ``form`` (from :func:`letter_form`) gives the value's kind (a date is written as a date)
    and where a new field goes: after the one the form has before it.
    """
    if not path:
        raise ValueError("set_field needs the path of a field")
    yaml = _yaml()
    try:
        document = yaml.load(text) if text.strip() else None
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise DataError([Problem(Location("letter.yaml", line=line), "", "the YAML cannot be "
                                 "read; fix its syntax before using the form")]) from e
    if document is None:
        document = CommentedMap()
    if not isinstance(document, CommentedMap):
        raise DataError([Problem(Location("letter.yaml", line=1), "", "expected the letter's "
                                 "fields (`date:`, `recipient:` …), one a line")])
    found = find_field(form, path) if form else None
    _put(document, path, _typed(found.kind if found else None, value), form)
    before = _dump(yaml, yaml.load(text)) if text.strip() else ""
    return _keep_untouched(text, before, _dump(yaml, document))


def _dump(yaml: YAML, document: Any) -> str:
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def _put(node: Any, path: FieldPath, value: Any, form: Sequence[FormField]) -> None:
    head, rest = path[0], path[1:]
    appended = False
    if isinstance(head, int):
        if not isinstance(node, CommentedSeq):
            raise DataError([Problem(Location("letter.yaml"), "", "that field is not a list "
                                     "in the YAML; change it there")])
        if head > len(node) or head < 0:
            raise ValueError(f"no row {head}")
        if not rest:
            if _empty(value) and head < len(node):
                del node[head]
            elif head == len(node):
                node.append(value if not isinstance(value, dict) else CommentedMap(value))
                _trailing_to_last(node)
            else:
                node[head] = value
            return
        if head == len(node):
            node.append(CommentedMap() if isinstance(rest[0], str) else CommentedSeq())
            appended = True
        child = node[head]
    else:
        if not isinstance(node, CommentedMap):
            raise DataError([Problem(Location("letter.yaml"), "", "that field is written as "
                                     "text in the YAML; change it there")])
        names = [f.name for f in form]
        if not rest:
            if _empty(value):
                node.pop(head, None)
            elif head in node:
                node[head] = value
            else:
                _insert(node, head, value, names)
            return
        if head not in node or node[head] is None:
            _insert(node, head, CommentedMap() if isinstance(rest[0], str) else CommentedSeq(),
                    names)
        child = node[head]
    inner = _inner(form, head)
    _put(child, rest, value, inner)
    if isinstance(head, int) and appended:
        _trailing_to_last(node)
    if _empty(child) and not isinstance(head, int):
        node.pop(head, None)  # the last of a group's fields removed: the group goes too


def _trailing_to_last(rows: CommentedSeq) -> None:
    """After an append: the blank lines (and comment) that followed the list's old last row
    follow the new one, so the new row is not cut off from the list by them."""
    if len(rows) < 2:
        return
    before, last = rows[-2], rows[-1]
    if isinstance(before, CommentedMap) and before and isinstance(last, CommentedMap) and last:
        key = list(before.keys())[-1]
        comment = before.ca.items.pop(key, None)
        if comment is not None:
            last.ca.items[list(last.keys())[-1]] = comment
    elif len(rows) - 2 in rows.ca.items:
        rows.ca.items[len(rows) - 1] = rows.ca.items.pop(len(rows) - 2)


def _inner(form: Sequence[FormField], head: str | int) -> Sequence[FormField]:
    if isinstance(head, int):
        return form
    found = next((f for f in form if f.name == head), None)
    return found.fields if found else ()


def _insert(node: CommentedMap, key: str, value: Any, order: list[str]) -> None:
    """Put a new key after the nearest one the form has before it (else at the end)."""
    keys = list(node.keys())
    position = len(keys)
    if key in order:
        spots = [keys.index(k) + 1 for k in order[:order.index(key)] if k in keys]
        if spots:
            position = max(spots)
        elif any(k in keys for k in order[order.index(key) + 1:]):
            position = 0
    if position < len(keys):
        node.insert(position, key, value)
        return
    node[key] = value
    if keys:  # the blank lines after the old last key now follow the new one
        comment = node.ca.items.pop(keys[-1], None)
        if comment is not None:
            node.ca.items[key] = comment


def _keep_untouched(original: str, before: str, after: str) -> str:
    """``after`` (the edited document as dumped), with the lines that the edit left alone
    taken from ``original`` as written: ``before`` is the unedited document as dumped, which
    may reflow lines the author wrapped by hand."""
    if before == original:
        return after
    old, dumped, new = (s.splitlines(keepends=True) for s in (original, before, after))
    written = difflib.SequenceMatcher(None, dumped, old, autojunk=False).get_opcodes()
    result: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, dumped, new,
                                                       autojunk=False).get_opcodes():
        if tag != "equal":
            result.extend(new[j1:j2])
            continue
        result.extend(_as_written(written, i1, i2, dumped, old))
    return "".join(result)


def _as_written(written: Sequence[tuple[str, int, int, int, int]], start: int, end: int,
                dumped: list[str], old: list[str]) -> Iterator[str]:
    """The original lines for the dumped lines start..end (which the edit did not change)."""
    for tag, i1, i2, j1, j2 in written:
        if i2 < start or i1 > end or (i1 == i2 and not start <= i1 < end) or (
                i1 != i2 and (i2 <= start or i1 >= end)):
            continue
        if tag == "equal":
            low, high = max(start, i1), min(end, i2)
            yield from old[j1 + low - i1:j1 + high - i1]
        elif start <= i1 and i2 <= end:
            yield from old[j1:j2]  # a reflowed (or dropped) block, whole: as written
        else:
            yield from dumped[max(start, i1):min(end, i2)]


__all__ = ["DESCRIPTIONS", "FormField", "find_field", "form_values", "letter_form",
           "set_field"]
