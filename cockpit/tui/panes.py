"""The cockpit's panes: each shows one part of the session and is told what to show by the
app (attributes down); none of them decides anything."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from cockpit.evidence.manifest import evidence_entries
from cockpit.runbook.model import AbortWatch, CommandStep, Phase, Runbook, duration_seconds
from cockpit.runbook.render import item_text
from cockpit.session import rules, timing
from cockpit.session.inert import inert
from cockpit.session.progress import UpgradeProgress
from cockpit.session.state import SessionState
from cockpit.tui.checklist import STATE_MARKS
from cockpit.tui.output_log import OutputLog

WINDOW_LOCKS = {"closed": "MAINTENANCE WINDOW CLOSED: no command may start",
                "before": "MAINTENANCE WINDOW NOT YET OPEN: no command may start"}


def shown(text: str) -> str:
    """Session text for a markup string: inert, then escaped — in that order, or the `[` of
    a caret (`^[`) could open a tag with the text after it (`^[b]`)."""
    return escape(inert(text))


def mark(status: str) -> str:
    return STATE_MARKS.get(status, f"· {status}")


def _seconds(stamp: str, until: str | None = None) -> float:
    """Seconds from `stamp` to `until` (a recorded time) or to now."""
    start = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    end = datetime.fromisoformat(until.replace("Z", "+00:00")) if until else datetime.now(UTC)
    return (end - start).total_seconds()


def _since(stamp: str | None, until: str | None = None) -> str:
    """How long since `stamp` — or, for a session that ended, how long it took."""
    return _clock(_seconds(stamp, until)) if stamp else ""


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:d}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _running_parts(step: Any, s: Any, quiet_s: float | None) -> tuple[list[str], bool]:
    """A running step's clocks: how long it has run (of its timeout), how long since its
    last output, a cancel asked; and whether it is past half its timeout (amber)."""
    elapsed = max(_seconds(s.started_at), 0.0) if s.started_at else 0.0
    limit = duration_seconds(step.timeout) if getattr(step, "timeout", None) else None
    parts = [f"running {_clock(elapsed)}" + (f" of {step.timeout}" if limit else "")]
    if quiet_s is not None:
        parts.append(f"last output {_clock(quiet_s)} ago")
    if s.cancel_asked:
        parts.append("cancelling")
    return parts, bool(limit and elapsed > limit / 2)


def _running_style(amber: bool, surprised: bool) -> str:
    """Red once a revision the path did not hold has started; amber past half the timeout
    — the operator's cue to look."""
    return "bold red" if surprised else "bold yellow" if amber else ""


def redraw(widget: Static, text: str, markup: bool = True, layout: bool = False) -> None:
    """Repaint a strip only when its text changed. A pane is redrawn on every event and a
    clock tick; repainting what did not change (and a layout pass, which repaints the whole
    screen) is most of what ten mirrors would cost the operator's machine. `layout` only for
    a strip whose height follows its text."""
    if getattr(widget, "_drawn", None) != text:
        widget._drawn = text  # type: ignore[attr-defined]
        widget.update(text if markup else Text(inert(text)), layout=layout)


def fill(table: DataTable, rows: list[tuple[Any, ...]]) -> None:
    """Rebuild a table from (key, *cells) rows, keeping its cursor row; nothing is done
    when the rows are what it already shows (a rebuild is a layout of the screen)."""
    if getattr(table, "_filled", None) == rows:
        return
    table._filled = rows  # type: ignore[attr-defined]
    cursor = table.cursor_row
    table.clear()
    for key, *cells in rows:
        table.add_row(*cells, key=key)
    if table.row_count:
        table.move_cursor(row=min(max(cursor, 0), table.row_count - 1))


class SessionHeader(Static):
    """Runbook, session, operator, mode, GO / NO-GO and elapsed time, on one strip."""

    def show(self, runbook: Runbook, state: SessionState, mode: str, clock: bool = True,
             banner: str = "", progress: str = "", *, overview: rules.Overview) -> None:
        """`progress`: a running upgrade's count ("upgrade 3/6"), after the verdict."""
        opened = overview.open_gates
        decided = f"■ {state.decision.status}" if state.decision is not None else ""
        waiting = overview.awaiting_countersign
        if waiting is not None:  # decided, and not yet by four eyes
            decided += f" · AWAITING COUNTERSIGN ({waiting[0]} of {waiting[1]})"
        elif decided and rules.countersignatures_required(runbook):
            decided += " · countersigned"
        elif decided and rules.operator_signed(state):
            decided += " · signed"
        if state.halt is not None:
            verdict = "⊘ HALTED" + (f" · {decided}" if decided else "")
        elif decided:
            verdict = decided
        else:
            verdict = "● GO" if not opened else f"✗ NO-GO ({len(opened)} open)"
        ended_at = state.decision.at if state.decision is not None else None
        elapsed = (f" · {'took' if ended_at else 'elapsed'} "
                   f"{_since(state.started_at, ended_at)}" if clock else "")
        window = overview.window[1] if overview.window else None
        if window is not None and clock and not ended_at:
            left = int((window - datetime.now(UTC)).total_seconds())
            elapsed += (f" · window closes in {left // 3600:d}:{left // 60 % 60:02d}"
                        if left > 0 else " · [b]WINDOW CLOSED[/b]")
        lead = f"▌{escape(banner)}▐  " if banner else ""
        # what matters most first: a narrow terminal cuts the line's end
        upgrade = f" · [b]{escape(progress)}[/b]" if progress else ""
        # early on the line, as the verdict is: the clone is never taken for production
        where = f" · environment [b]{escape(state.environment)}[/b]" if state.environment else ""
        redraw(self, f"[b]{lead}{escape(runbook.title)}[/b]\n[b]{mode}[/b]{where} · "
               f"[b]{verdict}[/b]{upgrade}{elapsed} · {escape(state.session_id)} · "
               f"{escape(state.operator)}@{escape(state.host)}")
        self.set_class(state.halt is not None, "-halted")
        self.set_class(not opened and state.halt is None, "-go")


class HaltBanner(Static):
    """When halted: what, where, which line — and the protocol as the work list."""

    def __init__(self, *args: Any, keys: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keys = keys  # the operator's keys; a mirror has none to offer

    def show(self, runbook: Runbook, state: SessionState, clock: bool = True,
             whole: bool = True, *, overview: rules.Overview) -> None:
        """`whole`: every line; else the first, and how to see the rest (a small screen)."""
        interrupted = {k: s for k, s in state.steps.items() if s.status == "interrupted"}
        self.display = state.halt is not None or bool(interrupted)
        self.set_class(state.halt is None and bool(interrupted), "-interrupted")
        self.set_class(state.halt is not None and not whole, "-line")
        if state.halt is None:
            if interrupted:
                step_id, step = next(iter(interrupted.items()))
                idempotent = any(s.id == step_id and getattr(s, "rerunnable", False)
                                 for p in runbook.phases for s in p.steps)
                redraw(self, layout=True, text=(
                    f"[b]! INTERRUPTED[/b] {escape(step_id)} (run {escape(step.run or '')}): "
                    f"{shown(step.detail or '')}\n"
                    "  It may or may not have taken effect; it is never run again silently.\n"
                    + ("  Choices: i record what a reconciliation probe showed (passed/failed)"
                       + (" · r run it again (idempotent)" if idempotent else "") + " · x halt"
                       if self.keys else "  The operator records what a reconciliation "
                       "probe showed, or halts.")))
            return
        halt = state.halt
        if not whole:
            opened = overview.open_protocol_items
            redraw(self, layout=True, text=(
                f"[b]⊘ HALTED[/b] · {opened} protocol item(s) open · h: whole · "
                f"{shown(halt.reason)}"))
            return
        lines = halt_lines(runbook, state, clock, self.keys)
        redraw(self, "\n".join(lines), layout=True)


def halt_lines(runbook: Runbook, state: SessionState, clock: bool, keys: bool,
               markup: bool = True) -> list[str]:
    """The halt and its whole protocol, then the rollback plan, a line each: the banner's
    (`markup`), or plain text for a page of its own (a small screen)."""
    halt = state.halt
    assert halt is not None
    quote = shown if markup else inert
    lead = "[b]⊘ HALTED[/b]" if markup else "⊘ HALTED"
    plain = escape if markup else str
    when = f" at {halt.at}" if clock else ""
    lines = [f"{lead} by {halt.by}{when}: {quote(halt.reason)}"]
    if halt.line:
        lines.append(f"  line: {quote(halt.line)}")
    for item in runbook.protocol_items():  # the halt protocol, then the rollback plan
        done = state.halt_items.get(item.id)
        text = item_text(item, runbook)
        lines.append(f"  {'✓ done' if done else '○ open'}  {plain(text)}"
                     + (f" — {plain(done.note)}" if done and done.note else ""))
    if state.decision is not None:
        lines.append(f"  Decision recorded: {plain(state.decision.status)}. "
                     "No command can start from this session.")
    elif keys:
        lines.append("  No command can start from this session. Keys: e protocol item, "
                     "D diagnostics, s seal, then d decision.")
    else:
        lines.append("  No command can start from this session; the operator follows the "
                     "protocol and records the decision.")
    return lines


class DamageBanner(Static):
    """The mirror's: what it read that is not as recorded. Shown, never repaired."""

    def show(self, events: str | None, logs: Mapping[str, str]) -> None:
        self.display = events is not None or bool(logs)
        lines = []
        if events is not None:
            lines.append(f"[b]✗ EVENT LOG DAMAGED[/b]: {escape(events)}")
            lines.append("  Shown as the session stood before that line; nothing past it is "
                         "followed. `cockpit verify` names every mismatch.")
        lines += [f"[b]✗ LOG DAMAGED[/b] {escape(step)}: {escape(problem)}"
                  for step, problem in logs.items()]
        redraw(self, "\n".join(lines), layout=True)


class GatePanel(DataTable):
    """Each hard gate, setup check and script pin, with its state and evidence."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns("state", "gate", "evidence")

    def show(self, runbook: Runbook, state: SessionState) -> None:
        rows: list[tuple[Any, ...]] = []
        for gate in rules.gates(runbook):
            s = state.gates.get(gate.id)
            evidence = _gate_hint(gate, state) if s is None else (s.detail or "") \
                if s.status == "failed" else (s.reference or s.detail or "")
            rows.append((gate.id, mark(s.status if s else "open"),
                         Text(item_text(gate, runbook)), Text(inert(str(evidence)))))
        for check in rules.setup_checks(runbook):
            s = state.setup.get(check.id)
            rows.append((check.id, mark(s.status if s else "open"),
                         Text(item_text(check, runbook)),
                         Text(inert(s.detail or "") if s else "checked with g")))
        for line in rules.setup_confirmations(runbook):  # confirmed by hand, required for GO
            s = state.setup.get(line.id)
            rows.append((line.id, mark(s.status if s else "open"), Text(item_text(line, runbook)),
                         Text(inert(f"{s.by} · {s.reference or ''}") if s else
                              "confirm with a (required before GO)")))
        for path in rules.pinned_scripts(runbook):
            s = state.scripts.get(path)
            rows.append((f"script:{path}", mark(s.status if s else "open"),
                         Text(f"script {path}"),
                         Text(inert(s.detail or "") if s else "sha256 checked with g")))
        fill(self, rows)


class GateReasons(Static):
    """Why each failed gate, setup item or script failed, in full (the table's evidence
    column is beyond the pane's edge with a long item text)."""

    def show(self, runbook: Runbook, overview: rules.Overview) -> None:
        texts = {gate.id: item_text(gate, runbook) for gate in rules.gates(runbook)}
        texts |= {check.id: item_text(check, runbook) for check in rules.setup_checks(runbook)}
        lines = [Text.assemble(("✗ ", "bold"), (texts.get(f.key, f.name), "bold"), "\n  ",
                               inert(f.detail or "failed"))
                 for f in overview.failed_checks]
        self.display = bool(lines)
        self.update(Text("\n").join(lines))


def _gate_hint(gate: Any, state: SessionState) -> str:
    if gate.kind == "attestation":
        return f"attest with a: {gate.prompt}"
    if gate.kind == "attestation_file":
        return f"file {gate.path}"
    if gate.probe == rules.REHEARSAL_PROBE and state.rehearsal is not None:
        return f"answered from rehearsal {state.rehearsal.session_id} (g)"
    return "answered by the probe (g)" if not gate.asks_operator() else (
        f"attest with a: {gate.prompt}")


class PhaseRunner(Vertical):
    """The current phase's steps, the abort rules watched, and the running step's output."""

    def compose(self):
        yield DataTable(id="steps", cursor_type="row")
        yield Static(id="running")
        yield Static(id="watch")
        yield Static(id="radar")
        yield Static(id="logline")
        yield OutputLog(id="output", max_lines=5000, highlight=False)

    def on_mount(self) -> None:
        self.query_one("#steps", DataTable).add_columns("state", "step", "result")

    def show(self, runbook: Runbook, state: SessionState, clock: bool = True,
             damaged: Mapping[str, str] | None = None, quiet_s: float | None = None,
             progress: UpgradeProgress | None = None, radar: str = "",
             forecast: timing.Forecast | None = None, *, overview: rules.Overview) -> Phase:
        """`quiet_s`: how long the running step's log has not grown (None: not known);
        `progress`: a running upgrade's revisions counted off; `radar`: the lock radar's
        last look at the running step's sessions."""
        upcoming = overview.upcoming
        running = state.running_step()
        phase = upcoming.phase if upcoming else runbook.phases[-1]
        if running:
            phase = next(p for p in runbook.phases if any(s.id == running for s in p.steps))
        rows: list[tuple[Any, ...]] = []
        detail = Text("")
        for step in phase.steps:
            if step.kind in ("code", "text"):
                continue
            status = rules.item_status(runbook, state, step)
            s = state.steps.get(step.id)
            result = Text("")
            if s is not None:
                if s.exit_code is not None:
                    result = Text(f"exit {s.exit_code}, {s.lines} lines")
                elif s.observed is not None or s.expected is not None:
                    result = Text(f"expected {s.expected!r}, observed {s.observed!r}")
                if s.status == "running":  # the cell: its clock; the strip: the rest
                    parts, amber = _running_parts(step, s, quiet_s) if clock else (
                        ["running"], False)
                    counted = progress.text(time.monotonic()) if progress else ""
                    if forecast is not None:  # beside its rehearsal's time; SLOW past twice
                        parts += [t for t in (timing.running_text(forecast),
                                              timing.forecast_text(forecast)) if t]
                        amber = amber or forecast.slow
                    style = _running_style(amber, bool(progress and progress.unexpected))
                    result = Text(parts[0], style=style)
                    # revisions first: what a narrow pane cuts is the end
                    detail = Text(" · ".join(filter(None, [f"◐ {step.id}", counted, *parts])),
                                  style=style)
                if damaged and step.id in damaged:
                    result = Text.assemble("✗ LOG DAMAGED · ", result)
            rows.append((step.id, mark(status), item_text(step, runbook), result))
        self._rows = rows
        fill(self.query_one("#steps", DataTable), self._fitted(rows))
        watched = sorted({r for step in phase.steps if isinstance(step, CommandStep)
                          for r in rules.watched_rules(runbook, step)})
        labels = [rule.label for r in watched if (rule := runbook.abort_rule(r))]
        locked = "▣ LOCKED until every gate is green · " if overview.open_gates else ""
        window = overview.window_state
        if not locked and state.halt is None and not state.ended and window in WINDOW_LOCKS:
            locked = f"▣ {WINDOW_LOCKS[window]} · "
        redraw(self.query_one("#watch", Static),
               f"{locked}[b]{escape(phase.heading)}[/b]   abort rules watched: "
               + (escape(", ".join(labels)) if labels else "none"))
        # the running step's time, quiet time and revisions, whole: the table's cell would
        # cut them on a narrow pane
        strip = self.query_one("#running", Static)
        if getattr(strip, "_shown", None) != (detail.plain, str(detail.style)):
            strip._shown = (detail.plain, str(detail.style))  # type: ignore[attr-defined]
            strip.update(detail)
        strip.display = bool(detail.plain)
        radar_strip = self.query_one("#radar", Static)
        redraw(radar_strip, radar, markup=False)
        radar_strip.display = bool(radar)
        abort_watch = [s for s in phase.steps if isinstance(s, AbortWatch)]
        self.set_class(bool(abort_watch), "-watched")
        return phase

    def on_resize(self) -> None:
        if getattr(self, "_rows", None):
            fill(self.query_one("#steps", DataTable), self._fitted(self._rows))

    def _fitted(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
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
        redraw(self.query_one("#logline", Static), text, markup=False)


class EvidencePane(DataTable):
    """The evidence pack: n of N present, each with size and hash, missing ones named."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns("state", "file", "size", "sha256", "produced by")

    def show(self, runbook: Runbook, state: SessionState) -> tuple[int, int]:
        """The pack as the session's events tell it (no file is read on the screen's
        thread); returns how many files are present, of how many."""
        rows: list[tuple[Any, ...]] = []
        entries = evidence_entries(runbook, state)
        ids = [i.id for i in (runbook.evidence.items if runbook.evidence else [])
               if i.kind == "file"]
        for item_id, entry in zip(ids, entries, strict=True):
            size = f"{entry.size:,}" if entry.present and entry.size is not None else "—"
            rows.append((item_id, mark("passed" if entry.present else "open"),
                         Text(entry.name), size, (entry.sha256 or "")[:16],
                         Text(entry.produced_by)))
        fill(self, rows)
        return sum(entry.present for entry in entries), len(entries)
