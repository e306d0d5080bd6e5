"""One file of many letters, for printing: a PDF (pikepdf) and a DOCX (docxcompose).

Each letter starts on a new page; in the DOCX each letter is a section of its own whose page
numbers restart at 1, so "Page 2 of 3" stays true for every letter.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Sequence
from pathlib import Path

import pikepdf
from docx import Document
from docx.oxml.ns import qn
from docxcompose.composer import Composer

from .render import write_atomic


def combine_pdf(pdfs: Sequence[Path], target: Path) -> Path:
    """The letters' PDFs, one after the other, as one PDF at ``target``."""
    with pikepdf.Pdf.new() as combined:
        for path in pdfs:
            with pikepdf.Pdf.open(path) as letter:
                combined.pages.extend(letter.pages)
        buffer = io.BytesIO()
        combined.save(buffer)
    write_atomic(target, buffer.getvalue())
    return target


def combine_docx(documents: Sequence[Path], target: Path) -> Path:
    """The letters' DOCX files as one document, each letter a section starting on a new page
    with its page numbers restarting at 1."""
    first = Document(str(documents[0]))
    composer = Composer(first)
    for path in documents[1:]:
        _end_section(composer.doc)
        composer.append(Document(str(path)))
    for section in composer.doc.sections:
        _restart_page_numbers(section._sectPr)
    buffer = io.BytesIO()
    composer.save(buffer)
    write_atomic(target, buffer.getvalue())
    return target


def _end_section(document: object) -> None:
    """Close the document's last section so the next content starts a new one, on a new page."""
    body = document.element.body  # type: ignore[attr-defined]
    final = body.find(qn("w:sectPr"))
    paragraph = body.makeelement(qn("w:p"), {})
    properties = paragraph.makeelement(qn("w:pPr"), {})
    properties.append(copy.deepcopy(final))
    paragraph.append(properties)
    final.addprevious(paragraph)


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
