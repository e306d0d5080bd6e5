"""Templates are sandboxed, and files that are not safe Word documents are refused.

A template's tags run in Jinja's sandbox, bounded further by drafter: no Python internals, no
unbounded ranges, repetitions, powers or output. Every refusal is a TemplateError naming the
paragraph and its text. Macro-enabled documents, files that are not DOCX, damaged archives and
zip bombs are refused before anything is rendered, and nothing is written.
"""

from __future__ import annotations

import io
import re
import time
import tracemalloc
import zipfile
from pathlib import Path

import docx
import pytest

from drafter import TemplateError, load_letter, render_letter
from drafter.model import Letter

from .conftest import EXAMPLES

DATA = EXAMPLES / "letter-en.yaml"


@pytest.fixture(scope="module")
def letter() -> Letter:
    return load_letter(DATA)


def template_with(folder: Path, paragraph: str, name: str = "custom.docx") -> Path:
    """A template of two paragraphs: "Dear …," and ``paragraph``."""
    document = docx.Document()
    document.add_paragraph("Dear {{ recipient.full_name }},")
    document.add_paragraph(paragraph)
    path = folder / name
    document.save(str(path))
    return path


def refusal(letter: Letter, template: Path) -> str:
    with pytest.raises(TemplateError) as caught:
        render_letter(letter, template)
    (problem,) = caught.value.problems
    return str(problem)


# ---- the sandbox ------------------------------------------------------------------------------

SANDBOX = [
    ("{{ ''.__class__.__mro__ }}", "refused by the template sandbox: access to attribute "
     "'__class__' of 'str' object is unsafe."),
    ("{{ cycler.__init__.__globals__ }}", "refused by the template sandbox: access to attribute "
     "'__init__' of 'type' object is unsafe."),
    ("{{ joiner.__init__.__globals__['os'] }}", "refused by the template sandbox: access to "
     "attribute '__init__' of 'type' object is unsafe."),
    ("{{ namespace.__init__.__globals__ }}", "refused by the template sandbox: access to "
     "attribute '__init__' of 'type' object is unsafe."),
    ("{{ recipient.__class__.__base__.__subclasses__() }}", "refused by the template sandbox: "
     "access to attribute '__class__' of 'dict' object is unsafe."),
    ("{{ _.__globals__ }}", "refused by the template sandbox: access to attribute "
     "'__globals__' of 'function' object is unsafe."),
    ("{{ '{0.__class__}'.format(subject) }}", "refused by the template sandbox: access to "
     "attribute '__class__' of 'str' object is unsafe."),
    ("{% for x in [1] %}{{ loop._iterator }}{% endfor %}", "refused by the template sandbox: "
     "access to attribute '_iterator' of 'LoopContext' object is unsafe."),
    ("{{ subject._private }}", "undefined value: 'str object' has no attribute '_private'"),
    ("{{ self }}", "TypeError: the template itself is not a value to print"),
    ("{{ subject.upper }}", "TypeError: a function (upper) is not a value to print"),
    ("{% for i in range(10**9) %}x{% endfor %}", "refused: the template makes too much (Range "
     "too big. The sandbox blocks ranges larger than MAX_RANGE (100000).)"),
    ("{{ 'x' * 10**9 }}", "refused by the template sandbox: a repetition of 1,000,000,000 "
     "items or characters (at most 1,000,000 in one value)"),
    ("{{ [0] * 10**9 }}", "refused by the template sandbox: a repetition of 1,000,000,000 "
     "items or characters (at most 1,000,000 in one value)"),
    ("{{ 10 ** (10**10) }}", "refused by the template sandbox: a power of 10,000,000,000 of a "
     "1-digit number makes about 10,000,000,000 digits (at most 1,000,000 in one value)"),
    ("{% for i in range(100000) %}{{ 'y' * 1000 }}{% endfor %}", "refused by the template "
     "sandbox: the values made in this part come to more than 50,000,000 characters, items and "
     "digits (at most 50,000,000)"),
    ("{{ '{:>100000000}'.format(1) }}", "refused by the template sandbox: str.format pads or "
     "extends to 100,000,000 characters (at most 1,000,000 in one value)"),
    ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "refused: the template calls itself too "
     "deeply (a macro or a recursive loop: maximum recursion depth exceeded"),
]


@pytest.mark.parametrize(("tag", "message"), SANDBOX, ids=[tag for tag, _ in SANDBOX])
def test_the_sandbox_refuses_and_names_the_paragraph(letter: Letter, tmp_path: Path, tag: str,
                                                     message: str) -> None:
    template = template_with(tmp_path, f"Intro {tag}")
    tracemalloc.start()
    try:
        problem = refusal(letter, template)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert problem.startswith(f"{template}, body paragraph 2: {message}")
    assert problem.endswith(f' — in "Intro {tag}"')
    assert peak < 400 << 20  # the unbounded versions take gigabytes, or never end


def test_unused_python_helpers_are_not_available(letter: Letter, tmp_path: Path) -> None:
    template = template_with(tmp_path, "{{ lipsum(100000) }}")
    assert refusal(letter, template) == (
        f"{template}, body paragraph 2: the template uses 'lipsum', which no letter provides; "
        "available: bcc, body, cc, close, date, delivery, enclosures, locale, page_x_of_y, "
        "recipient, reference, salutation, sender, signatory, subject, their_reference — in "
        '"{{ lipsum(100000) }}"')


@pytest.mark.parametrize("tag", [
    "{% for a in [1] %}" * 25 + "x" + "{% endfor %}" * 25,
    "{% if 1 %}" * 400 + "x" + "{% endif %}" * 400,
    "{{ " + "(" * 500 + "1" + ")" * 500 + " }}",
])
def test_absurdly_nested_tags_are_refused(letter: Letter, tmp_path: Path, tag: str) -> None:
    template = template_with(tmp_path, tag)
    assert re.fullmatch(rf"{re.escape(str(template))}, body: the tags are nested too deeply "
                        r"\((too many statically nested blocks|maximum recursion depth "
                        r"exceeded.*)\)", refusal(letter, template))


def test_ordinary_arithmetic_still_works(letter: Letter, tmp_path: Path) -> None:
    template = template_with(tmp_path, "{{ 2 * 3 }} {{ 'ab' * 3 }} {{ 2 ** 10 }} "
                             "{% for i in range(3) %}{{ i }}{% endfor %}")
    paragraphs = docx.Document(io.BytesIO(render_letter(letter, template).docx)).paragraphs
    assert paragraphs[1].text == "6 ababab 1024 012"


def _with_document_xml(source: Path, target: Path, change) -> Path:
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for info in original.infolist():
            data = original.read(info)
            copy.writestr(info, change(data) if info.filename == "word/document.xml" else data)
    return target


def test_external_entities_are_never_read(letter: Letter, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET", encoding="utf-8")
    plain = template_with(tmp_path, "XXE-HERE", name="plain.docx")

    def with_entity(xml: bytes) -> bytes:
        head, rest = xml.split(b"?>", 1)
        doctype = f'<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'.encode()
        return head + b"?>" + doctype + rest.replace(b"XXE-HERE", b"&xxe;")

    template = _with_document_xml(plain, tmp_path / "xxe.docx", with_entity)
    problem = refusal(letter, template)
    assert problem.startswith(f"{template}, body: damaged XML: Entity 'xxe' not defined")
    assert "TOP-SECRET" not in problem


def test_entity_expansion_bombs_are_refused(letter: Letter, tmp_path: Path) -> None:
    plain = template_with(tmp_path, "LOL-HERE", name="plain.docx")
    entities = '<!ENTITY a0 "lol">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))

    def with_bomb(xml: bytes) -> bytes:
        head, rest = xml.split(b"?>", 1)
        doctype = f"<!DOCTYPE w:document [{entities}]>".encode()
        return head + b"?>" + doctype + rest.replace(b"LOL-HERE", b"&a9;")

    template = _with_document_xml(plain, tmp_path / "lol.docx", with_bomb)
    started = time.monotonic()
    problem = refusal(letter, template)
    assert problem.startswith(f"{template}, body: damaged XML: Maximum entity amplification "
                              "factor exceeded")
    assert time.monotonic() - started < 5


# ---- files that are not safe Word documents, through `drafter render -t` ----------------------


def _archive(path: Path, extra: dict[str, bytes] | None = None, without: str = "") -> Path:
    """The built-in template's archive, with members added or one left out."""
    source = EXAMPLES.parent.parent / "templates" / "advocacy-letter" / "letter.docx"
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(path, "w",
                                                             zipfile.ZIP_DEFLATED) as copy:
        for info in original.infolist():
            if info.filename != without:
                copy.writestr(info.filename, original.read(info))
        for name, data in (extra or {}).items():
            copy.writestr(name, data)
    return path


def _lying_about_its_size(path: Path) -> Path:
    """An archive whose member of 60 MiB of zeros declares 1,000 bytes, in both headers."""
    _archive(path, {"word/media/zeros.bin": bytes(60 << 20)})
    data = bytearray(path.read_bytes())
    name = b"word/media/zeros.bin"
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            name_at = start + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at:name_at + len(name)] == name:
                data[start + size_at:start + size_at + 4] = (1000).to_bytes(4, "little")
            start += 4
    path.write_bytes(bytes(data))
    return path


def _corrupt(path: Path) -> Path:
    """An archive whose document.xml has its compressed data scrambled in the middle."""
    _archive(path)
    data = bytearray(path.read_bytes())
    name = b"word/document.xml"
    start = data.index(name) - 30  # the local header comes before the first copy of the name
    size = int.from_bytes(data[start + 18:start + 22], "little")
    middle = start + 30 + len(name) + size // 2
    data[middle:middle + 64] = bytes(range(64))
    path.write_bytes(bytes(data))
    return path


def _bad_templates(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    docm = tmp_path / "macros.docm"
    _archive(docm)
    truncated = tmp_path / "truncated.docx"
    truncated.write_bytes(_archive(tmp_path / "whole.docx").read_bytes()[:20_000])
    pdf = tmp_path / "a-pdf.docx"
    pdf.write_bytes(b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")
    text = tmp_path / "text.docx"
    text.write_text("Dear {{ recipient.name }},\n", encoding="utf-8")
    old_doc = tmp_path / "old.docx"
    old_doc.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096))
    empty = tmp_path / "empty.docx"
    empty.write_bytes(b"")
    return {
        "docm": (docm, "macro-enabled documents are refused; save the template as .docx"),
        "vba": (_archive(tmp_path / "vba.docx", {"word/vbaProject.bin": b"\xd0\xcf\x11\xe0"}),
                "the document contains macros (vbaProject.bin); save it as a plain .docx"),
        "pdf": (pdf, "not a Word document (.docx): it is a PDF file"),
        "text": (text, "not a Word document (.docx): the file is not a zip archive, or it is "
                       "truncated"),
        "empty": (empty, "not a Word document (.docx): the file is not a zip archive, or it is "
                         "truncated"),
        "doc": (old_doc, "not a Word document (.docx): it is an old .doc or a password-protected "
                         "document; save it as .docx"),
        "truncated": (truncated, "not a Word document (.docx): the file is not a zip archive, "
                                 "or it is truncated"),
        "no-document": (_archive(tmp_path / "nodoc.docx", without="word/document.xml"),
                        "not a Word document (.docx): word/document.xml is missing"),
        "bomb-size": (_archive(tmp_path / "big.docx",
                               {"word/media/zeros.bin": bytes(60 << 20)}),
                      "refused: word/media/zeros.bin unpacks to 62914560 bytes (limit: 50 MiB a "
                      "member)"),
        "bomb-ratio": (_archive(tmp_path / "ratio.docx",
                                {"word/media/zeros.bin": bytes(5 << 20)}),
                       "refused: word/media/zeros.bin unpacks to 5242880 bytes from "),
        "bomb-lying": (_lying_about_its_size(tmp_path / "lying.docx"),
                       "the archive is damaged: Bad CRC-32 for file 'word/media/zeros.bin'"),
        "corrupt": (_corrupt(tmp_path / "corrupt.docx"), "the archive is damaged: "),
    }


BAD = ["docm", "vba", "pdf", "text", "empty", "doc", "truncated", "no-document", "bomb-size",
       "bomb-ratio", "bomb-lying", "corrupt"]


@pytest.mark.parametrize("kind", BAD)
def test_unsafe_template_files_are_refused_and_nothing_is_written(tmp_path: Path, run,
                                                                  kind: str) -> None:
    template, message = _bad_templates(tmp_path)[kind]
    out = tmp_path / "out"
    tracemalloc.start()
    try:
        result = run("render", DATA, "-t", template, "-o", out, "-f", "docx")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.exit_code == 1
    assert f"error: 1 problem found:\n  {template}: {message}" in result.output
    assert not out.exists()
    assert peak < 40 << 20  # nothing was unpacked: the 60 MiB members were never read


def test_the_ratio_refusal_says_why(tmp_path: Path) -> None:
    template, _ = _bad_templates(tmp_path)["bomb-ratio"]
    with pytest.raises(TemplateError) as caught:
        render_letter(load_letter(DATA), template)
    assert re.fullmatch(r"refused: word/media/zeros\.bin unpacks to 5242880 bytes from \d+ "
                        r"\(\d+ times; at most 200 times for a member over 1 MB\)",
                        caught.value.problems[0].message)
