"""What a step's exit record says of its output's lines — how many, and the last one that is
not blank — from the bytes as they are written, in pieces of any size, in memory bounded by
the length kept of a line (a line without a newline may be gigabytes long).
Standard library only: the supervisor imports it."""

from __future__ import annotations

import re

_INK = re.compile(rb"[^ \t\n\r\x0b\x0c]")  # a byte that is not blank (bytes.strip's set)


class LineStats:
    def __init__(self, keep: int) -> None:
        self.keep = keep  # bytes kept of a line: its end
        self.breaks = 0
        self.open = b""  # the end of the line not yet ended (empty: the output ends a line)
        self.open_blank = True  # nothing but blanks in that line so far
        self.last = b""  # the end of the last ended line that is not blank

    def take(self, data: bytes) -> None:
        """Bytes written, in order, after those taken before."""
        cut = data.rfind(b"\n")
        if cut < 0:
            self.open = (self.open + data[-self.keep:])[-self.keep:]
            self.open_blank = self.open_blank and _INK.search(data) is None
            return
        self.breaks += data.count(b"\n")
        self._ended(data, cut)
        self.open = data[max(cut + 1, len(data) - self.keep):]
        self.open_blank = _INK.search(data, cut + 1) is None

    def _ended(self, data: bytes, cut: int) -> None:
        """The last line that is not blank among those `data` ends (the last at `cut`)."""
        start = data.rfind(b"\n", 0, cut) + 1
        if _INK.search(data, start, cut) is None and not (start == 0 and not self.open_blank):
            ink = len(data[:cut].rstrip())  # after the last byte that is not blank: rare
            if ink > 0:
                cut = data.find(b"\n", ink)
                start = data.rfind(b"\n", 0, cut) + 1
            elif not self.open_blank:  # only the first line, begun before, is not blank
                cut, start = data.find(b"\n"), 0
            else:
                return
        line = data[max(start, cut - self.keep):cut]
        if start == 0 and cut < self.keep:  # the line began before this piece
            line = (self.open + line)[-self.keep:]
        self.last = line.rstrip(b"\r")

    @property
    def lines(self) -> int:
        """Lines so far, an unterminated last one included."""
        return self.breaks + (1 if self.open else 0)

    @property
    def last_line(self) -> bytes:
        """The last line that is not blank (its last `keep` bytes, without a trailing CR),
        the unterminated one too."""
        return self.open.rstrip(b"\r") if not self.open_blank else self.last
