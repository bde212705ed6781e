"""The fast read of a whole log (one decode, one walk) and the line-by-line read agree on
every log: the same events, or the same damage named at the same line. The fast read is
only a shortcut; whatever it does not accept exactly, the line-by-line read judges."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.errors import CockpitError
from cockpit.session.events import GENESIS, Actor, Event, make_event
from cockpit.session.store import SessionDamaged, _read_line_by_line, read_event_log

ACTOR = Actor(name="op", host="box")
PATH = Path("events.jsonl")


def _log(n: int) -> bytes:
    events: list[Event] = []
    for seq in range(1, n + 1):
        data = {"gate": f"g{seq % 3}", "reference": f"R{seq}", "hash": "f" * 64}
        events.append(make_event(seq, ACTOR, "gate_attested", data,
                                 events[-1].hash if events else GENESIS))
    return b"".join(e.line() for e in events)


def _relaid(line: bytes) -> bytes:  # the same event, another layout: still valid
    try:
        value = json.loads(line)
    except ValueError:  # damaged already: left as it is
        return line + b"\n"
    return json.dumps(value, indent=None, sort_keys=False).encode() + b"\n"


DAMAGE = st.one_of(
    st.tuples(st.just("byte"), st.integers(0, 10_000), st.integers(0, 255)),
    st.tuples(st.just("cut"), st.integers(0, 10_000), st.integers(0, 40)),
    st.tuples(st.just("insert"), st.integers(0, 10_000),
              st.sampled_from([b"\n", b"{}", b",", b" ", b"\n\n", b'"'])),
    st.tuples(st.just("relay"), st.integers(0, 100), st.just(0)),
    st.tuples(st.just("swap"), st.integers(0, 100), st.just(0)),
    st.tuples(st.just("join"), st.integers(0, 100), st.just(0)),
)


def _damage(raw: bytes, how: tuple[str, int, object]) -> bytes:
    kind, at, what = how
    lines = raw.split(b"\n")[:-1]
    if not raw or not lines:
        return raw
    if kind == "byte":
        at %= len(raw)
        return raw[:at] + bytes([int(what)]) + raw[at + 1:]  # type: ignore[call-overload]
    if kind == "cut":
        at %= len(raw)
        return raw[:at] + raw[at + int(what):]  # type: ignore[call-overload]
    if kind == "insert":
        at %= len(raw)
        return raw[:at] + what + raw[at:]  # type: ignore[operator]
    at %= len(lines)
    if kind == "relay":
        return b"".join(_relaid(line) if i == at else line + b"\n"
                        for i, line in enumerate(lines))
    if kind == "swap" and at + 1 < len(lines):
        lines[at], lines[at + 1] = lines[at + 1], lines[at]
    if kind == "join" and at + 1 < len(lines):
        lines[at:at + 2] = [lines[at] + lines[at + 1], b""]  # two values, then a blank line
    return b"".join(line + b"\n" for line in lines)


def _outcome(read: object) -> object:
    try:
        return read()  # type: ignore[operator]
    except CockpitError as exc:
        return exc.message


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 12), st.lists(DAMAGE, max_size=2))
def test_the_fast_read_and_the_line_by_line_read_agree(tmp_path_factory: object, n: int,
                                                        damages: list[tuple[str, int, object]]
                                                        ) -> None:
    raw = _log(n)
    for how in damages:
        raw = _damage(raw, how)
    folder = tmp_path_factory.mktemp("log")  # type: ignore[attr-defined]
    (folder / PATH).write_bytes(raw)
    end = raw.rfind(b"\n") + 1
    fast = _outcome(lambda: read_event_log(folder / PATH).events)
    slow = _outcome(lambda: _read_line_by_line(raw[:end].split(b"\n")[:-1], folder / PATH))
    assert fast == slow


@pytest.mark.parametrize("where", ["first", "between", "last"])
def test_a_blank_line_anywhere_is_named_as_damage(tmp_path: Path, where: str) -> None:
    lines = _log(3).split(b"\n")[:-1]
    at = {"first": 0, "between": 2, "last": 3}[where]
    lines.insert(at, b"")
    (tmp_path / PATH).write_bytes(b"".join(line + b"\n" for line in lines))
    with pytest.raises(SessionDamaged, match=f"line {at + 1}: not a valid event"):
        read_event_log(tmp_path / PATH)


def _sealed(before: bytes, after: bytes) -> tuple[bytes, str]:
    """A line whose last "hash" field holds the sha256 of the line without it."""
    digest = hashlib.sha256(before + after).hexdigest()
    return before + b',"hash":"' + digest.encode() + b'"' + after, digest


def test_an_event_spread_over_two_lines_each_hashing_as_written_is_damage(
        tmp_path: Path) -> None:
    """Each line may hash to the hash it shows and the values still not be one per line
    (a JSON value may span lines): the first event's content is then not what its hash
    covers. Both reads refuse it, naming line 1."""
    head = b'{"actor":{"host":"h","name":"n"}'
    first, digest = _sealed(head, b',"prev":"' + GENESIS.encode()
                            + b'","seq":1,"ts":"t","type":"halted","data":')
    second, _ = _sealed(b'{"by":"operator","reason":"FORGED"}} ' + head + b',"data":{}',
                        b',"prev":"' + digest.encode() + b'","seq":2,"ts":"t","type":"x"}')
    (tmp_path / PATH).write_bytes(first + b"\n" + second + b"\n")
    with pytest.raises(SessionDamaged, match="line 1: not a valid event"):
        read_event_log(tmp_path / PATH)
