"""Follows a growing step log: each call returns the complete lines appended since the last
one, from at most a bounded number of bytes — a follower that falls behind catches up over
several calls (`behind` says when there is more), never by holding the whole backlog. The
log pane asks for a bounded tail (every line counted in C, only the last few decoded); the
headless runner and the plain mirror ask for every line, a batch at a time. A line longer
than PIECE_BYTES is given in pieces of that size: a line without end costs no more. Lines
come out inert (`inert.py`): they are for showing, and every follower shows them."""

from __future__ import annotations

import os
from pathlib import Path

from cockpit.session.appended import read_appended
from cockpit.session.inert import inert_bytes, inert_lines

LINE_BYTES_GUESS = 400  # enough bytes per wanted line to find the last `keep` lines
PIECE_BYTES = 1 << 20  # the most of one line held while waiting for its end


def _tail(block: bytes, keep: int) -> bytes:
    """The last `keep` lines of `block` (each ending in LF); all of them for 0."""
    if keep <= 0 or block.count(b"\n") <= keep:
        return block
    at = len(block) - 1
    for _ in range(keep):
        at = block.rfind(b"\n", 0, at)
    return block[at + 1 :]


def _pieces(rest: bytes) -> tuple[list[bytes], bytes]:
    """A line's bytes beyond PIECE_BYTES, cut into pieces (not inside a UTF-8 character);
    what is left, shorter, waits for more."""
    pieces, start = [], 0
    while len(rest) - start > PIECE_BYTES:
        end = start + PIECE_BYTES
        for back in range(1, 5):  # a UTF-8 character is at most 4 bytes
            if rest[end - back + 1] & 0xC0 != 0x80:
                end -= back - 1
                break
        pieces.append(rest[start:end])
        start = end
    return pieces, rest[start:]


class LogTail:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""
        self.lines = 0
        self.behind = False  # the last read stopped short of the file's end: read again
        self.damage: str | None = None  # the log shrank under us: shown, never papered over

    def read(self, keep: int = 2000, limit: int = 8 << 20) -> list[str]:
        """The last `keep` of the complete lines (and pieces of a very long one) in the next
        `limit` bytes appended."""
        self.behind = False
        if self.damage is not None:
            return []
        got = read_appended(self.path, self.offset, limit)
        if got is None:
            return []
        size, data = got
        if size < self.offset:
            self.damage = (f"{self.path} shrank from {self.offset:,} to {size:,} bytes "
                           "while it was being written")
            return []
        self.offset += len(data)
        self.behind = self.offset < size
        buffer = self.partial + data
        cut = buffer.rfind(b"\n")
        complete, rest = (buffer[: cut + 1], buffer[cut + 1 :]) if cut >= 0 else (b"", buffer)
        self.lines += complete.count(b"\n")
        pieces, self.partial = _pieces(rest) if len(rest) > PIECE_BYTES else ([], rest)
        window = complete[-keep * LINE_BYTES_GUESS :]
        if len(window) < len(complete):
            window = window[window.find(b"\n") + 1 :]  # the window's first line may be cut
        shown = inert_lines(_tail(window, keep)) + [inert_bytes(piece) for piece in pieces]
        return shown[-keep:]

    def flush(self) -> list[str]:
        """Once the writer is done and everything before it read: the held-back unterminated
        last line, if there is one."""
        if not self.partial:
            return []
        rest = inert_bytes(self.partial)
        self.lines += 1
        self.partial = b""
        return [rest]

    def last(self, keep: int) -> list[str]:
        """The file's last `keep` lines, without reading the rest of it."""
        try:
            size = os.path.getsize(self.path)
            with open(self.path, "rb") as handle:
                start = max(0, size - keep * LINE_BYTES_GUESS)
                handle.seek(start)
                data = handle.read()
        except FileNotFoundError:
            return []
        self.offset = size
        if data and not data.endswith(b"\n"):
            data += b"\n"  # the last line, unterminated yet
        if start > 0:
            data = data[data.find(b"\n") + 1 :]  # its first line may be cut
        return inert_lines(_tail(data, keep))
