"""From a validated letter to the values a template prints, in the letter's language.

The context mirrors the data file's own names (``recipient.name``, ``cc``, ``signatory.title``)
and adds what a template would otherwise have to assemble: ``full_name``, ``lines`` (a person's
whole block, laid out by the country's convention), ``contact_lines`` and the derived
``salutation``. Body paragraphs arrive as Word runs, with their links.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

from .addresses import address_lines, contact_lines, full_name, person_lines
from .locales import Localizer, paper_for
from .markup import Hyperlinks, ParagraphWriter, xml_text
from .model import Address, Letter, PaperSize, Person, Sender, Signatory

_PERSON = ("honorific", "name", "title", "office", "organization", "address")

# The data fields behind each derived value, so that `drafter check --data` knows a template
# that prints `recipient.lines` uses the recipient's name, title and address.
DERIVED_FROM: dict[str, tuple[str, ...]] = {
    "recipient.lines": tuple(f"recipient.{f}" for f in _PERSON),
    "recipient.full_name": ("recipient.honorific", "recipient.name"),
    "recipient.address_lines": ("recipient.address",),
    "recipient.contact_lines": ("recipient.contacts",),
    "cc[].lines": tuple(f"cc[].{f}" for f in _PERSON),
    "cc[].full_name": ("cc[].honorific", "cc[].name"),
    "cc[].address_lines": ("cc[].address",),
    "cc[].contact_lines": ("cc[].contacts",),
    "sender.address_lines": ("sender.address",),
    "sender.contact_lines": ("sender.contacts",),
    "signatory.lines": ("signatory.name", "signatory.title", "signatory.division",
                        "signatory.organization"),
    "salutation": ("salutation", "recipient.honorific", "recipient.name"),
    "close": ("close",),
    "date": ("date", "locale"),  # the locale is everywhere: it picks every form and phrase
}


@dataclass(frozen=True)
class LetterContext:
    """What one letter's template is rendered with."""

    values: dict[str, Any]
    links: Hyperlinks
    paper: PaperSize
    right_to_left: bool
    properties: dict[str, str]  # document metadata: title, author, subject, language
    signature: str | None  # path of the signature image, if any


def build_context(letter: Letter, loc: Localizer,
                  writer: ParagraphWriter | None = None) -> LetterContext:
    """The template context of a letter, every text in ``loc``'s language.

    ``writer`` may be shared by the letters of one merge (same locale), to convert the shared
    body paragraphs once.
    """
    writer = writer or ParagraphWriter(right_to_left=loc.right_to_left)
    links = Hyperlinks()
    body = []
    for paragraph in letter.body:
        runs, urls = writer.runs(loc.text(paragraph))
        body.append(runs)
        for url in urls:
            links.add(url)
    recipient = _person(letter.recipient, loc)
    salutation = loc.text(letter.salutation) or loc.gettext("Dear %(full_name)s,") % {
        "full_name": recipient["full_name"]}
    subject = loc.text(letter.subject)
    values: dict[str, Any] = {
        "locale": loc.identifier,
        "date": letter.date,
        "sender": _sender(letter.sender, loc),
        "recipient": recipient,
        "subject": subject,
        "salutation": salutation,
        "body": body,
        "close": loc.text(letter.close) or loc.gettext("Sincerely,"),
        "signatory": _signatory(letter.signatory, loc),
        "cc": [_person(person, loc) for person in letter.cc],
        "page_x_of_y": page_numbers(loc),
    }
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
                         loc.right_to_left, properties, letter.signatory.signature)


def page_numbers(loc: Localizer) -> Markup:
    """"Page 2 of 3" as runs with live PAGE and NUMPAGES fields, in the letter's language."""
    phrase = loc.gettext("Page %(page)s of %(pages)s")
    runs = []
    for piece in re.split(r"(%\((?:page|pages)\)s)", phrase):
        if piece == "%(page)s":
            runs.append(_field("PAGE"))
        elif piece == "%(pages)s":
            runs.append(_field("NUMPAGES"))
        elif piece:
            runs.append(f'<w:r><w:t xml:space="preserve">{xml_text(piece)}</w:t></w:r>')
    return Markup("".join(runs))


def _field(instruction: str) -> str:
    return (f'<w:fldSimple w:instr=" {instruction} "><w:r><w:t>1</w:t></w:r></w:fldSimple>')


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


def _contacts(contacts_of: Person | Sender, loc: Localizer) -> dict[str, Any]:
    country = contacts_of.address.country if contacts_of.address else None
    return {
        "phones": [c.value for c in contacts_of.contacts if c.kind == "phone"],
        "faxes": [c.value for c in contacts_of.contacts if c.kind == "fax"],
        "emails": [c.value for c in contacts_of.contacts if c.kind == "email"],
        "contact_lines": contact_lines(contacts_of.contacts, loc, country),
    }


def _person(person: Person, loc: Localizer) -> dict[str, Any]:
    lines = address_lines(person.address, loc) if person.address else []
    return {
        "honorific": loc.text(person.honorific),
        "name": loc.text(person.name),
        "full_name": full_name(person, loc),
        "title": loc.text(person.title),
        "office": loc.text(person.office),
        "organization": loc.text(person.organization),
        "address": _address(person.address, loc, lines),
        "address_lines": lines,
        "lines": person_lines(person, loc),
        **_contacts(person, loc),
    }


def _sender(sender: Sender, loc: Localizer) -> dict[str, Any]:
    lines = address_lines(sender.address, loc) if sender.address else []
    return {
        "name": loc.text(sender.name),
        "address": _address(sender.address, loc, lines),
        "address_lines": lines,
        "website": sender.website or "",
        **_contacts(sender, loc),
    }


def _signatory(signatory: Signatory, loc: Localizer) -> dict[str, Any]:
    name, title = loc.text(signatory.name), loc.text(signatory.title)
    division, organization = loc.text(signatory.division), loc.text(signatory.organization)
    position = (loc.gettext("%(title)s, %(division)s") % {"title": title, "division": division}
                if title and division else title or division)
    return {
        "name": name,
        "title": title,
        "division": division,
        "organization": organization,
        "lines": [line for line in (name, position, organization) if line],
        "signature": signature_drawing(Path(signatory.signature), name)
        if signatory.signature else "",
    }


SIGNATURE_HEIGHT = 548640  # EMU: 0.6 inch, a handwritten signature's usual height


def signature_drawing(image: Path, name: str) -> Markup:
    """A run showing the signature image inline, as tall as a handwritten signature.

    The image itself is added to the document by the renderer, as ``rIdDrafterSignature``.
    """
    from docx.image.image import Image

    picture = Image.from_file(str(image))
    height = SIGNATURE_HEIGHT
    width = int(height * picture.px_width / max(picture.px_height, 1))
    return Markup(
        '<w:r><w:drawing><wp:inline distT="0" distB="0" distL="0" distR="0" xmlns:wp="'
        'http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing">'
        f'<wp:extent cx="{width}" cy="{height}"/><wp:docPr id="4242" name="Signature" '
        f'descr="{xml_text(name)}"/><a:graphic xmlns:a="http://schemas.openxmlformats.org/'
        'drawingml/2006/main"><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/'
        '2006/picture"><pic:pic xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/'
        'picture"><pic:nvPicPr><pic:cNvPr id="0" name="signature"/><pic:cNvPicPr/>'
        '</pic:nvPicPr><pic:blipFill><a:blip r:embed="rIdDrafterSignature"/><a:stretch>'
        '<a:fillRect/></a:stretch></pic:blipFill><pic:spPr><a:xfrm><a:off x="0" y="0"/>'
        f'<a:ext cx="{width}" cy="{height}"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/>'
        '</a:prstGeom></pic:spPr></pic:pic></a:graphicData></a:graphic></wp:inline>'
        '</w:drawing></w:r>')
