"""Invariant 9 — the session is its evidence: each session keeps its own copy of every log
and input, so whatever a later session (or anyone) does in the working folder, `verify` of
an earlier one stays green and its report names only its own files; and the pack counts
only what this session produced or captured."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from cockpit.engine.controller import Controller
from cockpit.evidence.verify import verify_session
from tests.engine.helpers import cockpit

RUNBOOK = """
format = 1
id = "evidence-rehearsal"
title = "Evidence rehearsal"
production = false

[gates]
heading = "Gates"
items = [
  { kind = "attestation_file", id = "freeze", text = "Freeze attested (`freeze.log`)", path = "freeze.log" },
]

[[phases]]
id = "P0"
heading = "Phase P0"
steps = [
  { kind = "command", id = "heads", command = "echo heads $$ $(date +%N)", log = "logs/heads.log" },
  { kind = "command", id = "upgrade", command = "echo upgrade $$ $(date +%N); {upgrade_tail}", log = "logs/upgrade.log" },
]

[evidence]
heading = "Evidence Pack"
items = [
  { kind = "file", id = "ev-freeze", name = "freeze.log" },
  { kind = "file", id = "ev-heads", name = "heads.log" },
  { kind = "file", id = "ev-upgrade", name = "upgrade.log" },
]

[decision]
heading = "Decision"
items = [
  { kind = "field", id = "status", label = "Status", allowed = ["PASS", "BLOCKER"], role = "status" },
  { kind = "field", id = "errors", label = "Errors", role = "errors" },
  { kind = "field", id = "root_cause", label = "Root-cause classification", role = "root_cause" },
]
"""


def _world(tmp_path: Path, upgrade_tail: str = "true") -> Path:
    """A team's working folder under git: the runbook and the freeze attestation."""
    world = tmp_path / "world"
    world.mkdir()
    (world / "freeze.log").write_text("write freeze in force\n")
    path = world / "runbook.toml"
    path.write_text(RUNBOOK.replace("{upgrade_tail}", upgrade_tail))
    git = ["git", "-C", str(world), "-c", "user.name=t", "-c", "user.email=t@t"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "runbook"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    return path


def _headless(runbook: Path, session: Path) -> subprocess.CompletedProcess[str]:
    return cockpit("run", str(runbook), "--headless", "--assume-yes", "--session", str(session))


def test_three_sessions_in_one_folder_each_stay_verified_and_own_their_files(
        tmp_path: Path) -> None:
    runbook = _world(tmp_path)
    sessions = [tmp_path / f"s{n}" for n in (1, 2, 3)]
    for session in sessions:
        done = _headless(runbook, session)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    outputs = set()
    for session in sessions:
        problems = verify_session(session).problems
        assert problems == [], problems
        assert cockpit("verify", str(session)).returncode == 0
        report = cockpit("report", str(session)).stdout
        own = json.loads((session / "evidence" / "manifest.json").read_text())
        for entry in own["files"]:
            assert entry["present"], entry
            assert (session / entry["path"]).is_file()  # inside the session's own folder
            assert entry["sha256"] in report
        others = [s for s in sessions if s != session]
        for other in others:
            for entry in json.loads((other / "evidence" / "manifest.json").read_text())["files"]:
                if entry["name"] != "freeze.log":  # the same input, captured by each
                    assert entry["sha256"] not in report
        outputs.add((session / "steps" / "heads.1.log").read_text())
    assert len(outputs) == 3  # each session printed its own output
    status = subprocess.run(["git", "-C", str(runbook.parent), "status", "--porcelain",
                             "--untracked-files=all"], capture_output=True, text=True).stdout
    assert sorted(status.split()) == ["??", "??", "logs/heads.log", "logs/upgrade.log"]
    # The published copies are the last session's; the earlier ones were moved into the
    # sessions that displaced them, recorded, and outside their manifests.
    last = (sessions[2] / "steps" / "heads.1.log").read_bytes()
    assert (runbook.parent / "logs" / "heads.log").read_bytes() == last
    displaced = sorted(p.relative_to(sessions[1]) for p in (sessions[1] / "displaced").rglob("*")
                       if p.is_file())
    assert [str(p) for p in displaced] == ["displaced/heads.1/heads.log",
                                           "displaced/upgrade.1/upgrade.log"]


def test_verify_notes_a_published_copy_changed_later_but_stays_green(tmp_path: Path) -> None:
    runbook = _world(tmp_path)
    session = tmp_path / "s1"
    assert _headless(runbook, session).returncode == 0
    (runbook.parent / "logs" / "heads.log").write_text("rewritten by hand\n")
    (runbook.parent / "logs" / "upgrade.log").unlink()
    done = cockpit("verify", str(session))
    assert done.returncode == 0, done.stderr
    assert "published copy" in done.stdout and "changed since" in done.stdout
    assert "the session's copy is intact" in done.stdout
    assert "MISMATCH" not in done.stdout + done.stderr


def test_the_pack_counts_only_what_this_session_produced(tmp_path: Path) -> None:
    runbook = _world(tmp_path)
    assert _headless(runbook, tmp_path / "s1").returncode == 0  # leaves logs/ full
    ctl = Controller.start(runbook, folder=tmp_path / "s2", env=dict(os.environ))
    assert ctl.evaluate_gates() == []
    manifest = ctl.seal_evidence()  # no step of its own has run
    ctl.close()
    assert manifest["present"] == ["freeze.log"]  # the input it captured, nothing else
    assert manifest["missing"] == ["heads.log", "upgrade.log"]
    assert manifest["complete"] is False


def test_a_halted_sessions_report_does_not_tick_another_sessions_upgrade_log(
        tmp_path: Path) -> None:
    runbook = _world(tmp_path)
    assert _headless(runbook, tmp_path / "s1").returncode == 0
    runbook.write_text(RUNBOOK.replace("{upgrade_tail}", "exit 4"))
    done = _headless(runbook, tmp_path / "s2")
    assert done.returncode == 2, done.stdout[-2000:]
    manifest = json.loads((tmp_path / "s2" / "evidence" / "manifest.json").read_text())
    assert "heads.log" in manifest["present"] and "freeze.log" in manifest["present"]
    # Its own failed upgrade's log is kept and named (it is the evidence of the failure).
    upgrade = next(f for f in manifest["files"] if f["name"] == "upgrade.log")
    assert upgrade["path"] == "steps/upgrade.1.log"
    s1 = json.loads((tmp_path / "s1" / "evidence" / "manifest.json").read_text())
    report = cockpit("report", str(tmp_path / "s2")).stdout
    assert next(f["sha256"] for f in s1["files"] if f["name"] == "upgrade.log") not in report


def test_attestation_files_are_captured_as_they_were_when_checked(tmp_path: Path) -> None:
    runbook = _world(tmp_path)
    session = tmp_path / "s1"
    assert _headless(runbook, session).returncode == 0
    (runbook.parent / "freeze.log").write_text("edited after the cutover\n")
    manifest = json.loads((session / "evidence" / "manifest.json").read_text())
    freeze = next(f for f in manifest["files"] if f["name"] == "freeze.log")
    assert (session / freeze["path"]).read_text() == "write freeze in force\n"
    assert verify_session(session).problems == []


def test_an_attestation_file_holding_the_password_fails_its_gate_and_is_not_copied(
        tmp_path: Path) -> None:
    runbook = _world(tmp_path)
    secret = "s3cr3t-Pa55word"
    (runbook.parent / "freeze.log").write_text(f"freeze in force; DSN pw {secret}\n")
    ctl = Controller.start(runbook, folder=tmp_path / "s", env=dict(os.environ),
                           secrets=[secret])
    assert ctl.evaluate_gates() == ["gate freeze"]
    ctl.close()
    gate = ctl.state.gates["freeze"]
    assert gate.status == "failed" and "holds a password" in (gate.detail or "")
    assert "captured" not in gate.observed and gate.observed["secret"] is True
    for path in (tmp_path / "s").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
