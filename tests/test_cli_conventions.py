"""The everyday command line, as a new user meets it: conventional flags, `-o` that means what
it says, `drafter convert` and `drafter doctor`, every data problem in one run with the fix, and
the public API's promises (str or Path, the version, warnings returned)."""

from __future__ import annotations

import csv
import importlib.metadata
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from pypdf import PdfReader

import drafter
from drafter.cli import main

from .conftest import EXAMPLES, ROOT, SHORT_CASE, docx_text, pdf_text

Run = Callable[..., Any]


# 1. Conventional flags ---------------------------------------------------------------------

@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_on_the_group_and_every_command(run: Run, flag: str) -> None:
    result = run(flag)
    assert result.exit_code == 0 and "Commands:" in result.output
    for name in main.commands:
        help_text = run(name, flag).output
        assert f"Usage: drafter {name}" in help_text
        example = re.search(r"Example:\n\s+(drafter \S+)", help_text)
        assert example and example.group(1) == f"drafter {name}", help_text
        docs = re.search(r"Docs: (\S+)", help_text)
        assert docs and (ROOT / docs.group(1)).is_file(), help_text
        assert "-q, --quiet" in help_text and "-v, --verbose" in help_text


def test_the_command_list_shows_whole_descriptions(run: Run) -> None:
    commands = run("--help").output.split("Commands:")[1]
    assert "..." not in commands and "…" not in commands
    text = " ".join(commands.split())
    assert "Check TEMPLATE (a built-in name, a folder or a .docx) for every mistake at once." \
        in text
    assert "RECIPIENTS (YAML, CSV or XLSX) one recipient per row." in text


def _imported(*args: str, cwd: Path) -> set[str]:
    """The top-level packages a `drafter` process imports (Python's -X importtime report)."""
    import os
    import sys

    drafter_command = Path(sys.executable).parent / "drafter"
    done = subprocess.run([str(drafter_command), *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"},
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    names = re.findall(r"^import time:\s*\d+ \|\s*\d+ \|\s*(\S+)", done.stderr, re.MULTILINE)
    assert "click" in names  # the report is there
    return {name.split(".")[0] for name in names}


HEAVY = {"babel", "pydantic", "docx", "docxtpl", "pypdf", "pikepdf", "jinja2", "starlette",
         "lxml", "yaml"}


@pytest.mark.parametrize("flag", ["--help", "-V"])
def test_help_imports_none_of_the_letter_libraries(tmp_path: Path, flag: str) -> None:
    assert _imported(flag, cwd=tmp_path) & HEAVY == set()


def test_a_command_help_imports_only_its_constants(tmp_path: Path) -> None:
    # `merge -h` shows the formats and the default name pattern: read from drafter.render and
    # drafter.merge, which import the letter libraries, but never the web app's.
    imported = _imported("merge", "-h", cwd=tmp_path)
    assert "starlette" not in imported and "docx" in imported


def test_a_docx_render_imports_no_pdf_library(tmp_path: Path) -> None:
    imported = _imported("render", str(EXAMPLES / "letter-en.yaml"), "-f", "docx", "-o",
                         str(tmp_path / "out"), cwd=tmp_path)
    assert (tmp_path / "out" / "letter-en.docx").is_file()
    assert {"docxtpl", "babel", "pydantic"} <= imported  # what rendering a letter needs
    assert imported & {"pypdf", "pikepdf", "starlette", "uvicorn"} == set()


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version(run: Run, flag: str) -> None:
    result = run(flag)
    assert result.exit_code == 0
    assert result.output.strip() == f"drafter, version {drafter.__version__}"
    assert drafter.__version__ == importlib.metadata.version("drafter")


def test_quiet_prints_only_warnings_and_verbose_says_what_was_chosen(
        run: Run, write_data: Callable[..., Path], example_data: dict, tmp_path: Path) -> None:
    example_data["sender"]["contacts"] = [{"phone": "+1 212 290"}]
    data = write_data(example_data)
    quiet = CliRunner().invoke(main, ["render", str(data), "-o", str(tmp_path / "q"), "-f",
                                      "docx", "-q"])
    assert quiet.exit_code == 0
    assert quiet.stdout == ""  # no "wrote …"
    assert "warning: sender.contacts[0]" in quiet.stderr  # warnings still shown
    assert (tmp_path / "q" / "letter.docx").is_file()
    verbose = run("-v", "render", data, "-o", tmp_path / "v", "-f", "docx")
    assert verbose.exit_code == 0
    assert "with template advocacy-letter: locale en_US, Letter paper, 1 link" in verbose.output
    assert f"wrote {tmp_path / 'v' / 'letter.docx'}" in verbose.output
    both = run("render", data, "-q", "-v")
    assert both.exit_code == 2 and "contradict" in both.output


def test_quiet_and_verbose_on_every_command(run: Run) -> None:
    for name in main.commands:
        for flag in ("-q", "-v"):
            result = run(name, flag, "--help")
            assert result.exit_code == 0, (name, flag, result.output)


def test_verbose_shows_the_cause_of_an_error(run: Run, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    result = run("-v", "render", EXAMPLES / "letter-en.yaml", "-o", blocker / "sub", "-f",
                 "docx")
    assert result.exit_code == 1
    assert "cannot create the output folder" in result.output
    assert "caused by NotADirectoryError" in result.output


# 2. -o PATH, convert -------------------------------------------------------------------------

def test_o_a_file_name_writes_that_file_only(run: Run, tmp_path: Path) -> None:
    result = run("render", EXAMPLES / "letter-en.yaml", "-o", tmp_path / "final.docx")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["final.docx"]
    assert "Re: Detention of Nine North Korean refugees" in docx_text(tmp_path / "final.docx")


@pytest.mark.parametrize("given", ["drafts", "drafts.v2/"])
def test_o_a_folder(run: Run, tmp_path: Path, given: str) -> None:
    result = run("render", EXAMPLES / "letter-en.yaml", "-o", f"{tmp_path}/{given}", "-f", "docx")
    assert result.exit_code == 0, result.output
    folder = tmp_path / given.rstrip("/")
    assert [p.name for p in folder.iterdir()] == ["letter-en.docx"]


@pytest.mark.parametrize(("args", "message"), [
    (["-o", "final.png"], "-o final.png: not a folder, nor a .docx or .pdf file to write"),
    (["-o", "final.pdf", "-f", "docx"], "-o final.pdf names a .pdf file, but docx was asked"),
    (["-o", "final.pdf", "-f", "docx", "-f", "pdf"], "but docx and pdf were asked for"),
])
def test_o_that_could_mean_two_things_is_an_error(run: Run, tmp_path: Path, monkeypatch,
                                                  args: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("render", EXAMPLES / "letter-en.yaml", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert list(tmp_path.iterdir()) == []


def test_merge_o_is_a_folder(run: Run, tmp_path: Path) -> None:
    result = run("merge", EXAMPLES / "campaign" / "case.yaml",
                 EXAMPLES / "campaign" / "recipients.csv", "-o", tmp_path / "all.pdf")
    assert result.exit_code == 2
    assert "a merge writes a letter per recipient, so -o is a folder" in result.output
    assert list(tmp_path.iterdir()) == []


def test_render_given_a_word_file_points_to_convert(run: Run, tmp_path: Path) -> None:
    run("render", EXAMPLES / "letter-en.yaml", "-o", tmp_path / "letter.docx")
    result = run("render", tmp_path / "letter.docx", "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert (f"{tmp_path / 'letter.docx'}: this is a Word document, not letter data (YAML); "
            f"to make a ready-to-send PDF of it, run: drafter convert {tmp_path / 'letter.docx'}"
            ) in result.output
    assert "UTF-8" not in result.output
    assert not (tmp_path / "out").exists()


def test_convert_refuses_what_is_not_a_word_file_before_converting(run: Run,
                                                                    tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello", encoding="utf-8")
    old = tmp_path / "old.doc"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    result = run("convert", text, old, tmp_path / "missing.docx")
    assert result.exit_code == 1
    assert "3 problems found" in result.output
    assert (f"{text}: not a Word document (.docx): the file is not a zip archive, or it is "
            "truncated") in result.output
    assert f"{old}: a .doc file; save it as .docx" in result.output
    assert f"{tmp_path / 'missing.docx'}: no such file" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "old.doc"]


def test_convert_one_pdf_for_several_files_is_an_error(run: Run, tmp_path: Path) -> None:
    for name in ("a.docx", "b.docx"):
        run("render", EXAMPLES / "letter-en.yaml", "-o", tmp_path / name)
    result = run("convert", tmp_path / "a.docx", tmp_path / "b.docx", "-o", tmp_path / "x.pdf")
    assert result.exit_code == 2 and "one PDF file for 2 Word files" in result.output


@pytest.mark.libreoffice
def test_convert_makes_the_same_ready_to_send_pdf_as_render(run: Run, tmp_path: Path) -> None:
    run("render", EXAMPLES / "letter-en.yaml", "-o", tmp_path / "letter.docx")
    result = run("convert", tmp_path / "letter.docx", "-o", tmp_path / "sent" / "final.pdf")
    assert result.exit_code == 0, result.output
    pdf = tmp_path / "sent" / "final.pdf"
    assert result.output.strip() == f"wrote {pdf}"
    assert sorted(p.name for p in (tmp_path / "sent").iterdir()) == ["final.pdf"]  # no leftovers
    assert "Detention of Nine North Korean refugees" in pdf_text(pdf)
    meta = subprocess.run(["pdfinfo", "-meta", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    assert "<pdfaid:part>2</pdfaid:part>" in meta
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True,
                           check=True).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts)
    uris = [a.get_object()["/A"]["/URI"] for page in PdfReader(pdf).pages
            for a in page.get("/Annots") or [] if a.get_object()["/Subtype"] == "/Link"]
    assert uris == ["https://www.hrw.org/news/2015/11/21/china-dont-return-nine-north-korean-"
                    "refugees"]


# 3. Every data problem in one run, each with its fix -----------------------------------------

def test_every_problem_of_a_letter_in_one_run(run: Run, write_data: Callable[..., Path],
                                              example_data: dict, tmp_path: Path) -> None:
    example_data["date"] = "12/03/2026"
    example_data["cc"][0]["address"]["country"] = "Germany"
    example_data["cc"][0]["contacts"][1] = {"email": "not an address"}
    example_data["recipient"]["email"] = "xi@example.org"
    example_data["signatory"]["signature"] = "signature.png"
    data = write_data(example_data)
    result = run("render", data, "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert "5 problems found" in result.output
    for expected in (
            "date: '12/03/2026' is not a date drafter reads; write it as YYYY-MM-DD: "
            "2026-03-12 (12 March 2026) or 2026-12-03 (3 December 2026)",
            "cc[0].address.country: unknown country 'Germany'; did you mean DE (Germany)?",
            "cc[0].contacts[1]: 'not an address' is not an email address",
            "recipient.email: unknown field; an email goes in the `contacts:` list",
            f"signatory.signature: no image file at {tmp_path / 'signature.png'}"):
        assert expected in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("locale", "name"), [("de", "Deutschland"), ("zh_Hans", "德国"),
                                              ("en", "Germny"), ("ko", "DEU")])
def test_a_country_by_name_suggests_its_code(write_data, example_data, locale: str,
                                            name: str) -> None:
    example_data["locale"] = locale
    example_data["recipient"]["address"]["country"] = name
    with pytest.raises(drafter.DataError) as caught:
        drafter.load_letter(write_data(example_data))
    (problem,) = caught.value.problems
    assert problem.field == "recipient.address.country"
    assert f"unknown country {name!r}; did you mean DE (" in problem.message


def test_the_first_match_of_a_two_letter_mistake_is_not_guessed(write_data,
                                                                example_data) -> None:
    example_data["recipient"]["address"]["country"] = "ZZ"
    with pytest.raises(drafter.DataError) as caught:
        drafter.load_letter(write_data(example_data))
    assert "did you mean" not in caught.value.problems[0].message


def _campaign_rows(count: int) -> list[str]:
    return [f"r{i},Person {i},Ambassador,US" for i in range(count)]


def test_bad_headers_are_reported_once_per_column_with_the_valid_names(
        run: Run, tmp_path: Path) -> None:
    (tmp_path / "case.yaml").write_text(SHORT_CASE, encoding="utf-8")
    path = tmp_path / "r.csv"
    rows = [f"r{i},Person {i},Ambassador,US,x{i}@example.org,Beijing" for i in range(50)]
    path.write_text("\n".join(["id,name,titel,address.country,Email,adress.city",
                               *rows]) + "\n", encoding="utf-8")
    result = run("merge", tmp_path / "case.yaml", path, "-o", tmp_path / "out", "-f", "docx")
    assert result.exit_code == 1
    assert "3 problems found" in result.output
    assert (f"{path}, column Email: unknown column 'Email'; did you mean 'email'? The columns "
            "are: id, extra_paragraph, phone, fax, email, honorific, name") in result.output
    assert f"{path}, column titel: unknown column 'titel'; did you mean 'title'?" \
        in result.output
    assert f"{path}, column adress.city: unknown column 'adress.city'; did you mean " \
        "'address.city'?" in result.output
    assert result.output.count("unknown column") == 3
    assert not (tmp_path / "out").exists()


def test_the_case_and_the_columns_in_one_run(run: Run, tmp_path: Path) -> None:
    case = yaml.safe_load(SHORT_CASE)
    case["signatory"]["signature"] = "missing.png"
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(case), encoding="utf-8")
    path = tmp_path / "r.csv"
    path.write_text("id,name,address.country,Fax\nr1,A,US,+1 212 290 4700\n", encoding="utf-8")
    result = run("merge", tmp_path / "case.yaml", path, "-o", tmp_path / "out")
    assert "2 problems found" in result.output
    assert f"signatory.signature: no image file at {tmp_path / 'missing.png'}" in result.output
    assert f"{path}, column Fax: unknown column 'Fax'; did you mean 'fax'?" in result.output


def test_a_merge_signature_is_found_beside_the_case(tmp_path: Path, monkeypatch) -> None:
    from .test_render import _png

    _png(tmp_path / "sig.png")
    case = yaml.safe_load(SHORT_CASE)
    case["signatory"]["signature"] = "sig.png"
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(case), encoding="utf-8")
    path = tmp_path / "r.csv"
    path.write_text("id,name,address.country\nr1,A,US\n", encoding="utf-8")
    monkeypatch.chdir(ROOT)  # not the case's folder: the path is the case file's, not ours
    result = CliRunner().invoke(main, ["merge", str(tmp_path / "case.yaml"), str(path), "-o",
                                       str(tmp_path / "out"), "-f", "docx"])
    assert result.exit_code == 0, result.output
    import docx
    document = docx.Document(str(tmp_path / "out" / "r1.docx"))
    assert len(document.inline_shapes) == 1  # the signature image is in the letter


def test_xlsx_problems_name_sheet_row_column_letter_and_heading(run: Run,
                                                                tmp_path: Path) -> None:
    import openpyxl

    (tmp_path / "case.yaml").write_text(SHORT_CASE, encoding="utf-8")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Recipients"
    sheet.append(["id", "name", "email", "address.country"])
    sheet.append(["ok", "Ann", "ann@example.org", "US"])
    sheet.append(["li", "Li", "li@", "CN"])
    path = tmp_path / "recipients.xlsx"
    workbook.save(path)
    result = run("merge", tmp_path / "case.yaml", path, "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert (f"{path}:Recipients!C3, column email: record 2 (li): 'li@' is not an email address"
            in result.output)
    assert "recipient.contacts" not in result.output


def test_the_manifest_error_cell_does_not_repeat_the_record(run: Run, tmp_path: Path) -> None:
    (tmp_path / "case.yaml").write_text(SHORT_CASE, encoding="utf-8")
    path = tmp_path / "r.csv"
    path.write_text("id,name,address.country\nok,A,US\nbad,B,Germany\n", encoding="utf-8")
    result = run("merge", tmp_path / "case.yaml", path, "-o", tmp_path / "out", "-f", "docx",
                 "--keep-going")
    assert result.exit_code == 1
    with (tmp_path / "out" / "manifest.csv").open(newline="", encoding="utf-8") as f:
        rows = {row["id"]: row for row in csv.DictReader(f)}
    assert rows["bad"]["status"] == "invalid"
    assert rows["bad"]["error"].startswith(
        f"{path}:3, column address.country: unknown country 'Germany'; did you mean DE")
    assert "record 2" not in rows["bad"]["error"]


# Names and numbers ---------------------------------------------------------------------------

def test_default_file_names_are_slugs(run: Run, tmp_path: Path) -> None:
    (tmp_path / "case.yaml").write_text(SHORT_CASE, encoding="utf-8")
    with_ids = tmp_path / "ids.csv"
    with_ids.write_text("id,name,address.country\ncui-tiankai,Cui Tiankai,US\n",
                        encoding="utf-8")
    without = tmp_path / "names.csv"
    without.write_text("name,address.country\nCui Tiankai,US\nWang Yi,CN\nWang  Yi,CN\n",
                       encoding="utf-8")
    for path, out in ((with_ids, "a"), (without, "b")):
        result = run("merge", tmp_path / "case.yaml", path, "-o", tmp_path / out, "-f", "docx")
        assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "cui-tiankai.docx", "manifest.csv", "merge.json"]
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [
        "cui-tiankai.docx", "manifest.csv", "merge.json", "wang-yi-2.docx", "wang-yi.docx"]


def test_a_number_in_quotes_in_a_csv_is_printed_as_given_without_a_warning(
        run: Run, tmp_path: Path) -> None:
    (tmp_path / "case.yaml").write_text(SHORT_CASE, encoding="utf-8")
    path = tmp_path / "r.csv"
    path.write_text("id,name,address.country,fax\nxi,Xi,CN,+86 10 6307 0900; "
                    "'+011 10 6238 1025'\n", encoding="utf-8")
    result = run("merge", tmp_path / "case.yaml", path, "-o", tmp_path / "out", "-f", "docx")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    assert "Fax: +86 10 6307 0900; +011 10 6238 1025" in docx_text(tmp_path / "out" / "xi.docx")


def test_the_examples_render_without_warnings(run: Run, tmp_path: Path) -> None:
    for data in sorted(EXAMPLES.glob("letter-*.yaml")):
        result = run("render", data, "-o", tmp_path, "-f", "docx")
        assert result.exit_code == 0 and "warning" not in result.output, result.output
    result = run("merge", EXAMPLES / "campaign" / "case.yaml",
                 EXAMPLES / "campaign" / "recipients.csv", "--dry-run")
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    assert "would write out/xi-jinping.docx" in result.output


# 4. doctor -----------------------------------------------------------------------------------

def test_doctor_on_this_machine(run: Run) -> None:
    result = run("doctor")
    assert result.exit_code == 0, result.output
    version = subprocess.run(["soffice", "--version"], capture_output=True, text=True,
                             check=True).stdout.splitlines()[0].strip()
    assert f"ok      LibreOffice: {version}" in result.output
    assert "ok      font for Chinese, simplified: Noto Sans CJK SC (" in result.output
    assert "ok      poppler (pdftoppm): " in result.output
    assert "everything drafter uses is installed" in result.output


def test_doctor_names_what_is_missing_and_how_to_install_it(run: Run, tmp_path: Path,
                                                            monkeypatch) -> None:
    # A fontconfig with no fonts at all, and a PATH with fc-list but no poppler or Chromium.
    (tmp_path / "fonts.conf").write_text(
        '<?xml version="1.0"?>\n<fontconfig><dir>' f"{tmp_path / 'no-fonts'}"
        "</dir><cachedir>" f"{tmp_path / 'cache'}" "</cachedir></fontconfig>\n",
        encoding="utf-8")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "fc-list").symlink_to(subprocess.run(["which", "fc-list"], capture_output=True,
                                                    text=True).stdout.strip())
    monkeypatch.setenv("FONTCONFIG_FILE", str(tmp_path / "fonts.conf"))
    monkeypatch.setenv("PATH", str(bin_dir))
    result = run("doctor")
    assert result.exit_code == 1  # the Latin font every letter needs is missing
    assert "missing font for Latin, Greek and Cyrillic (Calibri's stand-in)" in result.output
    assert "absent  font for Arabic: letters in that script (Noto Naskh Arabic)" \
        in result.output
    assert "absent  poppler (pdftoppm): drafter preview" in result.output
    command = result.output.split("To install what is missing:\n")[1].strip()
    assert re.fullmatch(r"(sudo )?apt-get install fonts-crosextra-carlito fonts-noto-cjk "
                        r"fonts-noto-core fonts-liberation fonts-crosextra-caladea "
                        r"poppler-utils chromium", command), command


def test_doctor_checks_libreoffices_python_bridge(run: Run, monkeypatch) -> None:
    from drafter import pdf

    result = run("doctor")
    bridge = pdf.find_uno_python()  # installed on this machine (setup.sh)
    assert f"ok      LibreOffice's Python bridge (uno): importable by {bridge}" in result.output
    if subprocess.run([sys.executable, "-c", "import uno"], capture_output=True).returncode == 0:
        return  # this Python has it itself: it cannot be made to miss it
    monkeypatch.setattr(pdf, "UNO_PYTHONS", ())  # as on a machine without python3-uno
    result = run("doctor")
    assert result.exit_code == 0  # only watch and the studio's previews are slower without it
    assert ("absent  LibreOffice's Python bridge (uno): a LibreOffice kept running by drafter "
            "watch and the studio's previews (else each save starts one)") in result.output
    assert re.search(r"apt-get install python3-uno\b", result.output)


# 5. The public API ---------------------------------------------------------------------------

def test_every_exported_name_exists() -> None:
    for name in drafter.__all__:
        assert hasattr(drafter, name), name
    assert {"merge", "convert_docx", "__version__", "MergeOptions"} <= set(drafter.__all__)


def test_str_paths_everywhere(tmp_path: Path) -> None:
    letter = drafter.load_letter(str(EXAMPLES / "letter-en.yaml"))
    rendered = drafter.render_letter(letter)
    written = drafter.write_letter(rendered, str(tmp_path / "a"), "x", ["docx"])
    assert written == [tmp_path / "a" / "x.docx"]
    assert drafter.render_file(str(EXAMPLES / "letter-en.yaml"),
                               str(tmp_path / "b" / "y.docx")) == [tmp_path / "b" / "y.docx"]
    report = drafter.merge(str(EXAMPLES / "campaign" / "case.yaml"),
                           str(EXAMPLES / "campaign" / "recipients.csv"), str(tmp_path / "c"),
                           drafter.MergeOptions(formats=("docx",), only=frozenset({"li-liguo"})))
    assert report.written == 1
    assert drafter.new_template(str(tmp_path / "tpl"))[0] == tmp_path / "tpl" / "letter.docx"
    assert drafter.check_template(str(tmp_path / "tpl"),
                                  str(tmp_path / "tpl" / "sample.yaml")) == []
