"""`status`, the report and the screen say the same of every item after a halt, and a dead
cockpit's lock is shown as stale; `cockpit export` writes the same bytes for the same
session, and `cockpit verify PACK` checks the pack."""

from __future__ import annotations

import gzip
import io
import json
import re
import signal
import subprocess
import tarfile
from pathlib import Path

from cockpit.runbook.validate import walk_items
from cockpit.session import rules
from cockpit.session.reader import open_session
from tests.engine.helpers import cockpit, phase, write_world
from tests.run import start_cockpit

PHASES = [phase("P0", [("a", "echo a"), ("b", "echo b")],
                '  { kind = "statement", id = "p0-rule", text = "Abort on any deviation." },'),
          phase("P1", [("c", "echo c; exit 3"), ("d", "echo d")],
                '  { kind = "statement", id = "p1-rule", text = "Abort on any error." },'),
          phase("P2", [("e", "echo e")])]


def _halted_session(tmp_path: Path) -> Path:
    runbook = write_world(tmp_path, PHASES)
    session = tmp_path / "s"
    done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session", str(session))
    assert done.returncode == 2, done.stdout[-2000:]
    return session


def test_status_report_and_screen_agree_on_every_item_after_a_halt(tmp_path: Path) -> None:
    session = _halted_session(tmp_path)
    view = open_session(session)
    status = json.loads(cockpit("status", str(session), "--json").stdout)["derived"]["phases"]
    assert status == {"P0": "complete", "P1": "stopped", "P2": "halted"}
    report = cockpit("report", str(session)).stdout
    ticked = {m[1]: m[0] == "x" for m in re.findall(r"^- \[(.)\] (.*?)(?: — .*)?$", report, re.M)}
    for phase_ in view.runbook.phases:
        for item in phase_.steps:
            screen = rules.item_status(view.runbook, view.state, item)
            done = screen in ("passed", "confirmed")
            text = getattr(item, "text", None) or f"`{item.command}` -> `{item.log}`"
            assert ticked[text] == done, (item.id, screen)
            if status[phase_.id] == "complete":
                assert done, item.id  # a complete phase has every line ticked
    assert rules.item_status(view.runbook, view.state, PHASES_ITEM(view, "e")) == "halted"


def PHASES_ITEM(view, item_id: str):
    return next(item for _p, item in walk_items(view.runbook) if item.id == item_id)


def test_status_says_a_dead_cockpits_lock_is_stale(tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", [("slow", "sleep 4")])])
    session = tmp_path / "s"
    proc = start_cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                         str(session), stdout=subprocess.PIPE)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "step_started" in line:
            break
    live = cockpit("status", str(session)).stdout
    assert "STALE" not in live and f"pid {proc.pid}" in live
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    dead = cockpit("status", str(session)).stdout
    assert "STALE: that cockpit is gone" in dead and "--take-over" in dead
    assert json.loads(cockpit("status", str(session), "--json").stdout)["derived"]["lock_stale"]
    cockpit("resume", str(session), "--headless", "--assume-yes", "--take-over")  # clean up


def test_export_writes_the_same_bytes_and_verify_checks_the_pack(tmp_path: Path) -> None:
    session = _halted_session(tmp_path)
    first, second = tmp_path / "one.tar.gz", tmp_path / "two.tar.gz"
    done = cockpit("export", str(session), "-o", str(first))
    assert done.returncode == 0, done.stderr
    assert cockpit("export", str(session), "-o", str(second)).returncode == 0
    assert first.read_bytes() == second.read_bytes()
    refused = cockpit("export", str(session), "-o", str(first))
    assert refused.returncode == 1 and "already exists" in refused.stderr
    nowhere = cockpit("export", str(session), "-o", str(tmp_path / "no" / "pack.tar.gz"))
    assert nowhere.returncode == 1 and "Traceback" not in nowhere.stderr
    assert f"{tmp_path / 'no'}: no such folder; make it first" in nowhere.stderr
    with tarfile.open(first) as tar:
        names = tar.getnames()
        top = names[0].split("/")[0]
        assert {f"{top}/events.jsonl", f"{top}/evidence/decision.json", f"{top}/report.md",
                f"{top}/evidence/manifest.json", f"{top}/steps/c.1.log"} <= set(names)
        assert f"{top}/lock" not in names
        assert all(m.uid == 0 and m.uname == "" for m in tar.getmembers())
    checked = cockpit("verify", str(first))
    assert checked.returncode == 0 and "verify: ok" in checked.stdout, checked.stderr
    # A pack whose log was altered is named as such, by its place in the pack.
    with tarfile.open(first) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    altered = tmp_path / "altered.tar.gz"
    with gzip.open(altered, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
        for member, data in members:
            if member.name.endswith("steps/c.1.log"):
                data = data.replace(b"c", b"C")
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    bad = cockpit("verify", str(altered))
    assert bad.returncode == 1 and f"{altered}:/steps/c.1.log" in bad.stderr
    assert "Traceback" not in bad.stderr
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a pack")
    broken = cockpit("verify", str(junk))
    assert broken.returncode == 1 and "the archive itself is damaged" in broken.stderr


def test_verify_refuses_a_pack_that_reaches_outside_its_folder(tmp_path: Path) -> None:
    for name, kind in (("s/../../escape.txt", tarfile.REGTYPE), ("s/link", tarfile.SYMTYPE)):
        pack = tmp_path / "evil.tar.gz"
        with gzip.open(pack, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, "/etc/passwd" if kind == tarfile.SYMTYPE else ""
            tar.addfile(info, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
        done = cockpit("verify", str(pack))
        assert done.returncode == 1 and "is not a file inside the pack's folder" in done.stderr
        assert not (tmp_path.parent / "escape.txt").exists()
