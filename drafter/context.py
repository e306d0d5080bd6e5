"""From a validated letter to the values a template prints, in the letter's language.

The context mirrors the data file's own names (``recipient.name``, ``cc``, ``signatory.title``)
and adds what a template would otherwise have to assemble: ``full_name``, ``lines`` (a person's
whole block, laid out by the country's convention), ``contact_lines`` and the derived
``salutation``. Body paragraphs arrive as Word runs, with their links; the page numbers and the
signature as the WordprocessingML :mod:`drafter.wordml` writes. In a merge, the blocks of the
people every letter of a locale has (sender, signatory, the case's CCs) are built once
(:class:`CaseInLocale`), and each letter is given its own copy.

Which data fields a value is computed from is not written down anywhere: :func:`fields_used`
finds out by building the context again with each field changed, so it always agrees with the
builders here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

from . import wordml
from .addresses import address_lines, contact_lines, full_name, is_domestic, person_lines
from .locales import Localizer, paper_for
from .markup import Hyperlinks, ParagraphWriter
from .model import Address, Letter, PaperSize, Person, Sender, Signatory


@dataclass(frozen=True)
class LetterContext:
    """What one letter's template is rendered with."""

    values: dict[str, Any]
    links: Hyperlinks
    paper: PaperSize
    right_to_left: bool
    properties: dict[str, str]  # document metadata: title, author, subject, language


class CaseInLocale(dict[int, tuple[Any, Any]]):
    """A merge's case in one locale: its parts resolved, by ``id`` (the ``known`` of
    :meth:`Localizer.resolve`, from :meth:`Localizer.resolved_parts`), and the context blocks
    of the people every letter of the locale has in common (the sender, the signatory, the
    case's CCs), each built once. A letter gets a copy of a block, never the block itself: a
    template may change the lists and dicts it is given (``lines.append``), and what one
    letter's template does is never seen by the next letter."""

    LIMIT = 4  # forms of one block kept: a block that differs in every letter is not kept

    def __init__(self, parts: Mapping[int, tuple[Any, Any]] | None = None) -> None:
        super().__init__(parts or {})
        self._blocks: dict[str, list[tuple[Any, dict[str, Any]]]] = {}

    def block(self, role: str, key: Any, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """A copy of the block of ``role`` (``sender``, ``cc``…) built from ``key`` (the
        resolved person and what else the block depends on), built the first time."""
        forms = self._blocks.setdefault(role, [])
        for known_key, block in forms:
            if known_key == key:
                return _copied(block)
        block = build()
        if len(forms) < self.LIMIT:
            forms.append((key, _copied(block)))
        return block


def _copied(value: Any) -> Any:
    """``value`` with its lists and dicts copied, at every depth (texts and images are
    immutable and shared)."""
    if isinstance(value, str):  # most values
        return value
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    return value


def build_context(letter: Letter, loc: Localizer,
                  writer: ParagraphWriter | None = None, *,
                  known: Mapping[int, tuple[Any, Any]] | None = None) -> LetterContext:
    """The template context of a letter, every text in ``loc``'s language.

    The letter is first put into its language once (:meth:`Localizer.resolve`): the builders
    below see plain strings. ``writer`` and ``known`` may be shared by the letters of one merge
    (same locale): the body paragraphs are converted once, and the case's texts
    (:meth:`Localizer.resolved_parts`) resolved once; when ``known`` is a
    :class:`CaseInLocale`, the blocks of the people every letter has are built once too.
    """
    letter = loc.resolve(letter, known)
    case = known if isinstance(known, CaseInLocale) else CaseInLocale()
    writer = writer or ParagraphWriter()
    links = Hyperlinks()
    body = []
    for paragraph in letter.body:
        runs, urls = writer.runs(loc.text(paragraph))
        body.append(runs)
        for url in urls:
            links.add(url)
    home = letter.sender.address

    def person(role: str, who: Person) -> dict[str, Any]:
        domestic = is_domestic(who.address, home)
        return case.block(role, (who, domestic), lambda: _person(who, loc, home))

    recipient = _person(letter.recipient, loc, home)
    salutation, close = salutation_and_close(letter.recipient, loc)
    subject = loc.text(letter.subject)
    values: dict[str, Any] = {
        "locale": loc.identifier,
        "date": letter.date,
        "sender": case.block("sender", letter.sender, lambda: _sender(letter.sender, loc)),
        "recipient": recipient,
        "subject": subject,
        "salutation": loc.text(letter.salutation) or salutation,
        "body": body,
        "close": loc.text(letter.close) or close,
        "signatory": case.block("signatory", letter.signatory,
                                lambda: _signatory(letter.signatory, loc)),
        "reference": loc.text(letter.reference),
        "their_reference": loc.text(letter.their_reference),
        "delivery": loc.text(letter.delivery),
        "enclosures": [loc.text(item) for item in letter.enclosures],
        "cc": [person("cc", who) for who in letter.cc],
        "bcc": [person("bcc", who) for who in letter.bcc],
        "page_x_of_y": page_numbers(loc),
    }
    for declared in type(letter).declared:
        values[declared.name] = _declared(declared, getattr(letter, declared.name), loc,
                                          writer, links)
    author = values["signatory"]["name"]
    if values["sender"]["name"]:
        author = f"{author}, {values['sender']['name']}"
    properties = {
        "title": subject,
        "subject": loc.gettext("Letter to %(recipient)s") % {"recipient": recipient["full_name"]},
        "author": author,
        "language": loc.language_tag,
        "created": dt.datetime.combine(letter.date, dt.time()).isoformat() + "Z",
    }
    return LetterContext(values, links, letter.paper or paper_for(loc.locale),
                         loc.right_to_left, properties)


# Every name a letter gives its template, whatever its data; a template's own fields add theirs.
BUILTIN_NAMES = frozenset({
    "locale", "date", "sender", "recipient", "subject", "salutation", "body", "close",
    "signatory", "reference", "their_reference", "delivery", "enclosures", "cc", "bcc",
    "page_x_of_y"})


def _declared(declared: Any, value: Any, loc: Localizer, writer: ParagraphWriter,
              links: Hyperlinks) -> Any:
    """A declared field's value as the template prints it (a :class:`fields.Declared`)."""
    kind = declared.type
    if kind == "records":
        return [{inner.name: _declared(inner, getattr(record, inner.name), loc, writer, links)
                 for inner in declared.fields} for record in value]
    if kind == "texts":
        return [loc.text(item) for item in value]
    if kind == "text":
        return loc.text(value)
    if kind == "markdown":
        if value is None:
            return ""
        runs, urls = writer.runs(loc.text(value))
        for url in urls:
            links.add(url)
        return runs
    if kind == "image":
        return wordml.Image.from_file(Path(value)) if value else ""
    if kind == "document":
        return wordml.Annex(Path(value)) if value else ""
    return value  # a date, number or boolean; None when the letter leaves it out


def salutation_and_close(person: Person, loc: Localizer) -> tuple[str, str]:
    """The salutation and close for writing to ``person``, by the language's etiquette.

    The catalog chooses them by the person's gender (gettext context ``female`` or ``male``; an
    unspecified gender uses the entries without context) and may repeat the form of address:
    the data's ``form_of_address``, else the catalog's default form for the name ("President
    Xi Jinping" in English, "Monsieur"/"Madame" in French). Both phrases may use
    ``%(form_of_address)s``, ``%(full_name)s``, ``%(name)s`` and ``%(honorific)s``.
    """
    context = person.gender if person.gender in ("female", "male") else None
    values = {"full_name": full_name(person, loc), "name": loc.text(person.name),
              "honorific": loc.text(person.honorific)}
    values["form_of_address"] = (loc.text(person.form_of_address)
                                 or loc.gettext("%(full_name)s", context) % values)
    return (loc.phrase("Dear %(form_of_address)s,", context) % values,
            loc.phrase("Sincerely,", context) % values)


def page_numbers(loc: Localizer) -> Markup:
    """"Page 2 of 3" with live page fields, in the letter's language."""
    return wordml.page_of_pages(loc.phrase("Page %(page)s of %(pages)s"),
                                loc.localize_digits("1"))


def _address(address: Address | None, loc: Localizer,
             lines: list[str]) -> dict[str, Any] | None:
    if address is None:
        return None
    return {
        "street": [loc.text(line) for line in address.street],
        "district": loc.text(address.district),
        "city": loc.text(address.city),
        "region": loc.text(address.region),
        "postal_code": address.postal_code or "",
        "country": address.country,
        "country_name": loc.text(address.country_name) or loc.country(address.country),
        "lines": lines,
    }


def _whereabouts(who: Person | Sender, loc: Localizer, *, country: bool = True
                 ) -> dict[str, Any]:
    """Where a person or the sender is, and how to reach them; ``country``: whether the
    address shows the country's name."""
    lines = address_lines(who.address, loc, country=country) if who.address else []
    home_country = who.address.country if who.address else None
    return {
        "address": _address(who.address, loc, lines),
        "address_lines": lines,
        "phones": [c.value for c in who.contacts if c.kind == "phone"],
        "faxes": [c.value for c in who.contacts if c.kind == "fax"],
        "emails": [c.value for c in who.contacts if c.kind == "email"],
        "contact_lines": contact_lines(who.contacts, loc, home_country),
    }


def _person(person: Person, loc: Localizer, home: Address | None) -> dict[str, Any]:
    # Domestic mail carries no country line (a letter from New York to Washington).
    country = not is_domestic(person.address, home)
    return {
        "honorific": loc.text(person.honorific),
        "name": loc.text(person.name),
        "gender": person.gender or "unspecified",
        "form_of_address": loc.text(person.form_of_address),
        "full_name": full_name(person, loc),
        "title": loc.text(person.title),
        "office": loc.text(person.office),
        "organization": loc.text(person.organization),
        "lines": person_lines(person, loc, country=country),
        **_whereabouts(person, loc, country=country),
    }


def _sender(sender: Sender, loc: Localizer) -> dict[str, Any]:
    name = loc.text(sender.name)
    return {
        "name": name,
        "website": sender.website or "",
        "logo": wordml.Image.from_file(Path(sender.logo), name) if sender.logo else "",
        **_whereabouts(sender, loc),
    }


def _signatory(signatory: Signatory, loc: Localizer) -> dict[str, Any]:
    name, title = loc.text(signatory.name), loc.text(signatory.title)
    division, organization = loc.text(signatory.division), loc.text(signatory.organization)
    position = (loc.phrase("%(title)s, %(division)s") % {"title": title, "division": division}
                if title and division else title or division)
    return {
        "name": name,
        "title": title,
        "division": division,
        "organization": organization,
        "lines": [line for line in (name, position, organization) if line],
        "signature": wordml.signature_image(Path(signatory.signature), name)
        if signatory.signature else "",
    }


def fields_used(letter: Letter, loc: Localizer, variables: Collection[str],
                fields: Iterable[str]) -> set[str]:
    """Of the data ``fields`` (``recipient.title``, ``cc[].name``, ``body``), those that reach
    one of the context ``variables`` (``recipient.lines``, ``cc[].full_name``, ``salutation``).

    Each field is changed in turn (removed, or its text, date or items altered) and the context
    built again; a field reaches a variable when some change alters that variable's value. So
    the answer follows what the builders compute for this letter, and cannot go stale. A field
    the letter does not set reaches nothing.
    """
    writer = ParagraphWriter()
    paths = [variable.replace("[]", ".[]").split(".") for variable in sorted(variables)]

    def read(candidate: Letter) -> list[str]:
        values = build_context(candidate, loc, writer).values
        return [repr(_values_at(values, path)) for path in paths]

    original = read(letter)
    data = letter.model_dump()
    used = set()
    for field_path in fields:
        for changed in _changed(data, field_path.replace("[]", ".[]").split(".")):
            try:
                candidate = type(letter).model_validate(changed)
                if read(candidate) != original:
                    used.add(field_path)
                    break
            except Exception:  # a change the model or the builders refuse tells nothing
                continue
    return used


def _values_at(value: Any, path: list[str]) -> Any:
    """The value at a context path; ``[]`` goes through every item of a list."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if head == "[]":
        return [_values_at(item, rest) for item in value] if isinstance(value, list) else None
    # An attribute of a value (a date's `year`) is read from the value.
    return _values_at(value.get(head), rest) if isinstance(value, dict) else value


def _changed(data: Any, path: list[str]) -> Iterator[Any]:
    """Copies of ``data`` with the value at ``path`` changed, one way each (``[]``: the first
    item of a list)."""
    head, rest = path[0], path[1:]
    if head == "[]":
        if isinstance(data, list) and data:
            for item in _changed(data[0], rest) if rest else _changes(data[0]):
                yield [item, *data[1:]]
        return
    if not isinstance(data, dict) or head not in data:
        return
    if not rest:
        yield {key: value for key, value in data.items() if key != head}
    for value in _changed(data[head], rest) if rest else _changes(data[head]):
        yield {**data, head: value}


def _changes(value: Any) -> Iterator[Any]:
    """``value`` changed in each way it can be: text altered, a date moved, a part removed."""
    if isinstance(value, str):
        yield value + "x"
    elif isinstance(value, dt.date):
        yield value + dt.timedelta(days=1)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield {k: v for k, v in value.items() if k != key}
            for change in _changes(item):
                yield {**value, key: change}
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield value[:index] + value[index + 1:]
            for change in _changes(item):
                yield [*value[:index], change, *value[index + 1:]]
