"""Annexes: other Word documents added to a letter where its template prints them.

A template prints a field of type ``document`` in a paragraph of its own (``{{p annex }}``);
rendering leaves a marker there, and :func:`with_annexes` puts the document's content in its
place with docxcompose, which brings the annex's styles, numbering, pictures and footnotes
along (as docxtpl's ``Subdoc`` does).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable

from docx import Document
from docxcompose.composer import Composer

from .errors import Location, Problem, TemplateError
from .package import load_docx, package_problems
from .wordml import Annex, qn


def with_annexes(docx: bytes, annexes: Iterable[Annex]) -> bytes:
    """The letter ``docx`` with each annex's content in place of its marker paragraph; an
    annex the template does not print is left out."""
    document = Document(io.BytesIO(docx))
    composer = Composer(document)
    body = document.element.body
    for annex in annexes:
        markers = [p for p in body.iter(qn("w:bookmarkStart")) if p.get(qn("w:name")) ==
                   annex.marker]
        for marker in markers:
            paragraph = marker.getparent()
            index = list(body).index(paragraph)
            # Read once: refuses what is no safe Word document (or reaches outside itself),
            # naming the file, and what is checked is what is added.
            raw, _ = load_docx(annex.path)
            try:
                composer.insert(index, Document(io.BytesIO(raw)))
            except Exception as e:  # docxcompose meets a part it cannot carry over
                raise TemplateError([Problem(Location(str(annex.path)), "",
                                             f"this annex cannot be added to the letter: "
                                             f"{type(e).__name__}: {e}")]) from e
            body.remove(paragraph)
    buffer = io.BytesIO()
    composer.save(buffer)
    result = buffer.getvalue()
    with zipfile.ZipFile(io.BytesIO(result)) as archive:
        damaged = list(package_problems({n: archive.read(n) for n in archive.namelist()}))
    if damaged:
        raise TemplateError([Problem(Location(), "", f"the letter with its annexes would be "
                                     f"damaged: {message}") for message in damaged])
    return result
