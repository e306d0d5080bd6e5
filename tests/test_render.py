"""Rendering a letter into DOCX through the public API, checked as python-docx reads it."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pytest
from docx.opc.constants import RELATIONSHIP_TYPE as RT

from drafter import TemplateError, load_letter, render_letter
from drafter.model import Letter

from .conftest import EXAMPLES, assert_in_order, docx_text, source_lines

HRW_LINK = "https://www.hrw.org/news/2015/11/21/china-dont-return-nine-north-korean-refugees"


@pytest.fixture(scope="module")
def letter() -> Letter:
    return load_letter(EXAMPLES / "letter-en.yaml")


def test_the_docx_says_the_source_letter_word_for_word(letter: Letter) -> None:
    text = docx_text(render_letter(letter).docx)
    assert_in_order(source_lines(), text)
    assert_in_order(["Human Rights Watch", "350 Fifth Avenue, 34th Floor",
                     "New York, NY 10118-3299 USA", "Tel: +1 212 290 4700", "November 24, 2015"],
                    text)


def test_no_tag_survives_rendering(letter: Letter) -> None:
    text = docx_text(render_letter(letter).docx)
    assert "{{" not in text and "{%" not in text and "%}" not in text


def test_links_are_real_hyperlinks(letter: Letter) -> None:
    document = docx.Document(io.BytesIO(render_letter(letter).docx))
    targets = {rel.target_ref for rel in document.part.rels.values()
               if rel.reltype == RT.HYPERLINK and rel.is_external}
    assert targets == {HRW_LINK}
    links = [link for paragraph in document.paragraphs for link in paragraph.hyperlinks]
    assert [(link.url, link.text) for link in links] == [(HRW_LINK, HRW_LINK)]


def test_markdown_emphasis_and_named_links(letter: Letter) -> None:
    changed = letter.model_copy(update={"body": [
        "We **urge** you to act _now_; see [our report](https://example.org/r?a=1&b=2)."]})
    document = docx.Document(io.BytesIO(render_letter(changed).docx))
    paragraph = next(p for p in document.paragraphs if "urge" in p.text)
    assert paragraph.text == "We urge you to act now; see our report."
    runs = {run.text: run for run in paragraph.runs}
    assert runs["urge"].bold and runs["now"].italic
    assert [(h.url, h.text) for h in paragraph.hyperlinks] == [
        ("https://example.org/r?a=1&b=2", "our report")]


@pytest.mark.parametrize("value", [
    "Smith & Sons <Ltd> \"quoted\" 'single'",
    "{{ 7*7 }} {% if x %} {# c #} {_{ raw }_}",
    "emoji 🕊️ and مرحبا بالعالم and עברית",
])
def test_data_comes_out_literally(letter: Letter, value: str) -> None:
    changed = letter.model_copy(update={
        "subject": value,
        "recipient": letter.recipient.model_copy(update={"office": value}),
    })
    text = docx_text(render_letter(changed).docx)
    assert f"Re: {value}" in text.splitlines()
    assert value in text.splitlines()


def test_metadata_comes_from_the_letter(letter: Letter) -> None:
    properties = docx.Document(io.BytesIO(render_letter(letter).docx)).core_properties
    assert properties.title == "Detention of Nine North Korean refugees"
    assert properties.author == "Sophie Richardson, Human Rights Watch"
    assert properties.subject == "Letter to President Xi Jinping"
    assert properties.language == "en-US"


@pytest.mark.parametrize(("locale", "paper", "width"), [
    ("en_US", "Letter", 12240), ("en_GB", "A4", 11906), ("en", "Letter", 12240)])
def test_paper_follows_the_territory(letter: Letter, locale: str, paper: str,
                                     width: int) -> None:
    rendered = render_letter(letter, locale=locale)
    assert rendered.paper == paper
    section = docx.Document(io.BytesIO(rendered.docx)).sections[0]
    assert section.page_width.twips == width  # type: ignore[union-attr]


def test_the_salutation_is_derived_unless_given(letter: Letter) -> None:
    assert "Dear President Xi Jinping," in docx_text(render_letter(letter).docx).splitlines()
    changed = letter.model_copy(update={"salutation": "Your Excellency,"})
    assert "Your Excellency," in docx_text(render_letter(changed).docx).splitlines()


def test_page_numbers_from_page_two_on(letter: Letter) -> None:
    document = docx.Document(io.BytesIO(render_letter(letter).docx))
    section = document.sections[0]
    assert section.different_first_page_header_footer
    header_xml = section.header._element.xml  # the continuation header: recipient, date, page
    assert 'w:instr=" PAGE "' in header_xml and 'w:instr=" NUMPAGES "' in header_xml
    assert "President Xi Jinping" in header_xml and "November 24, 2015" in header_xml
    assert "PAGE" not in section.first_page_header._element.xml
    assert "PAGE" not in section.first_page_footer._element.xml


def _template_with(tmp_path: Path, paragraph: str) -> Path:
    document = docx.Document()
    document.add_paragraph("Dear {{ recipient.full_name }},")
    document.add_paragraph(paragraph)
    path = tmp_path / "custom.docx"
    document.save(str(path))
    return path


def test_an_undefined_value_is_an_error_naming_the_paragraph(letter: Letter,
                                                              tmp_path: Path) -> None:
    template = _template_with(tmp_path, "Yours, {{ signatory.nickname }}")
    with pytest.raises(TemplateError) as caught:
        render_letter(letter, template)
    message = str(caught.value)
    assert "body paragraph 2" in message
    assert "nickname" in message
    assert 'in "Yours, {{ signatory.nickname }}"' in message


def test_an_unknown_top_level_name_is_reported_before_rendering(letter: Letter,
                                                                 tmp_path: Path) -> None:
    template = _template_with(tmp_path, "{{ recipent.name }}")
    with pytest.raises(TemplateError) as caught:
        render_letter(letter, template)
    assert "the template uses 'recipent', which no letter provides" in str(caught.value)


def test_a_syntax_error_names_the_paragraph(letter: Letter, tmp_path: Path) -> None:
    template = _template_with(tmp_path, "{% if cc %}CC list")
    with pytest.raises(TemplateError) as caught:
        render_letter(letter, template)
    assert "body paragraph" in str(caught.value)
    assert "CC list" in str(caught.value)


def test_the_sandbox_refuses_python_internals(letter: Letter, tmp_path: Path) -> None:
    template = _template_with(tmp_path, "{{ subject.__class__.__mro__ }}")
    with pytest.raises(TemplateError) as caught:
        render_letter(letter, template)
    assert "sandbox" in str(caught.value) or "__class__" in str(caught.value)


def test_the_output_is_a_valid_archive_with_content_types_first(letter: Letter) -> None:
    archive = zipfile.ZipFile(io.BytesIO(render_letter(letter).docx))
    assert archive.testzip() is None
    assert archive.namelist()[0] == "[Content_Types].xml"


def _png(path: Path, width: int = 30, height: int = 10) -> Path:
    """A small opaque PNG image, written without any imaging library."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x20\x30\x80" * width for _ in range(height))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(
        ">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b""))
    return path


def test_a_signature_image_sits_above_the_signatory(tmp_path: Path, write_data,
                                                    example_data) -> None:
    _png(tmp_path / "signature.png")
    example_data["signatory"]["signature"] = "signature.png"
    letter = load_letter(write_data(example_data))
    document = docx.Document(io.BytesIO(render_letter(letter).docx))
    (shape,) = document.inline_shapes
    assert shape.height.emu == 548640 and shape.width.emu == 548640 * 3  # 0.6 in, 3:1
    paragraphs = [p for p in document.paragraphs if p.text or p._p.xpath(".//w:drawing")]
    index = next(i for i, p in enumerate(paragraphs) if p._p.xpath(".//w:drawing"))
    assert paragraphs[index - 1].text == "Sincerely,"
    assert paragraphs[index + 1].text.splitlines() == [  # one block, kept on one page
        "Sophie Richardson", "China Director, Asia Division", "Human Rights Watch"]


def test_a_missing_or_odd_signature_file_is_a_data_error(write_data, example_data,
                                                         tmp_path: Path) -> None:
    from drafter import DataError
    example_data["signatory"]["signature"] = "nowhere.png"
    with pytest.raises(DataError, match=r"signatory\.signature: no image file at"):
        load_letter(write_data(example_data))
    (tmp_path / "signature.bmp").write_bytes(b"BM")
    example_data["signatory"]["signature"] = "signature.bmp"
    with pytest.raises(DataError, match="PNG, JPEG or GIF"):
        load_letter(write_data(example_data))
