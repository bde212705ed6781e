"""The SCRAM-SHA-256 verifier the cockpit computes for a role's password: checked against
RFC 7677's own exchange (its numbers, not ours), and by logging in to a real server with
passwords SASLprep maps, and one it refuses (whose raw bytes count)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

import psycopg
import pytest
from psycopg import sql

from cockpit.demo.pgcluster import PgCluster
from cockpit.demo.scram import scram_verifier

# RFC 7677, section 3: user "user", password "pencil".
CLIENT_FIRST_BARE = "n=user,r=rOprNGfwEbeRWgbNEkqO"
SERVER_FIRST = ("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
CLIENT_FINAL_BARE = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
PROOF = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
SERVER_SIGNATURE = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def test_the_verifier_matches_rfc_7677s_exchange() -> None:
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    verifier = scram_verifier("pencil", salt=salt, iterations=4096)
    method, rest = verifier.split("$", 1)
    head, keys = rest.split("$")
    assert method == "SCRAM-SHA-256" and head == "4096:W22ZaJ0SNY7soEsUEjb6gQ=="
    stored_key, server_key = (base64.b64decode(k) for k in keys.split(":"))
    auth = f"{CLIENT_FIRST_BARE},{SERVER_FIRST},{CLIENT_FINAL_BARE}".encode()
    # The server's check of the RFC's client proof: H(proof XOR HMAC(StoredKey, auth)).
    signature = hmac.new(stored_key, auth, hashlib.sha256).digest()
    client_key = bytes(a ^ b for a, b in zip(base64.b64decode(PROOF), signature, strict=True))
    assert hashlib.sha256(client_key).digest() == stored_key
    assert base64.b64encode(hmac.new(server_key, auth, hashlib.sha256).digest()).decode() \
        == SERVER_SIGNATURE


def test_each_verifier_has_a_salt_of_its_own() -> None:
    assert scram_verifier("same") != scram_verifier("same")


@pytest.mark.parametrize("password", [
    "Rh-Zx9%@/+!'\"$`\\;", "pässwörd-ﬁx", "non\u00a0breaking", "soft\u00adhyphen",
    "private-\ue000-use"], ids=["ascii", "nfkc", "c12-space", "b1-nothing", "prohibited-raw"])
def test_a_role_with_our_verifier_logs_in_with_its_password(pg_cluster: PgCluster,
                                                            password: str) -> None:
    role = f"scram_{uuid.uuid4().hex[:8]}"
    with pg_cluster.admin() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(scram_verifier(password))))
    try:
        with psycopg.connect(host=str(pg_cluster.socket_dir), port=pg_cluster.port, user=role,
                             dbname="postgres", password=password) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (role,)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(host=str(pg_cluster.socket_dir), port=pg_cluster.port, user=role,
                            dbname="postgres", password=password + "x").close()
    finally:
        with pg_cluster.admin() as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
