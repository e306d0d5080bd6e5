"""The Chinese, Korean, Arabic and English letters end to end through `drafter render`: the DOCX
and the PDF a reader opens, in the letter's language, script, fonts and paper."""

from __future__ import annotations

import re
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import docx
import pytest
from click.testing import CliRunner
from docx.oxml.ns import qn
from lxml import etree

from drafter.cli import main

from .conftest import EXAMPLES, docx_text, pdf_text

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
# Unicode's directional formatting characters, which poppler writes around right-to-left runs.
BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")

CJK = {
    # example: (CC label, country name, the recipients' names, face, language tag, date)
    "zh_Hans": ("抄送：", "中华人民共和国", ["习近平", "郭声琨", "王毅"], "Noto Sans CJK SC",
                "zh-Hans-CN", "2015年11月24日"),
    "ko": ("참조:", "중화인민공화국", ["시진핑", "궈성쿤", "왕이"], "Noto Sans CJK KR", "ko-KR",
           "2015년 11월 24일"),
}


@pytest.fixture(scope="module")
def render(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Path]:
    """``render(example, format)``: the example rendered once by the CLI into that format."""
    outdir = tmp_path_factory.mktemp("localized")
    done: dict[tuple[str, str], Path] = {}

    def rendered(example: str, fmt: str) -> Path:
        if (example, fmt) not in done:
            result = CliRunner().invoke(main, [
                "render", str(EXAMPLES / f"letter-{example}.yaml"), "-o", str(outdir / fmt),
                "-f", fmt], catch_exceptions=False)
            assert result.exit_code == 0, result.output
            done[example, fmt] = outdir / fmt / f"letter-{example}.{fmt}"
        return done[example, fmt]
    return rendered


def pdffonts(pdf: Path) -> list[tuple[str, str]]:
    """(name, embedded) for each font of a PDF, as poppler's pdffonts lists them."""
    lines = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True,
                           check=True).stdout.splitlines()[2:]
    return [(line.split()[0], line.split()[-5]) for line in lines]  # "emb" is 5th from the end


def pdfinfo(pdf: Path) -> str:
    return subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                          check=True).stdout


def logical_pdf_text(pdf: Path) -> str:
    """A PDF's text in reading order (pdftotext without -raw puts right-to-left runs back in
    logical order), without the directional marks around them."""
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    return BIDI_CONTROLS.sub("", text)


def styles_of(path: Path) -> etree._Element:
    with zipfile.ZipFile(path) as archive:
        return etree.fromstring(archive.read("word/styles.xml"))


# --- Chinese and Korean -------------------------------------------------------------------------

@pytest.mark.parametrize("example", CJK)
def test_the_cjk_docx_has_the_local_date(render: Callable[[str, str], Path],
                                         example: str) -> None:
    date = CJK[example][5]
    assert date in docx_text(render(example, "docx")).splitlines()


@pytest.mark.parametrize("example", CJK)
def test_the_cjk_styles_name_the_face_and_language(render: Callable[[str, str], Path],
                                                   example: str) -> None:
    face, tag = CJK[example][3], CJK[example][4]
    styles = styles_of(render(example, "docx"))
    faces = {fonts.get(f"{W}eastAsia") for fonts in styles.iter(f"{W}rFonts")} - {None}
    assert faces == {face}
    defaults = styles.find(f"{W}docDefaults/{W}rPrDefault/{W}rPr")
    assert defaults is not None
    assert defaults.find(f"{W}rFonts").get(f"{W}eastAsia") == face
    assert defaults.find(f"{W}lang").get(f"{W}eastAsia") == tag


@pytest.mark.libreoffice
@pytest.mark.parametrize("example", CJK)
def test_the_cjk_pdf_says_the_letter_in_local_script(render: Callable[[str, str], Path],
                                                     example: str) -> None:
    cc, country, names = CJK[example][:3]
    text = pdf_text(render(example, "pdf"))
    assert cc in text
    assert country in text
    for name in names:
        assert name in text


@pytest.mark.libreoffice
@pytest.mark.parametrize("example", CJK)
def test_the_cjk_pdf_embeds_its_font_on_a4(render: Callable[[str, str], Path],
                                           example: str) -> None:
    pdf = render(example, "pdf")
    fonts = pdffonts(pdf)
    assert any("NotoSansCJK" in name for name, _ in fonts), fonts
    assert all(embedded == "yes" for _, embedded in fonts), fonts
    assert "(A4)" in pdfinfo(pdf)


@pytest.mark.libreoffice
@pytest.mark.parametrize("example", CJK)
def test_the_cjk_pdf_has_the_local_date(render: Callable[[str, str], Path],
                                        example: str) -> None:
    date = CJK[example][5]  # "2015年11月24日" / "2015년 11월 24일"
    assert date in pdf_text(render(example, "pdf"))


# --- Arabic -------------------------------------------------------------------------------------

def test_every_arabic_body_paragraph_is_right_to_left(render: Callable[[str, str], Path]) -> None:
    document = docx.Document(str(render("ar", "docx")))
    paragraphs = list(document.element.body.iter(qn("w:p")))
    assert len(paragraphs) > 20
    for paragraph in paragraphs:
        properties = paragraph.find(qn("w:pPr"))
        assert properties is not None and properties.find(qn("w:bidi")) is not None, (
            "".join(paragraph.itertext()))
    assert "20 نوفمبر 2026" in docx_text(render("ar", "docx")).splitlines()


def test_left_to_right_letters_have_no_bidi_paragraphs(render: Callable[[str, str], Path]
                                                       ) -> None:
    for example in ("en", *CJK):
        body = docx.Document(str(render(example, "docx"))).element.body
        assert next(body.iter(qn("w:bidi")), None) is None, example


@pytest.mark.libreoffice
def test_the_arabic_pdf_is_arabic_script(render: Callable[[str, str], Path]) -> None:
    pdf = render("ar", "pdf")
    text = logical_pdf_text(pdf)
    for phrase in ("مرصد الحقوق", "نسخة إلى:", "جمهورية مصر العربية", "باب اللوق",
                   "وتفضلوا بقبول فائق الاحترام والتقدير،"):
        assert phrase in text
    fonts = pdffonts(pdf)
    assert any("Arabic" in name for name, _ in fonts), fonts
    assert all(embedded == "yes" for _, embedded in fonts), fonts
    # No fallback face: the marks that hold numbers left to right, "/" and "+" are drawn in
    # the letter's own fonts (DejaVu came in for the isolates and Latin punctuation).
    assert not [name for name, _ in fonts if "DejaVu" in name], fonts
    assert "+44 20 7946 0321" in text


# --- English, by locale -------------------------------------------------------------------------

@pytest.mark.libreoffice
def test_locale_en_us_gives_the_us_date_on_letter_paper(run, write_data, example_data,
                                                        tmp_path: Path) -> None:
    example_data["locale"] = "en_GB"  # the option overrides the data
    data = write_data(example_data)
    result = run("render", data, "-o", tmp_path / "out", "-f", "pdf", "--locale", "en_US")
    assert result.exit_code == 0, result.output
    pdf = tmp_path / "out" / "letter.pdf"
    assert "November 24, 2015" in pdf_text(pdf).splitlines()
    assert "612 x 792 pts (letter)" in pdfinfo(pdf)
