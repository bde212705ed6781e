"""The named failures a rehearsal world can be built with, each ending where a careful
operator would stop — and the data and database-side changes that cause them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

if TYPE_CHECKING:
    from cockpit.demo.world import World

# name -> (what goes wrong, where a careful operator stops)
FAULTS: dict[str, tuple[str, str]] = {
    "duplicate-table": ("the branch 0009b creates active_investments again",
                        "P3 halts on DuplicateTable; BLOCKER"),
    "missing-column": ("0022's backfill reads covenants.last_tested, which no migration made",
                       "P3 halts on UndefinedColumn; BLOCKER"),
    "enum-conflict": ("0009b defines the type drift_severity that 0021 defines too",
                      "P3 halts on DuplicateObject; BLOCKER"),
    "lock-timeout": ("another session holds a lock on facilities all along",
                     "P3 halts on LockNotAvailable (lock_timeout via PGOPTIONS); BLOCKER"),
    "lock-retry": ("another session holds a lock on facilities until 4 s after the upgrade "
                   "first waits for it; the upgrade step declares a retry (lock_timeout 2s)",
                   "P3's upgrade times out on the lock, is tried again, and passes on a later "
                   "attempt (every attempt in evidence); PASS"),
    "hold-point": ("the upgrade runs one revision at a time and holds before 0022 (a data "
                   "backfill)",
                   "P3 stops at the hold; it goes on when the operator types 0022 (headless: "
                   "exit 3, then [holds] in the answers); PASS"),
    "lock-queue": ("0020 holds its lock on facilities for 20 s while the application keeps "
                   "reading it; the migration itself never errors",
                   "P3 halted by the lock radar (sessions queue behind the migration), its "
                   "transaction rolled back, before lock_timeout could help; BLOCKER"),
    "drift": ("prod's monthly_report_packs fund FK says ON DELETE RESTRICT, not CASCADE",
              "P0 parity finds drift: halt before anything is written; BLOCKER"),
    "fk-renamed": ("prod's monthly_report_packs fund FK has another name, same definition",
                   "accepted as naming-only; the run continues to PASS"),
    "width": ("a view on alembic_version keeps the width correction from taking",
              "P1's post-check finds width 32, not 64; BLOCKER"),
    "multiple-heads": ("an unmerged hotfix revision gives the lineage two heads",
                       "gate NO-GO (repo head not single); nothing runs; BLOCKER"),
    "risky-index": ("0023 builds an index on facilities without CONCURRENTLY; prod's "
                    "facilities holds 150,000 rows",
                    "gate NO-GO (migration risk not waived); nothing runs; BLOCKER"),
    "silent-no-commit": ("env.py sets lock_timeout before configure(): Alembic prints "
                         "success and commits nothing",
                         "P4's current == head check fails; BLOCKER"),
}


def seed(conn: psycopg.Connection) -> None:
    """A little data, so backfills have rows to move."""
    conn.execute("""
        INSERT INTO funds (code, name) VALUES ('NPC1', 'Netz Private Credit I'),
            ('NPC2', 'Netz Private Credit II'), ('NDL', 'Netz Direct Lending');
        INSERT INTO facilities (fund_id, borrower, limit_amount, risk)
            SELECT f.id, f.code || '-borrower-' || g, 1000000 * g,
                   (ARRAY['low','medium','high'])[1 + g % 3]::risk_level
            FROM funds f, generate_series(1, 4) g;
        INSERT INTO covenants (facility_id, kind, threshold, tested_on)
            SELECT id, 'leverage', 3.5, current_date - 30 FROM facilities;
        INSERT INTO investors (fund_id, name)
            SELECT f.id, 'investor ' || g FROM funds f, generate_series(1, 3) g;
        INSERT INTO monthly_report_packs (fund_id, period)
            SELECT id, date '2026-10-01' FROM funds;
    """)


def snapshot_anchor(world: World, path: Path) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from cockpit.probes.snapshot import take_snapshot

    engine = create_engine(world.cluster.socket_url("anchor_clone"), poolclass=NullPool)
    with engine.connect() as conn:
        path.write_text(json.dumps(take_snapshot(conn), indent=2, sort_keys=True))
    engine.dispose()


LOCKER = """
import sys, time, psycopg
conn = psycopg.connect(sys.argv[1])
conn.execute("LOCK TABLE facilities IN ACCESS SHARE MODE")  # a report that never ends
print("locked", flush=True)
time.sleep(86400)
"""


BRIEF_LOCKER = """
import sys, time, psycopg
conn = psycopg.connect(sys.argv[1], application_name="netz-report")
conn.execute("LOCK TABLE facilities IN ACCESS SHARE MODE")  # a report, for a while
print("locked", flush=True)
look = psycopg.connect(sys.argv[1], autocommit=True)
waiting = ("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
           "WHERE c.relname = 'facilities' AND NOT l.granted")
while not look.execute(waiting).fetchone()[0]:
    time.sleep(0.2)  # until the migration first waits behind it
time.sleep(4)
conn.rollback()  # the report ends: the lock is let go
time.sleep(86400)
"""

# the upgrade step of the demo runbook, as the runbook gives it, and what each fault adds
_UPGRADE = 'confirm = "70a79686336c"\n'
_STEP_FAULTS = {
    "lock-retry": ('lock_timeout = "2s"\n'
                   'retry = { on = "lock-timeout-deadlock", attempts = 5, first_delay = "1s", '
                   'cap = "4s" }\n'),
    "hold-point": ('per_revision = true\n'
                   'halt_leaves = "the revisions before the failing one stay committed; the DBA '
                   'decides roll forward or restore"\n'
                   'hold_before = "0022"\n'),
}


def fault_runbook(fault: str | None, bundled: Path, workspace: Path) -> Path:
    """The runbook the demo runs: the bundled one, or for a fault that changes how the
    upgrade step runs (a retry, a revision at a time), a copy in the world with that added
    — approved as written there, so the session's transcript says what ran."""
    added = _STEP_FAULTS.get(fault or "")
    if added is None:
        return bundled
    text = bundled.read_text(encoding="utf-8")
    assert text.count(_UPGRADE) == 1, "the demo runbook's upgrade step moved"
    path = workspace / f"demo-cutover-{fault}.toml"
    path.write_text(text.replace(_UPGRADE, _UPGRADE + added), encoding="utf-8")
    return path


TRAFFIC = """
import sys, threading, time, psycopg
def reader():
    conn = psycopg.connect(sys.argv[1], application_name="netz-app", autocommit=True)
    while True:  # the application's reads, all along
        conn.execute("SELECT count(*) FROM facilities")
        time.sleep(0.2)
for _ in range(6):
    threading.Thread(target=reader, daemon=True).start()
print("reading", flush=True)
time.sleep(86400)
"""


def apply_database_fault(world: World, conn: psycopg.Connection, fault: str | None) -> int | None:
    """Change prod as the fault needs; returns the pid of a process that must be stopped."""
    fk = "monthly_report_packs_fund_id_fkey"
    if fault == "drift":
        conn.execute(f"""ALTER TABLE monthly_report_packs DROP CONSTRAINT {fk},
            ADD CONSTRAINT {fk} FOREIGN KEY (fund_id) REFERENCES funds(id) ON DELETE RESTRICT""")
    elif fault == "fk-renamed":
        conn.execute(f"ALTER TABLE monthly_report_packs RENAME CONSTRAINT {fk} TO fk_mrp_fund")
    elif fault == "width":
        conn.execute("CREATE VIEW v_version_audit AS SELECT version_num FROM alembic_version")
    elif fault == "risky-index":  # enough rows that writes waiting on the build matter
        conn.execute("""INSERT INTO facilities (fund_id, borrower, limit_amount)
            SELECT 1 + g % 3, 'bulk-borrower-' || g, 1000 FROM generate_series(1, 150000) g""")
        conn.execute("ANALYZE facilities")
    elif fault == "lock-timeout":
        return _client(world, LOCKER, "locked")
    elif fault == "lock-retry":
        return _client(world, BRIEF_LOCKER, "locked")
    elif fault == "lock-queue":
        return _client(world, TRAFFIC, "reading")
    return None


def _client(world: World, script: str, ready: str) -> int:
    """A database client of the fault's, in a session of its own, once it says it is
    `ready`; its pid (the world stops it)."""
    conninfo = world.cluster.socket_conninfo("netzprod")
    client = subprocess.Popen([sys.executable, "-c", script, conninfo],
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert client.stdout is not None and client.stdout.readline().strip() == ready
    return client.pid


def describe() -> list[str]:
    return [f"{name:<17} {what}; {stop}" for name, (what, stop) in FAULTS.items()]

