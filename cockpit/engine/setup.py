"""Session setup checks: the working directory exists, and each DSN variable is set, parses,
and names the host, port, user and database of its template with the required properties.

(Whether TLS is really in use on a live connection is the env probe's job.)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from cockpit.errors import CockpitError, Problem
from cockpit.probes import dsn as dsn_forms
from cockpit.runbook.model import EnvVar, Runbook, WorkingDirectory
from cockpit.runbook.paths import resolve
from cockpit.runbook.platform import foreign_paths
from cockpit.session import rules


def refuse_foreign_paths(runbook: Runbook, runbook_path: Path, workdir_given: bool) -> None:
    """Refuse, before anything is made, a runbook whose paths cannot work on this machine
    (one line per item), rather than failing at its first step."""
    found = foreign_paths(runbook, workdir_given=workdir_given)
    if found:
        lines = [str(Problem(str(runbook_path), place, message)) for place, message in found]
        raise CockpitError("\n".join([f"{runbook_path}: written for Windows; cannot run on "
                                      "this machine:", *lines]))


def approved_workdir(runbook: Runbook, runbook_path: Path) -> tuple[WorkingDirectory | None, Path]:
    """The runbook's working-directory item and where it points (relative paths are taken
    from the runbook file's folder); with no such item, that folder."""
    base = runbook_path.resolve().parent
    item = next((i for i in (runbook.setup.items if runbook.setup else [])
                 if isinstance(i, WorkingDirectory)), None)
    return item, (resolve(base, item.path) if item is not None else base)


def workdir_override(runbook: Runbook, runbook_path: Path, workdir: Path | None,
                     allowed: bool) -> dict[str, str] | None:
    """What `--workdir` replaces: {item, approved, used}, or None when it replaces nothing.
    A production runbook takes a replacement only when the operator says so (`allowed`):
    the approved directory is part of what was signed — unless the runbook declares it
    `per_environment` and no `[environments]` (which approve a folder each)."""
    item, approved = approved_workdir(runbook, runbook_path)
    # The same folder however it is spelled (a link to it included) replaces nothing.
    if workdir is None or item is None or workdir.resolve() == approved.resolve():
        return None
    if (runbook.setup is not None and item.id in runbook.setup.per_environment
            and not runbook.environments):
        return None  # declared to differ by environment: the runbook approves any
    # (with [environments], each environment names its own folder: another is an override)
    if runbook.production and not allowed:
        raise CockpitError(
            f"{runbook_path}: setup approves the working directory `{item.path}`; --workdir "
            f"{workdir} replaces it. A production runbook takes that only with "
            "--override-workdir, which records the override in the session, the report and "
            "the decision record")
    return {"item": item.id, "approved": item.path, "used": str(workdir.resolve())}


def masked(dsn: str) -> str:
    """The DSN with its password replaced by ***, for showing and recording (a URL or
    key=value pairs)."""
    return dsn_forms.masked(dsn)


def dsn_passwords(runbook: Runbook, env: Mapping[str, str]) -> list[str]:
    """The passwords inside the DSN variables the runbook names: secrets to redact."""
    found: list[str] = []
    for item in runbook.setup.items if runbook.setup else []:
        if isinstance(item, EnvVar) and item.name in env:
            found += dsn_forms.passwords(env[item.name], env)
    return found


def _may_hold_dsn(value: str) -> bool:
    return ("://" in value and "@" in value) or (
        "=" in value and ("password" in value or "service" in value))


def environment_secrets(env: Mapping[str, str], names: list[str] | None = None) -> list[str]:
    """Secrets found in an environment: PGPASSWORD, the password of any value that is a DSN
    (a URL or key=value pairs, its service's included), every password in the service files
    it points at, and the whole value of each variable named in `names` (--secret-env)."""
    found = [env["PGPASSWORD"]] if env.get("PGPASSWORD") else []
    for value in env.values():
        if _may_hold_dsn(value):
            found += dsn_forms.passwords(value, env)
    found += dsn_forms.service_passwords(env)
    found += [env[name] for name in names or [] if env.get(name)]
    return list(dict.fromkeys(found))


def check_setup_item(item: WorkingDirectory | EnvVar, workdir: Path, env: Mapping[str, str],
                     placeholder: str) -> tuple[bool, Any, str]:
    """(ok, observed, detail) for one setup item."""
    if isinstance(item, WorkingDirectory):
        ok = workdir.is_dir()
        return ok, str(workdir), "exists" if ok else f"{workdir}: no such directory"
    value = env.get(item.name)
    if not value:
        return False, None, f"{item.name} is not set"
    try:
        have = dsn_forms.identity(value, env)
        want = dsn_forms.identity(item.template.replace(placeholder, "x"), env)
    except ValueError as exc:
        return False, None, f"{item.name} does not parse as a URL or key=value pairs ({exc})"
    # A template that names no port leaves the port to the environment; key=value pairs
    # have no scheme to compare.
    keys = [k for k in ("scheme", "host", "port", "user", "database")
            if (k != "port" or want["port"]) and (k != "scheme" or have["scheme"])]
    problems = [f"{key} is {have[key]!r}, expected {want[key]!r}"
                for key in keys if have[key] != want[key]]
    problems += [f"{key}={value!r} missing" for key, value in item.require.items()
                 if have["query"].get(key) != value]
    detail = "; ".join(problems) if problems else "matches the template"
    return not problems, masked(value), detail


def with_entered_password(runbook: Runbook, env: Mapping[str, str], password: str,
                          only: set[str] | None = None) -> tuple[dict[str, str], list[str]]:
    """The environment with `password` in each DSN whose template holds the placeholder
    (of those named in `only`, if given): a URL given keeps everything but its password; a
    DSN not given is built from its template. Returns the environment and the variables
    changed. A DSN given in another form (key=value) is left as it is: its password is its
    own."""
    out = dict(env)
    placeholder = rules.password_placeholder(runbook)
    changed: list[str] = []
    for item in rules.password_dsns(runbook):
        if only is not None and item.name not in only:
            continue
        if (value := dsn_with_password(item, env, placeholder, password)) is not None:
            out[item.name] = value
            changed.append(item.name)
    return out, changed


def dsn_with_password(item: EnvVar, env: Mapping[str, str], placeholder: str,
                      password: str) -> str | None:
    """The DSN of `item` with `password` in it: the URL given, or its template if none is;
    None for one given as key=value pairs (its password is its own)."""
    value = env.get(item.name)
    if not value:
        return item.template.replace(placeholder, quote(password, safe=""))
    if "://" not in value:
        return None
    parts = urlsplit(value)
    host = parts.netloc.rpartition("@")[2]
    # both as written in a URL (percent-encoded): neither is decoded here
    user = parts.netloc.rpartition("@")[0].partition(":")[0] or (
        urlsplit(item.template).username or "")
    netloc = f"{user}:{quote(password, safe='')}@{host}"
    return parts._replace(netloc=netloc).geturl()


def dsns_needing_password(runbook: Runbook, env: Mapping[str, str]) -> list[EnvVar]:
    """DSN variables the environment lacks whose template holds the password placeholder."""
    return [i for i in rules.password_dsns(runbook) if i.name not in env]


def with_password(runbook: Runbook, env: Mapping[str, str], password: str) -> dict[str, str]:
    """The environment with each missing DSN built from its template, the password
    percent-encoded into it."""
    missing = {item.name for item in dsns_needing_password(runbook, env)}
    return with_entered_password(runbook, env, password, missing)[0]
