"""The mirror when things go wrong: the operator's cockpit killed mid-step and resumed (the
mirror says GONE, then follows the resumed session to its end); an event line appended in
two writes (waited for, never misread); a damaged event log or step log (shown as damaged,
never repaired)."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import threading
from pathlib import Path

from cockpit.mirror.plain import follow_plain
from cockpit.mirror.source import MirrorSource
from cockpit.session.state import fold
from cockpit.session.store import read_event_log
from cockpit.tui.mirror_app import MirrorApp
from tests.engine.helpers import phase, write_world
from tests.mirror.screen_driver import drive, header_text
from tests.run import cockpit, start_cockpit
from tests.waiting import LineReader, let_time_pass, pause_until, wait_until

SLOW = [("slow", "for n in $(seq 1 40); do echo slow line $n; sleep 0.1; done"),
        ("after", "echo after line 1")]
QUICK = [(f"q{i}", f"for n in 1 2 3; do echo q{i} line $n; done") for i in range(2)]


def _operator(runbook: Path, session: Path) -> subprocess.Popen[str]:
    return start_cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                         str(session), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _sha(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file()}


def _finished(tmp_path: Path) -> Path:
    runbook = write_world(tmp_path, [phase("P0", QUICK)])
    session = tmp_path / "s"
    done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session", str(session))
    assert done.returncode == 0, done.stdout
    return session


async def test_screen_mirror_survives_the_operator_crash_and_resume(tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", SLOW)])
    session = tmp_path / "s"
    operator = _operator(runbook, session)
    wait_until(lambda: (session / "events.jsonl").exists()
              and b'"step_started"' in (session / "events.jsonl").read_bytes(),
              "the operator's first step", deadline_s=30)
    source = MirrorSource(session)
    app = MirrorApp(source, clock=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pause_until(pilot, lambda: "watching" in header_text(app), "the header drawn")
        operator.send_signal(signal.SIGKILL)  # mid-step: the supervisor runs on
        operator.wait(10)
        await pause_until(pilot, lambda: "GONE" in header_text(app), "the operator GONE", 10,
                          every_s=0.1)
        assert app.query_one("#header").has_class("-gone")
        resumed = cockpit("resume", str(session), "--headless", "--assume-yes", "--take-over")
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        await pause_until(pilot, lambda: source.state.ended, "the session's end", 10)
        await pause_until(pilot, lambda: "■ PASS" in header_text(app), "the decision shown")
        assert "GONE" not in header_text(app) and "■ PASS" in header_text(app)
        final = fold(read_event_log(session / "events.jsonl").events)  # resume has ended
        await pause_until(pilot, lambda: source.state == final, "the mirror at the log's end")
        assert source.damage is None and source.log_damage == {}


def test_plain_mirror_says_gone_and_follows_the_resumed_session(tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", SLOW)])
    session = tmp_path / "s"
    operator = _operator(runbook, session)
    wait_until(lambda: (session / "events.jsonl").exists(), "the session to start", 30)
    mirror = start_cockpit("mirror", str(session), "--plain", "--from-start",
                           stdout=subprocess.PIPE)
    wait_until(lambda: (tmp_path / "world" / "logs" / "slow.log").exists()
              and b"line 5" in (tmp_path / "world" / "logs" / "slow.log").read_bytes(),
              "the slow step's fifth line", deadline_s=30)
    reader = LineReader(mirror.stdout)
    operator.send_signal(signal.SIGKILL)
    operator.wait(10)
    reader.wait_for("cockpit is GONE")  # the mirror looks for the operator once a second
    resumed = cockpit("resume", str(session), "--headless", "--assume-yes", "--take-over")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    lines = reader.text(30).splitlines()
    assert mirror.wait(10) == 0
    gone = next(i for i, line in enumerate(lines) if "cockpit is GONE" in line)
    back = next(i for i, line in enumerate(lines) if " session_resumed " in line)
    assert gone < back
    assert [line for line in lines if line.startswith("[slow] ")] == [
        f"[slow] slow line {n}" for n in range(1, 41)]  # none lost, none twice
    assert "[after] after line 1" in lines


def test_an_event_written_in_two_parts_is_waited_for(tmp_path: Path) -> None:
    source = _finished(tmp_path)
    raw = (source / "events.jsonl").read_bytes().splitlines(keepends=True)
    growing = tmp_path / "growing"
    growing.mkdir()
    for name in ("runbook.toml", "session.json"):
        (growing / name).write_bytes((source / name).read_bytes())
    shutil.copytree(source / "steps", growing / "steps")  # the session's own logs
    events = growing / "events.jsonl"
    events.write_bytes(b"".join(raw[:3]))
    printed: list[str] = []
    follower = threading.Thread(target=lambda: printed.append(str(follow_plain(
        growing, printed.append, from_start=True))))
    follower.start()
    wait_until(lambda: sum(not line.startswith(("[", "!!", "--")) for line in list(printed))
               >= 3, "the first three events printed")
    for line in raw[3:]:  # each event in two writes, a pause between them
        with open(events, "ab") as handle:
            handle.write(line[: len(line) // 2])
        let_time_pass(0.12)  # the follower looks between the halves
        with open(events, "ab") as handle:
            handle.write(line[len(line) // 2 :])
    follower.join(30)
    assert printed[-1] == "0"  # exit code: ended, all printed, nothing damaged
    kinds = [line.split()[2] for line in printed[:-1] if not line.startswith(("[", "!!", "--"))]
    assert kinds == [json.loads(line)["type"] for line in raw]


async def test_a_damaged_event_log_is_shown_as_damaged_not_repaired(tmp_path: Path) -> None:
    session = _finished(tmp_path)
    lines = (session / "events.jsonl").read_bytes().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if b'"step_started"' in line
              and b"echo q1" in line)  # what ran, rewritten afterwards
    lines[at] = lines[at].replace(b"echo q1", b"echo Q1", 1)
    assert lines[at] != (session / "events.jsonl").read_bytes().splitlines(keepends=True)[at]
    (session / "events.jsonl").write_bytes(b"".join(lines))
    before = _sha(session)
    out: list[str] = []
    assert follow_plain(session, out.append, from_start=True) == 1
    assert len([line for line in out if not line.startswith(("[", "!!", "--"))]) == at
    assert out[-2].startswith("!! DAMAGED event log:") and f"line {at + 1}" in out[-2]
    seen = await drive(session, wait_end_s=1)
    assert f"line {at + 1}" in seen["damage"] and seen["seq"] == at and not seen["crashed"]
    assert _sha(session) == before


async def test_a_damaged_step_log_is_shown_as_damaged_not_repaired(tmp_path: Path) -> None:
    session = _finished(tmp_path)
    log = session / "steps" / "q0.1.log"  # the session's copy: the evidence
    log.write_text(log.read_text().replace("q0 line 2", "q0 line 9"))  # same size, new text
    before = _sha(session) | {str(log): hashlib.sha256(log.read_bytes()).hexdigest()}
    out: list[str] = []
    assert follow_plain(session, out.append, from_start=True) == 1
    assert any(line.startswith("!! [q0] log DAMAGED:") and "differs from the recorded" in line
               for line in out)
    seen = await drive(session)
    assert list(seen["log_damage"]) == ["q0"] and seen["damage"] is None
    after = _sha(session) | {str(log): hashlib.sha256(log.read_bytes()).hexdigest()}
    assert after == before


async def test_a_published_copy_changed_later_is_no_damage_to_the_mirror(
        tmp_path: Path) -> None:
    session = _finished(tmp_path)
    published = tmp_path / "world" / "logs" / "q0.log"  # what a later session would do
    published.write_text("another session's output\n")
    out: list[str] = []
    assert follow_plain(session, out.append, from_start=True) == 0
    assert not [line for line in out if "DAMAGED" in line]
    seen = await drive(session)
    assert seen["log_damage"] == {} and seen["damage"] is None
