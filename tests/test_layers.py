"""The import layers hold: `lint-imports` checks the contracts in pyproject.toml (the
runbook language at the bottom, the command line at the top; the mirror never reaches the
engine; evidence is read from sessions, never from the engine or the probes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_the_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "0 broken" in done.stdout and done.stdout.count(" KEPT") >= 3
