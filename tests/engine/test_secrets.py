"""Invariant 5: a password never touches disk, in any encoding, even when the child prints
it in every form and the operator pastes it into a note."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote, quote_plus

from cockpit.session.redact import secret_forms
from tests.engine.helpers import cockpit, phase, write_world

PASSWORD = "Tr0ub4dor&3 /p%@ss:\"é'"
DSN = f"postgresql+psycopg://netzadmin:{quote(PASSWORD, safe='')}@db.example:5432/netzprod"

PRINT_ALL = """
import base64, json, os, sys, time
from urllib.parse import quote, quote_plus, unquote, urlsplit
secret = unquote(urlsplit(os.environ["DATABASE_URL"]).password)
forms = [secret, quote(secret, safe=""), quote(secret), quote_plus(secret),
         quote(secret, safe=" +"), quote(secret, safe="").replace("%", "%%"),
         json.dumps(secret), repr(secret), base64.b64encode(secret.encode()).decode(),
         base64.b64encode(b"user:" + secret.encode()).decode(), os.environ["DATABASE_URL"]]
for form in forms:
    print("leak:", form, flush=True)
sys.stdout.write("straddle: " + secret[:4]); sys.stdout.flush(); time.sleep(0.2)
print(secret[4:], "end", flush=True)
print(json.dumps({"dsn": os.environ["DATABASE_URL"]}))
sys.stderr.write("stderr: " + secret + "\\n")
"""


def _all_bytes(*roots: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for root in roots for p in root.rglob("*") if p.is_file()}


def test_password_never_reaches_any_file(tmp_path: Path) -> None:
    world_runbook = write_world(tmp_path, [phase("P0", [("leaky", "python3 leak.py")]),
                                           phase("P1", [("fails", "exit 1")])])
    world = world_runbook.parent
    (world / "leak.py").write_text(PRINT_ALL)
    answers = tmp_path / "answers.toml"
    answers.write_text(f"[gates]\nsignoff = {json.dumps('pasted by mistake: ' + DSN)}\n"
                       f"[halt]\nh-escalate = {json.dumps('INC-9 ' + PASSWORD)}\n")
    session = tmp_path / "s"
    result = cockpit("run", str(world_runbook), "--headless", "--answers", str(answers),
                     "--session", str(session), env={"DATABASE_URL": DSN})
    assert result.returncode == 2, result.stdout + result.stderr  # P1 fails: BLOCKER
    assert "leak: ***" in result.stdout
    files = _all_bytes(session, world / "logs")
    assert session / "evidence" / "decision.json" in files
    assert any(p.name == "leaky.log" for p in files)
    forms = secret_forms(PASSWORD) | {
        base64.b64encode(PASSWORD.encode()), quote_plus(PASSWORD).encode(), DSN.encode()}
    for path, data in files.items():
        for form in forms:
            assert form not in data, f"{form!r} found in {path}"
    for form in forms:
        assert form.decode("utf-8", "replace") not in result.stdout
    log = (world / "logs" / "leaky.log").read_text()
    leaks = [line for line in log.splitlines() if line.startswith("leak:")]
    assert len(leaks) == 11 and all("***" in line for line in leaks)
    assert "straddle: *** end" in log
    assert "stderr: ***" in log
    # The session's own copy (the evidence) holds the very bytes of the published one.
    assert (session / "steps" / "leaky.1.log").read_text() == log
