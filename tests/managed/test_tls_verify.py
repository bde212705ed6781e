"""`sslmode=verify-full` against an own certificate authority, in front of the suite's
PostgreSQL: a good certificate verifies; a wrong host, an untrusted issuer and a certificate
that expires inside the window are NO-GO, each with its reason; one that expires soon after
the window is a warning; and a CA file changed between two evaluations of one session is
named."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import ipaddress
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cockpit.demo.pgcluster import PgCluster
from cockpit.probes.tlscheck import tls_verdict
from tests.engine.helpers import phase, write_world
from tests.managed.conftest import Backend, with_dsn_setup
from tests.run import cockpit
from tests.tlsproxy import tls_terminator

NOW = datetime.datetime.now(datetime.UTC)
Key = ec.EllipticCurvePrivateKey


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_ca(name: str) -> tuple[x509.Certificate, Key]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - datetime.timedelta(days=1))
            .not_valid_after(NOW + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False,
                                         False), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def server_cert(ca: tuple[x509.Certificate, Key], folder: Path, valid_for: datetime.timedelta,
                host: str = "127.0.0.1") -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(host)]
    with contextlib.suppress(ValueError):  # an address, not a name
        names = [x509.IPAddress(ipaddress.ip_address(host))]
    cert = (x509.CertificateBuilder().subject_name(_name("db")).issuer_name(ca[0].subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - datetime.timedelta(hours=1))
            .not_valid_after(NOW + valid_for)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(ca[1], hashes.SHA256()))
    cert_path, key_path = folder / f"server-{host}-{valid_for.days}.crt", folder / "server.key"
    cert_path.write_bytes(_pem(cert))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


Serve = Callable[[Path, Path], int]


@pytest.fixture
def serve(pg_cluster: PgCluster | None) -> Iterator[Serve]:
    """serve(cert, key) -> a port where the demo's TLS terminator shows that certificate in
    front of the suite's server."""
    assert pg_cluster is not None
    with contextlib.ExitStack() as running:
        yield lambda cert, key: running.enter_context(tls_terminator(pg_cluster, cert, key))


def _dsn(port: int, root: Path, host: str = "127.0.0.1") -> str:
    return f"postgresql://u:p@{host}:{port}/db?sslmode=verify-full&sslrootcert={root}"


@pytest.fixture
def ca(tmp_path: Path) -> tuple[x509.Certificate, Key, Path]:
    cert, key = make_ca("cockpit test CA")
    root = tmp_path / "root.crt"
    root.write_bytes(_pem(cert))
    return cert, key, root


def test_each_certificate_gets_the_gates_answer(tmp_path: Path, ca, serve: Serve) -> None:
    cert, key, root = ca
    window_end = NOW + datetime.timedelta(hours=2)
    year = datetime.timedelta(days=365)

    good = serve(*server_cert((cert, key), tmp_path, year))
    said = tls_verdict("DATABASE_URL", _dsn(good, root), {}, window_end)
    assert said is not None and said.ok, said
    assert said.detail.startswith("DATABASE_URL: verify-full: 127.0.0.1: verified, certificate "
                                  f"expires {(NOW + year):%Y-%m-%d}")
    assert said.pins == {str(root): hashlib.sha256(root.read_bytes()).hexdigest()}

    wrong = serve(*server_cert((cert, key), tmp_path, year, host="db.example.com"))
    said = tls_verdict("DATABASE_URL", _dsn(wrong, root), {}, window_end)
    assert said is not None and not said.ok
    assert (f"127.0.0.1:{wrong} does not verify against {root}: IP address mismatch, "
            "certificate is not valid for '127.0.0.1'") in said.detail

    inside = serve(*server_cert((cert, key), tmp_path, datetime.timedelta(hours=1)))
    said = tls_verdict("DATABASE_URL", _dsn(inside, root), {}, window_end)
    assert said is not None and not said.ok
    assert "INSIDE the maintenance window" in said.detail and "renewed" in said.detail

    soon = serve(*server_cert((cert, key), tmp_path, datetime.timedelta(days=10)))
    said = tls_verdict("DATABASE_URL", _dsn(soon, root), {}, window_end)
    assert said is not None and said.ok
    assert "WARNING 127.0.0.1: the server certificate expires" in said.detail
    assert "9 days after the window" in said.detail
    said = tls_verdict("DATABASE_URL", _dsn(soon, root), {}, None)
    assert said is not None and said.ok and "not checked against the window" in said.detail

    other = make_ca("somebody else's CA")
    untrusted = serve(*server_cert(other, tmp_path, year))
    said = tls_verdict("DATABASE_URL", _dsn(untrusted, root), {}, window_end)
    assert said is not None and not said.ok
    assert "unable to get local issuer certificate" in said.detail

    # any other sslmode: not this gate's
    assert tls_verdict("DATABASE_URL", f"postgresql://u@127.0.0.1:{good}/db?sslmode=require",
                       {}, window_end) is None


def _world(tmp_path: Path, backend: Backend, port: int) -> Path:
    runbook = write_world(tmp_path, [phase("P0", [("hello", "echo hello")])])
    with_dsn_setup(runbook, backend, port, sslmode="verify-full")
    return runbook


def _checked(session: Path) -> list[dict]:
    events = [json.loads(x) for x in (session / "events.jsonl").read_text().splitlines()]
    return [e["data"] for e in events if e["type"] == "setup_checked"]


def test_a_changed_ca_file_is_named_on_resume(tmp_path: Path, ca, serve: Serve,
                                              backend: Backend) -> None:
    cert, key, root = ca
    port = serve(*server_cert((cert, key), tmp_path, datetime.timedelta(days=365)))
    runbook = _world(tmp_path, backend, port)
    url = (f"{backend.url(port)}?sslmode=verify-full&sslrootcert={root}")
    answers = tmp_path / "answers.toml"
    answers.write_text("[gates]\n")  # the sign-off not given yet: stops at the gates
    first = cockpit("run", str(runbook), "--headless", "--answers", str(answers),
                    "--session", str(tmp_path / "s"), env={"DATABASE_URL": url})
    assert first.returncode == 3, first.stdout + first.stderr
    pinned = _checked(tmp_path / "s")[-1]
    assert pinned["ok"] and pinned["pins"] == {str(root): hashlib.sha256(
        root.read_bytes()).hexdigest()}
    # The provider publishes a bundle with its next CA: the file changes, the server verifies.
    root.write_bytes(root.read_bytes() + _pem(make_ca("the provider's next CA")[0]))
    answers.write_text('[gates]\nsignoff = "GOV-1"\n')
    done = cockpit("resume", str(tmp_path / "s"), "--headless", "--answers", str(answers),
                   env={"DATABASE_URL": url})
    assert done.returncode == 0, done.stdout + done.stderr
    detail = _checked(tmp_path / "s")[-1]["detail"]
    assert f"WARNING the CA file {root} CHANGED since this session pinned it" in detail
    report = cockpit("report", str(tmp_path / "s")).stdout
    assert f"the CA file {root} CHANGED" in report
    verified = cockpit("verify", str(tmp_path / "s"))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_verify_full_from_a_service_or_the_environment_is_checked_too(
        tmp_path: Path, ca, serve: Serve) -> None:
    """libpq's own reading: a service file's sslmode and host, PGHOST and PGPORT, and a
    relative sslrootcert from the working directory, as the steps' libpq reads it."""
    cert, key, root = ca
    port = serve(*server_cert((cert, key), tmp_path, datetime.timedelta(days=365)))
    services = tmp_path / "pg_service.conf"
    services.write_text(f"[prod]\nhost=127.0.0.1\nport={port}\nsslmode=verify-full\n"
                        f"sslrootcert={root}\n")
    said = tls_verdict("PG_DSN", "service=prod dbname=db", {"PGSERVICEFILE": str(services)},
                       None)
    assert said is not None and said.ok and "127.0.0.1: certificate expires" in said.detail
    env = {"PGHOST": "127.0.0.1", "PGPORT": str(port), "PGSSLMODE": "verify-full"}
    said = tls_verdict("PG_DSN", "dbname=db sslrootcert=root.crt", env, None, tmp_path)
    assert said is not None and said.ok and said.pins == {
        str(tmp_path / "root.crt"): hashlib.sha256(root.read_bytes()).hexdigest()}
    other = make_ca("another")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "root.crt").write_bytes(_pem(other[0]))
    said = tls_verdict("PG_DSN", "dbname=db sslrootcert=root.crt", env, None,
                       tmp_path / "elsewhere")
    assert said is not None and not said.ok and "unable to get local issuer" in said.detail
