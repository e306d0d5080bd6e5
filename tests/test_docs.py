"""The documentation's examples, run: every command in README.md and docs/*.md, their Python
snippets, docs/api.md's doctests, and the example in each command's help.

Nothing is copied from the Markdown into this file: the examples are read out of it, so a doc
that drifts from the program fails here. Read from the Markdown are

- every line of a ```sh block (a ``\\`` continues it; `` # …`` is a comment), which must exit 0;
- every ``$ command`` line of another block (a transcript): drafter must understand it (no
  usage error, unless the transcript says ``(exit 2)``) and must not crash;
- every ```python block, run as a script;
- docs/api.md's ``>>>`` examples, run by doctest.

They all run in one folder, in the order a reader meets them (README.md first, then docs/ by
name), which holds what the examples name: a copy of ``data/examples/`` and ``templates/``,
``letter.yaml`` (the English example), the broken templates of the authoring guide. A command
given twice is run once. ``./setup.sh`` lines are not run here: they install system packages,
and CI runs ``./setup.sh test`` itself; nor are synopses, background servers and real sends
(:func:`not_run`).
"""

from __future__ import annotations

import contextlib
import doctest
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from drafter.cli import main

from .conftest import ROOT
from .test_authoring import without_signatory

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL = ("sh", "shell", "bash", "console")
_FENCE = re.compile(r"^(\s*)```\s*(\S*)\s*$")
_COMMENT = re.compile(r"\s+#(\s.*)?$")


@dataclass(frozen=True)
class Example:
    """A command (or a script) from the documentation, and where it is."""

    doc: str  # README.md, docs/mail-merge.md, or `drafter render --help`
    line: int
    kind: str  # "command", "transcript" or "python"
    text: str
    expected_exit: int | None = 0  # None: any status but a usage error (2)

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def markdown_examples(path: Path) -> list[Example]:
    """The commands and Python snippets of a Markdown file, in order."""
    doc = str(path.relative_to(ROOT))
    found: list[Example] = []
    fence: str | None = None
    block: list[tuple[int, str]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = _FENCE.match(line)
        if match and fence is None:
            fence, block = match.group(2), []
            continue
        if match:
            found += _block_examples(doc, fence or "", block)
            fence = None
            continue
        if fence is not None:
            block.append((number, line))
    return found


def _block_examples(doc: str, language: str, block: list[tuple[int, str]]) -> list[Example]:
    if language == "python":
        start = block[0][0] if block else 0
        return [Example(doc, start, "python", "\n".join(line for _, line in block))]
    examples: list[Example] = []
    text = "\n".join(line for _, line in block)
    exit_code = re.search(r"\(exit (\d+)\)", text)
    pending = ""
    start = 0
    for number, raw in block:
        line = raw.strip()
        if language in SHELL:
            command = _COMMENT.sub("", line)
        elif line.startswith("$ "):
            command = _COMMENT.sub("", line[2:])
        elif pending:
            command = line
        else:
            continue
        if not pending:
            start = number
        if command.endswith("\\"):
            pending += command[:-1].strip() + " "
            continue
        command, pending = (pending + command).strip(), ""
        if not command or command.startswith(("#", "./setup.sh")) or not_run(command):
            continue
        if language in SHELL:
            examples.append(Example(doc, start, "command", command))
        else:
            examples.append(Example(doc, start, "transcript", command,
                                    int(exit_code.group(1)) if exit_code else None))
    return examples


_PLACEHOLDER = re.compile(r"^\[|^[A-Z][A-Z_]+(\.[a-z]+)?$")  # [-q], OUTDIR, CASE.yaml


def not_run(command: str) -> bool:
    """Lines of a sh block that are not examples to run: a synopsis (``drafter send OUTDIR
    [--limit N]``), a server started in the background (``… &``), and a send for real
    (``drafter send … --send``), which would mail the addresses of the example campaign
    (sending is tested against a real SMTP server on loopback in tests/test_send.py)."""
    words = command.split()
    return (any(_PLACEHOLDER.match(word) for word in words) or command.endswith("&")
            or (words[:2] == ["drafter", "send"] and "--send" in words))


def help_examples() -> list[Example]:
    """The example at the end of each command's help."""
    examples = []
    for name in sorted(main.commands):
        text = CliRunner().invoke(main, [name, "--help"]).output
        match = re.search(r"Example:\n\s+(drafter .+)\n", text)
        if match:
            examples.append(Example(f"drafter {name} --help", 0, "command", match.group(1)))
    return examples


def all_examples() -> list[Example]:
    return [e for doc in DOCS for e in markdown_examples(doc)] + help_examples()


@dataclass
class Outcome:
    exit_code: int
    output: str


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the examples run in, holding what they name."""
    folder = tmp_path_factory.mktemp("docs")
    shutil.copytree(ROOT / "data", folder / "data")
    shutil.copytree(ROOT / "templates", folder / "templates")
    shutil.copytree(ROOT / "drafter", folder / "drafter",  # what `pybabel extract .` reads
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("letter.yaml", "letter-en.yaml"):
        shutil.copy(ROOT / "data" / "examples" / "letter-en.yaml", folder / name)
    for docx in (ROOT / "tests" / "templates" / "broken").glob("*.docx"):
        shutil.copy(docx, folder / docx.name)
    without_signatory(folder)
    return folder


@pytest.fixture(scope="session")
def outcomes(workspace: Path) -> dict[Example, Outcome]:
    """Every example run once, in order, in the workspace."""
    results: dict[Example, Outcome] = {}
    by_text: dict[str, Outcome] = {}
    saved = {name: os.environ.get(name) for name in ("HOME", "XDG_CONFIG_HOME")}
    # `drafter mail` and `send` read the user's config file: the workspace's (none) instead.
    os.environ.update(HOME=str(workspace), XDG_CONFIG_HOME=str(workspace / ".config"))
    with contextlib.chdir(workspace):
        for example in all_examples():
            if example.kind == "python":
                results[example] = _run_python(example.text)
            elif example.text in by_text:
                results[example] = by_text[example.text]
            else:
                results[example] = by_text[example.text] = _run_command(example.text)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return results


def _run_python(source: str) -> Outcome:
    try:
        exec(compile(source, "<example>", "exec"), {"__name__": "__example__"})
    except Exception as e:  # the example's failure, shown as the test's message
        return Outcome(1, f"{type(e).__name__}: {e}")
    return Outcome(0, "")


def _run_command(command: str) -> Outcome:
    words = shlex.split(command)
    if words[:2] == ["drafter", "watch"]:
        return _run_until(words, ("wrote", "error"))
    if words[:2] == ["drafter", "studio"]:
        return _run_until(words, ("http://",))
    if words[0] == "drafter":
        result = CliRunner().invoke(main, words[1:])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception  # a traceback is a failure whatever the example expects
        return Outcome(result.exit_code, result.output)
    program = shutil.which(words[0], path=str(Path(sys.executable).parent)) or words[0]
    done = subprocess.run([program, *words[1:]], capture_output=True, text=True, timeout=300,
                          check=False)
    return Outcome(done.returncode, done.stdout + done.stderr)


def _run_until(words: list[str], starts: tuple[str, ...]) -> Outcome:
    """A command that runs until stopped (a watch renders once, the studio prints its
    address), then stopped as a user stops it (SIGTERM, as Ctrl-C). ``~`` is the workspace,
    and no browser is opened (``BROWSER=true``: the program that does nothing)."""
    program = Path(sys.executable).parent / "drafter"
    home = Path.cwd()
    args = [str(home / word[2:]) if word.startswith("~/") else word for word in words[1:]]
    if words[1] == "studio":  # its workspace folder is the user's: made here if it is not
        for arg in args[1:]:
            if not arg.startswith("-") and not arg.isdigit():
                Path(arg).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "BROWSER": "true", "HOME": str(home)}
    with subprocess.Popen([str(program), *args], stdout=subprocess.PIPE, env=env,
                          stderr=subprocess.STDOUT, text=True) as process:
        assert process.stdout is not None
        lines = []
        deadline = time.monotonic() + 240
        for line in process.stdout:
            lines.append(line)
            if line.startswith(starts) or time.monotonic() > deadline:
                break
        process.send_signal(signal.SIGTERM)
        lines += process.stdout.readlines()
        status = process.wait(timeout=60)
    output = "".join(lines)
    started = any(line.startswith(starts) for line in lines) and "error" not in output
    return Outcome(0 if started and status in (0, 130, -signal.SIGTERM) else status or 1,
                   output)


def test_the_docs_have_examples() -> None:
    examples = all_examples()
    kinds = {e.kind for e in examples}
    assert kinds == {"command", "transcript", "python"}
    quick_start = [e for e in examples if e.doc == "README.md"][:3]
    assert any(e.text.startswith("drafter render") for e in quick_start), quick_start
    assert len(help_examples()) == len(main.commands)  # every command's help has one


@pytest.mark.libreoffice
@pytest.mark.parametrize("example", all_examples(), ids=lambda e: e.id)
def test_each_example_runs(example: Example, outcomes: dict[Example, Outcome]) -> None:
    outcome = outcomes[example]
    if example.expected_exit is None:
        assert outcome.exit_code != 2, f"{example.text}\n{outcome.output}"
    else:
        assert outcome.exit_code == example.expected_exit, f"{example.text}\n{outcome.output}"


@pytest.mark.libreoffice
def test_the_api_page_examples(workspace: Path, outcomes: dict[Example, Outcome]) -> None:
    """docs/api.md's ``>>>`` examples, by doctest, in the workspace (after the commands, so
    that what they read exists)."""
    # A fence closing a block would be read as the last example's output: blank it out.
    text = re.sub(r"^\s*```.*$", "", (ROOT / "docs" / "api.md").read_text(encoding="utf-8"),
                  flags=re.MULTILINE)
    test = doctest.DocTestParser().get_doctest(text, {}, "docs/api.md", "docs/api.md", 0)
    assert len(test.examples) >= 10
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    with contextlib.chdir(workspace):
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


def test_the_wheel_has_a_readme_for_pypi() -> None:
    """The package's long description is a page of its own: the repository README's
    ``./setup.sh`` and relative links mean nothing on PyPI."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    page = (ROOT / project["readme"]).read_text(encoding="utf-8")
    assert project["readme"] != "README.md"
    assert "setup.sh" not in page
    links = re.findall(r"\]\(([^)]+)\)", page)
    assert all(link.startswith("https://") for link in links), links
    assert "pip install drafter" in page and "drafter doctor" in page
