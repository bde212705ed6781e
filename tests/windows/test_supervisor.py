"""The step supervisor on this system, through the launcher as the cockpit starts it
(detached from the cockpit): a step's output streamed into its log byte for byte, an abort
rule's match, a timeout and an operator's stop each ending the step's whole process tree — the
grandchild that `cmd.exe /c python ...` starts included — with the supervisor writing the exit
record itself."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from subprocess import Popen
from types import SimpleNamespace
from typing import Any

import psutil
import pytest

from cockpit.engine.launcher import launch, stop_supervisor, write_spec
from cockpit.session.runfiles import RunFiles
from tests.waiting import wait_until
from tests.windows.kit import py

MARK = "cockpit-windows-test-sleeper"
SLEEPER = py(f"import time; print('{MARK}', flush=True); time.sleep(300)")


def _start(tmp_path: Path, command: str, **spec: Any) -> tuple[RunFiles, Popen[bytes]]:
    steps = tmp_path / "steps"
    steps.mkdir()
    files = RunFiles(steps, "step.1")
    write_spec(files, {"step": "step", "command": command, "cwd": str(tmp_path),
                       "log": str(files.log), "grace": 1.0, **spec})
    return files, launch(files, dict(os.environ), [])


def _record(started: tuple[RunFiles, Popen[bytes]], seconds: float = 60) -> dict[str, Any]:
    """The exit record, once the supervisor has written it and ended."""
    files, supervisor = started
    wait_until(files.record.exists, "the exit record (the supervisor said: "
               f"{files.err.read_text(errors='replace') if files.err.exists() else ''})",
               seconds, 0.1)
    record = dict(json.loads(files.record.read_text(encoding="utf-8")))
    supervisor.wait(timeout=30)  # the supervisor's own end
    return record


def _sleepers() -> list[int]:
    """This test's sleeping grandchildren still alive, anywhere."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(MARK in part for part in proc.info["cmdline"] or []) \
                    and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


def _until_printed(files: RunFiles) -> None:
    wait_until(lambda: files.log.exists() and MARK.encode() in files.log.read_bytes(),
               "the step started", 60, 0.1)


def _clean_end(files: RunFiles, record: dict[str, Any]) -> None:
    assert record["supervisor_pid"] and record.get("ended_by") is None, record
    assert not files.err.exists() or not files.err.read_bytes().strip(), files.err.read_text()
    wait_until(lambda: not _sleepers(), "the step's grandchild ended", 10, 0.2)


def test_output_is_streamed_into_the_log_byte_for_byte(tmp_path: Path) -> None:
    started = _start(tmp_path, py("print('one'); print('two', flush=True); print('été')"))
    files, record = started[0], _record(started)
    end = os.linesep.encode()
    assert files.log.read_bytes() == b"one" + end + b"two" + end + "été".encode() + end
    assert record["exit_code"] == 0 and record["lines"] == 3


def test_a_timeout_stops_the_whole_tree_and_the_supervisor_records_it(tmp_path: Path) -> None:
    began = time.monotonic()
    started = _start(tmp_path, SLEEPER, timeout=2.0, timeout_text="2s")
    files, record = started[0], _record(started)
    assert record["abort"]["rule"] == "timeout", record
    assert time.monotonic() - began < 25
    _clean_end(files, record)


def test_an_abort_rule_stops_the_whole_tree(tmp_path: Path) -> None:
    command = py(f"import time; print('DuplicateTable here', flush=True); print('{MARK}', "
                 "flush=True); time.sleep(300)")
    started = _start(tmp_path, command, rules=[{"id": "dup", "patterns": ["DuplicateTable"]}])
    files, record = started[0], _record(started)
    assert record["abort"]["rule"] == "dup", record
    _clean_end(files, record)


def test_the_operators_stop_reaches_the_step_through_its_supervisor(tmp_path: Path) -> None:
    started = _start(tmp_path, SLEEPER)
    files = started[0]
    _until_printed(files)
    assert stop_supervisor(files)
    record = _record(started)
    assert record["abort"] is None and record["signalled"], record  # stopped, not aborted
    _clean_end(files, record)


def test_a_step_whose_processes_cannot_be_held_in_a_job_is_not_started(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Windows' whole-tree stop needs the job: without one the supervisor says why and starts
    nothing (a stop would end `cmd.exe` and leave the migration running)."""
    from cockpit.engine import supervisor

    def no_job() -> None:
        raise OSError(5, "Access is denied")

    monkeypatch.setitem(sys.modules, "cockpit.engine.winjob", SimpleNamespace(StepJob=no_job))
    monkeypatch.setattr(supervisor, "_job", None)
    assert supervisor._join_job() is False and supervisor._job is None
    said = capsys.readouterr().err
    assert said.startswith("nothing was run: the step's processes could not be put in a job")
    assert "Access is denied" in said
