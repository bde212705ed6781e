"""Which events are moments, and what each one's message says first — read from the events
alone (a pure function: the same after any crash)."""

from __future__ import annotations

from typing import Any

from cockpit.runbook.loader import load_runbook
from cockpit.session import records
from cockpit.session.events import Actor, Event
from cockpit.session.moments import all_moments
from tests.notify.worlds import notify_world

ACTOR = Actor(name="op", host="h")


def _events(*made: records.Record) -> list[Event]:
    found = [records.SessionStarted(session_id="S", runbook_path="r", runbook_id="rb",
                                    title="t", production=False, runbook_sha256="0" * 64,
                                    transcript_sha256="0" * 64, workdir="/w", pid=1), *made]
    return [Event(seq=i + 1, ts=f"2026-12-06T10:00:{i:02d}.000Z", actor=ACTOR,
                  type=r.KIND, data=r.data(), prev="", hash="") for i, r in enumerate(found)]


def _said(tmp_path: Any, *made: records.Record) -> list[tuple[str, str, str]]:
    runbook = load_runbook(notify_world(tmp_path, []))
    return [(m.id, m.kind, m.title) for m in all_moments(runbook, _events(*made))]


def test_a_verdict_is_told_when_it_changes(tmp_path: Any) -> None:
    said = _said(tmp_path,
                 records.GatesChecked(go=False, open=["signoff", "freeze"]),
                 records.GatesChecked(go=False, open=["signoff", "freeze"]),  # the same
                 records.GatesChecked(go=False, open=["signoff"]),
                 records.GatesChecked(go=True), records.GatesChecked(go=True))
    assert said == [("S#2", "gates", "NO-GO: 2 open after a check: signoff, freeze"),
                    ("S#4", "gates", "NO-GO: 1 open after a check: signoff"),
                    ("S#5", "gates", "GO: every hard gate passed")]


STARTED = records.StepStarted.model_validate(
    {"step": "hello", "phase": "P0", "run": "hello.1", "command": "echo hello",
     "log": "steps/hello.1.log"})


def test_behind_retry_and_halt(tmp_path: Any) -> None:
    said = _said(
        tmp_path, STARTED,
        records.DriftNoted(kind="step_slow", step="hello", run="hello.1", running_s=61.0,
                           rehearsed_s=20.0),
        records.DriftNoted(kind="forecast_late", forecast_end="2026-12-06T12:10:00Z",
                           window_end="2026-12-06T12:00:00Z"),
        records.RetryScheduled(step="hello", run="hello.1", attempt=2, of=3, delay_s=1.0,
                               due_at="2026-12-06T10:00:09Z", why="lock timeout",
                               blocker="pid 7 (billing-worker)"),
        records.Halted(reason="abort rule 'lock-queue' matched in step up; 3 sessions wait",
                       by="abort", step="up", rule="lock-queue",
                       line="lock queue: 3 sessions waiting behind the step's locks"))
    assert [k for _i, k, _t in said] == ["phase", "behind", "behind", "retry", "halted"]
    said = said[1:]
    assert said[0][2] == "BEHIND: step hello has run 61 s, over twice its rehearsed 20 s"
    assert "2026-12-06T12:10:00Z is past" in said[1][2]
    assert said[2][2].startswith("RETRY: step hello failed on a lock timeout; attempt 2 of 3")
    assert said[3][2] == ("HALTED at step up by rule lock-queue: lock queue: 3 sessions "
                          "waiting behind the step's locks")


def test_phases_start_and_finish_once(tmp_path: Any) -> None:
    finished = records.StepFinished.model_validate(
        {"step": "hello", "run": "hello.1", "exit_code": 0, "ok": True, "bytes": 6,
         "lines": 1, "sha256": "0" * 64, "ended_at": "2026-12-06T10:00:09Z"})
    said = _said(tmp_path, STARTED, finished)
    assert [(i, t) for i, _k, t in said] == [("S#2", "PHASE P0 started: Phase P0"),
                                             ("S#3", "PHASE P0 finished: Phase P0")]
