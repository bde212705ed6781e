"""A URL whose password holds an un-encoded `%`, `@` or `/` is named as such — where it
breaks the URL and how to encode it — by the setup check and by the connection alike, which
read the URL with one parser (libpq's); the password never appears in the message."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from psycopg import sql

from cockpit.demo.pgcluster import PgCluster
from cockpit.engine.setup import check_setup_item, environment_secrets, masked
from cockpit.probes.db import ProbeUnreachable, connect, rows
from cockpit.runbook.model import EnvVar

TEMPLATE = "postgresql://app:<PASSWORD>@db.example:5432/orders?sslmode=require"
ITEM = EnvVar(kind="env", id="dsn", text="`DATABASE_URL` names `orders` with `sslmode=require`",
              name="DATABASE_URL", template=TEMPLATE, database="orders",
              require={"sslmode": "require"})
ENCODED = {"%": "%25", "@": "%40", "/": "%2F"}


def _url(password: str) -> str:
    return f"postgresql://app:{password}@db.example:5432/orders?sslmode=require"


@pytest.mark.parametrize("char", ["%", "@", "/"])
def test_an_unencoded_character_in_the_password_is_named_with_its_encoding(
        char: str, tmp_path: Path) -> None:
    password = f"Tr0ub{char}dor-S3cret"
    ok, observed, detail = check_setup_item(ITEM, tmp_path, {"DATABASE_URL": _url(password)},
                                            "<PASSWORD>")
    assert not ok
    assert f"password holds an un-encoded '{char}'" in detail, detail
    assert f"write '{char}' as {ENCODED[char]}" in detail, detail
    assert "Tr0ub" not in detail and "dor-S3cret" not in detail
    assert observed is None or "S3cret" not in str(observed)
    # the connection reads the URL as the check does: the same cause, not a host lookup
    with pytest.raises(ProbeUnreachable) as caught, \
            connect({"DATABASE_URL": _url(password)}) as conn:
        rows(conn, "SELECT 1")
    message = str(caught.value)
    assert f"password holds an un-encoded '{char}'" in message, message
    assert "does not resolve" not in message and "the server" not in message
    assert "Tr0ub" not in message and "dor-S3cret" not in message
    # the password as meant is a secret whole, and masked whole where the DSN is shown
    assert password in environment_secrets({"DATABASE_URL": _url(password)})
    assert "Tr0ub" not in masked(_url(password)) and "S3cret" not in masked(_url(password))


def test_where_the_url_breaks_is_said_for_each_character(tmp_path: Path) -> None:
    def detail(password: str) -> str:
        return check_setup_item(ITEM, tmp_path, {"DATABASE_URL": _url(password)},
                                "<PASSWORD>")[2]
    assert "read as the host" in detail("a@b")
    assert "read as the database" in detail("a/b")
    assert "percent-encoding" in detail("a%zb")


@pytest.fixture
def odd_role(pg_cluster: PgCluster) -> Iterator[tuple[str, str]]:
    """A login role whose password holds each of `%`, `@` and `/`."""
    name, password = f"app_{uuid.uuid4().hex[:8]}", "p%4@x/y@Z-S3cret"
    with pg_cluster.admin() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(name), sql.Literal(password)))
    yield name, password
    with pg_cluster.admin() as conn:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.mark.parametrize("scheme", ["postgresql", "postgresql+psycopg"])
def test_an_encoded_password_is_read_alike_by_the_check_and_the_connection(
        pg_cluster: PgCluster, odd_role: tuple[str, str], tmp_path: Path, scheme: str) -> None:
    name, password = odd_role
    url = f"{scheme}://{name}:{quote(password, safe='')}@127.0.0.1:{pg_cluster.port}/postgres"
    item = EnvVar(kind="env", id="dsn", text="`DATABASE_URL` names `postgres`",
                  name="DATABASE_URL", database="postgres",
                  template=f"{scheme}://{name}:<PASSWORD>@127.0.0.1:{pg_cluster.port}/postgres")
    ok, observed, detail = check_setup_item(item, tmp_path, {"DATABASE_URL": url}, "<PASSWORD>")
    assert (ok, detail) == (True, "matches the template")
    assert "S3cret" not in str(observed)
    with connect({"DATABASE_URL": url}) as conn:
        assert rows(conn, "SELECT current_user AS who")[0]["who"] == name


@pytest.mark.parametrize("dsn", [
    "postgresql://app:pa#ss-w0rd@db.internal:5432/ledger?sslmode=require",
    "postgresql+psycopg://app:pa?ss-w0rd@db.internal/ledger?sslmode=require",
])
def test_a_hash_or_question_mark_in_the_password_is_masked_too(dsn: str) -> None:
    """Found in review: the URL parser ends the netloc at `#` or `?` (libpq does not), so the
    password was shown in clear by `masked`."""
    shown = masked(dsn)
    assert "ss-w0rd" not in shown and "***" in shown
    assert "db.internal" in shown and "ledger" in shown and "sslmode=require" in shown
