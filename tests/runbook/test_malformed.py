"""Malformed runbooks: each fault is refused with its own clear message, at its own place.

Every case starts from one small valid runbook (`BASE`) and breaks exactly one thing. The
test checks that loading raises `RunbookError`, that a problem names the exact place of the
fault (`phases[0].steps[1].log`) with a key phrase of what is expected there, and that no
other problem is reported than the case expects: one fault, one clear line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from cockpit.errors import RunbookError
from cockpit.runbook.loader import load_runbook, parse_runbook
from cockpit.runbook.render import render_markdown
from tests.run import cockpit

SHA = "0123456789abcdef" * 4

# A compact runbook with every section; each case below breaks one thing in it.
BASE = f"""\
format = 1
id = "mini-cutover"
title = "Mini cutover"
production = false

[boundary]
heading = "Scope"
items = [{{ kind = "statement", id = "rehearsal-only", text = "Rehearsal only." }}]

[gates]
heading = "Gates"

[[gates.items]]
kind = "attestation_file"
id = "freeze"
text = "Write-freeze attested (`freeze.log`)"
path = "att/freeze.log"

[[gates.items]]
kind = "probe"
id = "one-head"
text = "Single head at `abc123`"
probe = "alembic.single_head"
expected = "abc123"

[setup]
heading = "Setup"
shell = "sh"

[[setup.items]]
kind = "working_directory"
id = "workdir"
text = "Working directory set to `app`"
path = "/srv/app"

[[setup.items]]
kind = "env"
id = "pg-dsn"
text = "`PG_DSN` set to `orders` with `sslmode=require`"
name = "PG_DSN"
template = "postgresql://app:<PASSWORD>@db:5432/orders?sslmode=require"
database = "orders"
require = {{ sslmode = "require" }}

[[setup.items]]
kind = "script"
id = "setup-script"

[[phases]]
id = "P0"
heading = "Phase P0 — Upgrade"

[[phases.steps]]
kind = "command"
id = "heads"
command = "python -m alembic heads"
log = "logs/heads.log"

[[phases.steps]]
kind = "command"
id = "upgrade"
command = "python tools/upgrade.py"
log = "logs/upgrade.log"
abort_rules = ["deadlock"]

[[phases.steps]]
kind = "check"
id = "current"
text = "`current == abc123`"
probe = "alembic.current_equals"
expected = "abc123"

[[phases.steps]]
kind = "abort_watch"
id = "watch"
text = "Abort immediately on any of:"
rules = ["deadlock"]

[[phases.steps]]
kind = "code"
id = "note"
lang = "sh"
text = '''
echo done
'''

[halt]
heading = "Halt"
items = [{{ kind = "halt", id = "stop", text = "Stop execution immediately", action = "stop" }}]

[evidence]
heading = "Evidence"
items = [
  {{ kind = "file", id = "ev-heads", name = "heads.log" }},
  {{ kind = "file", id = "ev-upgrade", name = "upgrade.log" }},
  {{ kind = "file", id = "ev-freeze", name = "freeze.log" }},
]

[decision]
heading = "Decision"
items = [{{ kind = "field", id = "status", label = "Status", allowed = ["PASS", "BLOCKER"] }}]

[[abort_rules]]
id = "deadlock"
label = "Deadlock"
patterns = ["deadlock detected", "\\\\b40P01\\\\b"]

[[scripts]]
path = "tools/upgrade.py"
sha256 = "{SHA}"
"""

# Anchors for cases that add a phase or cut the phases out.
_CHECK_EXPECTED = 'expected = "abc123"\n\n[[phases.steps]]\nkind = "abort_watch"'
_WATCH_RULES = 'text = "Abort immediately on any of:"\nrules = ["deadlock"]'


def broken(old: str, new: str) -> str:
    """BASE with its one occurrence of `old` replaced by `new`."""
    assert BASE.count(old) == 1, f"{old!r} occurs {BASE.count(old)} times in BASE"
    return BASE.replace(old, new)


def with_phase(toml: str) -> str:
    """BASE with one more phase, added after the first."""
    return broken("[halt]", f"{toml}\n[halt]")


def without_phases() -> str:
    return BASE[: BASE.index("[[phases]]")] + BASE[BASE.index("[halt]") :]


def not_utf8() -> tuple[bytes, str]:
    raw = BASE.encode("utf-8")
    at = raw.index(b"Mini cutover") + len(b"Mini ")
    return raw[:at] + b"\xff" + raw[at:], f"byte {at}"


@dataclass(frozen=True)
class Case:
    id: str
    text: str | bytes
    place: str
    phrase: str
    # Places of other problems the same fault causes (e.g. a text that no longer shows it).
    also: tuple[str, ...] = ()


_RAW, _RAW_PLACE = not_utf8()

CASES = [
    # --------------------------------------------------------------- the file itself
    Case("toml-syntax", broken('heading = "Gates"', 'heading = "Gates'), "",
         "not valid TOML: Illegal character"),
    Case("not-utf8", _RAW, _RAW_PLACE, "not UTF-8 text"),
    Case("format-2", broken("format = 1", "format = 2"), "format", "expected 1; got 2"),
    # --------------------------------------------------------------- keys and types
    Case("unknown-top-level-key", broken("production = false", 'production = false\nowner = "dba"'),
         "owner", "unknown key (allowed here: format, id, title, production, preface, boundary,"),
    Case("unknown-step-key-lgo", broken('log = "logs/upgrade.log"', 'lgo = "logs/upgrade.log"'),
         "phases[0].steps[1].lgo",
         "unknown key (allowed here: kind, id, command, log, expect_exit, read_only, "
         "idempotent, abort_rules, confirm, timeout, lock_timeout, statement_timeout, retry, "
         "per_revision, halt_leaves, hold_before, hold_countersign)"),
    Case("unknown-section-key", broken('heading = "Halt"', 'heading = "Halt"\ntitle = "x"'),
         "halt.title", "unknown key (allowed here: heading, spaced, items)"),
    Case("unknown-key-in-inline-item",
         broken('name = "heads.log" }', 'name = "heads.log", path = "logs/heads.log" }'),
         "evidence.items[0].path", "unknown key (allowed here: kind, id, name)"),
    Case("command-step-without-command", broken('command = "python -m alembic heads"\n', ""),
         "phases[0].steps[0].command", "missing; expected text"),
    Case("expect-exit-as-string",
         broken('log = "logs/heads.log"', 'log = "logs/heads.log"\nexpect_exit = "0"'),
         "phases[0].steps[0].expect_exit", "expected a whole number; got str '0'"),
    Case("production-as-string", broken("production = false", 'production = "yes"'),
         "production", "expected true or false; got str 'yes'"),
    Case("unknown-item-kind", broken('kind = "check"', 'kind = "probe_check"'),
         "phases[0].steps[2]",
         "unknown kind 'probe_check'; expected one of 'command', 'check', 'manual'"),
    Case("gate-kind-in-setup", broken('kind = "script"', 'kind = "attestation"'),
         "setup.items[2]", "unknown kind 'attestation'; expected one of 'working_directory'"),
    Case("missing-kind", broken('kind = "check"\n', ""),
         "phases[0].steps[2]", "missing 'kind': every item says what it is"),
    Case("item-not-a-table",
         broken('items = [{ kind = "statement", id = "rehearsal-only", text = "Rehearsal only." }]',
                'items = ["Rehearsal only."]'),
         "boundary.items[0]",
         "expected a table with kind = 'statement' | 'code' | 'text'; got str 'Rehearsal only.'"),
    Case("section-as-array-of-tables", broken("[boundary]", "[[boundary]]"),
         "boundary", "expected a table; got list"),
    Case("id-with-bad-characters", broken('id = "upgrade"', 'id = "upgrade step"'),
         "phases[0].steps[1].id",
         "expected an id: a letter or digit, then letters, digits, '-', '_' or '.'"),
    Case("bad-sha256", broken(f'sha256 = "{SHA}"', f'sha256 = "{SHA.upper()}"'),
         "scripts[0].sha256", "expected a sha256: 64 lowercase hex digits"),
    Case("heading-with-line-break", broken('heading = "Halt"', 'heading = "Halt\\nnow"'),
         "halt.heading", "expected one line of text (no line break)"),
    Case("command-with-backticks",
         broken('command = "python -m alembic heads"', 'command = "python -m `alembic` heads"'),
         "phases[0].steps[0].command", "expected one line without backticks"),
    Case("evidence-name-with-folder", broken('name = "heads.log"', 'name = "logs/heads.log"'),
         "evidence.items[0].name", "expected a bare file name (no folder, no backticks)"),
    Case("decision-label-with-colon", broken('label = "Status"', 'label = "Status:"'),
         "decision.items[0].label", "expected a label without ':'"),
    Case("unknown-halt-action", broken('action = "stop"', 'action = "panic"'),
         "halt.items[0].action", "expected 'stop', 'preserve', 'record_blocker'"),
    Case("env-name-not-a-variable", broken('name = "PG_DSN"', 'name = "PG-DSN"'),
         "setup.items[1].name", "expected an environment variable name; got 'PG-DSN'"),
    Case("expected-of-no-allowed-type",
         broken(_CHECK_EXPECTED, _CHECK_EXPECTED.replace('"abc123"', "1.5")),
         "phases[0].steps[2].expected",
         "expected text, a whole number, true or false, or a list of text; got float 1.5"),
    Case("check-arg-of-no-allowed-type",
         broken(_CHECK_EXPECTED, _CHECK_EXPECTED.replace("\n", "\nargs = { timeout = 1.5 }\n", 1)),
         "phases[0].steps[2].args.timeout",
         "expected text, a whole number, true or false, or a list of text; got float 1.5"),
    Case("decision-allowed-not-text", broken('allowed = ["PASS", "BLOCKER"]', 'allowed = ["PASS", 2]'),
         "decision.items[0].allowed[1]", "expected text; got int 2"),
    Case("require-value-not-text",
         broken('require = { sslmode = "require" }', "require = { sslmode = 1 }"),
         "setup.items[1].require.sslmode", "expected text; got int 1"),
    Case("abort-watch-without-rules", broken(_WATCH_RULES, _WATCH_RULES.replace('"deadlock"', "")),
         "phases[0].steps[3].rules", "must not be empty"),
    # --------------------------------------------------------------- phases
    Case("no-phases-at-all", without_phases(), "phases", "missing; expected a list of tables"),
    Case("empty-phase-list",
         without_phases().replace("production = false\n", "production = false\nphases = []\n"),
         "phases", "must not be empty"),
    Case("phase-with-no-steps", with_phase('[[phases]]\nid = "P1"\nheading = "Phase P1 — Empty"\nsteps = []\n'),
         "phases[1].steps", "a phase needs at least one step"),
    Case("phase-without-steps-key", with_phase('[[phases]]\nid = "P1"\nheading = "Phase P1 — Empty"\n'),
         "phases[1].steps",
         "missing; expected a list of tables with kind = 'command' | 'check' | 'manual'"),
    Case("duplicate-phase-ids",
         with_phase('[[phases]]\nid = "P0"\nheading = "Phase P0 again"\n\n'
                    '[[phases.steps]]\nkind = "manual"\nid = "again"\ntext = "Again"\n'),
         "phases[1].id", "duplicate phase id 'P0'"),
    Case("duplicate-item-ids", broken('id = "current"', 'id = "heads"'),
         "phases[0].steps[2].id", "duplicate id 'heads' (first used at phases[0].steps[0])"),
    Case("two-steps-write-one-log", broken('log = "logs/upgrade.log"', 'log = "logs/heads.log"'),
         "phases[0].steps[1].log", "log 'logs/heads.log' is already written by phases[0].steps[0].log",
         also=("evidence.items[1].name",)),  # upgrade.log now has no producer
    Case("expect-exit-out-of-range",
         broken('log = "logs/heads.log"', 'log = "logs/heads.log"\nexpect_exit = 300'),
         "phases[0].steps[0].expect_exit", "exit status 300 is not in 0..255"),
    Case("code-block-with-fence", broken("echo done\n'''", "echo done\n```\n'''"),
         "phases[0].steps[4].text", "a code block cannot contain a ``` fence line"),
    # --------------------------------------------------------------- probes
    Case("check-names-unknown-probe",
         broken('probe = "alembic.current_equals"', 'probe = "alembic.current"'),
         "phases[0].steps[2].probe", "unknown probe 'alembic.current' (known: "),
    Case("check-uses-a-gate-only-probe",
         broken('probe = "alembic.current_equals"', 'probe = "rehearsal.pass"'),
         "phases[0].steps[2].probe", "probe 'rehearsal.pass' answers a gate only (in [gates])"),
    Case("check-expected-wrong-shape",
         broken(_CHECK_EXPECTED, _CHECK_EXPECTED.replace('"abc123"', '["abc123"]')),
         "phases[0].steps[2].expected", "probe 'alembic.current_equals' takes an expected text"),
    Case("gate-expected-number-as-text",
         broken('probe = "alembic.single_head"\nexpected = "abc123"',
                'probe = "alembic.version_width"\nexpected = "abc123"'),
         "gates.items[1].expected", "probe 'alembic.version_width' takes an expected integer"),
    Case("check-without-expected", broken(_CHECK_EXPECTED, _CHECK_EXPECTED[len('expected = "abc123"\n'):]),
         "phases[0].steps[2].expected", "probe 'alembic.current_equals' needs an expected text"),
    Case("check-text-hides-expected",
         broken('text = "`current == abc123`"', 'text = "`current` is the new head"'),
         "phases[0].steps[2].text", "must show the expected value `abc123`"),
    Case("list-items-on-text-expected",
         broken(_CHECK_EXPECTED, _CHECK_EXPECTED.replace("\n", "\nlist_items = true\n", 1)),
         "phases[0].steps[2].list_items", "only a list of expected values can be shown as items"),
    # --------------------------------------------------------------- abort rules
    Case("abort-watch-names-undefined-rule",
         broken(_WATCH_RULES, _WATCH_RULES.replace('"deadlock"', '"deadlock", "lock-timeout"')),
         "phases[0].steps[3].rules[1]", "unknown abort rule 'lock-timeout' (defined: deadlock)"),
    Case("step-names-undefined-rule", broken('abort_rules = ["deadlock"]', 'abort_rules = ["deadlok"]'),
         "phases[0].steps[1].abort_rules[0]", "unknown abort rule 'deadlok' (defined: deadlock)"),
    Case("abort-rule-invalid-regex",
         broken('"\\\\b40P01\\\\b"]', '"(40P01"]'),
         "abort_rules[0].patterns[1]", "not a valid regular expression on output bytes (missing ), unterminated"),
    Case("duplicate-abort-rule-id",
         broken("[[scripts]]", '[[abort_rules]]\nid = "deadlock"\nlabel = "Again"\npatterns = ["x"]\n\n'
                "[[scripts]]"),
         "abort_rules[1].id", "duplicate abort rule id 'deadlock'"),
    Case("pattern-rule-without-patterns",
         broken('patterns = ["deadlock detected", "\\\\b40P01\\\\b"]\n', ""),
         "abort_rules[0].patterns", "a pattern rule needs at least one pattern"),
    Case("lock-queue-rule-without-limits",
         broken('patterns = ["deadlock detected", "\\\\b40P01\\\\b"]\n',
                'kind = "lock_queue"\n'),
         "abort_rules[0]", "a lock_queue rule needs max_waiting, max_wait or both"),
    Case("lock-queue-rule-with-patterns",
         broken('patterns = ["deadlock detected", "\\\\b40P01\\\\b"]\n',
                'kind = "lock_queue"\nmax_waiting = 5\npatterns = ["x"]\n'),
         "abort_rules[0].patterns", "a lock_queue rule watches the radar, not the output"),
    Case("lock-queue-rule-on-a-read-only-step",
         broken('patterns = ["deadlock detected", "\\\\b40P01\\\\b"]\n',
                'kind = "lock_queue"\nmax_waiting = 5\n').replace(
             'log = "logs/heads.log"',
             'log = "logs/heads.log"\nread_only = true\nabort_rules = ["deadlock"]', 1),
         "phases[0].steps[0].abort_rules[0]", "a read_only step has no lock radar"),
    Case("pattern-rule-with-a-queue-limit",
         broken('patterns = ["deadlock detected", "\\\\b40P01\\\\b"]\n',
                'patterns = ["deadlock detected"]\nmax_wait = "5s"\n'),
         "abort_rules[0]", "max_waiting and max_wait belong to lock_queue rules"),
    # --------------------------------------------------------------- setup
    Case("dsn-with-clear-text-password", broken("app:<PASSWORD>@", "app:hunter2@"),
         "setup.items[1].template",
         "holds a clear-text password; write the placeholder <PASSWORD> instead"),
    Case("dsn-not-postgresql", broken("postgresql://app", "mysql://app"),
         "setup.items[1].template", "expected a postgresql:// URL with a host"),
    Case("env-database-differs-from-template",
         broken('database = "orders"', 'database = "orders_v2"'),
         "setup.items[1].database", "'orders_v2' but the template names 'orders'",
         also=("setup.items[1].text",)),  # the text shows `orders`, not `orders_v2`
    Case("require-not-in-template",
         broken('require = { sslmode = "require" }', 'require = { sslmode = "verify-full" }'),
         "setup.items[1].require.sslmode", "the template does not set sslmode=verify-full",
         also=("setup.items[1].text",)),
    Case("env-text-hides-database",
         broken("`PG_DSN` set to `orders` with", "`PG_DSN` set to the database with"),
         "setup.items[1].text", "must show `orders`"),
    Case("second-working-directory",
         broken('[[setup.items]]\nkind = "script"',
                '[[setup.items]]\nkind = "working_directory"\nid = "workdir-2"\n'
                'text = "Working directory set to `app`"\npath = "/srv/app"\n\n'
                '[[setup.items]]\nkind = "script"'),
         "setup.items[2]", "only one 'working_directory' item is allowed"),
    # --------------------------------------------------------------- gates, evidence, scripts
    Case("attestation-file-not-named",
         broken("text = \"Write-freeze attested (`freeze.log`)\"", 'text = "Write-freeze attested"'),
         "gates.items[0].text", "must name the attestation file `freeze.log`"),
    Case("evidence-nobody-produces",
         broken('name = "freeze.log" },', 'name = "freeze.log" },\n  { kind = "file", id = "ev-orphan", name = "orphan.log" },'),
         "evidence.items[3].name", "'orphan.log' is produced by no step and named by no gate"),
    Case("evidence-listed-twice",
         broken('name = "freeze.log" },', 'name = "freeze.log" },\n  { kind = "file", id = "ev-again", name = "heads.log" },'),
         "evidence.items[3].name", "'heads.log' is listed twice"),
    Case("script-no-step-runs",
         broken('[[scripts]]\npath = "tools/upgrade.py"', '[[scripts]]\npath = "tools/downgrade.py"'),
         "scripts[0].path", "no step runs 'tools/downgrade.py'"),
    # --------------------------------------------------------------- read-only vs changing
    Case("production-changing-command-without-confirm",
         broken("production = false", "production = true"),
         "phases[0].steps[1].confirm", "a production runbook needs a typed confirmation before "
         'every command that changes something: add confirm = "upgrade"',
         also=("phases[0].steps[0].confirm",)),
    Case("production-reading-command-not-marked",
         broken("production = false", "production = true"),
         "phases[0].steps[0].confirm", "`alembic heads` only reads: mark it read_only = true",
         also=("phases[0].steps[1].confirm",)),
    Case("alembic-upgrade-marked-read-only",
         broken('command = "python -m alembic heads"',
                'command = "python -m alembic upgrade head"\nread_only = true'),
         "phases[0].steps[0].read_only", "`alembic upgrade` changes the database; it is not "
         "read-only"),
    Case("read-only-with-confirm",
         broken('command = "python -m alembic heads"',
                'command = "python -m alembic heads"\nread_only = true\nconfirm = "go"'),
         "phases[0].steps[0].confirm", "a read-only command asks for no confirmation"),
    Case("confirm-with-space",
         broken('command = "python tools/upgrade.py"',
                'command = "python tools/upgrade.py"\nconfirm = "go on"'),
         "phases[0].steps[1].confirm", "expected text matching"),
    Case("timeout-in-words",
         broken('command = "python tools/upgrade.py"',
                'command = "python tools/upgrade.py"\ntimeout = "10 minutes"'),
         "phases[0].steps[1].timeout", "expected text matching"),
    Case("abort-rule-named-timeout", broken('id = "deadlock"\nlabel', 'id = "timeout"\nlabel'),
         "abort_rules[0].id", "'timeout' is the cockpit's own",
         also=("phases[0].steps[1].abort_rules[0]", "phases[0].steps[3].rules[0]")),
    # --------------------------------------------------------------- probe arguments
    Case("probe-argument-unknown",
         broken(_CHECK_EXPECTED, _CHECK_EXPECTED.replace('"abc123"\n', '"abc123"\nargs = { frm = "x" }\n', 1)),
         "phases[0].steps[2].args.frm", "probe 'alembic.current_equals' takes no arguments"),
    Case("probe-argument-wrong-shape",
         broken('probe = "alembic.current_equals"\nexpected = "abc123"',
                'probe = "alembic.upgrade_path_includes"\nexpected = ["abc123"]\n'
                'args = { from = ["x"] }'),
         "phases[0].steps[2].args.from", "'from' is a text"),
    Case("probe-argument-missing",
         broken('probe = "alembic.current_equals"\nexpected = "abc123"',
                'probe = "db.structural_parity"'),
         "phases[0].steps[2].args", "give the snapshot to compare with: `reference` (a file) or "
         "`rehearsal_step`"),
    # --------------------------------------------------------------- text and order
    Case("text-holding-an-item-line",
         broken('items = [{ kind = "statement", id = "rehearsal-only", text = "Rehearsal only." }]',
                'items = [{ kind = "text", id = "t", text = "Intro\\n- [ ] sneaky" }]'),
         "boundary.items[0].text", "line 2 of the text reads as a heading, item or code fence"),
    Case("order-missing-a-section", broken("production = false", 'production = false\norder = ["gates"]'),
         "order", "must list each section once: boundary, gates, setup, phases[0], halt, "
         "evidence, decision"),
    Case("order-phases-swapped",
         with_phase('[[phases]]\nid = "P1"\nheading = "Phase P1"\n\n'
                    '[[phases.steps]]\nkind = "manual"\nid = "m"\ntext = "Done"\n').replace(
             "production = false", 'production = false\norder = ["boundary", "gates", "setup", '
             '"phases[1]", "phases[0]", "halt", "evidence", "decision"]'),
         "order", "phases appear in the order they run: phases[0], phases[1]"),
]


def refused(text: str | bytes) -> RunbookError:
    with pytest.raises(RunbookError) as caught:
        parse_runbook(text, "x.toml")
    return caught.value


def test_the_base_runbook_is_valid() -> None:
    runbook = parse_runbook(BASE, "x.toml")
    assert [phase.id for phase in runbook.phases] == ["P0"]
    assert render_markdown(runbook).startswith("# Mini cutover\n\n## Scope\n")


def test_the_cases_are_distinct() -> None:
    assert len({case.id for case in CASES}) == len(CASES) >= 24
    assert len({(case.place, case.phrase) for case in CASES}) == len(CASES)
    assert all(case.text != BASE for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_malformed_runbook_is_refused_at_its_place(case: Case) -> None:
    error = refused(case.text)
    problems = error.problems
    assert all(problem.file == "x.toml" for problem in problems)
    by_place = {problem.place: problem.message for problem in problems}
    assert case.place in by_place, f"no problem at {case.place!r}: {problems}"
    assert case.phrase in by_place[case.place]
    # Only what this one fault causes, and one line per place.
    assert sorted(by_place) == sorted([case.place, *case.also]), problems
    assert len(problems) == len(by_place)
    assert all("\n" not in problem.message for problem in problems)
    # What a person reads: the file, the place, then what is wrong, on one line.
    where = f"x.toml: {case.place}: " if case.place else "x.toml: "
    assert f"{where}{by_place[case.place]}" in str(error).split("\n")


def test_toml_syntax_error_names_the_line() -> None:
    (problem,) = refused(next(c for c in CASES if c.id == "toml-syntax").text).problems
    line = BASE.split("\n").index('heading = "Gates"') + 1
    assert f"(at line {line}, column" in problem.message


def test_load_runbook_reports_the_path_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_bytes(_RAW)
    with pytest.raises(RunbookError) as caught:
        load_runbook(path)
    assert [(p.file, p.place) for p in caught.value.problems] == [(str(path), _RAW_PLACE)]
    path.write_text(broken('log = "logs/upgrade.log"', 'lgo = "logs/upgrade.log"'), encoding="utf-8")
    with pytest.raises(RunbookError) as caught:
        load_runbook(path)
    assert str(caught.value).startswith(f"{path}: phases[0].steps[1].lgo: unknown key")


# ------------------------------------------------------------------- several problems at once

SEVERAL_TYPED = (
    broken("format = 1", "format = 2")
    .replace('id = "upgrade"', 'id = "upgrade step"')
    .replace('lang = "sh"', "lang = 1")
    .replace('log = "logs/heads.log"', 'lgo = "logs/heads.log"')
)
SEVERAL_RULES = (
    broken('id = "current"', 'id = "heads"')
    .replace('probe = "alembic.single_head"', 'probe = "alembic.one_head"')
    .replace('name = "freeze.log"', 'name = "thaw.log"')
    .replace('"\\\\b40P01\\\\b"]', '"(40P01"]')
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (SEVERAL_TYPED, [
            ("format", "expected 1; got 2"),
            ("phases[0].steps[0].lgo", "unknown key"),
            ("phases[0].steps[1].id", "expected an id"),
            ("phases[0].steps[4].lang", "expected text; got int 1"),
        ]),
        (SEVERAL_RULES, [
            ("phases[0].steps[2].id", "duplicate id 'heads'"),
            ("abort_rules[0].patterns[1]", "not a valid regular expression"),
            ("evidence.items[2].name", "'thaw.log' is produced by no step"),
            ("gates.items[1].probe", "unknown probe 'alembic.one_head'"),
        ]),
    ],
    ids=["type-errors", "consistency-rules"],
)
def test_every_problem_in_a_file_is_reported_one_line_each(text: str, expected) -> None:
    error = refused(text)
    problems = error.problems
    assert sorted(p.place for p in problems) == sorted(place for place, _ in expected)
    messages = {p.place: p.message for p in problems}
    for place, phrase in expected:
        assert phrase in messages[place]
    lines = str(error).split("\n")
    assert lines[0] == f"{len(expected)} problems in the runbook:"
    assert len(lines) == 1 + len(expected)
    for place, _ in expected:
        assert sum(line.startswith(f"x.toml: {place}: ") for line in lines) == 1


# ------------------------------------------------------------------- the command line


def test_cli_validate_names_file_and_place_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "lgo.toml"
    path.write_text(broken('log = "logs/upgrade.log"', 'lgo = "logs/upgrade.log"'), encoding="utf-8")
    result = cockpit("validate", str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert f"{path}: phases[0].steps[1].lgo: unknown key (allowed here: kind, id, command, log" \
        in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_validate_lists_every_problem_on_its_own_line(tmp_path: Path) -> None:
    path = tmp_path / "several.toml"
    path.write_text(SEVERAL_RULES, encoding="utf-8")
    result = cockpit("validate", str(path))
    assert result.returncode == 1
    lines = result.stderr.strip().split("\n")
    assert lines[0] == "4 problems in the runbook:"
    assert all(line.startswith(f"{path}: ") for line in lines[1:])
    assert len(lines) == 5
    assert "Traceback" not in result.stderr


def test_cli_validate_of_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(_RAW)
    result = cockpit("validate", str(path))
    assert result.returncode == 1
    assert result.stderr.strip() == f"{path}: {_RAW_PLACE}: not UTF-8 text"
