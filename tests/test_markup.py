"""Text from the data made safe for Word (drafter.markup): escaping, control characters, and
Markdown body paragraphs as Word runs with real hyperlinks."""

from __future__ import annotations

from lxml import etree

from drafter.markup import (
    Hyperlinks,
    ParagraphWriter,
    find_control_characters,
    link_id,
    strip_control_characters,
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
