"""Text from the data, made safe for WordprocessingML: escaping, and Markdown paragraphs as runs.

Body paragraphs are written in Markdown's inline syntax (``**bold**``, ``_italic_``,
``[text](url)``, and bare URLs) and become Word runs, with links as real ``w:hyperlink``
elements. Every other value is plain text: it is escaped, never interpreted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from markdown_it import MarkdownIt
from markupsafe import Markup

# XML 1.0 cannot hold most C0 control characters; copy-paste from PDFs and spreadsheets brings
# them in. Tab and newline are kept (they become a tab and a line break).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def strip_control_characters(text: str) -> str:
    """``text`` without the characters an XML document cannot contain."""
    return _NOT_XML.sub("", text)


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds characters that :func:`strip_control_characters` removes."""
    return bool(_NOT_XML.search(text))


def xml_text(value: object) -> Markup:
    """Any value as literal text inside a ``w:t``: escaped, control characters removed."""
    return Markup(escape(strip_control_characters(str(value)), {'"': "&quot;"}))


@dataclass
class Hyperlinks:
    """The external links of one letter, each with the relationship id its document gives it."""

    urls: dict[str, str] = field(default_factory=dict)  # relationship id -> URL

    def id_for(self, url: str) -> str:
        """The relationship id for a URL, allocating one the first time it is seen."""
        for rel_id, known in self.urls.items():
            if known == url:
                return rel_id
        rel_id = f"rIdDrafterLink{len(self.urls) + 1}"
        self.urls[rel_id] = url
        return rel_id


def _parser() -> MarkdownIt:
    rules = ["emphasis", "link", "linkify", "autolink", "newline", "escape", "backticks"]
    return MarkdownIt("zero", {"linkify": True}).enable(rules)


@dataclass
class ParagraphWriter:
    """Writes Markdown paragraphs as runs of one letter, collecting the links they hold."""

    links: Hyperlinks = field(default_factory=Hyperlinks)
    right_to_left: bool = False
    _markdown: MarkdownIt = field(default_factory=_parser, repr=False)

    def runs(self, markdown: str) -> Markup:
        """The runs (``w:r``/``w:hyperlink`` XML) of one Markdown paragraph."""
        tokens = self._markdown.parseInline(strip_control_characters(markdown))
        xml: list[str] = []
        bold = italic = 0
        link: str | None = None
        for token in tokens[0].children or []:
            kind = token.type
            if kind == "strong_open":
                bold += 1
            elif kind == "strong_close":
                bold -= 1
            elif kind == "em_open":
                italic += 1
            elif kind == "em_close":
                italic -= 1
            elif kind == "link_open":
                link = self.links.id_for(str(token.attrs["href"]))
                xml.append(f'<w:hyperlink r:id="{link}" w:history="1">')
            elif kind == "link_close":
                link = None
                xml.append("</w:hyperlink>")
            elif kind in ("softbreak", "hardbreak"):
                xml.append(f"<w:r>{self._properties(bold, italic, link)}<w:br/></w:r>")
            elif kind in ("text", "code_inline") and token.content:
                xml.append(f"<w:r>{self._properties(bold, italic, link)}"
                           f'<w:t xml:space="preserve">{xml_text(token.content)}</w:t></w:r>')
        return Markup("".join(xml))

    def _properties(self, bold: int, italic: int, link: str | None) -> str:
        props = '<w:rStyle w:val="Hyperlink"/>' if link else ""
        props += "<w:b/><w:bCs/>" if bold else ""
        props += "<w:i/><w:iCs/>" if italic else ""
        props += "<w:rtl/>" if self.right_to_left else ""
        return f"<w:rPr>{props}</w:rPr>" if props else ""
