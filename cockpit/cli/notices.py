"""`cockpit notify-test` (a test message to each destination of a runbook) and `cockpit
notify` (a session's undelivered notifications; `--flush` sends them)."""

from __future__ import annotations

import os
import secrets as random_tokens
from datetime import UTC, datetime
from pathlib import Path

from cockpit.errors import EXIT_BLOCKER, EXIT_OK, CockpitError

FLUSH_WAIT_S = 600.0  # --flush: long enough for every destination's attempts


def notify_test(*, runbook: str, destination: str | None = None) -> int:
    from cockpit.engine.notify.destinations import command_env, destinations, url_secrets
    from cockpit.engine.notify.notifier import send
    from cockpit.engine.notify.payloads import About
    from cockpit.engine.opening import resolve_workdir
    from cockpit.runbook.loader import load_runbook
    from cockpit.session.inert import inert
    from cockpit.session.moments import Moment
    from cockpit.session.redact import Redactor

    path = Path(runbook)
    book = load_runbook(path)
    if not book.notify:
        raise CockpitError(f"{path}: no [[notify]] destination to test — add one "
                           "(docs/notify.md)")
    workdir = resolve_workdir(book, path, None)
    found = destinations(book, os.environ, workdir, only=destination)
    hidden = url_secrets(found)
    redact = Redactor(hidden).redact_text
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    moment = Moment(id=f"test-{random_tokens.token_hex(4)}", seq=0, kind="test", at=now,
                    title=f"TEST: Cutover Cockpit can reach this destination for runbook "
                    f"{book.id}", lines=["a test message from `cockpit notify-test`; no "
                                         "session and no cutover behind it"])
    about = About(session="(none: a test message)", runbook=book.id, environment=None,
                  production=book.production, evidence="(none)")
    failed = 0
    for dest in found:
        answer = send(dest, moment, about, workdir, command_env(book, os.environ, hidden),
                      os.environ)
        failed += not answer.delivered
        print(inert(f"{dest.name} ({dest.spec.kind}): "
                    f"{'delivered' if answer.delivered else 'NOT DELIVERED'} — "
                    f"{redact(answer.detail)}"))
    return EXIT_BLOCKER if failed else EXIT_OK


def notify(*, folder: str, flush: bool = False) -> int:
    from cockpit.session import rules
    from cockpit.session.inert import inert
    from cockpit.session.reader import open_session

    if flush:
        return _flush(Path(folder))
    view = open_session(Path(folder))
    told = [n for n in view.state.notices.values() if n.outcome == "delivered"]
    left = rules.undelivered(view.state)
    print(f"{len(told)} delivered, {len(left)} undelivered")
    for n in left:
        print(inert(f"  {n.destination} {n.moment} {n.message}: {n.outcome} after "
                    f"{n.attempts} attempt(s) — {n.detail or ''}"))
    return EXIT_OK


def _flush(folder: Path) -> int:
    from cockpit.engine.controller import Controller
    from cockpit.session import rules
    from cockpit.session.inert import inert

    ctl = Controller.for_notices(folder)
    try:
        assert ctl.notifier is not None
        ctl.notifier.drain(FLUSH_WAIT_S)
    finally:
        ctl.close(notify_wait=0)
    left = rules.undelivered(ctl.state)
    print(f"{len(left)} undelivered" + ("" if not left else ": "
                                         + inert(rules.undelivered_text(ctl.state) or "")))
    return EXIT_BLOCKER if left else EXIT_OK
