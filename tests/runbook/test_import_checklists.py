"""Checklists written by hand, for other systems and with other section names, import to
runbooks that render back to the very same bytes, with the meaning of each item inferred.

The fixtures (tests/fixtures/checklists/) are in the reference's dialect but are not the
reference: a pg_upgrade major-version upgrade, a Django migration release and a reporting
warehouse schema swap, with headings such as "Preconditions", "Stop Protocol", "Artefacts"
and "Sign-off Record".
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cockpit.runbook.importer import ImportResult, import_checklist
from cockpit.runbook.loader import parse_runbook
from cockpit.runbook.model import (
    AbortWatch,
    AnyItem,
    CheckStep,
    CodeBlock,
    CommandStep,
    EnvVar,
    Runbook,
    WorkingDirectory,
    section_items,
)
from cockpit.runbook.paths import path_name
from cockpit.runbook.render import render_markdown
from cockpit.runbook.validate import walk_items
from tests.conftest import REFERENCE
from tests.run import cockpit

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "checklists"

PG_UPGRADE = FIXTURES / "pg-major-upgrade.md"
DJANGO = FIXTURES / "django-orders-release.md"
WAREHOUSE = FIXTURES / "warehouse-schema-swap.md"
OWN = [PG_UPGRADE, DJANGO, WAREHOUSE]
ALL = [*OWN, REFERENCE]

_COMMAND_LINE = re.compile(r"^- \[ \] `(?P<command>[^`]+)` -> `(?P<log>[^`]+)`$")


def imported(path: Path) -> tuple[str, ImportResult]:
    text = path.read_text(encoding="utf-8")
    return text, import_checklist(text, path.name)


def line_of(text: str, line: str) -> int:
    """The 1-based number of the line that reads exactly `line`."""
    return text.split("\n").index(line) + 1


def kinds(items: list[AnyItem]) -> list[str]:
    return [item.kind for item in items]


def item(runbook: Runbook, item_id: str) -> AnyItem:
    return next(found for _, found in walk_items(runbook) if found.id == item_id)


# ------------------------------------------------------------------------ every checklist


def test_the_fixtures_are_not_the_reference() -> None:
    reference_headings = set(re.findall(r"^## (.*)$", REFERENCE.read_text(), re.M))
    seen: set[str] = set()
    for path in OWN:
        headings = re.findall(r"^## (.*)$", path.read_text(encoding="utf-8"), re.M)
        assert len(headings) >= 9
        assert not reference_headings & set(headings), path.name
        assert not seen & set(headings), path.name  # and not each other
        seen |= set(headings)


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_import_renders_back_byte_for_byte(path: Path) -> None:
    text, result = imported(path)
    assert render_markdown(parse_runbook(result.toml, "out.toml")) == text
    assert render_markdown(result.runbook).encode("utf-8") == path.read_bytes()


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_every_command_line_becomes_a_command_step_with_its_log(path: Path) -> None:
    text, result = imported(path)
    lines = [m.groupdict() for line in text.split("\n") if (m := _COMMAND_LINE.match(line))]
    steps = [{"command": step.command, "log": step.log}
             for _, step in walk_items(result.runbook) if isinstance(step, CommandStep)]
    assert [step for step in steps if step["log"]] == lines
    assert len(lines) >= 6


@pytest.mark.parametrize("path", OWN, ids=[p.stem for p in OWN])
def test_no_other_line_becomes_a_command(path: Path) -> None:
    _, result = imported(path)
    assert all(step.log for _, step in walk_items(result.runbook) if isinstance(step, CommandStep))


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_every_evidence_file_is_produced_by_a_step_or_named_by_a_gate(path: Path) -> None:
    _, result = imported(path)
    runbook = result.runbook
    assert runbook.evidence is not None
    produced = {path_name(s.log) for _, s in walk_items(runbook)
                if isinstance(s, CommandStep) and s.log}
    attested = {path_name(g.path) for g in section_items(runbook.gates)
                if g.kind == "attestation_file"}
    files = [i.name for i in runbook.evidence.items if i.kind == "file"]
    assert files and set(files) <= produced | attested
    assert attested <= set(files)  # the fixtures keep every attestation as evidence


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_notes_name_their_line_or_script(path: Path) -> None:
    text, result = imported(path)
    lines = text.split("\n")
    assert result.notes
    for note in result.notes:
        m = re.match(rf"^{re.escape(path.name)}: (?:line (\d+)|script (\S+)): ", note)
        assert m, note
        if m[1]:  # the line it names is an item line, quoted or described in the note
            assert lines[int(m[1]) - 1].lstrip().startswith("- [ ] ")
        else:
            assert m[2] in {script.path for script in result.runbook.scripts}


# ------------------------------------------------------------------------ pg_upgrade


def test_pg_upgrade_sections_and_gates() -> None:
    text, result = imported(PG_UPGRADE)
    rb = result.runbook
    assert rb.id == "ledger-cluster-major-upgrade-postgresql"
    assert rb.production is True  # an import is production unless --rehearsal says not
    assert rb.boundary.heading == "Scope of This Sheet"
    assert rb.gates.heading == "Preconditions"
    assert rb.setup.heading == "Environment"
    assert [p.heading for p in rb.phases] == [
        "Step 1 — Compatibility Check", "Step 2 — Link Upgrade", "Step 3 — Start and Analyze"]
    assert [p.id for p in rb.phases] == ["P0", "P1", "P2"]  # no "Phase X": numbered
    assert rb.halt.heading == "Stop Protocol"
    assert rb.evidence.heading == "Artifacts to Retain"
    assert rb.decision.heading == "Sign-off Record"

    out_of_scope = rb.boundary.items[2]
    assert out_of_scope.kind == "statement"
    assert [c.text for c in out_of_scope.children] == [
        "Application releases", "Extension upgrades beyond what pg_upgrade requires"]

    assert kinds(rb.gates.items) == [
        "attestation", "attestation_file", "attestation_file", "probe", "statement"]
    writers = rb.gates.items[1]
    assert writers.path == "logs/ledger_writers_stopped.txt"  # beside the logs
    commit = rb.gates.items[3]
    assert (commit.probe, commit.expected) == ("rehearsal.pass", None)
    cab = "- [ ] Change ticket approved by the CAB (documented)"
    assert any(n.startswith(f"{PG_UPGRADE.name}: line {line_of(text, cab)}: ")
               and "became an operator attestation" in n for n in result.notes)


def test_pg_upgrade_setup_becomes_typed_items_and_a_derived_script() -> None:
    text, result = imported(PG_UPGRADE)
    setup = result.runbook.setup
    assert setup.shell == "sh"
    assert kinds(setup.items) == ["working_directory", "env", "env", "manual", "script"]
    workdir, old, new, owners, _ = setup.items
    assert isinstance(workdir, WorkingDirectory)
    assert workdir.path == "/var/lib/postgresql/upgrade-16"
    assert isinstance(old, EnvVar) and isinstance(new, EnvVar)
    assert (old.name, new.name) == ("PGOLD_DSN", "PGNEW_DSN")
    assert ":5433/ledger?" in new.template and new.database == "ledger"
    assert new.require == {"sslmode": "verify-full"}
    assert setup.password_placeholder == "<PASSWORD>"
    line = line_of(text, "- [ ] Old and new data directories both owned by `postgres`")
    assert any(note.startswith(f"{PG_UPGRADE.name}: line {line}: '{owners.text}' became a "
                               "manual confirmation: ") for note in result.notes)


def test_pg_upgrade_phases() -> None:
    text, result = imported(PG_UPGRADE)
    rb = result.runbook
    check, link, start = rb.phases
    # "Abort on any incompatibility reported.": no condition the cockpit can watch, so the
    # operator confirms it.
    assert kinds(check.steps) == ["command", "command", "manual", "manual"]
    assert check.steps[0].log == "logs/extensions_before.log"
    assert check.steps[1].command.startswith("/usr/lib/postgresql/16/bin/pg_upgrade --check ")
    assert check.steps[1].log == "logs/pg_upgrade_check.log"

    # One condition of the list cannot be watched: the list is a confirmation, and the two
    # that can watch the link step (never a pattern of "Checksum mismatch..."'s own words).
    assert kinds(link.steps) == ["command", "command", "manual", "manual"]
    assert [s.abort_rules for s in link.steps[:2]] == [
        ["could-not-load-library", "lock-timeout-deadlock"]] * 2
    assert [r.id for r in rb.abort_rules] == ["could-not-load-library", "lock-timeout-deadlock"]
    library = rb.abort_rule("lock-timeout-deadlock")
    assert library.label == "Lock timeout/deadlock"
    assert "deadlock detected" in library.patterns and r"\b55P03\b" in library.patterns
    literal = rb.abort_rule("could-not-load-library")
    assert literal.label == "`could not load library`"
    assert [re.search(p, 'ERROR:  could not load library "$libdir/pg_stat_kcache"')
            is not None for p in literal.patterns] == [True]
    unknown = "  - [ ] Checksum mismatch between clusters"
    assert f"{PG_UPGRADE.name}: line {line_of(text, unknown)}: 'Checksum mismatch between " \
        "clusters' is not a condition the cockpit can watch; kept as a confirmation" \
        in result.notes

    assert kinds(start.steps) == ["command", "command", "command", "manual", "check", "code",
                                  "manual"]
    tables = start.steps[4]
    assert isinstance(tables, CheckStep)
    assert (tables.probe, tables.list_items) == ("db.objects_present", True)
    assert tables.expected == ["journal_entries", "accounts", "postings"]
    code = start.steps[5]
    assert isinstance(code, CodeBlock) and code.lang == "sql"
    assert code.text == "SELECT extname, extversion FROM pg_extension ORDER BY extname;\n"
    server = "- [ ] Server reports `PostgreSQL 16`"
    assert start.steps[3].text == server[6:]
    assert any(n.startswith(f"{PG_UPGRADE.name}: line {line_of(text, server)}: 'Server reports")
               and "became a manual confirmation" in n for n in result.notes)
    assert [s.path for s in rb.scripts] == ["sql/inventory_extensions.sql"]


def test_pg_upgrade_halt_evidence_and_decision() -> None:
    _, result = imported(PG_UPGRADE)
    rb = result.runbook
    assert [h.action for h in rb.halt.items] == [
        "stop", "preserve", "record_blocker", "escalate", "manual"]
    assert kinds(rb.evidence.items) == ["file"] * 9
    assert rb.evidence.items[0].name == "ledger_writers_stopped.txt"
    assert [(f.label, f.allowed) for f in rb.decision.items] == [
        ("Result", ["UPGRADED", "ROLLED BACK", "NOT STARTED"]),
        ("Server version after", []), ("Downtime in minutes", []), ("Signed by", [])]


# ------------------------------------------------------------------------ Django


def test_django_release_gates_and_setup() -> None:
    _, result = imported(DJANGO)
    rb = result.runbook
    assert rb.production is True  # "(Production)" in the title
    assert (rb.boundary.heading, rb.gates.heading, rb.setup.heading) == (
        "Control Scope", "Prerequisites (Go/No-Go)", "Session Environment")
    assert kinds(rb.gates.items) == [
        "attestation", "attestation_file", "probe", "attestation_file", "statement"]
    assert rb.gates.items[1].path == "artifacts/replica_lag_check.txt"
    assert rb.gates.items[2].probe == "rehearsal.pass"  # "Release tag `...`"

    setup = rb.setup
    assert kinds(setup.items) == ["working_directory", "env", "script"]
    assert setup.items[0].path == "/srv/releases/orders-service"
    dsn = setup.items[1]
    assert dsn.require == {"sslmode": "require", "target_session_attrs": "read-write"}
    assert setup.password_placeholder == "${ORDERS_DB_PASSWORD}"


def test_django_release_phases_keep_the_authors_ids() -> None:
    _, result = imported(DJANGO)
    rb = result.runbook
    assert [p.id for p in rb.phases] == ["R1", "R2", "R3"]
    dry, apply, verify = rb.phases
    assert kinds(dry.steps) == ["command", "command", "command", "manual", "manual"]
    assert dry.steps[4].text == "Abort on any other migration in the plan."
    assert [(s.command, s.log) for s in apply.steps[:1]] == [
        ("python manage.py migrate orders 0042 --no-input", "artifacts/migrate_apply.txt")]
    watch = apply.steps[1]
    assert isinstance(watch, AbortWatch) and watch.text == "Abort and page the DBA on any of:"
    assert watch.rules == ["duplicate-table", "lock-timeout-deadlock",
                           "unexpected-backfill-conflict", "inconsistentmigrationhistory"]
    # "IntegrityError during the backfill" is the library's backfill rule: it catches what
    # PostgreSQL prints under Django's IntegrityError.
    backfill = rb.abort_rule("unexpected-backfill-conflict")
    assert backfill.label == "`IntegrityError` during the backfill"
    assert any(re.search(p, "django.db.utils.IntegrityError: duplicate key value violates "
                         'unique constraint "orders_order_pkey"') for p in backfill.patterns)
    assert rb.abort_rule("inconsistentmigrationhistory").patterns == [
        "InconsistentMigrationHistory"]
    assert kinds(verify.steps) == ["command", "command", "check", "manual"]
    assert verify.steps[2].expected == ["orders_order", "orders_fulfilmentstate"]
    assert [s.path for s in rb.scripts] == ["manage.py"]


def test_django_release_halt_evidence_and_outcome() -> None:
    text, result = imported(DJANGO)
    rb = result.runbook
    assert rb.halt.heading == "Halt and Contain"
    assert [h.action for h in rb.halt.items] == [
        "stop", "preserve", "record_blocker", "escalate", "no_further_commands", "manual"]
    back = rb.halt.items[-1]
    assert [c.text for c in back.children] == [
        "Reverse migration to `orders 0040`", "Point-in-time restore"]
    assert rb.evidence.heading == "Evidence Bundle"
    assert kinds(rb.evidence.items) == ["file"] * 8 + ["statement"]
    upload = "- [ ] Upload the bundle to the release ticket."
    assert f"{DJANGO.name}: line {line_of(text, upload)}: '{upload[6:]}' is not a `file name`; " \
        "kept as a statement" in result.notes
    assert rb.decision.heading == "Release Outcome"
    assert rb.decision.items[0].allowed == ["SHIPPED", "ROLLED BACK", "ABANDONED"]
    assert rb.decision.items[2].label == "Incident ticket, if any"


# ------------------------------------------------------------------------ warehouse


def test_warehouse_swap_on_a_windows_jump_host() -> None:
    _, result = imported(WAREHOUSE)
    rb = result.runbook
    assert (rb.boundary.heading, rb.gates.heading) == ("Boundary and Ownership",
                                                       "Gates Before Start")
    setup = rb.setup
    assert setup.heading == "Operator Environment (Windows Jump Host)"
    assert setup.shell == "powershell"
    assert setup.password_placeholder == "<DW_PASSWORD>"
    assert kinds(setup.items) == ["working_directory", "env", "env", "script"]
    assert setup.items[0].path == "C:\\ops\\warehouse-v7"
    assert setup.items[2].require == {"sslmode": "require", "application_name": "v7-cutover"}
    assert rb.gates.items[1].path == "logs\\etl_pause_confirmation.txt"
    assert (rb.gates.items[2].probe, rb.gates.items[2].text) == (
        "rehearsal.pass", "Sqitch plan at commit `b7e41c0`")


def test_warehouse_swap_phases_code_block_and_abort_list() -> None:
    _, result = imported(WAREHOUSE)
    rb = result.runbook
    build, swap, verify = rb.phases
    assert build.steps[0].command == "sqitch deploy --target dw_green --to @v7"
    assert build.steps[0].log == "logs\\sqitch_deploy_green.log"
    assert kinds(swap.steps) == ["command", "code", "abort_watch"]
    assert swap.steps[1].text.splitlines() == [
        "BEGIN;", "ALTER SCHEMA reporting RENAME TO reporting_v6;",
        "ALTER SCHEMA dw_green RENAME TO reporting;", "COMMIT;"]
    assert swap.steps[2].rules == ["lock-timeout-deadlock", "duplicateschema",
                                   "insufficient-privilege"]
    assert rb.abort_rule("insufficient-privilege").label == \
        "Permission denied for schema `reporting`"
    assert any(re.search(p, 'ERROR:  permission denied for schema reporting')
               for p in rb.abort_rule("insufficient-privilege").patterns)
    assert kinds(verify.steps) == ["command", "command", "check", "manual"]
    assert verify.steps[2].expected == ["v_gl_balances", "v_ap_aging", "v_revenue_by_entity"]
    assert [s.path for s in rb.scripts] == [
        "checks\\row_counts_v6_vs_v7.sql", "swap\\swap_reporting_schema.sql",
        "checks\\grants_reporting.sql", "tools\\refresh_extracts.py"]


def test_warehouse_rollback_protocol_artefacts_and_decision_log() -> None:
    text, result = imported(WAREHOUSE)
    rb = result.runbook
    assert rb.halt.heading == "Rollback Protocol"
    assert [h.action for h in rb.halt.items] == ["stop", "preserve", "manual", "escalate"]
    swap_back = "- [ ] Swap back with `swap\\swap_back.sql` if the swap committed"
    assert f"{WAREHOUSE.name}: line {line_of(text, swap_back)}: '{swap_back[6:]}' became a " \
        "manual step of the halt protocol" in result.notes
    assert rb.evidence.heading == "Artefacts"
    assert rb.decision.heading == "Decision Log"
    assert [f.label for f in rb.decision.items] == ["Result", "Swap committed at (UTC)", "Approver"]


# ------------------------------------------------------------------------ the reference


def test_reference_abort_list_becomes_a_watch_of_library_rules() -> None:
    _, result = imported(REFERENCE)
    rb = result.runbook
    assert rb.production is True
    assert [p.id for p in rb.phases] == ["P0", "P1", "P2", "P3", "P4"]
    watch = next(s for s in rb.phases[3].steps if isinstance(s, AbortWatch))
    assert watch.rules == ["duplicate-table", "missing-column", "enum-type-redefinition",
                           "lock-timeout-deadlock", "unexpected-backfill-conflict"]
    assert all(len(rb.abort_rule(r).patterns) >= 3 for r in watch.rules)  # not literal
    checks = {s.probe: s.expected for _, s in walk_items(rb) if isinstance(s, CheckStep)}
    assert checks["alembic.version_width"] == 64
    assert checks["alembic.upgrade_path_includes"] == [
        "0020", "0021", "0022", "0023", "0009b", "70a79686336c"]
    assert checks["db.objects_present"][0] == "active_investments"
    parity = item(rb, "structural-parity-accepted-fk-naming")
    assert parity.kind == "manual"


# ------------------------------------------------------------------------ importer edge cases
# Each was an importer fault once; each now guards its fix.


def test_reference_current_equals_lines_become_checks_not_commands() -> None:
    _, result = imported(REFERENCE)
    commands = [s.command for _, s in walk_items(result.runbook) if isinstance(s, CommandStep)]
    assert not [c for c in commands if c.startswith("current == ")]
    checks = [s for _, s in walk_items(result.runbook) if isinstance(s, CheckStep)]
    assert {c.expected for c in checks if c.probe == "alembic.current_equals"} == {
        "0019_nav_snapshots_and_investor_statements", "70a79686336c"}


def test_a_command_with_a_log_is_a_command_whatever_its_words() -> None:
    # Hypothesis found this one: the words "head single" read as a single-head check, whose
    # log no step wrote, and the evidence pack then named a file nobody produced.
    text = ("# verify\n\n## Phase P0 — a00\n- [ ] verify\n- [ ] `head single` -> `logs/a00_0.log`\n"
            "\n## Evidence Pack\n- [ ] `a00_0.log`\n")
    result = import_checklist(text, "t.md")
    steps = result.runbook.phases[0].steps
    assert [s.kind for s in steps] == ["manual", "command"]
    assert isinstance(steps[1], CommandStep) and steps[1].log == "logs/a00_0.log"
    assert render_markdown(result.runbook) == text


def test_abort_condition_with_nested_items_round_trips() -> None:
    text = ("# T\n\n## Phase P0 — Go\n- [ ] `run` -> `run.log`\n- [ ] Abort on any of:\n"
            "  - [ ] `DuplicateTable`\n    - [ ] on the `briefs` table\n")
    assert render_markdown(import_checklist(text, "t.md").runbook) == text


def test_a_plain_environment_variable_in_setup_imports() -> None:
    text = DJANGO.read_text(encoding="utf-8").replace(
        "target_session_attrs=read-write`\n",
        "target_session_attrs=read-write`\n"
        "- [ ] `DJANGO_SETTINGS_MODULE` set to `orders.settings.production`\n",
    ).replace(
        "target_session_attrs=read-write'\n```",
        "target_session_attrs=read-write'\n"
        "export DJANGO_SETTINGS_MODULE='orders.settings.production'\n```",
    )
    assert text.count("DJANGO_SETTINGS_MODULE") == 2
    assert render_markdown(import_checklist(text, DJANGO.name).runbook) == text


def test_a_dotted_release_tag_gate_is_a_commit_probe() -> None:
    text = PG_UPGRADE.read_text(encoding="utf-8").replace(
        "Upgrade scripts at the reviewed commit `9f3c2ab`",
        "Upgrade scripts at release tag `ledger-upgrade-1.4`")
    gate = import_checklist(text, PG_UPGRADE.name).runbook.gates.items[3]
    assert gate.kind == "probe"


def test_a_lock_file_condition_is_not_the_lock_timeout_rule() -> None:
    text = PG_UPGRADE.read_text(encoding="utf-8").replace(
        "Checksum mismatch between clusters", "Old cluster still running (`postmaster.pid` lock file present)")
    rules = import_checklist(text, PG_UPGRADE.name).runbook.abort_rules
    assert all("deadlock detected" not in r.patterns for r in rules if "postmaster" in r.label)


# ------------------------------------------------------------------------ the command line
# (output as bytes: the TOML must render back byte for byte)


@pytest.mark.parametrize("path", OWN, ids=[p.stem for p in OWN])
def test_cli_import_writes_toml_that_renders_back(path: Path, tmp_path: Path) -> None:
    out = tmp_path / f"{path.stem}.toml"
    result = cockpit("import", str(path), "-o", str(out), text=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""  # the TOML went to the file
    stderr = result.stderr.decode("utf-8").splitlines()
    notes = [line for line in stderr if line.startswith("note: ")]
    assert notes and all(f"{path}: " in line for line in notes)
    assert stderr[-1] == f"wrote {out}; it renders back to {path} byte for byte"
    assert out.read_text(encoding="utf-8") == import_checklist(
        path.read_text(encoding="utf-8"), str(path)).toml
    rendered = cockpit("render", str(out), text=False)
    assert rendered.returncode == 0, rendered.stderr
    assert rendered.stdout == path.read_bytes()
    validated = cockpit("validate", str(out), text=False)
    assert validated.returncode == 0, validated.stderr
    assert b"is not pinned" in validated.stderr  # its scripts await their sha256


def test_cli_import_will_not_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "existing.toml"
    out.write_bytes(b"# an approved runbook someone else wrote\n")
    result = cockpit("import", str(WAREHOUSE), "-o", str(out), text=False)
    assert result.returncode == 1
    assert f"{out}: already exists; choose another name or add --force".encode() in result.stderr
    assert b"Traceback" not in result.stderr
    assert b"note:" not in result.stderr  # refused before any work
    assert out.read_bytes() == b"# an approved runbook someone else wrote\n"
    forced = cockpit("import", str(WAREHOUSE), "-o", str(out), "--force", text=False)
    assert forced.returncode == 0, forced.stderr
    assert cockpit("render", str(out), text=False).stdout == WAREHOUSE.read_bytes()


def test_a_second_command_writing_the_same_log_becomes_a_manual_confirmation() -> None:
    """Two commands writing one log would overwrite each other's evidence (the loader refuses
    that runbook): the second is imported as a confirmation, named in the notes, and the
    checklist still renders back byte for byte."""
    text = ("# verify\n\n## Go / No-Go Gates\n- [ ] `verify` -> `verify`\n\n"
            "## Phase P0 — a00\n- [ ] `verify` -> `verify`\n")
    result = import_checklist(text, "dup.md")
    assert render_markdown(result.runbook) == text
    commands = [s for p in result.runbook.phases for s in p.steps if s.kind == "command"]
    assert [s.log for s in commands] == ["verify"]
    assert any("line 7" in n and "an earlier command writes" in n for n in result.notes)
