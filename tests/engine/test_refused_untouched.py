"""Invariant 10 — refused means untouched: a refused or mistyped command changes no file,
starts no process and leaves no session behind; and a step the cockpit died before starting
is recorded as never started (and may start), never silently re-run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.engine import steps as steps_module
from cockpit.engine.controller import Controller
from cockpit.session.runfiles import RunFiles
from tests.conftest import REPO
from tests.engine.helpers import ORDINARY, ordinary_world, phase, ran, write_world
from tests.run import cockpit, start_cockpit
from tests.waiting import finish_running


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize(("args", "code", "says"), [
    (["--assume-yes"], 3, "targets production: --assume-yes is refused"),
    (["--answers", "missing.toml"], 1, "no such answers file"),
    (["--answers", "typo.toml"], 1, "answers [gates] names 'signof', which is not an item"),
    (["--answers", "bad-decision.toml"], 1, "names 'root_couse', which is not a decision"),
], ids=["assume-yes-on-production", "missing-answers", "typo-in-answers", "typo-decision"])
def test_a_refused_headless_run_leaves_no_session_and_touches_nothing(
        tmp_path: Path, args: list[str], code: int, says: str) -> None:
    runbook = write_world(tmp_path, [phase("P0", ORDINARY, confirm="go")], production=True)
    (tmp_path / "typo.toml").write_text('[gates]\nsignof = "GOV-1"\n')
    (tmp_path / "bad-decision.toml").write_text('[decision]\nroot_couse = "x"\n')
    before = _tree(tmp_path)
    done = cockpit("run", str(runbook), "--headless", *args, "--session",
                   str(tmp_path / "s"), cwd=tmp_path)
    assert done.returncode == code, done.stdout + done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr
    assert "session:" not in done.stdout
    assert _tree(tmp_path) == before and not (tmp_path / "s").exists()
    assert not (tmp_path / "sessions").exists()


def test_a_headless_run_that_would_stop_halfway_for_an_answer_is_refused_up_front(
        tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", ORDINARY, read_only=True)], production=True)
    runbook.write_text(runbook.read_text().replace(
        'log = "logs/count.log", read_only = true }', 'log = "logs/count.log", confirm = "GO" }'))
    answers = tmp_path / "answers.toml"
    answers.write_text('[gates]\nsignoff = "GOV-1"\n')
    before = _tree(tmp_path)
    done = cockpit("run", str(runbook), "--headless", "--answers", str(answers),
                   "--session", str(tmp_path / "s"), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert 'lack what the run will ask' in done.stderr and '[confirm] count = "GO"' in done.stderr
    assert _tree(tmp_path) == before and ran(runbook.parent) == []
    answers.write_text('[gates]\nsignoff = "GOV-1"\n[confirm]\ncount = "GO"\n')
    done = cockpit("run", str(runbook), "--headless", "--answers", str(answers),
                   "--session", str(tmp_path / "s"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr


def test_resume_refused_for_a_changed_runbook_leaves_the_lock_file_as_it_was(
        tmp_path: Path) -> None:
    runbook = ordinary_world(tmp_path)
    (runbook.parent / "freeze.log").unlink()
    session = tmp_path / "s"
    assert cockpit("run", str(runbook), "--headless", "--assume-yes",
                   "--session", str(session)).returncode == 3  # gates open: it stays
    runbook.write_text(runbook.read_text().replace("Sign-off received", "Sign-off got"))
    before = _tree(session)
    done = cockpit("resume", str(session), "--headless", "--assume-yes", "--take-over")
    assert done.returncode == 3 and "changed since the session started" in done.stderr
    assert _tree(session) == before


def test_a_step_the_cockpit_died_before_starting_is_recorded_and_may_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runbook = ordinary_world(tmp_path)
    ctl = Controller.start(runbook, folder=tmp_path / "s", env=dict(os.environ))
    ctl.attest_gate("signoff", "GOV-1")
    assert ctl.evaluate_gates() == []

    def die(*_: object) -> None:  # the cockpit killed between step_started and the launch
        raise KeyboardInterrupt

    monkeypatch.setattr(steps_module, "launch", die)
    with pytest.raises(KeyboardInterrupt):
        ctl.run_step("hello")
    ctl.lock.release()
    monkeypatch.undo()
    resumed = Controller.resume(tmp_path / "s", env=dict(os.environ))
    kinds = [e.type for e in resumed.store.events]
    assert kinds[-1] == "step_not_started" and "nothing ran" in resumed.store.events[-1].data[
        "detail"]
    assert resumed.state.steps["hello"].status == "pending"
    assert ran(runbook.parent) == []
    run = resumed.run_step("hello")
    assert run == "hello.2"
    finish_running(resumed)
    assert resumed.state.steps["hello"].status == "passed"
    assert ran(runbook.parent) == ["hello"]  # once: the first run never started
    # A supervisor that turns up late for the voided run starts nothing.
    late = steps_module.RunFiles(tmp_path / "s" / "steps", "hello.1")
    assert (tmp_path / "s" / "steps" / "hello.1.claim").read_text().startswith('{"void"')
    proc = steps_module.launch(late, dict(os.environ), [])
    assert proc.wait(30) == 3 and late.exit_record() is None
    assert ran(runbook.parent) == ["hello"]
    resumed.close()


def test_no_dsn_and_no_terminal_is_one_clear_line_and_no_session(tmp_path: Path) -> None:
    runbook = REPO / "runbooks" / "demo-cutover.toml"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PG_DSN")}
    done = cockpit("run", str(runbook), "--headless", "--answers",
                   str(REPO / "runbooks" / "demo-answers.toml"), cwd=tmp_path, env=env,
                   stdin=subprocess.DEVNULL, timeout=60, inherit=False)
    assert done.returncode == 1
    assert done.stderr.strip().endswith("export them (password included) before running "
                                        "without a screen")
    assert "DATABASE_URL, PG_DSN not set" in done.stderr
    assert "Traceback" not in done.stderr and "EOFError" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_resume_from_another_folder_by_another_spelling_finds_the_running_step(
        tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", [("slow", "sleep 3; echo slow >> ran.txt"),
                                                   ("after", "echo after >> ran.txt")])])
    proc = start_cockpit("run", str(runbook), "--headless", "--assume-yes", "--session", "s",
                         cwd=tmp_path, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "step_started step=slow" in line:
            break
    proc.kill()
    proc.wait()
    elsewhere = tmp_path / "elsewhere" / "deeper"
    elsewhere.mkdir(parents=True)
    done = cockpit("resume", "../../s", "--headless", "--assume-yes", "--take-over", cwd=elsewhere)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "step_interrupted" not in done.stdout  # re-attached, and recorded when it ended
    assert ran(runbook.parent) == ["slow", "after"]


def test_a_supervisor_that_refuses_to_start_the_step_is_recorded_with_its_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A supervisor that ends before it claims the run (on Windows: no job for the step's
    processes) leaves the step pending, and the event says why, from its stderr."""
    runbook = ordinary_world(tmp_path)
    ctl = Controller.start(runbook, folder=tmp_path / "s", env=dict(os.environ))
    ctl.attest_gate("signoff", "GOV-1")
    assert ctl.evaluate_gates() == []
    reason = "nothing was run: the step's processes could not be put in a job (denied)"

    def refusing(files: RunFiles, *_: object) -> subprocess.Popen[bytes]:
        with open(files.err, "ab") as err:
            return subprocess.Popen([sys.executable, "-c", "import sys; sys.stderr.write("
                                     f"{reason!r} + chr(10)); sys.exit(4)"], stderr=err)

    monkeypatch.setattr(steps_module, "launch", refusing)
    ctl.run_step("hello")
    finish_running(ctl)
    last = ctl.store.events[-1]
    assert last.type == "step_not_started"
    assert last.data["detail"].endswith(f"(status 4) before it started the command; nothing "
                                        f"ran, so it may be started again: {reason}")
    assert ctl.state.steps["hello"].status == "pending" and ran(runbook.parent) == []
    ctl.lock.release()
