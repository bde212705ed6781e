"""Drives the real `cockpit demo` in tmux, as a person would: keys in, screen out.

Starts `uv run cockpit demo` in a 120x40 tmux session, attests the gates, checks them, runs
every step (typing the confirmation word where a step changes the database), seals the
evidence, saves the decision, and prints the final screen. It reads the session's event log
only to know when the cockpit is ready for the next key. Last line: one JSON object.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SESSION = "cockpit-demo-tmux"
ANSWERS = ["GOV-TMUX-1", "CHG-TMUX-1", "clone-pass"]


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def keys(*names: str) -> None:
    tmux("send-keys", "-t", SESSION, *names)


def screen() -> str:
    return tmux("capture-pane", "-p", "-t", SESSION)


def events(folder: Path) -> list[dict]:
    path = folder / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def wait_for(predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out; the screen:\n{screen()}")
        time.sleep(0.1)


def press_until(key: str, condition, tries: int = 20) -> None:
    """Press `key` until `condition` holds: a key pressed while the cockpit is still busy
    with the last verb is ignored on purpose, so a person (or this script) presses again."""
    for _ in range(tries):
        keys(key)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.05)
    raise SystemExit(f"{key!r} never took effect; the screen:\n{screen()}")


def main() -> None:
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is not installed (apt-get install tmux)")
    base = Path(tempfile.mkdtemp(prefix="cockpit-tmux-"))
    folder = base / "session"
    subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
    tmux("new-session", "-d", "-s", SESSION, "-x", "120", "-y", "40", "-c", str(REPO),
         f"uv run cockpit demo --session {folder}; sleep 30")
    started = time.monotonic()
    wait_for(lambda: "NO-GO" in screen())
    for answer in ANSWERS:
        count = len(events(folder))
        wait_for(lambda: "Enter to confirm" not in screen())  # the last dialog is gone
        press_until("a", lambda: "Enter to confirm" in screen())
        keys(answer, "Enter")
        wait_for(lambda c=count: len(events(folder)) > c)
    press_until("g", lambda: "● GO" in screen())
    runbook_confirm = {"prod_alembic_width_correction": "64",
                       "prod_stamp_anchor": "0019_nav_snapshots_and_investor_statements",
                       "prod_upgrade_0019_to_head": "70a79686336c"}
    while "Seal evidence" not in screen():  # offered once every phase is complete
        if any(e["type"] == "halted" for e in events(folder)):
            raise SystemExit(f"halted:\n{screen()}")
        count = len(events(folder))
        wait_for(lambda: "Enter to confirm" not in screen())
        press_until("r", lambda c=count: len(events(folder)) > c or "Enter to confirm"
                    in screen() or "Seal evidence" in screen())
        text = screen()
        if "Seal evidence" in text:
            break
        step = next((s for s in runbook_confirm if f"Run {s}?" in text), None)
        if step is not None:
            keys(runbook_confirm[step], "Enter")
        wait_for(lambda c=count: len(events(folder)) > c)
        wait_for(lambda: events(folder)[-1]["type"] != "step_started")
    press_until("s", lambda: any(e["type"] == "evidence_sealed" for e in events(folder)))
    press_until("d", lambda: "Final decision record" in screen())
    keys("C-s")
    wait_for(lambda: any(e["type"] == "decision_recorded" for e in events(folder)))
    time.sleep(1.0)
    final = screen()
    seconds = time.monotonic() - started
    keys("q")
    decision = next(e for e in events(folder) if e["type"] == "decision_recorded")
    print(final)
    print(json.dumps({"status": decision["data"]["status"], "seconds": round(seconds, 1),
                      "session": str(folder)}))
    sys.exit(0 if decision["data"]["status"] == "PASS" else 1)


if __name__ == "__main__":
    main()
