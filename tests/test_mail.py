"""Email drafts (`drafter mail`): headers, encodings, cover messages, Message-IDs, the letters
that cannot be emailed. Merges here are DOCX-only (no LibreOffice); the campaign's PDFs are
attached and sent in test_send.py."""

from __future__ import annotations

import hashlib
import shutil
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
import yaml

from drafter.errors import DataError
from drafter.mail import MailOptions, write_drafts

from .conftest import ROOT, SHORT_CASE, docx_text, read_manifest

RECIPIENTS = [
    {"id": "wang", "locale": "zh_Hans_CN", "honorific": {"en": "Minister", "zh": "部长"},
     "name": {"en": "Wang Yi", "zh": "王毅"},
     "contacts": [{"email": "wang.yi@mfa.example.org"}]},
    {"id": "kim", "locale": "ko_KR", "name": {"en": "Kim Min-ji", "ko": "김민지"},
     "contacts": [{"email": "minji@example.org"}, {"email": "office@example.org"}]},
    {"id": "hamad", "locale": "ar", "honorific": "السفير", "name": "حمد بن علي",
     "contacts": [{"email": "hamad@example.org"}]},
    {"id": "quoted", "locale": "en_GB", "name": 'Smith, "Jo" <Ops>',
     "contacts": [{"email": "jo@example.org"}]},
    {"id": "utf8", "locale": "zh_Hans_CN", "name": "李娜",
     "contacts": [{"email": "李娜@例子.中国"}]},
    {"id": "postal", "locale": "en_GB", "name": "Jane Doe",
     "address": {"city": "London", "country": "GB"},
     "contacts": [{"fax": "+44 20 7946 0321"}]},
]
CASE = SHORT_CASE + """\
subject: {en: Detention of refugees, zh_Hans: 难民遭拘押一事, ko: 난민 구금 건, ar: احتجاز اللاجئين}
cc:
  - name: {en: Guo Shengkun, zh_Hans: 郭声琨}
    contacts: [{email: guo@example.org}, {phone: +86 10 6626 2114}]
mail:
  cc: desk@example.org
  bcc: [archive@example.org, wang.yi@mfa.example.org]
"""


def merged(tmp_path: Path, run, recipients=RECIPIENTS, case: str = CASE) -> Path:
    (tmp_path / "case.yaml").write_text(case.replace("subject: Detention of refugees\n", ""),
                                        encoding="utf-8")
    (tmp_path / "recipients.yaml").write_text(yaml.safe_dump(recipients, allow_unicode=True),
                                              encoding="utf-8")
    outdir = tmp_path / "out"
    # Names in every script (`wang-王毅.docx`): attachments' names must survive email's ASCII.
    result = run("merge", tmp_path / "case.yaml", tmp_path / "recipients.yaml", "-o", outdir,
                 "-f", "docx", "-q", "--name", "{{ id }}-{{ name }}")
    assert result.exit_code == 0, result.output
    return outdir


def parse(path: Path) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(path.read_bytes())  # type: ignore


def draft_of(outdir: Path, record_id: str) -> EmailMessage:
    row = next(r for r in read_manifest(outdir) if r["id"] == record_id)
    return parse(outdir / row["mail"])


def test_drafts_carry_the_letters_headers_in_every_script(tmp_path: Path, run) -> None:
    outdir = merged(tmp_path, run)
    result = run("mail", outdir, "--from", "Campaigns <campaigns@hrw.example.org>",
                 "--attach", "docx", "-q")
    assert result.exit_code == 0, result.output
    assert "5 drafts" in result.output
    wang = draft_of(outdir, "wang")
    assert str(wang["From"]) == "Campaigns <campaigns@hrw.example.org>"
    assert str(wang["To"]) == "王毅 <wang.yi@mfa.example.org>"
    # CC people in the letter's language, then the case's own Cc; the Bcc that is already a
    # recipient is not copied twice
    assert [a.addr_spec for a in wang["Cc"].addresses] == ["guo@example.org", "desk@example.org"]
    assert wang["Cc"].addresses[0].display_name == "郭声琨"
    assert [a.addr_spec for a in wang["Bcc"].addresses] == ["archive@example.org"]
    assert str(wang["Subject"]) == "难民遭拘押一事"
    assert wang["Content-Language"] == "zh-Hans-CN"
    assert wang["X-Unsent"] == "1"
    raw = (outdir / "mail" / "wang-王毅.eml").read_bytes()
    assert raw.isascii()  # RFC 2047 and 2231: every header and name encoded, in ASCII
    assert b"=?utf-8?" in raw and b"filename*=utf-8''wang-%E7%8E%8B%E6%AF%85.docx" in raw
    (attachment,) = wang.iter_attachments()
    assert attachment.get_filename() == "wang-王毅.docx"
    assert attachment.get_content() == (outdir / "wang-王毅.docx").read_bytes()

    kim = draft_of(outdir, "kim")
    assert [a.addr_spec for a in kim["To"].addresses] == ["minji@example.org",
                                                          "office@example.org"]
    assert str(kim["Subject"]) == "난민 구금 건"
    hamad = draft_of(outdir, "hamad")
    assert str(hamad["Subject"]) == "احتجاز اللاجئين"
    assert hamad["To"].addresses[0].display_name == "حمد بن علي"
    html = hamad.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert 'dir="rtl"' in html and 'lang="ar"' in html
    # a name with a comma, quotes and brackets stays one name, never a second address
    quoted = draft_of(outdir, "quoted")
    (person,) = quoted["To"].addresses
    assert (person.display_name, person.addr_spec) == ('Smith, "Jo" <Ops>', "jo@example.org")


def test_an_address_with_a_non_ascii_local_part_makes_an_rfc_6532_message(
        tmp_path: Path, run) -> None:
    outdir = merged(tmp_path, run)
    run("mail", outdir, "--from", "campaigns@example.org", "--attach", "docx", "-q")
    raw = (outdir / "mail" / "utf8-李娜.eml").read_bytes()
    assert "To: 李娜 <李娜@xn--fsqu00a.xn--fiqs8s>".encode() in raw  # UTF-8 header, IDNA domain
    assert str(parse(outdir / "mail" / "utf8-李娜.eml")["Subject"]) == "难民遭拘押一事"
    # the others stay plain ASCII messages
    assert (outdir / "mail" / "kim-김민지.eml").read_bytes().isascii()


def test_cover_message_in_the_recipients_language(tmp_path: Path, run) -> None:
    outdir = merged(tmp_path, run)
    run("mail", outdir, "--from", "campaigns@example.org", "--attach", "docx", "-q")
    text = draft_of(outdir, "wang").get_body(("plain",)).get_content()  # type: ignore
    assert text.startswith("尊敬的王毅部长：")
    assert "随函附上我们于2015年11月24日发出的信函：难民遭拘押一事。" in text
    assert "Sophie Richardson" in text
    korean = draft_of(outdir, "kim").get_body(("html",)).get_content()  # type: ignore
    assert "2015년 11월 24일 자 서한을 첨부하여 보내드립니다(제목: 난민 구금 건)." in korean
    english = draft_of(outdir, "quoted").get_body(("html",)).get_content()  # type: ignore
    # the name is data: escaped in HTML, never markup
    assert "Dear Smith, &#34;Jo&#34; &lt;Ops&gt;," in english
    assert "Please find attached our letter of 24 November 2015: Detention of refugees." \
        in english


def test_a_template_folder_gives_its_own_cover_message(tmp_path: Path, run) -> None:
    template = tmp_path / "my-template"
    shutil.copytree(ROOT / "templates" / "advocacy-letter", template)
    (template / "mail.txt").write_text('{{ _("Our letter is attached.") }} {{ subject }}\n',
                                       encoding="utf-8")
    (template / "mail.html").unlink()
    po = template / "locales" / "ko" / "LC_MESSAGES" / "messages.po"
    po.write_text(po.read_text(encoding="utf-8") + '\nmsgid "Our letter is attached."\n'
                  'msgstr "서한을 첨부합니다."\n', encoding="utf-8")
    (tmp_path / "case.yaml").write_text(SHORT_CASE, encoding="utf-8")
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(RECIPIENTS[1:2], allow_unicode=True),
                                     encoding="utf-8")
    outdir = tmp_path / "out"
    run("merge", tmp_path / "case.yaml", tmp_path / "r.yaml", "-o", outdir, "-t", template,
        "-f", "docx", "-q")
    assert run("mail", outdir, "--from", "a@example.org", "--attach", "docx").exit_code == 0
    message = draft_of(outdir, "kim")
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.splitlines() == ["서한을 첨부합니다. Detention of refugees"]
    assert message.get_body(("html",)) is None  # no mail.html: no HTML part


def test_records_without_email_are_listed_with_the_reason(tmp_path: Path, run) -> None:
    outdir = merged(tmp_path, run)
    result = run("mail", outdir, "--from", "a@example.org", "--attach", "docx")
    assert "not emailed: record 6 (postal): no email address (fax +44 20 7946 0321)" \
        in result.output
    rows = {row["id"]: row for row in read_manifest(outdir)}
    assert rows["postal"]["delivery"] == "not emailed"
    assert rows["postal"]["delivery_note"] == "no email address (fax +44 20 7946 0321)"
    assert rows["postal"]["mail"] == ""
    assert rows["wang"]["delivery"] == "draft" and rows["wang"]["mail"] == "mail/wang-王毅.eml"
    assert sorted(p.name for p in (outdir / "mail").iterdir()) == sorted(
        f"{r['mail'].removeprefix('mail/')}" for r in rows.values() if r["mail"])
    # DOCX-only merge: no PDFs, so no post-or-fax.pdf (test_send has the campaign's)
    assert not (outdir / "post-or-fax.pdf").exists()


def test_an_unchanged_letter_keeps_its_message_id_and_its_draft(tmp_path: Path, run) -> None:
    outdir = merged(tmp_path, run)
    run("mail", outdir, "--from", "a@example.org", "--attach", "docx", "-q")
    first = {row["id"]: row["message_id"] for row in read_manifest(outdir)}
    before = (outdir / "mail" / "kim-김민지.eml").read_bytes()
    result = run("mail", outdir, "--from", "a@example.org", "--attach", "docx", "-q")
    assert "(0 written, 5 unchanged)" in result.output
    assert {row["id"]: row["message_id"] for row in read_manifest(outdir)} == first
    assert (outdir / "mail" / "kim-김민지.eml").read_bytes() == before
    assert len(set(first.values()) - {""}) == 5  # one id per letter
    assert first["kim"].endswith("@example.org>")
    # another sender, another campaign: other messages, other ids
    run("mail", outdir, "--from", "b@example.org", "--attach", "docx", "-q")
    assert read_manifest(outdir)[1]["message_id"] != first["kim"]
    run("mail", outdir, "--from", "a@example.org", "--attach", "docx", "--campaign", "2nd")
    assert read_manifest(outdir)[1]["message_id"] != first["kim"]
    # the letter changes: after a new merge, a new id
    changed = [dict(r) for r in RECIPIENTS]
    changed[1] = {**changed[1], "title": "Director"}
    merged(tmp_path, run, changed)
    run("mail", outdir, "--from", "a@example.org", "--attach", "docx", "-q")
    ids = {row["id"]: row["message_id"] for row in read_manifest(outdir)}
    assert ids["kim"] != first["kim"] and ids["wang"] == first["wang"]


def test_nothing_is_written_while_a_letter_is_out_of_date(tmp_path: Path, run) -> None:
    outdir = merged(tmp_path, run)
    changed = [dict(r) for r in RECIPIENTS]
    changed[0] = {**changed[0], "title": "Foreign Minister"}
    (tmp_path / "recipients.yaml").write_text(yaml.safe_dump(changed, allow_unicode=True),
                                              encoding="utf-8")
    with pytest.raises(DataError) as error:
        write_drafts(outdir, MailOptions(sender="a@example.org", attach=("docx",)))
    assert "record 1 (wang): the letter has changed since the merge" in str(error.value)
    assert not (outdir / "mail").exists()


def test_the_pdf_is_required_unless_another_attachment_is_chosen(tmp_path: Path, run) -> None:
    outdir = merged(tmp_path, run)
    result = run("mail", outdir, "--from", "a@example.org")
    assert result.exit_code == 1
    assert "the merge wrote no PDF to attach (merge with `-f pdf`" in result.output
    assert not (outdir / "mail").exists()


def test_enclosures_go_with_every_message(tmp_path: Path, run) -> None:
    outdir = merged(tmp_path, run)
    report = tmp_path / "Report 2015.pdf"
    report.write_bytes(b"%PDF-1.4 a report")
    run("mail", outdir, "--from", "a@example.org", "--attach", "docx", "--enclose", report)
    names = [a.get_filename() for a in draft_of(outdir, "hamad").iter_attachments()]
    assert names == ["hamad-حمد بن علي.docx", "Report 2015.pdf"]
    enclosed = list(draft_of(outdir, "kim").iter_attachments())[1]
    assert enclosed.get_content_type() == "application/pdf"
    assert hashlib.sha256(enclosed.get_content()).digest() == hashlib.sha256(
        report.read_bytes()).digest()


@pytest.mark.parametrize(("sender", "message"), [
    ("not an address", "'not an address' is not an email address"),
    ("", "give the sender's address with --from"),
])
def test_a_bad_sender_is_refused(tmp_path: Path, run, monkeypatch, sender: str,
                                 message: str) -> None:
    monkeypatch.setenv("DRAFTER_CONFIG", str(tmp_path / "none.toml"))
    outdir = merged(tmp_path, run)
    result = run("mail", outdir, *(["--from", sender] if sender else []), "--attach", "docx")
    assert result.exit_code != 0
    assert message in result.output
    assert not (outdir / "mail").exists()


def test_the_sender_may_come_from_the_config_file(tmp_path: Path, run, monkeypatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[mail]\nfrom = "Desk <desk@example.org>"\n', encoding="utf-8")
    monkeypatch.setenv("DRAFTER_CONFIG", str(config))
    outdir = merged(tmp_path, run)
    assert run("mail", outdir, "--attach", "docx", "-q").exit_code == 0
    assert str(draft_of(outdir, "kim")["From"]) == "Desk <desk@example.org>"


def test_mail_needs_a_merge(tmp_path: Path, run) -> None:
    result = run("mail", tmp_path, "--from", "a@example.org")
    assert result.exit_code == 1
    assert "no merge was found in this folder" in result.output


def test_case_copies_are_validated_as_addresses(tmp_path: Path, run) -> None:
    (tmp_path / "case.yaml").write_text(SHORT_CASE + "mail: {bcc: [archive]}\n",
                                        encoding="utf-8")
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(RECIPIENTS[:1], allow_unicode=True),
                                     encoding="utf-8")
    result = run("merge", tmp_path / "case.yaml", tmp_path / "r.yaml", "-o", tmp_path / "o")
    assert result.exit_code == 1
    assert "case.yaml:6:" in result.output and "'archive' is not an email address" in \
        result.output


def test_the_letters_bcc_people_go_to_the_drafts_bcc(tmp_path: Path, run) -> None:
    """The letter's ``bcc`` people (never printed) are in the draft's Bcc by name, before
    ``mail.bcc``; one already in To or Cc is not copied again; none of them is in the letter."""
    case = CASE.replace("mail:\n", """\
bcc:
  - name: {en: Li Na, zh_Hans: 李娜}
    contacts: [{email: li.na@example.org}, {fax: +86 10 6307 0900}]
  - name: Desk Copy
    contacts: [{email: desk@example.org}]
  - name: No Email
    contacts: [{phone: +86 10 6626 2114}]
mail:
""")
    outdir = merged(tmp_path, run, RECIPIENTS[:2], case)
    assert run("mail", outdir, "--from", "a@example.org", "--attach", "docx", "-q"
               ).exit_code == 0
    wang = draft_of(outdir, "wang")
    bcc = wang["Bcc"].addresses
    assert [a.addr_spec for a in bcc] == ["li.na@example.org", "archive@example.org"]
    assert bcc[0].display_name == "李娜"  # in the letter's language
    assert [a.addr_spec for a in wang["Cc"].addresses] == ["guo@example.org", "desk@example.org"]
    kim = draft_of(outdir, "kim")
    assert kim["Bcc"].addresses[0].display_name == "Li Na"
    assert "wang.yi@mfa.example.org" in [a.addr_spec for a in kim["Bcc"].addresses]
    assert "Li Na" not in docx_text(outdir / "kim-김민지.docx")  # blind: not printed
