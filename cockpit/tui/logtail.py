"""Follows a growing log file: each call returns the complete lines appended since the last.

It reads only what was appended, and holds back a partial last line until it is complete.
"""

from __future__ import annotations

from pathlib import Path


class LogTail:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""
        self.lines = 0

    def read(self, limit: int = 1 << 22) -> list[str]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read(limit)
        except FileNotFoundError:
            return []
        self.offset += len(data)
        chunks = (self.partial + data).split(b"\n")
        self.partial = chunks.pop()
        self.lines += len(chunks)
        return [c.decode("utf-8", errors="replace") for c in chunks]

    def flush(self) -> list[str]:
        """The held-back partial line, once the writer is done."""
        rest = self.read()
        if self.partial:
            rest.append(self.partial.decode("utf-8", errors="replace"))
            self.lines += 1
            self.partial = b""
        return rest
