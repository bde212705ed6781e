"""The cutover against its rehearsal's clock: what is left of the phase and of the cutover
by the rehearsal's times, the forecast end against the window's, and a step running 3× its
rehearsed time recorded as drift — by the real cockpit, headless, as an operator runs it."""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from cockpit.runbook.loader import load_runbook
from cockpit.session.state import GateState, SessionState, StepState
from cockpit.session.timing import forecast, forecast_text, running_text
from tests.engine.helpers import cockpit, phase, write_world

PY = shlex.quote(sys.executable)
# each step sleeps as long as its file says: the rehearsal and the cutover differ only there
SLEEP = f"{PY} -c \"import time; time.sleep(float(open('{{name}}.s').read()))\""
WINDOW = ('  { kind = "attestation", id = "maintenance-window", '
          'text = "Maintenance window active" },\n]')


def _world(tmp_path: Path, seconds: dict[str, float]) -> Path:
    tmp_path.mkdir(exist_ok=True)
    runbook = write_world(tmp_path, [
        phase("P0", [("quick", "echo quick")]),
        phase("P1", [(name, SLEEP.format(name=name)) for name in seconds])])
    runbook.write_text(runbook.read_text().replace("\n]\n", "\n" + WINDOW + "\n", 1))
    for name, value in seconds.items():
        (runbook.parent / f"{name}.s").write_text(str(value))
    return runbook


def _events(session: Path) -> list[dict]:
    return [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]


def _rehearsal(tmp_path: Path) -> tuple[Path, str]:
    """A rehearsal session `rs` whose `work` step sleeps 0.3 s; the answers file (a window
    open two hours) and the window's end."""
    answers = tmp_path / "answers.toml"
    until = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    answers.write_text(f'[gates]\nsignoff = "GOV-1"\nmaintenance-window = "CHG-1 until {until}"\n')
    rehearsal = _world(tmp_path / "r", {"work": 0.3})
    done = cockpit("run", str(rehearsal), "--headless", "--answers", str(answers),
                   "--session", str(tmp_path / "rs"))
    assert done.returncode == 0, done.stdout + done.stderr
    return answers, until


def test_a_step_three_times_its_rehearsal_is_recorded_as_drift(tmp_path: Path) -> None:
    answers, _until = _rehearsal(tmp_path)
    rehearsed = next(e for e in _events(tmp_path / "rs") if e["type"] == "step_finished"
                     and e["data"]["step"] == "work")
    cutover = _world(tmp_path / "c", {"work": 3.0})
    done = cockpit("run", str(cutover), "--headless", "--answers", str(answers),
                   "--session", str(tmp_path / "cs"), "--rehearsal", str(tmp_path / "rs"))
    assert done.returncode == 0, done.stdout + done.stderr
    drifts = [e["data"] for e in _events(tmp_path / "cs") if e["type"] == "drift_noted"]
    assert [d["kind"] for d in drifts] == ["step_slow"], drifts  # once, and not "late"
    assert drifts[0]["step"] == "work" and drifts[0]["run"] == "work.1"
    assert drifts[0]["running_s"] > 2 * drifts[0]["rehearsed_s"]
    assert 0.3 <= drifts[0]["rehearsed_s"] < 5, rehearsed  # the sleep and a Python start
    assert "drift_noted kind=step_slow step=work" in done.stdout  # shown as it happened
    status = cockpit("status", str(tmp_path / "cs")).stdout
    assert f"rehearsal rs ({(tmp_path / 'rs').resolve()})" in status
    assert "DRIFT     step_slow at " in status and ": work ran " in status


def _state(running_for: float, now: datetime, window_end: datetime) -> SessionState:
    at = now.isoformat().replace("+00:00", "Z")
    return SessionState(
        gates={"maintenance-window": GateState(status="passed", at=at, reference=(
            f"CHG-1 until {window_end.strftime('%Y-%m-%dT%H:%M:%SZ')}"))},
        steps={"quick": StepState(status="passed", started_at=at, ended_at=at),
               "work": StepState(status="running", run="work.1", started_at=(
                   now - timedelta(seconds=running_for)).isoformat().replace("+00:00", "Z"))})


def test_the_forecast_counts_what_is_left_by_the_rehearsals_times(tmp_path: Path) -> None:
    runbook = load_runbook(_world(tmp_path, {"work": 1, "tail": 1}))
    rehearsed = {"quick": 1.0, "work": 10.0, "tail": 20.0}
    now = datetime(2026, 11, 30, 1, 0, 0, tzinfo=UTC)
    on_time = forecast(runbook, _state(4.0, now, now + timedelta(minutes=5)), rehearsed, now)
    assert on_time is not None
    assert (on_time.phase_left_s, on_time.cutover_left_s) == (26.0, 26.0)  # 6 + 20
    assert not on_time.slow and not on_time.late
    assert forecast_text(on_time) == ("ETA phase 0:00:26, cutover 0:00:26 · forecast end "
                                      "01:00:26Z (window 01:05:00Z)")
    assert running_text(on_time) == "rehearsal 0:00:10"
    # 30 s into a 10 s step: slow; 20 s of tail left, the window ends in 15 s: late
    behind = forecast(runbook, _state(30.0, now, now + timedelta(seconds=15)), rehearsed, now)
    assert behind is not None and behind.slow and behind.late
    assert running_text(behind) == "rehearsal 0:00:10 · 3.0× SLOW"
    assert "PAST the window 01:00:15Z" in forecast_text(behind)
    assert forecast(runbook, _state(4.0, now, now), {}, now) is None  # no rehearsal: none
    # before anything ran: the phase is P0's one step, the cutover all three
    fresh = forecast(runbook, SessionState(), rehearsed, now)
    assert fresh is not None and (fresh.phase_left_s, fresh.cutover_left_s) == (1.0, 31.0)
    # a window attested in another zone is shown in UTC, as every time here is
    east = timezone(timedelta(hours=2))
    zoned = forecast(runbook, _state(4.0, now, now), rehearsed, now)
    assert zoned is not None
    zoned = replace(zoned, window_end=datetime(2026, 11, 30, 3, 0, tzinfo=east))
    assert forecast_text(zoned).endswith("(PAST the window 01:00:00Z)")


def test_a_step_that_ended_before_it_was_looked_at_is_not_drift(tmp_path: Path) -> None:
    """A cockpit that polls late (resumed after a crash, say) judges a step by its exit
    record, not by the time it looked: no drift for a step that took its rehearsed time."""
    from cockpit.engine.controller import Controller
    from tests.waiting import wait_until

    _answers, until = _rehearsal(tmp_path)
    later = [datetime.now(UTC)]
    ctl = Controller.start(_world(tmp_path / "c", {"work": 0.3}), folder=tmp_path / "cs",
                           env={}, halt_hooks=[], clock=lambda: later[0],
                           rehearsal=tmp_path / "rs")
    try:
        ctl.attest_gate("signoff", "GOV-1")
        ctl.attest_gate("maintenance-window", f"CHG-1 until {until}")
        assert ctl.evaluate_gates() == []
        ctl.run_step("quick")
        wait_until(lambda: ctl.running() is None, "quick to end")  # the monitor records it
        ctl.run_step("work")
        files = ctl.running()[1]
        wait_until(lambda: files.exit_record() is not None, "work's exit record")
        later[0] = datetime.now(UTC) + timedelta(minutes=10)  # looked at ten minutes on
        ctl.note_drift_if_due()
        ctl.await_end(files.run)  # recorded by the monitor, whenever it looked
        assert ctl.state.steps["work"].status == "passed"
        ctl.note_drift_if_due()
        assert ctl.state.drifts == []
    finally:
        ctl.close()
