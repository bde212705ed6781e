"""One target as its own cockpit runs it (`cockpit fleet target FLEET NAME`, what each
dispatch starts, on this machine or a Celery worker): everything it needs is read from the
fleet's ledger and its pinned copies — the runbook's path and pin, the target's values and
environment, the shared answers, who approved its wave — and checked before anything runs:
a runbook or targets file that changed since the fleet's GO, a wave nobody approved, a
fleet that halted, all refuse."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg.conninfo

from cockpit.errors import EXIT_REFUSED, CockpitError
from cockpit.fleet.folder import (
    ANSWERS_COPY,
    STOP,
    TARGETS_COPY,
    ledger_folder,
    published_folder,
    sha256_of,
    target_folder,
)
from cockpit.fleet.ledger import FleetState, read_fleet
from cockpit.fleet.plan import FleetPlan, Target, load_plan
from cockpit.fleet.statements import GO, wave_subject
from cockpit.runbook.environment import for_environment
from cockpit.runbook.loader import load_runbook
from cockpit.runbook.model import EnvVar, Runbook
from cockpit.session.layout import EVENTS
from cockpit.session.records import FleetTarget


class FleetRefused(CockpitError):
    """Not for now: waiting for a person or refused as it stands (exit 3)."""

    exit_code = EXIT_REFUSED


@dataclass(frozen=True)
class TargetRun:
    runbook_path: Path
    runbook: Runbook
    environment: str | None
    values: dict[str, str]
    ref: FleetTarget
    folder: Path  # the target's session folder
    published: Path  # where it publishes its named logs
    answers: Path | None
    stop_file: Path | None  # the fleet's, while it has not ended
    operator: str
    env: dict[str, str]  # this process's environment with the target's DSN variables
    rehearsal: Path | None  # the PASS every target of the fleet is proved by
    lease_s: float  # taken over from another host only after its lease is this old

    @property
    def started(self) -> bool:
        return (self.folder / EVENTS).is_file()


def fleet_plan(fleet: Path, state: FleetState) -> FleetPlan:
    """The fleet's plan, from its pinned copy of the targets file (checked against its pin)
    and the runbook it pinned."""
    assert state.started is not None
    ledger = ledger_folder(fleet)
    copy = ledger / TARGETS_COPY
    if sha256_of(copy) != state.started.targets_sha256:
        raise FleetRefused(f"{copy}: is not the targets file the fleet pinned (its sha256 "
                           "differs); the fleet's copy was changed — `cockpit fleet verify` "
                           f"{fleet}")
    return load_plan(copy, load_runbook(ledger / "runbook.toml"))


def target_run(fleet: Path, name: str, environ: Mapping[str, str],
               resumed: bool = False) -> TargetRun:
    """What target `name` runs with; `resumed`: its session exists and a person takes it up
    (`cockpit resume`, after the fleet ended): no approval or halt is asked of the fleet."""
    state = read_fleet(fleet)
    started = state.started
    assert started is not None
    plan = fleet_plan(fleet, state)
    if name not in state.targets:
        raise CockpitError(f"{fleet}: no target '{name}' in this fleet")
    line = state.targets[name]
    folder = target_folder(fleet, name)
    begun = (folder / EVENTS).is_file()
    if state.halted is not None and not begun:
        raise FleetRefused(f"target {name}: the fleet halted ({state.halted.reason}); "
                           "nothing new starts")
    approval = _approver(state, line.wave) or ("-" if resumed and begun else None)
    if approval is None:
        raise FleetRefused(f"target {name}: its wave '{line.wave}' is not approved; "
                           f"`cockpit fleet resume {fleet}` asks for it")
    runbook_path = Path(started.runbook_path)
    try:
        pinned = sha256_of(runbook_path) == started.runbook_sha256
    except OSError as exc:
        raise CockpitError(f"target {name}: the fleet's runbook {runbook_path} cannot be read "
                           f"({exc.strerror}); every target runs the file the fleet pinned, "
                           "from where it was") from None
    if not pinned:
        raise FleetRefused(f"target {name}: {runbook_path} changed since the fleet's GO (its "
                           "sha256 is not the one pinned); every target runs the approved "
                           "runbook — put it back, or start a new fleet")
    runbook = load_runbook(runbook_path)
    target = plan.target(name)
    environment = plan.environment_of(target)
    values = plan.values_of(target)
    answers = ledger_folder(fleet) / ANSWERS_COPY
    signed = state.countersigned.get(GO if line.wave == started.waves[0].name
                                     else wave_subject(line.wave))
    ref = FleetTarget(fleet_id=started.fleet_id, folder=str(fleet.resolve()), target=name,
                      wave=line.wave, approved_by=approval,
                      targets_sha256=started.targets_sha256,
                      **({"countersigned_by": f"{signed.identity} ({signed.fingerprint})"}
                         if signed is not None else {}))
    env = target_env(for_environment(runbook, environment, values), target, environ)
    return TargetRun(runbook_path=runbook_path, runbook=runbook, environment=environment,
                     values=values, ref=ref, folder=folder,
                     published=published_folder(fleet, name),
                     answers=answers if answers.is_file() else None,
                     stop_file=fleet / STOP if state.ended is None else None,
                     operator=state.operator, env=env,
                     rehearsal=Path(started.rehearsal) if started.rehearsal else None,
                     lease_s=started.lease_s)


def _approver(state: FleetState, wave: str) -> str | None:
    """Who approved `wave`: the fleet's GO approves its first wave; each later one its own
    approval (or the GO, when the fleet does not ask for one per wave)."""
    assert state.started is not None
    first = state.started.waves[0].name
    if state.go is None:
        return None
    if wave == first or not state.started.approve_waves:
        return state.go.approver
    approved = state.approved.get(wave)
    return approved.approver if approved is not None else None


def target_env(applied: Runbook, target: Target, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment a target's cockpit runs with: each DSN variable of the runbook from
    the variable the target names (`dsn_env`), else the one set here with the target's host
    and database put in (checked by the session's own setup against its values); one set
    nowhere is refused, unless a `password_command` builds it from the template."""
    env = dict(environ)
    items = [i for i in (applied.setup.items if applied.setup else []) if isinstance(i, EnvVar)]
    for item in items:
        source = target.dsn_env.get(item.name)
        if source is not None:
            if not environ.get(source):  # an empty variable holds no DSN either
                raise CockpitError(f"target {target.name}: ${source} is not set (it holds the "
                                   f"target's {item.name}); export it where the target runs")
            env[item.name] = environ[source]
        elif environ.get(item.name):
            if target.host or target.database:
                env[item.name] = _retargeted(environ[item.name], item)
        elif item.password_command is None:  # else the template and the command build it
            raise CockpitError(f"target {target.name}: ${item.name} is not set: each target's "
                               f"DSN is built from it (its host and database replaced by the "
                               f"target's); export it, password included — or name a "
                               f"variable per target (dsn_env)")
    return env


def _retargeted(dsn: str, item: EnvVar) -> str:
    """`dsn` with the host, port and database of `item`'s template (as the target has it)."""
    want = urlsplit(item.template)
    host = want.netloc.rpartition("@")[2]
    if "://" in dsn:  # a URL (postgresql://, postgresql+psycopg://); else key=value pairs
        parts = urlsplit(dsn)
        user = parts.netloc.rpartition("@")[0]
        return parts._replace(netloc=f"{user}@{host}" if user else host,
                              path=f"/{quote(item.database, safe='')}").geturl()
    pairs = psycopg.conninfo.conninfo_to_dict(dsn)
    name, _colon, port = host.rpartition(":") if ":" in host else (host, "", "")
    pairs.update({"dbname": item.database, "host": name or host, **({"port": port}
                                                                     if port else {})})
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in pairs.items()})
