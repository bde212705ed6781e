"""A long log's lines are hashed in a forked child while the parent decodes them. Run in
a fresh process (one thread: the fork is taken), the forked read agrees with the
line-by-line one: intact, altered in the middle, laid out otherwise, or cut short."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

SCRIPT = r"""
import json, os, sys, threading
from pathlib import Path
from cockpit.errors import CockpitError
from cockpit.session import store
from cockpit.session.events import GENESIS, Actor, make_event
from cockpit.session.forked import in_child

out = {}
# the helper itself: a result from another process; None when the work fails; in place
# (this process) while another thread runs
out["pid"] = [os.getpid(), in_child(lambda: str(os.getpid()))()]
out["failed"] = in_child(lambda: str(1 / 0))()
gate = threading.Event()
worker = threading.Thread(target=gate.wait)
worker.start()
out["threaded"] = in_child(lambda: str(os.getpid()))()
gate.set()
worker.join()

actor, events = Actor(name="op", host="box"), []
for seq in range(1, 15001):
    events.append(make_event(seq, actor, "gate_attested",
                             {"gate": f"g{seq % 7}", "reference": f"R{seq}"},
                             events[-1].hash if events else GENESIS))
lines = [e.line() for e in events]
path = Path(sys.argv[1])
assert sum(map(len, lines)) > store._FORK_BYTES

def read(lines):
    path.write_bytes(b"".join(lines))
    try:
        return len(store.read_event_log(path).events)
    except CockpitError as exc:
        return exc.message.replace(str(path), "LOG")

out["intact"] = read(lines)
altered = list(lines)
altered[7000] = altered[7000].replace(b'"R7001"', b'"R7002"')
out["altered"] = read(altered)
relaid = list(lines)
relaid[9000] = json.dumps(json.loads(relaid[9000])).encode() + b"\n"
out["relaid"] = read(relaid)
out["torn"] = read(lines[:-1] + [lines[-1][:40]])
print(json.dumps(out))
"""


def test_the_forked_read_agrees_with_the_line_by_line_read(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "events.jsonl")],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    parent, child = out["pid"]
    assert child is not None and int(child) != parent
    assert out["failed"] is None
    assert out["threaded"] == str(parent)
    assert out["intact"] == 15000
    assert out["altered"] == "LOG: line 7001: event 7001 was altered (its hash does not match)"
    assert out["relaid"] == 15000
    assert out["torn"] == 14999
