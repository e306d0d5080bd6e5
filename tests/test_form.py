"""A letter as a form (drafter.form): the fields a form shows, built-in and declared, and each
edit written back into the YAML with the rest of the file as it was written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from drafter.errors import DataError
from drafter.form import find_field, form_values, letter_form, set_field
from drafter.loading import load_letter
from drafter.template import find_template

from .conftest import EXAMPLES, ROOT

APPEAL = ROOT / "templates" / "urgent-appeal"


def test_the_form_has_the_built_in_fields_and_the_templates_own() -> None:
    form = letter_form(find_template(APPEAL))
    names = [f.name for f in form]
    # the template's own fields come right after the subject
    assert names[names.index("subject") + 1:names.index("subject") + 4] == [
        "case_number", "people", "deadline"]
    case_number = find_field(form, ("case_number",))
    assert case_number is not None and case_number.declared and case_number.required
    assert case_number.kind == "text"
    assert case_number.description.startswith("The case or file number")
    people = find_field(form, ("people",))
    assert people is not None and people.kind == "records" and people.required
    assert [(c.name, c.kind, c.required) for c in people.fields] == [
        ("name", "text", True), ("detained_on", "date", True), ("place", "text", False)]
    assert find_field(form, ("people", 2, "detained_on")) == people.fields[1]
    kinds = {f.name: f.kind for f in form}
    assert kinds["date"] == "date" and kinds["body"] == "paragraphs"
    assert kinds["recipient"] == "group" and kinds["cc"] == "records"
    assert kinds["enclosures"] == "texts" and kinds["bcc"] == "records"
    paper = find_field(form, ("paper",))
    assert paper is not None and paper.kind == "choice" and paper.choices == ("A4", "Letter")
    country = find_field(form, ("recipient", "address", "country"))
    assert country is not None and country.required and "ISO 3166" in country.description
    contacts = find_field(form, ("recipient", "contacts"))
    assert contacts is not None and contacts.kind == "contacts"
    gender = find_field(form, ("cc", 0, "gender"))
    assert gender is not None and gender.choices == ("female", "male", "unspecified")
    assert not find_field(form, ("date",)).declared  # type: ignore[union-attr]
    as_json = people.as_dict()
    assert as_json["field"] == "people" and as_json["fields"][1]["path"] == ["detained_on"]


def test_descriptions_are_in_the_users_language(tmp_path: Path) -> None:
    template = tmp_path / "appeal"
    shutil.copytree(APPEAL, template)
    (template / "fields.yaml").write_text(
        "case_number:\n  type: text\n  required: true\n"
        "  description: {en: The case number, fr: Le numéro du dossier, zh_Hans: 案件编号}\n"
        "people: {type: records, fields: {name: text, detained_on: date}}\n", encoding="utf-8")
    for language, expected in (("fr_CH", "Le numéro du dossier"), ("zh_Hans_CN", "案件编号"),
                               ("de", "The case number"), ("not a language", "The case number")):
        field = find_field(letter_form(find_template(template), language), ("case_number",))
        assert field is not None and field.description == expected, language


def test_an_edit_keeps_the_rest_of_the_file_as_written() -> None:
    text = (APPEAL / "sample.yaml").read_text(encoding="utf-8")
    form = letter_form(find_template(APPEAL))
    edited = set_field(text, ("people", 1, "detained_on"), "2024-02-27", form)
    before, after = text.splitlines(), edited.splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    # one line changed, the date written as a date (not quoted), comments and all else kept
    assert changed == [("    detained_on: 2024-02-26", "    detained_on: 2024-02-27")]
    assert after[0].startswith("# Sample data for the urgent-appeal template")


def test_a_new_field_goes_where_the_form_has_it_and_a_removed_one_goes() -> None:
    text = (APPEAL / "sample.yaml").read_text(encoding="utf-8")
    form = letter_form(find_template(APPEAL))
    edited = set_field(text, ("their_reference",), "PG/2024/33", form)
    edited = set_field(edited, ("recipient", "address", "region"), "Seoul", form)
    edited = set_field(edited, ("deadline",), "", form)
    lines = edited.splitlines()
    # after the last of the fields the form has before it (the recipient), in the file's order
    at = lines.index("their_reference: PG/2024/33")
    assert lines[at + 1].startswith("subject:") and lines[at - 2:at] == ["    country: KR", ""]
    assert lines[lines.index("    region: Seoul") - 1] == "    city: Seoul"
    assert not any(line.startswith("deadline:") for line in lines)
    data = yaml.safe_load(edited)
    assert data["their_reference"] == "PG/2024/33" and "deadline" not in data


def test_rows_are_added_and_removed_and_the_blank_line_after_the_list_stays() -> None:
    text = (APPEAL / "sample.yaml").read_text(encoding="utf-8")
    form = letter_form(find_template(APPEAL))
    edited = set_field(text, ("people", 3), {"name": "Kang Min"}, form)
    edited = set_field(edited, ("people", 3, "detained_on"), "2024-03-01", form)
    edited = set_field(edited, ("people", 0), None, form)
    assert "  - name: Kang Min\n    detained_on: 2024-03-01\n\nbody:\n" in edited
    assert [p["name"] for p in form_values(edited)["people"]] == [
        "Park Ji-ho", "Choi Hana", "Kang Min"]
    with pytest.raises(ValueError, match="no row 9"):
        set_field(text, ("people", 9, "name"), "x", form)


def test_lines_wrapped_by_hand_stay_wrapped_unless_edited() -> None:
    """The campaign's case wraps long flow mappings by hand; an edit elsewhere keeps them."""
    text = (EXAMPLES / "campaign" / "case.yaml").read_text(encoding="utf-8")
    form = letter_form(find_template("advocacy-letter"))
    edited = set_field(text, ("delivery",), "By email", form)
    removed = [line for line in text.splitlines() if line not in edited.splitlines()]
    added = [line for line in edited.splitlines() if line not in text.splitlines()]
    assert added == ["delivery: By email"]
    assert all(line.startswith("delivery:") for line in removed)


def test_a_text_given_per_locale_is_edited_in_one_language() -> None:
    text = (EXAMPLES / "campaign" / "case.yaml").read_text(encoding="utf-8")
    form = letter_form(find_template("advocacy-letter"))
    edited = set_field(text, ("signatory", "title", "fr"), "Directrice Chine", form)
    assert yaml.safe_load(edited)["signatory"]["title"]["fr"] == "Directrice Chine"
    assert yaml.safe_load(edited)["signatory"]["title"]["ko"] == "중국 담당 국장"


def test_the_form_reads_values_as_text_and_says_where_the_yaml_is_broken(
        tmp_path: Path) -> None:
    values = form_values("date: 2015-11-24\nrecipient: {name: A, address: {country: NO}}\n")
    assert values["date"] == "2015-11-24" and values["recipient"]["address"]["country"] == "NO"
    with pytest.raises(DataError) as error:
        form_values("date: 2015-11-24\nsubject: [unclosed\nbody: []\n", "new.yaml")
    assert error.value.problems[0].location.line == 3
    with pytest.raises(DataError, match="fix its syntax before using the form"):
        set_field("subject: [unclosed\n", ("subject",), "x")


def test_a_letter_made_in_the_form_is_a_valid_letter(tmp_path: Path) -> None:
    form = letter_form(find_template(APPEAL))
    text = ""
    for path, value in [
            (("date",), "2024-03-04"), (("sender", "name"), "Human Rights Watch"),
            (("recipient", "name"), "Kim Min-jun"),
            (("recipient", "contacts"), [{"email": "pg@example.org"}]),
            (("subject",), "Detained"), (("case_number",), "2024-1"),
            (("people", 0), {"name": "Lee Seo-yeon"}), (("people", 0, "detained_on"), "2024-02-26"),
            (("body", 0), "We write to you."), (("signatory", "name"), "Sophie Richardson")]:
        text = set_field(text, path, value, form)
    (tmp_path / "letter.yaml").write_text(text, encoding="utf-8")
    from drafter.fields import letter_model, template_fields
    letter = load_letter(tmp_path / "letter.yaml", letter_model(template_fields(
        find_template(APPEAL))))
    assert letter.people[0].name == "Lee Seo-yeon"  # type: ignore[attr-defined]
    assert str(letter.date) == "2024-03-04"
    assert text.splitlines()[0] == "date: 2024-03-04"  # in the form's order


def test_a_date_that_is_no_date_is_still_edited_around() -> None:
    text = (APPEAL / "sample.yaml").read_text(encoding="utf-8").replace(
        "detained_on: 2024-02-28", "detained_on: 2024-02-31")
    form = letter_form(find_template(APPEAL))
    edited = set_field(text, ("people", 0, "place"), "Seoul", form)
    assert "detained_on: 2024-02-31\n" in edited and "    place: Seoul\n" in edited
    fixed = set_field(edited, ("people", 2, "detained_on"), "2024-02-28", form)
    assert "detained_on: 2024-02-28\n" in fixed and "2024-02-31" not in fixed
    assert len(fixed.splitlines()) == len(text.splitlines())
