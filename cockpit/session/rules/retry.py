"""A lock-timeout retry's waits: doubling from the first delay up to the cap, each with
jitter (half of it fixed, half random), so that several cutovers — or one cutover's
attempts — do not queue for the same lock in step."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cockpit.runbook.model import CommandStep, Retry, duration_seconds
from cockpit.session.state import RetryPending, SessionState


def retry_delay(retry: Retry, attempt: int, jitter: float) -> float:
    """Seconds to wait before `attempt` (2 for the first retry), `jitter` in [0, 1): never
    less than half the doubled delay, never more than it, never more than the cap."""
    if not 2 <= attempt <= retry.attempts:
        raise ValueError(f"attempt {attempt} is outside 2..{retry.attempts}")
    base = min(duration_seconds(retry.cap),
               duration_seconds(retry.first_delay) * float(2 ** (attempt - 2)))
    return float(base * (0.5 + min(max(jitter, 0.0), 1.0) / 2))


@dataclass(frozen=True)
class RetryVerdict:
    retry: bool
    why: str  # for the record either way: the retry's reason, or why it halts instead


def retry_verdict(step: CommandStep, abort: Mapping[str, Any] | None, attempts: int,
                  started_at: Sequence[str] | None, now_at: Sequence[str] | None,
                  partial_possible: str | None) -> RetryVerdict:
    """Whether a failed run of `step` is tried again rather than halting: a lock timeout
    alone (its rule the only one that matched), budget left, the database verifiably where
    the run started (the revisions read back equal those at its start), and no revision up
    to the failing one able to leave a partial change (`partial_possible`: why one could,
    e.g. an autocommit block; None: none can). `attempts`: the runs so far."""
    retry = step.retry
    if retry is None:
        return RetryVerdict(False, "the step declares no retry")
    if abort is None or abort.get("rule") != retry.on:
        matched = f"abort rule '{abort['rule']}'" if abort else "no abort rule"
        return RetryVerdict(False, f"{matched} ended it, not the lock-timeout rule "
                                   f"'{retry.on}'")
    if attempts >= retry.attempts:
        return RetryVerdict(False, f"its retry budget is spent ({attempts} of "
                                   f"{retry.attempts} attempts)")
    if started_at is None or now_at is None:
        return RetryVerdict(False, "the database's revision could not be read back, so a "
                                   "partial change cannot be ruled out")
    was, now = _revisions(started_at), _revisions(now_at)
    if sorted(now_at) != sorted(started_at):
        return RetryVerdict(False, f"the database moved: it is at {now}, the run started at "
                                   f"{was}")
    if partial_possible is not None:
        return RetryVerdict(False, f"not retryable: {partial_possible}")
    return RetryVerdict(True, f"a lock timeout alone, the database where the run started "
                              f"({was}): attempt {attempts + 1} of {retry.attempts}")


def _revisions(found: Sequence[str]) -> str:
    return ", ".join(found) or "no revision"


def retry_waiting(state: SessionState) -> str | None:
    """The step waiting to run again (at most one: steps run one at a time)."""
    return next((sid for sid, s in state.steps.items() if s.status == "retry_wait"), None)


def seconds_to_retry(pending: RetryPending, now: datetime) -> float:
    due = datetime.fromisoformat(pending.due_at.replace("Z", "+00:00"))
    return max(0.0, (due - now).total_seconds())


def retry_armed(state: SessionState, pending: RetryPending) -> bool:
    """Whether the cockpit now holding the session makes the attempt by itself: the one that
    scheduled it, or a resumed one that was told to go on."""
    return pending.armed_in == state.resumes


def retry_text(state: SessionState, pending: RetryPending, now: datetime,
               stopped: bool = False) -> str:
    """"attempt 2 of 3, next in 4 s" — the header, `status`, headless and the mirror. A
    cockpit that stopped during the wait (`stopped`: its lock's holder is gone) leaves the
    attempt to a go-ahead."""
    left = seconds_to_retry(pending, now)
    when = ("waits for a go-ahead: the cockpit stopped during its wait"
            if stopped or not retry_armed(state, pending) else
            f"next in {left:.0f} s" if left >= 1 else "due now")
    return f"attempt {pending.attempt} of {pending.of}, {when}" + (
        f" · blocked by {pending.blocker}" if pending.blocker else "")
