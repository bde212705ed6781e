"""Halt-and-contain, the evidence pack and the decision record: how a session ends."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cockpit.engine.core import ActionRefused, HaltHook, SessionCore
from cockpit.engine.credentials import CredentialFailed
from cockpit.engine.launcher import stop_supervisor
from cockpit.engine.signatures import SignatureVerbs
from cockpit.evidence import decision as decisions
from cockpit.evidence.inventory import inventory
from cockpit.evidence.manifest import build_manifest
from cockpit.evidence.rehearsal import rehearsed_downgrades
from cockpit.evidence.report import render_report
from cockpit.evidence.riskrecord import risk_records, waived, waivers_said
from cockpit.runbook.model import HaltItem
from cockpit.session import records, rules
from cockpit.session.errorline import error_line
from cockpit.session.integrity import file_sha256
from cockpit.session.radarview import last_samples
from cockpit.session.runfiles import RunFiles
from cockpit.session.store import redact_values, write_atomic

AUTOMATIC_HALT_ACTIONS = {
    "stop": "the cockpit stopped execution (running step signalled, no step may start)",
    "preserve": "the cockpit deletes and rewrites nothing; every log and record is kept",
    "no_further_commands": "the cockpit refuses every command step from now on, by any path",
}


def pg_halt_diagnostics(ctl: SessionCore) -> dict[str, Any] | None:
    """PostgreSQL's pg_stat_activity and pg_locks, when the session has a DATABASE_URL."""
    if "DATABASE_URL" not in ctl.env:
        return None
    from cockpit.probes.db_probes import pg_halt_diagnostics as capture  # heavy: on demand

    return capture(ctl)


def alembic_state(ctl: SessionCore) -> dict[str, Any] | None:
    """Where the database and the scripts stand at the halt: its current revision(s) and the
    heads, so the decision record starts from what is, not from what was planned."""
    if "DATABASE_URL" not in ctl.env:
        return None
    from cockpit.probes.alembic_probes import current_revisions, heads  # heavy: on demand
    from cockpit.probes.db import ProbeUnreachable

    found: dict[str, Any] = {}
    asks: list[tuple[str, Callable[[], Any]]] = [
        ("current", lambda: current_revisions(ctl.env)), ("heads", lambda: heads(ctl.workdir))]
    for key, ask in asks:
        try:
            found[key] = ask()
        except ProbeUnreachable as exc:
            found[f"{key}_error"] = str(exc)
    return found


def lock_radar(ctl: SessionCore) -> dict[str, Any] | None:
    """The lock radar's last look at the halted step: the queue behind it and who blocked
    it, and the stop a lock_queue rule asked for — what the database showed as it was
    stopped (by the time the diagnostics run, the queue has drained)."""
    halt = ctl.state.halt
    step = ctl.state.steps.get(halt.step) if halt is not None and halt.step else None
    if step is None or not step.run:
        return None
    files = RunFiles(ctl.folder / "steps", step.run)
    samples = last_samples(files.radar, 10)
    if not samples:
        return None
    found: dict[str, Any] = {"last_samples": samples}
    with contextlib.suppress(OSError, ValueError):
        found["stop_request"] = json.loads(files.stop_request.read_text(encoding="utf-8"))
    return found


def default_halt_hooks() -> list[HaltHook]:
    return [pg_halt_diagnostics, alembic_state, lock_radar]


class CloseoutVerbs:
    def __init__(self, core: SessionCore, signatures: SignatureVerbs) -> None:
        self.core = core
        self.signatures = signatures  # the decision is signed as it is recorded

    def halt(self, reason: str, by: str = "operator", step: str | None = None,
             rule: str | None = None, line: str | None = None) -> None:
        """Halt-and-contain. Final for the session: no command can start after this."""
        if self.core.state.halt is not None:
            return
        current = self.core.running()
        if current is not None:
            stop_supervisor(current[1])
        if line is None and step is not None and (done := self.core.state.steps.get(step)) \
                and done.log:  # a step that failed: the line that says why, not its last
            line = error_line(self.core.folder / done.log)
        self.core.append(records.Halted(reason=reason, by=by, step=step, rule=rule, line=line))
        self._capture_diagnostics()
        items = self.core.runbook.halt.items if self.core.runbook.halt else []
        for item in items:
            if isinstance(item, HaltItem) and item.action in AUTOMATIC_HALT_ACTIONS:
                self.core.append(records.HaltItemDone(
                    item=item.id, note=AUTOMATIC_HALT_ACTIONS[item.action]))

    def _capture_diagnostics(self) -> None:
        captured: dict[str, Any] = {}
        try:  # the diagnostics connect afresh: a token read at the start may have expired
            self.core.refresh_credentials()
        except CredentialFailed as exc:
            captured["credentials"] = {"error": str(exc)}
        for hook in self.core.halt_hooks:
            name = getattr(hook, "__name__", "hook")
            try:
                result = hook(self.core)
            except Exception as exc:  # diagnostics must not stop the halt
                result = {"error": f"{type(exc).__name__}: {exc}"}
            if result is not None:
                captured[name] = result
        if not captured:
            return
        path = self.core.folder / "evidence" / f"halt-diagnostics-{self.core.state.seq}.json"
        clean = redact_values(captured, self.core.redactor.redact_text)
        write_atomic(path, json.dumps(clean, indent=2, default=str).encode())
        revisions = captured.get("alembic_state") or {}
        self.core.append(records.DiagnosticsCaptured(
            file=str(path.relative_to(self.core.folder)), sha256=file_sha256(path),
            probes=sorted(captured),
            revisions={k: revisions[k] for k in ("current", "heads") if k in revisions}))

    def complete_halt_item(self, item_id: str, note: str) -> None:
        if self.core.state.halt is None:
            raise ActionRefused("the halt-and-contain protocol applies only after a halt")
        item = self.core.item(item_id)
        if not isinstance(item, HaltItem):
            raise ActionRefused(f"'{item_id}' is not an item of the halt protocol")
        if item.action == "record_blocker":
            raise ActionRefused("the blocker is recorded with the decision record (BLOCKER)")
        if not note.strip():
            raise ActionRefused(f"'{item_id}' needs a note or reference")
        self.core.append(records.HaltItemDone(item=item_id, note=note.strip()))

    def seal_evidence(self) -> dict[str, Any]:
        manifest = build_manifest(self.core.runbook, self.core.state, self.core.folder)
        path = self.core.folder / "evidence" / "manifest.json"
        write_atomic(path, json.dumps(manifest, indent=2).encode())
        self.core.append(records.EvidenceSealed(
            manifest="evidence/manifest.json", sha256=file_sha256(path),
            present=manifest["present"], missing=manifest["missing"],
            mismatched=manifest["mismatched"], complete=manifest["complete"]))
        return manifest

    def decision_defaults(self) -> dict[str, str]:
        return decisions.defaults(self.core.runbook, self.core.state)

    def decision_form_values(self) -> dict[str, str]:
        """What the decision form opens with: the session's defaults, then for what they
        leave empty the values prepared for this outcome (`decision_prefill`: the demo's
        answers), which the operator still sees and may change before saving."""
        found = self.decision_defaults()
        status = found.get(decisions.status_field(self.core.runbook).id) or decisions.PASS
        prepared = self.core.decision_prefill.get(status, {})
        return {**found, **{k: v for k, v in prepared.items() if not found.get(k)}}

    def record_decision(self, values: Mapping[str, str],
                        note: str | None = None) -> dict[str, Any]:
        """Record the final decision. A BLOCKER the rules refuse (a field that cannot be
        filled) is still recorded when the operator gives a `note`, which the record keeps
        with the refusal it overrode: no session is left undecidable. PASS never is."""
        filled = {**self.decision_defaults(), **{k: v for k, v in values.items() if v}}
        status = filled.get(decisions.status_field(self.core.runbook).id, "")
        refused = decisions.refusal(self.core.runbook, self.core.state, filled)
        overridden = None
        if refused is not None:
            if status != decisions.BLOCKER or not (note or "").strip() or self.core.state.ended:
                raise ActionRefused(refused if status != decisions.BLOCKER or self.core.state.ended
                                    else f"{refused}; or give a note saying why it cannot be")
            overridden = {"refusal": refused, "note": (note or "").strip()}
        record: dict[str, Any] = {
            "session_id": self.core.state.session_id, "runbook_id": self.core.runbook.id,
            "runbook_sha256": self.core.state.runbook_sha256,
            "transcript_sha256": self.core.state.transcript_sha256, "fields": filled,
            "recorded_by": f"{self.core.actor.name}@{self.core.actor.host}"}
        if overridden is not None:
            record["recorded_with_note"] = overridden
        record.update(self._circumstances())
        risk = risk_records(self.core.runbook, self.core.state, self.core.folder)
        if risk:  # which findings were accepted, why and by whom — not only how many
            record["risk_waivers"] = waived(risk)
        record = redact_values(record, self.core.redactor.redact_text)
        evidence = self.core.folder / "evidence"
        write_atomic(evidence / "decision.json", json.dumps(record, indent=2).encode())
        markdown = (decisions.render_decision(self.core.runbook, record["fields"])
                    + waivers_said(risk))
        if overridden is not None:
            markdown += (f"\nRecorded with a note ({record['recorded_with_note']['note']}) "
                         f"although: {record['recorded_with_note']['refusal']}\n")
        markdown += self._circumstances_said() + self._signing_note()
        write_atomic(evidence / "decision.md", markdown.encode())
        if status == decisions.BLOCKER:
            cause = decisions.value_of(self.core.runbook, filled, "root_cause") or (note or "")
            for item in self.core.runbook.halt.items if self.core.runbook.halt else []:
                if isinstance(item, HaltItem) and item.action == "record_blocker":
                    self.core.append(records.HaltItemDone(item=item.id, note=cause))
        current = self.core.running()  # a halted step still being stopped: not pinned
        running_run = current[1].run if current is not None else None
        self.core.append(records.DecisionRecorded(
            status=status, fields=record["fields"],
            recorded_with_note=record.get("recorded_with_note"), json_="evidence/decision.json",
            markdown="evidence/decision.md", json_sha256=file_sha256(evidence / "decision.json"),
            markdown_sha256=file_sha256(evidence / "decision.md"),
            files=inventory(self.core.folder, running_run)))
        self.finish_closing()
        return record

    def _circumstances(self) -> dict[str, Any]:
        """What the decision record adds about how the session ran: the environment, an
        overridden working directory, the rehearsal, the restore target."""
        state, found = self.core.state, dict[str, Any]()
        if state.environment is not None:  # which environment's values were checked
            found["environment"] = state.environment
        if state.workdir_override is not None:  # what ran is not what was approved
            found["workdir_override"] = state.workdir_override.model_dump()
        if state.rehearsal is not None:  # the rehearsal, by its identity
            found["rehearsal"] = {**state.rehearsal.model_dump(),
                                  "proved": rules.rehearsal_proved(self.core.runbook, state)}
        return {**found, **self._rollback_facts()}

    def _rollback_facts(self) -> dict[str, Any]:
        """For the DBA's rollback or PITR decision: the restore target, whether it lies in
        the backup's attested window, and what a revision-at-a-time step left committed."""
        state, found = self.core.state, dict[str, Any]()
        if (target := rules.restore_target(state)) is not None:
            first = next((r for r in state.restore_points if r.lsn), None)
            found["restore_target"] = first.model_dump(exclude_none=True) if first else target
            if (window := self._backup_window()) is not None:
                found["backup_window"] = window
        per_revision = {sid: {"committed": s.committed, "of": s.of}
                        for sid, s in state.steps.items() if s.of is not None}
        if per_revision:  # what a halt part way left committed
            found["revisions_committed"] = per_revision
        if state.rehearsal is not None:  # the way back, proved by the rehearsal or not
            ran = rehearsed_downgrades(Path(state.rehearsal.folder))
            found["rehearsal_downgrades"] = ran if ran is not None else \
                "the rehearsal could not be read"
        return found

    def _backup_window(self) -> dict[str, Any] | None:
        """The backup attestation's window against the restore target (None: the runbook
        attests no backup). Read from what the session kept: the typed reference, or the
        attestation file's captured copy."""
        state = self.core.state
        gate = next((g for g in rules.gates(self.core.runbook) if rules.is_backup_gate(g)),
                    None)
        kept = state.gates.get(gate.id) if gate is not None else None
        if gate is None or kept is None:
            return None
        text = kept.reference
        captured = kept.observed.get("captured") if isinstance(kept.observed, dict) else None
        if text is None and isinstance(captured, str):
            try:
                text = (self.core.folder / captured).read_text(encoding="utf-8",
                                                               errors="replace")[:65536]
            except OSError:
                text = None
        first = next((r for r in state.restore_points if r.server_time), None)
        return {"gate": gate.id, **rules.backup_window_verdict(
            text, first.server_time if first else None)}

    def _circumstances_said(self) -> str:
        """The same, as the decision record's Markdown says it."""
        state, said = self.core.state, ""
        if state.environment is not None:
            said += f"\nEnvironment: {state.environment}\n"
        if state.workdir_override is not None:
            over = state.workdir_override
            said += (f"\nWorking directory OVERRIDDEN: approved `{over.approved}`, the "
                     f"session ran in {over.used} (--override-workdir by {over.by})\n")
        if state.rehearsal is not None:
            link = state.rehearsal
            proved = rules.rehearsal_proved(self.core.runbook, state)
            lead = ("Proved by rehearsal" if proved
                    else "Linked to rehearsal (its proof did not hold)")
            said += (f"\n{lead} {link.session_id} ({link.folder}), last event hash "
                     f"{link.last_hash}\n")
        if (target := rules.restore_target(state)) is not None:
            said += f"\n{target[0].upper()}{target[1:]}\n"
            if (window := self._backup_window()) is not None:
                said += f"\nBackup window ({window['gate']}): {window['said']}\n"
        if state.rehearsal is not None:
            ran = rehearsed_downgrades(Path(state.rehearsal.folder))
            said += ("\nThe rehearsal ran a downgrade path: " + "; ".join(ran) + "\n" if ran
                     else "\nThe rehearsal ran no downgrade path.\n" if ran is not None
                     else "\nThe rehearsal could not be read for its downgrade path.\n")
        for text in rules.committed_lines(state):
            said += f"\nRevisions, {text}\n"
        return said

    def finish_closing(self) -> None:
        """After the decision event: the operator's signature, then the filled checklist
        (which names it) — the last event of a closing. A resume after a crash in between, or
        after the signing failed, finishes it (a session that declared a key closes signed,
        or with --no-sign)."""
        if self.core.state.closed or self.core.state.decision is None:
            return
        unsigned = self.signatures.sign_decision()
        if unsigned is not None and self.core.state.sign_keys and not self.core.allow_unsigned:
            return  # a key was declared: the session stays open for its signature (resume)
        evidence = self.core.folder / "evidence"
        report = render_report(self.core.runbook, self.core.state, self.core.redactor.redact_text,
                               folder=self.core.folder)
        write_atomic(evidence / "checklist.md", report.encode())
        self.core.append(records.ChecklistWritten(file="evidence/checklist.md",
                                             sha256=file_sha256(evidence / "checklist.md")))

    def _signing_note(self) -> str:
        """What the record says of its signatures: they come after it (each signs it)."""
        if self.core.signer is not None:
            said = (f"\nSigned by the operator, {self.core.signer.identity} (SSH key "
                    f"{self.core.signer.fingerprint}): the signature follows in "
                    "evidence/signatures/\n")
        else:
            said = "\nUnsigned: no signing key was given (--sign-key)\n"
        need = rules.countersignatures_required(self.core.runbook)
        if need:
            said += (f"Requires {need} countersignature(s) of this record by reviewers "
                     "(cockpit countersign)\n")
        return said
