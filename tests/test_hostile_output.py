"""Output is atomic and contained.

Every file is written under a hidden temporary name in its folder and renamed when complete;
names made from data never leave the output folder; a symbolic link in the output folder is
replaced, never written through; a full disk is an OutputError that leaves no partial file.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import docx
import pytest

from drafter import OutputError, load_letter, render_letter, write_letter
from drafter.files import write_atomic
from drafter.merge import MergeOptions, merge

from .conftest import EXAMPLES, SHORT_CASE, docx_text, read_manifest

CASE = SHORT_CASE


def recipients(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "recipients.csv"
    path.write_text("\n".join(["id,name,address.country", *rows]) + "\n", encoding="utf-8")
    return path


def tree(folder: Path) -> set[str]:
    """Every path under ``folder``, relative to it (symbolic links not followed)."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


manifest = read_manifest


def complete_letters(outdir: Path) -> list[str]:
    """The visible files of ``outdir``, each checked to be a complete DOCX (or the manifest)."""
    names = []
    for path in sorted(outdir.iterdir()):
        if path.name.startswith("."):
            continue
        if path.suffix == ".docx":
            docx.Document(str(path))
        names.append(path.name)
    return names


# ---- names from data ------------------------------------------------------------------------


def test_names_from_data_never_leave_the_output_folder(case: Path, tmp_path: Path) -> None:
    path = recipients(tmp_path, "1,/etc/passwd,US", "2,../../escape,US", '3,"..\\..\\win",US',
                      "4,CON,US", "5,nul.txt,US", "6,LPT1,US", "7,..,US", "8,~/.bashrc,US",
                      "9,a:b*c?d|e<f>g,US", "10," + "长" * 100 + ",CN")
    before = tree(tmp_path)
    out = tmp_path / "out"
    merge(case, path, out, MergeOptions(formats=("docx",), name="{{ name }}\x00{{ id }}"))
    assert sorted(p.name for p in out.iterdir()) == [
        "7.docx", "CON-4.docx", "LPT1-6.docx", "_nul.txt-5.docx", "a-b-c-d-e-f-g-9.docx",
        "escape-2.docx", "etc-passwd-1.docx", "manifest.csv", "merge.json", "win-3.docx",
        "~-.bashrc-8.docx",
        "长" * 50 + ".docx"]  # 150 bytes at most
    assert tree(tmp_path) - before == {f"out/{p.name}" for p in out.iterdir()} | {"out"}


def test_reserved_device_names_get_an_underscore(case: Path, tmp_path: Path) -> None:
    path = recipients(tmp_path, "1,CON,US", "2,nul.txt,US", "3,LPT1,US", "4,..,US", "5,.,US")
    out = tmp_path / "out"
    merge(case, path, out, MergeOptions(formats=("docx",), name="{{ name }}"))
    assert sorted(p.name for p in out.iterdir()) == [
        "_CON.docx", "_LPT1.docx", "_nul.txt.docx", "letter-2.docx", "letter.docx",
        "manifest.csv", "merge.json"]


# ---- symbolic links -----------------------------------------------------------------------------


def test_a_symlink_in_the_output_folder_is_replaced_never_written_through(
        case: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "target.docx").write_bytes(b"ORIGINAL")
    (outside / "manifest.csv").write_text("number,id\n", encoding="utf-8")
    (outside / "keep.txt").write_text("keep", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "xi.docx").symlink_to(outside / "target.docx")
    (out / "manifest.csv").symlink_to(outside / "manifest.csv")
    ended = (1 << 22) + 1  # a process id no Linux process has: of a run that ended
    (out / f".drafter-merge-{ended}-old").symlink_to(outside, target_is_directory=True)
    (out / f".drafter-{ended}-1234.xi.docx.part").symlink_to(outside / "keep.txt")

    merge(case, recipients(tmp_path, "xi,Xi,CN"), out, MergeOptions(formats=("docx",)))

    assert (outside / "target.docx").read_bytes() == b"ORIGINAL"
    assert (outside / "manifest.csv").read_text(encoding="utf-8") == "number,id\n"
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt", "manifest.csv",
                                                         "target.docx"]
    assert not (out / "xi.docx").is_symlink() and not (out / "manifest.csv").is_symlink()
    assert "Dear Xi," in docx_text(out / "xi.docx")
    assert sorted(p.name for p in out.iterdir()) == ["manifest.csv", "merge.json",
                                                     "xi.docx"]


def test_render_replaces_a_symlink_too(tmp_path: Path, run) -> None:
    outside = tmp_path / "outside.docx"
    outside.write_bytes(b"ORIGINAL")
    out = tmp_path / "out"
    out.mkdir()
    (out / "letter-en.docx").symlink_to(outside)
    result = run("render", EXAMPLES / "letter-en.yaml", "-o", out, "-f", "docx")
    assert result.exit_code == 0, result.output
    assert outside.read_bytes() == b"ORIGINAL"
    assert not (out / "letter-en.docx").is_symlink()
    assert "Dear President Xi Jinping," in docx_text(out / "letter-en.docx")


def test_write_atomic_never_writes_through_a_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"ORIGINAL")
    link = tmp_path / "out.txt"
    link.symlink_to(outside)
    write_atomic(link, b"NEW")
    assert outside.read_bytes() == b"ORIGINAL" and link.read_bytes() == b"NEW"
    assert not link.is_symlink()


# ---- replacing outputs --------------------------------------------------------------------------


def test_render_replaces_its_own_outputs_because_it_was_asked_to(tmp_path: Path, run) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "letter-en.docx").write_bytes(b"an older letter")
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    result = run("render", EXAMPLES / "letter-en.yaml", "-o", out, "-f", "docx")
    assert result.exit_code == 0
    assert "Dear President Xi Jinping," in docx_text(out / "letter-en.docx")
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in out.iterdir()) == ["letter-en.docx", "notes.txt"]


def test_merge_leaves_files_it_does_not_write_alone(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    (out / ".hidden").write_text("mine", encoding="utf-8")
    path = recipients(tmp_path, "xi,Xi,CN", "wang,Wang,CN")
    for force in (False, True):
        merge(case, path, out, MergeOptions(formats=("docx",), force=force))
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in out.iterdir()) == [
        ".hidden", "manifest.csv", "merge.json", "notes.txt", "wang.docx", "xi.docx"]


def test_letters_get_the_permissions_of_the_umask(case: Path, tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        merge(case, recipients(tmp_path, "xi,Xi,CN"), tmp_path / "out",
              MergeOptions(formats=("docx",)))
        write_letter(render_letter(load_letter(EXAMPLES / "letter-en.yaml")), tmp_path / "r",
                     "letter", ["docx"])
    finally:
        os.umask(previous)
    for path in (tmp_path / "out" / "xi.docx", tmp_path / "out" / "manifest.csv",
                 tmp_path / "r" / "letter.docx"):
        assert path.stat().st_mode & 0o777 == 0o644, path


# ---- failures while writing ---------------------------------------------------------------------


def _no_space(monkeypatch: pytest.MonkeyPatch, when) -> None:
    """os.replace fails with ENOSPC for the targets ``when`` picks."""
    real = os.replace

    def replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        if when(Path(target)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
        real(source, target)

    monkeypatch.setattr(os, "replace", replace)


def test_write_atomic_failing_leaves_the_old_file_and_no_temporary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "letter.docx"
    target.write_bytes(b"OLD")
    _no_space(monkeypatch, lambda path: True)
    with pytest.raises(OutputError) as caught:
        write_atomic(target, b"NEW")
    assert str(caught.value) == f"{target}: cannot write: No space left on device"
    assert target.read_bytes() == b"OLD"
    assert [p.name for p in tmp_path.iterdir()] == ["letter.docx"]


def test_render_on_a_full_disk_writes_nothing(tmp_path: Path, run,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _no_space(monkeypatch, lambda path: path.suffix == ".docx")
    out = tmp_path / "out"
    result = run("render", EXAMPLES / "letter-en.yaml", "-o", out, "-f", "docx")
    assert result.exit_code == 1
    assert f"error: {out / 'letter-en.docx'}: cannot write: No space left on device" \
        in result.output
    assert list(out.iterdir()) == []


def test_merge_on_a_full_disk_stops_with_complete_files_only(
        case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run) -> None:
    path = recipients(tmp_path, "a,A,US", "b,B,US", "c,C,US", "d,D,US")
    out = tmp_path / "out"
    _no_space(monkeypatch, lambda target: target.name == "c.docx")
    result = run("merge", case, path, "-o", out, "-f", "docx", "-q")
    assert result.exit_code == 1
    assert f"error: {out / 'c.docx'}: cannot write: No space left on device" in result.output
    assert complete_letters(out) == ["a.docx", "b.docx", "manifest.csv"]
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
    assert [(r["id"], r["status"], r["docx"]) for r in manifest(out)] == [
        ("a", "written", "a.docx"), ("b", "written", "b.docx"), ("c", "interrupted", "")]

    monkeypatch.undo()  # space again: the next run does the rest
    result = run("merge", case, path, "-o", out, "-f", "docx")
    assert "2 written, 2 unchanged (skipped)" in result.output
    assert [r["status"] for r in manifest(out)] == ["skipped", "skipped", "written", "written"]


def test_an_interrupted_merge_keeps_what_is_done_and_the_next_run_finishes(
        case: Path, tmp_path: Path) -> None:
    path = recipients(tmp_path, *(f"r{i},Person {i},US" for i in range(6)))
    out = tmp_path / "out"

    def stop_after_three(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        merge(case, path, out, MergeOptions(formats=("docx",)), on_progress=stop_after_three)
    rows = manifest(out)
    assert [(r["id"], r["status"]) for r in rows] == [
        ("r0", "written"), ("r1", "written"), ("r2", "written")]
    assert complete_letters(out) == [
        "manifest.csv", "r0.docx", "r1.docx", "r2.docx"]

    # Interrupted again, earlier: the last manifest's rows of letters not reached are kept.
    def stop_at_once(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        merge(case, path, out, MergeOptions(formats=("docx",)), on_progress=stop_at_once)
    assert [(r["id"], r["status"]) for r in manifest(out)] == [
        ("r0", "skipped"), ("r1", "written"), ("r2", "written")]

    report = merge(case, path, out, MergeOptions(formats=("docx",)))
    assert (report.written, report.skipped) == (3, 3)
    assert len(manifest(out)) == 6


# ---- a real full disk (a small tmpfs; needs root) ------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 400 KiB tmpfs, when this process may mount one."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)  # lazy: never left busy


def test_a_real_full_disk(case: Path, tmp_path: Path, small_disk: Path, run) -> None:
    path = recipients(tmp_path, *(f"r{i},Person {i},US" for i in range(30)))
    out = small_disk / "out"
    result = run("merge", case, path, "-o", out, "-f", "docx", "-q")
    assert result.exit_code == 1
    assert "cannot write: No space left on device" in result.output
    letters = complete_letters(out)
    assert 0 < len(letters) < 31
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []

    result = run("render", EXAMPLES / "letter-en.yaml", "-o", small_disk / "one", "-f", "docx")
    assert result.exit_code == 1
    assert "cannot write" in result.output and "No space left on device" in result.output
    assert not (small_disk / "one").exists() or list((small_disk / "one").iterdir()) == []


def test_a_run_with_only_keeps_the_rows_of_the_other_letters(case: Path, tmp_path: Path) -> None:
    path = recipients(tmp_path, "a,A,US", "b,B,US", "c,C,US")
    out = tmp_path / "out"
    merge(case, path, out, MergeOptions(formats=("docx",)))
    merge(case, path, out, MergeOptions(formats=("docx",), only=frozenset({"b"}), force=True))
    assert [(r["id"], r["status"]) for r in manifest(out)] == [
        ("a", "written"), ("b", "written"), ("c", "written")]
    report = merge(case, path, out, MergeOptions(formats=("docx",)))
    assert (report.written, report.skipped) == (0, 3)


# ---- names drafter writes itself ------------------------------------------------------------


def test_no_letter_takes_the_name_of_a_file_drafter_writes(case: Path, tmp_path: Path,
                                                          run) -> None:
    ids = ["combined", "Combined", "MANIFEST", "merge", "post-or-fax", "mail", "a"]
    path = recipients(tmp_path, *(f"{i},Person {i},US" for i in ids))
    out = tmp_path / "out"
    result = run("merge", case, path, "-o", out, "-f", "docx", "--name", "{{ id }}", "--combine")
    assert result.exit_code == 0, result.output
    rows = manifest(out)
    assert [r["docx"] for r in rows] == [
        "combined-2.docx", "Combined-3.docx", "MANIFEST-2.docx", "merge-2.docx",
        "post-or-fax-2.docx", "mail-2.docx", "a.docx"]
    for row in rows:  # the manifest agrees with the disk
        assert hashlib.sha256((out / row["docx"]).read_bytes()).hexdigest() == row["docx_sha256"]
    combined = docx_text(out / "combined.docx")
    assert combined.count("Dear Person") == len(ids)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["combined.docx", "manifest.csv", "merge.json", *(r["docx"] for r in rows)])


def test_reserved_names_hold_in_any_case_and_after_the_slug(case: Path, tmp_path: Path) -> None:
    path = recipients(tmp_path, ",COMBINED,US", ",Combined,US", ",Manifest,US")
    report = merge(case, path, tmp_path / "out", MergeOptions(formats=("docx",)))
    assert report.written == 3
    assert [r["docx"] for r in manifest(tmp_path / "out")] == [
        "combined-2.docx", "combined-3.docx", "manifest-2.docx"]


# ---- one writer per output folder --------------------------------------------------------------


DRAFTER = [sys.executable, "-c", "from drafter.cli import main; main()"]
HOLD = """
import sys
from pathlib import Path
from drafter.outputs import only_writer
with only_writer(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def held(tmp_path: Path):
    """A folder another process (a stand-in for another drafter) writes into until told."""
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    yield out, holder
    if holder.poll() is None:
        holder.communicate("", timeout=60)


def test_a_second_writer_is_refused_naming_the_folder_and_the_other(
        case: Path, tmp_path: Path, held, run) -> None:
    out, holder = held
    path = recipients(tmp_path, "a,A,US")
    result = run("merge", case, path, "-o", out, "-f", "docx")
    assert result.exit_code == 1
    assert (f"error: {out}: another drafter (pid {holder.pid}: " in result.output
            and "is writing into this folder now; wait until it is done (or give --wait to "
                "wait for it), or write into another folder" in result.output), result.output
    assert list(out.iterdir()) == []
    for args in (["mail", out, "--from", "a@example.org"],
                 ["send", out, "--send", "--server", "smtp://127.0.0.1:9"]):
        result = subprocess.run([*DRAFTER, *map(str, args)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 1


def test_render_into_a_folder_being_merged_into_is_refused(tmp_path: Path, held, run) -> None:
    out, holder = held
    result = run("render", EXAMPLES / "letter-en.yaml", "-o", out, "-f", "docx")
    assert result.exit_code == 1
    assert f"{out}: another drafter (pid {holder.pid}" in result.output
    assert "--wait" not in result.output  # render does not offer it
    assert list(out.iterdir()) == []


def _waiting_on(folder: Path) -> bool:
    """Whether a process waits for the lock on ``folder`` (Linux's /proc/locks: `->` lines)."""
    status = folder.stat()
    device = f"{os.major(status.st_dev):02x}:{os.minor(status.st_dev):02x}:{status.st_ino}"
    return any("->" in line and device in line
               for line in Path("/proc/locks").read_text().splitlines())


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux's /proc/locks")
def test_with_wait_a_merge_waits_for_the_other_writer(case: Path, tmp_path: Path,
                                                      held) -> None:
    out, holder = held
    path = recipients(tmp_path, "a,A,US", "b,B,US")
    waiting = subprocess.Popen([*DRAFTER, "merge", str(case),
                                str(path), "-o", str(out), "-f", "docx", "--wait"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    guard = 600  # a hang guard only: polls until the merge is seen waiting
    while not _waiting_on(out) and waiting.poll() is None and guard:
        guard -= 1
        subprocess.run(["sleep", "0.1"], check=True)
    assert waiting.poll() is None, waiting.communicate()
    assert list(out.iterdir()) == []  # nothing written while the other one writes
    holder.communicate("", timeout=60)  # the other writer is done
    _, stderr = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, stderr
    assert [r["status"] for r in manifest(out)] == ["written", "written"]


def test_two_merges_at_once_leave_a_manifest_that_agrees_with_the_disk(
        case: Path, tmp_path: Path) -> None:
    path = recipients(tmp_path, *(f"r{i},Person {i},US" for i in range(40)))
    out = tmp_path / "out"
    command = [*DRAFTER, "merge", str(case), str(path), "-o",
               str(out), "-f", "docx", "--force"]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(3)]
    results = [(r.wait(timeout=300), r.communicate()[1]) for r in runs]
    assert any(code == 0 for code, _ in results), results
    for code, stderr in results:  # each finished, or was refused at once: no traceback
        assert code == 0 or "is writing into this folder now" in stderr, stderr
        assert "Traceback" not in stderr
    rows = manifest(out)
    assert len(rows) == 40
    for row in rows:
        assert hashlib.sha256((out / row["docx"]).read_bytes()).hexdigest() == row["docx_sha256"]
    assert {p.name for p in out.iterdir()} == {r["docx"] for r in rows} | {
        "manifest.csv", "merge.json"}


def test_render_refuses_to_replace_a_merged_letter(case: Path, tmp_path: Path, run) -> None:
    out = tmp_path / "out"
    merge(case, recipients(tmp_path, "letter-en,Xi,CN"), out, MergeOptions(formats=("docx",)))
    before = (out / "letter-en.docx").read_bytes()
    result = run("render", EXAMPLES / "letter-en.yaml", "-o", out, "-f", "docx")
    assert result.exit_code == 1
    assert (f"error: {out / 'letter-en.docx'}: this folder holds a merge, and the file is one "
            "of its own") in result.output
    assert (out / "letter-en.docx").read_bytes() == before
    result = run("render", EXAMPLES / "letter-en.yaml", "-o", out / "COMBINED.docx")
    assert result.exit_code == 1 and "this folder holds a merge" in result.output
    result = run("render", EXAMPLES / "letter-en.yaml", "-o", out / "extra.docx")
    assert result.exit_code == 0, result.output


# ---- files no manifest names ------------------------------------------------------------------


def test_letters_of_a_renamed_recipient_are_reported_never_removed(
        case: Path, tmp_path: Path, run) -> None:
    out = tmp_path / "out"
    merge(case, recipients(tmp_path, "a,A,US", "b,B,US"), out, MergeOptions(formats=("docx",)))
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    path = recipients(tmp_path, "a,A,US", "c,B,US")  # b's id is now c
    report = merge(case, path, out, MergeOptions(formats=("docx",)))
    assert report.stale == [out / "b.docx"]
    assert (out / "b.docx").is_file()
    result = run("merge", case, path, "-o", out, "-f", "docx")
    assert result.exit_code == 0
    assert ("warning: 1 letter file in the folder is in no row of its manifest: b.docx (an "
            "earlier run's, for a recipient renamed or a format no longer asked for, or files "
            "of yours); drafter leaves them alone: remove them if they are not yours (cd "
            f"{out} && rm -- b.docx)") in " ".join(result.output.split())
    (out / "b.docx").unlink()
    assert merge(case, path, out, MergeOptions(formats=("docx",))).stale == []


@pytest.mark.libreoffice
def test_letters_of_a_format_no_longer_asked_for_are_reported(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    path = recipients(tmp_path, "a,A,US", "b,B,US")
    merge(case, path, out, MergeOptions(formats=("docx", "pdf"), jobs=1))
    report = merge(case, path, out, MergeOptions(formats=("docx",)))
    assert report.stale == [out / "a.pdf", out / "b.pdf"]
    assert "2 letter files in the folder are in no row of its manifest: a.pdf, b.pdf" in str(
        report.warnings[-1])
