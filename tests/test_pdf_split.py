"""Tests of converting letters in chunks (drafter.pdf.ConversionPool with chunks,
drafter.combine.combine_alike, drafter.pdf_split): each letter's PDF, split from one
conversion of many, is what its own conversion gives."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pikepdf
import pytest
import yaml

from drafter import load_letter, render_letter
from drafter.errors import ConversionError
from drafter.merge import MergeOptions, merge
from drafter.pdf import ConversionPool, Converted, LibreOffice, find_soffice
from drafter.pdf_split import split_letters

from .conftest import EXAMPLES, SHORT_CASE, normalized, pdf_text, read_manifest

pytestmark = pytest.mark.libreoffice

# Each example letter, and a second recipient's name for a letter beside it in the chunk.
LANGUAGES = {"letter-en": "Margaret Okonkwo-Brennan", "letter-zh_Hans": "欧阳明远",
             "letter-ko": "남궁민수", "letter-ar": "خالد بن يوسف"}


def logging_soffice(folder: Path, crash_on: str = "") -> Path:
    """The real soffice behind a wrapper that logs the files each call converts, and (with
    ``crash_on``) dies of a segmentation fault when a file to convert has that text."""
    script = folder / "soffice"
    script.write_text(f"#!{sys.executable}\n" + textwrap.dedent(f"""\
        import json, os, signal, sys, zipfile
        args = sys.argv[1:]
        inputs = args[args.index("--outdir") + 2:]
        with open({str(folder / "calls.jsonl")!r}, "a") as log:
            print(json.dumps([os.path.basename(name) for name in inputs]), file=log)
        crash_on = {crash_on!r}
        for name in inputs:
            with zipfile.ZipFile(name) as archive:
                texts = [archive.read(n) for n in archive.namelist()
                         if n in ("word/document.xml", "content.xml")]
            if crash_on and any(crash_on.encode() in text for text in texts):
                os.kill(os.getpid(), signal.SIGSEGV)
        os.execv({find_soffice()!r}, [{find_soffice()!r}, *args])
        """))
    script.chmod(0o755)
    return script


def calls(folder: Path) -> list[list[str]]:
    return [json.loads(line) for line in (folder / "calls.jsonl").read_text().splitlines()]


def struct_text(pdf: Path) -> str:
    """``pdfinfo -struct-text``, without the object numbers of link annotations, each
    element's attributes in name order (a PDF dictionary has no order; pikepdf writes its
    keys sorted, LibreOffice as it pleases)."""
    said = subprocess.run(["pdfinfo", "-struct-text", str(pdf)], check=True,
                          capture_output=True, text=True).stdout
    lines: list[str] = []
    attributes: list[str] = []
    for line in re.sub(r"Object \d+ \d+", "Object", said).splitlines():
        if line.lstrip().startswith("/"):
            attributes.append(line)
            continue
        lines += [*sorted(attributes), line]
        attributes = []
    return "\n".join([*lines, *sorted(attributes)])


def fonts(pdf: Path) -> list[tuple[str, str]]:
    """Each font ``pdffonts`` lists: its name without the subset prefix, and whether it is
    embedded."""
    lines = subprocess.run(["pdffonts", str(pdf)], check=True, capture_output=True,
                           text=True).stdout.splitlines()[2:]
    found = []
    for line in lines:
        columns = line.split()
        embedded = columns[-5]  # name, type…, encoding, emb, sub, uni, object ID (2 columns)
        found.append((columns[0].split("+")[-1], embedded))
    return sorted(set(found))


def links(pdf: pikepdf.Pdf) -> list[list[str]]:
    return [[str(a.A.URI) for a in page.obj.get("/Annots", []) if "/A" in a]
            for page in pdf.pages]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path, str]]:
    """Two letters of each language converted in chunks, and each on its own: for each
    letter, its split PDF, its own PDF and its neighbour's recipient name."""
    folder = tmp_path_factory.mktemp("chunks")
    documents: dict[str, tuple[Path, str]] = {}
    for example, other_name in LANGUAGES.items():
        data = yaml.safe_load((EXAMPLES / f"{example}.yaml").read_text(encoding="utf-8"))
        own_name = data["recipient"]["name"]
        for suffix, name, neighbour in (("a", own_name, other_name),
                                        ("b", other_name, own_name)):
            data["recipient"]["name"] = name
            source = folder / f"{example}-{suffix}.yaml"
            source.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
            docx = folder / f"{example}-{suffix}.docx"
            docx.write_bytes(render_letter(load_letter(source)).docx)
            documents[docx.stem] = (docx, neighbour)
    soffice = logging_soffice(folder)
    results: dict[str, Converted] = {}
    with ConversionPool(LibreOffice(soffice, timeout=300), folder / "split",
                        results.__setitem__, jobs=1, chunks=True) as pool:
        for name, (docx, _) in documents.items():
            pool.add(docx, name)
    # Four chunks (one per language), each of both letters, converted once (Chinese and
    # Korean through ODT, see drafter.pdf), and no letter on its own.
    assert sorted(calls(folder)) == [["letters.docx"]] * 4 + [["letters.odt"]] * 2
    assert all(result.pdf is not None for result in results.values()), results
    LibreOffice(timeout=300).convert([docx for docx, _ in documents.values()], folder / "own")
    return {name: (folder / "split" / f"{name}.pdf", folder / "own" / f"{name}.pdf", neighbour)
            for name, (_, neighbour) in documents.items()}


LETTERS = [f"{example}-{suffix}" for example in LANGUAGES for suffix in "ab"]


@pytest.mark.parametrize("letter", LETTERS)
def test_a_split_letter_is_its_own_conversion(
        converted: dict[str, tuple[Path, Path, str]], letter: str) -> None:
    split, own, neighbour = converted[letter]
    with pikepdf.open(split) as mine, pikepdf.open(own) as reference:
        assert len(mine.pages) == len(reference.pages)
        assert [tuple(p.mediabox) for p in mine.pages] == [
            tuple(p.mediabox) for p in reference.pages]  # the paper
        assert links(mine) == links(reference)
        assert any(links(mine)) or letter.startswith("letter-ar")  # its letter has no link
        for key in ("/Title", "/Author", "/Subject"):
            assert str(mine.docinfo[key]) == str(reference.docinfo[key])
        assert mine.Root.Lang == reference.Root.Lang
        assert mine.Root.MarkInfo.Marked
        with mine.open_metadata() as xmp, reference.open_metadata() as own_xmp:
            assert xmp.pdfa_status == own_xmp.pdfa_status == "2B"
            for key in ("dc:title", "dc:creator", "dc:description"):
                assert xmp[key] == own_xmp[key]
    assert normalized(pdf_text(split)) == normalized(pdf_text(own))
    text = struct_text(split)
    assert text == struct_text(own)
    assert normalized(neighbour) not in normalized(text)
    assert fonts(split) == fonts(own) and all(embedded == "yes" for _, embedded in fonts(split))


def test_page_totals_count_each_letters_own_pages(
        converted: dict[str, tuple[Path, Path, str]]) -> None:
    split, _, _ = converted["letter-en-a"]
    pages = len(pikepdf.open(split).pages)
    assert pages > 1
    assert f"Page {pages} of {pages}" in pdf_text(split)


def test_a_letter_that_crashes_libreoffice_is_reported_and_the_others_delivered(
        tmp_path: Path) -> None:
    case = tmp_path / "case.yaml"
    case.write_text(SHORT_CASE, encoding="utf-8")
    people = ["Ada Lovelace", "Alan Turing", "PLANTED-CRASH Grace Hopper", "Edsger Dijkstra",
              "Barbara Liskov", "Donald Knuth"]
    recipients = tmp_path / "recipients.csv"
    recipients.write_text("id,name,address.country\n" + "".join(
        f"p{n},{name},US\n" for n, name in enumerate(people, start=1)), encoding="utf-8")
    soffice = logging_soffice(tmp_path, crash_on="PLANTED-CRASH")
    out = tmp_path / "out"

    report = merge(case, recipients, out, MergeOptions(soffice=str(soffice), jobs=1,
                                                        keep_running=False))

    assert (report.written, report.failed) == (5, 1)
    rows = {row["id"]: row for row in read_manifest(out)}
    assert rows["p3"]["status"] == "failed" and rows["p3"]["pdf"] == ""
    assert "p3.docx" in rows["p3"]["error"] and "stopped by SIGSEGV" in rows["p3"]["error"]
    assert not (out / "p3.pdf").exists()
    for number, name in enumerate(people, start=1):
        if number == 3:
            continue
        row = rows[f"p{number}"]
        pdf = out / row["pdf"]
        assert row["status"] == "written"
        assert int(row["pages"]) == len(pikepdf.open(pdf).pages)
        assert row["pdf_sha256"] == hashlib.sha256(pdf.read_bytes()).hexdigest()
        assert name in pdf_text(pdf) and "Grace Hopper" not in pdf_text(pdf)
    # One chunk of all six, then halves, down to the letter that crashes on its own.
    log = calls(tmp_path)
    assert log[0] == ["letters.docx"] and ["p3.docx"] in log
    assert len(log) < len(people) + 1 + 4  # halves, not every letter on its own
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_a_pdf_without_letter_marks_is_not_split(tmp_path: Path) -> None:
    docx = tmp_path / "one.docx"
    docx.write_bytes(render_letter(load_letter(EXAMPLES / "letter-en.yaml")).docx)
    (pdf,) = LibreOffice(timeout=300).convert([docx], tmp_path)  # no marks: a letter alone
    with pytest.raises(ConversionError, match="where each of its 2 letters starts"):
        split_letters(pdf, [docx, docx], tmp_path / "out")


def crashing_worker(folder: Path, crash_on: str) -> Path:
    """A Python for WarmLibreOffice's client (drafter/office_worker.py) that logs the file of
    each request and, for a file with ``crash_on`` in its text, kills its LibreOffice with a
    segmentation fault before asking it to convert."""
    from drafter.pdf import find_uno_python

    script = folder / "python"
    script.write_text(f"#!{find_uno_python()}\n" + textwrap.dedent(f"""\
        import importlib.util, json, os, signal, sys, zipfile
        path, pipe = sys.argv[1], sys.argv[2]
        spec = importlib.util.spec_from_file_location("office_worker", path)
        worker = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(worker)
        convert = worker._convert

        def planted(desktop, request):
            with open({str(folder / "calls.jsonl")!r}, "a") as log:
                print(json.dumps([os.path.basename(request["source"])]), file=log)
            with zipfile.ZipFile(request["source"]) as archive:
                texts = [archive.read(n) for n in archive.namelist()
                         if n in ("word/document.xml", "content.xml")]
            if any({crash_on.encode()!r} in text for text in texts):
                for pid in filter(str.isdigit, os.listdir("/proc")):
                    try:
                        with open(f"/proc/{{pid}}/cmdline", "rb") as f:
                            command = f.read()
                    except OSError:
                        continue
                    if b"soffice.bin" in command and pipe.encode() in command:
                        os.kill(int(pid), signal.SIGSEGV)
            return convert(desktop, request)

        worker._convert = planted
        sys.argv = [path, pipe]
        worker.main()
        """))
    script.chmod(0o755)
    return script


def test_a_kept_running_libreoffice_that_crashes_on_a_letter_costs_only_that_letter(
        tmp_path: Path) -> None:
    from drafter.pdf import WarmLibreOffice

    data = yaml.safe_load((EXAMPLES / "letter-en.yaml").read_text(encoding="utf-8"))
    people = ["Ada Lovelace", "Alan Turing", "PLANTED-CRASH Grace Hopper", "Edsger Dijkstra",
              "Barbara Liskov", "Donald Knuth"]
    sources = []
    for number, name in enumerate(people, start=1):
        data["recipient"]["name"] = name
        path = tmp_path / f"p{number}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        docx = tmp_path / f"p{number}.docx"
        docx.write_bytes(render_letter(load_letter(path)).docx)
        sources.append(docx)
    office = WarmLibreOffice(python=str(crashing_worker(tmp_path, "PLANTED-CRASH")),
                             timeout=120)
    results: dict[str, Converted] = {}
    out = tmp_path / "out"
    with ConversionPool(office, out, results.__setitem__, jobs=1, chunks=True) as pool:
        for docx in sources:
            pool.add(docx, docx.stem)

    failed = {name for name, result in results.items() if result.pdf is None}
    assert failed == {"p3"} and len(results) == 6
    assert "p3.docx" in str(results["p3"].error)
    assert "stopped" in str(results["p3"].error)
    for number, name in enumerate(people, start=1):
        if number != 3:
            pdf = results[f"p{number}"].pdf
            assert pdf is not None and name in normalized(pdf_text(pdf))
            assert "Grace Hopper" not in pdf_text(pdf)
    log = calls(tmp_path)  # one chunk of all six, then halves, down to the letter alone
    assert log[0] == ["letters.docx"] and ["p3.docx"] in log
    assert len(log) < len(people) + 1 + 4
