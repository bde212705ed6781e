"""The Phase pane: the current phase's steps in a keyed table, the abort rules watched, the
running step's clocks and the lock radar, above its streamed output. It is told what to show
by one RunnerView (attributes down) and decides nothing."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical

from cockpit.runbook.model import (
    AbortWatch,
    CommandStep,
    Phase,
    PhaseItem,
    Runbook,
    duration_seconds,
)
from cockpit.runbook.render import item_text
from cockpit.session import rules, timing
from cockpit.session.progress import UpgradeProgress
from cockpit.session.state import SessionState, StepState
from cockpit.tui.inplace import KeyedTable, Row, TextStrip
from cockpit.tui.output_log import OutputLog
from cockpit.tui.panes import hms, mark, seconds_from

WINDOW_LOCKS = {"closed": "MAINTENANCE WINDOW CLOSED: no command may start",
                "before": "MAINTENANCE WINDOW NOT YET OPEN: no command may start"}


@dataclass(frozen=True)
class RunnerView:
    """What the Phase pane shows, in one value: the session, and what the screen knows of
    the running step beside it."""

    runbook: Runbook
    state: SessionState
    overview: rules.Overview  # what the rules make of the session, read once per redraw
    clock: bool = True  # False: no clock is shown (snapshots, tests)
    damaged: Mapping[str, str] = field(default_factory=dict)  # step -> what is wrong
    quiet_s: float | None = None  # how long the running log has not grown (None: unknown)
    progress: UpgradeProgress | None = None  # a running upgrade's revisions counted off
    radar: str = ""  # the lock radar's last look at the running step's sessions
    forecast: timing.Forecast | None = None  # against the linked rehearsal's times
    standstill: list[str] = field(default_factory=list)  # a hold's or pause's revision, weighed


def running_parts(step: Any, s: StepState, quiet_s: float | None) -> tuple[list[str], bool]:
    """A running step's clocks: how long it has run (of its timeout), how long since its
    last output, a cancel asked; and whether it is past half its timeout (amber)."""
    elapsed = max(seconds_from(s.started_at), 0.0) if s.started_at else 0.0
    limit = duration_seconds(step.timeout) if getattr(step, "timeout", None) else None
    parts = [f"running {hms(elapsed)}" + (f" of {step.timeout}" if limit else "")]
    if quiet_s is not None:
        parts.append(f"last output {hms(quiet_s)} ago")
    if s.cancel_asked:
        parts.append("cancelling")
    return parts, bool(limit and elapsed > limit / 2)


def running_style(amber: bool, surprised: bool) -> str:
    """Red once a revision the path did not hold has started; amber past half the timeout
    — the operator's cue to look."""
    return "bold red" if surprised else "bold yellow" if amber else ""


def shown_phase(runbook: Runbook, state: SessionState, overview: rules.Overview) -> Phase:
    """The phase of the running step, else of the next one, else the last."""
    running = state.running_step()
    if running:
        return next(p for p in runbook.phases if any(s.id == running for s in p.steps))
    upcoming = overview.upcoming
    return upcoming.phase if upcoming else runbook.phases[-1]


def _running(view: RunnerView, step: PhaseItem, s: StepState) -> tuple[Text, Text]:
    """A running step's cell (its clock) and its strip (the rest, whole)."""
    parts, amber = running_parts(step, s, view.quiet_s) if view.clock else (["running"], False)
    progress, forecast = view.progress, view.forecast
    counted = progress.text(time.monotonic()) if progress else ""
    if forecast is not None:  # beside its rehearsal's time; SLOW past twice
        parts += [t for t in (timing.running_text(forecast), timing.forecast_text(forecast))
                  if t]
        amber = amber or forecast.slow
    style = running_style(amber, bool(progress and progress.unexpected))
    # revisions first: what a narrow pane cuts is the end
    detail = Text(" · ".join(filter(None, [f"◐ {step.id}", counted, *parts])), style=style)
    return Text(parts[0], style=style), detail


def _result(view: RunnerView, step: PhaseItem) -> tuple[Text, Text | None]:
    """A step's result cell, and the running strip's text if it is the running one."""
    s = view.state.steps.get(step.id)
    if s is None:
        return Text(""), None
    result, detail = Text(""), None
    if s.exit_code is not None:
        result = Text(f"exit {s.exit_code}, {s.lines:,} line{'' if s.lines == 1 else 's'}")
    elif s.observed is not None or s.expected is not None:
        result = Text(f"expected {s.expected!r}, observed {s.observed!r}")
    if s.status == "running":  # the cell: its clock; the strip: the rest
        result, detail = _running(view, step, s)
    elif s.status in ("held", "paused") and s.stopped_before:  # a person's move next
        still = rules.standstill_text(view.state) or ""
        result = Text(f"⏸ {still}", style="bold reverse")
        detail = Text(" · ".join([f"⏸ {step.id} {still}", *view.standstill]),
                      style="bold yellow")
    elif s.status == "retry_wait" and s.retry is not None:  # a lock timeout, tried again
        said = rules.retry_text(view.state, s.retry, datetime.now(UTC))
        result = Text(f"↻ attempt {s.retry.attempt} of {s.retry.of}", style="bold yellow")
        detail = Text(f"↻ {step.id} {said} (lock timeout)", style="bold yellow")
    if step.id in view.damaged:
        result = Text.assemble("✗ LOG DAMAGED · ", result)
    return result, detail


def _watch_line(view: RunnerView, phase: Phase) -> str:
    """The phase, whether anything may start, and the abort rules its steps watch."""
    runbook, state = view.runbook, view.state
    watched = sorted({r for step in phase.steps if isinstance(step, CommandStep)
                      for r in rules.watched_rules(runbook, step)})
    labels = [rule.label for r in watched if (rule := runbook.abort_rule(r))]
    locked = "▣ LOCKED until every gate is green · " if view.overview.open_gates else ""
    window = view.overview.window_state
    if not locked and state.halt is None and not state.ended and window in WINDOW_LOCKS:
        locked = f"▣ {WINDOW_LOCKS[window]} · "
    return (f"{locked}[b]{escape(phase.heading)}[/b]   abort rules watched: "
            + (escape(", ".join(labels)) if labels else "none"))


class PhaseRunner(Vertical):
    """The current phase's steps, the abort rules watched, and the running step's output."""

    def compose(self) -> ComposeResult:
        yield KeyedTable(id="steps", cursor_type="row")
        yield TextStrip(id="running", markup=False)
        yield TextStrip(id="watch")
        yield TextStrip(id="radar", markup=False)
        yield TextStrip(id="logline", markup=False)
        yield OutputLog(id="output", max_lines=5000, highlight=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.step_rows: list[Row] = []  # the steps' rows, whole (the table's are cut to fit)

    def on_mount(self) -> None:
        self.query_one("#steps", KeyedTable).add_columns("state", "step", "result")

    def show(self, view: RunnerView) -> Phase:
        """Show the phase `view`'s session stands in; returns it."""
        phase = shown_phase(view.runbook, view.state, view.overview)
        rows: list[Row] = []
        detail = Text("")
        for step in phase.steps:
            if step.kind in ("code", "text"):
                continue
            result, running = _result(view, step)
            detail = running or detail
            rows.append((step.id, mark(rules.item_status(view.runbook, view.state, step)),
                         item_text(step, view.runbook), result))
        self.step_rows = rows
        self.query_one("#steps", KeyedTable).show_rows(self._fitted(rows))
        self.query_one("#watch", TextStrip).text = _watch_line(view, phase)
        # the running step's time, quiet time and revisions, whole: the table's cell would
        # cut them on a narrow pane
        self._strip("#running", detail.plain, str(detail.style))
        self._strip("#radar", view.radar)
        self.set_class(any(isinstance(s, AbortWatch) for s in phase.steps), "-watched")
        return phase

    def _strip(self, selector: str, text: str, style: str = "") -> None:
        strip = self.query_one(selector, TextStrip)
        strip.strip_style, strip.text = style, text
        strip.display = bool(text)

    def on_resize(self) -> None:
        if self.step_rows:
            self.query_one("#steps", KeyedTable).show_rows(self._fitted(self.step_rows))

    def _fitted(self, rows: list[Row]) -> list[Row]:
        """The step's text cut so its result (a running step's time and revisions) stays
        in view: a long command would push that column off the pane."""
        width = self.size.width or 60  # before the first layout: a narrow guess
        states = max((len(state) for _, state, _, _ in rows), default=10)
        results = max((result.cell_len for *_, result in rows), default=0)
        room = max(width - states - results - 10, 24)  # the cells' padding, a scroll bar
        return [(key, state, Text(text if len(text) <= room else text[:room - 1] + "…"),
                 result) for key, state, text, result in rows]

    def show_log(self, name: str | None, lines: int) -> None:
        text = f"log {name} · {lines:,} lines" if name else "no step has run in this phase yet"
        self.query_one("#logline", TextStrip).text = text
