"""The README's pictures, exported by the cockpit itself: one command regenerates them all.

    uv run python docs/pictures.py

On a fresh rehearsal world with the `lock-queue` fault (application sessions queue behind
the upgrade's lock until the lock radar stops it), the operator's screen is saved as SVG
(Textual's own screenshot) at four moments — every gate green; P3 streaming with the
upgrade's progress and the radar; halted; and the reviewer's read-only mirror — then the
session's timeline from `cockpit report --html`; and, on a second world with the
`hold-point` fault, the upgrade HELD before 0022. Written to docs/pictures/. The last line
printed is one JSON object naming the files.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from cockpit.demo.session import close_demo, open_demo  # noqa: E402
from cockpit.engine.controller import Controller  # noqa: E402
from cockpit.engine.headless import load_answers  # noqa: E402
from cockpit.evidence.timeline import timeline_svg  # noqa: E402
from cockpit.mirror.source import MirrorSource  # noqa: E402
from cockpit.resources import bundled_runbook  # noqa: E402
from cockpit.runbook.model import CheckStep, CommandStep, Manual  # noqa: E402
from cockpit.session import rules  # noqa: E402
from cockpit.session.reader import open_session  # noqa: E402
from cockpit.session.timing import rehearsed_durations  # noqa: E402
from cockpit.tui.app import CockpitApp  # noqa: E402
from cockpit.tui.mirror_app import MirrorApp  # noqa: E402

OUT = HERE / "pictures"
SIZE = (120, 36)
UPGRADE = "prod_upgrade_0019_to_head"


def _finish(ctl: Controller, deadline_s: float = 120.0) -> None:
    end = time.monotonic() + deadline_s
    while ctl.running() is not None:
        if time.monotonic() > end:
            raise SystemExit("a step did not end in time")
        ctl.poll()
        time.sleep(0.05)


def _to_the_upgrade(ctl: Controller) -> None:
    """Gates green, then every step before the upgrade, as the demo's answers say."""
    answers = load_answers(bundled_runbook("demo-answers.toml"))
    for gate, reference in answers.gates.items():
        ctl.attest_gate(gate, reference)
    if open_gates := ctl.evaluate_gates():
        raise SystemExit(f"gates still open: {open_gates}")
    while (upcoming := rules.next_step(ctl.runbook, ctl.state)) and upcoming.step.id != UPGRADE:
        step = upcoming.step
        if isinstance(step, CommandStep):
            ctl.run_step(step.id, answers.confirm.get(step.id))
            _finish(ctl)
        elif isinstance(step, CheckStep):
            ctl.evaluate_check(step.id)
        elif isinstance(step, Manual):
            ctl.confirm_manual(step.id, str(answers.manual.get(step.id) or "reviewed"))
        if ctl.state.halt is not None:
            raise SystemExit(f"halted before the upgrade: {ctl.state.halt.reason}")


async def _operator(ctl: Controller, upgrade_confirm: str | None) -> list[Path]:
    app = CockpitApp(ctl)  # with its clocks: the running step's time, the radar
    saved = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        saved.append(Path(app.save_screenshot("gates-green.svg", str(OUT))))
        await pilot.press("2")  # the phase tab
        ctl.run_step(UPGRADE, upgrade_confirm)
        # the upgrade counts its revisions off while the queue builds behind its lock
        for _ in range(400):
            await pilot.pause(0.05)
            radar = str(app.screen.query_one("#radar").render())
            if ctl.state.halt is not None or "6 waiting behind" in radar:
                break
        saved.append(Path(app.save_screenshot("p3-streaming.svg", str(OUT))))
        for _ in range(600):  # the radar's rule stops it; the app's poll records the halt
            if ctl.state.halt is not None and not app.operator.busy:
                break
            await pilot.pause(0.05)
        await app.workers.wait_for_complete()
        await pilot.pause(0.5)
        saved.append(Path(app.save_screenshot("halted.svg", str(OUT))))
    return saved


async def _held(ctl: Controller, upgrade_confirm: str | None) -> Path:
    """The `hold-point` fault's upgrade, a revision at a time, stopped at its hold."""
    app = CockpitApp(ctl)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")  # the phase tab
        ctl.run_step(UPGRADE, upgrade_confirm)
        for _ in range(1200):
            if ctl.state.steps[UPGRADE].status == "held" and not app.operator.busy:
                break
            await pilot.pause(0.05)
        else:
            raise SystemExit("the upgrade did not reach its hold")
        await app.workers.wait_for_complete()
        await pilot.pause(0.5)
        return Path(app.save_screenshot("held.svg", str(OUT)))


async def _mirror(folder: Path) -> Path:
    app = MirrorApp(MirrorSource(folder))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(1.0)
        return Path(app.save_screenshot("mirror.svg", str(OUT)))


def main() -> None:
    os.environ.setdefault("COCKPIT_OPERATOR", "operator")
    os.environ.setdefault("COCKPIT_HOST", "rehearsal")
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cockpit-pictures-") as tmp:
        session = Path(tmp) / "cutover"
        world, ctl = open_demo("lock-queue", session, Path(tmp) / "world")
        try:
            _to_the_upgrade(ctl)
            answers = load_answers(bundled_runbook("demo-answers.toml"))
            saved = asyncio.run(_operator(ctl, answers.confirm.get(UPGRADE)))
            saved.append(asyncio.run(_mirror(session)))
        finally:
            close_demo(world, ctl)
        world, ctl = open_demo("hold-point", Path(tmp) / "held", Path(tmp) / "held-world")
        try:
            _to_the_upgrade(ctl)
            answers = load_answers(bundled_runbook("demo-answers.toml"))
            saved.append(asyncio.run(_held(ctl, answers.confirm.get(UPGRADE))))
        finally:
            close_demo(world, ctl)
        found = open_session(session)
        timeline = OUT / "timeline.svg"
        timeline.write_text(timeline_svg(found.runbook, found.events, found.folder,
                                         rehearsed_durations(found.state)) + "\n")
        saved.append(timeline)
    for path in saved:
        print(f"wrote {path.relative_to(HERE.parent)}")
    print(json.dumps({"pictures": [str(p.relative_to(HERE.parent)) for p in saved]}))


if __name__ == "__main__":
    main()
