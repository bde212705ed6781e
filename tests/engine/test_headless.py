"""Headless runs of ordinary shell commands end to end: PASS, BLOCKER, abort, refusals."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

from tests.engine.helpers import (
    HOSTILE_SHOWN,
    ORDINARY,
    assert_inert,
    cockpit,
    ordinary_world,
    phase,
    ran,
    run_hostile,
    write_world,
)


def _session(stdout: str) -> Path:
    first = stdout.splitlines()[0]
    assert first.startswith("session: ")
    return Path(first.removeprefix("session: "))


def test_ordinary_commands_run_to_pass(tmp_path: Path) -> None:
    runbook = ordinary_world(tmp_path)
    result = cockpit("run", str(runbook), "--headless", "--assume-yes",
                     "--session", str(tmp_path / "s"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[count] tick 3" in result.stdout and "DECISION: PASS" in result.stdout
    assert ran(runbook.parent) == ["hello", "count", "last"]
    status = json.loads(cockpit("status", str(tmp_path / "s"), "--json").stdout)
    assert status["derived"]["decision"] == "PASS"
    assert cockpit("verify", str(tmp_path / "s")).returncode == 0
    decision = json.loads((tmp_path / "s" / "evidence" / "decision.json").read_text())
    assert decision["fields"]["status"] == "PASS"


def test_output_lines_print_in_order_before_the_step_ends(tmp_path: Path) -> None:
    runbook = ordinary_world(tmp_path)
    out = cockpit("run", str(runbook), "--headless", "--assume-yes", cwd=tmp_path).stdout.splitlines()
    ticks = [i for i, line in enumerate(out) if line.startswith("[count] tick")]
    finished = next(i for i, line in enumerate(out) if "step_finished step=count" in line)
    assert ticks == sorted(ticks) and len(ticks) == 3 and max(ticks) < finished


def test_failing_step_ends_blocker_and_nothing_after_it_runs(tmp_path: Path) -> None:
    steps = [ORDINARY[0], ("boom", "echo boom >> ran.txt; exit 3"), ORDINARY[2]]
    runbook = ordinary_world(tmp_path, steps)
    result = cockpit("run", str(runbook), "--headless", "--assume-yes",
                     "--session", str(tmp_path / "s"))
    assert result.returncode == 2, result.stdout
    assert ran(runbook.parent) == ["hello", "boom"]
    decision = json.loads((tmp_path / "s" / "evidence" / "decision.json").read_text())
    assert decision["fields"]["status"] == "BLOCKER"
    assert "boom: exited 3" in decision["fields"]["errors"]
    assert decision["fields"]["root_cause"]


WATCH = '  { kind = "abort_watch", id = "watch", text = "Abort on any of:", rules = ["duplicate-table"] },'


def test_abort_pattern_halts_within_a_second(tmp_path: Path) -> None:
    # The child stamps the line with the time it printed it. One process, which the shell
    # runs by exec: a shell that forks `sleep` can lose a SIGINT landing between its fork
    # and exec (then the SIGTERM a grace period later stops it), and this test times SIGINT.
    slow_child = ("exec python3 -c 'import time; print(\"start\", flush=True); time.sleep(0.2); "
                  "print(f\"{time.time():.6f} psycopg.errors.DuplicateTable: relation x already "
                  "exists\", flush=True); time.sleep(30); open(\"ran.txt\", \"a\").write("
                  "\"survived\")'")
    runbook = write_world(tmp_path, [phase("P0", [("upgrade", slow_child), *ORDINARY[2:]],
                                           WATCH)])
    started = time.monotonic()
    result = cockpit("run", str(runbook), "--headless", "--assume-yes",
                     "--session", str(tmp_path / "s"))
    assert result.returncode == 2, result.stdout
    assert time.monotonic() - started < 10  # the 30 s sleep was cut short
    record = json.loads((tmp_path / "s" / "steps" / "upgrade.1.exit.json").read_text())
    assert record["abort"]["rule"] == "duplicate-table"
    printed_at = float(record["abort"]["line"].split()[0])
    assert _utc(record["abort"]["at"]) - printed_at < 1.0
    assert _utc(record["ended_at"]) - printed_at < 1.5  # SIGINT stopped the child at once
    assert ran(runbook.parent) == []  # neither the rest of the step nor a later step ran
    events = [json.loads(line) for line in
              (tmp_path / "s" / "events.jsonl").read_text().splitlines()]
    halted = next(e for e in events if e["type"] == "halted")
    assert halted["data"]["by"] == "abort_rule" and "already exists" in halted["data"]["line"]
    assert [e["type"] for e in events].count("step_started") == 1
    # Resuming the halted session runs nothing either.
    again = cockpit("resume", str(tmp_path / "s"), "--headless", "--assume-yes")
    assert again.returncode == 2, again.stdout + again.stderr
    assert ran(runbook.parent) == []


def _utc(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_production_runbook_refuses_assume_yes(tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", ORDINARY, confirm="go")], production=True)
    result = cockpit("run", str(runbook), "--headless", "--assume-yes", cwd=tmp_path)
    assert result.returncode == 3
    assert "production: --assume-yes is refused" in result.stderr
    assert ran(runbook.parent) == []


def test_open_gate_is_no_go_and_runs_nothing(tmp_path: Path) -> None:
    runbook = ordinary_world(tmp_path)
    (runbook.parent / "freeze.log").unlink()
    result = cockpit("run", str(runbook), "--headless", "--assume-yes", cwd=tmp_path)
    assert result.returncode == 3
    assert "NO-GO" in result.stdout and "gate freeze" in result.stdout
    assert ran(runbook.parent) == []


def test_answers_file_drives_a_production_runbook(tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", ORDINARY, confirm="go")], production=True)
    answers = tmp_path / "answers.toml"
    answers.write_text('[gates]\nsignoff = "GOV-2026-114"\n'
                       '[confirm]\nhello = "go"\ncount = "go"\nlast = "go"\n')
    result = cockpit("run", str(runbook), "--headless", "--answers", str(answers),
                     "--session", str(tmp_path / "s"))
    assert result.returncode == 0, result.stdout + result.stderr
    report = cockpit("report", str(tmp_path / "s")).stdout
    assert "- [x] Sign-off received — passed" in report and "GOV-2026-114" in report


def test_answers_naming_an_unknown_item_is_an_input_error(tmp_path: Path) -> None:
    runbook = ordinary_world(tmp_path)
    answers = tmp_path / "answers.toml"
    answers.write_text('[gates]\nsign-off = "typo"\n')
    result = cockpit("run", str(runbook), "--headless", "--answers", str(answers), cwd=tmp_path)
    assert result.returncode == 1 and "names 'sign-off'" in result.stderr
    assert "Traceback" not in result.stderr


def test_decision_answers_for_one_outcome_never_land_in_the_other(tmp_path: Path) -> None:
    """The answers may say what to record for a PASS and for a BLOCKER: a run that halts
    records the BLOCKER's, never an "authorized" meant for the PASS."""
    runbook = ordinary_world(tmp_path, [("boom", "echo DuplicateTable; exit 1")])
    text = runbook.read_text().replace(
        '{ kind = "field", id = "root_cause"',
        '{ kind = "field", id = "auth", label = "Authorization", role = "authorization" },\n'
        '  { kind = "field", id = "root_cause"')
    runbook.write_text(text)
    answers = tmp_path / "answers.toml"
    answers.write_text('[gates]\nsignoff = "GOV-1"\n[decision]\nerrors = "see log"\n'
                       '[decision.PASS]\nauthorization = "authorized"\n'
                       '[decision.BLOCKER]\nauthorization = "not authorized"\n'
                       'note = "blocked"\n')
    done = cockpit("run", str(runbook), "--headless", "--answers", str(answers),
                   "--session", str(tmp_path / "s"))
    assert done.returncode == 2, done.stdout + done.stderr
    record = json.loads((tmp_path / "s" / "evidence" / "decision.json").read_text())
    assert record["fields"]["status"] == "BLOCKER"
    assert record["fields"]["auth"] == "not authorized"
    answers.write_text('[gates]\nsignoff = "GOV-1"\n[decision.BLOCKER]\nauthorisation = "x"\n')
    typo = cockpit("run", str(runbook), "--headless", "--answers", str(answers),
                   "--session", str(tmp_path / "s2"))
    assert typo.returncode == 1 and "names 'BLOCKER.authorisation'" in typo.stderr
    assert not (tmp_path / "s2").exists()


def test_step_output_escape_sequences_are_inert_in_headless(tmp_path: Path) -> None:
    """Invariant 11: the step's lines, its `last_line=` and the halt's `line=` reach stdout
    as caret text; the log keeps the bytes as printed (run_hostile checks its sha256)."""
    done, _session = run_hostile(tmp_path)
    lines = assert_inert(done.stdout, "headless stdout").splitlines()
    assert [line for line in lines if line.startswith("[hostile] ")] == \
        [f"[hostile] {line}" for line in HOSTILE_SHOWN]
    finished = next(line for line in lines if " step_finished " in line)
    assert f"last_line={HOSTILE_SHOWN[-1]}" in finished
    halted = next(line for line in lines if " halted " in line)
    assert f"line={HOSTILE_SHOWN[-1]}" in halted
