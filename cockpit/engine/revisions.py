"""A `per_revision` step's command: the approved `alembic upgrade` once per revision of its
path, only the target changed, each under the step's one supervisor (so its log, abort rules
and timeout cover them all). Between revisions it stops for the operator's pause; before a
hold it stops by plan. What it did goes to a file the engine reads at the run's end:
`python -m cockpit.engine.revisions PLAN` (the plan: RunFiles.revisions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def _write(path: Path, data: dict[str, Any]) -> None:
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(temp, path)


def _say(line: str) -> None:
    print(line, flush=True)


def run(plan: dict[str, Any]) -> int:
    done: list[str] = []
    result = Path(plan["result"])
    pause = Path(plan["pause"])
    steps = plan["revisions"]
    for number, item in enumerate(steps):
        if number and pause.exists():  # asked during the last revision: stop between
            _say(f"── paused before revision {item['rev']} ({item['index']} of "
                 f"{item['of']}): it goes on when the operator continues")
            _write(result, {"done": done, "stopped_before": item["rev"], "stop": "pause"})
            return 0
        _say(f"── revision {item['rev']} ({item['index']} of {item['of']}): "
             f"{item['command']}")
        try:
            code = subprocess.call(item["command"], shell=True)
        except KeyboardInterrupt:  # the halt's SIGINT reached the whole group
            code = 130
        if code != 0:
            _write(result, {"done": done, "failed": item["rev"]})
            return code
        done.append(item["rev"])
        _write(result, {"done": done})
    held = plan.get("stop_before")
    if held:
        _say(f"── held before revision {held['rev']} ({held['index']} of {held['of']}): "
             "it goes on only on the operator's confirmation")
        _write(result, {"done": done, "stopped_before": held["rev"], "stop": "hold"})
    return 0


def main(argv: list[str]) -> int:
    try:
        plan = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    except (IndexError, OSError, ValueError) as exc:
        print(f"cockpit: the revision plan could not be read: {exc}", file=sys.stderr)
        return 2
    try:
        return run(plan)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
