"""Which DLLs a Windows program needs that this machine cannot give it: a wheel's
`postgres.exe` needing a DLL neither the wheel nor Windows has would die at start with no
name (STATUS_DLL_NOT_FOUND); this names it before anything is started."""

from __future__ import annotations

import os
from pathlib import Path

import pefile

from cockpit.errors import CockpitError

# API sets are resolved by the loader, not found as files.
_VIRTUAL = ("api-ms-win-", "ext-ms-")


def imported_dlls(program: Path) -> list[str]:
    """The DLLs `program` (an .exe or .dll) imports by name, from its own import table."""
    try:
        pe = pefile.PE(str(program), fast_load=True)
    except (pefile.PEFormatError, OSError) as exc:
        raise CockpitError(f"{program}: cannot be read as a Windows program ({exc})") from None
    try:
        pe.parse_data_directories(
            directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_IMPORT"]])
        entries = getattr(pe, "DIRECTORY_ENTRY_IMPORT", [])
        return [entry.dll.decode("ascii", "replace") for entry in entries]
    finally:
        pe.close()


def search_path(program: Path) -> list[Path]:
    """Where Windows looks for a program's DLLs: its folder, the system folders, PATH."""
    windows = Path(os.environ.get("SYSTEMROOT", r"C:\Windows"))
    path = [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    return [program.parent, windows / "System32", windows, *path]


def missing_dlls(program: Path) -> list[str]:
    """The DLLs `program` needs — it imports, or a DLL it loads from its own folder does —
    that are found nowhere Windows would look. (The system's own DLLs are not followed.)"""
    places = search_path(program)
    missing: list[str] = []
    seen: set[str] = set()
    wanted = [program]
    while wanted:
        for name in imported_dlls(wanted.pop()):
            if name.lower() in seen or name.lower().startswith(_VIRTUAL):
                continue
            seen.add(name.lower())
            found = next((place / name for place in places if (place / name).is_file()), None)
            if found is None:
                missing.append(name)
            elif found.parent == program.parent:  # the wheel's own: its needs are ours
                wanted.append(found)
    return missing
