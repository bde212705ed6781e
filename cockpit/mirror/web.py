"""`cockpit mirror SESSION --web`: the read-only mirror served to browsers by textual-serve.
Every browser connection starts one `cockpit mirror SESSION` process and nothing else: the
command is fixed here, and a browser can only send it keys and a window size, and the
mirror has no verb to send them to. Only with the key in the link it prints
(webdoor.py), and off this machine only over TLS."""

from __future__ import annotations

import ipaddress
import shlex
import socket
import ssl
import sys
from pathlib import Path

from cockpit.errors import CockpitError

LOOPBACK = "127.0.0.1"
WILDCARDS = {"0.0.0.0", "::", "[::]", ""}


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


def tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """The server's TLS from --cert and --key (PEM), or None; refused now, not at the first
    viewer."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise CockpitError("--cert and --key go together: the certificate (PEM) and its "
                           "private key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key, password=_no_passphrase)
    except _Passphrase:
        raise CockpitError(f"--key {key}: has a passphrase, which the server cannot ask for; "
                           "give the key without one") from None
    except ssl.SSLError as exc:
        raise CockpitError(f"--cert {cert} --key {key}: not a PEM certificate and its private "
                           f"key ({exc.reason or exc})") from None
    except OSError as exc:
        raise CockpitError(f"--cert {cert} --key {key}: {exc.strerror}") from None
    return context


class _Passphrase(Exception):
    pass


def _no_passphrase() -> str:
    # OpenSSL would prompt on the terminal and wait: refused instead
    raise _Passphrase


def check_place(host: str, tls: ssl.SSLContext | None) -> None:
    """Off this machine only over TLS, at a name the viewers will open."""
    if host in WILDCARDS:
        raise CockpitError(f"--host {host}: listens everywhere but names no place; give the "
                           "host name or address the reviewers will open (their browser's "
                           "Origin is checked against it, and --cert must be for it)")
    if tls is None and not is_loopback(host):
        raise CockpitError(f"--host {host}: off this machine the mirror is served only over "
                           "TLS: give --cert FILE --key FILE (PEM), or keep --host 127.0.0.1")


def serve(session: Path, host: str = LOOPBACK, port: int = 8000, *,
          cert: Path | None = None, key: Path | None = None, max_viewers: int = 4) -> int:
    """Serve the mirror until Ctrl+C: everything is refused before anything listens."""
    from cockpit.mirror.webdoor import Door, new_key, origin_of
    from cockpit.mirror.webserver import MirrorServer

    if max_viewers < 1:
        raise CockpitError(f"--max-viewers {max_viewers}: at least 1")
    tls = tls_context(cert, key)
    check_place(host, tls)
    check_free(host, port)
    door = Door(new_key(), origin_of("https" if tls else "http", host, port), max_viewers)
    title = f"Cutover Cockpit mirror — {session.resolve().name} (read-only)"
    MirrorServer(mirror_command(session), host=host, port=port, title=title, door=door,
                 tls=tls, say=lambda line: print(line, flush=True)).serve()
    return 0
