"""A role's password as PostgreSQL stores it, a SCRAM-SHA-256 verifier, computed here so the
clear password never travels in SQL: a server that logs every statement logs the verifier.

RFC 5802 (SCRAM) and RFC 7677 (SHA-256): SaltedPassword = PBKDF2-HMAC-SHA-256(password,
salt, i); ClientKey = HMAC(SaltedPassword, "Client Key"); StoredKey = H(ClientKey);
ServerKey = HMAC(SaltedPassword, "Server Key"). PostgreSQL writes it
`SCRAM-SHA-256$<i>:<salt>$<StoredKey>:<ServerKey>` (base64) and, like libpq, runs the
password through SASLprep (RFC 4013) first, keeping the raw bytes where SASLprep refuses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import stringprep
import unicodedata

ITERATIONS = 4096  # PostgreSQL's default (scram_iterations)
SALT_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


_PROHIBITED = (stringprep.in_table_a1, stringprep.in_table_c12, stringprep.in_table_c21_c22,
               stringprep.in_table_c3, stringprep.in_table_c4, stringprep.in_table_c5,
               stringprep.in_table_c6, stringprep.in_table_c7, stringprep.in_table_c8,
               stringprep.in_table_c9)  # RFC 4013 2.3 and 2.5


def _prohibited(char: str) -> bool:
    return any(test(char) for test in _PROHIBITED)


def saslprep(password: str) -> bytes:
    """The bytes PostgreSQL and libpq hash for `password`: ASCII as it is; else RFC 4013's
    mapping and NFKC — or, where SASLprep refuses the string, its raw UTF-8."""
    raw = password.encode("utf-8")
    if password.isascii():
        return raw
    mapped = "".join(" " if stringprep.in_table_c12(c) else c for c in password
                     if not stringprep.in_table_b1(c))
    normal = unicodedata.normalize("NFKC", mapped)
    if not normal or any(_prohibited(c) for c in normal):
        return raw
    rand_al = [stringprep.in_table_d1(c) for c in normal]
    if any(rand_al) and (any(stringprep.in_table_d2(c) for c in normal)
                         or not (rand_al[0] and rand_al[-1])):
        return raw  # RFC 3454 6: a right-to-left string must not mix and must start and end so
    return normal.encode("utf-8")


def salted_password(password: str, salt: bytes, iterations: int = ITERATIONS) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", saslprep(password), salt, iterations)


def scram_verifier(password: str, salt: bytes | None = None,
                   iterations: int = ITERATIONS) -> str:
    """The SCRAM-SHA-256 verifier of `password` (a fresh random salt unless one is given),
    as `ALTER ROLE … PASSWORD` takes it: the server stores it as it is."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    salted = salted_password(password, salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return f"SCRAM-SHA-256${iterations}:{_b64(salt)}${_b64(stored_key)}:{_b64(server_key)}"
