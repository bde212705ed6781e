"""Follows a session's event log as it grows: reads only what was appended, checks each new
event's link to the one before, waits for a torn last line to be completed instead of
misreading it, and reports damage without touching the file. Opens nothing for writing."""

from __future__ import annotations

from pathlib import Path

from cockpit.errors import CockpitError
from cockpit.session.appended import read_appended
from cockpit.session.events import Event
from cockpit.session.store import check_link, parse_event_line


class EventFollower:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""
        self.line = 0
        self.last: Event | None = None
        self.damage: str | None = None  # once set, the follow stops there for good

    def grew(self) -> bool:
        """Whether the log's size differs from what was read (a stat, no read)."""
        try:
            return self.damage is None and self.path.stat().st_size != self.offset
        except OSError:
            return False

    def poll(self) -> list[Event]:
        """The complete, well-chained events appended since the last call. At damage it
        returns those before it, sets `damage`, and reads no further."""
        if self.damage is not None:
            return []
        got = read_appended(self.path, self.offset)
        if got is not None and got[0] < self.offset:
            if got[0] != self.offset - len(self.partial):
                self.damage = (f"{self.path}: shrank from {self.offset:,} to "
                               f"{got[0]:,} bytes; complete events were removed")
                return []
            # Resume set the torn last line aside (into events.torn-at-N.bin) and cut the
            # log back to its last complete event: follow on from there.
            self.offset, self.partial = got[0], b""
            got = read_appended(self.path, self.offset)
        if got is None:
            return []
        data = got[1]
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        events: list[Event] = []
        for raw in lines:
            try:
                event = parse_event_line(raw, self.line + 1, self.path)
                check_link(event, self.last, self.line + 1, self.path, raw)
            except CockpitError as exc:
                self.damage = exc.message
                return events
            self.line += 1
            self.last = event
            events.append(event)
        return events
