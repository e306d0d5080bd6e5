"""Tests of drafter.manifest: the manifest's cells, its order, resuming from it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from drafter.files import sha256_of
from drafter.manifest import (
    MANIFEST,
    MANIFEST_COLUMNS,
    FinishedLetter,
    LetterRow,
    ManifestWriter,
    finished_letters,
    quote_cell,
    read_manifest,
    unchanged,
    unquote_cell,
)

from .conftest import read_manifest as manifest_rows


def letter(number: int, name: str = "", inputs: str = "in") -> LetterRow:
    return LetterRow(number, f"r{number}", name or f"Person {number}", "en", inputs)


def writer(tmp_path: Path, **options: object) -> ManifestWriter:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    settings: dict = {"rejected": {}, "previous": {}, "keep_unreached": False, **options}
    return ManifestWriter(tmp_path, work, **settings)


@pytest.mark.parametrize("value", ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tx",
                                   "\rx", "'quoted", "''", "plain", "", "a=b"])
def test_cells_never_start_a_formula_and_read_back(value: str) -> None:
    cell = quote_cell(value)
    assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r")
    assert unquote_cell(cell) == value


def test_letters_are_written_in_file_order_as_they_finish(tmp_path: Path) -> None:
    rows = [letter(n) for n in (1, 2, 4, 5)]
    with writer(tmp_path, rejected={3: ("r3", "name: required"), 7: ("=r7", "bad")}) as m:
        for row in rows:
            m.add(row)
        assert m.finish(rows[1], "written") == 1
        assert m.unfinished() == [rows[0], rows[2], rows[3]]
        m.finish(rows[3], "failed")
        m.finish(rows[0], "skipped")
        assert m.finish(rows[2], "written") == 4
        assert not (tmp_path / MANIFEST).exists()  # moved into place only at the end
    written = manifest_rows(tmp_path)
    assert [(r["number"], r["id"], r["status"]) for r in written] == [
        ("1", "r1", "skipped"), ("2", "r2", "written"), ("3", "r3", "invalid"),
        ("4", "r4", "written"), ("5", "r5", "failed"), ("7", "'=r7", "invalid")]
    assert list(written[0]) == list(MANIFEST_COLUMNS)
    assert not (tmp_path / "work" / MANIFEST).exists()


def test_a_row_names_its_files_and_quotes_what_comes_from_data(tmp_path: Path) -> None:
    row = LetterRow(1, "-1", "=cmd|' /C calc'!A0", "zh_Hans", "abc",
                    docx=tmp_path / "@x.docx", pdf=tmp_path / "@x.pdf", pages="2",
                    error="+oops", sha256={"docx": "d" * 64, "pdf": "p" * 64})
    with writer(tmp_path) as m:
        m.add(row)
        m.finish(row, "written")
    assert manifest_rows(tmp_path) == [{
        "number": "1", "id": "'-1", "recipient": "'=cmd|' /C calc'!A0", "locale": "zh_Hans",
        "docx": "'@x.docx", "docx_sha256": "d" * 64, "pdf": "'@x.pdf", "pdf_sha256": "p" * 64,
        "pages": "2", "status": "written", "error": "'+oops", "inputs": "abc",
        "mail": "", "message_id": "", "delivery": "", "delivery_note": ""}]  # drafter mail's
    assert read_manifest(tmp_path / MANIFEST)[("1", "-1")]["recipient"] == "=cmd|' /C calc'!A0"


def test_a_stopped_run_keeps_the_rows_it_did_not_reach(tmp_path: Path) -> None:
    previous = {(str(n), f"r{n}"): {"number": str(n), "id": f"r{n}", "status": "written",
                                    "docx": f"@{n}.docx", "inputs": "old"} for n in (1, 2, 3)}
    rows = [letter(1), letter(2)]
    with pytest.raises(KeyboardInterrupt), writer(tmp_path, previous=previous) as m:
        m.add(rows[0])
        m.add(rows[1])
        m.finish(rows[0], "written")
        raise KeyboardInterrupt
    written = manifest_rows(tmp_path)
    # Letter 2 never finished (a merge marks such letters interrupted before the end): its
    # last row stays, as does the row of letter 3, which the run did not reach.
    assert [(r["number"], r["status"], r["inputs"]) for r in written] == [
        ("1", "written", "in"), ("2", "written", "old"), ("3", "written", "old")]
    assert written[2]["docx"] == "'@3.docx"  # kept rows are quoted as they were written


def test_only_some_records_keep_the_others_rows(tmp_path: Path) -> None:
    previous = {(str(n), f"r{n}"): {"number": str(n), "id": f"r{n}", "status": "written"}
                for n in (1, 2, 3)}
    row = letter(2)
    with writer(tmp_path, previous=previous, keep_unreached=True) as m:
        m.add(row)
        m.finish(row, "written")
    assert [r["number"] for r in manifest_rows(tmp_path)] == ["1", "2", "3"]
    with writer(tmp_path, previous=previous) as m:  # a full run: the old rows go
        m.add(row)
        m.finish(row, "written")
    assert [r["number"] for r in manifest_rows(tmp_path)] == ["2"]


def test_a_manifest_that_cannot_be_read_is_none(tmp_path: Path) -> None:
    assert read_manifest(tmp_path / MANIFEST) == {}
    (tmp_path / MANIFEST).write_bytes(b"number,id\n\xff\xfe,x\n")
    assert read_manifest(tmp_path / MANIFEST) == {}


def previous_run(tmp_path: Path, status: str = "written", inputs: str = "in") -> dict:
    (tmp_path / "a.docx").write_bytes(b"DOCX")
    (tmp_path / "a.pdf").write_bytes(b"%PDF")
    row = LetterRow(1, "r1", "Ann", "en", inputs, docx=tmp_path / "a.docx",
                    pdf=tmp_path / "a.pdf", pages="2",
                    sha256={"docx": sha256_of(tmp_path / "a.docx"),
                            "pdf": sha256_of(tmp_path / "a.pdf")})
    with writer(tmp_path) as m:
        m.add(row)
        m.finish(row, status)
    return read_manifest(tmp_path / MANIFEST)


def test_an_unchanged_letter_takes_its_files_from_the_last_run(tmp_path: Path) -> None:
    previous = previous_run(tmp_path)
    row = letter(1)
    assert unchanged(previous, row, {"docx": tmp_path / "a.docx", "pdf": tmp_path / "a.pdf"})
    assert (row.docx, row.pdf, row.pages) == (tmp_path / "a.docx", tmp_path / "a.pdf", "2")
    assert row.sha256 == {"docx": sha256_of(tmp_path / "a.docx"),
                          "pdf": sha256_of(tmp_path / "a.pdf")}
    only_pdf = letter(1)
    assert unchanged(previous, only_pdf, {"pdf": tmp_path / "a.pdf"})
    assert only_pdf.docx is None and list(only_pdf.sha256) == ["pdf"]


@pytest.mark.parametrize("change", ["inputs", "status", "edited", "missing", "renamed", "other"])
def test_a_changed_letter_is_done_again(tmp_path: Path, change: str) -> None:
    previous = previous_run(tmp_path, status="failed" if change == "status" else "written")
    files = {"docx": tmp_path / "a.docx", "pdf": tmp_path / "a.pdf"}
    row = letter(2 if change == "other" else 1, inputs="new" if change == "inputs" else "in")
    if change == "edited":
        (tmp_path / "a.pdf").write_bytes(b"%PDF edited")
    elif change == "missing":
        (tmp_path / "a.docx").unlink()
    elif change == "renamed":
        files["pdf"] = tmp_path / "b.pdf"
        (tmp_path / "a.pdf").rename(files["pdf"])
    assert not unchanged(previous, row, files)
    assert (row.docx, row.pdf, row.sha256) == (None, None, {})


def test_finished_letters_are_those_written_or_skipped(tmp_path: Path) -> None:
    rows = [LetterRow(1, "a", "A", "en", "", docx=tmp_path / "a.docx", pdf=tmp_path / "a.pdf",
                      pages="3"),
            LetterRow(2, "b", "B", "en", "", docx=tmp_path / "b.docx"),
            LetterRow(3, "c", "C", "en", "", docx=tmp_path / "c.docx", error="LibreOffice…"),
            LetterRow(4, "d", "D", "en", "", pdf=tmp_path / "d.pdf", pages="1")]
    with writer(tmp_path, rejected={5: ("e", "bad")}) as m:
        for row, status in zip(rows, ["written", "skipped", "failed", "written"], strict=True):
            m.add(row)
            m.finish(row, status)
    assert finished_letters(tmp_path) == [
        FinishedLetter(tmp_path / "a.docx", tmp_path / "a.pdf", 3),
        FinishedLetter(tmp_path / "b.docx", None, None),
        FinishedLetter(None, tmp_path / "d.pdf", 1)]
    with (tmp_path / MANIFEST).open(newline="", encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == 5
