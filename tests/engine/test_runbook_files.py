"""Files a runbook names — an attestation, a pinned script, a published log and the folders on
its path — are opened without following links and refused when they are not regular files
(issue #26 item 5, and the log folder of item 6): nothing is read or written through a link
another account planted in a shared working folder."""

from __future__ import annotations

import hashlib
import os
import shlex
import socket
import stat
import sys
import threading
from pathlib import Path

import pytest

from cockpit.engine.controller import Controller
from cockpit.engine.core import ActionRefused
from cockpit.engine.launcher import launch, write_spec
from cockpit.session.runfiles import RunFiles
from tests.engine.helpers import ORDINARY, phase, write_world
from tests.waiting import finish_running

SHADOW = "root:$6$Zm9vYmFy$not-for-the-evidence:19000:0:99999:7:::\n"


def _start(tmp_path: Path, runbook: Path | None = None) -> Controller:
    runbook = runbook or write_world(tmp_path, [phase("P0", ORDINARY)])
    return Controller.start(runbook, folder=tmp_path / "s", operator="op", env=dict(os.environ))


def _shadow(tmp_path: Path) -> Path:
    """A private file of another account's interest (the cockpit may run as root)."""
    target = tmp_path / "shadow"
    target.write_text(SHADOW)
    target.chmod(0o600)
    return target


def _nothing_of(text: str, folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            assert text.encode() not in path.read_bytes(), path


def _gate_after_evaluation(ctl: Controller) -> tuple[str, str]:
    ctl.attest_gate("signoff", "GOV-1")
    assert ctl.evaluate_gates() == ["gate freeze"]
    gate = ctl.state.gates["freeze"]
    return gate.status, gate.detail or ""


def test_an_attestation_file_that_is_a_link_fails_its_gate_naming_it_and_nothing_is_captured(
        tmp_path: Path) -> None:
    ctl = _start(tmp_path)
    freeze = tmp_path / "world" / "freeze.log"
    freeze.unlink()
    freeze.symlink_to(_shadow(tmp_path))
    status, detail = _gate_after_evaluation(ctl)
    ctl.close()
    assert status == "failed"
    assert str(freeze) in detail and "symbolic link" in detail, detail
    assert "captured" not in ctl.state.gates["freeze"].observed
    assert not list((tmp_path / "s" / "evidence").rglob("*freeze*"))
    _nothing_of("not-for-the-evidence", tmp_path / "s")


def test_an_attestation_file_in_a_linked_folder_fails_its_gate_naming_the_folder(
        tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", ORDINARY)])
    runbook.write_text(runbook.read_text().replace('path = "freeze.log"',
                                                   'path = "team-folder/freeze.log"'))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "freeze.log").write_text(SHADOW)
    (runbook.parent / "team-folder").symlink_to(elsewhere)
    ctl = _start(tmp_path, runbook)
    status, detail = _gate_after_evaluation(ctl)
    ctl.close()
    assert status == "failed"
    assert str(runbook.parent / "team-folder") in detail and "symbolic link" in detail, detail
    _nothing_of("not-for-the-evidence", tmp_path / "s")


def test_a_fifo_attestation_fails_its_gate_at_once_instead_of_hanging(tmp_path: Path) -> None:
    ctl = _start(tmp_path)
    freeze = tmp_path / "world" / "freeze.log"
    freeze.unlink()
    os.mkfifo(freeze)
    seen: list[tuple[str, str]] = []
    worker = threading.Thread(target=lambda: seen.append(_gate_after_evaluation(ctl)),
                              daemon=True)
    worker.start()
    worker.join(20)
    if worker.is_alive():  # today's cockpit blocks in open(): free it, then fail
        with open(freeze, "wb"):
            pass
        worker.join(20)
        pytest.fail("evaluating the gates hung on a FIFO attestation")
    ctl.close()
    status, detail = seen[0]
    assert status == "failed" and str(freeze) in detail and "FIFO" in detail, detail


@pytest.mark.parametrize("kind", ["folder", "device", "socket"])
def test_an_attestation_that_is_no_regular_file_fails_its_gate_naming_what_it_is(
        tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ctl = _start(tmp_path)
    freeze = tmp_path / "world" / "freeze.log"
    freeze.unlink()
    holder: socket.socket | None = None
    if kind == "folder":
        freeze.mkdir()
        (freeze / "inside").write_text("write freeze in force\n")
    elif kind == "device":
        if os.geteuid() != 0:  # in CI (root) it runs, never skips
            (pytest.fail if os.environ.get("COCKPIT_CI") == "1" else pytest.skip)(
                "making a device node needs root")
        os.mknod(freeze, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # as /dev/null
    else:
        monkeypatch.chdir(freeze.parent)  # a socket's path must be short
        holder = socket.socket(socket.AF_UNIX)
        holder.bind(freeze.name)
    try:
        status, detail = _gate_after_evaluation(ctl)
    finally:
        ctl.close()
        if holder is not None:
            holder.close()
    word = {"folder": "folder", "device": "device", "socket": "socket"}[kind]
    assert status == "failed" and str(freeze) in detail and word in detail, detail
    assert not list((tmp_path / "s" / "evidence").rglob("*freeze*"))


def test_a_pinned_script_that_is_a_link_fails_its_check_and_is_not_captured(
        tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", [("fix", "python3 fix.py")])])
    elsewhere = tmp_path / "elsewhere.py"
    elsewhere.write_text("print('not the approved script')  # not-for-the-evidence\n")
    digest = hashlib.sha256(elsewhere.read_bytes()).hexdigest()
    runbook.write_text(runbook.read_text()
                       + f'\n[[scripts]]\npath = "fix.py"\nsha256 = "{digest}"\n')
    (runbook.parent / "fix.py").symlink_to(elsewhere)
    ctl = _start(tmp_path, runbook)
    ctl.attest_gate("signoff", "GOV-1")
    assert "script fix.py" in ctl.evaluate_gates()
    ctl.close()
    script = ctl.state.scripts["fix.py"]
    assert script.status == "failed"
    assert str(runbook.parent / "fix.py") in (script.detail or "")
    assert "symbolic link" in (script.detail or ""), script.detail
    _nothing_of("not-for-the-evidence", tmp_path / "s")


def test_a_log_folder_that_is_a_link_refuses_the_step_and_nothing_is_written_through(
        tmp_path: Path) -> None:
    ctl = _start(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "world" / "logs").symlink_to(elsewhere)
    ctl.attest_gate("signoff", "GOV-1")
    assert ctl.evaluate_gates() == []
    with pytest.raises(ActionRefused, match="symbolic link") as refused:
        ctl.run_step("hello")
    ctl.close()
    assert str(tmp_path / "world" / "logs") in str(refused.value)
    assert list(elsewhere.iterdir()) == []
    assert "step_started" not in [e.type for e in ctl.store.events]


def test_a_log_folder_linked_after_the_step_was_asked_for_gets_nothing_from_the_supervisor(
        tmp_path: Path) -> None:
    """The supervisor itself opens the published copy without following links: a link
    planted between the cockpit's check and the supervisor's open is not written through."""
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    (work / "logs").symlink_to(elsewhere)
    files = RunFiles(tmp_path, "step.1")
    write_spec(files, {"step": "step", "command": shlex.join([sys.executable, "-c",
                                                              "print('evidence')"]),
                       "cwd": str(work), "log": str(tmp_path / "step.log"),
                       "publish": str(work / "logs" / "x.log"), "rules": [], "grace": 1.0})
    launch(files, dict(os.environ), []).wait(60)
    record = files.exit_record()
    assert record is not None and record.exit_code == 0
    assert (tmp_path / "step.log").read_text() == "evidence\n"  # the evidence is whole
    assert str(work / "logs") in record.publish_error
    assert "symbolic link" in record.publish_error
    assert list(elsewhere.iterdir()) == []


def test_files_above_a_working_directory_reached_through_a_link_are_found(
        tmp_path: Path) -> None:
    """The working directory as the operator chose it is trusted, resolved once (a link
    on its own path is no refusal, as macOS's /tmp is one); `../` goes up from where it
    really is, and the runbook's own components below that are walked without links."""
    runbook = write_world(tmp_path, [phase("P0", [("hello", "echo hello")])])
    world = runbook.parent
    (world / "real-app").mkdir()
    (world / "app").symlink_to(world / "real-app")
    text = runbook.read_text().replace('path = "freeze.log"', 'path = "../freeze.log"')
    text = text.replace('log = "logs/hello.log"', 'log = "../logs/hello.log"')
    runbook.write_text(text.replace("[halt]", '[setup]\nheading = "Setup"\nitems = [\n  { kind '
                                    '= "working_directory", id = "wd", text = "In `app`", '
                                    'path = "app" },\n]\n\n[halt]'))
    ctl = _start(tmp_path, runbook)
    ctl.attest_gate("signoff", "GOV-1")
    assert ctl.evaluate_gates() == []
    ctl.run_step("hello")
    finish_running(ctl)
    ctl.close()
    assert ctl.state.steps["hello"].status == "passed"
    assert (world / "logs" / "hello.log").read_text() == "hello\n"


def test_a_reference_snapshot_that_is_a_link_fails_its_probe_naming_it(tmp_path: Path) -> None:
    from cockpit.probes.registry import ProbeContext, run_probe

    (tmp_path / "anchor.json").symlink_to(_shadow(tmp_path))
    result = run_probe("db.structural_parity", ProbeContext(workdir=tmp_path), None,
                       {"reference": "anchor.json"})
    assert not result.ok and str(tmp_path / "anchor.json") in result.detail
    assert "symbolic link" in result.detail and "not-for-the-evidence" not in result.detail
