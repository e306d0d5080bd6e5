"""One file of many letters, for printing: a PDF (pikepdf) and a DOCX (docxcompose).

:func:`combine_letters` makes a merge's ``combined.pdf`` and ``combined.docx`` from the letters
its manifest lists as finished. Each letter starts on a new page; in the DOCX each letter is a
section of its own whose page numbers restart at 1, so "Page 2 of 3" stays true for every
letter: the page total is a ``PAGEREF`` to a bookmark in the letter's last paragraph, which
Word and LibreOffice both count (LibreOffice 7.4 does not count ``SECTIONPAGES``, and would
print "Page 2 of 1"). Each letter also starts with a bookmark of its own (:func:`letter_mark`);
exported as a PDF destination, it says where the letter starts in a combined conversion
(:mod:`drafter.pdf_split`).
"""

from __future__ import annotations

import copy
import io
import posixpath
import re
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pikepdf
from docx import Document
from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.part import XmlPart
from docx.oxml.ns import qn
from docxcompose.composer import Composer
from lxml import etree

from .files import write_atomic
from .manifest import FinishedLetter
from .outputs import COMBINED_DOCX, COMBINED_PDF

# Hidden bookmarks (a leading underscore hides them in Word): where letter N starts and ends.
_START_MARK = "_DrafterLetter{}"
_END_MARK = "_DrafterLetterEnd{}"
_MARK_IDS = 1_000_000_000  # bookmark ids far above any the letters use


def letter_mark(index: int) -> str:
    """The name of the bookmark at the start of letter ``index`` (from 0) of a combined DOCX."""
    return _START_MARK.format(index + 1)


def combine_letters(letters: Sequence[FinishedLetter], outdir: Path) -> list[Path]:
    """``outdir/combined.pdf`` of the letters that have a PDF and ``outdir/combined.docx`` of
    those that have a DOCX, in the order given; returns what was written (nothing for a format
    no letter has)."""
    pdfs = [letter.pdf for letter in letters if letter.pdf]
    docxs = [letter.docx for letter in letters if letter.docx]
    pages = [letter.pages for letter in letters if letter.docx and letter.pages]
    written = []
    if pdfs:
        written.append(combine_pdf(pdfs, outdir / COMBINED_PDF))
    if docxs:
        written.append(combine_docx(docxs, outdir / COMBINED_DOCX,
                                    pages if len(pages) == len(docxs) else None))
    return written


def combine_pdf(pdfs: Sequence[Path], target: Path) -> Path:
    """The letters' PDFs, one after the other, as one PDF at ``target``."""
    with pikepdf.Pdf.new() as combined:
        for path in pdfs:
            with pikepdf.Pdf.open(path) as letter:
                combined.pages.extend(letter.pages)
        return _write(combined.save, target)


def combine_docx(documents: Sequence[Path], target: Path,
                 pages: Sequence[int] | None = None) -> Path:
    """The letters' DOCX files as one document, each letter a section starting on a new page,
    with its own headers and footers ("Page 1 of 2", in its language) and page numbers
    restarting at 1.

    ``pages``, each letter's page count when known (from its PDF), is shown until Word or
    LibreOffice counts again: LibreOffice does not count a section's pages itself.
    """
    first = Document(str(documents[0]))
    _mark_letter(first, 0)
    composer = Composer(first)
    _use_footers(composer, _footers(composer.doc, 0, pages[0] if pages else None))
    for index, path in enumerate(documents[1:], start=1):
        letter = Document(str(path))
        _mark_letter(letter, index)
        footers = _footers(letter, index, pages[index] if pages else None)
        _end_section(composer.doc)
        composer.append(letter)
        _use_footers(composer, footers)
    for section in composer.doc.sections:
        _restart_page_numbers(section._sectPr)
    return _write(composer.save, target)


def _write(save: Callable[[io.BytesIO], object], target: Path) -> Path:
    """Write what ``save`` puts in a buffer to ``target``, atomically."""
    buffer = io.BytesIO()
    save(buffer)
    write_atomic(target, buffer.getvalue())
    return target


# Headers and footers: the reference in a section's properties, the part's name, its types.
_MARGINS = {"header": (CT.WML_HEADER, RT.HEADER), "footer": (CT.WML_FOOTER, RT.FOOTER)}


def _footers(document: Any, index: int, pages: int | None) -> list[tuple[str, str, bytes]]:
    """A document's headers and footers (header or footer, type and XML), counting the pages
    of its own letter only: its NUMPAGES fields become PAGEREFs to the bookmark at the end of
    letter ``index``, showing ``pages`` until they are updated. The parts themselves hold no
    relationships of their own (a header's logo or link would be lost): drafter's letters put
    those in the body."""
    found = []
    for margin in _MARGINS:
        for reference in document.sections[-1]._sectPr.findall(qn(f"w:{margin}Reference")):
            part = etree.fromstring(document.part.related_parts[reference.get(qn("r:id"))].blob)
            _count_own_pages(part, index, pages)
            found.append((margin, reference.get(qn("w:type")), etree.tostring(part)))
    return found


def _count_own_pages(part: etree._Element, index: int, pages: int | None) -> None:
    """Make a header or footer of letter ``index`` count that letter's pages (showing
    ``pages``, when known, until it is updated)."""
    # NUMPAGES would count the whole print run; the page of the letter's last paragraph is
    # its own page count, since each letter's page numbers restart at 1.
    count = f" PAGEREF {_END_MARK.format(index + 1)} "
    for field in part.iter(qn("w:fldSimple")):
        if field.get(qn("w:instr")).strip() == "NUMPAGES":
            field.set(qn("w:instr"), count)
            for text in field.iter(qn("w:t")):
                text.text = str(pages) if pages else text.text
    for code in part.iter(qn("w:instrText")):  # a field in runs, as Word writes them
        if (code.text or "").strip() == "NUMPAGES":
            code.text = count


def _use_footers(composer: Composer, footers: list[tuple[str, str, bytes]]) -> None:
    """Give the combined document's last section (the letter just added) these headers and
    footers."""
    properties = composer.doc.element.body.find(qn("w:sectPr"))
    for margin in _MARGINS:
        for reference in properties.findall(qn(f"w:{margin}Reference")):
            properties.remove(reference)
            rel_id = reference.get(qn("r:id"))
            if not composer.doc.element.xpath(f'//w:{margin}Reference[@r:id="{rel_id}"]'):
                composer.doc.part.rels.pop(rel_id)  # no section shows that part any more
    package = composer.doc.part.package
    taken = {str(part.partname) for part in package.iter_parts()}
    for margin, kind, xml in reversed(footers):
        number = next(n for n in range(1, 100_000) if f"/word/{margin}{n}.xml" not in taken)
        taken.add(f"/word/{margin}{number}.xml")
        content_type, rel_type = _MARGINS[margin]
        part = XmlPart.load(PackURI(f"/word/{margin}{number}.xml"), content_type, xml, package)
        rel_id = composer.doc.part.relate_to(part, rel_type)
        reference = properties.makeelement(qn(f"w:{margin}Reference"),
                                           {qn("w:type"): kind, qn("r:id"): rel_id})
        properties.insert(0, reference)


def _mark_letter(document: Any, index: int) -> None:
    """Put the bookmarks of letter ``index`` in its first and its last paragraph."""
    body = document.element.body
    content = list(body)
    _mark_body(body, content, index)
    if content[0].getparent() is None:  # the paragraph added to a letter of tables only
        body.insert(0, content[0])


def _mark_body(body: etree._Element, content: list[etree._Element], index: int) -> None:
    """Put the bookmarks of letter ``index`` in the first and the last paragraph of its body's
    ``content`` (a paragraph is added at its start for a letter of tables only)."""
    paragraphs = [element for element in content if element.tag == qn("w:p")]
    if not paragraphs:
        paragraphs = [body.makeelement(qn("w:p"), {})]
        content.insert(0, paragraphs[0])
    for paragraph, name, number in ((paragraphs[0], _START_MARK, 0),
                                    (paragraphs[-1], _END_MARK, 1)):
        mark_id = str(_MARK_IDS + 2 * index + number)
        start = paragraph.makeelement(qn("w:bookmarkStart"),
                                      {qn("w:id"): mark_id, qn("w:name"): name.format(index + 1)})
        end = paragraph.makeelement(qn("w:bookmarkEnd"), {qn("w:id"): mark_id})
        properties = paragraph.find(qn("w:pPr"))
        at = 0 if properties is None else paragraph.index(properties) + 1
        paragraph.insert(at, end)
        paragraph.insert(at, start)


def _end_section(document: object) -> None:
    """Close the document's last section so the next content starts a new one, on a new page.

    The section ends in the letter's own last paragraph when it ends with one, so that it has
    no more lines (and pages) than it has alone; after a table, in a paragraph of its own.
    """
    body = document.element.body  # type: ignore[attr-defined]
    final = body.find(qn("w:sectPr"))
    body.remove(final)
    _close_section(body, copy.deepcopy(final))
    body.append(final)


def _close_section(body: etree._Element, section: etree._Element) -> None:
    """End the section of the body's last element with the section properties ``section``:
    in that paragraph, or after a table in a paragraph of its own."""
    last = body[-1] if len(body) else None
    if last is not None and last.tag == qn("w:p") and last.find(
            f"{qn('w:pPr')}/{qn('w:sectPr')}") is None:
        paragraph = last
    else:
        paragraph = body.makeelement(qn("w:p"), {})
        body.append(paragraph)
    properties = paragraph.find(qn("w:pPr"))
    if properties is None:
        properties = paragraph.makeelement(qn("w:pPr"), {})
        paragraph.insert(0, properties)
    change = properties.find(qn("w:pPrChange"))  # the schema puts w:sectPr before it
    if change is not None:
        change.addprevious(section)
    else:
        properties.append(section)


def _restart_page_numbers(section_properties: object) -> None:
    numbering = section_properties.find(qn("w:pgNumType"))  # type: ignore[attr-defined]
    if numbering is None:
        numbering = section_properties.makeelement(qn("w:pgNumType"), {})  # type: ignore[attr-defined]
        # w:pgNumType comes after w:pgMar/w:pgBorders/w:lnNumType in the schema
        anchor = None
        for tag in ("w:lnNumType", "w:pgBorders", "w:pgMar", "w:pgSz"):
            anchor = section_properties.find(qn(tag))  # type: ignore[attr-defined]
            if anchor is not None:
                break
        if anchor is not None:
            anchor.addnext(numbering)
        else:
            section_properties.insert(0, numbering)  # type: ignore[attr-defined]
    numbering.set(qn("w:start"), "1")


# ---- letters of one template, locale and paper as one DOCX to convert at once ------------------

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
_WP = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
_DOCUMENT = "word/document.xml"
_DOCUMENT_RELS = "word/_rels/document.xml.rels"
# The parts each letter has of its own; every other part is the template's, and letters are
# combined only when theirs are the same (combining_key).
_OWN_PART = re.compile(r"(word/(document|header\d*|footer\d*)\.xml|word/_rels/.*|word/media/.*"
                       r"|docProps/.*|\[Content_Types\]\.xml)$")
# What a letter's body may refer to by relationship: copied with it, under a name of its own.
_LETTER_RELATIONSHIPS = {RT.HYPERLINK, RT.IMAGE, RT.HEADER, RT.FOOTER}
# Body markup a combined document would get wrong (notes and comments live in shared parts).
_NOT_COMBINABLE = re.compile(rb"<w:(footnoteReference|endnoteReference|commentReference"
                             rb"|altChunk|subDoc)\b")


def combining_key(docx: Path) -> tuple[object, ...] | None:
    """What letters must share to be combined by :func:`combine_alike`: the template's parts
    (styles, numbering, settings, fonts, theme…, compared by checksum) and the page setup
    (paper, margins, direction); ``None`` for a letter that cannot be combined (one with notes
    or comments, or no DOCX)."""
    try:
        with zipfile.ZipFile(docx) as archive:
            shared = tuple(sorted((info.filename, info.CRC, info.file_size)
                                  for info in archive.infolist()
                                  if not _OWN_PART.match(info.filename)))
            body = archive.read(_DOCUMENT)
    except (OSError, KeyError, zipfile.BadZipFile, RuntimeError):
        return None
    if _NOT_COMBINABLE.search(body):
        return None
    setup = body[body.rfind(b"<w:sectPr"):]
    return shared, re.sub(rb'r:id="[^"]*"', b"", setup)


def combine_alike(documents: Sequence[Path], target: Path) -> Path:
    """Letters that share their template parts (the same :func:`combining_key`) as one DOCX at
    ``target``, for one conversion: each letter a section of its own, on a new page, with its
    own headers and footers counting its own pages, its pictures and links, and the bookmark
    of :func:`letter_mark` at its start.

    Much faster than :func:`combine_docx`, which merges any documents' styles and numbering:
    this one copies the first letter's template parts and only the letters' own parts.
    """
    with zipfile.ZipFile(documents[0]) as first:
        shared = {name: first.read(name) for name in first.namelist()
                  if not _OWN_PART.match(name) or name.startswith("docProps/")}
        types = etree.fromstring(first.read("[Content_Types].xml"))
        root = etree.fromstring(first.read(_DOCUMENT))
        relationships = etree.fromstring(first.read(_DOCUMENT_RELS))
    for relationship in list(relationships):
        if relationship.get("Type") in _LETTER_RELATIONSHIPS:
            relationships.remove(relationship)
    for override in list(types):
        if re.fullmatch(r"/word/(header|footer)\d*\.xml", override.get("PartName", "")):
            types.remove(override)
    body = root.find(f"{{{_W}}}body")
    for child in list(body):
        body.remove(child)
    parts: dict[str, bytes] = {}
    drawing = 0
    previous: etree._Element | None = None  # the section properties of the letter before
    for index, path in enumerate(documents):
        with zipfile.ZipFile(path) as letter:
            content, section = _letter_body(letter, index, relationships, types, parts)
        if previous is not None:
            _close_section(body, previous)
        for element in content:
            for picture in element.iter(f"{{{_WP}}}docPr"):
                drawing += 1
                picture.set("id", str(drawing))  # unique in the document, as Word wants
            body.append(element)
        previous = section
    if previous is not None:
        body.append(previous)
    parts[_DOCUMENT] = etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                      standalone=True)
    parts[_DOCUMENT_RELS] = etree.tostring(relationships, xml_declaration=True,
                                           encoding="UTF-8", standalone=True)
    parts["[Content_Types].xml"] = etree.tostring(types, xml_declaration=True,
                                                  encoding="UTF-8", standalone=True)
    buffer = io.BytesIO()
    # Stored, not deflated: the file lives only until LibreOffice has read it.
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("[Content_Types].xml", parts.pop("[Content_Types].xml"))
        for name, data in {**shared, **parts}.items():
            archive.writestr(name, data)
    write_atomic(target, buffer.getvalue(), durable=False)
    return target


def _letter_body(letter: zipfile.ZipFile, index: int, relationships: etree._Element,
                 types: etree._Element, parts: dict[str, bytes],
                 ) -> tuple[list[etree._Element], etree._Element]:
    """Letter ``index``'s body elements and its section properties, its relationships renamed
    (``L3_rId9``) and added to ``relationships``, its own parts (headers, footers, pictures)
    added to ``parts`` under names of their own, their content types to ``types``."""
    prefix = f"L{index + 1}_"
    root = etree.fromstring(letter.read(_DOCUMENT))
    own = etree.fromstring(letter.read(_DOCUMENT_RELS))
    renamed: dict[str, str] = {}
    for relationship in own:
        kind = relationship.get("Type")
        if kind not in _LETTER_RELATIONSHIPS:
            continue
        new_id = prefix + relationship.get("Id")
        renamed[relationship.get("Id")] = new_id
        copy_ = etree.SubElement(relationships, f"{{{_RELS}}}Relationship",
                                 dict(relationship.attrib))
        copy_.set("Id", new_id)
        if relationship.get("TargetMode") == "External":
            continue
        name = _copy_part(letter, "word/" + relationship.get("Target"), prefix, types, parts,
                          index if kind in (RT.HEADER, RT.FOOTER) else None)
        copy_.set("Target", name[len("word/"):])
    body = root.find(f"{{{_W}}}body")
    for element in body.iter():
        for attribute, value in element.attrib.items():
            if attribute.startswith(f"{{{_R}}}") and value in renamed:
                element.set(attribute, renamed[value])
        if element.tag in (f"{{{_W}}}bookmarkStart", f"{{{_W}}}bookmarkEnd"):
            # Unique across the letters; the marks' own ids are far above these.
            element.set(f"{{{_W}}}id", str(index * 10_000 + int(element.get(f"{{{_W}}}id", 0))))
    content = list(body)
    final = content.pop() if content and content[-1].tag == f"{{{_W}}}sectPr" else (
        body.makeelement(f"{{{_W}}}sectPr", {}))
    _restart_page_numbers(final)
    _mark_body(body, content, index)
    return content, final


def _copy_part(letter: zipfile.ZipFile, name: str, prefix: str, types: etree._Element,
               parts: dict[str, bytes], margin_of: int | None) -> str:
    """Copy a letter's part (and the parts it refers to) under a name of its own; a header or
    footer of letter ``margin_of`` counts that letter's pages. Returns the new name."""
    name = posixpath.normpath(name)
    folder, base = posixpath.split(name)
    new_name = f"{folder}/{prefix}{base}"
    if new_name in parts:
        return new_name
    data = letter.read(name)
    if margin_of is not None:
        part = etree.fromstring(data)
        _count_own_pages(part, margin_of, None)
        data = etree.tostring(part, xml_declaration=True, encoding="UTF-8", standalone=True)
        kind = "header" if base.startswith("header") else "footer"
        etree.SubElement(types, f"{{{_TYPES}}}Override", PartName=f"/{new_name}",
                         ContentType=_MARGINS[kind][0])
    else:
        extension = base.rpartition(".")[2].lower()
        if not any(d.get("Extension", "").lower() == extension for d in types
                   if d.tag == f"{{{_TYPES}}}Default"):
            source_types = etree.fromstring(letter.read("[Content_Types].xml"))
            for default in source_types:
                if default.get("Extension", "").lower() == extension:
                    types.insert(0, default)
    parts[new_name] = data
    rels_name = f"{folder}/_rels/{base}.rels"
    if rels_name in letter.namelist():
        rels = etree.fromstring(letter.read(rels_name))
        for relationship in rels:
            if relationship.get("TargetMode") != "External":
                target = _copy_part(letter, posixpath.join(folder, relationship.get("Target")),
                                    prefix, types, parts, None)
                relationship.set("Target", posixpath.relpath(target, folder))
        parts[f"{folder}/_rels/{prefix}{base}.rels"] = etree.tostring(
            rels, xml_declaration=True, encoding="UTF-8", standalone=True)
    return new_name
