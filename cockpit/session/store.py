"""The session store: `events.jsonl` (append-only, one fsync'd write per event, hash-chained)
and `session.json` (the folded state, replaced atomically).

Reading tolerates a torn last line — an append the machine died in the middle of — and
rejects any other damage with the line it is on. The store never rewrites a damaged log;
a torn tail is set aside (its bytes kept in a file of their own) before the next append.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from cockpit.errors import CockpitError
from cockpit.session.bulk import collector_paused
from cockpit.session.events import (
    GENESIS,
    Actor,
    Event,
    event_hash,
    line_hash_matches,
    make_event,
)
from cockpit.session.layout import EVENTS
from cockpit.session.records import TornTailSetAside


class SessionDamaged(CockpitError):
    """The event log is damaged somewhere other than a torn last line."""


class SessionNotFound(CockpitError):
    pass


@dataclass(frozen=True)
class TornTail:
    offset: int
    data: bytes


@dataclass(frozen=True)
class EventLog:
    events: list[Event]
    torn: TornTail | None
    size: int  # bytes of complete lines


_ONE_EVENT = msgspec.json.Decoder(Event)
_ALL_EVENTS = msgspec.json.Decoder(list[Event])


def parse_event_line(raw: bytes, number: int, path: Path) -> Event:
    try:
        return _ONE_EVENT.decode(raw)
    except msgspec.DecodeError as exc:  # not JSON, or (ValidationError) not an event's shape
        raise SessionDamaged(
            f"{path}: line {number}: not a valid event ({exc}); the log is damaged — "
            "restore it from a copy, the cockpit will not repair it"
        ) from None


def _decode_all(lines: list[bytes]) -> list[Event] | None:
    """Every line as an Event in one decode (one call for the whole log; line by line cost
    several times as much); None if any line is not one: each is then read alone, to name
    the bad one."""
    if not lines:
        return []
    try:
        events = _ALL_EVENTS.decode(b"[" + b",".join(lines) + b"]")
    except msgspec.DecodeError:
        return None
    # a line holding two values ("{..},{..}") would shift every later one: count them
    return events if len(events) == len(lines) else None


def check_link(event: Event, previous: Event | None, number: int, path: Path,
               line: bytes | None = None) -> None:
    """An event follows its predecessor and its hash covers its content (`line`: the event
    as read, which when written canonically is hashed as it stands)."""
    want_seq = previous.seq + 1 if previous else 1
    want_prev = previous.hash if previous else GENESIS
    where = f"{path}: line {number}"
    if event.seq != want_seq:
        raise SessionDamaged(f"{where}: event seq {event.seq}, expected {want_seq}")
    if event.prev != want_prev:
        raise SessionDamaged(f"{where}: event {event.seq} does not chain to the one before it")
    if line is not None and line_hash_matches(line, event.hash):
        return
    expected = event_hash(event.seq, event.ts, event.actor, event.type, event.data, event.prev)
    if event.hash != expected:
        raise SessionDamaged(f"{where}: event {event.seq} was altered (its hash does not match)")


def _check_chain(events: list[Event], lines: list[bytes], path: Path) -> None:
    """check_link for every event, its common case (the next seq, the hash before, a line
    that hashes as written) inline: a long session's hundred thousand calls add up."""
    seq, prev = 0, GENESIS
    previous: Event | None = None
    for number, (event, line) in enumerate(zip(events, lines, strict=True), start=1):
        if event.seq != seq + 1 or event.prev != prev or not line_hash_matches(line, event.hash):
            check_link(event, previous, number, path, line)
        seq, prev, previous = event.seq, event.hash, event


def read_event_log(path: Path) -> EventLog:
    """Every complete event, chain-checked; a torn last line is reported, not an error."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SessionNotFound(f"{path}: no such file; is this a session folder?") from None
    lines = raw.split(b"\n")
    tail = lines.pop()  # after the last newline: b"" when the file is whole
    with collector_paused():
        valid = _decode_all(lines)
        if valid is not None:
            _check_chain(valid, lines, path)
        else:  # some line is not an event: line by line, so the first damage is named
            valid = []
            for number, line in enumerate(lines, start=1):
                event = parse_event_line(line, number, path)
                check_link(event, valid[-1] if valid else None, number, path, line)
                valid.append(event)
    offset = sum(map(len, lines)) + len(lines)
    torn = TornTail(offset, tail) if tail else None
    return EventLog(valid, torn, offset)


class SessionStore:
    """Appends events to one session folder. Only the lock holder writes."""

    def __init__(self, folder: Path, redact: Callable[[str], str] = lambda s: s) -> None:
        self.folder = folder
        self.path = folder / EVENTS
        self._redact = redact
        self._pending_torn: dict[str, Any] | None = None
        log = read_event_log(self.path)
        self.events = log.events
        if log.torn is not None:
            self._set_aside(log.torn)

    @classmethod
    def create(cls, folder: Path, redact: Callable[[str], str] = lambda s: s) -> SessionStore:
        folder.mkdir(parents=True, exist_ok=False)
        for sub in ("steps", "evidence"):
            (folder / sub).mkdir()
        fd = os.open(folder / EVENTS, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.close(fd)
        fsync_dir(folder)
        return cls(folder, redact)

    def _set_aside(self, torn: TornTail) -> None:
        # The torn bytes were never a committed event. Keep them in a file of their own,
        # cut them from the log so the chain can go on, and say so in the next event.
        aside = self.folder / f"events.torn-at-{torn.offset}.bin"
        write_atomic(aside, torn.data)
        with open(self.path, "r+b") as handle:
            handle.truncate(torn.offset)
            os.fsync(handle.fileno())
        self._pending_torn = TornTailSetAside(
            offset=torn.offset, bytes=len(torn.data), file=aside.name,
            sha256=hashlib.sha256(torn.data).hexdigest()).data()

    @property
    def last(self) -> Event | None:
        return self.events[-1] if self.events else None

    def append(self, actor: Actor, type_: str, data: dict[str, Any]) -> Event:
        """Write one event: redacted, one write, fsync'd before this returns."""
        pending, self._pending_torn = self._pending_torn, None
        if pending is not None:
            self.append(actor, TornTailSetAside.KIND, pending)
        clean = redact_values(data, self._redact)
        last = self.last
        event = make_event(last.seq + 1 if last else 1, actor, type_, clean,
                           last.hash if last else GENESIS)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            line = event.line()
            written = os.write(fd, line)
            if written != len(line):  # a short write leaves a torn line; never go on from it
                raise OSError(f"short write to {self.path}: {written} of {len(line)} bytes")
            os.fsync(fd)
        finally:
            os.close(fd)
        self.events.append(event)
        return event


def redact_values(value: Any, redact: Callable[[str], str]) -> Any:
    """`value` with every string in it (keys too) passed through `redact`."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): redact_values(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_values(v, redact) for v in value]
    return value


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data`: temp file, fsync, rename, fsync of the folder."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    if os.name == "nt":  # Windows cannot open a directory for fsync
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
