"""The names inside a session folder, in one place: everyone who reads or writes one uses
these, and `session_file` finds a file the session recorded."""

from __future__ import annotations

from pathlib import Path

EVENTS = "events.jsonl"
SNAPSHOT = "session.json"
RUNBOOK_COPY = "runbook.toml"
STEPS = "steps"
EVIDENCE = "evidence"
INPUTS = "evidence/inputs"  # attestation files and scripts as they were when checked
PROBE_FILES = "evidence/probes"  # what a probe found and kept (a risk report)
DISPLACED = "displaced"  # files found where this session published a log: not its evidence


def session_file(folder: Path, recorded: str) -> Path:
    """A file the session recorded: relative to its folder (absolute in sessions older than
    the session-owned logs, which joining leaves as they are)."""
    return folder / recorded
