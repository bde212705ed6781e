"""The mirror with nothing but read access: as a reviewer who may only read the session (root
gives up the capabilities that let it ignore file modes), and on a read-only mount while the
operator is still writing. Each test first proves that writing really fails there."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.engine.helpers import cockpit, phase, write_world
from tests.mirror.helpers import files_state
from tests.run import COCKPIT, start_cockpit
from tests.waiting import wait_until

STEPS = [(f"s{i}", f"for n in $(seq 1 25); do echo s{i} line $n; sleep 0.02; done")
         for i in range(3)]
# Root ignores mode bits through these capabilities; a reviewer has none of them.
DROP = ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search,-fowner"]


def as_reviewer(command: list[str]) -> list[str]:
    return [*DROP, *command] if os.geteuid() == 0 else command



def _run_session(tmp_path: Path) -> tuple[Path, Path]:
    runbook = write_world(tmp_path, [phase("P0", STEPS[:2]), phase("P1", STEPS[2:])])
    session = tmp_path / "s"
    done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session", str(session))
    assert done.returncode == 0, done.stdout + done.stderr
    return session, runbook.parent


def _step_lines(out: str, step: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(f"[{step}] ")]


def test_reviewer_with_read_permission_only(tmp_path: Path) -> None:
    session, world = _run_session(tmp_path)
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-a", str(session), str(copy)], check=True)
    subprocess.run(["chmod", "-R", "a-w", str(copy), str(world)], check=True)
    before = files_state(copy)
    probe = subprocess.run(as_reviewer(["touch", str(copy / "x"), str(copy / "steps" / "x")]),
                           capture_output=True, text=True)
    assert probe.returncode != 0 and "Permission denied" in probe.stderr  # really read-only

    plain = subprocess.run(as_reviewer([*COCKPIT, "mirror", str(copy),
                                        "--plain", "--from-start"]),
                           cwd=REPO, capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    for step, _ in STEPS:
        assert _step_lines(plain.stdout, step) == [f"[{step}] {step} line {n}"
                                                   for n in range(1, 26)]
    screen = subprocess.run(as_reviewer([sys.executable, "-m", "tests.mirror.screen_driver",
                                         str(copy)]),
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert screen.returncode == 0, screen.stderr[-2000:]
    seen = json.loads(screen.stdout.splitlines()[-1])
    assert seen["header"].startswith("▌MIRROR — READ-ONLY▐") and "■ PASS" in seen["header"]
    assert seen["ended"] and not seen["crashed"] and seen["damage"] is None
    assert seen["output"] == [f"s2 line {n}" for n in range(1, 26)]  # the last step's log
    assert {"Keys", "Screenshot"} <= set(seen["palette"])
    assert files_state(copy) == before


def test_live_mirror_on_a_read_only_mount(tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", STEPS[:2]), phase("P1", STEPS[2:])])
    world, session = runbook.parent, tmp_path / "s"
    (world / "logs").mkdir()
    operator = start_cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                             str(session), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: (operator.poll() is None and (session / "events.jsonl").exists())
               or operator.poll() is not None, "the operator's session to start")
    assert operator.poll() is None
    # In a mount namespace of its own, the session and the logs are mounted read-only over
    # themselves; the operator, outside, goes on writing to the same files.
    mounts = " && ".join(f"mount --bind {shlex.quote(str(p))} {shlex.quote(str(p))} && "
                         f"mount -o remount,ro,bind {shlex.quote(str(p))}"
                         for p in (session, world / "logs"))
    script = (f"{mounts} && ! touch {shlex.quote(str(session / 'x'))} 2>/dev/null && "
              f"echo READ-ONLY-MOUNT && exec {shlex.quote(sys.executable)} -m cockpit mirror "
              f"{shlex.quote(str(session))} --plain --from-start")
    mirror = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                             script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert operator.wait(60) == 0
    assert mirror.returncode == 0, mirror.stdout[-2000:] + mirror.stderr
    lines = mirror.stdout.splitlines()
    assert lines[0] == "READ-ONLY-MOUNT"
    events = [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]
    printed = [line.split()[2] for line in lines[1:] if not line.startswith("[")]
    assert printed == [e["type"] for e in events]
    for step, _ in STEPS:
        assert _step_lines(mirror.stdout, step) == [f"[{step}] {step} line {n}"
                                                    for n in range(1, 26)]
    assert not (session / "x").exists()
