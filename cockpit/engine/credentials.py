"""Passwords that expire: a DSN's `password_command` (Entra ID's or AWS IAM's token command,
a vault CLI) run afresh before every new connection the cockpit makes or hands on — the
gates' probes, each step at its start, the radar, the halt diagnostics — so a token read
once at the start cannot expire in the middle of a long cutover. The command sees no DSN,
no PGPASSWORD and no other secret; what it prints is a secret from that moment on."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from cockpit.engine.setup import dsn_with_password
from cockpit.engine.supervisor import SECRETS_ENV
from cockpit.runbook.model import EnvVar, Runbook
from cockpit.session import rules

TIMEOUT_S = 10.0
# never handed to the command, whatever their value
_WITHHELD = {"PGPASSWORD", "PGPASSFILE", SECRETS_ENV}


class CredentialFailed(Exception):
    """A `password_command` gave no password; the message names the variable, the
    command and the cause (masked), and what to do."""


def scrubbed(env: Mapping[str, str], withheld: Iterable[str],
             secrets: Iterable[str]) -> dict[str, str]:
    """The environment a `password_command` runs in: without the DSN variables, the
    password variables, and any variable whose value holds a known secret."""
    names = {*withheld, *_WITHHELD}
    known = [s for s in secrets if s]
    return {k: v for k, v in env.items()
            if k not in names and not any(s in v for s in known)}


def _stop(process: subprocess.Popen[bytes]) -> None:
    if os.name == "nt":
        process.kill()
    else:  # its whole session: a CLI's helpers would keep the pipes open
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.communicate(timeout=5)


def fetch_password(var: str, command: str, workdir: Path, env: Mapping[str, str],
                   mask: Callable[[str], str] = str, timeout_s: float = TIMEOUT_S) -> str:
    """What `command` prints: one line, the password (CredentialFailed otherwise)."""
    where = f"{var}'s password_command `{command}`"
    try:
        process = subprocess.Popen(command, shell=True, cwd=workdir, env=dict(env),
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, start_new_session=os.name != "nt")
    except OSError as exc:
        raise CredentialFailed(f"{where} could not be started: {exc}") from None
    try:
        out, err = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _stop(process)
        raise CredentialFailed(f"{where} printed no password within {timeout_s:g} s "
                               "(stopped): is its CLI waiting for a login?") from None
    said = mask(err.decode(errors="replace").strip().splitlines()[-1]) if err.strip() else ""
    if process.returncode != 0:
        raise CredentialFailed(f"{where} failed (exit {process.returncode})"
                               + (f": {said}" if said else ""))
    lines = [line for line in out.decode(errors="replace").splitlines() if line.strip()]
    if len(lines) != 1:
        raise CredentialFailed(f"{where} printed {len(lines)} lines; it must print the "
                               "password alone, on one line")
    return lines[0].strip()


def fresh_credentials(runbook: Runbook, env: Mapping[str, str], workdir: Path,
                      secrets: Iterable[str], mask: Callable[[str], str] = str
                      ) -> tuple[dict[str, str], list[str]]:
    """The environment with a fresh password in each DSN that has a `password_command`, and
    the passwords fetched (to be secrets before anything else sees them)."""
    items = rules.command_dsns(runbook)
    out, fetched = dict(env), list[str]()
    if not items:
        return out, fetched
    secrets = list(secrets)
    names = [i.name for i in rules.setup_checks(runbook) if isinstance(i, EnvVar)]
    clean = scrubbed(env, [*names, "DATABASE_URL"], secrets)
    placeholder = rules.password_placeholder(runbook)
    for item in items:
        assert item.password_command is not None
        password = fetch_password(item.name, item.password_command, workdir, clean, mask)
        fetched.append(password)
        value = dsn_with_password(item, out, placeholder, password)
        if value is None:
            raise CredentialFailed(f"{item.name} is given as key=value pairs: a "
                                   "password_command's password goes into a URL — give it "
                                   "as a postgresql:// URL, or leave it unset to be built "
                                   "from the template")
        out[item.name] = value
    return out, fetched
