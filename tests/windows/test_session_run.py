"""A whole session on this interpreter: gates with an attestation file, steps streaming under
cmd.exe (sh on Linux) into their logs, a step on PostgreSQL over TLS, the decision, `verify`,
`export`, `status`, `report` and `mirror --plain` of it. One run, many checks: each headless
run costs seconds under Wine."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from pathlib import Path

import pytest

from tests.run import cockpit
from tests.windows.kit import copy_tree, events, py, run, runbook

ACCENTS = "été ✓ Ünïcode"
STEPS = [
    ("hello", py(f"print('hello'); print('{ACCENTS}')")),
    ("count", py("import time; [print('tick', i, flush=True) or time.sleep(0.2) for i in range(3)]")),
    ("database", py("import os, psycopg; c = psycopg.connect(os.environ['COCKPIT_STEP_DSN']); "
                    "print('server', c.info.server_version); print('tls', c.pgconn.ssl_in_use)")),
]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, dsn: str) -> tuple[Path, str]:
    """The session, run to its decision; and what the headless run printed."""
    base = tmp_path_factory.mktemp("run")
    path = runbook(base / "world", STEPS)
    session = base / "session"
    env = {"COCKPIT_STEP_DSN": dsn.replace("postgresql+psycopg://", "postgresql://")}
    done = run(path, session, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return session, done.stdout


def test_the_session_ends_pass_with_the_file_gate_go(finished: tuple[Path, str]) -> None:
    session, printed = finished
    gates = {e["data"]["gate"]: e["data"] for e in events(session)
             if e["type"] == "gate_evaluated"}
    assert gates["freeze"]["ok"] is True, gates["freeze"]
    assert gates["freeze"]["observed"]["size"] == len(b"write freeze in force\n")
    decided = [e["data"] for e in events(session) if e["type"] == "decision_recorded"]
    assert decided[-1]["fields"]["status"] == "PASS", printed


def test_each_log_holds_the_bytes_the_step_printed(finished: tuple[Path, str]) -> None:
    session, _ = finished
    end = os.linesep.encode()  # what print() writes on this system, no more
    log = (session / "steps" / "hello.1.log").read_bytes()
    assert log == b"hello" + end + ACCENTS.encode("utf-8") + end
    assert b"\r\r\n" not in log
    record = json.loads((session / "steps" / "hello.1.exit.json").read_text(encoding="utf-8"))
    assert record["sha256"] == hashlib.sha256(log).hexdigest()
    assert record["exit_code"] == 0


def test_streamed_output_arrives_line_by_line(finished: tuple[Path, str]) -> None:
    session, printed = finished
    log = (session / "steps" / "count.1.log").read_bytes()
    assert log.split() == [b"tick", b"0", b"tick", b"1", b"tick", b"2"]
    assert printed.index("tick 0") < printed.index("tick 2")


def test_a_step_reaches_postgresql(finished: tuple[Path, str], dsn: str) -> None:
    session, _ = finished
    log = (session / "steps" / "database.1.log").read_text(encoding="utf-8")
    assert "server 1" in log, log
    if "sslmode=require" in dsn:
        assert "tls True" in log, log


def test_verify_is_ok(finished: tuple[Path, str]) -> None:
    session, _ = finished
    done = cockpit("verify", str(session))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "MISMATCH" not in done.stdout


def test_verify_catches_a_log_changed_afterwards(finished: tuple[Path, str],
                                                 tmp_path: Path) -> None:
    session, _ = finished
    copy = tmp_path / "copy"
    copy_tree(session, copy, skip=("lock",))
    log = copy / "steps" / "count.1.log"
    log.write_bytes(log.read_bytes().replace(b"tick 1", b"tock 1"))
    done = cockpit("verify", str(copy))
    assert done.returncode != 0 and "count.1.log" in done.stdout + done.stderr


def test_export_gives_the_same_bytes_twice(finished: tuple[Path, str], tmp_path: Path) -> None:
    session, _ = finished
    packs = []
    for name in ("a.tar.gz", "b.tar.gz"):
        done = cockpit("export", str(session), "-o", str(tmp_path / name))
        assert done.returncode == 0, done.stdout + done.stderr
        packs.append((tmp_path / name).read_bytes())
    assert packs[0] == packs[1]
    with tarfile.open(tmp_path / "a.tar.gz") as pack:
        names = pack.getnames()
    assert any(name.endswith("hello.1.log") for name in names), names


def test_status_and_report_name_the_decision(finished: tuple[Path, str]) -> None:
    session, _ = finished
    status = cockpit("status", str(session))
    assert status.returncode == 0 and "PASS" in status.stdout, status.stdout + status.stderr
    report = cockpit("report", str(session))
    assert report.returncode == 0 and "PASS" in report.stdout, report.stderr


def test_the_plain_mirror_replays_the_session(finished: tuple[Path, str]) -> None:
    session, _ = finished
    done = cockpit("mirror", "--plain", "--from-start", str(session), timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tick 2" in done.stdout and "PASS" in done.stdout, done.stdout[-2000:]
    assert ACCENTS in done.stdout
