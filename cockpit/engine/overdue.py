"""A step's `timeout` enforced from outside its supervisor, so that a supervisor stopped
(SIGSTOP), hung or gone cannot let its step run on: the cockpit following the step, once the
deadline and a grace have passed with no exit record, stops the supervisor and the step's
process group and writes the run's exit record in the supervisor's place — from the log as
it stands, the abort the timeout rule's."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from cockpit.engine import procgroup
from cockpit.engine.launcher import find_supervisor
from cockpit.engine.linestats import LineStats
from cockpit.engine.supervisor import (
    MATCHED_LINE_LIMIT,
    empty_log,
    utc_now,
    write_json_atomic,
)
from cockpit.session.runfiles import RunFiles
from cockpit.session.runrecords import ExitRecord, RunSpec

# A supervisor at work gets the time it may take to end the run itself and write its record
# (its stop: SIGINT, TERM, KILL 5 s apart; or, the command ended just in time, the 2 s its
# output may trail and what it left behind: TERM, KILL 10 s later); one that is stopped,
# or gone, never will.
WORKING_GRACE_S = 30.0
STUCK_GRACE_S = 2.0
# How the cockpit stops the step's group: as the supervisor does, with shorter waits — the
# step is past its timeout and its grace already.
PLAN = [(signal.SIGINT, 2.0), (signal.SIGTERM, 2.0), (getattr(signal, "SIGKILL", 15), 5.0)]


def past_deadline(files: RunFiles, recorded: str, now: datetime, limit_s: float) -> float:
    """Seconds since the step's deadline (negative before it): from when its command started
    (its supervisor's run record), or — while that is far off — from the cockpit's record
    of the step's start, a moment earlier, without reading a file."""
    past = (now - _parsed(recorded)).total_seconds() - limit_s
    if past < STUCK_GRACE_S:
        return past
    try:
        started = json.loads(files.started.read_text(encoding="utf-8"))["started_at"]
        return (now - _parsed(started)).total_seconds() - limit_s
    except (OSError, ValueError, KeyError, TypeError):
        return past


def _parsed(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def supervisor_state(files: RunFiles) -> tuple[psutil.Process | None, str]:
    """The run's supervisor and, in words, why it will not enforce the timeout itself
    ("" when it is at work and may yet)."""
    proc = find_supervisor(files)
    if proc is None:
        return None, "was gone"
    try:
        status = proc.status()
    except psutil.Error:
        return None, "was gone"
    if status in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP):
        return proc, f"(pid {proc.pid}) was stopped"
    return proc, ""


def grace_over(files: RunFiles, past_s: float) -> tuple[bool, str]:
    """Whether the cockpit steps in, `past_s` seconds after the deadline; and why."""
    if past_s < STUCK_GRACE_S:
        return False, ""
    proc, why = supervisor_state(files)
    if why:
        return True, why
    if past_s < WORKING_GRACE_S:
        return False, ""
    return True, f"(pid {proc.pid if proc else '?'}) had not stopped it {past_s:.0f} s after"


def stop_overdue(files: RunFiles, timeout_text: str, rule: str, why: str) -> ExitRecord | None:
    """Stop the run's supervisor and its command's process group, and write the exit record
    in the supervisor's place; None if the supervisor wrote its own first."""
    proc = find_supervisor(files)
    groups = _groups(files, proc)
    if proc is not None:
        try:
            proc.kill()  # a stopped process dies of SIGKILL too
            proc.wait(5)
        except psutil.Error:
            pass
    if files.exit_record() is not None:  # written just before it died: its word stands
        return None
    signalled = _stop(groups)
    line = (f"no end within {timeout_text} (the step's timeout); its supervisor {why}: the "
            "cockpit stopped the step and its supervisor")
    record = ExitRecord.of(
        **_from_log(files.log), **_started(files), published=_published(files),
        run=files.run, log=str(files.log), exit_code=None,
        abort={"rule": rule, "line": line, "at": utc_now()}, ended_at=utc_now(),
        signalled=signalled, ended_by="cockpit",
        supervisor_pid=proc.pid if proc is not None else None)
    write_json_atomic(files.record, record.to_json())
    return record


def _stop(groups: set[int]) -> list[str]:
    """Each process group as the supervisor would have stopped it; the signals sent."""
    if os.name == "nt":
        return _stop_trees(groups)
    signalled: list[str] = []
    for group in sorted(groups):
        signalled += [s for s in procgroup.stop_group(group, PLAN) if s not in signalled]
    return signalled


def _stop_trees(pids: set[int]) -> list[str]:
    """Windows has no process group to signal: the child and all it started are killed."""
    procs: list[psutil.Process] = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            procs += [proc, *proc.children(recursive=True)]
        except psutil.Error:
            continue
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(procs, timeout=5)
    return ["SIGKILL"] if procs else []


def _groups(files: RunFiles, proc: psutil.Process | None) -> set[int]:
    """The process groups of the step's command: its child's (it leads its own), and those
    of whatever the supervisor has running (before its run record said)."""
    groups = set()
    try:
        child = json.loads(files.started.read_text(encoding="utf-8")).get("child_pid")
        if isinstance(child, int):
            groups.add(child)
    except (OSError, ValueError):
        pass
    if proc is not None:
        try:
            for each in proc.children(recursive=True):
                try:  # Windows: the child's pid stands for its tree
                    groups.add(os.getpgid(each.pid) if os.name != "nt" else each.pid)
                except OSError:
                    continue
        except psutil.Error:
            pass
    return groups


def _started(files: RunFiles) -> dict[str, Any]:
    try:
        started = json.loads(files.started.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"step": files.run.rsplit(".", 1)[0], "started_at": None, "child_pid": None}
    return {key: started.get(key) for key in ("step", "started_at", "child_pid")}


def _from_log(log: Path) -> dict[str, Any]:
    """The log as it stands — the evidence — counted as the supervisor counts it."""
    sha, size, stats = hashlib.sha256(), 0, LineStats(MATCHED_LINE_LIMIT)
    try:
        with open(log, "rb") as handle:
            while chunk := handle.read(1 << 20):
                sha.update(chunk)
                size += len(chunk)
                stats.take(chunk)
    except FileNotFoundError:  # stopped before it opened its log: an empty one is the truth
        empty_log(log)
    return {"bytes": size, "lines": stats.lines, "sha256": sha.hexdigest(),
            "last_line": stats.last_line.decode("utf-8", errors="replace"),
            "publish_error": None}


def _published(files: RunFiles) -> str | None:
    try:
        published = RunSpec.read(files.spec).publish
    except (OSError, ValueError):
        return None
    return published if isinstance(published, str) else None
