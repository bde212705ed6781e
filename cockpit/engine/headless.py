"""Drives a session to its end without a screen, for rehearsals on clones and for CI.

One line per event, and every line a step prints, prefixed by the step. Attestations and
confirmations come from an answers file (or --assume-yes, which a production runbook
refuses). It makes exactly the controller calls the TUI makes, and stops where a careful
operator would: open gates (exit 3), a failure or an abort (halt, BLOCKER, exit 2).
"""

from __future__ import annotations

import queue
import shlex
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cockpit.engine import hangup
from cockpit.engine.controller import Controller
from cockpit.engine.core import ActionRefused
from cockpit.errors import EXIT_BLOCKER, EXIT_OK, EXIT_REFUSED, CockpitError
from cockpit.evidence.decision import (
    BLOCKER,
    PASS,
    decision_fields,
    missing_required,
    refusal,
    status_field,
)
from cockpit.evidence.report import signature_lines
from cockpit.runbook.model import (
    AttestationGate,
    CheckStep,
    CommandStep,
    DecisionField,
    Manual,
    ProbeGate,
    Runbook,
)
from cockpit.runbook.validate import walk_items
from cockpit.session import rules
from cockpit.session.events import Event
from cockpit.session.format import format_event
from cockpit.session.inert import inert
from cockpit.session.radarview import RadarNews
from cockpit.session.state import SessionState
from cockpit.session.stepfollow import StepLogFollower

Print = Callable[[str], None]
ASSUMED = "assumed (--assume-yes rehearsal)"  # what an answer nobody gave is recorded as
ANSWER_TABLES = ("gates", "confirm", "manual", "halt", "decision", "resolve", "holds")


@dataclass
class Answers:
    gates: dict[str, str] = field(default_factory=dict)
    confirm: dict[str, str] = field(default_factory=dict)
    manual: dict[str, Any] = field(default_factory=dict)
    halt: dict[str, str] = field(default_factory=dict)
    decision: dict[str, Any] = field(default_factory=dict)  # [decision.PASS]: sub-tables
    resolve: dict[str, dict[str, str]] = field(default_factory=dict)
    holds: dict[str, str] = field(default_factory=dict)  # step: the revision let past


def load_answers(path: Path | None) -> Answers:
    if path is None:
        return Answers()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CockpitError(f"{path}: no such answers file") from None
    except tomllib.TOMLDecodeError as exc:
        raise CockpitError(f"{path}: not valid TOML: {exc}") from None
    return parse_answers(data, str(path))


def parse_answers(data: dict[str, Any], where: str) -> Answers:
    """Answers from a TOML file's tables (`where`: the file, as messages name it)."""
    unknown = sorted(set(data) - set(ANSWER_TABLES))
    if unknown:
        raise CockpitError(f"{where}: unknown table(s) {', '.join(unknown)}; "
                           f"expected: {', '.join(ANSWER_TABLES)}")
    return Answers(**{k: dict(v) for k, v in data.items()})


def plan(runbook: Runbook, answers_path: Path | None, assume_yes: bool,
         state: SessionState | None = None) -> Answers:
    """The answers a headless run will give, checked against the runbook before anything
    starts: a usage error leaves no session behind (invariant 10), and a run never stops
    halfway for an answer it could have been told it lacks. `state`: a session being
    resumed, whose done steps need no answer any more."""
    answers = load_answers(answers_path)
    check_answers(runbook, answers, assume_yes)
    missing = missing_answers(runbook, answers, assume_yes, state or SessionState())
    if missing:
        where = f" ({answers_path})" if answers_path else " (no --answers file given)"
        raise CockpitError(f"the answers{where} lack what the run will ask, so it would stop "
                           f"halfway: {'; '.join(missing)}")
    return answers


def missing_answers(runbook: Runbook, answers: Answers, assume_yes: bool,
                    state: SessionState) -> list[str]:
    """The confirmations and manual notes a headless run would stop for."""
    out = []
    for _place, item in walk_items(runbook):
        if rules.step_done(state, item.id):
            continue
        # a step that stopped part way goes on without its word again (confirmed at its start)
        going_on = (s := state.steps.get(item.id)) is not None and s.status in (
            "held", "paused", "retry_wait")
        if isinstance(item, CommandStep) and item.confirm is not None and not going_on \
                and item.id not in answers.confirm and not assume_yes:
            out.append(f"[confirm] {item.id} = \"{item.confirm}\"")
        elif isinstance(item, Manual) and any(item in p.steps for p in runbook.phases) \
                and item.id not in answers.manual and not assume_yes:
            out.append(f"[manual] {item.id} = \"note\"")
    return out


def check_answers(runbook: Runbook, answers: Answers, assume_yes: bool) -> None:
    """--assume-yes is refused for production, and every key of an answers file names an
    item of the runbook (a decision key: a field's id or role); a typo is refused."""
    if assume_yes and runbook.production:
        raise ActionRefused("this runbook targets production: --assume-yes is refused; "
                            "give the attestations in an --answers file")
    ids = {item.id for _p, item in walk_items(runbook)}
    fields = decision_fields(runbook)
    keys = {f.id for f in fields} | {f.role for f in fields if f.role} | {"note"}
    for table in ANSWER_TABLES:
        known = keys if table == "decision" else ids
        entries = dict(getattr(answers, table))
        for outcome in OUTCOMES if table == "decision" else ():
            sub = entries.pop(outcome, None)
            if sub is not None and not isinstance(sub, dict):
                raise CockpitError(f"answers [decision] {outcome} must be a table: "
                                   f"[decision.{outcome}] with the values for that outcome")
            entries.update({f"{outcome}.{key}": value for key, value in (sub or {}).items()})
        for key in entries:
            if key.split(".", 1)[-1] not in known:
                what = "a decision field or role" if table == "decision" else "an item"
                raise CockpitError(f"answers [{table}] names '{key}', which is not {what} "
                                   f"of runbook '{runbook.id}'")


OUTCOMES = (PASS, BLOCKER)  # [decision.PASS] / [decision.BLOCKER]: values for one outcome


def decision_answers(runbook: Runbook, answers: Answers, status: str) -> dict[str, str]:
    """The answers' decision values by field id (a key may be a field's role) for a decision
    of `status`: the plain [decision] values, then those of [decision.<status>] — so that an
    "authorized" meant for a PASS never lands in a BLOCKER's record."""
    by_role = {f.role: f.id for f in decision_fields(runbook) if f.role}
    plain = {k: v for k, v in answers.decision.items() if k not in OUTCOMES}
    chosen = {**plain, **dict(answers.decision.get(status) or {})}
    return {by_role.get(key, key): str(value) for key, value in chosen.items() if key != "note"}


def decision_note(answers: Answers, status: str) -> str | None:
    return dict(answers.decision.get(status) or {}).get("note") or answers.decision.get("note")


class Headless:
    def __init__(self, ctl: Controller, answers: Answers, assume_yes: bool, out: Print,
                 answers_path: Path | None = None, stop_file: Path | None = None) -> None:
        self.ctl = ctl
        # once this file exists, no new step starts: the run stops, resumable (a fleet's halt)
        self.stop_file = stop_file
        self.answers = answers
        self.assume_yes = assume_yes
        self.answers_path = answers_path  # for the `cockpit resume` line it prints
        self.out: Print = lambda line: out(inert(line))  # a step's bytes among them (inv. 11)
        self.print_line = out  # a step's lines: inert already, from the follower
        check_answers(ctl.runbook, answers, assume_yes)  # the CLI checked; others call too
        # One line per event, printed by this thread only: the step monitor's events (a
        # step's end, a halt) wait here until the lines its step printed before are out.
        self._thread = threading.get_ident()
        self._later: queue.SimpleQueue[Event] = queue.SimpleQueue()
        ctl.listeners.append(self._event)

    def _event(self, event: Event) -> None:
        if threading.get_ident() != self._thread:
            self._later.put(event)
            return
        self.say_later()
        self.out(format_event(event))

    def say_later(self) -> None:
        while not self._later.empty():
            self.out(format_event(self._later.get_nowait()))

    # ------------------------------------------------------------------ the drive

    def resume_command(self) -> str:
        """The exact command that takes this session up again, without a screen."""
        words = ["cockpit", "resume", str(self.ctl.folder), "--headless"]
        if self.answers_path is not None:
            words += ["--answers", str(self.answers_path)]
        if self.assume_yes:
            words.append("--assume-yes")
        return shlex.join(words)

    def drive(self) -> int:
        try:
            return self._drive()
        except KeyboardInterrupt:
            self._say_interrupted()
            raise  # the command line ends with 130, as a shell reports Ctrl-C

    def _say_interrupted(self) -> None:
        """Ctrl-C stops this cockpit, not the step: its supervisor is detached from the
        terminal and runs it to its end; resume records that end."""
        running = self.ctl.state.running_step()
        if running is not None:
            self.out(f"interrupted: step {running} goes on under its supervisor (its output "
                     "still goes to its log and its abort rules still apply); the cockpit "
                     "records how it ended when the session is resumed")
        else:
            self.out("interrupted: no step is running")
        self.out(f"to take the session up again: {self.resume_command()}")

    def _drive(self) -> int:
        ctl = self.ctl
        if ctl.running() is not None:
            self.follow()
        if ctl.state.ended:
            return self._exit_for_decision()
        if ctl.state.halt is None:
            code = self._open_gates()
            if code is not None:
                return code
            code = self._run_phases()
            if code is not None:
                return code
        if ctl.state.halt is not None:
            return self._contain()
        ctl.seal_evidence()
        return self._decide(PASS)

    def _open_gates(self) -> int | None:
        ctl = self.ctl
        for gate in rules.gates(ctl.runbook):
            if gate.id in ctl.state.gates and ctl.state.gates[gate.id].status == "passed":
                continue
            reference = self.answers.gates.get(gate.id)
            if isinstance(gate, AttestationGate):
                if reference is None and self.assume_yes:
                    reference = ASSUMED
                if reference:
                    ctl.attest_gate(gate.id, reference)
            elif isinstance(gate, ProbeGate) and rules.asks_operator(ctl.state, gate) \
                    and reference:
                ctl.attest_gate(gate.id, reference)
        self._confirm_setup()
        still_open = ctl.evaluate_gates()
        if not still_open:
            self.out("GO: every gate is green")
            for key, note in rules.setup_notes(ctl.runbook, ctl.state):  # not to be missed
                self.out(f"  setup {key}: {note}")
            return None
        self.out(f"NO-GO: {len(still_open)} open: {', '.join(still_open)}")
        failed = rules.failed_checks(ctl.runbook, ctl.state)
        # A fact about the change itself — or, once something has run, any automated check
        # that fails (a resume whose database went away): the cutover cannot go on.
        findings = [f"{f.name} failed: {f.detail}" for f in failed
                    if f.finding or (ctl.state.steps and f.automated)]
        if findings:
            ctl.halt(f"NO-GO: {'; '.join(findings)}", by="failure")
            return None
        # Each failure is the operator's to fix (a DSN, a password, an attestation, a
        # database the probes could not reach): say what, and stop resumable.
        for f in failed:
            self.out(f"  {f.name}: {f.detail}")
        for item in rules.unconfirmed_setup(ctl.runbook, ctl.state):
            self.out(f"  setup {item.id}: '{item.text}' is a manual confirmation, required "
                     f"before GO; answer it in the answers file: [manual] {item.id} = \"note\"")
        if failed or rules.unconfirmed_setup(ctl.runbook, ctl.state):
            done = "" if ctl.state.steps else "nothing has run; "
            self.out(f"{done}fix the above, then: {self.resume_command()}")
        return EXIT_REFUSED

    def _confirm_setup(self) -> None:
        """Each setup line to confirm, from the answers' [manual] table (the same as a
        phase's manual item); --assume-yes assumes it in a rehearsal, recorded as such."""
        for item in rules.unconfirmed_setup(self.ctl.runbook, self.ctl.state):
            note = self.answers.manual.get(item.id)
            if note is None and self.assume_yes:
                self.ctl.confirm_setup(item.id, assumed=True)
            elif note is not None and note is not False:
                self.ctl.confirm_setup(item.id, "" if note is True else str(note))

    def _run_phases(self) -> int | None:
        ctl = self.ctl
        while ctl.state.halt is None and (upcoming := rules.next_step(ctl.runbook, ctl.state)):
            step = upcoming.step
            if self._asked_to_stop(step.id):
                return EXIT_REFUSED
            current = ctl.state.steps.get(step.id)
            if current is not None and current.status == "interrupted":
                resolution = self.answers.resolve.get(step.id)
                if resolution:
                    ctl.resolve_interrupted(step.id, resolution.get("outcome", ""),
                                            resolution.get("note", ""))
                    continue
                if not (isinstance(step, CommandStep) and step.rerunnable):
                    self.out(f"REFUSED: step {step.id} was interrupted and is not idempotent; "
                             f"record what happened in answers [resolve.{step.id}] "
                             "(outcome = passed|failed, note), or halt")
                    return EXIT_REFUSED
            if current is not None and current.status == "held":
                if not self._past_hold(step.id):
                    return EXIT_REFUSED  # waiting for a person: resumable
                continue
            if current is not None and current.status == "paused":  # a screen's pause
                ctl.run_step(step.id)
                self._attempts(step.id)
                continue
            if current is not None and current.status == "retry_wait":
                self._attempts(step.id)  # left pending by a cockpit that stopped
                continue
            if current is not None and current.status == "failed":
                ctl.halt(f"step {step.id} failed: {current.detail}", by="failure", step=step.id)
                break
            if isinstance(step, CommandStep):
                confirm = self.answers.confirm.get(step.id)
                if confirm is None and self.assume_yes:
                    confirm = step.confirm
                ctl.run_step(step.id, confirm)
                self._attempts(step.id)
            elif isinstance(step, CheckStep):
                result = ctl.evaluate_check(step.id)
                if not result.ok:
                    ctl.halt(f"check {step.id} failed: expected {step.expected!r}, observed "
                             f"{result.observed!r} ({result.detail})", by="failure", step=step.id)
            elif isinstance(step, Manual):
                note = self.answers.manual.get(step.id)
                if note is None and not self.assume_yes:
                    self.out(f"WAITING: manual confirmation '{step.id}' needs an answer "
                             f"([manual] {step.id} = \"note\")")
                    return EXIT_REFUSED
                ctl.confirm_manual(step.id, "" if note in (None, True) else str(note),
                                   assumed=note is None)
        return None

    def _asked_to_stop(self, step_id: str) -> bool:
        """The stop file is there: said with the reason it holds, and nothing more starts."""
        if self.stop_file is None or not self.stop_file.exists():
            return False
        try:
            why = self.stop_file.read_text(encoding="utf-8", errors="replace").strip()
        except OSError as exc:
            why = f"(its reason unreadable: {exc.strerror})"
        self.out(f"STOPPED before step {step_id}: {why.splitlines()[0] if why else 'asked to'}"
                 f" ({self.stop_file}); the session stands, resumable: "
                 f"{self.resume_command()}")
        return True

    def _past_hold(self, step_id: str) -> bool:
        """A hold point: gone past with the answers' [holds] go-ahead (the revision's id, as
        the operator types it; --assume-yes never gives it), else said, and the run stops."""
        ctl = self.ctl
        held = ctl.state.steps[step_id]
        before = held.stopped_before or ""
        if self.answers.holds.get(step_id) != before:
            self.out(f"HELD: step {step_id} stops before revision "
                     f"{rules.stopped_where(held) if held.of else before}; it goes on only on "
                     "a person's go-ahead")
            if (said := rules.committed_text(ctl.state, step_id)) is not None:
                self.out(f"  {said}")
            if (asked := rules.hold_countersign_refusal(ctl.runbook, ctl.state, step_id)):
                self.out(f"  {asked}")
            where = f"{self.answers_path} (or a copy of it)" if self.answers_path \
                else "an answers file"
            self.out(f"  to go on: add [holds] {step_id} = \"{before}\" to {where}, then "
                     f"{self.resume_command()}" + ("" if self.answers_path else
                                                   " --answers FILE"))
            return False
        if (asked := rules.hold_countersign_refusal(ctl.runbook, ctl.state, step_id)):
            self.out(f"HELD: step {step_id} before revision {before}: {asked}")
            return False
        ctl.go_past_hold(step_id, before, "headless: the answers' [holds]")
        self._attempts(step_id)
        return True

    def _attempts(self, step_id: str) -> None:
        """The step's run followed to its end, and each retry's after its wait (the monitor
        makes the attempt); a failure that is not retried halts."""
        ctl = self.ctl
        while True:
            self.follow()
            with ctl.turn:  # the end and a retry it earned are recorded in one turn
                done = ctl.state.steps[step_id]
            if done.status != "retry_wait" or ctl.state.halt is not None:
                break
            self._await_retry(step_id)
        if done.status == "failed" and ctl.state.halt is None:
            ctl.halt(f"step {step_id} failed: {done.detail}", by="failure", step=step_id)

    def _await_retry(self, step_id: str) -> None:
        """A retry's wait: said once, then until the monitor starts the attempt (or the
        retry is dropped and the session halted). One left by a cockpit that stopped goes
        on here if its conditions still hold (the revisions read again)."""
        ctl = self.ctl
        pending = ctl.state.steps[step_id].retry
        if pending is not None and not rules.retry_armed(ctl.state, pending):
            ctl.resume_retry(step_id)
        pending = ctl.state.steps[step_id].retry
        if pending is not None:
            self.out(f"[{step_id}] RETRY: {rules.retry_text(ctl.state, pending, ctl.clock())}")
        while ctl.state.steps[step_id].status == "retry_wait" and ctl.state.halt is None:
            hangup.check()
            if (fault := ctl.monitor.fault) is not None:
                raise CockpitError(f"the retry of step {step_id} could not be made: "
                                   f"{ctl.redactor.describe(fault)}")
            time.sleep(0.05)
        self.say_later()

    def follow(self) -> None:
        """Print the running step's log as it grows, until its end is recorded (by the
        controller's step monitor: this only reads)."""
        ctl = self.ctl
        follower = StepLogFollower(ctl.folder)
        if not follower.attach(ctl.state):
            return
        step_id, run = follower.step, follower.run
        radar = RadarNews()  # the radar's line as the screen shows it, when it changes
        while follower.following:
            hangup.check()  # the terminal went away: the step goes on, the cockpit ends now
            # The follower reads the log to its end once the exit record is there (it is
            # written after the log is complete), so every line prints before the end does.
            for line in follower.pump(ctl.state):
                self.print_line(f"[{step_id}] {line}")
            for news in follower.news():  # each revision of an upgrade, as it starts
                self.out(f"[{step_id}] ── {news}")
            current = ctl.running()
            if (said := radar.news(current[1].radar if current else None)) is not None:
                self.out(f"[{step_id}] {said}")
            if follower.following and not follower.behind:
                self.say_later()  # a drift noted meanwhile
                time.sleep(0.05)
        self.ctl.await_end(run or "", hangup.check)
        self.say_later()  # the step's end (and a halt), after every line it printed

    # ------------------------------------------------------------------ the end

    def _contain(self) -> int:
        ctl = self.ctl
        for item in ctl.runbook.protocol_items():
            if item.id not in ctl.state.halt_items:
                note = self.answers.halt.get(item.id)
                if note and item.action != "record_blocker":
                    ctl.complete_halt_item(item.id, note)
        ctl.seal_evidence()
        return self._decide(BLOCKER)

    def _decide(self, status: str) -> int:
        ctl = self.ctl
        values = {**ctl.decision_defaults(),
                  **decision_answers(ctl.runbook, self.answers, status)}
        values[status_field(ctl.runbook).id] = status
        if status == PASS and (empty := missing_required(ctl.runbook, values)):
            if self.assume_yes:
                values.update({f.id: ASSUMED for f in empty})  # a rehearsal, said as such
            elif refusal(ctl.runbook, ctl.state, {**values, **{f.id: "-" for f in empty}}) \
                    is None:  # earned but for the sign-off nobody gave: asked, never a halt
                return self._refuse_unsigned(empty)
        try:
            ctl.record_decision(values, note=decision_note(self.answers, status))
        except ActionRefused as refused:
            if status != PASS:
                self.out(f"REFUSED: {refused.message}")
                return EXIT_REFUSED
            # PASS was not earned (e.g. the evidence pack is incomplete): that is a blocker.
            ctl.halt(f"PASS refused: {refused.message}", by="failure")
            return self._contain()
        return self._exit_for_decision()

    def _refuse_unsigned(self, empty: list[DecisionField]) -> int:
        names = ", ".join(f.label for f in empty)
        self.out(f"REFUSED: PASS needs the required fields filled: {names}")
        for f in empty:
            self.out(f"  answer it in the answers file: [decision.{PASS}] {f.role or f.id} = "
                     '"..."')
        self.out(f"then: cockpit resume {self.ctl.folder} --headless --answers FILE")
        return EXIT_REFUSED

    def _exit_for_decision(self) -> int:
        decision = self.ctl.state.decision
        status = decision.status if decision else None
        if decision is not None:  # its signatures; then the decision, always the last line
            for line in signature_lines(self.ctl.runbook, self.ctl.state):
                self.out(line)
        self.out(f"DECISION: {status}")
        return EXIT_OK if status == PASS else EXIT_BLOCKER
