"""`sslmode=verify-full` checked before GO, not assumed: for each host of the DSN the
server's certificate chain against the root certificate named (`sslrootcert`: a file, or
`system`), its host name, and its expiry against the maintenance window — a certificate that
expires inside the window is NO-GO, one that expires within 30 days after it a warning.
`sslmode=require` encrypts but authenticates nobody: that is said too. The CA file's sha256
is what the session pins."""

from __future__ import annotations

import hashlib
import socket
import ssl
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509

from cockpit.probes.dsn import parameters

SSL_REQUEST = struct.pack("!II", 8, 80877103)
WARN_WITHIN = timedelta(days=30)


@dataclass(frozen=True)
class TlsVerdict:
    ok: bool
    detail: str
    pins: dict[str, str] = field(default_factory=dict)  # CA file -> sha256


def _root(params: Mapping[str, str], env: Mapping[str, str], workdir: Path | None) -> str:
    given = params.get("sslrootcert") or env.get("PGSSLROOTCERT")
    if given == "system":
        return given
    if given:  # relative: as the steps' libpq reads it, from the working directory
        return str(workdir / given) if workdir is not None and not Path(given).is_absolute() \
            else given
    home = env.get("HOME") or str(Path.home())
    return str(Path(home) / ".postgresql" / "root.crt")  # libpq's default


def _context(root: str) -> ssl.SSLContext:
    if root == "system":
        return ssl.create_default_context()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # chain and host name required
    context.load_verify_locations(cafile=root)
    return context


def peer_certificate(host: str, port: int, context: ssl.SSLContext, timeout_s: float = 10,
                     address: str | None = None) -> x509.Certificate:
    """The server's certificate, verified by `context` (chain, host name) on PostgreSQL's
    own TLS negotiation (ssl.SSLCertVerificationError: it does not verify)."""
    with socket.create_connection((address or host, port), timeout=timeout_s) as raw:
        raw.sendall(SSL_REQUEST)
        if raw.recv(1) != b"S":
            raise ssl.SSLError("the server does not offer TLS")
        with context.wrap_socket(raw, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def _expiry(host: str, cert: x509.Certificate, window_end: datetime | None
            ) -> tuple[bool, str]:
    ends = cert.not_valid_after_utc
    when = f"{ends:%Y-%m-%d %H:%M} UTC"
    if window_end is None:
        return True, f"{host}: certificate expires {when}; not checked against the window " \
                     "(no window end known)"
    if ends <= window_end:
        return False, (f"{host}: the server certificate expires {when}, INSIDE the "
                       f"maintenance window (it ends {window_end:%Y-%m-%d %H:%M %Z}): have "
                       "it renewed before the cutover")
    if ends - window_end <= WARN_WITHIN:
        return True, (f"WARNING {host}: the server certificate expires {when}, "
                      f"{(ends - window_end).days} days after the window")
    return True, f"{host}: verified, certificate expires {when}"


def tls_verdict(var: str, dsn: str, env: Mapping[str, str], window_end: datetime | None,
                workdir: Path | None = None) -> TlsVerdict | None:
    """The verdict for a DSN that asks for `verify-full` (None for any other sslmode), its
    parameters read as libpq reads them: the DSN, its service, then the environment."""
    params = parameters(dsn, env) or {}
    if (params.get("sslmode") or env.get("PGSSLMODE")) != "verify-full":
        return None
    root = _root(params, env, workdir)
    pins: dict[str, str] = {}
    if root != "system":
        try:
            pins[root] = hashlib.sha256(Path(root).read_bytes()).hexdigest()
        except OSError as exc:
            return TlsVerdict(False, f"{var}: the root certificate {root} cannot be read "
                                     f"({exc.strerror or exc}): name it with sslrootcert=")
    hosts = [h.strip() for h in (params.get("host") or env.get("PGHOST") or "").split(",")]
    ports = [p.strip() for p in (params.get("port") or env.get("PGPORT") or "5432").split(",")]
    # hostaddr: where to connect; host: the name the certificate must carry
    addresses = [a.strip() for a in (params.get("hostaddr") or "").split(",") if a.strip()]
    said: list[str] = []
    for index, host in enumerate(hosts):
        if not host or host.startswith(("/", "@")):
            said.append("a local socket: no TLS to verify")
            continue
        port_text = ports[index] if index < len(ports) else ports[-1]
        port = int(port_text) if port_text.isdigit() else 5432
        address = addresses[index] if index < len(addresses) else host
        try:
            cert = peer_certificate(host, port, _context(root), address=address)
        except ssl.SSLCertVerificationError as exc:
            return TlsVerdict(False, f"{var}: {host}:{port} does not verify against {root}: "
                                     f"{exc.verify_message}", pins)
        except (OSError, ssl.SSLError) as exc:
            return TlsVerdict(False, f"{var}: {host}:{port}: no TLS handshake ({exc})", pins)
        ok, text = _expiry(host, cert, window_end)
        if not ok:
            return TlsVerdict(False, f"{var}: {text}", pins)
        said.append(text)
    pinned = f"; CA {root} sha256 {pins[root][:16]}…" if pins else "; CA: the system's"
    return TlsVerdict(True, f"{var}: verify-full: " + "; ".join(said) + pinned, pins)
