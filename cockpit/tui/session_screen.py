"""The session as live panes, read-only: header, banners, the checklist, gates, the running
step's output and the evidence, redrawn from a SessionView whenever it takes in an event.

It has no verb: the operator's screen (operator_screen.py) adds them; the reviewer's mirror
(mirror_screen.py) adds only what a mirror shows. Neither removes anything from this one.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane, Tree

from cockpit.evidence.holdfacts import standstill_facts
from cockpit.runbook.render import item_text
from cockpit.session import rules, timing
from cockpit.session.clock import system_clock
from cockpit.session.events import Event
from cockpit.session.layout import session_file
from cockpit.session.logtail import LogTail
from cockpit.session.radarview import radar_text
from cockpit.session.runfiles import RunFiles
from cockpit.session.state import SessionState
from cockpit.session.view import SessionView
from cockpit.tui.checklist import ChecklistTree
from cockpit.tui.messages import SessionChanged
from cockpit.tui.output_log import OutputLog
from cockpit.tui.panes import (
    EvidencePane,
    GatePanel,
    GateReasons,
    HaltBanner,
    SessionHeader,
    halt_lines,
)
from cockpit.tui.runner import PhaseRunner, RunnerView
from cockpit.tui.screens import TextScreen, diagnostics_text

SMALL_HEIGHT = 30  # rows: below this the halt banner takes one line
TICK_S = 0.08  # ~12 Hz: output reaches the log pane in batches, never a write per line
KEEP_LINES = 2_000  # per tick at most: the pane keeps a bounded tail anyway
READ_KEYS = ["  D   Diagnostics captured at a halt", "  1-3 Gates / Phase / Evidence",
             "  h   the halt protocol, whole, on a page of its own (the banner holds a few "
             "lines)",
             "  Enter on a checklist item: its detail", "  ctrl+p  command palette"]


READ_BINDINGS: list[BindingType] = [
    Binding("D", "diagnostics", "Diagnostics", id="diagnostics"),
    Binding("1", "tab('gates-tab')", "Gates", id="tab-gates", show=False),
    Binding("2", "tab('phase-tab')", "Phase", id="tab-phase", show=False),
    Binding("3", "tab('evidence-tab')", "Evidence", id="tab-evidence", show=False),
    Binding("h", "halt_protocol", "Halt protocol", id="toggle-halt", show=False),
    Binding("question_mark", "help", "Help", id="help"),
    Binding("q", "app.quit_cockpit", "Quit", id="quit"),
    # Ctrl-C is how a terminal user leaves: the way q leaves, not Textual's "press ctrl+q"
    Binding("ctrl+c", "app.quit_cockpit", "Quit", id="quit-ctrl-c", show=False),
]


class SessionScreen(Screen[None]):
    MODE = "SESSION"  # what the header's mode field says
    _rehearsed: dict[str, float] | None = None  # the linked rehearsal's step times, read once
    QUIT_HELP = "Quit"
    BINDINGS: ClassVar[list[BindingType]] = READ_BINDINGS

    def __init__(self, view: SessionView, *, clock: bool = True) -> None:
        super().__init__()
        self.view = view
        self.clock = clock
        self.follower = view.log_follower()
        self.tick_s = TICK_S
        self._allowed: list[bool | None] | None = None  # the actions' states the footer shows
        self._overview: rules.Overview | None = None  # the rules' answers for the last state
        view.listeners.append(self._changed)

    def _changed(self, _event: Event) -> None:
        self.post_message(SessionChanged())  # thread-safe: events come from workers too

    def now(self) -> datetime:
        """The moment the rules are asked at (the operator's: its controller's clock)."""
        return system_clock()

    def overview(self) -> rules.Overview:
        """What may happen now: worked out once per state change (and when the maintenance
        window opens or closes); the footer, the panes and check_action all read it."""
        state, now = self.view.state, self.now()
        if self._overview is None or not self._overview.holds_for(state, now):
            self._overview = rules.overview(self.view.runbook, state, now)
        return self._overview

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield SessionHeader(id="header")
        yield from self.banners()
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield ChecklistTree("checklist", id="checklist")
                yield Static(id="item-text")  # the highlighted line, whole
            with Vertical(id="right"), TabbedContent(id="tabs", initial="phase-tab"):
                with TabPane("Gates (1)", id="gates-tab"):
                    yield GatePanel(id="gates")
                    yield GateReasons(id="gate-why")
                with TabPane("Phase (2)", id="phase-tab"):
                    yield PhaseRunner(id="runner")
                with TabPane("Evidence (3)", id="evidence-tab"):
                    yield EvidencePane(id="evidence")
        yield from self.footer_lines()
        yield Footer()

    def footer_lines(self) -> ComposeResult:
        """Lines above the footer (the operator's screen: what to do next)."""
        yield from ()

    def banners(self) -> ComposeResult:
        yield HaltBanner(id="halt")

    def on_resize(self) -> None:
        self.app.set_class(self.size.width < 100, "-narrow")  # 80x24: the panes get the room
        self._show_halt()

    def action_halt_protocol(self) -> None:
        """The halt and its whole protocol (the rollback plan too) on a page of its own,
        scrolled: the banner has the room of a few lines, and on a small screen one."""
        if self.view.state.halt is None:
            return
        self.app.push_screen(TextScreen("Halt protocol", "\n".join(halt_lines(
            self.view.runbook, self.view.state, self.clock,
            keys=self.query_one(HaltBanner).keys, markup=False))))

    def _halt_whole(self) -> bool:
        """The halt banner whole, or on one line: on a small screen it would hide the panes,
        so there it takes one line (h shows the protocol whole)."""
        return self.size.height >= SMALL_HEIGHT

    def _show_halt(self) -> None:
        if self.is_mounted:
            self.query_one(HaltBanner).show(self.view.runbook, self.view.state, self.clock,
                                            whole=self._halt_whole(), overview=self.overview())

    def on_mount(self) -> None:
        self.query_one(ChecklistTree).show_runbook(self.view.runbook)
        if not self.view.state.steps and self.view.state.halt is None:
            self.action_tab("gates-tab")  # nothing done yet: the gates are what comes first
        self.refresh_view()
        self._show_last_output()
        self.follow()
        if self.clock:
            self.set_interval(1.0, self.refresh_header)

    def follow(self) -> None:
        """Keep the panes current: the log pane fed in batches, what happened taken in (the
        mirror follows through a worker instead)."""
        self.set_interval(self.tick_s, self.tick)

    # ------------------------------------------------------------------ drawing

    def refresh_header(self) -> None:
        self.show_header()
        state = self.view.state
        if self.clock and (state.running_step() is not None or rules.retry_waiting(state)):
            self._show_runner()  # the running row's clocks, a retry's countdown

    def show_header(self) -> None:
        self.query_one(SessionHeader).show(self.view.runbook, self.view.state, self.MODE,
                                           self.clock, progress=self.header_news(),
                                           overview=self.overview())

    def header_news(self) -> str:
        """What runs, for the header: "upgrade 3/6 · ETA 0:04:10" (LATE past the window)."""
        found = self.forecast()
        eta = (f"ETA {timing.clock(found.cutover_left_s)}"
               + (" LATE for the window" if found.late else "")) if found else ""
        return " · ".join(filter(None, [self.upgrade_count(), eta]))

    def forecast(self) -> timing.Forecast | None:
        """The cutover against its rehearsal's times (None: no rehearsal linked)."""
        if self._rehearsed is None:
            self._rehearsed = timing.rehearsed_durations(self.view.state)
        if not self._rehearsed or not self.clock:
            return None
        return timing.forecast(self.view.runbook, self.view.state, self._rehearsed,
                               datetime.now(UTC))

    def upgrade_count(self) -> str:
        """The header's word on a running upgrade: "upgrade 3/6" ("" when none runs)."""
        progress = self.follower.progress if self.follower.following else None
        if progress is None or progress.current is None:
            return ""
        total = f"/{len(progress.path)}" if progress.path else ""
        flag = " UNEXPECTED REVISION" if progress.unexpected else ""
        return f"upgrade {len(progress.seen)}{total}{flag}"

    def _show_runner(self) -> None:
        progress = self.follower.progress if self.follower.following else None
        self.query_one(PhaseRunner).show(RunnerView(
            self.view.runbook, self.view.state, self.overview(), self.clock, self.damaged_logs(),
            self._quiet_s(), progress, self._radar(), self.forecast(),
            standstill_facts(self.view.runbook, self.view.state, self.view.folder)))

    def _radar(self) -> str:
        """The lock radar's last look at the running step (its watcher's samples)."""
        state = self.view.state
        step_id = state.running_step()
        run = state.steps[step_id].run if step_id else None
        if not run or not self.clock:
            return ""
        return radar_text(RunFiles(self.view.folder / "steps", run).radar)

    def _quiet_s(self) -> float | None:
        """How long the running step's log has not grown, by its file's time."""
        path = self.follower.path if self.follower.following else None
        try:
            return max(time.time() - path.stat().st_mtime, 0.0) if path else None
        except OSError:
            return None

    @on(SessionChanged)
    def refresh_view(self) -> None:
        runbook, state = self.view.runbook, self.view.state
        self.refresh_header()
        self._show_halt()
        self.app.set_class(state.halt is not None, "-halted")
        self.query_one(ChecklistTree).update_states(runbook, state)
        self.query_one(GatePanel).show(runbook, state)
        self.query_one(GateReasons).show(runbook, self.overview())
        self._show_runner()
        present, total = self.query_one(EvidencePane).show(runbook, state)
        tab = self.query_one("#tabs", TabbedContent).get_tab("evidence-tab")
        label = f"Evidence (3) · {present}/{total}"
        if str(tab.label) != label:
            tab.label = label
        self.attach_log(state)
        self._show_log_name()
        allowed = [self.check_action(action, ()) for action in self.footer_actions()]
        if allowed != self._allowed:  # the footer is rebuilt on a refresh: only on a change
            self._allowed = allowed
            self.refresh_bindings()
        self.after_refresh()

    def attach_log(self, state: SessionState) -> None:
        """Follow the running step's log; a new run starts the pane over."""
        if self.follower.attach(state):
            self.query_one("#output", OutputLog).clear()

    def footer_actions(self) -> tuple[str, ...]:
        """The actions whose availability follows the session (the footer shows them)."""
        return ("diagnostics",)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "diagnostics":  # only once a halt captured some
            return self.overview().allows(action)
        return True

    def damaged_logs(self) -> dict[str, str]:
        """Step -> what is wrong with its log, for the phase table (a mirror checks them;
        the operator's own logs are checked by `cockpit verify`)."""
        return {}

    def after_refresh(self) -> None:
        """What a screen built on this one adds to a redraw."""

    def _show_last_output(self, keep: int = 500) -> None:
        """On opening (a resume), the latest step's last lines: often the line that halted."""
        if self.view.running() is not None:
            return
        done = [s for s in self.view.state.steps.values() if s.log and s.started_at]
        if not done:
            return
        latest = max(done, key=lambda s: s.started_at or "")
        tail = LogTail(session_file(self.view.folder, latest.log or ""))
        self.query_one("#output", OutputLog).write_lines(tail.last(keep))
        self.query_one(PhaseRunner).show_log(self._in_session(tail.path), latest.lines or 0)

    def _in_session(self, path: Path) -> str:
        """A log as the session names it (`steps/upgrade.1.log`): short, and the evidence."""
        folder = self.view.folder
        return path.relative_to(folder).as_posix() if path.is_relative_to(folder) else str(path)

    def _show_log_name(self) -> None:
        if self.follower.path is not None:
            self.query_one(PhaseRunner).show_log(self._in_session(self.follower.path),
                                                 self.follower.lines)

    def tick(self) -> None:
        """Feed the log pane in batches, then take in what happened."""
        self.feed_log()
        self.take_in()

    def feed_log(self) -> None:
        if not self.follower.following:
            return
        progress = self.follower.progress
        flagged = len(progress.unexpected) if progress else 0
        lines = self.follower.pump(self.view.state, KEEP_LINES)
        self.show_output(lines, progress.unexpected[flagged:] if progress else [],
                         len(progress.path) if progress else 0)

    def show_output(self, lines: list[str], unexpected: list[str], expected: int) -> None:
        """Lines for the log pane, and a revision off the upgrade's path told at once,
        loudly (`expected`: how many the path holds)."""
        if unexpected:
            self.notify(f"Revision {unexpected[-1]} is not on the upgrade's path "
                        f"({expected} expected)", title="UNEXPECTED REVISION",
                        severity="error", timeout=30, markup=False)
            self.refresh_header()
        if lines:
            self.query_one("#output", OutputLog).write_lines(lines)
            self._show_log_name()

    def take_in(self) -> None:
        """Take in what another process appended (a mirror: the operator's events). The
        operator's screen instead asks its controller, in a worker, to notice a step's end."""
        self.view.catch_up()

    # ------------------------------------------------------------------ reading

    def action_diagnostics(self) -> None:
        folder = self.view.folder

        def read(name: str) -> Any:
            return json.loads((folder / name).read_text(encoding="utf-8"))

        self.app.push_screen(TextScreen("Halt diagnostics", diagnostics_text(
            self.view.state.diagnostics, read)))

    def action_tab(self, tab: str) -> None:
        self.query_one("#tabs", TabbedContent).active = tab

    def help_lines(self) -> list[str]:
        """The keys, for the help screen: what this screen adds, then what every one has."""
        return [*self.help_intro(), *READ_KEYS, f"  q   {self.QUIT_HELP}", "",
                "In the header, ✉ N undelivered: notifications ([[notify]]) not yet delivered; "
                "they are tried again, and after the cockpit closes `cockpit notify SESSION "
                "--flush` sends them (docs/notify.md)."]

    def help_intro(self) -> list[str]:
        return []

    def action_help(self) -> None:
        self.app.push_screen(TextScreen("Keys", "\n".join(self.help_lines())))

    @on(Tree.NodeHighlighted, "#checklist")
    def show_item_text(self, event: Tree.NodeHighlighted[Any]) -> None:
        item = event.node.data
        try:
            text = item_text(item, self.view.runbook) if item is not None else None
        except TypeError:  # a code block or verbatim text: its tree label says it
            text = None
        line = self.query_one("#item-text", Static)
        line.display = event.node.parent is not None  # not the root (old or new)
        line.update(Text(text if text is not None else str(event.node.label)))

    @on(Tree.NodeSelected, "#checklist")
    def show_item(self, event: Tree.NodeSelected[Any]) -> None:
        item = event.node.data
        if item is not None and not event.node.children:
            self.app.push_screen(TextScreen(item.id, self.query_one(ChecklistTree).detail(
                self.view.runbook, self.view.state, item, self.view.folder)))
