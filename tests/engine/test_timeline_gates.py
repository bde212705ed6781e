"""The HTML timeline draws a gate's evaluation over the time it took (the risk gate's 21 s
is a bar, not a point), from the seconds the engine records with each probe gate."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cockpit.evidence.timeline import LABELS, WIDTH, timeline_svg
from cockpit.runbook.loader import load_runbook
from cockpit.session import events as ev
from cockpit.session.events import GENESIS, Actor, Event, make_event
from tests.engine.helpers import cockpit, phase, write_world

ACTOR = Actor(name="op", host="h")
START = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def _events(*timed: tuple[float, str, dict[str, object]]) -> list[Event]:
    found: list[Event] = []
    for seconds, type_, data in timed:
        prev = found[-1].hash if found else GENESIS
        found.append(make_event(len(found) + 1, ACTOR, type_, data, prev,
                                now=START + timedelta(seconds=seconds)))
    return found


def test_a_gate_that_took_21_seconds_is_a_bar_of_21_seconds(tmp_path: Path) -> None:
    runbook = load_runbook(write_world(tmp_path, [phase("P0", [("hello", "echo hello")])]))
    events = _events((0, ev.SESSION_STARTED, {}),
                     (30, ev.GATE_EVALUATED, {"gate": "risk", "ok": True, "seconds": 21.0}),
                     (31, ev.GATE_ATTESTED, {"gate": "signoff", "reference": "r"}),
                     (100, ev.MANUAL_CONFIRMED, {"step": "x"}))
    svg = timeline_svg(runbook, events, tmp_path)
    scale = (WIDTH - LABELS - 20) / 100
    bar = re.search(r'<g class="gate" data-gate="risk"[^>]*>.*?</g>', svg, re.S)
    assert bar is not None, svg
    rect = re.search(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', bar[0])
    assert rect is not None, bar[0]
    assert float(rect[1]) == round(LABELS + 9 * scale, 1)  # from 30 - 21 s
    assert abs(float(rect[2]) - 21 * scale) < 0.2
    assert "risk: passed in 21.0 s" in bar[0]
    # an attestation is a person's moment: still a point
    assert '<path class="gate" data-gate="signoff"' in svg


def test_a_probe_gate_records_the_seconds_its_probe_took(tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", [("hello", "echo hello")])])
    gate = ('  { kind = "probe", id = "pinned", text = "Commit pinned at `abc123`", '
            'probe = "git.commit_matches", expected = "abc123" },\n')
    freeze = 'path = "freeze.log" },\n'
    runbook.write_text(runbook.read_text().replace(freeze, freeze + gate, 1))
    done = cockpit("run", str(runbook), "--headless", "--assume-yes",
                   "--session", str(tmp_path / "s"))
    assert done.returncode == 2, done.stdout + done.stderr  # a failed gate: NO-GO
    events = [json.loads(line) for line in
              (tmp_path / "s" / "events.jsonl").read_text().splitlines()]
    found = next(e["data"] for e in events
                 if e["type"] == ev.GATE_EVALUATED and e["data"]["gate"] == "pinned")
    assert isinstance(found["seconds"], float) and 0 <= found["seconds"] < 60
