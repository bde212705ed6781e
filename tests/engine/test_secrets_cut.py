"""A query's text is masked before it is cut: the lock radar keeps 200 characters of it and
the halt diagnostics 1,000, and a password the limit cuts in two — three characters on this
side of it, too few to be taken for a password — must not leave those characters behind
(issue #26: the radar's `left(query, 200)` kept 173 characters of one)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest

from cockpit.demo.pgcluster import PgCluster
from cockpit.engine.watcher import watch
from cockpit.probes.db_probes import pg_halt_diagnostics
from cockpit.probes.radar import app_name
from cockpit.session.redact import Redactor
from cockpit.session.store import redact_values
from tests.run import db_url
from tests.waiting import wait_until

PASSWORD = "Kv-S3cret-xyz"
KEPT = 3  # characters of the password before the limit


def _query(limit: int) -> tuple[str, str]:
    """A query whose text holds the password across character `limit`; and its text up to
    the password."""
    start = "SELECT 'cut' AS s, '"
    head = start + "#" * (limit - KEPT - len(start))
    return head, f"{head}{PASSWORD} and more'"


def _session(dsn: str, query: str, app: str) -> psycopg.Connection:
    conn = psycopg.connect(dsn, application_name=app, autocommit=True)
    conn.execute(query)  # its text stays in pg_stat_activity while the session is open
    return conn


@pytest.mark.system_slow
def test_the_radar_masks_a_query_before_it_cuts_it(tmp_path: Path, pg_cluster: PgCluster,
                                                   pg_db: str) -> None:
    head, query = _query(200)
    app = app_name("cut.1")
    held = _session(pg_db, query, app)
    started, record, series = tmp_path / "started", tmp_path / "record", tmp_path / "radar"
    started.write_text(json.dumps({"supervisor_pid": 0}))
    spec = {"record": str(record), "started": str(started), "series": str(series),
            "done": str(tmp_path / "done"), "stop_request": str(tmp_path / "stop"),
            "app": app, "interval": 0.1, "rules": []}
    env = {"DATABASE_URL": db_url(pg_cluster, pg_db)}
    watcher = threading.Thread(target=watch, args=(spec, env,
                                                   Redactor([PASSWORD])), daemon=True)
    watcher.start()
    try:

        def sampled() -> bool:
            assert watcher.is_alive(), "the watcher ended with no sample"
            return series.exists() and b"sessions" in series.read_bytes()

        wait_until(sampled, "a sample of the sessions", 30, every_s=0.05)
    finally:
        record.write_text("{}")  # the step's end: the watcher stops
        watcher.join(10)
        held.close()
    sample = json.loads(series.read_text().splitlines()[0])
    assert [s["query"] for s in sample["sessions"]] == [head + "***"]


@pytest.mark.system_slow
def test_the_halt_diagnostics_mask_a_query_before_they_cut_it(pg_cluster: PgCluster,
                                                              pg_db: str) -> None:
    head, query = _query(1000)
    held = _session(pg_db, query, "app")
    redactor = Redactor([PASSWORD])
    try:
        found = pg_halt_diagnostics(SimpleNamespace(env={"DATABASE_URL": db_url(pg_cluster, pg_db)},
                                                    redactor=redactor))
    finally:
        held.close()
    assert found is not None
    kept = redact_values(found, redactor.redact_text)  # as the halt writes them
    queries = [a["query"] for a in kept["pg_stat_activity"]]
    assert head + "***" in queries, queries
