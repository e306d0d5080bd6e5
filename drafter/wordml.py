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

import re
from collections.abc import Mapping
from pathlib import Path
from xml.sax.saxutils import quoteattr

from lxml import etree
from markupsafe import Markup

from .markup import xml_text

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
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

# The relationship of the signature image: the drawing refers to it, the document's
# relationships hold it.
SIGNATURE_ID = "rIdDrafterSignature"
SIGNATURE_HEIGHT = 548640  # EMU: 0.6 inch, a handwritten signature's usual height

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


def field_run(instruction: str) -> str:
    """A live field (``PAGE``, ``NUMPAGES``), showing 1 until Word or LibreOffice updates it."""
    return f'<w:fldSimple w:instr=" {instruction} "><w:r><w:t>1</w:t></w:r></w:fldSimple>'


def page_of_pages(phrase: str) -> Markup:
    """A phrase such as "Page %(page)s of %(pages)s" as runs, with live PAGE and NUMPAGES
    fields in place of its placeholders."""
    runs = []
    for piece in re.split(r"(%\((?:page|pages)\)s)", phrase):
        if piece == "%(page)s":
            runs.append(field_run("PAGE"))
        elif piece == "%(pages)s":
            runs.append(field_run("NUMPAGES"))
        elif piece:
            runs.append(text_run(piece))
    return Markup("".join(runs))


def signature_drawing(image: Path, name: str) -> Markup:
    """A run showing the signature image inline, as tall as a handwritten signature.

    The image itself is added to the document with :func:`with_relationships`, as
    :data:`SIGNATURE_ID`.
    """
    from docx.image.image import Image

    picture = Image.from_file(str(image))
    height = SIGNATURE_HEIGHT
    width = int(height * picture.px_width / max(picture.px_height, 1))
    ns = NAMESPACES
    return Markup(
        '<w:r><w:drawing><wp:inline distT="0" distB="0" distL="0" distR="0" '
        f'xmlns:wp="{ns["wp"]}"><wp:extent cx="{width}" cy="{height}"/>'
        f'<wp:docPr id="4242" name="Signature" descr="{xml_text(name)}"/>'
        f'<a:graphic xmlns:a="{ns["a"]}"><a:graphicData uri="{ns["pic"]}">'
        f'<pic:pic xmlns:pic="{ns["pic"]}"><pic:nvPicPr><pic:cNvPr id="0" name="signature"/>'
        f'<pic:cNvPicPr/></pic:nvPicPr><pic:blipFill><a:blip r:embed="{SIGNATURE_ID}"/>'
        '<a:stretch><a:fillRect/></a:stretch></pic:blipFill><pic:spPr><a:xfrm>'
        f'<a:off x="0" y="0"/><a:ext cx="{width}" cy="{height}"/></a:xfrm>'
        '<a:prstGeom prst="rect"><a:avLst/></a:prstGeom></pic:spPr></pic:pic></a:graphicData>'
        '</a:graphic></wp:inline></w:drawing></w:r>')


def signature_media(image: Path) -> str:
    """Where the signature image sits in the archive, relative to ``word/``."""
    return f"media/drafter-signature{image.suffix.lower()}"


def with_relationships(rels: bytes, links: Mapping[str, str], signature: Path | None) -> bytes:
    """The document's relationships with the letter's links (by id) and its signature image."""
    extra = [f'<Relationship Id="{rel_id}" Type="{HYPERLINK_TYPE}" Target={quoteattr(url)} '
             'TargetMode="External"/>' for rel_id, url in links.items()]
    if signature is not None:
        extra.append(f'<Relationship Id="{SIGNATURE_ID}" Type="{IMAGE_TYPE}" '
                     f'Target="{signature_media(signature)}"/>')
    return rels.decode("utf-8").replace(
        "</Relationships>", "".join(extra) + "</Relationships>").encode("utf-8")


def with_image_type(content_types: bytes, extension: str) -> bytes:
    """``[Content_Types].xml`` knowing images with ``extension`` (``png``, ``jpg``)."""
    text = content_types.decode("utf-8")
    if f'Extension="{extension}"' in text:
        return content_types
    mime = {"jpg": "image/jpeg", "jpeg": "image/jpeg"}.get(extension, f"image/{extension}")
    return text.replace("</Types>", f'<Default Extension="{extension}" ContentType="{mime}"/>'
                        "</Types>").encode("utf-8")


def core_properties(properties: Mapping[str, str]) -> bytes:
    """``docProps/core.xml``: title, subject, author, language and creation date, as given."""
    def element(tag: str, key: str) -> str:
        return f"<{tag}>{xml_text(properties[key])}</{tag}>" if properties.get(key) else ""
    created = properties.get("created", "")
    declarations = " ".join(f'xmlns:{prefix}="{NAMESPACES[prefix]}"'
                            for prefix in ("cp", "dc", "dcterms", "dcmitype", "xsi"))
    return (
        XML_DECLARATION + f"<cp:coreProperties {declarations}>"
        + element("dc:title", "title") + element("dc:subject", "subject")
        + element("dc:creator", "author") + element("dc:language", "language")
        + (f'<dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created>'
           if created else "")
        + "</cp:coreProperties>"
    ).encode("utf-8")


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


def latin_font(styles: bytes) -> str:
    """The font the styles give Latin text (the default paragraph style's, else the
    document's default), which also draws the digits and punctuation of complex scripts."""
    if styles:
        tree = etree.fromstring(styles)
        for path in ("w:style[@w:default='1'][@w:type='paragraph']/w:rPr/w:rFonts",
                     "w:docDefaults/w:rPrDefault/w:rPr/w:rFonts"):
            fonts = tree.find(path, NAMESPACES)
            if fonts is not None and fonts.get(qn("w:ascii")):
                return str(fonts.get(qn("w:ascii")))
    return "Calibri"


# Each Latin and East Asian character property and its twin for complex scripts.
_TWINS = {qn(f"w:{latin}"): qn(f"w:{twin}") for latin, twin in (("b", "bCs"), ("i", "iCs"),
                                                                 ("sz", "szCs"))}


def add_complex_script_twins(tree: etree._Element) -> None:
    """Every bold, italic and size in the tree's run properties also set for complex scripts
    (``w:bCs``, ``w:iCs``, ``w:szCs``), where the template did not say otherwise: Arabic,
    Hebrew, Devanagari and Thai text is then as bold and as large as the Latin beside it."""
    for properties in tree.iter(qn("w:rPr")):
        for latin, twin in _TWINS.items():
            setting = properties.find(latin)
            if setting is not None and properties.find(twin) is None:
                setting.addnext(etree.Element(twin, setting.attrib))


def set_single_spaced(styles: etree._Element) -> None:
    """The default paragraph style single-spaced: the CJK faces' own line height is already
    half as tall again as a Latin font's, and 1.08 lines on top of it sets a Chinese or Korean
    letter a page longer than Word would."""
    for spacing in styles.iterfind("w:style[@w:default='1'][@w:type='paragraph']/w:pPr/w:spacing",
                                   NAMESPACES):
        line = spacing.get(qn("w:line"))
        if line and spacing.get(qn("w:lineRule"), "auto") == "auto" and int(line) > 240:
            spacing.set(qn("w:line"), "240")
