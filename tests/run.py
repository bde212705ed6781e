"""The real `cockpit` command in a child process, as a user runs it (`python -m cockpit ...`
with this Python), and the URL of a test database to hand it: one way for every test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from tests.conftest import REPO

if TYPE_CHECKING:
    from cockpit.demo.pgcluster import PgCluster

COCKPIT = [sys.executable, "-m", "cockpit"]


def as_a_terminal_starts_it() -> None:
    """For `preexec_fn`: hang-ups and Ctrl-C at their defaults in the child, as a terminal's
    foreground job has them. Under `nohup`, or as a background job of a shell without job
    control, they are ignored (SIG_IGN, which children inherit) and a cockpit rightly keeps
    ignoring them: a test of what a hang-up or a Ctrl-C does must not inherit that."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _environment(env: Mapping[str, str] | None, inherit: bool) -> dict[str, str] | None:
    if env is None:
        return None if inherit else {}
    return {**os.environ, **env} if inherit else dict(env)


def _text(options: dict[str, Any]) -> dict[str, Any]:
    """Text streams unless `text=False`, read as the UTF-8 the cockpit writes everywhere (on
    Windows the default would be the ANSI code page)."""
    options = {"text": True, **options}
    if options["text"] and "encoding" not in options:
        options["encoding"] = "utf-8"
    return options


def cockpit(*args: str, cwd: Path = REPO, env: Mapping[str, str] | None = None,
            inherit: bool = True, timeout: float = 120,
            **options: Any) -> subprocess.CompletedProcess[Any]:
    """`cockpit ARGS` run to its end, its output captured (as text unless `text=False`).
    `env` is added to this process's environment, or is the whole of it with
    `inherit=False`; `options` go to subprocess.run (`input`, `stdin`, `check`, ...)."""
    return subprocess.run([*COCKPIT, *args], capture_output=True, cwd=cwd,
                          env=_environment(env, inherit), timeout=timeout,
                          **_text(options))


def start_cockpit(*args: str, cwd: Path = REPO, env: Mapping[str, str] | None = None,
                  inherit: bool = True, **options: Any) -> subprocess.Popen[Any]:
    """`cockpit ARGS` started and left running (text streams unless `text=False`); `env` as
    for cockpit(), `options` go to subprocess.Popen (`stdout`, `start_new_session`, ...)."""
    return subprocess.Popen([*COCKPIT, *args], cwd=cwd, env=_environment(env, inherit),
                            **_text(options))


def db_url(cluster: PgCluster, conninfo: str) -> str:
    """The SQLAlchemy URL, password and all, of the database a conninfo names (`pg_db`)."""
    name = psycopg.conninfo.conninfo_to_dict(conninfo)["dbname"]
    return cluster.socket_url(str(name)).render_as_string(hide_password=False)
