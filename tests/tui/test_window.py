"""The maintenance window's end, read from its attestation, for the header's countdown."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cockpit.engine.controller import Controller
from cockpit.engine.rules import maintenance_window_end
from tests.engine.helpers import ordinary_world


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
    ctl.attest_gate("window", "CHG-9 from 2026-11-28T20:00Z to 2026-11-28T22:30Z")
    assert maintenance_window_end(ctl.runbook, ctl.state) == datetime(2026, 11, 28, 22, 30,
                                                                      tzinfo=UTC)
    ctl.close()
    ctl = Controller.start(runbook, folder=tmp_path / "s2", env=dict(os.environ),
                           halt_hooks=[])
    ctl.attest_gate("window", "CHG-10, now until +2h")
    end = maintenance_window_end(ctl.runbook, ctl.state)
    assert end is not None
    assert abs((end - datetime.now(UTC)) - timedelta(hours=2)) < timedelta(minutes=1)
    ctl.close()
