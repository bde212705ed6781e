"""P1 correction: widen alembic_version.version_num to 64 characters.

Like many scripts written in a hurry, it reports a failure and carries on with exit status 0.
That is why the runbook's post-check reads the width back from the database."""

import os

import psycopg

try:
    with psycopg.connect(os.environ["PG_DSN"]) as conn:
        conn.execute("ALTER TABLE alembic_version ALTER COLUMN version_num TYPE varchar(64)")
    print("alembic_version.version_num widened to varchar(64)")
except psycopg.Error as exc:
    print(f"WARNING: width correction not applied: {exc}".strip())
