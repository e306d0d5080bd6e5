"""Tests of drafter.combine: many letters as one PDF and one DOCX, for printing."""

from __future__ import annotations

import os
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn
from pypdf import PdfReader

from drafter import LibreOfficeMissing, load_letter, render_letter
from drafter.combine import combine_docx, combine_letters, combine_pdf
from drafter.manifest import FinishedLetter
from drafter.pdf import LibreOffice

from .conftest import EXAMPLES, docx_text, normalized, pdf_text

LETTERS = ("letter-en", "letter-ar")  # neither has CJK text: one LibreOffice process for both


@pytest.fixture(scope="module")
def letters(tmp_path_factory: pytest.TempPathFactory) -> list[FinishedLetter]:
    """The English and Arabic example letters as DOCX and PDF, converted once."""
    try:
        office = LibreOffice(timeout=120)
    except LibreOfficeMissing as e:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(e))
    folder = tmp_path_factory.mktemp("letters")
    documents = []
    for name in LETTERS:
        documents.append(folder / f"{name}.docx")
        documents[-1].write_bytes(render_letter(load_letter(EXAMPLES / f"{name}.yaml")).docx)
    pdfs = office.convert(documents, folder)
    return [FinishedLetter(document, pdf, len(PdfReader(pdf).pages))
            for document, pdf in zip(documents, pdfs, strict=True)]


def footer_fields(document: docx.document.Document) -> list[tuple[str, str]]:
    """Each section's page-count field (NUMPAGES, or PAGEREF to the bookmark ending its letter)
    in its default header (the continuation header, page 2 on) and footer: (instruction, the
    text it shows)."""
    found = []
    for section in document.sections:
        margins = [section.header._element, section.footer._element]
        for field in (f for margin in margins for f in margin.iter(qn("w:fldSimple"))):
            if any(word in field.get(qn("w:instr")) for word in ("NUMPAGES", "PAGEREF")):
                found.append((field.get(qn("w:instr")).strip(),
                              "".join(t.text or "" for t in field.iter(qn("w:t")))))
    return found


@pytest.mark.libreoffice
def test_combined_pdf_has_every_page_in_order(letters: list[FinishedLetter],
                                              tmp_path: Path) -> None:
    target = combine_pdf([letter.pdf for letter in letters if letter.pdf],
                         tmp_path / "combined.pdf")
    assert target == tmp_path / "combined.pdf"
    assert len(PdfReader(target).pages) == sum(letter.pages or 0 for letter in letters)
    text = normalized(pdf_text(target))
    english = text.find("President Xi Jinping")
    assert 0 <= english < text.find(normalized(pdf_text(letters[1].pdf))[:40])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["combined.pdf"]


@pytest.mark.libreoffice
def test_combined_docx_gives_each_letter_a_section_of_its_own(letters: list[FinishedLetter],
                                                              tmp_path: Path) -> None:
    documents = [letter.docx for letter in letters if letter.docx]
    pages = [letter.pages or 0 for letter in letters]
    target = combine_docx(documents, tmp_path / "combined.docx", pages)
    combined = docx.Document(str(target))
    assert len(combined.sections) == len(LETTERS)
    for section in combined.sections:
        assert section._sectPr.find(qn("w:pgNumType")).get(qn("w:start")) == "1"
    # Each footer counts its own letter's pages, and shows that count until it is updated.
    assert footer_fields(combined) == [(f"PAGEREF _DrafterLetterEnd{i}", str(n))
                                      for i, n in enumerate(pages, start=1)]
    text = docx_text(target)
    for document in documents:
        assert normalized(docx_text(document)) in normalized(text)
    assert text.index("President Xi Jinping") < text.index(docx_text(documents[1])[:30])


@pytest.mark.libreoffice
def test_combine_letters_joins_what_each_format_has(letters: list[FinishedLetter],
                                                    tmp_path: Path) -> None:
    english, arabic = letters
    only_docx = FinishedLetter(arabic.docx, None, None)
    written = combine_letters([english, only_docx], tmp_path)
    assert written == [tmp_path / "combined.pdf", tmp_path / "combined.docx"]
    assert len(PdfReader(tmp_path / "combined.pdf").pages) == english.pages
    # One letter's page count is not known: the footers show what the letters' own did.
    assert english.pages and english.pages > 1
    own = [shown for letter in (english, arabic)
           for _, shown in footer_fields(docx.Document(str(letter.docx)))]
    assert footer_fields(docx.Document(str(tmp_path / "combined.docx"))) == [
        (f"PAGEREF _DrafterLetterEnd{i}", shown) for i, shown in enumerate(own, start=1)]

    pdf_only = tmp_path / "pdf-only"
    pdf_only.mkdir()
    assert combine_letters([FinishedLetter(None, english.pdf, english.pages)], pdf_only) == [
        pdf_only / "combined.pdf"]
    assert combine_letters([], pdf_only) == []
    assert sorted(p.name for p in pdf_only.iterdir()) == ["combined.pdf"]
