"""One writer across machines (issue #33): the holder of a session's lock renews a lease in
its holder file while it holds it, and stops at its release; a cockpit on another host takes
the lock over only once that lease and the running step's heartbeat have both expired."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from cockpit.fleet.takeover import take_over_reason
from cockpit.session.lock import HOLDER, SessionLock, lease_age, read_lock_info
from tests.waiting import let_time_pass, wait_until


def test_the_holder_renews_its_lease_until_it_lets_go(tmp_path: Path) -> None:
    lock = SessionLock.acquire(tmp_path)
    first = read_lock_info(tmp_path)
    assert first is not None and first["renewed"] == first["since"]
    lock.keep_lease(every_s=0.05)
    wait_until(lambda: (read_lock_info(tmp_path) or {}).get("renewed") != first["renewed"],
               "the lease to be renewed", 5)
    lock.release()
    assert not (tmp_path / HOLDER).exists()
    let_time_pass(0.2)  # a renewal after the release would write the holder file again
    assert not (tmp_path / HOLDER).exists()


def _holder(folder: Path, host: str, age_s: float) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - age_s))
    (folder / HOLDER).write_text(json.dumps({"pid": 4242, "host": host, "user": "u",
                                             "since": stamp, "renewed": stamp}))


def test_a_lock_on_another_host_is_taken_over_only_once_its_lease_expired(
        tmp_path: Path) -> None:
    _holder(tmp_path, "elsewhere", age_s=2)
    age = lease_age(read_lock_info(tmp_path) or {})
    assert age is not None and 1 <= age < 10
    assert take_over_reason(tmp_path, lease_s=30) is None  # renewed 2 s ago: alive there
    _holder(tmp_path, "elsewhere", age_s=45)
    reason = take_over_reason(tmp_path, lease_s=30)
    assert reason is not None and "stopped renewing its lease 45 s ago" in reason
    os.utime(tmp_path / HOLDER)  # the file's own time says nothing: the lease is its content
    assert take_over_reason(tmp_path, lease_s=30) is not None


def test_a_step_still_running_on_the_lost_host_keeps_its_session(tmp_path: Path) -> None:
    """The holder's lease expired, but its step's supervisor still beats (a host that is up,
    its cockpit gone): no take-over; once the step has ended, the lease alone decides."""
    from cockpit.engine.controller import Controller
    from tests.engine.helpers import phase, write_world
    from tests.waiting import finish_running

    runbook = write_world(tmp_path, [phase("P0", [("slow", "sleep 3; echo done")])])
    ctl = Controller.start(runbook, folder=tmp_path / "s", operator="op", env=dict(os.environ))
    try:
        ctl.attest_gate("signoff", "GOV-1")
        assert ctl.evaluate_gates() == []
        ctl.run_step("slow")
        session = tmp_path / "s"
        wait_until(lambda: (session / "steps" / "slow.1.run.json").exists(), "the supervisor")
        ctl.lock.release()  # as if its cockpit died on another host, its lease long expired
        _holder(session, "elsewhere", age_s=60)
        let_time_pass(1.5)  # the supervisor beats meanwhile
        assert take_over_reason(session, lease_s=30) is None
        finish_running(ctl)
        assert take_over_reason(session, lease_s=30) is not None
    finally:
        ctl.close()


def test_a_mirror_sees_a_holder_on_another_host_by_its_lease(tmp_path: Path) -> None:
    """A target running on a worker elsewhere: its pid means nothing here, its lease says
    whether it is there (the mirror said CLOSED of a cockpit running on another host)."""
    from cockpit.mirror.presence import WATCHING, presence_text
    from cockpit.session.lock import PRESENT_S, holder_present

    assert holder_present(tmp_path) is None  # nobody holds it
    _holder(tmp_path, "worker-a", age_s=1)
    assert holder_present(tmp_path) is True
    assert presence_text(holder_present(tmp_path), ended=False) == WATCHING
    _holder(tmp_path, "worker-a", age_s=PRESENT_S + 5)
    assert holder_present(tmp_path) is False
    assert "GONE" in presence_text(holder_present(tmp_path), ended=False)
    (tmp_path / HOLDER).write_text(json.dumps({"pid": 4242, "host": "worker-a"}))
    assert holder_present(tmp_path) is None  # no lease kept: not known
    lock = SessionLock.acquire(tmp_path, take_over=True)  # here: by its pid
    assert holder_present(tmp_path) is True
    lock.release()
    assert holder_present(tmp_path) is None
