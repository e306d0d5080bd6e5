"""docxtpl's features through drafter's compile-once engine and through plain docxtpl.

Each template of ``tests/docxtpl_features.py`` (the features docxtpl's own tests exercise) is
rendered both ways with the same context and the same Jinja environment (drafter's sandbox), and
the parts are compared: the same XML, or a difference docs/authoring.md lists as deliberate, or a
refusal that names the feature and its paragraph. No DOCX drafter writes has a dangling
relationship, a missing picture or a part that is not well-formed.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import docx
import pytest
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docxtpl import DocxTemplate
from lxml import etree

from drafter.compiled import compile_template, render_docx
from drafter.context import LetterContext
from drafter.errors import TemplateError
from drafter.locales import localizer_for
from drafter.markup import Hyperlinks
from drafter.package import package_problems
from drafter.template import find_template
from tests.docxtpl_features import CASES, Case, build

R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
# What drafter.scripts gives a run of another script than the letter's: its language, font and
# direction, in a run of its own (a deliberate difference: docs/authoring.md).
SCRIPT_PROPERTIES = {f"{{{W}}}{tag}" for tag in ("lang", "rFonts", "rtl", "cs")}


def _joined_runs(tree: etree._Element) -> None:
    """Runs that differ only in what drafter.scripts sets, joined back into one."""
    for paragraph in tree.iter(f"{{{W}}}p"):
        previous = None
        for run in list(paragraph.findall(f"{{{W}}}r")):
            properties = run.find(f"{{{W}}}rPr")
            if properties is not None:
                for child in list(properties):
                    if child.tag in SCRIPT_PROPERTIES:
                        properties.remove(child)
                if not len(properties):
                    run.remove(properties)
            texts = run.findall(f"{{{W}}}t")
            if len(run) - (1 if run.find(f"{{{W}}}rPr") is not None else 0) != 1 or len(
                    texts) != 1:
                previous = None
                continue
            key = etree.tostring(run.find(f"{{{W}}}rPr")) if run.find(
                f"{{{W}}}rPr") is not None else b""
            if previous is not None and previous[0] == key and (
                    run.getprevious() is previous[1]):
                previous[2].text = (previous[2].text or "") + (texts[0].text or "")
                paragraph.remove(run)
                continue
            previous = (key, run, texts[0])


def canonical(xml: bytes, body: bool = True) -> str:
    """A part's XML compared as content: whitespace between elements does not count, and a
    picture's relationship id and shape name (drafter derives them from the image) read the
    same, as do the ids of pictures in headers (drafter numbers them, docxtpl only the body's):
    deliberate differences, docs/authoring.md."""
    tree = etree.fromstring(xml, etree.XMLParser(remove_blank_text=True))
    _joined_runs(tree)
    for element in tree.iter():
        for name in list(element.attrib):
            if name == f"{{{R}}}embed":
                element.set(name, "picture")
        if element.tag.endswith("}docPr"):
            element.set("name", "picture")
            if not body:
                element.set("id", "picture")
    return etree.tostring(tree, method="c14n").decode()


def render_both(case: Case, tmp_path: Path) -> tuple[bytes, bytes | Exception]:
    """The DOCX drafter renders (or its TemplateError) and the one docxtpl renders."""
    files = tmp_path / "files"
    files.mkdir(exist_ok=True)
    path = build(case, tmp_path / f"{case.name}.docx")
    template = find_template(path)
    loc = localizer_for(template, "en_US")
    compiled = compile_template(template, loc)
    links = Hyperlinks(dict(case.links))
    ours = render_docx(compiled, LetterContext(case.context("drafter", None, files), links,
                                               "Letter", False, {}))
    plain = DocxTemplate(str(path))
    plain.init_docx()
    for rel_id, url in case.links.items():
        plain.get_docx().part.rels.add_relationship(RT.HYPERLINK, url, rel_id, is_external=True)
    try:
        plain.render(case.context("docxtpl", plain, files), compiled.environment)
        buffer = io.BytesIO()
        plain.save(buffer)
        theirs: bytes | Exception = buffer.getvalue()
    except Exception as e:  # docxtpl's own failure, recorded for the refused cases
        theirs = e
    return ours, theirs


RENDERED = [case for case in CASES if not case.refused]


@pytest.mark.parametrize("case", RENDERED, ids=[c.name for c in RENDERED])
def test_drafter_gives_the_xml_docxtpl_gives(case: Case, tmp_path: Path) -> None:
    ours, theirs = render_both(case, tmp_path)
    assert isinstance(theirs, bytes), theirs
    mine, plain = members(ours), members(theirs)
    assert list(package_problems(mine)) == []  # never a damaged letter
    if case.compare == "text":  # an annex: composed by docxcompose, as docxtpl's Subdoc
        def shown(data: bytes) -> list[str]:
            return [p.text for p in docx.Document(io.BytesIO(data)).paragraphs]
        assert shown(ours) == shown(theirs)
        return
    parts = [n for n in plain if re.fullmatch(r"word/(document|header\d+|footer\d+)\.xml", n)]
    for name in parts:
        if case.name == "literals_with_ampersand":
            continue  # below: docxtpl prints the XML entity
        body = name == "word/document.xml"
        assert canonical(mine[name], body) == canonical(plain[name], body), name


def test_tables_have_a_grid_matching_their_rows(tmp_path: Path) -> None:
    for name in ("dynamic_table", "less_cells_after_loop", "horizontal_merge"):
        case = next(c for c in CASES if c.name == name)
        ours, _ = render_both(case, tmp_path)
        for table in docx.Document(io.BytesIO(ours)).tables:
            grid = len(table._tbl.tblGrid.findall(f"{{{table._tbl.nsmap['w']}}}gridCol"))
            for row in table._tbl.tr_lst:
                spans = sum(int(cell.tcPr.gridSpan.val if cell.tcPr is not None and
                                cell.tcPr.gridSpan is not None else 1) for cell in row.tc_lst)
                assert spans <= grid, name


def test_an_ampersand_in_a_tag_is_one_ampersand(tmp_path: Path) -> None:
    """docxtpl prints "Q&amp;A" (the XML entity as text); drafter prints "Q&A"."""
    case = next(c for c in CASES if c.name == "literals_with_ampersand")
    ours, theirs = render_both(case, tmp_path)
    assert docx.Document(io.BytesIO(ours)).paragraphs[0].text == "Q&A and Terms & conditions"
    assert isinstance(theirs, bytes)
    assert "Q&amp;A" in docx.Document(io.BytesIO(theirs)).paragraphs[0].text


def test_links_in_a_header_have_the_header_s_relationships(tmp_path: Path) -> None:
    """docxtpl leaves a header's link pointing at the document's relationships, which Word
    reports as unreadable content; drafter gives the header its own."""
    case = next(c for c in CASES if c.name == "header_footer")
    ours, theirs = render_both(case, tmp_path)
    assert isinstance(theirs, bytes)
    assert any("uses relationship" in p for p in package_problems(members(theirs)))
    header = docx.Document(io.BytesIO(ours)).sections[0].header
    assert "https://example.org/" in [rel.target_ref for rel in header.part.rels.values()]


def test_pictures_exist_in_every_part_that_shows_them(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.name == "header_footer_inline_image")
    ours, _ = render_both(case, tmp_path)
    document = docx.Document(io.BytesIO(ours))
    header = document.sections[0].header.part
    assert [rel.reltype for rel in header.rels.values()].count(RT.IMAGE) == 1
    ids = re.findall(rb'wp:docPr id="(\d+)"', members(ours)["word/document.xml"])
    assert len(ids) == 3 and len(set(ids)) == 3  # one picture three times: three ids


def test_document_properties_are_rendered_and_the_template_s_kept(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.name == "doc_properties")
    ours, theirs = render_both(case, tmp_path)
    assert isinstance(theirs, bytes)
    for data in (ours, theirs):
        assert docx.Document(io.BytesIO(data)).core_properties.title == "HelloWorld"
    assert "{{ test }} above" in docx.Document(io.BytesIO(ours)).paragraphs[1].text


def test_undeclared_variables_are_those_docxtpl_finds(tmp_path: Path) -> None:
    for case in (c for c in RENDERED if c.name in ("order", "header_footer", "escape")):
        path = build(case, tmp_path / f"{case.name}.docx")
        template = find_template(path)
        compiled = compile_template(template, localizer_for(template, "en"))
        theirs = DocxTemplate(str(path)).get_undeclared_template_variables(
            compiled.environment)
        assert compiled.variables == theirs - set(compiled.environment.globals), case.name


REFUSED = [case for case in CASES if case.refused]


@pytest.mark.parametrize("case", REFUSED, ids=[c.name for c in REFUSED])
def test_unsupported_features_are_refused_at_their_paragraph(case: Case,
                                                            tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as caught:
        render_both(case, tmp_path)
    (problem,) = caught.value.problems
    assert case.refused in problem.message
    assert problem.location.part == "body" and problem.location.paragraph == 1
    assert problem.text  # the paragraph's words, as the editor wrote them
