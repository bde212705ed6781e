"""Whole headless demos, shared by the demo tests: each one run once per test session, the
ones the selected tests will look at started together up front (each demo is mostly
waiting), any other on first use. And the registry of running worlds kept out of the user's
own, and another local account for the tests that play an attacker."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.accounts import other_account  # noqa: F401  (a fixture for the tests here)
from tests.conftest import REPO


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
    done = subprocess.run([sys.executable, "-m", "cockpit", "demo", "--headless", *args,
                           "--session", str(session)], capture_output=True, text=True,
                          cwd=REPO, timeout=300)
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

    def start(self, faults: list[str | None]) -> None:
        """Make those not made yet, three at a time."""
        missing = [f for f in faults if f not in self]
        with ThreadPoolExecutor(max_workers=3) as pool:
            for run in pool.map(lambda f: _run(self.base, f), missing):
                self[run.fault] = run


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


# What each module's tests look at beyond the faults they take as a parameter.
ALSO = {"tests.demo.test_rehearsal": [None, "drift"]}


def _wanted(session: pytest.Session, module: str) -> list[str | None]:
    """The runs the tests of `module` read: the sound demo, and each fault they name."""
    wanted: list[str | None] = []
    for item in session.items:
        if item.module is None or item.module.__name__ != module:
            continue
        fault = getattr(item, "callspec", None) and item.callspec.params.get("fault")
        for one in [None, *ALSO.get(module, []), *([fault] if fault else [])]:
            if one not in wanted:
                wanted.append(one)
    return wanted


@pytest.fixture(scope="session")
def all_runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return Runs(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest, all_runs: Runs) -> Runs:
    """The demo runs this module reads, made together as it starts — once per test process
    (pytest-xdist runs a file in one worker: `--dist loadfile`)."""
    all_runs.start(_wanted(request.session, request.module.__name__))
    return all_runs
