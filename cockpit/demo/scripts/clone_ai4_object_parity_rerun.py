"""P4: the six AI-4 objects exist after the upgrade."""

import os
import sys

import psycopg

OBJECTS = ["active_investments", "performance_drift_flags", "covenant_status_register",
           "cash_impact_flags", "investment_risk_registry", "board_monitoring_briefs"]
with psycopg.connect(os.environ["PG_DSN"]) as conn:
    present = {row[0] for row in conn.execute(
        "SELECT relname FROM pg_class WHERE relname = ANY(%s) AND relkind IN ('r','v','m')",
        (OBJECTS,))}
for name in OBJECTS:
    print(f"{'PRESENT' if name in present else 'MISSING'}  {name}")
print(f"AI-4 parity: {len(present)}/{len(OBJECTS)}")
sys.exit(0 if len(present) == len(OBJECTS) else 1)
