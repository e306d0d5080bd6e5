"""The `drafter render` command end to end: files a user would open, checked as they see them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from .conftest import EXAMPLES, assert_in_order, docx_text, normalized, pdf_text, source_lines

HRW_LINK = "https://www.hrw.org/news/2015/11/21/china-dont-return-nine-north-korean-refugees"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The English example rendered once by the CLI: (output folder, what it printed)."""
    from click.testing import CliRunner

    from drafter.cli import main

    outdir = tmp_path_factory.mktemp("out")
    result = CliRunner().invoke(main, ["render", str(EXAMPLES / "letter-en.yaml"),
                                       "-o", str(outdir)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return outdir, result.output


@pytest.mark.libreoffice
def test_render_writes_docx_and_pdf_and_says_so(rendered: tuple[Path, str]) -> None:
    outdir, output = rendered
    assert sorted(p.name for p in outdir.iterdir()) == ["letter-en.docx", "letter-en.pdf"]
    assert f"wrote {outdir / 'letter-en.docx'}" in output
    assert f"wrote {outdir / 'letter-en.pdf'}" in output


@pytest.mark.libreoffice
def test_both_outputs_say_the_source_letter(rendered: tuple[Path, str]) -> None:
    outdir, _ = rendered
    assert_in_order(source_lines(), docx_text(outdir / "letter-en.docx"))
    assert_in_order(source_lines(), pdf_text(outdir / "letter-en.pdf"))


@pytest.mark.libreoffice
def test_the_pdf_is_ready_to_send(rendered: tuple[Path, str]) -> None:
    pdf = rendered[0] / "letter-en.pdf"
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True,
                           check=True).stdout.splitlines()[2:]
    assert fonts, "no fonts listed"
    assert all(line.split()[-5] == "yes" for line in fonts), fonts  # the "emb" column
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    assert "Tagged:          yes" in info
    assert "Title:           Detention of Nine North Korean refugees" in info
    assert "letter" in info  # US Letter for an en_US letter
    meta = subprocess.run(["pdfinfo", "-meta", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    assert "<pdfaid:part>2</pdfaid:part>" in meta
    assert "<pdfaid:conformance>B</pdfaid:conformance>" in meta


@pytest.mark.libreoffice
def test_the_pdf_link_is_a_real_link(rendered: tuple[Path, str]) -> None:
    reader = PdfReader(rendered[0] / "letter-en.pdf")
    uris = [annotation.get_object()["/A"]["/URI"]
            for page in reader.pages for annotation in page.get("/Annots") or []
            if annotation.get_object()["/Subtype"] == "/Link"]
    assert uris == [HRW_LINK]


@pytest.mark.libreoffice
def test_locale_override_changes_date_and_paper(run, tmp_path: Path) -> None:
    result = run("render", EXAMPLES / "letter-en.yaml", "-o", tmp_path, "--locale", "en_GB")
    assert result.exit_code == 0, result.output
    text = normalized(pdf_text(tmp_path / "letter-en.pdf"))
    assert "24 November 2015" in text
    info = subprocess.run(["pdfinfo", str(tmp_path / "letter-en.pdf")], capture_output=True,
                          text=True, check=True).stdout
    assert "595.32 x 841.92 pts (A4)" in info or "(A4)" in info


def test_docx_only(run, tmp_path: Path) -> None:
    result = run("render", EXAMPLES / "letter-en.yaml", "-o", tmp_path, "-f", "docx")
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == ["letter-en.docx"]
    assert "warning:" not in result.output  # the example's odd number is marked `as_given`


def test_a_yaml_syntax_error_exits_non_zero_and_writes_nothing(run, write_data,
                                                               tmp_path: Path) -> None:
    data = write_data("locale: en\ndate: 2015-11-24\nsubject: \"unclosed\nbody: [x]\n")
    outdir = tmp_path / "out"
    result = run("render", data, "-o", outdir)
    assert result.exit_code != 0
    assert f"{data}:" in result.output and "YAML syntax error" in result.output
    assert not outdir.exists()


def test_three_problems_are_reported_in_one_run(run, write_data, example_data,
                                                 tmp_path: Path) -> None:
    example_data["date"] = "24/11/2015"
    del example_data["subject"]
    example_data["recipient"]["adress"] = example_data["recipient"].pop("address")
    data = write_data(example_data)
    outdir = tmp_path / "out"
    result = run("render", data, "-o", outdir)
    assert result.exit_code != 0
    assert "3 problems found" in result.output
    for expected in ("date:", "subject: required field is missing",
                     "recipient.adress: unknown field; did you mean 'address'?"):
        assert expected in result.output
    lines = data.read_text(encoding="utf-8").splitlines()
    date_line = next(i for i, line in enumerate(lines, 1) if line.startswith("date:"))
    assert f"{data}:{date_line}:1: date:" in result.output
    assert not outdir.exists()


def test_an_unknown_template_names_the_built_in_ones(run, tmp_path: Path) -> None:
    result = run("render", EXAMPLES / "letter-en.yaml", "-o", tmp_path, "-t", "no-such")
    assert result.exit_code != 0
    assert "no such template" in result.output and "advocacy-letter" in result.output
    assert not any(tmp_path.iterdir())
