"""`cockpit notify-test`: one test message to each destination, before any session — the
destinations a runbook (or a `demo --notify` file) names, each answer in words."""

from __future__ import annotations

import os
import secrets as random_tokens
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cockpit.engine.notify.destinations import command_env, destinations, dsn_vars, url_secrets
from cockpit.engine.notify.notifier import send
from cockpit.engine.notify.payloads import About
from cockpit.engine.opening import resolve_workdir
from cockpit.errors import CockpitError
from cockpit.runbook.loader import load_runbook
from cockpit.runbook.notify import load_notify_tables
from cockpit.session.moments import Moment
from cockpit.session.redact import Redactor


@dataclass(frozen=True)
class Tried:
    name: str
    kind: str
    delivered: bool
    detail: str  # redacted


def try_destinations(path: Path, only: str | None = None) -> list[Tried]:
    """A test message to each destination of `path` (or the one named `only`)."""
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
    found = destinations(notify, os.environ, workdir, only=only)
    hidden = url_secrets(found)
    redact = Redactor(hidden).redact_text
    now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    moment = Moment(id=f"test-{random_tokens.token_hex(4)}", seq=0, kind="test", at=now,
                    title=f"TEST: Cutover Cockpit can reach this destination for runbook "
                    f"{name}", lines=["a test message from `cockpit notify-test`; no session "
                                     "and no cutover behind it"])
    about = About(session="(none: a test message)", runbook=name, environment=None,
                  production=production, evidence="(none)")
    tried = []
    for dest in found:
        answer = send(dest, moment, about, workdir,
                      command_env(notify, dsns, os.environ, hidden), os.environ)
        tried.append(Tried(dest.name, dest.spec.kind, answer.delivered, redact(answer.detail)))
    return tried


def _only_notify_tables(path: Path) -> bool:
    try:
        return set(tomllib.loads(path.read_text(encoding="utf-8"))) == {"notify"}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False  # the runbook loader says what is wrong with it
