"""What `run`, `resume` and `demo` share: the options checked before anything is made (the
signing key, the rehearsal, a headless run's answers, the database password), and the two
ways a session is driven once it is open — on the screen, or headless."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.cli.console import err

if TYPE_CHECKING:
    from cockpit.engine.controller import Controller
    from cockpit.engine.headless import Answers, Headless
    from cockpit.evidence.signing import SigningKey
    from cockpit.session.state import SessionState

SIGN_KEY_HELP = ("sign the decision with this SSH key (ssh-keygen -Y, namespace "
                 "cutover-cockpit): a private key without a passphrase, or KEY.pub with the "
                 "key in ssh-agent")


def signer(sign_key: str | Path | None, operator: str | None) -> SigningKey | None:
    """The operator's --sign-key, checked before anything is made: it must read, and sign
    without a prompt (the screen owns the terminal): a key with a passphrase is signed with
    by the agent that holds it."""
    if not sign_key:
        return None
    from dataclasses import replace

    from cockpit.engine.controller import make_actor
    from cockpit.evidence.signing import load_key, sign

    key = load_key(Path(sign_key))
    sign(key, b"cutover-cockpit: can this key sign?\n")  # refused now, not at the decision
    return key if key.identity else replace(key, identity=make_actor(operator).name)


def rehearsal_folder(rehearsal: str | Path | None) -> Path | None:
    """The rehearsal named by --rehearsal, read once now: a folder that is no session is
    refused before anything is asked or made."""
    if not rehearsal:
        return None
    from cockpit.evidence.rehearsal import link_to

    folder = Path(rehearsal)
    link_to(folder)
    return folder


def plan(runbook_path: Path, headless: bool, answers: Path | None, assume_yes: bool,
         state: SessionState | None = None) -> Answers | None:
    """A headless run's answers, checked before anything is made (None for the screen)."""
    from cockpit.engine.headless import plan as headless_plan
    from cockpit.runbook.loader import load_runbook

    if not headless:
        return None
    return headless_plan(load_runbook(runbook_path), answers, assume_yes, state)


def environment(runbook_path: Path, name: str | None = None
                ) -> tuple[dict[str, str], list[str]]:
    """The steps' environment: DSN variables the environment lacks are built from their
    templates (as the runbook's `environment` has them) with a password asked once, masked;
    it lives in this process only."""
    import getpass
    import os
    import warnings

    from cockpit.engine.setup import dsns_needing_password, with_password
    from cockpit.errors import CockpitError
    from cockpit.runbook.environment import for_environment
    from cockpit.runbook.loader import load_runbook

    runbook = for_environment(load_runbook(runbook_path), name)
    env = dict(os.environ)
    missing = dsns_needing_password(runbook, env)
    if not missing:
        return env, []
    names = ", ".join(i.name for i in missing)
    refused = CockpitError(f"{names} not set, and no terminal to ask for the database password "
                           "on; export them (password included) before running without a screen")
    if not sys.stdin.isatty():
        raise refused
    with warnings.catch_warnings():
        # No terminal to read it from unseen: getpass would warn, then read it from stdin in
        # plain sight (or meet its end). Neither: refuse as above.
        warnings.simplefilter("error", getpass.GetPassWarning)
        try:
            password = getpass.getpass(f"Database password for {names} (not stored): ")
        except (getpass.GetPassWarning, EOFError):
            raise refused from None
    return with_password(runbook, env, password), [password]


def drive(ctl: Controller, headless: bool, answers: Answers | None, assume_yes: bool,
          answers_path: Path | None) -> int:
    """Drive an open session to where it stops: on the screen, or headless."""
    if not headless:
        return screen(ctl)
    assert answers is not None  # plan() gave them for a headless run
    return drive_headless(ctl, answers, assume_yes, answers_path)


def drive_headless(ctl: Controller, answers: Answers, assume_yes: bool,
                   answers_path: Path | None = None, stop_file: Path | None = None) -> int:
    from cockpit.engine import hangup
    from cockpit.engine.headless import Headless
    from cockpit.engine.notify.notifier import DRAIN_S
    from cockpit.session.lock import release_if_mine

    hangup.add_cleanup(lambda: release_if_mine(ctl.folder))
    headless: Headless | None = None
    try:
        hangup.check()
        print(f"session: {ctl.folder}", flush=True)
        headless = Headless(ctl, answers, assume_yes, print, answers_path, stop_file)
        return headless.drive()
    finally:
        ctl.close(notify_wait=DRAIN_S)
        if headless is not None:
            headless.say_later()  # the deliveries recorded while it closed
        say_notices(ctl, print)


def say_notices(ctl: Controller, out: Callable[[str], None]) -> None:
    """A closed cockpit's last word on its notifications: all delivered, or what is not."""
    if (line := ctl.notices_line()) is not None:
        out(line)


def screen(ctl: Controller) -> int:
    from cockpit.engine import hangup
    from cockpit.engine.controller import exit_code
    from cockpit.session.lock import release_if_mine
    from cockpit.tui.app import CockpitApp

    hangup.add_cleanup(lambda: release_if_mine(ctl.folder))
    try:
        hangup.run_screen(CockpitApp(ctl))
    finally:
        ctl.close()
        # The screen is gone: say where the session is, for report, mirror and resume.
        err(f"session: {ctl.folder}")
        say_notices(ctl, err)
    return exit_code(ctl.state)
