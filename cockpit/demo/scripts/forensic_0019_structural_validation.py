"""P0 forensic: the production schema against the anchor snapshot taken on the clone at
0019_nav_snapshots_and_investor_statements. Naming-only differences are accepted; any other
difference is drift and fails this script."""

import json
import os
import sys
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from cockpit.probes.snapshot import compare, parity_report, take_snapshot

reference = json.loads((Path(__file__).parent / "anchor_0019_snapshot.json").read_text())
engine = create_engine(os.environ["DATABASE_URL"], hide_parameters=True, poolclass=NullPool)
with engine.connect() as conn:
    actual = take_snapshot(conn)
ok, report = parity_report(compare(reference, actual))
print(report)
sys.exit(0 if ok else 1)
