"""Scripts, fonts and directions: each run of a letter follows the script of its text, numbers
read left to right in right-to-left letters, digits follow the locale, and the PDF draws every
character in a font that has it (no fallback face)."""

from __future__ import annotations

import itertools
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from lxml import etree

from drafter.cli import main
from drafter.scripts import LRM, face_for, hold_left_to_right, segments, slot_of

from .conftest import EXAMPLES, ROOT, docx_text, pdf_text

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
TEMPLATE = ROOT / "templates" / "advocacy-letter" / "letter.docx"

# A Hebrew letter that quotes Devanagari, Thai, Greek and Cyrillic and copies a Chinese official:
# every run needs a font other than the styles' own.
MIXED = {
    "locale": "he",
    "date": "2026-11-20",
    "sender": {"name": "מצפה הזכויות",
               "address": {"street": "10 Queen Street Place", "city": "London",
                           "postal_code": "EC4R 1BE", "country": "GB"},
               "contacts": [{"phone": "+44 20 7946 0321"}]},
    "recipient": {"honorific": "כבוד השר", "name": "דוד לוי", "title": "שר הפנים",
                  "address": {"street": ["רחוב קפלן 2"], "city": "ירושלים",
                              "postal_code": "9195016", "country": "IL"}},
    "subject": "מעצרו של עורך הדין יוסף כהן",
    "body": ["**אנו כותבים** אליכם בעניין מעצרו. הטלפון +44 20 7946 0321, ראו "
             "https://example.org/he.",
             "मानवाधिकार निगरानी 2026 में। ภาษาไทย สวัสดี 12 ครั้ง. Ελληνικά και Русский текст."],
    "signatory": {"name": "לילה מנסור", "title": "מנהלת", "organization": "מצפה הזכויות"},
    "cc": [{"name": "習近平", "title": "주석",
            "address": {"street": ["中南海"], "city": "北京", "country": "CN"}}],
}


@pytest.fixture(scope="module")
def render(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``render(name, fmt, data=None)``: a letter (an example, or ``data``) rendered once by the
    CLI; PDFs are few and shared by the module's tests."""
    outdir = tmp_path_factory.mktemp("scripts")
    done: dict[tuple[str, str], Path] = {}

    def rendered(name: str, fmt: str, data: dict | None = None) -> Path:
        if (name, fmt) not in done:
            source = EXAMPLES / f"letter-{name}.yaml"
            if data is not None:
                source = outdir / f"letter-{name}.yaml"
                source.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
            result = CliRunner().invoke(main, ["render", str(source), "-o", str(outdir / fmt),
                                               "-f", fmt], catch_exceptions=False)
            assert result.exit_code == 0, result.output
            done[name, fmt] = outdir / fmt / f"letter-{name}.{fmt}"
        return done[name, fmt]
    return rendered


def part(docx: Path, name: str = "word/document.xml") -> etree._Element:
    with zipfile.ZipFile(docx) as archive:
        return etree.fromstring(archive.read(name))


def runs_with(tree: etree._Element, text: str) -> list[etree._Element]:
    return [r for r in tree.iter(f"{W}r") if text in "".join(r.itertext())]


def fonts_of(run: etree._Element) -> dict[str, str]:
    fonts = run.find(f"{W}rPr/{W}rFonts")
    return {} if fonts is None else {k.removeprefix(W): v for k, v in fonts.attrib.items()}


def pdffonts(pdf: Path) -> list[str]:
    lines = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True,
                           check=True).stdout.splitlines()[2:]
    return [line.split()[0].split("+")[-1] for line in lines]


# --- the template's styles ----------------------------------------------------------------------

def test_every_bold_italic_and_size_in_the_template_has_its_complex_script_twin() -> None:
    styles = part(TEMPLATE, "word/styles.xml")
    checked = 0
    for properties in styles.iter(f"{W}rPr"):
        for latin, twin in (("b", "bCs"), ("i", "iCs"), ("sz", "szCs")):
            setting = properties.find(f"{W}{latin}")
            if setting is not None:
                checked += 1
                assert properties.find(f"{W}{twin}") is not None, etree.tostring(properties)
                assert properties.find(f"{W}{twin}").attrib == setting.attrib
    assert checked >= 5  # Normal's size, the letterhead's bold and size, the subject's bold…


def test_a_template_without_twins_gets_them_when_rendered(render: Callable[..., Path]) -> None:
    # The styles of the rendered letter, whatever template made them: here the built-in one.
    styles = part(render("ar", "docx"), "word/styles.xml")
    letterhead = styles.find(f"{W}style[@{W}styleId='LetterheadName']/{W}rPr")
    assert letterhead.find(f"{W}bCs") is not None and letterhead.find(f"{W}szCs").get(
        f"{W}val") == "28"


def test_east_asian_line_breaking_and_blocks_kept_whole_are_in_the_styles() -> None:
    styles = part(TEMPLATE, "word/styles.xml")
    normal = styles.find(f"{W}style[@{W}styleId='Normal']/{W}pPr")
    assert normal.find(f"{W}kinsoku").get(f"{W}val") == "1"
    assert normal.find(f"{W}wordWrap").get(f"{W}val") == "1"  # Korean words stay whole in Word
    for style in ("CCPerson", "SignatureBlock", "Recipient"):
        assert styles.find(f"{W}style[@{W}styleId='{style}']/{W}pPr/{W}keepLines") is not None
    # The signature holds on to nothing: a long CC list does not drag it to the next page.
    assert styles.find(f"{W}style[@{W}styleId='SignatureBlock']/{W}pPr/{W}keepNext") is None


# --- runs by script -----------------------------------------------------------------------------

def test_segments_follow_the_script_and_keep_common_characters_with_their_text() -> None:
    assert segments("Dear 習近平 주석님, 9명이") == (
        ("Latn", "Dear "), ("Hani", "習近平 "), ("Hang", "주석님, 9명이"))
    # Beside a complex script, digits and Latin punctuation are a piece of their own: the Hebrew
    # and Thai faces have none. The Arabic comma stays with the Arabic text.
    assert segments("שלום, 2026") == (("Hebr", "שלום"), ("Zyyy", ", 2026"))
    assert segments("نوفمبر/تشرين، ٢٠٢٦") == (
        ("Arab", "نوفمبر"), ("Zyyy", "/"), ("Arab", "تشرين، ٢٠٢٦"))
    # The middle dot is Latin's as well as a dozen other scripts': beside Arabic it is common
    # (drawn in the Latin font, not Noto Sans Avestan); in a Chinese name it stays Han.
    assert segments("سامي · ٢٠") == (("Arab", "سامي "), ("Zyyy", "· "), ("Arab", "٢٠"))
    assert segments("阿卜杜勒·阿齐兹") == (("Hani", "阿卜杜勒·阿齐兹"),)


def test_each_script_has_an_installed_face_and_a_slot() -> None:
    assert [slot_of(s) for s in ("Latn", "Cyrl", "Hang", "Hani", "Arab", "Hebr", "Deva",
                                 "Thai")] == ["latin", "latin", "east_asian", "east_asian",
                                              "complex", "complex", "complex", "complex"]
    listed = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True,
                            check=True).stdout
    families = {name for line in listed.splitlines() for name in line.split(",")}
    for script in ("Arab", "Hebr", "Deva", "Thai", "Hang", "Kana", "Beng", "Taml", "Armn",
                   "Geor", "Ethi", "Khmr"):
        assert face_for(script) in families, script


def test_runs_in_another_script_carry_its_font_language_and_direction(
        render: Callable[..., Path]) -> None:
    document = part(render("mixed", "docx", MIXED))
    hebrew = runs_with(document, "אנו כותבים")[0]
    assert hebrew.find(f"{W}rPr/{W}rtl") is not None
    assert hebrew.find(f"{W}rPr/{W}bCs") is not None  # bold in the complex-script sense too
    devanagari = runs_with(document, "मानवाधिकार")[0]
    assert fonts_of(devanagari)["cs"] == "Noto Sans Devanagari"
    assert devanagari.find(f"{W}rPr/{W}cs") is not None
    assert devanagari.find(f"{W}rPr/{W}lang").get(f"{W}bidi") == "hi-IN"
    assert fonts_of(runs_with(document, "ภาษาไทย")[0])["cs"] == "Noto Sans Thai"
    russian = runs_with(document, "Русский")[0]
    assert russian.find(f"{W}rPr/{W}lang").get(f"{W}val") == "ru-RU"
    hangul = runs_with(document, "주석")[0]
    assert fonts_of(hangul)["eastAsia"] == "Noto Sans CJK KR"
    assert hangul.find(f"{W}rPr/{W}lang").get(f"{W}eastAsia") == "ko-KR"
    assert hangul.find(f"{W}rPr/{W}rtl") is None
    # The letter's own Hebrew face comes from its styles, not Arabic's.
    styles = part(render("mixed", "docx", MIXED), "word/styles.xml")
    fonts = styles.find(f"{W}docDefaults/{W}rPrDefault/{W}rPr/{W}rFonts")
    assert fonts.get(f"{W}cs") == "Noto Sans Hebrew"


def test_a_korean_name_in_a_chinese_letter_gets_the_korean_face(
        render: Callable[..., Path]) -> None:
    data = yaml.safe_load((EXAMPLES / "letter-zh_Hans.yaml").read_text(encoding="utf-8"))
    data["cc"][0]["title"] = "외교부장"
    document = part(render("zh-ko", "docx", data))
    (run,) = runs_with(document, "외교부장")
    assert fonts_of(run)["eastAsia"] == "Noto Sans CJK KR"
    # Chinese text needs nothing beyond the styles.
    chinese = runs_with(document, "习近平")
    assert chinese and all(not fonts_of(r) for r in chinese)


# --- numbers in right-to-left text --------------------------------------------------------------

def test_numbers_are_held_left_to_right_in_right_to_left_text() -> None:
    assert hold_left_to_right("الهاتف +44 20 7946 0321، شكرًا") == (
        f"الهاتف {LRM}+44 20 7946 0321{LRM}، شكرًا")
    assert hold_left_to_right("في 2026") == "في 2026"  # a plain number reads right already
    assert hold_left_to_right("\u2068EC4R 1BE\u2069") == f"{LRM}EC4R 1BE{LRM}"


def test_a_phone_number_in_an_arabic_body_paragraph_is_held(render: Callable[..., Path]) -> None:
    data = yaml.safe_load((EXAMPLES / "letter-ar.yaml").read_text(encoding="utf-8"))
    data["body"].append("للتواصل: الهاتف +44 20 7946 0321 أو البريد info@rights-monitor.org")
    text = docx_text(render("ar-phone", "docx", data))
    assert f"الهاتف {LRM}+44 20 7946 0321{LRM} أو" in text
    assert "\u2068" not in text and "\u2069" not in text  # no isolates: no font draws them


# --- digits -------------------------------------------------------------------------------------

def test_dates_take_the_locales_digits_unless_the_letter_asks_for_latin(
        render: Callable[..., Path]) -> None:
    data = yaml.safe_load((EXAMPLES / "letter-ar.yaml").read_text(encoding="utf-8"))
    data["locale"] = "ar_EG"  # CLDR: Arabic-Indic digits in Egypt
    assert "٢٠ نوفمبر ٢٠٢٦" in docx_text(render("ar_EG", "docx", data)).splitlines()
    data["digits"] = "latin"
    assert "20 نوفمبر 2026" in docx_text(render("ar_EG-latin", "docx", data)).splitlines()
    data["locale"], data["digits"] = "fa", "default"
    assert any("۲۰۲۶" in line for line in docx_text(render("fa", "docx", data)).splitlines())


# --- the PDFs -----------------------------------------------------------------------------------

def page_footer(pdf: Path) -> str:
    """The running header's page numbers on page 2, as pdftotext reads them (direction marks
    and spacing left out)."""
    text = subprocess.run(["pdftotext", "-f", "2", "-l", "2", "-layout", str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout
    (line,) = [line for line in text.splitlines() if "الصفحة" in line or "Page" in line]
    return " ".join(line.translate(dict.fromkeys(range(0x200e, 0x2070), " ")).split())


@pytest.mark.libreoffice
def test_page_numbers_take_the_letters_digits(render: Callable[..., Path]) -> None:
    data = yaml.safe_load((EXAMPLES / "letter-ar.yaml").read_text(encoding="utf-8"))
    data["locale"] = "ar_EG"  # Arabic-Indic digits, the date's and the pages' alike
    footer = page_footer(render("ar_EG", "pdf", data))
    assert "٢٠٢٦" in footer and footer.endswith("الصفحة ٢ من ٢"), footer
    assert not [f for f in pdffonts(render("ar_EG", "pdf", data)) if "Avestan" in f]  # the ·
    data["digits"] = "latin"
    footer = page_footer(render("ar_EG-latin", "pdf", data))
    assert "2026" in footer and footer.endswith("الصفحة 2 من 2"), footer
    assert page_footer(render("ar", "pdf")).endswith("الصفحة 2 من 2")  # CLDR: Latin for ar
    data["locale"], data["digits"] = "fa", "default"  # Extended Arabic-Indic digits
    footer = page_footer(render("fa", "pdf", data))  # no catalog for fa: English words
    assert "۲۰۲۶" in footer and "Page ۲ of" in footer and footer.count("۲") == 5, footer
    assert not any(character.isascii() and character.isdigit() for character in footer)

@pytest.mark.libreoffice
def test_every_character_of_a_mixed_letter_is_drawn_in_a_font_that_has_it(
        render: Callable[..., Path]) -> None:
    pdf = render("mixed", "pdf", MIXED)
    fonts = pdffonts(pdf)
    assert not [f for f in fonts if "DejaVu" in f], fonts
    for face in ("NotoSansHebrew-Bold", "NotoSansHebrew-Regular", "NotoSansDevanagari",
                 "NotoSansThai", "NotoSansCJK", "Carlito"):
        assert any(face in f for f in fonts), (face, fonts)
    text = pdf_text(pdf)
    assert "+44 20 7946 0321" in text  # in reading order, not "0321 7946 20 44+"


@pytest.mark.libreoffice
def test_the_korean_example_keeps_each_cc_block_whole_on_two_pages(
        render: Callable[..., Path]) -> None:
    pdf = render("ko", "pdf")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    assert "Pages:           2" in info
    last = subprocess.run(["pdftotext", "-f", "2", "-l", "2", "-raw", str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout
    for line in ("감사합니다.", "소피 리처드슨", "참조:", "궈성쿤", "왕이",
                 "팩스: +86 10 6559 1516"):
        assert line in last


# --- line breaking in East Asian letters ------------------------------------------------------

def layout_lines(pdf: Path) -> list[str]:
    """The PDF's lines as pdftotext lays them out, blank ones kept (they end paragraphs)."""
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout.replace("\f", "\n").splitlines()


@pytest.mark.libreoffice
def test_korean_lines_break_between_words_keeping_quotes_and_numbers_with_them(
        render: Callable[..., Path]) -> None:
    data = yaml.safe_load((EXAMPLES / "letter-ko.yaml").read_text(encoding="utf-8"))
    words = {word for paragraph in data["body"] for word in paragraph.split()}
    lines = [line.strip() for line in layout_lines(render("ko", "pdf")) if line.strip()]
    for line, following in itertools.pairwise(lines):
        assert not line.endswith(("‘", "“", "「", "(")), line  # an opening quote never ends one
        # Korean words break at spaces: no word of the letter is split across two lines.
        split = line.split()[-1] + following.split()[0]
        assert split not in words, (line, following)
    printed = {word for line in lines for word in line.split()}
    assert {"‘민족반역죄’로", "9명이", "9명에", "‘현지"} <= printed  # whole, each on one line


@pytest.mark.libreoffice
def test_japanese_numbers_are_never_cut_nor_cut_from_their_counters(
        render: Callable[..., Path]) -> None:
    data = yaml.safe_load((EXAMPLES / "letter-ja.yaml").read_text(encoding="utf-8"))
    numbers = ("２０１５年１１月２４日から２０１５年１２月３１日までの間に、合計１２３４５名の難民"
               "が２０か所の施設で２４時間の監視を受け、そのうち１１か月の乳児を含む9名が送還の"
               "危険にさらされています。")
    data["body"] = [numbers * 4, *data["body"][:1]]
    lines = layout_lines(render("ja-numbers", "pdf", data))
    start = lines.index("拝啓") + 2
    paragraph = [line.strip() for line in lines[start:lines.index("", start)]]
    assert len(paragraph) >= 8 and "".join(paragraph) == numbers * 4  # the text, all of it
    for line in paragraph[:-1]:
        assert not line[-1].isdigit(), paragraph  # neither ２０ / １５ nor 9 / 名
