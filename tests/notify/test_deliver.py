"""Notifications sent by the real `cockpit`, headless, to local servers: every chosen moment
to each destination once; a destination that refuses or fails slows nothing and is retried;
a kill before or after a send loses no message; the webhook's token is written nowhere."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from cockpit.session.store import read_event_log
from tests.engine.helpers import cockpit
from tests.engine.secret_encodings import telltales
from tests.notify.payload_checks import check_slack, check_teams
from tests.notify.servers import Behaviour, refused_port, webhook
from tests.notify.worlds import TOKEN, notify_table, notify_world, url
from tests.run import start_cockpit
from tests.session.test_errorline import ALEMBIC_FAILURE
from tests.waiting import wait_until

FAST = {"first_delay": "100ms", "cap": "300ms"}


def events(session: Path) -> list[Any]:
    return read_event_log(session / "events.jsonl").events


def notices(session: Path) -> list[dict[str, Any]]:
    return [dict(e.data) for e in events(session) if e.type == "notice_sent"]


def moment_ids(session: Path, kinds: set[str]) -> set[str]:
    """The ids of the moments of `kinds`, from the session's events."""
    from cockpit.session.moments import all_moments
    from cockpit.session.reader import session_runbook

    found = all_moments(session_runbook(session), events(session))
    return {m.id for m in found if m.kind in kinds}


def received_ids(seen: Behaviour, kind: str) -> Counter[str]:
    """Message ids the server was sent on `kind`'s path."""
    ids: Counter[str] = Counter()
    for got in seen.received:
        if got.path.split("/")[1] != kind:
            continue
        data = got.json()
        if kind == "slack":
            check_slack(data)
            ids[next(f["text"].split("\n")[1] for b in data["blocks"]
                     for f in b.get("fields", []) if f["text"].startswith("*Message id*"))] += 1
        elif kind == "teams":
            card = check_teams(data)
            ids[next(f["value"] for b in card["body"] if b["type"] == "FactSet"
                     for f in b["facts"] if f["title"] == "Message id")] += 1
        else:
            ids[data["id"]] += 1
    return ids


def destinations(base: str) -> tuple[list[str], dict[str, str]]:
    tables = [notify_table("hook", "webhook", url_env="HOOK_URL", **FAST),
              notify_table("slack", "slack", url_env="SLACK_URL", **FAST),
              notify_table("teams", "teams", url_env="TEAMS_URL", **FAST,
                           moments=["halted", "decision"]),
              # one message at a time: a second run of the command meanwhile is recorded
              notify_table("script", "command", command="mkdir told.busy || echo x >> "
                           "told.overlap; cat >> told.jsonl; sleep 0.2; echo >> told.jsonl; "
                           "env > told-env.txt; rmdir told.busy")]
    env = {"HOOK_URL": url(base, "hook"), "SLACK_URL": url(base, "slack"),
           "TEAMS_URL": url(base, "teams")}
    return tables, env


def test_every_chosen_moment_reaches_each_destination_once(tmp_path: Path) -> None:
    with webhook() as (base, seen):
        tables, env = destinations(base)
        runbook = notify_world(tmp_path, tables, second=[("leak", "env; echo done")])
        session = tmp_path / "s"
        done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                       str(session), env={**env, "PGPASSWORD": "pg-s3cret-pw"})
        assert done.returncode == 0, done.stdout + done.stderr
    every = moment_ids(session, {"gates", "phase", "decision"})
    assert len(every) == 6  # GO, two phases started and finished, the decision
    for kind in ("hook", "slack"):
        assert received_ids(seen, kind) == Counter(every), kind
    assert received_ids(seen, "teams") == Counter(moment_ids(session, {"decision"}))
    assert not (runbook.parent / "told.overlap").exists()  # never two at once, in order
    told = [json.loads(line) for line in
            (runbook.parent / "told.jsonl").read_text().splitlines() if line.strip()]
    assert Counter(t["id"] for t in told) == Counter(every)
    assert [t["seq"] for t in told] == sorted(t["seq"] for t in told)
    assert {t["session"] for t in told} == {"s"} and {t["runbook"] for t in told} == {
        "shell-rehearsal"}
    decision = next(t for t in told if t["moment"] == "decision")
    decided = next(e for e in events(session) if e.type == "decision_recorded").data
    assert decision["facts"]["decision record (JSON) sha256"] == decided["json_sha256"]
    assert decision["facts"]["manifest sha256"] == decided["files"]["evidence/manifest.json"]
    assert decision["evidence"] == str(session)
    assert all(datetime.fromisoformat(t["time"].replace("Z", "+00:00")) for t in told)
    # every attempt an event; all delivered, so `verify` expects those after the decision
    assert {n["outcome"] for n in notices(session)} == {"delivered"}
    assert cockpit("verify", str(session)).returncode == 0
    # the command saw no secret: no DSN variable, no PGPASSWORD, no webhook URL
    command_env = (runbook.parent / "told-env.txt").read_text()
    for name in ("HOOK_URL=", "SLACK_URL=", "TEAMS_URL=", "PGPASSWORD="):
        assert name not in command_env
    assert "pg-s3cret-pw" not in command_env
    # nor did the step that printed its environment
    leak = (session / "steps" / "leak.1.log").read_text()
    assert "HOOK_URL" not in leak and TOKEN not in leak


def _telltales() -> dict[str, bytes]:
    return telltales(TOKEN)


def test_the_token_is_written_and_shown_nowhere(tmp_path: Path) -> None:
    """A destination that fails twice first, and a step that prints the variable: the
    token is in no file of the session, no log, no output, no mirror, in no encoding."""
    marks = _telltales()
    with webhook(Behaviour(fail_first=2)) as (base, _seen):
        tables, env = destinations(base)
        runbook = notify_world(tmp_path, tables, steps=[
            ("hello", "echo HOOK is $HOOK_URL; env | grep -c _URL= || true")])
        session = tmp_path / "s"
        done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                       str(session), env=env, text=False)
        assert done.returncode == 0, done.stdout + done.stderr
    shown = {"stdout": done.stdout, "stderr": done.stderr,
             "mirror": cockpit("mirror", str(session), "--plain", text=False).stdout,
             "status": cockpit("status", str(session), "--json", text=False).stdout,
             "report": cockpit("report", str(session), text=False).stdout}
    for path in [*session.rglob("*"), *(runbook.parent / "logs").rglob("*")]:
        if path.is_file():
            shown[str(path)] = path.read_bytes()
    # the step was not given the variable at all
    assert (session / "steps" / "hello.1.log").read_bytes() == b"HOOK is\n0\n"
    for where, data in shown.items():
        for form, mark in marks.items():
            assert mark not in data, f"{form} of the token in {where}"
    assert len([n for n in notices(session) if n["outcome"] == "failed"]) >= 2


def _step_times(session: Path) -> dict[str, float]:
    started = {e.data["step"]: e.ts for e in events(session) if e.type == "step_started"}
    return {e.data["step"]: (_at(e.data["ended_at"]) - _at(started[e.data["step"]]))
            for e in events(session) if e.type == "step_finished"}


def _at(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _wall(session: Path) -> float:
    seen = events(session)
    decided = next(e for e in seen if e.type == "decision_recorded")
    return _at(decided.ts) - _at(seen[0].ts)


def test_a_failing_destination_slows_nothing(tmp_path: Path) -> None:
    """The same runbook three times: no notifications, a destination refusing connections,
    one answering 500 to its first 5 attempts. The run's time is within 5 % or 1 s of the
    first, no step is slower by more than 200 ms, every failure is an event, and the 500s'
    messages are delivered once it answers."""
    steps = [("one", "sleep 0.4; echo one"), ("two", "sleep 0.4; echo two")]
    runs: dict[str, Path] = {}
    with webhook(Behaviour(fail_first=5)) as (base, seen):
        for name, tables, env in (
                ("none", [], {}),
                ("refused", [notify_table("down", "webhook", url_env="HOOK_URL", **FAST)],
                 {"HOOK_URL": f"http://127.0.0.1:{refused_port()}/hook/{TOKEN}"}),
                ("500", [notify_table("flaky", "webhook", url_env="HOOK_URL", **FAST,
                                      attempts=10)],
                 {"HOOK_URL": url(base, "hook")})):
            runbook = notify_world(tmp_path / name, tables, steps=steps)
            runs[name] = tmp_path / name / "s"
            done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                           str(runs[name]), env=env)
            assert done.returncode == 0, done.stdout + done.stderr
    base_wall, base_steps = _wall(runs["none"]), _step_times(runs["none"])
    for name in ("refused", "500"):
        wall = _wall(runs[name])
        assert wall <= max(base_wall * 1.05, base_wall + 1.0), (name, wall, base_wall)
        for step, seconds in _step_times(runs[name]).items():
            assert seconds <= base_steps[step] + 0.2, (name, step, seconds, base_steps)
    refused = notices(runs["refused"])
    assert refused and all(n["outcome"] != "delivered" for n in refused)
    assert any("Connection refused" in (n.get("detail") or "") for n in refused)
    status = cockpit("status", str(runs["refused"])).stdout
    assert "NOTIFY" in status and "undelivered" in status
    flaky = notices(runs["500"])
    assert sum(n["outcome"] == "failed" and n["status"] == 500 for n in flaky) == 5
    expected = moment_ids(runs["500"], {"gates", "phase", "decision"})
    assert {n["message"] for n in flaky if n["outcome"] == "delivered"} == expected
    assert received_ids(seen, "hook").keys() == expected


def test_retry_after_is_honoured(tmp_path: Path) -> None:
    """Slack's 429 with Retry-After: 1 — the next attempt waits that second, not the
    destination's 100 ms."""
    with webhook(Behaviour(fail_first=1, fail_status=429, retry_after="1")) as (base, seen):
        runbook = notify_world(tmp_path, [notify_table(
            "slack", "slack", url_env="SLACK_URL", moments=["decision"], **FAST)])
        session = tmp_path / "s"
        done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                       str(session), env={"SLACK_URL": url(base, "slack")})
        assert done.returncode == 0, done.stdout + done.stderr
    sent = [e for e in events(session) if e.type == "notice_sent"]
    assert [e.data["outcome"] for e in sent] == ["failed", "delivered"]
    assert sent[0].data["status"] == 429 and sent[0].data["retry_in"] == 1.0
    assert _at(sent[1].ts) - _at(sent[0].ts) >= 0.95
    assert len(seen.received) == 2


def test_the_halt_names_its_cause_first(tmp_path: Path) -> None:
    with webhook() as (base, seen):
        runbook = notify_world(tmp_path, [notify_table(
            "hook", "webhook", url_env="HOOK_URL", moments=["halted"], **FAST)], steps=[
            ("boom", "echo 'ERROR: relation \"t\" already exists DuplicateTable'; sleep 5")],
            extra='  { kind = "abort_watch", id = "watch", text = "Abort on any of:", '
                  'rules = ["duplicate-table"] },')
        session = tmp_path / "s"
        done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                       str(session), env={"HOOK_URL": url(base, "hook")})
        assert done.returncode == 2, done.stdout + done.stderr
    [halted] = [r.json() for r in seen.received]
    assert halted["moment"] == "halted"
    assert halted["title"] == ('HALTED at step boom by rule duplicate-table: ERROR: relation '
                               '"t" already exists DuplicateTable')
    assert halted["lines"] == ["abort rule 'duplicate-table' matched in step boom"]


def test_a_failed_step_is_told_by_its_error_line_not_its_last(tmp_path: Path) -> None:
    """No abort rule matched: the halt's first line is the database's error, which an
    Alembic failure prints a few lines before its end; the decision's errors say it too."""
    script = tmp_path / "fail.txt"
    script.write_text(ALEMBIC_FAILURE)
    with webhook() as (base, seen):
        runbook = notify_world(tmp_path, [notify_table(
            "hook", "webhook", url_env="HOOK_URL", moments=["halted"], **FAST)], steps=[
            ("upgrade", f"cat {script}; exit 1")])
        session = tmp_path / "s"
        done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                       str(session), env={"HOOK_URL": url(base, "hook")})
        assert done.returncode == 2, done.stdout + done.stderr
    [halted] = [r.json() for r in seen.received]
    cause = "sqlalchemy.exc.DataError: (psycopg.errors.DivisionByZero) division by zero"
    assert halted["title"] == f"HALTED at step upgrade: {cause}"
    assert halted["lines"] == ["step upgrade failed: exit status 1, expected 0"]
    decision = json.loads((session / "evidence" / "decision.json").read_text())
    assert f"upgrade: exited 1 — {cause}" in json.dumps(decision, ensure_ascii=False)


def test_an_unset_url_refuses_the_run(tmp_path: Path) -> None:
    runbook = notify_world(tmp_path, [notify_table("hook", "webhook", url_env="HOOK_URL")])
    env = {k: v for k, v in os.environ.items() if k != "HOOK_URL"}
    done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                   str(tmp_path / "s"), env=env, inherit=False)
    assert done.returncode == 1
    assert "notify destination 'hook': $HOOK_URL is not set" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "s").exists()


def test_notify_test_says_each_answer(tmp_path: Path) -> None:
    with webhook() as (base, seen):
        runbook = notify_world(tmp_path, [
            notify_table("hook", "webhook", url_env="HOOK_URL"),
            notify_table("down", "slack", url_env="DOWN_URL", timeout="2s")])
        env = {"HOOK_URL": url(base, "hook"),
               "DOWN_URL": f"http://127.0.0.1:{refused_port()}/slack/{TOKEN}"}
        done = cockpit("notify-test", str(runbook), env=env)
        only = cockpit("notify-test", str(runbook), "--destination", "hook", env=env)
        tables = tmp_path / "notify.toml"  # a `demo --notify` file, tried on its own
        tables.write_text(notify_table("hook", "webhook", url_env="HOOK_URL"))
        alone = cockpit("notify-test", str(tables), env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "hook (webhook): delivered — HTTP 200 ok" in done.stdout
    assert "down (slack): NOT DELIVERED — not reached: Connection refused" in done.stdout
    assert TOKEN not in done.stdout + done.stderr
    assert only.returncode == 0 and "down" not in only.stdout
    assert alone.returncode == 0 and "hook (webhook): delivered" in alone.stdout
    assert [r.json()["moment"] for r in seen.received] == ["test"] * 3


def _blackhole() -> tuple[socket.socket, int]:
    """A port that takes connections and never reads them: a send there never arrives."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock, int(sock.getsockname()[1])


def _run_until_sent(tmp_path: Path, hook_url: str) -> tuple[Path, Any]:
    runbook = notify_world(tmp_path, [notify_table(
        "hook", "webhook", url_env="HOOK_URL", moments=["phase"], timeout="60s", **FAST)],
        second=[("wait", "sleep 1; echo waited")])
    session = tmp_path / "s"
    proc = start_cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                         str(session), env={"HOOK_URL": hook_url},
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return session, proc


def _resume(session: Path, hook_url: str) -> None:
    done = cockpit("resume", str(session), "--headless", "--assume-yes", "--take-over",
                   env={"HOOK_URL": hook_url})
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_kill_before_the_send_loses_nothing(tmp_path: Path) -> None:
    hole, port = _blackhole()
    try:
        session, proc = _run_until_sent(tmp_path, f"http://127.0.0.1:{port}/hook/{TOKEN}")
        # the first phase's start is recorded, and its attempt has reached no one
        wait_until(lambda: (session / "steps" / "hello.1.log").exists(),
                   "the first step's supervisor to run it")
        proc.kill()
        proc.wait()
    finally:
        hole.close()
    assert not notices(session)
    with webhook() as (base, seen):
        _resume(session, url(base, "hook"))
    expected = moment_ids(session, {"phase"})
    assert len(expected) == 4 and received_ids(seen, "hook") == Counter(expected)


def test_a_kill_after_the_send_sends_it_again_with_its_id(tmp_path: Path) -> None:
    held = threading.Event()
    with webhook(Behaviour(hold=held)) as (base, seen):
        session, proc = _run_until_sent(tmp_path, url(base, "hook"))
        wait_until(lambda: seen.received, "the first message to arrive")
        proc.kill()  # it was sent; its answer, and so its outcome event, never came
        proc.wait()
        first = seen.received[0].json()["id"]
        held.set()
        assert not [n for n in notices(session) if n["message"] == first]
        _resume(session, url(base, "hook"))
    got = received_ids(seen, "hook")
    assert got[first] == 2  # at most twice, with the same id
    assert all(count == 1 for mid, count in got.items() if mid != first)
    assert set(got) == moment_ids(session, {"phase"})
