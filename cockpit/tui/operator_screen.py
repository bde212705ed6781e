"""The operator's screen: the session screen plus the verbs. Every rule lives in the engine:
this screen asks the controller to act and redraws from the session's state when an event
is appended. Every controller call — a verb, and the poll that notices a step's end (and may
then halt, with diagnostics that wait on the database) — runs in a worker thread, so the
screen answers keys throughout; one handler shows any failure of a worker."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from cockpit.engine.controller import Controller
from cockpit.engine.signatures import read_signature_file
from cockpit.errors import CockpitError
from cockpit.evidence.decision import decision_fields
from cockpit.evidence.holdfacts import standstill_facts
from cockpit.runbook.model import (
    AttestationGate,
    CheckStep,
    CommandStep,
    HaltItem,
    Manual,
    ProbeGate,
)
from cockpit.session import rules
from cockpit.tui.messages import ActionFailed
from cockpit.tui.panes import GatePanel
from cockpit.tui.screens import NOTE, AskText, DecisionForm
from cockpit.tui.session_screen import READ_BINDINGS, SessionScreen

# action -> (key, description); the verbs an operator has
VERBS: dict[str, tuple[str, str]] = {
    "gates": ("g", "Check gates"),
    "password": ("p", "Password"),
    "attest": ("a", "Attest gate"),
    "run_next": ("r", "Run next"),
    "halt": ("x", "HALT"),
    "cancel": ("c", "Cancel step"),
    "pause": ("z", "Pause/continue"),
    "protocol": ("e", "Protocol item"),
    "resolve": ("i", "Resolve interrupted"),
    "seal": ("s", "Seal evidence"),
    "decision": ("d", "Decision"),
    "countersignature": ("k", "Countersignature"),
}
# The cutover's course, for the help screen; the line above the footer says the next step.
FLOW = [
    "The flow (the line above the keys always says what comes next):",
    "  1. Gates and setup: a attests a gate or confirms a setup line by hand, g checks",
    "     the rest; each failure says why (a wrong database password: p). Nothing runs",
    "     until every gate is green.",
    "  2. Phases in order: r runs the next step (a step that changes the database asks",
    "     for its word first). A read-only step may be cancelled (c) and run again.",
    "     A step run one revision at a time stops at its holds (r, then the revision's",
    "     id goes on) and pauses after its current revision on z (z again continues).",
    "  3. x halts at any moment: halt-and-contain is final; e works the protocol.",
    "  4. s seals the evidence, d records the decision: the session is closed.",
    "  5. k attaches a reviewer's countersignature (`cockpit countersign` wrote it): of",
    "     the transcript before GO, or of the decision, as the runbook requires.",
]
WORKER_GROUPS = ("verbs",)  # a failure in one of these is a failure of the cockpit


def given(then: Callable[[str], None], *, allow_empty: bool = False
          ) -> Callable[[str | None], None]:
    """A dialog's callback: `then` with the text typed, unless the dialog was cancelled
    (or left empty, where an empty answer means nothing)."""
    def answered(text: str | None) -> None:
        if text is not None and (text or allow_empty):
            then(text)

    return answered


class OperatorScreen(SessionScreen, inherit_bindings=False):
    MODE = "OPERATOR"
    QUIT_HELP = "Quit (a running step keeps running; `cockpit resume` re-attaches)"
    # The verbs first in the footer, then what every session screen has (listed, not
    # inherited, only for that order).
    BINDINGS: ClassVar[list[BindingType]] = [
        *Screen.BINDINGS,
        *[Binding(key, action, label, id=action) for action, (key, label) in VERBS.items()],
        *READ_BINDINGS,
    ]

    def __init__(self, controller: Controller, *, clock: bool = True) -> None:
        super().__init__(controller, clock=clock)
        self.ctl = controller
        self._lock = threading.Lock()  # one controller call at a time
        self.busy = False  # a verb is in flight: keys typed ahead must not start another

    def footer_lines(self) -> ComposeResult:
        yield Static(id="next")

    def now(self) -> datetime:
        return self.ctl.clock()

    def after_refresh(self) -> None:
        self.show_next()

    def show_next(self) -> None:
        """What to do now and which key does it — the rules' answer, in words."""
        action = self.overview().next_action
        if action is None:
            text = Text("The session has ended: its decision is recorded. q quits.")
        else:
            key = VERBS[action.verb][0] if action.verb in VERBS else None
            word = f" (you will type {action.word})" if action.word else ""
            text = Text.assemble(("Next: ", "bold"), action.what,
                                 (f" — {key}{word}", "bold") if key else "")
        self.query_one("#next", Static).update(text)

    def footer_actions(self) -> tuple[str, ...]:
        return (*VERBS, *super().footer_actions())

    def help_intro(self) -> list[str]:
        return [*FLOW, "", "Keys:", *[f"  {key:<3} {label}" for _a, (key, label) in VERBS.items()]]

    # ------------------------------------------------------------------ failures

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        """Any worker of this screen that raised what no rule foresaw: shown (redacted) and
        recorded in the session's events; the cockpit goes on."""
        worker = event.worker
        if event.state != WorkerState.ERROR or worker.group not in WORKER_GROUPS:
            return
        error = worker.error or RuntimeError("unknown failure")
        text = self.ctl.redactor.describe(error)
        self.notify(f"{text}\nRecorded in the session's events.",
                    title="The cockpit failed at a task", severity="error", timeout=15)
        self._note_fault(worker.name or worker.group, error)
        self._done()

    @work(thread=True, group="notes", exit_on_error=False)
    def _note_fault(self, action: str, error: BaseException) -> None:
        with self._lock:
            self.ctl.note_fault(action, error)

    @on(ActionFailed)
    def show_failure(self, message: ActionFailed) -> None:
        self.notify(message.text, title="Refused", severity="error", timeout=8)

    # ------------------------------------------------------------------ what is allowed

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in VERBS:
            return super().check_action(action, parameters)
        allowed = self.allowed(action)
        if allowed and self.busy:
            return None  # shown, disabled, until the verb in flight has finished
        return allowed

    def allowed(self, action: str) -> bool:
        return self.overview().allows(action)

    def _attestable(self) -> AttestationGate | ProbeGate | Manual | None:
        """The gate (or setup line to confirm) selected in the gate panel if it is one to
        attest, else the first."""
        candidates: list[AttestationGate | ProbeGate | Manual] = [
            g for g in self.overview().attestable
            if isinstance(g, AttestationGate | ProbeGate | Manual)]
        gates = self.query_one(GatePanel)
        if gates.row_count:
            selected = gates.coordinate_to_cell_key(gates.cursor_coordinate).row_key.value
            candidates = sorted(candidates, key=lambda g: g.id != selected)
        return candidates[0] if candidates else None

    def _open_protocol_item(self) -> HaltItem | None:
        return self.overview().protocol_item

    def verb_commands(self) -> Iterable[SystemCommand]:
        """The verbs allowed now, for the command palette."""
        for action, (key, label) in VERBS.items():
            if self.allowed(action):
                yield SystemCommand(label, f"({key}) {label}",
                                    lambda a=action: getattr(self, f"action_{a}")())

    # ------------------------------------------------------------------ verbs

    def _verb(self, fn: Callable[..., Any], *args: Any,
              then: Callable[[Any], None] | None = None) -> None:
        """Run a controller verb in the worker; `then` gets its result on the UI thread."""
        self.busy = True
        self.refresh_bindings()
        self._run_verb(fn, args, then)

    def _done(self) -> None:
        self.busy = False
        self.refresh_bindings()

    @work(thread=True, exclusive=True, group="verbs", exit_on_error=False)
    def _run_verb(self, fn: Callable[..., Any], args: tuple[Any, ...],
                  then: Callable[[Any], None] | None) -> None:
        with self._lock:
            try:
                result = fn(*args)
            except CockpitError as exc:
                self.post_message(ActionFailed(exc.message))
                self.app.call_from_thread(self._done)
                return
        # anything else propagates: worker_failed shows it and records it
        if then is not None:
            self.app.call_from_thread(then, result)
        self.app.call_from_thread(self._done)

    def action_gates(self) -> None:
        def report(still_open: list[str]) -> None:
            text = "every gate is green: GO" if not still_open else f"{len(still_open)} still open"
            self.notify(text, title="Gates")

        self._verb(self.ctl.evaluate_gates, then=report)

    def action_password(self) -> None:
        def report(still_open: list[str]) -> None:
            text = "every gate is green: GO" if not still_open else \
                f"{len(still_open)} still open: " + ", ".join(still_open)
            self.notify(text, title="Password entered; gates checked again")

        self.app.push_screen(
            AskText("Database password",
                    "For each DSN whose check failed. Typed, not shown; kept in this process "
                    "only, never written. The gates and setup are checked again with it.",
                    password=True),
            # a closure, not an argument: a worker's description (Textual's log, devtools)
            # shows its arguments' repr
            given(lambda password: self._verb(lambda: self.ctl.enter_password(password),
                                              then=report)))

    def action_attest(self) -> None:
        gate = self._attestable()
        if gate is None:
            return
        if isinstance(gate, Manual):  # a setup line: ticked as a phase's manual item is
            self.app.push_screen(
                AskText(f"Confirm: {gate.text}", "Required before GO. An optional note, then "
                        "Enter.", allow_empty=True),
                given(lambda note: self._verb(self.ctl.confirm_setup, gate.id, note),
                      allow_empty=True))
            return
        prompt = gate.prompt or "Reference"

        def attested(_result: None) -> None:
            s = self.ctl.state.gates.get(gate.id)
            if s is not None and s.status == "passed":
                self.notify(f"{gate.text}: {s.reference or s.detail or ''}",
                            title="Attested")
            elif s is not None:
                self.notify(f"{gate.text}: {s.detail or 'failed'}", title="Not attested",
                            severity="warning")

        def done(reference: str | None) -> None:
            if reference:
                self._verb(self.ctl.attest_gate, gate.id, reference, then=attested)

        self.app.push_screen(AskText(f"Attest: {gate.text}", prompt), done)

    def action_run_next(self) -> None:
        upcoming = self.overview().upcoming
        if upcoming is None or not self.allowed("run_next"):
            return
        self.action_tab("phase-tab")  # where the step and its output show
        step = upcoming.step
        current = self.ctl.state.steps.get(step.id)
        if current is not None and current.status == "paused":  # as z: it goes on
            self._verb(self.ctl.run_step, step.id)
            return
        if current is not None and current.status == "held" and current.stopped_before:
            self._go_past_hold(step.id, current.stopped_before)
            return
        pending = current.retry if current is not None else None
        if pending is not None:  # left by a cockpit that stopped during its wait
            self.app.push_screen(
                AskText(f"Go on with {step.id}'s retry?",
                        f"Attempt {pending.attempt} of {pending.of} was pending when the "
                        "cockpit stopped. The database's revision is read again first; if it "
                        "moved, the retry is dropped and the session halts. Type RETRY.",
                        must_equal="RETRY"),
                given(lambda _word: self._verb(self.ctl.resume_retry, step.id)))
            return
        if isinstance(step, CommandStep):
            if step.confirm is None:
                self._verb(self.ctl.run_step, step.id, None)
                return
            prompt = (f"{step.command}\n\nThis step changes the database. Type "
                      f"{step.confirm} to run it.")
            self.app.push_screen(
                AskText(f"Run {step.id}?", prompt, must_equal=step.confirm),
                given(lambda word: self._verb(self.ctl.run_step, step.id, word)))
        elif isinstance(step, CheckStep):
            self._verb(self.ctl.evaluate_check, step.id)
        elif isinstance(step, Manual):
            self.app.push_screen(
                AskText(f"Confirm: {step.text}", "An optional note, then Enter.",
                        allow_empty=True),
                given(lambda note: self._verb(self.ctl.confirm_manual, step.id, note),
                      allow_empty=True))

    def _go_past_hold(self, step_id: str, revision: str) -> None:
        facts = standstill_facts(self.ctl.runbook, self.ctl.state, self.ctl.folder)
        said = rules.committed_text(self.ctl.state, step_id) or ""

        def go(_typed: str) -> None:
            self._verb(self.ctl.go_past_hold, step_id, revision)

        self.app.push_screen(
            AskText(f"HELD before revision {revision}",
                    "\n".join([said, *facts, "",
                               f"The upgrade goes on only when you type {revision}."]),
                    must_equal=revision),
            given(go))

    def action_pause(self) -> None:
        """Pause the running `per_revision` step after its current revision; continue a
        paused one."""
        if not self.allowed("pause"):
            return
        running = self.ctl.state.running_step()
        if running is not None:
            self._verb(self.ctl.pause_step, running)
            return
        paused = next((sid for sid, s in self.ctl.state.steps.items()
                       if s.status == "paused"), None)
        if paused is not None:
            self._verb(self.ctl.run_step, paused)

    def action_cancel(self) -> None:
        step_id = self.ctl.state.running_step()
        waiting = rules.retry_waiting(self.ctl.state)
        if (step_id or waiting) is None or not self.allowed("cancel"):
            return
        if step_id is None and waiting is not None:  # the retry's wait: dropping it halts
            self.ctl.defer_retry(waiting)  # no attempt while the operator decides

            def answered(word: str | None) -> None:
                if word:  # dropped: no attempt may slip in before the verb takes its turn
                    self._verb(self.ctl.cancel_step, waiting)
                else:
                    self.ctl.defer_retry(waiting, deferred=False)

            self.app.push_screen(
                AskText(f"Cancel {waiting}'s retry?", "The lock timeout it answered then "
                        "halts the session (final); until you answer, no attempt is made. "
                        "Type CANCEL.", must_equal="CANCEL"), answered)
            return

        def asked(_result: None) -> None:
            self.notify(f"{step_id}: SIGINT, then TERM, then KILL; it is read-only — r runs "
                        "it again once it has stopped.", title="Cancelling")

        self._verb(self.ctl.cancel_step, step_id, then=asked)

    def action_halt(self) -> None:
        def confirmed(reason: str) -> Callable[[str | None], None]:
            return given(lambda _word: self._verb(self.ctl.halt, reason, "operator"))

        def with_reason(reason: str | None) -> None:
            if reason:
                self.app.push_screen(AskText("Halt-and-contain is final for this session",
                                             "Type HALT to halt.", must_equal="HALT"),
                                     confirmed(reason))

        running = self.ctl.state.running_step()
        hint = ("\n\nThe running step is read-only: c cancels it instead, and the cutover goes "
                "on." if running and self.allowed("cancel") else "")
        self.app.push_screen(AskText("HALT: why?", f"The reason, for the record.{hint}"),
                             with_reason)

    def action_protocol(self) -> None:
        item = self._open_protocol_item()
        if item is not None:
            self.app.push_screen(AskText(item.text, "Reference (ticket, call, person)."),
                                 given(lambda note: self._verb(
                                     self.ctl.complete_halt_item, item.id, note)))

    def action_resolve(self) -> None:
        step_id = next((k for k, s in self.ctl.state.steps.items()
                        if s.status == "interrupted"), None)
        if step_id is None:
            return

        def with_outcome(outcome: str | None) -> None:
            if outcome:
                self.app.push_screen(
                    AskText(f"{step_id}: what did reconciliation show?", "A note."),
                    given(lambda note: self._verb(self.ctl.resolve_interrupted, step_id,
                                                  outcome, note)))

        self.app.push_screen(AskText(f"{step_id} was interrupted",
                                     "Did it take effect? Type passed or failed.",
                                     must_equal=None), with_outcome)

    def action_seal(self) -> None:
        def sealed(_manifest: object) -> None:
            seal = self.ctl.state.evidence
            if seal is not None:
                missing = f", {len(seal.missing)} missing" if seal.missing else ""
                self.notify(f"{seal.manifest}: {len(seal.present)} files{missing}; d records "
                            "the decision", title="Evidence sealed")

        self._verb(self.ctl.seal_evidence, then=sealed)

    def action_decision(self, values: dict[str, str] | None = None,
                        error: str | None = None) -> None:
        fields = decision_fields(self.ctl.runbook)
        form = DecisionForm(fields, values or self.ctl.decision_form_values())

        def submitted(result: dict[str, str] | None) -> None:
            if result is not None:
                self._record_decision(result)

        self.app.push_screen(form, submitted)
        if error:
            self.call_after_refresh(form.show_error, error)

    def action_countersignature(self) -> None:
        def attached(record: Any) -> None:
            self.notify(f"{record.identity} ({record.fingerprint}) countersigned the "
                        f"{record.kind}", title="Countersignature attached")

        def attach(path: str) -> None:
            self._verb(self._attach_file, path.strip(), then=attached)

        self.app.push_screen(AskText("Attach a countersignature",
                                     "The file a reviewer's `cockpit countersign` wrote "
                                     "(its path on this machine)."), given(attach))

    def _attach_file(self, path: str) -> Any:
        return self.ctl.attach_signature(read_signature_file(Path(path).expanduser()), path)

    @work(thread=True, exclusive=True, group="verbs", exit_on_error=False)
    def _record_decision(self, values: dict[str, str]) -> None:
        fields = {k: v for k, v in values.items() if k != NOTE}
        with self._lock:
            try:
                self.ctl.record_decision(fields, note=values.get(NOTE) or None)
            except CockpitError as exc:
                self.app.call_from_thread(self.action_decision, values, exc.message)
                return
        decision = self.ctl.state.decision
        status = decision.status if decision else None
        where = decision.markdown if decision else ""
        waiting = rules.awaiting_countersign(self.ctl.runbook, self.ctl.state)
        then = ("the session is closed" if waiting is None else f"AWAITING COUNTERSIGN "
                f"({waiting[0]} of {waiting[1]}): k attaches a reviewer's file")
        if not self.ctl.state.closed:  # the operator's signature failed: not closed
            then = "NOT CLOSED: signing failed; quit, then resume with --sign-key"
        self.app.call_from_thread(self.notify, f"{status} — {where}; {then}",
                                  title="Decision recorded")
