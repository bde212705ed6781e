"""Where one runbook runs: its environments' values applied to the setup (the clone's
database, host and working directory in place of production's), and the runbook with those
values set aside — what a rehearsal and the production cutover must share.

Set aside: the setup's `per_environment` items, and the values the `[environments]` tables
give, become placeholders — a working directory's path, a DSN's host, port and database —
in the item's fields and its line alike, so the rendered transcripts of two environments'
runbooks are equal exactly when everything else is."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote, urlsplit

from cockpit.errors import CockpitError
from cockpit.runbook.model import Environment, EnvVar, Runbook, WorkingDirectory
from cockpit.runbook.paths import path_name

PLACEHOLDER = "‹per-environment›"


def choose_environment(runbook: Runbook, name: str | None, where: str) -> str | None:
    """The environment a run uses: `name` (--environment), else the runbook's only one;
    None for a runbook that declares none. CockpitError (exit 1) naming the choices when
    the name is missing among several, or unknown."""
    names = sorted(runbook.environments)
    choices = ", ".join(names)
    if name is None:
        if len(names) > 1:
            raise CockpitError(f"{where}: declares {len(names)} environments ({choices}); "
                               "name the one this run uses with --environment NAME")
        return names[0] if names else None
    if not names:
        raise CockpitError(f"{where}: declares no environments, so --environment {name} "
                           f"names nothing; leave it out, or add [environments.{name}]")
    if name not in runbook.environments:
        raise CockpitError(f"{where}: no environment '{name}'; it declares: {choices}")
    return name


def _applied_dsn(item: EnvVar, environment: Environment) -> EnvVar:
    parts = urlsplit(item.template)
    user, _at, host = parts.netloc.rpartition("@")
    host = environment.host or host
    database = environment.database or item.database
    template = parts._replace(netloc=f"{user}@{host}" if _at else host,
                              path=f"/{quote(database, safe='')}"
                              if environment.database else parts.path).geturl()
    return item.model_copy(update={"template": template, "database": database})


def _effective(runbook: Runbook, name: str | None,
               values: Mapping[str, str] | None) -> Environment | None:
    """Environment `name` with `values` (a fleet target's: its database, host, working
    directory) in place of its own; None when neither gives anything."""
    base = runbook.environments[name] if name is not None else None
    if not values:
        return base
    merged = {**(base.model_dump(exclude_none=True) if base else {}), **values}
    return Environment.model_validate(merged)


def for_environment(runbook: Runbook, name: str | None,
                    values: Mapping[str, str] | None = None) -> Runbook:
    """The runbook with environment `name`'s values in its setup items' fields (each `env`
    item's DSN template and database, the working directory's path); `values`, a fleet
    target's own, in place of the environment's; a key left out keeps the value as written.
    Neither, or a runbook without setup: as it is. The items' lines are left as written:
    they are what was approved and what the screen shows."""
    environment = _effective(runbook, name, values)
    if environment is None or runbook.setup is None:
        return runbook
    items = []
    for item in runbook.setup.items:
        if isinstance(item, WorkingDirectory) and environment.workdir:
            item = item.model_copy(update={"path": environment.workdir})
        elif isinstance(item, EnvVar) and (environment.database or environment.host):
            item = _applied_dsn(item, environment)
        items.append(item)
    return runbook.model_copy(update={
        "setup": runbook.setup.model_copy(update={"items": items})})


def environment_values(runbook: Runbook, name: str | None,
                       values: Mapping[str, str] | None = None) -> str:
    """What environment `name` (with a fleet target's `values`) sets, for a person:
    "database ledger_clone, host clone:5432" ("the values as written" when it sets nothing)."""
    environment = _effective(runbook, name, values)
    said = [f"{key} {value}" for key, value in
            (environment.model_dump() if environment else {}).items() if value]
    return ", ".join(said) or "the values as written"


def environment_problems(runbook: Runbook) -> list[tuple[str, str]]:
    """(place, message) for each environment value no setup item takes."""
    items = runbook.setup.items if runbook.setup else []
    has_env = any(isinstance(i, EnvVar) for i in items)
    has_workdir = any(isinstance(i, WorkingDirectory) for i in items)
    problems = []
    for name, environment in runbook.environments.items():
        place = f"environments.{name}"
        for key in ("database", "host"):
            if getattr(environment, key) and not has_env:
                problems.append((f"{place}.{key}", "no `env` item in [setup] names a DSN for "
                                 "it to apply to; add one, or leave the key out"))
        if environment.workdir and not has_workdir:
            problems.append((f"{place}.workdir", "no `working_directory` item in [setup] for "
                             "it to replace; add one, or leave the key out"))
        port = (environment.host or "").rpartition(":")[2] if ":" in (environment.host or "") \
            else None
        if port is not None and not port.isdigit():
            problems.append((f"{place}.host", f"'{environment.host}': the port after ':' must "
                             "be a number (host or host:port)"))
    return problems


def _swap(text: str, values: list[str]) -> str:
    """Each value where the line shows it: as a `code` span, or as a whole word of three
    characters or more (a `.` or `db` inside other words is left alone)."""
    for value in sorted({v for v in values if v}, key=len, reverse=True):  # longest first
        text = text.replace(f"`{value}`", f"`{PLACEHOLDER}`")
        if len(value) >= 3:
            text = re.sub(rf"(?<![\w.-]){re.escape(value)}(?![\w-])", PLACEHOLDER, text)
    return text


def _neutral_dsn(item: EnvVar, host: bool = True, database: bool = True) -> EnvVar:
    parts = urlsplit(item.template)
    # the hosts as written (a multi-host DSN, `pg1:5432,pg2:5432`, has no one port)
    hosts = parts.netloc.rsplit("@", 1)[-1]
    values = [item.database] if database else []
    if host:
        values += [hosts, *(h for one in hosts.split(",") for h in one.split(":"))]
    user = parts.netloc.rsplit("@", 1)[0] if "@" in parts.netloc else ""
    netloc = PLACEHOLDER if host else hosts
    template = parts._replace(netloc=f"{user}@{netloc}" if user else netloc,
                              path=f"/{PLACEHOLDER}" if database else parts.path).geturl()
    return item.model_copy(update={"template": template,
                                   "database": PLACEHOLDER if database else item.database,
                                   "text": _swap(item.text, values)})


def environment_neutral(runbook: Runbook) -> Runbook:
    """The runbook with each per-environment value replaced by a placeholder: those of the
    setup's `per_environment` items, and those any of its `[environments]` sets (the
    environments themselves left out)."""
    setup = runbook.setup
    declared = list(runbook.environments.values())
    workdirs = any(e.workdir for e in declared)
    hosts, databases = any(e.host for e in declared), any(e.database for e in declared)
    if setup is None or not (setup.per_environment or workdirs or hosts or databases):
        return runbook.model_copy(update={"environments": {}})
    items = []
    for item in setup.items:
        listed = item.id in setup.per_environment
        if isinstance(item, WorkingDirectory) and (listed or workdirs):
            item = item.model_copy(update={
                "path": PLACEHOLDER, "text": _swap(item.text, [item.path, path_name(item.path)])})
        elif isinstance(item, EnvVar) and (listed or hosts or databases):
            item = _neutral_dsn(item, host=listed or hosts, database=listed or databases)
        items.append(item)
    return runbook.model_copy(update={"setup": setup.model_copy(update={"items": items}),
                                      "environments": {}})
