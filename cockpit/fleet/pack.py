"""`cockpit export FLEET -o PACK.tar.gz`: the whole fleet as one archive — its ledger with
the copies it pinned, and every target's session folder — the same bytes every time (sorted
members, one time for all: the ledger's last event, no owner, fixed modes). `cockpit verify
PACK` takes it apart in a private folder and verifies it there, reading nothing outside."""

from __future__ import annotations

import gzip
import os
import tarfile
import tempfile
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from cockpit.errors import CockpitError
from cockpit.evidence.inventory import session_files
from cockpit.fleet.folder import LEDGER, TARGETS, ledger_folder
from cockpit.fleet.ledger import read_fleet
from cockpit.fleet.verify import FleetVerification, verify_fleet
from cockpit.session.layout import EVENTS
from cockpit.session.modes import file_mode
from cockpit.session.safefs import check_output, write_output

MOST_BYTES = 8 << 30  # a pack that unpacks to more than this is refused, not filled in


def fleet_members(folder: Path) -> list[str]:
    """The pack's files, relative to the fleet's folder: the ledger's, then each target's
    session files (their locks and temporaries left out, as a session's pack does)."""
    members = [f"{LEDGER}/{p.as_posix()}" for p in session_files(ledger_folder(folder))]
    targets = folder / TARGETS
    for session in sorted(targets.iterdir() if targets.is_dir() else []):
        if (session / EVENTS).is_file():
            members += [f"{TARGETS}/{session.name}/{p.as_posix()}"
                        for p in session_files(session)]
    return members


def export_fleet(folder: Path, output: Path, force: bool = False) -> tuple[int, int]:
    state = read_fleet(folder)  # a folder that is no fleet: a clear error
    check_output(output, force)
    if output.resolve().is_relative_to(folder.resolve()):
        raise CockpitError(f"{output}: inside the fleet's folder; write the pack elsewhere")
    events = state.last_ts
    stamp = int(datetime.fromisoformat(events.replace("Z", "+00:00")).timestamp()) \
        if events else 0
    top = folder.name
    members = fleet_members(folder)

    def write(handle: BinaryIO) -> None:
        with gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0,
                           compresslevel=9) as zipped, \
                tarfile.open(fileobj=zipped, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for relative in members:
                with open(folder / relative, "rb") as source:
                    info = tarfile.TarInfo(f"{top}/{relative}")
                    info.size = os.fstat(source.fileno()).st_size
                    info.mtime, info.mode, info.uid, info.gid = stamp, 0o644, 0, 0
                    info.uname = info.gname = ""
                    tar.addfile(info, source)

    write_output(output, write, force=force, mode=file_mode(folder))
    return len(members), output.stat().st_size


def is_fleet_pack(pack: Path) -> bool:
    try:
        with tarfile.open(pack, "r:gz") as tar:
            first = tar.next()
            return first is not None and first.name.split("/")[1:2] == [LEDGER]
    except (OSError, tarfile.TarError, EOFError):
        return False


def verify_fleet_pack(pack: Path) -> FleetVerification:
    """The pack unpacked in a private temporary folder (members only as plain files inside
    it), then verified contained: nothing outside it is read."""
    with tempfile.TemporaryDirectory(prefix="cockpit-fleet-pack-") as scratch:
        try:
            with tarfile.open(pack, "r:gz") as tar:
                members = tar.getmembers()
                if sum(m.size for m in members) > MOST_BYTES:
                    raise CockpitError(f"{pack}: unpacks to more than {MOST_BYTES >> 30} GiB")
                if any(not m.isfile() for m in members):
                    raise CockpitError(f"{pack}: holds something other than plain files")
                tops = {m.name.split("/")[0] for m in members}
                if len(tops) != 1:
                    raise CockpitError(f"{pack}: holds {len(tops)} top folders; a fleet's "
                                       "pack holds one")
                tar.extractall(scratch, filter="data")
        except (OSError, tarfile.TarError, EOFError) as exc:
            raise CockpitError(f"{pack}: not a readable pack ({exc})") from None
        return verify_fleet(Path(scratch) / tops.pop(), contained=True)
