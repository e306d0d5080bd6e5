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
from collections.abc import Collection, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree

from . import wordml
from .context import LetterContext
from .docx_parts import jinja_source, row_of_paragraphs, shortened, templated_parts, word_xml
from .errors import Location, Problem, TemplateError, did_you_mean
from .locales import Localizer
from .package import (
    MAX_PART_BYTES,
    Member,
    package_problems,
    precompress,
    read_docx,
    write_archive,
)
from .sandbox import TemplateLimits, make_environment, unsupported_features
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
    # Where each of them is first read: the part's label and the Jinja line (paragraph + 1).
    readers: dict[str, tuple[str, int]] = field(default_factory=dict, repr=False)
    # What the letters of one run share, worked out once (see _Shared).
    shared: _Shared = field(default_factory=lambda: _Shared(), repr=False, compare=False)


class _Shared:
    """The parts the letters rendered from one compiled template have in common, finished
    once: a header or footer that comes out the same in every letter is parsed, given its
    scripts, serialized and deflated once, not once a letter. Each memo keeps at most
    :attr:`LIMIT` forms of a part (the first ones), so a part that differs in every letter
    (the body) costs a look-up and holds little memory."""

    LIMIT = 4
    PARAGRAPHS = 1024  # paragraphs finished and kept (see _finished_by_paragraph), the first
    PARAGRAPH_SIZE = 4096  # characters of a paragraph kept, at most

    def __init__(self) -> None:
        self.finished: dict[tuple[str, str, str, bool, int], tuple[_Rendered, int]] = {}
        # (part, its markup around the paragraphs or one paragraph, paper, right to left,
        # scripts given) -> the XML finished, and the relationship ids it refers to
        self.paragraphs: dict[tuple[str, str, str, bool, bool], _Rendered] = {}
        self.skeletons: dict[tuple[str, str, str, str, bool, bool], tuple[bytes, bytes,
                                                                         frozenset[str]]] = {}
        self.deflated: dict[tuple[str, bytes], Member] = {}
        self.relationships: dict[str, dict[str, tuple[str, str, bool]]] = {}
        self._forms: dict[tuple[int, str], int] = {}  # (memo, part): forms remembered

    def remember(self, memo: dict[Any, Any], key: Any, value: Any) -> None:
        """Keep ``value`` for ``key`` (whose first item is the part's name) in ``memo``,
        unless the memo holds :attr:`LIMIT` forms of that part already."""
        forms = (id(memo), key[0])
        # A picture of each record's own would be a new part name in every letter.
        if len(memo) < 16 * self.LIMIT and self._forms.get(forms, 0) < self.LIMIT:
            memo[key] = value
            self._forms[forms] = self._forms.get(forms, 0) + 1

    def member(self, name: str, content: bytes) -> Member:
        """``content`` deflated as the archive member ``name``."""
        key = (name, content)
        found = self.deflated.get(key)
        if found is None:
            found = Member.deflate(name, content)
            self.remember(self.deflated, key, found)
        return found


def compile_template(template: LetterTemplate, loc: Localizer,
                     layouts: Layouts | None = None) -> CompiledTemplate:
    """Read and compile the template's layout for ``loc``; every bad tag is reported at once.
    ``layouts``: the layouts read so far in this run, each read and checked once for all the
    locales that use it."""
    return compile_docx(template.docx_for(loc), loc, layouts)


@dataclass(frozen=True)
class _Layout:
    """One layout (a DOCX file) read, checked and its tags compiled: what every locale's
    :class:`CompiledTemplate` of it shares."""

    parts: dict[str, bytes]
    members: dict[str, Member]  # the same, deflated once
    # name -> (label, Jinja source, paragraphs, compiled code); the code binds to any
    # environment of make_environment's (they differ in their locale's values only)
    templated: dict[str, tuple[str, str, list[str], Any]]
    readers: dict[str, tuple[str, int]]


class Layouts:
    """The layouts of one run (a merge), each read and compiled once, by path."""

    def __init__(self) -> None:
        self._read: dict[Path, _Layout] = {}

    def get(self, path: Path, env: SandboxedEnvironment) -> _Layout:
        """The layout at ``path`` (read and checked now, the first time)."""
        layout = self._read.get(path)
        if layout is None:
            layout = self._read[path] = _read_layout(path, env)
        return layout


def compile_docx(path: Path, loc: Localizer, layouts: Layouts | None = None) -> CompiledTemplate:
    """Read and compile one layout (a DOCX file) for ``loc``: what ``render`` and ``check``
    both do first, so that they refuse the same templates."""
    env = make_environment(loc)
    layout = layouts.get(path, env) if layouts is not None else _read_layout(path, env)
    parts = dict(layout.parts)
    members = dict(layout.members)
    globals_ = env.make_globals(None)
    templated = {name: _Part(label, env.template_class.from_code(env, code, globals_, None),
                             source, paragraphs)
                 for name, (label, source, paragraphs, code) in layout.templated.items()}
    latin_face = wordml.latin_font(b"")  # a template without styles: Word's default
    if "word/styles.xml" in parts:
        parts["word/styles.xml"], latin_face = localize_styles(parts["word/styles.xml"], loc)
        members["word/styles.xml"] = Member.deflate("word/styles.xml", parts["word/styles.xml"])
    scripts = RunScripts.for_letter(loc, latin_face)
    return CompiledTemplate(path, loc, parts, members, templated, env,
                            frozenset(layout.readers), scripts, dict(layout.readers))


def _read_layout(path: Path, env: SandboxedEnvironment) -> _Layout:
    """A layout read (:func:`read_docx`), its tags compiled in ``env`` and its package
    checked; every problem is reported at once (:class:`TemplateError`)."""
    parts = read_docx(path)
    problems: list[Problem] = []
    templated: dict[str, tuple[str, str, list[str], Any]] = {}
    reads: dict[str, list[tuple[str, int]]] = {}
    for name, label, data in templated_parts(parts):
        try:
            source, paragraphs = jinja_source(data)
        except etree.XMLSyntaxError as e:
            problems.append(Problem(Location(str(path), part=label), "", f"damaged XML: {e}"))
            continue
        try:
            tree = env.parse(source)
            refused = list(unsupported_features(tree))
            for lineno, message in refused:
                problems.append(_located(path, label, paragraphs, lineno, message))
            if not refused:
                # Read before compiling, which folds the tree's constants in place: one
                # parse of each part serves both
                reads[name] = _first_reads(tree, env)
                templated[name] = (label, source, paragraphs, env.compile(tree))
        except jinja2.TemplateSyntaxError as e:
            problems.append(_located(path, label, paragraphs, e.lineno, e.message or str(e)))
        except (RecursionError, SyntaxError) as e:  # Python's own limits on nesting
            problems.append(Problem(Location(str(path), part=label), "",
                                    "the tags are nested too deeply "
                                    f"({e.msg if isinstance(e, SyntaxError) else e})"))
    if not problems:  # a part already reported as damaged is not reported twice
        problems += [Problem(Location(str(path)), "", f"the template file is damaged: {message}")
                     for message in package_problems(parts)]
    if problems:
        raise TemplateError(problems)
    readers: dict[str, tuple[str, int]] = {}
    for name, (label, _, _, _) in templated.items():
        for variable, lineno in reads[name]:
            readers.setdefault(variable, (label, lineno))
    return _Layout(parts, precompress(parts), templated, readers)


def _first_reads(tree: nodes.Template, env: jinja2.Environment) -> list[tuple[str, int]]:
    """The names a part reads (:func:`part_reads`), each with the Jinja line where it is
    read, first to last; then each again with line 0 (read where no line is known)."""
    names = part_reads(tree, env)
    return [(node.name, node.lineno) for node in tree.find_all(nodes.Name)
            if node.name in names and node.ctx == "load"] + [(name, 0) for name in names]


def part_reads(tree: nodes.Template, env: jinja2.Environment) -> set[str]:
    """The top-level names a part reads that a letter must give: neither Jinja's globals nor
    names the part gives values itself, anywhere (``{% set %}``, a loop's variable, a macro
    and its arguments). A name set only in a branch not taken is undefined when it is read,
    and that is said where it is read."""
    given = {node.name for node in tree.find_all(nodes.Name) if node.ctx in ("store", "param")}
    given |= {node.name for node in tree.find_all(nodes.Macro)}
    return set(meta.find_undeclared_variables(tree)) - set(env.globals) - given


_CJK_FONT = re.compile(r'(w:eastAsia="Noto (?:Sans|Serif) CJK )(?:SC|TC|JP|KR|HK)"')


def localize_styles(styles: bytes, loc: Localizer) -> tuple[bytes, str]:
    """The template's styles for one language: its CJK face and its language tags; and the
    font they give Latin text (:func:`~drafter.wordml.latin_font`, read from the same parse).

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
    return wordml.xml_bytes(tree), wordml.latin_font(tree)


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
    """The DOCX file of one letter: the compiled template filled with ``context``.

    Every part written is well-formed, and every relationship a part refers to (links, images)
    exists with its target: a problem there is a :class:`TemplateError`, never a damaged file.
    """
    unknown = unknown_names(compiled, context.values)
    if unknown:
        raise TemplateError(unknown)
    rendered, failures = _rendered_parts(compiled, context)
    if failures:
        raise TemplateError([problem for problem, _ in failures])
    media = wordml.media_in(context.values)
    docx = _assembled(compiled, rendered, context, media)
    annexes = [annex for annex in media.annexes
               if annex.marker.encode() in rendered["word/document.xml"].xml]
    if annexes:
        from .annex import with_annexes  # only letters with annexes need docxcompose
        docx = with_annexes(docx, annexes)
    return docx


def unknown_names(compiled: CompiledTemplate, available: Collection[str]) -> list[Problem]:
    """The names the template reads (:func:`part_reads`) that are not ``available`` (a
    letter's values), each where it is first read, with the nearest available name."""
    unknown = []
    for name in sorted(compiled.variables - set(available)):
        label, lineno = compiled.readers.get(name, ("", 0))
        part = next((p for p in compiled.templated.values() if p.label == label), None)
        hint = did_you_mean(name, available) or (
            f"; available: {', '.join(sorted(available))}")
        message = f"the template uses {name!r}, which no letter provides{hint}"
        unknown.append(_located(compiled.source, label, part.paragraphs, lineno, message)
                       if part is not None else Problem(Location(str(compiled.source)),
                                                        name, message))
    return unknown


def render_failures(compiled: CompiledTemplate, context: LetterContext) -> list[
        tuple[Problem, bool]]:
    """What rendering the template with ``context`` would refuse, as :func:`render_docx` says
    it, each with whether it would be refused whatever the data (the sandbox or its limits
    refuse it, or a name is read that nothing gives): what ``check`` reports."""
    return [(problem, _whatever_the_data(error))
            for problem, error in _rendered_parts(compiled, context)[1]]


def _whatever_the_data(error: BaseException) -> bool:
    if isinstance(error, jinja2.UndefinedError):
        return bool(re.fullmatch(r"'\w+' is undefined", error.message or ""))
    return isinstance(error, jinja2.exceptions.SecurityError | OverflowError | RecursionError
                      | MemoryError)


def _rendered_parts(compiled: CompiledTemplate, context: LetterContext) -> tuple[
        dict[str, _Rendered], list[tuple[Problem, BaseException]]]:
    """Every templated part rendered and finished, or the problem (and its cause) of each
    part that fails."""
    problems: list[tuple[Problem, BaseException]] = []
    rendered: dict[str, _Rendered] = {}
    drawings = _DrawingNumbers()
    for name, part in compiled.templated.items():
        try:
            xml = _render_bounded(part.template, context.values)
        except (jinja2.TemplateError, TypeError, ValueError, AttributeError, OverflowError,
                RecursionError, MemoryError) as e:
            problems.append((_located(compiled.source, part.label, part.paragraphs,
                                      _template_line(e), _describe(e)), e))
            continue
        key = (name, xml, context.paper, context.right_to_left, drawings.next)
        known = compiled.shared.finished.get(key)
        if known is not None:  # the same as in an earlier letter
            rendered[name], drawings.next = known
            continue
        try:
            rendered[name] = _finished_part(xml, name, context, drawings,
                                            compiled.scripts
                                            or RunScripts.for_letter(compiled.localizer),
                                            compiled.shared)
            compiled.shared.remember(compiled.shared.finished, key,
                                     (rendered[name], drawings.next))
        except etree.XMLSyntaxError as e:
            hint = (" (an image goes in a {{ }} tag of its own, not {{r }} or {{p }})"
                    if "<w:drawing>" in xml else "")
            problems.append((Problem(Location(str(compiled.source), part=part.label), "",
                                     f"the rendered document is not valid XML ({e}); a tag "
                                     "probably sits inside a field or splits a table or "
                                     f"paragraph{hint}"), e))
    return rendered, problems


@dataclass(frozen=True)
class _Rendered:
    """A rendered part: its XML, and the relationship ids it refers to."""

    xml: bytes
    references: frozenset[str]


class _DrawingNumbers:
    """Unique ids for the pictures of one letter (``wp:docPr``): a loop that shows the same
    picture twice would otherwise give two with one id, which Word reports as damage."""

    def __init__(self) -> None:
        self.next = 1000  # where docxtpl starts too: the same body XML as plain docxtpl

    def renumber(self, tree: etree._Element) -> None:
        for properties in tree.iter(wordml.qn("wp:docPr")):
            self.next += 1
            properties.set("id", str(self.next))


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
    if isinstance(error, RecursionError):
        return ("refused: the template calls itself too deeply (a macro or a recursive "
                f"loop: {error}); a call of itself needs a condition that stops it")
    if isinstance(error, MemoryError):
        return ("refused: the template needs more memory than this computer allows it "
                f"(MemoryError{': ' + str(error) if str(error) else ''}); the limits a "
                f"template is held to (docs/errors.md) are {_limits_in_words()}")
    if isinstance(error, OverflowError):
        return f"refused: the template makes too much ({error})"
    return f"{type(error).__name__}: {error}"


def _limits_in_words() -> str:
    limits = TemplateLimits()
    return (f"{limits.value_size:,} characters or items in one value, "
            f"{limits.total_size:,} in all the values of a part, {limits.steps:,} steps "
            f"and {limits.cpu_seconds:g} CPU seconds")


def _finished_part(rendered: str, name: str, context: LetterContext,
                   drawings: _DrawingNumbers, scripts: RunScripts,
                   shared: _Shared | None = None) -> _Rendered:
    """A rendered part as the XML a DOCX holds, on the letter's paper and in its direction,
    each run in its script's font, language and direction (:mod:`drafter.scripts`), its
    tables' grids matching their rows (``{%tc %}`` loops change the number of cells), its
    pictures numbered.

    A part that is one row of paragraphs (no table, picture or paragraph in another) is
    finished paragraph by paragraph, each paragraph the letters of a run have in common
    finished once (``shared``): the same XML as finishing it whole, since every step acts
    within a paragraph.

    Raises :class:`lxml.etree.XMLSyntaxError` when the rendered part is not well-formed.
    """
    xml = word_xml(rendered)
    with_scripts = not (xml.isascii() and scripts.script == "Latn"
                        and not scripts.right_to_left)  # else every run is the letter's own
    if shared is not None:
        finished = _finished_by_paragraph(xml, name, context, scripts, with_scripts, shared)
        if finished is not None:
            return finished
    tree = _finished_tree(xml, name, context, drawings, scripts, with_scripts)
    return _Rendered(wordml.xml_bytes(tree), frozenset(wordml.references(tree)))


def _finished_tree(xml: str, name: str, context: LetterContext, drawings: _DrawingNumbers,
                   scripts: RunScripts, with_scripts: bool) -> etree._Element:
    """Every step of :func:`_finished_part` on ``xml``, parsed."""
    tree = etree.fromstring(xml.encode("utf-8"))
    if "<w:tbl" in xml:
        tree = wordml.fix_table_grids(tree)
    drawings.renumber(tree)
    if name == "word/document.xml":
        wordml.set_paper(tree, context.paper)
    if context.right_to_left:
        wordml.set_right_to_left(tree)
    if with_scripts:
        apply_scripts(tree, scripts)
    return tree


_FINISHED_PARAGRAPH = re.compile(rb"(?=<w:p[ >])")  # where a finished paragraph starts
# Where the paragraphs go in the markup around them; no step of the finishing touches it.
_PLACE = "<w:drafterParagraphs/>"


def _finished_by_paragraph(xml: str, name: str, context: LetterContext, scripts: RunScripts,
                           with_scripts: bool, shared: _Shared) -> _Rendered | None:
    """:func:`_finished_part` of a part that is markup around a row of paragraphs, from the
    paragraphs finished before; None for any other part (a table, a picture, a text box…)."""
    if "<w:tbl" in xml or "docPr" in xml:  # grids and picture numbers span paragraphs
        return None
    row = row_of_paragraphs(xml)
    if row is None:
        return None
    head, paragraphs, tail = row
    paper, rtl = context.paper, context.right_to_left
    skeleton_key = (name, head, tail, paper, rtl, with_scripts)
    skeleton = shared.skeletons.get(skeleton_key)
    if skeleton is None:
        skeleton = _skeleton(head, tail, name, context, scripts, with_scripts)
        if skeleton is None:
            return None
        if len(shared.skeletons) < shared.LIMIT * 4:
            shared.skeletons[skeleton_key] = skeleton
    before, after, references = skeleton
    keys = [(name, paragraph, paper, rtl, with_scripts) for paragraph in paragraphs]
    known = [shared.paragraphs.get(key) for key in keys]
    missing = list(dict.fromkeys(key[1] for key, part in zip(keys, known, strict=True)
                                 if part is None))
    new: dict[str, _Rendered] = {}
    if missing:
        tree = _finished_tree(head + "".join(missing) + tail, name, context, _DrawingNumbers(),
                              scripts, with_scripts)
        whole = wordml.xml_bytes(tree)
        if not (whole.startswith(before) and whole.endswith(after)):
            return None
        pieces = _FINISHED_PARAGRAPH.split(whole[len(before):len(whole) - len(after)])[1:]
        elements = list(tree.iter(wordml.qn("w:p")))
        if len(pieces) != len(missing) or len(elements) != len(missing):
            return None
        new = {paragraph: _Rendered(piece, frozenset(wordml.references(element)))
               for paragraph, piece, element in zip(missing, pieces, elements, strict=True)}
        for paragraph, finished in new.items():
            if (len(shared.paragraphs) < shared.PARAGRAPHS
                    and len(paragraph) <= shared.PARAGRAPH_SIZE):
                shared.paragraphs[(name, paragraph, paper, rtl, with_scripts)] = finished
    parts = [part or new[key[1]] for key, part in zip(keys, known, strict=True)]
    return _Rendered(before + b"".join(part.xml for part in parts) + after,
                     references.union(*(part.references for part in parts)))


def _skeleton(head: str, tail: str, name: str, context: LetterContext, scripts: RunScripts,
              with_scripts: bool) -> tuple[bytes, bytes, frozenset[str]] | None:
    """The finished XML before and after a part's paragraphs, and what it refers to; None
    when the markup around them cannot hold the place of the paragraphs."""
    try:
        tree = _finished_tree(head + _PLACE + tail, name, context, _DrawingNumbers(), scripts,
                              with_scripts)
    except etree.XMLSyntaxError:
        return None  # the part is finished whole, and its error told as it is
    whole = wordml.xml_bytes(tree)
    place = _PLACE.encode()
    if whole.count(place) != 1:
        return None
    before, after = whole.split(place)
    return before, after, frozenset(wordml.references(tree))


def _assembled(compiled: CompiledTemplate, rendered: dict[str, _Rendered],
               context: LetterContext, media: wordml.Media) -> bytes:
    """The letter's archive: its rendered parts, properties, links and images, and the
    template's other members as deflated once.

    Each rendered part gets the relationships it refers to (a link in a header is the
    header's); one it refers to that exists nowhere is a :class:`TemplateError`.
    """
    parts = {name: part.xml for name, part in rendered.items()}
    properties = rendered.get("docProps/core.xml")
    parts["docProps/core.xml"] = wordml.core_properties(
        context.properties, properties.xml if properties else compiled.parts.get(
            "docProps/core.xml"))
    images = {image.rel_id: image for image in media.images}
    used: dict[str, wordml.Image] = {}
    problems = []
    for name, part in rendered.items():
        rels_name = wordml.relationships_part(name)
        existing = compiled.shared.relationships.get(rels_name)
        if existing is None:
            existing = wordml.relationships(compiled.parts[rels_name]) if (
                rels_name in compiled.parts) else {}
            compiled.shared.relationships[rels_name] = existing  # one per part of the layout
        links = {rel_id: context.links.urls[rel_id] for rel_id in sorted(part.references)
                 if rel_id not in existing and rel_id in context.links.urls}
        pictures = [images[rel_id] for rel_id in sorted(part.references)
                    if rel_id not in existing and rel_id in images]
        dangling = sorted(part.references - set(existing) - set(links) - set(images))
        label = compiled.templated[name].label if name in compiled.templated else name
        problems += [Problem(Location(str(compiled.source), part=label), "",
                             f"the letter would refer to relationship {rel_id!r}, which does "
                             "not exist (a link or picture from outside drafter's data?)")
                     for rel_id in dangling]
        if links or pictures:
            parts[rels_name] = wordml.with_relationships(compiled.parts.get(rels_name), links,
                                                         pictures)
        used.update((image.rel_id, image) for image in pictures)
    if problems:
        raise TemplateError(problems)
    for image in used.values():
        parts[f"word/{image.media}"] = image.data
    if used:
        parts["[Content_Types].xml"] = wordml.with_image_types(
            compiled.parts["[Content_Types].xml"], (image.extension for image in used.values()))
    names = list(dict.fromkeys([*compiled.members, *parts]))
    # [Content_Types].xml first, as Word writes it: some readers sniff the first member.
    names.sort(key=lambda n: n != "[Content_Types].xml")
    return write_archive([compiled.shared.member(name, parts[name]) if name in parts
                          else compiled.members[name] for name in names])
