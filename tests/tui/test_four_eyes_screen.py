"""AWAITING COUNTERSIGN on the operator's screen and in the mirror, until a reviewer's
countersignature is attached — by the operator's key k, or by `attach-signature` while the
mirror watches."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from cockpit.engine.controller import Controller
from cockpit.evidence import signing
from cockpit.mirror.source import MirrorSource
from cockpit.tui.app import CockpitApp
from cockpit.tui.mirror_app import MirrorApp
from cockpit.tui.screens import AskText
from tests.engine.helpers import cockpit
from tests.four_eyes import Keys, four_eyes_world, make_keys
from tests.waiting import app_idle, pause_until


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


def decided(tmp_path: Path, keys: Keys) -> tuple[Path, Path]:
    """A PASS awaiting its countersignature, and the reviewer's file that provides it."""
    runbook = four_eyes_world(tmp_path)
    session = tmp_path / "s"
    sign = ["--sign-key", str(keys.operator)]
    assert cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                   str(session), *sign).returncode == 3
    confirm = ["--confirm", "countersign"]
    assert cockpit("countersign", str(session), "--key", str(keys.reviewer), "--transcript",
                   "-o", str(tmp_path / "t.sig"), *confirm).returncode == 0
    assert cockpit("attach-signature", str(session), str(tmp_path / "t.sig")).returncode == 0
    done = cockpit("resume", str(session), "--headless", "--assume-yes", *sign)
    assert done.returncode == 0, done.stdout + done.stderr
    assert cockpit("countersign", str(session), "--key", str(keys.reviewer), "-o",
                   str(tmp_path / "d.sig"), *confirm).returncode == 0
    return session, tmp_path / "d.sig"


def header(app: CockpitApp | MirrorApp) -> str:
    return str(app.screen.query_one("#header").render())


async def test_the_operator_sees_awaiting_countersign_and_attaches_with_k(
        tmp_path: Path, keys: Keys) -> None:
    session, countersignature = decided(tmp_path, keys)
    ctl = Controller.resume(session, env={}, signer=signing.load_key(keys.operator))
    app = CockpitApp(ctl, clock=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await app_idle(pilot)
            assert "■ PASS · AWAITING COUNTERSIGN (0 of 1)" in header(app)
            assert "AWAITING COUNTERSIGN (0 of 1): attach the file" in str(
                app.screen.query_one("#next").render())
            await pilot.press("k")
            assert isinstance(app.screen, AskText)
            app.screen.query_one(Input).value = str(tmp_path / "no-such.sig")
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pause_until(pilot, lambda: not app.operator.busy, "the verb to end")
            assert not any(s.role == "reviewer" and s.kind == "decision"
                           for s in ctl.state.signatures)  # a missing file attaches nothing
            assert "AWAITING COUNTERSIGN (0 of 1)" in header(app)
            await pilot.press("k")
            app.screen.query_one(Input).value = str(countersignature)
            await pilot.press("enter")
            await pause_until(pilot, lambda: "countersigned" in header(app)
                              and "AWAITING" not in header(app), "the header to say so")
            assert "■ PASS · countersigned" in header(app)
            assert "The session has ended" in str(app.screen.query_one("#next").render())
    finally:
        ctl.close()
    assert cockpit("verify", str(session), "--allowed-signers", str(keys.allowed)
                   ).returncode == 0


async def test_the_mirror_shows_awaiting_countersign_until_it_arrives(
        tmp_path: Path, keys: Keys) -> None:
    session, countersignature = decided(tmp_path, keys)
    plain = cockpit("mirror", str(session), "--plain", "--from-start")
    assert plain.returncode == 0
    assert plain.stdout.splitlines()[-1] == ("-- AWAITING COUNTERSIGN: 0 of 1 "
                                             "countersignature(s) of the decision")
    app = MirrorApp(MirrorSource(session), clock=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pause_until(pilot, lambda: "AWAITING COUNTERSIGN (0 of 1)" in header(app),
                          "the mirror to show the decision awaiting its countersignature")
        attached = cockpit("attach-signature", str(session), str(countersignature))
        assert attached.returncode == 0, attached.stderr
        await pause_until(pilot, lambda: "■ PASS · countersigned" in header(app),
                          "the mirror to show the countersignature, live")
