"""Which DLLs a Windows program imports that this machine cannot give it: a wheel's
`postgres.exe` that needs a DLL neither the wheel nor Windows has would die at start with no
name (STATUS_DLL_NOT_FOUND); this names it before anything is started."""

from __future__ import annotations

import os
from pathlib import Path

import pefile

# API sets are resolved by the loader, not found as files.
_VIRTUAL = ("api-ms-win-", "ext-ms-")


def imported_dlls(program: Path) -> list[str]:
    """The DLLs `program` imports by name (its own import table; theirs are not followed)."""
    pe = pefile.PE(str(program), fast_load=True)
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
    """The DLLs `program` imports that are found nowhere Windows would look."""
    places = search_path(program)
    return [name for name in imported_dlls(program)
            if not name.lower().startswith(_VIRTUAL)
            and not any((place / name).is_file() for place in places)]
