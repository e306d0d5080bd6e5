"""Recipients files that would lose a recipient without a word: each is an error naming the row.

A malformed CSV row (a quote never closed, text after a closing quote, a NUL byte, a cell that
swallows the rows after it, a value under a column with no name) and a spreadsheet whose values
openpyxl would read as empty (merged cells, formulas with no saved value, a hidden first sheet)
are refused with the file and row (or cell); nothing is written. What is only unusual (fewer
cells than columns, a BOM, mixed line endings, a quote inside a cell) is read as written.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from drafter.errors import DataError
from drafter.recipients import MAX_CELL_LINES, read_recipients

from .conftest import read_manifest


def write(path: Path, data: str | bytes) -> Path:
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(DataError) as caught:
        list(read_recipients(path))
    return [str(p) for p in caught.value.problems]


def names(path: Path) -> list[str]:
    return [r.data["recipient"]["name"] for r in read_recipients(path)]


# ---- the failure: an unterminated quote -----------------------------------------------------


def test_an_unterminated_quote_is_an_error_naming_its_row(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", 'id,name,subject\na,A,"About\nb,B,x\nc,C,y\n')
    assert problems(path) == [
        f'{path}:2: cannot read this row of the CSV file: a quote (") opens a cell that runs on '
        'into the rows after it: close it, or write a quote inside a quoted cell as two ("")']


def test_merge_of_an_unterminated_quote_writes_nothing(case: Path, tmp_path: Path, run) -> None:
    path = write(tmp_path / "r.csv", 'id,name,subject\na,A,"About\nb,B,x\nc,C,y\n')
    out = tmp_path / "out"
    result = run("merge", case, path, "-o", out, "-f", "docx")
    assert result.exit_code == 1
    assert f"{path}:2: cannot read this row of the CSV file: a quote" in result.output
    assert not out.exists() or list(out.iterdir()) == []


def test_a_quote_closed_rows_later_is_caught_by_the_bound_on_a_cell(tmp_path: Path) -> None:
    rows = "".join(f"r{i},Person {i},x\n" for i in range(MAX_CELL_LINES + 5))
    path = write(tmp_path / "r.csv", f'id,name,subject\na,A,"About\n{rows}z,Z,y"\n')
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:2: cell 3 runs from line 2 to line {MAX_CELL_LINES + 8} ")
    assert "a cell may have at most 30 lines and 20,000 characters" in problem


def test_a_long_cell_on_one_line_is_bounded_too(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", 'id,name,extra_paragraph\na,A,"' + "x" * 30_000 + '"\n')
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:2: cell 3 runs from line 2 to line 2 (30,000 characters")


def test_a_cell_of_a_few_lines_is_fine(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", 'id,name,address.street\na,A,"1 Road\nFlat 2\nBlock 3"\n'
                                     'b,B,x\n')
    records = list(read_recipients(path))
    assert [r.data["recipient"]["address"]["street"] for r in records] == [
        ["1 Road", "Flat 2", "Block 3"], ["x"]]
    assert records[1].locate(("recipient", "name")) == f"{path}:5, column name"


# ---- neighbours: quotes, cells, bytes ---------------------------------------------------------


def test_text_after_a_closing_quote_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", 'id,name\na,"Xi" Jinping\nb,B\n')
    assert problems(path) == [
        f'{path}:2: cannot read this row of the CSV file: text follows the quote that closes a '
        'cell ("Xi" Jinping): quote the whole cell and double the quotes in it '
        '("""Xi"" Jinping"), or leave the quotes out']


def test_a_quote_inside_an_unquoted_cell_is_text(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", 'id,name\na,Wang "Tiger" Yi\nb,"Li ""Lee"" Wei"\n')
    assert names(path) == ['Wang "Tiger" Yi', 'Li "Lee" Wei']


def test_a_nul_byte_in_the_first_row_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "id,na\x00me\na,A\n")
    assert problems(path) == [f"{path}:1: cell 2 holds a NUL byte: is the file saved as UTF-16 "
                              "or in a program's own format? Save it as CSV UTF-8"]
    stray = write(tmp_path / "stray.csv", "id,name\na,A\x00B\n")  # in a record: removed, said
    (record,) = read_recipients(stray)
    assert record.data["recipient"]["name"] == "AB"
    assert [p.message for p in record.warnings] == ["invisible control characters removed"]


def test_utf16_without_a_byte_order_mark_is_caught_by_its_nul_bytes(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "id,name\na,A\n".encode("utf-16-le"))
    (problem,) = problems(path)
    assert "holds a NUL byte: is the file saved as UTF-16" in problem


def test_more_cells_than_columns_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "id,name\na,A\nb,B,extra\n")
    assert problems(path) == [f"{path}:3: 3 cells but only 2 column names in the first row"]


def test_fewer_cells_leave_the_last_columns_empty_and_validation_says_so(
        case: Path, tmp_path: Path, run) -> None:
    path = write(tmp_path / "r.csv", "id,address.country,name\na,US,A\nb,US\n")
    assert [r.data for r in read_recipients(path)][1] == {
        "recipient": {"address": {"country": "US"}}}
    result = run("merge", case, path, "-o", tmp_path / "out", "-f", "docx")
    assert result.exit_code == 1
    assert "record 2 (b)" in result.output and "name" in result.output


def test_a_value_under_a_column_without_a_name_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "id,name,\na,A,\nb,B,lost\n")
    assert problems(path) == [f"{path}:3: a value ('lost') in column 3, whose first row names no "
                              "column: give the column a name, or move the value"]
    empty = write(tmp_path / "empty.csv", "id,name,,\na,A,,\n")  # Excel's trailing commas
    assert names(empty) == ["A"]


def test_duplicate_and_blank_headers(tmp_path: Path) -> None:
    assert problems(write(tmp_path / "r.csv", "id,name, name\na,A,B\n")) == [
        f"{tmp_path / 'r.csv'}: column 'name' appears twice"]


def test_mixed_line_endings_and_a_bom_read_every_row(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", b"\xef\xbb\xbfid,name\r\na,A\nb,B\rc,C\r\n")
    records = list(read_recipients(path))
    assert [r.id for r in records] == ["a", "b", "c"]
    assert [r.data["recipient"]["name"] for r in records] == ["A", "B", "C"]


# ---- spreadsheets -----------------------------------------------------------------------------


def sheet(tmp_path: Path, *rows: list[object],
          name: str = "r.xlsx") -> tuple[Path, openpyxl.Workbook]:
    workbook = openpyxl.Workbook()
    worksheet = workbook.active
    worksheet.title = "People"
    for row in rows:
        worksheet.append(row)
    path = tmp_path / name
    workbook.save(path)
    return path, workbook


def test_merged_cells_are_an_error(tmp_path: Path) -> None:
    path, workbook = sheet(tmp_path, ["id", "name", "organization"], ["a", "A", "UN"],
                           ["b", "B", None])
    workbook.active.merge_cells("C2:C3")
    workbook.save(path)
    assert problems(path) == [f"{path}:People!C2: cells C2:C3 are merged: only the first holds "
                              "the value, the other rows would have none; unmerge them and fill "
                              "in every cell"]


def test_a_formula_without_a_saved_value_is_an_error(tmp_path: Path) -> None:
    # openpyxl writes formulas without computing them, as many programs do.
    path, _ = sheet(tmp_path, ["id", "name"], ["a", "A"], ["b", '=UPPER("b")'])
    assert problems(path) == [f'{path}:People!B3: the formula =UPPER("b") has no saved value '
                              "(the file was written by a program that does not calculate): "
                              "open the file in Excel or LibreOffice and save it, or write the "
                              "values"]


def test_a_hidden_first_sheet_is_an_error(tmp_path: Path) -> None:
    path, workbook = sheet(tmp_path, ["id", "name"], ["old", "Old"])
    workbook.active.sheet_state = "hidden"
    current = workbook.create_sheet("Current")
    current.append(["id", "name"])
    current.append(["new", "New"])
    workbook.save(path)
    assert problems(path) == [f"{path}: the first sheet, 'People', is hidden: drafter reads the "
                              "recipients from the first sheet; show it, or move the "
                              "recipients' sheet first"]


def test_a_hidden_row_is_merged_with_a_warning(tmp_path: Path) -> None:
    path, workbook = sheet(tmp_path, ["id", "name"], ["a", "A"], ["b", "B"])
    workbook.active.row_dimensions[3].hidden = True
    workbook.save(path)
    records = list(read_recipients(path))
    assert [r.id for r in records] == ["a", "b"]
    assert records[0].warnings == ()
    assert [p.message for p in records[1].warnings] == [
        "this row is hidden in the spreadsheet (filtered out?); its letter is made like the "
        "others: delete the row to leave it out"]


def test_a_value_in_an_unnamed_spreadsheet_column_is_an_error(tmp_path: Path) -> None:
    path, _ = sheet(tmp_path, ["id", "name", None], ["a", "A", "lost"])
    assert problems(path) == [f"{path}:People!C2: a value ('lost') in column 3, whose first row "
                              "names no column: give the column a name, or move the value"]


# ---- YAML -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["recipients: {name: A}\n", "- [a, b]\n", "just text\n",
                                  "recipients: 3\n", "recipient:\n  - name: A\n"])
def test_yaml_recipients_that_are_not_a_list_of_records(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "r.yaml", text)
    (problem,) = problems(path)
    assert "expected" in problem and str(path) in problem


def test_a_good_file_after_all_that_merges(case: Path, tmp_path: Path, run) -> None:
    path = write(tmp_path / "r.csv", 'id,name,address.country\na,"Wang ""Tiger"" Yi",CN\n')
    result = run("merge", case, path, "-o", tmp_path / "out", "-f", "docx")
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in read_manifest(tmp_path / "out")] == ["a"]
