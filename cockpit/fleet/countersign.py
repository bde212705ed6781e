"""Four eyes on a fleet (`countersign = true` in its targets file): its GO, and each wave
after the first, waits for a reviewer's countersignature besides the operator's typed
approval. The reviewer signs, with read access only, a statement the ledger gives: the
fleet, its runbook, targets file and answers as pinned, its waves — and for a wave, how the
wave before it ended (its event's hash). The operator's cockpit alone writes the ledger:
`cockpit attach-signature FLEET FILE` keeps the file there, recorded. A key or an identity
of the operator's is refused (no self-approval), as a session refuses it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

from cockpit.errors import CockpitError
from cockpit.evidence import signing
from cockpit.evidence.countersign import Refused, confirmed, hand_over, output_target
from cockpit.fleet import records as fr
from cockpit.fleet.folder import ledger_folder
from cockpit.fleet.ledger import FleetState, read_fleet
from cockpit.fleet.statements import approval_statement, describe, pending_subject
from cockpit.fleet.verify import verify_fleet
from cockpit.session.events import Event
from cockpit.session.layout import EVENTS
from cockpit.session.rules import Signer, self_approval
from cockpit.session.store import read_event_log, write_atomic

SIGNATURES = "signatures"  # in the ledger's folder: the countersignatures attached

def operators(state: FleetState) -> list[Signer]:
    """The fleet's operator: the key declared at its start, and the operator's name."""
    found = [Signer("", frozenset({state.operator} - {""}))]
    key = state.started.sign_key if state.started else None
    if key is not None:
        found.append(Signer(key.fingerprint, frozenset({key.identity} - {""})))
    return found


def countersign_fleet(folder: Path, key_path: Path, *, output: str | None,
                      confirm: str | None, identity: str | None, force: bool,
                      say: Callable[[str], None], out: Callable[[str], None]) -> int:
    """As a reviewer, with read access only: verify the fleet, show the statement of what it
    waits for, and sign it once `countersign` is typed."""
    state = read_fleet(folder)
    target = output_target(output, folder, force, "fleet's")
    checked = verify_fleet(folder)
    if checked.problems:
        raise CockpitError(f"{folder}: does not verify, nothing signed:\n  "
                           + "\n  ".join(checked.problems))
    subject = pending_subject(state)
    events = read_event_log(ledger_folder(folder) / EVENTS).events
    statement = approval_statement(subject, events) if subject else None
    if subject is None or statement is None:
        raise Refused(f"{folder}: nothing waits for a countersignature now (the fleet asks "
                      "for one at its GO and before each wave after the first, once the "
                      "wave before has ended)")
    key = signing.load_key(key_path, identity, interactive=True)
    reviewer = Signer(key.fingerprint, frozenset({key.identity} - {""}))
    if (why := self_approval(operators(state), reviewer)) is not None:
        raise Refused(f"{folder}: refused as self-approval: {why}; nothing signed")
    say(f"Countersigning {subject} of the fleet {folder} ({checked.summary}):")
    for line in describe(statement):
        say(f"  {line}")
    say(f"  you:         {key.identity or '(no identity: give --identity)'} ({key.fingerprint})")
    confirmed(confirm)
    data = signing.make_signature(key, "reviewer", "approval", statement,
                                  interactive=True).dumps()
    hand_over(data, target, folder, force, say, out)
    return 0


def checked_countersignature(state: FleetState, events: Sequence[Event], raw: bytes,
                             where: str) -> tuple[signing.SignatureFile, str]:
    """The file and its subject, once it is a reviewer's, of the approval the fleet waits
    for, made by the key it names, by no one of the operator's; else CockpitError."""
    doc = signing.read_signature(raw, where)
    subject = str(doc.statement.get("subject", ""))
    if doc.role != "reviewer" or doc.kind != "approval":
        raise Refused(f"{where}: not a countersignature of a fleet's approval (it is a "
                      f"{doc.role}'s of a {doc.kind}); `cockpit countersign FLEET` makes one")
    waiting = pending_subject(state)
    if subject != waiting:
        raise Refused(f"{where}: countersigns {subject or 'nothing'}, but the fleet waits for "
                      f"{waiting or 'none'}")
    if doc.statement != approval_statement(subject, events):
        raise Refused(f"{where}: signs another statement than this fleet's {subject}; the "
                      "reviewer runs `cockpit countersign` again")
    made_by = signing.signer_of(doc.signature, signing.file_signed_bytes(doc))
    if made_by != doc.fingerprint:
        raise Refused(f"{where}: names key {doc.fingerprint} but was signed by {made_by}")
    reviewer = Signer(made_by, frozenset({doc.identity} - {""}))
    if (why := self_approval(operators(state), reviewer)) is not None:
        raise Refused(f"{where}: refused as self-approval: {why}")
    return doc, subject


def kept_file(ledger: Path, subject: str, raw: bytes) -> tuple[str, str]:
    """The countersignature kept in the ledger's folder: its name there and sha256."""
    folder = ledger / SIGNATURES
    folder.mkdir(exist_ok=True)
    digest = hashlib.sha256(raw).hexdigest()
    name = f"{SIGNATURES}/{subject.replace(' ', '-')}-{digest[:12]}.json"
    write_atomic(ledger / name, raw)
    return name, digest


def countersigned_record(doc: signing.SignatureFile, subject: str, file: str,
                         digest: str) -> fr.ApprovalCountersigned:
    return fr.ApprovalCountersigned(subject=subject, file=file, sha256=digest,
                                    identity=doc.identity, fingerprint=doc.fingerprint)
