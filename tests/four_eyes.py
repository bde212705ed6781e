"""Real OpenSSH keys made for a test, and a runbook that asks for four eyes: the governance
gate answered by a countersignature of the transcript, and one of the decision required."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.engine.helpers import ORDINARY, TAIL, phase

HEAD = """
format = 1
id = "four-eyes"
title = "Four-eyes rehearsal"
production = false

[gates]
heading = "Gates"
items = [
  { kind = "probe", id = "signoff", text = "Transcript countersigned by a reviewer", probe = "review.countersigned" },
  { kind = "attestation_file", id = "freeze", text = "Freeze attested (`freeze.log`)", path = "freeze.log" },
]
"""

SIGN_OFF_FIELDS = """  { kind = "field", id = "operator", label = "Operator", role = "operator" },
  { kind = "field", id = "reviewer", label = "Reviewer", role = "reviewer" },
]
"""


@dataclass(frozen=True)
class Keys:
    operator: Path  # alice@example.com
    reviewer: Path  # bob@example.com
    locked: Path  # carol@example.com, behind a passphrase
    allowed: Path  # allowed_signers naming all three


def make_key(folder: Path, name: str, comment: str, passphrase: str = "") -> Path:
    key = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", comment,
                    "-f", str(key)], check=True)
    return key


def allowed_line(identity: str, key: Path) -> str:
    kind, blob = key.with_name(key.name + ".pub").read_text().split()[:2]
    return f'{identity} namespaces="cutover-cockpit" {kind} {blob}\n'


def make_keys(folder: Path) -> Keys:
    folder.mkdir(parents=True, exist_ok=True)
    operator = make_key(folder, "alice", "alice@example.com")
    reviewer = make_key(folder, "bob", "bob@example.com")
    locked = make_key(folder, "carol", "carol@example.com", passphrase="carol-secret")
    allowed = folder / "allowed_signers"
    allowed.write_text(allowed_line("alice@example.com", operator)
                       + allowed_line("bob@example.com", reviewer)
                       + allowed_line("carol@example.com", locked))
    return Keys(operator, reviewer, locked, allowed)


def four_eyes_world(tmp_path: Path, countersignatures: int = 1) -> Path:
    world = tmp_path / "world"
    world.mkdir()
    (world / "freeze.log").write_text("write freeze in force\n")
    tail = TAIL.replace('heading = "Decision"\n',
                        f'heading = "Decision"\ncountersignatures = {countersignatures}\n')
    tail = tail.replace('role = "root_cause" },\n]\n',
                        'role = "root_cause" },\n' + SIGN_OFF_FIELDS)
    runbook = world / "runbook.toml"
    runbook.write_text(HEAD + phase("P0", ORDINARY) + tail)
    return runbook
