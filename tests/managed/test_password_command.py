"""A DSN whose password a `password_command` prints, as a token command would, while the
role's password is rotated between steps: every connection — the gates' probes, each step,
the halt diagnostics — gets the password of its moment, and no value the command ever
printed is in any file of the session, its pack, stdout or `mirror --plain`."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from cockpit.engine.credentials import CredentialFailed, fetch_password, scrubbed
from tests.engine.helpers import phase, ran, write_world
from tests.engine.test_secrets import _held, _outputs
from tests.managed.conftest import Backend, TlsPath, with_dsn_setup
from tests.run import cockpit

PY = shlex.quote(sys.executable)

# The stand-in for `az account get-access-token …`: prints what the file says now, and
# notes what it was given (to show the environment it sees holds no secret).
TOKEN = """import os, pathlib, sys
folder = pathlib.Path(sys.argv[1])
with open(folder / "seen.txt", "a") as seen:  # every call's environment
    seen.write("\\n".join(f"{k}={v}" for k, v in sorted(os.environ.items())) + "\\n")
with open(folder / "calls.txt", "a") as calls:
    calls.write("call\\n")
print((folder / "pw.txt").read_text())
"""
# A step that rotates its own role's password (as the identity provider would), telling
# the stand-in the new one; it prints only that it did.
ROTATE = """import os, pathlib, secrets, sys, psycopg
from psycopg import sql
new = secrets.token_urlsafe(18)
with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
    conn.execute(sql.SQL("ALTER ROLE CURRENT_USER PASSWORD {}").format(sql.Literal(new)))
pathlib.Path(sys.argv[1], "pw.txt").write_text(new)
pathlib.Path(sys.argv[1], "all.txt").open("a").write(new + "\\n")
print("rotated")
if len(sys.argv) > 2:
    print("DuplicateTable: the failing step")
    sys.exit(1)
"""
USE = (f"{PY} -c \"import os, psycopg; c = psycopg.connect(os.environ['DATABASE_URL']); "
       "print('as', c.execute('select current_user').fetchone()[0])\"")


def _world(tmp_path: Path, backend: Backend, port: int, fail: bool,
           first: tuple[str, str] | None = None) -> tuple[Path, Path]:
    tokens = tmp_path / "idp"  # the identity provider's side, outside the session
    tokens.mkdir()
    (tokens / "idp_token.py").write_text(TOKEN)
    (tokens / "rotate.py").write_text(ROTATE)
    (tokens / "pw.txt").write_text(backend.password)
    (tokens / "all.txt").write_text(backend.password + "\n")
    rotate = f"{PY} {shlex.quote(str(tokens / 'rotate.py'))} {shlex.quote(str(tokens))}"
    steps = [("rotate", rotate), ("use", USE), ("again", rotate), ("use2", USE)]
    if fail:
        steps[2] = ("again", rotate + " fail")
    if first is not None:
        steps.insert(0, first)
    runbook = write_world(tmp_path, [phase("P0", steps)])
    command = f"{PY} {shlex.quote(str(tokens / 'idp_token.py'))} {shlex.quote(str(tokens))}"
    # a TOML string whatever the clone's path holds (quotes, spaces)
    with_dsn_setup(runbook, backend, port, item=f", password_command = {json.dumps(command)}")
    return runbook, tokens


@pytest.mark.parametrize("fail", [False, True], ids=["to PASS", "halting"])
def test_a_rotated_password_is_fetched_for_every_connection_and_kept_nowhere(
        tmp_path: Path, backend: Backend, tls_server: TlsPath, fail: bool) -> None:
    runbook, tokens = _world(tmp_path, backend, tls_server.port, fail)
    session = tmp_path / "s"
    done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                   str(session), env={"PGPASSWORD": "not-for-the-command"}, timeout=180)
    assert done.returncode == (2 if fail else 0), done.stdout + done.stderr
    log = (runbook.parent / "logs")
    assert f"as {backend.role}" in (log / "use.log").read_text()  # after the first rotation
    if fail:
        assert "DECISION: BLOCKER" in done.stdout
        # the diagnostics connected with the password rotated by the failing step itself
        events = [json.loads(x) for x in (session / "events.jsonl").read_text().splitlines()]
        captured = next(e["data"] for e in events if e["type"] == "diagnostics_captured")
        diagnostics = json.loads((session / captured["file"]).read_text())
        assert "error" not in diagnostics["pg_halt_diagnostics"], diagnostics
        assert "credentials" not in diagnostics
        assert diagnostics["pg_halt_diagnostics"]["pg_stat_activity"]
    else:
        assert "DECISION: PASS" in done.stdout
        assert f"as {backend.role}" in (log / "use2.log").read_text()
    # fetched for the gates, for each step at its start, and (halting) the diagnostics
    calls = (tokens / "calls.txt").read_text().split()
    assert len(calls) == 5, calls  # gates; rotate, use, again (+ use2 | the diagnostics)
    seen = (tokens / "seen.txt").read_text()
    assert "DATABASE_URL=" not in seen and "PGPASSWORD" not in seen
    assert seen.count("PATH=") >= 5  # each call's, all of them scrubbed
    rotated = (tokens / "all.txt").read_text().split()
    assert len(rotated) == 3  # the first, and two rotations
    found = _outputs(session, runbook.parent, done.stdout, done.stderr)
    for password in rotated:
        assert _held(found, password) == []


def test_a_command_that_fails_before_go_stops_resumable_naming_it(
        tmp_path: Path, backend: Backend, tls_server: TlsPath) -> None:
    runbook, tokens = _world(tmp_path, backend, tls_server.port, fail=False)
    (tokens / "idp_token.py").write_text("import sys\nprint('az: please run az login', "
                                     "file=sys.stderr)\nsys.exit(1)\n")
    done = cockpit("run", str(runbook), "--headless", "--assume-yes",
                   "--session", str(tmp_path / "s"), timeout=120)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "setup dsn: DATABASE_URL's password_command" in done.stdout
    assert "failed (exit 1): az: please run az login" in done.stdout
    assert "Traceback" not in done.stderr and ran(runbook.parent) == []
    assert not (runbook.parent / "logs").exists()
    (tokens / "idp_token.py").write_text(TOKEN)  # logged in again: the session goes on
    resumed = cockpit("resume", str(tmp_path / "s"), "--headless", "--assume-yes",
                      timeout=180)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "DECISION: PASS" in resumed.stdout


def test_the_command_is_stopped_at_its_limit_and_sees_no_secret(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgresql://u:s3cret@h/db",
           "PGPASSWORD": "pw", "OTHER": "holds s3cret inside", "AZURE_CONFIG_DIR": "/x"}
    clean = scrubbed(env, ["DATABASE_URL"], ["s3cret"])
    assert clean == {"PATH": "/usr/bin:/bin", "AZURE_CONFIG_DIR": "/x"}
    script = tmp_path / "slow.sh"
    script.write_text("sleep 30 & sleep 30\n")  # a helper holding the pipe too
    with pytest.raises(CredentialFailed, match=r"printed no password within 0.5 s \(stopped\)"):
        fetch_password("DATABASE_URL", f"sh {script}", tmp_path, clean, timeout_s=0.5)
    with pytest.raises(CredentialFailed, match="printed 2 lines"):
        fetch_password("DATABASE_URL", "printf 'a\\nb\\n'", tmp_path, clean)
    assert fetch_password("DATABASE_URL", "printf 'tok en\\r\\n'", tmp_path, clean) == "tok en"


def test_a_command_that_fails_as_a_step_starts_leaves_it_not_started(
        tmp_path: Path, backend: Backend, tls_server: TlsPath) -> None:
    expired = tmp_path / "idp" / "expired"
    runbook, tokens = _world(tmp_path, backend, tls_server.port, fail=False,
                             first=("expire", f"touch {shlex.quote(str(expired))}"))
    (tokens / "idp_token.py").write_text(
        f"import pathlib, sys\nif pathlib.Path({str(expired)!r}).exists():\n"
        "    sys.exit('token expired: az login again')\n" + TOKEN)
    done = cockpit("run", str(runbook), "--headless", "--assume-yes",
                   "--session", str(tmp_path / "s"), timeout=120)
    assert done.returncode == 3, done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert ("step 'rotate' not started: DATABASE_URL's password_command" in said
            and "failed (exit 1): token expired: az login again" in said), said
    assert "Traceback" not in said and "DECISION" not in said
    assert not (runbook.parent / "logs" / "rotate.log").exists()
    # resumed while still expired: the gates' fetch fails — refused again, never a halt
    still = cockpit("resume", str(tmp_path / "s"), "--headless", "--assume-yes", timeout=120)
    assert still.returncode == 3, still.stdout + still.stderr
    assert "token expired: az login again" in still.stdout + still.stderr
    assert "DECISION" not in still.stdout and "halted" not in still.stdout
    expired.unlink()
    resumed = cockpit("resume", str(tmp_path / "s"), "--headless", "--assume-yes",
                      timeout=180)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "DECISION: PASS" in resumed.stdout
