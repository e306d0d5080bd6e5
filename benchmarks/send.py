"""Sending throughput: `drafter send` against a plain smtplib loop, through a local server.

Both send the same drafts (a DOCX-only merge of the source letter, each message with its DOCX
attached, about 40 KB) to the same aiosmtpd server on 127.0.0.1, in this process, with no rate
limit. The smtplib loop is what a hand-written script does: one connection, then for each
message read the file and `sendmail` it. drafter also writes and fsyncs two log lines per
message, takes out the Bcc, sets the Date, and keeps the manifest. Runs alternate, best of
three each. Prints messages per second for both and the ratio (target: within 1.2x).

    python benchmarks/send.py [COUNT]
"""

from __future__ import annotations

import smtplib
import sys
import tempfile
import time
from pathlib import Path

from drafter.mail import MailOptions, write_drafts
from drafter.merge import MergeOptions, merge
from drafter.send import SendOptions, parse_server, send_drafts

from common import ROOT, write_case, write_recipients

sys.path.insert(0, str(ROOT))
from tests.smtp_server import smtp_server  # the tests' server, not a copy


def drafts(folder: Path, count: int) -> Path:
    case = write_case(folder)
    recipients = write_recipients(folder, count)
    # the generated officials have fax numbers only: give each an email address
    lines = recipients.read_text(encoding="utf-8").splitlines()
    rows = [lines[0] + ",email"] + [f"{line},official{i}@example.org"
                                    for i, line in enumerate(lines[1:])]
    recipients.write_text("\n".join(rows) + "\n", encoding="utf-8")
    outdir = folder / "out"
    merge(case, recipients, outdir, MergeOptions(formats=("docx",)))
    write_drafts(outdir, MailOptions(sender="campaigns@example.org", attach=("docx",)))
    return outdir


def smtplib_loop(url: str, outdir: Path, envelopes: list[tuple[Path, str, list[str]]]
                 ) -> float:
    host, port = url.removeprefix("smtp://").split(":")
    start = time.perf_counter()
    with smtplib.SMTP(host, int(port), local_hostname="client.test") as smtp:
        for path, sender, recipients in envelopes:
            smtp.sendmail(sender, recipients, path.read_bytes())
    return time.perf_counter() - start


def drafter_send(url: str, outdir: Path) -> float:
    (outdir / "mail" / "send-log.jsonl").unlink(missing_ok=True)  # a first run each time
    start = time.perf_counter()
    report = send_drafts(outdir, SendOptions(server=parse_server(url), send=True,
                                             local_hostname="client.test"))
    elapsed = time.perf_counter() - start
    assert report.sent == len(report.planned) and report.ok, report
    return elapsed


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    with tempfile.TemporaryDirectory() as work:
        outdir = drafts(Path(work), count)
        planned = send_drafts(outdir).planned  # the dry run gives each message's envelope
        envelopes = [(item.path, item.sender, list(item.recipients)) for item in planned]
        size = sum(path.stat().st_size for path, _, _ in envelopes) / len(envelopes)
        print(f"messages: {count}, {size / 1000:.0f} KB each")
        baseline, ours = [], []
        with smtp_server() as server:
            for _ in range(3):
                baseline.append(smtplib_loop(server.url, outdir, envelopes))
                ours.append(drafter_send(server.url, outdir))
            received = len(server.handler.received)
        assert received == 6 * count, received
        best, mine = min(baseline), min(ours)
        print(f"smtplib loop: {best:7.2f} s {count / best:8.1f} messages/s")
        print(f"drafter send: {mine:7.2f} s {count / mine:8.1f} messages/s")
        print(f"ratio: {mine / best:.2f}x the loop's time (target <= 1.2x)")


if __name__ == "__main__":
    main()
