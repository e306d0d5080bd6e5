"""Problems: where they are, as data, printed the way every message in drafter is printed, and
put in the order a reader meets them; and the one did-you-mean suggestion."""

from __future__ import annotations

from pathlib import Path

import pytest

from drafter import DataError, Problem, ValidationError, read_letter
from drafter.errors import Location, did_you_mean, sorted_problems


@pytest.mark.parametrize(("problem", "printed"), [
    (Problem(Location("letter.yaml"), "", "cannot read the file"),
     "letter.yaml: cannot read the file"),
    (Problem(Location("letter.yaml", 3), "", "the file is not UTF-8 text"),
     "letter.yaml:3: the file is not UTF-8 text"),
    (Problem(Location("letter.yaml", 12, 5), "recipient.address.city", "required field"),
     "letter.yaml:12:5: recipient.address.city: required field"),
    (Problem(Location("letter.yaml", 4, 3), "recipient.contacts[0]", "not a valid number",
             severity="warning"),
     "letter.yaml:4:3: warning: recipient.contacts[0]: not a valid number"),
    (Problem(Location("r.csv", 7, heading="address.city"), "recipient.address.city", "too long"),
     "r.csv:7, column address.city: too long"),
    (Problem(Location("r.xlsx", 4, sheet="Sheet", letter="B", heading="name"), "name",
             "removed", severity="warning"),
     "r.xlsx:Sheet!B4, column name: warning: removed"),
    (Problem(Location("r.csv", heading="Email"), "", "unknown column 'Email'"),
     "r.csv, column Email: unknown column 'Email'"),
    (Problem(Location("r.csv", 5), "recipient.name", "required field is missing", record=4,
             record_id="bad1"),
     "r.csv:5: recipient.name: record 4 (bad1): required field is missing"),
    (Problem(Location(), "", "LibreOffice took too long", record=3, record_id="c"),
     "record 3 (c): LibreOffice took too long"),
    (Problem(Location(option="--name"), "", "the name pattern is not a Jinja template"),
     "--name: the name pattern is not a Jinja template"),
    (Problem(Location("letter.docx", part="body"), "", "damaged XML"),
     "letter.docx, body: damaged XML"),
    (Problem(Location("letter.docx", part="footer", paragraph=2, in_table=True), "",
             "unexpected '}'", text="Page {{ page }"),
     'letter.docx, footer paragraph 2 (in a table): unexpected \'}\' — in "Page {{ page }"'),
    (Problem(Location(), "", "… and more problems in 3 more records"),
     "… and more problems in 3 more records"),
])
def test_a_problem_prints_each_piece_it_knows(problem: Problem, printed: str) -> None:
    assert str(problem) == printed


def test_a_problem_keeps_its_location_and_record_as_data() -> None:
    problem = Problem(Location("r.csv", 5, heading="name"), "recipient.name",
                      "required field is missing").in_record(4, "bad1")
    assert (problem.location.file, problem.location.line, problem.location.heading) == (
        "r.csv", 5, "name")
    assert (problem.record, problem.record_id, problem.record_label) == (4, "bad1",
                                                                         "record 4 (bad1)")
    assert problem.message == "required field is missing"  # the record is not in the message
    assert problem.where == "r.csv:5, column name"
    assert Problem(Location(), "", "failed", record=2, record_id="x").where == "record 2 (x)"


def test_problems_are_sorted_by_line_then_column_and_stay_put_without_one() -> None:
    # A folder whose name holds ":12" once fooled an ordering that read numbers out of text.
    tricky = "drafts:12/letter.yaml"
    problems = [Problem(Location(tricky, 9, 1), "c", "third"),
                Problem(Location(tricky), "", "first, no position"),
                Problem(Location(tricky, 2, 7), "b", "second, later column"),
                Problem(Location(tricky, 2, 3), "a", "second"),
                Problem(Location(), "", "also without a position")]
    assert [p.message for p in sorted_problems(problems)] == [
        "first, no position", "also without a position", "second", "second, later column",
        "third"]


def test_a_letters_problems_come_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "drafts:12" / "letter.yaml"
    path.parent.mkdir()
    path.write_text("signatory: {name: Sophie Richardson}\nbody: [We write.]\n"
                    "sender: {name: HRW, adress: x}\nsubject: Re\ndate: 2015-13-01\n"
                    "recipient: {name: Xi}\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_letter(path)
    assert [(p.location.line, p.field) for p in caught.value.problems] == [
        (3, "sender.adress"), (5, "date")]
    assert str(caught.value).splitlines()[0] == "2 problems found:"
    assert str(caught.value).splitlines()[1] == (
        f"  {path}:3:21: sender.adress: unknown field; did you mean 'address'?")


def test_a_validation_error_lists_every_problem() -> None:
    error = ValidationError([Problem(Location("a.yaml", 1, 1), "x", "one")])
    assert str(error) == "1 problem found:\n  a.yaml:1:1: x: one"


@pytest.mark.parametrize(("name", "known", "cutoff", "hint"), [
    ("adress", ["name", "address", "country"], 0.6, "; did you mean 'address'?"),
    ("fromat_date", ["format_date", "upper"], 0.6, "; did you mean 'format_date'?"),
    ("zzz", ["name", "address"], 0.6, ""),
    ("recipient.nam", ["recipient.name", "sender.name"], 0.7, "; did you mean 'recipient.name'?"),
    ("date_long", ["date"], 0.6, "; did you mean 'date'?"),
    ("date_long", ["date"], 0.7, ""),  # near enough at 0.6, not at the stricter 0.7
])
def test_did_you_mean_names_the_nearest_known_name(name: str, known: list[str], cutoff: float,
                                                   hint: str) -> None:
    assert did_you_mean(name, known, cutoff) == hint


def test_a_validation_error_survives_pickling_with_its_problems() -> None:
    # How a merge's rendering process hands a template's or a record's error to the merge.
    import pickle

    from drafter import TemplateError

    problems = [Problem(Location("recipients.csv", 3), "locale", "not a locale", record=2,
                        record_id="kim")]
    for kind in (DataError, TemplateError):
        copy = pickle.loads(pickle.dumps(kind(problems)))
        assert type(copy) is kind and copy.problems == problems and str(copy) == str(
            kind(problems))
