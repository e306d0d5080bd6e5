"""What stands between the studio and anything but its user's own browser.

One ASGI middleware, applied to every request before any route runs:

- **Host check** (DNS rebinding): the ``Host`` header must name the address the studio is bound
  to, with its port; a page on another site that points its own name at 127.0.0.1 is refused.
- **Token, then cookie**: the first visit carries the token printed at start-up
  (``/?token=…``); it is exchanged for a cookie (HttpOnly, SameSite=Strict) and the browser is
  sent on to the same page without it. Any request with neither is refused.
- **Cross-site requests**: every request that changes something (not GET or HEAD) must carry
  the page's CSRF token (``X-CSRF-Token`` header or ``csrf`` query parameter) and must not come
  from another origin (``Origin``, ``Sec-Fetch-Site``).
- **Size**: request bodies are bounded; a larger upload is refused before it is read whole.
- Responses forbid framing, sniffing and referrers to other sites, and load scripts only from
  the studio.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY_BYTES = 25 * 1024 * 1024  # an upload: a DOCX template or a recipients spreadsheet
SAFE_METHODS = frozenset({"GET", "HEAD"})
HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),  # "no-referrer" makes form posts say Origin: null
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; "
     b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
]


@dataclass(frozen=True)
class Secrets:
    """The secrets of one studio run: the start-up token, the cookie, the CSRF token."""

    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    session: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))


def allowed_hosts(host: str, port: int) -> frozenset[str]:
    """The ``Host`` headers a browser sends for the studio's address."""
    names = {host}
    if host in ("127.0.0.1", "localhost", "::1"):
        names |= {"127.0.0.1", "localhost"}
    return frozenset(f"[{n}]:{port}" if ":" in n else f"{n}:{port}" for n in names)


class Guard:
    """The ASGI middleware described in the module docstring."""

    def __init__(self, app: ASGIApp, keys: Secrets, hosts: frozenset[str], cookie: str,
                 max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.keys = keys
        self.hosts = hosts
        self.cookie = cookie
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        if headers.get("host", "").lower() not in self.hosts:
            await _refuse(send, 400, "Unknown host: open the address the studio printed.")
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        token = query.get("token")
        if token is not None:
            await self._exchange(scope, send, token, query)
            return
        if not _equal(self._cookie(headers), self.keys.session):
            await _refuse(send, 403, "This studio needs its token: open the address it printed "
                                     "when it started (http://…/?token=…).")
            return
        if scope["method"] not in SAFE_METHODS:
            problem = self._cross_site(headers, query)
            if problem:
                await _refuse(send, 403, problem)
                return
            length = headers.get("content-length", "0")
            if not length.isdigit() or int(length) > self.max_body:
                await _refuse(send, 413, f"Too large: uploads are limited to "
                                         f"{self.max_body >> 20} MiB.")
                return
            receive = _bounded(receive, self.max_body)
        await self.app(scope, receive, _with_headers(send))

    async def _exchange(self, scope: Scope, send: Send, token: str,
                        query: dict[str, str]) -> None:
        if scope["method"] not in SAFE_METHODS or not _equal(token, self.keys.token):
            await _refuse(send, 403, "Wrong token: open the address the studio printed.")
            return
        rest = urlencode({k: v for k, v in query.items() if k != "token"})
        location = scope.get("path", "/") + (f"?{rest}" if rest else "")
        cookie = (f"{self.cookie}={self.keys.session}; Path=/; HttpOnly; SameSite=Strict")
        await send({"type": "http.response.start", "status": 303, "headers": [
            (b"location", location.encode("latin-1")), (b"set-cookie", cookie.encode()),
            (b"content-length", b"0"), *HEADERS]})
        await send({"type": "http.response.body", "body": b""})

    def _cookie(self, headers: dict[str, str]) -> str:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header is no session
            return ""
        morsel = jar.get(self.cookie)
        return morsel.value if morsel else ""

    def _cross_site(self, headers: dict[str, str], query: dict[str, str]) -> str:
        if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return "Refused: the request came from another site."
        origin = headers.get("origin")
        if origin is not None and origin.split("://", 1)[-1] not in self.hosts:
            return "Refused: the request came from another site."
        if not _equal(headers.get("x-csrf-token") or query.get("csrf", ""), self.keys.csrf):
            return "Refused: the request lacks the page's CSRF token; reload the page."
        return ""


def _equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


class _TooLarge(Exception):
    pass


def _bounded(receive: Receive, limit: int) -> Receive:
    """``receive`` that fails once the body grows past ``limit`` (a lying Content-Length)."""
    seen = 0

    async def bounded() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge(f"request body over {limit} bytes")
        return message

    return bounded


def _with_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *HEADERS]
        await send(message)
    return sending


async def _refuse(send: Send, status: int, text: str) -> None:
    body = (f"<!doctype html><meta charset=utf-8><title>drafter studio</title>"
            f"<p>{text}</p>").encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()), *HEADERS]})
    await send({"type": "http.response.body", "body": body})
