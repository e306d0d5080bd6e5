"""The fields a template declares for itself, in ``fields.yaml`` next to its ``letter.docx``.

A template that prints a case number, a deadline or a table of detained people declares those
fields, each with a type, whether it is required (or its default), and a line for editors::

    case_number:
      type: text
      required: true
      description: The prosecutor's case number, as on their letters
    people:
      type: records
      description: {en: The people detained, zh_Hans: 被拘留者}
      fields:
        name: {type: text, required: true}
        detained_on: {type: date, required: true}
        place: {type: text}

Types: ``text``, ``markdown`` (a paragraph's runs, printed with ``{{r … }}``), ``date``,
``number``, ``boolean``, ``texts`` (a list of texts), ``records`` (a list of records with their
own ``fields``), ``image`` (a PNG, JPEG or GIF file) and ``document`` (a DOCX file added as an
annex). The template's letters then accept exactly the built-in fields and these:
:func:`letter_model` builds their pydantic model (frozen, unknown keys refused), so a letter
file or a spreadsheet row is validated with the same positions, suggestions and all-at-once
reporting as every other field. A template without ``fields.yaml`` declares nothing.

This module owns reading and checking ``fields.yaml`` and turning declared fields into models.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, get_args

import pydantic
from pydantic import BeforeValidator, Field, WrapValidator, create_model

from .errors import DataError, Location, Problem, did_you_mean, sorted_problems
from .loading import FILE_TYPES, FieldPath, SourceData, dotted, load_yaml, validate_value
from .model import Case, Letter, Text, Texts, _Model, date_hint, listed
from .template import DOCX_NAME, LetterTemplate

FIELDS_NAME = "fields.yaml"
FieldType = Literal["text", "markdown", "date", "number", "boolean", "texts", "records",
                    "image", "document"]
FIELD_TYPES: tuple[FieldType, ...] = get_args(FieldType)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# The names a template reads that the letter itself provides (context.BUILTIN_NAMES has them
# all); a declared field cannot take one.
_TAKEN = frozenset({*Letter.model_fields, "salutation", "page_x_of_y", "loop", "range"})


class _Spec(_Model):
    """One entry of ``fields.yaml``, as written."""

    type: FieldType = "text"
    required: bool = False
    default: Any = None
    description: Text | None = None
    fields: dict[str, _Spec] = Field(default_factory=dict)

    @pydantic.field_validator("type", mode="before")
    @classmethod
    def _known_type(cls, value: Any) -> Any:
        if isinstance(value, str) and value not in FIELD_TYPES:
            hint = did_you_mean(value, FIELD_TYPES) or f"; expected one of {', '.join(FIELD_TYPES)}"
            raise ValueError(f"unknown type {value!r}{hint}")
        return value

    @pydantic.field_validator("fields", mode="before")
    @classmethod
    def _short_forms(cls, value: Any) -> Any:
        if isinstance(value, dict):  # `place: text` is short for `place: {type: text}`
            return {k: {"type": v} if isinstance(v, str) else v for k, v in value.items()}
        return value


@dataclass(frozen=True)
class Declared:
    """A field a template declares: its name, type, and what a letter without it gets."""

    name: str
    type: FieldType
    required: bool = False
    default: Any = None  # as written in fields.yaml; None: empty (an empty list for lists)
    description: Text | None = None
    fields: tuple[Declared, ...] = ()  # a record's own fields (type records)

    @property
    def is_list(self) -> bool:
        """Whether the field holds several values (texts, records)."""
        return self.type in ("texts", "records")


@dataclass(frozen=True)
class FieldSchema:
    """The fields a template declares (none when it has no ``fields.yaml``)."""

    fields: tuple[Declared, ...] = ()
    path: Path | None = None

    @property
    def names(self) -> list[str]:
        """The declared fields' names, top level, in the file's order."""
        return [declared.name for declared in self.fields]

    def field(self, name: str) -> Declared | None:
        """The declared field of that name, or None."""
        return next((declared for declared in self.fields if declared.name == name), None)

    def paths(self) -> Iterator[tuple[str, Declared]]:
        """Every declared field with its path: ``case_number``, ``people[].name``."""
        for declared in self.fields:
            yield declared.name, declared
            for inner in declared.fields:
                yield f"{declared.name}[].{inner.name}", inner


def template_fields(template: LetterTemplate) -> FieldSchema:
    """The fields a template declares (its folder's ``fields.yaml``); none for a template that
    is a single .docx file of another name."""
    if template.variants.get("", Path()).name != DOCX_NAME:
        return FieldSchema()
    return read_fields(template.folder)


def read_fields(folder: Path) -> FieldSchema:
    """The fields declared in ``folder/fields.yaml``; none when there is no such file.

    Raises :class:`DataError` listing every problem of the file at its line and column: an
    unknown type or key, a name a built-in field has, a default of the wrong type.
    """
    path = folder / FIELDS_NAME
    if not path.is_file() and not (folder.is_dir() and os.path.lexists(path)):
        return FieldSchema()  # none; but a FIFO, a device or a dangling link is said so below
    source = load_yaml(path)
    if source.value is None:
        return FieldSchema((), path)
    if not isinstance(source.value, dict):
        raise DataError([Problem(Location(str(path)), "", "expected the template's fields, "
                                 "one a key (`case_number:` with its `type:` below)")])
    problems: list[Problem] = [p for p in source.problems if p.severity == "error"]
    declared = []
    for name, spec in source.value.items():
        # `reference: text` is short for `reference: {type: text}`
        written = {"type": spec} if isinstance(spec, str) else spec
        try:
            checked = validate_value(_Spec, written, functools.partial(_under, source, name))
        except DataError as e:
            problems += [replace(p, field=dotted((name,)) + (f".{p.field}" if p.field else ""))
                         for p in e.problems]
            continue
        declared.append(_declared(name, checked, (name,), source.where, problems, top=True))
    schema = FieldSchema(tuple(declared), path)
    if not problems:
        schema, problems = _with_defaults(schema, source.where)
    if problems:
        raise DataError(sorted_problems(problems))
    return schema


def _under(source: SourceData, name: str, field: FieldPath) -> Location:
    return source.where((name, *field))


def _declared(name: str, spec: _Spec, at: FieldPath, where: Any, problems: list[Problem],
              top: bool = False) -> Declared:
    if not _NAME.match(name):
        problems.append(Problem(where(at), dotted(at), "a field's name is letters, digits and "
                                "underscores, starting with a letter (it is what the template "
                                "writes: {{ case_number }})"))
    elif top and name in _TAKEN:
        problems.append(Problem(where(at), dotted(at), f"{name!r} is a built-in field of every "
                                "letter; a template's own fields need names of their own"))
    if spec.required and spec.default is not None:
        problems.append(Problem(where((*at, "default")), dotted((*at, "default")),
                                "a required field has no default: remove one of the two"))
    if spec.type == "records" and not spec.fields:
        problems.append(Problem(where((*at, "type")), dotted((*at, "type")),
                                "a list of records says what each record holds: add `fields:` "
                                "with its fields below"))
    if spec.type != "records" and spec.fields:
        problems.append(Problem(where((*at, "fields")), dotted((*at, "fields")),
                                f"only records have fields of their own, not a {spec.type}"))
    inner = tuple(_declared(key, value, (*at, "fields", key), where, problems)
                  for key, value in spec.fields.items())
    for field in inner:
        if field.type == "records":
            problems.append(Problem(where((*at, "fields", field.name)),
                                    dotted((*at, "fields", field.name)),
                                    "records inside records are not supported: a table row "
                                    "holds values, not another table"))
    return Declared(name, spec.type, spec.required, spec.default, spec.description, inner)


def _with_defaults(schema: FieldSchema, where: Any) -> tuple[FieldSchema, list[Problem]]:
    """The schema with each default as its field's value (``2024-01-31`` a date), or the
    problems of the defaults that their own fields refuse."""
    model = _record_model("Defaults", schema.fields, defaults=False, optional=True)
    given = {d.name: d.default for d in schema.fields if d.default is not None}
    try:
        values = model.model_validate(given)
    except pydantic.ValidationError as e:
        return schema, [Problem(where((str(item["loc"][0]), "default")),
                                f"{item['loc'][0]}.default",
                                item["msg"].removeprefix("Value error, "))
                        for item in e.errors(include_url=False)]
    fields = tuple(replace(d, default=getattr(values, d.name)) if d.name in given else d
                   for d in schema.fields)
    return replace(schema, fields=fields), []


def _number(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip().replace("\u202f", "").replace(" ", "")
        try:
            number = decimal.Decimal(text)
        except decimal.InvalidOperation:
            raise ValueError(f"{value!r} is not a number; write it with digits and a point, "
                             "such as 12 or 1500.50") from None
        if not number.is_finite():
            raise ValueError(f"{value!r} is not a number")
        return number
    return value


def _date(value: Any, handler: pydantic.ValidatorFunctionWrapHandler) -> dt.date:
    # a declared date is told what to write as the letter's own date is (model.date_hint)
    try:
        return handler(value)
    except pydantic.ValidationError as e:
        reason = e.errors(include_url=False)[0]["msg"].split(", ", 1)[-1]
        raise ValueError(date_hint(value, reason)) from None


def _boolean(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("", "-"):
        return None
    return value


def _file(value: Any) -> Any:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected the path of a file, relative to the data file")
    return value.strip()


def _annotation(declared: Declared) -> Any:
    """The pydantic type of a declared field's values."""
    from typing import Annotated

    kind = declared.type
    if kind in ("text", "markdown"):
        return Text
    if kind == "date":
        return Annotated[dt.date, WrapValidator(_date)]
    if kind == "number":
        return Annotated[decimal.Decimal, BeforeValidator(_number)]
    if kind == "boolean":
        return Annotated[bool, BeforeValidator(_boolean)]
    if kind == "texts":
        return Texts
    if kind in FILE_TYPES:
        return Annotated[str, BeforeValidator(_file)]
    record = _record_model(f"Record_{declared.name}", declared.fields)
    return Annotated[list[record], BeforeValidator(listed)]  # type: ignore[valid-type]


def _definition(declared: Declared, defaults: bool = True,
                optional: bool = False) -> tuple[Any, Any]:
    annotation = _annotation(declared)
    if declared.required and not optional:
        return annotation, ...
    if declared.is_list:
        if defaults and declared.default is not None:
            return annotation, Field(default=declared.default)
        return annotation, Field(default_factory=list)
    if defaults and declared.default is not None:
        return annotation | None, Field(default=declared.default)
    return annotation | None, None


def _record_model(name: str, fields: tuple[Declared, ...], defaults: bool = True,
                  optional: bool = False) -> type[pydantic.BaseModel]:
    model: type[pydantic.BaseModel] = create_model(  # type: ignore[call-overload]
        name, __base__=_Model, **{d.name: _definition(d, defaults, optional) for d in fields})
    return model


def letter_model(schema: FieldSchema, base: type[Letter] = Letter) -> type[Letter]:
    """The model of a template's letters: ``base`` (a :class:`Letter` or a merge's
    :class:`~drafter.model.Case`) with the declared fields; ``base`` itself when there are
    none. Frozen, unknown keys refused, as every model of the data. In a merge's case every
    declared field is optional: each record may give its own."""
    if not schema.fields:
        return base
    optional = issubclass(base, Case)
    model: type[Letter] = create_model(  # type: ignore[call-overload]
        f"{base.__name__}WithFields", __base__=base,
        **{d.name: _definition(d, optional=optional) for d in schema.fields})
    model.declared = schema.fields
    return model


__all__ = ["FIELDS_NAME", "Declared", "FieldSchema", "letter_model", "read_fields",
           "template_fields"]
