"""The session store: `events.jsonl` (append-only, one fsync'd write per event, hash-chained)
and `session.json` (the folded state, replaced atomically).

Reading tolerates a torn last line — an append the machine died in the middle of — and
rejects any other damage with the line it is on. The store never rewrites a damaged log;
a torn tail is set aside (its bytes kept in a file of their own) before the next append.
"""

from __future__ import annotations

import errno
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
    HASH_FIELD,
    Actor,
    Event,
    make_event,
    written_hash,
)
from cockpit.session.forked import in_child
from cockpit.session.layout import EVENTS
from cockpit.session.modes import BINARY, file_mode, folder_mode, inherited_mode
from cockpit.session.records import TornTailSetAside
from cockpit.session.replace import replace_file


class SessionDamaged(CockpitError):
    """The event log is damaged somewhere other than a torn last line."""


class SessionNotFound(CockpitError):
    pass


class SessionWriteFailed(CockpitError):
    """A file of a session could not be written (a full disk, above all); nothing of that
    write was kept: the session stands as it was before it, and resumes."""

    def __init__(self, path: Path, error: OSError) -> None:
        session = next((p for p in path.parents if (p / EVENTS).is_file()), None)
        then = f", then: cockpit resume {session}" if session is not None else \
            ", then try again"
        super().__init__(f"{path}: {error.strerror or error}: nothing of this write was kept, "
                         f"the session stands as it was before it; {write_fix(error)}{then}")
        self.path = path
        self.error = error


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
_ALL_LINES = _ONE_EVENT  # decode_lines: one Event per line of the log


def parse_event_line(raw: bytes, number: int, path: Path) -> Event:
    try:
        return _ONE_EVENT.decode(raw)
    except RecursionError:
        raise SessionDamaged(f"{path}: line {number}: not a valid event (nested too deep); "
                             "the log is damaged — restore it from a copy, the cockpit will "
                             "not repair it") from None
    except msgspec.DecodeError as exc:  # not JSON, or (ValidationError) not an event's shape
        raise SessionDamaged(
            f"{path}: line {number}: not a valid event ({exc}); the log is damaged — "
            "restore it from a copy, the cockpit will not repair it"
        ) from None


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
    if line is not None and written_hash(line) == event.hash:
        return
    if event.hash != event.recomputed_hash():
        raise SessionDamaged(f"{where}: event {event.seq} was altered (its hash does not match)")


# From this size on, a log's lines are hashed in a forked child while the parent decodes
# them: the two halves of reading a long session, on two cores.
_FORK_BYTES = 4 << 20


def _read_fast(raw: bytes, end: int) -> list[Event] | None:
    """Every line of `raw[:end]` as an Event, chain-checked, in one decode and one walk — or
    None whenever anything is not exactly as the store writes it (a line that is no event,
    a blank line, a line laid out otherwise, a broken link): the line-by-line read then
    judges it and names the line. A long session is read this way: a hundred thousand
    lines, no copy of each."""
    def hashes() -> str | None:
        return _hashes_as_written(raw, end)

    written = in_child(hashes) if end >= _FORK_BYTES else hashes
    events: list[Event] | None = None
    try:
        events = _ALL_LINES.decode_lines(memoryview(raw)[:end])
    except (msgspec.DecodeError, RecursionError):  # a line nested past any event's depth
        events = None
    finally:
        shown = written()  # asked for in any case: a child is always reaped
    if events is None or shown is None or len(shown) != 64 * len(events):
        return None
    seq, prev = 0, GENESIS
    for at, event in enumerate(events):
        if (event.seq != seq + 1 or event.prev != prev
                or shown[64 * at:64 * at + 64] != event.hash):
            return None
        seq, prev = event.seq, event.hash
    # line by line, each event is the hash its line shows and its bytes hash to: the log
    # is exactly these events (a blank line, skipped by decode_lines, shows no hash)
    return events


def _hashes_as_written(raw: bytes, end: int) -> str | None:
    """The hash each line of `raw[:end]` shows, in order, joined (64 digits each) — if each
    line's bytes hash to it as written; None at the first that does not."""
    found: list[str] = []
    find, start = raw.find, 0
    while start < end:
        stop = find(b"\n", start)
        # A line that opens and closes an object holds whole top-level values only: a line
        # break after "}" and before "{" can be nowhere inside one. With as many values as
        # lines (the caller counts), each line is exactly one — decode_lines alone reads
        # any whitespace as a separator, so a value could span lines.
        if raw[start] != 0x7B or raw[stop - 1] != 0x7D:
            return None
        digest = written_hash(raw, start, stop)
        if digest is None:
            return None
        found.append(digest)
        start = stop + 1
    return "".join(found)


def _read_line_by_line(lines: list[bytes], path: Path, after: Event | None = None
                       ) -> list[Event]:
    """Each line parsed and linked on its own (to `after`, if the lines follow it): the
    first damage is named with its line; a line written otherwise than canonically is
    judged by its content."""
    valid: list[Event] = []
    for number, line in enumerate(lines, start=1):
        event = parse_event_line(line, number, path)
        check_link(event, valid[-1] if valid else after, number, path, line)
        valid.append(event)
    return valid


def read_event_log(path: Path) -> EventLog:
    """Every complete event, chain-checked; a torn last line is reported, not an error."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SessionNotFound(f"{path}: no such file; is this a session folder?") from None
    end = raw.rfind(b"\n") + 1  # the complete lines; after them, a torn one (or nothing)
    with collector_paused():
        valid = _read_fast(raw, end)
        if valid is None:
            valid = _read_line_by_line(raw[:end].split(b"\n")[:-1], path)
    torn = TornTail(end, raw[end:]) if end < len(raw) else None
    return EventLog(valid, torn, end)


# How far from the log's end `read_events_after` looks for the event a snapshot stands at:
# it is the last event, or one before it after a crash, so a few lines suffice.
_TAIL_BYTES = 1 << 16


def read_events_after(path: Path, seq: int, hash_: str) -> EventLog | None:
    """The events after the one numbered `seq` whose hash is `hash_` — looked for near the
    log's end, whole, and checked to hash as recorded — each chained from it; a torn last
    line is reported as by read_event_log. None when it is not found there or anything
    after it is not exactly as the store writes it: the caller then reads the whole log,
    which names any damage. Nothing before that event is read."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            offset = max(0, size - _TAIL_BYTES)
            handle.seek(offset)
            tail = handle.read()
    except OSError:
        return None
    end = tail.rfind(b"\n") + 1
    anchor_field = HASH_FIELD + hash_.encode() + b'"'
    found = tail.find(anchor_field, 0, end)
    begin = tail.rfind(b"\n", 0, found) + 1
    if found < 0 or (begin == 0 and offset > 0):  # not there, or its line starts before
        return None
    if tail.find(anchor_field, found + 1, end) >= 0:  # there twice: the whole read judges
        return None
    stop = tail.index(b"\n", found)
    if written_hash(tail, begin, stop) != hash_:
        return None
    try:
        anchor = parse_event_line(tail[begin:stop], 1, path)
        if anchor.seq != seq:
            return None
        later = _read_line_by_line(tail[stop + 1:end].split(b"\n")[:-1], path, anchor)
    except SessionDamaged:
        return None
    torn = TornTail(offset + end, tail[end:]) if end < len(tail) else None
    return EventLog(later, torn, offset + end)


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
        """A new session folder, as open as the folder it is made in — or, where the
        operator made it empty beforehand, as that one was — and never more: every file and
        folder inside takes its mode from it (`modes`). An empty folder there is replaced
        by one of ours (its owner may be someone else)."""
        mode = inherited_mode(folder)
        if folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir()):
            mode = folder_mode(folder)
            folder.rmdir()
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            folder.mkdir(mode)
        except FileExistsError:  # made by someone else since it was looked at: not ours
            raise CockpitError(f"{folder}: was made by someone else while the session was "
                               "being started; name a folder of your own") from None
        for sub in ("steps", "evidence"):
            (folder / sub).mkdir(folder_mode(folder))
        fd = os.open(folder / EVENTS, os.O_WRONLY | os.O_CREAT | os.O_EXCL | BINARY,
                     file_mode(folder))
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
        line = event.line()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | BINARY)
        try:
            size = os.fstat(fd).st_size
            try:
                written = os.write(fd, line)
                if written != len(line):  # a full disk takes part of a line, never go on
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                os.fsync(fd)
            except OSError as exc:
                # The event is not written: none of it stays (cutting back frees what a
                # full disk took), so the log ends at its last whole event.
                os.ftruncate(fd, size)
                raise SessionWriteFailed(self.path, exc) from None
        finally:
            os.close(fd)
        self.events.append(event)
        return event


def write_fix(error: OSError) -> str:
    """What to do about a write that failed, in words."""
    if error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return "free space on that disk"
    if os.name == "nt" and isinstance(error, PermissionError):
        return ("close what holds that file open (an editor, a backup or antivirus scan), "
                "or make that folder writable")
    return "make that folder writable"


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
    """Replace `path` with `data`: temp file, fsync, rename, fsync of the folder. A write
    that fails (a full disk) leaves `path` as it was and no temp file."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | BINARY,
                     file_mode(path.parent))
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        replace_file(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise SessionWriteFailed(path, exc) from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    if os.name == "nt":  # Windows cannot open a directory for fsync
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
