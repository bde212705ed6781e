"""The maintenance window, read from its attestation: the header's countdown, and no command
starting outside it."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cockpit.engine.controller import Controller
from cockpit.engine.core import ActionRefused
from cockpit.session.rules import maintenance_window_end
from tests.engine.helpers import ordinary_world
from tests.waiting import finish_running


class MovedClock:
    """The system's clock, moved on by the test: the rules see the window close without
    the test waiting for it."""

    def __init__(self) -> None:
        self.ahead = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


def _stamp(offset: timedelta) -> str:
    return (datetime.now(UTC) + offset).strftime("%Y-%m-%dT%H:%M:%SZ")


def _window_world(tmp_path: Path) -> Path:
    runbook = ordinary_world(tmp_path)
    runbook.write_text(runbook.read_text().replace(
        '{ kind = "attestation", id = "signoff", text = "Sign-off received" },',
        '{ kind = "attestation", id = "signoff", text = "Sign-off received" },\n'
        '  { kind = "attestation", id = "window", text = "Maintenance window active" },'))
    return runbook


def test_no_command_starts_outside_the_attested_window(tmp_path: Path) -> None:
    ctl = Controller.start(_window_world(tmp_path), folder=tmp_path / "s",
                           env=dict(os.environ), halt_hooks=[])
    with pytest.raises(ActionRefused, match="the window in this reference ended at"):
        ctl.attest_gate("window", f"CHG-1 until {_stamp(-timedelta(days=365))}")  # a typo
    ctl.attest_gate("signoff", "GOV-1")
    ctl.attest_gate("window", f"CHG-1 from {_stamp(timedelta(hours=1))} to "
                              f"{_stamp(timedelta(hours=2))}")
    assert ctl.evaluate_gates() == []
    with pytest.raises(ActionRefused, match="window opens at"):
        ctl.run_step("hello")
    ctl.close()
    (tmp_path / "b").mkdir()
    clock = MovedClock()
    ctl = Controller.start(_window_world(tmp_path / "b"), folder=tmp_path / "s2",
                           env=dict(os.environ), halt_hooks=[], clock=clock)
    ctl.attest_gate("signoff", "GOV-1")
    ctl.attest_gate("window", f"CHG-2 until {_stamp(timedelta(minutes=30))}")
    assert ctl.evaluate_gates() == []
    run = ctl.run_step("hello")  # inside the window
    finish_running(ctl)
    assert ctl.state.steps["hello"].status == "passed" and run == "hello.1"
    clock.ahead = timedelta(minutes=31)
    with pytest.raises(ActionRefused, match="window closed at"):
        ctl.run_step("count")
    ctl.close()


def test_window_end_from_an_iso_time_or_a_relative_until(tmp_path: Path) -> None:
    runbook = ordinary_world(tmp_path)
    text = runbook.read_text().replace(
        '{ kind = "attestation", id = "signoff", text = "Sign-off received" },',
        '{ kind = "attestation", id = "signoff", text = "Sign-off received" },\n'
        '  { kind = "attestation", id = "window", text = "Maintenance window active" },')
    runbook.write_text(text)
    ctl = Controller.start(runbook, folder=tmp_path / "s", env=dict(os.environ), halt_hooks=[])
    assert maintenance_window_end(ctl.runbook, ctl.state) is None
    ctl.attest_gate("signoff", "GOV 2026-11-28T23:00Z")  # not the window gate
    assert maintenance_window_end(ctl.runbook, ctl.state) is None
    start, end = _stamp(timedelta(hours=1)), _stamp(timedelta(hours=3, minutes=30))
    ctl.attest_gate("window", f"CHG-9 from {start} to {end}")
    assert maintenance_window_end(ctl.runbook, ctl.state) == datetime.fromisoformat(
        end.replace("Z", "+00:00"))
    ctl.close()
    ctl = Controller.start(runbook, folder=tmp_path / "s2", env=dict(os.environ),
                           halt_hooks=[])
    ctl.attest_gate("window", "CHG-10, now until +2h")
    end = maintenance_window_end(ctl.runbook, ctl.state)
    assert end is not None
    assert abs((end - datetime.now(UTC)) - timedelta(hours=2)) < timedelta(minutes=1)
    ctl.close()
