"""Text from the data made safe for Word (drafter.markup): escaping, control characters, and
Markdown body paragraphs as Word runs with real hyperlinks."""

from __future__ import annotations

import re

import pytest
from lxml import etree

from drafter.markup import (
    Hyperlinks,
    ParagraphWriter,
    find_control_characters,
    link_id,
    strip_control_characters,
    url_end,
    xml_text,
)
from drafter.scripts import RunScripts, apply_scripts
from drafter.wordml import NAMESPACES, qn


def _runs(xml: str) -> etree._Element:
    return etree.fromstring(f'<w:p xmlns:w="{NAMESPACES["w"]}" xmlns:r="{NAMESPACES["r"]}">'
                            f"{xml}</w:p>")


def test_values_are_literal_text_escaped_and_without_control_characters() -> None:
    assert xml_text('<b>"R&D"</b>') == "&lt;b&gt;&quot;R&amp;D&quot;&lt;/b&gt;"
    assert xml_text("one\r\ntwo\rthree\n") == "one\ntwo\nthree\n"
    assert xml_text("bell\x07 and \ud800 and \x85") == "bell and  and \x85"
    assert xml_text(2015) == "2015"


def test_control_characters_are_found_where_they_are_and_tabs_stay() -> None:
    text = "a\x00b\tc\x9fd\ufffe"
    assert find_control_characters(text) == [1, 5, 7]
    assert strip_control_characters(text) == "ab\tcd"


def test_markdown_becomes_runs_with_bold_italic_and_links() -> None:
    runs, urls = ParagraphWriter().runs(
        "We **urge** you, _again_, to read [the report](https://www.hrw.org/x) & "
        "https://example.org/y")
    tree = _runs(runs)
    texts = [(t.text, t.getparent().find(qn("w:rPr"))) for t in tree.iter(qn("w:t"))]
    bold = [text for text, props in texts if props is not None and props.find(qn("w:b"))
            is not None]
    italic = [text for text, props in texts if props is not None and props.find(qn("w:i"))
              is not None]
    assert (bold, italic) == (["urge"], ["again"])
    assert "".join(text for text, _ in texts) == (
        "We urge you, again, to read the report & https://example.org/y")
    assert urls == ("https://www.hrw.org/x", "https://example.org/y")
    links = tree.findall(qn("w:hyperlink"))
    assert [link.get(qn("r:id")) for link in links] == [link_id(url) for url in urls]
    assert "".join(links[0].itertext()) == "the report"


def test_a_line_break_is_a_word_line_break_and_right_to_left_runs_say_so() -> None:
    runs, _ = ParagraphWriter().runs("سطر\nسطر آخر https://example.org")
    tree = _runs(runs)
    assert len(tree.findall(f".//{qn('w:br')}")) == 1
    # Direction follows each run's script (drafter.scripts), in any letter: the Arabic runs
    # read right to left, the link does not.
    apply_scripts(tree, RunScripts("Arab", right_to_left=True, latin_face="Calibri"))
    arabic = [r for r in tree.iter(qn("w:r")) if "سطر" in "".join(r.itertext())]
    assert arabic and all(r.find(f"{qn('w:rPr')}/{qn('w:rtl')}") is not None for r in arabic)
    (link,) = [r for r in tree.iter(qn("w:r")) if "example.org" in "".join(r.itertext())]
    assert link.find(f"{qn('w:rPr')}/{qn('w:rtl')}") is None


def test_the_same_paragraph_is_written_once_and_the_same_link_has_one_id() -> None:
    writer = ParagraphWriter()
    first = writer.runs("See https://www.hrw.org")
    assert writer.runs("See https://www.hrw.org") is first
    links = Hyperlinks()
    assert links.add("https://www.hrw.org") == links.add("https://www.hrw.org")
    assert links.urls == {link_id("https://www.hrw.org"): "https://www.hrw.org"}
    assert link_id("https://www.hrw.org") != link_id("https://www.hrw.org/")


# --- where a bare URL ends in text written without spaces ---------------------------------------

URL = "https://www.hrw.org/news/2015/11/21/china-dont-return-nine-north-korean-refugees"


def links_and_text(markdown: str) -> tuple[tuple[str, ...], list[str]]:
    """The URLs a paragraph links to, and the text of each run in order."""
    runs, urls = ParagraphWriter().runs(markdown)
    return urls, re.findall(r'<w:t xml:space="preserve">([^<]*)</w:t>', str(runs))


@pytest.mark.parametrize(("markdown", "after"), [
    (f"詳しくは「{URL}」をご覧ください。", "」をご覧ください。"),   # Japanese
    (f"有關這批難民的更多資訊，請見{URL}。我們呼籲", "。我們呼籲"),  # Traditional Chinese
    (f"更多信息请见：{URL}，谢谢。", "，谢谢。"),                     # Simplified Chinese
    (f"（{URL}）", "）"),                                              # full-width brackets
    (f"{URL}에서 보실 수 있습니다", "에서 보실 수 있습니다"),          # Korean
    (f"『{URL}』、", "』、"),
    (f"｢{URL}｣", "｣"),                                                 # half-width corner brackets
])
def test_a_bare_url_ends_where_cjk_text_follows(markdown: str, after: str) -> None:
    urls, text = links_and_text(markdown)
    assert urls == (URL,)
    assert URL in text
    assert "".join(text[text.index(URL) + 1:]) == after


def test_the_text_after_a_url_may_hold_the_next_link() -> None:
    urls, text = links_and_text("「https://a.example.org/x」と「https://b.example.org/y」を参照。")
    assert urls == ("https://a.example.org/x", "https://b.example.org/y")
    assert text == ["「", "https://a.example.org/x", "」と「", "https://b.example.org/y",
                    "」を参照。"]


@pytest.mark.parametrize(("markdown", "url"), [
    ("see https://example.org/a(b) now", "https://example.org/a(b)"),
    ("at www.hrw.org.", "http://www.hrw.org"),
    (f"here: {URL}.", URL),
])
def test_latin_text_links_as_before(markdown: str, url: str) -> None:
    assert links_and_text(markdown)[0] == (url,)


def test_url_end_stops_at_the_first_wide_character() -> None:
    assert url_end("https://x.org/ja」を") == len("https://x.org/ja")
    assert url_end("https://x.org/ja") == len("https://x.org/ja")
