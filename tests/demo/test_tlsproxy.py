"""The TLS terminator reads a client's startup message as the server will, so the role it
lets through is the role the server sees: the last `user`, and nothing after the terminator."""

from __future__ import annotations

import struct

import pytest

from cockpit.demo.tlsproxy import CANCEL_REQUEST, startup_user


def _packet(body: bytes, code: int = 3 << 16) -> bytes:
    return struct.pack("!II", len(body) + 8, code) + body


@pytest.mark.parametrize(("body", "user"), [
    (b"user\0netzadmin\0database\0netzprod\0\0", "netzadmin"),
    (b"user\0netzadmin\0user\0cockpit\0\0", "cockpit"),  # the server keeps the last
    (b"database\0netzprod\0\0", None),
    (b"user\0netzadmin\0\0user\0cockpit\0\0", None),  # past the terminator: refused
    (b"user\0netzadmin\0", None),  # no terminator
    (b"user\0netzadmin", None),
], ids=["one", "last-counts", "none", "after-terminator", "unterminated", "cut"])
def test_the_startup_messages_user_is_read_as_the_server_reads_it(body: bytes,
                                                                  user: str | None) -> None:
    assert startup_user(_packet(body)) == user


def test_a_packet_that_is_no_startup_message_names_no_user() -> None:
    assert startup_user(_packet(struct.pack("!II", 1, 2), code=CANCEL_REQUEST)) is None
    assert startup_user(_packet(b"user\0netzadmin\0\0", code=2 << 16)) is None
