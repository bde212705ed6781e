"""The reference runbook where its operator keeps it: `d:\\Projetos\\Netz Private Credit OS\\`
with `backend\\` (its exact working directory) and `tmp\\` (the operator scripts its `..\\tmp\\`
paths reach), filled from a world shaped like the demo's, and `clone\\` beside them, where its
rehearsal runs on a second world. A copy with its scripts pinned and its two environments
declared validates there with no note about foreign paths or missing folders, still renders
the reference's transcript byte for byte (neither pins nor environments are rendered), is
rehearsed on the clone to PASS and then cut over to PASS with that rehearsal proving its gate,
and the cutover verifies. On Linux the same copy runs with its working directory turned into
this machine's, as a team rehearsing it there would."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path, PureWindowsPath
from typing import Any, cast
from urllib.parse import urlsplit

import pytest

from tests.conftest import REFERENCE, REPO
from tests.run import cockpit
from tests.windows.kit import WINDOWS, copy_tree, events

NETZ = REPO / "runbooks" / "netz-prod-cutover.toml"
ANSWERS = REPO / "runbooks" / "demo-answers.toml"
WORKDIR = "d:\\Projetos\\Netz Private Credit OS\\backend"
WORLDS = "COCKPIT_WINDOWS_WORLD"  # .ci/wine/run-tests: the Linux side's worlds, d: mapped


def _here(linux_path: str) -> Path:
    """A path of the Linux side as this system reaches it (Wine: drive Z: is /)."""
    return Path("Z:" + linux_path.replace("/", "\\")) if WINDOWS else Path(linux_path)


def _worlds(base: Path) -> Iterator[dict[str, dict[str, str]]]:
    """The clone's and production's world: DSNs and folders (.ci/wine/serve.py builds them for
    the Windows step; on Linux, built here and stopped after)."""
    given = os.environ.get(WORLDS)
    if given:
        yield json.loads(Path(given if not WINDOWS else _here(given)).read_text())["worlds"]
        return
    if WINDOWS:
        raise RuntimeError(f"{WORLDS} is not set: .ci/wine/run-tests passes it in")
    from cockpit.demo.world import World

    built = {name: World.build(base / name) for name in ("clone", "production")}
    try:
        yield {name: {"dsn": world.dsn(sqlalchemy=True), "pg_dsn": world.dsn(sqlalchemy=False),
                      "backend": str(world.backend), "tmp": str(world.tmp)}
               for name, world in built.items()}
    finally:
        for world in built.values():
            world.stop()


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, str]]]:
    yield from _worlds(tmp_path_factory.mktemp("worlds"))


@pytest.fixture(scope="module")
def on_its_drive(tmp_path_factory: pytest.TempPathFactory,
                 worlds: dict[str, dict[str, str]]) -> tuple[Path, str]:
    """The reference's folders filled from the worlds; the pinned copy's path and its
    working directory as this system names it."""
    root = Path("d:\\Projetos\\Netz Private Credit OS") if WINDOWS else \
        tmp_path_factory.mktemp("d") / "Projetos" / "Netz Private Credit OS"
    for name, place in (("production", root), ("clone", root / "clone")):
        assert copy_tree(_here(worlds[name]["backend"]), place / "backend") > 5
        assert copy_tree(_here(worlds[name]["tmp"]), place / "tmp") >= 5
    text = NETZ.read_text(encoding="utf-8")
    workdir = WORKDIR if WINDOWS else str(root / "backend")
    text = text.replace(f"path = '{WORKDIR}'", f"path = '{workdir}'")
    for script in sorted((root / "tmp").glob("*.py")):  # pinned, as approved
        digest = hashlib.sha256(script.read_bytes()).hexdigest()
        line = f"path = '..\\tmp\\{script.name}'\n"
        assert line in text, script.name
        text = text.replace(line, f"{line}sha256 = '{digest}'\n")
    if not WINDOWS:  # the POSIX shell reads a backslash as an escape: `../tmp/` there
        text = text.replace("..\\tmp\\", "../tmp/")
    # Neither Azure host is reached from here: each environment names its world's address,
    # and the clone its own folder beside production's (its logs are not production's).
    text += (f"\n[environments.clone]\nhost = '{_address(worlds['clone']['dsn'])}'\n"
             f"workdir = '{root / 'clone' / 'backend'}'\n"
             f"\n[environments.production]\nhost = '{_address(worlds['production']['dsn'])}'\n")
    copy = root / "cutover.toml"
    copy.write_bytes(text.encode("utf-8"))
    return copy, workdir


def _address(dsn: str) -> str:
    parts = urlsplit(dsn)
    return f"{parts.hostname}:{parts.port}"


def test_the_working_directory_is_the_references_own(on_its_drive: tuple[Path, str]) -> None:
    _, workdir = on_its_drive
    if WINDOWS:
        assert PureWindowsPath(workdir).drive.lower() == "d:"
        assert Path(workdir).is_dir() and (Path(workdir).parent / "tmp").is_dir()
    assert (Path(workdir) / "alembic.ini").is_file()


def test_the_pinned_copy_validates_there_with_no_path_note(on_its_drive: tuple[Path, str]
                                                           ) -> None:
    copy, _ = on_its_drive
    done = cockpit("validate", str(copy))
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    unwanted = ("Windows path", "is for Windows", "does not exist", "is not pinned",
                "not checked here")
    assert [line for line in said.splitlines() if any(u in line for u in unwanted)] == []
    if WINDOWS:  # pins are not rendered: the transcript is the reference's, byte for byte
        assert hashlib.sha256(REFERENCE.read_bytes()).hexdigest() in done.stdout


def test_the_pinned_copy_still_renders_the_reference(on_its_drive: tuple[Path, str]) -> None:
    """On Windows byte for byte; on Linux, but for the working directory it was given."""
    copy, workdir = on_its_drive
    done = cockpit("render", str(copy), text=False)
    expected = REFERENCE.read_text(encoding="utf-8")
    if not WINDOWS:
        expected = expected.replace(WORKDIR, workdir).replace("..\\tmp\\", "../tmp/")
    assert done.returncode == 0 and done.stdout == expected.encode("utf-8")


def _data(session: Path, kind: str) -> list[dict[str, Any]]:
    return [cast("dict[str, Any]", e["data"]) for e in events(session) if e["type"] == kind]


def _cut_over(copy: Path, world: dict[str, str], environment: str, session: Path,
              *more: str) -> str:
    """The copy run headless in `environment` on `world`, as its operator answers (the demo's
    answers, and the P0 parity note the reference asks for by hand); its output."""
    answers = copy.parent / "answers.toml"
    answers.write_bytes(ANSWERS.read_bytes() + b'\n[manual]\nstructural-parity-accepted = '
                        b'"parity log reviewed: no deviation"\n')
    env = {"DATABASE_URL": world["dsn"], "PG_DSN": world["pg_dsn"],  # `python` is this one
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = cockpit("run", str(copy), "--headless", "--answers", str(answers), "--environment",
                   environment, "--session", str(session), *more, env=env, timeout=900)
    said = done.stdout + done.stderr
    assert done.returncode == 0 and "DECISION: PASS" in done.stdout, said[-4000:]
    return said


def test_the_reference_is_rehearsed_then_cut_over_to_pass_on_its_drive(
        on_its_drive: tuple[Path, str], worlds: dict[str, dict[str, str]]) -> None:
    copy, workdir = on_its_drive
    clone, cutover = copy.parent / "sessions" / "clone", copy.parent / "sessions" / "cutover"
    _cut_over(copy, worlds["clone"], "clone", clone)
    said = _cut_over(copy, worlds["production"], "production", cutover, "--rehearsal", str(clone))
    # every step ran where the reference says, and its log is where the reference keeps it
    started = _data(cutover, "step_started")
    assert len(started) == 12, said[-4000:]
    logs = {Path(str(data["published"])) for data in started}
    assert {log.parent for log in logs} == {Path(workdir).parent / "tmp"}
    assert all(log.is_file() for log in logs)
    # and the rehearsal's, in the clone's own folder: none of production's overwritten
    rehearsed = {Path(str(data["published"])) for data in _data(clone, "step_started")}
    assert {log.parent for log in rehearsed} == {Path(workdir).parent / "clone" / "tmp"}
    assert {log.name for log in rehearsed} == {log.name for log in logs}
    # the rehearsal gate was proved by the rehearsal, not attested
    gate = [data for data in _data(cutover, "gate_evaluated")
            if data["gate"] == "clone-commit-match"]
    assert gate and gate[-1]["ok"] is True
    assert str(gate[-1]["detail"]).startswith("proved by rehearsal clone"), gate[-1]
    assert "decision PASS" in str(gate[-1]["detail"])
    verified = cockpit("verify", str(cutover))
    assert verified.returncode == 0 and "verify: ok" in verified.stdout, verified.stdout
