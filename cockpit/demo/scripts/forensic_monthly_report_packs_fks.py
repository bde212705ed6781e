"""P0 forensic: the foreign keys of monthly_report_packs, one by one, against the anchor.
A key whose name differs but whose definition matches is naming-equivalent (accepted)."""

import json
import os
import sys
from pathlib import Path

import psycopg

reference = json.loads((Path(__file__).parent / "anchor_0019_snapshot.json").read_text())
want = {name: spec["definition"] for name, spec in
        reference["tables"]["monthly_report_packs"]["constraints"].items()
        if spec["kind"] == "foreign key"}
with psycopg.connect(os.environ["PG_DSN"]) as conn:
    have = dict(conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'monthly_report_packs'::regclass AND contype = 'f'").fetchall())
drift = 0
for name, definition in sorted(want.items()):
    if have.get(name) == definition:
        print(f"IDENTICAL     {name}: {definition}")
        have.pop(name)
        continue
    twin = next((n for n, d in have.items() if d == definition), None)
    if twin is not None:
        print(f"NAMING-ONLY   {name} is named {twin} here; definition matches: {definition}")
        have.pop(twin)
    else:
        drift += 1
        found = have.pop(name, None)
        print(f"DRIFT         {name}: expected {definition!r}, found {found!r}")
for name, definition in have.items():
    drift += 1
    print(f"DRIFT         unexpected {name}: {definition}")
print(f"monthly_report_packs foreign keys: {len(want)} expected, {drift} drift")
sys.exit(1 if drift else 0)
