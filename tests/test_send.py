"""Sending (`drafter send`) to a real SMTP server on 127.0.0.1 (aiosmtpd, tests/smtp_server.py):
exactly once, paced, retried, resumed after SIGKILL, over TLS with a login."""

from __future__ import annotations

import csv
import fcntl
import hashlib
import json
import os
import random
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
import yaml

from drafter.mail import MailOptions, write_drafts
from drafter.merge import MergeOptions, merge
from drafter.send import SendOptions, parse_server, read_log, send_drafts

from .conftest import EXAMPLES, SHORT_CASE, pdf_text, read_manifest
from .smtp_server import smtp_server

DRAFTER = str(Path(sys.executable).parent / "drafter")


@pytest.fixture(autouse=True)
def no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's own config file (a real server) is never read by a test."""
    monkeypatch.setenv("DRAFTER_CONFIG", str(tmp_path / "no-config.toml"))
    for name in ("DRAFTER_SMTP_SERVER", "DRAFTER_SMTP_USER", "DRAFTER_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def drafted(folder: Path, count: int) -> Path:
    """A DOCX-only merge of ``count`` recipients with email, and its drafts."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "case.yaml").write_text(SHORT_CASE + "mail: {bcc: archive@example.org}\n",
                                      encoding="utf-8")
    with (folder / "recipients.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "name", "email"])
        for i in range(count):
            writer.writerow([f"r{i:03d}", f"Official {i}", f"official{i}@example.org"])
    outdir = folder / "out"
    merge(folder / "case.yaml", folder / "recipients.csv", outdir,
          MergeOptions(formats=("docx",)))
    write_drafts(outdir, MailOptions(sender="Campaigns <campaigns@example.org>",
                                     attach=("docx",)))
    return outdir


@pytest.fixture(scope="session")
def few_drafts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return drafted(tmp_path_factory.mktemp("few"), 12)


@pytest.fixture(scope="session")
def many_drafts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return drafted(tmp_path_factory.mktemp("many"), 200)


@pytest.fixture
def few(few_drafts: Path, tmp_path: Path) -> Path:
    """A copy of the 12 drafts, to send from."""
    return Path(shutil.copytree(few_drafts, tmp_path / "few"))


def message_ids(outdir: Path) -> list[str]:
    return [row["message_id"] for row in read_manifest(outdir) if row["message_id"]]


def options(url: str, **changes: object) -> SendOptions:
    values: dict = {"server": parse_server(url), "send": True, "retry_delay": 0.05,
                    "local_hostname": "client.test", **changes}
    return SendOptions(**values)


@pytest.fixture(scope="session")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The campaign example merged (DOCX and PDF) and drafted."""
    outdir = tmp_path_factory.mktemp("campaign") / "out"
    merge(EXAMPLES / "campaign" / "case.yaml", EXAMPLES / "campaign" / "recipients.csv",
          outdir)
    write_drafts(outdir, MailOptions(sender="Human Rights Watch <asia@hrw.example.org>"))
    return outdir


@pytest.mark.libreoffice
def test_the_campaign_arrives_once_each_with_its_letter(campaign: Path, tmp_path: Path,
                                                        run) -> None:
    outdir = Path(shutil.copytree(campaign, tmp_path / "campaign"))
    recipients = {row["id"]: row for row in csv.DictReader(
        (EXAMPLES / "campaign" / "recipients.csv").open(encoding="utf-8"))}
    with smtp_server() as server:
        result = run("send", outdir, "--server", server.url, "--send", "-q")
        assert result.exit_code == 0, result.output
        assert "12 sent, 0 failed, 0 deferred, 0 uncertain, 0 skipped" in result.output
        received = server.handler.by_id()
    rows = {row["id"]: row for row in read_manifest(outdir)}
    emailed = {key: row for key, row in rows.items() if row["delivery"] == "sent"}
    assert sorted(emailed) == sorted(key for key, r in recipients.items() if r["email"])
    assert sorted(received) == sorted(row["message_id"] for row in emailed.values())
    phrases = {"zh_Hans_CN": "随函附上我们于2015年11月24日发出的信函：九名朝鲜难民遭拘押一事。",
               "ko_KR": "2015년 11월 24일 자 서한을 첨부하여 보내드립니다"
                        "(제목: 북한 난민 9명 구금 건).",
               "en_US": "Please find attached our letter of November 24, 2015: Detention of "
                        "Nine North Korean refugees.",
               "en_GB": "Please find attached our letter of 24 November 2015: Detention of "
                        "Nine North Korean refugees.",
               "fr_FR": "Veuillez trouver ci-joint notre lettre du 24 novembre 2015 : "
                        "Détention de neuf réfugiés nord-coréens.",
               "de_DE": "Anbei erhalten Sie unser Schreiben vom 24. November 2015: "
                        "Inhaftierung von neun nordkoreanischen Flüchtlingen.",
               "ja_JP": "2015年11月24日付の書簡「北朝鮮難民9名の拘束について」を添付いたします。",
               "ru_RU": "Направляем Вам наше письмо от 24 ноября 2015\u202fг.: О задержании "
                        "девяти северокорейских беженцев."}
    subjects = {"zh": "九名朝鲜难民遭拘押一事", "ko": "북한 난민 9명 구금 건",
                "en": "Detention of Nine North Korean refugees",
                "fr": "Détention de neuf réfugiés nord-coréens",
                "de": "Inhaftierung von neun nordkoreanischen Flüchtlingen",
                "ja": "北朝鮮難民9名の拘束について",
                "ru": "О задержании девяти северокорейских беженцев"}
    for key, row in emailed.items():
        (arrived,) = received[row["message_id"]]
        message = arrived.message
        to = [address.strip() for address in recipients[key]["email"].split(";")]
        assert [a.addr_spec for a in message["To"].addresses] == to
        assert [a.addr_spec for a in message["Cc"].addresses] == ["gabzfwz@mps.gov.cn"]
        assert message["Bcc"] is None and b"campaign-archive" not in arrived.data
        assert arrived.rcpt_tos == [*to, "gabzfwz@mps.gov.cn",
                                    "campaign-archive@hrw.example.org"]
        assert arrived.mail_from == "asia@hrw.example.org"
        assert message["X-Unsent"] is None
        assert str(message["Subject"]) == subjects[row["locale"][:2]]
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert phrases[row["locale"]] in text
        (pdf,) = message.iter_attachments()
        assert pdf.get_filename() == row["pdf"]
        assert hashlib.sha256(pdf.get_content()).hexdigest() == row["pdf_sha256"]
    # the letters that cannot be emailed, in one PDF for post or fax
    post = [row for row in rows.values() if row["delivery"] == "not emailed"]
    assert sorted(row["id"] for row in post) == ["bayanqolu", "wang-xianmin", "xi-jinping",
                                                  "zhang-qiyue"]
    text = pdf_text(outdir / "post-or-fax.pdf")
    for name in ("习近平", "巴音朝鲁", "Zhang Qiyue", "왕시엔민"):
        assert name in text
    # a second run sends nothing again
    with smtp_server() as server:
        result = run("send", outdir, "--server", server.url, "--send", "-q")
        assert "0 sent" in result.output and "12 skipped (sent before)" in result.output
        assert server.handler.received == []


def test_a_dry_run_shows_what_would_go_where_and_sends_nothing(few: Path, run) -> None:
    with smtp_server() as server:
        result = run("send", few, "--server", server.url)
        assert server.handler.received == []
    assert result.exit_code == 0
    assert ("would send r000.eml to official0@example.org; bcc: "
            "archive@example.org") in result.output
    assert "dry run: 12 to send" in result.output and "nothing was sent" in result.output
    assert not (few / "mail" / "send-log.jsonl").exists()
    assert {row["delivery"] for row in read_manifest(few)} == {"draft"}


def test_4xx_is_retried_5xx_recorded_a_drop_reconnected(few: Path, run) -> None:
    with smtp_server() as server:
        server.handler.defers = 4  # "slow down" for a while
        server.handler.reject = {"official4@example.org"}
        server.handler.drops = 2
        result = run("send", few, "--server", server.url, "--send", "--retry-delay", "0.1",
                     "-q")
        received = server.handler.by_id()
        assert server.handler.deferred == 4 and server.handler.dropped == 2
    assert result.exit_code == 1  # one failed
    assert "11 sent, 1 failed" in result.output
    assert ("failed: record 5 (r004) r004.eml: 550 official4@example.org: 5.1.1 No "
            "such mailbox here") in result.output
    ids = message_ids(few)
    assert sorted(received) == sorted(ids[:4] + ids[5:])
    assert all(len(copies) == 1 for copies in received.values())
    rows = read_manifest(few)
    assert rows[4]["delivery"] == "failed" and rows[4]["delivery_note"].startswith("550 ")
    assert {row["delivery"] for row in rows[:4] + rows[5:]} == {"sent"}
    events = [json.loads(line)["event"] for line in
              (few / "mail" / "send-log.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {"attempt", "accepted", "deferred", "dropped", "rejected"} <= set(events)
    # the next run tries only the one that failed
    with smtp_server() as server:
        result = run("send", few, "--server", server.url, "--send", "-q")
        assert [r.rcpt_tos[0] for r in server.handler.received] == ["official4@example.org"]
    assert "1 sent, 0 failed" in result.output and "11 skipped" in result.output


def test_a_4xx_that_lasts_leaves_the_message_deferred_for_the_next_run(few: Path) -> None:
    with smtp_server() as server:
        server.handler.defer_until = time.monotonic() + 3600
        report = send_drafts(few, options(server.url, limit=2, retries=2, retry_delay=0.01))
    assert report.sent == 0 and len(report.deferred) == 2
    assert report.deferred[0][1].startswith("451 4.7.1")
    assert [row["delivery"] for row in read_manifest(few)[:3]] == ["deferred", "deferred",
                                                                    "draft"]
    with smtp_server() as server:
        assert send_drafts(few, options(server.url)).sent == 12


def test_a_first_batch_with_limit_then_the_rest(few: Path, run) -> None:
    with smtp_server() as server:
        result = run("send", few, "--server", server.url, "--send", "--limit", "3", "-q")
        assert "3 sent" in result.output and "9 left for later" in result.output
        result = run("send", few, "--server", server.url, "--send", "-q")
        assert "9 sent" in result.output and "3 skipped" in result.output
        assert sorted(server.handler.by_id()) == sorted(message_ids(few))


def test_the_rate_is_honoured_at_the_server(few: Path) -> None:
    rate, burst = 300, 2  # a message every 0.2 s, two at once
    with smtp_server() as server:
        start = time.monotonic()  # the server's clock: same process
        report = send_drafts(few, options(server.url, rate=rate, burst=burst, limit=10))
        arrivals = [r.arrived - start for r in server.handler.received]
    assert report.sent == 10
    interval = 60 / rate
    for k, arrived in enumerate(arrivals):
        # the k-th message cannot have left before k - burst + 1 intervals (the bucket starts
        # full): a lower bound, whatever the load of the machine
        assert arrived >= (k - burst + 1) * interval - 0.001, (k, arrived)
    # and pacing is not stalling: a generous bound, for a loaded machine
    assert arrivals[-1] < (len(arrivals) - burst) * interval + 5


def test_an_uncertain_message_is_reported_and_sent_again_only_when_asked(
        few: Path, run) -> None:
    log = few / "mail" / "send-log.jsonl"
    with smtp_server() as server:
        server.handler.hold = {"official2@example.org"}
        server.handler.hold_seconds = 1.0  # the server takes it, but replies late
        sender = subprocess.Popen([DRAFTER, "send", str(few), "--server", server.url,
                                   "--send", "-q"], env=dict(os.environ),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(server.handler.received) < 3:
            time.sleep(0.002)
        sender.kill()  # SIGKILL: the server has the 3rd message, its reply is on its way
        sender.wait()
        assert [r.rcpt_tos[0] for r in server.handler.received] == [
            "official0@example.org", "official1@example.org", "official2@example.org"]
        # the log's last line: the 3rd message's attempt, with no outcome after it
        assert '"event": "attempt"' in log.read_text(encoding="utf-8").splitlines()[-1]
        server.handler.hold = set()
        result = run("send", few, "--server", server.url, "--send", "-q")
        third = message_ids(few)[2]
        assert result.exit_code == 1
        assert f"uncertain: record 3 (r002) r002.eml {third}" in result.output
        assert "--resend r002" in result.output
        assert "9 sent, 0 failed, 0 deferred, 1 uncertain, 2 skipped" in result.output
        assert len(server.handler.by_id()[third]) == 1  # not sent again
        assert read_manifest(few)[2]["delivery"] == "uncertain"
        # the user checked and decides to send it again
        result = run("send", few, "--server", server.url, "--send", "--resend", "r002", "-q")
        assert "1 sent" in result.output and result.exit_code == 0
    assert read_manifest(few)[2]["delivery"] == "sent"


def log_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_killed_at_random_moments_it_never_sends_twice_and_loses_none(
        many_drafts: Path, tmp_path: Path, run) -> None:
    outdir = Path(shutil.copytree(many_drafts, tmp_path / "many"))
    log = outdir / "mail" / "send-log.jsonl"
    everything = set(message_ids(outdir))
    assert len(everything) == 200
    chance = random.Random(13)
    kills = 0
    with smtp_server() as server:
        command = [DRAFTER, "send", str(outdir), "--server", server.url, "--send", "-q",
                   "--retry-delay", "0.01"]
        while kills < 10:
            start = log_lines(log)
            stop_after = chance.randint(1, 40)  # log lines: about half as many messages
            sender = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 60
            while (sender.poll() is None and log_lines(log) - start < stop_after
                   and time.monotonic() < deadline):
                time.sleep(0.0005)
            if sender.poll() is not None:
                break  # it finished before the kill
            sender.send_signal(signal.SIGKILL)
            sender.wait()
            kills += 1
        final = run(*command[1:])  # the last resume, to the end
        received = server.handler.by_id()
    assert kills >= 10
    duplicates = {key: len(copies) for key, copies in received.items() if len(copies) > 1}
    assert duplicates == {}
    state = read_log(log)
    uncertain = {key for key, s in state.messages.items() if s.status == "uncertain"}
    assert set(received) | uncertain == everything  # none lost: sent, or reported uncertain
    assert {key for key, s in state.messages.items() if s.status == "sent"} <= set(received)
    assert f"{len(uncertain)} uncertain" in final.output
    for key in uncertain:
        assert key in final.output
    again = send_drafts(outdir, SendOptions())  # what a next run would do: nothing
    assert (again.planned, again.skipped, len(again.uncertain)) == (
        [], 200 - len(uncertain), len(uncertain))


def test_one_sender_at_a_time(few: Path) -> None:
    with (few / "mail" / ".send.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = subprocess.run([DRAFTER, "send", str(few), "--server", "smtp://127.0.0.1:9",
                                 "--send"], capture_output=True, text=True)
    assert result.returncode == 1
    assert "another `drafter send` is sending these messages now" in result.stderr


def test_a_letter_changed_after_it_was_sent_is_not_sent_again_unasked(
        tmp_path: Path, run) -> None:
    outdir = drafted(tmp_path / "c", 3)
    with smtp_server() as server:
        assert send_drafts(outdir, options(server.url)).sent == 3
        case = tmp_path / "c" / "case.yaml"
        case.write_text(case.read_text(encoding="utf-8").replace("We write to you.",
                                                                 "We write again."))
        merge(case, tmp_path / "c" / "recipients.csv", outdir, MergeOptions(formats=("docx",)))
        write_drafts(outdir, MailOptions(sender="campaigns@example.org", attach=("docx",)))
        result = run("send", outdir, "--server", server.url, "--send", "-q")
        assert "not sent: record 1 (r000)" in result.output and "an earlier version" in \
            result.output
        assert len(server.handler.received) == 3
        result = run("send", outdir, "--server", server.url, "--send", "--resend", "r000")
        assert len(server.handler.received) == 4


def test_internationalized_addresses_go_with_smtputf8(tmp_path: Path, run) -> None:
    (tmp_path / "case.yaml").write_text(SHORT_CASE, encoding="utf-8")
    (tmp_path / "r.yaml").write_text(yaml.safe_dump([{
        "id": "li", "locale": "zh_Hans_CN", "name": "李娜",
        "contacts": [{"email": "李娜@例子.中国"}]}], allow_unicode=True), encoding="utf-8")
    outdir = tmp_path / "out"
    merge(tmp_path / "case.yaml", tmp_path / "r.yaml", outdir, MergeOptions(formats=("docx",)))
    write_drafts(outdir, MailOptions(sender="campaigns@example.org", attach=("docx",)))
    with smtp_server() as server:
        assert send_drafts(outdir, options(server.url)).sent == 1
        (arrived,) = server.handler.received
    assert arrived.rcpt_tos == ["李娜@xn--fsqu00a.xn--fiqs8s"]
    assert str(arrived.message["To"]) == "李娜 <李娜@xn--fsqu00a.xn--fiqs8s>"


@pytest.fixture(scope="session")
def certificate_authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def trusted(certificate_authority: trustme.CA, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[ssl.SSLContext]:
    """A server certificate for 127.0.0.1, from a CA the client is made to trust."""
    bundle = tmp_path / "ca.pem"
    certificate_authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("127.0.0.1").configure_cert(context)
    yield context


@pytest.mark.parametrize("implicit_tls", [False, True], ids=["starttls", "smtps"])
def test_tls_and_a_login_with_the_password_from_the_environment(
        few: Path, run, trusted: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch,
        implicit_tls: bool) -> None:
    monkeypatch.setenv("DRAFTER_SMTP_PASSWORD", "s3cret-Passw0rd")
    with smtp_server(tls=trusted, implicit_tls=implicit_tls,
                     login=("campaigns", "s3cret-Passw0rd")) as server:
        result = run("send", few, "--server", server.url, "--user", "campaigns", "--send",
                     "--limit", "2", "-q")
        assert result.exit_code == 0, result.output
        assert len(server.handler.received) == 2
        assert server.handler.logins == [("campaigns", "s3cret-Passw0rd")]
    log = (few / "mail" / "send-log.jsonl").read_text(encoding="utf-8")
    assert "s3cret" not in log and "s3cret" not in result.output
    assert f"campaigns@127.0.0.1:{server.port}" in log


def test_a_wrong_password_stops_the_run(few: Path, run, trusted: ssl.SSLContext,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAFTER_SMTP_PASSWORD", "wrong")
    with smtp_server(tls=trusted, login=("campaigns", "right")) as server:
        result = run("send", few, "--server", f"smtp://campaigns@127.0.0.1:{server.port}",
                     "--send")
        assert server.handler.received == []
    assert result.exit_code == 1
    assert "the server refused the login: 535" in result.output


def test_an_untrusted_certificate_stops_the_run(few: Path, run,
                                                certificate_authority: trustme.CA) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("127.0.0.1").configure_cert(context)  # CA not trusted
    with smtp_server(tls=context) as server:
        result = run("send", few, "--server", server.url, "--send")
        assert server.handler.received == []
    assert result.exit_code == 1 and "TLS failed" in result.output


def test_passwords_are_refused_where_they_would_leak(few: Path, run, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    result = run("send", few, "--server", "smtp://me:secret@127.0.0.1:25", "--send")
    assert result.exit_code == 1 and "a password in the server URL is refused" in result.output
    config = tmp_path / "config.toml"
    config.write_text('[send]\nserver = "smtp://127.0.0.1:25"\npassword = "x"\n')
    monkeypatch.setenv("DRAFTER_CONFIG", str(config))
    result = run("send", few)
    assert result.exit_code == 1
    assert "send.password: a password in the config file is refused" in result.output


def test_the_server_and_pace_may_come_from_the_config_file_or_environment(
        few: Path, run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with smtp_server() as server:
        config = tmp_path / "config.toml"
        config.write_text(f'[send]\nserver = "{server.url}"\nrate = 6000\nburst = 3\n')
        monkeypatch.setenv("DRAFTER_CONFIG", str(config))
        result = run("send", few)
        assert f"server: {server.url}" in result.output
        assert run("send", few, "--send", "--limit", "1", "-q").exit_code == 0
        assert len(server.handler.received) == 1
    with smtp_server() as server:
        monkeypatch.setenv("DRAFTER_SMTP_SERVER", server.url)  # the environment wins
        assert run("send", few, "--send", "--limit", "1", "-q").exit_code == 0
        assert len(server.handler.received) == 1


def test_no_server_no_sending(few: Path, run) -> None:
    result = run("send", few, "--send")
    assert result.exit_code == 1 and "no server: give --server" in result.output


def test_an_unreachable_server_stops_after_its_retries(few: Path) -> None:
    from drafter.send import SendError
    with smtp_server() as server:
        url = server.url
    with pytest.raises(SendError, match=r"cannot connect to smtp://127\.0\.0\.1"):
        send_drafts(few, options(url, retries=2, retry_delay=0.01))
    assert not [line for line in (few / "mail" / "send-log.jsonl").read_text().splitlines()
                if '"attempt"' in line]
