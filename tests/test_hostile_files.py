"""YAML, CSV and XLSX files are read safely: no Python objects, no bombs, clear messages.

Every refusal is a DataError naming the file (and the line and field where there is one); the
CLI prints it and exits 1 without writing anything.
"""

from __future__ import annotations

import csv
import time
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import pytest

from drafter import DataError, load_letter
from drafter.loading import MAX_BYTES, load_yaml
from drafter.merge import MergeOptions, merge
from drafter.recipients import read_recipients

from .conftest import EXAMPLES, SHORT_CASE, docx_text

LETTER = (EXAMPLES / "letter-en.yaml").read_text(encoding="utf-8")
CASE = SHORT_CASE


def problems(path: Path) -> list[str]:
    with pytest.raises(DataError) as caught:
        load_letter(path)
    return [str(p) for p in caught.value.problems]


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


# ---- YAML -------------------------------------------------------------------------------------


def test_python_object_tags_are_refused_never_run(tmp_path: Path, run) -> None:
    marker = tmp_path / "pwned"
    data = write(tmp_path / "letter.yaml", LETTER.replace(
        "locale: en_US", f"locale: !!python/object/apply:os.system ['touch {marker}']", 1)
        + f"? !!python/object/apply:os.system ['touch {marker}']\n: x\n")
    out = tmp_path / "out"
    result = run("render", data, "-o", out, "-f", "docx")
    assert result.exit_code == 1
    assert "error: 2 problems found:" in result.output
    assert (f"{data}:3:9: locale: unsupported YAML tag "
            "tag:yaml.org,2002:python/object/apply:os.system (drafter reads plain YAML only)"
            ) in result.output
    line = LETTER.count("\n") + 1
    assert f"{data}:{line}:3: a key must be plain text" in result.output
    assert not marker.exists() and not out.exists()


@pytest.mark.parametrize(("value", "tag"), [
    ("!!python/name:os.system", "tag:yaml.org,2002:python/name:os.system"),
    ("!!python/object/new:subprocess.Popen [[ls]]",
     "tag:yaml.org,2002:python/object/new:subprocess.Popen"),
    ("!!binary aGVsbG8=", "tag:yaml.org,2002:binary"),
    ("!!set {a}", "tag:yaml.org,2002:set"),
    ("!include /etc/passwd", "!include"),
])
def test_other_tags_are_refused(tmp_path: Path, value: str, tag: str) -> None:
    path = write(tmp_path / "letter.yaml", LETTER.replace(
        "subject: Detention of Nine North Korean refugees", f"subject: {value}", 1))
    line = LETTER[:LETTER.index("subject:")].count("\n") + 1
    assert f"{path}:{line}:10: subject: unsupported YAML tag {tag} (drafter reads plain YAML " \
        "only)" in problems(path)


def test_duplicate_keys_are_errors_but_merge_keys_may_be_overridden(tmp_path: Path) -> None:
    path = write(tmp_path / "d.yaml", "a: 1\nb: {x: 1, x: 2}\na: 3\n"
                 "base: &base {city: Beijing, country: CN}\nmine: {<<: *base, city: Shanghai}\n")
    source = load_yaml(path)
    assert [str(p) for p in source.problems] == [
        f"{path}:2:11: b.x: duplicate key (the earlier value would be lost)",
        f"{path}:3:1: a: duplicate key (the earlier value would be lost)"]
    assert source.value["a"] == "1" and source.value["b"] == {"x": "1"}
    assert source.value["mine"] == {"city": "Shanghai", "country": "CN"}


def _laughs(levels: int, merge_keys: bool = False) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        refs = ", ".join([f"*l{i - 1}"] * 9)
        lines.append(f"l{i}: &l{i} {{<<: [{refs}]}}" if merge_keys else f"l{i}: &l{i} [{refs}]")
    if merge_keys:
        lines[0] = "l0: &l0 {lol: lol}"
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_stop_in_bounded_memory(tmp_path: Path) -> None:
    path = write(tmp_path / "lol.yaml", _laughs(9))  # 9**10 "lol"s once expanded
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as caught:
            load_yaml(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(caught.value.problems[0]) == (
        f"{path}:1:59: l5[0][3][3][7][3][7]: aliases (*name, <<: *name) bring in more than "
        "100,000 values in the file (at most 100,000, from 30 written): are aliases expanding "
        "without bound?")
    assert peak < 100 << 20  # refused long before the expansion: no timing, the memory says it


def test_merge_key_laughs_do_not_multiply(tmp_path: Path) -> None:
    path = write(tmp_path / "lol.yaml", _laughs(9, merge_keys=True))
    started = time.monotonic()
    assert load_yaml(path).value["l9"] == {"lol": "lol"}
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(("text", "message"), [
    ("a: &x [*x]\n", "1:4: a[0]: an alias refers to the value that contains it"),
    ("a: &x {b: *x}\n", "1:4: a.b: an alias refers to the value that contains it"),
    ("a: {<<: 1}\n", "1:9: a: YAML error: expected a mapping or list of mappings for merging, "
     "but found scalar"),
    ("? [a, b]\n: 1\n", "1:3: a key must be plain text"),
    ("a: *nowhere\n", "1:4: YAML syntax error: found undefined alias 'nowhere'"),
])
def test_odd_yaml_is_an_error_not_a_crash(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "odd.yaml", text)
    source_problems = []
    try:
        source_problems = [str(p) for p in load_yaml(path).problems]
    except DataError as e:
        source_problems = [str(p) for p in e.problems]
    assert source_problems == [f"{path}:{message}"]


def test_deep_nesting_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = write(tmp_path / "deep.yaml", "a: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(DataError) as caught:
        load_yaml(path)
    assert [str(p) for p in caught.value.problems] == [f"{path}: the values are nested too deeply"]


def test_keys_are_text_as_written(tmp_path: Path) -> None:
    # YAML 1.1 would read `no` as false and `1` as a number: Norwegian would become "False".
    path = write(tmp_path / "letter.yaml", LETTER.replace(
        "  name: Xi Jinping", "  name: {en: Xi Jinping, no: Xi Jinping (nb), zh: 习近平}", 1))
    assert load_letter(path).recipient.name == {"en": "Xi Jinping", "no": "Xi Jinping (nb)",
                                                "zh": "习近平"}


def test_encodings(tmp_path: Path) -> None:
    assert load_letter(write(tmp_path / "bom.yaml", b"\xef\xbb\xbf" + LETTER.encode()))
    latin1 = write(tmp_path / "latin1.yaml", LETTER.replace("People’s", "Peoples é").encode(
        "latin-1", errors="replace"))
    line = LETTER[:LETTER.index("People’s")].count("\n") + 1
    assert problems(latin1) == [f"{latin1}:{line}: the file is not UTF-8 text; save it as "
                                "UTF-8 (in Excel: CSV UTF-8)"]
    utf16 = write(tmp_path / "utf16.yaml", LETTER.encode("utf-16"))
    assert problems(utf16) == [f"{utf16}:1: the file is not UTF-8 text; save it as UTF-8 (in "
                               "Excel: CSV UTF-8)"]


def test_a_huge_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = write(tmp_path / "huge.yaml", b"# " + b"x" * MAX_BYTES + b"\n")
    assert problems(path) == [f"{path}: file is larger than 20 MiB"]


# ---- CSV --------------------------------------------------------------------------------------


def test_csv_encodings_and_sizes(tmp_path: Path) -> None:
    bom = write(tmp_path / "bom.csv", b"\xef\xbb\xbfid,name\nxi,Xi Jinping\n")
    assert [r.data for r in read_recipients(bom)] == [{"recipient": {"name": "Xi Jinping"}}]
    for name, data in [("latin1.csv", "id,name\nxi,Jos\xe9\n".encode("latin-1")),
                       ("utf16.csv", "id,name\nxi,José\n".encode("utf-16"))]:
        path = write(tmp_path / name, data)
        with pytest.raises(DataError) as caught:
            list(read_recipients(path))
        assert str(caught.value.problems[0]) == (
            f"{path}: the file is not UTF-8 text; save it as UTF-8 (in Excel: CSV UTF-8)")
    huge = write(tmp_path / "huge.csv", 'id,name\nxi,"' + "x" * 200_000 + '"\n')
    with pytest.raises(DataError) as caught:
        list(read_recipients(huge))
    assert str(caught.value.problems[0]) == (
        f"{huge}:2: cannot read this row of the CSV file: field larger than field limit "
        "(131072)")


def test_a_row_is_located_where_it_starts(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", 'id,address.street,name\na,"line 1\nline 2\nline 3",\n')
    (record,) = read_recipients(path)
    assert record.locate(("recipient", "name")) == f"{path}:2"


INJECTION = "=cmd|' /C calc'!A0"


def test_csv_injection_is_text_in_letters_and_quoted_in_the_manifest(tmp_path: Path,
                                                                     run) -> None:
    write(tmp_path / "case.yaml", CASE)
    recipients = write(tmp_path / "r.csv", "id,name,title,address.country\n"
                       f'"@SUM(1+1)","{INJECTION}",+1-1,CN\n-x,\'quoted,-2,US\n')
    out = tmp_path / "out"
    result = run("merge", tmp_path / "case.yaml", recipients, "-o", out, "-f", "docx",
                 "--name", "{{ name }}", "-q")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "'quoted.docx", "=cmd-' -C calc'!A0.docx", "manifest.csv", "merge.json"]
    lines = docx_text(out / "=cmd-' -C calc'!A0.docx").splitlines()
    assert f"Dear {INJECTION}," in lines and "+1-1" in lines

    text = (out / "manifest.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines()))
    assert all(cell[:1] not in ("=", "+", "-", "@") for row in rows for cell in row)
    by_number = {row[0]: row for row in rows[1:]}
    assert by_number["1"][1:5] == ["'@SUM(1+1)", f"'{INJECTION}", "en",
                                   "'=cmd-' -C calc'!A0.docx"]
    assert by_number["2"][1:5] == ["'-x", "''quoted", "en", "''quoted.docx"]

    again = run("merge", tmp_path / "case.yaml", recipients, "-o", out, "-f", "docx",
                "--name", "{{ name }}")
    assert "0 written, 2 unchanged (skipped)" in again.output  # the quoted cells read back


def test_a_damaged_manifest_means_every_letter_is_done_again(tmp_path: Path) -> None:
    write(tmp_path / "case.yaml", CASE)
    recipients = write(tmp_path / "r.csv", "id,name,address.country\nxi,Xi,CN\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.csv").write_bytes(b"\xff\xfe garbage \x00\n\"unclosed")
    report = merge(tmp_path / "case.yaml", recipients, out, MergeOptions(formats=("docx",)))
    assert (report.written, report.skipped, report.failed) == (1, 0, 0)


# ---- XLSX -------------------------------------------------------------------------------------


def _workbook(path: Path, extra: dict[str, bytes] | None = None) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["id", "name", "address.country"])
    sheet.append(["formula", INJECTION, "US"])  # typed in Excel: a formula, never run
    sheet.append(["text", None, "US"])
    cell = sheet.cell(row=3, column=2)
    cell.value, cell.data_type = INJECTION, "s"  # typed as text ('=…): text
    workbook.save(path)
    if extra:
        with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
            for name, data in extra.items():
                archive.writestr(name, data)
    return path


def test_xlsx_formulas_are_never_evaluated_and_text_stays_text(tmp_path: Path) -> None:
    # A formula is never run: its saved value is read, and one without (openpyxl saves none)
    # is refused, never read as an empty cell.
    path = _workbook(tmp_path / "r.xlsx")
    with pytest.raises(DataError) as caught:
        list(read_recipients(path))
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:Sheet!B2: the formula {INJECTION} has no saved value (the file was written by "
        "a program that does not calculate): open the file in Excel or LibreOffice and save "
        "it, or write the values"]
    workbook = openpyxl.load_workbook(path)
    workbook.active.delete_rows(2)
    workbook.save(path)
    records = list(read_recipients(path))
    assert [r.data["recipient"].get("name") for r in records] == [INJECTION]


def _lying(path: Path) -> Path:
    """A workbook with a member of 60 MiB of zeros that declares 1,000 bytes."""
    _workbook(path, {"xl/media/zeros.bin": bytes(60 << 20)})
    data = bytearray(path.read_bytes())
    name = b"xl/media/zeros.bin"
    for signature, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            if data[start + name_at:start + name_at + len(name)] == name:
                data[start + size_at:start + size_at + 4] = (1000).to_bytes(4, "little")
            start += 4
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("kind", ["text", "pdf", "truncated", "ratio", "size", "lying"])
def test_unreadable_or_hostile_workbooks_are_refused(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.xlsx"
    if kind == "text":
        write(path, "id,name\nxi,Xi\n")
        message = "cannot read the spreadsheet: File is not a zip file"
    elif kind == "pdf":
        write(path, b"%PDF-1.7\n%%EOF\n")
        message = "cannot read the spreadsheet: File is not a zip file"
    elif kind == "truncated":
        write(path, _workbook(tmp_path / "whole.xlsx").read_bytes()[:3000])
        message = "cannot read the spreadsheet: File is not a zip file"
    elif kind == "ratio":
        _workbook(path, {"xl/media/zeros.bin": bytes(5 << 20)})
        message = "refused: xl/media/zeros.bin unpacks to 5242880 bytes from "
    elif kind == "size":
        _workbook(path, {"xl/media/zeros.bin": bytes(60 << 20)})
        message = "refused: xl/media/zeros.bin unpacks to 62914560 bytes (limit: 50 MiB a member)"
    else:
        _lying(path)
        message = ("cannot read the spreadsheet: the archive is damaged: Bad CRC-32 for file "
                   "'xl/media/zeros.bin'")
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as caught:
            list(read_recipients(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(caught.value.problems[0]).startswith(f"{path}: {message}")
    assert peak < 20 << 20  # the zeros were never unpacked


def test_a_hostile_workbook_stops_a_merge_before_anything_is_written(tmp_path: Path,
                                                                     run) -> None:
    write(tmp_path / "case.yaml", CASE)
    out = tmp_path / "out"
    result = run("merge", tmp_path / "case.yaml", _lying(tmp_path / "r.xlsx"), "-o", out)
    assert result.exit_code == 1
    assert "the archive is damaged: Bad CRC-32 for file 'xl/media/zeros.bin'" in result.output
    assert not out.exists()
