"""Reading recipients from CSV, XLSX and YAML: nested fields, overrides, where each came from."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from drafter import DataError
from drafter.recipients import letter_data, read_recipients

CASE = {"date": "2015-11-24", "subject": "Detention", "body": ["First."],
        "sender": {"name": "HRW"}, "signatory": {"name": "S"}}


def write_csv(tmp_path: Path, text: str, name: str = "recipients.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_dotted_headers_become_nested_fields(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "id,name,name.zh,address.city,address.country,fax\n"
                               "xi,Xi Jinping,习近平,Beijing,CN,+86 10 6307 0900; +86 1\n")
    (record,) = read_recipients(path)
    assert record.id == "xi" and record.number == 1
    data = letter_data(CASE, record)
    assert data["recipient"]["name"] == {"default": "Xi Jinping", "zh": "习近平"}
    assert data["recipient"]["address"] == {"city": "Beijing", "country": "CN"}
    assert data["recipient"]["contacts"] == [{"fax": "+86 10 6307 0900"}, {"fax": "+86 1"}]


def test_letter_fields_in_a_row_override_the_case(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "name,locale,salutation,extra_paragraph,signatory.title\n"
                               "Wang Yi,en_GB,\"Dear Minister,\",Please reply.,Director\n")
    (record,) = read_recipients(path)
    data = letter_data(CASE, record)
    assert data["locale"] == "en_GB"
    assert data["salutation"] == "Dear Minister,"
    assert data["body"] == ["First.", "Please reply."]
    assert data["signatory"] == {"name": "S", "title": "Director"}
    assert CASE["body"] == ["First."]  # the case itself is left alone


def test_empty_cells_and_blank_rows_leave_the_case_alone(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "name,subject\nA,\n,\nB,Other\n")
    records = list(read_recipients(path))
    assert [r.number for r in records] == [1, 2]
    assert letter_data(CASE, records[0])["subject"] == "Detention"
    assert letter_data(CASE, records[1])["subject"] == "Other"


def test_semicolon_separated_csv_from_excel_in_europe(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "name;address.city;address.country\nA;Berlin;DE\nB;Köln;DE\n")
    records = list(read_recipients(path))
    assert [letter_data(CASE, r)["recipient"]["address"]["city"] for r in records] == [
        "Berlin", "Köln"]


def test_a_field_is_located_by_row_and_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "name,address.city\nA,X\nB,Y\n")
    second = list(read_recipients(path))[1]
    assert second.locate(("recipient", "address", "city")) == f"{path}:3, column address.city"


def test_xlsx_rows_with_numbers_and_dates(tmp_path: Path) -> None:
    import datetime as dt
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["id", "name", "address.postal_code", "address.country", "date"])
    sheet.append(["a", "Ann", 100017, "CN", dt.datetime(2015, 11, 24)])
    sheet.append([None, None, None, None, None])
    sheet.append(["b", "Bo", "01234", "US", None])
    path = tmp_path / "recipients.xlsx"
    workbook.save(path)
    records = list(read_recipients(path))
    assert [r.id for r in records] == ["a", "b"]
    first = letter_data(CASE, records[0])
    assert first["recipient"]["address"]["postal_code"] == "100017"
    assert first["date"] == "2015-11-24"
    assert letter_data(CASE, records[1])["recipient"]["address"]["postal_code"] == "01234"
    assert records[1].locate(("recipient", "name")) == f"{path}:Sheet!B4, column name"


def test_yaml_recipients_list(tmp_path: Path) -> None:
    path = tmp_path / "recipients.yaml"
    path.write_text("- id: xi\n  name: {en: Xi Jinping, zh: 习近平}\n  locale: zh_Hans\n"
                    "- name: Wang Yi\n  address: {city: Beijing, country: CN}\n",
                    encoding="utf-8")
    first, second = read_recipients(path)
    assert letter_data(CASE, first)["locale"] == "zh_Hans"
    assert second.id == "2"
    assert second.locate(("recipient", "address", "city")) == f"{path}:5:13"


def test_unreadable_files_are_explained(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("name\nJosé\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        list(read_recipients(bad))
    with pytest.raises(DataError, match="column 'name' appears twice"):
        list(read_recipients(write_csv(tmp_path, "name,name\nA,B\n")))
    with pytest.raises(DataError, match=r"\.yaml, \.csv or \.xlsx"):
        list(read_recipients(tmp_path / "people.pdf"))
