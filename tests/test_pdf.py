"""Tests of drafter.pdf: DOCX to ready-to-send PDF through LibreOffice."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.style import WD_STYLE_TYPE
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import RGBColor
from docx.text.paragraph import Paragraph
from pypdf import PdfReader

from drafter import pdf
from drafter.errors import ConversionError, LibreOfficeMissing, OutputError

from .conftest import one_page_pdf

URL_TEXT_LINK = "https://example.com/claims?case=42"
PHRASE_LINK = ("our claims portal", "https://example.org/portal")
# The letter of the letter_pdf fixture: Latin text only (straight to PDF), or with CJK text too
# (by way of ODT, so that LibreOffice puts no space between the digits and the CJK characters).
LETTER_TEXTS = {
    "latin": ["Dear Ms Example,", "Your claim has been approved.", "Vienna, 24 November 2015"],
    "cjk": ["Dear Ms Example,", "Your claim has been approved.", "東京都の住所", "2015年11月24日"],
}
CJK_FONT = "Noto Sans CJK SC"


# ---- fixtures ---------------------------------------------------------------------------------


def add_hyperlink(paragraph: Paragraph, url: str, text: str) -> None:
    """Append an external hyperlink the way docxtpl's RichText writes one."""
    rel_id = paragraph.part.relate_to(url, RT.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rel_id)
    link.set(qn("w:tgtFrame"), "_blank")
    run = OxmlElement("w:r")
    properties = OxmlElement("w:rPr")
    style = OxmlElement("w:rStyle")
    style.set(qn("w:val"), "Hyperlink")
    properties.append(style)
    run.append(properties)
    text_element = OxmlElement("w:t")
    text_element.text = text
    run.append(text_element)
    link.append(run)
    paragraph._p.append(link)


def make_letter(
    path: Path,
    paragraphs: Sequence[str],
    links: Sequence[tuple[str, str]] = (),
    *,
    title: str = "",
    author: str = "",
    subject: str = "",
    east_asia_font: str = "",
) -> Path:
    """A small DOCX letter: paragraphs, then one paragraph per (text, url) link."""
    doc = Document()
    if east_asia_font:  # the font Word uses for CJK text, in the Normal style
        fonts = doc.styles["Normal"].element.get_or_add_rPr().get_or_add_rFonts()
        fonts.set(qn("w:eastAsia"), east_asia_font)
    doc.core_properties.title = title
    doc.core_properties.author = author
    doc.core_properties.subject = subject
    # LibreOffice makes a DOCX link clickable only if its runs use a character style that exists.
    style = doc.styles.add_style("Hyperlink", WD_STYLE_TYPE.CHARACTER)
    style.font.underline = True
    style.font.color.rgb = RGBColor(0x05, 0x63, 0xC1)
    for text in paragraphs:
        doc.add_paragraph(text)
    for text, url in links:
        paragraph = doc.add_paragraph("Please see ")
        add_hyperlink(paragraph, url, text)
        paragraph.add_run(" for details.")
    doc.save(str(path))
    return path


def fake_soffice(tmp_path: Path, body: str, name: str = "soffice") -> Path:
    """An executable stand-in for soffice running ``body`` (a Python script)."""
    script = tmp_path / name
    script.write_text(f"#!{sys.executable}\n{textwrap.dedent(body)}")
    script.chmod(0o755)
    return script


@pytest.fixture(scope="module")
def libreoffice() -> pdf.LibreOffice:
    try:
        return pdf.LibreOffice(timeout=120)
    except LibreOfficeMissing as e:
        if os.environ.get("CI"):
            raise  # CI installs LibreOffice: missing there is a failure, not a skip
        pytest.skip(str(e))


@pytest.fixture(scope="module", params=sorted(LETTER_TEXTS))
def letter_pdf(
    request: pytest.FixtureRequest,
    libreoffice: pdf.LibreOffice,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """A letter of LETTER_TEXTS with two links and core properties, converted once."""
    folder = tmp_path_factory.mktemp(f"letter-{request.param}")
    docx = make_letter(
        folder / "letter.docx",
        LETTER_TEXTS[request.param],
        [(URL_TEXT_LINK, URL_TEXT_LINK), PHRASE_LINK],
        title="Claim 42 approved",
        author="Claims Team",
        subject="Claim decision",
        east_asia_font=CJK_FONT if request.param == "cjk" else "",
    )
    [result] = libreoffice.convert([docx], folder / "out")
    return result


@pytest.fixture
def letter_paragraphs(request: pytest.FixtureRequest) -> list[str]:
    """The paragraphs of the letter_pdf a test has (it must use letter_pdf too)."""
    return LETTER_TEXTS[request.node.callspec.params["letter_pdf"]]


def poppler(tool: str, *args: str) -> str:
    """The output of a poppler-utils tool; skips the test when the tool is not installed."""
    if shutil.which(tool) is None and not os.environ.get("CI"):
        pytest.skip(f"{tool} (poppler-utils) is not installed")
    return subprocess.run([tool, *args], capture_output=True, text=True, check=True).stdout


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def link_uris(path: Path) -> list[str]:
    """The URIs of every /Link annotation in a PDF."""
    uris = []
    for page in PdfReader(path).pages:
        for annotation in page.get("/Annots") or []:
            annotation = annotation.get_object()
            if annotation["/Subtype"] == "/Link" and "/A" in annotation:
                uris.append(str(annotation["/A"]["/URI"]))
    return uris


def process_alive(pid: int) -> bool:
    """Whether a process runs (a zombie nobody reaped counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


# ---- a converted letter -----------------------------------------------------------------------


@pytest.mark.libreoffice
def test_pdf_holds_the_letter_text(letter_pdf: Path, letter_paragraphs: list[str]) -> None:
    text = pdf_text(letter_pdf)
    for paragraph in letter_paragraphs:
        assert paragraph in text
    assert letter_pdf.name == "letter.pdf"


@pytest.mark.libreoffice
def test_no_space_is_put_between_cjk_and_digits(
    letter_pdf: Path, letter_paragraphs: list[str]
) -> None:
    # LibreOffice's Asian/non-Asian spacing would make 2015年11月24日 "2015 年 11 月 24 日".
    lines = poppler("pdftotext", "-raw", str(letter_pdf), "-").splitlines()
    for paragraph in letter_paragraphs:
        assert paragraph in lines


@pytest.mark.libreoffice
def test_every_font_is_embedded(letter_pdf: Path) -> None:
    header, dashes, *rows = poppler("pdffonts", str(letter_pdf)).splitlines()
    # Columns are fixed width; the dashed line shows where each one starts and ends.
    spans = [m.span() for m in re.finditer(r"-+", dashes)]
    emb = next(span for span in spans if header[span[0] : span[1]].strip() == "emb")
    assert rows, "the PDF uses no fonts at all"
    assert {row[emb[0] : emb[1]].strip() for row in rows} == {"yes"}, rows


@pytest.mark.libreoffice
def test_pdf_is_tagged(letter_pdf: Path) -> None:
    assert re.search(r"^Tagged:\s+yes$", poppler("pdfinfo", str(letter_pdf)), re.M)


@pytest.mark.libreoffice
def test_pdf_declares_pdfa_2b(letter_pdf: Path) -> None:
    xmp = poppler("pdfinfo", "-meta", str(letter_pdf))
    assert re.search(r"pdfaid:part(>|=\")2", xmp), xmp
    assert re.search(r"pdfaid:conformance(>|=\")B", xmp), xmp


@pytest.mark.libreoffice
def test_core_properties_become_pdf_metadata(letter_pdf: Path) -> None:
    info = PdfReader(letter_pdf).metadata
    assert info is not None
    assert (info.title, info.author, info.subject) == (
        "Claim 42 approved",
        "Claims Team",
        "Claim decision",
    )
    xmp = poppler("pdfinfo", "-meta", str(letter_pdf))  # PDF/A wants Info and XMP to agree
    for value in ("Claim 42 approved", "Claims Team", "Claim decision"):
        assert value in xmp


@pytest.mark.libreoffice
def test_hyperlinks_are_clickable(letter_pdf: Path) -> None:
    assert sorted(link_uris(letter_pdf)) == sorted([URL_TEXT_LINK, PHRASE_LINK[1]])
    for page in PdfReader(letter_pdf).pages:
        for annotation in page.get("/Annots") or []:
            assert annotation.get_object()["/F"] == 4  # printable, as PDF/A requires


# ---- batches and failures with LibreOffice ------------------------------------------------------


@pytest.mark.libreoffice
def test_batch_gives_one_pdf_per_letter_in_order(
    libreoffice: pdf.LibreOffice, tmp_path: Path
) -> None:
    names = ["anna", "bert", "carla"]
    docs = [make_letter(tmp_path / f"{name}.docx", [f"Letter to {name}."]) for name in names]
    outdir = tmp_path / "out"

    results = libreoffice.convert(docs, outdir)

    assert results == [outdir / f"{name}.pdf" for name in names]
    for name, result in zip(names, results, strict=True):
        assert f"Letter to {name}." in pdf_text(result)
    assert sorted(p.name for p in outdir.iterdir()) == ["anna.pdf", "bert.pdf", "carla.pdf"]


@pytest.mark.libreoffice
def test_corrupt_docx_is_named_and_nothing_is_written(
    libreoffice: pdf.LibreOffice, tmp_path: Path
) -> None:
    good = make_letter(tmp_path / "good.docx", ["Fine."])
    bad = tmp_path / "broken.docx"
    bad.write_text("this is not a zip archive")
    outdir = tmp_path / "out"

    with pytest.raises(ConversionError) as caught:
        libreoffice.convert([good, bad], outdir)

    message = str(caught.value)
    assert str(bad) in message
    assert str(good) not in message
    assert list(outdir.iterdir()) == []


@pytest.mark.libreoffice
def test_two_conversions_at_once_do_not_collide(
    libreoffice: pdf.LibreOffice, tmp_path: Path
) -> None:
    def convert(name: str) -> Path:
        doc = make_letter(tmp_path / f"{name}.docx", [f"Letter {name}."])
        [result] = libreoffice.convert([doc], tmp_path / f"out-{name}")
        return result

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(convert, ["one", "two"]))

    assert [pdf_text(r).strip() for r in results] == ["Letter one.", "Letter two."]


@pytest.mark.libreoffice
def test_only_letters_with_cjk_text_go_by_way_of_odt(
    libreoffice: pdf.LibreOffice, tmp_path: Path
) -> None:
    calls = tmp_path / "calls"
    logging_soffice = fake_soffice(  # logs its arguments, then is the real soffice
        tmp_path,
        f"""
        import json, os, sys
        with open({str(calls)!r}, "a") as log:
            print(json.dumps(sys.argv[1:]), file=log)
        os.execv({libreoffice.soffice!r}, [{libreoffice.soffice!r}, *sys.argv[1:]])
        """,
    )
    office = pdf.LibreOffice(logging_soffice, timeout=120)
    english = make_letter(tmp_path / "english.docx", ["Dated 24 November 2015."])
    chinese = make_letter(
        tmp_path / "chinese.docx", ["2015年11月24日"], [PHRASE_LINK],
        title="Claim 42 approved", east_asia_font=CJK_FONT,
    )

    [result] = office.convert([english], tmp_path / "english")
    assert len(calls.read_text().splitlines()) == 1, "English costs one LibreOffice process"
    assert "Dated 24 November 2015." in pdf_text(result)
    calls.unlink()
    results = office.convert([chinese, english], tmp_path / "out")

    steps = [
        (
            next(a.removeprefix("--infilter=") for a in args if a.startswith("--infilter=")),
            args[args.index("--convert-to") + 1].split(":")[0],
            [Path(a).name for a in args[args.index("--outdir") + 2 :]],
        )
        for args in map(json.loads, calls.read_text().splitlines())
    ]
    assert steps == [
        ("MS Word 2007 XML", "pdf", ["english.docx"]),
        ("MS Word 2007 XML", "odt", ["chinese.docx"]),
        ("writer8", "pdf", ["chinese.odt"]),
    ]
    assert results == [tmp_path / "out" / "chinese.pdf", tmp_path / "out" / "english.pdf"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["chinese.pdf", "english.pdf"]
    assert "2015年11月24日" in poppler("pdftotext", "-raw", str(results[0]), "-").splitlines()
    info = PdfReader(results[0]).metadata
    assert info is not None
    assert info.title == "Claim 42 approved"
    assert link_uris(results[0]) == [PHRASE_LINK[1]]
    assert pdf_text(results[1]) == pdf_text(result)


# ---- finding LibreOffice ------------------------------------------------------------------------


def test_missing_soffice_path_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(LibreOfficeMissing) as caught:
        pdf.LibreOffice(tmp_path / "no-such-soffice")
    assert "sudo apt-get install libreoffice-writer-nogui" in str(caught.value)
    assert "no-such-soffice" in str(caught.value)


def test_find_soffice_without_libreoffice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(pdf, "SOFFICE_PATHS", (str(tmp_path / "opt*" / "soffice"),))
    with pytest.raises(LibreOfficeMissing, match="apt-get install libreoffice-writer-nogui"):
        pdf.find_soffice()
    with pytest.raises(LibreOfficeMissing):
        pdf.LibreOffice()


def test_find_soffice_prefers_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    soffice = fake_soffice(tmp_path, "")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert pdf.find_soffice() == str(soffice)


# ---- failures, with a stand-in for LibreOffice -------------------------------------------------


def test_timeout_kills_every_process_and_leaves_no_pdf(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    soffice = fake_soffice(
        tmp_path,
        f"""
        import subprocess, sys, time
        from pathlib import Path
        outdir = Path(sys.argv[sys.argv.index("--outdir") + 1])
        (outdir / "letter.pdf").write_bytes(b"%PDF-1.7 half written")
        child = subprocess.Popen(["sleep", "300"])
        Path({str(pids)!r}).write_text(f"{{child.pid}}")
        time.sleep(300)
        """,
    )
    doc = tmp_path / "letter.docx"
    doc.write_bytes(b"PK")
    outdir = tmp_path / "out"
    started = time.monotonic()

    with pytest.raises(ConversionError, match=r"letter\.docx"):
        pdf.LibreOffice(soffice, timeout=1).convert([doc], outdir)

    assert time.monotonic() - started < 30
    assert not process_alive(int(pids.read_text()))
    assert list(outdir.iterdir()) == []


def test_exit_zero_without_pdfs_is_an_error(tmp_path: Path) -> None:
    soffice = fake_soffice(
        tmp_path,
        """
        import sys
        print("Warning: failed to launch javaldx", file=sys.stderr)
        print("Error: source file could not be loaded", file=sys.stderr)
        """,
    )
    docs = [make_letter(tmp_path / f"{name}.docx", ["x"]) for name in ("a", "b")]

    with pytest.raises(ConversionError) as caught:
        pdf.LibreOffice(soffice).convert(docs, tmp_path / "out")

    message = str(caught.value)
    assert "2 of 2" in message
    assert all(str(doc) in message for doc in docs)
    assert "LibreOffice said: Error: source file could not be loaded" in message
    assert "javaldx" not in message


def test_empty_or_pageless_pdf_is_an_error(tmp_path: Path) -> None:
    soffice = fake_soffice(
        tmp_path,
        """
        import sys
        from pathlib import Path
        outdir = Path(sys.argv[sys.argv.index("--outdir") + 1])
        (outdir / "empty.pdf").write_bytes(b"")
        (outdir / "junk.pdf").write_bytes(b"not a pdf at all")
        """,
    )
    docs = [make_letter(tmp_path / f"{name}.docx", ["x"]) for name in ("empty", "junk")]

    with pytest.raises(ConversionError) as caught:
        pdf.LibreOffice(soffice).convert(docs, tmp_path / "out")

    assert "empty.docx: LibreOffice wrote an empty PDF" in str(caught.value)
    assert "junk.docx: LibreOffice wrote a PDF that cannot be read" in str(caught.value)


def test_large_batches_are_split(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    soffice = fake_soffice(
        tmp_path,
        f"""
        import sys
        from pathlib import Path
        from pypdf import PdfWriter
        args = sys.argv[1:]
        outdir = Path(args[args.index("--outdir") + 1])
        inputs = [a for a in args if a.endswith(".docx")]
        with open({str(calls)!r}, "a") as log:
            print(len(inputs), file=log)
        for source in inputs:
            writer = PdfWriter()
            writer.add_blank_page(595, 842)
            writer.write(outdir / (Path(source).stem + ".pdf"))
        """,
    )
    docs = []
    for i in range(pdf.MAX_BATCH * 2 + 5):
        docs.append(tmp_path / f"letter-{i:03}.docx")
        docs[-1].write_bytes(b"PK")

    results = pdf.LibreOffice(soffice).convert(docs, tmp_path / "out")

    assert [r.name for r in results] == [f"letter-{i:03}.pdf" for i in range(len(docs))]
    assert calls.read_text().split() == [str(pdf.MAX_BATCH), str(pdf.MAX_BATCH), "5"]


ODT_STYLES = (
    '<office:document-styles xmlns:office="o" xmlns:style="s"><office:styles>'
    '<style:default-style style:family="graphic">'
    '<style:paragraph-properties style:text-autospace="ideograph-alpha"/></style:default-style>'
    '<style:default-style style:family="paragraph"><style:paragraph-properties '
    'style:text-autospace="ideograph-alpha" style:line-break="strict"/></style:default-style>'
    "</office:styles></office:document-styles>"
)


def test_cjk_letters_go_by_way_of_an_odt_without_autospace(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    soffice = fake_soffice(
        tmp_path,
        f"""
        import json, sys, zipfile
        from pathlib import Path
        from pypdf import PdfWriter
        args = sys.argv[1:]
        with open({str(calls)!r}, "a") as log:
            print(json.dumps(args), file=log)
        outdir = Path(args[args.index("--outdir") + 1])
        to = args[args.index("--convert-to") + 1].split(":")[0]
        for source in map(Path, args[args.index("--outdir") + 2 :]):
            if to == "odt":
                with zipfile.ZipFile(outdir / (source.stem + ".odt"), "w") as odt:
                    odt.writestr("styles.xml", {ODT_STYLES!r}, zipfile.ZIP_DEFLATED)
                    odt.writestr("mimetype", "application/vnd.oasis.opendocument.text")
                continue
            if source.suffix == ".odt":
                with zipfile.ZipFile(source) as odt:
                    assert odt.namelist()[0] == "mimetype", odt.namelist()
                    assert odt.getinfo("mimetype").compress_type == zipfile.ZIP_STORED
                    styles = odt.read("styles.xml").decode()
                assert "ideograph-alpha" not in styles, styles
                assert styles.count('style:text-autospace="none"') == 2, styles
            writer = PdfWriter()
            writer.add_blank_page(595, 842)
            writer.write(outdir / (source.stem + ".pdf"))
        """,
    )
    docs = [
        make_letter(tmp_path / "ja.docx", ["東京都の住所"]),
        make_letter(tmp_path / "en.docx", ["Dear Ms Example,"]),
        make_letter(tmp_path / "ko.docx", ["2015년 11월 24일"]),
    ]

    results = pdf.LibreOffice(soffice).convert(docs, tmp_path / "out")

    assert [r.name for r in results] == ["ja.pdf", "en.pdf", "ko.pdf"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["en.pdf", "ja.pdf", "ko.pdf"]
    inputs = [
        [Path(a).name for a in args[args.index("--outdir") + 2 :]]
        for args in map(json.loads, calls.read_text().splitlines())
    ]
    assert inputs == [["en.docx"], ["ja.docx", "ko.docx"], ["ja.odt", "ko.odt"]]


def test_failed_odt_step_names_the_docx(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    soffice = fake_soffice(
        tmp_path,
        f"""
        import sys
        with open({str(calls)!r}, "a") as log:
            print(" ".join(sys.argv[1:]), file=log)
        print("Error: source file could not be loaded", file=sys.stderr)
        """,
    )
    doc = make_letter(tmp_path / "letter.docx", ["2015年11月24日"])

    with pytest.raises(ConversionError) as caught:
        pdf.LibreOffice(soffice).convert([doc], tmp_path / "out")

    assert f"{doc}: LibreOffice wrote no PDF" in str(caught.value)
    assert "LibreOffice said: Error: source file could not be loaded" in str(caught.value)
    assert len(calls.read_text().splitlines()) == 1  # no ODT, so no second process
    assert list((tmp_path / "out").iterdir()) == []


def test_cjk_text_is_found_in_text_not_markup(tmp_path: Path) -> None:
    def has_cjk(doc: DocxDocument) -> bool:
        doc.save(str(tmp_path / "letter.docx"))
        return pdf._has_cjk_text(tmp_path / "letter.docx")

    latin = Document()
    latin.add_paragraph("Dear Ms Example,").runs[0].font.name = "Arial"
    latin.styles["Normal"].element.get_or_add_rPr().get_or_add_rFonts().set(
        qn("w:eastAsia"), "宋体"  # a CJK font name is no CJK text
    )
    assert not has_cjk(latin)
    for text in ("2015年11月24日", "とうきょう", "カタカナ", "서울특별시", "住所：", "𠀋"):
        doc = Document()
        doc.add_paragraph(f"Dear Ms Example, {text}")
        assert has_cjk(doc), text
    in_footer = Document()
    in_footer.add_paragraph("Dear Ms Example,")
    in_footer.sections[0].footer.paragraphs[0].text = "人权观察"
    assert has_cjk(in_footer)
    (tmp_path / "broken.docx").write_bytes(b"PK")
    assert not pdf._has_cjk_text(tmp_path / "broken.docx")


def test_autospace_is_added_to_the_default_paragraph_style() -> None:
    head = '<office:styles><style:default-style style:family="paragraph">'
    tail = "</style:default-style></office:styles>"
    for before, after in [
        (
            f'{head}<style:paragraph-properties fo:x="1"/><style:text-properties/>{tail}',
            f'{head}<style:paragraph-properties style:text-autospace="none" fo:x="1"/>'
            f"<style:text-properties/>{tail}",
        ),
        (
            f"{head}<style:text-properties/>{tail}",
            f'{head}<style:paragraph-properties style:text-autospace="none"/>'
            f"<style:text-properties/>{tail}",
        ),
        (
            f'{head}<style:paragraph-properties style:text-autospace="ideograph-alpha"/>{tail}',
            f'{head}<style:paragraph-properties style:text-autospace="none"/>{tail}',
        ),
    ]:
        assert pdf._no_autospace(before) == after


def test_missing_input_is_named(tmp_path: Path) -> None:
    soffice = fake_soffice(tmp_path, "")
    with pytest.raises(ConversionError, match=r"nowhere\.docx: no such file"):
        pdf.LibreOffice(soffice).convert([tmp_path / "nowhere.docx"], tmp_path / "out")


def test_two_inputs_for_one_pdf_name_are_refused(tmp_path: Path) -> None:
    soffice = fake_soffice(tmp_path, "")
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "letter.docx").write_bytes(b"PK")
    with pytest.raises(OutputError, match=r"letter\.pdf"):
        pdf.LibreOffice(soffice).convert(
            [tmp_path / "a" / "letter.docx", tmp_path / "b" / "letter.docx"], tmp_path / "out"
        )


def test_no_files_starts_nothing(tmp_path: Path) -> None:
    soffice = fake_soffice(tmp_path, "raise SystemExit('must not run')")
    assert pdf.LibreOffice(soffice).convert([], tmp_path / "out") == []


# ---- the conversion pool ------------------------------------------------------------------------


@pytest.mark.libreoffice
def test_pool_hands_back_each_letters_pdf_and_pages(
    libreoffice: pdf.LibreOffice, tmp_path: Path
) -> None:
    short = make_letter(tmp_path / "short.docx", ["Your claim has been approved."])
    long = make_letter(tmp_path / "long.docx", [f"Paragraph {n}." for n in range(1, 80)])
    outdir = tmp_path / "out"
    results: dict[str, pdf.Converted] = {}

    with pdf.ConversionPool(libreoffice, outdir, results.__setitem__, jobs=1) as pool:
        pool.add(short, "short")
        pool.add(long, "long")

    assert results == {"short": pdf.Converted(outdir / "short.pdf", 1),
                       "long": pdf.Converted(outdir / "long.pdf", results["long"].pages)}
    assert results["long"].pages == len(PdfReader(outdir / "long.pdf").pages) > 1
    assert "Your claim has been approved." in pdf_text(outdir / "short.pdf")
    assert "Paragraph 79." in pdf_text(outdir / "long.pdf")
    assert sorted(p.name for p in outdir.iterdir()) == ["long.pdf", "short.pdf"]


def test_pool_retries_a_failed_batch_letter_by_letter(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    soffice = fake_soffice(  # converts nothing when given broken.docx, like a crash
        tmp_path,
        f"""
        import json, shutil, sys
        from pathlib import Path
        outdir = Path(sys.argv[sys.argv.index("--outdir") + 1])
        inputs = [Path(a) for a in sys.argv[sys.argv.index("--outdir") + 2:]]
        with open({str(calls)!r}, "a") as log:
            print(json.dumps([path.name for path in inputs]), file=log)
        if any(path.name == "broken.docx" for path in inputs):
            sys.exit(81)
        for path in inputs:
            shutil.copy({str(one_page_pdf(tmp_path))!r}, outdir / (path.stem + ".pdf"))
        """,
    )
    letters = []
    for name in ("a", "broken", "c", "d"):
        letters.append(tmp_path / f"{name}.docx")
        letters[-1].write_bytes(b"PK")
    outdir = tmp_path / "out"
    results: dict[str, pdf.Converted] = {}

    with pdf.ConversionPool(pdf.LibreOffice(soffice), outdir, results.__setitem__, jobs=1,
                            batch_size=3) as pool:
        for letter in letters:
            pool.add(letter, letter.stem)

    first, *then = [json.loads(line) for line in calls.read_text().splitlines()]
    # The last batch may be converted while the failed one is retried letter by letter.
    assert first == ["a.docx", "broken.docx", "c.docx"]
    assert sorted(then) == [["a.docx"], ["broken.docx"], ["c.docx"], ["d.docx"]]
    assert {name: result.pages for name, result in results.items()} == {
        "a": 1, "broken": 0, "c": 1, "d": 1}
    failed = results["broken"]
    assert failed.pdf is None and isinstance(failed.error, ConversionError)
    assert str(letters[1]) in str(failed.error) and "status 81" in str(failed.error)
    assert sorted(p.name for p in outdir.iterdir()) == ["a.pdf", "c.pdf", "d.pdf"]


def test_pool_left_by_an_error_converts_nothing_more(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    soffice = fake_soffice(tmp_path, f"open({str(calls)!r}, 'a').write('called\\n')")
    letter = tmp_path / "letter.docx"
    letter.write_bytes(b"PK")
    results: list[pdf.Converted] = []

    office = pdf.LibreOffice(soffice)
    pool = pdf.ConversionPool(office, tmp_path / "out", lambda _, result: results.append(result),
                              batch_size=5)
    with pytest.raises(KeyboardInterrupt), pool:  # Ctrl-C while the batch is being filled
        pool.add(letter, 1)
        raise KeyboardInterrupt

    assert results == [] and not calls.exists()
    assert not (tmp_path / "out").exists()


def test_pool_raises_what_goes_wrong_with_its_results(tmp_path: Path) -> None:
    page = one_page_pdf(tmp_path)
    soffice = fake_soffice(tmp_path, f"""
        import shutil, sys
        from pathlib import Path
        outdir = Path(sys.argv[sys.argv.index("--outdir") + 1])
        for name in sys.argv[sys.argv.index("--outdir") + 2:]:
            shutil.copy({str(page)!r}, outdir / (Path(name).stem + ".pdf"))
        """)
    letter = tmp_path / "letter.docx"
    letter.write_bytes(b"PK")

    def on_converted(_: object, result: pdf.Converted) -> None:
        raise OSError(28, "No space left on device", str(result.pdf))

    pool = pdf.ConversionPool(pdf.LibreOffice(soffice), tmp_path / "out", on_converted, jobs=1)
    with pytest.raises(OSError, match="No space left"), pool:
        pool.add(letter, 1)


@pytest.mark.parametrize(("letters", "jobs", "size"), [
    (0, 1, pdf.MIN_BATCH), (25, 2, pdf.MIN_BATCH), (1_000, 2, 167), (1_000, 1, pdf.MAX_BATCH),
    (100_000, 16, pdf.MAX_BATCH)])
def test_default_batches_keep_every_process_busy(letters: int, jobs: int, size: int) -> None:
    assert pdf.default_batch_size(letters, jobs) == size


@pytest.mark.parametrize(("letters", "jobs", "size"), [
    (0, 1, pdf.MIN_CHUNK), (30, 2, pdf.MIN_CHUNK), (300, 2, 75), (1_000, 2, pdf.MAX_CHUNK),
    (1_000, 1, pdf.MAX_CHUNK)])
def test_default_chunks_keep_every_process_busy(letters: int, jobs: int, size: int) -> None:
    assert pdf.default_chunk_size(letters, jobs) == size


def test_two_runs_at_once_never_share_a_profile(private_cache: Path) -> None:
    with pdf.reserved_profiles(2) as first, pdf.reserved_profiles(2) as second:
        assert len(set(first) | set(second)) == 4
        assert all(path.parent == private_cache / "drafter" / "libreoffice" for path in first)
    with pdf.reserved_profiles(1) as again:
        assert again == first[:1]  # kept between runs, so LibreOffice builds it once


# ---- a LibreOffice kept running (the studio's previews) -------------------------------------


@pytest.mark.libreoffice
def test_warm_libreoffice_converts_as_the_cold_one_does(tmp_path: Path) -> None:
    """Same filters, same PDF/A, fonts embedded, CJK spacing off; started afresh after N."""
    from drafter import load_letter, render_letter
    from tests.conftest import EXAMPLES, pdf_text

    sources = []
    for name in ("letter-en", "letter-zh_Hans"):
        path = tmp_path / f"{name}.docx"
        path.write_bytes(render_letter(load_letter(EXAMPLES / f"{name}.yaml")).docx)
        sources.append(path)
    with pdf.WarmLibreOffice(restart_after=2) as warm:
        first = warm.convert(sources, tmp_path / "warm")
        office = warm._office
        again = warm.convert(sources[:1], tmp_path / "again")
        assert warm._office is not office  # two conversions done: a new LibreOffice
    assert [p.name for p in first] == ["letter-en.pdf", "letter-zh_Hans.pdf"]
    for path in [*first, *again]:
        reader = PdfReader(path)
        assert "pdfaid" in reader.xmp_metadata.rdf_root.toxml()  # type: ignore[union-attr]
        fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True).stdout
        assert fonts.count("\n") > 2 and all(" yes " in line for line in
                                             fonts.splitlines()[2:])
    assert "Dear President Xi Jinping," in pdf_text(first[0])
    assert "2015年11月24日" in pdf_text(first[1])  # no Asian/non-Asian gaps


@pytest.mark.libreoffice
def test_warm_libreoffice_times_out_and_recovers(tmp_path: Path) -> None:
    from drafter import load_letter, render_letter
    from tests.conftest import EXAMPLES

    source = tmp_path / "letter.docx"
    source.write_bytes(render_letter(load_letter(EXAMPLES / "letter-en.yaml")).docx)
    with pdf.WarmLibreOffice() as warm:
        warm.convert([source], tmp_path / "first")  # started and warm
        warm.timeout = 0.01
        with pytest.raises(ConversionError, match=r"took more than 0\.01 s"):
            warm.convert([source], tmp_path / "late")
        assert warm._office is None  # stopped
        assert not list((tmp_path / "late").glob("*.pdf"))  # no PDF, not even half of one
        warm.timeout = 60
        (result,) = warm.convert([source], tmp_path / "after")
        assert PdfReader(result).pages
