"""Per fixture checklist (tests/fixtures/checklists/), the abort rules and the typed setup items
its import yields, against a table written by hand from reading each checklist: a guard the team
wrote that the import drops, or a rule it invents, fails here by name (issue #27, item 3).

Rules are shown as the library rule they are (`lock-timeout-deadlock`), `literal TEXT` for a
pattern of text the checklist quotes, `lock_queue >N [WAIT]` for the lock radar's rule. Setup
as `cd PATH` (the folder the block enters), `env NAME DATABASE key=value...`, `script` (the
block is derived from the items, not kept verbatim).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cockpit.runbook.abort_library import LIBRARY, MORE
from cockpit.runbook.importer import import_checklist
from cockpit.runbook.model import (
    AbortRule,
    CommandStep,
    EnvVar,
    Runbook,
    SetupScript,
    WorkingDirectory,
)
from cockpit.runbook.render import render_markdown
from cockpit.session.rules import watched_rules

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "checklists"
CHECKLISTS = sorted(FIXTURES.glob("*.md"))
_LIBRARY = {tuple(rule.patterns): rule.id for rule in (*LIBRARY, *MORE)}

EXPECTED: dict[str, tuple[list[str], list[str]]] = {
    "analytics-etl-home-folder-upgrade": (
        ['lock-timeout-deadlock', 'literal could not extend file', 'lock_queue >5'],
        ['cd ~/analytics/etl', 'env ANALYTICS_DSN analytics sslmode=require']),
    "appointments-timestamptz-conversion": (
        ['lock-timeout-deadlock', 'literal DatatypeMismatch'],
        []),
    "bookings-alembic-hotfix": (
        ['lock-timeout-deadlock', 'statement-timeout'],
        []),
    "catalog-logical-replication-move": (
        [],
        []),
    "customer-email-column-rename-backfill": (
        ['lock-timeout-deadlock'],
        ['cd /home/deploy/accounts-db', 'env DATABASE_URL accounts sslmode=require']),
    "django-orders-release": (
        ['duplicate-table', 'lock-timeout-deadlock', 'unexpected-backfill-conflict', 'literal InconsistentMigrationHistory'],
        ['cd /srv/releases/orders-service', 'env DATABASE_URL orders sslmode=require target_session_attrs=read-write', 'script']),
    "events-id-bigint-widening": (
        ['lock-timeout-deadlock', 'lock-timeout-deadlock', 'literal could not create unique index "events_pkey"'],
        []),
    "fastapi-billing-alembic-upgrade": (
        ['duplicate-table', 'lock-timeout-deadlock', 'lock-timeout-deadlock', 'statement-timeout'],
        ['cd /srv/deploy/billing-api', 'env DATABASE_URL billing sslmode=require']),
    "fintech-ledger-four-eyes-alembic": (
        ['lock-timeout-deadlock', 'literal CheckViolation'],
        ['cd /opt/fin/ledger-service', 'env DATABASE_URL ledger sslmode=verify-full']),
    "flask-migrate-helpdesk-upgrade": (
        ['literal DuplicateColumn', 'lock-timeout-deadlock', 'alembic-revision-error'],
        ['cd /srv/apps/helpdesk', 'env DATABASE_URL helpdesk sslmode=require']),
    "flyway-hr-payroll-release": (
        ['literal Validate failed', 'literal Detected failed migration', 'literal column "pension_scheme_code" of relation "employees" contains null values'],
        []),
    "gradebook-term-rollover-windows": (
        ['duplicate-table', 'literal ForeignKeyViolation', 'lock-timeout-deadlock'],
        ['cd d:\\Work\\Gradebook Service\\api', 'env DATABASE_URL gradebook sslmode=require']),
    "invoicing-windows-cmd-cutover": (
        ['lock-timeout-deadlock', 'duplicate-table', 'missing-column', 'statement-timeout'],
        ['cd D:\\apps\\invoicing', 'env DATABASE_URL invoicing sslmode=require']),
    "kiosk-cmd-batch-upgrade": (
        ['lock-timeout-deadlock', 'lock_queue >10', 'literal DuplicateColumn', 'missing-column'],
        ['cd C:\\Kiosk Fleet\\db', 'env KIOSK_DSN kiosk sslmode=require']),
    "ledger-alembic-index-cutover": (
        ['missing-table', 'insufficient-privilege', 'lock-timeout-deadlock', 'lock-timeout-deadlock', 'statement-timeout', 'lock_queue >3'],
        ['cd ledger', 'env DATABASE_URL ledger_prod sslmode=require']),
    "legacy-crm-alembic-baseline-stamp": (
        ['literal DuplicateColumn', 'lock-timeout-deadlock', 'literal CheckViolation'],
        ['cd d:\\Apps\\crm\\backend', 'env DATABASE_URL crm sslmode=require']),
    "maps-postgis-extension-upgrade": (
        ['literal could not access file "$libdir/postgis-3"', 'literal extension "postgis" has no update path', 'lock-timeout-deadlock'],
        []),
    "marketing-gdpr-pii-column-drop": (
        ['lock-timeout-deadlock', 'literal DependentObjectsStillExist', 'missing-column'],
        ['cd /srv/marketing-crm', 'env DATABASE_URL marketing sslmode=require']),
    "multi-tenant-saas-schema-change": (
        ['lock-timeout-deadlock'],
        []),
    "orders-partitioning-rollout": (
        ['lock-timeout-deadlock', 'literal no partition of relation "orders_p" found for row'],
        ['cd /opt/shop/partitioning', 'env ORDERS_DSN shop sslmode=require']),
    "partitions-nightly-job-move": (
        ['lock-timeout-deadlock', 'missing-table', 'disk-full'],
        ['cd ~/jobs/partitions', 'env PARTITIONS_DSN events sslmode=verify-full']),
    "payment-status-enum-change": (
        ['enum-type-redefinition', 'literal ActiveSqlTransaction', 'literal unsafe use of new value "partially_refunded"', 'lock-timeout-deadlock'],
        []),
    "pg-major-upgrade": (
        ['literal could not load library', 'lock-timeout-deadlock'],
        ['cd /var/lib/postgresql/upgrade-16', 'env PGOLD_DSN ledger sslmode=verify-full', 'env PGNEW_DSN ledger sslmode=verify-full', 'script']),
    "projects-rls-tenant-policies": (
        ['lock-timeout-deadlock', 'enum-type-redefinition', 'insufficient-privilege'],
        ['cd ~/deploy/projects-api', 'env DATABASE_URL projects sslmode=require']),
    "rails-inventory-strong-migrations": (
        ['literal StrongMigrations::UnsafeMigration', 'literal ActiveRecord::LockWaitTimeout', 'lock-timeout-deadlock'],
        ['cd /var/www/inventory-web/current', 'env DATABASE_URL inventory_production sslmode=require']),
    "recs-alembic-kubernetes-job": (
        ['lock-timeout-deadlock', 'missing-table'],
        []),
    "scheduling-alembic-branch-merge": (
        ['alembic-revision-error', 'duplicate-table', 'lock-timeout-deadlock'],
        ['cd /srv/scheduling-api', 'env DATABASE_URL scheduling sslmode=require']),
    "search-trigram-index-concurrently": (
        ['lock-timeout-deadlock', 'literal could not create unique index'],
        ['cd /srv/search-service', 'env DATABASE_URL search sslmode=require', 'env PG_DSN search sslmode=require']),
    "shipping-powershell-labels-upgrade": (
        ['lock-timeout-deadlock', 'literal NotNullViolation', 'lock_queue >4 10s', 'statement-timeout'],
        ['cd C:\\ops\\shipping-db', 'env DATABASE_URL shipping sslmode=require']),
    "telemetry-hypertable-conversion": (
        ['literal cannot create a unique index without the column "recorded_at"', 'lock-timeout-deadlock', 'disk-full'],
        []),
    "warehouse-schema-swap": (
        ['lock-timeout-deadlock', 'literal DuplicateSchema', 'insufficient-privilege'],
        ['cd C:\\ops\\warehouse-v7', 'env DW_DSN finance_dw sslmode=require', 'env REPORT_DSN finance_dw sslmode=require application_name=v7-cutover', 'script']),
    "windows-claims-alembic-cutover": (
        ['duplicate-table', 'lock-timeout-deadlock', 'missing-column'],
        ['cd d:\\Work\\Claims Portal\\backend', 'env DATABASE_URL claimsprod sslmode=require']),
}


def describe(rule: AbortRule) -> str:
    if rule.kind == "lock_queue":
        return f"lock_queue >{rule.max_waiting}" + (f" {rule.max_wait}" if rule.max_wait else "")
    if tuple(rule.patterns) in _LIBRARY:
        return _LIBRARY[tuple(rule.patterns)]
    return "literal " + " | ".join(re.sub(r"\\(.)", r"\1", p) for p in rule.patterns)


def typed_setup(runbook: Runbook) -> list[str]:
    out: list[str] = []
    for item in runbook.setup.items if runbook.setup else []:
        if isinstance(item, WorkingDirectory):
            out.append(f"cd {item.path}")
        elif isinstance(item, EnvVar):
            out.append(f"env {item.name} {item.database}"
                       + "".join(f" {k}={v}" for k, v in item.require.items()))
        elif isinstance(item, SetupScript):
            out.append("script")
    return out


def imported(path: Path) -> Runbook:
    return import_checklist(path.read_text(encoding="utf-8"), path.name).runbook


def test_the_table_covers_every_fixture_and_there_are_thirty() -> None:
    assert len(CHECKLISTS) >= 30
    assert sorted(EXPECTED) == [path.stem for path in CHECKLISTS]


@pytest.mark.parametrize("path", CHECKLISTS, ids=[p.stem for p in CHECKLISTS])
def test_each_checklist_yields_the_abort_rules_and_setup_its_team_wrote(path: Path) -> None:
    runbook = imported(path)
    rules, setup = EXPECTED[path.stem]
    assert [describe(rule) for rule in runbook.abort_rules] == rules
    assert typed_setup(runbook) == setup
    assert render_markdown(runbook).encode("utf-8") == path.read_bytes()


@pytest.mark.parametrize("path", CHECKLISTS, ids=[p.stem for p in CHECKLISTS])
def test_every_rule_watches_a_command_and_none_matches_its_own_description(path: Path) -> None:
    runbook = imported(path)
    commands = [s for p in runbook.phases for s in p.steps if isinstance(s, CommandStep)]
    watched = {rule for step in commands for rule in watched_rules(runbook, step)}
    for rule in runbook.abort_rules:
        assert rule.id in watched, rule.id
        if not re.search(r"[`\"“']", rule.label):  # unquoted words are never a pattern
            assert not any(re.search(p, rule.label) for p in rule.patterns), rule.label


def _files_with(pattern: str) -> set[str]:
    return {path.stem for path in CHECKLISTS
            if re.search(pattern, path.read_text(encoding="utf-8"), re.M)}


@pytest.mark.parametrize("lead", ["Stop on:", "Stop at once on any of:", "Halt on any of:"])
def test_each_list_wording_is_in_two_fixtures(lead: str) -> None:
    assert len(_files_with(rf"^- \[ \] {re.escape(lead)}\n  - \[ \] ")) >= 2


@pytest.mark.parametrize("lead", ["Stop at once if ", "Cancel the run if ", "Halt on `",
                                  "Stop on `"])
def test_each_sentence_wording_is_in_two_fixtures(lead: str) -> None:
    assert len(_files_with(rf"^- \[ \] {re.escape(lead)}[^\n]+\.$")) >= 1 + (
        not lead.endswith("`"))


def test_setup_blocks_are_written_for_bash_powershell_and_cmd() -> None:
    assert len(_files_with(r"^```(?:bash|sh)\n(?:.*\n)*?export ")) >= 10
    assert len(_files_with(r"^```powershell\n(?:.*\n)*?\$env:")) >= 4
    assert len(_files_with(r"^```(?:bat|cmd)\n(?:.*\n)*?set ")) >= 2
