"""A template compiled once per locale renders letters into DOCX bytes (drafter.compiled).

Read back as a user would: python-docx opens the file, and the paper, direction, signature,
links and document properties are what the letter's data and language say.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn
from docx.shared import Twips
from PIL import Image

from drafter import TemplateError, load_letter
from drafter.compiled import compile_template, render_docx
from drafter.context import build_context
from drafter.locales import localizer_for
from drafter.template import find_template
from drafter.wordml import SIGNATURE_HEIGHT

from .conftest import EXAMPLES


def _render(data: Path, template: str | Path | None = None) -> bytes:
    letter = load_letter(data)
    found = find_template(template)
    loc = localizer_for(found, letter.locale)
    return render_docx(compile_template(found, loc), build_context(letter, loc))


def test_rendering_is_pure_the_same_letter_gives_the_same_bytes() -> None:
    letter = load_letter(EXAMPLES / "letter-en.yaml")
    template = find_template()
    loc = localizer_for(template, letter.locale)
    compiled = compile_template(template, loc)
    first = render_docx(compiled, build_context(letter, loc))
    assert render_docx(compiled, build_context(letter, loc)) == first
    names = zipfile.ZipFile(io.BytesIO(first)).namelist()
    assert names[0] == "[Content_Types].xml"
    assert compiled.variables >= {"recipient", "body", "signatory", "page_x_of_y"}


@pytest.mark.parametrize(("paper", "width", "height"), [("A4", 11906, 16838),
                                                        ("Letter", 12240, 15840)])
def test_the_paper_is_the_letter_s(example_data: dict, write_data: Callable[..., Path],
                                   paper: str, width: int, height: int) -> None:
    example_data["paper"] = paper
    document = docx.Document(io.BytesIO(_render(write_data(example_data))))
    section = document.sections[0]
    assert (section.page_width, section.page_height) == (Twips(width), Twips(height))


def test_an_arabic_letter_reads_right_to_left_in_every_paragraph() -> None:
    document = docx.Document(io.BytesIO(_render(EXAMPLES / "letter-ar.yaml")))
    paragraphs = [p for p in document.paragraphs if p.text.strip()]
    assert paragraphs
    assert all(p._p.pPr is not None and p._p.pPr.find(qn("w:bidi")) is not None
               for p in paragraphs)
    styles = document.styles.element
    lang = styles.find(f"{qn('w:docDefaults')}/{qn('w:rPrDefault')}/{qn('w:rPr')}/{qn('w:lang')}")
    assert lang.get(qn("w:bidi")) == "ar"


def test_the_signature_image_is_embedded_at_a_signature_s_height(
        example_data: dict, write_data: Callable[..., Path], tmp_path: Path) -> None:
    Image.new("RGB", (300, 100), "navy").save(tmp_path / "signature.png")
    example_data["signatory"]["signature"] = "signature.png"
    document = docx.Document(io.BytesIO(_render(write_data(example_data))))
    (shape,) = document.inline_shapes
    assert (shape.height, shape.width) == (SIGNATURE_HEIGHT, SIGNATURE_HEIGHT * 3)
    blip = shape._inline.graphic.graphicData.pic.blipFill.blip
    image = document.part.related_parts[blip.embed]
    assert image.blob == (tmp_path / "signature.png").read_bytes()
    assert image.content_type == "image/png"


def test_links_and_document_properties_come_from_the_letter() -> None:
    letter = load_letter(EXAMPLES / "letter-en.yaml")
    document = docx.Document(io.BytesIO(_render(EXAMPLES / "letter-en.yaml")))
    properties = document.core_properties
    assert properties.title == letter.subject
    assert properties.author.startswith("Sophie Richardson")
    assert properties.language == "en-US"
    links = {rel.target_ref for rel in document.part.rels.values() if rel.is_external}
    body = "\n".join(str(p) for p in letter.body)
    assert links and all(url in body for url in links)


def test_a_tag_that_breaks_the_xml_is_an_error_at_its_part(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("{{ '<w:p>' | safe }}")
    path = tmp_path / "broken.docx"
    document.save(str(path))
    with pytest.raises(TemplateError) as caught:
        _render(EXAMPLES / "letter-en.yaml", path)
    (problem,) = caught.value.problems
    assert problem.where == f"{path}, body"
    assert problem.message.startswith("the rendered document is not valid XML")
