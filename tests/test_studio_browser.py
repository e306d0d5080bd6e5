"""The studio in a real browser (Debian's Chromium, driven by Playwright): the flows a user
goes through, end to end, with real LibreOffice behind the previews and the merge.

Screenshots of each page at the end of its flow go to ``out/screenshots/`` (or
``$STUDIO_SCREENSHOTS``), kept as test artifacts; pytest says where at the end of its run.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import ROOT, SCREENSHOTS, RunningStudio, docx_text, pdf_text

pytestmark = [pytest.mark.browser, pytest.mark.libreoffice]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
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
    screenshot(tab, "1-home")
    tab.goto(f"{studio.base}/draft?data=letter-ko.yaml")  # the cookie carries on
    assert tab.locator("#yaml").input_value().startswith("# ")
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


def test_draft_with_the_form_of_the_templates_fields(page, studio: RunningStudio) -> None:
    """The urgent appeal's own fields (a case number, a table of people, a deadline) and the
    built-in ones, as a form: each edit goes into the YAML (comments kept) and the pages; a
    problem shows at its field; an edit of the YAML shows in the form."""
    shutil.copy(ROOT / "templates" / "urgent-appeal" / "sample.yaml",
                studio.workspace / "appeal.yaml")
    page.goto(f"{studio.base}/draft?data=appeal.yaml&template=urgent-appeal")
    status = page.locator("#preview-status")
    status.filter(has_text="Up to date").wait_for(timeout=LONG)
    first = page.locator("#pages img.page").first.get_attribute("src")
    page.click("#tab-form")
    form = page.locator("#letter-form")
    page.locator('#letter-form[data-loaded="1"]').wait_for()
    assert page.locator("#editor").is_hidden()
    case_number = form.locator('input[data-field="case_number"]')
    assert case_number.input_value() == "2024-Hyeong-1187"
    field = form.locator('label.field:has(input[data-field="case_number"])')
    assert field.locator("abbr.required").count() == 1  # required, marked
    assert "The case or file number the appeal is about" in field.inner_text()
    people = form.locator('fieldset[data-field="people"]')
    assert people.locator("tbody tr").count() == 3
    assert people.locator("thead").inner_text().split("\n")[0] == "Name*"
    assert form.locator('input[data-field="date"]').get_attribute("type") == "date"
    assert form.locator('select[data-field="paper"] option').all_inner_texts() == [
        "(default)", "A4", "Letter"]
    for control in form.locator("input, select, textarea").all():  # every control labelled
        assert control.get_attribute("aria-label"), control.evaluate("e => e.outerHTML")

    # A cell of the table: the YAML changes at that line only, then the pages.
    yaml = page.locator("#yaml")
    before = yaml.input_value()
    form.locator('input[data-field="people[1].detained_on"]').fill("2024-02-27")
    expect(yaml).to_have_value(re.compile("detained_on: 2024-02-27"))
    changed = [(a, b) for a, b in zip(before.splitlines(), yaml.input_value().splitlines(),
                                      strict=True) if a != b]
    assert changed == [("    detained_on: 2024-02-26", "    detained_on: 2024-02-27")]
    expect(page.locator("#pages img.page").first).not_to_have_attribute("src", first or "",
                                                                        timeout=LONG)
    status.filter(has_text="Up to date").wait_for(timeout=LONG)

    # A required field emptied: the CLI's message at the field, the pages wait.
    case_number.fill("")
    problem = form.locator('.field-problem[data-problem-for="case_number"]')
    problem.wait_for(timeout=LONG)
    assert problem.inner_text() == "required field is missing"
    assert case_number.get_attribute("aria-invalid") == "true"
    status.filter(has_text="Fix the problems").wait_for()
    assert "case_number:" not in yaml.input_value()
    case_number.fill("2024-Hyeong-1190")
    problem.wait_for(state="detached", timeout=LONG)
    status.filter(has_text="Up to date").wait_for(timeout=LONG)
    lines = yaml.input_value().splitlines()
    assert lines[lines.index("case_number: 2024-Hyeong-1190") - 1].startswith("subject:")

    # A row added to the table, filled in.
    people.locator("button.add").click()
    page.locator('#letter-form[data-loaded="2"]').wait_for()
    form.locator('input[data-field="people[3].name"]').fill("Kang Min")
    form.locator('input[data-field="people[3].detained_on"]').fill("2024-03-01")
    expect(yaml).to_have_value(re.compile("  - name: Kang Min\n    detained_on: 2024-03-01\n\n"
                                          "body:"))
    status.filter(has_text="Up to date").wait_for(timeout=LONG)
    screenshot(page, "8-draft-form")

    # The YAML edited by hand: the form shows it, a bad date as text with its problem.
    page.click("#tab-yaml")
    assert yaml.input_value().startswith("# Sample data for the urgent-appeal template")
    yaml.fill(yaml.input_value().replace("Choi Hana", "Choi Ha-na").replace(
        "detained_on: 2024-02-28", "detained_on: 2024-02-31"))
    status.filter(has_text="Fix the problems").wait_for(timeout=LONG)
    page.click("#tab-form")
    page.locator('#letter-form[data-loaded="3"]').wait_for()
    assert form.locator('input[data-field="people[2].name"]').input_value() == "Choi Ha-na"
    bad = form.locator('input[data-field="people[2].detained_on"]')
    assert bad.get_attribute("type") == "text" and bad.input_value() == "2024-02-31"
    note = form.locator('.field-problem[data-problem-for="people[2].detained_on"]')
    note.wait_for()
    assert note.inner_text().startswith("'2024-02-31' is not a date drafter reads (day value "
                                        "is outside expected range)")  # the CLI's words
    bad.fill("2024-02-28")
    note.wait_for(state="detached", timeout=LONG)
    status.filter(has_text="Up to date").wait_for(timeout=LONG)
    form.locator('fieldset[data-field="people"]').scroll_into_view_if_needed()
    screenshot(page, "9-draft-form-table")


def long_recipients(studio: RunningStudio, name: str, copies: int) -> int:
    """The campaign's recipients, ``copies`` times over (each copy its own ids), as
    campaign/NAME.csv; returns the number of records."""
    with (studio.workspace / "campaign" / "recipients.csv").open(encoding="utf-8",
                                                                 newline="") as f:
        rows = list(csv.DictReader(f))
    out = io.StringIO()
    writer = csv.DictWriter(out, list(rows[0]))
    writer.writeheader()
    for copy in range(copies):
        for row in rows:
            writer.writerow({**row, "id": row["id"] + (f"-{copy + 1}" if copy else "")})
    (studio.workspace / "campaign" / f"{name}.csv").write_text(out.getvalue(),
                                                               encoding="utf-8")
    return len(rows) * copies


def start_merge(page, studio: RunningStudio, recipients: str, pdf: bool = True) -> None:
    page.goto(f"{studio.base}/merge")
    page.select_option("#pick-case", "campaign/case.yaml")
    page.select_option("#pick-recipients", f"campaign/{recipients}.csv")
    page.click("#validate")
    if not pdf:
        page.uncheck("input[name=format-pdf]")
        page.uncheck("input[name=combine]")
    page.click("#start")
    page.locator("#job").wait_for()


def test_cancel_a_long_merge(page, studio: RunningStudio) -> None:
    total = long_recipients(studio, "long-recipients", 3)
    start_merge(page, studio, "long-recipients")
    expect(page.locator("#progress-text")).to_have_text(re.compile(r"^[1-9]\d* of "),
                                                        timeout=4 * LONG)
    page.click("#cancel")
    page.locator("#job-cancelled").wait_for(timeout=LONG)
    assert page.get_attribute("#job", "data-state") == "cancelled"
    said = page.inner_text("#job-cancelled")
    assert said.startswith("Cancelled: only complete letters were kept.")
    assert "start the merge again to finish it" in said
    outdir = studio.workspace / "out" / "long-recipients"
    with (outdir / "manifest.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    statuses = [row["status"] for row in rows]
    assert set(statuses) <= {"written", "interrupted"} and "written" in statuses
    assert len(rows) < total or "interrupted" in statuses  # it stopped before the end
    listed = {"manifest.csv"}
    for row in rows:
        if row["status"] == "written":
            for kind in ("docx", "pdf"):
                listed.add(row[kind])
                assert hashlib.sha256((outdir / row[kind]).read_bytes()).hexdigest() == \
                    row[f"{kind}_sha256"]
        else:  # no PDF; the DOCX that was asked for, when it was made, complete
            assert row["pdf"] == "" and row["error"] == "the run was stopped"
            if row["docx"]:
                listed.add(row["docx"])
                assert docx_text(outdir / row["docx"])  # a whole Word file
    # no partial file: only the letters the manifest names (and the merge's own records)
    left = {p.name for p in outdir.iterdir() if not p.name.startswith(".")}
    assert left <= listed | {"combined.pdf"} and not (left - listed), left - listed
    assert page.locator("#manifest tbody tr").count() == len(rows)
    interrupted = statuses.count("interrupted")
    assert f"{statuses.count('written')} letter" in said and f"{interrupted} interrupted" in said
    screenshot(page, "10-merge-cancelled")


def test_email_the_letters_and_send_them_paced(page, studio: RunningStudio) -> None:
    """After a merge: drafts reviewed (To, Cc, Bcc, subject, attachment), one opened; a paced
    send over STARTTLS with a login to a real SMTP server, watched, cancelled, resumed: each
    message arrives once, and the password is nowhere on disk."""
    import ssl

    from .smtp_server import smtp_server

    long_recipients(studio, "recipients-to-email", 1)
    start_merge(page, studio, "recipients-to-email", pdf=False)
    page.locator("#manifest").wait_for(timeout=4 * LONG)
    page.click("#email-letters")
    page.fill("#mail-from", "Human Rights Watch <asia@hrw.example.org>")
    assert page.locator("#drafts").count() == 0  # nothing to review before the drafts
    page.uncheck("input[name=attach-pdf]")
    page.check("input[name=attach-docx]")
    page.click("#make-drafts")
    drafts = page.locator("#drafts tbody tr")
    drafts.first.wait_for()
    assert drafts.count() == 16
    assert page.input_value("#mail-from") == "Human Rights Watch <asia@hrw.example.org>"
    assert page.inner_text("#plan").startswith("12 to send, 0 sent before, 0 uncertain, "
                                               "4 not emailed")
    li = page.locator('#drafts tr[data-id="li-liguo"] td').all_inner_texts()
    assert li[2] == "李立国 <office@mca-gov-cn.example.org>"
    assert li[3] == "郭声琨 <gabzfwz@mps.gov.cn>"
    assert li[4] == "campaign-archive@hrw.example.org"
    assert li[5] == "九名朝鲜难民遭拘押一事" and li[6] == "li-liguo.docx"
    xi = page.locator('#drafts tr[data-id="xi-jinping"]').inner_text()
    assert "not emailed" in xi and "fax +86 10 6307 0900" in xi
    screenshot(page, "11-mail-drafts")
    page.locator('#drafts tr[data-id="li-liguo"] a', has_text="open").click()
    headers = page.inner_text("#message-headers")
    assert "Subject\t九名朝鲜难民遭拘押一事" in headers and "X-Unsent" not in headers
    assert page.inner_text("#message-text").startswith("尊敬的李立国部长：")
    assert page.locator("#attachments li").all_inner_texts() == ["li-liguo.docx"]
    screenshot(page, "12-mail-message")
    page.go_back()

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    studio.authority.issue_cert("127.0.0.1").configure_cert(context)
    password = "studio-Passw0rd-7"
    with smtp_server(tls=context, login=("campaigns", password)) as server:
        page.fill("#smtp-server", server.url)
        page.fill("#smtp-user", "campaigns")
        page.fill("#smtp-password", password)
        page.fill("#send-rate", "6")  # one message each 10 s: time to cancel
        page.click("#send")
        page.locator("#job").wait_for()
        page.locator("#progress-text", has_text="1 of 12 messages").wait_for(timeout=LONG)
        page.click("#cancel")
        page.locator("#job-cancelled").wait_for(timeout=LONG)
        assert page.inner_text("#job-cancelled").startswith(
            "Cancelled: the messages the server accepted are logged")
        sent_first = len(server.handler.received)
        assert 1 <= sent_first < 12
        delivery = page.locator("#manifest td.delivery .badge").all_inner_texts()
        assert delivery.count("sent") == sent_first and delivery.count("draft") >= 1

        # Again, unpaced: the rest go, each once; the Bcc gets it without a Bcc header.
        page.click("#review-drafts")
        assert page.inner_text("#plan").startswith(f"{12 - sent_first} to send, "
                                                   f"{sent_first} sent before")
        assert page.input_value("#smtp-server") == server.url  # as the last send had it
        assert page.input_value("#smtp-password") == ""  # never kept
        page.fill("#smtp-password", password)
        page.fill("#send-rate", "")
        page.click("#send")
        page.locator("#job-summary").wait_for(timeout=LONG)
        assert page.inner_text("#job-summary").startswith(
            f"{12 - sent_first} sent, 0 failed, 0 deferred, 0 uncertain, {sent_first} skipped")
        received = server.handler.by_id()
        assert len(received) == 12 and all(len(v) == 1 for v in received.values())
        assert all("campaign-archive@hrw.example.org" in item.rcpt_tos and
                   item.message["Bcc"] is None for item in server.handler.received)
        assert server.handler.logins == [("campaigns", password)] * 2
    assert page.locator("#manifest td.delivery .badge.sent").count() == 12
    assert "250 2.0.0 Queued" in page.inner_text("#manifest")
    screenshot(page, "13-send-done")
    for path in studio.workspace.rglob("*"):  # the password is nowhere on disk
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path
    assert password not in page.content()
