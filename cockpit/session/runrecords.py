"""The two files a step's supervisor shares with the cockpit, typed for both sides: the spec
it runs (written by the launcher) and the exit record it leaves when the child ends (written
by the supervisor, or by the cockpit's overdue stop in its place).

Standard library only: the supervisor imports this as it starts, and pydantic (or msgspec)
there would make every step's start slower several times over. Each file is written as the
keys its writer gave, sorted and indented as before these types, so the bytes are the same
and runs written before still read; a key no field names is refused on read.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Self

from cockpit.session.replace import read_replaced

TIMEOUT_RULE = "timeout"  # the abort a step's timeout is recorded as
LOG_RULE = "log_unwritable"  # the abort a log that cannot be written is recorded as


def _dumped(data: dict[str, Any]) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True).encode("utf-8")


@dataclass(frozen=True)
class _RunFile:
    """A file of one run: written as the fields its writer gave (`given`), read back with
    each key a field of the class."""

    given: frozenset[str] = field(default=frozenset(), compare=False, repr=False, kw_only=True)

    @classmethod
    def of(cls, **values: Any) -> Self:
        """The record of exactly these keys (what a writer gives is what is written)."""
        return cls(**values, given=frozenset(values))

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str) -> Self:
        known = {f.name for f in fields(cls)} - {"given"}
        if not isinstance(data, dict) or not set(data) <= known:
            raise ValueError(f"{where}: not a {cls.__name__} (keys "
                             f"{sorted(set(data) - known) if isinstance(data, dict) else data})")
        try:
            return cls.of(**data)
        except TypeError as exc:  # a key the class needs is missing
            raise ValueError(f"{where}: not a {cls.__name__} ({exc})") from None

    def to_json(self) -> dict[str, Any]:
        values = asdict(self)
        return {key: values[key] for key in sorted(self.given)}

    def dumped(self) -> bytes:
        """The file's bytes: JSON, keys sorted, indented by two."""
        return _dumped(self.to_json())


@dataclass(frozen=True)
class RunSpec(_RunFile):
    """What the supervisor runs: the command, where, its log (and published copy), the abort
    rules it scans for, how it stops, and the run's other files. No secret: those go by
    environment."""

    step: str
    command: str
    cwd: str
    log: str
    run: str
    record: str  # the exit record's path
    started: str  # the run record's (pids), written once the child is started
    claim: str | None = None
    stop_request: str | None = None  # the radar watcher's request to stop
    operator_stop: str | None = None  # Windows: the cockpit's request to stop (POSIX: TERM)
    publish: str | None = None  # the runbook's log path: the same bytes, published
    publish_root: str | None = None  # the folder `publish` must lie in (default: cwd)
    rules: list[dict[str, Any]] = field(default_factory=list)  # pattern abort rules
    grace: float = 5.0  # seconds between SIGINT, SIGTERM and SIGKILL
    timeout: float | None = None
    timeout_text: str | None = None
    timeout_rule: str = TIMEOUT_RULE
    log_rule: str = LOG_RULE

    @classmethod
    def read(cls, path: Path) -> RunSpec:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")), str(path))


@dataclass(frozen=True)
class ExitRecord(_RunFile):
    """How a run ended: its exit code, the abort rule that stopped it, the log's byte and
    line counts and sha256, the times and pids. The supervisor writes all of it; a run
    stopped before its command started adds `not_run`; one the cockpit stopped in its
    supervisor's place (overdue) says `ended_by`."""

    run: str
    log: str
    exit_code: int | None
    bytes: int
    lines: int
    sha256: str
    ended_at: str
    step: str | None = None
    published: str | None = None
    publish_error: str | None = None  # the published copy could not be written
    abort: dict[str, Any] | None = None  # rule, line, at
    started_at: str | None = None
    child_pid: int | None = None
    supervisor_pid: int | None = None
    signalled: list[str] = field(default_factory=list)  # sent to the child's group, in order
    last_line: str | None = None
    log_error: str | None = None  # why the log could not be written
    unwritten: int = 0  # bytes printed that the log could not take
    leftover: list[dict[str, Any]] = field(default_factory=list)  # pid, command
    leftover_count: int = 0
    leftover_signalled: list[str] = field(default_factory=list)
    not_run: str | None = None  # why its command never started
    ended_by: str | None = None  # "cockpit": written in its supervisor's place

    @classmethod
    def read(cls, path: Path) -> ExitRecord | None:
        """The record at `path`; None while there is none."""
        try:
            text = read_replaced(path).decode("utf-8")
        except FileNotFoundError:
            return None
        return cls.from_json(json.loads(text), str(path))
