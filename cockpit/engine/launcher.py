"""Starts step supervisors detached from the cockpit, and finds them again after a crash.

The files of one run, in the session's `steps/` folder:
  <run>.log         the step's output as the session keeps it (the runbook's log path gets
                    the same bytes: a published copy)
  <run>.spec.json   what to run (no secrets: those go by environment)
  <run>.claim       taken by the supervisor before it starts the child (or voided by a
                    resume that found the run never started)
  <run>.run.json    written by the supervisor once the child is started (pids)
  <run>.exit.json   written by the supervisor when the child has ended (the exit record)
  <run>.err         the supervisor's own stderr, should it ever fail
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from cockpit.engine.supervisor import (
    CREATE_NEW_PROCESS_GROUP,
    SECRETS_ENV,
    take_claim,
    utc_now,
    write_json_atomic,
)
from cockpit.session.modes import session_opener
from cockpit.session.runfiles import RunFiles
from cockpit.session.runrecords import RunSpec

# Windows' value. CREATE_NO_WINDOW, not DETACHED_PROCESS: a console of its own, unseen — the
# operator's Ctrl+C and closed window do not reach it, and the step it starts shares it, so
# the supervisor can send the step's group Ctrl+Break (without a console: WinError 6).
CREATE_NO_WINDOW = getattr(subprocess, "CREATE_NO_WINDOW", 0x08000000)


def write_spec(files: RunFiles, spec: dict[str, Any]) -> RunSpec:
    """The supervisor's spec of this run (a key it does not know is refused: TypeError),
    with the paths of the run's files, written as given."""
    typed = RunSpec.of(**spec, run=files.run, record=str(files.record),
                       started=str(files.started), claim=str(files.claim),
                       stop_request=str(files.stop_request),
                       operator_stop=str(files.operator_stop))
    write_json_atomic(files.spec, typed.to_json())
    return typed


def void_claim(files: RunFiles, why: str) -> bool:
    """Claim a run for no one, so a supervisor arriving late starts nothing; True if it was
    still unclaimed (its child never started), False if a supervisor claimed it first."""
    return take_claim(files.claim, {"void": why})


def launch(files: RunFiles, env: dict[str, str], secrets: list[str]) -> subprocess.Popen[bytes]:
    """Start the supervisor in a session of its own: closing the terminal or killing the
    cockpit leaves it (and the migration it watches) running."""
    child_env = {**env, SECRETS_ENV: json.dumps(secrets)}
    with open(files.err, "ab", opener=session_opener) as err:
        return subprocess.Popen(
            [sys.executable, "-m", "cockpit.engine.supervisor", str(files.spec)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
            env=child_env, close_fds=True, **detach_kwargs(),
        )


def launch_watcher(files: RunFiles, env: dict[str, str], secrets: list[str],
                   spec: dict[str, Any]) -> subprocess.Popen[bytes]:
    """Start the lock radar's watcher for a run, detached as its supervisor is."""
    write_json_atomic(files.radar_spec, {
        **spec, "run": files.run, "record": str(files.record), "started": str(files.started),
        "series": str(files.radar), "done": str(files.radar_done),
        "stop_request": str(files.stop_request)})
    with open(files.err, "ab", opener=session_opener) as err:
        return subprocess.Popen(
            [sys.executable, "-m", "cockpit.engine.watcher", str(files.radar_spec)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
            env={**env, SECRETS_ENV: json.dumps(secrets)}, close_fds=True, **detach_kwargs(),
        )


def last_line_said(err: Path, most: int = 300) -> str:
    """The last line a supervisor wrote to its stderr (`<run>.err`), cut to `most`
    characters; "" when it said nothing (or the file cannot be read)."""
    try:
        with open(err, "rb") as handle:
            handle.seek(max(0, os.fstat(handle.fileno()).st_size - 4096))
            tail = handle.read()
    except OSError:
        return ""
    lines = [line.strip() for line in tail.decode("utf-8", "replace").splitlines()]
    said = next((line for line in reversed(lines) if line), "")
    return said if len(said) <= most else said[:most - 1] + "…"


def detach_kwargs(os_name: str = os.name) -> dict[str, Any]:
    """Popen keywords that detach the supervisor from the cockpit's terminal and signals."""
    if os_name == "nt":
        return {"creationflags": CREATE_NO_WINDOW | CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def find_supervisor(files: RunFiles) -> psutil.Process | None:
    """The live supervisor of this run: the process its claim names, if it is still that
    supervisor (pids are reused); before the claim, one whose command line names this run's
    spec — compared as paths, so a session named by a relative path is found too."""
    claimed = _claimant(files)
    candidates: list[int | psutil.Process] = [claimed] if claimed is not None else []
    candidates += [p for p in psutil.process_iter(["cmdline"]) if p.pid != claimed]
    spec = files.spec.resolve()
    for candidate in candidates:
        try:
            proc = psutil.Process(candidate) if isinstance(candidate, int) else candidate
            cmdline = proc.cmdline()
            if not cmdline or "cockpit.engine.supervisor" not in cmdline:
                continue
            named = Path(cmdline[-1])
            if not named.is_absolute():
                named = Path(proc.cwd()) / named
            if named.resolve() == spec and proc.status() != psutil.STATUS_ZOMBIE:
                return proc
        except (psutil.NoSuchProcess, psutil.AccessDenied, OSError):
            continue
    return None


def _claimant(files: RunFiles) -> int | None:
    try:
        pid = json.loads(files.claim.read_text(encoding="utf-8")).get("supervisor_pid")
    except (FileNotFoundError, ValueError):
        return None
    return pid if isinstance(pid, int) else None


def stop_supervisor(files: RunFiles, settle: float = 3.0) -> bool:
    """Ask a running supervisor to stop its child (it escalates SIGINT -> SIGTERM -> SIGKILL).

    A supervisor that has not yet written its run record may not have its signal handlers
    yet; give it a moment, so the stop reaches the child instead of only killing it."""
    deadline = time.monotonic() + settle
    while not files.started.exists() and time.monotonic() < deadline:
        if find_supervisor(files) is None:
            return False
        time.sleep(0.02)
    proc = find_supervisor(files)
    if proc is None:
        return False
    if os.name == "nt":  # TerminateProcess would end the supervisor, not the step: ask it
        write_json_atomic(files.operator_stop, {"operator": True, "at": utc_now()})
        return True
    try:
        proc.terminate()
    except psutil.NoSuchProcess:
        return False
    return True
