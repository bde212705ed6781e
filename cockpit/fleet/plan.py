"""The targets file of a fleet (`cockpit fleet run RUNBOOK --targets TARGETS.toml`): each
target's values — the database, host and working directory that differ from the runbook's
environment, the variable holding its DSN, the database server it lives on, a queue, a
window — and the fleet's shape: its waves (a canary by name, then batches by count or
percentage), how many targets run at once in a wave and on one server, and the stop rule.
Loaded into a model, every fault named by its place, and its waves worked out once."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from cockpit.errors import CockpitError, Problem
from cockpit.runbook.model import Runbook
from cockpit.runbook.values import Duration, EnvName, Id

# A value of a DSN: no URL delimiter, no space (the runbook's Environment takes the same).
DsnPart = Annotated[str, StringConstraints(min_length=1, pattern=r"^[^/?#@\s]*$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Window(_Model):
    """When a target may start: not before `opens`, not after `closes` (UTC)."""

    opens: datetime | None = None
    closes: datetime | None = None


class Target(_Model):
    """One database the runbook runs against: a cockpit session of its own."""

    name: Id = Field(description="The target's name; its session folder is named after it.")
    environment: Id | None = Field(
        default=None, description="The runbook environment whose shape it takes (default: "
        "the file's `environment`).")
    database: DsnPart | None = Field(default=None, description="Its database.")
    host: DsnPart | None = Field(default=None, description="Its host, or host:port.")
    workdir: str | None = Field(default=None, min_length=1,
                                description="Its working directory, if it has its own.")
    dsn_env: dict[EnvName, EnvName] = Field(
        default={}, description="The runbook's DSN variable -> the variable that holds this "
        "target's DSN. Left out: the runbook's variable as set, with its host and database "
        "replaced by the target's (or, with a `password_command`, the template).")
    server: Id | None = Field(default=None, description="The database server it lives on "
                              "(default: its host, else the environment's): the per-server "
                              "limit counts by it.")
    queue: Id | None = Field(default=None, description="The Celery queue it is sent to.")
    window: Window | None = None


class Wave(_Model):
    """A wave: named targets (a canary), or the next `count` targets, or the next `percent`
    of all targets, or the `rest`, in the file's order."""

    name: Id
    targets: list[Id] = []
    count: int | None = Field(default=None, ge=1)
    percent: float | None = Field(default=None, gt=0, le=100)
    rest: bool = False
    parallel: int | None = Field(default=None, ge=1, le=256,
                                 description="At most this many at once in this wave.")


class FleetShape(_Model):
    parallel: int = Field(default=4, ge=1, le=256,
                          description="At most this many targets at once in a wave.")
    per_server: int | None = Field(default=None, ge=1, le=256,
                                   description="At most this many at once on one server.")
    stop_after_halts: int = Field(default=1, ge=1,
                                  description="The stop rule: this many halted targets in a "
                                  "wave halt the fleet.")
    approve_waves: bool = Field(default=True,
                                description="Each wave after the first waits for a typed "
                                "approval.")
    countersign: bool = Field(default=False,
                              description="The fleet's GO waits for a reviewer's "
                              "countersignature too.")
    dispatch: Literal["local", "celery"] = "local"
    lease: Duration = Field(default="30s", description="A target's session is taken over "
                            "from a cockpit on another host only once its lease and its "
                            "step's heartbeat are this old.")
    visibility_timeout: Duration = Field(default="6h", description="Celery: how long a "
                                         "target's message stays with a worker before it "
                                         "is given to another; longer than the longest "
                                         "target.")
    broker_env: EnvName = Field(default="COCKPIT_BROKER_URL", description="Celery: the "
                                "variable holding the Redis broker's URL.")


class TargetsFile(_Model):
    format: Literal[1]
    environment: Id | None = None
    fleet: FleetShape = FleetShape()
    waves: list[Wave] = Field(min_length=1)
    targets: list[Target] = Field(min_length=1)


@dataclass(frozen=True)
class PlannedWave:
    name: str
    targets: tuple[str, ...]
    parallel: int


@dataclass(frozen=True)
class FleetPlan:
    """A targets file checked against its runbook: the waves worked out."""

    file: TargetsFile
    waves: tuple[PlannedWave, ...]

    @property
    def shape(self) -> FleetShape:
        return self.file.fleet

    def target(self, name: str) -> Target:
        return next(t for t in self.file.targets if t.name == name)

    def wave_of(self, name: str) -> PlannedWave:
        return next(w for w in self.waves if name in w.targets)

    def environment_of(self, target: Target) -> str | None:
        return target.environment or self.file.environment

    def server_of(self, target: Target) -> str:
        return target.server or target.host or "-"

    def values_of(self, target: Target) -> dict[str, str]:
        """What the target sets in place of its environment's values."""
        return {k: v for k, v in (("database", target.database), ("host", target.host),
                                  ("workdir", target.workdir)) if v}


class TargetsError(CockpitError):
    """A targets file that cannot be used; lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        head = [f"{len(problems)} problems in the targets file:"] if len(problems) > 1 else []
        super().__init__("\n".join([*head, *(str(p) for p in problems)]))


def load_plan(path: Path, runbook: Runbook) -> FleetPlan:
    """The targets file at `path`, checked against `runbook`, or TargetsError."""
    name = str(path)
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise TargetsError([Problem(name, "", "no such file")]) from None
    except OSError as exc:
        raise TargetsError([Problem(name, "", f"cannot be read ({exc.strerror})")]) from None
    except UnicodeDecodeError as exc:
        raise TargetsError([Problem(name, f"byte {exc.start}", "not UTF-8 text")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise TargetsError([Problem(name, "", f"not valid TOML: {exc}")]) from None
    return parse_plan(data, runbook, name)


def parse_plan(data: object, runbook: Runbook, name: str = "<targets>") -> FleetPlan:
    try:
        file = TargetsFile.model_validate(data)
    except ValidationError as exc:
        raise TargetsError([Problem(name, _place(e["loc"]), _said(e["msg"], e["loc"]))
                            for e in exc.errors(include_url=False)]) from None
    found = list(dict.fromkeys(_problems(file, runbook)))  # one line per place and message
    problems = [Problem(name, place, message) for place, message in found]
    if problems:
        raise TargetsError(problems)
    waves, wave_problems = _waves(file)
    if wave_problems:
        raise TargetsError([Problem(name, p, m) for p, m in wave_problems])
    return FleetPlan(file, waves)


def _place(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _said(message: str, loc: tuple[int | str, ...]) -> str:
    if message.startswith("Extra inputs"):
        return f"unknown key '{loc[-1]}'"
    return message


def _problems(file: TargetsFile, runbook: Runbook) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    names = [t.name for t in file.targets]
    for index, target in enumerate(file.targets):
        place = f"targets[{index}]"
        if names.index(target.name) != index:
            problems.append((f"{place}.name", f"'{target.name}' names another target too; "
                             "each target has a name of its own"))
        problems += _environment_problems(place, target, file, runbook)
        problems += _dsn_problems(place, target, runbook)
        problems += _window_problems(place, target.window)
    problems += _database_problems(file, runbook)
    if file.fleet.dispatch == "local" and any(t.queue for t in file.targets):
        problems.append(("fleet.dispatch", "targets name a `queue`, which only Celery "
                         "dispatch uses; set dispatch = \"celery\" or drop the queues"))
    return problems


def _database_problems(file: TargetsFile, runbook: Runbook) -> list[tuple[str, str]]:
    """Each target names its own database — never the environment's by leaving it out, and
    never another target's: the same upgrade twice on one database is no fleet."""
    problems: list[tuple[str, str]] = []
    seen: dict[tuple[str, ...], str] = {}
    for index, target in enumerate(file.targets):
        place = f"targets[{index}]"
        if not (target.database or target.host or target.dsn_env):
            problems.append((place, f"'{target.name}' names no database: give `database` (or "
                             "`host`, or a `dsn_env` variable); without one it would run on "
                             "the environment's own database"))
            continue
        chosen = runbook.environments.get(target.environment or file.environment or "")
        key = (("dsn_env", *sorted(f"{k}={v}" for k, v in target.dsn_env.items()))
               if target.dsn_env else
               (target.host or (chosen.host if chosen else None) or "",
                target.database or (chosen.database if chosen else None) or ""))
        if key in seen:
            problems.append((place, f"'{target.name}' names the same database as "
                             f"'{seen[key]}' ({' '.join(k for k in key if k)}); each target "
                             "is a database of its own"))
        seen.setdefault(key, target.name)
    return problems


def _environment_problems(place: str, target: Target, file: TargetsFile,
                          runbook: Runbook) -> list[tuple[str, str]]:
    envs = sorted(runbook.environments)
    chosen = target.environment or file.environment
    if chosen is None and len(envs) > 1:
        return [(place, f"the runbook declares {len(envs)} environments ({', '.join(envs)}); "
                 "name the one targets take with `environment = \"NAME\"` (the file's, or "
                 "the target's)")]
    if chosen is not None and chosen not in runbook.environments:
        declared = f"; it declares: {', '.join(envs)}" if envs else "; it declares none"
        return [(f"{place}.environment" if target.environment else "environment",
                 f"'{chosen}': no such environment in runbook '{runbook.id}'{declared}")]
    return []


def _dsn_problems(place: str, target: Target, runbook: Runbook) -> list[tuple[str, str]]:
    items = runbook.setup.items if runbook.setup else []
    dsns = {i.name for i in items if i.kind == "env"}
    problems = [(f"{place}.dsn_env.{var}", f"the runbook has no `env` item named {var}; it "
                 f"names: {', '.join(sorted(dsns)) or 'none'}")
                for var in target.dsn_env if var not in dsns]
    if (target.database or target.host) and not dsns:
        problems.append((place, "the runbook's setup has no `env` item for its database or "
                         "host to apply to"))
    return problems


def _window_problems(place: str, window: Window | None) -> list[tuple[str, str]]:
    if window is None:
        return []
    problems = [(f"{place}.window.{key}", "give the time zone (e.g. 2026-12-06T20:00:00Z)")
                for key in ("opens", "closes")
                if (moment := getattr(window, key)) is not None and moment.utcoffset() is None]
    if not problems and window.opens and window.closes and window.closes <= window.opens:
        problems.append((f"{place}.window", "`closes` is not after `opens`"))
    return problems


def _waves(file: TargetsFile) -> tuple[tuple[PlannedWave, ...], list[tuple[str, str]]]:
    """Each wave's targets in the file's order: a canary by name, then batches."""
    order = [t.name for t in file.targets]
    left = list(order)
    total = len(order)
    waves: list[PlannedWave] = []
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, wave in enumerate(file.waves):
        place = f"waves[{index}] ({wave.name})"
        given = [bool(wave.targets), wave.count is not None, wave.percent is not None,
                 wave.rest]
        if sum(given) != 1:
            problems.append((place, "give exactly one of `targets` (names), `count`, "
                             "`percent` or `rest = true`"))
            continue
        if wave.name in seen:
            problems.append((place, f"'{wave.name}' names another wave too"))
        seen.add(wave.name)
        if wave.targets:
            chosen = []
            for name in wave.targets:
                if name not in order:
                    problems.append((place, f"targets: '{name}' is no target of the file"))
                elif name not in left:
                    problems.append((place, f"targets: '{name}' is in an earlier wave"))
                else:
                    chosen.append(name)
        else:
            size = (len(left) if wave.rest else wave.count if wave.count is not None
                    else math.ceil(total * (wave.percent or 0) / 100))
            if size > len(left):
                problems.append((place, f"asks for {size} targets; {len(left)} are left"))
            chosen = [n for n in left if n not in {t for w in file.waves for t in w.targets}
                      ][:size]
            if not chosen:
                problems.append((place, "has no target left to take"))
        left = [n for n in left if n not in chosen]
        waves.append(PlannedWave(wave.name, tuple(chosen), wave.parallel or file.fleet.parallel))
    if left and not problems:
        problems.append(("waves", f"{len(left)} target(s) are in no wave ({', '.join(left[:5])}"
                         f"{' …' if len(left) > 5 else ''}); add a last wave with rest = true"))
    return tuple(waves), problems
