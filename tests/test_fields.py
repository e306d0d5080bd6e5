"""Fields a template declares (fields.yaml): letters and merge rows that use them, and every
problem with them reported at once, at its line or row."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import docx
import pytest
from click.testing import Result

from drafter import render_letter
from drafter.errors import DataError
from drafter.fields import letter_model, read_fields, template_fields
from drafter.loading import load_letter
from drafter.merge import MergeOptions, merge
from drafter.template import find_template
from tests.conftest import EXAMPLES, SHORT_CASE

FIELDS = """\
case_number:
  type: text
  required: true
  description: The prosecutor's case number
people:
  type: records
  fields:
    name: {type: text, required: true}
    detained_on: {type: date, required: true}
    place: text
amount: {type: number, default: "12.50"}
urgent: boolean
summary: markdown
"""

LETTER = """\
date: 2024-03-04
sender: {name: Human Rights Watch}
recipient: {name: Kim Min-jun}
subject: Three defenders detained
body: [We write to you.]
signatory: {name: Sophie Richardson}
case_number: {en: 2024-Hyeong-1187, ko: 2024형1187}
urgent: "yes"
summary: See **the report** at https://example.org/report
people:
  - {name: Lee Seo-yeon, detained_on: 2024-02-26, place: Seoul}
  - {name: Park Ji-ho, detained_on: 2024-02-27}
"""


def docx_text(data: bytes) -> list[str]:
    document = docx.Document(io.BytesIO(data))
    texts = [p.text for p in document.paragraphs]
    for table in document.tables:
        texts += [" | ".join(cell.text for cell in row.cells) for row in table.rows]
    return texts


@pytest.fixture
def template(tmp_path: Path) -> Path:
    """A template folder that prints its declared fields."""
    folder = tmp_path / "appeal"
    folder.mkdir()
    (folder / "fields.yaml").write_text(FIELDS, encoding="utf-8")
    document = docx.Document()
    for text in ("Case {{ case_number }}; amount {{ amount | format_number }}",
                 "{%p if urgent %}", "URGENT", "{%p endif %}", "{{r summary }}"):
        document.add_paragraph(text)
    table = document.add_table(rows=3, cols=2)
    table.rows[0].cells[0].text = "{%tr for person in people %}"
    table.rows[1].cells[0].text = "{{ person.name }}"
    table.rows[1].cells[1].text = "{{ person.detained_on | format_date }} {{ person.place }}"
    table.rows[2].cells[0].text = "{%tr endfor %}"
    document.save(str(folder / "letter.docx"))
    return folder


def test_a_letter_prints_the_fields_its_template_declares(template: Path,
                                                         tmp_path: Path) -> None:
    data = tmp_path / "letter.yaml"
    data.write_text(LETTER, encoding="utf-8")
    letter = load_letter(data, template=template)
    rendered = render_letter(letter, template)
    text = docx_text(rendered.docx)
    assert text[0] == "Case 2024-Hyeong-1187; amount 12.5"
    assert "URGENT" in text
    assert "See the report at https://example.org/report" in text
    assert "Lee Seo-yeon | February 26, 2024 Seoul" in text
    assert "Park Ji-ho | February 27, 2024 " in text
    assert "https://example.org/report" in rendered.links
    korean = render_letter(letter, template, locale="ko")
    assert docx_text(korean.docx)[0].startswith("Case 2024형1187")


def test_every_problem_with_declared_fields_is_reported_at_once(template: Path,
                                                               tmp_path: Path) -> None:
    data = tmp_path / "letter.yaml"
    data.write_text(LETTER.replace("case_number:", "case_numbr:").replace(
        "detained_on: 2024-02-27", "detained_on: last week"), encoding="utf-8")
    with pytest.raises(DataError) as caught:
        load_letter(data, template=template)
    problems = [str(p) for p in caught.value.problems]
    assert problems == [
        f"{data}:1:1: case_number: required field is missing",
        f"{data}:7:1: case_numbr: unknown field; did you mean 'case_number'?",
        f"{data}:12:24: people[1].detained_on: 'last week' is not a date drafter reads; "
        "write it as YYYY-MM-DD, e.g. 2026-03-12"]  # as for the letter's own date


def test_a_merge_takes_declared_fields_from_columns(template: Path, tmp_path: Path) -> None:
    case = tmp_path / "case.yaml"
    case.write_text(SHORT_CASE, encoding="utf-8")
    rows = tmp_path / "recipients.csv"
    rows.write_text("id,name,case_number,people.1.name,people.1.detained_on,people.2.name,"
                    "people.2.detained_on,urgent\n"
                    "a,Ann,C-1,Bo,2024-01-02,Cy,2024-01-03,yes\n"
                    "b,Ben,C-2,Dee,2024-01-04,,,no\n", encoding="utf-8")
    out = tmp_path / "out"
    report = merge(case, rows, out, MergeOptions(template=template, formats=("docx",)))
    assert report.written == 2
    first = docx_text((out / "a.docx").read_bytes())
    assert first[0].startswith("Case C-1") and "URGENT" in first
    assert "Bo | January 2, 2024 " in first and "Cy | January 3, 2024 " in first
    second = docx_text((out / "b.docx").read_bytes())
    assert "URGENT" not in second and "Dee | January 4, 2024 " in second


def test_bad_rows_are_all_reported_with_their_row_and_column(template: Path,
                                                             tmp_path: Path) -> None:
    case = tmp_path / "case.yaml"
    case.write_text(SHORT_CASE, encoding="utf-8")
    rows = tmp_path / "recipients.csv"
    rows.write_text("id,name,case_numbr,people.1.name,people.1.detained_on,urgent\n"
                    "a,Ann,C-1,Bo,2024-13-02,maybe\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        merge(case, rows, tmp_path / "out", MergeOptions(template=template))
    problems = [str(p) for p in caught.value.problems]
    # A misspelt column is said once, for the column; the rows' problems come in the same run.
    assert problems[0].startswith(f"{rows}, column case_numbr: unknown column 'case_numbr'; "
                                  "did you mean 'case_number'?")
    assert f"{rows}:2: case_number: record 1 (a): required field is missing" in problems
    assert any(p.startswith(f"{rows}:2, column people.1.detained_on: "
                            "record 1 (a): '2024-13-02' is not a date drafter reads (month "
                            "value is outside expected range of 1-12); write it as YYYY-MM-DD")
               for p in problems)
    assert f"{rows}:2, column urgent: record 1 (a): Input should be a valid " \
        "boolean, unable to interpret input" in problems
    assert not (tmp_path / "out").exists()


def test_fields_yaml_itself_is_checked_line_by_line(tmp_path: Path) -> None:
    (tmp_path / "fields.yaml").write_text(
        "case_number: {type: txt, requried: true}\n"
        "subject: text\n"
        "people: {type: records}\n"
        "deadline: {type: date, default: 2024-02-30}\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_fields(tmp_path)
    problems = [str(p) for p in caught.value.problems]
    path = tmp_path / "fields.yaml"
    assert problems == [
        f"{path}:1:15: case_number.type: unknown type 'txt'; did you mean 'text'?",
        f"{path}:1:26: case_number.requried: unknown field; did you mean 'required'?",
        f"{path}:2:1: subject: 'subject' is a built-in field of every letter; a template's "
        "own fields need names of their own",
        f"{path}:3:10: people.type: a list of records says what each record holds: add "
        "`fields:` with its fields below"]


def test_a_template_without_fields_yaml_declares_nothing() -> None:
    schema = template_fields(find_template("advocacy-letter"))
    assert schema.fields == ()
    assert letter_model(schema).__name__ == "Letter"


def test_check_reports_names_neither_built_in_nor_declared(template: Path,
                                                          run: object) -> None:
    document = docx.Document(str(template / "letter.docx"))
    document.add_paragraph("{{ case_numbr }} {{ reference }}")
    document.save(str(template / "letter.docx"))
    result: Result = run("check", template)  # type: ignore[operator]
    assert result.exit_code == 1
    assert ("'case_numbr' is neither a field of every letter nor one the template declares "
            "(fields.yaml); did you mean 'case_number'?") in result.output
    assert result.output.count("is neither") == 1  # `reference` is a built-in field


def test_vars_and_new_know_the_declared_fields(run: object, tmp_path: Path) -> None:
    result: Result = run("vars", "urgent-appeal")  # type: ignore[operator]
    assert "case_number  — declared: text, required — The case or file number" in result.output
    assert "detained_on  (in a loop)  — declared: date, required" in result.output
    made: Result = run("new", tmp_path / "mine", "--from", "urgent-appeal")  # type: ignore[operator]
    assert made.exit_code == 0 and (tmp_path / "mine" / "fields.yaml").is_file()


def test_the_urgent_appeal_examples_render(tmp_path: Path) -> None:
    for name in ("appeal-en", "appeal-zh_Hans"):
        letter = load_letter(EXAMPLES / f"{name}.yaml", template="urgent-appeal")
        text = docx_text(render_letter(letter, "urgent-appeal").docx)
        joined = "\n".join(text)
        assert "UA 12/24" in joined
        if name == "appeal-en":
            assert "URGENT APPEAL: Three human rights defenders detained in Seoul" in text
            assert "Lee Seo-yeon | 26 February 2024 | Seoul Detention Centre" in text
            assert "Enclosures:" in text and "Photographs of the gathering" in text
        else:
            assert "紧急呼吁：三名人权捍卫者在北京被拘留" in text
            assert "李思远 | 2024年2月26日 | 北京市第一看守所" in text
            assert "姓名 | 拘留日期 | 拘留地点" in text
            assert "附件：" in text


def test_an_image_field_and_the_logo_are_pictures_in_the_letter(tmp_path: Path) -> None:
    from tests.docxtpl_features import png

    folder = tmp_path / "with-photo"
    shutil.copytree(EXAMPLES.parent.parent / "templates" / "advocacy-letter", folder)
    (folder / "fields.yaml").write_text("photo: image\n", encoding="utf-8")
    document = docx.Document(str(folder / "letter.docx"))
    document.add_paragraph('{{ photo | image(width="3cm") }}')
    document.save(str(folder / "letter.docx"))
    png(tmp_path / "logo.png", 120, 40, (0, 80, 160))
    png(tmp_path / "photo.png", 60, 60, (160, 80, 0))
    data = (EXAMPLES / "letter-en.yaml").read_text(encoding="utf-8").replace(
        "  website: https://www.hrw.org", "  website: https://www.hrw.org\n  logo: logo.png")
    (tmp_path / "letter.yaml").write_text(data + "\nphoto: photo.png\n", encoding="utf-8")
    letter = load_letter(tmp_path / "letter.yaml", template=folder)
    rendered = docx.Document(io.BytesIO(render_letter(letter, folder).docx))
    pictures = rendered.inline_shapes
    assert len(pictures) == 2
    assert abs(pictures[1].width - 3 * 360000) < 10  # 3 cm
    missing = (tmp_path / "letter.yaml").read_text(encoding="utf-8").replace(
        "photo: photo.png", "photo: nowhere.png")
    (tmp_path / "letter.yaml").write_text(missing, encoding="utf-8")
    with pytest.raises(DataError, match=r"photo: no image file at .*nowhere\.png"):
        load_letter(tmp_path / "letter.yaml", template=folder)


def test_formal_fields_of_the_built_in_template(tmp_path: Path) -> None:
    data = (EXAMPLES / "letter-en.yaml").read_text(encoding="utf-8") + (
        "\nreference: HRW/CN/2015/117\ntheir_reference: MFA-2015-88\n"
        "delivery: By fax and email\nenclosures: [Report of 21 November 2015]\n"
        "bcc: [{name: Kenneth Roth}]\n")
    (tmp_path / "letter.yaml").write_text(data, encoding="utf-8")
    rendered = render_letter(load_letter(tmp_path / "letter.yaml"))
    document = docx.Document(io.BytesIO(rendered.docx))
    text = [p.text for p in document.paragraphs]
    assert "Our reference: HRW/CN/2015/117" in text
    assert "Your reference: MFA-2015-88" in text
    assert "By fax and email" in text
    signature = next(i for i, t in enumerate(text) if t.startswith("Sophie Richardson"))
    assert text[signature + 1:signature + 3] == ["Enclosure:", "Report of 21 November 2015"]
    assert "Kenneth Roth" not in "\n".join(text)  # blind copies are never printed
    header = document.sections[0].header.paragraphs[0].text
    assert header.startswith("President Xi Jinping · November 24, 2015 · Page ")  # live fields
    # The template's own properties stay (python-docx cannot be asked: docxcompose, imported
    # with docxtpl, rebinds its "cp" namespace).
    with zipfile.ZipFile(io.BytesIO(rendered.docx)) as archive:
        assert b"<cp:keywords>drafter template</cp:keywords>" in archive.read("docProps/core.xml")
