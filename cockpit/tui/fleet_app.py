"""The fleet board: a row per target (wave, phase, progress k of N, radar, outcome), the
waves' totals, the next action and the fleet's own lines. On the operator's board the fleet
is driven by a worker thread; the GO (g), a wave's approval (a) and a reviewer's
countersignature (k) are typed here, and targets that waited for a person are sent again
(r). A mirror's board (`cockpit mirror FLEET`) has none of those keys. Enter (or o) opens
the selected target's own session, read-only, as `cockpit mirror` shows it. Everything
shown is worked out in cockpit/fleet/board.py; this only draws it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, RichLog, Static

from cockpit.engine.setup import environment_secrets
from cockpit.errors import EXIT_BLOCKER, EXIT_REFUSED, CockpitError
from cockpit.fleet.approvals import TypedApprovals, go_words
from cockpit.fleet.board import Board, BoardReader
from cockpit.fleet.driver import FleetDriver
from cockpit.fleet.folder import ledger_folder, target_folder
from cockpit.fleet.ledger import fold_fleet
from cockpit.fleet.opening import keep_countersignature
from cockpit.fleet.statements import pending_subject
from cockpit.fleet.status import event_line
from cockpit.resources import styles_dir
from cockpit.session.inert import inert
from cockpit.session.layout import EVENTS
from cockpit.session.redact import Redactor
from cockpit.session.store import read_event_log
from cockpit.tui.screens import AskText

COLUMNS = ("target", "wave", "phase", "progress", "radar", "outcome")
READ_S = 0.5
MIRROR_MARK = "MIRROR — READ-ONLY"


@dataclass
class FleetControl:
    """What the operator's board drives: the fleet's driver and the approvals it asks."""

    driver: FleetDriver
    approvals: TypedApprovals


class FleetApp(App[int]):
    CSS_PATH: ClassVar = [styles_dir() / "cockpit.tcss"]
    TITLE = "Cutover Cockpit — fleet"
    BINDINGS: ClassVar = [
        Binding("g", "go", "GO"),
        Binding("a", "approve_wave", "approve wave"),
        Binding("k", "attach", "attach countersignature"),
        Binding("r", "send_again", "send waiting targets again"),
        Binding("o", "open_target", "open target"),
        Binding("q", "quit_board", "quit"),
    ]

    def __init__(self, folder: Path, control: FleetControl | None = None) -> None:
        super().__init__()
        self.folder = folder
        self.control = control
        self.reader = BoardReader(folder)
        self.board: Board | None = None
        self.code = EXIT_REFUSED
        self.driving = False  # the driver's worker runs
        self.again = False  # an approval came while it ran: drive again once it returns

    def compose(self) -> ComposeResult:
        yield Static("", id="fleet-header", markup=False)
        yield Static("", id="fleet-waves", markup=False)
        yield DataTable(id="fleet-targets", cursor_type="row", zebra_stripes=True)
        yield Static("", id="next", markup=False)
        yield RichLog(id="fleet-log", max_lines=2000, wrap=True, markup=False)
        yield Footer()

    def _fatal_error(self) -> None:
        """Textual's crash screen prints local variables, DSNs among them: print the error's
        kind and its message instead, every password of this environment masked."""
        error = sys.exc_info()[1]
        redactor = Redactor(environment_secrets(os.environ))
        text = redactor.describe(error) if error is not None else "unknown error"
        self._exit_renderables.append(f"cockpit: internal error: {text}")
        self._close_messages_no_wait()

    def on_mount(self) -> None:
        if self.control is None:
            self.add_class("-mirror")
        table = self.query_one("#fleet-targets", DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name)
        for event in read_event_log(ledger_folder(self.folder) / EVENTS).events:
            self.say(event_line(event))  # the fleet so far, then what happens from here
        self.read_board()
        self.set_interval(READ_S, self.read_board)
        if self.control is not None:
            self.control.driver.out = self.say_from_thread
            self.drive()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("go", "approve_wave", "attach", "send_again"):
            # a mirror has no verb, and an ended fleet none left
            ended = self.board is not None and self.board.state.ended is not None
            return self.control is not None and not ended
        return True

    # ------------------------------------------------------------------ reading

    @work(thread=True, exclusive=True, group="read")
    def read_board(self) -> None:
        try:
            board = self.reader.read(operator=self.control is not None)
        except CockpitError as exc:
            self.call_from_thread(self.say, f"the ledger cannot be read: {exc.message}")
            return
        self.call_from_thread(self.show, board)

    def show(self, board: Board) -> None:
        self.board = board
        header = board.header if self.control is not None else f"{MIRROR_MARK} · {board.header}"
        self.query_one("#fleet-header", Static).update(header)
        self.query_one("#fleet-waves", Static).update("\n".join(board.waves))
        self.query_one("#next", Static).update(board.next)
        table = self.query_one("#fleet-targets", DataTable)
        for row in board.rows:
            cells = (row.name, row.wave, row.phase, row.progress, inert(row.radar)[:60],
                     row.outcome)
            if row.name in table.rows:
                for column, value in zip(COLUMNS, cells, strict=True):
                    table.update_cell(row.name, column, value, update_width=True)
            else:
                table.add_row(*cells, key=row.name)

    def say(self, line: str) -> None:
        self.query_one("#fleet-log", RichLog).write(inert(line))

    def say_from_thread(self, line: str) -> None:
        self.call_from_thread(self.say, line)

    # ------------------------------------------------------------------ driving

    def drive(self) -> None:
        """The driver, run again: an approval typed while it was still busy is taken once
        it returns (it asks for each at its turn)."""
        if self.control is None:
            return
        if self.driving:
            self.again = True
            return
        self.driving, self.again = True, False
        self._drive()

    @work(thread=True, exclusive=True, group="drive")
    def _drive(self) -> None:
        assert self.control is not None
        try:
            code = self.control.driver.drive()
        except CockpitError as exc:
            self.call_from_thread(self.say, exc.message)
            code = exc.exit_code
        self.call_from_thread(self.driven, code)

    def driven(self, code: int) -> None:
        self.driving = False
        self.code = code
        self.read_board()
        if self.again:
            self.drive()

    def action_go(self) -> None:
        state = self.board.state if self.board else None
        if self.control is None or state is None or state.go is not None:
            return
        if pending_subject(state) is not None:
            self.notify("the GO waits for a reviewer's countersignature first (k)")
            return
        assert state.started is not None
        words = go_words(state.started.targets_sha256)
        prompt = (f"{len(state.targets)} targets in {len(state.started.waves)} waves, targets "
                  f"file sha256 {state.started.targets_sha256}. Type {words} to approve it.")
        self.push_screen(AskText("Approve the fleet's GO", prompt, must_equal=words),
                         self._went)

    def _went(self, typed: str | None) -> None:
        if typed and self.control is not None:
            self.control.approvals.go_typed = typed
            self.drive()

    def action_approve_wave(self) -> None:
        state = self.board.state if self.board else None
        if self.control is None or state is None or state.started is None:
            return
        wave = next((w.name for w in state.started.waves if w.name not in state.waves_started),
                    None)
        if state.go is None:
            self.notify("the fleet's GO comes first (g)")
            return
        if wave is None:
            self.notify("every wave has started")
            return
        if pending_subject(state) is not None:
            self.notify(f"wave {wave} waits for a reviewer's countersignature first (k)")
            return
        prompt = f"Type {wave} to start wave {wave}."
        self.push_screen(AskText(f"Approve wave {wave}", prompt, must_equal=wave),
                         lambda typed: self._approved(wave, typed))

    def _approved(self, wave: str, typed: str | None) -> None:
        if typed and self.control is not None:
            self.control.approvals.waves[wave] = typed
            self.drive()

    def action_attach(self) -> None:
        started = self.board.state.started if self.board else None
        if self.control is None or started is None:
            return
        if not started.countersign:
            self.notify("this fleet asks for no countersignature (countersign = true in its "
                        "targets file would)")
            return
        self.push_screen(AskText("Attach a countersignature",
                                 "The file `cockpit countersign` wrote (its path):"),
                         self._attached_file)

    def _attached_file(self, path: str | None) -> None:
        if not path or self.control is None:
            return
        driver = self.control.driver
        try:
            raw = Path(path).expanduser().read_bytes()
            with driver.turn:  # one writer of the ledger at a time
                said = keep_countersignature(self.folder, driver.store, driver.actor, raw,
                                             path)
                driver.state = fold_fleet(driver.store.events)
            self.drive()
        except OSError as exc:
            said = f"{path}: cannot be read ({exc.strerror})"
        except CockpitError as exc:
            said = exc.message
        self.say(said)
        self.read_board()

    def action_send_again(self) -> None:
        """The targets that waited for a person, sent again (their sessions resumed)."""
        if self.control is None:
            return
        self.control.driver.send_again()
        self.drive()

    def action_open_target(self) -> None:
        table = self.query_one("#fleet-targets", DataTable)
        if table.row_count == 0:
            return
        name = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        folder = target_folder(self.folder, name)
        if not (folder / EVENTS).is_file():
            self.notify(f"{name} has no session yet")
            return
        with self.suspend():  # the target's own session screen, read-only, then back
            subprocess.run([sys.executable, "-m", "cockpit", "mirror", str(folder)],
                           check=False)

    @on(DataTable.RowSelected)
    def selected(self) -> None:
        self.action_open_target()

    def action_quit_board(self) -> None:
        state = self.board.state if self.board else None
        if self.control is None or state is None:
            self.exit(return_code=0)
            return
        self.control.driver.stopping = True
        if state.ended is not None:
            self.exit(return_code=0 if state.ended.status == "PASS" else EXIT_BLOCKER)
            return
        running = [t.name for t in state.targets.values() if t.running]
        going = (f"{', '.join(running)} go on by themselves; " if running else "")
        self.exit(return_code=EXIT_REFUSED, message=(
            f"the board closed before the fleet ended: {going}nothing more is sent until "
            f"`cockpit fleet resume {self.folder}`"))
