"""The evidence manifest: each file of the runbook's evidence pack — present only if this
session produced it (a step's log) or captured it (an attestation file as it was when its
gate was checked), where the session keeps it, its size and sha256, which step or gate it
came from, and whether the session's copy still matches the hash recorded at the time.

Files in the working folder do not count: they may be another session's, or anyone's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cockpit.runbook.model import AttestationFileGate, CommandStep, EvidenceFile, Runbook
from cockpit.runbook.paths import path_name
from cockpit.runbook.validate import walk_items
from cockpit.session.integrity import file_sha256
from cockpit.session.layout import session_file
from cockpit.session.state import SessionState


@dataclass(frozen=True)
class EvidenceEntry:
    """One file of the evidence pack as the session's events tell it (no file is read)."""

    name: str
    produced_by: str  # the step or gate id; "" when nothing in the runbook makes it
    path: str | None  # in the session folder; None until produced or captured
    published: str | None  # where the runbook's path put a copy (a step's log)
    sha256: str | None
    size: int | None

    @property
    def present(self) -> bool:
        return self.path is not None and bool(self.size)


def evidence_entries(runbook: Runbook, state: SessionState) -> list[EvidenceEntry]:
    makers: dict[str, CommandStep | AttestationFileGate] = {}
    for _place, item in walk_items(runbook):
        if isinstance(item, CommandStep) and item.log:
            makers[path_name(item.log)] = item
        elif isinstance(item, AttestationFileGate):
            makers[path_name(item.path)] = item
    entries = []
    for item in runbook.evidence.items if runbook.evidence else []:
        if not isinstance(item, EvidenceFile):
            continue
        maker = makers.get(item.name)
        entry = EvidenceEntry(item.name, maker.id if maker else "", None, None, None, None)
        if isinstance(maker, CommandStep):
            step = state.steps.get(maker.id)
            if step is not None and step.sha256 is not None and step.log:
                entry = EvidenceEntry(item.name, maker.id, step.log, step.published,
                                      step.sha256, step.bytes)
        elif isinstance(maker, AttestationFileGate):
            gate = state.gates.get(maker.id)
            seen = gate.observed if gate is not None and isinstance(gate.observed, dict) else {}
            if seen.get("captured"):
                entry = EvidenceEntry(item.name, maker.id, seen["captured"], None,
                                      seen["sha256"], seen["size"])
        entries.append(entry)
    return entries


def build_manifest(runbook: Runbook, state: SessionState, folder: Path) -> dict[str, Any]:
    """The manifest, each present file checked against the session's copy on disk."""
    files: list[dict[str, Any]] = []
    for entry in evidence_entries(runbook, state):
        row: dict[str, Any] = {"name": entry.name, "produced_by": entry.produced_by,
                               "path": entry.path, "published": entry.published,
                               "present": entry.present}
        if entry.path is not None:
            row.update(size=entry.size, recorded_sha256=entry.sha256)
            copy = session_file(folder, entry.path)
            row["sha256"] = file_sha256(copy) if copy.is_file() else None
            row["matches_record"] = row["sha256"] == entry.sha256
            if not entry.size:
                row["problem"] = "empty"
        files.append(row)
    present = [f["name"] for f in files if f["present"]]
    return {
        "session_id": state.session_id,
        "runbook_id": state.runbook_id,
        "files": files,
        "present": present,
        "missing": [f["name"] for f in files if not f["present"]],
        "mismatched": [f["name"] for f in files if f.get("matches_record") is False],
        "complete": len(present) == len(files) and not any(
            f.get("matches_record") is False for f in files),
    }
