"""Four eyes with OpenSSH signatures: what is signed (a statement pinned at an event of the
chain), signing and checking with `ssh-keygen -Y` (namespace `cutover-cockpit`), and the
signature file a signer writes and the session keeps.

A statement is built from the event log alone, so the operator's cockpit, a reviewer's
read-only `countersign` and `verify` all build the same bytes. The decision's is pinned at
the decision event (its hash covers every event before it, and through them every file
recorded), so what is attached later does not change it. No private key, passphrase or
agent socket is ever written: `ssh-keygen` reads them itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from cockpit.errors import CockpitError
from cockpit.session import events as ev
from cockpit.session import records
from cockpit.session.events import Event

T = TypeVar("T")
NAMESPACE = "cutover-cockpit"
FORMAT = "cutover-cockpit-signature/1"
# "approval": a fleet's GO or wave, whose statement the fleet's ledger gives
Kind = Literal["decision", "transcript", "hold", "approval"]
Role = Literal["operator", "reviewer"]
_TIMEOUT_S = 60  # a hardware token waits for a touch; longer than that, something hangs


class SigningError(CockpitError):
    """A signature that could not be made or does not check."""


@dataclass(frozen=True)
class SigningKey:
    """A key to sign with: a private key file, or a public key whose private half an agent
    (`ssh-add`) or a hardware token holds."""

    path: Path
    fingerprint: str  # SHA256:…, as ssh-keygen -l prints it
    identity: str  # who the signer says they are (the key's comment, else given)


class SignatureFile(BaseModel):
    """What a signer writes and the session keeps (evidence/signatures/): the statement in
    full, the armored SSH signature over its bytes, and who signed."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal["cutover-cockpit-signature/1"]
    role: Role
    kind: Kind
    statement: dict[str, Any]
    identity: str
    fingerprint: str
    signed_at: str
    signature: str

    def dumps(self) -> bytes:
        return (json.dumps(self.model_dump(), indent=2, ensure_ascii=False) + "\n").encode()


def ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if found is None:
        raise SigningError("ssh-keygen not found: signatures need OpenSSH's client "
                           "(Debian/Ubuntu: apt-get install openssh-client)")
    return found


def _run(args: Sequence[str], data: bytes | None = None,
         interactive: bool = False) -> subprocess.CompletedProcess[bytes]:
    """ssh-keygen, never prompting where no one can answer: unless `interactive` (a signer
    at their own terminal), it runs in a session of its own, with no terminal to ask a
    passphrase on — a locked key then fails at once instead of hanging a screen."""
    env = dict(os.environ)
    if not interactive:  # no terminal, and no graphical askpass either
        for name in ("DISPLAY", "WAYLAND_DISPLAY", "SSH_ASKPASS"):
            env.pop(name, None)
        env["SSH_ASKPASS_REQUIRE"] = "never"
    try:
        return subprocess.run([ssh_keygen(), *args], input=data or b"", capture_output=True,
                              timeout=_TIMEOUT_S, env=env, start_new_session=not interactive)
    except subprocess.TimeoutExpired:
        raise SigningError(f"ssh-keygen {args[0]} {args[1]} took over {_TIMEOUT_S} s "
                           "(a hardware key waiting for a touch?)") from None


def _said(result: subprocess.CompletedProcess[bytes]) -> str:
    lines = [line for line in result.stderr.decode(errors="replace").splitlines()
             if line.strip() and not line.startswith(("Signing data", "Enter passphrase"))]
    return "; ".join(lines) or f"exit status {result.returncode}"


def load_key(path: Path, identity: str | None = None, interactive: bool = False) -> SigningKey:
    """The key named by --sign-key / --key, checked now: its fingerprint, and that it can be
    read (a public key's private half must then be in the agent when it signs)."""
    if not path.is_file():
        raise SigningError(f"{path}: no such key file; give the private key (or its .pub with "
                           "the key in ssh-agent)")
    public = path if path.suffix == ".pub" else path.with_name(path.name + ".pub")
    if public.is_file():
        text = public.read_text(encoding="utf-8", errors="replace").strip()
    else:  # a private key without its .pub beside it: derive the public half
        derived = _run(["-y", "-f", str(path)], interactive=interactive)
        if derived.returncode != 0:
            raise SigningError(f"{path}: cannot read the key ({_said(derived)}); a key with "
                               "a passphrase: add it to ssh-agent (ssh-add) and give its .pub")
        text = derived.stdout.decode().strip()
    listed = _run(["-l", "-f", "-"], text.encode() + b"\n")
    parts = listed.stdout.decode().split()
    if listed.returncode != 0 or len(parts) < 2 or not parts[1].startswith("SHA256:"):
        raise SigningError(f"{public if public.is_file() else path}: not an SSH public key "
                           f"({_said(listed)})")
    comment = " ".join(text.split()[2:])
    return SigningKey(path, parts[1], identity or comment or "")


def sign(key: SigningKey, data: bytes, interactive: bool = False) -> str:
    """The armored SSH signature of `data` in our namespace."""
    result = _run(["-Y", "sign", "-f", str(key.path), "-n", NAMESPACE], data, interactive)
    if result.returncode != 0 or b"BEGIN SSH SIGNATURE" not in result.stdout:
        if key.path.suffix == ".pub" and not os.environ.get("SSH_AUTH_SOCK"):
            hint = ("; no ssh-agent is running here (SSH_AUTH_SOCK is not set): start one "
                    "(eval $(ssh-agent)) and ssh-add the key")
        elif key.path.suffix == ".pub":
            hint = "; is the key in the agent? (ssh-add -l lists what it holds)"
        else:
            hint = ("" if interactive else "; a key with a passphrase must be in ssh-agent "
                    "(ssh-add KEY), then give KEY.pub")
        raise SigningError(f"{key.path}: signing failed ({_said(result)}){hint}")
    return result.stdout.decode()


def _with_signature(signature: str, action: Callable[[str], T]) -> T:
    with tempfile.TemporaryDirectory(prefix="cockpit-sig-") as temp:
        sig = Path(temp) / "statement.sig"
        sig.write_text(signature, encoding="utf-8")
        return action(str(sig))


def signer_of(signature: str, data: bytes) -> str:
    """The fingerprint of the key that made `signature` over `data` in our namespace (no
    identity is checked: that needs an allowed_signers file); SigningError if it does not
    check."""
    def check(sig: str) -> subprocess.CompletedProcess[bytes]:
        return _run(["-Y", "check-novalidate", "-n", NAMESPACE, "-s", sig], data)

    result = _with_signature(signature, check)
    words = result.stdout.decode().split()
    if result.returncode != 0 or not words or words[0] != "Good":
        raise SigningError(f"the signature does not check against its statement "
                           f"({_said(result)})")
    found = next((w for w in words if w.startswith("SHA256:")), None)
    if found is None:
        raise SigningError(f"ssh-keygen named no key for the signature ({_said(result)})")
    return found


def principals_for(signature: str, data: bytes, allowed: Path, at: str) -> list[str]:
    """The identities of `allowed` (an allowed_signers file) whose key made this signature,
    each one verified (`ssh-keygen -Y verify`: the key, the namespace, and its validity at
    `at`, the UTC time the session recorded the signature — not today)."""
    when = ("-Overify-time=" + at.replace("-", "").replace(":", "").replace("T", "")[:14]
            + "Z")  # the session's times are UTC; ssh-keygen reads a bare one as local

    def find(sig: str) -> list[str]:
        found = _run(["-Y", "find-principals", "-s", sig, "-f", str(allowed), when])
        if found.returncode != 0:
            return []
        names = [n for line in found.stdout.decode().splitlines() for n in line.split(",")
                 if n.strip()]
        return [n for n in names
                if _run(["-Y", "verify", "-f", str(allowed), "-I", n, "-n", NAMESPACE,
                         when, "-s", sig], data).returncode == 0]

    return list(_with_signature(signature, find))


def make_signature(key: SigningKey, role: Role, kind: Kind, statement: dict[str, Any],
                   interactive: bool = False) -> SignatureFile:
    data = signed_bytes(statement, role, kind, key.identity)
    signature = sign(key, data, interactive)
    made_by = signer_of(signature, data)
    if made_by != key.fingerprint:  # a stale .pub beside the private key
        raise SigningError(f"{key.path}: signed with key {made_by}, but its public half says "
                           f"{key.fingerprint}; give the matching .pub (or the private key "
                           "alone)")
    return SignatureFile(format=FORMAT, role=role, kind=kind, statement=statement,
                         identity=key.identity, fingerprint=key.fingerprint,
                         signed_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                         signature=signature)


def read_signature(raw: bytes, where: str) -> SignatureFile:
    try:
        return SignatureFile.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        place = ".".join(str(p) for p in first["loc"]) or "the file"
        raise SigningError(f"{where}: not a cockpit signature file ({place}: {first['msg']}); "
                           "`cockpit countersign` writes one") from None


# ---------------------------------------------------------------- statements

def statement_bytes(statement: dict[str, Any]) -> bytes:
    return (json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            + "\n").encode()


def signed_bytes(statement: dict[str, Any], role: str, kind: str, identity: str) -> bytes:
    """What a signature is made over: the statement, and who signs it in which role — so
    that a signature file whose role, kind or identity is edited no longer checks."""
    return statement_bytes({"statement": statement, "role": role, "kind": kind,
                            "identity": identity})


def file_signed_bytes(doc: SignatureFile) -> bytes:
    return signed_bytes(doc.statement, doc.role, doc.kind, doc.identity)


def statement_sha256(statement: dict[str, Any]) -> str:
    return hashlib.sha256(statement_bytes(statement)).hexdigest()


def decision_event(events: Sequence[Event]) -> Event | None:
    return next((e for e in events if e.type == ev.DECISION_RECORDED), None)


def statement_for(kind: Kind, events: Sequence[Event], hold_seq: int | None = None
                  ) -> dict[str, Any] | None:
    """What a signature of `kind` signs in this session; None while there is none to sign
    (no decision yet, no hold). A hold's: the one at event `hold_seq`, else the latest."""
    started = records.typed(events[0], records.SessionStarted) if events else None
    if started is None:
        return None
    common = {"namespace": NAMESPACE, "kind": kind, "session_id": started.session_id,
              "title": started.title, "runbook_sha256": started.runbook_sha256,
              "transcript_sha256": started.transcript_sha256}
    if kind == "transcript":  # this session's runbook, approved for this session only
        return {**common, "session_started_hash": events[0].hash}
    if kind == "hold":
        return _hold_statement(common, events, hold_seq)
    decided = decision_event(events)
    d = records.typed(decided, records.DecisionRecorded) if decided is not None else None
    if decided is None or d is None:
        return None
    sealed = list(records.of_kind(events[:decided.seq - 1], records.EvidenceSealed))
    return {**common, "decision": {"seq": decided.seq, "hash": decided.hash,
                                   "status": d.status},
            "manifest_sha256": sealed[-1].sha256 if sealed else None,
            "decision_json_sha256": d.json_sha256,
            "decision_markdown_sha256": d.markdown_sha256}


def _hold_statement(common: dict[str, Any], events: Sequence[Event], seq: int | None
                    ) -> dict[str, Any] | None:
    """A hold point of a `per_revision` step: the run that stopped there (its end's event),
    the revision it stands before and what it has committed by then."""
    committed: dict[str, list[str]] = {}
    found: dict[str, Any] | None = None
    for event in events:
        if (r := records.typed(event, records.StepFinished)) is None:
            continue
        committed[r.step] = [*committed.get(r.step, []), *(r.done or [])]
        if r.stop == "hold" and (seq is None or event.seq == seq):
            found = {"step": r.step, "revision": r.stopped_before, "run": r.run,
                     "seq": event.seq, "hash": event.hash,
                     "committed": list(committed[r.step])}
    return None if found is None else {**common, "hold": found}


def hold_subject(statement: dict[str, Any]) -> str:
    hold = statement["hold"]
    return f"{hold['step']}:{hold['revision']}:{hold['run']}"


class OtherStatement(SigningError):
    """A signature file that signs a statement other than the one this session gives."""


def check_against(doc: SignatureFile, events: Sequence[Event]) -> tuple[dict[str, Any], str]:
    """The statement a signature file signs in this session, and the key that made it, once
    it checks: the statement the chain gives for its kind; the signature over it and over
    the signer's role and identity; made by the key the file names. Else SigningError
    (OtherStatement for another session's, or another decision's, statement)."""
    held = doc.statement.get("hold")
    seq = held.get("seq") if doc.kind == "hold" and isinstance(held, dict) else None
    statement = statement_for(doc.kind, events, seq if isinstance(seq, int) else None)
    if statement is None or doc.statement != statement:
        verb = "countersigns" if doc.role == "reviewer" else "signs"
        raise OtherStatement(f"it {verb} another statement ({_which(doc)}), not this "
                             f"session's {doc.kind}")
    made_by = signer_of(doc.signature, file_signed_bytes(doc))
    if made_by != doc.fingerprint:
        raise SigningError(f"names key {doc.fingerprint} but was signed by {made_by}")
    return statement, made_by


def _which(doc: SignatureFile) -> str:
    s = doc.statement
    decided = s.get("decision") if isinstance(s.get("decision"), dict) else None
    return (f"session {s.get('session_id')}"
            + (f", decision hash {str(decided.get('hash'))[:16]}…" if decided else ""))


def describe(statement: dict[str, Any]) -> list[str]:
    """The statement as the signer reads it before signing."""
    lines = [f"session:     {statement['session_id']} — {statement['title']}",
             f"runbook:     sha256 {statement['runbook_sha256']}",
             f"transcript:  sha256 {statement['transcript_sha256']}"]
    if statement["kind"] == "decision":
        d = statement["decision"]
        lines += [f"decision:    {d['status']} (event {d['seq']}, hash {d['hash']})",
                  f"manifest:    sha256 {statement['manifest_sha256']}",
                  f"record:      decision.json sha256 {statement['decision_json_sha256']}",
                  f"             decision.md sha256 {statement['decision_markdown_sha256']}"]
    elif statement["kind"] == "hold":
        h = statement["hold"]
        lines += [f"hold:        step {h['step']} before revision {h['revision']} (run "
                  f"{h['run']}, event {h['seq']}, hash {h['hash']})",
                  f"committed:   {', '.join(h['committed']) or 'no revision'}"]
    else:
        lines.append(f"started:     event hash {statement['session_started_hash']}")
    return lines
