"""`drafter watch` and its module: real saves (in place, by renaming, of the template) bring
real renders; bad data is a message and the watch goes on; a bad start is a message and a
non-zero exit, never a traceback."""

from __future__ import annotations

import queue
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docx
import pytest
import yaml

from drafter import DataError, DrafterError, Problem
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
def watching(watch: Watch) -> Iterator[queue.Queue[tuple[str, Any]]]:
    """Run a watch in a thread; what it reports arrives in the queue."""
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()
    thread = threading.Thread(target=watch.run, kwargs={
        "on_render": lambda paths: events.put(("render", paths)),
        "on_warning": lambda warning: events.put(("warning", warning)),
        "on_problem": lambda error: events.put(("problem", error)),
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
    assert str(error) == f"1 problem found:\n  {missing}: cannot read the file: " \
        "No such file or directory"
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
