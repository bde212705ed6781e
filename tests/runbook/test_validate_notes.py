"""`cockpit validate` notes what will hold the gates or leave a change unguarded (issue #27):
each setup line to confirm by hand, and each changing command with no abort rule and no
`lock_timeout`. Notes, not errors: the exit code stays 0."""

from __future__ import annotations

from pathlib import Path

from cockpit.runbook.loader import load_runbook
from cockpit.runbook.render import render_markdown
from tests.engine.helpers import HEAD, TAIL, cockpit

SETUP = """
[setup]
heading = "Session Setup"
items = [
  { kind = "manual", id = "dsn-line", text = "`DATABASE_URL` set to `ledger_prod`" },
]
"""
PHASES = """
[[phases]]
id = "P1"
heading = "Phase 1"
steps = [
  { kind = "command", id = "bare", command = "alembic upgrade head", confirm = "head" },
  { kind = "command", id = "timed", command = "alembic upgrade +1", confirm = "go", lock_timeout = "5s" },
  { kind = "command", id = "ruled", command = "alembic upgrade +2", confirm = "go", abort_rules = ["duplicate-table"] },
  { kind = "command", id = "reads", command = "alembic current", read_only = true },
]

[[phases]]
id = "P2"
heading = "Phase 2"
steps = [
  { kind = "abort_watch", id = "watch", text = "Abort on:", rules = ["duplicate-table"] },
  { kind = "command", id = "watched", command = "alembic upgrade head", confirm = "head" },
]
"""


def test_validate_notes_setup_confirmations_and_unguarded_changes(tmp_path: Path) -> None:
    path = tmp_path / "runbook.toml"
    path.write_text(HEAD.format(production="true") + SETUP + PHASES + TAIL)
    done = cockpit("validate", str(path))
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if line.startswith("note: ")]
    line = render_markdown(load_runbook(path)).splitlines().index(
        "- [ ] `DATABASE_URL` set to `ledger_prod`") + 1
    assert f"note: {path}: setup.items[0]: setup item 'dsn-line' (line {line}) is a manual " \
        "confirmation: the gates stay closed until it is confirmed" in notes
    unguarded = [n for n in notes if "no abort rule and no lock_timeout" in n]
    assert len(unguarded) == 1, notes  # timed, ruled, watched and the read-only one are guarded
    assert f"{path}: phases[0].steps[0]: step 'bare' changes the database" in unguarded[0]
    # the rest is the targets check's (no alembic project here): nothing else is noted
    others = [n for n in notes if "alembic" not in n]
    assert len(others) == 2, notes
