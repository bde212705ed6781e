"""The evidence manifest: each file of the runbook's evidence pack — present or missing,
its size and sha256, which step or gate produced it, and whether it still matches the hash
the session recorded when the step ended.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from cockpit.runbook.model import AttestationFileGate, CommandStep, EvidenceFile, Runbook
from cockpit.runbook.validate import path_name, walk_items
from cockpit.session.state import SessionState


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def producers(runbook: Runbook, workdir: Path) -> dict[str, tuple[str, Path]]:
    """Evidence file name -> (producing step or gate id, where the file is)."""
    out: dict[str, tuple[str, Path]] = {}
    for _place, item in walk_items(runbook):
        if isinstance(item, CommandStep) and item.log:
            out[path_name(item.log)] = (item.id, resolve(workdir, item.log))
        elif isinstance(item, AttestationFileGate):
            out[path_name(item.path)] = (item.id, resolve(workdir, item.path))
    return out


def resolve(workdir: Path, path: str) -> Path:
    """A runbook path (relative to the working directory) on this machine."""
    candidate = Path(path.replace("\\", "/")) if "\\" in path and "/" not in path else Path(path)
    return Path(os.path.normpath(candidate if candidate.is_absolute() else workdir / candidate))


def build_manifest(runbook: Runbook, state: SessionState, workdir: Path) -> dict[str, Any]:
    by_name = producers(runbook, workdir)
    files: list[dict[str, Any]] = []
    items = runbook.evidence.items if runbook.evidence else []
    for item in items:
        if not isinstance(item, EvidenceFile):
            continue
        producer, path = by_name.get(item.name, ("", workdir / item.name))
        entry: dict[str, Any] = {"name": item.name, "path": str(path), "produced_by": producer,
                                 "present": path.is_file()}
        if entry["present"]:
            entry["size"] = path.stat().st_size
            entry["sha256"] = file_sha256(path)
            recorded = state.steps.get(producer)
            if recorded is not None and recorded.sha256:
                entry["recorded_sha256"] = recorded.sha256
                entry["matches_record"] = recorded.sha256 == entry["sha256"]
            if entry["size"] == 0:
                entry["present"] = False
                entry["problem"] = "empty"
        files.append(entry)
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
