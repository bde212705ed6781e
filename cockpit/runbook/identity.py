"""A runbook's identity: the sha256 of its file and of its rendered transcript.

A session pins both at start; resume refuses a runbook whose either hash has changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from cockpit.runbook.loader import parse_runbook
from cockpit.runbook.render import render_markdown


@dataclass(frozen=True)
class RunbookIdentity:
    runbook_sha256: str
    transcript_sha256: str


def runbook_identity(path: str | Path) -> RunbookIdentity:
    """Both hashes of the runbook at `path` (which must load cleanly)."""
    raw = Path(path).read_bytes()
    transcript = render_markdown(parse_runbook(raw, str(path)))
    return RunbookIdentity(
        runbook_sha256=hashlib.sha256(raw).hexdigest(),
        transcript_sha256=hashlib.sha256(transcript.encode("utf-8")).hexdigest(),
    )
