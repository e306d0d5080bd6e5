"""Output is atomic and contained.

Every file is written under a hidden temporary name in its folder and renamed when complete;
names made from data never leave the output folder; a symbolic link in the output folder is
replaced, never written through; a full disk is an OutputError that leaves no partial file.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
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
