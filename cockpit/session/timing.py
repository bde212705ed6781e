"""The cutover's clock against its rehearsal: each step's rehearsed duration beside the
running one, what is left of the phase and of the cutover by the rehearsal's times, the
forecast end against the maintenance window's — and the two moments to call out (recorded
once each, shown amber): a step running past twice its rehearsed time, a forecast past the
window's end. Pure but for reading the rehearsal's own record once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cockpit.runbook.model import CommandStep, Runbook
from cockpit.session import rules
from cockpit.session.reader import session_at
from cockpit.session.state import SessionState, StepState

SLOW_FACTOR = 2.0  # a step past this many times its rehearsed duration is called out ...
SLOW_GRACE_S = 1.0  # ... once it is also this much over (sub-second steps jitter by more)


def parse_at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def took(step: StepState) -> float | None:
    """A step's time, its lock-timeout retries (attempts and waits) included."""
    began = step.retried_from or step.started_at
    if not (began and step.ended_at):
        return None
    return (parse_at(step.ended_at) - parse_at(began)).total_seconds()


def rehearsed_durations(state: SessionState) -> dict[str, float]:
    """Each step's duration in the linked rehearsal (its last run that passed); {} with no
    rehearsal linked or one that cannot be read (the gate says why)."""
    if state.rehearsal is None:
        return {}
    try:
        rehearsal = session_at(Path(state.rehearsal.folder)).state
    except Exception:  # damaged or gone: no times to go by; rehearsal.pass names the cause
        return {}
    return {step_id: seconds for step_id, s in rehearsal.steps.items()
            if s.status == "passed" and (seconds := took(s)) is not None}


@dataclass(frozen=True)
class Forecast:
    running: str | None  # the running step
    running_s: float | None  # how long it has run
    rehearsed_s: float | None  # its duration in the rehearsal
    phase_left_s: float  # by the rehearsal's times, the running step's remainder included
    cutover_left_s: float
    end: datetime  # now + what is left
    window_end: datetime | None

    @property
    def slow(self) -> bool:
        """The running step is past twice its rehearsed time (and the grace)."""
        return (self.running_s is not None and self.rehearsed_s is not None
                and self.running_s > SLOW_FACTOR * self.rehearsed_s
                and self.running_s - self.rehearsed_s > SLOW_GRACE_S)

    @property
    def late(self) -> bool:
        """The forecast end is past the maintenance window's end."""
        return self.window_end is not None and self.end > self.window_end


def forecast(runbook: Runbook, state: SessionState, rehearsed: dict[str, float],
             now: datetime) -> Forecast | None:
    """None with no rehearsal times, or once nothing is left to run. Checks and manual
    confirmations count no time, nor do the pauses between steps: the ETA is the commands'."""
    if not rehearsed or state.ended or state.halt is not None:
        return None
    running = state.running_step()
    running_s = rehearsed_s = None
    phase_left = cutover_left = 0.0
    upcoming = rules.next_step(runbook, state)
    if running is None and upcoming is None:
        return None
    current_phase = next((p.id for p in runbook.phases for s in p.steps if s.id == running),
                         upcoming.phase.id if upcoming else None)
    for phase in runbook.phases:
        for step in phase.steps:
            if not isinstance(step, CommandStep):
                continue
            s = state.steps.get(step.id)
            rehearsal = rehearsed.get(step.id, 0.0)
            if step.id == running and s is not None and s.started_at:
                running_s = (now - parse_at(s.started_at)).total_seconds()
                rehearsed_s = rehearsed.get(step.id)
                left = max(rehearsal - running_s, 0.0)
            elif s is None or s.status in ("pending", "cancelled", "interrupted"):
                left = rehearsal
            else:
                continue  # done (or failed: the halt ends the forecast)
            cutover_left += left
            if phase.id == current_phase:
                phase_left += left
    return Forecast(running, running_s, rehearsed_s, phase_left, cutover_left,
                    now + timedelta(seconds=cutover_left),
                    rules.maintenance_window_end(runbook, state))


def clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600:d}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def forecast_text(found: Forecast) -> str:
    """"ETA phase 0:00:04, cutover 0:00:09 · forecast end 02:10:33Z (window 03:00:00Z)"."""
    end = f"forecast end {found.end.astimezone(UTC):%H:%M:%S}Z"
    if found.window_end is not None:
        end += (f" ({'PAST the window' if found.late else 'window'} "
                f"{found.window_end.astimezone(UTC):%H:%M:%S}Z)")
    return f"ETA phase {clock(found.phase_left_s)}, cutover {clock(found.cutover_left_s)} · {end}"


def running_text(found: Forecast) -> str:
    """"rehearsal 0:00:02 · 2.9× SLOW" for the running step ("" when it was not rehearsed)."""
    if found.rehearsed_s is None or found.running_s is None:
        return ""
    text = f"rehearsal {clock(found.rehearsed_s)}"
    if found.slow:
        text += f" · {found.running_s / max(found.rehearsed_s, 0.001):.1f}× SLOW"
    return text
