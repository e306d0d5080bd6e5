"""Everything that depends on the letter's language: CLDR data through Babel, and catalogs.

A :class:`Localizer` binds one locale and one template's translation catalog; every function that
formats a date, a list, a country or a fixed phrase takes it explicitly. Nothing here reads the
process environment's locale.
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from babel import Locale
from babel.core import get_global
from babel.core import parse_locale as parse_identifier
from babel.dates import format_date
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

from .errors import LocaleError
from .markup import strip_control_characters
from .model import Text, parse_locale

# CLDR supplementalData.xml <measurementData>: the territories whose paper is US Letter.
LETTER_TERRITORIES = frozenset(
    "BZ CA CL CO CR GT MX NI PA PH PR SV US VE".split()  # noqa: SIM905
)
CATALOG_DOMAIN = "messages"


def locale_for(identifier: str) -> Locale:
    """The Babel locale for an identifier, or :class:`LocaleError` naming it."""
    try:
        return parse_locale(identifier)
    except ValueError as e:
        raise LocaleError(str(e)) from e


def fallback_chain(locale: Locale) -> list[str]:
    """Identifiers to try for a locale, most specific first: zh_Hans_CN, zh_Hans, zh_CN, zh."""
    likely = Locale.parse(get_global("likely_subtags").get(locale.language, locale.language))
    script = locale.script or likely.script
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
    by_key = {_key(name): name for name in available}
    for candidate in fallback_chain(locale):
        if _key(candidate) in by_key:
            return by_key[_key(candidate)]
    return None


def _key(identifier: str) -> str:
    return identifier.replace("-", "_").lower()


def territory_of(locale: Locale) -> str:
    """The locale's territory, or the one CLDR deems likely for its language (en -> US)."""
    if locale.territory:
        return locale.territory
    likely = get_global("likely_subtags").get(str(locale)) or get_global("likely_subtags").get(
        locale.language, "")
    return Locale.parse(likely).territory or "" if likely else ""


def paper_for(locale: Locale) -> str:
    """``Letter`` for the territories that use US Letter, ``A4`` everywhere else."""
    return "Letter" if territory_of(locale) in LETTER_TERRITORIES else "A4"


def load_catalog(catalog_dir: Path, locale: Locale) -> gettext.NullTranslations:
    """The translations for a locale from a folder of ``<locale>/LC_MESSAGES/messages.po``.

    The ``.po`` source is read directly (compiled in memory), so a catalog a translator has just
    saved takes effect at once and no stale ``.mo`` can shadow it. No catalog: the phrases stay
    as written in the template.
    """
    if not catalog_dir.is_dir():
        return gettext.NullTranslations()
    available = [p.name for p in catalog_dir.iterdir()
                 if (p / "LC_MESSAGES" / f"{CATALOG_DOMAIN}.po").is_file()]
    chosen = negotiate(locale, available)
    if chosen is None:
        return gettext.NullTranslations()
    po_path = catalog_dir / chosen / "LC_MESSAGES" / f"{CATALOG_DOMAIN}.po"
    with po_path.open("rb") as f:
        catalog = read_po(f, locale=chosen)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=CATALOG_DOMAIN)


@dataclass(frozen=True)
class Localizer:
    """A locale and a catalog bound together: formats text for one letter's language."""

    locale: Locale
    translations: gettext.NullTranslations = field(default_factory=gettext.NullTranslations)

    @property
    def identifier(self) -> str:
        """The locale as a CLDR identifier, e.g. ``zh_Hans_CN``."""
        return str(self.locale)

    @property
    def language_tag(self) -> str:
        """The locale as a BCP 47 tag for documents, e.g. ``zh-Hans-CN``."""
        return self.identifier.replace("_", "-")

    @property
    def right_to_left(self) -> bool:
        """Whether the language is written right to left (Arabic, Hebrew, Persian, Urdu…)."""
        return self.locale.text_direction == "rtl"

    @property
    def script(self) -> str:
        """The ISO 15924 script the language is written in: Latn, Hans, Kore, Arab…"""
        # The likely subtags' own script: Locale.parse("ko_Kore_KR") drops "Kore" (no such
        # locale in CLDR), which left Korean, Japanese and Arabic letters without a script.
        likely = get_global("likely_subtags").get(self.locale.language, self.locale.language)
        return self.locale.script or parse_identifier(likely)[2] or ""

    def isolate(self, text: str) -> str:
        """Text that must read left to right (a number, an email, a Latin address line), kept so
        inside a right-to-left letter: wrapped in Unicode's first-strong isolate (FSI … PDI), so
        "+44 20 7946 0321" is not shown as "0321 7946 20 44+". Unchanged in other letters."""
        if not self.right_to_left or not text or any(
                unicodedata.bidirectional(c) in ("R", "AL") for c in text):
            return text
        return f"\u2068{text}\u2069"

    def gettext(self, message: str) -> str:
        """A fixed phrase in the letter's language (the catalog's, or as written)."""
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """A phrase with a count, following the language's plural rules."""
        return self.translations.ngettext(singular, plural, n)

    def text(self, value: Text | None) -> str:
        """The form of a text field for this locale; a plain string is the same in every one."""
        if value is None:
            return ""
        if isinstance(value, str):
            return strip_control_characters(value)
        chosen = negotiate(self.locale, (k for k in value if k != "default"))
        if chosen is not None:
            return strip_control_characters(value[chosen])
        return strip_control_characters(value.get("default", next(iter(value.values()))))

    def has_text_for(self, value: Mapping[str, str] | str | None) -> bool:
        """Whether a text field has a form written for this locale (not a fallback)."""
        if isinstance(value, str) or value is None:
            return value is not None
        return "default" in value or negotiate(
            self.locale, (k for k in value if k != "default")) is not None

    def date(self, value: dt.date, format: str = "long") -> str:
        """A date as the language writes it: November 24, 2015 · 2015年11月24日."""
        return format_date(value, format=format, locale=self.locale)

    def list(self, items: Iterable[str], style: str = "standard") -> str:
        """Items joined as the language joins them: a, b, and c · a、b和c."""
        return format_list([str(i) for i in items], style=style,  # type: ignore[arg-type]
                           locale=self.locale)

    def number(self, value: float) -> str:
        """A number with the language's separators."""
        return format_decimal(value, locale=self.locale)

    def country(self, code: str) -> str:
        """A country's name in the letter's language, from CLDR: CN -> China · 中国 · 중국."""
        return self.locale.territories.get(code.upper(), code)
