"""Builds the built-in template ``advocacy-letter/letter.docx`` with python-docx.

The committed DOCX is what editors open and change in Word or LibreOffice; this script is how it
was first made, kept so that a change to the layout can be reviewed as code. Run it with
``python templates/build.py`` after changing it, and commit both.

Layout, modeled on the source letter: letterhead (with the sender's logo, when the data has one)
· date · our and their reference · delivery line · recipient block · "Re:" line · salutation ·
body · close · signature block · enclosures · CC block with each person's address and
Tel/Fax/Email lines. From page 2 on, a continuation header names the recipient, the date and
the page ("Page 2 of 3").

``urgent-appeal/letter.docx`` (:func:`build_urgent_appeal`) starts from the advocacy letter's
styles: a short appeal with a reference line, a table of the people concerned (one row each,
a ``{%tr %}`` loop) and enclosures.

Every character property is set for both kinds of text Word distinguishes: bold, italic and size
for Latin and East Asian text (``w:b``, ``w:i``, ``w:sz``) and their complex-script twins for
Arabic, Hebrew, Devanagari, Thai… (``w:bCs``, ``w:iCs``, ``w:szCs``). Blocks that must not be torn
apart keep their lines together (a CC person, the signature), and only the closing holds on to
what follows it, so a long CC list never drags the signature onto the next page.
"""

from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.styles.style import ParagraphStyle
from docx.text.paragraph import Paragraph

HERE = Path(__file__).parent
BODY_FONT = "Calibri"  # LibreOffice uses the metric-compatible Carlito: same line breaks as Word
EAST_ASIAN_FONT = "Noto Sans CJK SC"  # drafter picks the SC/TC/KR/JP face for the letter's script
COMPLEX_SCRIPT_FONT = "Noto Naskh Arabic"  # the usual face of formal Arabic letters
GREY = RGBColor(0x55, 0x55, 0x55)


def paragraph_style(doc: Document, name: str, *, size: float | None = None,  # type: ignore[valid-type]
                    bold: bool = False, before: float = 0, after: float = 0,
                    align: WD_ALIGN_PARAGRAPH | None = None, keep_with_next: bool = False,
                    keep_together: bool = False, color: RGBColor | None = None
                    ) -> ParagraphStyle:
    """A named paragraph style based on Normal, so an editor can restyle it in one place."""
    style = doc.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)  # type: ignore[attr-defined]
    style.base_style = doc.styles["Normal"]  # type: ignore[attr-defined]
    style.quick_style = True
    font = style.font
    if size:
        font.size = Pt(size)
    font.bold = bold or None
    if color is not None:
        font.color.rgb = color
    fmt = style.paragraph_format
    fmt.space_before, fmt.space_after = Pt(before), Pt(after)
    fmt.keep_with_next = keep_with_next or None
    fmt.keep_together = keep_together or None
    if align is not None:
        fmt.alignment = align
    return style


def set_fonts(element_rpr: object, ascii_font: str, east_asian: str, complex_script: str) -> None:
    """Name the fonts for Latin, East Asian and complex (Arabic, Hebrew…) text."""
    fonts = element_rpr.find(qn("w:rFonts"))  # type: ignore[attr-defined]
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        element_rpr.insert(0, fonts)  # type: ignore[attr-defined]
    for attribute in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attribute), None)
    fonts.set(qn("w:ascii"), ascii_font)
    fonts.set(qn("w:hAnsi"), ascii_font)
    fonts.set(qn("w:eastAsia"), east_asian)
    fonts.set(qn("w:cs"), complex_script)


# Each Latin/East Asian character property and its complex-script twin, in schema order.
COMPLEX_SCRIPT_TWINS = {"w:b": "w:bCs", "w:i": "w:iCs", "w:sz": "w:szCs"}


def add_complex_script_twins(element: object) -> None:
    """Give every bold, italic and size under ``element`` its complex-script twin, so Arabic,
    Hebrew, Devanagari and Thai text is as bold and as large as the Latin text beside it."""
    for properties in element.iter(qn("w:rPr")):  # type: ignore[attr-defined]
        for latin, complex_script in COMPLEX_SCRIPT_TWINS.items():
            setting = properties.find(qn(latin))
            if setting is None or properties.find(qn(complex_script)) is not None:
                continue
            twin = OxmlElement(complex_script)
            for name, value in setting.attrib.items():
                twin.set(name, value)
            setting.addnext(twin)


def add(doc: Document, text: str, style: str) -> Paragraph:  # type: ignore[valid-type]
    """A paragraph of the template; tags like ``{%p for … %}`` stand alone in theirs."""
    return doc.add_paragraph(text, style=style)  # type: ignore[attr-defined, no-any-return]


def loop(doc: Document, header: str, line: str, style: str) -> None:  # type: ignore[valid-type]
    """One paragraph per item: a docxtpl paragraph loop around a single line."""
    add(doc, f"{{%p for line in {header} %}}", style)
    add(doc, line, style)
    add(doc, "{%p endfor %}", style)


def formal_styles(doc: Document) -> None:  # type: ignore[valid-type]
    """The styles of the parts formal letters add: references, delivery line, enclosures, the
    continuation header, and the urgent appeal's title and table."""
    paragraph_style(doc, "Reference", size=10)
    paragraph_style(doc, "Delivery", size=10, bold=True, after=8, keep_with_next=True)
    paragraph_style(doc, "Enclosures", size=10, before=18, keep_with_next=True)
    paragraph_style(doc, "Continuation", size=9, color=GREY)
    paragraph_style(doc, "Appeal Title", size=13, bold=True, before=12, after=10)
    paragraph_style(doc, "Table Text", size=10)
    paragraph_style(doc, "Case Line", size=10, after=12)
    paragraph_style(doc, "After Table", before=10, after=10)


def runs(paragraph: Paragraph, *pieces: str) -> None:
    """Pieces of a paragraph, each in a run of its own: a ``{{r … }}`` tag replaces its whole
    run, so the text beside it must be in others."""
    for piece in pieces:
        paragraph.add_run(piece)




# Per-language layouts: the paragraph styles whose alignment differs from the default layout.
# Japanese letters put the date at the right, centre the subject and set 敬具 at the right.
LAYOUTS: dict[str, dict[str, WD_ALIGN_PARAGRAPH]] = {
    "": {},
    "ja": {"Letter Date": WD_ALIGN_PARAGRAPH.RIGHT, "Subject": WD_ALIGN_PARAGRAPH.CENTER,
           "Closing": WD_ALIGN_PARAGRAPH.RIGHT},
}


def build(target: Path, layout: str = "") -> None:
    """Write the template; ``layout`` names a per-language variant of :data:`LAYOUTS`."""
    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name = BODY_FONT
    normal.font.size = Pt(11)
    set_fonts(normal.element.get_or_add_rPr(), BODY_FONT, EAST_ASIAN_FONT, COMPLEX_SCRIPT_FONT)
    normal.paragraph_format.space_after = Pt(0)
    normal.paragraph_format.line_spacing = 1.08
    normal.paragraph_format.widow_control = True
    # No automatic gap between CJK and Latin/digits: "2015年11月24日" stays one word in the PDF's
    # text (copy-paste, search, screen readers) instead of "2015 年 11 月 24 日".
    paragraph_properties = normal.element.get_or_add_pPr()
    # East Asian line breaking: kinsoku keeps closing punctuation off a line's start and opening
    # quotes off its end; wordWrap keeps Korean words (and Latin words in CJK text) whole, as
    # Word otherwise breaks Hangul between any two syllables.
    for name, value in (("w:kinsoku", "1"), ("w:wordWrap", "1"), ("w:autoSpaceDE", "0"),
                        ("w:autoSpaceDN", "0")):
        setting = OxmlElement(name)
        setting.set(qn("w:val"), value)
        paragraph_properties.insert_element_before(
            setting, "w:bidi", "w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind",
            "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap", "w:jc")
    defaults = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(
        qn("w:rPr"))
    set_fonts(defaults, BODY_FONT, EAST_ASIAN_FONT, COMPLEX_SCRIPT_FONT)

    hyperlink = doc.styles.add_style("Hyperlink", WD_STYLE_TYPE.CHARACTER)
    hyperlink.font.color.rgb = RGBColor(0x05, 0x63, 0xC1)
    hyperlink.font.underline = True

    paragraph_style(doc, "Letterhead Name", size=14, bold=True, align=WD_ALIGN_PARAGRAPH.RIGHT)
    paragraph_style(doc, "Letterhead", size=9, align=WD_ALIGN_PARAGRAPH.RIGHT, color=GREY)
    paragraph_style(doc, "Letter Date", before=30, after=18)
    paragraph_style(doc, "Recipient", keep_with_next=True, keep_together=True)
    paragraph_style(doc, "Subject", bold=True, before=18, after=12)
    paragraph_style(doc, "Salutation", after=10)
    paragraph_style(doc, "Letter Body", after=10)
    paragraph_style(doc, "Closing", before=4, after=30, keep_with_next=True)
    # The signature block is one paragraph (its lines joined by line breaks) kept whole; it
    # holds on to nothing after it: the CC list may start on the next page.
    paragraph_style(doc, "Signature Block", keep_together=True)
    paragraph_style(doc, "CC Heading", before=18, after=8, keep_with_next=True)
    paragraph_style(doc, "CC Person", keep_with_next=True, keep_together=True)
    paragraph_style(doc, "CC Separator", after=0)
    paragraph_style(doc, "Page Number", size=9, align=WD_ALIGN_PARAGRAPH.CENTER, color=GREY)
    formal_styles(doc)
    for name, alignment in LAYOUTS[layout].items():
        doc.styles[name].paragraph_format.alignment = alignment

    section = doc.sections[0]
    section.top_margin = section.bottom_margin = Cm(2.2)
    section.left_margin = section.right_margin = Cm(2.5)
    section.header_distance = section.footer_distance = Cm(1.2)
    section.different_first_page_header_footer = True  # no page number on page 1
    continuation = section.header.paragraphs[0]  # page 2 on: recipient · date · page
    continuation.style = doc.styles["Continuation"]
    runs(continuation, "{{ recipient.full_name }}", " · ", "{{ date | format_date }}", " · ",
         "{{r page_x_of_y }}")

    add(doc, "{%p if sender.logo %}", "Letterhead")
    add(doc, '{{ sender.logo | image(height="1.5cm") }}', "Letterhead")
    add(doc, "{%p endif %}", "Letterhead")
    add(doc, "{{ sender.name }}", "Letterhead Name")
    loop(doc, "sender.address_lines + sender.contact_lines", "{{ line }}", "Letterhead")
    add(doc, "{%p if sender.website %}", "Letterhead")
    add(doc, "{{ sender.website }}", "Letterhead")
    add(doc, "{%p endif %}", "Letterhead")

    add(doc, "{{ date | format_date }}", "Letter Date")
    references(doc)
    add(doc, "{%p if delivery %}", "Delivery")
    add(doc, "{{ delivery }}", "Delivery")
    add(doc, "{%p endif %}", "Delivery")
    loop(doc, "recipient.lines + recipient.contact_lines", "{{ line }}", "Recipient")
    add(doc, '{{ _("Re: %(subject)s", subject=subject) }}', "Subject")
    add(doc, "{{ salutation }}", "Salutation")
    add(doc, "{%p for paragraph in body %}", "Letter Body")
    add(doc, "{{r paragraph }}", "Letter Body")
    add(doc, "{%p endfor %}", "Letter Body")
    add(doc, "{{ close }}", "Closing")
    add(doc, "{%p if signatory.signature %}", "Signature Block")
    add(doc, "{{r signatory.signature }}", "Signature Block").paragraph_format.keep_with_next = True
    add(doc, "{%p endif %}", "Signature Block")
    add(doc, '{{ signatory.lines | join("\\n") }}', "Signature Block")
    enclosures(doc)

    add(doc, "{%p if cc %}", "CC Heading")
    add(doc, '{{ _("CC:") }}', "CC Heading")
    add(doc, "{%p for person in cc %}", "CC Person")
    loop(doc, "person.lines + person.contact_lines", "{{ line }}", "CC Person")
    add(doc, "{%p if not loop.last %}", "CC Separator")
    add(doc, "", "CC Separator")
    add(doc, "{%p endif %}", "CC Separator")
    add(doc, "{%p endfor %}", "CC Person")
    add(doc, "{%p endif %}", "CC Heading")

    add_complex_script_twins(doc.styles.element)

    props = doc.core_properties
    props.title, props.author, props.subject = "Advocacy letter", "drafter", ""
    props.keywords = "drafter template"  # the template's own: kept in every letter
    props.comments = ""
    target.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(target))


def references(doc: Document) -> None:  # type: ignore[valid-type]
    """"Our reference: …" and "Your reference: …", each when the letter has it."""
    for field, phrase in (("reference", "Our reference: %(reference)s"),
                          ("their_reference", "Your reference: %(reference)s")):
        add(doc, f"{{%p if {field} %}}", "Reference")
        add(doc, f'{{{{ _("{phrase}", reference={field}) }}}}', "Reference")
        add(doc, "{%p endif %}", "Reference")


def enclosures(doc: Document) -> None:  # type: ignore[valid-type]
    """The enclosures under the signature: a heading, then one line each."""
    add(doc, "{%p if enclosures %}", "Enclosures")
    add(doc, '{{ ngettext("Enclosure:", "Enclosures:", enclosures | length) }}', "Enclosures")
    loop(doc, "enclosures", "{{ line }}", "Reference")
    add(doc, "{%p endif %}", "Enclosures")


def build_urgent_appeal(target: Path, styles_from: Path) -> None:
    """The urgent appeal: the advocacy letter's styles and page, a content of its own."""
    doc = Document(str(styles_from))
    body = doc.element.body
    for element in list(body):
        if element.tag != qn("w:sectPr"):
            body.remove(element)
    section = doc.sections[0]
    header = section.header.paragraphs[0]
    for run in list(header.runs):
        run._element.getparent().remove(run._element)
    runs(header, "{{ _(\"Urgent appeal\") }}", " · ", "{{ case_number }}", " · ",
         "{{r page_x_of_y }}")

    add(doc, "{{ sender.name }}", "Letterhead Name")
    add(doc, '{{ (sender.address_lines + sender.contact_lines) | join(" · ") }}', "Letterhead")
    add(doc, "{{ date | format_date }}", "Letter Date")
    references(doc)
    add(doc, "{%p if delivery %}", "Delivery")
    add(doc, "{{ delivery }}", "Delivery")
    add(doc, "{%p endif %}", "Delivery")
    loop(doc, "recipient.lines + recipient.contact_lines", "{{ line }}", "Recipient")
    add(doc, '{{ _("URGENT APPEAL: %(subject)s", subject=subject) }}', "Appeal Title")
    add(doc, '{{ _("Case: %(case)s", case=case_number) }}', "Case Line")
    add(doc, "{{ salutation }}", "Salutation")
    add(doc, "{%p for paragraph in body %}", "Letter Body")
    add(doc, "{{r paragraph }}", "Letter Body")
    add(doc, "{%p endfor %}", "Letter Body")

    table = doc.add_table(rows=3, cols=3)
    table.style = doc.styles["Table Grid"]
    headings = ('{{ _("Name") }}', '{{ _("Detained on") }}', '{{ _("Place of detention") }}')
    for cell, text in zip(table.rows[0].cells, headings, strict=True):
        cell.paragraphs[0].text = text
        cell.paragraphs[0].style = doc.styles["Table Text"]
        cell.paragraphs[0].runs[0].bold = True
    table.rows[1].cells[0].paragraphs[0].text = "{%tr for person in people %}"
    row = ("{{ person.name }}", "{{ person.detained_on | format_date }}", "{{ person.place }}")
    for cell, text in zip(table.rows[2].cells, row, strict=True):
        cell.paragraphs[0].text = text
        cell.paragraphs[0].style = doc.styles["Table Text"]
    closing = table.add_row()
    closing.cells[0].paragraphs[0].text = "{%tr endfor %}"

    add(doc, "{%p if deadline %}", "After Table")
    add(doc, '{{ _("We ask for your answer by %(deadline)s.", deadline=deadline | '
        'format_date) }}', "After Table")
    add(doc, "{%p endif %}", "After Table")
    add(doc, "{{ close }}", "Closing")
    add(doc, '{{ signatory.lines | join("\\n") }}', "Signature Block")
    enclosures(doc)
    add(doc, "{%p if cc %}", "CC Heading")
    add(doc, '{{ _("CC:") }}', "CC Heading")
    add(doc, "{%p for person in cc %}", "CC Person")
    add(doc, "{{ person.full_name }}", "CC Person")
    add(doc, "{%p endfor %}", "CC Person")
    add(doc, "{%p endif %}", "CC Heading")

    props = doc.core_properties
    props.title, props.subject, props.keywords = "Urgent appeal", "", "drafter template"
    props.comments = ""
    doc.save(str(target))


if __name__ == "__main__":
    for variant in LAYOUTS:
        path = HERE / "advocacy-letter" / (f"letter.{variant}.docx" if variant else "letter.docx")
        build(path, variant)
        print(f"wrote {path}")
    appeal = HERE / "urgent-appeal" / "letter.docx"
    build_urgent_appeal(appeal, HERE / "advocacy-letter" / "letter.docx")
    print(f"wrote {appeal}")
