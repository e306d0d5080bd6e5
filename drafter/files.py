"""Files on disk: bounded reads of the files a user names, atomic writes, safe and unique file
names, temporaries and their cleanup.

Every file drafter reads because a user named it (data, recipients, templates, fields.yaml,
catalogs, images, annexes, mail templates, the studio's files) is opened with
:func:`open_regular` or read with :func:`read_bounded`: it must be a regular file (a device such
as ``/dev/zero``, a FIFO or a folder is refused before anything is read, and opening never
blocks), and no more than its limit is ever read.

Every file drafter writes goes through here or through a temporary folder made here: it is
written under a hidden temporary name (``.drafter-PID-XXXXXXXX.NAME.part``, or inside a
``.drafter-PURPOSE-PID-XXXXXXXX`` folder) and renamed when complete, so a crash never leaves a
half-written letter under its final name. Each temporary carries drafter's mark: that prefix
with the id of the process that made it and, in a folder, a :data:`MARKER` file. So
:func:`remove_leftovers` removes only what a drafter process that has ended left behind, never
a hidden file or folder of the user's (``.notes.part``, ``.drafter-settings``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import stat
import tempfile
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from .errors import DataError, Location, OutputError, Problem, ValidationError

TEMPORARY_PREFIX = ".drafter-"  # hidden temporary files and folders in an output folder
MARKER = ".drafter-temporary"  # in every temporary folder: it holds the id of its process
# A temporary's name: the prefix, its purpose (folders), the process id, a random part; a file
# then its final name and `.part`.
_TEMPORARY = re.compile(r"\.drafter-(?:[a-z]+-)?(\d+)-[0-9a-z_]+(\..+\.part)?", re.ASCII)
MAX_NAME_BYTES = 150
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def size_text(limit: int) -> str:
    """A limit in bytes as a person reads it: ``20 MiB``, ``128 KiB``, ``500 bytes``."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if limit >= 1 << shift and limit % (1 << shift) == 0:
            return f"{limit >> shift} {unit}"
    return f"{limit} bytes"


def open_regular(path: Path, limit: int, *, kind: type[ValidationError] = DataError,
                 field: str = "") -> BinaryIO:
    """A regular file a user named, open for reading, refusing what cannot be read safely.

    Refused, as ``kind`` naming the file (and ``field``, the field that named it): a missing or
    unreadable file, a folder, anything that is not a regular file (``/dev/zero``, a FIFO, a
    socket: a symbolic link to one is one), and a file larger than ``limit`` bytes. The file is
    opened without blocking (a FIFO with no writer would wait for ever) and checked on the open
    file itself, so it cannot be swapped between the check and the read.
    """
    def refused(message: str) -> ValidationError:
        return kind([Problem(Location(str(path)), field, message)])

    try:
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError as e:
        raise refused("no such file" if not os.path.islink(path) else
                      "a symbolic link to a file that does not exist") from e
    except NotADirectoryError as e:
        raise refused("no such file (a part of the path is a file, not a folder)") from e
    except OSError as e:
        raise refused(f"cannot read the file: {e.strerror or e}") from e
    try:
        status = os.fstat(handle)
        if stat.S_ISDIR(status.st_mode):
            raise refused("this is a folder, not a file")
        if not stat.S_ISREG(status.st_mode):
            raise refused("not a regular file (a device, a pipe or a socket); drafter reads "
                          "only files")
        if status.st_size > limit:
            raise refused(f"file is larger than {size_text(limit)}")
        os.set_blocking(handle, True)
        return os.fdopen(handle, "rb")
    except BaseException:
        os.close(handle)
        raise


def read_at_most(f: BinaryIO, limit: int) -> bytes:
    """At most ``limit`` bytes of an open file, read in steps (``f.read(limit)`` would set
    aside ``limit`` bytes of memory at once, however small the file)."""
    blocks: list[bytes] = []
    left = limit
    while left > 0 and (block := f.read(min(left, 1 << 20))):
        blocks.append(block)
        left -= len(block)
    return b"".join(blocks)


def read_bounded(path: Path, limit: int, *, kind: type[ValidationError] = DataError,
                 field: str = "") -> bytes:
    """The content of a regular file a user named, never more than ``limit`` bytes of it:
    what :func:`open_regular` refuses is refused, and so is a file that grew past the limit
    while it was read."""
    with open_regular(path, limit, kind=kind, field=field) as f:
        try:
            data = read_at_most(f, limit + 1)
        except OSError as e:
            raise kind([Problem(Location(str(path)), field,
                                f"cannot read the file: {e.strerror or e}")]) from e
    if len(data) > limit:
        raise kind([Problem(Location(str(path)), field,
                            f"file is larger than {size_text(limit)}")])
    return data


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write a file under a temporary name beside it, then rename: never half a file.

    ``durable`` also waits until the data is on disk (fsync), so that even a power cut leaves
    the old file or the new one. A merge skips that per letter: its manifest records every
    letter's SHA-256, and the next run redoes any letter that does not match. Raises
    :class:`OutputError` when the file cannot be written (a full disk, a read-only folder).
    A symbolic link at ``path`` is replaced, never written through.
    """
    temporary = path.with_name(f"{TEMPORARY_PREFIX}{os.getpid()}-{secrets.token_hex(4)}."
                               f"{path.name}.part")
    try:
        # Not mkstemp: its files are private (0600); letters get the permissions of the umask.
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(handle, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        if isinstance(e, OSError):
            raise OutputError(f"{path}: cannot write: {e.strerror or e}") from e
        raise


def temporary_folder(parent: Path, purpose: str = "") -> tempfile.TemporaryDirectory[str]:
    """A hidden folder in ``parent`` (``.drafter-PURPOSE-PID-…``, or ``.drafter-PID-…``) with
    drafter's :data:`MARKER` in it, removed with everything in it when its ``with`` block ends;
    :func:`remove_leftovers` removes one that a killed run left."""
    prefix = f"{TEMPORARY_PREFIX}{purpose}-" if purpose else TEMPORARY_PREFIX
    folder = tempfile.TemporaryDirectory(prefix=f"{prefix}{os.getpid()}-", dir=parent,
                                         ignore_cleanup_errors=True)
    try:
        (Path(folder.name) / MARKER).write_text(str(os.getpid()), encoding="ascii")
    except BaseException:
        folder.cleanup()
        raise
    return folder


def remove_leftovers(outdir: Path) -> list[Path]:
    """Remove what interrupted runs left in an output folder, and return it: temporary files
    and folders bearing drafter's mark whose process has ended; never letters, nor a hidden
    file or folder drafter did not make, nor one of a drafter that is still running. A
    symbolic link among them is removed, never followed."""
    removed = []
    with os.scandir(outdir) as entries:
        for entry in entries:
            found = _TEMPORARY.fullmatch(entry.name)
            if found is None or _running(int(found.group(1))):
                continue
            path = Path(entry.path)
            if entry.is_symlink():
                path.unlink()  # only the link: what it points to is not drafter's
            elif found.group(2) and entry.is_file(follow_symlinks=False):
                path.unlink(missing_ok=True)
            elif not found.group(2) and entry.is_dir(follow_symlinks=False) and (
                    path / MARKER).is_file() and not (path / MARKER).is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                continue
            removed.append(path)
    return removed


def _running(pid: int) -> bool:
    """Whether process ``pid`` is this one or still runs (a temporary it uses stays)."""
    if pid == os.getpid():
        return True
    if not 0 < pid < 1 << 31:  # os.kill(0, …) would signal this process's group
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def safe_name(text: str) -> str:
    """A file name made from data: no folders, no control characters, no reserved names,
    bounded length; letters of any script are kept."""
    name = unicodedata.normalize("NFC", text)
    name = _UNSAFE.sub("-", name)
    name = re.sub(r"\s+", " ", name).strip(" .-")
    name = name.replace("..", ".")
    if _RESERVED.match(name):
        name = f"_{name}"
    encoded = name.encode("utf-8")[:MAX_NAME_BYTES]
    name = encoded.decode("utf-8", errors="ignore").rstrip(" .-")
    return name or "letter"


def slug(text: object) -> str:
    """A name as a file name made of words and hyphens: ``Cui Tiankai`` → ``cui-tiankai``,
    ``Ban Ki-moon (UN)`` → ``ban-ki-moon-un``; letters of every script are kept (``习近平``).
    The merge's name patterns have it as a filter (``{{ name | slug }}``)."""
    name = unicodedata.normalize("NFKC", str(text)).casefold()
    return re.sub(r"[^\w]+|_+", "-", name).strip("-")


class UniqueNames:
    """Hands out unique file names: a second "Wang Yi" becomes "Wang Yi-2".

    Names differing only in case count as the same, as on the file systems of Windows and
    macOS. ``reserved`` names are never handed out (``combined`` becomes ``combined-2``).
    """

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        # Digests, not the names: 100,000 recipients must not cost 100,000 strings of memory.
        self.taken: set[bytes] = {self._key(name) for name in reserved}

    def unique(self, name: str) -> str:
        """``name``, or ``name-2``, ``name-3``… when it was handed out before."""
        candidate, n = name, 1
        while self._key(candidate) in self.taken:
            n += 1
            candidate = f"{name}-{n}"
        self.taken.add(self._key(candidate))
        return candidate

    @staticmethod
    def _key(name: str) -> bytes:
        return hashlib.blake2b(name.casefold().encode("utf-8"), digest_size=12).digest()
