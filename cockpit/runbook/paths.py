"""How a runbook's paths resolve on this machine: part of the runbook language (a `log`, an
attestation `path`, a script's `path` are relative to the working directory)."""

from __future__ import annotations

import os
import re
from pathlib import Path


def resolve(workdir: Path, path: str) -> Path:
    """A runbook path (relative to the working directory) on this machine, as the steps
    (run in that folder) reach it: a relative path goes from where the folder really is, so
    its `..` leaves the folder the link points to, not the link's; an absolute one is taken
    as written; `~` is the home folder of whoever runs it. A relative path written with
    backslashes only is read with `/`."""
    candidate = Path(path.replace("\\", "/")) if "\\" in path and "/" not in path else Path(path)
    if path == "~" or path.startswith(("~/", "~\\")):  # the operator's home, as a shell reads it
        candidate = Path.home() / candidate.relative_to("~")
    if candidate.is_absolute():
        return Path(os.path.normpath(candidate))
    return Path(os.path.normpath(Path(os.path.realpath(workdir)) / candidate))


def path_name(path: str) -> str:
    """The last component of a path written for either platform."""
    return re.split(r"[\\/]", path.rstrip("\\/"))[-1]
