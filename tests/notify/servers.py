"""Local HTTP servers standing in for a webhook, Slack and Teams: each records what it was
sent, and can answer 500 (or 429 with Retry-After) for its first attempts, or hold its answer
until the test lets it go."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Behaviour:
    fail_first: int = 0  # answer `fail_status` to this many requests first
    fail_status: int = 500
    retry_after: str | None = None  # sent with a failing answer
    hold: threading.Event | None = None  # wait for this before answering (recorded first)
    answered: int = 0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length)
        how = self.server.behaviour
        with how.lock:
            how.received.append(Received(self.path, dict(self.headers.items()), data))
            failing = how.answered < how.fail_first
            how.answered += 1
        if how.hold is not None:
            how.hold.wait(60)
        status = how.fail_status if failing else 200
        self.send_response(status)
        if failing and how.retry_after is not None:
            self.send_header("Retry-After", how.retry_after)
        answer = b"no" if failing else b"ok"
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    behaviour: Behaviour


@contextlib.contextmanager
def webhook(behaviour: Behaviour | None = None, port: int = 0) -> Iterator[tuple[str, Behaviour]]:
    """A server on 127.0.0.1; yields its base URL (http://127.0.0.1:PORT) and what it saw."""
    how = behaviour or Behaviour()
    server = _Server(("127.0.0.1", port), _Handler)
    server.behaviour = how
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", how
    finally:
        server.shutdown()
        server.server_close()


def refused_port() -> int:
    """A port nothing listens on: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
