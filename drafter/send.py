"""Sending the email drafts over SMTP: paced, logged, resumable, never twice.

:func:`send_drafts` delivers the drafts that ``drafter mail`` wrote into ``OUTDIR/mail``. It is
a dry run unless asked to send. It keeps one SMTP connection (STARTTLS when the server offers
it; TLS from the start for ``smtps://``), re-opened when the server drops it; paces messages
with a token bucket (messages per minute and a burst); retries 4xx replies with back-off and
records 5xx replies, going on with the others.

Every attempt and every outcome is a line of ``OUTDIR/mail/send-log.jsonl``, flushed and
on disk before the next message goes: the attempt line is fsynced before the message's text
leaves (while the server answers MAIL and RCPT), and the outcome line, written the moment the
server replies, with the next attempt. So a run stopped at any moment,
even by SIGKILL or a power cut, is resumed by running it again: messages the server accepted
are never sent again; a message whose attempt has no outcome (the process died between the
end of the message and the log) is *uncertain*: reported, and sent again only when asked. The
log is the truth; ``manifest.csv``'s delivery columns are refreshed from it.

The send log's format and reading, the manifest's delivery columns (:func:`refresh_delivery`;
the manifest itself is :mod:`drafter.manifest`'s), and the configuration (``[send]`` in drafter's
config file, ``DRAFTER_SMTP_*`` variables) are here too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import heapq
import ipaddress
import json
import os
import re
import smtplib
import socket
import ssl
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.parser import HeaderParser
from email.policy import compat32
from email.utils import format_datetime, getaddresses
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from .errors import DataError, DrafterError, Location, Problem
from .files import read_bounded
from .manifest import MANIFEST, MANIFEST_COLUMNS, read_manifest, rewrite_manifest
from .outputs import MAIL_DIR, SEND_LOCK, SEND_LOG, only_writer

LOG_NAME = SEND_LOG
LOCK_NAME = SEND_LOCK
PASSWORD_VARIABLE = "DRAFTER_SMTP_PASSWORD"
SERVER_VARIABLE = "DRAFTER_SMTP_SERVER"
USER_VARIABLE = "DRAFTER_SMTP_USER"
CONFIG_VARIABLE = "DRAFTER_CONFIG"
DEFAULT_PORTS = {"smtp": 587, "smtps": 465}
SENT, FAILED, DEFERRED, UNCERTAIN = "sent", "failed", "deferred", "uncertain"


class SendError(DrafterError):
    """Sending cannot start or go on: no server, a bad login, a certificate refused."""


# -- the manifest's delivery columns ---------------------------------------------------------

def manifest_rows(outdir: Path) -> list[dict[str, str]]:
    """The rows of ``outdir/manifest.csv`` in file order, every column present."""
    if not (outdir / MANIFEST).is_file():
        raise DataError([Problem(Location(str(outdir / MANIFEST)), "", "no manifest: run "
                                 "`drafter merge … -o` into this folder first")])
    rows = read_manifest(outdir / MANIFEST).values()
    return [{column: row.get(column, "") for column in MANIFEST_COLUMNS} for row in rows]


def refresh_delivery(outdir: Path) -> None:
    """Set every draft's delivery status in the manifest from the send log."""
    log = read_log(outdir / MAIL_DIR / LOG_NAME)
    rows = manifest_rows(outdir)
    changed = False
    for row in rows:
        state = log.messages.get(row["message_id"]) if row["message_id"] else None
        if state is None:
            continue
        update = {"delivery": state.status, "delivery_note": state.note}
        if any(row[k] != v for k, v in update.items()):
            row.update(update)
            changed = True
    if changed:
        rewrite_manifest(outdir, rows)


# -- the send log ----------------------------------------------------------------------------

@dataclass
class MessageState:
    """What the log says of one message."""

    status: str  # sent, failed, deferred or uncertain
    note: str  # the server's last reply, or why it is uncertain
    record: str  # "number id"
    time: str


@dataclass
class LogState:
    """The send log, read: each message's state, and the records a message was accepted for."""

    messages: dict[str, MessageState] = field(default_factory=dict)
    sent_records: dict[str, str] = field(default_factory=dict)  # "number id" -> Message-ID


def read_log(path: Path) -> LogState:
    """The states of the messages in a send log; a last line cut short by a crash is ignored."""
    state = LogState()
    if not path.is_file():
        return state
    with path.open("rb") as f:
        for raw in f:
            try:
                entry = json.loads(raw)
                message, event = entry["message_id"], entry["event"]
            except (ValueError, KeyError, TypeError):
                continue  # the torn last line of a killed run: its attempt was never complete
            known = state.messages.get(message)
            if known is not None and known.status == SENT:
                continue  # accepted once is accepted
            record = entry.get("record", known.record if known else "")
            status, note = {
                "attempt": (UNCERTAIN, "the run stopped before the server's reply was logged"),
                "accepted": (SENT, entry.get("reply", "")),
                "rejected": (FAILED, entry.get("reply", "")),
            }.get(event, (DEFERRED, entry.get("reply", "")))
            state.messages[message] = MessageState(status, note, record, entry.get("time", ""))
            if status == SENT:
                state.sent_records[record] = message
    return state


class SendLog:
    """The append-only log: one JSON line per attempt and per outcome, on disk at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: IO[bytes] = path.open("ab")
        self.syncing = ThreadPoolExecutor(1, thread_name_prefix="drafter-send-log")
        with contextlib.suppress(OSError):
            if path.stat().st_size and not _ends_with_newline(path):
                self.file.write(b"\n")  # after a torn line, start a fresh one

    def write(self, event: str, message_id: str, **details: Any) -> None:
        """Append an outcome line, flushed to the system at once (a killed process loses
        nothing); it reaches the disk with the next attempt's fsync, before the next message
        leaves. An outcome lost to a power cut leaves its message uncertain, never sent twice."""
        entry = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                 "event": event, "message_id": message_id, **details}
        self.file.write(json.dumps(entry, ensure_ascii=False).encode("utf-8") + b"\n")
        self.file.flush()

    def attempt(self, message_id: str, **details: Any) -> Callable[[], None]:
        """Append an attempt line and start putting the log on disk; the function returned
        waits until it is there. The sender calls it before the message's text leaves, so
        the fsync runs while the server answers MAIL and RCPT."""
        self.write("attempt", message_id, **details)
        synced = self.syncing.submit(os.fsync, self.file.fileno())

        def wait() -> None:
            try:
                synced.result()
            except OSError as e:  # a message never leaves before its attempt is on disk
                raise SendError(f"{self.path}: cannot write the send log: {e.strerror}; "
                                "stopped before sending") from e
        return wait

    def sync(self) -> None:
        """Put every line on disk now."""
        self.file.flush()
        os.fsync(self.file.fileno())

    def close(self) -> None:
        self.syncing.shutdown(wait=True)
        self.sync()
        self.file.close()


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


# -- the server and its settings -------------------------------------------------------------

@dataclass(frozen=True)
class Server:
    """Where messages go: ``smtp://HOST:PORT`` (STARTTLS when offered) or ``smtps://``."""

    scheme: str
    host: str
    port: int
    user: str = ""

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user else ""
        return f"{self.scheme}://{user}{self.host}:{self.port}"

    @property
    def loopback(self) -> bool:
        """Whether the server is on this machine (a password may then go unencrypted)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_server(url: str, user: str = "") -> Server:
    """A server from its URL, e.g. ``smtp://mail.example.org:587``; a password in the URL is
    refused (it would be in the shell's history and the process list)."""
    parts = urlsplit(url if "://" in url else f"smtp://{url}")
    problem = None
    if parts.scheme not in DEFAULT_PORTS:
        problem = f"{url!r}: the server must be smtp://HOST[:PORT] or smtps://HOST[:PORT]"
    elif parts.password is not None:
        problem = (f"a password in the server URL is refused; set {PASSWORD_VARIABLE} or let "
                   "drafter ask for it")
    elif not parts.hostname:
        problem = f"{url!r} names no host"
    if problem:
        raise SendError(problem)
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError as e:
        raise SendError(f"{url!r}: the port is not a number") from e
    return Server(parts.scheme, parts.hostname or "", port,
                  user or unquote(parts.username or ""))


def config_path(environ: Mapping[str, str] = os.environ) -> Path:
    """drafter's config file: ``$DRAFTER_CONFIG``, or ``config.toml`` in drafter's folder of
    the user's config (``~/.config/drafter/``)."""
    if environ.get(CONFIG_VARIABLE):
        return Path(environ[CONFIG_VARIABLE])
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "drafter" / "config.toml"


def read_config(path: Path) -> dict[str, Any]:
    """The config file as tables (``[send]``, ``[mail]``); none when there is no file.

    A password in it is refused: it belongs in ``DRAFTER_SMTP_PASSWORD`` or the prompt.
    """
    if not path.is_file():
        return {}
    try:
        config = tomllib.loads(read_bounded(path, 1 << 20).decode("utf-8"))  # at most 1 MiB
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise DataError([Problem(Location(str(path)), "",
                                 f"cannot read the config file: {e}")]) from e
    known = {"send": {"server", "user", "rate", "burst", "retries", "retry_delay"},
             "mail": {"from", "reply_to"}}
    problems = []
    for table, values in config.items():
        if table not in known or not isinstance(values, dict):
            problems.append(Problem(Location(str(path)), table,
                                    "unknown table; expected [send] or [mail]"))
            continue
        for key in values:
            if key == "password":
                problems.append(Problem(Location(str(path)), f"{table}.{key}", "a password in "
                                        f"the config file is refused; set {PASSWORD_VARIABLE} "
                                        "instead"))
            elif key not in known[table]:
                problems.append(Problem(Location(str(path)), f"{table}.{key}", "unknown setting; "
                                        f"expected one of {', '.join(sorted(known[table]))}"))
    if problems:
        raise DataError(problems)
    return config


@dataclass(frozen=True)
class SendSettings:
    """What a send is told, before the environment and the config file fill in the rest: the
    CLI's flags, or the studio's form (None: not given)."""

    server: str | None = None
    user: str | None = None
    rate: float | None = None
    burst: int | None = None
    retries: int | None = None
    retry_delay: float | None = None


def configured_options(given: SendSettings = SendSettings(), *, config_file: Path | None = None,
                       environ: Mapping[str, str] = os.environ, **rest: Any) -> SendOptions:
    """The options of a send: what is given wins over the environment (``DRAFTER_SMTP_*``),
    the environment over the config file's ``[send]`` table. ``rest``: the other
    :class:`SendOptions` (``send``, ``limit``, ``resend`` …)."""
    settings = read_config(config_file or config_path(environ)).get("send", {})
    url = given.server or environ.get(SERVER_VARIABLE) or settings.get("server")
    login = given.user or environ.get(USER_VARIABLE) or settings.get("user") or ""
    return SendOptions(
        server=parse_server(url, login) if url else None,
        rate=given.rate if given.rate is not None else float(settings.get("rate", 0)),
        burst=given.burst or int(settings.get("burst", 1)),
        retries=given.retries if given.retries is not None else int(settings.get("retries", 5)),
        retry_delay=given.retry_delay if given.retry_delay is not None else float(
            settings.get("retry_delay", 30)), **rest)


def configured_password(environ: Mapping[str, str] = os.environ) -> str | None:
    """The SMTP password from ``DRAFTER_SMTP_PASSWORD``, or None (then it is asked for); it is
    never read from, or written to, a file."""
    return environ.get(PASSWORD_VARIABLE)


# -- pacing ----------------------------------------------------------------------------------

class RateLimit:
    """A token bucket: ``burst`` messages at once, then ``per_minute`` a minute."""

    def __init__(self, per_minute: float, burst: int = 1,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self.burst = max(1, burst)
        self.tokens = float(self.burst)
        self.clock, self.sleep = clock, sleep
        self.last = clock()

    def take(self) -> None:
        """Wait until a message may go, and count it."""
        if not self.interval:
            return
        while True:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.last) / self.interval)
            self.last = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            self.sleep((1 - self.tokens) * self.interval)


# -- one SMTP connection ---------------------------------------------------------------------

class _Dropped(Exception):
    """The connection was lost, or could not be opened, before the server replied."""

    def __init__(self, text: str, *, opening: bool = False) -> None:
        super().__init__(text)
        self.opening = opening


class Connection:
    """One SMTP session, opened when first needed and again after the server drops it."""

    def __init__(self, server: Server, password: str | None = None, *, timeout: float = 60.0,
                 local_hostname: str | None = None) -> None:
        self.server = server
        self.password = password
        self.timeout = timeout
        self.local_hostname = local_hostname or socket.gethostname() or "localhost"
        self.smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        server = self.server
        try:
            if server.scheme == "smtps":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    server.host, server.port, timeout=self.timeout, context=context,
                    local_hostname=self.local_hostname)
            else:
                smtp = smtplib.SMTP(server.host, server.port, timeout=self.timeout,
                                    local_hostname=self.local_hostname)
            smtp.ehlo()
            encrypted = server.scheme == "smtps"
            if not encrypted and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
                encrypted = True
            if server.user:
                if not encrypted and not server.loopback:
                    smtp.close()
                    raise SendError(f"{server}: the server offers no TLS (STARTTLS); drafter "
                                    "will not send the password unencrypted. Use smtps:// or "
                                    "a server that offers STARTTLS.")
                smtp.login(server.user, self.password or "")
        except smtplib.SMTPAuthenticationError as e:
            raise SendError(f"{server}: the server refused the login: "
                            f"{_reply(e.smtp_code, e.smtp_error)}") from e
        except ssl.SSLError as e:
            raise SendError(f"{server}: TLS failed: {e.reason or e}") from e
        except smtplib.SMTPNotSupportedError as e:
            raise SendError(f"{server}: {e}") from e
        except (smtplib.SMTPException, OSError) as e:
            raise _Dropped(f"cannot connect to {server}: {e}", opening=True) from e
        return smtp

    def transaction(self, sender: str, recipients: list[str], data: bytes, *, utf8: bool,
                    starting: Callable[[], Callable[[], None]]) -> tuple[int, str]:
        """One message: MAIL, RCPT for each recipient, DATA. ``starting`` runs first; what it
        returns runs after the server has said to go ahead with the message and before its
        text is sent. Returns the deciding reply; any refused recipient stops the message
        (nothing is sent)."""
        smtp = self.open()
        ready = starting()
        try:
            options = []
            if utf8:
                if not smtp.has_extn("smtputf8"):
                    return 553, ("the server does not accept internationalized addresses "
                                 "(SMTPUTF8), which this message needs")
                options = ["SMTPUTF8", *(["BODY=8BITMIME"] if smtp.has_extn("8bitmime") else [])]
            code, reply = smtp.mail(sender, options)
            if code != 250:
                return self._abandon(code, reply)
            for recipient in recipients:
                code, reply = smtp.rcpt(recipient)
                if code not in (250, 251):
                    return self._abandon(code, reply, recipient)
            code, reply = smtp.docmd("DATA")
            if code != 354:
                return self._abandon(code, reply)
            ready()
            smtp.send(_dot_stuffed(data))
            code, reply = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            self.drop()
            raise _Dropped(f"connection lost: {e}") from e
        if code == 421:
            self.drop()
        return code, _text(reply)

    def open(self) -> smtplib.SMTP:
        """The session, opened now if there is none."""
        if self.smtp is None:
            self.smtp = self._open()
        return self.smtp

    def _abandon(self, code: int, reply: bytes | str, recipient: str = "") -> tuple[int, str]:
        text = _text(reply)
        if recipient:
            text = f"{recipient}: {text}"
        if code == 421:
            self.drop()
        else:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                assert self.smtp is not None
                self.smtp.rset()
        return code, text

    def drop(self) -> None:
        """Forget the session (it is broken); the next message opens a new one."""
        if self.smtp is not None:
            with contextlib.suppress(Exception):
                self.smtp.close()
        self.smtp = None

    def close(self) -> None:
        """End the session politely."""
        if self.smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.smtp.quit()
        self.drop()


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _reply(code: int, reply: bytes | str) -> str:
    return f"{code} {_text(reply)}".replace("\n", " ")


def _dot_stuffed(data: bytes) -> bytes:
    """The message as DATA sends it: CRLF line ends, a dot doubled at a line's start, the
    final dot. (Counts and replaces, not regular expressions: this is on every message.)"""
    if data.count(b"\n") != data.count(b"\r\n"):  # a draft edited by hand, with bare LFs
        data = re.sub(rb"\r?\n", b"\r\n", data)
    data = data.replace(b"\r\n.", b"\r\n..")
    if data.startswith(b"."):
        data = b"." + data
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


# -- the run ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class SendOptions:
    """How a send runs; the defaults are what ``drafter send OUTDIR`` does (a dry run)."""

    server: Server | None = None
    send: bool = False  # False: only show what would be sent
    limit: int = 0  # at most this many messages this run; 0: all
    rate: float = 0.0  # messages per minute; 0: as fast as the server takes them
    burst: int = 1  # messages that may go at once before the rate applies
    retries: int = 5  # further tries of a message after a 4xx reply or a lost connection
    retry_delay: float = 30.0  # seconds before the first retry; doubled for each next one
    resend: frozenset[str] = frozenset()  # record ids, numbers or Message-IDs to send again
    resend_uncertain: bool = False  # send every uncertain message again
    wait: bool = False  # another drafter writing into the folder: wait for it (else refuse)
    timeout: float = 60.0
    local_hostname: str | None = None  # the name given in EHLO; None: this machine's


@dataclass(frozen=True)
class Outgoing:
    """A draft on its way: its record, its file, its envelope."""

    number: str
    id: str
    path: Path
    message_id: str
    sender: str
    recipients: tuple[str, ...]
    to: tuple[str, ...]
    cc: tuple[str, ...]
    bcc: tuple[str, ...]

    @property
    def record(self) -> str:
        """The record as the log names it."""
        return f"{self.number} {self.id}"

    @property
    def label(self) -> str:
        """How messages name the record: ``record 5 (cui-tiankai)``."""
        return f"record {self.number} ({self.id})"


@dataclass
class SendReport:
    """What a send did, or (dry run) would do."""

    sent: int = 0
    failed: list[tuple[Outgoing, str]] = field(default_factory=list)  # 5xx: the reply
    deferred: list[tuple[Outgoing, str]] = field(default_factory=list)  # 4xx after retries
    uncertain: list[tuple[Outgoing, str]] = field(default_factory=list)  # not sent again
    skipped: int = 0  # accepted in an earlier run
    changed: list[tuple[Outgoing, str]] = field(default_factory=list)  # an earlier version sent
    not_emailed: int = 0
    left: int = 0  # not tried because of --limit
    planned: list[Outgoing] = field(default_factory=list)  # to send (dry run: would send)
    server: Server | None = None

    @property
    def ok(self) -> bool:
        """Whether nothing failed, was deferred or is uncertain."""
        return not (self.failed or self.deferred or self.uncertain)


Progress = Callable[[int, int], None]


def send_drafts(outdir: Path, options: SendOptions = SendOptions(), *,
                password: str | None = None, on_progress: Progress | None = None) -> SendReport:
    """Send (or, by default, only list) the drafts of ``outdir/mail`` that the server has not
    accepted yet. Safe to run again at any time: see the module's docstring."""
    folder = outdir / MAIL_DIR
    rows = manifest_rows(outdir)
    report = SendReport(server=options.server)
    # Sending rewrites the manifest's delivery columns: no merge or mail meanwhile.
    with _only_sender(folder, options.send), (
            only_writer(outdir, wait=options.wait) if options.send else contextlib.nullcontext()):
        log = read_log(folder / LOG_NAME)
        report.planned = _plan(outdir, rows, log, options, report)
        if not options.send or not report.planned:
            return report
        if options.server is None:
            raise SendError(f"no server: give --server smtp://HOST:PORT, set {SERVER_VARIABLE}, "
                            f"or `server = …` under [send] in {config_path()}")
        try:
            _Run(folder, options, password, report, on_progress).run()
        finally:
            refresh_delivery(outdir)
    return report


@contextlib.contextmanager
def _only_sender(folder: Path, sending: bool) -> Iterator[None]:
    """One `drafter send` at a time per folder: two would send the same messages."""
    if not sending:
        yield
        return
    import fcntl

    folder.mkdir(exist_ok=True)
    with (folder / LOCK_NAME).open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            raise SendError(f"{folder}: another `drafter send` is sending these messages now"
                            ) from e
        yield


def _plan(outdir: Path, rows: list[dict[str, str]], log: LogState, options: SendOptions,
          report: SendReport) -> list[Outgoing]:
    planned: list[Outgoing] = []
    problems: list[Problem] = []
    for row in rows:
        if row["delivery"] == "not emailed":
            report.not_emailed += 1
        if not row["mail"] or not row["message_id"]:
            continue
        try:
            item = _outgoing(outdir, row)
        except DataError as e:
            problems.extend(e.problems)
            continue
        state = log.messages.get(item.message_id)
        asked = bool({item.id, item.number, item.message_id} & options.resend)
        earlier = log.sent_records.get(item.record)
        if state is not None and state.status == SENT:
            report.skipped += 1
        elif earlier and earlier != item.message_id and not asked:
            report.changed.append((item, f"an earlier version ({earlier}) was sent"))
        elif state is not None and state.status == UNCERTAIN and not (
                asked or options.resend_uncertain):
            report.uncertain.append((item, f"attempted at {state.time}; {state.note}"))
        elif options.limit and len(planned) >= options.limit:
            report.left += 1
        else:
            planned.append(item)
    if problems:
        raise DataError(problems)
    return planned


def _outgoing(outdir: Path, row: dict[str, str]) -> Outgoing:
    path = outdir / row["mail"]
    record: dict[str, Any] = {"record": int(row["number"]), "record_id": row["id"]}
    try:
        with path.open("rb") as f:
            head = f.read(1 << 20).split(b"\r\n\r\n", 1)[0]
        # UTF-8, not ASCII: the headers of an RFC 6532 draft hold raw UTF-8. The compat32
        # policy: only the addresses are needed, and its parser is many times faster.
        headers = HeaderParser(policy=compat32).parsestr(head.decode("utf-8", "replace"),
                                                         headersonly=True)
    except OSError as e:
        raise DataError([Problem(Location(str(path)), "", f"cannot read the draft: "
                                 f"{e.strerror}; run `drafter mail` again", **record)]) from e
    if str(headers.get("Message-ID", "")).strip() != row["message_id"]:
        raise DataError([Problem(Location(str(path)), "Message-ID", "the draft is not the one "
                                 "the manifest names; run `drafter mail` again", **record)])

    def addresses(name: str) -> tuple[str, ...]:
        return tuple(address for _, address in getaddresses(headers.get_all(name, []))
                     if address)
    sender = addresses("From")
    to, cc, bcc = addresses("To"), addresses("Cc"), addresses("Bcc")
    if len(sender) != 1 or not to:
        raise DataError([Problem(Location(str(path)), "From" if len(sender) != 1 else "To",
                                 "the draft needs one sender and a recipient", **record)])
    return Outgoing(row["number"], row["id"], path, row["message_id"], sender[0],
                    tuple(dict.fromkeys((*to, *cc, *bcc))), to, cc, bcc)


def outgoing_bytes(draft: bytes, date: dt.datetime) -> tuple[bytes, bool]:
    """What leaves for a draft: its Bcc and X-Unsent headers removed, Date set to the time of
    sending; and whether its headers need SMTPUTF8 (RFC 6532)."""
    head, separator, body = draft.partition(b"\r\n\r\n")
    if not separator:
        head, separator, body = draft.partition(b"\n\n")
    fields: list[list[bytes]] = []
    for line in re.split(rb"\r?\n", head):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1].append(line)
        else:
            fields.append([line])
    kept = []
    for lines in fields:
        name = lines[0].split(b":", 1)[0].strip().lower()
        if name in (b"bcc", b"x-unsent"):
            continue
        if name == b"date":
            lines = [b"Date: " + format_datetime(date.astimezone(dt.UTC)).encode("ascii")]
        kept.extend(lines)
    head = b"\r\n".join(kept)
    return head + b"\r\n\r\n" + body, not head.isascii()


@dataclasses.dataclass(order=True)
class _Retry:
    due: float
    order: int
    item: Outgoing = dataclasses.field(compare=False)
    tries: int = dataclasses.field(compare=False, default=0)


class _Run:
    """One sending run: the queue, the retries, the connection, the log."""

    def __init__(self, folder: Path, options: SendOptions, password: str | None,
                 report: SendReport, on_progress: Progress | None) -> None:
        assert options.server is not None
        self.options = options
        self.report = report
        self.on_progress = on_progress
        self.folder = folder
        self.password = password
        self.limit = RateLimit(options.rate, options.burst)
        self.retries: list[_Retry] = []
        self.done = 0
        self.failed_opens = 0

    def run(self) -> None:
        log = SendLog(self.folder / LOG_NAME)
        connection = Connection(self.options.server, self.password,  # type: ignore[arg-type]
                                timeout=self.options.timeout,
                                local_hostname=self.options.local_hostname)
        queue = iter(self.report.planned)
        try:
            for order in range(len(self.report.planned) * (self.options.retries + 2)):
                if self.retries and self.retries[0].due <= time.monotonic():
                    retry = heapq.heappop(self.retries)  # a retry whose time has come
                elif (item := next(queue, None)) is not None:
                    retry = _Retry(0.0, order, item)
                elif self.retries:  # only retries are left: wait for the first
                    time.sleep(max(0.0, self.retries[0].due - time.monotonic()))
                    retry = heapq.heappop(self.retries)
                else:
                    break
                self._try(retry, connection, log)
        finally:
            connection.close()
            log.close()

    def _try(self, retry: _Retry, connection: Connection, log: SendLog) -> None:
        item = retry.item
        data, utf8 = outgoing_bytes(item.path.read_bytes(), dt.datetime.now(dt.UTC))
        try:
            connection.open()  # first: connecting is not part of the pace
            self.limit.take()
            code, reply = connection.transaction(
                item.sender, list(item.recipients), data, utf8=utf8,
                starting=lambda: log.attempt(item.message_id, record=item.record,
                                             file=item.path.name, to=list(item.recipients),
                                             server=str(self.options.server)))
        except _Dropped as e:
            if e.opening:
                self.failed_opens += 1
                if self.failed_opens > self.options.retries:
                    raise SendError(f"{e}; tried {self.failed_opens} times. Nothing is lost: "
                                    "run the same command again later.") from e
            # No reply: the server has not taken the message (RFC 5321, 4.1.1.4); try again.
            log.write("dropped", item.message_id, record=item.record, reply=str(e))
            self._again(retry, str(e), immediately=retry.tries == 0)
            return
        self.failed_opens = 0
        text = _reply(code, reply)
        if 200 <= code < 300:
            log.write("accepted", item.message_id, record=item.record, reply=text)
            self.report.sent += 1
            self._settled()
        elif 400 <= code < 500:
            log.write("deferred", item.message_id, record=item.record, reply=text)
            self._again(retry, text)
        else:
            log.write("rejected", item.message_id, record=item.record, reply=text)
            self.report.failed.append((item, text))
            self._settled()

    def _again(self, retry: _Retry, why: str, immediately: bool = False) -> None:
        if retry.tries >= self.options.retries:
            self.report.deferred.append((retry.item, why))
            self._settled()
            return
        delay = 0.0 if immediately else self.options.retry_delay * 2 ** retry.tries
        heapq.heappush(self.retries, _Retry(time.monotonic() + delay, retry.order, retry.item,
                                            retry.tries + 1))

    def _settled(self) -> None:
        self.done += 1
        if self.on_progress:
            self.on_progress(self.done, len(self.report.planned))


__all__ = ["Connection", "RateLimit", "SendError", "SendLog", "SendOptions", "SendReport",
           "SendSettings", "Server", "config_path", "configured_options", "configured_password",
           "parse_server", "read_config", "read_log", "send_drafts"]
