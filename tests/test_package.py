"""DOCX archives read safely and written fast (drafter.package)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pytest

from drafter import TemplateError
from drafter.package import (
    MAX_PART_BYTES,
    Member,
    precompress,
    read_docx,
    read_member,
    unpacking_problem,
    write_archive,
)


def _docx(tmp_path: Path) -> Path:
    document = docx.Document()
    document.add_paragraph("Dear {{ recipient.name }},")
    path = tmp_path / "letter.docx"
    document.save(str(path))
    return path


def test_an_archive_written_holds_the_members_as_given_in_order(tmp_path: Path) -> None:
    parts = read_docx(_docx(tmp_path))
    members = precompress(parts)
    changed = Member.deflate("word/document.xml", parts["word/document.xml"].replace(
        b"{{ recipient.name }}", b"Ms Li"))
    names = ["[Content_Types].xml", *(n for n in parts if n != "[Content_Types].xml")]
    data = write_archive([changed if n == "word/document.xml" else members[n] for n in names])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == names
        assert archive.read("word/styles.xml") == parts["word/styles.xml"]
    assert docx.Document(io.BytesIO(data)).paragraphs[0].text == "Dear Ms Li,"
    assert write_archive([members[n] for n in names]) == write_archive(
        [members[n] for n in names])  # reproducible: no timestamps


def test_a_zip_bomb_is_refused_before_anything_is_unpacked(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * (MAX_PART_BYTES + 1))
    with zipfile.ZipFile(path) as archive:
        assert unpacking_problem(archive) == (
            f"word/document.xml unpacks to {MAX_PART_BYTES + 1} bytes (limit: 50 MiB a member)")
    with pytest.raises(TemplateError) as caught:
        read_docx(path)
    assert str(caught.value.problems[0]).startswith(f"{path}: refused: word/document.xml")


def test_a_member_is_never_unpacked_beyond_the_size_it_declares(tmp_path: Path) -> None:
    path = tmp_path / "lying.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("part.xml", b"x" * 100_000)
    data = bytearray(path.read_bytes())
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = data.find(signature)
        data[start + size_at:start + size_at + 4] = (1000).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as archive:
        member = archive.getinfo("part.xml")
        assert member.file_size == 1000
        with pytest.raises(zipfile.BadZipFile):
            read_member(archive, member)


@pytest.mark.parametrize(("content", "message"), [
    (b"%PDF-1.7\n", "not a Word document (.docx): it is a PDF file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "not a Word document (.docx): it is an old .doc or "
     "a password-protected document; save it as .docx"),
    (b"PK\x03\x04 truncated", "not a Word document (.docx): the file is not a zip archive, or "
     "it is truncated")])
def test_what_is_no_docx_is_named(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "letter.docx"
    path.write_bytes(content)
    with pytest.raises(TemplateError) as caught:
        read_docx(path)
    assert [str(p) for p in caught.value.problems] == [f"{path}: {message}"]


def test_macros_are_refused(tmp_path: Path) -> None:
    path = _docx(tmp_path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("word/vbaProject.bin", b"macro")
    with pytest.raises(TemplateError) as caught:
        read_docx(path)
    assert "the document contains macros (vbaProject.bin)" in str(caught.value)
