"""The filled one-page checklist: the transcript with every item ticked or not, each done
item followed by when, by whom, and its evidence file and hash; then the decision record.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from cockpit.evidence.decision import render_decision
from cockpit.evidence.manifest import EvidenceEntry, evidence_entries
from cockpit.runbook.model import CommandStep, Runbook
from cockpit.runbook.render import render_markdown
from cockpit.runbook.validate import walk_items
from cockpit.session import rules
from cockpit.session.state import SessionState

_ITEM_LINE = re.compile(r"^- \[[ x]\] ")  # verbatim text never holds such a line


def _annotation(runbook: Runbook, state: SessionState, item_id: str,
                evidence: dict[str, EvidenceEntry]) -> str:
    step = state.steps.get(item_id)
    gate = state.gates.get(item_id) or state.setup.get(item_id)
    if step is not None and step.status != "pending":
        bits = [step.status, step.ended_at or step.started_at or "", step.by or ""]
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


def render_report(runbook: Runbook, state: SessionState,
                  redact: Callable[[str], str] = lambda s: s) -> str:
    done = {item.id for _p, item in walk_items(runbook) if rules.item_done(runbook, state, item)}
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
              f"runbook sha256 {state.runbook_sha256} · transcript sha256 "
              f"{state.transcript_sha256} -->", ""]
    body = "\n".join(out)
    if state.halt is not None:  # said before the decision, which is the checklist's end
        body += (f"\n**HALTED** {state.halt.at} by {state.halt.actor} ({state.halt.by}): "
                 f"{state.halt.reason}\n")
        if state.halt.line:
            body += f"\n    {state.halt.line}\n"
    if state.decision is not None:
        body += "\n" + render_decision(runbook, state.decision.fields)
    return redact("\n".join(header) + body)
