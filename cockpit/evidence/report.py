"""The filled one-page checklist: the transcript with every item ticked or not, each done
item followed by when, by whom, and its evidence file and hash; then the decision record.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from cockpit.evidence.decision import field_for, render_decision
from cockpit.evidence.manifest import EvidenceEntry, evidence_entries
from cockpit.evidence.riskrecord import risk_markdown, risk_records, waivers_said
from cockpit.runbook.model import CommandStep, Runbook
from cockpit.runbook.render import render_markdown
from cockpit.runbook.validate import walk_items
from cockpit.session import rules
from cockpit.session.inert import inert
from cockpit.session.state import SessionState

# How reports are rendered: raised whenever a change makes the same session render other
# bytes, so that `verify PACK` tells an edited report.md from an older cockpit's.
REPORT_FORMAT = 4  # 3: control characters shown as caret text (inert.py); 4: the risk gate's
#                      waivers with the decision, its findings in an appendix
_ITEM_LINE = re.compile(r"^- \[[ x]\] ")  # verbatim text never holds such a line


def _annotation(runbook: Runbook, state: SessionState, item_id: str,
                evidence: dict[str, EvidenceEntry]) -> str:
    step = state.steps.get(item_id)
    gate = state.gates.get(item_id) or state.setup.get(item_id)
    if step is not None and step.status != "pending":
        status = "not checked" if rules.not_checked(step.observed) else step.status
        bits = [status, step.ended_at or step.started_at or "", step.by or ""]
        if step.log:
            bits.append(f"log {step.log}" + (f" (published {step.published})"
                                             if step.published else ""))
        if step.sha256:
            bits.append(f"sha256 {step.sha256}")
        if step.observed is not None:
            bits.append(f"observed {step.observed!r}")
        if step.note:
            bits.append(f"note {step.note}")
        return " — " + " · ".join(b for b in bits if b)
    if gate is not None:
        bits = [gate.status, gate.at or "", gate.by or "", gate.reference or "",
                gate.detail or ""]
        override = state.workdir_override
        if override is not None and override.item == item_id:
            bits[0] = (f"OVERRIDDEN: approved `{override.approved}`, used "
                       f"{override.used} (--override-workdir by {override.by})")
            bits[-1] = ""  # its detail says the same
        if isinstance(gate.observed, dict) and gate.observed.get("captured"):
            bits += [f"captured {gate.observed['captured']}", f"sha256 {gate.observed['sha256']}"]
        return " — " + " · ".join(b for b in bits if b)
    entry = evidence.get(item_id)
    if entry is not None and entry.present:
        return f" — {entry.path} · sha256 {entry.sha256} · from {entry.produced_by}"
    if item_id in state.halt_items:
        done = state.halt_items[item_id]
        return f" — {done.at} · {done.by} · {done.note or ''}"
    return ""


def signed_fields(runbook: Runbook, state: SessionState) -> dict[str, str]:
    """The decision's fields, the sign-off ones filled from the signatures: the operator's
    from their signature, the reviewers' from their countersignatures as they arrive."""
    assert state.decision is not None
    values = dict(state.decision.fields)
    by_role = {"operator": [s.identity for s in state.signatures
                            if s.role == "operator" and s.kind == "decision"],
               "reviewer": [s.identity for s in state.signatures
                            if s.role == "reviewer" and s.kind == "decision"]}
    for role, identities in by_role.items():
        field = field_for(runbook, role)  # type: ignore[arg-type]
        if field is not None and identities:
            values[field.id] = ", ".join(identities) + " (signed)"
    return values


def signature_lines(runbook: Runbook, state: SessionState) -> list[str]:
    """Who signed what, for the report, status and the screens."""
    lines = []
    for sig in state.signatures:
        who = "operator" if sig.role == "operator" else "reviewer"
        lines.append(f"Signed ({who}, {sig.kind}): {sig.identity or '?'} · SSH key "
                     f"{sig.fingerprint} · {sig.at} · {sig.file}")
    if state.decision is not None and not rules.operator_signed(state):
        lines.append("NOT CLOSED: the operator's signature failed (the fault says why); "
                     "`cockpit resume SESSION --sign-key KEY` signs and closes it"
                     if state.sign_keys and not state.closed
                     else "Decision unsigned by the operator")
    waiting = rules.awaiting_countersign(runbook, state)
    if waiting is not None:
        lines.append(f"AWAITING COUNTERSIGN: {waiting[0]} of {waiting[1]} countersignature(s) "
                     "of the decision")
    return lines


def render_report(runbook: Runbook, state: SessionState,
                  redact: Callable[[str], str] = lambda s: s, folder: Path | None = None,
                  appendix: bool = True) -> str:
    """The filled checklist and the decision record; with the session `folder`, what the
    risk gate kept too: its waivers beside the decision, its findings in an appendix (left
    out with `appendix=False`, for a page that shows them its own way)."""
    risk = risk_records(runbook, state, folder)
    # A check that could not look (no rehearsal linked) let the run go on, but is no tick.
    done = {item.id for _p, item in walk_items(runbook) if rules.item_done(runbook, state, item)
            and not (item.id in state.steps and rules.not_checked(state.steps[item.id].observed))}
    commands = {i.id for _p, i in walk_items(runbook) if isinstance(i, CommandStep)}
    # The decision section is shown filled in, from the record, in place of its blanks.
    body_runbook = runbook.model_copy(update={"decision": None}) if state.decision else runbook
    ticked = render_markdown(body_runbook, mark=lambda i: "x" if i in done else " ")
    # One annotation per item, on its own line's end (nested lines carry none).
    lines, out = ticked.split("\n"), []
    order = [item.id for _p, item in walk_items(runbook)
             if item.kind not in ("code", "script", "text")]
    files = [i.id for i in (runbook.evidence.items if runbook.evidence else []) if i.kind == "file"]
    evidence = dict(zip(files, evidence_entries(runbook, state), strict=True))
    index = 0
    for line in lines:
        if _ITEM_LINE.match(line) and index < len(order):
            item_id = order[index]
            index += 1
            note = _annotation(runbook, state, item_id, evidence)
            if item_id in commands or note:
                line += note
        out.append(line)
    header = [f"<!-- session {state.session_id} · runbook {state.runbook_id} · "
              + (f"environment {state.environment} · " if state.environment else "")
              + f"runbook sha256 {state.runbook_sha256} · transcript sha256 "
              f"{state.transcript_sha256} -->", ""]
    body = "\n".join(out)
    if state.halt is not None:  # said before the decision, which is the checklist's end
        body += (f"\n**HALTED** {state.halt.at} by {state.halt.actor} ({state.halt.by}): "
                 f"{state.halt.reason}\n")
        if state.halt.line:
            body += f"\n    {state.halt.line}\n"
    if state.decision is not None:
        body += "\n" + render_decision(runbook, signed_fields(runbook, state))
        body += waivers_said(risk)
        body += "".join(f"\n{line}" for line in signature_lines(runbook, state)) + (
            "\n" if state.signatures or rules.countersignatures_required(runbook) else "")
    if appendix and risk:
        body = body.rstrip("\n") + "\n\n" + risk_markdown(runbook, risk)
    # redacted as written, then inert: a secret is found in the bytes the session holds
    return inert(redact("\n".join(header) + body))
