"""A letter template compiled for one locale, and the DOCX files it renders.

Compiling reads the layout's archive once (:func:`drafter.package.read_docx`), turns each
templated part into Jinja source (:mod:`drafter.docx_parts`) and compiles it in the locale's
sandbox (:mod:`drafter.sandbox`); every bad tag is reported at once, at its paragraph. Rendering
is then a pure function from a letter's context to the bytes of a DOCX file: the parts filled,
the paper, direction and document properties set (:mod:`drafter.wordml`), the archive assembled
from members deflated once (:mod:`drafter.package`).
"""

from __future__ import annotations

import re
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree

from . import wordml
from .context import LetterContext
from .docx_parts import jinja_source, shortened, templated_parts, word_xml
from .errors import Location, Problem, TemplateError
from .locales import Localizer
from .package import MAX_PART_BYTES, Member, precompress, read_docx, write_archive
from .sandbox import make_environment
from .scripts import NOTO_CJK, TEMPLATE_COMPLEX_FACE, RunScripts, apply_scripts, face_for, slot_of
from .template import LetterTemplate


@dataclass(frozen=True)
class _Part:
    """One templated XML part: its compiled Jinja template and its source, line by paragraph."""

    label: str  # "body", "header", "footer"…, as an editor would call it
    template: jinja2.Template
    source: str  # the Jinja source: line n + 1 is the part's paragraph n
    paragraphs: list[str]  # the visible text of each line, as the editor wrote it


@dataclass(frozen=True)
class CompiledTemplate:
    """A DOCX template compiled for one locale: render it as often as needed."""

    source: Path
    localizer: Localizer
    parts: dict[str, bytes]  # every archive member, as read (styles localized)
    members: dict[str, Member] = field(repr=False)  # the same, deflated once
    templated: dict[str, _Part] = field(repr=False)
    environment: SandboxedEnvironment = field(repr=False)
    variables: frozenset[str] = frozenset()  # the top-level names the template's tags read
    scripts: RunScripts | None = None  # what runs in other scripts than the letter's carry


def compile_template(template: LetterTemplate, loc: Localizer) -> CompiledTemplate:
    """Read and compile the template's layout for ``loc``; every bad tag is reported at once."""
    path = template.docx_for(loc)
    parts = read_docx(path)
    env = make_environment(loc)
    problems: list[Problem] = []
    templated: dict[str, _Part] = {}
    for name, label, data in templated_parts(parts):
        try:
            source, paragraphs = jinja_source(data)
        except etree.XMLSyntaxError as e:
            problems.append(Problem(Location(str(path), part=label), "", f"damaged XML: {e}"))
            continue
        try:
            templated[name] = _Part(label, env.from_string(source), source, paragraphs)
        except jinja2.TemplateSyntaxError as e:
            problems.append(_located(path, label, paragraphs, e.lineno, e.message or str(e)))
        except (RecursionError, SyntaxError) as e:  # Python's own limits on nesting
            problems.append(Problem(Location(str(path), part=label), "",
                                    "the tags are nested too deeply "
                                    f"({e.msg if isinstance(e, SyntaxError) else e})"))
    if problems:
        raise TemplateError(problems)
    if "word/styles.xml" in parts:
        parts["word/styles.xml"] = localize_styles(parts["word/styles.xml"], loc)
    names: set[str] = set()
    for part in templated.values():
        names |= meta.find_undeclared_variables(env.parse(part.source))
    scripts = RunScripts.for_letter(loc, wordml.latin_font(parts.get("word/styles.xml", b"")))
    return CompiledTemplate(path, loc, parts, precompress(parts), templated, env,
                            frozenset(names - set(env.globals)), scripts)


_CJK_FONT = re.compile(r'(w:eastAsia="Noto (?:Sans|Serif) CJK )(?:SC|TC|JP|KR|HK)"')


def localize_styles(styles: bytes, loc: Localizer) -> bytes:
    """The template's styles for one language: its CJK face and its language tags.

    Word and LibreOffice choose fonts, line breaking and spelling by the ``w:lang`` of the text;
    a Chinese letter tagged as English gets Japanese glyph shapes and wrong punctuation widths.
    The built-in complex-script face (Arabic) becomes the letter's own (Hebrew, Devanagari,
    Thai…); every bold, italic and size gets its complex-script twin where it lacks one; and
    Chinese, Japanese and Korean letters are single-spaced.
    """
    text = styles.decode("utf-8")
    face = NOTO_CJK.get(loc.script)
    if face:
        text = _CJK_FONT.sub(rf'\g<1>{face}"', text)
    slot = "east_asian" if face else slot_of(loc.script or "Latn")
    if slot == "complex":
        text = text.replace(f'w:cs="{TEMPLATE_COMPLEX_FACE}"', f'w:cs="{face_for(loc.script)}"')
    tree = etree.fromstring(text.encode("utf-8"))
    kind = {"east_asian": "eastAsia", "complex": "bidi", "latin": "val"}[slot]
    wordml.set_default_language(tree, kind, loc.language_tag)
    wordml.add_complex_script_twins(tree)
    if slot == "east_asian":
        wordml.set_single_spaced(tree)
    return wordml.xml_bytes(tree)


def _located(path: Path, label: str, paragraphs: list[str], lineno: int | None,
             message: str) -> Problem:
    """A problem at a paragraph, told by its number and visible text, never an XML line."""
    if lineno is None or not 0 < lineno <= len(paragraphs):
        return Problem(Location(str(path), part=label), "", message)
    paragraph = lineno - 1  # line 1 holds what precedes the first paragraph
    text = shortened(paragraphs[lineno - 1], 120)
    return Problem(Location(str(path), part=label, paragraph=max(paragraph, 1)), "", message,
                   text=text)


def render_docx(compiled: CompiledTemplate, context: LetterContext) -> bytes:
    """The DOCX file of one letter: the compiled template filled with ``context``."""
    missing = sorted(compiled.variables - set(context.values))
    if missing:
        known = ", ".join(sorted(context.values))
        raise TemplateError([Problem(Location(str(compiled.source)), name,
                                     f"the template uses {name!r}, "
                                     f"which no letter provides; available: {known}")
                             for name in missing])
    problems: list[Problem] = []
    rendered: dict[str, bytes] = {}
    for name, part in compiled.templated.items():
        try:
            xml = _render_bounded(part.template, context.values)
        except (jinja2.TemplateError, TypeError, ValueError, AttributeError, OverflowError,
                RecursionError, MemoryError) as e:
            problems.append(_located(compiled.source, part.label, part.paragraphs,
                                     _template_line(e), _describe(e)))
            continue
        try:
            rendered[name] = _finished_part(xml, name == "word/document.xml", context,
                                            compiled.scripts
                                            or RunScripts.for_letter(compiled.localizer))
        except etree.XMLSyntaxError as e:
            problems.append(Problem(Location(str(compiled.source), part=part.label), "",
                                    f"the rendered document is not valid XML ({e}); a tag "
                                    "probably sits inside a field or splits a table or "
                                    "paragraph"))
    if problems:
        raise TemplateError(problems)
    return _assembled(compiled, rendered, context)


def _render_bounded(template: jinja2.Template, values: dict[str, Any]) -> str:
    """The template rendered, stopped once it is larger than any DOCX part may be: a loop in
    a template cannot fill the memory."""
    chunks: list[str] = []
    size = 0
    generator = cast(Generator[str, None, None], template.generate(values))
    for chunk in generator:
        size += len(chunk)
        if size > MAX_PART_BYTES:
            # Thrown where the template is, so that the error names its paragraph.
            generator.throw(OverflowError(f"the rendered part is larger than "
                                          f"{MAX_PART_BYTES >> 20} MiB"))
        chunks.append(chunk)
    return "".join(chunks)


def _template_line(error: BaseException) -> int | None:
    if getattr(error, "lineno", None):
        return error.lineno  # type: ignore[attr-defined]
    tb = error.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _describe(error: Exception) -> str:
    if isinstance(error, jinja2.UndefinedError):
        return f"undefined value: {error.message}"
    if isinstance(error, jinja2.exceptions.SecurityError):
        return f"refused by the template sandbox: {error}"
    if isinstance(error, OverflowError | RecursionError | MemoryError):
        return f"refused: the template makes too much ({error})"
    return f"{type(error).__name__}: {error}"


def _finished_part(rendered: str, is_body: bool, context: LetterContext,
                   scripts: RunScripts) -> bytes:
    """A rendered part as the XML a DOCX holds, on the letter's paper and in its direction,
    each run in its script's font, language and direction (:mod:`drafter.scripts`).

    Raises :class:`lxml.etree.XMLSyntaxError` when the rendered part is not well-formed.
    """
    xml = word_xml(rendered)
    tree = etree.fromstring(xml.encode("utf-8"))
    if is_body:
        wordml.set_paper(tree, context.paper)
    if context.right_to_left:
        wordml.set_right_to_left(tree)
    if not (xml.isascii() and scripts.script == "Latn" and not scripts.right_to_left):
        apply_scripts(tree, scripts)  # else every run is the letter's own script already
    return wordml.xml_bytes(tree)


def _assembled(compiled: CompiledTemplate, rendered: dict[str, bytes],
               context: LetterContext) -> bytes:
    """The letter's archive: its rendered parts, properties, links and signature, and the
    template's other members as deflated once."""
    parts = dict(rendered)
    parts["docProps/core.xml"] = wordml.core_properties(context.properties)
    signature = Path(context.signature) if context.signature else None
    if signature is not None:
        parts[f"word/{wordml.signature_media(signature)}"] = signature.read_bytes()
        parts["[Content_Types].xml"] = wordml.with_image_type(
            compiled.parts["[Content_Types].xml"], signature.suffix.lower().lstrip("."))
    parts["word/_rels/document.xml.rels"] = wordml.with_relationships(
        compiled.parts["word/_rels/document.xml.rels"], context.links.urls, signature)
    names = list(dict.fromkeys([*compiled.members, *parts]))
    # [Content_Types].xml first, as Word writes it: some readers sniff the first member.
    names.sort(key=lambda n: n != "[Content_Types].xml")
    return write_archive([Member.deflate(name, parts[name]) if name in parts
                          else compiled.members[name] for name in names])
