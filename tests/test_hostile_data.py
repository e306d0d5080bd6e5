"""Data can never break a document: any text in any field comes out literally, in a valid DOCX.

Plain fields (subject, names, addresses …) are text: whatever they hold is printed as written.
``body`` paragraphs are Markdown: ``**x**`` is bold there, and only there. Characters a document
cannot hold are removed, with a warning naming the field.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import docx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from pypdf import PdfReader

from drafter import load_letter, read_letter, render_letter
from drafter.merge import MergeOptions, merge
from drafter.model import Letter

from .conftest import EXAMPLES, docx_text, pdf_text

# What drafter documents as removed (docs/errors.md): C0 controls but tab and line breaks, C1
# controls but NEL, lone surrogates, U+FFFE and U+FFFF. Written out here, not imported, so that
# the test says what the documentation says.
REMOVED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")

HOSTILE = {
    "markup": "Smith & Sons <Ltd> \"quoted\" 'single' ]]> <w:t>x</w:t> &amp; &#x41; <!-- c -->",
    "jinja": "{{ 7*7 }} {% raw %} {%p if x %} {%tr endfor %} {{r x }} {# c #} {_{ y }_} %}",
    "formats": "${x} %(x)s %s {0} {} \\n \\x00 \\u0041",
    "emoji": "👩🏽‍⚕️ 🇨🇳 🕊️ 𝕏 \U0010fffd",
    "combining": "e\u0301\u0308 Z\u0334\u0321\u031ba\u0356l\u0325g\u0334o \u0e01\u0e34",
    "bidi": "\u202eevil\u202c \u2066iso\u2069 \u200fمرحبا עברית\u200e \u061c",
    "invisible": "zero\u200bwidth\u200djoin\ufeffbom\u00a0nbsp\u2028ls\u2029ps\x85nel",
    "whitespace": "  two leading, two trailing  ",
    "lines": "line 1\nline 2\n\nline 4\n",
    "tabs": "a\tb\t\tc",
    "long": "abcdefghij" * 20_000,
}


def expected(value: str) -> str:
    """The text the document holds for ``value``: removed characters gone, every line break
    (LF, CR LF, CR) one line break."""
    return re.sub("\r\n?", "\n", REMOVED.sub("", value))


@pytest.fixture(scope="module")
def letter() -> Letter:
    return load_letter(EXAMPLES / "letter-en.yaml")


@pytest.fixture(scope="module")
def subject_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template whose body is the subject alone in a paragraph, between two markers."""
    document = docx.Document()
    document.add_paragraph("BEFORE")
    document.add_paragraph("{{ subject }}")
    document.add_paragraph("AFTER")
    path = tmp_path_factory.mktemp("template") / "subject.docx"
    document.save(str(path))
    return path


def subject_text(letter: Letter, template: Path, value: str) -> str:
    """The subject as the rendered DOCX holds it, checked to be a valid document first."""
    rendered = render_letter(letter.model_copy(update={"subject": value}), template)
    assert_valid_docx(rendered.docx)
    paragraphs = [p.text for p in docx.Document(io.BytesIO(rendered.docx)).paragraphs]
    assert paragraphs[0] == "BEFORE" and paragraphs[-1] == "AFTER"
    assert len(paragraphs) == 3  # the value never makes or breaks a paragraph
    return paragraphs[1]


def assert_valid_docx(data: bytes) -> None:
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    for name in archive.namelist():
        if name.endswith((".xml", ".rels")):
            etree.fromstring(archive.read(name))  # well-formed, or this raises
    docx.Document(io.BytesIO(data))


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_plain_field_comes_out_exactly_as_written(letter: Letter, subject_template: Path,
                                                   kind: str) -> None:
    assert subject_text(letter, subject_template, HOSTILE[kind]) == HOSTILE[kind]


@pytest.mark.parametrize(("value", "text"), [
    ("a\r\nb\rc\n\rd", "a\nb\nc\n\nd"),  # Windows and old Mac line ends: one break each
    ("a\x00b\x0bc\x0cd\x1fe\x7ff\x9bg", "abcdefg"),  # controls an XML document cannot hold
    ("x\ud800y\udfffz", "xyz"),  # lone surrogates, as a YAML escape "\ud800" makes them
    ("\ufffe\uffffkept", "kept"),
])
def test_characters_a_document_cannot_hold_are_removed(letter: Letter, subject_template: Path,
                                                       value: str, text: str) -> None:
    assert subject_text(letter, subject_template, value) == text


# Characters and pieces that break naive XML, Jinja, docxtpl or Word, mixed into any text.
_TRICKY = st.one_of(
    st.sampled_from("&<>\"'{}%#_\\\n\r\t\a\f\x00\x0b\x85\x9b\u202e\u2067\u2069\u200f\ufeff\ufffe\uffff"
                    "\u2028 "),
    st.sampled_from(["\r\n", "{{", "}}", "{%", "%}", "{%p ", "{{r ", "{_{", "]]>", "</w:t>",
                     "&amp;", "\ud800", "\udc00"]))
_PIECES = st.one_of(st.characters(), st.characters(categories=["Cs"]), _TRICKY)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.one_of(st.text(), st.lists(_PIECES, max_size=60).map("".join)))
def test_any_text_in_a_plain_field_comes_out_literally(letter: Letter, subject_template: Path,
                                                       value: str) -> None:
    assert subject_text(letter, subject_template, value) == expected(value)


@pytest.mark.parametrize("kind", ["markup", "jinja", "emoji", "bidi", "combining"])
def test_hostile_text_in_the_built_in_template(letter: Letter, kind: str) -> None:
    value = HOSTILE[kind]
    changed = letter.model_copy(update={
        "subject": value,
        "recipient": letter.recipient.model_copy(update={"office": value}),
        "signatory": letter.signatory.model_copy(update={"title": value}),
    })
    rendered = render_letter(changed)
    assert_valid_docx(rendered.docx)
    lines = docx_text(rendered.docx).splitlines()
    assert f"Re: {value}" in lines
    assert value in lines  # the recipient's office, a line of its own
    assert docx.Document(io.BytesIO(rendered.docx)).core_properties.title == value


def test_body_paragraphs_are_markdown_other_fields_are_not(letter: Letter,
                                                           subject_template: Path) -> None:
    source = "**bold** _it_ <b>x</b> {{ 7*7 }} \\*stars\\* [link](https://example.org/?a=1&b=<2>)"
    changed = letter.model_copy(update={"subject": source, "body": [source]})
    document = docx.Document(io.BytesIO(render_letter(changed).docx))
    body = next(p for p in document.paragraphs if p.text.startswith("bold"))
    assert body.text == "bold it <b>x</b> {{ 7*7 }} *stars* link"
    assert [run.text for run in body.runs if run.bold] == ["bold"]
    assert [h.url for h in body.hyperlinks] == ["https://example.org/?a=1&b=%3C2%3E"]
    assert f"Re: {source}" in [p.text for p in document.paragraphs]  # the subject: as written
    assert subject_text(letter, subject_template, source) == source


def test_body_paragraphs_keep_text_and_line_breaks(letter: Letter) -> None:
    changed = letter.model_copy(update={"body": ["first line\r\nsecond\x00 line & <more>"]})
    document = docx.Document(io.BytesIO(render_letter(changed).docx))
    assert "first line\nsecond line & <more>" in [p.text for p in document.paragraphs]


# ---- control characters in data files: removed, with a warning naming the field --------------


def test_control_characters_in_a_letter_are_removed_with_a_warning(tmp_path: Path, run) -> None:
    text = (EXAMPLES / "letter-en.yaml").read_text(encoding="utf-8")
    text = text.replace("subject: Detention", 'subject: "\\x0bDetention\\ud800', 1)
    text = text.replace("refugees\n", 'refugees"\n', 1)
    text = text.replace("office: General Secretary Office",
                        "office: General\x00 Secretary\x1b Office", 1)
    path = tmp_path / "letter.yaml"
    path.write_text(text, encoding="utf-8")
    letter, warnings = read_letter(path)
    assert letter.subject == "Detention of Nine North Korean refugees"
    assert letter.recipient.office == "General Secretary Office"
    removed = sorted((w for w in warnings if "control characters" in w.message),
                     key=lambda w: w.field)
    subject = text[:text.index("subject:")].count("\n") + 1
    office = text[:text.index("office:")].count("\n") + 1
    assert [str(w) for w in removed] == [
        f"{path}:{office}:11: warning: recipient.office: invisible control characters removed "
        "(they cannot be stored in a document)",
        f"{path}:{subject}:10: warning: subject: invisible control characters removed "
        "(they cannot be stored in a document)"]

    result = run("render", path, "-o", tmp_path / "out", "-f", "docx")
    assert result.exit_code == 0, result.output
    assert "warning: subject: invisible control characters removed" in result.output
    assert "warning: recipient.office: invisible control characters removed" in result.output
    lines = docx_text(tmp_path / "out" / "letter.docx").splitlines()
    assert "Re: Detention of Nine North Korean refugees" in lines
    assert "General Secretary Office" in lines


CASE = """\
date: 2015-11-24
sender: {name: Human Rights Watch}
subject: "Detention\\x0b of refugees"
body: [We write to you.]
signatory: {name: Sophie Richardson}
"""


@pytest.mark.parametrize("kind", ["csv", "yaml"])
def test_control_characters_in_recipients_are_removed_with_a_warning(tmp_path: Path, run,
                                                                     kind: str) -> None:
    (tmp_path / "case.yaml").write_text(CASE, encoding="utf-8")
    if kind == "csv":
        recipients = tmp_path / "r.csv"
        recipients.write_text('id,name,title,address.country\nxi,"Xi\x0b Jinping",'
                              '"Pre\x00sident\r\nof China",CN\n', encoding="utf-8")
        name_where = f"{recipients}:2, column name: warning:"
    else:
        recipients = tmp_path / "r.yaml"
        recipients.write_text('- id: xi\n  name: "Xi\\x0b Jinping"\n  title: "Pre\\0sident\\r\\n'
                              'of China"\n  address: {country: CN}\n', encoding="utf-8")
        name_where = f"{recipients}:2:9: warning: name:"
    out = tmp_path / "out"
    result = run("merge", tmp_path / "case.yaml", recipients, "-o", out, "-f", "docx", "-q")
    assert result.exit_code == 0, result.output
    assert f"{name_where} invisible control characters removed" in result.output
    title = "column title: warning:" if kind == "csv" else "warning: title:"
    assert f"{title} invisible control characters removed" in result.output
    assert f"{tmp_path / 'case.yaml'}:3:10: warning: subject: invisible control " \
        "characters removed" in result.output
    lines = docx_text(out / "xi.docx").splitlines()
    assert "Re: Detention of refugees" in lines
    assert "President" in lines and "of China" in lines  # the cell's line break: a w:br


def test_merge_report_names_the_field_of_removed_characters(tmp_path: Path) -> None:
    (tmp_path / "case.yaml").write_text(CASE.replace("\\x0b", ""), encoding="utf-8")
    recipients = tmp_path / "r.csv"
    recipients.write_text("id,name,address.country\nxi,Xi\x0bJinping,CN\n", encoding="utf-8")
    report = merge(tmp_path / "case.yaml", recipients, tmp_path / "out",
                   MergeOptions(formats=("docx",)))
    assert [(w.where, w.field, w.message, w.severity) for w in report.warnings] == [
        (f"{recipients}:2, column name", "name", "invisible control characters removed",
         "warning")]


@pytest.mark.libreoffice
def test_libreoffice_converts_a_letter_full_of_hostile_text(letter: Letter, tmp_path: Path,
                                                            run) -> None:
    from drafter import write_letter

    changed = letter.model_copy(update={
        "subject": HOSTILE["markup"],
        "recipient": letter.recipient.model_copy(update={"office": HOSTILE["jinja"]}),
        "signatory": letter.signatory.model_copy(update={"title": HOSTILE["bidi"]}),
        "body": [*letter.body, HOSTILE["emoji"], HOSTILE["combining"], HOSTILE["lines"],
                 HOSTILE["long"][:5000], "a\x00b\x0bc\r\nd"],
    })
    written = write_letter(render_letter(changed), tmp_path, "hostile")
    assert [p.name for p in written] == ["hostile.docx", "hostile.pdf"]
    reader = PdfReader(written[1])
    assert len(reader.pages) >= 2
    text = pdf_text(written[1])
    assert "Re: Smith & Sons <Ltd> \"quoted\" 'single' ]]> <w:t>x</w:t>" in text
    assert "{{ 7*7 }} {% raw %} {%p if x %}" in text
    assert "abc" in text.split()
