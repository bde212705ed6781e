"""The transcript: the bundled runbook renders to the reference byte for byte, through a
renderer that knows nothing of that one runbook."""

from __future__ import annotations

import hashlib

from cockpit.runbook.identity import runbook_identity
from cockpit.runbook.loader import load_runbook, parse_runbook
from cockpit.runbook.render import render_markdown
from tests.conftest import REFERENCE, REPO
from tests.run import cockpit

NETZ = REPO / "runbooks" / "netz-prod-cutover.toml"

SECOND = """
format = 1
id = "kafka-topic-cutover"
title = "Kafka consumer cutover"
production = false

[gates]
heading = "Preconditions"
items = [
  { kind = "attestation", id = "cab", text = "CAB approval recorded" },
  { kind = "probe", id = "one-head", text = "Only head is `abc123`", probe = "alembic.single_head", expected = "abc123" },
]

[setup]
heading = "Environment"
shell = "sh"
items = [
  { kind = "working_directory", id = "wd", text = "Work in `svc`", path = "/srv/svc" },
  { kind = "env", id = "dsn", text = "`APP_DSN` set to `orders` with `sslmode=verify-full`", name = "APP_DSN", template = "postgresql://app:<PASSWORD>@db:5432/orders?sslmode=verify-full", database = "orders", require = { sslmode = "verify-full" } },
  { kind = "script", id = "script" },
]

[[phases]]
id = "S1"
heading = "Step 1 — Drain"
steps = [
  { kind = "command", id = "drain", command = "./drain.sh --all", log = "logs/drain.log" },
  { kind = "manual", id = "lag", text = "Lag is zero", children = [{ text = "group `orders`", children = [{ text = "partition 0" }] }] },
  { kind = "code", id = "note", lang = "", text = "echo done\\n" },
  { kind = "check", id = "objs", text = "Tables present:", probe = "db.objects_present", expected = ["orders", "order_lines"], list_items = true },
]

[decision]
heading = "Outcome"
items = [{ kind = "field", id = "status", label = "Result", allowed = ["GO", "NO-GO", "ROLLBACK"] }]
"""

SECOND_MD = """# Kafka consumer cutover

## Preconditions
- [ ] CAB approval recorded
- [ ] Only head is `abc123`

## Environment
- [ ] Work in `svc`
- [ ] `APP_DSN` set to `orders` with `sslmode=verify-full`

```sh
cd "/srv/svc"
export APP_DSN='postgresql://app:<PASSWORD>@db:5432/orders?sslmode=verify-full'
```

## Step 1 — Drain
- [ ] `./drain.sh --all` -> `logs/drain.log`
- [ ] Lag is zero
  - [ ] group `orders`
    - [ ] partition 0

```
echo done
```

- [ ] Tables present:
  - [ ] `orders`
  - [ ] `order_lines`

## Outcome
- [ ] Result: GO / NO-GO / ROLLBACK
"""


def test_bundled_runbook_renders_the_reference_byte_for_byte() -> None:
    assert render_markdown(load_runbook(NETZ)).encode("utf-8") == REFERENCE.read_bytes()


def test_cli_render_prints_the_reference_byte_for_byte() -> None:
    out = cockpit("render", str(NETZ), check=True, env={"PYTHONIOENCODING": "ascii"}, text=False,
                  inherit=False)
    assert out.stdout == REFERENCE.read_bytes()  # UTF-8 even on an ASCII terminal


def test_a_different_runbook_renders_through_the_same_code() -> None:
    assert render_markdown(parse_runbook(SECOND)) == SECOND_MD


def test_renderer_holds_nothing_of_the_reference() -> None:
    source = (REPO / "cockpit" / "runbook" / "render.py").read_text()
    for word in ("netz", "Netz", "70a79686336c", "0019", "Go / No-Go", "Phase P", "PASS"):
        assert word not in source


def test_identity_pins_file_and_transcript_separately(tmp_path) -> None:
    original = runbook_identity(NETZ)
    copy = tmp_path / "r.toml"
    copy.write_text(NETZ.read_text() + "\n# a comment changes the file, not the transcript\n")
    commented = runbook_identity(copy)
    assert commented.runbook_sha256 != original.runbook_sha256
    assert commented.transcript_sha256 == original.transcript_sha256
    copy.write_text(NETZ.read_text().replace("Maintenance window active", "Window active"))
    reworded = runbook_identity(copy)
    assert reworded.transcript_sha256 != original.transcript_sha256
    assert original.transcript_sha256 == hashlib.sha256(REFERENCE.read_bytes()).hexdigest()
