"""Follows a growing step log: each call returns the complete lines appended since the last
one. The log pane asks for a bounded tail (every line counted in C, only the last few
decoded); the headless runner and the plain mirror ask for all of them. Lines come out
inert (`inert.py`): they are for showing, and every follower shows them."""

from __future__ import annotations

import os
from pathlib import Path

from cockpit.session.appended import read_appended
from cockpit.session.inert import inert_bytes, inert_lines

LINE_BYTES_GUESS = 400  # enough bytes per wanted line to find the last `keep` lines


def _tail(block: bytes, keep: int) -> bytes:
    """The last `keep` lines of `block` (each ending in LF); all of them for 0."""
    if keep <= 0 or block.count(b"\n") <= keep:
        return block
    at = len(block) - 1
    for _ in range(keep):
        at = block.rfind(b"\n", 0, at)
    return block[at + 1 :]


class LogTail:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""
        self.lines = 0
        self.damage: str | None = None  # the log shrank under us: shown, never papered over

    def read(self, keep: int = 2000, limit: int = 8 << 20) -> list[str]:
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
        buffer = self.partial + data
        cut = buffer.rfind(b"\n")
        if cut < 0:
            self.partial = buffer
            return []
        complete, self.partial = buffer[: cut + 1], buffer[cut + 1 :]
        self.lines += complete.count(b"\n")
        window = complete[-keep * LINE_BYTES_GUESS :]
        if len(window) < len(complete):
            window = window[window.find(b"\n") + 1 :]  # the window's first line may be cut
        return inert_lines(_tail(window, keep))

    def read_all(self) -> list[str]:
        """Every complete line appended since the last call."""
        lines: list[str] = []
        while chunk := self.read(keep=1 << 30):
            lines += chunk
        return lines

    def flush(self, everything: bool = False) -> list[str]:
        """What is left once the writer is done, the held-back partial line included: the
        bounded tail, or with `everything` every line."""
        rest = self.read_all() if everything else self.read()
        if self.partial:
            rest.append(inert_bytes(self.partial))
            self.lines += 1
            self.partial = b""
        return rest

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
