"""`drafter watch` and its module: real saves (in place, by renaming, of the template) bring
real renders; bad data is a message and the watch goes on; a bad start is a message and a
non-zero exit, never a traceback."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docx
import pytest
import yaml

from drafter import ConversionError, DataError, DrafterError, Problem
from drafter.template import builtin_templates_dir
from drafter.watch import Watch

from .conftest import EXAMPLES

WAIT = 60  # seconds: a safety net for a stuck watch, not a measure of speed


@pytest.fixture
def letter(tmp_path: Path) -> Path:
    path = tmp_path / "letter.yaml"
    shutil.copy(EXAMPLES / "letter-en.yaml", path)
    return path


@pytest.fixture
def template(tmp_path: Path) -> Path:
    copy = tmp_path / "my-template"
    shutil.copytree(builtin_templates_dir() / "advocacy-letter", copy)
    return copy


@contextmanager
def watching(watch: Watch, on_notice: Callable[[str], None] | None = None
             ) -> Iterator[queue.Queue[tuple[str, Any]]]:
    """Run a watch in a thread; what it reports arrives in the queue."""
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()
    thread = threading.Thread(target=watch.run, kwargs={
        "on_render": lambda paths: events.put(("render", paths)),
        "on_warning": lambda warning: events.put(("warning", warning)),
        "on_problem": lambda error: events.put(("problem", error)),
        "on_notice": on_notice or (lambda _: None),
        "stop": stop})
    thread.start()
    try:
        yield events
    finally:
        stop.set()
        thread.join(WAIT)
    assert not thread.is_alive(), "the watch did not stop"


def next_outcome(events: queue.Queue[tuple[str, Any]]) -> tuple[str, Any, list[Problem]]:
    """The next render or problem, with the warnings that came before it."""
    warnings = []
    while True:
        kind, value = events.get(timeout=WAIT)
        if kind == "warning":
            warnings.append(value)
        else:
            return kind, value, warnings


def subject(path: Path) -> str:
    return next(p.text for p in docx.Document(str(path)).paragraphs if p.text.startswith("Re:"))


def save(path: Path, subject_line: str, *, by_renaming: bool = False) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["subject"] = subject_line
    text = yaml.safe_dump(data, allow_unicode=True)
    if by_renaming:  # as vim and many editors save: a new file renamed over the old one
        swap = path.with_name(f".{path.name}.swp")
        swap.write_text(text, encoding="utf-8")
        swap.replace(path)
    else:
        path.write_text(text, encoding="utf-8")


def test_every_save_renders_the_letter_again(letter: Path, template: Path,
                                             tmp_path: Path) -> None:
    out = tmp_path / "out"
    watch = Watch(letter, out, template=template, formats=["docx"])
    with watching(watch) as events:
        kind, written, warnings = next_outcome(events)
        assert (kind, written) == ("render", [out / "letter.docx"])
        assert subject(out / "letter.docx") == "Re: Detention of Nine North Korean refugees"
        # The example prints a number as the source letter does, marked `as_given`: no warning.
        assert warnings == []

        save(letter, "Saved in place")
        assert next_outcome(events)[:2] == ("render", [out / "letter.docx"])
        assert subject(out / "letter.docx") == "Re: Saved in place"

        save(letter, "Saved by renaming", by_renaming=True)
        assert next_outcome(events)[:2] == ("render", [out / "letter.docx"])
        assert subject(out / "letter.docx") == "Re: Saved by renaming"

        # The editor saves the template: the subject is now printed in capitals.
        document = docx.Document(str(template / "letter.docx"))
        (run,) = next(p for p in document.paragraphs if "subject=subject" in p.text).runs
        run.text = run.text.replace("subject=subject", "subject=subject | upper")
        document.save(str(template / "letter.docx"))
        assert next_outcome(events)[:2] == ("render", [out / "letter.docx"])
        assert subject(out / "letter.docx") == "Re: SAVED BY RENAMING"


def test_bad_data_is_reported_and_the_watch_goes_on(letter: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with watching(Watch(letter, out, formats=["docx"])) as events:
        assert next_outcome(events)[0] == "render"
        text = letter.read_text(encoding="utf-8")
        letter.write_text(text.replace("date: 2015-11-24", "date: 2015-13-24", 1),
                          encoding="utf-8")
        kind, error, _ = next_outcome(events)
        assert kind == "problem" and isinstance(error, DataError)
        (problem,) = error.problems
        assert (problem.location.file, problem.field) == (str(letter), "date")
        line = text[:text.index("date:")].count("\n") + 1
        assert str(problem).startswith(f"{letter}:{line}:1: date: ")
        # Nothing was written for the bad save: the last good letter stays.
        assert subject(out / "letter.docx") == "Re: Detention of Nine North Korean refugees"

        bad = letter.read_text(encoding="utf-8")
        letter.write_text(bad.replace("subject: Detention", "subject: Fixed. Detention", 1),
                          encoding="utf-8")
        assert next_outcome(events)[0] == "problem"  # the date is still 2015-13-24
        letter.write_text(letter.read_text(encoding="utf-8").replace("2015-13-24", "2015-11-24"),
                          encoding="utf-8")
        assert next_outcome(events)[:2] == ("render", [out / "letter.docx"])
        assert subject(out / "letter.docx") == "Re: Fixed. Detention of Nine North Korean refugees"


def test_only_changes_to_the_letter_and_its_template_count(letter: Path, template: Path,
                                                           tmp_path: Path) -> None:
    watch = Watch(letter, tmp_path / "out", template=template, formats=["docx"])
    assert watch.folders() == [tmp_path, template, template / "locales",
                               *sorted(p for p in (template / "locales").rglob("*")
                                       if p.is_dir())]
    assert watch.is_relevant(letter)
    assert watch.is_relevant(template / "letter.docx")
    assert watch.is_relevant(template / "locales" / "ko" / "LC_MESSAGES" / "messages.po")
    assert not watch.is_relevant(tmp_path / "other.yaml")
    assert not watch.is_relevant(template / "~$letter.docx")  # Word's lock file
    assert not watch.is_relevant(tmp_path / ".letter.yaml.swp")
    assert not watch.is_relevant(tmp_path / "out" / "letter.docx")  # its own output

    single = Watch(letter, tmp_path / "out", template=template / "letter.docx")
    assert single.watched_template == template / "letter.docx"
    assert single.folders() == [tmp_path, template]
    assert single.is_relevant(template / "letter.docx")
    assert not single.is_relevant(template / "locales" / "ko" / "LC_MESSAGES" / "messages.po")


def test_render_once_reports_instead_of_raising(tmp_path: Path) -> None:
    missing = tmp_path / "letter.yaml"
    problems: list[DrafterError] = []
    assert Watch(missing, tmp_path / "out").render_once(on_problem=problems.append) == []
    (error,) = problems
    assert str(error) == f"1 problem found:\n  {missing}: no such file"
    assert not (tmp_path / "out").exists()


def test_watch_with_an_unknown_template_is_a_message_and_an_exit(run, letter: Path,
                                                                 tmp_path: Path) -> None:
    result = run("watch", letter, "-t", "nosuch", "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert result.output.startswith("error: 1 problem found:\n  nosuch: no such template; "
                                    "built-in templates: advocacy-letter")
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_watch_of_a_file_in_no_folder_is_a_message_and_an_exit(run, tmp_path: Path) -> None:
    data = tmp_path / "nowhere" / "letter.yaml"
    result = run("watch", data, "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert result.output == (f"error: 1 problem found:\n  {data}: no such file, nor a folder "
                             "to watch for it\n")


# ---- PDFs from one LibreOffice kept running (issue 16, item 4) ------------------------------


def office_processes(profile: Path) -> list[int]:
    """The processes of the LibreOffice that uses ``profile``: found by the profile in their
    command line, never by name (other LibreOffices may run on this machine); not its
    watchdog (drafter/office_watchdog.py), which is drafter's."""
    uri = profile.resolve().as_uri()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue  # gone meanwhile
            if uri in command and "UserInstallation" in command and (
                    "office_watchdog" not in command):
                found.append(int(entry.name))
    return sorted(found)


def pdf_pages_text(path: Path) -> tuple[int, str]:
    from pypdf import PdfReader

    from .conftest import pdf_text
    return len(PdfReader(path).pages), " ".join(pdf_text(path).split())


@pytest.mark.libreoffice
def test_watch_converts_with_one_warm_libreoffice_as_the_cold_one_does(
        letter: Path, tmp_path: Path) -> None:
    from drafter.pdf import LibreOffice

    profile = tmp_path / "profile"
    out = tmp_path / "out"
    notices: list[str] = []
    watch = Watch(letter, out, formats=["pdf", "png"], profile=profile)
    with watching(watch, on_notice=notices.append) as events:
        kind, written, _ = next_outcome(events)
        assert (kind, written) == ("render", [out / "letter.pdf"])
        assert next_outcome(events)[:2] == ("render", [out / "letter-1.png", out / "letter-2.png"])
        (office,) = {os.getpgid(pid) for pid in office_processes(profile)}  # one, kept running
        warm = pdf_pages_text(out / "letter.pdf")

        save(letter, "Saved while watching")
        assert next_outcome(events)[:2] == ("render", [out / "letter.pdf"])
        assert "Re: Saved while watching" in pdf_pages_text(out / "letter.pdf")[1]
        assert next_outcome(events)[0] == "render"  # its pictures
        assert {os.getpgid(pid) for pid in office_processes(profile)} == {office}  # the same
    assert notices == []  # python3-uno is installed here: no word about a slower path
    assert office_processes(profile) == []  # stopped with the watch

    # The same letter, saved back, converted by a LibreOffice started for it alone.
    save(letter, "Detention of Nine North Korean refugees")
    Watch(letter, tmp_path / "cold", formats=["pdf"]).render_once()
    (cold,) = LibreOffice().convert([_docx_of(letter, tmp_path)], tmp_path / "cold-direct")
    assert pdf_pages_text(cold) == warm
    assert pdf_pages_text(tmp_path / "cold" / "letter.pdf") == warm


def _docx_of(letter: Path, tmp_path: Path) -> Path:
    Watch(letter, tmp_path / "docx", formats=["docx"]).render_once()
    return tmp_path / "docx" / "letter.docx"


@pytest.mark.libreoffice
def test_the_warm_libreoffice_writes_into_a_relative_folder(
        letter: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # as `drafter watch letter.yaml` writes into ./out
    watch = Watch(letter.name, "out", formats=["pdf"], profile=tmp_path / "profile")
    with watching(watch) as events:
        kind, written, _ = next_outcome(events)
        assert (kind, written) == ("render", [Path("out") / "letter.pdf"]), written
    assert "Re: Detention" in pdf_pages_text(tmp_path / "out" / "letter.pdf")[1]


@pytest.mark.libreoffice
def test_a_hang_or_a_crash_of_the_warm_libreoffice_is_reported_and_the_next_save_works(
        letter: Path, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    out = tmp_path / "out"
    # The time limit only bounds the hang below; the renders themselves are not timed.
    watch = Watch(letter, out, formats=["pdf"], profile=profile, timeout=20)
    with watching(watch) as events:
        assert next_outcome(events)[0] == "render"
        first = office_processes(profile)

        # LibreOffice hangs (stopped, as a hung process is): past the limit it is stopped.
        for pid in first:
            os.kill(pid, signal.SIGSTOP)
        save(letter, "Saved while LibreOffice hangs")
        kind, error, _ = next_outcome(events)
        assert kind == "problem" and isinstance(error, ConversionError)
        assert "LibreOffice took more than 20 s to convert letter.docx" in str(error)
        assert office_processes(profile) == []  # killed, every process of it
        assert "Re: Detention" in pdf_pages_text(out / "letter.pdf")[1]  # the last good PDF

        save(letter, "Saved after the hang")
        assert next_outcome(events)[:2] == ("render", [out / "letter.pdf"])
        assert "Re: Saved after the hang" in pdf_pages_text(out / "letter.pdf")[1]
        second = office_processes(profile)
        assert second and not set(second) & set(first)  # started afresh

        # LibreOffice crashes in the middle of a conversion.
        for pid in second:
            os.kill(pid, signal.SIGSTOP)
        save(letter, "Saved while LibreOffice crashes")
        time.sleep(1)  # the conversion has been asked for (a stopped LibreOffice cannot answer)
        for pid in second:
            os.kill(pid, signal.SIGKILL)
        kind, error, _ = next_outcome(events)
        assert kind == "problem" and isinstance(error, ConversionError)
        assert "LibreOffice stopped" in str(error)
        assert "Re: Saved after the hang" in pdf_pages_text(out / "letter.pdf")[1]

        save(letter, "Saved after the crash")
        assert next_outcome(events)[:2] == ("render", [out / "letter.pdf"])
        assert "Re: Saved after the crash" in pdf_pages_text(out / "letter.pdf")[1]
    assert office_processes(profile) == []


@pytest.mark.libreoffice
def test_the_warm_libreoffice_is_started_afresh_after_n_conversions(
        letter: Path, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    groups = []
    watch = Watch(letter, tmp_path / "out", formats=["pdf"], profile=profile, restart_after=2)
    with watching(watch) as events:
        for n in range(5):
            if n:
                save(letter, f"Save {n}")
            assert next_outcome(events)[0] == "render"
            groups.append({os.getpgid(pid) for pid in office_processes(profile)})
    assert all(len(group) == 1 for group in groups)
    first, second, third = groups[0], groups[2], groups[4]
    assert groups[1] == first and groups[3] == second  # two conversions each
    assert len(first | second | third) == 3
    assert office_processes(profile) == []


@pytest.mark.libreoffice
def test_without_python3_uno_the_watch_says_so_once_and_converts_cold(
        letter: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from drafter import pdf

    # No Python with LibreOffice's bridge: not this one (a venv), nor the system's.
    if subprocess.run([sys.executable, "-c", "import uno"], capture_output=True).returncode == 0:
        pytest.skip("this Python has LibreOffice's bridge")
    monkeypatch.setattr(pdf, "UNO_PYTHONS", ())
    notices: list[str] = []
    out = tmp_path / "out"
    with watching(Watch(letter, out, formats=["pdf"]), on_notice=notices.append) as events:
        assert next_outcome(events)[:2] == ("render", [out / "letter.pdf"])
        save(letter, "Saved without the bridge")
        assert next_outcome(events)[:2] == ("render", [out / "letter.pdf"])
        assert "Re: Saved without the bridge" in pdf_pages_text(out / "letter.pdf")[1]
    assert notices == ["LibreOffice's Python bridge (uno) is not installed, so every save "
                       "starts LibreOffice afresh; for faster PDFs: "
                       "sudo apt-get install python3-uno"]
