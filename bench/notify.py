"""What notifications cost a cutover, through the real cockpit, headless.

The same runbook (two phases, three steps of 0.4 s) run in rounds: without notifications,
with a webhook that refuses connections, with one that answers 500 to its first 5
attempts, and with four destinations that answer at once (webhook, Slack, Teams, a
command). Per run, from the session's events: the run's time (its first event to the
decision) and each step's (start to end). Medians over five rounds, each kind's runs
interleaved; the last line is one JSON object.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cockpit.session.store import read_event_log
from tests.notify.servers import Behaviour, refused_port, webhook
from tests.notify.worlds import TOKEN, notify_table, notify_world, url
from tests.run import COCKPIT

ROUNDS = 5
STEPS = [("one", "sleep 0.4; echo one"), ("two", "sleep 0.4; echo two")]
FAST = {"first_delay": "100ms", "cap": "300ms"}


def _at(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _run(folder: Path, tables: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(run seconds, slowest step seconds, notice events) of one headless run."""
    runbook = notify_world(folder, tables, steps=STEPS, second=[("three", "sleep 0.4")])
    session = folder / "s"
    subprocess.run([*COCKPIT, "run", str(runbook), "--headless", "--assume-yes",
                    "--session", str(session)], env={**os.environ, **env},
                   capture_output=True, check=True)
    events = read_event_log(session / "events.jsonl").events
    started = {e.data["run"]: _at(e.ts) for e in events if e.type == "step_started"}
    steps = [_at(e.data["ended_at"]) - started[e.data["run"]]
             for e in events if e.type == "step_finished"]
    decided = next(e for e in events if e.type == "decision_recorded")
    return (_at(decided.ts) - _at(events[0].ts), max(steps),
            sum(e.type == "notice_sent" for e in events))


def main() -> None:
    figures: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp, webhook() as (good, _seen):
        for round_ in range(ROUNDS):
            with webhook(Behaviour(fail_first=5)) as (flaky, _s):
                kinds = {
                    "none": ([], {}),
                    "refused": ([notify_table("down", "webhook", url_env="HOOK_URL", **FAST)],
                                {"HOOK_URL": f"http://127.0.0.1:{refused_port()}/h/{TOKEN}"}),
                    "500x5": ([notify_table("flaky", "webhook", url_env="HOOK_URL",
                                            attempts=10, **FAST)],
                              {"HOOK_URL": url(flaky, "hook")}),
                    "four": ([notify_table("hook", "webhook", url_env="HOOK_URL"),
                              notify_table("slack", "slack", url_env="SLACK_URL"),
                              notify_table("teams", "teams", url_env="TEAMS_URL"),
                              notify_table("cmd", "command", command="cat > /dev/null")],
                             {"HOOK_URL": url(good, "hook"), "SLACK_URL": url(good, "slack"),
                              "TEAMS_URL": url(good, "teams")}),
                }
                for name, (tables, env) in kinds.items():
                    run, step, sent = _run(Path(tmp) / f"{name}-{round_}", tables, env)
                    got = figures.setdefault(name, {"run_s": [], "slowest_step_s": [],
                                                    "notices": []})
                    got["run_s"].append(run)
                    got["slowest_step_s"].append(step)
                    got["notices"].append(sent)
    base = statistics.median(figures["none"]["run_s"])
    result: dict[str, object] = {"rounds": ROUNDS}
    for name, got in figures.items():
        run = statistics.median(got["run_s"])
        step = statistics.median(got["slowest_step_s"])
        print(f"{name:8} run {run:.3f} s ({(run / base - 1) * 100:+.1f} %), slowest step "
              f"{step:.3f} s, {statistics.median(got['notices']):.0f} notice events")
        result[name] = {"run_s": round(run, 3), "vs_none_pct": round((run / base - 1) * 100, 1),
                        "slowest_step_s": round(step, 3),
                        "notices": statistics.median(got["notices"])}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
