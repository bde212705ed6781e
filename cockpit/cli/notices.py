"""`cockpit notify-test` (a test message to each destination of a runbook) and `cockpit
notify` (a session's undelivered notifications; `--flush` sends them)."""

from __future__ import annotations

import os
import secrets as random_tokens
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.errors import EXIT_BLOCKER, EXIT_OK, CockpitError

if TYPE_CHECKING:
    from cockpit.session.state import Notice, SessionState

FLUSH_WAIT_S = 600.0  # --flush: long enough for every destination's attempts


def notify_test(*, runbook: str, destination: str | None = None) -> int:
    from cockpit.engine.notify.destinations import (
        command_env,
        destinations,
        dsn_vars,
        url_secrets,
    )
    from cockpit.engine.notify.notifier import send
    from cockpit.engine.notify.payloads import About
    from cockpit.engine.opening import resolve_workdir
    from cockpit.runbook.loader import load_runbook
    from cockpit.runbook.notify import load_notify_tables
    from cockpit.session.inert import inert
    from cockpit.session.moments import Moment
    from cockpit.session.redact import Redactor

    path = Path(runbook)
    if _only_notify_tables(path):  # a `cockpit demo --notify` file, tried before the demo
        notify, name, production = load_notify_tables(path), path.stem, False
        workdir, dsns = path.resolve().parent, []
    else:
        book = load_runbook(path)
        notify, name, production = book.notify, book.id, book.production
        workdir, dsns = resolve_workdir(book, path, None), dsn_vars(book)
    if not notify:
        raise CockpitError(f"{path}: no [[notify]] destination to test — add one "
                           "(docs/notify.md)")
    found = destinations(notify, os.environ, workdir, only=destination)
    hidden = url_secrets(found)
    redact = Redactor(hidden).redact_text
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    moment = Moment(id=f"test-{random_tokens.token_hex(4)}", seq=0, kind="test", at=now,
                    title=f"TEST: Cutover Cockpit can reach this destination for runbook "
                    f"{name}", lines=["a test message from `cockpit notify-test`; no "
                                         "session and no cutover behind it"])
    about = About(session="(none: a test message)", runbook=name, environment=None,
                  production=production, evidence="(none)")
    failed = 0
    for dest in found:
        answer = send(dest, moment, about, workdir, command_env(notify, dsns, os.environ, hidden),
                      os.environ)
        failed += not answer.delivered
        print(inert(f"{dest.name} ({dest.spec.kind}): "
                    f"{'delivered' if answer.delivered else 'NOT DELIVERED'} — "
                    f"{redact(answer.detail)}"))
    return EXIT_BLOCKER if failed else EXIT_OK


def _only_notify_tables(path: Path) -> bool:
    import tomllib

    try:
        return set(tomllib.loads(path.read_text(encoding="utf-8"))) == {"notify"}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False  # the runbook loader says what is wrong with it


def notify(*, folder: str, flush: bool = False) -> int:
    from cockpit.session.reader import open_session

    if flush:
        return _flush(Path(folder))
    state = open_session(Path(folder)).state
    for line in _listing(state):
        print(line)
    return EXIT_BLOCKER if _left(state) else EXIT_OK


def _left(state: SessionState) -> list[Notice]:
    from cockpit.session import rules

    return rules.undelivered(state)


def _listing(state: SessionState) -> list[str]:
    """Per destination, how many of its messages were delivered; then each one that was
    not, with its last answer."""
    from cockpit.session import rules
    from cockpit.session.inert import inert

    by: dict[str, list[Notice]] = {}
    for notice in state.notices.values():
        by.setdefault(notice.destination, []).append(notice)
    lines = [f"{name}: {sum(n.outcome == 'delivered' for n in got)} of {len(got)} messages "
             "delivered" for name, got in sorted(by.items())] or ["no notification yet"]
    if left := _left(state):
        lines.append(f"undelivered ({len(left)}), the most needed first:")
        lines += [inert(f"  {n.destination} {n.moment} {n.message} — {rules.cause(n)} "
                        f"({n.attempts} attempt{'' if n.attempts == 1 else 's'})")
                  for n in left]
    return lines


def _flush(folder: Path) -> int:
    from cockpit.engine.controller import Controller
    from cockpit.session.inert import inert

    ctl = Controller.for_notices(folder)
    before = {key for key, n in ctl.state.notices.items() if n.outcome == "delivered"}
    try:
        assert ctl.notifier is not None
        ctl.notifier.drain(FLUSH_WAIT_S)
    finally:
        ctl.close(notify_wait=0)
    for key, n in ctl.state.notices.items():
        if n.outcome == "delivered" and key not in before:
            print(inert(f"delivered: {n.destination} {n.moment} {n.message} ({n.detail})"))
    for line in _listing(ctl.state):
        print(line)
    return EXIT_BLOCKER if _left(ctl.state) else EXIT_OK
