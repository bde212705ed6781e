"""Invariant 7: kill -9 of the cockpit at 20 seeded moments of a run (50 in the slow sweep); each time `resume`
brings the session back consistent, `verify` passes, no line a child printed is lost and
no step runs twice."""

from __future__ import annotations

import json
import random
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.engine.helpers import cockpit, phase, write_world
from tests.engine.helpers import ran as steps_ran
from tests.run import start_cockpit
from tests.waiting import let_time_pass, within

LINES = 40
STEPS = [(f"s{i}", f"echo s{i} >> ran.txt; for n in $(seq 1 {LINES}); do echo s{i} line $n; "
          "sleep 0.006; done") for i in range(4)]
SEEDS = range(50)


def _events(session: Path) -> list[dict]:
    path = session / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def _crash_once(base: Path, seed: int) -> dict:
    rng = random.Random(seed)
    world = base / f"w{seed}"
    world.mkdir()
    runbook = write_world(world, [phase("P0", STEPS[:2]), phase("P1", STEPS[2:])])
    session = world / "s"
    proc = start_cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                         str(session), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # The moment is measured from the session's first event, so a slow start (a cold
    # clone compiling its bytecode) doesn't push the kills before the session exists.
    within(lambda: _events(session) or proc.poll() is not None, deadline_s=60, every_s=0.005)
    let_time_pass(rng.uniform(0.0, 1.6))  # the kill's moment, drawn from the seed
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _events(session)
    started = {e["data"]["run"] for e in before if e["type"] == "step_started"}
    finished = {e["data"]["run"] for e in before if e["type"] == "step_finished"}
    outcome = {"seed": seed, "events_at_kill": len(before),
               "during_step": bool(started - finished)}
    if not before:  # killed before the session's first event: nothing may have run
        assert not (runbook.parent / "ran.txt").exists()
        outcome["final"] = "never started"
        return outcome
    answers = world / "answers.toml"
    answers.write_text("".join(
        f'[resolve.{sid}]\noutcome = "failed"\nnote = "interrupted before it started"\n'
        for sid, _ in STEPS))
    result = cockpit("resume", str(session), "--headless", "--assume-yes", "--take-over",
                     "--answers", str(answers))
    assert result.returncode in (0, 2), result.stdout + result.stderr
    check = cockpit("verify", str(session))
    assert check.returncode == 0, check.stderr
    # A kill between `step_started` and the child's first line leaves no ran.txt at all.
    ran = steps_ran(runbook.parent)
    assert len(ran) == len(set(ran)), f"seed {seed}: a step ran twice: {ran}"
    for sid in ran:  # every line the child printed is in its log, once, in order
        log = (runbook.parent / "logs" / f"{sid}.log").read_text().splitlines()
        assert log == [f"{sid} line {n}" for n in range(1, LINES + 1)], f"seed {seed} {sid}"
    state = json.loads(cockpit("status", str(session), "--json").stdout)
    outcome["final"] = state["derived"]["decision"]
    if outcome["final"] == "PASS":
        assert ran == [sid for sid, _ in STEPS]
    return outcome


def _sweep(tmp_path: Path, seeds: range) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda seed: _crash_once(tmp_path, seed), seeds))
    assert len(outcomes) == len(seeds)
    during = sum(o["during_step"] for o in outcomes)
    decided = [o for o in outcomes if o["final"] in ("PASS", "BLOCKER")]
    print(f"kills during a running step: {during}/{len(seeds)}; decided: {len(decided)}; "
          f"PASS: {sum(o['final'] == 'PASS' for o in outcomes)}")
    assert during >= len(seeds) // 5  # the seeded moments do land inside running steps
    assert len(decided) == len(seeds)  # every one resumed to a decision


def test_kill_minus_9_at_10_points_loses_nothing(tmp_path: Path) -> None:
    _sweep(tmp_path, SEEDS[:10])  # the slow step sweeps all 50


@pytest.mark.slow
def test_kill_minus_9_at_50_points_loses_nothing(tmp_path: Path) -> None:
    _sweep(tmp_path, SEEDS)
