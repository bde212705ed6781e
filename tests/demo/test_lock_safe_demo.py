"""The demo's lock-safe faults, headless on a fresh rehearsal world: `lock-retry` (a report
holds facilities until 4 s after the upgrade first waits; the step's retry outlasts it, every
attempt in evidence) and `hold-point` (the upgrade, a revision at a time, stops before 0022:
exit 3; the answers' [holds] go-ahead takes it to PASS)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cockpit.demo.lineage import HEAD
from tests.demo.conftest import Runs
from tests.run import REPO, cockpit

UPGRADE = "prod_upgrade_0019_to_head"


def _of(session: Path, kind: str) -> list[dict]:
    return [e["data"] for e in map(json.loads, (session / "events.jsonl").read_text()
                                   .splitlines()) if e["type"] == kind]


@pytest.mark.slow  # a whole demo run with its retries: ~15 s
def test_the_demos_lock_retry_passes_on_a_later_attempt(runs: Runs) -> None:
    run = runs["lock-retry"]
    assert run.code == 0, run.stdout[-3000:] + run.stderr
    scheduled = _of(run.session, "retry_scheduled")
    assert scheduled and all(s["step"] == UPGRADE for s in scheduled)
    assert any("netz-report" in (s["blocker"] or "") for s in scheduled), scheduled
    started = [s for s in _of(run.session, "step_started") if s["step"] == UPGRADE]
    assert len(started) == len(scheduled) + 1
    for attempt in started[:-1]:  # each failed attempt's log kept, its lock timeout in it
        assert "lock timeout" in (run.session / attempt["log"]).read_text()
    assert run.decision()["fields"]["final_revision"] == HEAD
    assert cockpit("verify", str(run.session)).returncode == 0


@pytest.mark.slow  # two demo runs' worth: ~25 s
def test_the_demos_hold_point_stops_and_goes_on_when_confirmed(
        tmp_path: Path) -> None:
    session = tmp_path / "s"
    held = cockpit("demo", "--headless", "--fault", "hold-point", "--session", str(session),
                   timeout=300)
    assert held.returncode == 3, held.stdout[-3000:] + held.stderr
    assert f"HELD: step {UPGRADE} stops before revision 0022 (4 of 6)" in held.stdout
    status = cockpit("status", str(session)).stdout
    assert f"HELD      {UPGRADE} before revision 0022 (4 of 6)" in status
    answers = tmp_path / "answers.toml"
    answers.write_text((REPO / "runbooks" / "demo-answers.toml").read_text()
                       + f'\n[holds]\n{UPGRADE} = "0022"\n')
    went = cockpit("resume", str(session), "--headless", "--answers", str(answers),
                   timeout=300)
    assert went.returncode == 0, went.stdout[-3000:] + went.stderr
    plans = [s["plan"] for s in _of(session, "step_started") if s["step"] == UPGRADE]
    assert plans == [["0009b", "0020", "0021"], ["0022", "0023", HEAD]]
    assert [h["revision"] for h in _of(session, "hold_released")] == ["0022"]
    assert cockpit("verify", str(session)).returncode == 0
