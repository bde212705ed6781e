"""Follows a growing log file for the log pane: each call returns the complete lines appended
since the last one — counted all, but only the last few decoded, since the pane keeps a
bounded tail. A million lines cost a count in C, not a million Python strings."""

from __future__ import annotations

import os
from pathlib import Path

LINE_BYTES_GUESS = 400  # enough bytes per wanted line to find the last `keep` lines


def _decode(lines: list[bytes]) -> list[str]:
    return [line.decode("utf-8", errors="replace") for line in lines]


class LogTail:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""
        self.lines = 0

    def read(self, keep: int = 2000, limit: int = 8 << 20) -> list[str]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read(limit)
        except FileNotFoundError:
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
        lines = window.split(b"\n")[:-1]
        if len(window) < len(complete):
            lines = lines[1:]  # the window's first line may be cut
        return _decode(lines[-keep:])

    def flush(self) -> list[str]:
        """What is left once the writer is done, the held-back partial line included."""
        rest = self.read()
        if self.partial:
            rest.append(self.partial.decode("utf-8", errors="replace"))
            self.lines += 1
            self.partial = b""
        return rest

    def read_all(self) -> list[str]:
        """Every complete line appended since the last call (for the plain mirror)."""
        lines: list[str] = []
        while True:
            chunk = self.read(keep=1 << 30, limit=8 << 20)
            lines += chunk
            if not chunk:
                return lines

    def flush_all(self) -> list[str]:
        """Every line left, the last one even without its newline."""
        lines = self.read_all()
        if self.partial:
            lines.append(self.partial.decode("utf-8", errors="replace"))
            self.lines += 1
            self.partial = b""
        return lines

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
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        if start > 0:
            lines = lines[1:]
        return _decode(lines[-keep:])
