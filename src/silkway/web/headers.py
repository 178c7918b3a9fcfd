"""Response headers every answer of a node carries, whatever route or error produced it.

An API answer is never to be sniffed as another type, framed by another site, cached by a shared
cache (declarations and tokens pass here) or sent on as a referrer. JSON answers also get a
content security policy that allows nothing to load; the HTML pages (the OpenAPI page, the
landing page) keep theirs to themselves.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MAX_HEADER_BYTES", "SecurityHeaders"]

MAX_HEADER_BYTES = 16 * 1024
"""How much of an unfinished request head the HTTP server buffers before refusing it (h11's
limit; the server reads 64 KiB at a time, so a head is refused once it outgrows a read). A bearer
token is under 1 KiB."""

_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
_API = (
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                content_type = dict(headers).get(b"content-type", b"")
                extra = _ALWAYS if content_type.startswith(b"text/html") else _ALWAYS + _API
                headers += [(k, v) for k, v in extra if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
