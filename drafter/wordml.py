"""The WordprocessingML and package XML that drafter writes itself, with one namespace map.

Templates bring their own XML; drafter adds a few pieces to it, all written here: the runs of
"Page 2 of 3" with live fields, the inline drawing of a signature and its relationship, the
links' relationships, the document properties, an image's content type, and the edits made to
a rendered part (paper size, right-to-left paragraphs, the styles' default language, their
complex-script twins and single spacing). Every
namespace is named once, in :data:`NAMESPACES`; :func:`qn` turns ``w:p`` into lxml's
``{…}p``. (Body paragraphs' runs are written by :mod:`drafter.markup`.)
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from markupsafe import Markup

from .files import read_bounded
from .markup import strip_control_characters, xml_text

NAMESPACES = {
    "w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "wp": "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing",
    "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
    "pic": "http://schemas.openxmlformats.org/drawingml/2006/picture",
    "cp": "http://schemas.openxmlformats.org/package/2006/metadata/core-properties",
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "dcmitype": "http://purl.org/dc/dcmitype/",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
HYPERLINK_TYPE = f"{NAMESPACES['r']}/hyperlink"
IMAGE_TYPE = f"{NAMESPACES['r']}/image"
RELATIONSHIPS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

MAX_IMAGE_BYTES = 5 * 1024 * 1024  # a signature, a logo, a picture field: 5 MiB each
SIGNATURE_HEIGHT = 548640  # EMU: 0.6 inch, a handwritten signature's usual height
MAX_IMAGE_WIDTH = 5760720  # EMU: 16 cm, the width of a letter's text on A4 or Letter
IMAGE_ID_PREFIX = "rIdImage"
IMAGE_EXTENSIONS = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
                    "gif": "image/gif"}
# Lengths an editor writes in a tag: {{ logo | image(width="3cm") }}, in EMU per unit.
_UNITS = {"cm": 360000, "mm": 36000, "in": 914400, "pt": 12700, "px": 9525, "emu": 1}
_LENGTH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(cm|mm|in|pt|px|emu)\s*$")

# Page sizes in twentieths of a point, portrait.
PAPER_TWIPS = {"A4": (11906, 16838), "Letter": (12240, 15840)}


def qn(tag: str) -> str:
    """``w:pgSz`` as lxml names it: ``{http://…/main}pgSz``."""
    prefix, name = tag.split(":")
    return f"{{{NAMESPACES[prefix]}}}{name}"


def xml_bytes(tree: etree._Element) -> bytes:
    """A part's XML as Word writes it: declaration first, UTF-8."""
    return (XML_DECLARATION + etree.tostring(tree, encoding="unicode")).encode("utf-8")


def text_run(text: str) -> str:
    """A run of literal text, its spaces kept."""
    return f'<w:r><w:t xml:space="preserve">{xml_text(text)}</w:t></w:r>'


def field_run(instruction: str, shown: str = "1") -> str:
    """A live field (``PAGE``, ``NUMPAGES``), showing ``shown`` until Word or LibreOffice
    updates it."""
    return (f'<w:fldSimple w:instr=" {instruction} "><w:r><w:t>{xml_text(shown)}</w:t></w:r>'
            "</w:fldSimple>")


def page_of_pages(phrase: str, one: str = "1") -> Markup:
    """A phrase such as "Page %(page)s of %(pages)s" as runs, with live PAGE and NUMPAGES
    fields in place of its placeholders. ``one`` is the digit 1 of the letter's numbering
    system (``١``): the fields show it until updated, and the PDF numbers pages in its digits
    (:mod:`drafter.pdf`: no page-number format of a DOCX says so to LibreOffice)."""
    runs = []
    for piece in re.split(r"(%\((?:page|pages)\)s)", phrase):
        if piece == "%(page)s":
            runs.append(field_run("PAGE", one))
        elif piece == "%(pages)s":
            runs.append(field_run("NUMPAGES", one))
        elif piece:
            runs.append(text_run(piece))
    return Markup("".join(runs))


def length(value: str | int | float | None) -> int | None:
    """A length as EMU: ``"3cm"``, ``"20mm"``, ``"1.5in"``, ``"72pt"``, ``"96px"``, or a number
    of EMU (python-docx's ``Mm(20)``); None stays None. Raises ValueError for anything else."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    match = _LENGTH.match(str(value).lower())
    if not match:
        raise ValueError(f"{value!r} is not a length; write it as 3cm, 25mm, 1.5in or 72pt")
    return round(float(match.group(1)) * _UNITS[match.group(2)])


@dataclass(frozen=True)
class Image:
    """An image from the letter's data (a logo, a signature, a photograph), read once.

    Printed with ``{{ logo }}`` (its own size, at most the text's width) or
    ``{{ logo | image(width="3cm") }}``; its relationship id and media name come from its
    content, so the same image always gives the same XML and is stored once per letter.
    """

    data: bytes = field(repr=False)
    filename: str  # the file's own name, shown as the picture's name in Word
    description: str = ""  # alternative text, for screen readers
    height: int | None = None  # EMU; None: the image's own (or the width's) proportion
    width: int | None = None
    in_run: bool = False  # printed as a whole run ({{r signature }}), not inside a run's text

    @classmethod
    def from_file(cls, path: Path, description: str = "", *, height: int | None = None,
                  width: int | None = None, in_run: bool = False) -> Image:
        """The image in ``path`` (PNG, JPEG or GIF), a regular file of at most
        :data:`MAX_IMAGE_BYTES` (else :class:`~drafter.errors.DataError`)."""
        return cls(read_bounded(path, MAX_IMAGE_BYTES), path.name, description, height, width,
                   in_run)

    @property
    def digest(self) -> str:
        """Derived from the content: the same picture has the same name in every letter."""
        return hashlib.sha256(self.data).hexdigest()[:16]

    @property
    def rel_id(self) -> str:
        """The relationship id the drawing refers to, in every part that shows it."""
        return IMAGE_ID_PREFIX + self.digest

    @property
    def extension(self) -> str:
        """``png``, ``jpg`` or ``gif``, from the image's content."""
        from docx.image.image import Image as Picture
        return Picture.from_blob(self.data).ext.replace("jpeg", "jpg")

    @property
    def media(self) -> str:
        """Where the image sits in the archive, relative to ``word/``."""
        return f"media/drafter-{self.digest}.{self.extension}"

    def sized(self, width: str | int | None = None, height: str | int | None = None) -> Image:
        """The same image at another size; one length given keeps the proportion."""
        return Image(self.data, self.filename, self.description, length(height), length(width),
                     self.in_run)

    def drawing(self) -> str:
        """The ``w:drawing`` of the image (python-docx's inline picture)."""
        from docx.image.image import Image as Picture
        from docx.oxml.shape import CT_Inline

        picture = Picture.from_blob(self.data)
        width, height = picture.scaled_dimensions(self.width, self.height)
        if self.width is None and self.height is None and width > MAX_IMAGE_WIDTH:
            width, height = picture.scaled_dimensions(MAX_IMAGE_WIDTH, None)
        inline = CT_Inline.new_pic_inline(1, self.rel_id, self.filename, width, height)
        if self.description:
            inline.docPr.set("descr", self.description)
        return f"<w:drawing>{etree.tostring(inline, encoding='unicode')}</w:drawing>"

    def __html__(self) -> str:
        if self.in_run:
            return f"<w:r>{self.drawing()}</w:r>"
        # Inside a run's text, as docxtpl's InlineImage: the text run ends, the picture's
        # run follows, and a new text run takes the rest of the tag's run.
        return f'</w:t></w:r><w:r>{self.drawing()}</w:r><w:r><w:t xml:space="preserve">'

    def __str__(self) -> str:
        return self.__html__()


@dataclass(frozen=True)
class Annex:
    """Another Word document (a DOCX file from the data) added to the letter where the
    template prints it, in a paragraph of its own: ``{{p annex }}``.

    Rendering leaves a marker paragraph there; :func:`drafter.annex.with_annexes` puts the
    document's content in its place, with its styles, numbering and pictures.
    """

    path: Path

    @property
    def marker(self) -> str:
        """The name of the bookmark that marks the annex's place."""
        return "_drafterAnnex" + hashlib.sha256(str(self.path).encode()).hexdigest()[:12]

    def __html__(self) -> str:
        return (f'<w:p><w:bookmarkStart w:id="{int(self.marker[-6:], 16)}" '
                f'w:name="{self.marker}"/><w:bookmarkEnd w:id="{int(self.marker[-6:], 16)}"/>'
                "</w:p>")

    def __str__(self) -> str:
        return self.__html__()


def signature_image(path: Path, name: str) -> Image:
    """A signature from its image file: as tall as a handwritten signature, as a whole run
    (the template prints it with ``{{r signatory.signature }}``)."""
    return Image.from_file(path, name, height=SIGNATURE_HEIGHT, in_run=True)


def images_in(value: object) -> Iterator[Image]:
    """The images among a context's values, at any depth."""
    return iter(media_in(value).images)


def annexes_in(value: object) -> Iterator[Annex]:
    """The annexes among a context's values, at any depth."""
    return iter(media_in(value).annexes)


@dataclass(frozen=True)
class Media:
    """The images and annexes among a context's values, in their order."""

    images: list[Image]
    annexes: list[Annex]


def media_in(value: object) -> Media:
    """The images and annexes among a context's values, at any depth (one walk for both)."""
    media = Media([], [])
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):  # most values; Markup too
            continue
        if isinstance(item, dict):  # before Mapping's slower check
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, Image):
            media.images.append(item)
        elif isinstance(item, Annex):
            media.annexes.append(item)
        elif isinstance(item, Mapping):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list | tuple):
            stack.extend(reversed(item))
    return media


def relationships_part(name: str) -> str:
    """The relationships of a part: ``word/document.xml`` -> ``word/_rels/document.xml.rels``."""
    folder, base = posixpath.split(name)
    return posixpath.join(folder, "_rels", f"{base}.rels")


EMPTY_RELATIONSHIPS = (XML_DECLARATION + f'<Relationships xmlns="{RELATIONSHIPS_NS}">'
                       "</Relationships>").encode("utf-8")


def relationships(rels: bytes) -> dict[str, tuple[str, str, bool]]:
    """The relationships of a ``.rels`` part: id -> (type, target, external).

    Raises :class:`lxml.etree.XMLSyntaxError` when the part is not well-formed.
    """
    tree = etree.fromstring(rels)
    return {rel.get("Id", ""): (rel.get("Type", ""), rel.get("Target", ""),
                                rel.get("TargetMode") == "External")
            for rel in tree.iter(f"{{{RELATIONSHIPS_NS}}}Relationship")}


def with_relationships(rels: bytes | None, links: Mapping[str, str],
                       images: Iterable[Image] = ()) -> bytes:
    """A part's relationships (or none yet) with the letter's links (by id) and images added."""
    extra = [f'<Relationship Id="{rel_id}" Type="{HYPERLINK_TYPE}" Target="{xml_text(url)}" '
             'TargetMode="External"/>' for rel_id, url in links.items()]
    extra += [f'<Relationship Id="{image.rel_id}" Type="{IMAGE_TYPE}" Target="{image.media}"/>'
              for image in images]
    text = (rels or EMPTY_RELATIONSHIPS).decode("utf-8")
    if not extra:
        return text.encode("utf-8")
    if "</Relationships>" not in text:  # an empty <Relationships/>
        text = re.sub(r"<Relationships([^>]*)/>", r"<Relationships\1></Relationships>", text)
    return text.replace("</Relationships>", "".join(extra) + "</Relationships>").encode("utf-8")


def with_image_types(content_types: bytes, extensions: Iterable[str]) -> bytes:
    """``[Content_Types].xml`` knowing images with each of ``extensions`` (``png``, ``jpg``)."""
    text = content_types.decode("utf-8")
    for extension in sorted(set(extensions)):
        if re.search(rf'Extension="{extension}"', text, re.IGNORECASE):
            continue
        mime = IMAGE_EXTENSIONS.get(extension, f"image/{extension}")
        text = text.replace("</Types>", f'<Default Extension="{extension}" '
                            f'ContentType="{mime}"/></Types>')
    return text.encode("utf-8")


# The document properties a letter sets, by key, and their elements in docProps/core.xml.
_PROPERTIES = {"title": "dc:title", "subject": "dc:subject", "author": "dc:creator",
               "language": "dc:language", "created": "dcterms:created"}
_PROPERTY_TAGS = {key: qn(tag) for key, tag in _PROPERTIES.items()}
_XSI_TYPE = qn("xsi:type")
_EMPTY_CORE = ("<cp:coreProperties " + " ".join(
    f'xmlns:{prefix}="{NAMESPACES[prefix]}"'
    for prefix in ("cp", "dc", "dcterms", "dcmitype", "xsi")) + "/>").encode()


def core_properties(properties: Mapping[str, str], template: bytes | None = None) -> bytes:
    """``docProps/core.xml``: the template's own properties (keywords, category, its
    description…) with title, subject, author, language and creation date as the letter
    sets them; a property the letter leaves empty keeps the template's value."""
    tree = etree.fromstring(template or _EMPTY_CORE)
    elements: dict[object, etree._Element] = {}
    for child in reversed(tree):  # the first of each, as tree.find finds it
        elements[child.tag] = child
    for key, tag in _PROPERTY_TAGS.items():
        value = properties.get(key)
        if not value:
            continue
        element = elements.get(tag)
        if element is None:
            element = elements[tag] = etree.SubElement(tree, tag)
        element.text = strip_control_characters(str(value))  # lxml escapes it
        if key == "created":
            element.set(_XSI_TYPE, "dcterms:W3CDTF")
    return xml_bytes(tree)


def references(element: etree._Element) -> set[str]:
    """The relationship ids a part (or one of its elements) refers to (``r:id``,
    ``r:embed``, ``r:link`` …)."""
    return {str(value) for value in element.xpath("descendant-or-self::*/@*[namespace-uri()=$ns]",
                                                  ns=NAMESPACES["r"])}


def fix_table_grids(tree: etree._Element) -> etree._Element:
    """Tables whose column grid (``w:tblGrid``) matches their rows again, as docxtpl's own
    ``fix_tables`` makes them after rendering: a ``{%tc %}`` loop or ``{% hm %}`` changes how
    many cells a row has, and Word lays out by the grid. A table without a grid is left."""
    from docxtpl import DocxTemplate

    tables = list(tree.iter(qn("w:tbl")))
    if not tables or any(table.find(qn("w:tblGrid")) is None for table in tables):
        return tree
    try:
        return DocxTemplate(None).fix_tables(etree.tostring(tree))
    except (TypeError, ValueError, AttributeError):  # a grid column without a width
        return tree


def set_paper(tree: etree._Element, paper: str) -> None:
    """Every section of a part on ``paper`` (A4, Letter), keeping its orientation."""
    width, height = PAPER_TWIPS[paper]
    for size in tree.iter(qn("w:pgSz")):
        landscape = size.get(qn("w:orient")) == "landscape"
        size.set(qn("w:w"), str(height if landscape else width))
        size.set(qn("w:h"), str(width if landscape else height))


# Elements that follow w:bidi inside w:pPr, in the schema's order.
_AFTER_BIDI = {qn(f"w:{tag}") for tag in (
    "adjustRightInd", "snapToGrid", "spacing", "ind", "contextualSpacing", "mirrorIndents",
    "suppressOverlap", "jc", "textDirection", "textAlignment", "textboxTightWrap", "outlineLvl",
    "divId", "cnfStyle", "rPr", "sectPr", "pPrChange")}


def set_right_to_left(tree: etree._Element) -> None:
    """Every paragraph of a part read right to left (``w:bidi``, where the schema puts it)."""
    for paragraph in tree.iter(qn("w:p")):
        properties = paragraph.find(qn("w:pPr"))
        if properties is None:
            properties = etree.SubElement(paragraph, qn("w:pPr"))
            paragraph.insert(0, properties)
        if properties.find(qn("w:bidi")) is not None:
            continue
        bidi = etree.Element(qn("w:bidi"))
        successor = next((child for child in properties if child.tag in _AFTER_BIDI), None)
        if successor is None:
            properties.append(bidi)
        else:
            successor.addprevious(bidi)


def set_default_language(styles: etree._Element, kind: str, tag: str) -> None:
    """The styles' default language for ``kind`` of text (``val``, ``eastAsia``, ``bidi``)."""
    defaults = styles.find(f"{qn('w:docDefaults')}/{qn('w:rPrDefault')}/{qn('w:rPr')}")
    if defaults is not None:
        lang = defaults.find(qn("w:lang"))
        if lang is None:
            lang = etree.SubElement(defaults, qn("w:lang"))
        lang.set(qn(f"w:{kind}"), tag)


def latin_font(styles: bytes | etree._Element) -> str:
    """The font the styles (a ``word/styles.xml``, as bytes or parsed) give Latin text (the
    default paragraph style's, else the document's default), which also draws the digits and
    punctuation of complex scripts."""
    tree = etree.fromstring(styles) if isinstance(styles, bytes) and styles else styles
    if isinstance(tree, etree._Element):
        for path in ("w:style[@w:default='1'][@w:type='paragraph']/w:rPr/w:rFonts",
                     "w:docDefaults/w:rPrDefault/w:rPr/w:rFonts"):
            fonts = tree.find(path, NAMESPACES)
            if fonts is not None and fonts.get(qn("w:ascii")):
                return str(fonts.get(qn("w:ascii")))
    return "Calibri"


# Each Latin and East Asian character property and its twin for complex scripts.
_TWINS = {"w:b": "w:bCs", "w:i": "w:iCs", "w:sz": "w:szCs"}


def add_complex_script_twins(tree: etree._Element) -> None:
    """Every bold, italic and size in the tree's run properties also set for complex scripts
    (``w:bCs``, ``w:iCs``, ``w:szCs``), where the template did not say otherwise: Arabic,
    Hebrew, Devanagari and Thai text is then as bold and as large as the Latin beside it."""
    for latin, twin in _TWINS.items():
        # Each run properties' first setting whose twin is missing, found by libxml2: a
        # walk in Python took longer than parsing the styles
        for setting in tree.xpath(f"descendant-or-self::w:rPr/{latin}[1][not(../{twin})]",
                                  namespaces=NAMESPACES):
            setting.addnext(etree.Element(qn(twin), setting.attrib))


def set_single_spaced(styles: etree._Element) -> None:
    """The default paragraph style single-spaced: the CJK faces' own line height is already
    half as tall again as a Latin font's, and 1.08 lines on top of it sets a Chinese or Korean
    letter a page longer than Word would."""
    for spacing in styles.iterfind("w:style[@w:default='1'][@w:type='paragraph']/w:pPr/w:spacing",
                                   NAMESPACES):
        line = spacing.get(qn("w:line"))
        if line and spacing.get(qn("w:lineRule"), "auto") == "auto" and int(line) > 240:
            spacing.set(qn("w:line"), "240")
