"""`cockpit mirror SESSION --web`: the read-only mirror served to browsers by textual-serve.
Every browser connection starts one `cockpit mirror SESSION` process and nothing else: the
command is fixed here, and a browser can only send it keys and a window size, and the
mirror has no verb to send them to."""

from __future__ import annotations

import ipaddress
import shlex
import socket
import sys
from pathlib import Path

from cockpit.errors import CockpitError

LOOPBACK = "127.0.0.1"


def mirror_command(session: Path) -> str:
    """The one command each connection runs (textual-serve runs it through a shell)."""
    return shlex.join([sys.executable, "-m", "cockpit", "mirror", str(session.resolve())])


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_free(host: str, port: int) -> None:
    """A clear refusal now, rather than the server's error once it is up."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise CockpitError(f"--host {host}: {exc.strerror}") from None
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise CockpitError(f"{host}:{port}: {exc.strerror}; choose another --port") from None


def serve(session: Path, host: str = LOOPBACK, port: int = 8000) -> int:
    from textual_serve.server import Server

    check_free(host, port)
    if not is_loopback(host):
        print(f"cockpit: serving the mirror on {host}: anyone who can reach {host}:{port} "
              "can watch this session (read-only). Use --host 127.0.0.1 to keep it local.",
              file=sys.stderr)
    title = f"Cutover Cockpit mirror — {session.resolve().name} (read-only)"
    Server(mirror_command(session), host=host, port=port, title=title).serve()
    return 0
