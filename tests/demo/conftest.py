"""Whole headless demos, shared by the demo tests: each one run once per test session, the
ones the selected tests will look at started together up front (each demo is mostly
waiting), any other on first use. And the registry of running worlds kept out of the user's
own, and another local account for the tests that play an attacker."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.accounts import other_account  # noqa: F401  (a fixture for the tests here)
from tests.run import cockpit


@dataclass
class Run:
    fault: str | None
    code: int
    stdout: str
    stderr: str
    session: Path
    seconds: float

    def events(self) -> list[dict]:
        lines = (self.session / "events.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]

    def decision(self) -> dict:
        return json.loads((self.session / "evidence" / "decision.json").read_text())


def _run(base: Path, fault: str | None) -> Run:
    session = base / (fault or "pass")
    args = ["--fault", fault] if fault else []
    started = time.monotonic()
    done = cockpit("demo", "--headless", *args, "--session", str(session), timeout=300)
    return Run(fault, done.returncode, done.stdout, done.stderr, session,
               time.monotonic() - started)


class Runs(dict[str | None, Run]):
    """Demo runs by fault (None: the sound demo); a missing one is run when first asked."""

    def __init__(self, base: Path) -> None:
        super().__init__()
        self.base = base

    def __missing__(self, fault: str | None) -> Run:
        self[fault] = _run(self.base, fault)
        return self[fault]


@pytest.fixture(scope="session", autouse=True)
def worlds_registry() -> Iterator[Path]:
    """The registry of running worlds (`cockpit demo --worlds`) in a folder of the tests' own,
    for this process and the cockpits it starts: never the user's."""
    folder = Path(tempfile.mkdtemp(prefix="cockpit-test-state-"))
    previous = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = previous
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """The demo runs, each made when a test first reads it: once per test process (the
    pytest-xdist workers share the work out, so each run is made where it is read)."""
    return Runs(tmp_path_factory.mktemp("demo"))


def world_processes(workspace: Path) -> list[int]:
    """The server, the TLS terminator and the watchdog of a world, found by their command
    lines (the server names its data folder, the others the world's folders)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        if str(workspace) in line and any(name in line for name in (
                "postgres", "cockpit.demo.tlsproxy", "cockpit.demo.watchdog")):
            found.append(proc.pid)
    return found
