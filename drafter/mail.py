"""Email drafts of merged letters: one RFC 5322 message per letter, to review before sending.

After a merge into OUTDIR, :func:`write_drafts` writes ``OUTDIR/mail/<letter>.eml`` for every
letter whose recipient has an email address. Each is a draft a mail program opens as one
(``X-Unsent: 1``): From the sender's address, To the recipient's addresses, Cc the CC people's and
the letter's ``mail.cc``, Bcc the letter's ``mail.bcc`` (a draft keeps its Bcc, as a mail
program's drafts do; ``drafter send`` takes it out of what leaves), the letter's subject in its
language, a short cover message (plain text and HTML) and the letter's PDF attached.

The cover message is a pair of Jinja templates in the template folder, ``mail.txt`` and
``mail.html``, whose fixed phrases (``{{ _("…") }}``) come from the template's catalogs in the
recipient's language; a folder without them uses the built-in template's.

Names and subjects in any script are encoded as the standards say: RFC 2047 encoded words in
headers, RFC 2231 for attachment names, and RFC 6532 (raw UTF-8 headers, sent with SMTPUTF8)
only for a message with an address whose local part is not ASCII. The Message-ID is a digest of
the campaign, the record and the message's content, so an unchanged letter keeps its id (and its
draft file) from one run to the next; ``drafter send`` uses it never to send a letter twice.

Records with no email address are listed with the reason in the report and in
``manifest.csv``, and their PDFs gathered into ``OUTDIR/post-or-fax.pdf``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import mimetypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import escape

from .context import build_context
from .errors import DataError, Location, OutputError, Problem, TemplateError
from .files import read_bounded, sha256_of, write_atomic
from .locales import Localizer, localizer_for
from .manifest import MANIFEST, rewrite_manifest
from .merge import SOURCES, MergedLetter, merged_letters
from .model import Letter, Person
from .outputs import MAIL_DIR, POST_PDF, only_writer
from .sandbox import BoundedSandbox
from .send import manifest_rows, refresh_delivery
from .template import BUILTIN_TEMPLATE, LetterTemplate, find_template

COVER_TEXT = "mail.txt"
COVER_HTML = "mail.html"
ATTACHABLE = ("pdf", "docx")
MAX_COVER_BYTES = 1 << 20  # a cover message template (mail.txt, mail.html): 1 MiB
MAX_ENCLOSURE_BYTES = 25 << 20  # a file attached to every message (--enclose): 25 MiB
DRAFT = "draft"
NOT_EMAILED = "not emailed"
DRAFT_FORMAT = "1"  # changed when drafter writes drafts differently: new Message-IDs then


@dataclass(frozen=True)
class MailOptions:
    """How drafts are made; the defaults are what ``drafter mail --from ADDRESS`` does."""

    sender: str  # the From address, "Name <address>" or a bare address
    attach: tuple[str, ...] = ("pdf",)  # the letter's files to attach: pdf, docx
    enclosures: tuple[Path, ...] = ()  # more files attached to every message
    campaign: str = ""  # names the campaign in Message-IDs; "": the case file's name
    reply_to: str = ""
    wait: bool = False  # another drafter writing into the folder: wait for it (else refuse)


@dataclass(frozen=True)
class Attachment:
    """A file attached to a message."""

    filename: str
    data: bytes

    @property
    def content_type(self) -> tuple[str, str]:
        """The MIME type, from the name (``application/octet-stream`` when unknown)."""
        kind = mimetypes.guess_type(self.filename)[0] or "application/octet-stream"
        main, _, sub = kind.partition("/")
        return main, sub


@dataclass(frozen=True)
class Cover:
    """A cover message's templates, and the catalogs their phrases come from."""

    text: jinja2.Template
    html: jinja2.Template | None
    template: LetterTemplate  # whose catalogs translate the phrases


@dataclass(frozen=True)
class Draft:
    """One message written (or kept) in ``OUTDIR/mail``."""

    number: int
    id: str
    path: Path
    message_id: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    bcc: tuple[str, ...]
    subject: str


@dataclass
class MailReport:
    """What :func:`write_drafts` did."""

    drafts: list[Draft] = field(default_factory=list)
    written: int = 0
    unchanged: int = 0  # drafts already there with the same Message-ID
    not_emailed: list[tuple[int, str, str]] = field(default_factory=list)  # number, id, why
    not_made: list[tuple[int, str, str]] = field(default_factory=list)  # no letter to send
    post: Path | None = None  # the combined PDF of the letters that cannot be emailed
    manifest: Path | None = None


Progress = Callable[[int, int], None]


def write_drafts(outdir: Path, options: MailOptions, *,
                 now: dt.datetime | None = None,
                 on_progress: Progress | None = None) -> MailReport:
    """Write an email draft for every letter of the merge in ``outdir``.

    Everything is checked first (the sender, the cover templates, that every letter and its
    files are as the merge left them); on a problem nothing is written. No other drafter
    writes into ``outdir`` meanwhile (:func:`drafter.outputs.only_writer`).
    """
    with only_writer(outdir, wait=options.wait):
        return _write_drafts(outdir, options, now=now, on_progress=on_progress)


def _write_drafts(outdir: Path, options: MailOptions, *, now: dt.datetime | None,
                  on_progress: Progress | None) -> MailReport:
    sender = parse_sender(options.sender)
    reply_to = parse_sender(options.reply_to, "--reply-to") if options.reply_to else None
    for kind in options.attach:
        if kind not in ATTACHABLE:
            raise DataError([Problem(Location(option="--attach"), "", f"cannot attach "
                                     f"{kind!r}; expected one of {', '.join(ATTACHABLE)}")])
    enclosures = [_enclosure(path) for path in options.enclosures]
    template, letters = merged_letters(outdir)
    cover = load_cover(template)
    campaign = options.campaign or _campaign_of(outdir)
    rows = manifest_rows(outdir)
    by_key = {(row["number"], row["id"]): row for row in rows}
    report = MailReport()
    planned: list[tuple[MergedLetter, dict[str, str], Localizer, tuple[str, str]]] = []
    problems: list[Problem] = []
    for merged in letters:  # first pass: check everything, render the cover messages
        row = by_key.get((str(merged.number), merged.id))
        record: dict[str, Any] = {"record": merged.number, "record_id": merged.id}
        if row is None or row.get("status") not in ("written", "skipped"):
            why = f"the merge made no letter (status {row.get('status')!r})" if row else \
                "not in the manifest"
            report.not_made.append((merged.number, merged.id, why))
            continue
        if row.get("inputs") != merged.inputs:
            problems.append(Problem(Location(), "", "the letter has changed since the merge; "
                                    "run `drafter merge` again first", **record))
            continue
        for kind in options.attach:
            problem = _check_file(outdir, row, kind, record)
            if problem:
                problems.append(problem)
        loc = localizer_for(cover.template, merged.letter.locale)
        try:
            texts = render_cover(cover, merged.letter, loc, _attachment_names(row, options))
        except TemplateError as e:
            problems.extend(e.problems)
            continue
        planned.append((merged, row, loc, texts))
    if problems:
        raise DataError(problems)
    folder = outdir / MAIL_DIR
    try:
        folder.mkdir(exist_ok=True)
    except OSError as e:
        raise OutputError(f"{folder}: cannot create the folder: {e.strerror}") from e
    now = now or dt.datetime.now(dt.UTC)
    kept: set[str] = set()
    post: list[Path] = []
    for done, (merged, row, loc, (text, html)) in enumerate(planned, start=1):
        letter = merged.letter
        row.update(mail="", message_id="", delivery="", delivery_note="")
        if not emails_of(letter.recipient):
            why = _why_not_emailed(letter)
            report.not_emailed.append((merged.number, merged.id, why))
            row.update(delivery=NOT_EMAILED, delivery_note=why)
            if row.get("pdf"):
                post.append(outdir / row["pdf"])
        else:
            attachments = [Attachment(row[kind], (outdir / row[kind]).read_bytes())
                           for kind in options.attach] + enclosures
            message = draft_message(letter, loc, text, html, attachments, sender=sender,
                                    reply_to=reply_to, campaign=campaign, record=(
                                        merged.number, merged.id), date=now)
            draft = _write(folder / f"{merged.name}.eml", message, report, merged)
            kept.add(draft.path.name)
            report.drafts.append(draft)
            row.update(mail=f"{MAIL_DIR}/{draft.path.name}", message_id=draft.message_id,
                       delivery=DRAFT)
        if on_progress:
            on_progress(done, len(planned))
    for stale in folder.glob("*.eml"):  # drafts of letters that are gone or not emailed now
        if stale.name not in kept:
            stale.unlink()
    target = outdir / POST_PDF
    if post:
        from .combine import combine_pdf
        report.post = combine_pdf(post, target)
    else:
        target.unlink(missing_ok=True)
    rewrite_manifest(outdir, rows)
    refresh_delivery(outdir)
    report.manifest = outdir / MANIFEST
    return report


def _campaign_of(outdir: Path) -> str:
    case = Path(json.loads((outdir / SOURCES).read_text(encoding="utf-8"))["case"])
    return f"{case.parent.name}/{case.stem}"


def parse_sender(text: str, option: str = "--from") -> Address:
    """An address as ``Name <user@example.org>`` or ``user@example.org``, checked."""
    name, address = parseaddr(text)
    user, at, domain = address.rpartition("@")
    if not at or not user or "." not in domain or any(c.isspace() for c in address):
        raise DataError([Problem(Location(option=option), "", f"{text!r} is not an email "
                                 "address; expected e.g. 'Campaigns <campaigns@example.org>'")])
    return Address(name, user, domain)


def emails_of(person: Person) -> list[str]:
    """A person's email addresses, as the data gives them."""
    return [contact.value for contact in person.contacts if contact.kind == "email"]


def _why_not_emailed(letter: Letter) -> str:
    others = [f"{c.kind} {c.value}" for c in letter.recipient.contacts if c.kind != "email"]
    ways = "; ".join(others) if others else (
        "postal address only" if letter.recipient.address else "no contact at all")
    return f"no email address ({ways})"


def load_cover(template: LetterTemplate) -> Cover:
    """The cover message of a template folder (``mail.txt``, optional ``mail.html``), or the
    built-in template's when it has none."""
    owner = template if (template.folder / COVER_TEXT).is_file() else find_template(
        BUILTIN_TEMPLATE)
    text = _compile(owner.folder / COVER_TEXT, html=False)
    html_path = owner.folder / COVER_HTML
    return Cover(text, _compile(html_path, html=True) if html_path.is_file() else None, owner)


def _environment(html: bool) -> jinja2.Environment:
    env = BoundedSandbox(undefined=jinja2.StrictUndefined, autoescape=html,
                         extensions=["jinja2.ext.i18n"], keep_trailing_newline=True)
    del env.globals["lipsum"]
    return env


def _compile(path: Path, *, html: bool) -> jinja2.Template:
    try:
        source = read_bounded(path, MAX_COVER_BYTES, kind=TemplateError).decode("utf-8")
    except UnicodeDecodeError as e:
        raise TemplateError([Problem(Location(str(path)), "",
                                     f"cannot read the cover message: {e}")]) from e
    try:
        return _environment(html).from_string(source)
    except jinja2.TemplateSyntaxError as e:
        raise TemplateError([Problem(Location(str(path), line=e.lineno), "",
                                     e.message or str(e))]) from e


def render_cover(cover: Cover, letter: Letter, loc: Localizer,
                 attachments: Sequence[str]) -> tuple[str, str]:
    """The cover message of a letter as plain text and HTML ("" without an HTML template),
    in the letter's language."""
    values = cover_values(letter, loc, attachments)
    results = []
    for template, html in ((cover.text, False), (cover.html, True)):
        if template is None:
            results.append("")
            continue
        env = template.environment

        def phrase(message: str, html: bool = html) -> str:
            text = loc.gettext(message)
            return str(escape(text)) if html else text

        def phrases(singular: str, plural: str, n: int, html: bool = html) -> str:
            text = loc.ngettext(singular, plural, n)
            return str(escape(text)) if html else text

        env.install_gettext_callables(phrase, phrases, newstyle=True)  # type: ignore[attr-defined]
        try:
            results.append(template.render(values))
        except (jinja2.TemplateError, TypeError, ValueError) as e:
            name = COVER_HTML if html else COVER_TEXT
            line = getattr(e, "lineno", None)
            where = Location(str(cover.template.folder / name), line=line)
            raise TemplateError([Problem(where, "", f"{loc.identifier} letter: {e}")]) from e
    return results[0], results[1]


def cover_values(letter: Letter, loc: Localizer, attachments: Sequence[str]) -> dict[str, Any]:
    """What a cover message template may print: the letter's own values (recipient,
    salutation, subject, date, close, signatory, sender, cc) and the attachments' names."""
    values = build_context(letter, loc).values
    signatory = {k: v for k, v in values["signatory"].items() if k != "signature"}
    return {
        "locale": values["locale"], "language": loc.language_tag,
        "direction": "rtl" if loc.right_to_left else "ltr", "date": loc.date(letter.date),
        "recipient": values["recipient"], "subject": values["subject"],
        "salutation": values["salutation"], "close": values["close"],
        "signatory": signatory, "sender": values["sender"], "cc": values["cc"],
        "attachments": list(attachments),
    }


def _attachment_names(row: dict[str, str], options: MailOptions) -> list[str]:
    return [row[kind] for kind in options.attach] + [p.name for p in options.enclosures]


def _check_file(outdir: Path, row: dict[str, str], kind: str, record: dict[str, Any]
                ) -> Problem | None:
    if not row.get(kind):
        return Problem(Location(), "", f"the merge wrote no {kind.upper()} to attach (merge "
                       f"with `-f {kind}`, or choose another `--attach`)", **record)
    path = outdir / row[kind]
    if not path.is_file() or sha256_of(path) != row.get(f"{kind}_sha256"):
        return Problem(Location(str(path)), "", "the file is missing or has changed since the "
                       "merge; run `drafter merge` again", **record)
    return None


def _enclosure(path: Path) -> Attachment:
    return Attachment(path.name, read_bounded(path, MAX_ENCLOSURE_BYTES, field="--enclose"))


def draft_message(letter: Letter, loc: Localizer, text: str, html: str,
                  attachments: Sequence[Attachment], *, sender: Address,
                  reply_to: Address | None = None, campaign: str, record: tuple[int, str],
                  date: dt.datetime) -> EmailMessage:
    """The email draft of one letter (pure: nothing is written)."""
    to = [_address(loc.text(letter.recipient.name), email)
          for email in emails_of(letter.recipient)]
    cc = [_address(loc.text(person.name), email) for person in letter.cc
          for email in emails_of(person)] + [_address("", email) for email in letter.mail.cc]
    bcc = [_address(loc.text(person.name), email) for person in letter.bcc
           for email in emails_of(person)] + [_address("", email) for email in letter.mail.bcc]
    cc = _unique(cc, to)
    bcc = _unique(bcc, to + cc)
    if not sender.display_name and loc.text(letter.sender.name):
        sender = Address(loc.text(letter.sender.name), sender.username, sender.domain)
    sender = _address(sender.display_name, sender.addr_spec)
    subject = loc.text(letter.subject)
    everyone = [sender, *to, *cc, *bcc, *([reply_to] if reply_to else [])]
    # RFC 6532 only where it is needed: an address whose local part is not ASCII.
    utf8 = any(not a.username.isascii() for a in everyone)
    message = EmailMessage(policy=(policy.SMTPUTF8 if utf8 else policy.SMTP).clone(
        cte_type="7bit"))
    message["From"] = sender
    message["To"] = to
    if cc:
        message["Cc"] = cc
    if bcc:
        message["Bcc"] = bcc
    if reply_to:
        message["Reply-To"] = _address(reply_to.display_name, reply_to.addr_spec)
    message["Subject"] = subject
    message["Date"] = format_datetime(date.astimezone(dt.UTC))
    message["Message-ID"] = message_id(campaign, record, sender.domain, [
        DRAFT_FORMAT, loc.language_tag, str(reply_to or ""), str(sender), *map(str, to),
        *map(str, cc), *map(str, bcc), subject, text, html,
        *(f"{a.filename}:{hashlib.sha256(a.data).hexdigest()}" for a in attachments)])
    message["X-Unsent"] = "1"  # Outlook opens the file as a draft, ready to send
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    for attachment in attachments:
        main, sub = attachment.content_type
        message.add_attachment(attachment.data, maintype=main, subtype=sub,
                               filename=attachment.filename)
    message["Content-Language"] = loc.language_tag  # after the parts: set_content drops it
    return message


def message_id(campaign: str, record: tuple[int, str], domain: str, content: Sequence[str]
               ) -> str:
    """A Message-ID that only the campaign, the record and the content decide."""
    digest = hashlib.sha256(json.dumps([campaign, *record, *content], ensure_ascii=False)
                            .encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def _address(name: str, email: str) -> Address:
    user, _, domain = email.rpartition("@")
    try:
        domain.encode("ascii")
    except UnicodeEncodeError:
        domain = domain.encode("idna").decode("ascii")  # 例子.中国 -> xn--fsqu00a.xn--fiqs8s
    # Display names go out as RFC 2047 encoded words; a name with a comma, a quote or a
    # bracket is quoted by the email package, never taken for another address.
    return Address(name.replace("\r", " ").replace("\n", " "), user, domain)


def _unique(addresses: list[Address], already: list[Address]) -> list[Address]:
    seen = {a.addr_spec.lower() for a in already}
    kept = []
    for address in addresses:
        if address.addr_spec.lower() not in seen:
            seen.add(address.addr_spec.lower())
            kept.append(address)
    return kept


def _write(path: Path, message: EmailMessage, report: MailReport,
           merged: MergedLetter) -> Draft:
    """Write a draft, unless the same message (same Message-ID) is there already: its file,
    and so its Date, stay as they were."""
    new_id = str(message["Message-ID"])
    existing = read_headers(path) if path.is_file() else None
    if existing is not None and existing.get("Message-ID") == new_id:
        report.unchanged += 1
    else:
        write_atomic(path, message.as_bytes(), durable=False)
        report.written += 1

    def addresses(header: str) -> tuple[str, ...]:
        value = message[header]
        return tuple(a.addr_spec for a in value.addresses) if value is not None else ()
    return Draft(merged.number, merged.id, path, new_id, addresses("To"), addresses("Cc"),
                 addresses("Bcc"), str(message["Subject"]))


@dataclass(frozen=True)
class DraftReview:
    """One letter of a merge as its email stands, to review before sending: the draft's
    envelope and attachments, and its delivery so far (the manifest's columns)."""

    number: str
    id: str
    recipient: str
    mail: str  # the draft, relative to the merge's folder (mail/x.eml); "": none
    delivery: str  # draft, sent, failed, deferred, uncertain, not emailed; "": no drafts yet
    delivery_note: str
    sender: str = ""
    to: tuple[str, ...] = ()  # "Name <address>"
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    subject: str = ""
    attachments: tuple[str, ...] = ()


def review_drafts(outdir: Path) -> list[DraftReview]:
    """Every letter of the merge in ``outdir`` with its draft's headers and attachments (the
    letters without a draft too, with why, from the manifest)."""
    reviews = []
    for row in manifest_rows(outdir):
        review = DraftReview(row["number"], row["id"], row["recipient"], row["mail"],
                             row["delivery"], row["delivery_note"])
        path = outdir / row["mail"] if row["mail"] else None
        if path is not None and path.parent == outdir / MAIL_DIR and path.is_file():
            message = read_draft(path)

            def names(header: str, message: EmailMessage = message) -> tuple[str, ...]:
                value = message[header]
                return tuple(str(a) for a in value.addresses) if value is not None else ()
            review = dataclasses.replace(
                review, sender=str(message["From"] or ""), to=names("To"), cc=names("Cc"),
                bcc=names("Bcc"), subject=str(message["Subject"] or ""),
                attachments=tuple(part.get_filename() or "" for part in
                                  message.iter_attachments()))
        reviews.append(review)
    return reviews


def read_draft(path: Path) -> EmailMessage:
    """A draft as Python's email package reads it (headers decoded, parts and attachments)."""
    with path.open("rb") as f:
        return BytesParser(policy=policy.default).parse(f)


def read_headers(path: Path) -> EmailMessage:
    """The headers of a message file."""
    with path.open("rb") as f:
        return BytesHeaderParser(policy=policy.default).parse(f)


__all__ = ["Cover", "Draft", "DraftReview", "MailOptions", "MailReport", "draft_message",
           "load_cover", "message_id", "parse_sender", "read_draft", "render_cover",
           "review_drafts", "write_drafts"]
