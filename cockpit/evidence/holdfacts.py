"""What a person weighs at a hold or a pause: the revision the step stands before, as the
session's migration risk report says it — its findings, whether a lock timeout in it may be
retried, and whether its downgrade undoes it. Read from the report the risk gate kept; said
so when no gate kept one."""

from __future__ import annotations

from pathlib import Path

from cockpit.evidence.riskrecord import risk_records
from cockpit.runbook.model import Runbook
from cockpit.session.state import SessionState


def standing_before(state: SessionState) -> str | None:
    """The revision a held or paused `per_revision` step stands before."""
    return next((s.stopped_before for s in state.steps.values()
                 if s.status in ("held", "paused") and s.stopped_before), None)


def revision_facts(runbook: Runbook, state: SessionState, folder: Path | None,
                   revision: str) -> list[str]:
    """One line each: the findings on `revision`, its retryability, its reversal."""
    reports = [r.report for r in risk_records(runbook, state, folder) if r.problem is None]
    if not reports:
        return [f"{revision}: no migration risk report in this session (a migration.risk "
                "gate keeps one)"]
    report = reports[-1]
    found = [f for f in report.get("findings", []) if f.get("revision") == revision]
    serious = [f for f in found if f.get("severity") == "error" and not f.get("waived")]
    lines = [f"{revision}: {len(found)} finding(s), {len(serious)} unwaived error(s)" + (
        ": " + "; ".join(f"{f.get('rule')} — {f.get('message')}" for f in serious[:3])
        if serious else "")]
    for told in report.get("retryable", []):
        if told.get("revision") == revision:
            lines.append(f"retryable on a lock timeout: {'yes' if told.get('retryable') else 'no'}"
                         f" ({told.get('why')})")
    for told in report.get("reversal", []):
        if told.get("revision") == revision:
            lines.append(f"reversal: {told.get('said')}")
    return lines


def standstill_facts(runbook: Runbook, state: SessionState, folder: Path | None) -> list[str]:
    revision = standing_before(state)
    return [] if revision is None else revision_facts(runbook, state, folder, revision)
