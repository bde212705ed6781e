"""What the fleet says and does about a target sent to a Celery worker that has not ended
(issue #33, from a user's trial): a queued target is never sent again while the broker that
holds its message is the same; a lost host is named as lost, not as a timeout; a target
really running past the visibility timeout is said once."""

from __future__ import annotations

from cockpit.fleet.celery_watch import Holder, Sent, look

V, L = 30.0, 10.0  # visibility timeout, lease


def sent() -> Sent:
    return Sent("eu", ["task-1"], "run-a", since=0.0)


def test_a_queued_target_is_never_sent_again_while_the_broker_is_the_same() -> None:
    target = sent()
    assert look("t05", target, V + L - 1, None, "run-a", V, L) == ([], False)
    said, again = look("t05", target, V + L + 1, None, "run-a", V, L)
    assert not again and said == ["t05: sent 41 s ago to queue eu; no worker has taken it "
                                  "yet — is one listening? (cockpit fleet worker --queue eu)"]
    for now in (100.0, 1000.0, 10000.0):  # said once; never sent again
        assert look("t05", target, now, None, "run-a", V, L) == ([], False)
    assert look("t05", target, 10001.0, None, None, V, L) == ([], False)  # run id unknown


def test_a_target_silent_after_the_broker_restarted_is_sent_again() -> None:
    said, again = look("t04", sent(), V + L + 5, None, "run-b", V, L)
    assert again and said[0].startswith("t04: no sign of life for 45 s, and the broker "
                                        "restarted since it was sent")
    assert look("t04", sent(), V + L - 1, None, "run-b", V, L) == ([], False)  # not yet


def test_a_running_target_is_never_sent_again_and_its_long_run_is_said_once() -> None:
    target = sent()
    live = Holder("worker-a", alive=True)
    assert look("t01", target, 5.0, live, "run-b", V, L) == ([], False)  # restarted: it runs
    assert look("t01", target, 5.0 + V + L + 1, live, "run-b", V, L)[1] is False
    said = look("t01", target, 5.0 + V + L + 2, live, "run-b", V, L)[0]
    assert said == [] and "long" in target.said  # said at the call before
    target2 = sent()
    look("t02", target2, 1.0, live, "run-a", V, L)
    said, again = look("t02", target2, 1.0 + V + 1, live, "run-a", V, L)
    assert not again and said[0].startswith("t02: running on worker-a for longer than the "
                                            "visibility timeout (30 s)")


def test_a_holder_whose_lease_stopped_is_named_as_lost_not_as_a_timeout() -> None:
    target = sent()
    look("t02", target, 1.0, Holder("worker-a", alive=True), "run-a", V, L)
    said, again = look("t02", target, 13.0, Holder("worker-a", alive=False), "run-a", V, L)
    assert not again and said == [
        "t02: its cockpit on worker-a stopped renewing its lease — that host looks lost; the "
        "broker hands the target to another worker after the visibility timeout (30 s), "
        "which takes it over once the lease (10 s) has expired"]
    assert "visibility_timeout, and the workers'" not in said[0]  # not a timeout's advice
    # a stale holder is never "not taken" and never sent again, however long
    assert look("t02", target, 500.0, Holder("worker-a", alive=False), "run-b", V, L) == \
        ([], False)
    # taken over by worker-b: running again, said
    assert look("t02", target, 501.0, Holder("worker-b", alive=True), "run-b", V, L) == \
        (["t02: now running on worker-b (taken over from worker-a)"], False)
    assert look("t02", target, 502.0, Holder("worker-b", alive=True), "run-b", V, L) == \
        ([], False)
