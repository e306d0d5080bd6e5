"""Tests of drafter.pdf: DOCX to ready-to-send PDF through LibreOffice."""

from __future__ import annotations

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
from docx.enum.style import WD_STYLE_TYPE
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import RGBColor
from docx.text.paragraph import Paragraph
from pypdf import PdfReader

from drafter import pdf
from drafter.errors import ConversionError, LibreOfficeMissing, OutputError

URL_TEXT_LINK = "https://example.com/claims?case=42"
PHRASE_LINK = ("our claims portal", "https://example.org/portal")


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
) -> Path:
    """A small DOCX letter: paragraphs, then one paragraph per (text, url) link."""
    doc = Document()
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


@pytest.fixture(scope="module")
def letter_pdf(libreoffice: pdf.LibreOffice, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One letter with text, CJK text, two links and core properties, converted once."""
    folder = tmp_path_factory.mktemp("letter")
    docx = make_letter(
        folder / "letter.docx",
        ["Dear Ms Example,", "Your claim has been approved.", "東京都の住所"],
        [(URL_TEXT_LINK, URL_TEXT_LINK), PHRASE_LINK],
        title="Claim 42 approved",
        author="Claims Team",
        subject="Claim decision",
    )
    [result] = libreoffice.convert([docx], folder / "out")
    return result


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
def test_pdf_holds_the_letter_text(letter_pdf: Path) -> None:
    text = pdf_text(letter_pdf)
    assert "Your claim has been approved." in text
    assert "東京都の住所" in text
    assert letter_pdf.name == "letter.pdf"


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
