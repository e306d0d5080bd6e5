"""DOCX letter templates: finding them, compiling them once, rendering them into DOCX bytes.

A template is a folder: ``letter.docx`` (the default layout), optional variants per language
(``letter.zh_Hans.docx``), translation catalogs for its fixed phrases (``locales/``) and a sample
data file (``sample.yaml``). A single ``.docx`` file works too.

Compiling reads the archive once, turns each Word XML part into Jinja source with docxtpl's own
tag conventions (``{%p %}``, ``{%tr %}``, ``{{r }}``), and compiles it in a sandboxed,
strict-undefined environment bound to the letter's locale. Rendering is then a pure function from
a letter's context to the bytes of a DOCX file.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from xml.sax.saxutils import quoteattr

import jinja2
from docxtpl import DocxTemplate
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree
from markupsafe import Markup

from .addresses import format_phone
from .context import LetterContext
from .errors import Location, Problem, TemplateError
from .locales import Localizer, negotiate
from .markup import xml_text
from .package import (
    DAMAGED,
    MAX_PART_BYTES,
    Member,
    precompress,
    read_member,
    unpacking_problem,
    write_archive,
)

DOCX_NAME = "letter.docx"
SAMPLE_NAME = "sample.yaml"
CATALOGS_DIR = "locales"
BUILTIN_TEMPLATE = "advocacy-letter"

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_HYPERLINK = f"{_RELS}/hyperlink"
_IMAGE = f"{_RELS}/image"
TEMPLATED_PARTS = re.compile(r"word/(document|header\d*|footer\d*|footnotes|endnotes)\.xml")
_PAPER = {"A4": (11906, 16838), "Letter": (12240, 15840)}  # twentieths of a point
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def builtin_templates_dir() -> Path:
    """The folder holding the templates that ship with drafter."""
    installed = Path(__file__).parent / "builtin_templates"
    return installed if installed.is_dir() else Path(__file__).parent.parent / "templates"


@dataclass(frozen=True)
class LetterTemplate:
    """A letter template on disk: its layouts per language, its catalogs, its sample data."""

    name: str
    folder: Path
    variants: Mapping[str, Path]  # locale identifier ("" for the default) -> DOCX file

    @property
    def catalogs(self) -> Path:
        """The folder of ``<locale>/LC_MESSAGES/messages.po`` catalogs."""
        return self.folder / CATALOGS_DIR

    @property
    def sample(self) -> Path:
        """The sample data file that shows what the template expects."""
        return self.folder / SAMPLE_NAME

    def docx_for(self, loc: Localizer) -> Path:
        """The layout for a locale: its own variant when there is one, else the default."""
        chosen = negotiate(loc.locale, [k for k in self.variants if k])
        return self.variants[chosen or ""]


def find_template(spec: str | Path | None = None) -> LetterTemplate:
    """The template named by ``spec``: a built-in name, a folder, or a ``.docx`` file."""
    spec = spec or BUILTIN_TEMPLATE
    path = Path(spec)
    if not path.exists() and not path.suffix and "/" not in str(spec):
        path = builtin_templates_dir() / str(spec)
    if path.is_file():
        if path.suffix.lower() not in (".docx", ".dotx"):
            raise TemplateError([Problem(Location(str(path)), "", _not_docx_message(path))])
        return LetterTemplate(path.stem, path.parent, {"": path})
    if path.is_dir():
        variants = {_variant_locale(p.name): p for p in sorted(path.glob("letter*.docx"))}
        if "" not in variants:
            raise TemplateError([Problem(Location(str(path)), "",
                                         f"no {DOCX_NAME} in the template folder")])
        return LetterTemplate(path.name, path, variants)
    builtin = ", ".join(sorted(p.name for p in builtin_templates_dir().iterdir() if p.is_dir()
                               and (p / DOCX_NAME).is_file()))
    raise TemplateError([Problem(Location(str(spec)), "", f"no such template; built-in templates: "
                                 f"{builtin}, or give the path of a folder or .docx file")])


def _variant_locale(filename: str) -> str:
    # letter.docx -> "", letter.zh_Hans.docx -> "zh_Hans"
    middle = filename[len("letter"):-len(".docx")]
    return middle.lstrip(".")


def _not_docx_message(path: Path) -> str:
    if path.suffix.lower() in (".docm", ".dotm"):
        return "macro-enabled documents are refused; save the template as .docx"
    return "a template must be a Word document (.docx)"


def read_docx(path: Path) -> dict[str, bytes]:
    """The members of a DOCX archive, refusing files that are not safe Word documents."""
    where = Location(str(path))
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise TemplateError([Problem(where, "", "not a Word document (.docx): "
                                     + _what_it_is(path))]) from e
    with archive:
        members = archive.infolist()
        names = {m.filename for m in members}
        if "word/document.xml" not in names or "[Content_Types].xml" not in names:
            raise TemplateError([Problem(where, "", "not a Word document (.docx): "
                                         "word/document.xml is missing")])
        if any(name.lower().endswith("vbaproject.bin") for name in names):
            raise TemplateError([Problem(where, "", "the document contains macros "
                                         "(vbaProject.bin); save it as a plain .docx")])
        bomb = unpacking_problem(archive)
        if bomb:
            raise TemplateError([Problem(where, "", f"refused: {bomb}")])
        try:
            return {m.filename: read_member(archive, m) for m in members}
        except DAMAGED as e:
            raise TemplateError([Problem(where, "", f"the archive is damaged: {e}")]) from e


def _what_it_is(path: Path) -> str:
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as e:
        return f"cannot read it: {e.strerror}"
    if head.startswith(b"%PDF"):
        return "it is a PDF file"
    if head.startswith(b"\xd0\xcf\x11\xe0"):  # OLE2: Word 97-2003, or an encrypted DOCX
        return "it is an old .doc or a password-protected document; save it as .docx"
    return "the file is not a zip archive, or it is truncated"


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


MAX_REPEAT = 1_000_000  # items or characters that one `*` in a template may make
MAX_EXPONENT = 1_000  # of an integer `**`: 10**1000 prints; 10**10**10 would never end


class BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox (no Python internals, ``range`` bounded by ``MAX_RANGE``), and bounded
    repetition and powers too: ``'x' * 10**9`` and ``10**10**10`` are refused, not computed.

    Jinja never folds these operators into constants at compile time in a sandbox, so the bound
    holds for literals as well.
    """

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any,
                   right: Any) -> Any:
        """``left operator right``, refused when its result would be absurdly large."""
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if (isinstance(sequence, str | list | tuple) and isinstance(count, int)
                        and len(sequence) * count > MAX_REPEAT):
                    raise jinja2.exceptions.SecurityError(
                        f"a repetition of {len(sequence) * count} items or characters (at most "
                        f"{MAX_REPEAT})")
        elif (operator == "**" and isinstance(left, int) and isinstance(right, int)
              and abs(left) > 1 and right > MAX_EXPONENT):
            raise jinja2.exceptions.SecurityError(f"a power of {right} (at most {MAX_EXPONENT})")
        return super().call_binop(context, operator, left, right)


def make_environment(loc: Localizer) -> SandboxedEnvironment:
    """The sandboxed Jinja environment of one locale: strict, escaping, with drafter's filters."""
    env = BoundedSandbox(
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        finalize=_finalize,
        extensions=["jinja2.ext.i18n"],
        keep_trailing_newline=True,
    )
    del env.globals["lipsum"]  # lipsum(10**6) would fill the memory; no letter needs it
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: xml_text(loc.gettext(message)),
        lambda singular, plural, n: xml_text(loc.ngettext(singular, plural, n)),
        newstyle=True,
    )
    env.filters.update(
        format_date=_date_filter(loc),
        format_list=lambda items, style="standard": loc.list(items, style),
        format_number=loc.number,
        country_name=loc.country,
        format_phone=lambda number, country=None: format_phone(str(number), country) or number,
        localized=loc.text,
    )
    return env


def _date_filter(loc: Localizer) -> Any:
    def format_date(value: dt.date | str, format: str = "long") -> str:
        if isinstance(value, str):
            value = dt.date.fromisoformat(value)
        return loc.date(value, format)
    return format_date


def _finalize(value: Any) -> Any:
    # Every printed value is literal text: escaped for XML, whatever it contains.
    if isinstance(value, Markup) or hasattr(value, "__html__"):
        return value
    if isinstance(value, jinja2.Undefined):
        return xml_text(value)  # StrictUndefined: raises, naming what is undefined
    if callable(value) or isinstance(value, jinja2.runtime.TemplateReference):
        # `{{ recipient.items }}`, `{{ self }}`: a Python object's repr is never letter text.
        what = ("the template itself" if isinstance(value, jinja2.runtime.TemplateReference)
                else f"a function ({getattr(value, '__name__', type(value).__name__)})")
        raise TypeError(f"{what} is not a value to print")
    return xml_text(value)


def compile_template(template: LetterTemplate, loc: Localizer) -> CompiledTemplate:
    """Read and compile the template's layout for ``loc``; every bad tag is reported at once."""
    path = template.docx_for(loc)
    parts = read_docx(path)
    env = make_environment(loc)
    problems: list[Problem] = []
    templated: dict[str, _Part] = {}
    for name, data in parts.items():
        if not TEMPLATED_PARTS.fullmatch(name):
            continue
        label = part_label(name)
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
    return CompiledTemplate(path, loc, parts, precompress(parts), templated, env,
                            frozenset(names - set(env.globals)))


# The Noto CJK face for each Han-using script: Chinese glyphs differ between them.
_CJK_FACES = {"Hans": "SC", "Hant": "TC", "Jpan": "JP", "Kore": "KR"}
_CJK_FONT = re.compile(r'(w:eastAsia="Noto (?:Sans|Serif) CJK )(?:SC|TC|JP|KR|HK)"')


def localize_styles(styles: bytes, loc: Localizer) -> bytes:
    """The template's styles for one language: its CJK face and its language tags.

    Word and LibreOffice choose fonts, line breaking and spelling by the ``w:lang`` of the text;
    a Chinese letter tagged as English gets Japanese glyph shapes and wrong punctuation widths.
    """
    text = styles.decode("utf-8")
    face = _CJK_FACES.get(loc.script)
    if face:
        text = _CJK_FONT.sub(rf'\g<1>{face}"', text)
    tag = loc.language_tag
    kind = ("eastAsia" if face else "bidi" if loc.right_to_left else "val")
    tree = etree.fromstring(text.encode("utf-8"))
    defaults = tree.find(f"{{{W}}}docDefaults/{{{W}}}rPrDefault/{{{W}}}rPr")
    if defaults is not None:
        lang = defaults.find(f"{{{W}}}lang")
        if lang is None:
            lang = etree.SubElement(defaults, f"{{{W}}}lang")
        lang.set(f"{{{W}}}{kind}", tag)
    return (_XML_DECLARATION + etree.tostring(tree, encoding="unicode")).encode("utf-8")


def jinja_source(part: bytes) -> tuple[str, list[str]]:
    """A Word XML part as Jinja source, and the visible text of each of its lines.

    Line n + 1 of the source is the part's paragraph n, *before* docxtpl removes the paragraphs
    of ``{%p %}`` tags: so a Jinja line number is always the paragraph number an editor counts.
    """
    xml = etree.tostring(etree.fromstring(part), encoding="unicode")
    xml = re.sub(r"<w:p([ >])", r"\n<w:p\1", xml)
    paragraphs = [_visible_text(line) for line in xml.split("\n")]
    helper = DocxTemplate(None)  # only for docxtpl's XML patching, which keeps no state
    return helper.patch_xml(normalize_tag_characters(xml)), paragraphs


def part_label(name: str) -> str:
    """What an editor calls a part: body, header, footer, footnotes, endnotes."""
    return re.sub(r"\d+$", "", name.removeprefix("word/").removesuffix(".xml")).replace(
        "document", "body")


_TAG_SPAN = re.compile(r"\{[{%](?:(?!</w:p>).)*?[}%]\}", re.DOTALL)
_TAG_CHARACTERS = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "\u00a0": " ",
                                 "\u202f": " "})


def normalize_tag_characters(xml: str) -> str:
    """Inside tags, Word's AutoCorrect quotes and non-breaking spaces made plain again.

    Word turns "…" into “…” and puts non-breaking spaces before some punctuation; Jinja reads
    neither. Text outside tags is left as written.
    """
    return _TAG_SPAN.sub(lambda m: m.group(0).translate(_TAG_CHARACTERS), xml)


def _visible_text(xml: str) -> str:
    text = re.sub(r"<[^>]+>", "", xml)
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'"),
                         ("&amp;", "&")):
        text = text.replace(entity, char)
    return text.strip()


def _located(path: Path, label: str, paragraphs: list[str], lineno: int | None,
             message: str) -> Problem:
    """A problem at a paragraph, told by its number and visible text, never an XML line."""
    if lineno is None or not 0 < lineno <= len(paragraphs):
        return Problem(Location(str(path), part=label), "", message)
    paragraph = lineno - 1  # line 1 holds what precedes the first paragraph
    text = paragraphs[lineno - 1]
    text = text if len(text) <= 120 else text[:117] + "…"
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
        rendered[name] = _finish_part(xml, name, context, compiled, part, problems)
    if problems:
        raise TemplateError(problems)
    return _zip(compiled, rendered, context)


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


def _finish_part(xml: str, name: str, context: LetterContext, compiled: CompiledTemplate,
                 part: _Part, problems: list[Problem]) -> bytes:
    helper = DocxTemplate(compiled.source)  # docxtpl's post-processing keeps no state
    # The line breaks compile_template put between paragraphs (text inside w:t is always
    # followed by </w:t>, so a data value's own line breaks stay).
    xml = re.sub(r"\n+(?=<w:|</w:(?!t>))", "", xml)
    # docxtpl would now turn "{_{" into "{{"; drafter does not, so that data containing "{_{"
    # comes out literally. A template prints a literal "{{" with {{ "{{" }}.
    if any(mark in xml for mark in "\t\n\a\f"):  # tabs and line breaks in values
        xml = helper.resolve_listing(xml)
    try:
        tree = etree.fromstring(xml.encode("utf-8"))
    except etree.XMLSyntaxError as e:
        problems.append(Problem(Location(str(compiled.source), part=part.label), "",
                                f"the rendered document is not valid XML ({e}); a tag "
                                "probably sits inside a field or splits a table or paragraph"))
        return b""
    if name == "word/document.xml":
        _set_paper(tree, context.paper)
    if context.right_to_left:
        _set_right_to_left(tree)
    return (_XML_DECLARATION + etree.tostring(tree, encoding="unicode")).encode("utf-8")


def _set_paper(tree: etree._Element, paper: str) -> None:
    width, height = _PAPER[paper]
    for size in tree.iter(f"{{{W}}}pgSz"):
        landscape = size.get(f"{{{W}}}orient") == "landscape"
        size.set(f"{{{W}}}w", str(height if landscape else width))
        size.set(f"{{{W}}}h", str(width if landscape else height))


# Elements that follow w:bidi inside w:pPr, in the schema's order.
_AFTER_BIDI = {f"{{{W}}}{tag}" for tag in (
    "adjustRightInd", "snapToGrid", "spacing", "ind", "contextualSpacing", "mirrorIndents",
    "suppressOverlap", "jc", "textDirection", "textAlignment", "textboxTightWrap", "outlineLvl",
    "divId", "cnfStyle", "rPr", "sectPr", "pPrChange")}


def _set_right_to_left(tree: etree._Element) -> None:
    for paragraph in tree.iter(f"{{{W}}}p"):
        properties = paragraph.find(f"{{{W}}}pPr")
        if properties is None:
            properties = etree.SubElement(paragraph, f"{{{W}}}pPr")
            paragraph.insert(0, properties)
        if properties.find(f"{{{W}}}bidi") is not None:
            continue
        bidi = etree.Element(f"{{{W}}}bidi")
        successor = next((child for child in properties if child.tag in _AFTER_BIDI), None)
        if successor is None:
            properties.append(bidi)
        else:
            successor.addprevious(bidi)


def _zip(compiled: CompiledTemplate, rendered: dict[str, bytes],
         context: LetterContext) -> bytes:
    parts = dict(rendered)
    parts["docProps/core.xml"] = _core_properties(context.properties)
    rels = compiled.parts["word/_rels/document.xml.rels"].decode("utf-8")
    extra = [f'<Relationship Id="{rel_id}" Type="{_HYPERLINK}" Target={quoteattr(url)} '
             'TargetMode="External"/>' for rel_id, url in context.links.urls.items()]
    if context.signature:
        image = Path(context.signature)
        media = f"media/drafter-signature{image.suffix.lower()}"
        parts[f"word/{media}"] = image.read_bytes()
        extra.append(f'<Relationship Id="rIdDrafterSignature" Type="{_IMAGE}" Target="{media}"/>')
        parts["[Content_Types].xml"] = _with_image_type(compiled.parts["[Content_Types].xml"],
                                                        image.suffix.lower().lstrip("."))
    parts["word/_rels/document.xml.rels"] = rels.replace(
        "</Relationships>", "".join(extra) + "</Relationships>").encode("utf-8")
    names = list(dict.fromkeys([*compiled.members, *parts]))
    # [Content_Types].xml first, as Word writes it: some readers sniff the first member.
    names.sort(key=lambda n: n != "[Content_Types].xml")
    return write_archive([Member.deflate(name, parts[name]) if name in parts
                          else compiled.members[name] for name in names])


def _core_properties(properties: dict[str, str]) -> bytes:
    def element(tag: str, key: str) -> str:
        return f"<{tag}>{xml_text(properties[key])}</{tag}>" if properties.get(key) else ""
    created = properties.get("created", "")
    return (
        _XML_DECLARATION
        + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
        'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" xmlns:dcmitype="http://purl.org/dc/dcmitype/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        + element("dc:title", "title") + element("dc:subject", "subject")
        + element("dc:creator", "author") + element("dc:language", "language")
        + (f'<dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created>'
           if created else "")
        + "</cp:coreProperties>"
    ).encode("utf-8")


def _with_image_type(content_types: bytes, extension: str) -> bytes:
    text = content_types.decode("utf-8")
    if f'Extension="{extension}"' in text:
        return content_types
    mime = {"jpg": "image/jpeg", "jpeg": "image/jpeg"}.get(extension, f"image/{extension}")
    return text.replace("</Types>", f'<Default Extension="{extension}" ContentType="{mime}"/>'
                        "</Types>").encode("utf-8")
