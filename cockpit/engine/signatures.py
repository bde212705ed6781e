"""The verbs of four eyes: the operator's signature of the decision (made as it is
recorded, with the key given at start), a reviewer's countersignature attached from the
file `cockpit countersign` wrote, and the governance gate a transcript countersignature
answers. What counts as four eyes is the rules' (`rules.self_approval`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cockpit.engine.core import ActionRefused, SessionCore
from cockpit.engine.gates import GateVerbs
from cockpit.errors import CockpitError
from cockpit.evidence import signing
from cockpit.session import records, rules
from cockpit.session.events import Event
from cockpit.session.integrity import file_sha256
from cockpit.session.modes import make_folder
from cockpit.session.state import SessionState
from cockpit.session.store import write_atomic

SIGNATURES = "evidence/signatures"


class SignatureVerbs:
    def __init__(self, core: SessionCore, gates: GateVerbs) -> None:
        self.core = core
        self.gates = gates  # a transcript countersignature answers a governance gate

    def _events(self) -> list[Event]:
        return self.core.store.events  # every event, as this process appended or read them

    def sign_decision(self) -> str | None:
        """Sign the recorded decision with the operator's key; returns why it is unsigned
        (no key, or signing failed: recorded as a fault), None once signed."""
        if rules.operator_signed(self.core.state):
            return None
        if self.core.signer is None:
            return "no signing key was given (--sign-key)"
        statement = signing.statement_for("decision", self._events())
        if statement is None:
            return None
        try:
            signed = signing.make_signature(self.core.signer, "operator", "decision", statement)
        except CockpitError as exc:
            return self.core.note_fault("sign the decision", exc)
        self._keep(signed.dumps(), "decision-operator.json", signed, statement)
        return None

    def attach_signature(self, raw: bytes, where: str) -> records.SignatureAttached:
        """Keep a reviewer's countersignature (the bytes of the file they wrote), once it
        checks: this session's statement, made by the key it names, no self-approval."""
        doc, statement = check_attachment(self.core.state, self._events(), raw, where,
                                          self.core.folder)
        count = sum(s.kind == doc.kind and s.role == "reviewer" for s in self.core.state.signatures)
        record = self._keep(raw, f"{doc.kind}-reviewer-{count + 1}.json", doc, statement,
                            signing.hold_subject(statement) if doc.kind == "hold" else None)
        if doc.kind == "transcript":
            for gate in rules.countersign_gates(self.core.runbook):
                self.gates.evaluate_countersign_gate(gate)
        return record

    def _keep(self, raw: bytes, name: str, doc: signing.SignatureFile,
              statement: dict[str, object], subject: str | None = None
              ) -> records.SignatureAttached:
        path = self.core.folder / SIGNATURES / name
        kept = f"{SIGNATURES}/{name}"
        if any(s.file == kept for s in self.core.state.signatures):  # never overwritten
            raise ActionRefused(f"{path}: already exists")
        # one there that no event records was left by a crash before its event: replaced
        make_folder(path.parent, like=self.core.folder)
        write_atomic(path, raw)
        record = records.SignatureAttached(
            role=doc.role, kind=doc.kind, file=kept, sha256=file_sha256(path),
            fingerprint=doc.fingerprint, identity=doc.identity,
            statement_sha256=signing.statement_sha256(statement),
            **({"subject": subject} if subject else {}))
        self.core.append(record)
        return record


def check_attachment(state: SessionState, events: list[Event], raw: bytes, where: str,
                     folder: Path) -> tuple[signing.SignatureFile, dict[str, Any]]:
    """Why a countersignature file may not be attached to this session (ActionRefused), or
    it and the statement it signs. Reads only: `attach-signature` asks before the lock."""
    doc = signing.read_signature(raw, where)
    if doc.role != "reviewer":
        raise ActionRefused(f"{where}: an operator's signature is made by the cockpit at "
                            "the decision (--sign-key), not attached")
    if signing.statement_for(doc.kind, events) is None:
        missing = "hold was reached" if doc.kind == "hold" else f"{doc.kind} is recorded"
        raise ActionRefused(f"{where}: a countersignature of the {doc.kind}, but no "
                            f"{missing} yet")
    try:
        statement, made_by = signing.check_against(doc, events)
    except signing.OtherStatement as exc:
        raise ActionRefused(f"{where}: {exc.message}; the reviewer runs `cockpit "
                            f"countersign {folder}` again") from None
    except signing.SigningError as exc:  # edited or forged: refused, as a wrong file is
        raise ActionRefused(f"{where}: {exc.message}") from None
    reviewer = rules.Signer(made_by, frozenset({doc.identity} - {""}))
    subject = signing.hold_subject(statement) if doc.kind == "hold" else None
    if (refused := rules.countersign_refusal(state, doc.kind, reviewer, subject)) is not None:
        raise ActionRefused(f"{where}: {refused}")
    return doc, statement


_MAX_BYTES = 1 << 20  # a signature file is a few KiB; a device or a huge file is no such


def read_signature_file(path: Path) -> bytes:
    try:
        if not path.is_file() or path.stat().st_size > _MAX_BYTES:
            raise CockpitError(f"{path}: not a signature file (a regular file of at most "
                               "1 MiB, as `cockpit countersign` writes)")
        return path.read_bytes()
    except FileNotFoundError:
        raise CockpitError(f"{path}: no such file") from None
    except OSError as exc:
        raise CockpitError(f"{path}: cannot be read ({exc.strerror})") from None
