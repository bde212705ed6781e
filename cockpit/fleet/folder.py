"""A fleet's folder: `ledger/` (its events, hash-chained as a session's, the copies of what
was approved — the runbook, the targets file, the answers targets share — and its lock), the
stop file a halt writes, each target's session folder under `targets/` (beside the ledger,
never inside it: a session inside another session's folder is refused), its named logs under
`published/` (the targets share one working directory, where their logs would collide), and
each target process's own output under `console/`."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cockpit.errors import CockpitError
from cockpit.session.layout import EVENTS, RUNBOOK_COPY
from cockpit.session.modes import BINARY, file_mode, folder_mode, inherited_mode
from cockpit.session.store import SessionStore, fsync_dir, write_atomic

LEDGER = "ledger"
TARGETS_COPY = "targets.toml"
ANSWERS_COPY = "answers.toml"  # the answers every target is given (the [fleet] table left out)
STOP = "stop"  # exists once the fleet halted: no target starts another step
TARGETS = "targets"  # each target's session folder, by the target's name
CONSOLE = "console"  # each target process's own output (outside its session folder)
PUBLISHED = "published"  # each target's named logs (its targets share a working directory)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ledger_folder(fleet: Path) -> Path:
    return fleet / LEDGER


def target_folder(fleet: Path, name: str) -> Path:
    return fleet / TARGETS / name


def published_folder(fleet: Path, name: str) -> Path:
    """Where target `name` publishes its named logs (made on first use)."""
    folder = fleet / PUBLISHED / name
    if not folder.is_dir():
        folder.mkdir(folder_mode(fleet), parents=False, exist_ok=True)
    return folder


def console_file(fleet: Path, name: str) -> Path:
    return fleet / CONSOLE / f"{name}.log"


def end_file(fleet: Path, name: str) -> Path:
    """A worker's word that a target's process ended (its task, its exit code), on the
    storage every host reaches: read even when the broker lost its results."""
    return fleet / CONSOLE / f"{name}.end.json"


def create_fleet_folder(folder: Path, runbook: bytes, targets: bytes,
                        answers: bytes | None) -> SessionStore:
    """A new fleet folder with its copies written and an empty ledger; as open as the
    folder it is made in, never more (as a session's)."""
    if (folder / LEDGER / EVENTS).is_file():
        raise CockpitError(f"{folder}: is a fleet already; `cockpit fleet resume {folder}` "
                           "takes it up, or name a new folder")
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise CockpitError(f"{folder}: already exists and is not empty; name a new folder")
    mode = inherited_mode(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    if folder.is_dir():
        folder.rmdir()
    try:
        folder.mkdir(mode)
    except FileExistsError:
        raise CockpitError(f"{folder}: was made by someone else meanwhile; name a folder "
                           "of your own") from None
    for sub in (LEDGER, TARGETS, CONSOLE, PUBLISHED):
        (folder / sub).mkdir(folder_mode(folder))
    ledger = folder / LEDGER
    write_atomic(ledger / RUNBOOK_COPY, runbook)
    write_atomic(ledger / TARGETS_COPY, targets)
    if answers is not None:
        write_atomic(ledger / ANSWERS_COPY, answers)
    fd = os.open(ledger / EVENTS, os.O_WRONLY | os.O_CREAT | os.O_EXCL | BINARY,
                 file_mode(ledger))
    os.close(fd)
    fsync_dir(ledger)
    fsync_dir(folder)
    return SessionStore(ledger)


def write_stop(folder: Path, reason: str) -> None:
    """The stop file: each target's cockpit stops before its next step, saying `reason`."""
    write_atomic(folder / STOP, (reason + "\n").encode("utf-8"))
