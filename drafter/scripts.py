"""Writing systems: the script of each stretch of a letter's text, and what its runs carry.

Word and LibreOffice keep three fonts and three language tags on every run: one for Latin-like
text (``w:ascii``/``w:hAnsi``, ``w:lang/@w:val``), one for East Asian text (``w:eastAsia``) and
one for complex scripts, which are shaped or written right to left (``w:cs``, ``w:lang/@w:bidi``:
Arabic, Hebrew, Devanagari, Thai…). A template's styles name them once, for the letter's own
language. A name in Hebrew inside an Arabic letter, a Korean address in a Chinese one or a
Russian quotation in an English one needs its own: this module splits the text of each run by
script (Unicode's Scripts property, from fontTools) and gives each piece the font, language tag
and direction of its script. Spaces, digits and punctuation (the "Common" script) belong to the
text around them.

Right-to-left letters also need their numbers held together: ``+44 20 7946 0321`` after Arabic
text is otherwise laid out group by group from the right (``0321 7946 20 44+``). Such stretches
are bracketed by left-to-right marks (U+200E), which every font the letter uses draws as
nothing; Unicode's isolates (U+2066–2069), which the fonts lack, would be drawn in a fallback
face that doubles the line's height, so isolates in the text become marks too.
"""

from __future__ import annotations

import copy
import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from fontTools import unicodedata as scripts
from lxml import etree

from .locales import Localizer, likely_subtags
from .wordml import qn

_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"

Slot = Literal["latin", "east_asian", "complex"]

# The three slots' attributes in w:rFonts and w:lang.
_FONT_ATTRIBUTES: dict[Slot, tuple[str, ...]] = {
    "latin": ("ascii", "hAnsi"), "east_asian": ("eastAsia",), "complex": ("cs",)}
_LANGUAGE_ATTRIBUTE: dict[Slot, str] = {"latin": "val", "east_asian": "eastAsia",
                                        "complex": "bidi"}

_EAST_ASIAN = frozenset({"Hani", "Hira", "Kana", "Hang", "Bopo"})
# Complex scripts written left to right: the ones Word and LibreOffice shape as such (the
# right-to-left scripts are complex too). The rest (Latin, Cyrillic, Greek, Armenian…) is "latin".
_COMPLEX_LTR = frozenset({"Deva", "Beng", "Guru", "Gujr", "Orya", "Taml", "Telu", "Knda",
                          "Mlym", "Sinh", "Thai", "Laoo", "Tibt", "Mymr", "Khmr", "Mong"})
# Scripts the template's own Latin font draws (Calibri, and LibreOffice's Carlito).
_TEMPLATE_LATIN = frozenset({"Latn", "Cyrl", "Grek"})
# A letter's script (ISO 15924, as CLDR gives it) and the Unicode scripts written in it.
_WRITTEN_IN = {"Jpan": {"Hani", "Hira", "Kana"}, "Kore": {"Hang", "Hani"}, "Hans": {"Hani"},
               "Hant": {"Hani", "Bopo"}}

# The faces setup.sh installs (fonts-noto-core, fonts-noto-cjk); other scripts use the
# "Noto Sans <script name>" face of fonts-noto-core.
NOTO_CJK = {"Hans": "SC", "Hant": "TC", "Jpan": "JP", "Kore": "KR"}
_FACES = {"Arab": "Noto Naskh Arabic", "Hebr": "Noto Sans Hebrew", "Tibt": "Noto Serif Tibetan",
          "Hang": "Noto Sans CJK KR", "Hira": "Noto Sans CJK JP", "Kana": "Noto Sans CJK JP",
          "Bopo": "Noto Sans CJK TC"}
TEMPLATE_COMPLEX_FACE = "Noto Naskh Arabic"  # the built-in template's w:cs font
_COMMON = frozenset({"Zyyy", "Zinh", "Zzzz"})

LRM = "\u200e"
RLM = "\u200f"
_ISOLATES = re.compile("[\u2066-\u2069]")


@functools.lru_cache(maxsize=4096)
def script_of(character: str) -> str:
    """The ISO 15924 code of a character's script: Latn, Cyrl, Hani, Hang, Arab, Zyyy (common)…"""
    return str(scripts.script(character))


@functools.lru_cache(maxsize=4096)
def _extension(character: str) -> frozenset[str]:
    return frozenset(scripts.script_extension(character))


@functools.lru_cache(maxsize=256)
def slot_of(script: str) -> Slot:
    """Which of Word's three fonts draws a script."""
    if script in _EAST_ASIAN:
        return "east_asian"
    if script in _COMPLEX_LTR or scripts.script_horizontal_direction(script, "LTR") == "RTL":
        return "complex"
    return "latin"


def is_right_to_left(script: str) -> bool:
    """Whether a script is written right to left (Arabic, Hebrew, Syriac, Thaana…)."""
    return script not in _COMMON and scripts.script_horizontal_direction(script, "LTR") == "RTL"


def face_for(script: str, han: str = "Hans") -> str:
    """The font family drafter uses for a script; ``han`` is the CJK variant (Hans, Hant, Jpan,
    Kore) whose glyph shapes Han characters take."""
    if script == "Hani":
        return f"Noto Sans CJK {NOTO_CJK.get(han, 'SC')}"
    return _FACES.get(script) or f"Noto Sans {scripts.script_name(script)}"


def likely_language(script: str) -> str:
    """The BCP 47 tag CLDR deems likely for text in a script: Hebr → he-IL, Hang → ko-KR."""
    likely = likely_subtags(f"und_{script}")
    return "-".join(p for p in (likely.language, likely.territory) if p)


COMMON = "Zyyy"


@functools.lru_cache(maxsize=8192)  # pure; a merge prints the same paragraphs in every letter
def segments(text: str) -> tuple[tuple[str, str], ...]:
    """``text`` cut where its script changes: (script, piece) pairs.

    Common characters (spaces, digits, punctuation, the left-to-right mark) join the piece
    before them (at the start, the piece after them), except beside a complex script, whose
    fonts (Noto Sans Hebrew, Noto Sans Thai…) draw no Latin digits or punctuation: there a run
    of them is a piece of the common script "Zyyy", drawn in the Latin font. Characters that
    belong to a few scripts only (the Arabic comma, Arabic-Indic digits) stay with theirs.
    """
    pieces: list[list[str]] = []  # [script, text]
    for character in text:
        last = pieces[-1] if pieces else None
        script = script_of(character)
        if script in _COMMON:
            shared = _extension(character) - _COMMON
            if "Latn" in shared and (last is None or last[0] not in shared):
                shared = frozenset()  # the middle dot: Latin's too, not Avestan's after Arabic
            if shared:  # the Arabic comma, Arabic-Indic digits, the Devanagari danda…
                script = (last[0] if last is not None and last[0] in shared
                          else "Arab" if "Arab" in shared else min(shared))
        if script in _COMMON:
            if last is None:
                pieces.append([COMMON, character])
            elif (last[0] in _COMMON or slot_of(last[0]) != "complex" or (character.isspace()
                  and character != LRM)):
                last[1] += character
            else:
                pieces.append([COMMON, character])
        elif last is not None and last[0] == script:
            last[1] += character
        elif last is not None and last[0] in _COMMON and (
                slot_of(script) != "complex" or (len(pieces) == 1 and last[1].isspace())):
            last[0], last[1] = script, last[1] + character  # leading spaces and digits
        else:
            pieces.append([script, character])
    return tuple((script, piece) for script, piece in pieces)


# A stretch that must read left to right inside right-to-left text: from a digit, a sign or a
# left-to-right letter to the last such, with nothing right-to-left inside.
def _left_to_right_stretches(text: str) -> list[tuple[int, int]]:
    stretches = []
    start = end = -1
    for i, character in enumerate(text):
        kind = unicodedata.bidirectional(character)
        if character == LRM or (not character.isascii() and any(
                is_right_to_left(s) for s in _extension(character))):
            kind = "R"  # the Arabic comma, question mark…: they end the stretch
        if kind == "NSM" and start >= 0 and end == i:  # a combining mark stays on its letter
            end = i + 1
        elif kind in ("L", "EN") or (kind in ("ES", "ET") and start < 0):
            if start < 0:
                start = i
            end = i + 1
        elif kind in ("R", "AL", "AN", "B", "S", "LRE", "RLE", "LRO", "RLO", "PDF"):
            if start >= 0:
                stretches.append((start, end))
            start = -1
    if start >= 0:
        stretches.append((start, end))
    return stretches


@functools.lru_cache(maxsize=8192)  # pure; the same lines come back in every letter of a merge
def hold_left_to_right(text: str) -> str:
    """Text for a right-to-left paragraph, its numbers and left-to-right stretches bracketed by
    left-to-right marks, so that "+44 20 7946 0321" and "10 Queen Street" read as written.

    Only a stretch that starts with a digit or a sign needs them (after a Latin letter digits
    read left to right anyway), and a plain number ("2026") gets none; isolates become marks.
    """
    text = _isolates_as_marks(text)
    out = []
    last = 0
    for start, end in _left_to_right_stretches(text):
        piece = text[start:end]
        needs = (unicodedata.bidirectional(piece[0]) in ("EN", "ES", "ET")
                 and any(unicodedata.bidirectional(c) == "EN" for c in piece)
                 and not all(unicodedata.bidirectional(c) == "EN" for c in piece))
        if not needs or text[max(start - 1, 0):start] == LRM:
            continue
        if unicodedata.bidirectional(piece[-1]) not in ("L", "EN", "NSM"):
            continue  # a lone sign
        out.append(text[last:start] + LRM + piece + LRM)
        last = end
    out.append(text[last:])
    return "".join(out)


def _isolates_as_marks(text: str) -> str:
    if not _ISOLATES.search(text):
        return text
    out: list[str] = []
    openers: list[str] = []
    for i, character in enumerate(text):
        if character == "\u2066":  # LRI
            openers.append(LRM)
        elif character == "\u2067":  # RLI
            openers.append(RLM)
        elif character == "\u2068":  # FSI: the direction of the first strong character
            first = next((unicodedata.bidirectional(c) for c in text[i + 1:]
                          if unicodedata.bidirectional(c) in ("L", "R", "AL")), "L")
            openers.append(LRM if first == "L" else RLM)
        elif character == "\u2069":  # PDI
            out.append(openers.pop() if openers else "")
            continue
        else:
            out.append(character)
            continue
        out.append(openers[-1])
    return "".join(out)


@dataclass(frozen=True)
class RunScripts:
    """What the runs of one letter carry for the scripts in them, beyond the styles' defaults."""

    script: str  # the letter's own: Latn, Hans, Kore, Arab…
    right_to_left: bool
    latin_face: str  # the styles' Latin font, which draws digits and punctuation

    @classmethod
    def for_letter(cls, loc: Localizer, latin_face: str = "Calibri") -> RunScripts:
        """The scripts of a letter in ``loc``'s language, in a template whose Latin font is
        ``latin_face``."""
        return cls(loc.script or "Latn", loc.right_to_left, latin_face)

    @property
    def han(self) -> str:
        """The CJK variant whose shapes Han characters take in this letter."""
        return self.script if self.script in NOTO_CJK else "Hans"

    @property
    def complex(self) -> bool:
        """Whether the letter's own script is complex (its digits need the Latin font)."""
        return slot_of(self.script) == "complex"

    def own(self, script: str) -> bool:
        """Whether a Unicode script is the letter's own (its styles already fit it)."""
        return script == self.script or script in _WRITTEN_IN.get(self.script, ())

    def complex_face(self) -> str:
        """The styles' complex-script font for this letter."""
        if slot_of(self.script) == "complex":
            return face_for(self.script)
        return TEMPLATE_COMPLEX_FACE

    @functools.lru_cache(maxsize=1024)  # noqa: B019  # pure; asked for every run of a letter
    def properties(self, script: str) -> tuple[dict[str, str], str | None, bool, bool]:
        """For a piece in ``script``: the w:rFonts attributes to set, the w:lang attribute to set
        (as "attribute=tag"), and whether it is right to left and complex."""
        if script in _COMMON:  # digits and punctuation: never in a complex script's font
            return {"cs": self.latin_face}, None, False, False
        slot = slot_of(script)
        fonts: dict[str, str] = {}
        face = face_for(script, self.han)
        if slot == "latin" and script not in _TEMPLATE_LATIN:
            fonts = dict.fromkeys(_FONT_ATTRIBUTES["latin"], face)
        elif slot == "latin" and self.complex:
            # LibreOffice draws the punctuation at the end of a Latin phrase in a right-to-left
            # paragraph with the complex-script font, which has none.
            fonts = {"cs": self.latin_face}
        elif slot == "east_asian" and face != face_for("Hani", self.han):
            fonts = {"eastAsia": face}
        elif slot == "complex" and face != self.complex_face():
            fonts = {"cs": face}
        language = None if self.own(script) else (
            f"{_LANGUAGE_ATTRIBUTE[slot]}={likely_language(script)}")
        return fonts, language, is_right_to_left(script), slot == "complex"


def _w(tag: str) -> str:
    return qn(f"w:{tag}")


_R, _RPR, _T = _w("r"), _w("rPr"), _w("t")

# The order of w:rPr's children in the schema (Word refuses a run whose properties are out of it).
_RPR_ORDER = [_w(t) for t in (
    "rStyle", "rFonts", "b", "bCs", "i", "iCs", "caps", "smallCaps", "strike", "dstrike",
    "outline", "shadow", "emboss", "imprint", "noProof", "snapToGrid", "vanish", "webHidden",
    "color", "spacing", "w", "kern", "position", "sz", "szCs", "highlight", "u", "effect", "bdr",
    "shd", "fitText", "vertAlign", "rtl", "cs", "em", "lang", "eastAsianLayout", "specVanish",
    "oMath")]


def _child(properties: etree._Element, tag: str) -> etree._Element:
    """The child ``tag`` of a w:rPr, made in its place in the schema's order when missing."""
    found = properties.find(_w(tag))
    if found is not None:
        return found
    element = etree.Element(_w(tag))
    rank = _RPR_ORDER.index(_w(tag))
    for i, existing in enumerate(properties):
        if existing.tag in _RPR_ORDER and _RPR_ORDER.index(existing.tag) > rank:
            properties.insert(i, element)
            return element
    properties.append(element)
    return element


def _style_run(run: etree._Element, script: str, letter: RunScripts) -> None:
    fonts, language, right_to_left, complex_script = letter.properties(script)
    if not (fonts or language or right_to_left or complex_script):
        return
    properties = run.find(_RPR)
    if properties is None:
        properties = etree.Element(_RPR)
        run.insert(0, properties)
    if fonts:
        element = _child(properties, "rFonts")
        for name, value in fonts.items():
            element.set(_w(name), value)
            element.attrib.pop(_w(f"{name.lower()}Theme" if name != "cs" else "cstheme"), None)
    if right_to_left:
        _child(properties, "rtl")
    elif complex_script:
        _child(properties, "cs")
    if language:
        name, tag = language.split("=")
        _child(properties, "lang").set(_w(name), tag)


def _needs_nothing(run: etree._Element, letter: RunScripts) -> bool:
    """Whether a run's text is all in one script that needs no properties of its own (the
    letter's own text, most runs of every letter): the run stays as it is."""
    # The groups _split_run would make, counted without making them.
    found = None
    for child in run:
        if child.tag == _RPR:
            continue
        if child.tag != _T or not child.text:
            found = found or COMMON  # a tab or break joins the group before it
            continue
        for script, _ in segments(child.text):
            if found is None:
                found = script
            elif script != found:
                return False
    if found is None:
        return False
    return (found in _COMMON and not letter.complex) or not any(letter.properties(found))


def apply_scripts(tree: etree._Element, letter: RunScripts) -> None:
    """Every run of a rendered part split by script, each piece with its script's font,
    language tag and direction; numbers held left to right in right-to-left letters."""
    for run in list(tree.iter(_R)):
        texts = [child for child in run if child.tag == _T]
        if not any(text.text for text in texts):
            continue
        if letter.right_to_left:
            for text in texts:
                if text.text:
                    text.text = hold_left_to_right(text.text)
        elif all((t.text or "").isascii() for t in texts) and not letter.complex and (
                letter.script == "Latn"):
            continue  # the common case: nothing but the letter's own script
        _split_run(run, letter)


def _split_run(run: etree._Element, letter: RunScripts) -> None:
    if _needs_nothing(run, letter):
        return
    properties = run.find(_RPR)
    groups: list[list] = []  # [script, content elements]
    for child in run:
        if child.tag == _RPR:
            continue
        if child.tag != _T or not child.text:
            if groups:
                groups[-1][1].append(child)
            else:
                groups.append([COMMON, [child]])
            continue
        for script, piece in segments(child.text):
            text = etree.Element(_T)
            text.text = piece
            text.set(_XML_SPACE, "preserve")
            if groups and groups[-1][0] == script:
                groups[-1][1].append(text)
            else:
                groups.append([script, [text]])
    if len(groups) == 1 and ((groups[0][0] in _COMMON and not letter.complex)
                             or not any(letter.properties(groups[0][0]))):
        return
    parent = run.getparent()
    if parent is None:
        return
    position = parent.index(run)
    for offset, (script, content) in enumerate(groups):
        new = etree.Element(_R, run.attrib)
        if properties is not None:
            new.append(copy.deepcopy(properties))
        for element in content:
            new.append(element)
        _style_run(new, script, letter)
        parent.insert(position + offset, new)
    parent.remove(run)
