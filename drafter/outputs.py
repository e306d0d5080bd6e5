"""An output folder: the names drafter writes in it, and one writer in it at a time.

A merge's folder holds its letters (``NAME.docx``, ``NAME.pdf``) beside drafter's own files:
``manifest.csv``, ``merge.json``, ``combined.pdf`` and ``combined.docx``, ``post-or-fax.pdf``
and the ``mail/`` folder (drafts, ``send-log.jsonl``, ``.send.lock``), and while a run goes on
its hidden temporaries (:mod:`drafter.files`). Every one of those names is here, once, so that
no letter is ever given one of them (:func:`reserved_letter_names`), on any file system: names
are compared case-insensitively, as macOS and Windows do.

:func:`only_writer` makes each command that writes into a folder (``merge``, ``mail``,
``send``, ``render``) its only writer while it runs: it holds an exclusive ``flock`` on the
folder itself (no lock file is left behind), and a second command refuses at once with the
folder and the other process, or waits for it with ``wait``. The kernel releases the lock
when its holder ends, however it ends (even SIGKILL), so a lock is never stale.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import OutputError

MANIFEST = "manifest.csv"
SOURCES = "merge.json"  # what the merge was made from: case, recipients, template, options
COMBINED_PDF = "combined.pdf"
COMBINED_DOCX = "combined.docx"
POST_PDF = "post-or-fax.pdf"  # the letters without an email address, for the post
MAIL_DIR = "mail"  # the email drafts, and the send log and lock
SEND_LOG = "send-log.jsonl"  # in MAIL_DIR
SEND_LOCK = ".send.lock"  # in MAIL_DIR
# Everything drafter writes at the top of an output folder besides the letters themselves.
OWN_NAMES = (MANIFEST, SOURCES, COMBINED_PDF, COMBINED_DOCX, POST_PDF, MAIL_DIR)


def reserved_letter_names() -> frozenset[str]:
    """The names a letter may not have, case-folded: the stems of drafter's own files
    (``combined``, ``manifest``, ``mail``…), whatever the letter's formats, so that a letter's
    file never replaces one of them (a letter named so becomes ``combined-2``)."""
    return frozenset(name.split(".")[0].casefold() for name in OWN_NAMES)


def is_own_file(name: str) -> bool:
    """Whether a file name at the top of an output folder is one of drafter's own files."""
    return name.casefold() in {own.casefold() for own in OWN_NAMES}


@contextlib.contextmanager
def only_writer(outdir: Path, *, wait: bool | None = False,
                on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Be the only drafter writing into ``outdir`` while the block runs.

    Raises :class:`OutputError` naming the folder and the process that writes into it, or,
    with ``wait``, waits until it is done (telling ``on_wait`` what it waits for); ``wait``
    None: the command offers no ``--wait``, and the message does not suggest it. Threads of
    one process exclude each other too. A folder that does not exist has no writer to wait
    for: the block runs (and creates it, or fails on its own).
    """
    if not outdir.is_dir():
        yield
        return
    try:
        handle = os.open(outdir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as e:
        raise OutputError(f"{outdir}: cannot open the output folder: {e.strerror}") from e
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            who = holder(outdir)
            if not wait:
                offer = "" if wait is None else " (or give --wait to wait for it)"
                raise OutputError(
                    f"{outdir}: {who} is writing into this folder now; wait until it is done"
                    f"{offer}, or write into another folder") from None
            if on_wait is not None:
                on_wait(f"{outdir}: waiting for {who} to finish writing into this folder")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing releases the lock


def holder(outdir: Path) -> str:
    """Who holds the lock on ``outdir``, as a message says it: ``drafter (pid 4242: drafter
    merge case.yaml …)``, from Linux's ``/proc/locks``; elsewhere ``another drafter``."""
    try:
        status = outdir.stat()
        device = f"{os.major(status.st_dev):02x}:{os.minor(status.st_dev):02x}:{status.st_ino}"
        with open("/proc/locks", encoding="ascii", errors="replace") as locks:
            for line in locks:
                fields = line.split()
                # 1: FLOCK  ADVISORY  WRITE 4242 08:01:123456 0 EOF
                if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == device:
                    pid = int(fields[4])
                    return f"another drafter (pid {pid}: {_command_of(pid)})"
    except (OSError, ValueError):
        pass
    return "another drafter"


def _command_of(pid: int) -> str:
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "ended"
    text = [w.decode(errors="replace") for w in words if w]
    # `python -m drafter …`, `.venv/bin/drafter …`: from the command's own name on.
    for index, word in enumerate(text):
        if Path(word).name == "drafter" or word == "drafter.cli":
            text = ["drafter", *text[index + 1:]]
            break
    command = " ".join(text)
    return command if len(command) <= 120 else f"{command[:117]}…"


__all__ = ["MANIFEST", "OWN_NAMES", "SOURCES", "holder", "is_own_file", "only_writer",
           "reserved_letter_names"]
