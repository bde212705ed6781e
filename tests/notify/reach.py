"""A webhook behind TLS with a CA of the test's own, and an HTTP proxy that tunnels
(CONNECT) or forwards, recording each request it was asked to pass on."""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cockpit.demo.tls import write_self_signed
from tests.notify.servers import Behaviour, webhook


@contextlib.contextmanager
def tls_webhook(folder: Path) -> Iterator[tuple[str, Path, Behaviour]]:
    """A webhook on https://127.0.0.1:PORT, its certificate self-signed; yields the base
    URL, the certificate (the CA file that trusts it) and what the server saw."""
    cert, key = folder / "hook-ca.pem", folder / "hook.key"
    write_self_signed(cert, key)
    with webhook() as (base, seen):
        port = base.rsplit(":", 1)[1]
        with _tls_front(int(port), cert, key) as front:
            yield f"https://127.0.0.1:{front}", cert, seen


@contextlib.contextmanager
def _tls_front(port: int, cert: Path, key: Path) -> Iterator[int]:
    """TLS on a port of its own, the plain server behind it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=_wrap, args=(client, context, port), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        listener.close()


def _wrap(client: socket.socket, context: ssl.SSLContext, port: int) -> None:
    try:
        secure = context.wrap_socket(client, server_side=True)
    except (ssl.SSLError, OSError):
        client.close()  # a client that does not trust us: the handshake fails, as it must
        return
    with secure, socket.create_connection(("127.0.0.1", port)) as plain:
        _pipe(secure, plain)


def _pipe(a: socket.socket, b: socket.socket) -> None:
    while True:
        ready, _, _ = select.select([a, b], [], [], 10)
        if not ready:
            return
        for sock in ready:
            data = sock.recv(65536)
            if not data:
                return
            (b if sock is a else a).sendall(data)


class _Proxy(BaseHTTPRequestHandler):
    server: Any

    def do_CONNECT(self) -> None:
        self.server.asked.append(f"CONNECT {self.path}")
        host, port = self.path.split(":")
        with socket.create_connection((host, int(port))) as upstream:
            self.send_response(200, "Connection established")
            self.end_headers()
            _pipe(self.connection, upstream)

    def do_POST(self) -> None:
        self.server.asked.append(f"POST {self.path}")
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def proxy() -> Iterator[tuple[str, list[str]]]:
    """An HTTP proxy on 127.0.0.1; yields its URL and each request it was asked."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    server.daemon_threads = True
    server.asked = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.asked  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
