"""Unpacking an exported pack for `cockpit verify PACK`, within limits: each member's size is
judged from its header before a byte of it is written — against the size the session's
events record for that file where they record one (a step's log, a captured input, a
displaced file), against UNRECORDED_LIMIT where they do not (each, and all such together),
and all of them together against the free space where they are unpacked — then each is
copied out in chunks, never more than its header says. A gzip bomb is refused by name and
costs no disk."""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from cockpit.errors import CockpitError
from cockpit.session import records
from cockpit.session.layout import EVENTS
from cockpit.session.modes import BINARY
from cockpit.session.store import read_event_log

UNRECORDED_LIMIT = 1 << 30  # a file no event gives a size for: the event log, a record, ...
CHUNK = 1 << 20
SLACK = 4 * tarfile.RECORDSIZE  # the end of an archive: its zero blocks and padding


def unpack(pack: Path, into: Path) -> Path:
    """The pack's session folder, unpacked under `into` (an empty private folder)."""
    with tarfile.open(pack, mode="r:gz") as tar:
        members = tar.getmembers()  # the headers only: decompressed, nothing written
        end = tar.offset
        top = _top(pack, members)
        _read_through(pack, end + SLACK)
        events = next((m for m in members if m.name == f"{top}/{EVENTS}"), None)
        free = shutil.disk_usage(into).free
        if events is not None:  # first: what it records bounds every other member
            _check(pack, [events], {}, free)
            _copy(tar, events, into)
            free -= events.size
        recorded = recorded_sizes(into / top) if events is not None else {}
        rest = [m for m in members if m is not events]
        _check(pack, rest, {f"{top}/{name}": size for name, size in recorded.items()}, free)
        for member in rest:
            _copy(tar, member, into)
    return into / top


def _top(pack: Path, members: list[tarfile.TarInfo]) -> str:
    tops = {m.name.split("/", 1)[0] for m in members}
    if len(tops) != 1:
        raise CockpitError(f"{pack}: a pack holds one session folder; found {len(tops)} "
                           "top-level entries")
    for member in members:  # a pack holds files, inside its folder: no more
        name = PurePosixPath(member.name)
        if name.is_absolute() or ".." in name.parts or not member.isfile():
            raise CockpitError(f"{pack}: {member.name!r} is not a file inside the pack's "
                               "folder; this is no pack of ours")
    return tops.pop()


def _read_through(pack: Path, most: int) -> None:
    """Decompress the whole archive once, so gzip checks its CRC and length (tarfile alone
    stops quietly at the first damaged header and would check a truncated session) — and
    no further than its members reach: bytes hidden past the archive's end are refused."""
    seen = 0
    with gzip.open(pack, "rb") as stream:
        while chunk := stream.read(CHUNK):
            seen += len(chunk)
            if seen > most:
                raise CockpitError(f"{pack}: holds more than {most:,} bytes beyond what its "
                                   "members account for; this is no pack of ours")


def recorded_sizes(folder: Path) -> dict[str, int]:
    """The size the session's events record for each file they name (the largest, should
    one be named twice); none from a log that cannot be read (verify names its damage)."""
    try:
        events = read_event_log(folder / EVENTS).events
    except CockpitError:
        return {}
    sizes: dict[str, int] = {}

    def note(name: Any, size: Any) -> None:
        if isinstance(name, str) and isinstance(size, int):
            sizes[name] = max(size, sizes.get(name, 0))

    logs: dict[str, Any] = {}
    for event in events:
        try:
            record = records.record_of(event)
        except ValidationError:  # not what the cockpit writes: nothing to take from it
            continue
        if isinstance(record, records.StepStarted):
            logs[record.run] = record.log
        elif isinstance(record, records.StepFinished):
            note(logs.get(record.run), record.bytes)
        elif isinstance(record, records.LogDisplaced | records.TornTailSetAside):
            note(record.to if isinstance(record, records.LogDisplaced) else record.file,
                 record.bytes)
        elif isinstance(record, records.GateEvaluated | records.CheckEvaluated):
            seen = record.observed
            if isinstance(seen, dict):
                note(seen.get("captured"), seen.get("size"))
                for kept in seen.get("files") or ():
                    if isinstance(kept, dict):
                        note(kept.get("captured"), kept.get("size"))
    return sizes


def _check(pack: Path, members: list[tarfile.TarInfo], recorded: dict[str, int],
           free: int) -> None:
    """Each member within its limit, and all of them within the free space — judged from
    the headers, before anything is written."""
    for member in members:
        limit = recorded.get(member.name)
        if limit is not None and member.size > limit:
            raise CockpitError(
                f"{pack}: member {member.name} holds {member.size:,} bytes, more than the "
                f"{limit:,} its session recorded for it; refused unread (a pack of ours "
                "holds each file as recorded)")
        if limit is None and member.size > UNRECORDED_LIMIT:
            raise CockpitError(
                f"{pack}: member {member.name} holds {member.size:,} bytes, more than any "
                f"file without a recorded size may ({UNRECORDED_LIMIT:,}); refused unread")
    unrecorded = sum(m.size for m in members if m.name not in recorded)
    if unrecorded > UNRECORDED_LIMIT:
        raise CockpitError(
            f"{pack}: its members without a recorded size hold {unrecorded:,} bytes together, "
            f"more than they may ({UNRECORDED_LIMIT:,}); refused unread")
    total = sum(m.size for m in members)
    if members and total > free:
        biggest = max(members, key=lambda m: m.size)
        raise CockpitError(
            f"{pack}: checking it needs {total:,} bytes unpacked — member {biggest.name} "
            f"alone holds {biggest.size:,} — and the temporary folder has {free:,} free; "
            "refused unread (set TMPDIR to a folder with room)")


def _copy(tar: tarfile.TarFile, member: tarfile.TarInfo, into: Path) -> None:
    """One member's bytes, in chunks: exactly as many as its header says, no more."""
    target = into / member.name
    target.parent.mkdir(parents=True, exist_ok=True)
    source = tar.extractfile(member)
    if source is None:
        raise tarfile.ReadError(f"{member.name}: no data")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | BINARY
    with source, open(os.open(target, flags, 0o600), "wb") as out:
        left = member.size
        while left > 0 and (chunk := source.read(min(CHUNK, left))):
            out.write(chunk)
            left -= len(chunk)
        if left:
            raise tarfile.ReadError(f"{member.name}: {left:,} bytes short of its header")
