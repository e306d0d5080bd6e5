"""LibreOffice faults are survived: missing, hanging, crashing mid-batch, run twice at once.

Most tests use a stand-in for ``soffice`` (a Python script that writes real one-page PDFs, or
hangs, or dies), so that they are fast and exact; those marked ``libreoffice`` use the real one.
Merges through a stand-in run with ``keep_running=False``: it is a process per batch, which
reads its files from its command line (the kept-running path: tests/test_pdf_split.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pypdf import PdfReader

from drafter import LibreOfficeMissing, pdf
from drafter.merge import MergeOptions, merge

from .conftest import EXAMPLES, SHORT_CASE, one_page_pdf, read_manifest

CASE = SHORT_CASE
PEOPLE = [("a", "Ann"), ("b", "Bo"), ("c", "Cy"), ("d", "Di"), ("e", "Ed"), ("f", "Fay")]
NAMES = [record_id for record_id, _ in PEOPLE]  # the letters' file names: their ids


@pytest.fixture
def recipients(tmp_path: Path) -> Path:
    path = tmp_path / "recipients.csv"
    rows = [f"{record_id},{name},US" for record_id, name in PEOPLE]
    path.write_text("\n".join(["id,name,address.country", *rows]) + "\n", encoding="utf-8")
    return path


manifest = read_manifest


def fake_soffice(tmp_path: Path, body: str) -> Path:
    """A stand-in for soffice: ``body`` runs with ``outdir``, ``inputs`` (Paths), ``calls`` (how
    many times it ran before) and ``convert(paths)`` (writes a one-page PDF for each)."""
    page = one_page_pdf(tmp_path)
    script = tmp_path / "soffice"
    script.write_text(f"#!{sys.executable}\n" + textwrap.dedent(f"""\
        import os, shutil, signal, sys, time
        from pathlib import Path
        args = sys.argv[1:]
        outdir = Path(args[args.index("--outdir") + 1])
        inputs = [Path(a) for a in args[args.index("--outdir") + 2:]]
        counter = Path({str(tmp_path / "calls")!r})
        calls = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(calls + 1))
        def convert(paths):
            outdir.mkdir(parents=True, exist_ok=True)
            for path in paths:
                shutil.copy({str(page)!r}, outdir / (path.stem + ".pdf"))
        """) + textwrap.dedent(body))
    script.chmod(0o755)
    return script


def assert_pdfs(outdir: Path, names: list[str]) -> None:
    for name in names:
        assert len(PdfReader(outdir / f"{name}.pdf").pages) >= 1, name


# ---- LibreOffice is not installed ---------------------------------------------------------------


def test_a_missing_program_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(LibreOfficeMissing) as caught:
        pdf.LibreOffice(soffice="/nonexistent")
    assert str(caught.value) == (
        "/nonexistent: no such LibreOffice program. Install LibreOffice with:\n"
        "  sudo apt-get install libreoffice-writer-nogui fonts-liberation "
        "fonts-crosextra-carlito fonts-crosextra-caladea fonts-noto-cjk")


@pytest.fixture
def no_libreoffice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(pdf, "SOFFICE_PATHS", (str(tmp_path / "nowhere" / "soffice"),))


def test_render_without_libreoffice_writes_nothing(tmp_path: Path, run,
                                                   no_libreoffice: None) -> None:
    out = tmp_path / "out"
    result = run("render", EXAMPLES / "letter-en.yaml", "-o", out)
    assert result.exit_code == 1
    assert "error: LibreOffice (soffice) was not found on PATH nor in " in result.output
    assert "sudo apt-get install libreoffice-writer-nogui" in result.output
    assert not out.exists()  # not even the DOCX: a letter is written whole or not at all
    result = run("render", EXAMPLES / "letter-en.yaml", "-o", out, "-f", "docx")
    assert result.exit_code == 0  # a DOCX needs no LibreOffice
    assert [p.name for p in out.iterdir()] == ["letter-en.docx"]


def test_merge_without_libreoffice_stops_before_writing(case: Path, recipients: Path,
                                                        tmp_path: Path, run,
                                                        no_libreoffice: None) -> None:
    out = tmp_path / "out"
    result = run("merge", case, recipients, "-o", out, "-q")
    assert result.exit_code == 1
    assert "sudo apt-get install libreoffice-writer-nogui" in result.output
    assert not out.exists()


def test_render_with_a_failing_libreoffice_writes_nothing(tmp_path: Path, run,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    soffice = fake_soffice(tmp_path, "sys.exit(1)\n")
    monkeypatch.setenv("PATH", str(soffice.parent))
    out = tmp_path / "out"
    result = run("render", EXAMPLES / "letter-en.yaml", "-o", out)
    assert result.exit_code == 1
    assert "error: LibreOffice could not convert 1 of 1 files:" in result.output
    assert "LibreOffice exited with status 1." in result.output
    assert list(out.iterdir()) == []


# ---- LibreOffice hangs or crashes: the batch is retried letter by letter ----------------------


def test_a_batch_that_crashes_half_way_is_redone_letter_by_letter(
        case: Path, recipients: Path, tmp_path: Path) -> None:
    soffice = fake_soffice(tmp_path, """\
        if len(inputs) > 1:  # a batch: converts half of it, then dies
            convert(inputs[: len(inputs) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        convert(inputs)
        """)
    out = tmp_path / "out"
    report = merge(case, recipients, out, MergeOptions(soffice=str(soffice), batch_size=3,
                                                       jobs=1, chunks=False,
                                                       keep_running=False))
    assert (report.written, report.failed) == (6, 0)
    assert [r["status"] for r in manifest(out)] == ["written"] * 6
    assert_pdfs(out, NAMES)
    assert int((tmp_path / "calls").read_text()) == 2 + 6  # two batches, then one by one
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["manifest.csv", "merge.json", *(f"{n}.{fmt}" for n in NAMES for fmt in ("docx", "pdf"))])


def test_a_hang_is_killed_and_the_retry_succeeds(case: Path, recipients: Path,
                                                 tmp_path: Path) -> None:
    soffice = fake_soffice(tmp_path, """\
        if calls == 0:
            time.sleep(600)  # the first process hangs
        convert(inputs)
        """)
    out = tmp_path / "out"
    report = merge(case, recipients, out, MergeOptions(soffice=str(soffice), batch_size=6,
                                                       jobs=1, timeout=2,
                                                       keep_running=False))
    assert (report.written, report.failed) == (6, 0)
    assert_pdfs(out, NAMES)


def test_a_letter_that_always_hangs_is_reported_and_the_others_finish(
        case: Path, recipients: Path, tmp_path: Path) -> None:
    soffice = fake_soffice(tmp_path, """\
        if any(p.stem == "c" for p in inputs):
            time.sleep(600)
        convert(inputs)
        """)
    out = tmp_path / "out"
    report = merge(case, recipients, out, MergeOptions(soffice=str(soffice), batch_size=6,
                                                       jobs=1, timeout=2,
                                                       keep_running=False))
    assert (report.written, report.failed) == (5, 1)
    rows = {r["id"]: r for r in manifest(out)}
    assert rows["c"]["status"] == "failed"
    assert rows["c"]["error"] == ("LibreOffice took more than 2 s to convert c.docx; it was "
                                  "stopped and no PDF was written.")
    assert rows["c"]["docx"] == "c.docx" and rows["c"]["pdf"] == ""  # the DOCX is there
    assert not (out / "c.pdf").exists()
    assert_pdfs(out, [n for n in NAMES if n != "c"])
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


@pytest.mark.libreoffice
def test_real_libreoffice_killed_mid_batch(case: Path, recipients: Path, tmp_path: Path) -> None:
    real = shutil.which("soffice")
    wrapper = tmp_path / "soffice"
    # A batch: the real soffice converts its first half, then the wrapper dies as if killed.
    wrapper.write_text(f"#!{sys.executable}\n" + textwrap.dedent(f"""\
        import os, signal, subprocess, sys
        args = sys.argv[1:]
        at = args.index("--outdir") + 2
        if len(args) - at > 1:
            subprocess.run([{real!r}, *args[:at], *args[at:at + (len(args) - at) // 2]])
            os.kill(os.getpid(), signal.SIGKILL)
        os.execv({real!r}, [{real!r}, *args])
        """))
    wrapper.chmod(0o755)
    out = tmp_path / "out"
    report = merge(case, recipients, out, MergeOptions(soffice=str(wrapper), batch_size=6,
                                                       jobs=1, chunks=False,
                                                       keep_running=False))
    assert (report.written, report.failed) == (6, 0)
    assert_pdfs(out, NAMES)
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


@pytest.mark.libreoffice
def test_two_runs_at_once_do_not_collide(case: Path, recipients: Path, tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}  # both want profile-0
    command = [sys.executable, "-c", "from drafter.cli import main; main()", "merge",
               str(case), str(recipients), "-j", "1", "-o"]
    runs = [subprocess.Popen([*command, str(tmp_path / f"out{i}")], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i in (1, 2)]
    for run in runs:
        stdout, stderr = run.communicate(timeout=120)
        assert run.returncode == 0, stderr
        assert "6 written, 0 unchanged (skipped), 0 failed, 0 invalid, of 6" in stdout
        assert "lock" not in stderr.lower() and "error" not in stderr.lower()
    for i in (1, 2):
        assert_pdfs(tmp_path / f"out{i}", NAMES)


def test_render_stopped_with_sigterm_leaves_nothing_behind(tmp_path: Path) -> None:
    started = tmp_path / "started"
    soffice = fake_soffice(tmp_path, f"""\
        Path({str(started)!r}).write_text(str(os.getpid()))
        time.sleep(600)
        """)
    out = tmp_path / "out"
    env = {**os.environ, "PATH": f"{soffice.parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.Popen([sys.executable, "-c", "from drafter.cli import main; main()",
                            "render", str(EXAMPLES / "letter-en.yaml"), "-o", str(out)],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    run.send_signal(signal.SIGTERM)
    _, stderr = run.communicate(timeout=30)
    assert run.returncode == 130
    assert "interrupted: only complete files were kept" in stderr
    assert list(out.iterdir()) == []  # no letter, no hidden temporary folder
    with pytest.raises(ProcessLookupError):
        os.kill(int(started.read_text()), 0)  # LibreOffice was stopped with it
