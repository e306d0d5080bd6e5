"""Writing DOCX archives fast: a template's unchanged members are compressed once, not per letter.

A DOCX is a zip archive. For a merge of thousands of letters most members (styles, theme, fonts
table, settings) are the same in every letter, so they are deflated once when the template is
compiled and copied as raw bytes into each letter's archive; only the parts a letter changes are
compressed again. The archive written is an ordinary zip that Word, LibreOffice and python-docx
read.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
_CENTRAL_HEADER = struct.Struct("<IHHHHHHIIIHHHHHII")
_END_RECORD = struct.Struct("<IHHHHIIH")
_DOS_DATE = (1980 - 1980) << 9 | 1 << 5 | 1  # 1980-01-01: reproducible archives
_DEFLATED = 8
_VERSION = 20  # zip 2.0: deflate


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
