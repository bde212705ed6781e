"""textual-serve's Server behind the mirror's door (webdoor.py): its page and WebSocket
handlers, on public API, under the key's path; no download route (the mirror delivers no
file); TLS when given; no access log (every line would hold the key)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import ssl
from collections.abc import Callable

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.server import Server

from cockpit.mirror.webdoor import TRY_AGAIN_LATER, Door, refusal


class MirrorServer(Server):
    def __init__(self, command: str, *, host: str, port: int, title: str, door: Door,
                 tls: ssl.SSLContext | None, say: Callable[[str], None] = print) -> None:
        super().__init__(command, host=host, port=port, title=title, public_url=door.origin)
        self.door = door
        self.tls = tls
        self.say = say

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.door.guard])
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        prefix = self.door.prefix
        # The names are the ones textual-serve's page asks the router for.
        app.add_routes([
            web.get(f"{prefix}/", self.handle_page, name="index"),
            web.get(f"{prefix}/ws", self.handle_viewer, name="websocket"),
            web.static(f"{prefix}/static", self.statics_path, name="static"),
        ])
        app.on_response_prepare.append(self.door.add_headers)
        app.on_startup.append(self.on_startup)
        return app

    async def handle_page(self, request: web.Request) -> web.StreamResponse:
        if self.door.full:
            return refusal(503, self.door.full_text())
        response: web.StreamResponse = await self.handle_index(request)
        return response

    async def handle_viewer(self, request: web.Request) -> web.StreamResponse:
        """One viewer: from the page's origin (a WebSocket always says where from), and
        within the limit — else closed at once with the reason, no mirror started."""
        door = self.door
        if door.origin_refused(request, required=True):
            return refusal(403, door.origin_text())
        if door.full:
            socket = web.WebSocketResponse()
            await socket.prepare(request)
            await socket.close(code=TRY_AGAIN_LATER, message=door.full_text().encode())
            return socket
        door.viewers += 1
        try:
            return await self.handle_websocket(request)
        finally:
            door.viewers -= 1

    async def on_startup(self, app: web.Application) -> None:
        """Said once, on the terminal that started it: the link is the key."""
        self.say(f"cockpit: the read-only mirror, for up to {self.door.max_viewers} "
                 "viewer(s) at once, at")
        self.say(f"  {self.door.link()}")
        self.say("cockpit: the link is the key; give it only to the reviewers (it is "
                 "written nowhere). Ctrl+C stops.")

    def serve(self, debug: bool = False) -> None:
        """textual-serve's serve, with TLS and without the access log."""
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        for signum in (signal.SIGINT, signal.SIGTERM):
            # Windows has no signal handlers here: Ctrl+C ends it as KeyboardInterrupt
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, self.request_exit)
        web.run_app(self.make_app(), host=self.host, port=self.port, ssl_context=self.tls,
                    access_log=None, handle_signals=False, loop=loop,
                    print=lambda *args: None)
