"""Runbooks of shell commands with `[[notify]]` destinations, for the notification tests."""

from __future__ import annotations

import json
from pathlib import Path

from tests.engine.helpers import HEAD, TAIL, phase

TOKEN = "T0KEN-s3cr3t-9f8e7d6c5b4a"  # in each webhook URL's path: never on disk, never shown


def notify_table(name: str, kind: str, **options: object) -> str:
    lines = [f'[[notify]]\nname = "{name}"\nkind = "{kind}"']
    lines += [f"{key} = {json.dumps(value)}" for key, value in options.items()]
    return "\n".join(lines) + "\n"


def notify_world(tmp_path: Path, notify: list[str], steps: list[tuple[str, str]] | None = None,
                 second: list[tuple[str, str]] | None = None, extra: str = "") -> Path:
    """A runbook of two phases (P0 and P1) and the given destinations, in tmp_path/world."""
    world = tmp_path / "world"
    world.mkdir(parents=True)
    (world / "freeze.log").write_text("write freeze in force\n")
    phases = [phase("P0", steps or [("hello", "echo hello")], extra),
              phase("P1", second or [("last", "echo last")])]
    text = HEAD.format(production="false") + "\n".join(phases) + TAIL + "\n".join(notify)
    path = world / "runbook.toml"
    path.write_text(text)
    return path


def url(base: str, kind: str) -> str:
    return f"{base}/{kind}/services/{TOKEN}"
