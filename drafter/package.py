"""DOCX archives read safely and written fast.

Reading: :func:`read_docx` refuses what is no plain Word document (another format, macros, a
damaged archive) and zip bombs, checked against the sizes an archive declares before anything is
unpacked (:func:`unpacking_problem`); members are never unpacked beyond their declared size
(:func:`read_member`). XLSX sheets are checked the same way.

Writing: a template's unchanged members are compressed once, not per letter.

A DOCX is a zip archive. For a merge of thousands of letters most members (styles, theme, fonts
table, settings) are the same in every letter, so they are deflated once when the template is
compiled and copied as raw bytes into each letter's archive; only the parts a letter changes are
compressed again. The archive written is an ordinary zip that Word, LibreOffice and python-docx
read. Archives drafter reads (templates, spreadsheets) are checked against zip bombs first.
"""

from __future__ import annotations

import posixpath
import struct
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from .errors import Location, Problem, TemplateError

_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
_CENTRAL_HEADER = struct.Struct("<IHHHHHHIIIHHHHHII")
_END_RECORD = struct.Struct("<IHHHHIIH")
_DOS_DATE = (1980 - 1980) << 9 | 1 << 5 | 1  # 1980-01-01: reproducible archives
_DEFLATED = 8
_VERSION = 20  # zip 2.0: deflate

# What drafter unpacks from a DOCX template or an XLSX sheet, at most: more is a zip bomb.
MAX_PART_BYTES = 50 * 1024 * 1024  # one member (XML part, image), uncompressed
MAX_TOTAL_BYTES = 200 * 1024 * 1024  # the whole archive, uncompressed
MAX_RATIO = 200  # uncompressed/compressed of a member over 1 MB: zip bombs go far beyond


@dataclass(frozen=True)
class Member:
    """One archive member, already deflated."""

    name: bytes
    data: bytes  # deflated
    crc: int
    size: int  # uncompressed

    @classmethod
    def deflate(cls, name: str, content: bytes, level: int = 6) -> Member:
        """A member made from uncompressed content."""
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        data = compressor.compress(content) + compressor.flush()
        return cls(name.encode("utf-8"), data, zlib.crc32(content), len(content))


def write_archive(members: list[Member]) -> bytes:
    """The bytes of a zip archive holding ``members`` in order."""
    body = bytearray()
    directory = bytearray()
    for member in members:
        offset = len(body)
        flags = 0x800  # names are UTF-8
        body += _LOCAL_HEADER.pack(0x04034B50, _VERSION, flags, _DEFLATED, 0, _DOS_DATE,
                                   member.crc, len(member.data), member.size, len(member.name), 0)
        body += member.name
        body += member.data
        directory += _CENTRAL_HEADER.pack(0x02014B50, _VERSION, _VERSION, flags, _DEFLATED, 0,
                                          _DOS_DATE, member.crc, len(member.data), member.size,
                                          len(member.name), 0, 0, 0, 0, 0, offset)
        directory += member.name
    end = _END_RECORD.pack(0x06054B50, 0, 0, len(members), len(members), len(directory),
                           len(body), 0)
    return bytes(body + directory + end)


def precompress(parts: Mapping[str, bytes], level: int = 6) -> dict[str, Member]:
    """Every part deflated once, by name."""
    return {name: Member.deflate(name, content, level) for name, content in parts.items()}


def unpacking_problem(archive: zipfile.ZipFile) -> str | None:
    """Why an archive is refused before anything is unpacked (a zip bomb), or ``None``.

    The sizes are those the archive declares: read members with :func:`read_member` (or check
    them with :func:`verify_members`), which never unpack more than that.
    """
    total = 0
    for member in archive.infolist():
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > MAX_PART_BYTES:
            return (f"{member.filename} unpacks to {member.file_size} bytes "
                    f"(limit: {MAX_PART_BYTES >> 20} MiB a member)")
        if total > MAX_TOTAL_BYTES:
            return f"the archive unpacks to more than {MAX_TOTAL_BYTES >> 20} MiB"
        if member.file_size > 1_000_000 and ratio > MAX_RATIO:
            return (f"{member.filename} unpacks to {member.file_size} bytes from "
                    f"{member.compress_size} ({ratio:.0f} times; at most {MAX_RATIO} times for "
                    "a member over 1 MB)")
    return None


# What reading a damaged archive raises: a failed CRC, a broken deflate stream, encryption, an
# unknown compression method.
DAMAGED = (zipfile.BadZipFile, EOFError, OSError, zlib.error, RuntimeError, NotImplementedError)


def read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    """A member's content, never more than the size it declares.

    ``archive.read`` would inflate all of a member's compressed data before cutting it to the
    declared size: a member that declares 1,000 bytes and holds gigabytes of zeros would fill
    the memory. Read in bounded steps, it fails its CRC check instead (one of :data:`DAMAGED`).
    """
    with archive.open(member) as f:
        return f.read(member.file_size)


def verify_members(archive: zipfile.ZipFile) -> str | None:
    """What is wrong with the content of an archive's members (a failed CRC check: damage, or a
    member lying about its size), or ``None``; reads each in bounded steps and keeps nothing."""
    for member in archive.infolist():
        try:
            with archive.open(member) as f:
                while f.read(1 << 20):
                    pass
        except DAMAGED as e:
            return f"the archive is damaged: {e}"
    return None


def read_docx(path: Path) -> dict[str, bytes]:
    """The members of a DOCX archive, refusing files that are not safe Word documents."""
    where = Location(str(path))
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise TemplateError([Problem(where, "", "not a Word document (.docx): "
                                     + _what_it_is(path))]) from e
    with archive:
        members = archive.infolist()
        names = {m.filename for m in members}
        if "word/document.xml" not in names or "[Content_Types].xml" not in names:
            raise TemplateError([Problem(where, "", "not a Word document (.docx): "
                                         "word/document.xml is missing")])
        if any(name.lower().endswith("vbaproject.bin") for name in names):
            raise TemplateError([Problem(where, "", "the document contains macros "
                                         "(vbaProject.bin); save it as a plain .docx")])
        bomb = unpacking_problem(archive)
        if bomb:
            raise TemplateError([Problem(where, "", f"refused: {bomb}")])
        try:
            return {m.filename: read_member(archive, m) for m in members}
        except DAMAGED as e:
            raise TemplateError([Problem(where, "", f"the archive is damaged: {e}")]) from e


_RELATIONSHIPS = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def package_problems(members: Mapping[str, bytes]) -> Iterator[str]:
    """What makes a DOCX package damaged, as Word would find it: a part that is not
    well-formed XML, a relationship id a part uses that its relationships do not hold, an
    internal relationship whose target part (a picture, a header) is missing."""
    trees: dict[str, etree._Element] = {}
    for name, data in members.items():
        if name.endswith((".xml", ".rels")):
            try:
                trees[name] = etree.fromstring(data)
            except etree.XMLSyntaxError as e:
                yield f"{name} is not well-formed XML ({e})"
    for name, tree in trees.items():
        folder, base = posixpath.split(name)
        if name.endswith(".rels"):
            owner = posixpath.dirname(folder)  # word/_rels/x.xml.rels: targets from word/
            for rel in tree.iter(_RELATIONSHIPS):
                target = rel.get("Target", "")
                if rel.get("TargetMode") == "External" or not target:
                    continue
                path = (target.lstrip("/") if target.startswith("/")
                        else posixpath.normpath(posixpath.join(owner, target)))
                if path not in members:
                    yield (f"{posixpath.join(owner, base.removesuffix('.rels'))} refers to "
                           f"{path} (relationship {rel.get('Id')}), which is missing")
            continue
        used = {str(v) for v in tree.xpath("//@*[namespace-uri()=$ns]", ns=_R)}
        if not used:
            continue
        rels_name = posixpath.join(folder, "_rels", f"{base}.rels")
        rels = trees.get(rels_name)
        held = {rel.get("Id", "") for rel in rels.iter(_RELATIONSHIPS)} if rels is not None \
            else set()
        for rel_id in sorted(used - held):
            yield f"{name} uses relationship {rel_id}, which {rels_name} does not hold"


def _what_it_is(path: Path) -> str:
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as e:
        return f"cannot read it: {e.strerror}"
    if head.startswith(b"%PDF"):
        return "it is a PDF file"
    if head.startswith(b"\xd0\xcf\x11\xe0"):  # OLE2: Word 97-2003, or an encrypted DOCX
        return "it is an old .doc or a password-protected document; save it as .docx"
    return "the file is not a zip archive, or it is truncated"
