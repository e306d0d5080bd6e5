"""Fault injection: `drafter merge`, its LibreOffice and `drafter send` killed at random points.

A merge of DOCX and PDF letters and one of PDFs only, each with two LibreOffice processes
(``-j 2``), and a send to a real SMTP server on loopback (tests/smtp_server.py) are stopped
with SIGKILL and SIGTERM at seeded random moments, then run again to the end.

The guarantees checked (docs/errors.md, "Interrupted runs"):

1. Every visible file in the output folder is complete: a DOCX python-docx opens, a PDF whose
   every page pypdf reads, or the manifest. Whatever is killed, whenever.
2. The manifest is a complete CSV, replaced in one step: after SIGTERM (or Ctrl-C) it is that
   run's; after SIGKILL it is the one before, or there is none.
3. A manifest row marked ``written`` or ``skipped`` names files that exist with that SHA-256.
4. After SIGTERM, every letter file the run wrote is named in its manifest.
5. Only hidden temporaries (``.drafter-*``, ``.*.part``) are left behind; the next run removes
   them.
6. A run after the kills completes: every letter written or skipped, the manifest lists all.
7. No LibreOffice process of a trial outlives it: after SIGKILL of drafter its LibreOffice
   processes die with it (they are first stopped with SIGSTOP, so that none can finish its
   batch and end on its own). Found by the trial's own profile folder, never by name.
8. A send stopped at any moment and resumed sends every message once (or reports it
   uncertain), and leaves the manifest complete and in agreement with the letters on disk.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader

from drafter import ConversionError, load_letter, render_letter
from drafter.pdf import LibreOffice

from .conftest import EXAMPLES, LINKED_CASE

LETTERS = 22  # three batches (of 10, 10 and 2 letters), two at a time (-j 2)
SEED = int(os.environ.get("FAULT_SEED", "20151124"))  # another seed, other kill points
CASE = LINKED_CASE

pytestmark = pytest.mark.libreoffice


def _letter_names(formats: tuple[str, ...] = ("docx", "pdf")) -> set[str]:
    return {f"r{i:02d}.{fmt}" for i in range(LETTERS) for fmt in formats}


def _office_processes(marker: str) -> list[int]:
    """The LibreOffice processes whose command line holds ``marker`` (the run's folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in command and b"office" in command:
            found.append(int(entry.name))
    return found


def _kill_office(marker: str, wait: float = 0) -> int:
    """SIGKILL every LibreOffice process of the run; how many there were. ``wait``: seconds to
    wait for one to be running (between two batches there is none)."""
    deadline = time.monotonic() + wait
    pids = _office_processes(marker)
    while not pids and time.monotonic() < deadline:
        time.sleep(0.02)
        pids = _office_processes(marker)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(pids)


def _read_manifest(outdir: Path) -> list[dict[str, str]] | None:
    path = outdir / "manifest.csv"
    if not path.exists():
        return None
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and all(set(row) == set(rows[0]) and None not in row.values() for row in rows)
    return rows


def _check_folder(outdir: Path, formats: tuple[str, ...] = ("docx", "pdf")
                  ) -> dict[str, tuple[int, int]]:
    """Guarantees 1 to 3; returns every visible file's identity (inode, mtime)."""
    seen = {}
    for path in outdir.iterdir():
        if path.name.startswith("."):
            assert path.name.startswith(".drafter-") or path.name.endswith(".part"), path
            continue
        seen[path.name] = (path.stat().st_ino, path.stat().st_mtime_ns)
        if path.name in ("manifest.csv", "merge.json"):  # merge.json: what it was made from
            continue
        assert path.name in _letter_names(formats), path
        if path.suffix == ".docx":
            assert docx.Document(str(path)).paragraphs, path
        else:
            reader = PdfReader(path)
            assert len(reader.pages) >= 1
            assert all(isinstance(page.extract_text(), str) for page in reader.pages), path
    rows = _read_manifest(outdir) or []
    for row in rows:
        if row["status"] in ("written", "skipped"):
            for fmt in formats:
                file = outdir / row[fmt]
                digest = hashlib.sha256(file.read_bytes()).hexdigest()
                assert digest == row[f"{fmt}_sha256"], (row["id"], fmt)
    return seen


def _wait_for_pdfs(outdir: Path, before: dict[str, tuple[int, int]], count: int,
                   run: subprocess.Popen[str], timeout: float = 40) -> int:
    """Wait until the run has written ``count`` PDFs (or ended); returns how many it wrote.

    Kill points are chosen by progress, not by time, so that they fall in the same phase of
    the merge on a fast machine and on a slow one.
    """
    deadline = time.monotonic() + timeout
    written = 0
    while time.monotonic() < deadline and run.poll() is None:
        written = 0
        for path in outdir.glob("*.pdf") if outdir.exists() else []:
            try:
                identity = (path.stat().st_ino, path.stat().st_mtime_ns)
            except FileNotFoundError:
                continue
            written += before.get(path.name) != identity
        if written >= count:
            break
        time.sleep(0.02)
    return written


def _named_in(rows: list[dict[str, str]]) -> set[str]:
    return {row[fmt] for row in rows for fmt in ("docx", "pdf") if row[fmt]}


def _stop_office(marker: str, wait: float = 10) -> int:
    """SIGSTOP the LibreOffice processes of a trial (``marker``: its profile folder), not their
    watchdog; how many. ``wait``: seconds to wait for one (between batches there is none)."""
    deadline = time.monotonic() + wait
    while True:
        pids = [pid for pid in _processes(marker) if b"office_watchdog" not in _command(pid)
                and b"office" in _command(pid)]
        if pids or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP)
    return len(pids)


def _command(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.fixture
def merge_run(tmp_path: Path):
    """Start `drafter merge` of 22 letters into a folder of a unique name, with two LibreOffice
    processes and profiles of the test's own (their folder is the third value)."""
    (tmp_path / "case.yaml").write_text(CASE, encoding="utf-8")
    rows = ["id,name,address.country",
            *(f"r{i:02d},Person {i},{('US', 'GB', 'FR')[i % 3]}" for i in range(LETTERS))]
    (tmp_path / "recipients.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    outdir = tmp_path / f"out-{uuid.uuid4().hex}"
    # LibreOffice profiles of this test's own, so that killing LibreOffice spoils nobody's.
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    started: list[subprocess.Popen[str]] = []

    def start(*options: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-c", "from drafter.cli import main; main()", "merge",
                   str(tmp_path / "case.yaml"), str(tmp_path / "recipients.csv"),
                   "-o", str(outdir), "-j", "2", *options]
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        started.append(process)
        return process

    yield outdir, start, str(tmp_path / "cache")
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()
    _kill_office(str(tmp_path / "cache"))


def test_killed_runs_leave_only_complete_files_and_a_rerun_finishes(merge_run) -> None:
    outdir, start, profiles = merge_run
    rng = random.Random(SEED)

    # 1. SIGKILL drafter while it converts; its LibreOffice processes, stopped first so that
    #    none can finish its batch, must die with it (guarantee 7).
    run = start()
    _wait_for_pdfs(outdir, {}, rng.randint(1, 10), run)  # a batch or two still to go
    _stop_office(profiles)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=60)
    assert run.returncode == -signal.SIGKILL
    assert _gone(profiles) == []
    _check_folder(outdir)
    assert _read_manifest(outdir) is None  # the run never got to write one

    # 2. LibreOffice killed under a run, then the run stopped with SIGTERM.
    before = _check_folder(outdir)
    run = start()
    first = rng.randint(1, 5)
    _wait_for_pdfs(outdir, before, first, run)
    killed_office = _kill_office(profiles, wait=10)  # LibreOffice runs in those profiles
    _wait_for_pdfs(outdir, before, first + rng.randint(1, 4), run)
    run.send_signal(signal.SIGTERM)
    _, stderr = run.communicate(timeout=300)  # a hang guard
    assert _gone(profiles) == []
    assert run.returncode in (130, 0), stderr  # 0: it finished before the signal came
    if run.returncode == 130:
        assert "interrupted: only complete files were kept" in stderr
    after = _check_folder(outdir)
    rows = _read_manifest(outdir)
    assert rows is not None  # guarantee 2: this run's manifest
    written_now = {name for name, identity in after.items()
                   if before.get(name) != identity and name not in ("manifest.csv",
                                                                     "merge.json")}
    assert written_now <= _named_in(rows)  # guarantee 4
    assert {row["status"] for row in rows} <= {"written", "skipped", "interrupted", "failed"}

    # 3. A run to the end completes the rest and cleans up what the kills left.
    run = start()
    stdout, stderr = run.communicate(timeout=300)  # a hang guard
    assert run.returncode == 0, stderr
    assert _gone(profiles) == []
    final = _check_folder(outdir)
    rows = _read_manifest(outdir)
    assert rows is not None and len(rows) == LETTERS
    assert {row["status"] for row in rows} <= {"written", "skipped"}
    assert set(final) == _letter_names() | {"manifest.csv", "merge.json"}
    assert [p.name for p in outdir.iterdir() if p.name.startswith(".")] == []
    assert f"of {LETTERS}" in stdout
    assert killed_office >= 1


def test_a_pdf_only_merge_killed_then_resumed(merge_run) -> None:
    outdir, start, profiles = merge_run
    rng = random.Random(SEED + 1)
    pdf_only = ("pdf",)
    run = start("-f", "pdf")  # SIGKILL mid-conversion, then a resume
    _wait_for_pdfs(outdir, {}, rng.randint(1, 10), run)
    _stop_office(profiles)
    run.send_signal(signal.SIGKILL)
    run.communicate(timeout=300)  # a hang guard
    assert _gone(profiles) == []
    _check_folder(outdir, pdf_only)
    run = start("-f", "pdf")
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stderr
    assert _gone(profiles) == []
    final = _check_folder(outdir, pdf_only)
    assert set(final) == _letter_names(pdf_only) | {"manifest.csv", "merge.json"}
    rows = _read_manifest(outdir)
    assert rows is not None and [row["docx"] for row in rows] == [""] * LETTERS
    assert [p.name for p in outdir.iterdir() if p.name.startswith(".")] == []


# ---- drafter send, killed ------------------------------------------------------------------


def test_send_killed_at_random_moments_sends_each_once_and_keeps_the_manifest(
        tmp_path: Path) -> None:
    from drafter.mail import MailOptions, write_drafts
    from drafter.merge import MergeOptions, merge
    from drafter.send import read_log

    from .smtp_server import smtp_server

    (tmp_path / "case.yaml").write_text(CASE, encoding="utf-8")
    rows = ["id,name,address.country,email",
            *(f"s{i:02d},Person {i},US,person{i}@example.org" for i in range(20))]
    (tmp_path / "recipients.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    outdir = tmp_path / "out"
    merge(tmp_path / "case.yaml", tmp_path / "recipients.csv", outdir,
          MergeOptions(formats=("docx",)))
    write_drafts(outdir, MailOptions(sender="Campaigns <c@example.org>", attach=("docx",)))
    letters = {row["docx"]: row["docx_sha256"] for row in _read_manifest(outdir) or []}
    everything = {row["message_id"] for row in _read_manifest(outdir) or []}
    log = outdir / "mail" / "send-log.jsonl"
    rng = random.Random(SEED)
    env = {**os.environ, "DRAFTER_CONFIG": str(tmp_path / "no-config.toml")}

    def lines() -> int:
        return log.read_bytes().count(b"\n") if log.exists() else 0

    with smtp_server() as server:
        command = [sys.executable, "-c", "from drafter.cli import main; main()", "send",
                   str(outdir), "--server", server.url, "--send", "-q", "--retry-delay", "0.01",
                   "--rate", "600"]
        for kill in (signal.SIGKILL, signal.SIGTERM):
            start, stop_after = lines(), rng.randint(2, 8)
            sender = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
            guard = time.monotonic() + 120  # a hang guard
            while (sender.poll() is None and lines() - start < stop_after
                   and time.monotonic() < guard):
                time.sleep(0.002)
            sender.send_signal(kill)
            _, stderr = sender.communicate(timeout=120)
            if kill == signal.SIGTERM:
                assert sender.returncode in (130, 0, 1), stderr  # 0/1: it had finished
                assert "Traceback" not in stderr
            manifest = _read_manifest(outdir)  # whole, and the letters as they were
            assert manifest is not None and len(manifest) == 20
            assert {row["docx"]: row["docx_sha256"] for row in manifest} == letters
        final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        received = server.handler.by_id()
    assert "Traceback" not in final.stderr
    assert {key: len(copies) for key, copies in received.items() if len(copies) > 1} == {}
    state = read_log(log)
    uncertain = {key for key, s in state.messages.items() if s.status == "uncertain"}
    assert set(received) | uncertain == everything  # none lost: sent, or reported uncertain
    manifest = _read_manifest(outdir) or []
    assert {row["message_id"] for row in manifest if row["delivery"] == "sent"} == set(
        received) - uncertain
    for path in outdir.iterdir():  # the letters are untouched and complete
        if path.suffix == ".docx":
            assert hashlib.sha256(path.read_bytes()).hexdigest() == letters[path.name]


# ---- LibreOffice dies with drafter ----------------------------------------------------------


def _gone(marker: str, guard: float = 60) -> list[int]:
    """Wait until no process has ``marker`` in its command line; those left after ``guard``
    seconds (a hang guard only: they die at once, or never)."""
    deadline = time.monotonic() + guard
    while _processes(marker) and time.monotonic() < deadline:
        time.sleep(0.02)
    return _processes(marker)


def _processes(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _office_like(tmp_path: Path, marker: str) -> Path:
    """A stand-in for soffice that, like its launcher, forks a process (soffice.bin) and
    waits for it; that one runs ten minutes unless killed."""
    script = tmp_path / "bin" / "soffice"
    script.parent.mkdir(exist_ok=True)
    script.write_text(f"#!{sys.executable}\n" + textwrap.dedent(f"""\
        import subprocess, sys
        sys.exit(subprocess.call([sys.executable, "-c", "import time; time.sleep(600)",
                                  {marker!r}]))
        """))
    script.chmod(0o755)
    return script


def _started(marker: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120  # a hang guard
    while not _processes(marker) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _processes(marker), process.communicate()


def test_libreoffice_dies_when_drafter_is_killed(tmp_path: Path) -> None:
    marker = f"office-bin-{uuid.uuid4().hex}"
    soffice = _office_like(tmp_path, marker)
    env = {**os.environ, "PATH": f"{soffice.parent}{os.pathsep}{os.environ['PATH']}"}
    render = subprocess.Popen([sys.executable, "-c", "from drafter.cli import main; main()",
                               "render", str(EXAMPLES / "letter-en.yaml"), "-o",
                               str(tmp_path / "out")], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _started(marker, render)
    render.kill()
    render.wait()
    assert _gone(marker) == []  # before, it lived on: ten minutes here, a batch in real life
    assert [p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")] == []


WARM = """
import sys
from pathlib import Path
from drafter.pdf import WarmLibreOffice
office = WarmLibreOffice(sys.argv[1], python=sys.argv[2], timeout=600)
office.convert([Path(sys.argv[3])], Path(sys.argv[4]))
"""


def test_a_warm_libreoffice_dies_when_drafter_is_killed(tmp_path: Path) -> None:
    marker = f"office-bin-{uuid.uuid4().hex}"
    soffice = _office_like(tmp_path, marker)
    client = tmp_path / "bin" / "uno-python"  # a client that never answers, as if stuck
    client.write_text(f"#!{sys.executable}\nimport sys\nsys.stdin.read()\n")
    client.chmod(0o755)
    letter = tmp_path / "letter.docx"
    letter.write_bytes(render_letter(load_letter(EXAMPLES / "letter-en.yaml")).docx)
    drafter = subprocess.Popen([sys.executable, "-c", WARM, str(soffice), str(client),
                                str(letter), str(tmp_path / "out")], text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _started(marker, drafter)
    drafter.kill()
    drafter.wait()
    assert _gone(marker) == []
    assert _gone(str(client)) == []  # its client goes too: its input ends


def _failing_office(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "soffice"
    script.write_text(f"#!{sys.executable}\nimport os, signal, sys\n{body}\n")
    script.chmod(0o755)
    return script


@pytest.mark.parametrize(("body", "said"), [
    ("os.kill(os.getpid(), signal.SIGKILL)",
     "LibreOffice was killed (SIGKILL): most often the machine ran out of memory (the "
     "kernel's out-of-memory killer sends SIGKILL), or someone stopped it before it wrote the "
     "PDFs."),
    ("sys.exit(128 + 11)",  # the launcher's way of saying soffice.bin crashed
     "LibreOffice was stopped by SIGSEGV before it wrote the PDFs."),
])
def test_a_conversion_killed_by_a_signal_names_it(tmp_path: Path, body: str, said: str) -> None:
    letter = tmp_path / "letter.docx"
    letter.write_bytes(render_letter(load_letter(EXAMPLES / "letter-en.yaml")).docx)
    office = LibreOffice(_failing_office(tmp_path, body))
    with pytest.raises(ConversionError) as caught:
        office.convert([letter], tmp_path / "out")
    assert str(caught.value) == ("LibreOffice could not convert 1 of 1 files:\n"
                                 f"  {letter}: {said}")
    assert "valid DOCX" not in str(caught.value)
