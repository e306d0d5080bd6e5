"""The parts and paragraphs of a DOCX template, as an editor sees them, and their Jinja source.

One home for what every reader of a template must agree on: which archive members hold text an
editor writes tags in (:data:`TEMPLATED_PARTS`), what the editor calls each (:func:`part_label`),
where its paragraphs begin (:func:`split_paragraphs`; in a rendered part,
:func:`row_of_paragraphs`), the text Word shows of a paragraph (:func:`visible_text`: tracked
deletions and field codes are not shown), the characters Word's AutoCorrect puts in tags
(:func:`normalize_tag_characters`), and a part's Jinja source with docxtpl's own tag
conventions (:func:`jinja_source`).

Line n + 1 of a part's Jinja source is its paragraph n, so a Jinja line number is always the
paragraph number an editor counts; rendering errors and ``drafter check`` quote the same text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from docxtpl import DocxTemplate
from lxml import etree

# The body, headers, footers and notes: the parts whose text an editor writes; and the
# document's properties (its title may hold a tag, as docxtpl renders it).
TEMPLATED_PARTS = re.compile(r"word/(document|header\d*|footer\d*|footnotes|endnotes)\.xml"
                             r"|docProps/core\.xml")


def is_templated(name: str) -> bool:
    """Whether the archive member ``name`` holds text with tags (body, headers, footers, notes)."""
    return bool(TEMPLATED_PARTS.fullmatch(name))


def templated_parts(members: Mapping[str, bytes]) -> Iterator[tuple[str, str, bytes]]:
    """The templated parts of an archive's members: name, label and content of each."""
    for name, data in members.items():
        if is_templated(name):
            yield name, part_label(name), data


def part_label(name: str) -> str:
    """What an editor calls a part: body, header, footer, footnotes, endnotes, properties."""
    if name == "docProps/core.xml":
        return "document properties"
    stem = re.sub(r"\d+$", "", name.removeprefix("word/").removesuffix(".xml"))
    return "body" if stem == "document" else stem


# Word's AutoCorrect quotes and its non-breaking spaces, each with the plain character Jinja reads.
TAG_CHARACTERS = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "\u00a0": " ",
                                "\u202f": " "})
_TAG_SPAN = re.compile(r"\{[{%](?:(?!</w:p>).)*?[}%]\}", re.DOTALL)


def normalize_tag_characters(xml: str) -> str:
    """Inside tags, Word's AutoCorrect quotes and non-breaking spaces made plain again.

    Word turns "…" into “…” and puts non-breaking spaces before some punctuation; Jinja reads
    neither. Text outside tags is left as written.
    """
    return _TAG_SPAN.sub(lambda m: m.group(0).translate(TAG_CHARACTERS), xml)


def split_paragraphs(part: bytes) -> list[str]:
    """A Word XML part, one paragraph a line: line n (from 1) is paragraph n and the markup up
    to the next paragraph; line 0 is what precedes the first paragraph.

    Raises :class:`lxml.etree.XMLSyntaxError` when the part is not well-formed XML.
    """
    xml = etree.tostring(etree.fromstring(part), encoding="unicode")
    return re.sub(r"<w:p([ >])", r"\n<w:p\1", xml).split("\n")


_TEXT = re.compile(r"<w:t(?: [^>]*)?>(.*?)</w:t>", re.DOTALL)


def visible_text(xml: str) -> str:
    """The text Word shows of a paragraph's XML: its ``w:t`` elements, ends trimmed.

    Deleted text of tracked changes (``w:delText``) and field codes (``w:instrText``) are not
    shown, so they are not part of it; a field's shown result is.
    """
    return html.unescape("".join(_TEXT.findall(xml))).strip()


def shortened(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in "…" when it was longer."""
    return text if len(text) <= limit else text[:limit - 3] + "…"


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of a templated part, where an editor finds it."""

    part: str  # the part's label: body, header, footer…
    number: int  # 1-based, within the part
    text: str  # what Word shows (:func:`visible_text`)
    in_table: bool
    xml: str = ""  # the paragraph's WordprocessingML, as Word saved it
    row: int | None = None  # the table row it sits in, numbered within the part
    cell: int | None = None  # the table cell it sits in, numbered within the part


def paragraphs(label: str, lines: list[str]) -> Iterator[Paragraph]:
    """The paragraphs of a part split by :func:`split_paragraphs`, with the table row and cell
    each sits in."""
    # The ends and starts of cells, rows and tables are read after the paragraph before them.
    stacks: dict[str, list[int]] = {"tbl": [], "tr": [], "tc": []}  # what is open, innermost last
    counts = {"tbl": 0, "tr": 0, "tc": 0}
    for number, line in enumerate(lines):
        if number:
            rows, cells = stacks["tr"], stacks["tc"]
            yield Paragraph(label, number, visible_text(line), bool(stacks["tbl"]), line,
                            rows[-1] if rows else None, cells[-1] if cells else None)
        for closing, element in re.findall(r"<(/?)w:(tbl|tr|tc)[ >]", line):
            if closing:
                if stacks[element]:
                    stacks[element].pop()
            else:
                counts[element] += 1
                stacks[element].append(counts[element])


# Inside a tag, the text is Jinja's, not XML's: "Q&amp;A" in the file is the phrase "Q&A".
_IN_TAG = re.compile(r"(?<=\{[{%])(.*?)(?=[}%]\})")
_ENTITY = re.compile(r"&(amp|quot|apos|lt|gt|#[0-9]+|#x[0-9a-fA-F]+);")
_ENTITIES = {"amp": "&", "quot": '"', "apos": "'", "lt": "<", "gt": ">"}
# docxtpl's escapes: {_{ … }_} and {_% … %_} print the braces of a tag instead of running it.
ESCAPES = {"{_{": "{{", "}_}": "}}", "{_%": "{%", "%_}": "%}"}
_ESCAPE = re.compile("|".join(re.escape(mark) for mark in ESCAPES))


def _entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name.startswith("#"):
        code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
        return chr(code) if 0 < code < 0x110000 else match.group(0)
    return _ENTITIES[name]


def unescape_tags(xml: str) -> str:
    """The XML character references inside tags (``&amp;``, ``&quot;``, ``&#39;``) as the
    characters they stand for, which is what Jinja must read; text outside tags is left."""
    return _IN_TAG.sub(lambda m: _ENTITY.sub(_entity, m.group(0)), xml)


def docxtpl_source(xml: str) -> str:
    """Word XML as Jinja source: tags made plain and docxtpl's conventions (``{%p %}``,
    ``{%tr %}``, ``{{r }}``, tags split across runs) turned into plain Jinja; docxtpl's
    escapes ``{_{ … }_}`` print literal braces."""
    helper = DocxTemplate(None)  # only for docxtpl's XML patching, which keeps no state
    source = unescape_tags(helper.patch_xml(normalize_tag_characters(xml)))
    # In the template's own text, never in data: data holding "{_{" is printed as it is.
    return _ESCAPE.sub(lambda m: '{{ "' + ESCAPES[m.group(0)] + '" }}', source)


def jinja_source(part: bytes) -> tuple[str, list[str]]:
    """A Word XML part as Jinja source, and the visible text of each of its lines.

    Line n + 1 of the source is the part's paragraph n, *before* docxtpl removes the paragraphs
    of ``{%p %}`` tags: so a Jinja line number is always the paragraph number an editor counts.
    """
    lines = split_paragraphs(part)
    return docxtpl_source("\n".join(lines)), [visible_text(line) for line in lines]


def word_xml(rendered: str) -> str:
    """A part's rendered Jinja source as Word XML again: the line breaks :func:`jinja_source`
    put between paragraphs removed, and tabs and line breaks in values as Word's own marks."""
    xml = _without_paragraph_breaks(rendered)
    # docxtpl turns "{_{" into "{{" here, in data too; drafter did so in the template's source
    # (docxtpl_source), so that data containing "{_{" comes out literally.
    marks = sorted(_positions(xml, _LISTING_MARKS))  # tabs and line breaks in values
    if marks:
        # docxtpl's listing goes paragraph by paragraph (the same paragraphs as here): given
        # only the few that hold a mark, it makes the same XML without reading the others.
        helper = DocxTemplate(None)
        out, done, mark = [], 0, 0
        for paragraph in _PARAGRAPH.finditer(xml):
            start, end = paragraph.span()
            while mark < len(marks) and marks[mark] < start:
                mark += 1
            if mark < len(marks) and marks[mark] < end:
                out += [xml[done:start], helper.resolve_listing(paragraph.group(0))]
                done = end
        xml = "".join([*out, xml[done:]])
    return xml


def _positions(text: str, characters: str) -> Iterator[int]:
    """Where each of ``characters`` is in ``text`` (str.find: faster than a regex's class)."""
    for character in characters:
        found = text.find(character)
        while found != -1:
            yield found
            found = text.find(character, found + 1)


_PARAGRAPH_STARTS = ("<w:p>", "<w:p ", "<w:p/")


def row_of_paragraphs(xml: str) -> tuple[str, list[str], str] | None:
    """A part's XML as the markup before its paragraphs, the paragraphs and the markup after
    them, when it is a row of paragraphs one after another, none in another (no table, text
    box or empty ``<w:p/>``); else None."""
    first = min((found for found in (xml.find(start) for start in _PARAGRAPH_STARTS)
                 if found != -1), default=-1)
    if first == -1:
        return None
    paragraphs, start = [], first
    while xml.startswith(_PARAGRAPH_STARTS[:2], start):
        end = xml.find("</w:p>", start)
        if end == -1:
            return None
        paragraphs.append(xml[start:end + 6])
        start = end + 6
    if sum(xml.count(start) for start in _PARAGRAPH_STARTS) != len(paragraphs):
        return None
    return xml[:first], paragraphs, xml[start:]


def _without_paragraph_breaks(rendered: str) -> str:
    """``rendered`` without the line breaks before an element (``<w:…``, ``</w:…``), as
    ``re.sub(r"\n+(?=<w:|</w:(?!t>))", "", rendered)`` would make it, line by line: text
    inside w:t is always followed by </w:t>, so a data value's own line breaks stay."""
    lines = rendered.split("\n")
    out = [lines[0]]
    breaks = 0  # the line breaks before the line, past the first
    for line in lines[1:]:
        if not line:
            breaks += 1
            continue
        if not (line.startswith(("<w:", "</w:")) and not line.startswith("</w:t>")):
            out.append("\n" * (breaks + 1))
        out.append(line)
        breaks = 0
    if breaks:
        out.append("\n" * breaks)
    return "".join(out)


_LISTING_MARKS = "\t\n\a\f"
# A paragraph as docxtpl's resolve_listing finds it (r"<w:p(?: [^>]*)?>.*?</w:p>", re.DOTALL:
# to the first end of a paragraph), written so that Python's re reads it faster.
_PARAGRAPH = re.compile(r"<w:p(?: [^>]*)?>[^<]*(?:<(?!/w:p>)[^<]*)*</w:p>")
