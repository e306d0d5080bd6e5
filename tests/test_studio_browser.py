"""The studio in a real browser (Debian's Chromium, driven by Playwright): the flows a user
goes through, end to end, with real LibreOffice behind the previews and the merge.

Screenshots of each page at the end of its flow go to ``out/screenshots/`` (or
``$STUDIO_SCREENSHOTS``), kept as test artifacts.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ROOT, RunningStudio, docx_text, pdf_text

pytestmark = [pytest.mark.browser, pytest.mark.libreoffice]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(os.environ.get("STUDIO_SCREENSHOTS") or ROOT / "out" / "screenshots")
LONG = 120_000  # ms: LibreOffice on a busy two-core machine


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if not Path(CHROMIUM).is_file() and not os.environ.get("CI"):
        pytest.skip("Chromium is not installed (./setup.sh installs it)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, studio: RunningStudio) -> Iterator[object]:
    context = chromium.new_context(accept_downloads=True, viewport={"width": 1360, "height": 900})
    context.set_default_timeout(30_000)
    tab = context.new_page()
    tab.goto(studio.url)  # the token, once: then the cookie
    yield tab
    context.close()


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_the_studio_opens_with_its_token_and_not_without(chromium, studio: RunningStudio) -> None:
    context = chromium.new_context()
    tab = context.new_page()
    refused = tab.goto(f"{studio.base}/draft")
    assert refused is not None and refused.status == 403
    assert "needs its token" in tab.inner_text("body")
    tab.goto(studio.url)
    assert tab.url == f"{studio.base}/"  # the token left the address bar
    assert tab.inner_text("h1") == f"Workspace {studio.workspace.name}"
    assert "letter-en.yaml" in tab.inner_text(".cards")
    tab.goto(f"{studio.base}/draft?data=letter-ko.yaml")  # the cookie carries on
    assert tab.locator("#yaml").input_value().startswith("# ")
    screenshot(tab, "1-home")
    context.close()


def test_draft_a_letter(page, studio: RunningStudio, tmp_path: Path) -> None:
    page.goto(f"{studio.base}/")
    page.click("text=letter-en.yaml")
    status = page.locator("#preview-status")
    status.filter(has_text="Up to date").wait_for(timeout=LONG)
    pages = page.locator("#pages img.page")
    assert pages.count() >= 1
    first = pages.first.get_attribute("src")

    # Break the date: the error shows at its line, as the CLI words it, and the pages wait.
    editor = page.locator("#yaml")
    text = editor.input_value()
    line = text.splitlines().index("date: 2015-11-24") + 1
    editor.fill(text.replace("date: 2015-11-24", "date: 2015-11-31"))
    marked = page.locator(f'#backdrop .line.error[data-line="{line}"]')
    marked.wait_for()
    assert "date: '2015-11-31' is not a date drafter reads (day value is outside" \
        in marked.inner_text()
    assert page.locator(f'#gutter .number.error[data-line="{line}"]').count() == 1
    assert page.locator("#problems li.error").inner_text().startswith(
        f"letter-en.yaml:{line}:1: date: '2015-11-31' is not a date drafter reads")
    status.filter(has_text="Fix the problems").wait_for()
    assert page.locator("#download-docx").is_disabled()
    page.click("#problems li.error")  # jumps to the line, and selects it
    assert page.evaluate("document.getElementById('yaml').selectionStart") == text.index(
        "date: 2015-11-24")
    screenshot(page, "2-draft-error")

    # Fix it, and change the subject as a user types: the error goes, the pages update.
    editor.fill(text.replace("subject: ", "subject: Urgent, ", 1))
    editor.press("End")
    status.filter(has_text="Up to date").wait_for(timeout=LONG)
    assert page.locator("#backdrop .line.error").count() == 0
    assert pages.first.get_attribute("src") != first

    with page.expect_download() as download:
        page.click("#download-docx")
    docx = tmp_path / download.value.suggested_filename
    download.value.save_as(docx)
    assert docx.name == "letter-en.docx"
    assert "Urgent, " in docx_text(docx)
    with page.expect_download(timeout=LONG) as download:
        page.click("#download-pdf")
    pdf = tmp_path / "letter-en.pdf"
    download.value.save_as(pdf)
    assert "Urgent," in pdf_text(pdf)
    screenshot(page, "3-draft")


def test_check_a_broken_template(page, studio: RunningStudio) -> None:
    template = studio.workspace / "templates" / "broken" / "watched.docx"
    shutil.copy(template.with_name("three-errors.docx"), template)
    page.goto(f"{studio.base}/check")
    page.select_option("#pick-template", "templates/broken/watched.docx")
    page.click("#check")
    findings = page.locator(".finding")
    assert page.inner_text("#check-summary").startswith("3 errors, 0 warnings")
    assert findings.count() == 3
    first = findings.first.inner_text()
    assert "body paragraph" in first
    assert page.locator(".finding blockquote mark").count() == 3  # each tag marked
    assert "listed once the template has no errors" in page.inner_text("#findings")

    # Word saves over the file: the page checks it again by itself.
    shutil.copy(template.with_name("unknown-filter.docx"), template.with_name(".~watched.tmp"))
    os.replace(template.with_name(".~watched.tmp"), template)
    page.locator('#findings[data-rechecked="1"]').wait_for(timeout=LONG)
    assert page.inner_text("#check-summary").startswith("1 error, 0 warnings")
    assert "unknown filter 'format_dat'; did you mean 'format_date'?" in page.inner_text(
        ".finding")
    assert page.inner_text(".finding mark") == "{{ date | format_dat }}"
    screenshot(page, "4-check-broken")

    page.goto(f"{studio.base}/check?template=advocacy-letter")
    assert page.inner_text("#check-summary").startswith("0 errors")
    tree = page.inner_text("#variables")
    assert "recipient" in tree and "in a loop" in tree
    screenshot(page, "5-check-variables")


def test_merge_the_campaign(page, studio: RunningStudio, tmp_path: Path) -> None:
    with (studio.workspace / "campaign" / "recipients.csv").open(encoding="utf-8") as f:
        count = len(list(csv.DictReader(f)))
    page.goto(f"{studio.base}/merge")
    page.select_option("#pick-case", "campaign/case.yaml")
    page.select_option("#pick-recipients", "campaign/recipients.csv")
    page.click("#validate")
    assert page.inner_text("#validation-summary").startswith(
        f"{count} records: {count} valid, 0 invalid")
    screenshot(page, "6-merge-validation")
    page.click("#start")
    page.locator("#job").wait_for()
    page.locator("#percent", has_text="100%").wait_for(timeout=4 * LONG)
    page.locator("#manifest").wait_for(timeout=LONG)
    assert page.get_attribute("#job", "data-state") == "done"
    rows = page.locator("#manifest tbody tr")
    assert rows.count() == count
    assert page.locator("#manifest .badge.written").count() == count
    screenshot(page, "7-merge-done")

    with page.expect_download() as download:
        page.click("#download-zip")
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    manifest = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode("utf-8"))))
    assert len(manifest) == count
    expected = {"manifest.csv"}
    for row in manifest:
        for kind in ("docx", "pdf"):
            expected.add(row[kind])
            assert hashlib.sha256(archive.read(row[kind])).hexdigest() == row[f"{kind}_sha256"]
    assert set(archive.namelist()) == expected
    assert (studio.workspace / "out" / "recipients" / "manifest.csv").is_file()

    with page.expect_download() as download:
        page.click("#download-combined-pdf")
    combined = tmp_path / "combined.pdf"
    download.value.save_as(combined)
    text = pdf_text(combined)
    assert "Xi Jinping" in text or "习近平" in text
