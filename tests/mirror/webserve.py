"""`cockpit mirror SESSION --web` started for a test: the link it prints, and a viewer at the
WebSocket level (aiohttp's client, which textual-serve brings) that says what the server
did with it — refused the handshake, closed it with a reason, or sent it the mirror."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil

from tests.run import start_cockpit
from tests.waiting import wait_for, wait_until

LINK = re.compile(r"(https?://[^\s'\"]+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class WebMirror:
    process: subprocess.Popen[str]
    link: str  # as printed: the page, with its key
    origin: str  # scheme://host:port, as a browser that opened the link sends it
    lines: list[str] = field(default_factory=list)  # everything it printed, so far

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def mirrors(self) -> list[psutil.Process]:
        """The `cockpit mirror` processes the server started (one per admitted viewer)."""
        found = []
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                if "mirror" in child.cmdline() and "-c" not in child.cmdline():
                    found.append(child)
            except psutil.NoSuchProcess:
                continue
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_web(session: Path, *flags: str, port: int | None = None,
              host: str = "127.0.0.1") -> WebMirror:
    """The server, up and listening, with the link it printed."""
    port = port or free_port()
    process = start_cockpit("mirror", str(session), "--web", "--host", host, "--port", str(port),
                            *flags, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")),  # type: ignore[union-attr]
                     daemon=True).start()

    def printed() -> list[str]:
        assert process.poll() is None, f"the --web server exited: {''.join(lines)}"
        return [m.group(1) for line in list(lines) if (m := LINK.search(line))]

    def listening() -> bool:
        assert process.poll() is None, f"the --web server exited: {''.join(lines)}"
        try:
            socket.create_connection((host, port), timeout=1).close()
        except OSError:
            return False
        return True

    link = wait_for(printed, "the link printed", 30, every_s=0.05)[0]
    origin = re.match(r"https?://[^/]+", link).group(0)  # type: ignore[union-attr]
    wait_until(listening, "the server listening", 30, every_s=0.05)
    return WebMirror(process, link, origin, lines)


def websocket_url(page: str) -> str:
    """The WebSocket beside a page, as the page's script builds it."""
    base = page.split("?", 1)[0]
    return re.sub(r"^http", "ws", base.rstrip("/") + "/ws")


@dataclass
class Seen:
    how: str  # "refused" (no handshake), "closed" (by the server, at once), "mirror"
    status: int = 0  # the HTTP status of a refused handshake
    code: int = 0  # the close code
    reason: str = ""  # the close reason, or the refusal's body
    data: bytes = b""  # what an admitted viewer received


async def view(url: str, origin: str | None, context: ssl.SSLContext | None = None,
               hold: asyncio.Event | None = None, seconds: float = 30,
               admitted: asyncio.Event | None = None) -> Seen:
    """Connect as a browser would (with `origin`, or none), and wait for the mirror's screen
    (its header says MIRROR) — or for the server to refuse or close. `hold`: once admitted,
    stay connected until it is set; `admitted` is set once the screen is there."""
    async with aiohttp.ClientSession() as client:
        try:
            socket_ = await client.ws_connect(url, origin=origin, ssl=context or False)
        except aiohttp.WSServerHandshakeError as exc:
            return Seen("refused", status=exc.status, reason=exc.message)
        data = b""
        async with socket_:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    while b"MIRROR" not in data:
                        message = await socket_.receive()
                        if message.type == aiohttp.WSMsgType.BINARY:
                            data += message.data
                        elif message.type in (aiohttp.WSMsgType.CLOSE,
                                              aiohttp.WSMsgType.CLOSED,
                                              aiohttp.WSMsgType.CLOSING):
                            return Seen("closed", code=socket_.close_code or 0,
                                        reason=str(message.extra or ""), data=data)
            if b"MIRROR" in data and admitted is not None:
                admitted.set()
            if hold is not None and b"MIRROR" in data:
                await hold.wait()
            return Seen("mirror" if b"MIRROR" in data else "silent", data=data)
