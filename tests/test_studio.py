"""The studio's HTTP layer, as a browser or a hostile page would meet it: token and cookie,
host check, cross-site requests, paths outside the workspace, size limits; the draft checks
give the CLI's messages at their lines; the merge validation table."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from drafter.studio.security import allowed_hosts
from drafter.studio.server import is_loopback

from .conftest import EXAMPLES, ROOT, RunningStudio


class Browser:
    """A minimal HTTP client that keeps the studio's cookie, as a browser does."""

    def __init__(self, studio: RunningStudio) -> None:
        parts = urllib.parse.urlsplit(studio.base)
        self.host, self.port = parts.hostname or "", parts.port or 80
        self.cookie = ""
        self.csrf = ""

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
        sent = {"Host": f"127.0.0.1:{self.port}", **({"Cookie": self.cookie} if self.cookie
                                                      else {}), **(headers or {})}
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        response.body = response.read()  # type: ignore[attr-defined]
        return response

    def login(self, studio: RunningStudio) -> None:
        response = self.request("GET", studio.url.split(str(self.port), 1)[1])
        self.cookie = response.headers["set-cookie"].split(";", 1)[0]
        page = self.request("GET", "/").body.decode()  # type: ignore[attr-defined]
        self.csrf = re.search(r'name="csrf-token" content="([^"]+)"', page)[1]  # type: ignore[index]

    def post_json(self, path: str, value: object, **headers: str) -> http.client.HTTPResponse:
        return self.request("POST", path, json.dumps(value).encode(), {
            "Content-Type": "application/json", "X-CSRF-Token": self.csrf, **headers})


@pytest.fixture
def browser(studio: RunningStudio) -> Browser:
    client = Browser(studio)
    client.login(studio)
    return client


def body(response: http.client.HTTPResponse) -> str:
    return response.body.decode()  # type: ignore[attr-defined]


def test_first_line_is_the_token_url_and_nothing_works_without_it(studio: RunningStudio) -> None:
    client = Browser(studio)
    for path in ("/", "/draft?data=letter-en.yaml", "/static/studio.js", "/check"):
        response = client.request("GET", path)
        assert response.status == 403, path
        assert "needs its token" in body(response)
    assert client.request("GET", "/?token=wrong").status == 403


def test_the_token_becomes_a_strict_http_only_cookie(studio: RunningStudio) -> None:
    client = Browser(studio)
    token_path = studio.url.split(str(client.port), 1)[1]
    response = client.request("GET", token_path.replace("/?", "/draft?data=letter-en.yaml&"))
    assert response.status == 303
    assert response.headers["location"] == "/draft?data=letter-en.yaml"  # the token is gone
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    client.cookie = cookie.split(";", 1)[0]
    page = client.request("GET", "/draft?data=letter-en.yaml")
    assert page.status == 200 and "Xi Jinping" in body(page)
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_other_host_names_are_refused(browser: Browser) -> None:
    """DNS rebinding: a site whose name now points at 127.0.0.1 sends its own Host."""
    for host in (f"evil.example:{browser.port}", "127.0.0.1", "localhost:1"):
        response = browser.request("GET", "/", headers={"Host": host})
        assert response.status == 400, host
    assert browser.request("GET", "/", headers={"Host": f"localhost:{browser.port}"}).status == 200
    assert allowed_hosts("127.0.0.1", 8000) == {"127.0.0.1:8000", "localhost:8000"}


def test_changes_need_the_csrf_token_and_the_same_origin(browser: Browser) -> None:
    draft = {"data": "letter-en.yaml", "template": "advocacy-letter",
             "text": (EXAMPLES / "letter-en.yaml").read_text(encoding="utf-8")}
    no_token = browser.request("POST", "/api/draft", json.dumps(draft).encode(),
                               {"Content-Type": "application/json"})
    assert no_token.status == 403 and "CSRF" in body(no_token)
    other_site = browser.post_json("/api/draft", draft, Origin="http://evil.example")
    assert other_site.status == 403
    cross = browser.post_json("/api/draft", draft, **{"Sec-Fetch-Site": "cross-site"})
    assert cross.status == 403
    saved = browser.post_json("/api/draft/save", {"data": "../stolen.yaml", "text": "x"})
    assert saved.status == 404 and "outside the workspace" in body(saved)
    ok = browser.post_json("/api/draft", draft, Origin=f"http://127.0.0.1:{browser.port}")
    assert ok.status == 200
    result = json.loads(body(ok))  # the example's odd fax number is marked `as_given`
    assert result["ok"] is True and result["problems"] == []


def test_paths_never_leave_the_workspace(browser: Browser, studio: RunningStudio,
                                         tmp_path: Path) -> None:
    outside = tmp_path / "secret.yaml"
    outside.write_text("recipient: {name: secret}\n", encoding="utf-8")
    (studio.workspace / "link.yaml").symlink_to(outside)
    try:
        for path in ("/draft?data=../../../../etc/passwd", "/draft?data=%2Fetc%2Fpasswd",
                     "/draft?data=link.yaml", "/check?template=..%2F..%2Fx.docx",
                     "/results?folder=..", "/results/file?folder=campaign&name=case.yaml"):
            response = browser.request("GET", path)
            assert response.status == 404, path
            assert "secret" not in body(response) and "root:" not in body(response)
    finally:
        (studio.workspace / "link.yaml").unlink()


def test_uploads_are_bounded(browser: Browser) -> None:
    connection = http.client.HTTPConnection(browser.host, browser.port, timeout=30)
    connection.putrequest("POST", f"/check/upload?csrf={browser.csrf}", skip_host=True)
    for name, value in {"Host": f"127.0.0.1:{browser.port}", "Cookie": browser.cookie,
                        "Content-Type": "multipart/form-data; boundary=x",
                        "Content-Length": str(200 << 20)}.items():
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413
    assert "limited to 25 MiB" in response.read().decode()


def multipart(name: str, content: bytes) -> tuple[bytes, str]:
    boundary = "studio-test-boundary"
    data = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    return data + content + f"\r\n--{boundary}--\r\n".encode(), boundary


def test_an_uploaded_docx_goes_through_the_safe_reading(browser: Browser,
                                                        studio: RunningStudio) -> None:
    data, boundary = multipart("../../not-a-template.docx", b"%PDF-1.7 not a word document")
    response = browser.request("POST", f"/check/upload?csrf={browser.csrf}", data,
                               {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status == 303
    location = response.headers["location"]
    assert location.startswith("/check?template=uploads%2Fnot-a-template")
    assert (studio.workspace / "uploads").is_dir()  # the name lost its folders
    page = body(browser.request("GET", location))
    assert "not a Word document (.docx): it is a PDF file" in page


def test_draft_problems_are_the_clis_at_their_lines(browser: Browser, studio: RunningStudio,
                                                    run) -> None:
    text = (EXAMPLES / "letter-en.yaml").read_text(encoding="utf-8")
    broken = text.replace("date: 2015-11-24", "date: 2015-13-45").replace(
        "  name: Xi Jinping", "  nam: Xi Jinping")
    (studio.workspace / "broken.yaml").write_text(broken, encoding="utf-8")
    try:
        cli = run("render", studio.workspace / "broken.yaml", "-o", studio.workspace / "out")
        response = browser.post_json("/api/draft", {"data": "broken.yaml",
                                                    "template": "advocacy-letter", "text": broken})
    finally:
        (studio.workspace / "broken.yaml").unlink()
    result = json.loads(body(response))
    assert result["ok"] is False
    lines = broken.splitlines()
    by_field = {p["field"]: p for p in result["problems"]}
    assert by_field["date"]["line"] == lines.index("date: 2015-13-45") + 1
    assert by_field["recipient.nam"]["line"] == lines.index("  nam: Xi Jinping") + 1
    assert "did you mean 'name'?" in by_field["recipient.nam"]["message"]
    for problem in result["problems"]:  # word for word what `drafter render` says
        assert f"  {problem['text']}" in cli.output.replace(f"{studio.workspace}/", "")


def test_a_yaml_syntax_error_is_placed_at_its_line(browser: Browser) -> None:
    text = "date: 2015-11-24\nsubject: [unclosed\nbody: []\n"
    result = json.loads(body(browser.post_json(
        "/api/draft", {"data": "new.yaml", "template": "advocacy-letter", "text": text})))
    (problem,) = result["problems"]
    assert problem["line"] == 3 and "YAML syntax error" in problem["message"]
    assert problem["text"].startswith("new.yaml:3:")


def test_merge_validation_table_names_row_and_column(browser: Browser,
                                                     studio: RunningStudio) -> None:
    recipients = (studio.workspace / "campaign" / "recipients.csv").read_text(encoding="utf-8")
    rows = recipients.splitlines()
    rows[3] = rows[3].replace(",CN,", ",XX,", 1)  # the third recipient: an unknown country
    bad = studio.workspace / "campaign" / "bad-recipients.csv"
    bad.write_text("\n".join(rows) + "\n", encoding="utf-8")
    try:
        page = body(browser.request("GET", "/merge/validate?case=campaign%2Fcase.yaml"
                                    "&recipients=campaign%2Fbad-recipients.csv"))
    finally:
        bad.unlink()
    count = len(rows) - 1  # the header
    assert f"{count} records: {count - 1} valid, 1 invalid" in page
    row = re.search(r'<tr class="error">(.*?)</tr>', page, re.S)[1]  # type: ignore[index]
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)[1:]
    assert cells[:3] == ["campaign/bad-recipients.csv", "4", "address.country"]
    assert cells[3] == "record 3 (bayanqolu)"
    assert cells[4] == "<code>recipient.address.country</code>"
    assert 'data-needs="keep-going"' in page  # starting needs "render the valid records"
    assert not (studio.workspace / "out" / "bad-recipients").exists()  # nothing rendered


def test_other_addresses_need_a_flag(run) -> None:
    result = run("studio", ".", "--host", "0.0.0.0", "--no-browser")
    assert result.exit_code != 0
    assert "not a loopback address" in result.output and "--allow-remote" in result.output
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")


def test_a_save_made_while_the_check_page_loads_is_not_missed(browser: Browser) -> None:
    """The page says which state of the files it checked; the events compare with that."""
    page = body(browser.request("GET", "/check?template=templates%2Fbroken%2Fthree-errors.docx"))
    stamp = re.search(r'data-stamp="([0-9a-f]+)"', page)[1]  # type: ignore[index]
    path = "/check/events?template=templates%2Fbroken%2Fthree-errors.docx&stamp="
    for given, expected in ((stamp, None), ("an-older-state", "event: changed")):
        connection = http.client.HTTPConnection(browser.host, browser.port, timeout=3)
        connection.request("GET", path + given, headers={
            "Host": f"127.0.0.1:{browser.port}", "Cookie": browser.cookie})
        response = connection.getresponse()
        assert response.headers["content-type"].startswith("text/event-stream")
        lines: list[str] = []
        try:
            while len(lines) < 4:
                lines.append(response.readline().decode().strip())
        except TimeoutError:
            pass
        connection.close()
        if expected:
            assert expected in lines
        else:
            assert "event: changed" not in lines  # nothing changed since the page was made


def test_the_forms_endpoints_are_guarded_like_the_others(browser: Browser) -> None:
    text = (ROOT / "templates" / "urgent-appeal" / "sample.yaml").read_text(encoding="utf-8")
    change = {"template": "urgent-appeal", "text": text, "path": ["case_number"],
              "value": "2024-9"}
    for path, value in (("/api/draft/form", {"template": "urgent-appeal", "text": text}),
                        ("/api/draft/form/set", change)):
        plain = browser.request("POST", path, json.dumps(value).encode(),
                                {"Content-Type": "application/json"})
        assert plain.status == 403 and "CSRF" in body(plain), path
        assert browser.post_json(path, value, Origin="http://evil.example").status == 403
        assert browser.post_json(path, value, **{"Sec-Fetch-Site": "cross-site"}).status == 403
        outside = browser.post_json(path, {**value, "template": "../../../etc"})
        assert outside.status == 404 and "outside the workspace" in body(outside), path
    form = json.loads(body(browser.post_json("/api/draft/form", {
        "template": "urgent-appeal", "text": text}, **{"Accept-Language": "fr-CH, en;q=0.5"})))
    people = next(f for f in form["fields"] if f["name"] == "people")
    assert people["declared"] and people["kind"] == "records" and people["required"]
    assert form["values"]["case_number"] == "2024-Hyeong-1187"
    done = json.loads(body(browser.post_json("/api/draft/form/set", change)))
    assert done["ok"] and "case_number: 2024-9\n" in done["text"]
    for bad in ([], "case_number", [True], [{"a": 1}]):
        refused = browser.post_json("/api/draft/form/set", {**change, "path": bad})
        assert refused.status == 400, bad
    broken = json.loads(body(browser.post_json("/api/draft/form/set", {
        **change, "text": "subject: [unclosed\n"})))
    assert broken["ok"] is False and "fix its syntax" in broken["message"]


def test_bodies_of_the_new_endpoints_are_bounded(browser: Browser) -> None:
    for path in ("/api/draft/form/set", f"/results/send?folder=x&csrf={browser.csrf}"):
        connection = http.client.HTTPConnection(browser.host, browser.port, timeout=30)
        connection.putrequest("POST", path, skip_host=True)
        for name, value in {"Host": f"127.0.0.1:{browser.port}", "Cookie": browser.cookie,
                            "X-CSRF-Token": browser.csrf, "Content-Type": "application/json",
                            "Content-Length": str(100 << 20)}.items():
            connection.putheader(name, value)
        connection.endheaders()
        assert connection.getresponse().status == 413, path


@pytest.fixture
def drafted(studio: RunningStudio, run) -> Iterator[str]:
    """A DOCX-only merge of the campaign in the workspace, with its email drafts."""
    outdir = studio.workspace / "out" / "http-drafts"
    assert run("merge", studio.workspace / "campaign" / "case.yaml",
               studio.workspace / "campaign" / "recipients.csv", "-o", outdir, "-f", "docx",
               "-q").exit_code == 0
    assert run("mail", outdir, "--from", "a@example.org", "--attach", "docx", "-q"
               ).exit_code == 0
    yield "out/http-drafts"
    shutil.rmtree(outdir)


def test_sending_endpoints_need_the_token_csrf_and_paths_in_the_workspace(
        browser: Browser, drafted: str, studio: RunningStudio) -> None:
    folder = urllib.parse.quote(drafted, safe="")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    sending = b"server=smtp%3A%2F%2F127.0.0.1%3A9&password=never-kept-9"
    for path in (f"/results/mail?folder={folder}", f"/results/send?folder={folder}"):
        assert browser.request("POST", path, b"sender=a%40example.org", form).status == 403
        stranger = Browser(studio)  # no cookie: refused before anything
        assert stranger.request("POST", f"{path}&csrf={browser.csrf}", sending,
                                form).status == 403
        outside = browser.request("POST", f"{path.split('?')[0]}?folder=..&csrf="
                                  f"{browser.csrf}", sending, form)
        assert outside.status == 404 and "outside the workspace" in body(outside)
    page = body(browser.request("GET", f"/results/mail?folder={folder}"))
    assert "12 to send, 0 sent before, 0 uncertain, 4 not emailed" in page
    assert "li-liguo.docx" in page and "gabzfwz@mps.gov.cn" in page
    opened = browser.request("GET", f"/results/message?folder={folder}&name=mail%2F"
                                    "li-liguo.eml")
    assert opened.status == 200 and "尊敬的李立国部长：" in body(opened)
    for name in ("..%2Fcase.yaml", "mail%2F..%2F..%2F..%2Fcampaign%2Fcase.yaml",
                 "mail%2Fnot-a-draft.eml", "%2Fetc%2Fpasswd"):
        for page_path in ("/results/message", "/results/file"):
            refused = browser.request("GET", f"{page_path}?folder={folder}&name={name}")
            assert refused.status == 404, (page_path, name)
    eml = browser.request("GET", f"/results/file?folder={folder}&name=mail%2Fli-liguo.eml")
    assert eml.status == 200 and eml.headers["content-type"] == "message/rfc822"
    for job in ("/send/jobs/0123456789abcdef", "/merge/jobs/0123456789abcdef/events"):
        assert browser.request("GET", job).status == 404
    cancel = browser.request("POST", "/send/jobs/0123456789abcdef/cancel", b"{}",
                             {"Content-Type": "application/json"})
    assert cancel.status == 403  # no CSRF token
    # A send to a server that is not there: refused, and the password typed is nowhere.
    started = browser.request("POST", f"/results/send?folder={folder}&csrf={browser.csrf}",
                              sending + b"&user=campaigns", form)
    assert started.status == 303 and started.headers["location"].startswith("/send/jobs/")
    job = started.headers["location"]
    for _ in range(600):  # the job's own end, not a time: its page says when it failed
        state = body(browser.request("GET", job))
        if 'data-state="failed"' in state:
            break
        time.sleep(0.5)
    assert 'data-state="failed"' in state and "127.0.0.1" in state
    for file in studio.workspace.rglob("*"):
        if file.is_file():
            assert b"never-kept-9" not in file.read_bytes(), file
    assert "never-kept-9" not in state
