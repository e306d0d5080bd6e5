"""Every language the source letter's publisher writes in, as its reader sees the letter.

One LibreOffice run converts every example letter (a session-scoped batch); the assertions then
read the PDFs: the date as the language writes it, the address in the country's order, the
salutation and close of the language's etiquette, the labels, the page footer and the fonts.
A merge of the campaign checks that no letter prints an English fixed phrase.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from drafter import load_letter, render_letter
from drafter.pdf import LibreOffice

from .conftest import EXAMPLES, docx_text, normalized, pdf_text

# Unicode's directional formatting characters, which poppler writes around right-to-left runs.
BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")

# example: date, the recipient's address lines in order, salutation, close, labels, page footer,
# font (a part of the embedded font's name that the language's script needs).
LANGUAGES: dict[str, dict[str, object]] = {
    "en": {"date": "November 24, 2015",
           "address": ["President Xi Jinping", "Zhongnanhai Ximen, Fuyou Street",
                       "Xicheng District, Beijing 100017", "People’s Republic of China"],
           "salutation": "Dear President Xi Jinping,", "close": "Sincerely,",
           "labels": ["Re: Detention", "CC:", "Fax: +86 10 6307 0900; +011", "Tel: +86",
                      "Email: gabzfwz"], "footer": "Page 2 of", "font": "Carlito"},
    "en_GB": {"date": "24 November 2015",
              "address": ["President Xi Jinping", "Xicheng District, Beijing 100017",
                          "People’s Republic of China"],
              "salutation": "Dear President Xi Jinping,", "close": "Yours sincerely,",
              "labels": ["Re: Detention", "CC:", "Fax: +86"], "footer": "Page 2 of",
              "font": "Carlito"},
    "fr": {"date": "24 novembre 2015",
           "address": ["Monsieur le Président Xi Jinping", "Zhongnanhai Ximen, Fuyou Street",
                       "District de Xicheng", "Pékin", "100017", "République populaire de Chine"],
           "salutation": "Monsieur le Président,",
           "close": "Veuillez agréer, Monsieur le Président, l’expression de ma très haute "
                    "considération.",
           "labels": ["Objet : Détention", "Copie à :", "Télécopie : +86 10 6307 0900 ; +011",
                      "Tél. : +86", "Courriel : gabzfwz"],
           "footer": "Page 2 sur", "font": "Carlito"},
    "de": {"date": "24. November 2015",
           "address": ["Herrn Staatspräsidenten Xi Jinping", "Bezirk Xicheng", "Peking",
                       "100017", "Volksrepublik China"],
           "salutation": "Sehr geehrter Herr Staatspräsident,", "close": "Mit freundlichen Grüßen",
           "labels": ["Inhaftierung von neun", "Kopie an:", "Fax: +86", "Tel.: +86",
                      "E-Mail: gabzfwz"], "footer": "Seite 2 von", "font": "Carlito"},
    "es": {"date": "24 de noviembre de 2015",
           "address": ["Excmo. Sr. Presidente Xi Jinping", "Distrito de Xicheng", "Pekín",
                       "100017", "República Popular China"],
           "salutation": "Estimado señor presidente:", "close": "Atentamente,",
           "labels": ["Asunto: Detención", "Con copia a:", "Fax: +86", "Tel.: +86",
                      "Correo electrónico: gabzfwz"], "footer": "Página 2 de", "font": "Carlito"},
    "pt_BR": {"date": "24 de novembro de 2015",
              "address": ["Excelentíssimo Senhor Presidente Xi Jinping", "Distrito de Xicheng",
                          "Pequim", "100017", "República Popular da China"],
              "salutation": "Prezado Senhor Presidente,", "close": "Atenciosamente,",
              "labels": ["Assunto: Detenção", "Com cópia para:", "Fax: +86", "Tel.: +86",
                         "E-mail: gabzfwz"], "footer": "Página 2 de", "font": "Carlito"},
    "ru": {"date": "24 ноября 2015 г.",
           "address": ["Председателю КНР Си Цзиньпину", "Фуюцзе, Чжуннаньхай Симэнь",
                       "район Сичэн", "Пекин", "100017", "Китайская Народная Республика"],
           "salutation": "Уважаемый господин Председатель!", "close": "С уважением,",
           "labels": ["О задержании девяти", "Копия:", "Факс: +86", "Тел.: +86",
                      "Эл. почта: gabzfwz"], "footer": "Страница 2 из", "font": "Carlito"},
    "ja": {"date": "2015年11月24日",
           "address": ["中華人民共和国", "100017", "北京市西城区", "府右街中南海西門",
                       "中国共産党中央委員会", "総書記弁公室", "国家主席 習近平閣下"],
           "salutation": "拝啓", "close": "敬具",
           "labels": ["北朝鮮難民9名の拘束について", "写し送付先：",
                      "ファクス：+86 10 6307 0900、+011", "電話：+86", "電子メール：gabzfwz"],
           "footer": "2／", "font": "NotoSansCJK"},
    "zh_Hans": {"date": "2015年11月24日",
                "address": ["中华人民共和国", "100017", "北京市西城区", "府右街中南海西门",
                            "习近平主席"],
                "salutation": "尊敬的习近平主席：", "close": "此致",
                "labels": ["事由：九名朝鲜难民遭拘押一事", "抄送：",
                           "传真：+86 10 6307 0900；+011", "电话：+86", "电子邮件：gabzfwz"],
                "footer": "第2页，共", "font": "NotoSansCJK"},
    "zh_Hant": {"date": "2015年11月24日",
                "address": ["中華人民共和國", "100017", "北京市西城區", "府右街中南海西門",
                            "習近平主席"],
                "salutation": "尊敬的習近平主席：", "close": "此致",
                "labels": ["事由：九名朝鮮難民遭拘押一事", "副本：",
                           "傳真：+86 10 6307 0900；+011", "電話：+86", "電子郵件：gabzfwz"],
                "footer": "第2頁，共", "font": "NotoSansCJK"},
    "ko": {"date": "2015년 11월 24일",
           "address": ["중화인민공화국", "100017", "베이징시 시청구", "푸유가 중난하이 시먼",
                       "시진핑 주석"],
           "salutation": "존경하는 시진핑 주석님께", "close": "감사합니다.",
           "labels": ["제목: 북한 난민 9명 구금 건", "참조:", "팩스: +86 10 6307 0900, +011",
                      "전화: +86", "이메일: gabzfwz"],
           "footer": "쪽 중 2쪽", "font": "NotoSansCJK"},
    "ar": {"date": "20 نوفمبر 2026",
           "address": ["معالي اللواء سامي عبد الرحمن", "وزير الداخلية", "وزارة الداخلية",
                       "شارع الشيخ ريحان", "باب اللوق", "القاهرة", "جمهورية مصر العربية"],
           "salutation": "معالي اللواء سامي عبد الرحمن المحترم،",
           "close": "وتفضلوا بقبول فائق الاحترام والتقدير،",
           "labels": ["الموضوع: اعتقال المحامي", "نسخة إلى:"], "footer": "الصفحة 2 من",
           "font": "Arabic"},
}


@pytest.fixture(scope="session")
def example_pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every example letter as a PDF, converted in one LibreOffice batch."""
    work = tmp_path_factory.mktemp("languages")
    docx_files = []
    for example in LANGUAGES:
        path = work / f"letter-{example}.docx"
        path.write_bytes(render_letter(load_letter(EXAMPLES / f"letter-{example}.yaml")).docx)
        docx_files.append(path)
    pdfs = LibreOffice().convert(docx_files, work)
    return dict(zip(LANGUAGES, pdfs, strict=True))


def reading_text(pdf: Path) -> str:
    """The PDF's text in reading order, without the directional marks, whitespace normalized
    within lines."""
    raw = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                         check=True).stdout
    return "\n".join(normalized(line) for line in BIDI_CONTROLS.sub("", raw).splitlines())


def test_every_shipped_example_is_tested() -> None:
    shipped = {p.stem.removeprefix("letter-") for p in EXAMPLES.glob("letter-*.yaml")}
    assert shipped == set(LANGUAGES)


@pytest.mark.parametrize("example", LANGUAGES)
def test_the_docx_says_the_letter_in_its_language(example: str) -> None:
    expected = LANGUAGES[example]
    lines = docx_text(render_letter(load_letter(EXAMPLES / f"letter-{example}.yaml")).docx
                      ).splitlines()
    lines = [normalized(BIDI_CONTROLS.sub("", line)) for line in lines]
    assert normalized(str(expected["date"])) in lines
    assert normalized(str(expected["salutation"])) in lines
    assert normalized(str(expected["close"])) in lines
    assert isinstance(expected["address"], list)
    address = [normalized(line) for line in expected["address"]]
    start = lines.index(address[0])
    assert [line for line in lines[start:] if line in address][:len(address)] == address


@pytest.mark.libreoffice
@pytest.mark.parametrize("example", LANGUAGES)
def test_the_pdf_reads_as_the_language_writes_a_letter(example_pdfs: dict[str, Path],
                                                       example: str) -> None:
    expected = LANGUAGES[example]
    pdf = example_pdfs[example]
    # pdftotext drops or moves the spaces around right-to-left runs ("20نوفمبر 2026"): the
    # Arabic letter is compared without spaces.
    squash = (lambda t: re.sub(r"\s", "", t)) if example == "ar" else normalized
    text = squash(reading_text(pdf) if example == "ar" else pdf_text(pdf))
    for phrase in (expected["date"], expected["salutation"], expected["close"],
                   *expected["labels"]):  # type: ignore[misc]
        assert squash(str(phrase)) in text, phrase
    position = 0
    for line in expected["address"]:  # type: ignore[attr-defined]
        found = text.find(squash(line), position)
        assert found >= 0, f"missing or out of order: {line!r}"
        position = found
    if expected["footer"]:
        assert squash(str(expected["footer"])) in text


@pytest.mark.libreoffice
@pytest.mark.parametrize("example", LANGUAGES)
def test_the_pdf_embeds_the_fonts_of_its_script(example_pdfs: dict[str, Path],
                                                example: str) -> None:
    listing = subprocess.run(["pdffonts", str(example_pdfs[example])], capture_output=True,
                             text=True, check=True).stdout.splitlines()[2:]
    fonts = [(line.split()[0], line.split()[-5]) for line in listing]
    assert any(str(LANGUAGES[example]["font"]) in name for name, _ in fonts), fonts
    assert all(embedded == "yes" for _, embedded in fonts), fonts


def test_the_japanese_layout_sets_the_close_and_date_at_the_right() -> None:
    import docx as python_docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    from drafter.template import find_template
    variant = find_template("advocacy-letter").variants["ja"]
    styles = python_docx.Document(str(variant)).styles
    assert styles["Closing"].paragraph_format.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert styles["Letter Date"].paragraph_format.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert styles["Subject"].paragraph_format.alignment == WD_ALIGN_PARAGRAPH.CENTER


# --- the campaign: every letter in its recipient's language --------------------------------------

ENGLISH_PHRASES = ("Re:", "Dear ", "Sincerely", "CC:", "Tel:", "Fax:", "Email:", "Page ")
SAME_WORD = {"de": {"Fax:"}}  # German writes "Fax:" too


def test_no_campaign_letter_prints_an_english_fixed_phrase(run, tmp_path: Path) -> None:
    campaign = EXAMPLES / "campaign"
    result = run("merge", campaign / "case.yaml", campaign / "recipients.csv", "-o",
                 tmp_path / "out", "-f", "docx", "-q")
    assert result.exit_code == 0, result.output
    assert "no catalog" not in result.output
    letters = {p.name: docx_text(p.read_bytes()) for p in (tmp_path / "out").glob("*.docx")}
    locales = {line.split(",")[1] for line in (campaign / "recipients.csv").read_text(
        encoding="utf-8").splitlines()[1:]}
    assert {"fr_FR", "de_DE", "ja_JP", "ru_RU"} <= locales
    assert len(letters) == 16
    for name, text in letters.items():
        if any(name.startswith(i) for i in ("cui-", "liu-", "zhang-", "wu-")):
            continue  # the English letters
        language = next(line.split(",")[1] for line in (campaign / "recipients.csv").read_text(
            encoding="utf-8").splitlines() if name == line.split(",")[0] + ".docx")[:2]
        for phrase in set(ENGLISH_PHRASES) - SAME_WORD.get(language, set()):
            assert phrase not in text, (name, phrase)
