"""Checking templates in the editor's terms: every mistake, where it is, before any letter.

:func:`check_template` reads a DOCX template as an editor sees it (parts, paragraphs, visible
text) and reports every problem it finds in one pass, each at its paragraph with the offending
tag marked: Jinja syntax, unclosed or stray blocks, unknown filters and tests, tags Word broke
apart, typographic quotes in tags, paragraph tags that share their paragraph with text, and
(given data) values the template needs that the data lacks. :func:`template_variables` lists
what a template reads, as a tree.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

import jinja2
from jinja2 import nodes
from lxml import etree

from .compiled import CompiledTemplate, compile_docx, part_reads, render_failures
from .context import BUILTIN_NAMES, build_context, fields_used
from .docx_parts import (
    TAG_CHARACTERS,
    Paragraph,
    docxtpl_source,
    jinja_source,
    normalize_tag_characters,
    paragraphs,
    shortened,
    split_paragraphs,
    templated_parts,
)
from .errors import (
    DataError,
    DrafterError,
    Location,
    Problem,
    Severity,
    TemplateError,
    did_you_mean,
)
from .fields import FieldSchema, letter_model, template_fields
from .loading import load_yaml, read_letter
from .locales import Localizer, localizer_for, missing_catalog
from .package import read_docx
from .sandbox import make_environment, unsupported_features
from .template import BUILTIN_TEMPLATE, LetterTemplate, find_template

# A tag runs from its opening to its closing delimiter, never across another tag's opening: an
# unclosed "{{ x }" must not swallow the tag after it. Quoted text may hold anything ("{{").
_TAG = re.compile(r"""\{\{(?:"[^"]*"|'[^']*'|(?!\{[{%#]).)*?\}\}"""
                  r"""|\{%(?:"[^"]*"|'[^']*'|(?!\{[{%#]).)*?%\}|\{#.*?#\}""", re.DOTALL)
_OPENING = re.compile(r"\{[{%#]")
_CLOSING = {"{{": "}}", "{%": "%}", "{#": "#}"}
# docxtpl's own first step: braces of one delimiter joined when only markup lies between them.
_JOIN_BRACES = re.compile(r"(?<={)(<[^>]*>)+(?=[\{%\#])|(?<=[%\}\#])(<[^>]*>)+(?=\})",
                          re.DOTALL)
_RUNS_ON = re.compile(r"\{\{(?:(?!\}\}).)*$|\{%(?:(?!%\}).)*$|\{#(?:(?!#\}).)*$", re.DOTALL)
_MARKUP = re.compile(r"</?w:\w")
_BLOCKS = {"for": "endfor", "if": "endif", "macro": "endmacro", "call": "endcall",
           "filter": "endfilter", "set": "endset", "with": "endwith", "raw": "endraw",
           "trans": "endtrans", "block": "endblock", "autoescape": "endautoescape"}
_MIDDLES = {"else": ("for", "if"), "elif": ("if",), "pluralize": ("trans",)}


FindingKind = Literal["syntax", "unclosed-block", "stray-end", "unknown-filter", "unknown-test",
                      "unknown-name", "unsupported", "split-tag", "typographic-quotes",
                      "paragraph-tag", "missing-value", "unused-field", "fields", "damaged",
                      "no-catalog", "refused"]


@dataclass(frozen=True)
class Finding:
    """One problem in a template, located as an editor would look for it."""

    severity: Severity
    kind: FindingKind
    part: str  # body, header, footer, footnotes, endnotes; for a data field, file:line:column
    paragraph: int | None  # 1-based, within the part
    text: str  # the paragraph's visible text, the offending tag marked »like this«
    message: str
    in_table: bool = False
    file: str = ""  # the layout (letter.zh_Hans.docx) when a template folder has several

    def where(self) -> str:
        """``body paragraph 12 (in a table)``; ``letter.ko.docx, body paragraph 3``."""
        layout = f"{self.file}, " if self.file else ""
        if self.paragraph is None:
            return layout + self.part
        table = " (in a table)" if self.in_table else ""
        return f"{layout}{self.part} paragraph {self.paragraph}{table}"

    def __str__(self) -> str:
        quoted = f'\n    "{self.text}"' if self.text else ""
        return f"{self.where()}: {self.severity}: {self.message}{quoted}"

    def as_dict(self) -> dict[str, Any]:
        """The finding as a JSON-ready record."""
        return {**asdict(self), "where": self.where()}


@dataclass
class _Checker:
    template: Path
    environment: jinja2.Environment
    findings: list[Finding] = field(default_factory=list)
    paragraphs: list[Paragraph] = field(default_factory=list)
    known: frozenset[str] = BUILTIN_NAMES  # the names a letter gives: built-in and declared
    names: set[str] = field(default_factory=set)  # loop variables, {% set %} names, macros
    reads: list[tuple[Paragraph, str, str]] = field(default_factory=list)  # paragraph, tag, name

    def add(self, severity: Severity, kind: FindingKind, paragraph: Paragraph | None,
            message: str,
            tag: str = "", part: str = "body") -> None:
        text = ""
        if paragraph is not None:
            text = paragraph.text.replace(tag, f"»{tag}«", 1) if tag else paragraph.text
            text = shortened(text, 160)
        self.findings.append(Finding(
            severity, kind, paragraph.part if paragraph else part,
            paragraph.number if paragraph else None, text, message,
            paragraph.in_table if paragraph else False))


def check_template(template: str | Path | LetterTemplate, data: Path | str | None = None, *,
                   locale: str | None = None) -> list[Finding]:
    """Every problem in a template (each of its layouts), and with ``data`` every value it
    needs that the data lacks; nothing is rendered to disk."""
    if not isinstance(template, LetterTemplate):
        template = find_template(template)
    data = Path(data) if data else None
    findings: list[Finding] = []
    try:
        schema = template_fields(template)
    except DataError as e:  # fields.yaml itself: each problem at its line, the layouts still
        schema = FieldSchema()
        findings += [Finding("error", "fields", str(p.location), None, "",
                             f"{p.field}: {p.message}" if p.field else p.message)
                     for p in e.problems]
    letter = read_letter(data, letter_model(schema))[0] if data else None
    known = BUILTIN_NAMES | set(schema.names)
    for variant, path in template.variants.items():
        loc = localizer_for(template, locale or (letter.locale if letter else variant or "en"))
        checker = _Checker(path, make_environment(loc), known=frozenset(known))
        _check_docx(checker, path)
        compiled = _compiled(checker, path, loc)
        _check_names(checker, compiled)
        if compiled is not None and not any(f.severity == "error" for f in checker.findings):
            before = len(checker.findings)
            if letter is not None:
                _check_values(checker, template, path, letter, loc, data)
            _check_rendering(checker, compiled, letter or _sample_letter(template, schema), loc,
                             checker.findings[before:], every_problem=letter is not None)
        # In the order an editor reads: part by part, paragraph by paragraph; data last.
        parts = list(dict.fromkeys(p.part for p in checker.paragraphs))
        ordered = sorted(checker.findings, key=lambda f: (
            parts.index(f.part) if f.part in parts else len(parts), f.paragraph or 0))
        if len(template.variants) > 1:
            ordered = [replace(f, file=path.name) for f in ordered]
        findings += ordered
    if letter is not None or locale:
        identifier = locale or (letter.locale if letter else "en")
        missing = missing_catalog(template.catalogs, localizer_for(template, identifier).locale)
        if missing:
            findings.append(Finding("warning", "no-catalog", "data", None, "", missing))
    return findings


def _compiled(checker: _Checker, path: Path, loc: Localizer) -> CompiledTemplate | None:
    """The layout compiled as ``render`` compiles it; what that refuses and the checks above
    did not find is reported too, so that a template ``check`` passes always compiles."""
    try:
        return compile_docx(path, loc)
    except TemplateError as e:
        if not any(f.severity == "error" for f in checker.findings):
            checker.findings += [_finding(problem, "syntax") for problem in e.problems]
        return None


def _finding(problem: Problem, kind: FindingKind) -> Finding:
    where = problem.location
    return Finding(problem.severity, kind, where.part or "body", where.paragraph, problem.text,
                   problem.message, where.in_table)


def _sample_letter(template: LetterTemplate, schema: FieldSchema) -> Any:
    """The template's sample letter (or the built-in template's) to try a render with; None
    when there is none the template's fields accept."""
    for sample in (template.sample, find_template(BUILTIN_TEMPLATE).sample):
        if sample.is_file():
            try:
                return read_letter(sample, letter_model(schema))[0]
            except DrafterError:
                return None
    return None


def _check_rendering(checker: _Checker, compiled: CompiledTemplate, letter: Any,
                     loc: Localizer, value_findings: list[Finding], *,
                     every_problem: bool) -> None:
    """Render the compiled template once, as ``render`` does, and report what it refuses:
    with the user's data everything (``check`` then fails exactly when ``render`` would);
    with a sample letter what would be refused whatever the data (the sandbox and its
    limits, a name nothing gives). A value the data lacks in a part that rendered whole is
    read in no branch taken: a warning."""
    failures = [] if letter is None else render_failures(compiled, build_context(letter, loc))
    failed = {problem.location.part for problem, _ in failures}
    values_at = {(f.part, f.paragraph) for f in value_findings if f.kind == "missing-value"}
    for index, found in enumerate(checker.findings):
        if found.kind == "missing-value" and found.part not in failed and found in value_findings:
            checker.findings[index] = replace(found, severity="warning", message=(
                f"{found.message} (this letter renders: the tag is in a branch it does not "
                "take)"))
    for problem, whatever_the_data in failures:
        where = (problem.location.part or "body", problem.location.paragraph)
        if (every_problem or whatever_the_data) and where not in values_at:
            checker.findings.append(_finding(problem, "refused"))


def _check_names(checker: _Checker, compiled: CompiledTemplate | None) -> None:
    """Names the template reads that no letter gives: neither built-in, nor declared in
    ``fields.yaml``, nor the template's own (a loop's variable, a ``{% set %}``). With the
    layout compiled, the names are those ``render`` asks the letter for
    (:func:`~drafter.compiled.part_reads`), part by part."""
    ignored = checker.known | set(checker.environment.globals) | {
        "loop", "caller", "varargs", "kwargs", "self"}
    reads: dict[str, set[str]] | None = None
    if compiled is None:
        ignored |= checker.names
    else:
        reads = {part.label: part_reads(compiled.environment.parse(part.source),
                                        compiled.environment)
                 for part in compiled.templated.values()}
    reported: set[str] = set()
    for paragraph, tag, name in checker.reads:
        if name in ignored or name in reported or (
                reads is not None and name not in reads.get(paragraph.part, set())):
            continue
        reported.add(name)
        hint = did_you_mean(name, sorted(checker.known | checker.names))
        checker.add("error", "unknown-name", paragraph, f"{name!r} is neither a field of "
                    f"every letter nor one the template declares (fields.yaml){hint}", tag)


def _check_docx(checker: _Checker, path: Path) -> None:
    for _, label, data in templated_parts(read_docx(path)):
        try:
            lines = split_paragraphs(data)
        except etree.XMLSyntaxError:
            checker.add("error", "damaged", None, "this part of the file is damaged (it is not "
                        "well-formed XML); open it in Word or LibreOffice and save it again",
                        part=label)
            continue
        found = list(paragraphs(label, lines))
        checker.paragraphs += found
        for paragraph in found:
            _check_paragraph(checker, paragraph)
            _check_split_tags(checker, paragraph)
        _check_row_tags(checker, found)
        _check_blocks(checker, found)


_PREFIX = re.compile(r"^\{([{%#])(?:p|tr|tc|r)(?=\s)")  # docxtpl's {%p, {%tr, {%tc, {{r
_APOSTROPHE = re.compile(r"(?<=\w)’(?=\w)")  # It’s, l’état: a letter on either side


def _check_paragraph(checker: _Checker, paragraph: Paragraph) -> None:
    text = paragraph.text
    spans = [m.span() for m in _TAG.finditer(text)]
    for opening in _OPENING.finditer(text):
        if any(start <= opening.start() < end for start, end in spans):
            continue
        # The unclosed tag as far as it goes: to its first brace, or to the next tag.
        rest = text[opening.start():]
        following = _OPENING.search(rest, 2)
        fragment = rest[:following.start() if following else len(rest)]
        brace = re.search(r"[}%#]\}?", fragment[2:])
        fragment = fragment[:brace.end() + 2] if brace else fragment.rstrip()
        closing = _CLOSING[opening.group()]
        checker.add("error", "syntax", paragraph, f"this tag is not closed: {opening.group()!r} "
                    f"needs {closing!r} in the same paragraph", fragment)
    for tag in _TAG.findall(text):
        clean = normalize_tag_characters(tag)
        source = _jinja_source(clean)
        if clean != tag:
            careful = _APOSTROPHE.sub("\0", tag).translate(TAG_CHARACTERS).replace("\0", "’")
            careful_source = _jinja_source(careful)
            if source and not _parses(checker, source) and careful_source and _parses(
                    checker, careful_source):
                word = re.search(r"\w+’\w+", tag)
                checker.add("error", "typographic-quotes", paragraph, "Word's typographic "
                            f"quotes in this tag cannot be made plain safely: the apostrophe in "
                            f"{word.group(0) if word else '’'!r} would end the quoted text early."
                            " Put text with apostrophes in plain double quotes, e.g. "
                            f"{{{{ \"{word.group(0) if word else 'It’s'}\" }}}} (in Word, press "
                            "Ctrl+Z right after typing a quote to undo AutoCorrect)", tag)
                continue
            found = [what for chars, what in (("“”", "typographic double quotes"),
                                              ("‘’", "typographic single quotes"),
                                              ("\u00a0\u202f", "non-breaking spaces"))
                     if any(c in tag for c in chars)]
            checker.add("warning", "typographic-quotes", paragraph, f"{' and '.join(found)} "
                        "in this tag (Word's AutoCorrect) are read as plain ones", tag)
        if re.match(r"\{[%{#]p\s", tag):
            rest = text.replace(tag, "", 1).strip()
            if rest:
                checker.add("error", "paragraph-tag", paragraph, f"{tag[:3]} tags replace "
                            f"their whole paragraph: the text {rest[:40]!r} beside it would be "
                            "lost; put the tag in a paragraph of its own", tag)
        if source is None:
            if not clean[2:-2].strip():
                checker.add("error", "syntax", paragraph, "an empty tag", tag)
            continue
        _check_tag(checker, paragraph, tag, source)


def _jinja_source(tag: str) -> str | None:
    """Jinja source that parses when the tag alone is right: a block's opening tag gets its
    end tag. None for comments, end tags and docxtpl's own tags, checked elsewhere."""
    body = _PREFIX.sub(r"{\1", tag)
    if body.startswith("{#"):
        return None
    if body.startswith("{{"):
        return body if body[2:-2].strip() else None
    keyword = _keyword(body)
    if not keyword:
        return None
    if keyword in _BLOCKS:
        return body + ("{% " + _BLOCKS[keyword] + " %}" if keyword != "set" or
                       "=" not in body else "")
    if keyword in _MIDDLES:
        opener = _MIDDLES[keyword][0]
        return ("{% " + opener + (" x in y" if opener == "for" else " x") + " %}" + body
                + "{% end" + opener + " %}")
    if keyword.startswith("end") or keyword in ("break", "continue", "vm", "hm", "colspan",
                                                "cellbg"):
        return None  # checked by block matching, or docxtpl's table-cell tags
    return body


def _keyword(tag: str) -> str:
    """The statement of a {% %} tag: ``if`` in ``{%- if cc -%}``; "" when it is empty."""
    words = tag[2:-2].strip(" \t\n-+").split()
    return words[0] if words else ""


def _parses(checker: _Checker, source: str) -> bool:
    try:
        checker.environment.parse(source)
    except jinja2.TemplateSyntaxError:
        return False
    return True


def _check_tag(checker: _Checker, paragraph: Paragraph, tag: str, source: str) -> None:
    """A tag's own syntax, filters and tests, checked alone so every bad tag is found."""
    try:
        tree = checker.environment.parse(source)
    except jinja2.TemplateSyntaxError as e:
        checker.add("error", "syntax", paragraph, f"{e.message}", tag)
        return
    for _, message in unsupported_features(tree):
        checker.add("error", "unsupported", paragraph, message, tag)
    for statement in tree.find_all((nodes.For, nodes.Assign, nodes.AssignBlock, nodes.With,
                                    nodes.Macro, nodes.CallBlock)):
        if isinstance(statement, nodes.With):
            targets = list(statement.targets)
        elif isinstance(statement, nodes.Macro | nodes.CallBlock):
            targets = list(statement.args)
            if isinstance(statement, nodes.Macro):
                checker.names.add(statement.name)
        else:
            targets = [cast(Any, statement).target]
        for target in targets:
            checker.names.update(_targets(target))
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load":
            checker.reads.append((paragraph, tag, name.name))
    for node in tree.find_all(nodes.Filter):
        if node.name not in checker.environment.filters:
            hint = did_you_mean(node.name, checker.environment.filters)
            checker.add("error", "unknown-filter", paragraph,
                        f"unknown filter {node.name!r}{hint}", tag)
    for test in tree.find_all(nodes.Test):
        if test.name not in checker.environment.tests:
            hint = did_you_mean(test.name, checker.environment.tests)
            checker.add("error", "unknown-test", paragraph, f"unknown test {test.name!r}{hint}",
                        tag)


def _canonical(tag: str) -> str:
    # A tag as docxtpl leaves it for Jinja: no {%p/{%tr/{{r letter, no whitespace control.
    body = _PREFIX.sub(r"{\1", normalize_tag_characters(tag))
    return re.sub(r"\s+", "", body[2:-2]).strip("-+")


def _check_split_tags(checker: _Checker, paragraph: Paragraph) -> None:
    """Tags Word shows whole but the file holds in pieces docxtpl cannot join: a tracked
    deletion or a field code between the two braces of ``{{`` or ``}}``."""
    visible = _TAG.findall(normalize_tag_characters(paragraph.text))
    if not visible:
        return
    xml = normalize_tag_characters(paragraph.xml)
    if re.search(r"<w:(del|ins|moveFrom|moveTo)[ >]", xml):
        cause = ("a tracked change (revision mark) inside it; accept or reject the changes in "
                 "this paragraph (Review > Accept), or delete the tag and type it again")
    elif re.search(r"<w:(instrText|fldChar|fldSimple)[ >]", xml):
        cause = "a field inside it; move the field out of the tag"
    else:
        cause = ("formatting, proofing or revision marks inside it; select the tag, clear its "
                 "formatting and type it again in one go")
    read = Counter(_canonical(t) for t in _TAG.findall(docxtpl_source(xml))
                   if not _MARKUP.search(t))
    for tag in visible:
        if read[_canonical(tag)]:
            read[_canonical(tag)] -= 1
            continue
        checker.add("error", "split-tag", paragraph, "Word shows this tag whole, but the file "
                    f"holds it in pieces with {cause}. As it is, the tag would be printed as "
                    "written", tag)
    if not any(f.paragraph == paragraph.number and f.part == paragraph.part and f.kind in (
            "syntax", "split-tag") for f in checker.findings):
        runs_on = _RUNS_ON.search(_JOIN_BRACES.sub("", xml))
        if runs_on:
            index = len(_OPENING.findall(_JOIN_BRACES.sub("", xml)[:runs_on.start()]))
            checker.add("error", "split-tag", paragraph, "Word shows this tag whole, but its "
                        f"closing braces are held apart by {cause}. As it is, the tag would "
                        "swallow the paragraphs after it, up to the next closing braces",
                        visible[min(index, len(visible) - 1)])


def _check_row_tags(checker: _Checker, paragraphs: list[Paragraph]) -> None:
    """{%tr %} and {%tc %} tags replace their whole row or cell: alone there, and in a table."""
    for paragraph in paragraphs:
        for tag in _TAG.findall(paragraph.text):
            scope = re.match(r"\{[%{#](tr|tc)\s", tag)
            if not scope:
                continue
            name = "row" if scope.group(1) == "tr" else "cell"
            key = paragraph.row if name == "row" else paragraph.cell
            if key is None:
                checker.add("error", "paragraph-tag", paragraph, f"{tag[:4]} tags belong in a "
                            f"table {name}; this paragraph is not in a table (use {tag[:2]}p "
                            "for a paragraph)", tag)
                continue
            texts = [paragraph.text.replace(tag, "", 1)] + [
                p.text for p in paragraphs
                if p is not paragraph and (p.row if name == "row" else p.cell) == key]
            rest = " ".join(t.strip() for t in texts if t.strip())
            if rest:
                checker.add("error", "paragraph-tag", paragraph, f"{tag[:4]} tags replace "
                            f"their whole table {name}: the text {rest[:40]!r} in the same "
                            f"{name} would be lost; put the tag in a {name} of its own", tag)


def _check_blocks(checker: _Checker, paragraphs: list[Paragraph]) -> None:
    """Every {% for %}/{% if %}… closed by its end tag, and no end tag without a start."""
    stack: list[tuple[str, Paragraph, str]] = []
    for paragraph in paragraphs:
        for tag in _TAG.findall(paragraph.text):
            if not tag.startswith("{%"):
                continue
            words = _PREFIX.sub("{%", normalize_tag_characters(tag))
            keyword = _keyword(words)
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
                elif stack:
                    # The wrong end tag for the innermost block: one mistake, reported once.
                    opened, where, _ = stack.pop()
                    checker.add("error", "stray-end", paragraph, f"{{% {keyword} %}} where "
                                f"{{% end{opened} %}} was expected: the {{% {opened} %}} of "
                                f"paragraph {where.number} is the innermost block still open",
                                tag)
                else:
                    checker.add("error", "stray-end", paragraph, f"{{% {keyword} %}} without a "
                                f"{{% {keyword[3:]} %}} before it", tag)
    for opened, where, opening in stack:
        checker.add("error", "unclosed-block", where, f"{{% {opened} %}} is never closed: add "
                    f"{{% end{opened} %}} (docxtpl: {{%p end{opened} %}} in a paragraph of its "
                    "own)", opening)


def _check_values(checker: _Checker, template: LetterTemplate, path: Path, letter: Any,
                  loc: Localizer, data: Path | None = None) -> None:
    """Values the template reads that the letter's context lacks; data it never uses."""
    context = build_context(letter, loc).values
    source = load_yaml(data) if data else None
    used = template_variables(template, path)
    available = set(_paths(context))
    for variable in sorted(used):
        if variable in available or any(a.startswith(variable + ".") or a.startswith(
                variable + "[]") for a in available):
            continue
        parent = variable.rsplit(".", 1)[0] if "." in variable else ""
        if parent and parent in available and not isinstance(_lookup(context, parent), dict):
            continue  # an attribute of a value (a date's .year, a string's .upper)
        hint = did_you_mean(variable, sorted(available), cutoff=0.7)
        paragraph, tag = _reading(checker.paragraphs, variable)
        checker.add("error", "missing-value", paragraph, f"the template reads {variable!r}, "
                    f"which the letter does not provide{hint}", tag)
    direct = {v.split("[]")[0] for v in used} | set(used)
    unread = [field_path for field_path in _data_fields(letter)
              if field_path.split("[]")[0] not in _SETTINGS and not any(
                  _within(field_path.split("[]")[0], v) for v in direct)]
    # The rest may still reach what the template prints through a derived value (a person's
    # `lines` holds their title): the context builders are asked.
    fed = fields_used(letter, loc, used, unread)
    for field_path in unread:
        if field_path in fed:
            continue
        keys = tuple(int(k) if k.isdigit() else k
                     for k in field_path.replace("[]", ".0").split("."))
        checker.add("warning", "unused-field", None, f"the data's {field_path!r} is not used "
                    "by the template", part=str(source.where(keys)) if source else "data")


def _within(field_path: str, variable: str) -> bool:
    """Whether a data field and a variable the template reads are the same value, or one
    holds the other."""
    return (field_path == variable or field_path.startswith(variable + ".")
            or variable.startswith(field_path + "."))


# Fields that shape the whole letter whatever its template prints: its language and its paper.
_SETTINGS = frozenset({"locale", "paper"})


def _reading(paragraphs: list[Paragraph], variable: str) -> tuple[Paragraph | None, str]:
    """The first paragraph, and its tag, that reads ``variable`` (``cc[].nickname`` is read
    as ``person.nickname`` in a loop: the last name is what the tag shows)."""
    name = re.split(r"[.\]]", variable)[-1]
    for paragraph in paragraphs:
        for tag in _TAG.findall(paragraph.text):
            if re.search(rf"(?<![\w.]){re.escape(variable)}\b" if "." not in variable
                         else rf"\.{re.escape(name)}\b", normalize_tag_characters(tag)):
                return paragraph, tag
    return None, ""


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
                       docx: Path | str | None = None) -> dict[str, set[str]]:
    """What a template reads: ``{"recipient.name": {"condition"}, "cc[].lines": {"loop"}}``.

    The set says where the variable is used: inside a ``loop``, a ``condition``, or ``plain``.
    """
    if not isinstance(template, LetterTemplate):
        template = find_template(template)
    environment = make_environment(Localizer(localizer_for(template, "en").locale))
    found: dict[str, set[str]] = {}
    for path in [Path(docx)] if docx else list(template.variants.values()):
        for _, label, data in templated_parts(read_docx(path)):
            try:
                tree = environment.parse(jinja_source(data)[0])
            except (jinja2.TemplateSyntaxError, etree.XMLSyntaxError) as e:
                raise TemplateError(check_problems(path) or [Problem(
                    Location(str(path), part=label), "", str(e))]) from e
            _walk(tree, {}, (), found)
    return found


@dataclass(frozen=True)
class VariableLine:
    """One line of the variables tree: a name, its depth, and where the template reads it."""

    depth: int
    name: str  # the last part of the path: ``city`` of ``recipient.address.city``
    path: str  # ``recipient.address.city``; ``cc[].name`` for the items of a list
    uses: tuple[str, ...]  # "condition", "loop"; empty when only printed


def variable_tree(template: str | Path | LetterTemplate) -> list[VariableLine]:
    """What a template reads (:func:`template_variables`) as the lines of a tree, in order.

    A list and its items are one line: ``cc`` and ``cc[]`` show as ``cc[]``.
    """
    found = template_variables(template)
    tree: dict[str, Any] = {}
    for path in found:
        node = tree
        for part in path.split("."):
            node = node.setdefault(part, {})
    lines: list[VariableLine] = []

    def walk(node: dict[str, Any], prefix: str, depth: int) -> None:
        for name in sorted(node, key=lambda n: n.removesuffix("[]")):
            path = f"{prefix}{name}"
            if name + "[]" in node:  # `cc` and its items `cc[]` are one line
                continue
            uses = found.get(path, set()) | found.get(path.removesuffix("[]"), set())
            lines.append(VariableLine(depth, name, path, tuple(sorted(uses - {"plain"}))))
            walk(node[name], f"{path}.", depth + 1)

    walk(tree, "", 0)
    return lines


def declared_fields(template: str | Path | LetterTemplate) -> Iterator[tuple[str, str]]:
    """The fields a template declares, each path (``people[].name``) with a line saying what
    it is: ``date, required — The day of the arrest``."""
    if not isinstance(template, LetterTemplate):
        template = find_template(template)
    loc = Localizer(localizer_for(template, "en").locale)
    for path, declared in template_fields(template).paths():
        kind = {"texts": "list of texts", "records": "list of records"}.get(
            declared.type, declared.type)
        need = "required" if declared.required else (
            f"default {declared.default}" if declared.default is not None else "optional")
        about = loc.text(declared.description)
        yield path, f"{kind}, {need}" + (f" — {about}" if about else "")


def check_problems(path: Path) -> list[Problem]:
    """The errors of a template as problems, for callers that need a valid template."""
    checker = _Checker(path, make_environment(localizer_for(find_template(path), "en")))
    _check_docx(checker, path)
    return [Problem(Location(str(path), part=f.part, paragraph=f.paragraph, in_table=f.in_table),
                    "", f.message, text=f.text) for f in checker.findings if f.severity == "error"]


def _targets(target: nodes.Node) -> list[str]:
    """The names a ``for``, ``set`` or ``with`` gives values to: ``k, v`` in ``for k, v in …``."""
    return [name.name for name in target.find_all(nodes.Name)] if not isinstance(
        target, nodes.Name) else [target.name]


def _walk(node: nodes.Node, aliases: dict[str, list[str]], where: tuple[str, ...],
          found: dict[str, set[str]]) -> None:
    if isinstance(node, nodes.Assign):  # {% set who = recipient %}: `who` is recipient
        _walk(node.node, aliases, where, found)
        sources = _expressions(node.node, aliases)
        for name in _targets(node.target):
            aliases[name] = sources if isinstance(node.target, nodes.Name) else []
        return
    if isinstance(node, nodes.AssignBlock):  # {% set note %}…{% endset %}
        for child in node.body:
            _walk(child, aliases, where, found)
        for name in _targets(node.target):
            aliases[name] = []
        return
    if isinstance(node, nodes.Macro | nodes.CallBlock | nodes.With):
        inner = dict(aliases)
        if isinstance(node, nodes.With):
            for target, value in zip(node.targets, node.values, strict=False):
                _walk(value, aliases, where, found)
                for name in _targets(target):
                    inner[name] = _expressions(value, aliases)
        else:
            for argument in node.args:
                inner[argument.name] = []
            inner.update(caller=[], varargs=[], kwargs=[])
            for default in node.defaults:
                _walk(default, aliases, where, found)
            if isinstance(node, nodes.CallBlock):
                _walk(node.call, aliases, where, found)
        for child in node.body:
            _walk(child, inner, where, found)
        if isinstance(node, nodes.Macro):
            aliases[node.name] = []
        return
    if isinstance(node, nodes.For):
        sources = _expressions(node.iter, aliases)
        _walk(node.iter, aliases, (*where, "loop"), found)  # what a loop goes through
        inner = dict(aliases)
        for name in _targets(node.target):
            # `person` in `for person in cc` is an item of cc; `k, v` in `for k, v in …`
            # are parts of one: they read nothing of their own
            inner[name] = ([f"{s}[]" for s in sources] if isinstance(node.target, nodes.Name)
                           else [])
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
    if isinstance(node, nodes.Name) and node.ctx != "load":
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


__all__ = ["Finding", "VariableLine", "check_template", "declared_fields",
           "template_variables", "variable_tree"]
