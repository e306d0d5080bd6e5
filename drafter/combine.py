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

COMBINED_PDF = "combined.pdf"
COMBINED_DOCX = "combined.docx"
# Hidden bookmarks (a leading underscore hides them in Word): where letter N starts and ends.
_START_MARK = "_DrafterLetter{}"
_END_MARK = "_DrafterLetterEnd{}"
_MARK_IDS = 900_000  # bookmark ids far above any the letters use (docxcompose renumbers them)


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
    # NUMPAGES would count the whole print run; the page of the letter's last paragraph is
    # its own page count, since each letter's page numbers restart at 1.
    count = f" PAGEREF {_END_MARK.format(index + 1)} "
    found = []
    for margin in _MARGINS:
        for reference in document.sections[-1]._sectPr.findall(qn(f"w:{margin}Reference")):
            part = etree.fromstring(document.part.related_parts[reference.get(qn("r:id"))].blob)
            for field in part.iter(qn("w:fldSimple")):
                if field.get(qn("w:instr")).strip() == "NUMPAGES":
                    field.set(qn("w:instr"), count)
                    for text in field.iter(qn("w:t")):
                        text.text = str(pages) if pages else text.text
            for code in part.iter(qn("w:instrText")):  # a field in runs, as Word writes them
                if (code.text or "").strip() == "NUMPAGES":
                    code.text = count
            found.append((margin, reference.get(qn("w:type")), etree.tostring(part)))
    return found


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
    paragraphs = document.element.body.findall(qn("w:p"))
    if not paragraphs:  # a letter of tables only: a paragraph to hold them
        paragraphs = [document.element.body.makeelement(qn("w:p"), {})]
        document.element.body.insert(0, paragraphs[0])
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
    last = final.getprevious()
    if last is not None and last.tag == qn("w:p") and not last.xpath("./w:pPr/w:sectPr"):
        paragraph = last
    else:
        paragraph = body.makeelement(qn("w:p"), {})
        final.addprevious(paragraph)
    properties = paragraph.find(qn("w:pPr"))
    if properties is None:
        properties = paragraph.makeelement(qn("w:pPr"), {})
        paragraph.insert(0, properties)
    change = properties.find(qn("w:pPrChange"))  # the schema puts w:sectPr before it
    if change is not None:
        change.addprevious(copy.deepcopy(final))
    else:
        properties.append(copy.deepcopy(final))


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
