"""Headless prints the lock radar's line — the text the operator's screen shows — while a
step runs, once each time what it says changes (the queue, what the step waits on, its
progress), not once per sample."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cockpit.session.radarview import RadarNews, radar_text


def _sample(waiting: int, oldest: float, **more: Any) -> dict[str, Any]:
    sessions = [{"pid": 1, "wait_event_type": "Lock" if waiting else None,
                 "wait_event": "relation" if waiting else None}]
    return {"at": "2026-12-05T09:00:00Z", "waiting": waiting, "oldest_wait_s": oldest,
            "sessions": sessions, **more}


def _add(path: Path, sample: dict[str, Any]) -> None:
    with open(path, "a") as handle:
        handle.write(json.dumps(sample) + "\n")


def test_the_radar_line_is_printed_when_what_it_says_changes(tmp_path: Path) -> None:
    path = tmp_path / "radar.jsonl"
    news = RadarNews()
    assert news.news(path) is None  # no radar yet
    _add(path, _sample(0, 0.0))
    first = news.news(path)
    assert first == radar_text(path) and first is not None
    assert "0 waiting behind" in first
    assert news.news(path) is None  # nothing new written
    _add(path, _sample(0, 0.0))
    assert news.news(path) is None  # a new sample saying the same
    _add(path, _sample(3, 1.2))
    queued = news.news(path)
    assert queued is not None and "3 waiting behind, oldest 1.2 s" in queued
    assert "waits on Lock/relation" in queued and queued == radar_text(path)
    _add(path, _sample(3, 2.7))
    assert news.news(path) is None  # only the wait grew older
    _add(path, _sample(4, 3.1, blockers=[4242]))
    assert "4 waiting behind" in (news.news(path) or "")
    _add(path, {"at": "2026-12-05T09:00:05Z", "error": "the server closed the connection"})
    assert news.news(path) == "radar: cannot look (the server closed the connection)"
    assert news.news(None) is None  # the step ended
