"""Everything that depends on the letter's language: CLDR data through Babel, and catalogs.

A :class:`Localizer` binds one locale and one template's translation catalog; every function that
formats a date, a list, a country or a fixed phrase takes it explicitly. Nothing here reads the
process environment's locale.

This module owns locale identifiers (:func:`locale_for`), CLDR's likely subtags
(:func:`likely_subtags`: the script, territory or language a locale leaves unsaid), choosing among
available locales (:func:`negotiate`), paper by territory, catalogs, and binding a template's
catalog to a letter's locale (:func:`localizer_for`).
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext
import io
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, get_args

from babel import Locale, localedata
from babel.core import get_global
from babel.core import parse_locale as parse_identifier
from babel.dates import format_date
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from pydantic import BaseModel

from .errors import LocaleError, TemplateError
from .files import read_bounded
from .markup import strip_control_characters
from .model import Digits, PaperSize, Text, _localized_text, parse_locale

MAX_CATALOG_BYTES = 20 * 1024 * 1024  # one translation catalog (.po)

if TYPE_CHECKING:  # a template is found in template.py, which formats with a Localizer
    from .template import LetterTemplate

# CLDR supplementalData.xml <measurementData>: the territories whose paper is US Letter.
LETTER_TERRITORIES = frozenset(
    "BZ CA CL CO CR GT MX NI PA PH PR SV US VE".split()  # noqa: SIM905
)
CATALOG_DOMAIN = "messages"
_PLACEHOLDER = re.compile(r"%\([a-z_]+\)s")
_LATIN_LETTER = re.compile("[A-Za-z]")
# In a phrase's own words: a placeholder (kept whole), or a run of punctuation and spaces.
_NEUTRALS = re.compile(r"%\([a-z_]+\)s|[^\w%]+")


def locale_for(identifier: str) -> Locale:
    """The Babel locale for an identifier, or :class:`LocaleError` naming it."""
    try:
        return parse_locale(identifier)
    except ValueError as e:
        raise LocaleError(str(e)) from e


class Subtags(NamedTuple):
    """A locale's language, script and territory ("" when unknown): ``ko``, ``Kore``, ``KR``."""

    language: str
    script: str
    territory: str


@functools.lru_cache(maxsize=1024)  # pure; an address's layout asks for it in every letter
def likely_subtags(locale: Locale | str) -> Subtags:
    """What CLDR deems likely for what a locale leaves unsaid: ``ko`` is ``ko_Kore_KR``,
    ``zh_Hant`` is ``zh_Hant_TW``, ``sr_ME`` is ``sr_Latn_ME``, ``und_GB`` (a territory alone)
    is ``en_Latn_GB``. The subtags given are kept; a language CLDR has no data for gets no
    script or territory.

    This is Unicode TR35's "add likely subtags" lookup (language_script_territory, then
    language_territory, language_script, language; ``und`` when only a territory or script is
    given). Babel's table omits the entries that ``und``'s own (en_Latn_US) implies.
    """
    if isinstance(locale, str):
        language, territory, script = (part or "" for part in parse_identifier(
            locale.replace("-", "_"))[:3])
    else:
        language, script, territory = locale.language, locale.script or "", locale.territory or ""
    table = get_global("likely_subtags")
    keys = ["_".join(p for p in (language, script, territory) if p),
            "_".join(p for p in (language, territory) if p),
            "_".join(p for p in (language, script) if p), language]
    found = next((table[key] for key in keys if key in table), None)
    if found is None:
        return Subtags(language, script, territory)
    likely_language, likely_territory, likely_script = parse_identifier(found)[:3]
    return Subtags(language if language != "und" else likely_language,
                   script or likely_script or "", territory or likely_territory or "")


def fallback_chain(locale: Locale) -> list[str]:
    """Identifiers to try for a locale, most specific first: zh_Hans_CN, zh_Hans, zh_CN, zh."""
    # A script only where CLDR tells the language's locales apart by it (zh_Hans and zh_Hant;
    # not en_Latn or ko_Kore, which no catalog or text would be named after).
    likely = likely_subtags(locale).script
    script = locale.script or (likely if localedata.exists(f"{locale.language}_{likely}") else "")
    territory = locale.territory
    chain = [
        "_".join(p for p in (locale.language, script, territory) if p),
        "_".join(p for p in (locale.language, script) if p),
        "_".join(p for p in (locale.language, territory) if p),
        locale.language,
    ]
    return list(dict.fromkeys(chain))


def negotiate(locale: Locale, available: Iterable[str]) -> str | None:
    """The best of the available identifiers for a locale, or None when none fits."""
    return _best(tuple(_key(c) for c in fallback_chain(locale)), available)


def _best(chain: tuple[str, ...], available: Iterable[str]) -> str | None:
    """The first of the available identifiers that a fallback chain (as keys) names."""
    by_key = {_key(name): name for name in available}
    return next((by_key[key] for key in chain if key in by_key), None)


def _key(identifier: str) -> str:
    return identifier.replace("-", "_").lower()


def territory_of(locale: Locale) -> str:
    """The locale's territory, or the one CLDR deems likely for its language (en -> US)."""
    return likely_subtags(locale).territory


def paper_for(locale: Locale) -> PaperSize:
    """``Letter`` for the territories that use US Letter, ``A4`` everywhere else."""
    return "Letter" if territory_of(locale) in LETTER_TERRITORIES else "A4"


def available_catalogs(catalog_dir: Path) -> list[str]:
    """The locales a folder of ``<locale>/LC_MESSAGES/messages.po`` catalogs has, sorted."""
    if not catalog_dir.is_dir():
        return []
    # Any file of the name: one that is no regular file (a FIFO) is refused when it is read.
    return sorted(p.name for p in catalog_dir.iterdir()
                  if os.path.lexists(p / "LC_MESSAGES" / f"{CATALOG_DOMAIN}.po"))


def missing_catalog(catalog_dir: Path, locale: Locale) -> str | None:
    """Why a letter in ``locale`` will print the template's English phrases, or None.

    None when a catalog fits the locale, and when the template has no catalogs at all (its
    phrases are then written in its own language). The message names the closest catalog there
    is: one of the same language in another script or territory (zh_Hans for zh_Hant_TW), else
    English.
    """
    available = available_catalogs(catalog_dir)
    if not available or negotiate(locale, available) is not None:
        return None
    same_language = [name for name in available
                     if _key(name).split("_")[0] == locale.language]
    closest = (same_language or [name for name in available if _key(name) == "en"]
               or available)[0]
    name = locale.get_display_name("en") or str(locale)
    return (f"no catalog for {locale} ({name}) in {catalog_dir}: the fixed phrases (\"Re:\", "
            f"\"Dear …\", \"Sincerely,\", \"Page N of M\") will be printed in English; the closest "
            f"catalog is {closest!r} (available: {', '.join(available)}). Add "
            f"{catalog_dir.name}/{locale.language}/LC_MESSAGES/{CATALOG_DOMAIN}.po: see "
            "docs/translating.md")


def load_catalog(catalog_dir: Path, locale: Locale) -> gettext.NullTranslations:
    """The translations for a locale from a folder of ``<locale>/LC_MESSAGES/messages.po``.

    The ``.po`` source is read directly (compiled in memory), so a catalog a translator has just
    saved takes effect at once and no stale ``.mo`` can shadow it. No catalog: the phrases stay
    as written in the template.
    """
    chosen = negotiate(locale, available_catalogs(catalog_dir))
    if chosen is None:
        return gettext.NullTranslations()
    po_path = catalog_dir / chosen / "LC_MESSAGES" / f"{CATALOG_DOMAIN}.po"
    # A regular file of at most MAX_CATALOG_BYTES, never a device or a FIFO.
    source = read_bounded(po_path, MAX_CATALOG_BYTES, kind=TemplateError)
    catalog = read_po(io.BytesIO(source), locale=chosen)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=CATALOG_DOMAIN)


def localizer_for(template: LetterTemplate, identifier: str,
                  digits: Digits = "default") -> Localizer:
    """The locale of a letter bound to the template's catalog for it (and to the digits the
    letter asks for: ``default``, ``latin`` or ``native``)."""
    locale = locale_for(identifier)
    return Localizer(locale, load_catalog(template.catalogs, locale), digits)


Resolvable = TypeVar("Resolvable")


@functools.cache  # one answer per model class
def _text_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of a model that hold texts (:data:`~drafter.model.Text`, or lists of them)
    or models that may: what :meth:`Localizer.resolve` goes through."""
    return tuple(name for name, info in model.model_fields.items()
                 if _holds_text(info.annotation, info.metadata))


def _holds_text(annotation: Any, metadata: Iterable[Any] = ()) -> bool:
    if any(getattr(item, "func", None) is _localized_text for item in metadata):
        return True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return bool(_text_fields(annotation))
    return any(_holds_text(arg, getattr(arg, "__metadata__", ()))
               for arg in get_args(annotation))


# CLDR numbering systems whose digits Unicode names otherwise than "<SCRIPT> DIGIT ZERO".
_DIGIT_NAMES = {"latn": "DIGIT ZERO", "arab": "ARABIC-INDIC DIGIT ZERO",
                "arabext": "EXTENDED ARABIC-INDIC DIGIT ZERO", "fullwide": "FULLWIDTH DIGIT ZERO"}


def digit_zero(numbering_system: str) -> str:
    """The zero of a CLDR numbering system's decimal digits ("0", "٠", "۰", "०"…); "0" for a
    system that is not a set of ten decimal digits (such as Chinese numerals)."""
    from fontTools.unicodedata import script_name

    name = _DIGIT_NAMES.get(numbering_system)
    if name is None:
        script = script_name(numbering_system.title(), default="")
        name = f"{script.upper()} DIGIT ZERO" if script else ""
    try:
        zero = unicodedata.lookup(name) if name else "0"
    except KeyError:
        return "0"
    return zero if unicodedata.decimal(zero, None) == 0 else "0"


@dataclass(frozen=True)
class Localizer:
    """A locale and a catalog bound together: formats text for one letter's language."""

    locale: Locale
    translations: gettext.NullTranslations = field(default_factory=gettext.NullTranslations)
    digits: Digits = "default"  # CLDR's for the locale, "latin" (0-9) or "native"

    @functools.cached_property  # the Localizer is frozen: computed once
    def identifier(self) -> str:
        """The locale as a CLDR identifier, e.g. ``zh_Hans_CN``."""
        return str(self.locale)

    @functools.cached_property  # the Localizer is frozen: computed once
    def language_tag(self) -> str:
        """The locale as a BCP 47 tag for documents, e.g. ``zh-Hans-CN``."""
        return self.identifier.replace("_", "-")

    @functools.cached_property  # the Localizer is frozen: computed once
    def right_to_left(self) -> bool:
        """Whether the language is written right to left (Arabic, Hebrew, Persian, Urdu…)."""
        return self.locale.text_direction == "rtl"

    @functools.cached_property  # the Localizer is frozen: computed once
    def script(self) -> str:
        """The ISO 15924 script the language is written in: Latn, Hans, Kore, Arab…"""
        # Babel's Locale.parse("ko_Kore_KR") drops "Kore" (no such locale in CLDR): the script
        # comes from the likely subtags themselves, or Korean letters would have none.
        return likely_subtags(self.locale).script

    def isolate(self, text: str) -> str:
        """Text that must read left to right (a number, an email, a Latin address line), kept so
        inside a right-to-left letter: between two left-to-right marks (U+200E), so
        "+44 20 7946 0321" is not shown as "0321 7946 20 44+". Unchanged in other letters.

        Marks, not Unicode's isolates (U+2066–2069): the letter's fonts draw the marks as
        nothing, while the isolates, which they lack, come out in a fallback face."""
        if not self.right_to_left or not text or any(
                unicodedata.bidirectional(c) in ("R", "AL") for c in text):
            return text
        return f"\u200e{text}\u200e"

    @functools.cached_property  # the Localizer is frozen: computed once
    def numbering_system(self) -> str:
        """The CLDR numbering system of the letter's digits: ``latn`` (0-9), ``arab`` (٠-٩),
        ``arabext`` (۰-۹), ``deva`` (०-९)… CLDR's default for the locale (``ar_EG``: arab,
        ``fa``: arabext, ``ar`` and ``hi``: latn) unless the letter asks for ``latin`` or
        ``native`` digits."""
        if self.digits == "latin":
            return "latn"
        if self.digits == "native":
            return self.locale.other_numbering_systems.get("native", "latn")
        return self.locale.default_numbering_system or "latn"

    def localize_digits(self, text: str) -> str:
        """``text`` with its digits 0-9 written in the letter's numbering system."""
        zero = digit_zero(self.numbering_system)
        if zero == "0":
            return text
        return text.translate({ord("0") + i: chr(ord(zero) + i) for i in range(10)})

    def gettext(self, message: str, context: str | None = None) -> str:
        """A fixed phrase in the letter's language: the catalog's entry for ``context`` (gettext's
        ``msgctxt``, e.g. a recipient's gender), else its entry without one, else as written."""
        if context:
            translated = self.translations.pgettext(context, message)
            if translated != message:
                return translated
        return self.translations.gettext(message)

    def phrase(self, message: str, context: str | None = None) -> str:
        """A fixed phrase as the letter prints it: :meth:`gettext`, and in a right-to-left letter
        a phrase the catalog leaves in English is kept left to right: each run of punctuation
        and spaces in its own words is held between left-to-right marks, so that "Re: …" never
        reads ":Re …" nor "Sincerely," ",Sincerely". Marks, not isolates (U+2066–2069), which the
        letter's fonts lack (see :mod:`drafter.scripts`)."""
        translated = self.gettext(message, context)
        if (self.right_to_left and translated == message
                and _LATIN_LETTER.search(_PLACEHOLDER.sub("", message))):
            return _NEUTRALS.sub(lambda m: m.group(0) if m.group(0).startswith("%")
                                 else f"\u200e{m.group(0)}\u200e", translated)
        return translated

    @functools.cached_property
    def _chain(self) -> tuple[str, ...]:
        """The locale's fallback chain (:func:`fallback_chain`), as keys: computed once."""
        return tuple(_key(candidate) for candidate in fallback_chain(self.locale))

    @functools.cached_property
    def _chosen(self) -> dict[tuple[str, ...], str | None]:
        # Which form of a text this locale takes, by the text's locales: a merge's texts all
        # have the same few sets of them, so each set is negotiated once.
        return {}

    def _form(self, value: Mapping[str, str]) -> str | None:
        """The key of ``value``'s form written for this locale ("default" aside), or None."""
        keys = tuple(value)
        if keys not in self._chosen:
            self._chosen[keys] = _best(self._chain, (k for k in keys if k != "default"))
        return self._chosen[keys]

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """A phrase with a count, following the language's plural rules."""
        return self.translations.ngettext(singular, plural, n)

    def text(self, value: Text | None) -> str:
        """The form of a text field for this locale; a plain string is the same in every one."""
        if value is None:
            return ""
        if isinstance(value, str):
            return strip_control_characters(value)
        chosen = self._form(value)
        if chosen is not None:
            return strip_control_characters(value[chosen])
        return strip_control_characters(value.get("default", next(iter(value.values()))))

    def has_text_for(self, value: Mapping[str, str] | str | None) -> bool:
        """Whether a text field has a form written for this locale (not a fallback)."""
        if isinstance(value, str) or value is None:
            return value is not None
        return "default" in value or self._form(value) is not None

    def resolve(self, value: Resolvable, known: Mapping[int, tuple[Any, Any]] | None = None
                ) -> Resolvable:
        """A letter (or any part of one) in this locale: every text field the plain string
        :meth:`text` gives (an address's ``layout`` only when it has a form for this locale,
        else None), so that what is built from it never chooses a form again.

        ``known``: parts already resolved, by ``id`` (:meth:`resolved_parts`), taken as they
        are, so that the case of a merge is put into each language once, not once a letter.
        """
        return self._resolved(value, "", known or {}, None)

    def resolved_parts(self, value: Any) -> dict[int, tuple[Any, Any]]:
        """``value`` resolved (:meth:`resolve`), with each of its parts (models, lists and
        texts) and what it became, by ``id``: the ``known`` of later calls."""
        parts: dict[int, tuple[Any, Any]] = {}
        self._resolved(value, "", {}, parts)
        return parts

    def _resolved(self, value: Any, name: str, known: Mapping[int, tuple[Any, Any]],
                  parts: dict[int, tuple[Any, Any]] | None) -> Any:
        hit = known.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        if isinstance(value, BaseModel):
            fields = _text_fields(type(value))
            updates = {field: self._resolved(getattr(value, field), field, known, parts)
                       for field in fields}
            result: Any = value.model_copy(update=updates) if updates else value
        elif isinstance(value, list):
            result = [self._resolved(item, name, known, parts) for item in value]
        elif name == "layout":
            result = self.text(value) if self.has_text_for(value) else None
        elif isinstance(value, str | dict):
            result = self.text(value)
        else:
            return value
        if parts is not None:
            parts[id(value)] = (value, result)
        return result

    def date(self, value: dt.date, format: str = "long") -> str:
        """A date as the language writes it: November 24, 2015 · 2015年11月24日."""
        key = (value, format)
        written = self._dates.get(key)
        if written is None:
            written = self.localize_digits(format_date(value, format=format, locale=self.locale))
            if len(self._dates) < 1024:  # a merge's letters mostly carry one date
                self._dates[key] = written
        return written

    @functools.cached_property
    def _dates(self) -> dict[tuple[dt.date, str], str]:
        return {}

    def list(self, items: Iterable[str], style: str = "standard") -> str:
        """Items joined as the language joins them: a, b, and c · a、b和c."""
        return format_list([str(i) for i in items], style=style,  # type: ignore[arg-type]
                           locale=self.locale)

    def number(self, value: float) -> str:
        """A number with the language's separators."""
        return self.localize_digits(format_decimal(value, locale=self.locale,
                                                   numbering_system=self.numbering_system))

    def country(self, code: str) -> str:
        """A country's name in the letter's language, from CLDR: CN -> China · 中国 · 중국."""
        return self.locale.territories.get(code.upper(), code)
