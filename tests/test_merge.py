"""`drafter merge`: many letters from one case, validated first, named safely, resumable."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pytest
import yaml
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docxtpl import DocxTemplate
from lxml import etree
from pypdf import PdfReader

from drafter import DataError, TemplateError, load_letter
from drafter.compiled import compile_template, render_docx
from drafter.context import build_context
from drafter.files import safe_name
from drafter.locales import localizer_for
from drafter.merge import MergeOptions, merge
from drafter.template import find_template

from .conftest import EXAMPLES, LINKED_CASE, docx_text, read_manifest

CASE = LINKED_CASE


def recipients(tmp_path: Path, rows: list[str], header: str = "id,honorific,name,locale,"
               "address.city,address.country") -> Path:
    path = tmp_path / "recipients.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


manifest = read_manifest


ROWS = ["xi,President,Xi Jinping,en,Beijing,CN",
        "wang,Minister,Wang Yi,en_GB,Beijing,CN",
        "kim,,김정은,ko,Pyongyang,KP"]


def test_one_docx_per_recipient_each_addressed_and_saluted(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = merge(case, recipients(tmp_path, ROWS), out, MergeOptions(formats=("docx",)))
    assert (report.written, report.failed, report.invalid) == (3, 0, 0)
    assert sorted(p.name for p in out.iterdir()) == [
        "kim.docx", "manifest.csv", "merge.json", "wang.docx", "xi.docx"]
    text = docx_text(out / "wang.docx")
    assert "Dear Minister Wang Yi," in text and "24 November 2015" in text
    assert "존경하는 김정은님께" in docx_text(out / "kim.docx")
    rows = manifest(out)
    assert [(r["number"], r["id"], r["locale"], r["status"]) for r in rows] == [
        ("1", "xi", "en", "written"), ("2", "wang", "en_GB", "written"),
        ("3", "kim", "ko", "written")]
    assert all(len(r["docx_sha256"]) == 64 for r in rows)


def test_bad_records_are_all_reported_and_nothing_is_rendered(case: Path,
                                                               tmp_path: Path) -> None:
    path = recipients(tmp_path, [*ROWS, "bad1,,,en,X,CN", "bad2,,Someone,xx_XX,X,ZZ"])
    out = tmp_path / "out"
    with pytest.raises(DataError) as caught:
        merge(case, path, out)
    text = str(caught.value)
    assert f"{path}:5: recipient.name: record 4 (bad1): required field is missing" in text
    assert f"{path}:6, column locale: record 5 (bad2): unknown locale" in text
    assert f"{path}:6, column address.country: record 5 (bad2)" in text
    assert not out.exists()


def test_keep_going_renders_the_good_ones_and_lists_the_rest(case: Path,
                                                             tmp_path: Path) -> None:
    path = recipients(tmp_path, [*ROWS, "bad1,,,en,X,CN"])
    out = tmp_path / "out"
    report = merge(case, path, out, MergeOptions(formats=("docx",), keep_going=True))
    assert (report.written, report.invalid, report.ok) == (3, 1, False)
    assert manifest(out)[3]["status"] == "invalid"
    assert "required field is missing" in manifest(out)[3]["error"]


def test_dry_run_lists_and_writes_nothing(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = merge(case, recipients(tmp_path, ROWS), out, MergeOptions(dry_run=True))
    assert report.planned[:2] == [f"{out}/xi.docx", f"{out}/xi.pdf"]
    assert not out.exists()


@pytest.mark.parametrize(("name", "expected"), [
    ("../../etc/passwd", "etc-passwd"),
    ("/absolute/path", "absolute-path"),
    ("a\x00b\nc", "a-b-c"),
    ("CON", "_CON"),
    ("nul.txt", "_nul.txt"),
    ("..", "letter"),
    ("习近平 – 主席", "习近平 – 主席"),
    ("x" * 400, "x" * 150),
])
def test_safe_names(name: str, expected: str) -> None:
    assert safe_name(name) == expected


def test_names_from_data_stay_in_the_folder_and_collisions_are_numbered(
        case: Path, tmp_path: Path) -> None:
    path = recipients(tmp_path, ["a,,../../escape,en,X,CN", "b,,../../escape,en,X,CN",
                                 "c,,Wang Yi,en,X,CN", "d,,wang yi,en,X,CN"])
    out = tmp_path / "out"
    merge(case, path, out, MergeOptions(formats=("docx",), name="{{ name }}"))
    assert sorted(p.name for p in out.iterdir()) == [
        "Wang Yi.docx", "escape-2.docx", "escape.docx", "manifest.csv", "merge.json",
        "wang yi-2.docx"]
    assert not (tmp_path / "escape.docx").exists()


def test_a_second_run_skips_unchanged_letters_and_redoes_a_changed_one(
        case: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    merge(case, recipients(tmp_path, ROWS), out, MergeOptions(formats=("docx",)))
    first = {r["id"]: r for r in manifest(out)}
    changed = [ROWS[0], ROWS[1].replace("Beijing", "Shanghai"), ROWS[2]]
    report = merge(case, recipients(tmp_path, changed), out, MergeOptions(formats=("docx",)))
    assert (report.skipped, report.written) == (2, 1)
    second = {r["id"]: r for r in manifest(out)}
    assert second["xi"]["docx_sha256"] == first["xi"]["docx_sha256"]
    assert second["wang"]["docx_sha256"] != first["wang"]["docx_sha256"]
    assert "Shanghai" in docx_text(out / "wang.docx")
    (out / "xi.docx").write_bytes(b"damaged")  # an output no longer intact
    report = merge(case, recipients(tmp_path, changed), out, MergeOptions(formats=("docx",)))
    assert (report.skipped, report.written) == (2, 1)
    report = merge(case, recipients(tmp_path, changed), out,
                   MergeOptions(formats=("docx",), force=True))
    assert (report.skipped, report.written) == (0, 3)


def test_only_selects_records_by_id_or_number(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = merge(case, recipients(tmp_path, ROWS), out,
                   MergeOptions(formats=("docx",), only=frozenset({"xi", "3"})))
    assert report.written == 2
    assert [r["id"] for r in manifest(out)] == ["xi", "kim"]


def test_xlsx_and_yaml_recipients(case: Path, tmp_path: Path) -> None:
    import openpyxl
    workbook = openpyxl.Workbook()
    for row in ["id,name,address.country", "a,Ann,US", "b,Bo,GB"]:
        workbook.active.append(row.split(","))
    workbook.save(tmp_path / "r.xlsx")
    report = merge(case, tmp_path / "r.xlsx", tmp_path / "x", MergeOptions(formats=("docx",)))
    assert report.written == 2
    (tmp_path / "r.yaml").write_text(yaml.safe_dump([{"id": "a", "name": "Ann"}]),
                                     encoding="utf-8")
    report = merge(case, tmp_path / "r.yaml", tmp_path / "y", MergeOptions(formats=("docx",)))
    assert report.written == 1 and (tmp_path / "y" / "a.docx").is_file()


def test_manifest_cells_never_run_as_formulas(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    path = recipients(tmp_path, ['"=cmd|\' /C calc\'!A0",,=HYPERLINK("x"),en,X,CN'])
    merge(case, path, out, MergeOptions(formats=("docx",), name="letter"))
    (row,) = manifest(out)
    assert row["id"].startswith("'=") and row["recipient"].startswith("'=")
    assert '=HYPERLINK("x")' in docx_text(out / "letter.docx")  # literal text in the letter


def test_compile_once_gives_the_document_plain_docxtpl_gives(tmp_path: Path) -> None:
    letter = load_letter(EXAMPLES / "letter-en.yaml")
    template = find_template(None)
    loc = localizer_for(template, letter.locale)
    context = build_context(letter, loc)
    our_bytes = render_docx(compile_template(template, loc), context)
    ours = zipfile.ZipFile(io.BytesIO(our_bytes))

    plain = DocxTemplate(template.variants[""])
    for rel_id, url in context.links.urls.items():
        plain.get_docx().part.rels.add_relationship(RT.HYPERLINK, url, rel_id, is_external=True)
    plain.render(context.values, compile_template(template, loc).environment)
    buffer = io.BytesIO()
    plain.save(buffer)
    theirs = zipfile.ZipFile(buffer)

    def canonical(archive: zipfile.ZipFile, name: str) -> bytes:
        return etree.tostring(etree.fromstring(archive.read(name)), method="c14n")

    for name in ("word/document.xml", "word/footer1.xml", "word/footer2.xml"):
        if name in theirs.namelist():
            assert canonical(ours, name) == canonical(theirs, name), name
    assert [p.text for p in docx.Document(io.BytesIO(buffer.getvalue())).paragraphs] == [
        p.text for p in docx.Document(io.BytesIO(our_bytes)).paragraphs]


@pytest.mark.libreoffice
def test_pdfs_and_the_combined_pdf(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = merge(case, recipients(tmp_path, ROWS), out,
                   MergeOptions(combine=True, jobs=2, batch_size=2))
    assert report.written == 3 and report.ok
    rows = manifest(out)
    pages = [int(r["pages"]) for r in rows]
    assert all(p >= 1 for p in pages)
    assert len(PdfReader(out / "combined.pdf").pages) == sum(pages)
    combined = docx.Document(str(out / "combined.docx"))
    assert len(combined.sections) == 3
    assert all(s._sectPr.find(docx.oxml.ns.qn("w:pgNumType")).get(
        docx.oxml.ns.qn("w:start")) == "1" for s in combined.sections)
    # The continuation header (page 2 on) carries the page numbers.
    footers = [s.header._element.xml for s in combined.sections]
    references = [s._sectPr.xpath("w:headerReference[@w:type='default']/@r:id")[0]
                  for s in combined.sections]
    assert len(set(references)) == 3  # a header of its own for each letter
    for number, (footer, row) in enumerate(zip(footers, rows, strict=True), start=1):
        # The letter's pages (the page of its last paragraph), not the run's.
        assert f'w:instr=" PAGEREF _DrafterLetterEnd{number} "' in footer
        assert f"<w:t>{row['pages']}</w:t>" in footer
    assert "페이지" in footers[2] or "쪽" in footers[2]  # the Korean letter's own footer


@pytest.mark.libreoffice
def test_a_hanging_conversion_is_killed_and_the_others_finish(case: Path,
                                                              tmp_path: Path) -> None:
    import shutil
    import sys
    real = shutil.which("soffice")
    fake = tmp_path / "soffice"
    # Hangs whenever its batch holds the letter of "kim"; converts everything else for real.
    fake.write_text(f"#!{sys.executable}\nimport os, sys, time\n"
                    "if any('kim' in a for a in sys.argv): time.sleep(600)\n"
                    f"os.execv({real!r}, [{real!r}, *sys.argv[1:]])\n")
    fake.chmod(0o755)
    out = tmp_path / "out"
    report = merge(case, recipients(tmp_path, ROWS), out,
                   MergeOptions(formats=("pdf",), soffice=str(fake), timeout=15,
                                batch_size=3, jobs=1, keep_running=False))
    assert (report.written, report.failed) == (2, 1)
    statuses = {r["id"]: r["status"] for r in manifest(out)}
    assert statuses == {"xi": "written", "wang": "written", "kim": "failed"}
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.csv", "merge.json", "wang.pdf", "xi.pdf"]


def test_the_cli_reports_progress_unless_quiet(run, case: Path, tmp_path: Path) -> None:
    path = recipients(tmp_path, ROWS)
    result = run("merge", case, path, "-o", tmp_path / "a", "-f", "docx")
    assert result.exit_code == 0, result.output
    assert "3/3 letters" in result.stderr  # plain lines when not on a terminal
    assert "3 written, 0 unchanged (skipped), 0 failed, 0 invalid, of 3" in result.stdout
    quiet = run("merge", case, path, "-o", tmp_path / "b", "-f", "docx", "--quiet")
    assert "letters" not in quiet.stderr


def test_the_cli_exits_1_when_a_record_is_bad(run, case: Path, tmp_path: Path) -> None:
    path = recipients(tmp_path, [*ROWS, "bad1,,,en,X,CN"])
    result = run("merge", case, path, "-o", tmp_path / "a", "-f", "docx", "--keep-going")
    assert result.exit_code == 1
    assert "record 4 (bad1): required field is missing" in result.stderr
    assert "3 written" in result.stdout
    dry = run("merge", case, recipients(tmp_path, ROWS), "-o", tmp_path / "b", "--dry-run")
    assert dry.exit_code == 0
    assert f"would write {tmp_path / 'b' / 'xi.pdf'}" in dry.stdout
    assert not (tmp_path / "b").exists()


def test_a_letters_cost_does_not_grow_with_its_count_of_languages(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch
                                                                   ) -> None:
    # Which form of a text a locale takes is negotiated once per set of languages a text has
    # and per locale of the run, not once for every text of every letter.
    import drafter.locales

    rows = (EXAMPLES / "campaign" / "recipients.csv").read_text(encoding="utf-8").splitlines()
    negotiated = []
    original = drafter.locales._best

    def counting(chain: tuple[str, ...], available: object) -> str | None:
        negotiated.append(chain)
        return original(chain, available)  # type: ignore[arg-type]

    monkeypatch.setattr(drafter.locales, "_best", counting)
    counts = []
    for copies in (1, 3):
        recipients = tmp_path / f"recipients-{copies}.csv"
        body = [f"{row.split(',', 1)[0]}-{i},{row.split(',', 1)[1]}" for i in range(copies)
                for row in rows[1:]]
        recipients.write_text("\n".join([rows[0], *body]) + "\n", encoding="utf-8")
        negotiated.clear()
        report = merge(EXAMPLES / "campaign" / "case.yaml", recipients,
                       tmp_path / f"out-{copies}", MergeOptions(formats=("docx",), jobs=1))
        assert report.written == 16 * copies
        counts.append(len(negotiated))
    assert counts[0] == counts[1]  # 48 letters negotiate no more than 16


def many_rows(count: int) -> list[str]:
    places = [("en", "Beijing", "CN"), ("ko", "Seoul", "KR"), ("zh_Hans", "Shanghai", "CN"),
              ("en_GB", "London", "GB")]
    return [f"r{i},Minister,Official Number{i},{places[i % 4][0]},{places[i % 4][1]},"
            f"{places[i % 4][2]}" for i in range(count)]


def test_a_docx_merge_on_every_core_writes_what_one_process_writes(case: Path,
                                                                   tmp_path: Path) -> None:
    import multiprocessing

    path = recipients(tmp_path, many_rows(40))
    merge(case, path, tmp_path / "one", MergeOptions(formats=("docx",), jobs=1))
    helping: list[int] = []
    report = merge(case, path, tmp_path / "two", MergeOptions(formats=("docx",), jobs=2),
                   on_progress=lambda done, total: helping.append(
                       len(multiprocessing.active_children())))
    assert (report.written, report.failed) == (40, 0)
    assert max(helping) == 2 and not multiprocessing.active_children()
    assert manifest(tmp_path / "two") == manifest(tmp_path / "one")
    for row in manifest(tmp_path / "one"):
        name = Path(row["docx"]).name
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
    assert "존경하는 Official Number1" in docx_text(tmp_path / "two" / "r1.docx")
    # Run again with one recipient changed: the unchanged letters are skipped, as with -j 1.
    rows = many_rows(40)
    rows[5] = rows[5].replace("Seoul", "Busan")
    path = recipients(tmp_path, rows)
    for out, jobs in (("one", 1), ("two", 2)):
        report = merge(case, path, tmp_path / out, MergeOptions(formats=("docx",), jobs=jobs))
        assert (report.written, report.skipped, report.failed) == (1, 39, 0)
    assert manifest(tmp_path / "two") == manifest(tmp_path / "one")
    assert "Busan" in docx_text(tmp_path / "two" / "r5.docx")


def test_the_first_pass_on_every_core_finds_what_one_process_finds(tmp_path: Path) -> None:
    # With enough records the rendering processes validate them too: the same problems,
    # warnings (the case's once), names and manifest as -j 1, in file order.
    case = tmp_path / "case.yaml"
    case.write_text(LINKED_CASE.replace("see https://www.hrw.org/news/x.",
                                        "see [notes](../notes.txt)."), encoding="utf-8")
    rows = [f"{row},+86 10 6596 1114," for row in many_rows(60)]
    rows[3] = "r3,Minister,Official Number3,not-a-locale,Seoul,KR,,"
    rows[17] = "r17,Minister,Official Number17,en,Beijing,CN,12,Also [this](../other.txt)."
    rows[44] = "r44,Minister,Official Number1,ko,Seoul,KR,,"  # the same name as r1: made unique
    rows[50] = "r50,Minister,Official Number50,en,Atlantis,ZZ,,"
    path = recipients(tmp_path, rows, "id,honorific,name,locale,address.city,address.country,"
                      "phone,extra_paragraph")
    reports = [merge(case, path, tmp_path / f"out-{jobs}", MergeOptions(
        formats=("docx",), jobs=jobs, keep_going=True, name="{{ name | slug }}"))
        for jobs in (1, 2)]
    one, two = reports
    assert (two.total, two.invalid, two.written) == (one.total, one.invalid, one.written)
    assert one.invalid == 2 and one.written == 58
    assert two.problems == one.problems and two.rejected == one.rejected
    assert two.warnings == one.warnings
    messages = [w.message for w in one.warnings]
    assert sum("'../notes.txt'" in m for m in messages) == 1  # the case's: once
    assert sum("'../other.txt'" in m for m in messages) == 1
    assert any("'12' is not a valid phone number" in m for m in messages)
    assert manifest(tmp_path / "out-2") == manifest(tmp_path / "out-1")
    assert (tmp_path / "out-2" / "official-number1-2.docx").is_file()


def test_a_template_that_fails_in_one_language_stops_a_merge_on_every_core_first(
        case: Path, tmp_path: Path) -> None:
    # The processes compile the template for the locales they meet while validating: a
    # variant that cannot be compiled stops the merge before any letter is written.
    folder = tmp_path / "template"
    folder.mkdir()
    for name, text in (("letter.docx", "Dear {{ recipient.full_name }},"),
                       ("letter.ko.docx", "Dear {{ recipient.full_name }, {% if %}")):
        document = docx.Document()
        document.add_paragraph(text)
        document.save(str(folder / name))
    out = tmp_path / "out"
    for jobs in (1, 2):
        with pytest.raises(TemplateError) as raised:
            merge(case, recipients(tmp_path, many_rows(40)), out,
                  MergeOptions(template=folder, formats=("docx",), jobs=jobs))
        assert "letter.ko.docx" in str(raised.value)
        assert not list(out.glob("*.docx")) and not (out / "manifest.csv").exists()


def test_a_letter_its_template_fails_on_in_a_rendering_process_is_reported(
        case: Path, tmp_path: Path) -> None:
    template = tmp_path / "custom.docx"
    document = docx.Document()
    document.add_paragraph("Dear {{ recipient.full_name }},")
    document.add_paragraph("{% if recipient.name == 'Official Number7' %}{{ 'x' * 10**9 }}"
                           "{% endif %}We write to you.")
    document.save(str(template))
    out = tmp_path / "out"
    report = merge(case, recipients(tmp_path, many_rows(40)), out,
                   MergeOptions(template=template, formats=("docx",), jobs=2))
    assert (report.written, report.failed) == (39, 1)
    (problem,) = report.problems
    assert problem.record_id == "r7" and "sandbox" in problem.message
    rows = {row["id"]: row for row in manifest(out)}
    assert rows["r7"]["status"] == "failed" and rows["r7"]["docx"] == ""
    assert not (out / "r7.docx").exists() and (out / "r8.docx").exists()


def test_what_a_template_changes_in_the_people_every_letter_has_stays_in_its_letter(
        tmp_path: Path) -> None:
    # The sender's, signatory's and CCs' blocks are built once per locale of a merge: a
    # template that adds to their lists must find them as new in every letter.
    case = tmp_path / "case.yaml"
    case.write_text(LINKED_CASE + "cc:\n  - {name: Guo Shengkun, title: Minister}\n",
                    encoding="utf-8")
    document = docx.Document()
    document.add_paragraph(
        "{{ sender.address_lines.append('Added') or sender.address_lines | length }}"
        "/{{ signatory.lines.append('Added') or signatory.lines | length }}"
        "/{{ cc[0].lines.append('Added') or cc[0].lines | length }}"
        "/{{ signatory.update(name='Changed') or signatory.name }}")
    template = tmp_path / "mutating.docx"
    document.save(str(template))
    out = tmp_path / "out"
    rows = ["xi,President,Xi Jinping,en,Beijing,CN", "wang,Minister,Wang Yi,en,Beijing,CN",
            "li,,Li Wei,en,Beijing,CN"]
    report = merge(case, recipients(tmp_path, rows), out,
                   MergeOptions(formats=("docx",), template=str(template), jobs=1))
    assert report.written == 3
    assert [docx_text(out / f"{name}.docx").strip() for name in ("xi", "wang", "li")] == [
        "1/4/3/Changed"] * 3


def test_each_merged_letter_is_the_letter_rendered_on_its_own(tmp_path: Path) -> None:
    # A merge shares between its letters what they have in common (the blocks of the people
    # every letter has, the paragraphs finished once); a letter rendered alone shares nothing.
    from drafter import render_letter
    from drafter.merge import merged_letters

    campaign = EXAMPLES / "campaign"
    out = tmp_path / "out"
    rows = (campaign / "recipients.csv").read_text(encoding="utf-8").splitlines()
    twice = tmp_path / "recipients.csv"  # each letter's language and paragraphs seen again
    twice.write_text("\n".join([rows[0], *rows[1:], *(row.replace(",", "-again,", 1)
                                                       for row in rows[1:])]) + "\n",
                     encoding="utf-8")
    report = merge(campaign / "case.yaml", twice, out, MergeOptions(formats=("docx",), jobs=1))
    assert report.written == 2 * (len(rows) - 1) and report.failed == 0
    template, letters = merged_letters(out)
    locales = set()
    for merged in letters:
        alone = render_letter(merged.letter, template)
        locales.add(alone.locale)
        assert (out / f"{merged.name}.docx").read_bytes() == alone.docx, merged.name
    assert len(locales) >= 7
