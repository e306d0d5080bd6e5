"""Checking templates in the editor's terms: every mistake, where it is, before any letter.

:func:`check_template` reads a DOCX template as an editor sees it (parts, paragraphs, visible
text) and reports every problem it finds in one pass, each at its paragraph with the offending
tag marked: Jinja syntax, unclosed or stray blocks, unknown filters and tests, tags Word broke
apart, typographic quotes in tags, paragraph tags that share their paragraph with text, and
(given data) values the template needs that the data lacks. :func:`template_variables` lists
what a template reads, as a tree.
"""

from __future__ import annotations

import difflib
import re
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from docxtpl import DocxTemplate
from jinja2 import nodes
from lxml import etree

from .context import DERIVED_FROM, build_context
from .errors import DrafterError, TemplateError
from .loading import read_letter
from .locales import Localizer
from .render import localizer_for
from .template import (
    LetterTemplate,
    find_template,
    make_environment,
    normalize_tag_characters,
    read_docx,
)

_PARTS = re.compile(r"word/(document|header\d*|footer\d*|footnotes|endnotes)\.xml")
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_OPEN_ONLY = re.compile(r"\{\{(?!.*?\}\})|\{%(?!.*?%\})", re.DOTALL)
_BLOCKS = {"for": "endfor", "if": "endif", "macro": "endmacro", "call": "endcall",
           "filter": "endfilter", "set": "endset", "with": "endwith", "raw": "endraw",
           "trans": "endtrans", "block": "endblock", "autoescape": "endautoescape"}
_MIDDLES = {"else": ("for", "if"), "elif": ("if",), "pluralize": ("trans",)}
_TYPOGRAPHIC = "“”‘’\u00a0\u202f"


@dataclass(frozen=True)
class Finding:
    """One problem in a template, located as an editor would look for it."""

    severity: str  # "error" or "warning"
    kind: str  # syntax, unclosed-block, stray-end, unknown-filter, unknown-test, split-tag,
    #            typographic-quotes, paragraph-tag, missing-value, unused-field
    part: str  # body, header, footer, footnotes, endnotes
    paragraph: int | None  # 1-based, within the part
    text: str  # the paragraph's visible text, the offending tag marked »like this«
    message: str
    in_table: bool = False

    def where(self) -> str:
        """``body paragraph 12 (in a table)``."""
        if self.paragraph is None:
            return self.part
        table = " (in a table)" if self.in_table else ""
        return f"{self.part} paragraph {self.paragraph}{table}"

    def __str__(self) -> str:
        quoted = f'\n    "{self.text}"' if self.text else ""
        return f"{self.where()}: {self.severity}: {self.message}{quoted}"

    def as_dict(self) -> dict[str, Any]:
        """The finding as a JSON-ready record."""
        return {**asdict(self), "where": self.where()}


@dataclass(frozen=True)
class _Paragraph:
    part: str
    number: int
    text: str
    in_table: bool


@dataclass
class _Checker:
    template: Path
    environment: jinja2.Environment
    findings: list[Finding] = field(default_factory=list)

    def add(self, severity: str, kind: str, paragraph: _Paragraph | None, message: str,
            tag: str = "", part: str = "body") -> None:
        text = ""
        if paragraph is not None:
            text = paragraph.text.replace(tag, f"»{tag}«", 1) if tag else paragraph.text
            text = text if len(text) <= 160 else text[:157] + "…"
        self.findings.append(Finding(
            severity, kind, paragraph.part if paragraph else part,
            paragraph.number if paragraph else None, text, message,
            paragraph.in_table if paragraph else False))


def check_template(template: str | Path | LetterTemplate, data: Path | None = None, *,
                   locale: str | None = None) -> list[Finding]:
    """Every problem in a template (each of its layouts), and with ``data`` every value it
    needs that the data lacks; nothing is rendered to disk."""
    if not isinstance(template, LetterTemplate):
        template = find_template(template)
    letter = read_letter(data)[0] if data else None
    findings: list[Finding] = []
    for variant, path in template.variants.items():
        loc = localizer_for(template, locale or (letter.locale if letter else variant or "en"))
        checker = _Checker(path, make_environment(loc))
        _check_docx(checker, path)
        if letter is not None and not any(f.severity == "error" for f in checker.findings):
            _check_values(checker, template, path, letter, loc)
        findings += checker.findings
    return findings


def _check_docx(checker: _Checker, path: Path) -> None:
    parts = read_docx(path)
    helper = DocxTemplate(path)
    for name, data in parts.items():
        if not _PARTS.fullmatch(name):
            continue
        label = re.sub(r"\d+$", "", name[5:-4]).replace("document", "body")
        xml = re.sub(r"<w:p([ >])", r"\n<w:p\1", etree.tostring(etree.fromstring(data),
                                                                 encoding="unicode"))
        paragraphs = list(_paragraphs(label, xml))
        for paragraph in paragraphs:
            _check_paragraph(checker, paragraph)
        patched = helper.patch_xml(normalize_tag_characters(xml)).split("\n")
        for paragraph in paragraphs:
            line = patched[paragraph.number] if paragraph.number < len(patched) else ""
            for tag in _TAG.findall(line):
                if "<" in tag and ">" in tag:
                    visible = _TAG.search(paragraph.text)
                    checker.add("error", "split-tag", paragraph, "Word split this tag with "
                                "formatting, proofing or revision marks it cannot be read "
                                "through; select the tag, clear its formatting and type it "
                                "again in one go", visible.group(0) if visible else "")
        _check_blocks(checker, paragraphs)


def _paragraphs(part: str, xml: str) -> Iterator[_Paragraph]:
    depth = 0
    for number, line in enumerate(xml.split("\n")):
        if number:
            yield _Paragraph(part, number, _visible(line), depth > 0)
        depth += line.count("<w:tbl>") + line.count("<w:tbl ") - line.count("</w:tbl>")


def _visible(xml: str) -> str:
    # The text of w:t elements only: deleted text (w:delText) and field codes are not seen.
    texts = re.findall(r"<w:t(?: [^>]*)?>(.*?)</w:t>", xml, re.DOTALL)
    text = "".join(texts)
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&amp;", "&")):
        text = text.replace(entity, char)
    return text


def _check_paragraph(checker: _Checker, paragraph: _Paragraph) -> None:
    text = paragraph.text
    unclosed = _OPEN_ONLY.search(_TAG.sub("", text))
    if unclosed:
        checker.add("error", "syntax", paragraph, f"a tag opened with {unclosed.group(0)!r} is "
                    "not closed in this paragraph", unclosed.group(0))
    for tag in _TAG.findall(text):
        clean = normalize_tag_characters(tag)
        if clean != tag:
            checker.add("warning", "typographic-quotes", paragraph, "typographic quotes or "
                        "non-breaking spaces in this tag (Word's AutoCorrect) are read as "
                        "plain ones", tag)
        kind = tag[:3]
        if kind in ("{%p", "{%t", "{{p", "{{t") and re.match(r"\{[%{](p|tr|tc)\s", tag):
            rest = text.replace(tag, "", 1).strip()
            if rest:
                checker.add("error", "paragraph-tag", paragraph, f"{tag[:3]} tags replace "
                            f"their whole paragraph (or table row): the text {rest[:40]!r} "
                            "beside it would be lost; put the tag in a paragraph of its own",
                            tag)
        _check_tag(checker, paragraph, tag, clean)


def _check_tag(checker: _Checker, paragraph: _Paragraph, tag: str, clean: str) -> None:
    """A tag's own syntax, filters and tests, checked alone so every bad tag is found."""
    body = re.sub(r"^\{([{%#])[ptrc]{0,2}(?=\s)", r"{\1", clean)
    if body.startswith("{#"):
        return
    if body.startswith("{{"):
        source = body
    else:
        words = body[2:-2].split()
        if not words:
            checker.add("error", "syntax", paragraph, "an empty {% %} tag", tag)
            return
        keyword = words[0].lstrip("-+")
        if keyword in _BLOCKS:
            source = body + ("{% " + _BLOCKS[keyword] + " %}" if keyword != "set" or
                             "=" not in body else "")
        elif keyword in _MIDDLES:
            opener = _MIDDLES[keyword][0]
            source = "{% " + opener + (" x in y" if opener == "for" else " x") + " %}" + \
                body + "{% end" + opener + " %}"
        elif keyword.startswith("end") or keyword in ("break", "continue", "vm", "hm"):
            return  # checked by block matching
        else:
            source = body
    try:
        tree = checker.environment.parse(source)
    except jinja2.TemplateSyntaxError as e:
        checker.add("error", "syntax", paragraph, f"{e.message}", tag)
        return
    for node in tree.find_all(nodes.Filter):
        if node.name not in checker.environment.filters:
            close = difflib.get_close_matches(node.name, checker.environment.filters, 1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            checker.add("error", "unknown-filter", paragraph,
                        f"unknown filter {node.name!r}{hint}", tag)
    for test in tree.find_all(nodes.Test):
        if test.name not in checker.environment.tests:
            checker.add("error", "unknown-test", paragraph, f"unknown test {test.name!r}", tag)


def _check_blocks(checker: _Checker, paragraphs: list[_Paragraph]) -> None:
    """Every {% for %}/{% if %}… closed by its end tag, and no end tag without a start."""
    stack: list[tuple[str, _Paragraph, str]] = []
    for paragraph in paragraphs:
        for tag in _TAG.findall(paragraph.text):
            if not tag.startswith("{%"):
                continue
            words = re.sub(r"^\{%[ptrc]{0,2}(?=\s)", "{%", normalize_tag_characters(tag))
            keyword = (words[2:-2].split() or [""])[0].lstrip("-+")
            if keyword == "set" and "=" in words:
                continue
            if keyword in _BLOCKS:
                stack.append((keyword, paragraph, tag))
            elif keyword in _MIDDLES:
                if not stack or stack[-1][0] not in _MIDDLES[keyword]:
                    checker.add("error", "stray-end", paragraph, f"{{% {keyword} %}} outside "
                                f"any {' or '.join('{% ' + o + ' %}' for o in _MIDDLES[keyword])}",
                                tag)
            elif keyword.startswith("end") and keyword[3:] in _BLOCKS:
                if stack and stack[-1][0] == keyword[3:]:
                    stack.pop()
                elif any(opened == keyword[3:] for opened, _, _ in stack):
                    while stack and stack[-1][0] != keyword[3:]:
                        opened, where, opening = stack.pop()
                        checker.add("error", "unclosed-block", where, f"{{% {opened} %}} is "
                                    f"never closed: no {{% end{opened} %}} before paragraph "
                                    f"{paragraph.number}'s {{% {keyword} %}}", opening)
                    stack.pop()
                else:
                    checker.add("error", "stray-end", paragraph, f"{{% {keyword} %}} without a "
                                f"{{% {keyword[3:]} %}} before it", tag)
    for opened, where, opening in stack:
        checker.add("error", "unclosed-block", where, f"{{% {opened} %}} is never closed: add "
                    f"{{% end{opened} %}} (docxtpl: {{%p end{opened} %}} in a paragraph of its "
                    "own)", opening)


def _check_values(checker: _Checker, template: LetterTemplate, path: Path, letter: Any,
                  loc: Localizer) -> None:
    """Values the template reads that the letter's context lacks; data it never uses."""
    context = build_context(letter, loc).values
    used = template_variables(template, path)
    available = set(_paths(context))
    for variable in sorted(used):
        if variable in available or any(a.startswith(variable + ".") or a.startswith(
                variable + "[]") for a in available):
            continue
        parent = variable.rsplit(".", 1)[0] if "." in variable else ""
        if parent and parent in available and not isinstance(_lookup(context, parent), dict):
            continue  # an attribute of a value (a date's .year, a string's .upper)
        close = difflib.get_close_matches(variable, sorted(available), 1, 0.7)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        checker.add("error", "missing-value", None, f"the template reads {variable!r}, which "
                    f"the letter does not provide{hint}")
    direct = {v.split("[]")[0] for v in used} | set(used)
    fed = {source for name, sources in DERIVED_FROM.items() if any(
        v == name or v.startswith(name + ".") or name.startswith(v + ".") for v in used)
        for source in sources}
    for field_path in _data_fields(letter):
        base = field_path.split("[]")[0]
        if any(base == v or base.startswith(v + ".") or v.startswith(base + ".")
               for v in direct | fed):
            continue
        checker.add("warning", "unused-field", None, f"the data's {field_path!r} is not used "
                    "by the template")


def _lookup(context: dict[str, Any], dotted: str) -> Any:
    value: Any = context
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _paths(value: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            yield path
            yield from _paths(item, path)
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        for item in value[:1]:
            yield from _paths(item, prefix + "[]")


def _data_fields(letter: Any) -> Iterator[str]:
    """The fields the data file sets, two levels deep: ``recipient.title``, ``cc[].name``."""
    data = letter.model_dump(exclude_defaults=True)
    for key, value in data.items():
        if (isinstance(value, dict) and key != "recipient") or key == "recipient":
            for sub in (value if isinstance(value, dict) else {}):
                yield f"{key}.{sub}"
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for sub in value[0]:
                yield f"{key}[].{sub}"
        else:
            yield key


def template_variables(template: str | Path | LetterTemplate,
                       docx: Path | None = None) -> dict[str, set[str]]:
    """What a template reads: ``{"recipient.name": {"condition"}, "cc[].lines": {"loop"}}``.

    The set says where the variable is used: inside a ``loop``, a ``condition``, or ``plain``.
    """
    if not isinstance(template, LetterTemplate):
        template = find_template(template)
    environment = make_environment(Localizer(localizer_for(template, "en").locale))
    found: dict[str, set[str]] = {}
    for path in [docx] if docx else list(template.variants.values()):
        parts = read_docx(path)
        helper = DocxTemplate(path)
        for name, data in parts.items():
            if not _PARTS.fullmatch(name):
                continue
            xml = etree.tostring(etree.fromstring(data), encoding="unicode")
            try:
                tree = environment.parse(helper.patch_xml(normalize_tag_characters(xml)))
            except jinja2.TemplateSyntaxError as e:
                raise TemplateError(check_problems(path)) from e
            _walk(tree, {}, (), found)
    return found


def check_problems(path: Path) -> list[Any]:
    """The errors of a template as problems, for callers that need a valid template."""
    from .errors import Problem
    checker = _Checker(path, make_environment(localizer_for(find_template(path), "en")))
    _check_docx(checker, path)
    return [Problem(f"{path}, {f.where()}", "", f"{f.message} — in \"{f.text}\"")
            for f in checker.findings if f.severity == "error"]


def _walk(node: nodes.Node, aliases: dict[str, list[str]], where: tuple[str, ...],
          found: dict[str, set[str]]) -> None:
    if isinstance(node, nodes.For):
        sources = _expressions(node.iter, aliases)
        _walk(node.iter, aliases, where, found)
        inner = dict(aliases)
        if isinstance(node.target, nodes.Name):
            inner[node.target.name] = [f"{s}[]" for s in sources]
        for child in node.body + node.else_:
            _walk(child, inner, (*where, "loop"), found)
        if node.test is not None:
            _walk(node.test, inner, (*where, "loop"), found)
        return
    if isinstance(node, nodes.If):
        _walk(node.test, aliases, (*where, "condition"), found)
        for child in [*node.body, *node.elif_, *node.else_]:
            _walk(child, aliases, (*where, "condition"), found)
        return
    if isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Name):
        for path in _expressions(node, aliases):
            # `line` in `for line in recipient.lines`: the list's items, i.e. the list itself
            found.setdefault(path.removesuffix("[]"), set()).update(set(where) or {"plain"})
        return
    for child in node.iter_child_nodes():
        _walk(child, aliases, where, found)


def _expressions(node: nodes.Node, aliases: dict[str, list[str]]) -> list[str]:
    """The variable paths an expression reads: ``recipient.lines + recipient.contact_lines``
    reads both; ``person.name`` inside ``for person in cc`` reads ``cc[].name``."""
    if isinstance(node, nodes.Name):
        if node.name in aliases:
            return aliases[node.name]
        if node.name in ("loop", "_", "gettext", "ngettext", "range", "dict", "lipsum",
                         "cycler", "joiner", "namespace"):
            return []
        return [node.name]
    if isinstance(node, nodes.Getattr):
        return [f"{base}.{node.attr}" for base in _expressions(node.node, aliases)]
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(
            node.arg.value, str):
        return [f"{base}.{node.arg.value}" for base in _expressions(node.node, aliases)]
    paths: list[str] = []
    for child in node.iter_child_nodes():
        paths += _expressions(child, aliases)
    return paths


def archive_is_docx(path: Path) -> bool:
    """Whether a file is a zip archive with a Word document inside."""
    try:
        with zipfile.ZipFile(path) as archive:
            return "word/document.xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


__all__ = ["DrafterError", "Finding", "check_template", "template_variables"]
