"""The authoring commands end to end: `drafter check`, `vars`, `preview`, `watch` and `new`, as an
editor runs them, checked on what they print and the files they write."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import docx
import pytest
import yaml
from click.testing import Result

from drafter import load_letter

from .conftest import EXAMPLES, docx_text
from .test_authoring import BROKEN, read_by_rendering, without_signatory

Run = Callable[..., Result]

# Each corpus file: exit status, what the message says, where, and the paragraph as shown.
CORPUS = {
    "unclosed-if": (1, "{% if %} is never closed", "body paragraph 3", "»{%p if cc %}«"),
    "stray-endfor": (1, "{% endfor %} without a {% for %} before it", "body paragraph 4",
                     "»{%p endfor %}«"),
    "bad-expression": (1, "expected token 'name', got 'end of print statement'",
                       "body paragraph 3", "To »{{ recipient.name | }}«, by fax"),
    "unknown-filter": (1, "unknown filter 'format_dat'; did you mean 'format_date'?",
                       "body paragraph 3", "Written on »{{ date | format_dat }}« in New York"),
    "unknown-test": (1, "unknown test 'empty'", "body paragraph 3",
                     "»{% if cc is empty %}«No copies.{% endif %}"),
    "split-tag-revision": (1, "a tracked change (revision mark) inside it", "body paragraph 3",
                           "Attention: »{{ recipient.full_name }}«"),
    "split-tag-revision-end": (1, "the tag would swallow the paragraphs after it",
                               "body paragraph 3", "Attention: »{{ recipient.full_name }}«"),
    "smart-quotes": (0, "typographic double quotes in this tag (Word's AutoCorrect) are read "
                     "as plain ones", "body paragraph 3",
                     "Attention: »{{ recipient.title or “the Minister” }}«"),
    "smart-apostrophe": (1, "the apostrophe in 'It’s' would end the quoted text early",
                         "body paragraph 3", "»{{ ‘It’s urgent’ if cc else ‘’ }}«"),
    "paragraph-tag-with-text": (1, "the text 'Copies:' beside it would be lost",
                                "body paragraph 3", "Copies: »{%p if cc %}«"),
    "table-cell": (1, "unknown filter 'upper_case'; did you mean 'upper'?",
                   "body paragraph 8 (in a table)", "»{{ person.title | upper_case }}«"),
    "row-tag-with-text": (1, "the text 'Copy to:' in the same row would be lost",
                          "body paragraph 3 (in a table)", "»{%tr for person in cc %}«"),
    "footer": (1, "this tag is not closed: '{{' needs '}}' in the same paragraph",
               "footer paragraph 1", "»{{ sender.name }« · Page {{r page_x_of_y }}"),
    "nbsp": (0, "non-breaking spaces in this tag", "body paragraph 3",
             "»{%p\u00a0if cc\u00a0%}«"),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_check_names_the_mistake_its_paragraph_and_its_text(run: Run, name: str) -> None:
    status, message, where, text = CORPUS[name]
    result = run("check", BROKEN / f"{name}.docx")
    assert result.exit_code == status, result.output
    severity = "error" if status else "warning"
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{where}: {severity}: ")
    assert message in lines[0]
    assert lines[1] == f'    "{text}"'
    assert lines[2] == ("1 error, 0 warnings" if status else "0 errors, 1 warning")


@pytest.mark.parametrize("name", [n for n, (status, *_) in CORPUS.items() if not status])
def test_strict_makes_a_warning_exit_2(run: Run, name: str) -> None:
    assert run("check", BROKEN / f"{name}.docx", "--strict").exit_code == 2


def test_check_reports_three_errors_in_one_run(run: Run) -> None:
    result = run("check", BROKEN / "three-errors.docx")
    assert result.exit_code == 1
    assert result.output == (
        "body paragraph 3: error: unknown filter 'format_dat'; did you mean 'format_date'?\n"
        '    "Written on »{{ date | format_dat }}«"\n'
        "body paragraph 5: error: expected token 'name', got 'end of print statement'\n"
        '    "To »{{ recipient.name | }}«, by fax"\n'
        "body paragraph 7: error: {% if %} is never closed: add {% endif %} (docxtpl: "
        "{%p endif %} in a paragraph of its own)\n"
        '    "»{%p if cc %}«"\n'
        "3 errors, 0 warnings\n")


@pytest.mark.parametrize("name", [*sorted(CORPUS), "three-errors"])
def test_json_gives_the_same_findings_as_records(run: Run, name: str) -> None:
    text = run("check", BROKEN / f"{name}.docx")
    as_json = run("check", BROKEN / f"{name}.docx", "--json")
    assert as_json.exit_code == text.exit_code
    records = json.loads(as_json.output)
    printed = text.output.splitlines()[:-1]
    assert len(printed) == 2 * len(records)
    for record, (head, quoted) in zip(records, zip(printed[::2], printed[1::2], strict=True),
                                      strict=True):
        assert head == f"{record['where']}: {record['severity']}: {record['message']}"
        assert quoted == f'    "{record["text"]}"'
        assert set(record) >= {"severity", "kind", "part", "paragraph", "text", "message"}


def test_the_built_in_template_checks_clean_with_its_example(run: Run) -> None:
    data = EXAMPLES / "letter-en.yaml"
    for strict in ((), ("--strict",)):
        result = run("check", "advocacy-letter", "--data", data, *strict)
        assert result.exit_code == 0, result.output
        assert result.output == "0 errors, 0 warnings\n"
    assert json.loads(run("check", "advocacy-letter", "--data", data, "--json").output) == []


def test_unused_data_is_a_warning_and_strict_makes_it_exit_2(run: Run, tmp_path: Path) -> None:
    template = without_signatory(tmp_path)
    data = EXAMPLES / "letter-en.yaml"
    result = run("check", template, "--data", data)
    assert result.exit_code == 0
    line = data.read_text(encoding="utf-8").splitlines().index("  name: Sophie Richardson") + 1
    assert f"{data}:{line}:3: warning: the data's 'signatory.name' is not used by the " \
        "template" in result.output.splitlines()
    assert result.output.endswith("0 errors, 4 warnings\n")
    assert run("check", template, "--data", data, "--strict").exit_code == 2


def test_a_value_the_data_lacks_is_an_error_with_a_suggestion(run: Run) -> None:
    template = BROKEN / "unknown-value.docx"
    assert run("check", template).exit_code == 0
    result = run("check", template, "--data", EXAMPLES / "letter-en.yaml")
    assert result.exit_code == 1
    assert result.output.splitlines()[:2] == [
        "body paragraph 3: error: the template reads 'recipient.nickname', which the letter "
        "does not provide; did you mean 'recipient.name'?",
        '    "Dear »{{ recipient.nickname }}«,"']


def test_check_of_a_file_that_is_not_a_template(run: Run, tmp_path: Path) -> None:
    (tmp_path / "notes.docx").write_text("not a zip")
    result = run("check", tmp_path / "notes.docx")
    assert result.exit_code == 1
    assert "not a Word document (.docx)" in result.output


def test_a_damaged_part_is_an_error_not_a_traceback(run: Run, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.docx"
    with zipfile.ZipFile(BROKEN / "unknown-filter.docx") as source, \
            zipfile.ZipFile(damaged, "w") as target:
        for member in source.infolist():
            data = source.read(member)
            if member.filename == "word/document.xml":
                data = data.replace(b"</w:body>", b"</w:bod>")
            target.writestr(member, data)
    for command in ("check", "vars"):
        result = run(command, damaged)
        assert result.exit_code == 1
        assert "body: " in result.output
        assert "damaged (it is not well-formed XML); open it in Word or LibreOffice and save " \
            "it again" in result.output


# ---- vars ---------------------------------------------------------------------------------------

def _tree(output: str) -> dict[str, str]:
    """`drafter vars` output as {"cc.lines": "(in a condition, in a loop)"}."""
    paths: dict[str, str] = {}
    stack: list[str] = []
    for line in output.splitlines():
        depth = (len(line) - len(line.lstrip(" "))) // 2
        name, _, note = line.strip().partition("  ")
        stack[depth:] = [name.removesuffix("[]")]
        paths[".".join(stack)] = note
    return paths


def test_vars_lists_what_the_template_reads_and_nothing_else(run: Run) -> None:
    result = run("vars", "advocacy-letter")
    assert result.exit_code == 0
    listed = _tree(result.output)
    read = {path.replace("[]", "") for path in read_by_rendering(
        load_letter(EXAMPLES / "letter-en.yaml"))}
    assert set(listed) == read
    assert listed["sender.website"] == "(in a condition)"
    assert listed["recipient.lines"] == "(in a loop)"
    assert listed["cc.lines"] == "(in a condition, in a loop)"
    assert listed["subject"] == ""


def test_vars_of_a_broken_template_names_the_paragraph(run: Run) -> None:
    result = run("vars", BROKEN / "bad-expression.docx")
    assert result.exit_code == 1
    assert "body paragraph 3" in result.output and "recipient.name |" in result.output


# ---- preview ------------------------------------------------------------------------------------

def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.libreoffice
def test_preview_is_a_page_at_the_requested_resolution(run: Run, tmp_path: Path) -> None:
    letter = tmp_path / "letter.png"
    result = run("preview", EXAMPLES / "letter-en.yaml", "-r", "50", "-o", letter)
    assert result.exit_code == 0, result.output
    assert _png_size(letter) == (425, 550)  # US Letter, 8.5 × 11 in
    a4 = tmp_path / "a4.png"
    assert run("preview", EXAMPLES / "letter-en.yaml", "-r", "50", "-l", "en_GB",
               "-o", a4).exit_code == 0
    width, height = _png_size(a4)
    assert abs(width - 595.28 / 72 * 50) < 1 and abs(height - 841.89 / 72 * 50) < 1


@pytest.mark.libreoffice
def test_preview_all_writes_every_page_and_a_missing_page_is_an_error(
        run: Run, tmp_path: Path) -> None:
    result = run("preview", EXAMPLES / "letter-en.yaml", "--all", "-r", "20",
                 "-o", tmp_path / "page.png")
    assert result.exit_code == 0, result.output
    pages = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pages == ["page-1.png", "page-2.png"]
    assert all(_png_size(tmp_path / p) == (170, 220) for p in pages)
    result = run("preview", EXAMPLES / "letter-en.yaml", "--page", "9", "-o",
                 tmp_path / "nine.png")
    assert result.exit_code != 0
    assert "page 9 does not exist: the letter has 2 pages" in result.output
    assert not (tmp_path / "nine.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == pages  # nothing left behind


# ---- new ----------------------------------------------------------------------------------------

def test_new_scaffolds_a_template_that_renders_its_sample_unchanged(
        run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("new", "my-letter")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "my-letter"
    assert {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} >= {
        "letter.docx", "sample.yaml", "locales/messages.pot",
        "locales/en/LC_MESSAGES/messages.po", "locales/zh_Hans/LC_MESSAGES/messages.po"}
    assert run("check", "my-letter", "--data", "my-letter/sample.yaml",
               "--strict").exit_code == 0
    result = run("render", "my-letter/sample.yaml", "-t", "my-letter", "-o", "out", "-f", "docx")
    assert result.exit_code == 0, result.output
    text = docx_text(tmp_path / "out" / "sample.docx")
    assert "Dear President Xi Jinping," in text.splitlines()
    assert "{{" not in text and "{%" not in text


def test_new_refuses_a_folder_that_exists(run: Run, tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "letter.docx").write_bytes(b"my own work")
    result = run("new", folder)
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert (folder / "letter.docx").read_bytes() == b"my own work"
    assert [p.name for p in folder.iterdir()] == ["letter.docx"]


def test_new_from_an_unknown_template_creates_nothing(run: Run, tmp_path: Path) -> None:
    result = run("new", tmp_path / "mine", "--from", "no-such-template")
    assert result.exit_code == 1
    assert "no such template" in result.output
    assert not (tmp_path / "mine").exists()


# ---- watch --------------------------------------------------------------------------------------

def _subject_line(path: Path) -> str | None:
    try:
        document = docx.Document(str(path))
    except Exception:  # not written yet
        return None
    return next((p.text for p in document.paragraphs if p.text.startswith("Re:")), None)


def _wait_for(condition: Callable[[], bool], seconds: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        assert process.poll() is None, "drafter watch stopped"
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s")


def test_watch_renders_again_when_the_data_is_saved(tmp_path: Path) -> None:
    data = tmp_path / "letter.yaml"
    shutil.copy(EXAMPLES / "letter-en.yaml", data)
    output = tmp_path / "out" / "letter.docx"
    log = (tmp_path / "watch.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-c", "from drafter.cli import main; main()", "watch", "letter.yaml",
         "-o", "out", "-f", "docx"], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        _wait_for(lambda: _subject_line(output) is not None, 60, process)
        assert _subject_line(output) == "Re: Detention of Nine North Korean refugees"

        changed = yaml.safe_load(data.read_text(encoding="utf-8"))
        changed["subject"] = "Saved in place"
        data.write_text(yaml.safe_dump(changed, allow_unicode=True), encoding="utf-8")
        _wait_for(lambda: _subject_line(output) == "Re: Saved in place", 30, process)

        # As many editors save: a new file renamed over the old one.
        changed["subject"] = "Saved by renaming"
        (tmp_path / ".letter.yaml.swp").write_text(yaml.safe_dump(changed, allow_unicode=True),
                                                   encoding="utf-8")
        (tmp_path / ".letter.yaml.swp").replace(data)
        _wait_for(lambda: _subject_line(output) == "Re: Saved by renaming", 30, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
    assert (tmp_path / "watch.log").read_text().count("wrote out/letter.docx") == 3

