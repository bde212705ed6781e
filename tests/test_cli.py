"""The command line: lazy imports for instant help, DESIGN's exit codes, no tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REFERENCE, REPO
from tests.run import cockpit

HEAVY = ("pydantic", "textual", "sqlalchemy", "psycopg", "alembic")
COMMANDS = ["", "render", "validate", "import", "demo", "run", "resume", "status", "verify",
            "report", "export", "snapshot", "preview", "init", "schema"]


@pytest.mark.parametrize("command", COMMANDS, ids=[c or "top" for c in COMMANDS])
def test_help_imports_nothing_heavy(command: str) -> None:
    probe = (
        "import sys\n"
        "from cockpit.cli import main\n"
        f"try:\n    main({[c for c in (command, '--help') if c]!r})\n"
        "except SystemExit as e:\n    assert e.code == 0, e.code\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, cwd=REPO)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert "usage: cockpit" in out.stdout


def test_usage_error_exits_1_not_2() -> None:
    result = cockpit("render")
    assert result.returncode == 1
    assert "the following arguments are required: runbook" in result.stderr


def test_missing_runbook_is_a_clear_message_without_traceback(tmp_path) -> None:
    result = cockpit("render", str(tmp_path / "nope.toml"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"{tmp_path / 'nope.toml'}: no such file"


def test_validate_prints_both_hashes_and_pin_notes() -> None:
    result = cockpit("validate", "runbooks/netz-prod-cutover.toml")
    assert result.returncode == 0, result.stderr
    assert "ok: runbooks/netz-prod-cutover.toml: 'netz-prod-cutover', 5 phases" in result.stdout
    assert "transcript sha256: " in result.stdout and "runbook sha256: " in result.stdout
    assert result.stderr.count("is not pinned") == 5


def test_import_refuses_to_overwrite_without_force(tmp_path) -> None:
    target = tmp_path / "out.toml"
    target.write_text("precious\n")
    result = cockpit("import", str(REFERENCE), "-o", str(target))
    assert result.returncode == 1 and "already exists" in result.stderr
    assert target.read_text() == "precious\n"
    forced = cockpit("import", str(REFERENCE), "-o", str(target), "--force")
    assert forced.returncode == 0, forced.stderr
    assert cockpit("render", str(target)).stdout == REFERENCE.read_text(encoding="utf-8")


def test_import_of_text_outside_the_dialect_names_the_line(tmp_path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("# T\n\n## Phase P0\n- [ ] `a` -> `a.log`\nsome prose\n")
    result = cockpit("import", str(bad))
    assert result.returncode == 1
    assert f"{bad}: line 5: a blank line is needed before this line" in result.stderr
    assert "Traceback" not in result.stderr
    bad.write_text("# T\n\n## Phase P0\n- [ ] `a` -> `a.log`\n- [x] done already\n")
    result = cockpit("import", str(bad))
    assert result.returncode == 1
    assert f"{bad}: line 5: item is marked '[x]'; import takes a blank checklist" in result.stderr


def test_validate_refuses_a_production_runbook_with_an_unconfirmed_changing_command(
        tmp_path) -> None:
    runbook = tmp_path / "r.toml"
    text = (REPO / "runbooks" / "demo-cutover.toml").read_text()
    assert text.count('confirm = "70a79686336c"\n') == 1
    runbook.write_text(text.replace('confirm = "70a79686336c"\n', ""))
    result = cockpit("validate", str(runbook))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (f"{runbook}: phases[3].steps[0].confirm: a production runbook needs a typed "
            'confirmation before every command that changes something: add confirm = "head"'
            ) in result.stderr
    imported = tmp_path / "i.toml"  # an import is production, and asks for the target
    assert cockpit("import", str(REFERENCE), "-o", str(imported)).returncode == 0
    assert 'confirm = "head"' in imported.read_text()
    assert cockpit("validate", str(imported)).returncode == 0


def test_an_internal_error_is_one_line_with_passwords_masked(tmp_path) -> None:
    probe = (
        "import sys\n"
        "import cockpit.cli as cli\n"
        "import cockpit.cli.runbooks as runbooks\n"
        "def boom(**options):\n"
        "    raise RuntimeError('connect to postgresql://ops:hunter2@db/x failed; password=hunter2')\n"
        "runbooks.render = boom\n"
        "sys.exit(cli.main(['render', 'x.toml']))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "hunter2" not in out.stderr
    assert "internal error: RuntimeError: connect to postgresql://ops:***@db/x" in out.stderr


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path, monkeypatch, capsys) -> None:
    """`cockpit validate x.toml | head -1`: the pipe closes under the command; it stops as
    other tools do (exit 141), with no "internal error"."""
    from cockpit import cli

    class Closed:  # a stdout whose reader is gone
        def __init__(self) -> None:
            self.file = open(tmp_path / "out", "w")  # noqa: SIM115 - a real descriptor

        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            pass

        def fileno(self) -> int:
            return self.file.fileno()

    monkeypatch.setattr(sys, "stdout", Closed())
    runbook = REPO / "runbooks" / "minimal-cutover.toml"
    assert cli.main(["validate", str(runbook)]) == 141
    assert "internal error" not in capsys.readouterr().err
