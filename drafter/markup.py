"""Text from the data, made safe for WordprocessingML: escaping, and Markdown paragraphs as runs.

Body paragraphs are written in Markdown's inline syntax (``**bold**``, ``_italic_``,
``[text](url)``, and bare URLs) and become Word runs, with links as real ``w:hyperlink``
elements. Only absolute web and mail addresses (``http://``, ``https://``, ``mailto:``; a bare
``www.…`` is ``http://www.…``) become links: any other target (``report.pdf``, ``file:``,
``javascript:``, ``data:``, ``ftp:``, ``//host``) would point into the sender's folders, or
nowhere, from the PDF, so its text is printed without a link (:func:`plain_links` says which, for
a warning). Every other value is plain text: it is escaped, never interpreted.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

# XML 1.0 cannot hold most C0 control characters, U+FFFE, U+FFFF or lone surrogates (which a
# YAML escape such as "\ud800" makes); copy-paste from PDFs and spreadsheets brings them in. The
# C1 controls (and DEL) are legal XML but invisible junk from mis-decoded text; YAML refuses them.
# Tab and line breaks are kept (they become a tab and a line break); NEL is a YAML line break.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff"
                      "\ufffe\uffff]")
_LINE_BREAK = re.compile("\r\n?")


def strip_control_characters(text: str) -> str:
    """``text`` without invisible control characters: those an XML document cannot contain,
    and C1 controls; tab and line breaks stay."""
    return _NOT_XML.sub("", text)


def find_control_characters(text: str) -> list[int]:
    """Where in ``text`` the characters :func:`strip_control_characters` removes are."""
    return [match.start() for match in _NOT_XML.finditer(text)]


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds characters that :func:`strip_control_characters` removes."""
    return bool(_NOT_XML.search(text))


def xml_text(value: object) -> Markup:
    """Any value as literal text inside a ``w:t``: escaped, control characters removed, and
    every line break (LF, CR LF or CR) one LF, which becomes a ``w:br``."""
    if type(value) is str and len(value) <= 256:  # a letter's short texts, most repeated
        return _short_xml_text(value)
    return _escaped(str(value))


@functools.lru_cache(maxsize=4096)
def _short_xml_text(text: str) -> Markup:
    return _escaped(text)


def _escaped(text: str) -> Markup:
    text = _LINE_BREAK.sub("\n", strip_control_characters(text))
    # html's, not xml.sax's escape: the same characters, without importing urllib.request
    return Markup(html.escape(text, quote=False).replace('"', "&quot;"))


_WEB_LINK = re.compile(r"(?:https?://[^/?#\s\\]|mailto:[^\s/])", re.IGNORECASE)


def is_web_link(url: str) -> bool:
    """Whether a link's target may be a link in a letter: an absolute ``http(s)://`` address
    with a host, or a ``mailto:`` address."""
    return bool(_WEB_LINK.match(url))


def link_id(url: str) -> str:
    """The relationship id of a link: derived from the URL, so the same paragraph always gives
    the same XML (and can be rendered once for a whole merge)."""
    return "rIdLink" + hashlib.sha1(url.encode("utf-8")).hexdigest()[:16]


@dataclass
class Hyperlinks:
    """The external links of one letter, by relationship id."""

    urls: dict[str, str] = field(default_factory=dict)  # relationship id -> URL

    def add(self, url: str) -> str:
        """Note a link; returns its relationship id."""
        rel_id = link_id(url)
        self.urls[rel_id] = url
        return rel_id


# Half-width forms that close a CJK phrase as their full-width twins do: ｡ ｢ ｣ ､
_HALFWIDTH_CJK_PUNCTUATION = frozenset("\uff61\uff62\uff63\uff64")


def url_end(text: str) -> int:
    """Where a bare URL written in running text ends: before the first wide character.

    Chinese, Japanese and Korean put no space after a URL (「https://…/ja」をご覧ください。,
    请见https://…。); a full-width or wide character (an ideograph, kana, hangul, 。、「」（）
    and the other full-width punctuation) is never part of a URL written in Latin letters. A
    link whose address has such characters is written ``<…>`` or ``[text](…)``.
    """
    for i, char in enumerate(text):
        if (unicodedata.east_asian_width(char) in ("W", "F")
                or char in _HALFWIDTH_CJK_PUNCTUATION):
            return i
    return len(text)


def _parser() -> MarkdownIt:
    rules = ["emphasis", "link", "linkify", "autolink", "newline", "escape", "backticks"]
    return MarkdownIt("zero", {"linkify": True}).enable(rules)


_Value = TypeVar("_Value")


def _remembered(memo: dict[str, _Value], markdown: str,
                make: Callable[[str], _Value]) -> _Value:
    """What ``make`` gives for a paragraph, made once while ``memo`` holds it; ``memo`` is
    emptied past 10,000 paragraphs (a merge where every letter's body differs)."""
    if markdown not in memo:
        if len(memo) > 10_000:
            memo.clear()
        memo[markdown] = make(markdown)
    return memo[markdown]


@dataclass
class ParagraphWriter:
    """Writes Markdown paragraphs as Word runs; remembers each paragraph it has written, so a
    merge renders the shared body once rather than once per letter."""

    _markdown: MarkdownIt = field(default_factory=_parser, repr=False)
    _written: dict[str, tuple[Markup, tuple[str, ...]]] = field(default_factory=dict, repr=False)
    _plain: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    def runs(self, markdown: str) -> tuple[Markup, tuple[str, ...]]:
        """The runs (``w:r``/``w:hyperlink`` XML) of one Markdown paragraph, and its URLs."""
        return _remembered(self._written, markdown, self._convert)

    def _inline(self, markdown: str) -> list[Token]:
        """The inline tokens of a paragraph; a bare URL ends where CJK text follows it."""
        tokens = list(self._markdown.parseInline(markdown)[0].children or [])
        out: list[Token] = []
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if (token.type == "link_open" and token.markup == "linkify"
                    and i + 2 < len(tokens) and tokens[i + 1].type == "text"):
                text = tokens[i + 1].content
                end = url_end(text)
                linkify = self._markdown.linkify
                matches = (linkify.match(text[:end])
                           if linkify is not None and end < len(text) else None)
                if matches and matches[0].index == 0:
                    token.attrs["href"] = self._markdown.normalizeLink(matches[0].url)
                    tokens[i + 1].content = text[:matches[0].last_index]
                    # What followed the URL is text again, and may hold the next link.
                    out += [*tokens[i:i + 3], *self._inline(text[matches[0].last_index:])]
                    i += 3
                    continue
            out.append(token)
            i += 1
        return out

    def _convert(self, markdown: str) -> tuple[Markup, tuple[str, ...]]:
        tokens = self._inline(strip_control_characters(markdown))
        urls: list[str] = []
        xml: list[str] = []
        bold = italic = 0
        link: str | None = None
        links: list[bool] = []  # for each link open: whether it is written as a link
        for token in tokens:
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
                href = str(token.attrs["href"])
                if not is_web_link(href):  # its text is printed, without the link
                    links.append(False)
                    continue
                links.append(True)
                urls.append(href)
                link = link_id(urls[-1])
                xml.append(f'<w:hyperlink r:id="{link}" w:history="1">')
            elif kind == "link_close":
                link = None
                if links.pop():
                    xml.append("</w:hyperlink>")
            elif kind in ("softbreak", "hardbreak"):
                xml.append(f"<w:r>{self._properties(bold, italic, link)}<w:br/></w:r>")
            elif kind in ("text", "code_inline") and token.content:
                xml.append(f"<w:r>{self._properties(bold, italic, link)}"
                           f'<w:t xml:space="preserve">{xml_text(token.content)}</w:t></w:r>')
        return Markup("".join(xml)), tuple(urls)

    def plain_links(self, markdown: str) -> list[str]:
        """The targets of the links in a Markdown paragraph that are printed as text only
        (no web or mail address: :func:`is_web_link`); remembered, as :meth:`runs` are."""
        found: tuple[str, ...] = _remembered(self._plain, markdown, self._plain_links)
        return list(found)

    def _plain_links(self, markdown: str) -> tuple[str, ...]:
        return tuple(str(token.attrs["href"]) for token in self._inline(
            strip_control_characters(markdown))
            if token.type == "link_open" and not is_web_link(str(token.attrs["href"])))

    def _properties(self, bold: int, italic: int, link: str | None) -> str:
        props = '<w:rStyle w:val="Hyperlink"/>' if link else ""
        props += "<w:b/><w:bCs/>" if bold else ""
        props += "<w:i/><w:iCs/>" if italic else ""
        return f"<w:rPr>{props}</w:rPr>" if props else ""
