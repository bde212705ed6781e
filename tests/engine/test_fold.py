"""The whole-log fold (status, verify, resume) and the event-by-event apply (the live
controller and the mirror) reach the same state — the fold only skips building the
results of checks a later evaluation replaces."""

from __future__ import annotations

from functools import reduce

from hypothesis import given
from hypothesis import strategies as st

from cockpit.session import events as ev
from cockpit.session.events import GENESIS, Actor, Event, make_event
from cockpit.session.state import SessionState, apply, fold

ACTOR = Actor(name="op", host="box")
NAMES = st.sampled_from(["a", "b", "c"])

# (type, data) for the events that touch the checks' parts of the state, and one that does
# not; a step so a gate may be evaluated around other facts
KINDS = st.one_of(
    st.builds(lambda g, ok, n: (ev.GATE_EVALUATED, {"gate": g, "ok": ok, "expected": n,
                                                   "observed": n, "detail": None}),
              NAMES, st.booleans(), st.integers(0, 3)),
    st.builds(lambda g, r: (ev.GATE_ATTESTED, {"gate": g, "reference": r}), NAMES,
              st.sampled_from(["GOV-1", "GOV-2"])),
    st.builds(lambda i, ok: (ev.SETUP_CHECKED, {"item": i, "ok": ok, "detail": "d"}), NAMES,
              st.booleans()),
    st.builds(lambda p, ok: (ev.SCRIPT_CHECKED, {"path": p, "ok": ok, "expected": "x",
                                                 "observed": "y"}), NAMES, st.booleans()),
    st.just((ev.SESSION_RESUMED, {"pid": 1})),
    st.builds(lambda s: (ev.MANUAL_CONFIRMED, {"step": s, "note": None}), NAMES),
)


def _chain(kinds: list[tuple[str, dict[str, object]]]) -> list[Event]:
    events: list[Event] = []
    for seq, (type_, data) in enumerate(kinds, start=1):
        events.append(make_event(seq, ACTOR, type_, data, events[-1].hash if events else GENESIS))
    return events


@given(st.lists(KINDS, max_size=40))
def test_fold_is_apply_event_by_event_order_included(kinds: list[tuple[str, dict[str, object]]],
                                                     ) -> None:
    events = _chain(kinds)
    folded = fold(events)
    applied = reduce(apply, events, SessionState())
    assert folded == applied
    for part in ("gates", "setup", "scripts"):
        assert list(getattr(folded, part)) == list(getattr(applied, part))  # same order


@given(st.lists(KINDS, max_size=30), st.integers(0, 30))
def test_a_fold_from_a_snapshot_is_the_fold_of_the_whole(kinds: list[tuple[str, dict[str, object]]],
                                                        at: int) -> None:
    """`status` folds the events after session.json onto it: the same state as the whole
    fold, order included, and the snapshot given is left as it was."""
    events = _chain(kinds)
    at = min(at, len(events))
    snapshot = fold(events[:at])
    kept = snapshot.model_copy(deep=True)
    resumed = fold(events[at:], base=snapshot)
    whole = fold(events)
    assert resumed == whole and snapshot == kept
    for part in ("gates", "setup", "scripts"):
        assert list(getattr(resumed, part)) == list(getattr(whole, part))


def test_a_gate_attested_after_failing_evaluations_stays_attested() -> None:
    events = _chain([(ev.GATE_EVALUATED, {"gate": "g", "ok": False, "detail": "no"}),
                     (ev.GATE_ATTESTED, {"gate": "g", "reference": "GOV-7"})])
    gate = fold(events).gates["g"]
    assert (gate.status, gate.reference) == ("passed", "GOV-7")
