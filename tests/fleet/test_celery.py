"""A fleet beyond one machine (issue #33): a Redis server the suite starts (Debian's
redis-server), two Celery workers each in PID and host-name namespaces of their own
(`unshare`: two hosts, as far as a process can tell) sharing the session storage. The fleet
runs through them; `kill -9` of a worker mid-target takes its whole namespace down — the
target's cockpit and its step's supervisor with it. After the visibility timeout the other
worker gets the target's message again; once the lost host's lease and its step's heartbeat
have expired it takes the target over, and the target ends PASS, verified, each changing
step run once."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from cockpit.demo.pgcluster import free_port
from tests.fleet.test_fleet_local import ledger, of_type, session_events
from tests.fleet.world import FleetWorld, Server, build_world
from tests.run import cockpit, start_cockpit
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def _redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    """A Redis server on loopback, keeping nothing on disk (stopped, it forgets all)."""
    import redis

    assert os.path.exists(REDIS), "redis-server is missing: .ci/run installs Debian's"
    server = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(folder)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    client = redis.Redis.from_url(f"redis://127.0.0.1:{port}/0")
    wait_until(lambda: _pings(client), "redis-server to answer", 20)
    return server


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[str]:
    """A Redis server of this test's own."""
    port = free_port()
    server = _redis(port, tmp_path)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)


def _pings(client: object) -> bool:
    try:
        return bool(client.ping())  # type: ignore[attr-defined]
    except Exception:  # not yet listening
        return False


def _worker(name: str, env: dict[str, str], log: Path,
            concurrency: int = 1) -> subprocess.Popen[bytes]:
    """A worker in namespaces of its own: its own PID 1 and its own host name."""
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    # one target at a time: killed, a worker takes down exactly the target the test chose (a
    # second one mid-upgrade would be `interrupted`, rightly left for a person's word)
    inner = (f"hostname {shlex.quote(name)} && exec {shlex.quote(sys.executable)} -m cockpit "
             f"fleet worker --queue cockpit --concurrency {concurrency} --visibility-timeout 8s")
    return subprocess.Popen(["unshare", *user, "--pid", "--fork", "--uts", "--mount-proc",
                             "sh", "-c", inner], env=env, stdout=open(log, "wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _up(workers: dict[str, subprocess.Popen[bytes]], logs: Path) -> bool:
    """True while every worker runs; one that ended fails the test at once, with its log
    (rather than a wait for targets that nobody takes)."""
    for name, proc in workers.items():
        if proc.poll() is not None:
            said = (logs / f"{name}.log").read_text(errors="replace")[-3000:]
            raise AssertionError(f"worker {name} ended (exit {proc.returncode}):\n{said}")
    return True


def _stop(run: subprocess.Popen[str] | None) -> None:
    """The fleet's process, if a failed test left it waiting."""
    if run is not None and run.poll() is None:
        run.kill()
        run.wait(10)


def _run_fleet(world: FleetWorld, fleet: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return start_cockpit("fleet", "run", "--headless", str(world.runbook), "--targets",
                         str(world.targets), "--answers", str(world.answers), "--folder",
                         str(fleet), env=env, stdout=subprocess.PIPE)


def _namespace_init(unshare: subprocess.Popen[bytes]) -> psutil.Process:
    """The worker's namespace's PID 1, as this host sees it: killing it ends the namespace."""
    children = psutil.Process(unshare.pid).children()
    assert len(children) == 1
    return children[0]


def test_a_lost_worker_s_target_is_taken_over_by_the_other_and_ends_pass(
        server: Server, broker: str, tmp_path: Path) -> None:
    world = build_world(tmp_path / "world", server, count=5, after=" && sleep 4",
                        waves='[[waves]]\nname = "all"\nrest = true\n',
                        fleet='parallel = 4\ndispatch = "celery"\nvisibility_timeout = "8s"\n'
                              'lease = "4s"')
    env = {**world.env(), "COCKPIT_BROKER_URL": broker, "PYTHONUNBUFFERED": "1"}
    workers = {name: _worker(name, env, tmp_path / f"{name}.log")
               for name in ("worker-a", "worker-b")}
    fleet = tmp_path / "fleet"
    run = None
    try:
        run = _run_fleet(world, fleet, env)

        def on_a_in_its_last_step() -> str | None:
            for session in sorted((fleet / "targets").glob("*")):
                holder = session / "holder.json"
                try:
                    held = json.loads(holder.read_text()).get("host")
                    started = [e["data"]["step"] for e in session_events(session)
                               if e["type"] == "step_started"]
                except (OSError, ValueError):
                    continue
                # its last step running for real: its command has printed (then it sleeps)
                log = session / "steps" / "after.1.log"
                if held == "worker-a" and started == ["before", "upgrade", "after"] and \
                        log.exists() and log.stat().st_size > 0:
                    return session.name
            return None

        wait_until(lambda: _up(workers, tmp_path) and on_a_in_its_last_step(),
                   "a target of worker-a in its last step", 300, 0.1)
        lost = on_a_in_its_last_step()
        assert lost is not None
        seen = json.loads(cockpit("fleet", "status", "--json", str(fleet)).stdout)
        assert seen["targets"][lost]["held_on"] == "worker-a"  # where it runs, said
        os.kill(_namespace_init(workers["worker-a"]).pid, signal.SIGKILL)
        out, _ = run.communicate(timeout=600)
        assert run.returncode == 0, out
    finally:
        _stop(run)
        for proc in workers.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
    events = ledger(fleet)
    assert of_type(events, "fleet_ended")[0] == {"status": "PASS", "outcomes": {"PASS": 5}}
    mine = session_events(fleet / "targets" / lost)
    kinds = [e["type"] for e in mine]
    assert "lock_taken_over" in kinds
    taken = next(e for e in mine if e["type"] == "lock_taken_over")
    assert taken["actor"]["host"] == "worker-b" and taken["data"]["previous"]["host"] == "worker-a"
    starts = [e["data"]["step"] for e in mine if e["type"] == "step_started"]
    assert starts.count("upgrade") == 1  # the changing step ran once, on worker-a
    assert [e["data"]["step"] for e in mine if e["type"] == "step_interrupted"] == ["after"]
    assert starts == ["before", "upgrade", "after", "after"]  # the read-only one again
    checked = cockpit("verify", str(fleet))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert all(world.version(f"tenant_{n}") == "r2" for n in world.names)
    said = (tmp_path / "worker-b.log").read_text(errors="replace")
    assert f"target {lost} of fleet {fleet} (redelivered)" in said  # the worker's own log
    # the take-over said (and, when the fleet looked in the moment between the lease's
    # expiry and worker-b's taking, the loss before it)
    assert f"{lost}: now running on worker-b (taken over from worker-a)" in out, out
    assert "sent again" not in out  # the broker kept every message: nothing sent twice
    status = cockpit("fleet", "status", str(fleet)).stdout
    assert "(taken over from worker-a)" in status, status


def test_a_broker_outage_neither_stops_the_fleet_nor_loses_a_target(
        server: Server, tmp_path: Path) -> None:
    """Redis goes away mid-run and comes back empty (nothing kept on disk): the fleet says
    so and goes on; the targets that ended meanwhile are read from the workers' end files
    (their results were lost with the broker); the one whose message was lost with it —
    queued, no worker had it — is sent again once it showed no sign of life for the
    visibility timeout and the lease, and ends PASS, run once."""
    port = free_port()
    redis_server = _redis(port, tmp_path)
    world = build_world(tmp_path / "world", server, count=4, after=" && sleep 4",
                        waves='[[waves]]\nname = "all"\nrest = true\n',
                        fleet='parallel = 4\ndispatch = "celery"\nvisibility_timeout = "8s"\n'
                              'lease = "4s"')
    env = {**world.env(), "COCKPIT_BROKER_URL": f"redis://127.0.0.1:{port}/0",
           "PYTHONUNBUFFERED": "1"}
    worker = _worker("worker-a", env, tmp_path / "worker-a.log", concurrency=3)
    fleet = tmp_path / "fleet"
    run = None
    try:
        run = _run_fleet(world, fleet, env)

        def in_last_step() -> list[str]:
            return [s.name for s in sorted((fleet / "targets").glob("*"))
                    if (s / "steps" / "after.1.log").exists()]

        wait_until(lambda: _up({"worker-a": worker}, tmp_path) and len(in_last_step()) == 3,
                   "three targets in their last step", 300, 0.1)
        queued = sorted(set(world.names) - set(in_last_step()))
        assert len(queued) == 1 and not (fleet / "targets" / queued[0] / "events.jsonl").exists()
        redis_server.terminate()  # its queue (the fourth target's message) and results: gone
        redis_server.wait(10)
        wait_until(lambda: len(list((fleet / "console").glob("*.end.json"))) == 3,
                   "the three running targets to end while the broker is away", 120, 0.2)
        assert run.poll() is None  # the fleet is still there
        redis_server = _redis(port, tmp_path)
        out, _ = run.communicate(timeout=300)
        assert run.returncode == 0, out
    finally:
        _stop(run)
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
        redis_server.terminate()
        redis_server.wait(10)
    text = out
    assert "the Celery broker cannot be reached (" in text and "answers again" in text
    silent = re.search(rf"{queued[0]}: no sign of life for (\d+) s", text)
    assert silent is not None and int(silent.group(1)) >= 8 + 4, text  # visibility + lease
    events = ledger(fleet)
    assert of_type(events, "fleet_ended")[0] == {"status": "PASS", "outcomes": {"PASS": 4}}
    sent = [e["target"] for e in of_type(events, "target_dispatched")]
    assert sorted(sent) == sorted([*world.names, queued[0]])  # the lost one sent twice
    for name in world.names:
        mine = session_events(fleet / "targets" / name)
        starts = [e["data"]["step"] for e in mine if e["type"] == "step_started"]
        assert starts == ["before", "upgrade", "after"], (name, starts)
    checked = cockpit("verify", str(fleet))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert all(world.version(f"tenant_{n}") == "r2" for n in world.names)
