"""Shared fixtures: paths to the examples, a CLI runner, and readers for real outputs."""

from __future__ import annotations

import csv
import os
import re
import select
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docx
import pytest
import yaml
from click.testing import CliRunner, Result

from drafter.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "data" / "examples"
SOURCE_LETTER = ROOT / "tests" / "fixtures" / "source-letter" / "letter.txt"


# Where the studio's browser tests keep their screenshots (test artifacts, ignored by git).
SCREENSHOTS = Path(os.environ.get("STUDIO_SCREENSHOTS") or ROOT / "out" / "screenshots")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say where the browser tests' screenshots are, when this run took some."""
    if any(r.nodeid.startswith("tests/test_studio_browser.py")
           for reports in terminalreporter.stats.values() for r in reports
           if hasattr(r, "nodeid")) and SCREENSHOTS.is_dir():
        terminalreporter.write_line(f"studio screenshots: {SCREENSHOTS}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # In CI the setup installs LibreOffice; a missing one must fail there, not skip quietly.
    if shutil.which("soffice") or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason="LibreOffice (soffice) is not installed")
    for item in items:
        if "libreoffice" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cache folder of the test session's own: LibreOffice profiles that merges keep there
    are shared by the tests, never by the user's own drafter runs."""
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield Path(os.environ["XDG_CACHE_HOME"])
    if previous is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = previous


@pytest.fixture
def run() -> Callable[..., Result]:
    """Run the ``drafter`` CLI in-process; returns click's result (exit code, output)."""
    def invoke(*args: str | Path) -> Result:
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return invoke


@pytest.fixture
def example_data() -> dict:
    """The English example letter as plain data, to change in a test."""
    return yaml.safe_load((EXAMPLES / "letter-en.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def write_data(tmp_path: Path) -> Callable[..., Path]:
    """Write letter data (a dict, or YAML text) to a file in tmp_path."""
    def write(data: dict | str, name: str = "letter.yaml") -> Path:
        path = tmp_path / name
        text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True)
        path.write_text(text, encoding="utf-8")
        return path
    return write


# Merge cases: the shared part of a letter, without a recipient.
SHORT_CASE = """\
date: 2015-11-24
sender: {name: Human Rights Watch}
subject: Detention of refugees
body: [We write to you.]
signatory: {name: Sophie Richardson}
"""
LINKED_CASE = """\
date: 2015-11-24
sender: {name: Human Rights Watch, website: "https://www.hrw.org"}
subject: Detention of Nine North Korean refugees
body:
  - We write to request that you stop the forced return; see https://www.hrw.org/news/x.
signatory: {name: Sophie Richardson, title: China Director, organization: Human Rights Watch}
"""


@pytest.fixture
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A merge case file in tmp_path: the test module's ``CASE``, else :data:`SHORT_CASE`."""
    path = tmp_path / "case.yaml"
    path.write_text(getattr(request.module, "CASE", SHORT_CASE), encoding="utf-8")
    return path


def read_manifest(outdir: Path) -> list[dict[str, str]]:
    """The rows of a merge's manifest.csv."""
    with (outdir / "manifest.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def one_page_pdf(folder: Path) -> Path:
    """A real PDF of one blank Letter page, for stand-ins of LibreOffice to hand out."""
    from pypdf import PdfWriter
    page = folder / "page.pdf"
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    with page.open("wb") as f:
        writer.write(f)
    return page


def normalized(text: str) -> str:
    """Text with every run of whitespace made one space."""
    return re.sub(r"\s+", " ", text).strip()


def docx_text(path_or_bytes: Path | bytes) -> str:
    """The visible text of a DOCX's body, paragraph by paragraph, as python-docx reads it."""
    import io
    source = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    document = docx.Document(source)
    return "\n".join(p.text for p in document.paragraphs)


def pdf_text(path: Path) -> str:
    """The text of a PDF as poppler's pdftotext reads it in content order (-raw keeps hyphens).

    A line that wraps after a hyphen ("rights-|respecting") is joined without a space: the
    letters are not hyphenated, so every such hyphen is the text's own.
    """
    text = subprocess.run(["pdftotext", "-raw", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout
    return re.sub(r"(?<=\w)-\n(?=\w)", "-", text)


def source_lines(first: str = "President Xi Jinping") -> list[str]:
    """The source letter's lines from ``first`` to the end, blank lines left out."""
    lines = [line.strip() for line in SOURCE_LETTER.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line]
    return lines[lines.index(first):]


def assert_in_order(lines: list[str], text: str) -> None:
    """Every line occurs in the text, whitespace-normalized, each after the one before."""
    haystack = normalized(text)
    position = 0
    for line in lines:
        found = haystack.find(normalized(line), position)
        assert found >= 0, f"missing or out of order: {line!r}"
        position = found + len(normalized(line))


@dataclass
class RunningStudio:
    """A ``drafter studio`` started as a user starts it, on a workspace of its own."""

    url: str  # the first line it printed: http://127.0.0.1:PORT/?token=…
    base: str  # http://127.0.0.1:PORT
    workspace: Path
    process: subprocess.Popen[str]
    authority: Any  # a trustme.CA the studio trusts: SMTP servers' certificates for sends


@pytest.fixture(scope="session")
def studio(tmp_path_factory: pytest.TempPathFactory,
           private_cache: Path) -> Iterator[RunningStudio]:
    """The studio on a workspace holding the example letters, the campaign and a few broken
    templates; stopped (Ctrl-C) at the end of the session."""
    workspace = tmp_path_factory.mktemp("workspace")
    for example in EXAMPLES.glob("letter-*.yaml"):
        shutil.copy(example, workspace)
    shutil.copytree(EXAMPLES / "campaign", workspace / "campaign")
    broken = workspace / "templates" / "broken"
    broken.mkdir(parents=True)
    for name in ("three-errors.docx", "unknown-filter.docx", "smart-quotes.docx"):
        shutil.copy(ROOT / "tests" / "templates" / "broken" / name, broken)
    program = Path(sys.executable).with_name("drafter")
    private = tmp_path_factory.mktemp("studio-log")
    log = (private / "stderr.txt").open("w")
    import trustme
    authority = trustme.CA()
    authority.cert_pem.write_to_path(str(private / "ca.pem"))
    # Never the user's config file or SMTP settings; certificates signed by the test's CA.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DRAFTER_SMTP_")}
    environment.update(DRAFTER_CONFIG=str(private / "no-config.toml"),
                       SSL_CERT_FILE=str(private / "ca.pem"))
    process = subprocess.Popen([str(program), "studio", str(workspace), "--no-browser"],
                               stdout=subprocess.PIPE, stderr=log, text=True, env=environment)
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 60)
    assert ready, "the studio printed nothing within 60 s"
    url = process.stdout.readline().strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?token=[\w-]{40,}", url), url
    try:
        yield RunningStudio(url, url.split("/?", 1)[0], workspace, process, authority)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
