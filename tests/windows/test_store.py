"""The session store's files as the Windows C runtime writes them: byte for byte (no `\\r\\n`
for `\\n`), `session.json` replaced while a reader holds it open, the folder watcher without
inotify. (Fast tests: no cockpit process, no database.)"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from cockpit.errors import CockpitError
from cockpit.session.events import Actor
from cockpit.session.replace import REPLACE_WAIT_S, read_replaced
from cockpit.session.safefs import write_output_bytes
from cockpit.session.store import SessionStore, SessionWriteFailed, write_atomic
from tests.waiting import let_time_pass
from tests.windows.kit import WINDOWS

OPERATOR = Actor(name="op", host="h")


def test_events_are_written_byte_for_byte_and_chain(tmp_path: Path) -> None:
    store = SessionStore.create(tmp_path / "s")
    store.append(OPERATOR, "note", {"text": "line one\nline two"})
    store.append(OPERATOR, "note", {"text": "é ✓"})
    raw = (tmp_path / "s" / "events.jsonl").read_bytes()
    assert b"\r" not in raw and raw.count(b"\n") == 2, raw
    first, second = (json.loads(line) for line in raw.splitlines())
    assert second["prev"] == first["hash"]


def test_write_atomic_keeps_bytes_as_given(tmp_path: Path) -> None:
    path = tmp_path / "session.json"
    write_atomic(path, b'{\n  "a": 1\n}\n')
    assert path.read_bytes() == b'{\n  "a": 1\n}\n'


def test_session_json_is_replaced_once_a_reader_that_holds_it_lets_go(tmp_path: Path) -> None:
    """On Windows an open file cannot be replaced: the write waits the reader out."""
    path = tmp_path / "session.json"
    write_atomic(path, b'{"seq": 1}')
    reader = open(path, "rb")  # a mirror in the middle of its read  # noqa: SIM115
    threading.Timer(0.4, reader.close).start()
    began = time.monotonic()
    write_atomic(path, b'{"seq": 2}')
    waited = time.monotonic() - began
    assert path.read_bytes() == b'{"seq": 2}'
    if WINDOWS:
        assert 0.35 < waited < 2, waited  # it waited for the reader, and no longer
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_file_held_open_for_good_fails_the_write_naming_it_and_the_fix(tmp_path: Path
                                                                          ) -> None:
    path = tmp_path / "session.json"
    write_atomic(path, b'{"seq": 1}')
    with open(path, "rb"):
        if not WINDOWS:  # POSIX replaces an open file: nothing to wait for
            write_atomic(path, b'{"seq": 2}')
            return
        with pytest.raises(SessionWriteFailed) as failed:
            write_atomic(path, b'{"seq": 2}')
    assert str(path) in str(failed.value) and "holds that file open" in str(failed.value)
    assert path.read_bytes() == b'{"seq": 1}' and not list(tmp_path.glob(".*.tmp"))


def test_session_json_is_replaced_while_readers_keep_opening_it(tmp_path: Path) -> None:
    path = tmp_path / "session.json"
    write_atomic(path, b'{"seq": 0}')
    stop, seen, errors = threading.Event(), set(), []

    def mirror() -> None:
        while not stop.is_set():
            try:
                seen.add(json.loads(read_replaced(path))["seq"])  # as the cockpit reads it
            except (OSError, ValueError) as exc:  # never a torn or missing file
                errors.append(repr(exc))
            let_time_pass(0.005)  # a busy mirror's pace: 200 reads a second, each

    readers = [threading.Thread(target=mirror) for _ in range(2)]
    for each in readers:
        each.start()
    try:
        for seq in range(1, 100):
            write_atomic(path, json.dumps({"seq": seq}).encode())
    finally:
        stop.set()
        for each in readers:
            each.join()
    assert not errors, errors[:3]
    assert json.loads(path.read_bytes())["seq"] == 99 and len(seen) > 1


def test_the_change_waiter_wakes_on_a_new_file_without_inotify_too(tmp_path: Path) -> None:
    from cockpit.session.notify import POLL_S, ChangeWaiter

    waiter = ChangeWaiter([tmp_path])
    threading.Timer(0.3, lambda: (tmp_path / "new").write_bytes(b"x")).start()
    began = time.monotonic()
    while not (tmp_path / "new").exists():
        waiter.wait(1.0)
        assert time.monotonic() - began < 5
    waited = time.monotonic() - began
    waiter.close()
    assert 0.3 - POLL_S <= waited < 0.3 + 10 * POLL_S, waited


def test_an_output_held_open_is_waited_for_then_refused_naming_it_and_the_fix(
        tmp_path: Path) -> None:
    """`-o FILE` (a report, an export) that a viewer holds open: on Windows the write waits
    for it to be let go, then fails naming the file and the fix — the old file kept, no
    temporary file left; POSIX replaces an open file."""
    output = tmp_path / "report.html"
    output.write_bytes(b"old")
    with open(output, "rb"):
        if not WINDOWS:
            write_output_bytes(output, b"new", force=True)
            assert output.read_bytes() == b"new"
            return
        began = time.monotonic()
        with pytest.raises(CockpitError) as failed:
            write_output_bytes(output, b"new", force=True)
    assert time.monotonic() - began >= REPLACE_WAIT_S
    said = str(failed.value)
    assert said.startswith(f"{output}: cannot be written") and "holds that file open" in said
    assert output.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == [output.name]
