"""Issue #27, items 1 and 2: the importer keeps every guard the team wrote. An abort list or
sentence in any wording ("Stop on:", "Halt on any of:", "Cancel the run if ...") becomes abort
rules on the changing commands it governs; a condition the cockpit cannot watch stays a
confirmation, named on stderr, never a pattern of its own words. Setup is typed from any shell
block (bash, PowerShell, cmd): the working directory the block enters and the DSN it sets.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.runbook.abort_conditions import condition
from cockpit.runbook.abort_library import MORE
from cockpit.runbook.importer import ImportResult, import_checklist
from cockpit.runbook.model import (
    AbortRule,
    AbortWatch,
    CommandStep,
    EnvVar,
    Manual,
    Runbook,
    Statement,
    WorkingDirectory,
)
from cockpit.runbook.paths import resolve
from cockpit.runbook.render import render_markdown
from cockpit.session.rules import watched_rules
from tests.run import cockpit

ROOT = Path(__file__).resolve().parents[2]
DSN = "postgresql+psycopg://ledger_owner:<PASSWORD>@ledger-pg.internal:5432/ledger_prod?sslmode=require"


def checklist(upgrade_phase: str, setup_block: str = "", setup_lang: str = "bash",
              boundary: str = "") -> str:
    """A small team checklist: setup, a read-only look, the upgrade phase under test."""
    parts = ["# Ledger Cutover\n"]
    if boundary:
        parts.append(boundary)
    parts.append("## Session Setup\n\n- [ ] Working directory set to `ledger`\n"
                 "- [ ] `DATABASE_URL` set to `ledger_prod` with `sslmode=require`\n")
    if setup_block:
        parts.append(f"```{setup_lang}\n{setup_block}```\n")
    parts.append("## Phase 1 — Upgrade\n\n- [ ] `alembic current` -> `logs/current.log`\n"
                 "- [ ] `alembic upgrade head` -> `logs/upgrade.log`\n" + upgrade_phase)
    return "\n".join(parts)


BASH = f"cd ledger\nexport DATABASE_URL='{DSN}'\n"


def imported(text: str) -> ImportResult:
    result = import_checklist(text, "team.md")
    assert render_markdown(result.runbook) == text  # the round trip holds, always
    return result


def step(runbook: Runbook, command: str) -> CommandStep:
    return next(s for p in runbook.phases for s in p.steps
                if isinstance(s, CommandStep) and s.command == command)


def rules_on(runbook: Runbook, command: str) -> list[AbortRule]:
    """The rules that really watch a command (its own and its phase's abort_watch)."""
    found = [runbook.abort_rule(r) for r in watched_rules(runbook, step(runbook, command))]
    return [r for r in found if r is not None]


def halts_on(rules: list[AbortRule], line: str) -> bool:
    return any(re.search(p, line) for r in rules for p in r.patterns)


def line_no(text: str, line: str) -> int:
    return text.split("\n").index(line) + 1


# ------------------------------------------------------------------------ item 1: abort rules


LIST_WORDINGS = ["Abort on:", "Abort immediately on any of:", "Stop on:",
                 "Stop at once on any of:", "Halt on any of:", "Cancel the run on any of:"]


@pytest.mark.parametrize("lead", LIST_WORDINGS)
@pytest.mark.parametrize("reads_too", [True, False], ids=["with-a-read", "changes-only"])
def test_an_abort_list_in_any_wording_watches_the_upgrade(lead: str, reads_too: bool) -> None:
    text = checklist(f"- [ ] {lead}\n  - [ ] `LockNotAvailable`\n  - [ ] DeadlockDetected\n"
                     "  - [ ] Statement timeout\n", BASH)
    if not reads_too:
        text = text.replace("- [ ] `alembic current` -> `logs/current.log`\n", "")
    rb = imported(text).runbook
    # The reference's shape where every command of the phase changes; else a statement
    # whose rules watch the changing commands only.
    watch = rb.phases[0].steps[-1]
    assert isinstance(watch, Statement if reads_too else AbortWatch), watch.kind
    if reads_too:
        assert rules_on(rb, "alembic current") == []
    upgrade = rules_on(rb, "alembic upgrade head")
    assert halts_on(upgrade, 'psycopg.errors.LockNotAvailable: canceling statement due to lock '
                             'timeout')
    assert halts_on(upgrade, "ERROR:  deadlock detected")
    assert halts_on(upgrade, "ERROR:  canceling statement due to statement timeout")
    assert not halts_on(upgrade, "INFO  [alembic.runtime.migration] Running upgrade a -> b")


PROSE = [
    "Stop at once if the upgrade prints `LockNotAvailable` or a deadlock is detected.",
    "Cancel the run if the upgrade prints `LockNotAvailable` or a deadlock is detected.",
    "Halt if `LockNotAvailable` appears, or on a deadlock.",
]


@pytest.mark.parametrize("sentence", PROSE)
def test_an_abort_sentence_becomes_rules_on_the_changing_commands_of_its_phase(
        sentence: str) -> None:
    text = checklist(f"- [ ] {sentence}\n", BASH)
    rb = imported(text).runbook
    said = rb.phases[0].steps[-1]
    assert isinstance(said, Statement) and said.text == sentence  # kept, asks nothing
    upgrade = rules_on(rb, "alembic upgrade head")
    assert halts_on(upgrade, "psycopg.errors.LockNotAvailable: canceling statement due to lock")
    assert halts_on(upgrade, "ERROR:  deadlock detected")
    assert rules_on(rb, "alembic current") == []  # a read-only look is not what it guards


def test_sessions_queued_behind_the_migration_become_a_lock_queue_rule() -> None:
    condition = "More than 3 app sessions queued behind the migration"
    text = checklist(f"- [ ] Stop on:\n  - [ ] `LockNotAvailable`\n  - [ ] {condition}\n", BASH)
    rb = imported(text).runbook
    queue = [r for r in rules_on(rb, "alembic upgrade head") if r.kind == "lock_queue"]
    assert [(r.max_waiting, r.label) for r in queue] == [(3, condition)]
    # Never a pattern that matches its own description (the trial's import did that).
    assert not halts_on(rb.abort_rules, condition)


def test_a_condition_the_cockpit_cannot_watch_stays_a_confirmation_and_is_named() -> None:
    text = checklist("- [ ] Halt on any of:\n  - [ ] `LockNotAvailable`\n"
                     "  - [ ] Replica lag above 60 seconds\n", BASH)
    result = imported(text)
    rb = result.runbook
    item = rb.phases[0].steps[-1]
    assert isinstance(item, Manual)  # a required confirmation, its conditions shown under it
    assert halts_on(rules_on(rb, "alembic upgrade head"), "LockNotAvailable")
    assert not halts_on(rb.abort_rules, "Replica lag above 60 seconds")
    n = line_no(text, "  - [ ] Replica lag above 60 seconds")
    assert (f"team.md: line {n}: 'Replica lag above 60 seconds' is not a condition the cockpit "
            "can watch; kept as a confirmation") in result.notes


def test_a_sentence_with_an_unwatchable_condition_is_a_confirmation() -> None:
    sentence = "Stop at once if `DuplicateTable` appears or the dashboard turns red."
    result = imported(checklist(f"- [ ] {sentence}\n", BASH))
    assert isinstance(result.runbook.phases[0].steps[-1], Manual)
    assert halts_on(rules_on(result.runbook, "alembic upgrade head"), "DuplicateTable")
    assert any("'the dashboard turns red' is not a condition the cockpit can watch" in n
               for n in result.notes)
    assert not halts_on(result.runbook.abort_rules, "the dashboard turns red")


def test_a_standalone_abort_section_watches_every_changing_command() -> None:
    boundary = ("## Abort Criteria\n\n- [ ] Stop at once on any of:\n  - [ ] `LockNotAvailable`\n"
                "  - [ ] More than 5 sessions waiting behind the migration\n")
    text = checklist("- [ ] `alembic stamp 0006` -> `logs/stamp.log`\n", BASH, boundary=boundary)
    rb = imported(text).runbook
    for command in ("alembic upgrade head", "alembic stamp 0006"):
        rules = rules_on(rb, command)
        assert halts_on(rules, "LockNotAvailable"), command
        assert [r.max_waiting for r in rules if r.kind == "lock_queue"] == [5], command
    assert rules_on(rb, "alembic current") == []


def test_a_closing_line_keeps_its_text_and_asks_for_nothing() -> None:
    text = checklist("- [ ] Abort if any check above is unchecked.\n", BASH)
    result = imported(text)
    closing = result.runbook.phases[0].steps[-1]
    assert isinstance(closing, Statement)
    assert not result.runbook.abort_rules
    assert not any("Abort if any check" in n for n in result.notes)


def test_a_rollback_section_stays_rollback_items() -> None:
    text = checklist("- [ ] Stop on:\n  - [ ] `LockNotAvailable`\n", BASH) + (
        "\n## Rollback\n\n- [ ] Stop the rollback on any of:\n  - [ ] `LockNotAvailable`\n")
    rb = imported(text).runbook
    assert rb.rollback is not None and [i.kind for i in rb.rollback.items] == ["halt"]
    assert rb.rollback.items[0].action == "manual"


def test_cli_import_names_each_unwatchable_condition_on_stderr(tmp_path: Path) -> None:
    source = tmp_path / "team.md"
    text = checklist("- [ ] Stop on:\n  - [ ] The dashboard turns red\n", BASH)
    source.write_text(text)
    n = line_no(text, "  - [ ] The dashboard turns red")
    done = cockpit("import", str(source), "-o", str(tmp_path / "out.toml"), cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (f"note: {source}: line {n}: 'The dashboard turns red' is not a condition the cockpit "
            "can watch; kept as a confirmation") in done.stderr.splitlines()


# ------------------------------------------------------------------------ item 2: setup


def typed(result: ImportResult) -> tuple[WorkingDirectory, EnvVar]:
    assert result.runbook.setup is not None
    items = result.runbook.setup.items
    workdir = next(i for i in items if isinstance(i, WorkingDirectory))
    env = next(i for i in items if isinstance(i, EnvVar))
    return workdir, env


@pytest.mark.parametrize(("block", "lang", "path"), [
    (BASH, "bash", "ledger"),
    (f"cd ~/jobs/ledger\nexport DATABASE_URL='{DSN}'\n", "sh", "~/jobs/ledger"),
    (f'cd "$HOME/jobs/ledger"\nexport DATABASE_URL="{DSN}"\n', "bash", "~/jobs/ledger"),
    (f"cd ~/src\ncd ledger\nexport PGTZ=UTC\nexport DATABASE_URL={DSN.replace('&', '')}\n",
     "bash", "~/src/ledger"),
    (f'Set-Location D:\\jobs\\ledger\n$env:DATABASE_URL = "{DSN}"\n', "powershell",
     "D:\\jobs\\ledger"),
    (f"Set-Location -Path 'C:\\Work Files\\ledger'\n$env:DATABASE_URL='{DSN}'\n", "pwsh",
     "C:\\Work Files\\ledger"),
    (f"cd /d D:\\jobs\\ledger\nset DATABASE_URL={DSN}\n", "bat", "D:\\jobs\\ledger"),
    (f'cd /d "D:\\jobs\\ledger"\nset "DATABASE_URL={DSN}"\n', "cmd", "D:\\jobs\\ledger"),
])
def test_setup_is_typed_from_any_shell_block(block: str, lang: str, path: str) -> None:
    result = imported(checklist("", block, lang))
    workdir, env = typed(result)
    assert workdir.path == path  # the folder the block enters, not the backticked word
    assert (env.name, env.database, env.require) == (
        "DATABASE_URL", "ledger_prod", {"sslmode": "require"})
    assert env.template == DSN
    assert not [n for n in result.notes if "became a manual confirmation" in n]


def test_the_working_directory_is_the_one_the_block_enters_not_the_word() -> None:
    # The trial: `ledger` from the line resolved to ledger/ledger, the Python package.
    block = f"cd ~/work/ledger\nexport DATABASE_URL='{DSN}'\n"
    workdir, _ = typed(imported(checklist("", block)))
    assert workdir.path == "~/work/ledger"


def test_a_home_relative_working_directory_is_expanded_at_run_time(tmp_path: Path) -> None:
    assert resolve(tmp_path, "~/jobs/ledger") == Path.home() / "jobs" / "ledger"
    assert resolve(tmp_path, "~") == Path.home()


def test_a_setup_line_that_cannot_be_typed_is_named_with_its_reason() -> None:
    block = "cd ledger\nexport DATABASE_URL=\"$(vault read -field=dsn secret/ledger)\"\n"
    text = checklist("", block)
    result = imported(text)
    items = result.runbook.setup.items
    assert [i.kind for i in items[:2]] == ["working_directory", "manual"]
    n = line_no(text, "- [ ] `DATABASE_URL` set to `ledger_prod` with `sslmode=require`")
    note = next(x for x in result.notes if x.startswith(f"team.md: line {n}: "))
    assert "became a manual confirmation" in note and "postgresql://" in note


# ------------------------------------------------------------------------ the library's new rules


def _statement_timeout(c: psycopg.Connection) -> None:
    c.execute("SET statement_timeout = '50ms'")
    c.execute("SELECT pg_sleep(1)")


def _undefined_table(c: psycopg.Connection) -> None:
    c.execute("UPDATE ledger_entries SET posted = true")


def _permission_denied(c: psycopg.Connection) -> None:
    c.execute("CREATE TABLE accounts (id int)")
    c.execute("DROP ROLE IF EXISTS cockpit_reader")
    c.execute("CREATE ROLE cockpit_reader")
    c.execute("SET ROLE cockpit_reader")
    c.execute("ALTER TABLE accounts ADD COLUMN posted_at timestamptz")


@pytest.mark.parametrize(("label", "setup", "class_name"), [
    ("Statement timeout", _statement_timeout, "QueryCanceled"),
    ("`UndefinedTable`", _undefined_table, "UndefinedTable"),
    ("Permission denied", _permission_denied, "InsufficientPrivilege"),
], ids=["statement-timeout", "missing-table", "insufficient-privilege"])
def test_a_named_condition_maps_to_a_rule_that_matches_the_real_error(
        pg_db: str, label: str, setup: Callable[[psycopg.Connection], None],
        class_name: str) -> None:
    rule = condition(label).rule
    assert rule is not None and rule.id in {r.id for r in MORE}
    with psycopg.connect(pg_db, autocommit=True) as conn, pytest.raises(psycopg.Error) as info:
        setup(conn)
    exc = info.value
    assert type(exc).__name__ == class_name
    for line in (f"psycopg.errors.{class_name}: {exc}".splitlines()[0],
                 f"ERROR:  {exc.diag.message_primary}"):
        assert halts_on([rule], line), line
    assert not halts_on([rule], "INFO  [alembic.runtime.migration] Running upgrade a -> b, "
                                "statement timeout raised to 15min for the backfill")


@pytest.mark.parametrize("heading", ["Stop Conditions", "Halt Criteria", "When to Abort"])
def test_a_section_of_stop_conditions_is_no_halt_protocol(heading: str) -> None:
    boundary = f"## {heading}\n\n- [ ] Stop on:\n  - [ ] `LockNotAvailable`\n"
    rb = imported(checklist("", BASH, boundary=boundary)).runbook
    assert rb.halt is None and rb.boundary is not None and rb.boundary.heading == heading
    assert halts_on(rules_on(rb, "alembic upgrade head"), "LockNotAvailable")


@pytest.mark.parametrize("closing", ["No-Go if anything above is unchecked.",
                                     "Abort if any gate above is open."])
def test_a_closing_line_of_the_gates_attests_nothing(closing: str) -> None:
    gates = f"## Go / No-Go\n\n- [ ] Change approved by the data owner\n- [ ] {closing}\n"
    rb = imported(checklist("", BASH, boundary=gates)).runbook
    assert rb.gates is not None
    assert [(i.kind, i.text) for i in rb.gates.items][-1] == ("statement", closing)


def test_a_setup_line_outside_the_setup_section_is_named_with_why() -> None:
    text = ("# T\n\n## Pre-checks\n\n- [ ] Working directory set to `api`\n"
            "- [ ] `DATABASE_URL` set to `appointments` with `sslmode=require`\n"
            "- [ ] `alembic upgrade head` -> `logs/upgrade.log`\n")
    result = imported(text)
    assert [s.kind for s in result.runbook.phases[0].steps] == ["manual", "manual", "command"]
    for n in (5, 6):
        assert any(note.startswith(f"team.md: line {n}: ") and "typed in a setup section only"
                   in note for note in result.notes), n


# ------------------------------------------------------------------------ any wording, no crash

_WORDS = ["Stop", "Halt", "Abort", "Cancel the run", "at once", "if", "on", "any of", "or", ",",
          ";", "`LockNotAvailable`", "`x`", "`a b c`", '"deadlock detected"', "'q'", "more than",
          "at least", "0", "1", "3", "010", "99999999", "sessions", "queued", "behind", "waiting",
          "for", "s", "minutes", "ms", "prints", "shows", "above", "unchecked", "`—`", "—", "+",
          "deadlock", "statement timeout", "“a”", "`", "'", '"', "\\", "$", "%", ":"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lead=st.sampled_from(["Stop on", "Halt if", "Abort on any of", "Cancel the run if",
                             "Stop at once if", "No-Go if"]),
       words=st.lists(st.sampled_from(_WORDS), max_size=10),
       children=st.lists(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=6), max_size=3),
       standalone=st.booleans())
def test_any_abort_wording_imports_and_renders_back(lead: str, words: list[str],
                                                    children: list[list[str]],
                                                    standalone: bool) -> None:
    """Found by this sweep: "more than 0 sessions" and a wait of 99999999 minutes made rules
    the model refuses; a quoted `q` a pattern that halts on half the output."""
    line = " ".join([lead, *words]).strip() + (":" if children else "")
    item = f"- [ ] {line}\n" + "".join(f"  - [ ] {' '.join(c)}\n" for c in children)
    work = "## Phase 1 — Go\n\n- [ ] `alembic upgrade head` -> `logs/u.log`\n"
    text = "# T\n\n" + (f"## Abort Criteria\n\n{item}\n{work}" if standalone else work + item)
    runbook = imported(text).runbook
    for rule in runbook.abort_rules:
        assert all(len(p) >= 3 for p in rule.patterns), rule


def test_a_bash_and_a_powershell_block_are_alternatives_not_one_path() -> None:
    """Found in review: a team's bash block and its PowerShell block each `cd ledger`; read
    one after the other they entered `ledger/ledger`."""
    from cockpit.runbook.shell_setup import read_setup

    both = read_setup([("bash", ["cd ledger", "export DATABASE_URL='postgresql://a@h/db'"]),
                       ("powershell", ["Set-Location ledger"])])
    assert both.workdir == "ledger" and both.env["DATABASE_URL"] == "postgresql://a@h/db"
    apart = read_setup([("bash", ["cd ledger"]), ("powershell", ["Set-Location other"])])
    assert apart.workdir is None and "different folders" in apart.why_no_workdir
    # blocks of one shell still follow each other
    assert read_setup([("bash", ["cd /srv"]), ("bash", ["cd ledger"])]).workdir == "/srv/ledger"


@pytest.mark.parametrize("line", [
    "Stop if replica lag is above 1 s.",
    "Halt if any preflight shows an idle-in-transaction session.",
])
def test_an_abort_sentence_that_only_sounds_like_a_closing_line_is_a_named_confirmation(
        line: str) -> None:
    """Found in review: "above" or "any preflight" made these closing lines, kept as text
    with no note; they are conditions nobody watches, so they are confirmations."""
    text = CHECKLIST_FOR_SENTENCES.format(line=line)
    result = import_checklist(text)
    kinds = {getattr(i, "text", ""): i.kind for p in result.runbook.phases for i in p.steps}
    assert kinds[line] == "manual"
    said = line.split(" if ", 1)[1].rstrip(".")
    assert any(f"'{said}' is not a condition the cockpit can watch" in n for n in result.notes)
    assert render_markdown(result.runbook) == text


def test_an_abort_list_lead_without_its_colon_is_still_an_abort_list() -> None:
    """Found in review: "Stop at once on any of the following" (no colon) lost every rule."""
    text = CHECKLIST_FOR_SENTENCES.format(
        line="Stop at once on any of the following\n  - [ ] `LockNotAvailable`\n"
             "  - [ ] Deadlock detected")
    runbook = import_checklist(text).runbook
    upgrade = next(i for p in runbook.phases for i in p.steps if isinstance(i, CommandStep))
    assert watched_rules(runbook, upgrade), "the upgrade runs unguarded"
    assert render_markdown(runbook) == text


CHECKLIST_FOR_SENTENCES = """# Ledger — cutover

## Migrate
- [ ] `alembic upgrade head` -> `logs/upgrade.log`
- [ ] {line}
"""
