"""The operator's cockpit: the checklist as live panes, driven from the keyboard.

Every rule lives in the engine: this app asks the controller to act (in a worker, one verb
at a time), and redraws from the session's state whenever an event is appended.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent, TabPane, Tree

from cockpit.engine.controller import Controller
from cockpit.errors import CockpitError
from cockpit.evidence.decision import decision_fields
from cockpit.resources import styles_dir
from cockpit.runbook.model import CheckStep, CommandStep, HaltItem, Manual
from cockpit.session import rules
from cockpit.session.layout import session_file
from cockpit.session.logtail import LogTail
from cockpit.tui.checklist import ChecklistTree
from cockpit.tui.messages import ActionFailed, SessionChanged
from cockpit.tui.panes import EvidencePane, GatePanel, HaltBanner, PhaseRunner, SessionHeader
from cockpit.tui.screens import NOTE, AskText, DecisionForm, TextScreen, diagnostics_text

TICK_S = 0.08  # ~12 Hz: output reaches the log pane in batches, never a write per line
KEEP_LINES = 2_000  # per tick at most: the pane keeps a bounded tail anyway

# action -> (key, description); the verbs an operator has
VERBS: dict[str, tuple[str, str]] = {
    "gates": ("g", "Check gates"),
    "attest": ("a", "Attest gate"),
    "run_next": ("r", "Run next"),
    "halt": ("x", "HALT"),
    "protocol": ("e", "Protocol item"),
    "resolve": ("i", "Resolve interrupted"),
    "seal": ("s", "Seal evidence"),
    "decision": ("d", "Decision"),
}


class CockpitApp(App[None]):
    CSS_PATH: ClassVar = [styles_dir() / "cockpit.tcss"]
    TITLE = "Cutover Cockpit"
    MODE_CLASS = "-operator"  # on the app, for the stylesheet
    BINDINGS: ClassVar = [
        *[Binding(key, action, label, id=action) for action, (key, label) in VERBS.items()],
        Binding("D", "diagnostics", "Diagnostics", id="diagnostics"),
        Binding("1", "tab('gates-tab')", "Gates", id="tab-gates", show=False),
        Binding("2", "tab('phase-tab')", "Phase", id="tab-phase", show=False),
        Binding("3", "tab('evidence-tab')", "Evidence", id="tab-evidence", show=False),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("q", "quit_cockpit", "Quit", id="quit"),
    ]

    def __init__(self, controller: Controller | Any, *, clock: bool = True,
                 on_quit: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.ctl = controller  # in MirrorApp a read-only MirrorSource, which has no verbs
        self.clock = clock
        self.on_quit = on_quit
        self._lock = threading.Lock()  # one controller call at a time
        self._tail: LogTail | None = None
        self._tail_run: str | None = None
        self.tick_s = TICK_S
        self._allowed: list[bool | None] | None = None  # the verbs' states the footer shows
        self.busy = False  # a verb is in flight: keys typed ahead must not start another
        controller.listeners.append(lambda _event: self.post_message(SessionChanged()))

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield SessionHeader(id="header")
        yield from self.banners()
        with Horizontal(id="body"):
            yield ChecklistTree("checklist", id="checklist")
            with Vertical(id="right"), TabbedContent(id="tabs", initial="phase-tab"):
                with TabPane("Gates (1)", id="gates-tab"):
                    yield GatePanel(id="gates")
                with TabPane("Phase (2)", id="phase-tab"):
                    yield PhaseRunner(id="runner")
                with TabPane("Evidence (3)", id="evidence-tab"):
                    yield EvidencePane(id="evidence")
        yield Footer()

    def banners(self) -> ComposeResult:
        yield HaltBanner(id="halt")

    def on_resize(self) -> None:
        self.set_class(self.size.width < 100, "-narrow")  # 80x24: the panes get the room

    def on_mount(self) -> None:
        self.add_class(self.MODE_CLASS)
        self.query_one(ChecklistTree).show_runbook(self.ctl.runbook)
        self.refresh_view()
        self._show_last_output()
        self.set_interval(self.tick_s, self._tick)
        if self.clock:
            self.set_interval(1.0, self._refresh_header)

    # ------------------------------------------------------------------ drawing

    @property
    def state(self) -> Any:
        return self.ctl.state

    def _refresh_header(self) -> None:
        self.query_one(SessionHeader).show(self.ctl.runbook, self.state, "OPERATOR",
                                           self.clock)

    @on(SessionChanged)
    def refresh_view(self) -> None:
        runbook, state = self.ctl.runbook, self.state
        self._refresh_header()
        self.query_one(HaltBanner).show(runbook, state, self.clock)
        self.set_class(state.halt is not None, "-halted")
        self.query_one(ChecklistTree).update_states(runbook, state)
        self.query_one(GatePanel).show(runbook, state)
        self.query_one(PhaseRunner).show(runbook, state, self.clock, self.damaged_logs())
        present, total = self.query_one(EvidencePane).show(runbook, state)
        tab = self.query_one("#tabs", TabbedContent).get_tab("evidence-tab")
        label = f"Evidence (3) · {present}/{total}"
        if str(tab.label) != label:
            tab.label = label
        self._follow_running_step()
        allowed = [self.check_action(action, ()) for action in (*VERBS, "diagnostics")]
        if allowed != self._allowed:  # the footer is rebuilt on a refresh: only on a change
            self._allowed = allowed
            self.refresh_bindings()
        self.after_refresh()

    def damaged_logs(self) -> dict[str, str]:
        return {}  # the operator's own logs are checked by `cockpit verify`

    def after_refresh(self) -> None:
        """What a subclass adds to a redraw (the mirror: what it found damaged)."""

    def _show_last_output(self, keep: int = 500) -> None:
        """On opening (a resume), the latest step's last lines: often the line that halted."""
        if self.ctl.running() is not None:
            return
        done = [s for s in self.state.steps.values() if s.log and s.started_at]
        if not done:
            return
        latest = max(done, key=lambda s: s.started_at or "")
        tail = LogTail(session_file(self.ctl.folder, latest.log or ""))
        self.query_one("#output").write_lines(tail.last(keep))
        self.query_one(PhaseRunner).show_log(self._in_session(tail.path), latest.lines or 0)

    def _in_session(self, path: Path) -> str:
        """A log as the session names it (`steps/upgrade.1.log`): short, and the evidence."""
        folder = self.ctl.folder
        return path.relative_to(folder).as_posix() if path.is_relative_to(folder) else str(path)

    def _follow_running_step(self) -> None:
        current = self.ctl.running()
        runner = self.query_one(PhaseRunner)
        if current is not None and current[1].run != self._tail_run:
            step = self.state.steps[current[0]]
            self._tail = LogTail(session_file(self.ctl.folder, step.log or ""))
            self._tail_run = current[1].run
            runner.query_one("#output").clear()
        if self._tail is not None:
            runner.show_log(self._in_session(self._tail.path), self._tail.lines)

    def _tick(self) -> None:
        """Feed the log pane in batches, and let the controller notice a step's end."""
        if self._tail is not None:
            running = self.ctl.running() is not None
            lines = self._tail.read(KEEP_LINES) if running else self._tail.flush()
            if lines:
                log = self.query_one("#output")
                log.write_lines(lines)
                self.query_one(PhaseRunner).show_log(self._in_session(self._tail.path),
                                                     self._tail.lines)
            if not running and not lines:
                self._tail = None
        self.poll_session()

    def poll_session(self) -> None:
        """Let the controller notice the running step's end (the mirror: read what the
        operator appended)."""
        if self.ctl.running() is not None and self._lock.acquire(blocking=False):
            try:
                self.ctl.poll()
            except CockpitError as exc:
                self.post_message(ActionFailed(exc.message))
            finally:
                self._lock.release()

    @on(ActionFailed)
    def show_failure(self, message: ActionFailed) -> None:
        self.notify(message.text, title="Refused", severity="error", timeout=8)

    # ------------------------------------------------------------------ what is allowed

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in VERBS and action != "diagnostics":
            return True
        allowed = self.allowed(action)
        if allowed and self.busy and action != "diagnostics":
            return None  # shown, disabled, until the verb in flight has finished
        return allowed

    def allowed(self, action: str) -> bool:
        return rules.verb_allowed(self.ctl.runbook, self.state, action)

    def _attestable(self) -> Any:
        """The gate selected in the gate panel if it is one to attest, else the first."""
        candidates = rules.attestable_gates(self.ctl.runbook, self.state)
        gates = self.query_one(GatePanel)
        if gates.row_count:
            selected = gates.coordinate_to_cell_key(gates.cursor_coordinate).row_key.value
            candidates = sorted(candidates, key=lambda g: g.id != selected)
        return candidates[0] if candidates else None

    def _open_protocol_item(self) -> HaltItem | None:
        return rules.open_protocol_item(self.ctl.runbook, self.state)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
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
        try:
            with self._lock:
                result = fn(*args)
        except CockpitError as exc:
            self.post_message(ActionFailed(exc.message))
        else:
            if then is not None:
                self.call_from_thread(then, result)
        finally:
            self.call_from_thread(self._done)

    def action_gates(self) -> None:
        def report(still_open: list[str]) -> None:
            text = "every gate is green: GO" if not still_open else f"{len(still_open)} still open"
            self.notify(text, title="Gates")

        self._verb(self.ctl.evaluate_gates, then=report)

    def action_attest(self) -> None:
        gate = self._attestable()
        if gate is None:
            return
        prompt = gate.prompt or "Reference"

        def done(reference: str | None) -> None:
            if reference:
                self._verb(self.ctl.attest_gate, gate.id, reference)

        self.push_screen(AskText(f"Attest: {gate.text}", prompt), done)

    def action_run_next(self) -> None:
        upcoming = rules.next_step(self.ctl.runbook, self.state)
        if upcoming is None or not self.allowed("run_next"):
            return
        step = upcoming.step
        if isinstance(step, CommandStep):
            if step.confirm is None:
                self._verb(self.ctl.run_step, step.id, None)
                return
            prompt = (f"{step.command}\n\nThis step changes the database. Type "
                      f"{step.confirm} to run it.")
            self.push_screen(
                AskText(f"Run {step.id}?", prompt, must_equal=step.confirm),
                lambda word: word and self._verb(self.ctl.run_step, step.id, word))
        elif isinstance(step, CheckStep):
            self._verb(self.ctl.evaluate_check, step.id)
        elif isinstance(step, Manual):
            self.push_screen(
                AskText(f"Confirm: {step.text}", "An optional note, then Enter.",
                        allow_empty=True),
                lambda note: note is not None and self._verb(self.ctl.confirm_manual,
                                                             step.id, note))

    def action_halt(self) -> None:
        def confirmed(reason: str) -> Callable[[str | None], None]:
            return lambda word: word and self._verb(self.ctl.halt, reason, "operator")

        def with_reason(reason: str | None) -> None:
            if reason:
                self.push_screen(AskText("Halt-and-contain is final for this session",
                                         "Type HALT to halt.", must_equal="HALT"),
                                 confirmed(reason))

        self.push_screen(AskText("HALT: why?", "The reason, for the record."), with_reason)

    def action_protocol(self) -> None:
        item = self._open_protocol_item()
        if item is not None:
            self.push_screen(AskText(item.text, "Reference (ticket, call, person)."),
                             lambda note: note and self._verb(self.ctl.complete_halt_item,
                                                              item.id, note))

    def action_resolve(self) -> None:
        step_id = next((k for k, s in self.state.steps.items() if s.status == "interrupted"),
                       None)
        if step_id is None:
            return

        def with_outcome(outcome: str | None) -> None:
            if outcome:
                self.push_screen(
                    AskText(f"{step_id}: what did reconciliation show?", "A note."),
                    lambda note: note and self._verb(self.ctl.resolve_interrupted, step_id,
                                                     outcome, note))

        self.push_screen(AskText(f"{step_id} was interrupted",
                                 "Did it take effect? Type passed or failed.",
                                 must_equal=None), with_outcome)

    def action_seal(self) -> None:
        self._verb(self.ctl.seal_evidence)

    def action_decision(self, values: dict[str, str] | None = None,
                        error: str | None = None) -> None:
        fields = decision_fields(self.ctl.runbook)
        form = DecisionForm(fields, values or self.ctl.decision_defaults())

        def submitted(result: dict[str, str] | None) -> None:
            if result is not None:
                self._record_decision(result)

        self.push_screen(form, submitted)
        if error:
            self.call_after_refresh(form.show_error, error)

    @work(thread=True, exclusive=True, group="verbs", exit_on_error=False)
    def _record_decision(self, values: dict[str, str]) -> None:
        fields = {k: v for k, v in values.items() if k != NOTE}
        with self._lock:
            try:
                self.ctl.record_decision(fields, note=values.get(NOTE) or None)
            except CockpitError as exc:
                self.call_from_thread(self.action_decision, values, exc.message)
                return
        status = (self.state.decision or {}).get("status")
        self.call_from_thread(self.notify, f"decision recorded: {status}", title="Decision")

    def action_diagnostics(self) -> None:
        def read(name: str) -> Any:
            return json.loads((self.ctl.folder / name).read_text(encoding="utf-8"))

        self.push_screen(TextScreen("Halt diagnostics", diagnostics_text(
            self.state.diagnostics, read)))

    def action_tab(self, tab: str) -> None:
        self.query_one("#tabs", TabbedContent).active = tab

    def action_help(self) -> None:
        lines = [f"  {key:<3} {label}" for _a, (key, label) in VERBS.items()]
        lines += ["  D   Diagnostics captured at a halt", "  1-3 Gates / Phase / Evidence",
                  "  Enter on a checklist item: its detail", "  ctrl+p  command palette",
                  "  q   Quit (a running step keeps running; `cockpit resume` re-attaches)"]
        self.push_screen(TextScreen("Keys", "\n".join(lines)))

    @on(Tree.NodeSelected, "#checklist")
    def show_item(self, event: Tree.NodeSelected[Any]) -> None:
        item = event.node.data
        if item is not None and not event.node.children:
            self.push_screen(TextScreen(item.id, self.query_one(ChecklistTree).detail(
                self.ctl.runbook, self.state, item)))

    def action_quit_cockpit(self) -> None:
        if self.on_quit is not None:
            self.on_quit()
        self.exit()

    # ------------------------------------------------------------------ crash safety

    def _fatal_error(self) -> None:
        """Textual's crash screen prints local variables, DSNs among them: print the error's
        kind and its redacted message instead."""
        import sys

        error = sys.exc_info()[1]
        text = self.ctl.redactor.redact_text(f"{type(error).__name__}: {error}")
        self._exit_renderables.append(f"cockpit: internal error: {text}")
        self._close_messages_no_wait()
