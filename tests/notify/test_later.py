"""What is not delivered now is delivered later, by the cockpit that next holds the session:
a resume, or `cockpit notify --flush` — never a mirror; a halt recorded while no cockpit
ran is told at the resume that records it."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

from tests.engine.helpers import cockpit
from tests.notify.servers import refused_port, webhook
from tests.notify.test_deliver import FAST, events, moment_ids, notices, received_ids
from tests.notify.worlds import TOKEN, notify_table, notify_world, url
from tests.run import start_cockpit
from tests.waiting import wait_until

WATCH = ('  { kind = "abort_watch", id = "watch", text = "Abort on any of:", '
         'rules = ["duplicate-table"] },')


def test_flush_delivers_what_a_down_destination_missed_and_a_mirror_sends_nothing(
        tmp_path: Path) -> None:
    runbook = notify_world(tmp_path, [notify_table("hook", "webhook", url_env="HOOK_URL",
                                                   attempts=2, **FAST)])
    session = tmp_path / "s"
    down = {"HOOK_URL": f"http://127.0.0.1:{refused_port()}/hook/{TOKEN}"}
    done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                   str(session), env=down)
    assert done.returncode == 0, done.stdout + done.stderr
    expected = moment_ids(session, {"gates", "phase", "decision"})
    # the decision first: what the people who wait most need
    assert f"notifications: {len(expected)} notifications undelivered: hook decision " in \
        done.stdout
    assert "(not reached: Connection refused, 2 attempts)" in done.stdout
    assert f"`cockpit notify {session} --flush` sends them" in done.stdout
    listed = cockpit("notify", str(session))
    assert listed.returncode == 2 and f"hook: 0 of {len(expected)} messages delivered" in \
        listed.stdout
    assert "undelivered (6), the most needed first:\n  hook decision " in listed.stdout
    assert "Connection refused" in listed.stdout
    assert "NOTIFY    " in cockpit("status", str(session)).stdout
    with webhook() as (base, seen):
        up = {"HOOK_URL": url(base, "hook")}
        mirrored = cockpit("mirror", str(session), "--plain", env=up)
        assert mirrored.returncode == 0 and not seen.received  # a mirror never sends
        flushed = cockpit("notify", str(session), "--flush", env=up)
        again = cockpit("notify", str(session), "--flush", env=up)
    assert flushed.returncode == 0, flushed.stdout + flushed.stderr
    assert flushed.stdout.count("delivered: hook ") == len(expected)
    assert f"hook: {len(expected)} of {len(expected)} messages delivered" in flushed.stdout
    assert again.returncode == 0 and "delivered: hook" not in again.stdout
    assert received_ids(seen, "hook") == Counter(expected)  # once each: the second sent none
    assert {n["message"] for n in notices(session) if n["outcome"] == "delivered"} == expected
    assert "NOTIFY" not in cockpit("status", str(session)).stdout
    verified = cockpit("verify", str(session))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_halt_while_no_cockpit_ran_is_told_at_the_resume(tmp_path: Path) -> None:
    runbook = notify_world(tmp_path, [notify_table(
        "hook", "webhook", url_env="HOOK_URL", moments=["halted"], **FAST)], steps=[
        ("boom", "sleep 1; echo 'ERROR: DuplicateTable'; sleep 30")], extra=WATCH)
    session = tmp_path / "s"
    with webhook() as (base, seen):
        env = {"HOOK_URL": url(base, "hook")}
        proc = start_cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                             str(session), env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        # its supervisor runs it (it writes the log): a kill now leaves the step going
        wait_until(lambda: (session / "steps" / "boom.1.log").exists(), "the step to start")
        proc.kill()  # the supervisor goes on: its abort rule stops the step, nobody records
        proc.wait()
        wait_until(lambda: (session / "steps" / "boom.1.exit.json").exists(),
                   "the step to be stopped by its abort rule", deadline_s=30)
        assert not any(e.type == "halted" for e in events(session)) and not seen.received
        done = cockpit("resume", str(session), "--headless", "--assume-yes", "--take-over",
                       env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    [halted] = [r.json() for r in seen.received]
    assert halted["moment"] == "halted" and "duplicate-table" in halted["title"]
    assert {halted["id"]} == moment_ids(session, {"halted"})


def test_a_demo_notify_file_with_a_mistake_is_refused_before_a_world_is_built(
        tmp_path: Path) -> None:
    bad = tmp_path / "notify.toml"
    bad.write_text(notify_table("governance", "slack", moments=["gates"]))
    done = cockpit("demo", "--headless", "--notify", str(bad), "--workspace",
                   str(tmp_path / "w"), "--session", str(tmp_path / "s"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert (f"{bad}: destination 'governance': a `slack` destination needs `url_env`"
            in done.stderr)
    unset = tmp_path / "unset.toml"
    unset.write_text(notify_table("governance", "slack", url_env="NOT_SET_URL"))
    missing = cockpit("demo", "--headless", "--notify", str(unset), "--workspace",
                      str(tmp_path / "w"), "--session", str(tmp_path / "s"))
    assert missing.returncode == 1 and "$NOT_SET_URL is not set" in missing.stderr
    assert not (tmp_path / "w").exists() and not (tmp_path / "s").exists()
    assert "building the rehearsal world" not in done.stderr + missing.stderr
