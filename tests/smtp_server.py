"""A real SMTP server on 127.0.0.1 for the tests: aiosmtpd, in a thread, on a free port.

Its handler records every message it accepts (envelope, bytes, arrival time) and can misbehave
as real servers do: answer 451 for a while, refuse one address with 550, drop the connection
in the middle of DATA, or ask for a login over TLS.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


@dataclass
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    arrived: float  # time.monotonic() when the server accepted it

    @property
    def message(self) -> EmailMessage:
        """The message as Python's email parser reads it."""
        return BytesParser(policy=policy.default).parsebytes(self.data)  # type: ignore[return-value]

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass
class Handler:
    """What the server does with each message; change the attributes while it runs."""

    received: list[Received] = field(default_factory=list)
    defer_until: float = 0.0  # until this time.monotonic(), DATA is answered 451
    defers: int = 0  # and the next this many messages too
    reject: set[str] = field(default_factory=set)  # RCPT of these addresses: 550
    drops: int = 0  # drop the connection mid-DATA for this many messages
    hold: set[str] = field(default_factory=set)  # messages to these are taken, and the
    hold_seconds: float = 0.0  # reply waits this long
    deferred: int = 0  # 451 replies given
    dropped: int = 0  # connections dropped
    logins: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: SMTP, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.reject:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        if self.hold & set(envelope.rcpt_tos):  # taken at once, the reply comes late
            self._take(envelope)
            await asyncio.sleep(self.hold_seconds)
            return "250 2.0.0 Queued"
        with self.lock:
            if time.monotonic() < self.defer_until or self.defers > 0:
                self.defers -= 1
                self.deferred += 1
                return "451 4.7.1 Too many messages, slow down"
            if self.drops > 0:
                self.drops -= 1
                self.dropped += 1
                assert server.transport is not None
                server.transport.abort()  # no reply: the message was never taken
                return "421 closing"
        self._take(envelope)
        return "250 2.0.0 Queued"

    def _take(self, envelope: Any) -> None:
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                          envelope.original_content or envelope.content,
                                          time.monotonic()))

    def by_id(self) -> dict[str, list[Received]]:
        """The accepted messages by Message-ID."""
        found: dict[str, list[Received]] = {}
        for item in list(self.received):
            found.setdefault(item.message_id, []).append(item)
        return found


@dataclass
class Server:
    """A running server: where it listens and what it received."""

    host: str
    port: int
    handler: Handler
    scheme: str = "smtp"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


@contextmanager
def smtp_server(*, tls: ssl.SSLContext | None = None, implicit_tls: bool = False,
                login: tuple[str, str] | None = None) -> Iterator[Server]:
    """An SMTP server on 127.0.0.1 for the length of the ``with``.

    ``tls``: a server certificate, offered with STARTTLS, or from the start when
    ``implicit_tls``. ``login``: the one user and password it takes (AUTH only over TLS).
    """
    handler = Handler()
    loop = asyncio.new_event_loop()

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                     data: Any) -> AuthResult:
        ok = (login is not None and isinstance(data, LoginPassword)
              and (data.login.decode(), data.password.decode()) == login)
        if ok:
            handler.logins.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=ok, handled=False)  # the server replies 535 itself

    def protocol() -> SMTP:
        with warnings.catch_warnings():  # AUTH over smtps: aiosmtpd cannot tell it is TLS
            warnings.simplefilter("ignore", UserWarning)
            return SMTP(handler, enable_SMTPUTF8=True, hostname="mx.test",
                        tls_context=None if implicit_tls else tls,
                        authenticator=authenticate if login else None,
                        auth_required=login is not None, auth_require_tls=not implicit_tls,
                        timeout=30)

    # The loop runs in its own thread from the start: the caller's thread may have a loop of
    # its own running (Playwright's), where run_until_complete would be refused.
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(loop.create_server(
        protocol, "127.0.0.1", 0, ssl=tls if implicit_tls else None), loop).result(timeout=10)
    port = server.sockets[0].getsockname()[1]
    try:
        yield Server("127.0.0.1", port, handler, "smtps" if implicit_tls else "smtp")
    finally:
        async def stop() -> None:
            server.close()
            await server.wait_closed()
        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
