"""Builds the corpus of broken templates that ``tests/test_authoring*.py`` check.

Each ``<name>.docx`` beside this script holds ONE kind of mistake an editor makes in Word (except
``three-errors.docx``, which holds three, to show that ``drafter check`` reports them all in one
run). Most are plain python-docx documents; the ones whose mistake lives in Word's XML (a tag
split by a tracked change) are written as raw runs, exactly as Word saves them.

Run ``python tests/templates/broken/build.py`` after changing this file, and commit both: the
files are byte-for-byte reproducible (fixed timestamps), and a test rebuilds them and compares.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

from docx import Document
from docx.document import Document as DocumentObject
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from docx.text.paragraph import Paragraph

HERE = Path(__file__).parent

# A tracked deletion, as Word writes it when "Track Changes" is on and a character is deleted.
DELETED_X = ('<w:del w:id="1" w:author="Editor" w:date="2024-05-02T10:00:00Z"><w:r>'
             '<w:delText>x</w:delText></w:r></w:del>')
SPELL_START = '<w:proofErr w:type="spellStart"/>'
SPELL_END = '<w:proofErr w:type="spellEnd"/>'


def run(text: str, properties: str = "") -> str:
    """One Word run of text, as raw XML."""
    return f'<w:r>{properties}<w:t xml:space="preserve">{text}</w:t></w:r>'


def raw_paragraph(doc: DocumentObject, *pieces: str) -> Paragraph:
    """A paragraph whose content is raw WordprocessingML: runs, proofing and revision marks."""
    paragraph = doc.add_paragraph()
    for element in parse_xml(f'<w:p {nsdecls("w")}>{"".join(pieces)}</w:p>'):
        paragraph._p.append(element)
    return paragraph


def letter_start(doc: DocumentObject) -> None:
    """The opening every corpus letter shares: paragraphs 1 and 2 are always fine."""
    doc.add_paragraph("{{ date | format_date }}")
    doc.add_paragraph("{{ salutation }}")


# ---- one mistake each -------------------------------------------------------------------------

def unclosed_if(doc: DocumentObject) -> None:
    """Paragraph 3 opens a paragraph-level if that nothing closes."""
    letter_start(doc)
    doc.add_paragraph("{%p if cc %}")
    doc.add_paragraph("With copies to the people below.")
    doc.add_paragraph("{{ close }}")


def stray_endfor(doc: DocumentObject) -> None:
    """Paragraph 4 closes a loop that was never opened (its {%p for %} was deleted)."""
    letter_start(doc)
    doc.add_paragraph("{{ recipient.full_name }}")
    doc.add_paragraph("{%p endfor %}")
    doc.add_paragraph("{{ close }}")


def bad_expression(doc: DocumentObject) -> None:
    """Paragraph 3: a filter bar with no filter after it."""
    letter_start(doc)
    doc.add_paragraph("To {{ recipient.name | }}, by fax")


def unknown_filter(doc: DocumentObject) -> None:
    """Paragraph 3: a misspelt filter name."""
    letter_start(doc)
    doc.add_paragraph("Written on {{ date | format_dat }} in New York")


def unknown_test(doc: DocumentObject) -> None:
    """Paragraph 3: a test Jinja does not have (``is empty``; Jinja writes ``not cc``)."""
    letter_start(doc)
    doc.add_paragraph("{% if cc is empty %}No copies.{% endif %}")


def split_tag_revision(doc: DocumentObject) -> None:
    """Paragraph 3: "{{" typed as "{x{", the x then deleted with Track Changes on.

    Word shows "{{ recipient.full_name }}", but the deleted x still sits between the braces in
    the file; docxtpl only joins braces separated by markup alone, so the tag is printed as
    written, silently, in every letter.
    """
    letter_start(doc)
    raw_paragraph(doc, run("Attention: {"), SPELL_START, DELETED_X, SPELL_END,
                  run("{ recipient.full_name }}"))


def split_tag_revision_end(doc: DocumentObject) -> None:
    """Paragraph 3: "}}" typed as "}x}", the x deleted with Track Changes on.

    docxtpl reads on, past the end of the paragraph, to the next "}}" it finds, joining
    paragraphs 3 and 4 into one: the letter silently loses a paragraph break.
    """
    letter_start(doc)
    raw_paragraph(doc, run("Attention: {{ recipient.full_name }"), DELETED_X, run("}"))
    doc.add_paragraph("Organization: {{ recipient.organization }}")


def smart_quotes(doc: DocumentObject) -> None:
    """Paragraph 3: a string literal in Word's typographic double quotes (safe to normalize)."""
    letter_start(doc)
    doc.add_paragraph("Attention: {{ recipient.title or “the Minister” }}")


def smart_apostrophe(doc: DocumentObject) -> None:
    """Paragraph 3: a typographic apostrophe inside a single-quoted string: made plain, it ends
    the string early, so the tag cannot be read either way."""
    letter_start(doc)
    doc.add_paragraph("{{ ‘It’s urgent’ if cc else ‘’ }}")


def paragraph_tag_with_text(doc: DocumentObject) -> None:
    """Paragraph 3: a {%p %} tag with text beside it, which docxtpl would drop."""
    letter_start(doc)
    doc.add_paragraph("Copies: {%p if cc %}")
    doc.add_paragraph("{{ cc | length }} people")
    doc.add_paragraph("{%p endif %}")


def table_cell(doc: DocumentObject) -> None:
    """A CC table, one row per person ({%tr %}); the title cell has an unknown filter."""
    letter_start(doc)
    table = doc.add_table(rows=4, cols=2)
    table.style = "Table Grid"
    cells = [("Name", "Title"), ("{%tr for person in cc %}", ""),
             ("{{ person.full_name }}", "{{ person.title | upper_case }}"),
             ("{%tr endfor %}", "")]
    for row, texts in zip(table.rows, cells, strict=True):
        for cell, text in zip(row.cells, texts, strict=True):
            cell.text = text
    doc.add_paragraph("{{ close }}")


def row_tag_with_text(doc: DocumentObject) -> None:
    """A {%tr %} tag whose row has text in another cell: docxtpl replaces the whole row."""
    letter_start(doc)
    table = doc.add_table(rows=3, cols=2)
    cells = [("{%tr for person in cc %}", "Copy to:"),
             ("{{ person.full_name }}", "{{ person.title }}"),
             ("{%tr endfor %}", "")]
    for row, texts in zip(table.rows, cells, strict=True):
        for cell, text in zip(row.cells, texts, strict=True):
            cell.text = text


def footer(doc: DocumentObject) -> None:
    """The footer's only paragraph: a tag whose closing braces were lost."""
    letter_start(doc)
    doc.sections[0].footer.paragraphs[0].text = "{{ sender.name } · Page {{r page_x_of_y }}"


def nbsp(doc: DocumentObject) -> None:
    """Paragraph 3: non-breaking spaces inside a paragraph tag (as Word's French AutoCorrect
    types them); normalized, so only a warning."""
    letter_start(doc)
    doc.add_paragraph("{%p\u00a0if cc\u00a0%}")
    doc.add_paragraph("With copies.")
    doc.add_paragraph("{%p endif %}")


def unknown_value(doc: DocumentObject) -> None:
    """Paragraph 3 reads a value no letter has: only ``drafter check --data`` can tell."""
    letter_start(doc)
    doc.add_paragraph("Dear {{ recipient.nickname }},")


# ---- several mistakes -------------------------------------------------------------------------

def three_errors(doc: DocumentObject) -> None:
    """Three independent errors in the body: paragraphs 3, 5 and 7."""
    letter_start(doc)
    doc.add_paragraph("Written on {{ date | format_dat }}")
    doc.add_paragraph("{{ subject }}")
    doc.add_paragraph("To {{ recipient.name | }}, by fax")
    doc.add_paragraph("{{ close }}")
    doc.add_paragraph("{%p if cc %}")
    doc.add_paragraph("With copies.")


CORPUS: dict[str, Callable[[DocumentObject], None]] = {
    "unclosed-if": unclosed_if,
    "stray-endfor": stray_endfor,
    "bad-expression": bad_expression,
    "unknown-filter": unknown_filter,
    "unknown-test": unknown_test,
    "split-tag-revision": split_tag_revision,
    "split-tag-revision-end": split_tag_revision_end,
    "smart-quotes": smart_quotes,
    "smart-apostrophe": smart_apostrophe,
    "paragraph-tag-with-text": paragraph_tag_with_text,
    "table-cell": table_cell,
    "row-tag-with-text": row_tag_with_text,
    "footer": footer,
    "nbsp": nbsp,
    "unknown-value": unknown_value,
    "three-errors": three_errors,
}


def build(name: str) -> bytes:
    """The bytes of one corpus file; the same bytes on every run."""
    doc = Document()
    CORPUS[name](doc)
    saved = io.BytesIO()
    doc.save(saved)
    # python-docx stamps each member with the current time; a fixed one keeps git diffs quiet.
    fixed = io.BytesIO()
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(fixed, "w",
                                                           zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            target.writestr(zipfile.ZipInfo(member.filename, (1980, 1, 1, 0, 0, 0)),
                            source.read(member), zipfile.ZIP_DEFLATED)
    return fixed.getvalue()


if __name__ == "__main__":
    for name in CORPUS:
        (HERE / f"{name}.docx").write_bytes(build(name))
        print(f"wrote {HERE / name}.docx")
