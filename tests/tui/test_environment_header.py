"""The environment a session runs in is named in the header of the operator's screen and of
the mirror, beside the mode: the clone is never taken for production."""

from __future__ import annotations

from pathlib import Path

from cockpit.engine.controller import Controller
from cockpit.mirror.source import MirrorSource
from cockpit.tui.app import CockpitApp
from cockpit.tui.mirror_app import MirrorApp
from tests.engine.helpers import ORDINARY, phase, write_world
from tests.waiting import app_idle

SETUP = """
[setup]
heading = "Setup"
items = [
  { kind = "working_directory", id = "wd", text = "Working directory set to `prod`", path = "prod" },
]

[environments.clone]
workdir = "clone"

[environments.production]
"""


def _started(tmp_path: Path, environment: str) -> Controller:
    runbook = write_world(tmp_path, [phase("P0", ORDINARY)])
    text = runbook.read_text()
    runbook.write_text(text.replace("\n[[phases]]", SETUP + "\n[[phases]]", 1))
    for folder in ("prod", "clone"):
        (runbook.parent / folder).mkdir()
    return Controller.start(runbook, folder=tmp_path / "s", env={}, halt_hooks=[],
                            environment=environment)


def _header(app: CockpitApp | MirrorApp) -> str:
    return str(app.screen.query_one("#header").render())


async def test_the_operator_and_the_mirror_name_the_environment(tmp_path: Path) -> None:
    ctl = _started(tmp_path, "clone")
    assert ctl.workdir == (tmp_path / "world" / "clone").resolve()  # the clone's own folder
    app = CockpitApp(ctl, clock=False)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await app_idle(pilot)
            line = _header(app).splitlines()[1]
            assert line.startswith("OPERATOR · environment clone · "), line
    finally:
        ctl.close()
    mirror = MirrorApp(MirrorSource(tmp_path / "s"), clock=False)
    async with mirror.run_test(size=(80, 24)) as pilot:
        await app_idle(pilot)
        assert " · environment clone · " in _header(mirror).splitlines()[1]


def test_the_html_page_names_the_environment(tmp_path: Path) -> None:
    from cockpit.evidence.htmlreport import html_report
    from cockpit.session.reader import open_session

    _started(tmp_path, "clone").close()
    page = html_report(open_session(tmp_path / "s"))
    facts = next(line for line in page.splitlines() if line.startswith('<p class="facts">'))
    assert "environment clone" in facts
