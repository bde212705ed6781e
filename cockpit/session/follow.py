"""Follows a session's event log as it grows: reads only what was appended, checks each new
event's link to the one before, waits for a torn last line to be completed instead of
misreading it, and reports damage without touching the file. Opens nothing for writing."""

from __future__ import annotations

from pathlib import Path

from cockpit.session.events import Event
from cockpit.session.store import check_link, parse_event_line


class EventFollower:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""
        self.line = 0
        self.last: Event | None = None

    def poll(self) -> list[Event]:
        """The complete events appended since the last call (raises SessionDamaged)."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        events: list[Event] = []
        for raw in lines:
            self.line += 1
            event = parse_event_line(raw, self.line, self.path)
            check_link(event, self.last, self.line, self.path)
            self.last = event
            events.append(event)
        return events
