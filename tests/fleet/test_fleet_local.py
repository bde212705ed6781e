"""A fleet on one machine (issue #33): twenty tenant databases on the embedded PostgreSQL,
a 3-step runbook, a canary of 1 then waves of 5 and 14, at most 4 at once — each target a
session of its own, the fleet's ledger a session too. A failing target of the second wave
halts the fleet (nothing new starts; the others verify); a fleet whose process is killed
mid-wave is resumed and ends PASS, each changing step run once."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.fleet.world import FleetWorld, Server, build_world
from tests.run import cockpit, start_cockpit
from tests.waiting import wait_until

pytestmark = pytest.mark.slow  # whole fleets of headless cutovers


def ledger(fleet: Path) -> list[dict]:
    return [json.loads(line) for line in
            (fleet / "ledger" / "events.jsonl").read_text().splitlines()]


def of_type(events: list[dict], kind: str) -> list[dict]:
    return [e["data"] for e in events if e["type"] == kind]


def session_events(session: Path) -> list[dict]:
    return [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]


def most_at_once(events: list[dict]) -> int:
    """The most targets the ledger had running at once (dispatched, not yet ended)."""
    running, most = 0, 0
    for event in events:
        running += {"target_dispatched": 1, "target_ended": -1}.get(event["type"], 0)
        most = max(most, running)
    return most


def most_sessions_at_once(fleet: Path) -> int:
    """The most target sessions alive at once, by their own first and last events."""
    spans = []
    for session in (fleet / "targets").iterdir():
        events = session_events(session)
        spans += [(events[0]["ts"], 1), (events[-1]["ts"], -1)]
    running, most = 0, 0
    for _ts, change in sorted(spans, key=lambda s: (s[0], s[1])):
        running += change
        most = max(most, running)
    return most


def run_fleet(world: FleetWorld, fleet: Path,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return cockpit("fleet", "run", "--headless", str(world.runbook), "--targets", str(world.targets),
                   "--answers", str(world.answers), "--folder", str(fleet),
                   env=env or world.env(), timeout=600)


def test_a_failed_target_of_the_second_wave_halts_the_fleet(server: Server,
                                                            tmp_path: Path) -> None:
    # t02 is the second wave's first: its table is there already, so its upgrade fails
    world = build_world(tmp_path / "world", server, broken=("t02",), after=" && sleep 1")
    fleet = tmp_path / "fleet"
    done = run_fleet(world, fleet)
    assert done.returncode == 2, done.stdout + done.stderr
    events = ledger(fleet)
    halted = of_type(events, "fleet_halted")
    assert len(halted) == 1 and halted[0]["wave"] == "second" and halted[0]["targets"] == ["t02"]
    assert of_type(events, "fleet_ended")[0]["status"] == "HALTED"
    dispatched = [d["target"] for d in of_type(events, "target_dispatched")]
    # the canary, then the second wave's first four (at most 4 at once): its fifth never
    # started, nor any target of the last wave
    assert dispatched[0] == "t01" and sorted(dispatched[1:]) == ["t02", "t03", "t04", "t05"]
    assert [w["wave"] for w in of_type(events, "wave_started")] == ["canary", "second"]
    assert most_at_once(events) <= 4 and most_sessions_at_once(fleet) <= 4
    ended = {e["target"]: e for e in of_type(events, "target_ended")}
    assert ended["t02"]["outcome"] == "BLOCKER"
    assert "DuplicateTable" in ended["t02"]["detail"]
    assert {ended[t]["outcome"] for t in ("t03", "t04", "t05")} <= {"PASS", "stopped"}
    # every decided target verifies, and its manifest is the one the ledger pinned
    for name, end in ended.items():
        session = fleet / "targets" / name
        if end["outcome"] in ("PASS", "BLOCKER"):
            checked = cockpit("verify", str(session))
            assert checked.returncode == 0, checked.stdout + checked.stderr
            manifest = (session / "evidence" / "manifest.json").read_bytes()
            assert end["manifest_sha256"] == hashlib.sha256(manifest).hexdigest()
            assert end["decision_hash"] == session_events(session)[
                end["decision_seq"] - 1]["hash"]
        else:  # stopped before its next step: resumable, not decided, no step after it ran
            assert "before step after" in end["detail"]
            assert not any(e["type"] == "decision_recorded" for e in session_events(session))
    secret = world.password.encode()  # the DSN's password: in no file of the fleet
    assert not [p for p in fleet.rglob("*") if p.is_file() and secret in p.read_bytes()]
    assert world.version("tenant_t01") == "r2" and world.version("tenant_t06") is None
    assert world.version("tenant_t20") is None
    # each target's session says which fleet, which target, who approved its wave
    started = session_events(fleet / "targets" / "t03")[0]["data"]
    assert started["fleet"]["target"] == "t03" and started["fleet"]["wave"] == "second"
    assert started["fleet"]["approved_by"] == "alice"
    assert started["environment_values"] == {"database": "tenant_t03"}
    status = cockpit("fleet", "status", str(fleet))
    assert status.returncode == 0, status.stderr
    assert "HALTED" in status.stdout.splitlines()[0]
    failed = [line for line in status.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and " t02 " in failed[0] and "DuplicateTable" in failed[0]
    # a fleet halt is final: resumed, it says so and runs nothing
    again = cockpit("fleet", "resume", "--headless", str(fleet), env=world.env())
    assert again.returncode == 2 and "nothing more runs" in again.stdout
    assert ledger(fleet) == events
    # a reviewer's plain mirror of the fleet: its ledger as lines, to its end
    plain = cockpit("mirror", "--plain", str(fleet))
    assert plain.returncode == 0, plain.stderr
    lines = plain.stdout.splitlines()
    assert len(lines) == len(events) and "FLEET HALTED: stop rule" in plain.stdout
    assert lines[-1].split(" ", 2)[2].startswith("FLEET: HALTED — ")
    verified(fleet, tmp_path)


def verified(fleet: Path, tmp_path: Path) -> None:
    """`verify` checks the ledger and every target against it; `export` makes one archive,
    the same bytes twice, which verifies away from its folder; a changed byte is named."""
    checked = cockpit("verify", str(fleet))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "t01: PASS — verify ok" in checked.stdout
    assert checked.stdout.rstrip().splitlines()[-1].startswith("verify: ok — ledger: ")
    packs = [tmp_path / "fleet.tar.gz", tmp_path / "again.tar.gz"]
    for pack in packs:
        assert cockpit("export", str(fleet), "-o", str(pack)).returncode == 0
    assert packs[0].read_bytes() == packs[1].read_bytes()
    from_pack = cockpit("verify", str(packs[0]))
    assert from_pack.returncode == 0, from_pack.stdout + from_pack.stderr
    manifest = fleet / "targets" / "t01" / "evidence" / "manifest.json"
    manifest.write_bytes(manifest.read_bytes() + b" ")
    tampered = cockpit("verify", str(fleet))
    assert tampered.returncode == 1 and "MISMATCH: t01: " in tampered.stderr


def test_a_fleet_killed_mid_wave_is_resumed_to_pass(server: Server, tmp_path: Path) -> None:
    world = build_world(tmp_path / "world", server, after=" && sleep 1")
    fleet = tmp_path / "fleet"
    first = start_cockpit("fleet", "run", "--headless", "--headless", str(world.runbook), "--targets", str(world.targets),
                          "--answers", str(world.answers), "--folder", str(fleet),
                          env=world.env(), stdout=subprocess.DEVNULL)
    try:
        def mid_last_wave() -> bool:
            events = ledger(fleet) if (fleet / "ledger" / "events.jsonl").exists() else []
            return sum(1 for d in of_type(events, "target_dispatched")
                       if d["wave"] == "rest") >= 2
        wait_until(mid_last_wave, "the fleet to be in its last wave", 300, every_s=0.2)
        os.kill(first.pid, signal.SIGKILL)
    finally:
        first.wait(30)
    before = ledger(fleet)
    assert not of_type(before, "fleet_ended")
    refused = cockpit("fleet", "resume", "--headless", str(fleet), env=world.env())
    assert refused.returncode == 3 and "--take-over" in refused.stderr, refused.stderr
    done = cockpit("fleet", "resume", "--headless", str(fleet), "--take-over", env=world.env(), timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    events = ledger(fleet)
    assert events[:len(before)] == before  # the ledger went on, never rewritten
    resumed = of_type(events, "fleet_resumed")
    assert len(resumed) == 1 and resumed[0]["taken_over"]["pid"] == first.pid
    assert of_type(events, "fleet_ended")[0] == {"status": "PASS", "outcomes": {"PASS": 20}}
    assert most_at_once(events) <= 4 and most_sessions_at_once(fleet) <= 4
    for name in world.names:
        session = fleet / "targets" / name
        mine = session_events(session)
        assert [e["data"]["step"] for e in mine if e["type"] == "step_started"] == [
            "before", "upgrade", "after"], name  # one run per step, none run twice
        assert world.version(f"tenant_{name}") == "r2"
    checked = cockpit("verify", str(fleet / "targets" / "t20"))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_go_and_each_wave_wait_for_a_typed_approval(server: Server, tmp_path: Path) -> None:
    """Headless, from the answers' [fleet] table: no GO, nothing is sent; the canary's wave
    ends, and the next waits for its name typed (exit 3, resumable) — then goes on."""
    waves = '[[waves]]\nname = "canary"\ntargets = ["t01"]\n\n[[waves]]\nname = "rest"\nrest = true\n'
    world = build_world(tmp_path / "world", server, count=3, waves=waves)
    go = world.answers.read_text().split("\n")[1]  # go = "GO …", as the world typed it
    fleet = tmp_path / "fleet"
    none = tmp_path / "none.toml"
    none.write_text("")
    # the rehearsal every target is proved by: a PASS of this runbook, on the base database
    rehearsal = tmp_path / "rehearsal"
    rehearsed = cockpit("run", str(world.runbook), "--headless", "--session", str(rehearsal),
                        env=world.env())
    assert rehearsed.returncode == 0, rehearsed.stdout[-2000:] + rehearsed.stderr
    not_one = cockpit("fleet", "run", "--headless", str(world.runbook), "--targets",
                      str(world.targets), "--rehearsal", str(tmp_path), "--folder", str(fleet),
                      env=world.env())
    assert not_one.returncode == 1 and not fleet.exists(), not_one.stderr
    first = cockpit("fleet", "run", "--headless", str(world.runbook), "--targets",
                    str(world.targets), "--answers", str(none), "--folder", str(fleet),
                    "--rehearsal", str(rehearsal), env=world.env())
    assert first.returncode == 3, first.stdout + first.stderr
    assert "WAITING: the fleet's GO" in first.stdout and go.split('"')[1] in first.stdout
    assert not of_type(ledger(fleet), "target_dispatched")
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('[fleet]\ngo = "GO 000000000000"\n')
    refused = cockpit("fleet", "resume", "--headless", str(fleet), "--answers", str(wrong), env=world.env())
    assert refused.returncode == 1 and "does not approve this targets file" in refused.stderr
    only_go = tmp_path / "go.toml"
    only_go.write_text(f"[fleet]\n{go}\n")
    second = cockpit("fleet", "resume", "--headless", str(fleet), "--answers", str(only_go), env=world.env(),
                     timeout=600)
    assert second.returncode == 3, second.stdout + second.stderr
    assert "WAITING: wave rest (2 targets) needs a person's approval after canary" in \
        second.stdout
    events = ledger(fleet)
    assert [d["target"] for d in of_type(events, "target_dispatched")] == ["t01"]
    assert of_type(events, "fleet_go")[0]["approver"] == "alice"
    assert world.version("tenant_t02") is None
    wave = tmp_path / "wave.toml"
    wave.write_text('[fleet.waves]\nrest = "rest"\n')
    third = cockpit("fleet", "resume", "--headless", str(fleet), "--answers", str(wave), "--operator", "bob",
                    env=world.env(), timeout=600)
    assert third.returncode == 0, third.stdout + third.stderr
    events = ledger(fleet)
    approved = of_type(events, "wave_approved")
    assert approved == [{"wave": "rest", "approver": "bob", "typed": "rest", "how": "answers"}]
    started = session_events(fleet / "targets" / "t03")[0]
    assert started["data"]["fleet"]["approved_by"] == "bob"
    assert started["data"]["rehearsal"]["folder"] == str(rehearsal.resolve())
    assert of_type(events, "fleet_ended")[0]["status"] == "PASS"
    assert all(world.version(f"tenant_{n}") == "r2" for n in world.names)


def test_a_countersigned_fleet_waits_for_a_reviewer_at_its_go_and_each_wave(
        server: Server, tmp_path: Path) -> None:
    """`countersign = true`: the GO, then the next wave, each wait for a reviewer's
    countersignature of what the ledger states (the wave's: how the wave before ended),
    besides the operator's typed approval; the operator's own key is refused."""
    from tests.four_eyes import make_keys

    keys = make_keys(tmp_path / "keys")
    waves = '[[waves]]\nname = "canary"\ntargets = ["t01"]\n\n[[waves]]\nname = "rest"\nrest = true\n'
    world = build_world(tmp_path / "world", server, count=3, waves=waves,
                        fleet="parallel = 2\ncountersign = true")
    fleet = tmp_path / "fleet"
    args = ["fleet", "run", "--headless", str(world.runbook), "--targets", str(world.targets), "--answers",
            str(world.answers), "--folder", str(fleet)]
    unkeyed = cockpit(*args, env=world.env())
    assert unkeyed.returncode == 1 and "give --sign-key KEY" in unkeyed.stderr
    assert not fleet.exists()
    first = cockpit(*args, "--sign-key", str(keys.operator), env=world.env())
    assert first.returncode == 3, first.stdout + first.stderr
    assert "WAITING: the fleet's GO needs a reviewer's countersignature" in first.stdout
    assert not of_type(ledger(fleet), "target_dispatched")

    def countersign(key: Path, name: str) -> subprocess.CompletedProcess[str]:
        return cockpit("countersign", str(fleet), "--key", str(key), "--confirm",
                       "countersign", "-o", str(tmp_path / name))

    own = countersign(keys.operator, "own.sig")
    assert own.returncode == 3 and "self-approval" in own.stderr, own.stderr
    signed = countersign(keys.reviewer, "go.sig")
    assert signed.returncode == 0, signed.stderr
    assert "approval of go" in signed.stderr and world.answers.read_text() != ""
    attached = cockpit("attach-signature", str(fleet), str(tmp_path / "go.sig"))
    assert attached.returncode == 0, attached.stderr
    second = cockpit("fleet", "resume", "--headless", str(fleet), "--answers", str(world.answers),
                     env=world.env(), timeout=600)
    assert second.returncode == 3, second.stdout + second.stderr
    assert "WAITING: wave rest needs a reviewer's countersignature" in second.stdout
    assert [d["target"] for d in of_type(ledger(fleet), "target_dispatched")] == ["t01"]
    again = cockpit("attach-signature", str(fleet), str(tmp_path / "go.sig"))
    assert again.returncode == 3 and "the fleet waits for wave rest" in again.stderr
    wave = countersign(keys.reviewer, "wave.sig")
    assert wave.returncode == 0 and "after:       wave canary ended 1 PASS" in wave.stderr
    assert cockpit("attach-signature", str(fleet), str(tmp_path / "wave.sig")).returncode == 0
    third = cockpit("fleet", "resume", "--headless", str(fleet), "--answers", str(world.answers),
                    env=world.env(), timeout=600)
    assert third.returncode == 0, third.stdout + third.stderr
    ref = session_events(fleet / "targets" / "t03")[0]["data"]["fleet"]
    assert ref["approved_by"] == "alice" and ref["countersigned_by"].startswith("bob@example.com")
    checked = cockpit("verify", str(fleet))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "countersigned go: bob@example.com" in checked.stdout
    assert "countersigned wave rest: bob@example.com" in checked.stdout
    kept = next((fleet / "ledger" / "signatures").glob("wave-rest-*.json"))
    kept.write_text(kept.read_text().replace('"rest"', '"REST"', 1))
    tampered = cockpit("verify", str(fleet))
    assert tampered.returncode == 1 and "countersignature of wave rest changed" in \
        tampered.stderr


def test_a_target_stopped_by_the_halt_is_taken_up_by_hand_on_its_own_database(
        server: Server, tmp_path: Path) -> None:
    """t01's upgrade fails while t02 is still in its first step: the fleet halts, t02 stops
    before its upgrade. The resume its console prints, run with the operator's own
    environment (the base DSN), reaches t02's database — never the base one — and ends PASS;
    the ledger keeps its record, and status and verify show where t02 stands now."""
    world = build_world(tmp_path / "world", server, count=4, broken=("t01",),
                        waves='[[waves]]\nname = "all"\nrest = true\n', fleet="parallel = 2",
                        before=' && case "$DATABASE_URL" in *tenant_t02*) sleep 4;; esac')
    fleet = tmp_path / "fleet"
    done = run_fleet(world, fleet)
    assert done.returncode == 2, done.stdout + done.stderr
    ended = {e["target"]: e for e in of_type(ledger(fleet), "target_ended")}
    assert ended["t01"]["outcome"] == "BLOCKER" and set(ended) == {"t01", "t02"}
    assert ended["t02"] == {**ended["t02"], "outcome": "stopped",
                            "detail": "before step upgrade"}
    printed = (fleet / "console" / "t02.log").read_text()
    command = next(line for line in printed.splitlines() if line.startswith("STOPPED"))
    resume = command.rsplit("resumable: ", 1)[1].split()
    assert resume[:2] == ["cockpit", "resume"]
    taken_up = cockpit(*resume[1:], env=world.env(), timeout=600)
    assert taken_up.returncode == 0, taken_up.stdout[-3000:] + taken_up.stderr
    assert world.version("tenant_t02") == "r2" and world.version("tenant_base") is None
    status = cockpit("fleet", "status", str(fleet))
    assert "t02" in status.stdout and "stopped  (its session now: PASS)" in status.stdout
    checked = cockpit("verify", str(fleet))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "t02: stopped; its session now: PASS (after the ledger's record)" in checked.stdout


def test_a_duplicate_delivery_waits_on_the_target_s_lock_and_runs_nothing(
        server: Server, tmp_path: Path) -> None:
    """The same target sent twice (a broker's redelivery while the first still runs): the
    second `fleet target` waits on the target's lock, never beside it, and once the first
    has decided it says so and runs nothing."""
    world = build_world(tmp_path / "world", server, count=1, after=" && sleep 3",
                        waves='[[waves]]\nname = "all"\nrest = true\n')
    fleet = tmp_path / "fleet"
    first = start_cockpit("fleet", "run", "--headless", str(world.runbook), "--targets",
                          str(world.targets), "--answers", str(world.answers), "--folder",
                          str(fleet), env=world.env(), stdout=subprocess.DEVNULL)
    try:
        session = fleet / "targets" / "t01"
        wait_until(lambda: (session / "steps" / "after.1.log").exists(),
                   "the target's last step to run", 120, 0.1)
        again = cockpit("fleet", "target", str(fleet), "t01", env=world.env(), timeout=300)
    finally:
        first.wait(300)
    assert first.returncode == 0
    assert again.returncode == 0, again.stdout + again.stderr
    assert "waiting: target t01's session is held by" in again.stdout, again.stdout
    assert "--take-over" not in again.stdout and "already decided (PASS)" in again.stdout
    kinds = [e["type"] for e in session_events(session)]
    assert kinds.count("session_started") == 1 and "session_resumed" not in kinds
    assert "lock_taken_over" not in kinds
    assert [e["data"]["step"] for e in session_events(session)
            if e["type"] == "step_started"] == ["before", "upgrade", "after"]


def test_a_host_without_alembic_on_its_path_says_no_go_before_a_step(
        server: Server, tmp_path: Path) -> None:
    """The targets' processes run with a PATH that lacks `alembic`: each says NO-GO naming
    the step and the program, before its session starts a step (nothing halted, no
    database touched); with the PATH put right, `fleet resume` sends them again to PASS."""
    world = build_world(tmp_path / "world", server, count=2,
                        waves='[[waves]]\nname = "all"\nrest = true\n')
    fleet = tmp_path / "fleet"
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                           if p and not (Path(p) / "alembic").exists())
    done = run_fleet(world, fleet, env={**world.env(), "PATH": path})
    assert done.returncode == 3, done.stdout + done.stderr
    ended = {e["target"]: e for e in of_type(ledger(fleet), "target_ended")}
    assert set(ended) == {"t01", "t02"}
    for name, record in ended.items():
        assert record["outcome"] == "failed" and record["detail"].startswith(
            "NO-GO on host "), record
        assert "step before: `alembic` not found on this host's PATH; step upgrade: " \
               "`alembic` not found" in record["detail"]
        assert not (fleet / "targets" / name / "events.jsonl").exists()
        assert world.version(f"tenant_{name}") is None
    assert "put their folder on this host's PATH" in done.stdout
    again = cockpit("fleet", "resume", "--headless", str(fleet), "--answers",
                    str(world.answers), env=world.env(), timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert all(world.version(f"tenant_{n}") == "r2" for n in world.names)
