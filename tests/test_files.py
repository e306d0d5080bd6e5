"""Tests of drafter.files: atomic writes, names made from data, temporaries and their cleanup."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from drafter.errors import OutputError
from drafter.files import (
    MARKER,
    MAX_NAME_BYTES,
    UniqueNames,
    remove_leftovers,
    safe_name,
    sha256_of,
    temporary_folder,
    write_atomic,
)


def test_write_atomic_writes_the_bytes_and_leaves_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "letter.docx"
    target.write_bytes(b"OLD")
    write_atomic(target, b"NEW")
    write_atomic(tmp_path / "fast.docx", b"FAST", durable=False)
    assert target.read_bytes() == b"NEW"
    assert (tmp_path / "fast.docx").read_bytes() == b"FAST"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fast.docx", "letter.docx"]


def test_write_atomic_follows_the_umask_not_private_permissions(tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        write_atomic(tmp_path / "letter.pdf", b"%PDF")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "letter.pdf").stat().st_mode) == 0o640


def test_write_atomic_into_a_missing_folder_names_the_file(tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "letter.docx"
    with pytest.raises(OutputError, match=r"nowhere/letter\.docx: cannot write"):
        write_atomic(target, b"NEW")
    assert list(tmp_path.iterdir()) == []


def test_a_temporary_folder_is_hidden_and_goes_with_its_contents(tmp_path: Path) -> None:
    with temporary_folder(tmp_path, "merge") as name:
        folder = Path(name)
        (folder / "letter.docx").write_bytes(b"DOCX")
        assert folder.parent == tmp_path and folder.name.startswith(".drafter-merge-")
    with temporary_folder(tmp_path) as name:
        assert Path(name).name.startswith(".drafter-")
    assert list(tmp_path.iterdir()) == []


def test_leftovers_go_letters_and_what_links_point_to_stay(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a-Ann.docx").write_bytes(b"letter")
    (out / ".hidden-notes.txt").write_text("the user's own", encoding="utf-8")
    ended = ENDED_PID
    (out / f".drafter-{ended}-1234abcd.a-Ann.docx.part").write_bytes(b"half")
    (out / f".drafter-merge-{ended}-x1").mkdir()
    (out / f".drafter-merge-{ended}-x1" / "b-Bo.docx").write_bytes(b"half")
    (out / f".drafter-merge-{ended}-x1" / MARKER).write_text(str(ended), encoding="ascii")
    (out / f".drafter-pdf-{ended}-link").symlink_to(outside, target_is_directory=True)
    (out / f".drafter-{ended}-9.b-Bo.pdf.part").symlink_to(outside / "keep.txt")

    assert len(remove_leftovers(out)) == 4

    assert sorted(p.name for p in out.iterdir()) == [".hidden-notes.txt", "a-Ann.docx"]
    assert (outside / "keep.txt").read_text(encoding="utf-8") == "keep"


ENDED_PID = (1 << 22) + 1  # above Linux's largest process id: a process that has ended


def test_only_drafters_marked_temporaries_of_ended_runs_go(tmp_path: Path) -> None:
    users = [".notes.part", ".report.pdf.part", ".drafter-settings", ".drafter-merge-x1",
             f".drafter-merge-{ENDED_PID}-nomarker", f".drafter-{ENDED_PID}-ab.notes.txt"]
    for name in users:
        if "." in name[1:] and not name.startswith(".drafter-merge"):
            (tmp_path / name).write_text("the user's", encoding="utf-8")
        else:
            (tmp_path / name).mkdir()
            (tmp_path / name / "inside.txt").write_text("the user's", encoding="utf-8")
    (tmp_path / ".drafter-settings" / MARKER).write_text("1", encoding="ascii")
    with temporary_folder(tmp_path, "merge") as mine:  # this process's: in use
        write_atomic(Path(mine) / "x", b"x")
        running = tmp_path / f".drafter-pdf-{os.getppid()}-abc"  # a running process's
        running.mkdir()
        (running / MARKER).write_text(str(os.getppid()), encoding="ascii")
        ended = tmp_path / f".drafter-pdf-{ENDED_PID}-abc"
        ended.mkdir()
        (ended / MARKER).write_text(str(ENDED_PID), encoding="ascii")
        assert remove_leftovers(tmp_path) == [ended]
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            [*users, Path(mine).name, running.name])


def test_sha256_of_a_file(tmp_path: Path) -> None:
    data = os.urandom(3 << 20)  # more than one block
    (tmp_path / "letter.pdf").write_bytes(data)
    assert sha256_of(tmp_path / "letter.pdf") == hashlib.sha256(data).hexdigest()


def test_a_long_name_is_cut_between_characters() -> None:
    name = safe_name("Ωmega " * 40)
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    assert name.startswith("Ωmega Ωmega") and not name.endswith(" ")
    assert set(name) == set("Ωmega ")  # whole characters only: none cut in half


def test_unique_names_count_up_ignoring_case() -> None:
    names = UniqueNames()
    given = [names.unique(n) for n in ["Wang Yi", "wang yi", "Wang Yi-2", "WANG YI", "Li Na"]]
    assert given == ["Wang Yi", "wang yi-2", "Wang Yi-2-2", "WANG YI-3", "Li Na"]
