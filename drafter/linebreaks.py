"""Where East Asian text may break across lines, as LibreOffice is told it.

This module owns the line-breaking rules of Chinese, Japanese and Korean letters: which
characters may not end a line and which may not begin one (the "forbidden characters" of each
language, kinsoku), and how LibreOffice is given them (:func:`forbidden_characters_settings`:
the ``ForbiddenCharacters`` setting of an ODT's ``settings.xml``, which :mod:`drafter.pdf`
writes into the ODT step of every CJK letter). A DOCX cannot carry them: LibreOffice reads
Word's ``w:kinsoku`` as "apply the rules" but not the lists.

What LibreOffice 7.4 does, learned by trying it:

- It breaks Chinese and Japanese text between any two characters, then steps back while the
  break would put a forbidden character at a line's start or end. A digit may end a line, so a
  number was cut from its counter (``9`` / ``名``) and a full-width number in two
  (``２０`` / ``１５``): digits, half- and full-width, may not end a line here.
- Korean is broken between words, but by a rule of its own that comes *after* the forbidden
  characters and moves a break inside a Hangul word to the word's first syllable. An opening
  quote before the word stayed behind (``있는 ‘`` / ``민족반역죄’로``), and a number before
  its counter too (``9`` / ``명이``): a word joiner (U+2060), ``w:wordWrap`` and ``w:hint``
  change nothing. When the forbidden characters move a break, that rule is skipped; so for
  Korean every Hangul syllable, Latin letter and digit may not end a line, and a break steps
  back to the space (or punctuation) before the word: words break at spaces, with their quotes
  and numbers, as Korean readers expect.
- Each language's lists replace LibreOffice's own, so they start from its lists (its locale
  data, as its ``LocaleData`` service gives them) and add to them.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

_DIGITS = "0123456789" + "".join(chr(c) for c in range(0xFF10, 0xFF1A))  # and full-width
_HANGUL_SYLLABLES = "".join(chr(c) for c in range(0xAC00, 0xD7A4))
_LATIN_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# LibreOffice 7.4's own lists (begin, end of line), from its locale data.
_LIBREOFFICE_LISTS = {
    ("ja", "JP"): (
        "!%),.:;?]}¢°’”‰′″℃、。々〉》」』】〕ぁぃぅぇぉっゃゅょゎ゛゜ゝゞァィゥェォッャュョヮヵヶ"
        "・ーヽヾ！％），．：；？］｝｡｣､･ｧｨｩｪｫｬｭｮｯｰﾞﾟ¢",
        "$([¥{£¥‘“〈《「『【〔＄（［｛｢£￥"),
    ("zh", "CN"): (
        ":!),.:;?]}¢'\"、。〉》」』】〕〗〞︰︱︳﹐､﹒﹔﹕﹖﹗﹚﹜﹞！），．：；？｜｝︴︶︸︺︼︾﹀﹂﹄﹏"
        "､～￠々‖•·ˇˉ―--′’”",
        "([{£¥'\"‵〈《「『【〔〖（［｛￡￥〝︵︷︹︻︽︿﹁﹃﹙﹛﹝（｛“‘"),
    ("zh", "TW"): (
        "!),.:;?]}¢·--'\"¨•′、。〉》」』】〕〞︰︱︳︴︶︸︺︼︾﹀﹂﹄﹏﹐､﹒﹔﹕﹖﹗﹚﹜﹞！），．：；？｜｝､",
        "([{£¥'\"‵〈《「『【〔〝︵︷︹︻︽︿﹁﹃﹙﹛﹝（｛"),
    ("zh", "HK"): (
        "!),.:;?]}¢·--'\"¨•′、。〉》」』】〕〞︰︱︳︴︶︸︺︼︾﹀﹂﹄﹏﹐､﹒﹔﹕﹖﹗﹚﹜﹞！），．：；？｜｝､",
        "([{£¥'\"‵〈《「『【〔〝︵︷︹︻︽︿﹁﹃﹙﹛﹝（｛"),
    ("ko", "KR"): (
        "!%),.:;?]}¢￠'\"′″℃>〉＞》」』】〕！％），．：；？］｝｡｣､･ ﾞﾟ、。’”°",
        "$(¥£[\\{￡￥'\"<＜《「『【〔＄（［｛₩￦｢‘“〈"),
}


def forbidden_characters(language: str, country: str) -> tuple[str, str] | None:
    """The characters that may not begin and may not end a line in a language (``ko``,
    ``KR``), as drafter sets them; ``None`` for a language whose rules LibreOffice keeps."""
    lists = _LIBREOFFICE_LISTS.get((language, country))
    if lists is None:
        return None
    begin, end = lists
    if language == "ko":  # words break at spaces (module docstring)
        # Its list has a space, which would send the break back past every word.
        return begin.replace(" ", ""), end + _HANGUL_SYLLABLES + _LATIN_LETTERS + _DIGITS
    return begin, end + _DIGITS


def forbidden_characters_settings() -> str:
    """The ``ForbiddenCharacters`` item of an ODT's ``settings.xml`` (in its
    ``ooo:configuration-settings``), for every language of :func:`forbidden_characters`."""
    entries = []
    for language, country in _LIBREOFFICE_LISTS:
        lists = forbidden_characters(language, country)
        assert lists is not None
        items = {"Language": language, "Country": country, "Variant": "",
                 "BeginLine": lists[0], "EndLine": lists[1]}
        entries.append("<config:config-item-map-entry>" + "".join(
            f"<config:config-item config:name={quoteattr(name)} config:type=\"string\">"
            f"{escape(value)}</config:config-item>" for name, value in items.items())
            + "</config:config-item-map-entry>")
    return ('<config:config-item-map-indexed config:name="ForbiddenCharacters">'
            f'{"".join(entries)}</config:config-item-map-indexed>')
