"""`cockpit demo --headless` on a fresh rehearsal world: the whole reference sequence to
PASS, each named fault to where a careful operator stops, and no password left on disk."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from cockpit.demo.faults import FAULTS
from cockpit.demo.lineage import AI4_OBJECTS, ANCHOR, HEAD
from cockpit.demo.session import close_demo, open_demo
from cockpit.engine.headless import Headless, load_answers
from cockpit.resources import bundled_runbook
from cockpit.session.redact import secret_forms
from cockpit.session.runfiles import RunFiles
from tests.demo.conftest import Run
from tests.run import cockpit, start_cockpit
from tests.waiting import wait_until, within

# fault -> (exit code, the phase it stops in, words the decision record must carry)
EXPECTED: dict[str | None, tuple[int, str | None, list[str]]] = {
    None: (0, None, []),
    "duplicate-table": (2, "P3", ["DuplicateTable", "active_investments"]),
    "missing-column": (2, "P3", ["UndefinedColumn", "last_tested"]),
    "enum-conflict": (2, "P3", ["DuplicateObject", "drift_severity"]),
    "lock-timeout": (2, "P3", ["LockNotAvailable", "lock timeout"]),
    "lock-queue": (2, "P3", ["lock-queue", "lock queue:", "waiting behind the step's locks"]),
    "lock-retry": (0, None, []),
    "drift": (2, "P0", ["PARITY: DRIFT"]),
    "fk-renamed": (0, None, []),
    "width": (2, "P1", ["width-is-64", "observed 32"]),
    "multiple-heads": (2, "gates", ["repo-single-head", "0024_hotfix"]),
    "risky-index": (2, "gates", ["migration-risk", "0023 index-without-concurrently",
                                 "public.facilities (150,"]),
    "silent-no-commit": (2, "P4", ["AI-4 parity: 0/6"]),
}


# In the fast suite, the demo's faults that no faster test stands for: P0's parity, a gate on
# the lineage, the risk gate. A text rule halting P3 and the radar's lock queue have their
# fast tests on a real lock (tests/engine/test_radar_halt.py,
# tests/runbook/test_imported_guards_run.py); their demo runs, and every other fault, are
# in the slow step.
FAST_FAULTS = ["drift", "multiple-heads", "risky-index"]


def test_demo_runs_the_reference_sequence_to_pass(runs: dict[str | None, Run]) -> None:
    run = runs[None]
    assert run.code == 0, run.stdout[-3000:] + run.stderr
    assert run.stdout.splitlines()[0] == f"session: {run.session}"
    fields = run.decision()["fields"]
    assert fields["status"] == "PASS" and fields["final_revision"] == HEAD
    assert fields["heads_state"] == f"single head {HEAD}"
    checks = {e["data"]["step"]: e["data"] for e in run.events()
              if e["type"] == "check_evaluated"}
    assert checks["width-is-64"]["observed"] == 64
    assert checks["current-is-anchor"]["observed"] == ANCHOR
    assert checks["ai4-objects-present"]["observed"] == {
        name: "view" if name == "board_monitoring_briefs" else "table" for name in AI4_OBJECTS}
    upgrade = next(e["data"] for e in run.events() if e["type"] == "step_started"
                   and e["data"]["step"] == "prod_upgrade_0019_to_head")
    assert upgrade["path"] == ["0009b", "0020", "0021", "0022", "0023", HEAD]
    assert f"── revision 6 of 6 ▰▰▰▰▰▰▰▰▰▰ {HEAD}" in run.stdout  # counted off as it ran
    finished = next(e["data"] for e in run.events() if e["type"] == "step_finished"
                    and e["data"]["run"] == upgrade["run"])
    # the lock radar watched the upgrade (its lock_queue rule): the series is evidence
    assert finished["radar"] == f"steps/{upgrade['run']}.radar.jsonl", finished
    samples = (run.session / finished["radar"]).read_text().splitlines()
    assert len(samples) == finished["radar_samples"] >= 1
    assert all(json.loads(line)["sessions"] is not None for line in samples)
    risk = [e["data"] for e in run.events() if e["type"] == "gate_evaluated"
            and e["data"]["gate"] == "migration-risk"][-1]
    assert risk["ok"] and risk["observed"]["revisions"] == 6, risk  # small tables: warnings
    kept = {Path(f["captured"]).name.split("-", 1)[1] for f in risk["observed"]["files"]}
    assert kept == {"migration-risk.json", "migration-risk.md"}
    manifest = json.loads((run.session / "evidence" / "manifest.json").read_text())
    assert manifest["complete"] and len(manifest["present"]) == 15
    verify = cockpit("verify", str(run.session))
    assert verify.returncode == 0, verify.stderr
    print(f"demo --headless to PASS: {run.seconds:.1f} s")


@pytest.mark.parametrize("fault", [
    pytest.param(f, id=f, marks=() if f in FAST_FAULTS else pytest.mark.slow)
    for f in EXPECTED if f])
def test_fault_ends_where_a_careful_operator_stops(runs: dict[str | None, Run],
                                                   fault: str) -> None:
    run = runs[fault]
    code, phase, words = EXPECTED[fault]
    assert run.code == code, run.stdout[-3000:] + run.stderr
    decision = run.decision()["fields"]
    assert decision["status"] == ("PASS" if code == 0 else "BLOCKER")
    text = decision["errors"] + " " + decision["root_cause"]
    for word in words:
        assert word in text, text
    events = run.events()
    started = [e["data"]["phase"] for e in events if e["type"] == "step_started"]
    if phase == "gates":
        assert started == []  # NO-GO: nothing ran
    elif phase is not None:
        order = ["P0", "P1", "P2", "P3", "P4"]
        assert started and max(order.index(p) for p in started) <= order.index(phase)
        halted = next(e for e in events if e["type"] == "halted")
        assert halted["data"]["step"] is not None
    if fault == "drift":  # halted before anything was written: no P1 or later step
        assert set(started) == {"P0"}
    if code == 2 and phase in ("P1", "P2", "P3", "P4"):  # the DBA's restore target
        target = run.decision()["restore_target"]
        assert re.fullmatch(r"[0-9A-F]+/[0-9A-F]+", target["lsn"]), target
        assert target["server_time"].endswith("Z") and target["step"]
        assert f"Restore target: before {target['server_time']} (LSN {target['lsn']})" in (
            run.session / "evidence" / "decision.md").read_text()


def test_list_faults_names_each_fault() -> None:
    done = cockpit("demo", "--list-faults")
    assert done.returncode == 0
    assert [line.split()[0] for line in done.stdout.splitlines()] == list(FAULTS)


# Under the slow marker, for the fast suite's 10-minute budget: invariant 5's fast test is
# tests/engine/test_secrets.py; this one sweeps every file a whole demo leaves.
@pytest.mark.slow
@pytest.mark.parametrize("fault", [None, "lock-timeout"], ids=["pass", "lock-timeout"])
def test_no_file_holds_the_demo_password(tmp_path: Path, fault: str | None) -> None:
    world, ctl = open_demo(fault, tmp_path / "session", tmp_path / "world")
    password = world.password
    try:
        lines: list[str] = []
        answers = load_answers(bundled_runbook("demo-answers.toml"))
        code = Headless(ctl, answers, False, lines.append).drive()
    finally:
        close_demo(world, ctl)
    assert code == (0 if fault is None else 2)
    forms = secret_forms(password)
    roots = [tmp_path, Path(world.info.pg_root)]
    files = [p for root in roots for p in root.rglob("*") if p.is_file()]
    assert len(files) > 100
    for path in files:
        data = path.read_bytes()
        for form in forms:
            assert form not in data, f"{form!r} in {path}"
    assert not any(password in line for line in lines)
    if fault == "lock-timeout":
        diagnostics = next((tmp_path / "session" / "evidence").glob("halt-diagnostics-*.json"))
        captured = json.loads(diagnostics.read_text())["pg_halt_diagnostics"]
        holders = {lock["pid"] for lock in captured["pg_locks"]
                   if lock["rel"] == "facilities" and lock["granted"]}
        assert any(a["pid"] in holders and re.search("LOCK TABLE facilities", a["query"] or "")
                   for a in captured["pg_stat_activity"])  # the blocker, named


# slow: tests/demo/test_crash_demo.py kills the demo at over a hundred moments; the fast
# suite's crash test is tests/engine/test_crash.py
@pytest.mark.slow
def test_a_killed_demo_resumes_and_brings_its_database_back(tmp_path: Path) -> None:
    from cockpit.demo.world import WorldInfo, world_cluster

    session, workspace = tmp_path / "s", tmp_path / "s-world"
    proc = start_cockpit("demo", "--headless", "--session", str(session),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    events = session / "events.jsonl"
    # kill it once P1's post-check has passed
    within(lambda: events.exists() and '"width-is-64"' in events.read_text(), deadline_s=120,
           every_s=0.05)
    proc.kill()
    proc.wait()
    info = json.loads((workspace / "world.json").read_text())
    cluster = world_cluster(WorldInfo(**info))

    def supervised_steps_ended() -> bool:  # the supervisors outlive the killed cockpit
        logged = [json.loads(line) for line in events.read_text().splitlines()
                  if line.endswith("}")]
        return all(RunFiles(session / "steps", e["data"]["run"]).exit_record() is not None
                   for e in logged if e["type"] == "step_started")

    wait_until(supervised_steps_ended, "a step that was running to finish", 120)
    cluster.stop()  # as if the machine had rebooted
    os_kill_quietly(info["proxy_pid"])
    assert not cluster.running()
    resumed = cockpit("resume", str(session), "--headless", "--take-over", timeout=300)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr
    assert "DECISION: PASS" in resumed.stdout
    assert not cluster.running()  # stopped again: no cockpit uses it
    kinds = [json.loads(line)["type"] for line in events.read_text().splitlines()]
    assert "lock_taken_over" in kinds and "session_resumed" in kinds


def os_kill_quietly(pid: int | None) -> None:
    import os
    import signal

    try:
        if pid:
            os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
