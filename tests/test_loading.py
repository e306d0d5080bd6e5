"""Reading and validating letter data: every problem at once, each with file:line:column."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from drafter import DataError, load_letter
from drafter.loading import read_letter

from .conftest import EXAMPLES


def problems_of(path: Path) -> list[str]:
    with pytest.raises(DataError) as caught:
        load_letter(path)
    return [str(p) for p in caught.value.problems]


def test_the_example_letter_is_valid() -> None:
    letter = load_letter(EXAMPLES / "letter-en.yaml")
    assert letter.date == dt.date(2015, 11, 24)
    assert letter.recipient.name == "Xi Jinping"
    assert [c.kind for c in letter.recipient.contacts] == ["fax", "fax"]
    assert len(letter.body) == 8
    assert [person.name for person in letter.cc] == ["Guo Shengkun", "Wang Yi"]


def test_yaml_syntax_error_names_line_and_column(write_data) -> None:
    path = write_data("locale: en\ndate: 2015-11-24\nsubject: [unclosed\nbody: x\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:5:1:") or problem.startswith(f"{path}:4:")
    assert "YAML syntax error" in problem


def test_wrong_type_missing_field_and_unknown_key_are_reported_together(
        write_data, example_data) -> None:
    example_data["date"] = "the day after tomorrow"
    del example_data["signatory"]["name"]
    example_data["recipient"]["nmae"] = example_data["recipient"].pop("name")
    path = write_data(example_data)
    problems = problems_of(path)
    text = "\n".join(problems)
    lines = path.read_text(encoding="utf-8").splitlines()

    def line_of(prefix: str) -> int:
        return next(i for i, line in enumerate(lines, 1) if line.startswith(prefix))

    assert any(p.startswith(f"{path}:{line_of('date:')}:") and "date:" in p for p in problems)
    assert "signatory.name: required field is missing" in text
    assert any(p.startswith(f"{path}:{line_of('signatory:')}:") for p in problems
               if "signatory.name" in p)
    assert "recipient.nmae: unknown field; did you mean 'name'?" in text
    assert "recipient.name: required field is missing" in text
    assert len(problems) == 4


def test_duplicate_keys_are_errors_not_silently_overwritten(write_data) -> None:
    path = write_data((EXAMPLES / "letter-en.yaml").read_text(encoding="utf-8")
                      + "subject: Another subject\n")
    (problem,) = problems_of(path)
    assert "subject: duplicate key" in problem


def test_scalars_keep_their_text(write_data, example_data) -> None:
    # YAML 1.1 would read NO as false and 01234 as an octal number.
    example_data["recipient"]["address"].update(country="NO", postal_code="0150",
                                                layout=None, city="Oslo")
    path = write_data(example_data)
    text = path.read_text(encoding="utf-8").replace("'0150'", "0150").replace("'NO'", "NO")
    path.write_text(text, encoding="utf-8")
    letter = load_letter(path)
    assert letter.recipient.address is not None
    assert letter.recipient.address.country == "NO"
    assert letter.recipient.address.postal_code == "0150"


def test_unknown_locale_and_country_name_their_fields(write_data, example_data) -> None:
    example_data["locale"] = "xx_YY"
    example_data["cc"][1]["address"]["country"] = "ZZ"
    text = "\n".join(problems_of(write_data(example_data)))
    assert "locale: unknown locale 'xx_YY'" in text
    assert "cc[1].address.country: unknown country 'ZZ'" in text


def test_contact_entries_are_typed(write_data, example_data) -> None:
    example_data["recipient"]["contacts"] = [{"telex": "123"}, {"email": "not an address"}]
    text = "\n".join(problems_of(write_data(example_data)))
    assert "recipient.contacts[0]: unknown contact type 'telex'" in text
    assert "recipient.contacts[1]: 'not an address' is not an email address" in text


def test_an_unreadable_number_is_a_warning_naming_the_field(write_data, example_data) -> None:
    del example_data["recipient"]["contacts"][1]["as_given"]
    letter, warnings = read_letter(write_data(example_data))
    (warning,) = warnings
    assert warning.severity == "warning"
    assert warning.field == "recipient.contacts[1]"
    assert "'+011 10 6238 1025' is not a valid phone number" in warning.message
    assert "as_given: true" in warning.message  # ... and how to say it is meant
    assert letter.warnings == (warning,)  # load_letter's letter carries them too


def test_a_number_marked_as_given_is_printed_as_written_without_a_warning() -> None:
    letter, warnings = read_letter(EXAMPLES / "letter-en.yaml")
    assert warnings == [] and letter.warnings == ()
    assert letter.recipient.contacts[1].as_given


def test_a_byte_order_mark_is_accepted_and_other_encodings_are_explained(
        tmp_path: Path) -> None:
    text = (EXAMPLES / "letter-en.yaml").read_text(encoding="utf-8")
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert load_letter(bom).recipient.name == "Xi Jinping"
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(text.replace("’", "é").encode("latin-1", errors="replace"))
    (problem,) = problems_of(latin1)
    assert "not UTF-8" in problem


def test_python_object_tags_are_refused(write_data) -> None:
    path = write_data("locale: !!python/object/apply:os.system ['echo pwned']\n")
    text = "\n".join(problems_of(path))
    assert "unsupported YAML tag" in text or "YAML" in text


def test_localized_text_is_a_string_or_a_mapping_of_locales(write_data, example_data) -> None:
    example_data["recipient"]["name"] = {"en": "Xi Jinping", "zh": "习近平"}
    assert load_letter(write_data(example_data)).recipient.name == {"en": "Xi Jinping",
                                                                     "zh": "习近平"}
    example_data["recipient"]["name"] = {"klingon": "x"}
    assert "recipient.name: unknown locale 'klingon'" in "\n".join(
        problems_of(write_data(example_data)))
