"""A DOCX's parts and paragraphs as an editor sees them (drafter.docx_parts).

A rendering error and a ``check`` finding name the same paragraph with the same words, whatever
the paragraph holds: tracked deletions and field codes are not part of what Word shows.
"""

from __future__ import annotations

from pathlib import Path

import docx
import jinja2
import pytest
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from drafter import TemplateError, load_letter, render_letter
from drafter.authoring import check_template
from drafter.docx_parts import (
    is_templated,
    jinja_source,
    normalize_tag_characters,
    paragraphs,
    part_label,
    split_paragraphs,
    visible_text,
    word_xml,
)

from .conftest import EXAMPLES

W = nsdecls("w")
DELETION = (f'<w:p {W}><w:r><w:t xml:space="preserve">Dear </w:t></w:r>'
            '<w:del w:id="1" w:author="Editor" w:date="2024-01-01T00:00:00Z"><w:r>'
            '<w:delText xml:space="preserve">Madam </w:delText></w:r></w:del>'
            '<w:r><w:t>{{ subject | shout }}</w:t></w:r></w:p>')
FIELD = (f'<w:p {W}><w:r><w:t xml:space="preserve">Page </w:t></w:r>'
         '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
         '<w:r><w:instrText xml:space="preserve"> PAGE </w:instrText></w:r>'
         '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>7</w:t></w:r>'
         '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
         '<w:r><w:t xml:space="preserve"> of {{ subject | shout }}</w:t></w:r></w:p>')


def _template(tmp_path: Path, *xml: str) -> Path:
    document = docx.Document()
    document.add_paragraph("A first paragraph")
    for paragraph in xml:
        document.element.body.insert(len(document.element.body) - 1, parse_xml(paragraph))
    path = tmp_path / "letter.docx"
    document.save(str(path))
    return path


@pytest.mark.parametrize(("xml", "shown"), [(DELETION, "Dear {{ subject | shout }}"),
                                            (FIELD, "Page 7 of {{ subject | shout }}")])
def test_a_render_error_and_a_check_finding_quote_what_word_shows(
        tmp_path: Path, xml: str, shown: str) -> None:
    template = _template(tmp_path, xml)
    (finding,) = check_template(template)
    assert (finding.kind, finding.where()) == ("unknown-filter", "body paragraph 2")
    assert finding.text.replace("»", "").replace("«", "") == shown
    with pytest.raises(TemplateError) as caught:
        render_letter(load_letter(EXAMPLES / "letter-en.yaml"), template)
    (problem,) = caught.value.problems
    assert problem.where == f"{template}, body paragraph 2"
    assert problem.text == shown
    assert str(problem).endswith(f' — in "{shown}"')


def test_visible_text_leaves_out_deletions_and_field_codes_and_decodes_entities() -> None:
    assert visible_text(DELETION) == "Dear {{ subject | shout }}"
    assert visible_text(FIELD) == "Page 7 of {{ subject | shout }}"
    assert visible_text('<w:p><w:r><w:t xml:space="preserve"> R&amp;D &lt;b&gt; </w:t>'
                        "</w:r></w:p>") == "R&D <b>"


def test_paragraph_numbers_are_those_python_docx_counts(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("one")
    table = document.add_table(rows=2, cols=2)
    table.cell(1, 1).text = "in the last cell"
    document.add_paragraph("after the table")
    path = tmp_path / "table.docx"
    document.save(str(path))
    found = list(paragraphs("body", split_paragraphs(
        docx.Document(str(path)).part.blob)))
    texts = [p.text for p in found]
    assert texts[0] == "one" and texts[-1] == "after the table"
    last_cell = found[texts.index("in the last cell")]
    assert (last_cell.in_table, last_cell.row, last_cell.cell) == (True, 2, 4)
    assert not found[-1].in_table and found[-1].row is None
    assert [p.number for p in found] == list(range(1, len(found) + 1))


def test_jinja_source_line_n_plus_one_is_paragraph_n(tmp_path: Path) -> None:
    document = docx.Document()
    for text in ("Dear {{ recipient.name }},", "{%p if cc %}", "copies", "{%p endif %}",
                 "{{ “quoted” }}"):
        document.add_paragraph(text)
    source, texts = jinja_source(document.part.blob)
    lines = source.split("\n")
    assert "{{ recipient.name }}" in lines[1] and texts[1] == "Dear {{ recipient.name }},"
    assert "{% if cc %}" in lines[2] and "copies" in lines[3] and "{% endif %}" in lines[4]
    assert '{{ "quoted" }}' in lines[5]  # Word's typographic quotes made plain inside tags
    rendered = jinja2.Environment().from_string(source).render(
        recipient={"name": "Ms Li"}, cc=[])
    assert "\n" not in word_xml(rendered)
    assert "copies" not in rendered and "Ms Li" in rendered


def test_tag_characters_are_made_plain_only_inside_tags() -> None:
    xml = "<w:t>“Quoted” {{ “x” if a\u00a0else ‘y’ }} it’s</w:t>"
    assert normalize_tag_characters(xml) == "<w:t>“Quoted” {{ \"x\" if a else 'y' }} it’s</w:t>"


@pytest.mark.parametrize(("name", "templated", "label"), [
    ("word/document.xml", True, "body"), ("word/header2.xml", True, "header"),
    ("word/footer1.xml", True, "footer"), ("word/footnotes.xml", True, "footnotes"),
    ("word/endnotes.xml", True, "endnotes"), ("word/styles.xml", False, "styles"),
    ("word/document.xml.rels", False, None), ("customXml/item1.xml", False, None)])
def test_templated_parts_and_their_labels(name: str, templated: bool, label: str | None) -> None:
    assert is_templated(name) is templated
    if label:
        assert part_label(name) == label
