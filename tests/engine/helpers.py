"""Runbooks of ordinary shell commands, and ways to run the real `cockpit` on them."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql

from tests.conftest import REPO
from tests.run import cockpit as cockpit  # re-exported: many tests import it from here

HEAD = """
format = 1
id = "shell-rehearsal"
title = "Shell rehearsal"
production = {production}

[gates]
heading = "Gates"
items = [
  {{ kind = "attestation", id = "signoff", text = "Sign-off received" }},
  {{ kind = "attestation_file", id = "freeze", text = "Freeze attested (`freeze.log`)", path = "freeze.log" }},
]
"""

TAIL = """
[halt]
heading = "Halt-and-Contain"
items = [
  { kind = "halt", id = "h-stop", action = "stop", text = "Stop execution immediately" },
  { kind = "halt", id = "h-preserve", action = "preserve", text = "Preserve all logs" },
  { kind = "halt", id = "h-blocker", action = "record_blocker", text = "Record blocker + root cause" },
  { kind = "halt", id = "h-escalate", action = "escalate", text = "Escalate to governance" },
  { kind = "halt", id = "h-no-more", action = "no_further_commands", text = "Do not continue" },
]

[decision]
heading = "Decision"
items = [
  { kind = "field", id = "status", label = "Status", allowed = ["PASS", "BLOCKER"], role = "status" },
  { kind = "field", id = "errors", label = "Errors", role = "errors" },
  { kind = "field", id = "root_cause", label = "Root-cause classification", role = "root_cause" },
]

[[abort_rules]]
id = "duplicate-table"
label = "`DuplicateTable`"
patterns = ['\\bDuplicateTable\\b', 'relation "[^"]+" already exists']
"""

# A `lock_queue` abort rule: the step is stopped once more than 2 sessions queue behind its
# locks in 2 samples running.
LOCK_QUEUE_RULE = """
[[abort_rules]]
id = "lock-queue"
label = "Sessions queue behind the migration's locks"
kind = "lock_queue"
max_waiting = 2
samples = 2
"""


def _queue_behind(conninfo: str, table: str, stop: threading.Event) -> None:
    """An application's session reading `table`: it waits behind a step's lock on it (until
    the lock goes), then idles until `stop`."""
    with psycopg.connect(conninfo, application_name="app", autocommit=True) as conn:
        with contextlib.suppress(psycopg.Error):
            conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        stop.wait(60)


@contextlib.contextmanager
def sessions_queued(conninfo: str, table: str, count: int = 3) -> Iterator[None]:
    """`count` application sessions queued behind a step's lock on `table` while the block
    runs; let go and ended after it."""
    stop = threading.Event()
    queue = [threading.Thread(target=_queue_behind, args=(conninfo, table, stop), daemon=True)
             for _ in range(count)]
    for thread in queue:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in queue:
            thread.join(10)


# Each step appends its id to ran.txt, so a test can count how often each one ran.
ORDINARY = [
    ("hello", "echo hello; echo hello >> ran.txt"),
    ("count", "for i in 1 2 3; do echo tick $i; sleep 0.1; done; echo count >> ran.txt"),
    ("last", "echo last >> ran.txt; echo done"),
]


def phase(phase_id: str, steps: list[tuple[str, str]], extra: str = "",
          confirm: str | None = None, read_only: bool = False) -> str:
    """A phase of command steps; `confirm`: the word each asks for, or `read_only` (a
    production runbook needs one or the other on every command)."""
    lines = [f'[[phases]]\nid = "{phase_id}"\nheading = "Phase {phase_id}"\nsteps = [']
    asked = f', confirm = "{confirm}"' if confirm else ", read_only = true" if read_only else ""
    for step_id, command in steps:
        escaped = command.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'  {{ kind = "command", id = "{step_id}", command = "{escaped}", '
                     f'log = "logs/{step_id}.log"{asked} }},')
    if extra:
        lines.append(extra)
    lines.append("]")
    return "\n".join(lines) + "\n"


def write_world(tmp_path: Path, phases: list[str], production: bool = False) -> Path:
    """A working directory with the freeze attestation, and the runbook in it."""
    world = tmp_path / "world"
    world.mkdir()
    (world / "freeze.log").write_text("write freeze in force\n")
    text = HEAD.format(production=str(production).lower()) + "\n".join(phases) + TAIL
    path = world / "runbook.toml"
    path.write_text(text)
    return path


def ordinary_world(tmp_path: Path, steps: list[tuple[str, str]] | None = None) -> Path:
    return write_world(tmp_path, [phase("P0", steps or ORDINARY)])


def ran(world: Path) -> list[str]:
    path = world / "ran.txt"
    return path.read_text().split() if path.exists() else []


# A step that tries to drive its reader's terminal (issue #26, invariant 11): OSC 2 (the
# window's title), OSC 52 (the clipboard), cursor-up + erase-line over an error, a clear
# screen before a fake verdict, a raw C1 CSI byte (0x9B, not UTF-8), BEL, backspace, a lone
# CR mid-line, a bidi override; its last line trips an abort rule, so the halt, the exit
# record's `last_line` and the decision's errors quote it too.
HOSTILE_OUTPUT = (b"\x1b]2;PWNED-TITLE\x07\x1b]52;c;UFdORUQ=\x07title and clipboard\n"
                  b"ERROR: migration 0021 failed\n"
                  b"\x1b[1A\x1b[2K\x1b[2J*** DECISION: PASS ***\n"
                  b"\x9b2J raw C1, bell\x07, back\x08space, abc\rXYZ, \xe2\x80\xaeRLO\n"
                  b"DuplicateTable \x1b]2;PWNED-LAST\x07\x1b[2K\n")
# ...and each of its lines as every channel must show it: caret text, nothing obeyed
HOSTILE_SHOWN = ["^[]2;PWNED-TITLE^G^[]52;c;UFdORUQ=^Gtitle and clipboard",
                 "ERROR: migration 0021 failed",
                 "^[[1A^[[2K^[[2J*** DECISION: PASS ***",
                 "^[[2J raw C1, bell^G, back^Hspace, abc^MXYZ, <U+202E>RLO",
                 "DuplicateTable ^[]2;PWNED-LAST^G^[[2K"]
HOSTILE_WATCH = ('  { kind = "abort_watch", id = "watch", text = "Abort on any of:", '
                 'rules = ["duplicate-table"] },')
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


def printf_command(data: bytes) -> str:
    """A shell command printing exactly `data` (every byte but plain ASCII in octal)."""
    plain = set(range(0x20, 0x7F)) - set(b"'\\%")
    return "printf '" + "".join(chr(b) if b in plain else f"\\{b:03o}" for b in data) + "'"


def hostile_world(tmp_path: Path, first: str = "") -> Path:
    """A runbook whose one step, `hostile`, prints HOSTILE_OUTPUT (after `first`, a command
    of its own that prints nothing)."""
    command = f"{first}; {printf_command(HOSTILE_OUTPUT)}" if first else \
        printf_command(HOSTILE_OUTPUT)
    return write_world(tmp_path, [phase("P0", [("hostile", command)], HOSTILE_WATCH)])


def run_hostile(tmp_path: Path) -> tuple[subprocess.CompletedProcess[bytes], Path]:
    """The hostile step run headless to its halt: the run (stdout as bytes) and its session,
    whose log holds the bytes exactly as printed (invariant 4)."""
    session = tmp_path / "s"
    done = cockpit("run", str(hostile_world(tmp_path)), "--headless", "--assume-yes",
                   "--session", str(session), text=False)
    assert done.returncode == 2, done.stdout + done.stderr  # the abort rule halted it
    printed = hashlib.sha256(HOSTILE_OUTPUT).hexdigest()
    assert hashlib.sha256((session / "steps" / "hostile.1.log").read_bytes()).hexdigest() \
        == printed
    record = json.loads((session / "steps" / "hostile.1.exit.json").read_text())
    assert record["sha256"] == printed and record["abort"]["rule"] == "duplicate-table"
    return done, session


def assert_inert(shown: bytes, where: str) -> str:
    """What a person is shown holds no control byte but TAB and LF, is UTF-8 without a C1
    control or a bidi override, and shows each of the hostile lines as caret text."""
    bad = sorted({b for b in shown if (b < 0x20 and b not in b"\t\n") or b == 0x7F})
    assert not bad, f"{where}: control bytes {[hex(b) for b in bad]} reach the reader"
    text = shown.decode("utf-8")  # strict: a raw 0x9B byte fails here
    odd = sorted({f"U+{ord(c):04X}" for c in text if 0x80 <= ord(c) < 0xA0 or c in _BIDI})
    assert not odd, f"{where}: {odd} reach the reader"
    return text


@contextlib.contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """`folder` made a file system of its own, `size` big (`1m`): a disk that fills up."""
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                   check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


# Holds a session's lock, as a live cockpit would, until killed.
HOLD = """
import sys, time
from pathlib import Path
from cockpit.session.lock import SessionLock
lock = SessionLock.acquire(Path(sys.argv[1]), take_over=True)
print("held", flush=True)
time.sleep(60)
"""


def lock_holder(session: Path) -> subprocess.Popen[str]:
    """Another process that holds `session`'s lock (kill it to let the lock go)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(session)], stdout=subprocess.PIPE,
                            text=True, cwd=REPO)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def lock_free(session: Path) -> bool:
    """Whether nothing holds `session`'s lock now (tried, and let go at once)."""
    import fcntl

    fd = os.open(session / "lock", os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True
