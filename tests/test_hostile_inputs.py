"""Hostile paths given to drafter: devices, FIFOs, folders, dangling links and paths under a
file, wherever drafter reads or makes a file a user named. Each is a message naming the path
and an exit status, never a traceback, a hang or the whole memory.

What would hang or fill the memory if it regressed (a FIFO, /dev/zero) runs in a child process
under a memory limit, stopped by a guard if it blocks."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import textwrap
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import Result

from drafter import DataError, OutputError, load_letter, new_template
from drafter.files import open_regular, read_bounded

Run = Callable[..., Result]

LETTER = {
    "date": "2015-11-24",
    "sender": {"name": "Human Rights Watch"},
    "recipient": {"name": "Wang Yi"},
    "subject": "Detention of refugees",
    "body": ["We write to you."],
    "signatory": {"name": "Sophie Richardson"},
}
CASE = {k: v for k, v in LETTER.items() if k != "recipient"}
MEMORY = 2 << 30  # the child's address space: far more than drafter needs, far less than RAM
GUARD = 240  # seconds before a child that blocks is stopped (a failure, never a measurement)
ROOT = os.geteuid() == 0


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def drafter(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The ``drafter`` command in a child process under a memory limit."""
    return python("from drafter.cli import main; main()", *args, cwd=cwd)


def python(code: str, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Python ``code`` in a child process under a memory limit; ``sys.argv[1:]`` are ``args``."""
    environment = {**os.environ, "XDG_CACHE_HOME": str(cwd / ".cache")}
    try:
        return subprocess.run([sys.executable, "-c", textwrap.dedent(code),
                               *map(str, args)], cwd=cwd, capture_output=True, text=True,
                              timeout=GUARD, preexec_fn=_limited, env=environment,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"drafter blocked on {args}")


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _device(path: Path) -> Path:
    path.symlink_to("/dev/zero")
    return path


KINDS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "a link to /dev/zero": (_device, "not a regular file (a device, a pipe or a socket)"),
    "a FIFO": (_fifo, "not a regular file (a device, a pipe or a socket)"),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_data_file_that_is_no_regular_file_is_refused_before_it_is_read(tmp_path: Path,
                                                                          kind: str) -> None:
    make, message = KINDS[kind]
    data = make(tmp_path / "letter.yaml")
    done = drafter("render", data, "-f", "docx", "-o", tmp_path / "out", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr == f"error: 1 problem found:\n  {data}: {message}; drafter reads only " \
                          "files\n"
    assert not (tmp_path / "out").exists()
    # The Python API says the same.
    done = python("""
        import sys
        from drafter import DataError, load_letter
        try:
            load_letter(sys.argv[1])
        except DataError as e:
            print(e.problems[0].message)
        """, data, cwd=tmp_path)
    assert done.stdout.startswith(message), done.stderr


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_recipients_that_are_no_regular_file_are_refused(tmp_path: Path, kind: str) -> None:
    make, message = KINDS[kind]
    case = tmp_path / "case.yaml"
    case.write_text(yaml.safe_dump(CASE), encoding="utf-8")
    for name in ("recipients.csv", "recipients.xlsx", "recipients.yaml"):
        recipients = make(tmp_path / name)
        done = drafter("merge", case, recipients, "-o", tmp_path / "out", "--dry-run",
                       cwd=tmp_path)
        assert done.returncode == 1, done.stderr
        assert f"{recipients}: {message}" in done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def _template(folder: Path) -> Path:
    template = folder / "mine"
    new_template(template)
    return template


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_template_files_that_are_no_regular_file_are_refused(tmp_path: Path, kind: str) -> None:
    make, message = KINDS[kind]
    data = tmp_path / "letter.yaml"
    data.write_text(yaml.safe_dump({**LETTER, "locale": "ja"}), encoding="utf-8")
    for part in ("letter.ja.docx", "fields.yaml", "locales/ja/LC_MESSAGES/messages.po"):
        template = _template(tmp_path)
        (template / part).unlink(missing_ok=True)  # the built-in template has no fields.yaml
        make(template / part)
        done = drafter("render", data, "-t", template, "-f", "docx", "-o", tmp_path / "out",
                       cwd=tmp_path)
        assert done.returncode == 1, (part, done.stderr)
        assert f"{template / part}: {message}" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
        assert not (tmp_path / "out").exists()
        os.unlink(template / part)
        shutil.rmtree(template)


def test_a_signature_that_is_a_fifo_or_leads_to_a_device_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "letter.yaml"
    for make, message in ((_fifo, "not a regular file (a device, a pipe or a socket)"),
                          (_device, "'signature.png' leads outside the folder of the file that "
                                    "names it (/dev/zero)")):
        signature = make(tmp_path / "signature.png")
        data.write_text(yaml.safe_dump({**LETTER, "signatory": {"name": "S", "signature":
                                                                "signature.png"}}),
                        encoding="utf-8")
        done = drafter("render", data, "-f", "docx", "-o", tmp_path / "out", cwd=tmp_path)
        assert done.returncode == 1
        assert "signatory.signature: " in done.stderr and message in done.stderr, done.stderr
        assert not (tmp_path / "out").exists()
        signature.unlink()


def test_the_studio_lists_no_fifo_and_never_blocks_on_one(tmp_path: Path) -> None:
    (tmp_path / "letter.yaml").write_text(yaml.safe_dump(LETTER), encoding="utf-8")
    _fifo(tmp_path / "blocked.yaml")
    _device(tmp_path / "zero.yaml")
    done = python("""
        import sys
        from pathlib import Path
        from drafter.studio.workspace import Workspace
        print(Workspace(Path(sys.argv[1])).letters())
        """, tmp_path, cwd=tmp_path)
    assert done.stdout.strip() == "['letter.yaml']", done.stderr


def test_a_file_over_its_limit_is_refused_without_being_read(tmp_path: Path) -> None:
    big = tmp_path / "letter.yaml"
    with big.open("wb") as f:
        f.truncate((20 << 20) + 1)  # sparse: 20 MiB and a byte
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="file is larger than 20 MiB"):
            load_letter(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


def test_read_bounded_reads_at_most_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "file.bin"
    path.write_bytes(b"x" * 100)
    assert read_bounded(path, 100) == b"x" * 100
    with pytest.raises(DataError, match="file is larger than 99 bytes"):
        read_bounded(path, 99)
    with pytest.raises(DataError, match="this is a folder, not a file"):
        read_bounded(tmp_path, 100)
    with pytest.raises(DataError, match=r"no such file \(a part of the path is a file"):
        read_bounded(path / "inside", 100)
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(DataError, match="a symbolic link to a file that does not exist"):
        open_regular(tmp_path / "dangling", 100)
    with pytest.raises(DataError) as raised:
        open_regular(tmp_path / "missing", 100, field="--enclose")
    assert str(raised.value.problems[0]) == f"{tmp_path / 'missing'}: --enclose: no such file"


# --- paths that are not what a command expects -------------------------------------------


def _bad_paths(folder: Path) -> dict[str, Path]:
    (folder / "a-file").write_text("x", encoding="utf-8")
    (folder / "a-folder.yaml").mkdir()
    (folder / "dangling.yaml").symlink_to(folder / "nowhere.yaml")
    return {"missing": folder / "missing.yaml", "a folder": folder / "a-folder.yaml",
            "a dangling link": folder / "dangling.yaml",
            "under a file": folder / "a-file" / "letter.yaml"}


COMMANDS: dict[str, Callable[[Path, Path], list[str | Path]]] = {
    "render": lambda bad, ok: ["render", bad, "-f", "docx"],
    "preview": lambda bad, ok: ["preview", bad],
    "render -t": lambda bad, ok: ["render", ok, "-t", bad.with_suffix(".docx"), "-f", "docx"],
    "check": lambda bad, ok: ["check", bad.with_suffix(".docx")],
    "check --data": lambda bad, ok: ["check", "advocacy-letter", "--data", bad],
    "vars": lambda bad, ok: ["vars", bad.with_suffix(".docx")],
    "merge's case": lambda bad, ok: ["merge", bad, ok, "--dry-run"],
    "merge's recipients": lambda bad, ok: ["merge", ok, bad.with_suffix(".csv"), "--dry-run"],
    "convert": lambda bad, ok: ["convert", bad.with_suffix(".docx")],
    "mail": lambda bad, ok: ["mail", bad.with_suffix(""), "--from", "a <a@example.org>"],
    "send": lambda bad, ok: ["send", bad.with_suffix("")],
    "new --from": lambda bad, ok: ["new", ok.parent / "made", "--from", bad.with_suffix("")],
    "watch -t": lambda bad, ok: ["watch", ok, "-t", bad.with_suffix(".docx")],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_says_what_is_wrong_with_a_path(run: Run, tmp_path: Path,
                                                      command: str) -> None:
    ok = tmp_path / "ok.yaml"
    ok.write_text(yaml.safe_dump(LETTER), encoding="utf-8")
    for kind, bad in _bad_paths(tmp_path).items():
        arguments = COMMANDS[command](bad, ok)
        result = run(*arguments)  # a traceback would raise here
        assert result.exit_code != 0, (kind, arguments, result.output)
        shown = next(str(a) for a in arguments if str(a).startswith(str(bad.with_suffix(""))))
        assert "error" in result.output.lower(), (kind, result.output)
        assert shown in result.output or Path(shown).name in result.output, (kind,
                                                                            result.output)
        assert not (tmp_path / "out").exists()
        assert not (tmp_path / "made").exists()


def test_new_in_a_dangling_link_or_under_a_file_is_a_message(run: Run, tmp_path: Path) -> None:
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    result = run("new", tmp_path / "dangling")
    assert result.exit_code == 1
    assert result.output == (f"error: {tmp_path / 'dangling'}: a symbolic link to "
                             f"{tmp_path / 'nowhere'}, which does not exist; choose another "
                             "name or remove the link\n")
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    result = run("new", tmp_path / "a-file" / "deeper" / "mine")
    assert result.exit_code == 1
    assert result.output == (f"error: {tmp_path / 'a-file'}: a file, not a folder: the "
                             f"template folder {tmp_path / 'a-file' / 'deeper' / 'mine'} cannot "
                             "be made in it; choose another place\n")
    result = run("new", tmp_path / "a-file")  # click says so: a usage error
    assert result.exit_code == 2
    assert f"Directory '{tmp_path / 'a-file'}' is a file" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "dangling"]


@pytest.mark.skipif(ROOT, reason="root writes into read-only folders")
def test_new_in_a_read_only_folder_is_a_message_and_leaves_nothing(run: Run,
                                                                   tmp_path: Path) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = run("new", folder / "mine")
        assert result.exit_code == 1
        assert f"error: {folder}" in result.output
        assert "cannot create the template folder here: Permission denied" in result.output
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_new_from_a_template_with_a_fifo_copies_the_rest_and_never_blocks(tmp_path: Path
                                                                         ) -> None:
    source = _template(tmp_path)
    (source / "locales" / "ja" / "LC_MESSAGES" / "extra").mkdir()
    _fifo(source / "locales" / "ja" / "LC_MESSAGES" / "queue.po")
    written = new_template(tmp_path / "copy", str(source))
    assert not (tmp_path / "copy" / "locales" / "ja" / "LC_MESSAGES" / "queue.po").exists()
    assert tmp_path / "copy" / "letter.docx" in written
    with pytest.raises(OutputError, match="already exists"):
        new_template(tmp_path / "copy", str(source))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".drafter-")]


def test_watch_with_an_unknown_template_is_a_message(run: Run, tmp_path: Path) -> None:
    data = tmp_path / "letter.yaml"
    data.write_text(yaml.safe_dump(LETTER), encoding="utf-8")
    for template in ("nosuch", tmp_path / "nosuch.docx", tmp_path):
        result = run("watch", data, "-t", template, "-o", tmp_path / "out")
        assert result.exit_code == 1
        assert result.output.startswith("error: 1 problem found:\n  "), result.output
        assert not (tmp_path / "out").exists()
