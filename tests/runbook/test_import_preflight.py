"""A DBA's pre-flight questions in a checklist's gates become probe gates — long and idle
transactions, replica lag, connection headroom, sessions waiting on locks — with the limits
the line states, and the checklist still renders back byte for byte."""

from __future__ import annotations

import pytest

from cockpit.runbook.importer import import_checklist
from cockpit.runbook.model import AttestationFileGate, ProbeGate
from cockpit.runbook.render import render_markdown

CHECKLIST = """# Ledger — Production Cutover

## Go / No-Go
- [ ] Change approved (CHG-4711)
{gates}
- [ ] Abort if any unchecked.

## P1 — Upgrade
- [ ] `alembic upgrade head` -> `logs/upgrade.log`
"""

# (the gate's line, the probe, its arguments)
WORDINGS = [
    ("No transaction older than 5 minutes", "db.long_transactions", {"max_age": "5m"}),
    ("No long-running transactions (over 90 s)", "db.long_transactions", {"max_age": "90s"}),
    ("No long-running transactions", "db.long_transactions", {}),
    ("no idle-in-transaction session", "db.idle_in_transaction", {}),
    ("No session idle in transaction for more than 30 seconds", "db.idle_in_transaction",
     {"max_age": "30s"}),
    ("replicas within 1 s", "db.replica_lag", {"max_lag": "1s"}),
    ("Replication lag under five seconds on every replica", "db.replica_lag",
     {"max_lag": "5s"}),
    ("Replica lag below 500 ms", "db.replica_lag", {"max_lag": "500ms"}),
    ("connection headroom at least 20%", "db.connection_headroom", {"min_free_percent": 20}),
    ("Connection headroom: at least 25 free connections", "db.connection_headroom",
     {"min_free": 25}),
    ("connection headroom checked", "db.connection_headroom", {}),
    ("no session waiting on locks", "db.lock_waiters", {}),
    ("No sessions waiting for a lock", "db.lock_waiters", {}),
    ("No lock waiters in pg_locks", "db.lock_waiters", {}),
]


@pytest.mark.parametrize(("line", "probe", "args"), WORDINGS, ids=[w[0] for w in WORDINGS])
def test_a_preflight_line_in_the_gates_becomes_its_probe(line: str, probe: str,
                                                         args: dict[str, object]) -> None:
    text = CHECKLIST.format(gates=f"- [ ] {line}")
    result = import_checklist(text, "ledger.md")
    assert result.runbook.gates is not None
    gate = result.runbook.gates.items[1]
    assert isinstance(gate, ProbeGate), gate
    assert (gate.probe, gate.args, gate.text) == (probe, args, line)
    assert render_markdown(result.runbook) == text
    assert any(f"'{line}' became a {probe} gate" in note for note in result.notes)


def test_all_five_in_one_checklist_round_trip_byte_for_byte() -> None:
    lines = [w[0] for w in WORDINGS[::3]]
    text = CHECKLIST.format(gates="\n".join(f"- [ ] {line}" for line in lines))
    result = import_checklist(text, "ledger.md")
    assert render_markdown(result.runbook) == text
    assert result.runbook.gates is not None
    probes = [g.probe for g in result.runbook.gates.items if isinstance(g, ProbeGate)]
    assert probes == ["db.long_transactions", "db.idle_in_transaction", "db.replica_lag",
                      "db.connection_headroom", "db.lock_waiters"]


@pytest.mark.parametrize("line", [
    "Read replica lag under five seconds (`replica_lag_check.txt`)",  # a file: attested
    "Transaction log shipping verified",
    "Lock file for the deploy runner removed",
    "Connection string reviewed by the DBA",
])
def test_lines_that_only_sound_alike_stay_what_they_were(line: str) -> None:
    text = CHECKLIST.format(gates=f"- [ ] {line}")
    result = import_checklist(text, "ledger.md")
    assert result.runbook.gates is not None
    gate = result.runbook.gates.items[1]
    assert not (isinstance(gate, ProbeGate) and gate.probe.startswith("db.")), gate


@pytest.mark.parametrize("heading", ["Before we start", "Before we begin"])
def test_a_before_we_start_section_is_the_gates_and_its_preflight_lines_probes(
        heading: str) -> None:
    """Found trying a team's own checklist: a `## Before we start` section read as a phase,
    so its pre-flight questions became manual ticks instead of probes."""
    text = CHECKLIST.replace("## Go / No-Go", f"## {heading}").format(
        gates="- [ ] No session idle in a transaction\n- [ ] No session waiting on locks")
    runbook = import_checklist(text).runbook
    probes = {item.probe for item in runbook.gates.items if isinstance(item, ProbeGate)}
    assert probes == {"db.idle_in_transaction", "db.lock_waiters"}
    assert render_markdown(runbook) == text


def test_an_attestation_file_named_with_its_folder_is_not_put_in_the_log_folder_again() -> None:
    """Found by a reader of the walkthrough: `cutover/write_freeze_attestation.log` became
    `cutover/cutover/write_freeze_attestation.log` (the logs' folder prefixed once more)."""
    text = CHECKLIST.format(gates="- [ ] Write freeze attested "
                                  "(`cutover/write_freeze_attestation.log`)").replace(
        "`logs/upgrade.log`", "`cutover/upgrade.log`")
    runbook = import_checklist(text).runbook
    paths = [item.path for item in runbook.gates.items if isinstance(item, AttestationFileGate)]
    assert paths == ["cutover/write_freeze_attestation.log"]
    assert render_markdown(runbook) == text
