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

import io
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from .errors import Location, Problem, TemplateError
from .files import open_regular, read_at_most

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


def load_docx(path: Path) -> tuple[bytes, dict[str, bytes]]:
    """The bytes of a DOCX file and its members, refusing files that are not safe Word
    documents: not a regular file or too large (:func:`drafter.files.open_regular`), no
    DOCX, macros, a zip bomb, a damaged archive, or anything that reaches outside the document
    (:func:`outside_references`)."""
    where = Location(str(path))
    with open_regular(path, MAX_TOTAL_BYTES, kind=TemplateError) as f:
        try:
            raw = read_at_most(f, MAX_TOTAL_BYTES + 1)
        except OSError as e:
            raise TemplateError([Problem(where, "", f"cannot read the file: {e.strerror}")]) \
                from e
    if len(raw) > MAX_TOTAL_BYTES:
        raise TemplateError([Problem(where, "", f"refused: the file is larger than "
                                     f"{MAX_TOTAL_BYTES >> 20} MiB")])
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, OSError) as e:
        raise TemplateError([Problem(where, "", "not a Word document (.docx): "
                                     + _what_it_is(raw[:8]))]) from e
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
            parts = {m.filename: read_member(archive, m) for m in members}
        except DAMAGED as e:
            raise TemplateError([Problem(where, "", f"the archive is damaged: {e}")]) from e
    reaching = [Problem(Location(str(path), part=part), "", message)
                for part, message in outside_references(parts)]
    if reaching:
        raise TemplateError(reaching)
    return raw, parts


def read_docx(path: Path) -> dict[str, bytes]:
    """The members of a DOCX archive, refusing files that are not safe Word documents
    (:func:`load_docx`)."""
    return load_docx(path)[1]


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
        # A name test, not a namespace-uri() predicate: the same attributes, 4x quicker on
        # the large styles parts
        used = {str(v) for v in tree.xpath("//@r:*", namespaces={"r": _R})}
        if not used:
            continue
        rels_name = posixpath.join(folder, "_rels", f"{base}.rels")
        rels = trees.get(rels_name)
        held = {rel.get("Id", "") for rel in rels.iter(_RELATIONSHIPS)} if rels is not None \
            else set()
        for rel_id in sorted(used - held):
            yield f"{name} uses relationship {rel_id}, which {rels_name} does not hold"


_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_VML = ("urn:schemas-microsoft-com:vml", "urn:schemas-microsoft-com:office:office")
# A URL with a scheme (http:, file:, smb:, vnd.sun.star.…:) or a host (//host/…); a Windows path.
_ABSOLUTE = re.compile(r"^\s*([a-z][a-z0-9+.-]*:|[/\\]{2}|[a-z]:[/\\])", re.IGNORECASE)
_WEB_LINK = re.compile(r"^(https?://[^/\s]|mailto:\S)", re.IGNORECASE)
# Field codes whose result Word and LibreOffice load from elsewhere (a file, a URL, a program).
_LOADING_FIELDS = frozenset({"INCLUDEPICTURE", "INCLUDETEXT", "INCLUDE", "LINK", "IMPORT",
                             "DDE", "DDEAUTO", "RD"})
# What an external relationship of each type is, in an editor's words.
_RELATIONSHIP_KINDS = {"image": "a picture", "oleObject": "a linked object",
                       "package": "a linked file", "attachedTemplate": "an attached template",
                       "subDocument": "a subdocument", "frame": "a frame",
                       "header": "a header", "footer": "a footer", "aFChunk": "a document",
                       "video": "a video", "audio": "a sound", "media": "a media file",
                       "font": "a font", "externalLinkPath": "a linked file",
                       "mailMergeSource": "a mail merge data source",
                       "mailMergeHeaderSource": "a mail merge data source"}
_EMBED = "insert it into the document itself (not as a link), or remove it"


def outside_references(members: Mapping[str, bytes]) -> Iterator[tuple[str, str]]:
    """Everything in a DOCX package that Word or LibreOffice would load from outside it, as
    (part, what refers out): external relationships (a linked picture, a linked object, an
    attached template, a subdocument, a frame, a chart's external data…), linked OLE objects,
    VML pictures by URL, field codes that load (INCLUDEPICTURE, INCLUDETEXT, LINK, DDE…),
    embedded foreign documents (``altChunk``), and SVG pictures that refer to other files.

    External hyperlinks are clickable links, not loads: they are fine when they go to an
    ``http(s)://`` or ``mailto:`` address; a link to a relative or local path (``report.pdf``,
    ``file:///…``) would point into the sender's folders from the PDF, and is refused too.
    """
    for name, data in members.items():
        lowered = name.lower()
        if lowered.endswith(".rels"):
            yield from _outside_relationships(name, data)
        elif lowered.endswith(".svg"):
            if re.search(rb"""(?:href\s*=\s*["']\s*(?!#|data:)[^"'\s]|url\(\s*['"]?\s*"""
                         rb"""(?!#|data:)[^)'"\s]|@import)""", data, re.IGNORECASE):
                yield name, ("an SVG picture that refers to other files, which LibreOffice "
                             f"would load; {_EMBED}")
        elif lowered.endswith(".xml"):
            yield from _outside_in_xml(name, data)


def _outside_relationships(name: str, data: bytes) -> Iterator[tuple[str, str]]:
    try:
        tree = etree.fromstring(data)
    except etree.XMLSyntaxError:
        return  # package_problems says it is damaged
    folder, base = posixpath.split(name)
    owner = posixpath.join(posixpath.dirname(folder), base.removesuffix(".rels"))
    for rel in tree.iter(_RELATIONSHIPS):
        target = rel.get("Target", "")
        kind = rel.get("Type", "").rsplit("/", 1)[-1]
        external = rel.get("TargetMode") == "External" or bool(_ABSOLUTE.match(target))
        if not external:
            continue
        shown = target if len(target) <= 80 else f"{target[:77]}…"
        if kind == "hyperlink":
            if not _WEB_LINK.match(target):
                yield owner, (f"a link to {shown!r}, a local file or no web address: in the "
                              "PDF it would point into the sender's folders; link to an "
                              "http(s):// or mailto: address, or remove the link")
            continue
        what = _RELATIONSHIP_KINDS.get(kind, f"a {kind or 'file'}")
        yield owner, (f"{what} outside the document ({shown}), which Word and LibreOffice "
                      f"would load (relationship {rel.get('Id')}); {_EMBED}")


def _outside_in_xml(name: str, data: bytes) -> Iterator[tuple[str, str]]:
    if not any(marker in data for marker in (b"instrText", b"fldSimple", b"altChunk",
                                             b"OLEObject", b"href", b"src=")):
        return  # the usual part: nothing that could load, no parsing needed
    try:
        tree = etree.fromstring(data)
    except etree.XMLSyntaxError:
        return  # package_problems says it is damaged
    for instruction in _field_instructions(tree):
        words = instruction.split()
        first = words[0].upper() if words else ""
        if first in _LOADING_FIELDS:
            shown = instruction.strip()
            shown = shown if len(shown) <= 80 else f"{shown[:77]}…"
            yield name, (f"a field that loads from outside the document ({shown!r}); "
                         f"{_EMBED}")
        elif "{" in first:
            yield name, (f"a field whose kind is made by a tag ({instruction.strip()[:80]!r}); "
                         "write the field's name (such as PAGE) in the field itself")
    if any(True for _ in tree.iter(f"{{{_W}}}altChunk")):
        yield name, ("an embedded foreign document (altChunk), which may load other files; "
                     "paste its content into the document instead")
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag.endswith("}OLEObject") and element.get("Type") == "Link":
            yield name, (f"a linked object ({element.get('ProgID') or 'OLE'}), which Word and "
                         f"LibreOffice would load from its file; {_EMBED}")
        if element.tag.startswith(tuple(f"{{{ns}}}" for ns in _VML)):
            for attribute, value in element.attrib.items():
                local = str(attribute).rsplit("}", 1)[-1]
                if local in ("href", "src", "althref") and value.strip():
                    yield name, (f"a picture by address ({value[:80]}), which Word and "
                                 f"LibreOffice would load; {_EMBED}")


def _field_instructions(tree: etree._Element) -> Iterator[str]:
    """The instruction of every field in a part: simple fields, and complex ones whose
    instruction Word splits over runs (``w:fldChar`` begin, ``w:instrText``…, separate)."""
    for simple in tree.iter(f"{{{_W}}}fldSimple"):
        yield simple.get(f"{{{_W}}}instr", "")
    stack: list[list[str] | None] = []  # None: past the field's separator, in its result
    for element in tree.iter(f"{{{_W}}}fldChar", f"{{{_W}}}instrText"):
        if element.tag == f"{{{_W}}}instrText":
            if not stack:
                yield element.text or ""  # an instruction outside any field: read on its own
            elif (words := stack[-1]) is not None:
                words.append(element.text or "")
            continue
        kind = element.get(f"{{{_W}}}fldCharType")
        if kind == "begin":
            stack.append([])
        elif kind in ("separate", "end") and stack:
            words = stack.pop()
            if words is not None:
                yield "".join(words)
            if kind == "separate":
                stack.append(None)


def _what_it_is(head: bytes) -> str:
    if head.startswith(b"%PDF"):
        return "it is a PDF file"
    if head.startswith(b"\xd0\xcf\x11\xe0"):  # OLE2: Word 97-2003, or an encrypted DOCX
        return "it is an old .doc or a password-protected document; save it as .docx"
    return "the file is not a zip archive, or it is truncated"
