"""Where the project's own files are: the repository's top-level `styles/` and `runbooks/`
in a checkout, or their copies inside the package in an installed wheel.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(folder: str) -> Path:
    installed = _PACKAGE / f"_{folder}"  # hatch force-include puts them here in a wheel
    return installed if installed.is_dir() else _PACKAGE.parent / folder


def styles_dir() -> Path:
    return _find("styles")


def runbooks_dir() -> Path:
    return _find("runbooks")


def bundled_runbook(name: str) -> Path:
    return runbooks_dir() / name
