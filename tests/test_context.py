"""A letter's template context (drafter.context): the values, in the letter's language, and
which data fields each derived value is computed from."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from drafter import load_letter
from drafter.context import build_context, fields_used
from drafter.locales import localizer_for
from drafter.template import find_template

from .conftest import EXAMPLES


def _context(data: Path):
    letter = load_letter(data)
    loc = localizer_for(find_template(), letter.locale)
    return letter, loc, build_context(letter, loc)


def test_the_values_mirror_the_data_and_add_what_a_template_would_assemble() -> None:
    letter, _, context = _context(EXAMPLES / "letter-en.yaml")
    values = context.values
    assert values["recipient"]["name"] == letter.recipient.name
    assert values["recipient"]["full_name"] in values["recipient"]["lines"]
    assert values["salutation"] == f"Dear {values['recipient']['full_name']},"
    assert values["close"] == "Sincerely,"
    assert len(values["body"]) == len(letter.body)
    assert context.paper == "Letter" and not context.right_to_left


def test_page_numbers_are_live_fields_in_the_letter_s_language() -> None:
    _, _, english = _context(EXAMPLES / "letter-en.yaml")
    _, _, korean = _context(EXAMPLES / "letter-ko.yaml")
    for context in (english, korean):
        pages = str(context.values["page_x_of_y"])
        assert pages.count('<w:fldSimple w:instr=" PAGE ">') == 1
        assert pages.count('<w:fldSimple w:instr=" NUMPAGES ">') == 1
    assert ">Page </w:t>" in str(english.values["page_x_of_y"])
    assert "Page" not in str(korean.values["page_x_of_y"])


def test_derived_values_are_traced_to_the_fields_they_are_computed_from() -> None:
    letter, loc, _ = _context(EXAMPLES / "letter-en.yaml")
    fields = ["recipient.office", "recipient.title", "recipient.address", "recipient.name",
              "date", "subject", "signatory.title", "cc[].name"]
    assert fields_used(letter, loc, {"recipient.lines"}, fields) == {
        "recipient.office", "recipient.address", "recipient.name"}  # no title: none is set
    assert fields_used(letter, loc, {"cc[].full_name"}, fields) == {"cc[].name"}
    assert fields_used(letter, loc, {"signatory.lines"}, fields) == {"signatory.title"}
    assert fields_used(letter, loc, {"date.year"}, fields) == {"date"}
    assert fields_used(letter, loc, {"page_x_of_y"}, fields) == set()


def test_a_salutation_written_out_no_longer_reads_the_recipient_s_name(
        example_data: dict, write_data: Callable[..., Path]) -> None:
    letter, loc, _ = _context(EXAMPLES / "letter-en.yaml")
    assert fields_used(letter, loc, {"salutation"}, ["recipient.name"]) == {"recipient.name"}
    example_data["salutation"] = "Dear Sir,"
    letter = load_letter(write_data(example_data))
    assert fields_used(letter, loc, {"salutation"}, ["recipient.name", "salutation"]) == {
        "salutation"}
