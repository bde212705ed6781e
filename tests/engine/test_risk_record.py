"""What the record says of the migration risk gate: every waiver (the finding, the reason,
who approved it) in the decision record, the filled checklist and the HTML page; no reason
cut; the style findings apart from the lock findings; the one transaction and the locks it
holds to its end. A real Alembic project, squawk and a real PostgreSQL run the gate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from cockpit.demo.pgcluster import PgCluster
from cockpit.evidence.report import render_report
from cockpit.evidence.riskrecord import (
    RiskRecord,
    category,
    risk_markdown,
    transaction_lines,
    waiver_lines,
)
from cockpit.runbook.loader import load_runbook
from cockpit.session.state import GateState, SessionState
from tests.engine.helpers import cockpit, phase, write_world
from tests.probes.test_risk import alembic_project
from tests.run import db_url

# past 160 characters, and its end is what the approver signed up to
LONG_REASON = ("built in the Sunday window while the ingest is paused; the index is small "
               "enough to finish in under a minute on the clone (measured 41 s), and the "
               "reviewers accept the write pause — END-OF-REASON")
REVISIONS = [
    ("r1", None, '    op.execute("CREATE TABLE metrics (id bigserial PRIMARY KEY, '
                 'value double precision)")'),
    ("r2", "r1", '    op.execute("CREATE INDEX ix_metrics_value ON metrics (value)")'),
    ("r3", "r2", '    op.execute("CREATE TABLE tags (id serial PRIMARY KEY, name varchar(40), '
                 'n int)")'),
]
GATE = ('  { kind = "probe", id = "risk", text = "Migration risk reviewed", '
        'probe = "migration.risk", args = { from = "r1" } },\n')
WAIVER = f'''
[[waivers]]
revision = "r2"
rule = "index-without-concurrently"
reason = "{LONG_REASON}"
approved_by = "Dana DBA lead"

[[waivers]]
revision = "r9"
rule = "share-lock"
reason = "a revision that is not on the path"
approved_by = "Dana DBA lead"
'''


def _world(tmp_path: Path, cluster: PgCluster) -> tuple[Path, dict[str, str]]:
    """A project at r1 for real, `metrics` filled past the gate's row limit, and a runbook
    whose risk gate waives r2's index build (and names a revision that is not there)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    cluster.create_database(name)
    runbook = write_world(tmp_path, [phase("P0", [("hello", "echo hello")])])
    world = alembic_project(runbook.parent, REVISIONS)
    env = {"DATABASE_URL": db_url(cluster, cluster.socket_conninfo(name))}
    done = subprocess.run([sys.executable, "-m", "alembic", "upgrade", "r1"], cwd=world,
                          env={**os.environ, **env}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with psycopg.connect(cluster.socket_conninfo(name), autocommit=True) as conn:
        conn.execute("INSERT INTO metrics (value) SELECT g FROM generate_series(1, 120000) g")
        conn.execute("ANALYZE metrics")
    freeze = 'path = "freeze.log" },\n'
    runbook.write_text(runbook.read_text().replace(freeze, freeze + GATE, 1) + WAIVER)
    return runbook, env


@pytest.mark.slow  # a whole headless run with the risk gate: ~25 s on a loaded machine
def test_every_waiver_is_in_the_record_the_report_and_the_page_whole(
        tmp_path: Path, pg_cluster: PgCluster) -> None:
    runbook, env = _world(tmp_path, pg_cluster)
    session = tmp_path / "s"
    done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                   str(session), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    decision = (session / "evidence" / "decision.md").read_text()
    record = json.loads((session / "evidence" / "decision.json").read_text())
    checklist = (session / "evidence" / "checklist.md").read_text()
    report = cockpit("report", str(session)).stdout
    page = cockpit("report", str(session), "--html").stdout
    said = ("r2 `index-without-concurrently` (line 2) — SHARE on public.metrics (120,000 "
            "rows")
    for text in (decision, checklist, report):
        assert said in text and LONG_REASON in text and "(approved by Dana DBA lead)" in text
    [waiver] = record["risk_waivers"]
    assert waiver["rule"] == "index-without-concurrently" and waiver["revision"] == "r2"
    assert waiver["table"] == "public.metrics" and waiver["rows"] == 120_000
    assert waiver["waived"] == {"reason": LONG_REASON, "approved_by": "Dana DBA lead"}
    assert LONG_REASON in page and "Dana DBA lead" in page
    # an approval that covers nothing is said
    assert "Waivers that matched no finding: r9 `share-lock`" in report
    # style apart from locks: varchar and int in r3 are style, r2's index build a lock
    lock_part = report[report.index("### Lock findings"):report.index("### Style findings")]
    style_part = report[report.index("### Style findings"):]
    assert "index-without-concurrently" in lock_part and "prefer-text-field" not in lock_part
    assert "`prefer-text-field` (1)" in style_part and "r3 line 2" in style_part
    assert '<details class="style">' in page and "prefer-bigint-over-int" in page
    assert cockpit("verify", str(session)).returncode == 0


def _finding(**given: Any) -> dict[str, Any]:
    return {"revision": "r2", "rule": "share-lock", "source": "cockpit", "message": "m",
            "statement": "", "line": 2, "lock": "SHARE", "table": "public.metrics",
            "rows": 600_000, "bytes": 50 * 1048576, "severity": "error", "waived": None,
            **given}


def _record(*findings: dict[str, Any], **report: Any) -> RiskRecord:
    return RiskRecord("risk", "evidence/probes/x-migration-risk.json", {
        "from": "r1", "to": "heads", "path": ["r2"], "totals": {}, "findings": list(findings),
        **report})


def test_the_gates_own_category_decides_lock_or_style() -> None:
    squawk = {"source": "squawk", "rule": "prefer-text-field", "severity": "warning"}
    assert category(_finding(**squawk)) == "style"
    assert category(_finding(**squawk, category="lock")) == "lock"
    assert category(_finding(rule="adding-required-field", source="squawk",
                             category="style")) == "style"
    # a style rule the gate made an error (it blocks) is not set aside
    assert category(_finding(**{**squawk, "severity": "error"})) == "lock"
    assert category(_finding()) == "lock"


def test_one_transaction_and_the_locks_held_to_its_end_are_stated() -> None:
    record = _record(one_transaction=True, held_to_end=[
        {"table": "public.metrics", "lock": "SHARE", "revision": "0025"}])
    lines = transaction_lines(record.report)
    assert lines[0].startswith("The upgrade runs as ONE transaction")
    assert "- SHARE on public.metrics (from revision 0025)" in lines
    assert transaction_lines({"one_transaction": False})[0].startswith(
        "The upgrade commits each revision on its own")
    assert transaction_lines({}) == []  # a report that does not say: nothing claimed
    assert "ONE transaction" in risk_markdown(load_runbook_for_test(), [record])


def test_a_waiver_without_findings_and_an_unreadable_report_are_said() -> None:
    assert waiver_lines([_record(_finding())]) == ["Waived risk findings: none"]
    broken = RiskRecord("risk", "evidence/probes/x-migration-risk.json",
                        problem="it cannot be read (gone)")
    assert waiver_lines([broken])[0] == "Risk report of risk NOT READ: it cannot be read (gone)"
    assert waiver_lines([]) == []


def load_runbook_for_test() -> Any:
    root = Path(__file__).resolve().parents[2]
    return load_runbook(root / "runbooks" / "demo-cutover.toml")


def test_the_report_reads_the_gates_kept_report_from_the_session(tmp_path: Path) -> None:
    """The wiring without a run: the demo's risk gate observed a kept report; the filled
    checklist's appendix shows it, style apart, every word whole."""
    kept = "evidence/probes/0123-migration-risk.json"
    long_message = "x" * 150 + " the end of a long finding"
    findings = [_finding(waived={"reason": LONG_REASON, "approved_by": "Dana"},
                         message=long_message),
                _finding(rule="prefer-text-field", source="squawk", severity="warning",
                         category="style", message="Use text.")]
    (tmp_path / kept).parent.mkdir(parents=True)
    (tmp_path / kept).write_text(json.dumps(_record(*findings).report))
    state = SessionState(gates={"migration-risk": GateState(
        status="passed", observed={"files": [{"captured": kept}]})})
    report = render_report(load_runbook_for_test(), state, folder=tmp_path)
    appendix = report[report.index("## Migration risk (gate migration-risk)"):]
    assert LONG_REASON in appendix and long_message in appendix
    assert appendix.index("### Lock findings (1)") < appendix.index("### Style findings (1)")
    assert "- `prefer-text-field` (1): Use text. — at r2 line 2" in appendix
    assert "## Migration risk" not in render_report(load_runbook_for_test(), state)


def test_the_risk_gates_detail_on_screen_says_each_finding_whole(tmp_path: Path) -> None:
    """The operator's screen: the risk gate's detail shows what the record says — every
    reason whole, the waivers, the style findings apart."""
    from cockpit.tui.checklist import ChecklistTree

    kept = "evidence/probes/0123-migration-risk.json"
    long_message = "y" * 170 + " the end of a long finding"
    (tmp_path / kept).parent.mkdir(parents=True)
    (tmp_path / kept).write_text(json.dumps(_record(
        _finding(message=long_message, waived={"reason": LONG_REASON, "approved_by": "Dana"}),
        _finding(rule="prefer-text-field", source="squawk", severity="warning",
                 message="Use text.")).report))
    state = SessionState(gates={"migration-risk": GateState(
        status="passed", observed={"files": [{"captured": kept}]})})
    runbook = load_runbook_for_test()
    gate = next(g for g in runbook.gates.items if g.id == "migration-risk")
    text = ChecklistTree("checklist").detail(runbook, state, gate, tmp_path)
    assert long_message in text and LONG_REASON in text and "(approved by Dana)" in text
    assert text.index("### Lock findings (1)") < text.index("### Style findings (1)")


def test_the_page_shows_lock_findings_in_a_table_and_folds_the_style_away() -> None:
    from cockpit.evidence.htmlreport import risk_html

    long_message = "z" * 170 + " <the end>"
    page = risk_html(load_runbook_for_test(), [_record(
        _finding(message=long_message, waived={"reason": LONG_REASON, "approved_by": "Dana"}),
        _finding(rule="prefer-text-field", source="squawk", severity="warning",
                 message="Use text."), one_transaction=True,
        held_to_end=[{"table": "public.metrics", "lock": "SHARE", "revision": "0025"}])])
    table = page[page.index('<table class="risk">'):page.index("</table>")]
    assert "z" * 170 + " &lt;the end&gt;" in table and LONG_REASON in table
    folded = page[page.index('<details class="style">'):page.index("</details>")]
    assert "prefer-text-field" in folded and "prefer-text-field" not in table
    assert "ONE transaction" in page
    assert "<ul>\n<li>SHARE on public.metrics (from revision 0025)</li>\n</ul>" in page


def test_the_gates_own_words_are_read_as_the_risk_gate_writes_them() -> None:
    """The gate's report nests the transaction under `transaction` and marks each finding's
    `kind`: the record reads those, not only its own fallbacks."""
    lines = transaction_lines({"transaction": {"one_transaction": True, "held_to_end": [
        {"table": "public.metrics", "lock": "ACCESS EXCLUSIVE", "revision": "m2",
         "through": "m5", "revisions_held": 4, "rows": 500000, "bytes": 1}]}})
    assert lines[0].startswith("The upgrade runs as ONE transaction")
    assert "ACCESS EXCLUSIVE on public.metrics (from revision m2), held through 4 revisions" \
        in lines[2]
    # a squawk style rule the gate calls a lock finding stays one, and the reverse
    assert category({"source": "squawk", "rule": "prefer-text-field", "kind": "lock"}) == "lock"
    assert category({"source": "cockpit", "rule": "share-lock", "kind": "style"}) == "style"
