"""Two sessions side by side (`cockpit compare A B`), typically a rehearsal and the cutover
it proved: per step, in the runbook's order, the outcome, duration, lines and exit code of
each, and whether their outputs agree — else the first line where they part. Read-only."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

from cockpit.runbook.model import CheckStep, CommandStep
from cockpit.session.layout import session_file
from cockpit.session.reader import SessionAt, session_at
from cockpit.session.state import StepState
from cockpit.session.timing import took

_CUT = 70  # a differing line is shown up to this many characters


@dataclass(frozen=True)
class StepComparison:
    step: str
    a: str  # "passed 0.52 s, 12 lines, exit 0" / "—" when it did not run
    b: str
    output: str  # "same output" / "differs at line 3: ..." / "" (no log to compare)


def _outcome(s: StepState | None) -> str:
    if s is None or s.status == "pending":
        return "—"
    words: list[str] = [s.status]
    if (seconds := took(s)) is not None:
        words.append(f"{seconds:.2f} s")
    if s.lines is not None:
        words.append(f"{s.lines} line{'' if s.lines == 1 else 's'}")
    if s.exit_code is not None:
        words.append(f"exit {s.exit_code}")
    return ", ".join(words)


def _first_difference(a: Path, b: Path) -> str:
    try:
        with open(a, encoding="utf-8", errors="replace") as left, \
                open(b, encoding="utf-8", errors="replace") as right:
            for number, (x, y) in enumerate(zip_longest(left, right), start=1):
                if x != y:
                    def shown(line: str | None) -> str:
                        return "(ended)" if line is None else repr(line.rstrip("\n")[:_CUT])
                    return f"differs at line {number}: A {shown(x)} | B {shown(y)}"
    except OSError as exc:
        return f"cannot compare ({exc.strerror})"
    return "same output"


def compare(a_folder: Path, b_folder: Path) -> tuple[SessionAt, SessionAt, list[StepComparison]]:
    """Every step of A's runbook, then any of B's that A's has not, in order."""
    a, b = session_at(a_folder), session_at(b_folder)
    order: list[str] = []
    for runbook in (a.runbook, b.runbook):
        for phase in runbook.phases:
            order += [s.id for s in phase.steps if isinstance(s, CommandStep | CheckStep)
                      and s.id not in order]
    rows = []
    for step_id in order:
        sa, sb = a.state.steps.get(step_id), b.state.steps.get(step_id)
        output = ""
        if sa is not None and sb is not None and sa.log and sb.log:
            output = _first_difference(session_file(a.folder, sa.log),
                                       session_file(b.folder, sb.log))
        elif sa is not None and sb is not None and sa.observed != sb.observed:
            output = f"observed A {sa.observed!r} | B {sb.observed!r}"[:2 * _CUT]
        rows.append(StepComparison(step_id, _outcome(sa), _outcome(sb), output))
    return a, b, rows


def render_comparison(a: SessionAt, b: SessionAt, rows: list[StepComparison]) -> str:
    def verdict(found: SessionAt) -> str:
        decision = found.state.decision.status if found.state.decision else "no decision"
        return f"{found.state.session_id} ({decision}, {found.folder})"

    width = max((len(r.step) for r in rows), default=4)
    side = max((len(r.a) for r in rows), default=1)
    lines = [f"A: {verdict(a)}", f"B: {verdict(b)}", "",
             f"{'step':<{width}}  {'A':<{side}}  B"]
    for row in rows:
        lines.append(f"{row.step:<{width}}  {row.a:<{side}}  {row.b}")
        if row.output:
            lines.append(f"{'':<{width}}  ↳ {row.output}")
    return "\n".join(lines) + "\n"
