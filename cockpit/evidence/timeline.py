"""The session's timeline as a picture: one self-contained SVG. A row per step that ran (a
bar over its wall time, coloured by outcome, named by its step), a band per phase, each probe
gate's evaluation as a bar over the time its probe took, attestations and confirmations as
markers, the halt as a red line, the rehearsal's durations as ghost bars beside each step's
own, and the lock radar's queue under it when one was recorded.
Pure: events in, SVG text out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from html import escape as html_escape
from pathlib import Path

from cockpit.runbook.model import Runbook
from cockpit.session import records
from cockpit.session.events import Event
from cockpit.session.inert import inert
from cockpit.session.layout import session_file
from cockpit.session.timing import parse_at

WIDTH, LABELS, ROW, TOP = 1100, 300, 22, 34
COLOURS = {"passed": "#2e7d32", "failed": "#c62828", "cancelled": "#9e9e9e",
           "interrupted": "#ef6c00", "running": "#1565c0"}


# the kinds of event each part of the picture is drawn from (no other is decoded)
_RUN_ENDS = records.kinds_of(records.StepStarted, records.StepFinished,
                            records.StepInterrupted)
_MARKS = records.kinds_of(records.GateAttested, records.GateEvaluated,
                          records.ManualConfirmed, records.Halted)


@dataclass(frozen=True)
class Bar:
    step: str
    run: str
    phase: str
    start: float  # seconds from the session's start
    end: float
    outcome: str


def escape(text: str) -> str:
    """Text for SVG (XML): escaped, and inert — XML cannot hold a control character (an
    escape sequence in a halt's line), and a person reads it as the other channels show it."""
    return html_escape(inert(text))


def bars(events: list[Event]) -> list[Bar]:
    """Each step run, from its step_started to its end (or the last event: still running)."""
    origin, last = parse_at(events[0].ts), parse_at(events[-1].ts)
    started: dict[str, tuple[str, str, float]] = {}
    found: list[Bar] = []
    for event in events:
        record = records.among(event, _RUN_ENDS)
        offset = (parse_at(event.ts) - origin).total_seconds()
        if isinstance(record, records.StepStarted):
            started[record.run] = (record.step, record.phase or "", offset)
        elif isinstance(record, records.StepFinished | records.StepInterrupted) \
                and record.run in started:
            step, phase, start = started.pop(record.run or "")
            ended = getattr(record, "ended_at", None)  # an interruption's: when it was seen
            end = (parse_at(ended) - origin).total_seconds() if ended else offset
            outcome = ("interrupted" if isinstance(record, records.StepInterrupted) else
                       "passed" if record.ok else "cancelled" if record.cancelled else "failed")
            found.append(Bar(step, record.run or "", phase, start, max(end, start), outcome))
    for run, (step, phase, start) in started.items():
        found.append(Bar(step, run, phase, start, (last - origin).total_seconds(), "running"))
    return sorted(found, key=lambda b: b.start)


def _radar_points(folder: Path, events: list[Event], origin: datetime) -> list[tuple[float, int]]:
    points = []
    for finished in records.of_kind(events, records.StepFinished):
        if finished.radar:
            try:
                lines = session_file(folder, finished.radar).read_text().splitlines()
            except OSError:
                continue
            for line in lines:
                try:
                    sample = json.loads(line)
                    points.append(((parse_at(sample["at"]) - origin).total_seconds(),
                                   int(sample.get("waiting", 0))))
                except (ValueError, KeyError, TypeError):
                    continue
    return sorted(points)


def _colour(ok: bool) -> str:
    return "#2e7d32" if ok else "#c62828"


def _gate_bar(evaluated: records.GateEvaluated, left: float, seconds: float, scale: float,
              top: float, colour: str) -> str:
    """A probe gate's evaluation as a bar over the time its probe took (the risk gate
    renders and lints every revision: seconds, not a moment), its verdict at the end."""
    gate, outcome = escape(evaluated.gate), "passed" if evaluated.ok else "failed"
    width = max(round(seconds * scale, 1), 2)
    took = f"{seconds:.1f}" if seconds >= 1 else f"{seconds:.2f}"
    return (f'<g class="gate" data-gate="{gate}" data-outcome="{outcome}"><title>gate '
            f'{gate}: {outcome} in {took} s</title><rect x="{left}" y="{top + 5}" '
            f'width="{width}" height="12" fill="{colour}" fill-opacity="0.6"/><path d="M'
            f'{round(left + width, 1)} {top + 4} l6 7 l-6 7 l-6 -7 z" fill="{colour}"/></g>')


def timeline_svg(runbook: Runbook, events: list[Event], folder: Path,
                 rehearsed: dict[str, float] | None = None) -> str:
    """The SVG: `rehearsed` (a step's duration in the rehearsal) draws its ghost bars."""
    if not events:
        return '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'
    origin = parse_at(events[0].ts)
    runs = bars(events)
    total = max((parse_at(events[-1].ts) - origin).total_seconds(), 1.0)
    if rehearsed:
        total = max(total, *(b.start + rehearsed.get(b.step, 0.0) for b in runs), 1.0)
    scale = (WIDTH - LABELS - 20) / total

    def x(seconds: float) -> float:
        return round(LABELS + seconds * scale, 1)

    radar = _radar_points(folder, events, origin)
    rows = len(runs) + 2  # the steps, then gates and confirmations
    height = TOP + rows * ROW + (70 if radar else 0) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{WIDTH}" '
           f'height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" '
           'font-size="12">',
           f'<title>{escape(runbook.title)}: the session over wall time</title>',
           f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>']
    for tick in range(0, int(total) + 1, max(1, int(total // 10) or 1)):  # the time axis
        out.append(f'<line x1="{x(tick)}" y1="{TOP - 6}" x2="{x(tick)}" y2="{height - 30}" '
                   'stroke="#eeeeee"/>')
        out.append(f'<text x="{x(tick)}" y="{TOP - 10}" fill="#757575" '
                   f'text-anchor="middle">{tick}s</text>')
    phases: dict[str, list[int]] = {}
    for index, bar in enumerate(runs):
        phases.setdefault(bar.phase, []).append(index)
    for phase, indices in phases.items():  # a band behind each phase's rows
        y0 = TOP + indices[0] * ROW
        out.append(f'<g class="phase" data-phase="{escape(phase)}"><rect x="0" y="{y0}" '
                   f'width="{WIDTH}" height="{len(indices) * ROW}" fill="#f5f5f5" '
                   f'stroke="#e0e0e0"/><text x="4" y="{y0 + 15}" fill="#616161" '
                   f'font-weight="bold">{escape(phase)}</text></g>')
    for index, bar in enumerate(runs):
        y = TOP + index * ROW
        ghost = (rehearsed or {}).get(bar.step)
        if ghost is not None:  # the rehearsal's duration, from the same start
            out.append(f'<rect class="ghost" data-step="{escape(bar.step)}" x="{x(bar.start)}" '
                       f'y="{y + 3}" width="{max(round(ghost * scale, 1), 1)}" height="16" '
                       'fill="none" stroke="#7e57c2" stroke-dasharray="4 2"/>')
        width = max(round((bar.end - bar.start) * scale, 1), 2)
        out.append(
            f'<g class="bar" data-step="{escape(bar.step)}" data-run="{escape(bar.run)}" '
            f'data-outcome="{bar.outcome}"><title>{escape(bar.run)}: {bar.outcome}, '
            f'{bar.end - bar.start:.2f} s'
            + (f" (rehearsal {ghost:.2f} s)" if ghost is not None else "") + '</title>'
            f'<rect x="{x(bar.start)}" y="{y + 5}" width="{width}" height="12" '
            f'fill="{COLOURS[bar.outcome]}"/><text x="{LABELS - 6}" y="{y + 15}" '
            f'text-anchor="end">{escape(bar.step[:40])}</text></g>')
    marks_y = TOP + len(runs) * ROW
    out.append(f'<text x="{LABELS - 6}" y="{marks_y + 15}" text-anchor="end">gates</text>')
    out.append(f'<text x="{LABELS - 6}" y="{marks_y + ROW + 15}" '
               'text-anchor="end">confirmations</text>')
    for event in events:
        at = x((parse_at(event.ts) - origin).total_seconds())
        record = records.among(event, _MARKS)
        if isinstance(record, records.GateEvaluated) and record.seconds is not None:
            out.append(_gate_bar(record, x(max(0.0, (parse_at(event.ts) - origin)
                                               .total_seconds() - record.seconds)),
                                 record.seconds, scale, marks_y, _colour(record.ok)))
        elif isinstance(record, records.GateAttested | records.GateEvaluated):
            colour = _colour(not isinstance(record, records.GateEvaluated) or record.ok)
            out.append(f'<path class="gate" data-gate="{escape(record.gate)}" d="M{at} '
                       f'{marks_y + 4} l6 7 l-6 7 l-6 -7 z" fill="{colour}"><title>gate '
                       f'{escape(record.gate)}</title></path>')
        elif isinstance(record, records.ManualConfirmed):
            out.append(f'<circle class="confirmation" data-step="{escape(record.step)}" '
                       f'cx="{at}" cy="{marks_y + ROW + 11}" r="5" fill="#1565c0"><title>'
                       f'{escape(record.step)} confirmed</title></circle>')
        elif isinstance(record, records.Halted):
            # the words on the side of the line with room for them
            side = (f'x="{at - 4}" text-anchor="end"' if at > (LABELS + WIDTH) / 2
                    else f'x="{at + 4}"')
            out.append(f'<g class="halt" data-step="{escape(record.step or "")}"><line '
                       f'x1="{at}" y1="{TOP - 6}" x2="{at}" y2="{height - 30}" stroke="#c62828" '
                       f'stroke-width="3"/><text {side} y="{height - 16}" fill="#c62828" '
                       f'font-weight="bold">HALT: {escape(record.reason[:90])}</text></g>')
    if radar:
        base = marks_y + 2 * ROW + 60
        most = max(v for _t, v in radar)
        points = " ".join(f"{x(t)},{round(base - 50 * v / max(most, 1), 1)}" for t, v in radar)
        out.append(f'<g class="radar"><text x="{LABELS - 6}" y="{base - 20}" '
                   f'text-anchor="end">lock queue (max {most})</text><polyline points="{points}" '
                   'fill="none" stroke="#ef6c00" stroke-width="2"/></g>')
    out.append("</svg>")
    return "\n".join(out)
