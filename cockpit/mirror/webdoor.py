"""The web mirror's door: who may come in (the key in the link, from the page's own origin)
and how many at once. Plain aiohttp, nothing of textual-serve: webserver.py puts the door in
front of textual-serve's page and WebSocket."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from html import escape

from aiohttp import web

KEY_BYTES = 32  # 256 bits, URL-safe: the link is the key
TRY_AGAIN_LATER = 1013  # the WebSocket close code for "full now, come back" (RFC 6455 registry)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The key is in the URL: never sent on to another site (the page loads a web font), never
# cached; and the page is not framed by another site.
SAFE_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
                "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"}


def new_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def origin_of(scheme: str, host: str, port: int) -> str:
    """The origin a browser sends for a page served here (RFC 6454: the default port
    is left out, an IPv6 address is bracketed, the host in lower case)."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    default = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{shown.lower()}" + ("" if port == default else f":{port}")


@dataclass
class Door:
    key: str
    origin: str  # scheme://host[:port]: where the mirror is served from
    max_viewers: int
    viewers: int = 0  # WebSockets open now

    @property
    def prefix(self) -> str:
        """Every path the mirror serves starts with it."""
        return f"/{self.key}"

    def link(self) -> str:
        return f"{self.origin}{self.prefix}/"

    def key_matches(self, request: web.Request) -> bool:
        """The path's first segment is the key, compared in constant time."""
        first = request.rel_url.raw_path.lstrip("/").split("/", 1)[0]
        return hmac.compare_digest(first.encode("utf-8", "surrogateescape"),
                                   self.key.encode("ascii"))

    def origin_refused(self, request: web.Request, required: bool) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            return required
        return not hmac.compare_digest(origin.encode("utf-8", "surrogateescape"),
                                       self.origin.encode("utf-8"))

    @property
    def full(self) -> bool:
        return self.viewers >= self.max_viewers

    def full_text(self) -> str:
        many = f"{self.max_viewers} viewer" + ("s" if self.max_viewers != 1 else "")
        return (f"This mirror already has {many}, its limit (--max-viewers "
                f"{self.max_viewers}); try again when one leaves.")

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Before any route: the key, and (where a browser sends one) the origin."""
        if not self.key_matches(request):
            return refusal(403, "This mirror opens only from the link that `cockpit mirror "
                           "--web` printed: its key is part of the link. Ask the operator "
                           "for it.")
        if self.origin_refused(request, required=False):
            return refusal(403, self.origin_text())
        return await handler(request)

    def policy(self) -> str:
        """The page may load and connect to its own origin alone: no font, script or socket
        from elsewhere (textual-serve's page asks Google for a font; the reviewer's browser
        does not tell anyone else it watches a cutover). Its own inline script and styles
        stay allowed: they are textual-serve's page."""
        socket = "wss" + self.origin[5:] if self.origin.startswith("https") \
            else "ws" + self.origin[4:]
        return ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
                "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
                f"connect-src 'self' {socket}; frame-ancestors 'none'; base-uri 'none'; "
                "form-action 'none'")

    async def add_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        """An aiohttp on_response_prepare hook: every response, refusals included."""
        response.headers.update(SAFE_HEADERS)
        response.headers["Content-Security-Policy"] = self.policy()

    def origin_text(self) -> str:
        return (f"This mirror is served at {self.origin} and answers only pages from "
                "there; open the link the operator gave.")


def refusal(status: int, text: str) -> web.Response:
    """A page a browser shows, with the reason in words."""
    body = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Cutover Cockpit "
            f"mirror</title></head><body><p>{escape(text)}</p></body></html>\n")
    return web.Response(status=status, text=body, content_type="text/html")
