"""Checking templates in the editor's terms (drafter.authoring), through the public API.

Every claim `check` makes about a broken template is confirmed here by rendering it: a tag it
calls split really comes out as written, text it says would be lost really is lost, a tag it says
is merely normalized really renders.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import shutil
import zipfile
from pathlib import Path
from typing import Any

import docx
import pytest
import yaml
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from drafter import TemplateError, load_letter, render_letter
from drafter.authoring import Finding, check_template, template_variables
from drafter.compiled import compile_template, render_docx
from drafter.context import build_context
from drafter.locales import localizer_for
from drafter.model import Letter
from drafter.template import find_template

from .conftest import EXAMPLES, ROOT, docx_text

BROKEN = ROOT / "tests" / "templates" / "broken"


def _corpus_builder() -> Any:
    spec = importlib.util.spec_from_file_location("broken_build", BROKEN / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def letter() -> Letter:
    return load_letter(EXAMPLES / "letter-en.yaml")


def _errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]


# ---- the corpus ---------------------------------------------------------------------------------

def test_the_corpus_files_are_what_their_script_builds() -> None:
    build = _corpus_builder()
    assert sorted(p.stem for p in BROKEN.glob("*.docx")) == sorted(build.CORPUS)
    for name in build.CORPUS:
        with zipfile.ZipFile(io.BytesIO(build.build(name))) as built, \
                zipfile.ZipFile(BROKEN / f"{name}.docx") as committed:
            assert built.namelist() == committed.namelist(), name
            for member in built.namelist():
                assert built.read(member) == committed.read(member), f"{name}: {member}"


def test_three_independent_errors_are_all_reported_at_once() -> None:
    findings = check_template(BROKEN / "three-errors.docx")
    assert [(f.kind, f.where()) for f in findings] == [
        ("unknown-filter", "body paragraph 3"),
        ("syntax", "body paragraph 5"),
        ("unclosed-block", "body paragraph 7"),
    ]
    assert findings[0].text == "Written on »{{ date | format_dat }}«"
    assert findings[1].text == "To »{{ recipient.name | }}«, by fax"
    assert findings[2].text == "»{%p if cc %}«"


def test_rendering_stops_at_the_first_of_them(letter: Letter) -> None:
    # Why `check` exists: Jinja itself reports one error per part.
    with pytest.raises(TemplateError) as caught:
        render_letter(letter, BROKEN / "three-errors.docx")
    assert len(caught.value.problems) == 1


def test_a_finding_is_a_json_ready_record() -> None:
    (finding,) = check_template(BROKEN / "table-cell.docx")
    assert finding.as_dict() == {
        "severity": "error", "kind": "unknown-filter", "part": "body", "paragraph": 8,
        "text": "»{{ person.title | upper_case }}«", "in_table": True, "file": "",
        "message": "unknown filter 'upper_case'; did you mean 'upper'?",
        "where": "body paragraph 8 (in a table)",
    }


# ---- split tags: what docxtpl repairs, and what it does not -------------------------------------

def _paragraph_template(tmp_path: Path, *pieces: str, after: str = "") -> Path:
    """A one-paragraph template written as raw runs, with an optional plain paragraph after."""
    document = docx.Document()
    paragraph = document.add_paragraph()
    for element in parse_xml(f'<w:p {nsdecls("w")}>{"".join(pieces)}</w:p>'):
        paragraph._p.append(element)
    if after:
        document.add_paragraph(after)
    path = tmp_path / "split.docx"
    document.save(str(path))
    return path


def _run(text: str, properties: str = "") -> str:
    return f'<w:r>{properties}<w:t xml:space="preserve">{text}</w:t></w:r>'


SPELL_START, SPELL_END = '<w:proofErr w:type="spellStart"/>', '<w:proofErr w:type="spellEnd"/>'
DELETED = ('<w:del w:id="1" w:author="Ed" w:date="2024-05-02T10:00:00Z"><w:r><w:delText>x'
           '</w:delText></w:r></w:del>')
INSERTED = ('<w:ins w:id="2" w:author="Ed" w:date="2024-05-02T10:00:00Z">'
            + _run("{") + "</w:ins>")


@pytest.mark.parametrize("pieces", [
    pytest.param((_run("Dear {{ recipient."), SPELL_START, _run("full_name"), SPELL_END,
                  _run(" }},")), id="proofing-inside-the-tag"),
    pytest.param((_run("Dear {"), SPELL_START, _run("{ recipient.full_name }"), SPELL_END,
                  _run("},")), id="proofing-between-the-braces"),
    pytest.param((_run("Dear {"), _run("{ recipient.full_name }", "<w:rPr><w:b/></w:rPr>"),
                  _run("},")), id="formatting-between-the-braces"),
    pytest.param((_run("Dear {"), INSERTED, _run(" recipient.full_name }},")),
                 id="tracked-insertion-of-a-brace"),
    pytest.param((_run("Dear {{ recipient."), DELETED, _run("full_name }},")),
                 id="tracked-deletion-inside-the-tag"),
    pytest.param((_run("Dear {"), '<w:smartTag w:uri="urn:x" w:element="y">',
                  _run("{ recipient"), "</w:smartTag>", _run(".full_name }},")),
                 id="smart-tag-across-the-braces"),
])
def test_splits_docxtpl_repairs_are_not_reported(letter: Letter, tmp_path: Path,
                                                 pieces: tuple[str, ...]) -> None:
    template = _paragraph_template(tmp_path, *pieces)
    assert check_template(template) == []
    assert docx_text(render_letter(letter, template).docx).splitlines()[0] == \
        "Dear President Xi Jinping,"


def test_a_revision_mark_between_the_opening_braces_is_reported(letter: Letter) -> None:
    template = BROKEN / "split-tag-revision.docx"
    (finding,) = check_template(template)
    assert (finding.kind, finding.where()) == ("split-tag", "body paragraph 3")
    assert "tracked change" in finding.message and "printed as written" in finding.message
    # The claim holds: the letter silently prints the tag.
    assert "Attention: {{ recipient.full_name }}" in docx_text(render_letter(letter,
                                                                            template).docx)


def test_a_revision_mark_between_the_closing_braces_is_reported(letter: Letter) -> None:
    template = BROKEN / "split-tag-revision-end.docx"
    (finding,) = check_template(template)
    assert (finding.kind, finding.where()) == ("split-tag", "body paragraph 3")
    assert "swallow the paragraphs after it" in finding.message
    # The claim holds: docxtpl joins paragraph 4 into paragraph 3.
    lines = docx_text(render_letter(letter, template).docx).splitlines()
    assert "Attention: President Xi JinpingOrganization: Central Committee of the Communist " \
        "Party of China" in lines


def test_a_field_code_between_the_braces_is_reported(letter: Letter, tmp_path: Path) -> None:
    field = ('<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> QUOTE x '
             '</w:instrText></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r>')
    template = _paragraph_template(tmp_path, _run("Dear {"), field,
                                   _run("{ recipient.full_name }},"))
    (finding,) = check_template(template)
    assert finding.kind == "split-tag" and "a field inside it" in finding.message
    assert "Dear {{ recipient.full_name }}," in docx_text(render_letter(letter, template).docx)


# ---- the other mistakes, confirmed by rendering -------------------------------------------------

def test_typographic_quotes_are_normalized_and_said_so(letter: Letter) -> None:
    template = BROKEN / "smart-quotes.docx"
    (finding,) = check_template(template)
    assert (finding.severity, finding.kind) == ("warning", "typographic-quotes")
    assert "Attention: the Minister" in docx_text(render_letter(letter, template).docx)


def test_non_breaking_spaces_in_a_paragraph_tag_are_normalized(letter: Letter) -> None:
    template = BROKEN / "nbsp.docx"
    (finding,) = check_template(template)
    assert (finding.severity, finding.kind) == ("warning", "typographic-quotes")
    assert "non-breaking spaces" in finding.message
    text = docx_text(render_letter(letter, template).docx)
    assert "With copies." in text and "{%" not in text


def test_a_typographic_apostrophe_in_a_string_is_an_error(letter: Letter) -> None:
    template = BROKEN / "smart-apostrophe.docx"
    (finding,) = check_template(template)
    assert (finding.severity, finding.kind) == ("error", "typographic-quotes")
    assert "'It’s'" in finding.message and '{{ "It’s" }}' in finding.message
    with pytest.raises(TemplateError):
        render_letter(letter, template)


@pytest.mark.parametrize(("name", "lost"), [("paragraph-tag-with-text", "Copies:"),
                                            ("row-tag-with-text", "Copy to:")])
def test_text_beside_a_paragraph_or_row_tag_is_reported_and_really_lost(
        letter: Letter, name: str, lost: str) -> None:
    (finding,) = check_template(BROKEN / f"{name}.docx")
    assert finding.kind == "paragraph-tag" and repr(lost) in finding.message
    assert lost not in docx_text(render_letter(letter, BROKEN / f"{name}.docx").docx)


def test_an_unclosed_tag_does_not_hide_the_tag_after_it() -> None:
    (finding,) = check_template(BROKEN / "footer.docx")
    assert finding.where() == "footer paragraph 1"
    assert finding.text == "»{{ sender.name }« · Page {{r page_x_of_y }}"


def _template(tmp_path: Path, *paragraphs: str, name: str = "custom.docx") -> Path:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    path = tmp_path / name
    document.save(str(path))
    return path


def test_whitespace_control_tags_are_read_like_jinja_reads_them(tmp_path: Path) -> None:
    template = _template(tmp_path, "{%- if cc -%}", "copies", "{%- endif -%}",
                         "{% if cc | length > 1 and cc | length < 9 %}many{% endif %}")
    assert check_template(template) == []


def test_the_wrong_end_tag_is_one_mistake(tmp_path: Path) -> None:
    template = _template(tmp_path, "{%p for person in cc %}", "{{ person.name }}",
                         "{%p endif %}")
    (finding,) = check_template(template)
    assert finding.where() == "body paragraph 3"
    assert finding.message == ("{% endif %} where {% endfor %} was expected: the {% for %} "
                               "of paragraph 1 is the innermost block still open")


def test_a_row_tag_outside_a_table(tmp_path: Path) -> None:
    template = _template(tmp_path, "{%tr for person in cc %}", "{{ person.name }}",
                         "{%tr endfor %}")
    findings = check_template(template)
    assert [f.where() for f in findings] == ["body paragraph 1", "body paragraph 3"]
    assert all("not in a table" in f.message for f in findings)


def test_a_folder_with_several_layouts_names_the_layout(tmp_path: Path) -> None:
    folder = tmp_path / "two-layouts"
    folder.mkdir()
    shutil.copy(ROOT / "templates" / "advocacy-letter" / "letter.docx", folder / "letter.docx")
    shutil.copy(BROKEN / "unknown-filter.docx", folder / "letter.ko.docx")
    (finding,) = check_template(folder)
    assert finding.where() == "letter.ko.docx, body paragraph 3"


# ---- with data ----------------------------------------------------------------------------------

@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("letter-*.yaml")))
def test_the_built_in_template_is_clean_for_every_example(example: str) -> None:
    assert check_template("advocacy-letter", EXAMPLES / example) == []


def test_a_value_no_letter_has_is_located_with_a_suggestion() -> None:
    template = BROKEN / "unknown-value.docx"
    assert check_template(template) == []  # only the data can tell
    errors = _errors(check_template(template, EXAMPLES / "letter-en.yaml"))
    assert [(f.kind, f.where(), f.text) for f in errors] == [
        ("missing-value", "body paragraph 3", "Dear »{{ recipient.nickname }}«,")]
    assert errors[0].message == ("the template reads 'recipient.nickname', which the letter "
                                 "does not provide; did you mean 'recipient.name'?")


def without_signatory(tmp_path: Path) -> Path:
    """The built-in template with its signature and signatory block taken out."""
    document = docx.Document(str(ROOT / "templates" / "advocacy-letter" / "letter.docx"))
    paragraphs = document.paragraphs
    first = next(i for i, p in enumerate(paragraphs) if p.text == "{%p if signatory.signature %}")
    block = next(i for i, p in enumerate(paragraphs) if "signatory.lines" in p.text)
    for paragraph in paragraphs[first:block + 1]:
        paragraph._p.getparent().remove(paragraph._p)
    path = tmp_path / "no-signatory.docx"
    document.save(str(path))
    return path


def test_data_the_template_never_uses_is_a_warning_at_its_line(tmp_path: Path) -> None:
    findings = check_template(without_signatory(tmp_path), EXAMPLES / "letter-en.yaml")
    assert {f.severity for f in findings} == {"warning"}
    assert [(f.kind, f.message) for f in findings] == [
        ("unused-field", f"the data's 'signatory.{name}' is not used by the template")
        for name in ("name", "title", "division", "organization")]
    lines = (EXAMPLES / "letter-en.yaml").read_text(encoding="utf-8").splitlines()
    for finding in findings:
        path, line, column = finding.where().rsplit(":", 2)
        assert path == str(EXAMPLES / "letter-en.yaml")
        field = finding.message.split("'signatory.")[1].split("'")[0]
        assert lines[int(line) - 1][int(column) - 1:].startswith(f"{field}:")


# ---- what a template reads ----------------------------------------------------------------------

class _Recording(dict[str, Any]):
    """A context value that notes every key a template reads from it."""

    def __init__(self, values: dict[str, Any], prefix: str, seen: set[str]) -> None:
        super().__init__(values)
        self.prefix, self.seen = prefix, seen

    def __getitem__(self, key: str) -> Any:
        self.seen.add(self.prefix + key)
        return _recording(super().__getitem__(key), self.prefix + key, self.seen)


def _recording(value: Any, path: str, seen: set[str]) -> Any:
    if isinstance(value, dict):
        return _Recording(value, path + ".", seen)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return [_Recording(item, path + "[].", seen) for item in value]
    return value


def read_by_rendering(letter: Letter) -> set[str]:
    """Every value the built-in template reads when it renders ``letter``, found by rendering
    it with a context that notes each read: what `vars` must list, computed independently."""
    template = find_template(None)
    loc = localizer_for(template, letter.locale)
    compiled = compile_template(template, loc)
    context = build_context(letter, loc)
    seen: set[str] = set()
    values = {key: _recording(value, key, seen) for key, value in context.values.items()}
    render_docx(compiled, dataclasses.replace(context, values=values))
    return set(compiled.variables) | seen


def test_template_variables_are_exactly_what_rendering_reads(letter: Letter) -> None:
    read = read_by_rendering(letter)
    listed = set(template_variables("advocacy-letter"))
    listed |= {path.split(".")[0].removesuffix("[]") for path in listed}  # `cc`, `recipient`
    assert listed == read
    # Nothing the template does not read, though the letter has it.
    assert not {"recipient.name", "recipient.title", "sender.address", "signatory.name",
                "cc[].name"} & listed


def test_template_variables_say_where_a_value_is_read() -> None:
    found = template_variables("advocacy-letter")
    assert found["sender.name"] == {"plain"}
    assert found["sender.website"] == {"condition"}
    assert found["recipient.lines"] == {"loop"}
    assert found["cc[].lines"] == {"condition", "loop"}
    assert found["signatory.signature"] == {"condition"}


def test_template_variables_of_a_broken_template_is_an_error_naming_the_paragraph() -> None:
    with pytest.raises(TemplateError) as caught:
        template_variables(BROKEN / "bad-expression.docx")
    assert "body paragraph 3" in str(caught.value)
    assert "To »{{ recipient.name | }}«, by fax" in str(caught.value)


def test_the_letter_s_language_and_paper_are_never_unused(tmp_path: Path,
                                                          example_data: dict) -> None:
    # A template that prints only the subject still gets the letter's language and paper size.
    example_data["paper"] = "A4"
    data = tmp_path / "letter.yaml"
    data.write_text(yaml.safe_dump(example_data, allow_unicode=True), encoding="utf-8")
    template = _template(tmp_path, "{{ subject }}")
    unused = {f.message.removeprefix("the data's '").split("'")[0]
              for f in check_template(template, data)}
    assert "subject" not in unused
    assert not {"locale", "paper"} & unused
    assert {"date", "sender.name", "signatory.name"} <= unused


# ---- issue 15: the bugs of check, vars and render ----------------------------------------------


def _one_paragraph_template(tmp_path: Path, *texts: str) -> Path:
    document = docx.Document()
    for text in texts:
        document.add_paragraph(text)
    path = tmp_path / "letter.docx"
    document.save(str(path))
    return path


def test_an_ampersand_in_a_tag_is_no_split_tag(tmp_path: Path) -> None:
    path = _one_paragraph_template(tmp_path, '{{ "Q&A" }} and {{ _("Terms & conditions") }}')
    assert check_template(path) == []
    rendered = render_letter(load_letter(EXAMPLES / "letter-en.yaml"), path)
    assert docx_text(rendered.docx).strip() == "Q&A and Terms & conditions"


def test_set_names_and_tuple_loop_targets_are_no_data(tmp_path: Path) -> None:
    path = _one_paragraph_template(
        tmp_path, "{% set who = recipient %}{{ who.full_name }}",
        "{% for key, value in {'a': 1}.items() %}{{ key }}={{ value }}{% endfor %}",
        "{% set note %}{{ subject }}{% endset %}{{ note }}")
    assert set(template_variables(path)) == {"recipient", "recipient.full_name", "subject"}
    assert check_template(path, EXAMPLES / "letter-en.yaml") == [] or all(
        f.severity == "warning" for f in check_template(path, EXAMPLES / "letter-en.yaml"))


def test_every_problem_of_a_template_in_one_check(tmp_path: Path) -> None:
    path = _one_paragraph_template(tmp_path, "Dear {{ recipient.full_name }},",
                                   "{%p endfor %}", "{{ date | fromat_date }}",
                                   "Yours, {{ nickname }}")
    kinds = [(f.kind, f.paragraph) for f in check_template(path)]
    assert kinds == [("stray-end", 2), ("unknown-filter", 3), ("unknown-name", 4)]


def test_a_top_level_name_no_letter_has_is_reported_at_its_paragraph(tmp_path: Path) -> None:
    path = _one_paragraph_template(tmp_path, "Dear {{ recipient.full_name }},",
                                   "Yours, {{ nickname }}")
    with pytest.raises(TemplateError) as caught:
        render_letter(load_letter(EXAMPLES / "letter-en.yaml"), path)
    (problem,) = caught.value.problems
    assert str(problem).startswith(f"{path}, body paragraph 2: the template uses 'nickname'")
    assert problem.text == "Yours, {{ nickname }}"


def test_escaped_braces_print_as_braces(tmp_path: Path) -> None:
    path = _one_paragraph_template(tmp_path, "Write {_{ name }_} or {_% if x %_} in Word.")
    rendered = render_letter(load_letter(EXAMPLES / "letter-en.yaml"), path)
    assert docx_text(rendered.docx).strip() == "Write {{ name }} or {% if x %} in Word."
