"""Templates that use docxtpl's features, as docxtpl's own tests do, and the contexts to fill them.

docxtpl's repository tests each of its features with a Word template and a script
(``tests/order.py``, ``dynamic_table.py``, ``vertical_merge.py``, ``inline_image.py`` …). Those
files are not copied here: this module builds templates that use the same features with
python-docx, and :data:`CASES` gives each its context, for both engines (drafter's image values
are :class:`drafter.wordml.Image`; docxtpl's are ``InlineImage`` objects). The comparison is
``tests/test_docxtpl_features.py``; the differences it allows are those docs/authoring.md lists.

Run it alone (``python tests/docxtpl_features.py FOLDER``) to write the templates for a look.
"""

from __future__ import annotations

import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docx
from docx.shared import Mm
from docxtpl import InlineImage, RichText

from drafter.markup import link_id
from drafter.wordml import Annex, Image

Cells = list[list[str]]


@dataclass(frozen=True)
class Case:
    """One template and its context; ``refused`` names what drafter's error must say."""

    name: str
    paragraphs: list[str] = field(default_factory=list)
    table: Cells = field(default_factory=list)
    after: list[str] = field(default_factory=list)  # paragraphs after the table
    header: list[str] = field(default_factory=list)
    footer: list[str] = field(default_factory=list)
    title: str = ""  # the document's title property
    context: Callable[[str, Any, Path], dict[str, Any]] = lambda engine, tpl, files: {}
    refused: str = ""  # drafter refuses the template, with this in the message
    links: dict[str, str] = field(default_factory=dict)  # relationship id -> URL
    compare: str = "xml"  # "xml": the parts' XML; "text": what Word shows (annexes)


def png(path: Path, width: int, height: int, rgb: tuple[int, int, int]) -> Path:
    """A plain PNG picture of one colour."""
    row = b"\x00" + bytes(rgb) * width
    raw = row * height

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


def build(case: Case, target: Path) -> Path:
    """The template of ``case``, written with python-docx to ``target``."""
    document = docx.Document()
    for text in case.paragraphs:
        document.add_paragraph(text)
    if case.table:
        table = document.add_table(rows=len(case.table), cols=max(map(len, case.table)))
        for row, texts in zip(table.rows, case.table, strict=True):
            for cell, text in zip(row.cells, texts, strict=False):
                cell.paragraphs[0].text = text
    for text in case.after:
        document.add_paragraph(text)
    section = document.sections[0]
    for margin, texts in ((section.header, case.header), (section.footer, case.footer)):
        if texts:
            margin.paragraphs[0].text = texts[0]
            for text in texts[1:]:
                margin.add_paragraph(text)
    if case.title:
        document.core_properties.title = case.title
    document.save(str(target))
    return target


def _image(engine: str, tpl: Any, path: Path, **size: Any) -> Any:
    if engine == "docxtpl":
        return InlineImage(tpl, str(path), **size)
    return Image.from_file(path).sized(size.get("width"), size.get("height"))


def _order(engine: str, tpl: Any, files: Path) -> dict[str, Any]:
    return {"customer_name": "Eric", "items": [
        {"desc": "Python interpreters", "qty": 2, "price": "FREE"},
        {"desc": "Django projects", "qty": 5403, "price": "FREE"},
        {"desc": "Guido", "qty": 1, "price": "100,000,000.00"}],
        "in_europe": True, "is_paid": False, "company_name": "The World Wide company",
        "total_price": "100,000,000.00"}


def _rich(engine: str, tpl: Any, files: Path) -> dict[str, Any]:
    text = RichText("a rich text", style="Strong")
    text.add(" with ")
    text.add("some italic", italic=True)
    text.add(" and a link to ")
    text.add("example.org", url_id=link_id("https://example.org/"))
    text.add("\nA second line & <more>")
    return {"example": text, "foobar": RichText("Foobar!", color="ff0000")}


def _pictures(engine: str, tpl: Any, files: Path) -> dict[str, Any]:
    logo = png(files / "logo.png", 60, 20, (0x30, 0x60, 0x90))
    frames = [png(files / f"frame{i}.png", 20 + 10 * i, 20, (0x90, 0x30 * i, 0x30))
              for i in range(3)]
    return {"myimage": _image(engine, tpl, logo, width=Mm(20)),
            "myimageratio": _image(engine, tpl, logo, width=Mm(30), height=Mm(60)),
            "frameworks": [{"image": _image(engine, tpl, frame, height=Mm(10)),
                            "desc": f"Framework {i}"} for i, frame in enumerate(frames)]}


def _header_pictures(engine: str, tpl: Any, files: Path) -> dict[str, Any]:
    logo = png(files / "header.png", 40, 40, (0x20, 0xA0, 0x20))
    return {"inline_image": _image(engine, tpl, logo, height=Mm(10)),
            "images": [_image(engine, tpl, logo, height=Mm(10)) for _ in range(3)]}


def _annex(engine: str, tpl: Any, files: Path) -> dict[str, Any]:
    annex = docx.Document()
    annex.add_heading("Annex: the statement", level=1)
    annex.add_paragraph("It has been ").add_run("dynamically").italic = True
    annex.add_paragraph("A second paragraph of the annex.")
    path = files / "annex.docx"
    annex.save(str(path))
    if engine == "docxtpl":
        return {"mysubdoc": tpl.new_subdoc(str(path))}
    return {"mysubdoc": Annex(path)}


CASES = [
    Case("order", ["Dear {{ customer_name }},"],
         [["Description", "Quantity", "Price"], ["{%tr for i in items %}", "", ""],
          ["{{ i.desc }}", "{{ i.qty }}", "{{ i.price }}"], ["{%tr endfor %}", "", ""],
          ["Total", "", "{{ total_price }}"]],
         ["{%p if is_paid %}", "Thank you for your payment.", "{%p else %}",
          "Please pay your order: {{ total_price }} {% if in_europe %}Euros{% else %}Dollars"
          "{% endif %}.", "{%p endif %}", "{{ company_name }}"], context=_order),
    Case("nested_for", ["{%p for dish in dishes %}",
                        "{{ dish.name }} : {% for ingredient in dish.ingredients %}"
                        "{{ ingredient }}, {% endfor %}", "{%p endfor %}"],
         context=lambda e, t, f: {"dishes": [
             {"name": "Pizza", "ingredients": ["bread", "tomato", "cheese"]},
             {"name": "Apple pie", "ingredients": ["flour", "apples"]}]}),
    Case("dynamic_table", [],
         [["", "{%tc for col in col_labels %}", "{{ col }}", "{%tc endfor %}"],
          ["{%tr for item in tbl_contents %}", "", "", ""],
          ["{{ item.label }}", "{%tc for col in item.cols %}", "{{ col }}", "{%tc endfor %}"],
          ["{%tr endfor %}", "", "", ""]],
         context=lambda e, t, f: {
             "col_labels": ["fruit", "vegetable", "stone", "thing"],
             "tbl_contents": [
                 {"label": "yellow", "cols": ["banana", "capsicum", "pyrite", "taxi"]},
                 {"label": "red", "cols": ["apple", "tomato", "cinnabar", "doubledecker"]}]}),
    Case("less_cells_after_loop", [],
         [["{%tc for x in [1, 2] %}", "Subheader {{ x }}", "{%tc endfor %}", "last"],
          ["a", "b", "c", "d"]]),
    Case("colspan", [], [["{% colspan labels|count %}Type of thing", "", ""],
                         ["{%tc for label in labels %}", "{{ label }}", "{%tc endfor %}"]],
         context=lambda e, t, f: {"labels": ["one", "two", "three", "four"]}),
    Case("vertical_merge", [],
         [["{%tr for i in items %}", "", ""], ["{% vm %}{{ category }}", "{{ i.desc }}",
                                               "{{ i.qty }}"], ["{%tr endfor %}", "", ""]],
         context=lambda e, t, f: {"category": "Book", "items": [
             {"desc": "Python", "qty": 2}, {"desc": "Django", "qty": 5}, {"desc": "Flask",
                                                                          "qty": 1}]}),
    Case("horizontal_merge", [],
         [["{%tc for x in [1, 2, 3, 4] %}", "{% hm %}Header 2", "{%tc endfor %}"],
          ["{%tc for x in [1, 2, 3, 4] %}", "Subheader {{ x }}", "{%tc endfor %}"]]),
    Case("cellbg", [], [["{%tr for a in alerts %}", ""],
                        ["{% cellbg a.bg %}{{ a.type }}", "{{ a.date }}"],
                        ["{%tr endfor %}", ""]],
         context=lambda e, t, f: {"alerts": [
             {"date": "2015-03-10", "type": "CRITICAL", "bg": "FF0000"},
             {"date": "2015-03-11", "type": "INFO", "bg": "8888FF"}]}),
    Case("comments", ["Comments {# like this one #} inline.", "{#p like this one #}",
                      "The end."],
         [["{#tr this row is removed #}", ""], ["kept", "row"]]),
    Case("merge_paragraph",
         ["My house is located {% if living_in_town %} in urban area {% else %} in countryside "
          "{% endif %} and I love it.", "My house is located", "{%- if living_in_town -%}",
          " in urban area", "{%- else -%}", " in countryside", "{%- endif -%}",
          " and I love it."],
         context=lambda e, t, f: {"living_in_town": True}),
    Case("escape", ["{_{ test }_} is how a tag is written; {_% if x %_} too.",
                    "{{ myescvar|e }}", "{{ listing }}", "{{ with_tabs }}",
                    "{{ '          ' }} Test spaces in template", "{{ spaces }} with a variable",
                    "The propeller is {{ tag_1 }} for spicy food {{ tag_2 }}."],
         context=lambda e, t, f: {
             "myescvar": 'It can be escaped with a "|e" filter too: < & >',
             "listing": "the listing\nwith\nsome lines\nand special chars: <>&",
             "with_tabs": "one\ttwo\tthree", "spaces": "          ",
             "tag_1": "looking", "tag_2": "too"}),
    Case("escape_auto", ["{% for k, v in iteritems(nested_dict) %}{{ k.capitalize() }}: "
                         "{{ v }} {% endfor %}", "{{ autoescape }}", "{{ autoescape_unicode }}"],
         context=lambda e, t, f: {
             "nested_dict": {"lt": "<", "amp": "&", "quot": '"', "gt": ">"},
             "autoescape": 'Escaped "str & ing"!',
             "autoescape_unicode": "This is an escaped <unicode> example \u4f60 & \u6211",
             "iteritems": lambda x: x.items()}),
    Case("richtext", ["Here is an {{r example }}.", "{%r if foobar %} {{r foobar }}COUCOU"
                      "{%r endif %}"], context=_rich,
         links={link_id("https://example.org/"): "https://example.org/"}),
    Case("header_footer", ["{{ title }}"], header=["{{ date }}", "{{r example }}"],
         footer=["{{ company_name }}"], context=lambda e, t, f: {
             **_rich(e, t, f), "title": "Header and footer test",
             "company_name": "The World Wide company", "date": "2016-03-17"},
         links={link_id("https://example.org/"): "https://example.org/"}),
    Case("header_footer_utf8", ["{{ title }}"], header=["날짜 : {{ date }}"],
         footer=["회사이름 : {{ company_name }}"], context=lambda e, t, f: {
             "title": "헤더와 푸터", "company_name": "세계적 회사", "date": "2016-03-17"}),
    Case("inline_image", ["{{ myimage }}", "Inline image: {{ myimage }} -> you can write just "
                          "after", "Image with a forced ratio: {{ myimageratio }}"],
         [["{%tr for f in frameworks %}", ""], ["{{ f.image }}", "{{ f.desc }}"],
          ["{%tr endfor %}", ""]], context=_pictures),
    Case("header_footer_inline_image", ["{%p for img in images %}", "{{ img }}",
                                        "{%p endfor %}"],
         header=["Here is an inline image in the header: {{ inline_image }}"],
         context=_header_pictures),
    Case("subdoc", ["Before the annex.", "{{p mysubdoc }}", "After the annex."],
         context=_annex, compare="text"),
    Case("doc_properties", ["{{ test }}", "The {_{ test }_} above comes from the data."],
         header=["{{ test }}"], title="{{ test }}",
         context=lambda e, t, f: {"test": "HelloWorld"}),
    Case("multi_rendering", ["{{ title }}", "{{ body }}"],
         context=lambda e, t, f: {"title": "Title ONE", "body": "The first body"}),
    Case("literals_with_ampersand", ['{{ "Q&A" }} and {{ "Terms & conditions" }}']),
    Case("template_error", ["I am a paragraph. {% if test_variable %}I am part of it, too."
                            "{% endif %} {% endif %}"],
         context=lambda e, t, f: {"test_variable": "x"}, refused="Encountered unknown tag"),
    Case("custom_jinja_filters", ["The filter modified string value is "
                                  "{{ base_value_string | my_filterA('Deric') }}"],
         context=lambda e, t, f: {"base_value_string": " Hello"},
         refused="No filter named 'my_filterA'"),
    Case("include", ['{% include "other.docx" %}'], refused="{% include %} is not supported"),
    Case("undefined_name", ["Hello {{ nickname }}"], refused="the template uses 'nickname'"),
]


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "docxtpl-features")
    folder.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        print(build(case, folder / f"{case.name}.docx"))
