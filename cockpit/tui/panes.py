"""The cockpit's panes: each shows one part of the session and is told what to show by the
app (attributes down); none of them decides anything. The Phase pane is in runner.py."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual.widgets import Static

from cockpit.evidence.manifest import evidence_entries
from cockpit.runbook.model import Runbook
from cockpit.runbook.render import item_text
from cockpit.session import rules
from cockpit.session.inert import inert
from cockpit.session.state import SessionState
from cockpit.tui.checklist import STATE_MARKS
from cockpit.tui.inplace import KeyedTable, Row, TextStrip


def shown(text: str) -> str:
    """Session text for a markup string: inert, then escaped — in that order, or the `[` of
    a caret (`^[`) could open a tag with the text after it (`^[b]`)."""
    return escape(inert(text))


def mark(status: str) -> str:
    return STATE_MARKS.get(status, f"· {status}")


def seconds_from(stamp: str, until: str | None = None) -> float:
    """Seconds from `stamp` to `until` (a recorded time) or to now."""
    start = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    end = datetime.fromisoformat(until.replace("Z", "+00:00")) if until else datetime.now(UTC)
    return (end - start).total_seconds()


def _since(stamp: str | None, until: str | None = None) -> str:
    """How long since `stamp` — or, for a session that ended, how long it took."""
    return hms(seconds_from(stamp, until)) if stamp else ""


def hms(seconds: float) -> str:
    """"1:02:03": whole seconds, cut (a clock that ticks, never rounds up)."""
    whole = int(seconds)
    return f"{whole // 3600:d}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _verdict(runbook: Runbook, state: SessionState, overview: rules.Overview) -> str:
    """GO / NO-GO, or the halt and the decision with how far it is signed."""
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
        return "⊘ HALTED" + (f" · {decided}" if decided else "")
    if decided:
        return decided
    return "● GO" if not opened else f"✗ NO-GO ({len(opened)} open)"


def _elapsed(state: SessionState, overview: rules.Overview) -> str:
    """How long the session has run (or took), and the maintenance window's time left."""
    ended_at = state.decision.at if state.decision is not None else None
    elapsed = f" · {'took' if ended_at else 'elapsed'} {_since(state.started_at, ended_at)}"
    window = overview.window_end
    if window is not None and not ended_at:
        left = int((window - datetime.now(UTC)).total_seconds())
        elapsed += (f" · window closes in {left // 3600:d}:{left // 60 % 60:02d}"
                    if left > 0 else " · [b]WINDOW CLOSED[/b]")
    return elapsed


class SessionHeader(TextStrip):
    """Runbook, session, operator, mode, GO / NO-GO and elapsed time, on one strip."""

    def show(self, runbook: Runbook, state: SessionState, mode: str, clock: bool = True,
             banner: str = "", progress: str = "", *, overview: rules.Overview) -> None:
        """`progress`: a running upgrade's count ("upgrade 3/6"), after the verdict."""
        verdict = _verdict(runbook, state, overview)
        elapsed = _elapsed(state, overview) if clock else ""
        lead = f"▌{escape(banner)}▐  " if banner else ""
        # what matters most first: a narrow terminal cuts the line's end
        upgrade = f" · [b]{escape(progress)}[/b]" if progress else ""
        if (still := rules.standstill_text(state)) is not None:  # a person's move next
            upgrade += f" · [b reverse] ⏸ {escape(still)} [/b reverse]"
        if (left := len(rules.undelivered(state))) > 0:  # the people who wait may not know
            upgrade += f" · [b]✉ {left} undelivered[/b]"
        # early on the line, as the verdict is: the clone is never taken for production
        where = f" · environment [b]{escape(state.environment)}[/b]" if state.environment else ""
        self.text = (f"[b]{lead}{escape(runbook.title)}[/b]\n[b]{mode}[/b]{where} · "
                     f"[b]{verdict}[/b]{upgrade}{elapsed} · {escape(state.session_id)} · "
                     f"{escape(state.operator)}@{escape(state.host)}")
        self.set_class(state.halt is not None, "-halted")
        self.set_class(not overview.open_gates and state.halt is None, "-go")


class HaltBanner(TextStrip):
    """When halted: what, where, which line — and the protocol as the work list."""

    GROWS = True

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
                self.text = (
                    f"[b]! INTERRUPTED[/b] {escape(step_id)} (run {escape(step.run or '')}): "
                    f"{shown(step.detail or '')}\n"
                    "  It may or may not have taken effect; it is never run again silently.\n"
                    + ("  Choices: i record what a reconciliation probe showed (passed/failed)"
                       + (" · r run it again (idempotent)" if idempotent else "") + " · x halt"
                       if self.keys else "  The operator records what a reconciliation "
                       "probe showed, or halts."))
            return
        halt = state.halt
        if not whole:
            opened = overview.open_protocol_items
            self.text = (f"[b]⊘ HALTED[/b] · {opened} protocol item(s) open · h: whole · "
                         f"{shown(halt.reason)}")
            return
        self.text = "\n".join(halt_lines(runbook, state, clock, self.keys))


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
    if (target := rules.restore_target(state)) is not None:  # for the DBA's PITR decision
        lines.append(f"  {plain(target)}")
    lines += [f"  {plain(text)}" for text in rules.committed_lines(state)]
    lines += [f"  {plain(text)}" for text in rules.halt_leaves_lines(runbook, state)]
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


class DamageBanner(TextStrip):
    """The mirror's: what it read that is not as recorded. Shown, never repaired."""

    GROWS = True

    def show(self, events: str | None, logs: Mapping[str, str]) -> None:
        self.display = events is not None or bool(logs)
        lines = []
        if events is not None:
            lines.append(f"[b]✗ EVENT LOG DAMAGED[/b]: {escape(events)}")
            lines.append("  Shown as the session stood before that line; nothing past it is "
                         "followed. `cockpit verify` names every mismatch.")
        lines += [f"[b]✗ LOG DAMAGED[/b] {escape(step)}: {escape(problem)}"
                  for step, problem in logs.items()]
        self.text = "\n".join(lines)


class GatePanel(KeyedTable):
    """Each hard gate, setup check and script pin, with its state and evidence."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns("state", "gate", "evidence")

    def show(self, runbook: Runbook, state: SessionState) -> None:
        self.show_rows([*_gate_rows(runbook, state), *_setup_rows(runbook, state),
                        *_script_rows(runbook, state)])


def _gate_rows(runbook: Runbook, state: SessionState) -> list[Row]:
    rows: list[Row] = []
    for gate in rules.gates(runbook):
        s = state.gates.get(gate.id)
        evidence = _gate_hint(gate, state) if s is None else (s.detail or "") \
            if s.status == "failed" else (s.reference or s.detail or "")
        rows.append((gate.id, mark(s.status if s else "open"),
                     Text(item_text(gate, runbook)), Text(inert(str(evidence)))))
    return rows


def _setup_rows(runbook: Runbook, state: SessionState) -> list[Row]:
    rows: list[Row] = []
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
    return rows


def _script_rows(runbook: Runbook, state: SessionState) -> list[Row]:
    rows: list[Row] = []
    for path in rules.pinned_scripts(runbook):
        s = state.scripts.get(path)
        rows.append((f"script:{path}", mark(s.status if s else "open"),
                     Text(f"script {path}"),
                     Text(inert(s.detail or "") if s else "sha256 checked with g")))
    return rows


class GateReasons(Static):
    """Why each failed gate, setup item or script failed, in full (the table's evidence
    column is beyond the pane's edge with a long item text), and each warning or note a
    passed setup check gave."""

    def show(self, runbook: Runbook, overview: rules.Overview) -> None:
        texts = {gate.id: item_text(gate, runbook) for gate in rules.gates(runbook)}
        texts |= {check.id: item_text(check, runbook) for check in rules.setup_checks(runbook)}
        lines = [Text.assemble(("✗ ", "bold"), (texts.get(f.key, f.name), "bold"), "\n  ",
                               inert(f.detail or "failed"))
                 for f in overview.failed_checks]
        lines += [Text.assemble(("! ", "bold"), (texts.get(key, key), "bold"), "\n  ",
                                inert(note))
                  for key, note in overview.setup_notes]
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


class EvidencePane(KeyedTable):
    """The evidence pack: n of N present, each with size and hash, missing ones named."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns("state", "file", "size", "sha256", "produced by")

    def show(self, runbook: Runbook, state: SessionState) -> tuple[int, int]:
        """The pack as the session's events tell it (no file is read on the screen's
        thread); returns how many files are present, of how many."""
        rows: list[Row] = []
        entries = evidence_entries(runbook, state)
        ids = [i.id for i in (runbook.evidence.items if runbook.evidence else [])
               if i.kind == "file"]
        for item_id, entry in zip(ids, entries, strict=True):
            size = f"{entry.size:,}" if entry.present and entry.size is not None else "—"
            rows.append((item_id, mark("passed" if entry.present else "open"),
                         Text(entry.name), size, (entry.sha256 or "")[:16],
                         Text(entry.produced_by)))
        self.show_rows(rows)
        return sum(entry.present for entry in entries), len(entries)
