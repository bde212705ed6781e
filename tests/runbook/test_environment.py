"""Per-environment values: a rehearsal's runbook and the production one differ in their
working directory and their DSN's host, port and database — declared once in the setup —
and their transcripts are equal with those set aside, and only those."""

from __future__ import annotations

import pytest

from cockpit.errors import RunbookError
from cockpit.runbook.environment import PLACEHOLDER, environment_neutral
from cockpit.runbook.loader import parse_runbook
from cockpit.runbook.model import Runbook
from cockpit.runbook.render import render_markdown

RUNBOOK = """format = 1
id = "billing"
title = "Billing cutover"
production = false

[setup]
heading = "Setup"
per_environment = {declared}
items = [
  {{ kind = "working_directory", id = "wd", text = "Working directory set to `{folder}`", path = "/srv/{folder}" }},
  {{ kind = "env", id = "dsn", text = "`DATABASE_URL` set to `{db}` with `sslmode=require`", name = "DATABASE_URL", template = "postgresql://app:<PASSWORD>@{host}:{port}/{db}?sslmode=require", database = "{db}", require = {{ sslmode = "require" }} }},
]

[[phases]]
id = "P0"
heading = "P0"
[[phases.steps]]
kind = "command"
id = "heads"
command = "{command}"
log = "logs/heads.log"
read_only = true
"""


def _neutral(declared: str = '["wd", "dsn"]', folder: str = "billing-clone",
             db: str = "billing_clone", host: str = "clone.internal", port: int = 5432,
             command: str = "alembic heads") -> Runbook:
    return environment_neutral(parse_runbook(RUNBOOK.format(
        declared=declared, folder=folder, db=db, host=host, port=port,
        command=command).encode(), "r.toml"))


def _transcript(**values: object) -> str:
    return render_markdown(_neutral(**values))  # type: ignore[arg-type]


def test_two_environments_render_the_same_with_their_values_set_aside() -> None:
    rehearsal = _transcript()
    production = _transcript(folder="billing", db="billing", host="db.prod.internal")
    assert rehearsal == production
    assert PLACEHOLDER in rehearsal and "clone.internal" not in rehearsal
    assert "billing_clone" not in rehearsal


def test_the_settings_are_equal_too_and_short_values_mask_nothing_else() -> None:
    rehearsal = _neutral().model_dump()
    production = _neutral(folder="billing", db="billing", host="db.prod.internal", port=6432)
    assert rehearsal == production.model_dump()  # the port as well as host and database
    assert "‹per-environment›" in production.setup.items[1].template  # type: ignore[union-attr]
    # a working directory of "." masks its own `.`, not every dot of the line
    dotted = _neutral(folder=".")
    assert dotted.setup.items[0].text == "Working directory set to `‹per-environment›`"  # type: ignore[union-attr]


def test_anything_else_still_differs() -> None:
    assert _transcript() != _transcript(command="alembic heads --verbose")
    # undeclared, the environment's values are part of what must match
    assert _transcript(declared="[]") != _transcript(declared="[]", db="billing")


def test_only_setup_items_of_the_two_kinds_can_be_declared() -> None:
    with pytest.raises(RunbookError, match=r"setup.per_environment\[0\]: 'heads' is no"):
        parse_runbook(RUNBOOK.format(declared='["heads"]', folder="b", db="b", host="h",
                                     port=5432, command="alembic heads").encode(), "r.toml")
