"""Engine work runs off the event loop: the screen answers keys while a halt waits on its
diagnostics, and any failure of a worker is shown (redacted) and recorded."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from textual.widgets import TabbedContent

from cockpit.engine.controller import Controller
from cockpit.session import events as ev
from cockpit.tui.app import CockpitApp
from tests.engine.helpers import phase, write_world
from tests.waiting import pause_until

WATCH = ('  { kind = "abort_watch", id = "watch", text = "Abort on any of:", '
         'rules = ["duplicate-table"] },')
FAILING = "echo 'psycopg.errors.DuplicateTable: relation \"facilities\" already exists'"


async def test_keys_are_answered_while_a_halt_waits_on_its_diagnostics(
        tmp_path: Path) -> None:
    entered, release = threading.Event(), threading.Event()

    def slow_diagnostics(_core: Any) -> dict[str, Any] | None:
        entered.set()  # as a connect to a database that does not answer would
        release.wait(30)
        return None

    runbook = write_world(tmp_path, [phase("P3", [("upgrade", FAILING)], WATCH)])
    ctl = Controller.start(runbook, folder=tmp_path / "s", env=dict(os.environ),
                           halt_hooks=[slow_diagnostics])
    ctl.attest_gate("signoff", "GOV-1")
    ctl.evaluate_gates()
    ctl.run_step("upgrade", None)
    app = CockpitApp(ctl, clock=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pause_until(pilot, entered.is_set, "the halt to reach its diagnostics")  # the poll noticed the match, halting
            tabs = app.query_one("#tabs", TabbedContent)
            for key, tab in (("1", "gates-tab"), ("3", "evidence-tab"), ("2", "phase-tab")):
                started = time.monotonic()
                await pilot.press(key)
                assert tabs.active == tab
                assert time.monotonic() - started < 5.0  # the worker blocks for 30 s
            assert not release.is_set() and ctl.state.halt is not None
            release.set()
            await app.workers.wait_for_complete()
            await pause_until(pilot, lambda: app.has_class("-halted"), "the halted screen")
    finally:
        release.set()
        ctl.close()


async def test_a_worker_failure_is_shown_redacted_and_recorded(tmp_path: Path) -> None:
    secret = "Sup3r-s3cret-pw"
    runbook = write_world(tmp_path, [phase("P0", [("hello", "echo hello")])])
    ctl = Controller.start(runbook, folder=tmp_path / "s",
                           env={**os.environ, "DATABASE_URL": f"postgresql://u:{secret}@h/d"},
                           halt_hooks=[])

    def broken() -> list[str]:  # what a full disk or a vanished folder raises
        raise OSError(f"cannot write to postgresql://u:{secret}@h/d")

    ctl.evaluate_gates = broken  # type: ignore[method-assign]
    app = CockpitApp(ctl, clock=False)
    shown: list[str] = []
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            notify = app.notify
            app.notify = lambda text, **kw: (shown.append(text), notify(text, **kw))[1]
            await pilot.press("g")
            await pause_until(pilot, lambda: any(e.type == ev.FAULT_NOTED
                                                for e in ctl.store.events), "the fault recorded")
            await app.workers.wait_for_complete()
            await pause_until(pilot, lambda: not app.operator.busy, "the verb to end")
            assert app.operator.check_action("gates", ()) is True  # the screen goes on
    finally:
        ctl.close()
    fault = next(e for e in ctl.store.events if e.type == ev.FAULT_NOTED)
    assert fault.data["error"].startswith("OSError: cannot write to")
    assert secret not in fault.data["error"] and ctl.state.faults
    assert any("OSError: cannot write to" in text for text in shown)
    assert not any(secret in text for text in shown)
    assert secret.encode() not in (tmp_path / "s" / "events.jsonl").read_bytes()
