"""Paths a runbook was written with for another platform: on POSIX, what a Windows-written
runbook (the reference is one) names that cannot work here.

A relative path written with backslashes (`..\\tmp\\x.log`) is fine where the cockpit opens
the file itself (logs, attestation files, pinned scripts): it reads it either way. What
cannot work is a drive or network path (`d:\\...`, `\\\\server\\share`), and a backslash
path inside a command, which the POSIX shell would read as escapes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from cockpit.runbook.model import (
    AttestationFileGate,
    CheckStep,
    CommandStep,
    ProbeGate,
    Runbook,
    WorkingDirectory,
)
from cockpit.runbook.validate import walk_items

_ABSOLUTE = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")
# In a command: a drive, `.\`, `..\` or UNC start, or a backslashed path to a named file.
_IN_COMMAND = re.compile(
    r"(?<![\w\\])(?:[A-Za-z]:\\|\.{1,2}\\|\\\\)[^\s'\"]*"
    r"|(?<![\w\\])[\w.-]+(?:\\[\w.-]+)+\.[A-Za-z0-9]{1,5}\b"
)


def windows_absolute(path: str) -> bool:
    """A drive (`d:\\x`, `C:/x`) or network (`\\\\host\\share`) path."""
    return bool(_ABSOLUTE.match(path))


def windows_paths_in(command: str) -> list[str]:
    return [m.group(0) for m in _IN_COMMAND.finditer(command)]


def foreign_paths(runbook: Runbook, os_name: str = os.name,
                  workdir_given: bool = False) -> list[tuple[str, str]]:
    """(place, message) for each item that names a path this platform cannot use; empty on
    Windows. `workdir_given`: the operator named the working directory (--workdir)."""
    if os_name == "nt":
        return []
    return list(_posix_problems(runbook, workdir_given))


def _posix_problems(runbook: Runbook, workdir_given: bool) -> Iterator[tuple[str, str]]:
    for place, item in walk_items(runbook):
        if isinstance(item, WorkingDirectory) and windows_absolute(item.path):
            if not workdir_given:
                yield (f"{place}.path", f"'{item.path}' is a Windows path; it cannot be the "
                       "working directory here (give --workdir DIR"
                       + (" --override-workdir" if runbook.production else "")
                       + ", or run it on Windows)")
        elif isinstance(item, AttestationFileGate) and windows_absolute(item.path):
            yield (f"{place}.path", f"'{item.path}' is a Windows path; the file cannot be "
                   "found here (write it relative to the working directory)")
        elif isinstance(item, CommandStep):
            if item.log and windows_absolute(item.log):
                yield (f"{place}.log", f"'{item.log}' is a Windows path; the log cannot be "
                       "written here (write it relative to the working directory)")
            found = windows_paths_in(item.command)
            if found:
                yield (f"{place}.command", f"runs '{found[0]}', a Windows path that the "
                       "POSIX shell would read as escapes; write it with / to run it here")
        elif isinstance(item, CheckStep | ProbeGate):
            for key, value in item.args.items():
                if isinstance(value, str) and windows_absolute(value):
                    yield (f"{place}.args.{key}", f"'{value}' is a Windows path; it cannot "
                           "be used here")
    for index, script in enumerate(runbook.scripts):
        if windows_absolute(script.path):
            yield (f"scripts[{index}].path", f"'{script.path}' is a Windows path; the script "
                   "cannot be found here (write it relative to the working directory)")
