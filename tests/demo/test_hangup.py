"""A hang-up ends the cockpit cleanly at any moment: `uv run cockpit demo` in a real
pseudo-terminal, driven by keys towards its decision, and the terminal closed (its master
side, as an emulator does) at a chosen moment — while the world is built, while the screen
starts, in a dialog, while a step runs. Each time every process of the terminal's session is
gone within 5 s, no world is left running (one a step still needs is stopped by its watchdog
once the step ends), and the session resumes without --take-over."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from cockpit.resources import bundled_runbook
from cockpit.runbook.loader import load_runbook
from cockpit.runbook.model import CommandStep
from cockpit.session import rules
from cockpit.session.lock import SessionLock, read_lock_info
from cockpit.session.reader import session_at
from cockpit.session.state import SessionState
from tests.conftest import REPO
from tests.demo.conftest import world_processes
from tests.demo.ptycockpit import PtyCockpit, files_of
from tests.waiting import let_time_pass, wait_until, within

RUNBOOK = load_runbook(bundled_runbook("demo-cutover.toml"))
IDLE_S = 2  # a world a running step kept up is stopped this long after the step ends
GONE_WITHIN_S = 5.0
CLEAR_FIELD = "\x15"  # ctrl+u: an input field's text left of the cursor deleted
FIELD = "▊  "  # how an input field's line starts on the screen
ATTESTATIONS = [("Attest: Governance sign-off", "GOV-7", "governance-signoff"),
                ("Attest: Maintenance window", "CHG-7", "maintenance-window"),
                ("Attest: Same migration commit", "clone-pass", "clone-commit-match")]
# The moments of the sweep, in the order the flow reaches them.
MOMENTS = [
    "just started", "building: the database", "building: the backend",
    "the session started, the screen starting", "the screen up, every gate open",
    "in the attestation dialog", "typing in the attestation dialog", "one gate attested",
    "every gate attested", "checking the gates", "every gate green",
    "prod_heads_preflight starting", "prod_anchor_structural_parity_0019 running",
    "confirming prod_alembic_width_correction", "prod_alembic_width_correction starting",
    "confirming prod_upgrade_0019_to_head", "prod_upgrade_0019_to_head running",
    "every step done", "evidence sealed", "in the decision form"]
# The fast step's two: the moments today's code failed at (the rest, a dialog among them,
# in the slow sweep; test_hangup_rules.py has each way a hang-up ends a cockpit, fast).
FAST = ["building: the database", "the session started, the screen starting"]


class Drive:
    """The operator at the keyboard, the session's events read as they are written."""

    def __init__(self, base: Path) -> None:
        self.session, self.workspace = base / "s", base / "w"
        env = {**os.environ, "XDG_STATE_HOME": str(base / "state"),
               "COCKPIT_DEMO_IDLE_STOP": str(IDLE_S)}
        self.env = env
        self.cockpit = PtyCockpit(["demo", "--session", str(self.session),
                                   "--workspace", str(self.workspace)], env)

    def state(self) -> SessionState:
        return session_at(self.session).state

    def until(self, condition: Callable[[], object], what: str, within_s: float = 180) -> bool:
        def met() -> bool:
            if condition():
                return True
            assert self.cockpit.proc.poll() is None, f"the cockpit ended waiting for {what}"
            return False

        if within(met, within_s):
            return True
        assert within_s < 180, f"not within 180 s: {what}; {self.screen_tail()}"
        return False

    def screen_tail(self) -> str:
        lines = [line.strip() for line in self.cockpit.text()[-6000:].splitlines()]
        return " / ".join(line for line in lines if line.strip("▔▁▊▎│─ "))[-1500:]

    def press(self, key: str, effect: Callable[[], object], what: str) -> None:
        """Press `key` until `effect` shows: a key typed while a verb is in flight is ignored
        (by design: keys typed ahead must not start another), so it is pressed again."""
        def shown() -> bool:
            if effect():
                return True
            assert self.cockpit.proc.poll() is None, f"the cockpit ended waiting for {what}"
            return False

        def pressed() -> bool:
            self.cockpit.type(key)
            return within(shown, 4)

        assert within(pressed, 180, every_s=0), \
            f"not within 180 s: {what}; {self.screen_tail()}"

    def run_with_word(self, step: CommandStep) -> Iterator[str]:
        """r, and the step's word typed into the dialog that asks for it — asked again should
        the step not start (the dialog closed first: Esc)."""
        deadline = time.monotonic() + 180
        asked = False
        while True:
            mark = self.cockpit.mark()
            self.press("r", lambda m=mark: f"Run {step.id}?" in self.cockpit.text(since=m),
                       f"the dialog for {step.id}")
            if not asked:
                asked = True
                yield f"confirming {step.id}"
            self.answer(step.confirm or "")
            if self.until(lambda: step.id in self.state().steps, f"{step.id} to start", 10):
                return
            assert time.monotonic() < deadline, \
                f"not within 180 s: {step.id} to start; {self.screen_tail()}"
            self.cockpit.type("\x1b")
            let_time_pass(0.5)  # the dialog closes: its going leaves no mark in the stream

    def type_into_field(self, text: str) -> None:
        """`text` into the open dialog's field, emptied first (a key pressed again may have
        landed there), typed again until the field shows it: keys that come before the
        field has its focus go nowhere."""
        def typed() -> bool:
            mark = self.cockpit.mark()
            # A control key and the text in one write lose the text: Textual reads them apart.
            self.cockpit.type(CLEAR_FIELD)
            let_time_pass(0.2)
            self.cockpit.type(text)
            # The field's line as drawn (its tall border, its padding): the dialog's prompt
            # may name the same word.
            if within(lambda: FIELD + text in self.cockpit.text(since=mark), 3):
                return True
            assert self.cockpit.proc.poll() is None, "the cockpit ended in a dialog"
            return False

        assert within(typed, 180, every_s=0), f"not within 180 s: {text!r} in the field"

    def answer(self, text: str) -> None:
        self.type_into_field(text)
        self.cockpit.type("\r")

    def events(self) -> list[dict]:
        try:
            text = (self.session / "events.jsonl").read_text()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.endswith("}")]

    def flow(self) -> Iterator[str]:
        """The way from start-up to the decision, each moment named as it is reached."""
        cockpit = self.cockpit
        yield "just started"
        self.until(lambda: (self.workspace / "pg" / "data").exists(), "the world's database")
        yield "building: the database"
        self.until(lambda: (self.workspace / "backend").exists(), "the world's backend")
        yield "building: the backend"
        self.until(lambda: self.events(), "the session to start")
        yield "the session started, the screen starting"
        cockpit.wait_for_text("OPERATOR ·")
        yield "the screen up, every gate open"
        for n, (title, answer, gate) in enumerate(ATTESTATIONS):
            self.press("a", lambda t=title: t in cockpit.text(), f"the dialog {title!r}")
            if n == 0:
                yield "in the attestation dialog"
                self.type_into_field(answer[:3])
                yield "typing in the attestation dialog"
            self.answer(answer)
            self.until(lambda g=gate: self.state().gates.get(g), f"{gate} attested")
            if n == 0:
                yield "one gate attested"
        yield "every gate attested"
        evaluated = self._count("gate_evaluated")
        self.press("g", lambda: self._count("gate_evaluated") > evaluated, "the gates checked")
        yield "checking the gates"
        self.until(lambda: not rules.open_gates(RUNBOOK, self.state()), "every gate green")
        yield "every gate green"
        while (upcoming := rules.next_step(RUNBOOK, self.state())) is not None:
            step = upcoming.step
            if isinstance(step, CommandStep) and step.confirm:
                yield from self.run_with_word(step)
            else:
                self.press("r", lambda s=step.id: s in self.state().steps
                           or rules.step_done(self.state(), s), f"{step.id} to start")
            yield f"{step.id} starting"
            if isinstance(step, CommandStep):
                self.until(lambda s=step.id: s in self.state().steps, f"{step.id} to start")
                yield f"{step.id} running"
            self.until(lambda s=step.id: rules.step_done(self.state(), s)
                       or self.state().halt is not None, f"{step.id} to end")
            assert self.state().halt is None, f"{step.id} halted the rehearsal"
        yield "every step done"
        self.press("s", lambda: self._count("evidence_sealed"), "the evidence sealed")
        yield "evidence sealed"
        self.press("d", lambda: "Final decision record" in cockpit.text(), "the decision form")
        yield "in the decision form"

    def _count(self, kind: str) -> int:
        return sum(e["type"] == kind for e in self.events())




def _steps_running(session: Path) -> bool:
    """A step supervisor of the session lives (its command line names the run's spec)."""
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if "cockpit.engine.supervisor" in cmdline and str(session) in cmdline[-1]:
            return True
    return False


def hang_up_at(moment: str, base: Path, resume: bool) -> dict:
    """Drive a demo to `moment`, close its terminal, and check what is left."""
    drive = Drive(base)
    try:
        for reached in drive.flow():
            if reached == moment:
                break
        else:
            raise AssertionError(f"the flow never reached {moment!r}")
        drive.cockpit.hang_up()
        seconds = drive.cockpit.wait_gone(GONE_WITHIN_S)
    finally:
        drive.cockpit.kill()
    # A step the cockpit left running (its end not recorded: nobody holds the session)
    # goes on, and its world with it, until the watchdog finds it unused.
    running = drive.events() and drive.state().running_step() is not None
    outcome: dict = {"moment": moment, "gone_s": round(seconds, 2),
                     "exit": drive.cockpit.proc.returncode, "step_ran_on": bool(running)}
    if running:
        wait_until(lambda: not _steps_running(drive.session), "the step to end", 300)
        wait_until(lambda: not world_processes(drive.workspace),
                   "the watchdog to stop the world after the step", IDLE_S + 30)
    # A cockpit that outlived its grace ends on a deadline (hangup.py): what its cleanup had
    # no time to stop, the world's watchdog stops once the world is idle — counted, so the
    # sweep says how often the backstop was needed.
    outcome["watchdog_stopped"] = bool(world_processes(drive.workspace))
    wait_until(lambda: not world_processes(drive.workspace),
               f"{moment}: the world stopped (by the cockpit, or its watchdog once idle)",
               IDLE_S + 30)
    if not drive.events():  # cut short before the session began: nothing of it is left
        assert not drive.workspace.exists(), f"{moment}: {files_of(drive.workspace)[:10]}"
        assert files_of(drive.session) == [], moment
        outcome["session"] = False
        return outcome
    outcome["session"] = True
    assert not read_lock_info(drive.session), f"{moment}: the lock names a holder"
    if not resume:
        SessionLock.acquire(drive.session).release()  # what resume asks first: no take-over
        return outcome
    resumed = subprocess.run([sys.executable, "-m", "cockpit", "resume", str(drive.session),
                              "--headless"], cwd=REPO, env=drive.env, capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, f"{moment}: {resumed.stdout[-2000:]}{resumed.stderr}"
    assert resumed.stdout.splitlines()[-1] == "DECISION: PASS", moment
    assert world_processes(drive.workspace) == [], f"{moment}: resume left the world up"
    return outcome


def _base() -> Path:
    base = Path(tempfile.mkdtemp(prefix="cockpit-hangup-"))
    base.chmod(0o755)  # not pytest's tmp_path: the world keeps its database in it
    return base


@pytest.mark.parametrize("moment", FAST)
def test_a_hang_up_ends_the_cockpit_cleanly(moment: str) -> None:
    base = _base()
    try:
        outcome = hang_up_at(moment, base, resume=False)
        assert outcome["gone_s"] < GONE_WITHIN_S
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)


@pytest.mark.slow
def test_a_hang_up_at_twenty_moments_from_start_up_to_the_decision(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert len(MOMENTS) == 20

    def one(moment: str) -> dict:
        base = _base()
        try:
            return hang_up_at(moment, base, resume=True)
        except AssertionError as failed:  # every moment is tried; the failures listed after
            return {"moment": moment, "failed": str(failed)[:1500]}
        finally:
            subprocess.run(["rm", "-rf", str(base)], check=False)

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(one, MOMENTS))
    with capsys.disabled():
        print()
        for o in outcomes:
            if "failed" in o:
                print(f"hang-up {o['moment']!r}: FAILED {o['failed']}")
                continue
            print(f"hang-up {o['moment']!r}: gone in {o['gone_s']} s, exit {o['exit']}"
                  f"{', a step ran on' if o['step_ran_on'] else ''}"
                  f"{', the watchdog stopped the world' if o['watchdog_stopped'] else ''}"
                  f"{', resumed to PASS' if o['session'] else ', nothing left'}")
    # The failures' own words in the assertion: CI shows the assertion, not what was printed.
    assert {o["moment"]: o["failed"] for o in outcomes if "failed" in o} == {}
    assert max(o["gone_s"] for o in outcomes) < GONE_WITHIN_S
    assert sum(o["step_ran_on"] for o in outcomes) >= 1
