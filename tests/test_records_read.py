"""Events are typed when read: no code in `cockpit/` but `session/records.py` (and the
envelope's own methods in `session/events.py`) reads an event's `data`; every reader goes
through `records.record_of` and its record's attributes."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "cockpit"
# the one reader of Event.data, and the envelope that defines it
READERS = {PACKAGE / "session" / "records.py", PACKAGE / "session" / "events.py"}
# Other objects that have a `.data` of their own, by the expression that holds them: a tree
# node's payload (Textual) and a torn tail's bytes (store.TornTail). Any other `X.data` read
# is taken for an event's; a new owner of `.data` is added here by name.
OTHER_OWNERS = {"event.node", "log.torn", "view.torn", "torn"}


def data_reads(tree: ast.AST) -> list[tuple[int, str]]:
    """Each `X.data` that reads an attribute (a call `X.data()` is a record's method) and
    whose X is no other owner: (line, X)."""
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    return sorted((node.lineno, ast.unparse(node.value)) for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "data"
            and id(node) not in called and ast.unparse(node.value) not in OTHER_OWNERS)


def reads_outside_records(package: Path) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        if path in READERS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        found += [f"{path.relative_to(package.parent)}:{line}: {owner}.data"
                  for line, owner in data_reads(tree)]
    return found


def test_no_code_outside_records_reads_an_events_data() -> None:
    found = reads_outside_records(PACKAGE)
    assert found == [], ("read the event's record instead (records.record_of / of_kind / "
                         "typed): " + "; ".join(found))


def test_the_check_sees_an_event_data_read_and_lets_the_other_owners_be() -> None:
    source = """
def f(event, e, node_event, log, record):
    a = event.data["run"]
    b = e.data.get("ok")
    c = [x.data for x in events]
    d = event.node.data
    n = node_event.node.data
    t = log.torn.data
    r = record.data()
"""
    reads = data_reads(ast.parse(source))
    assert [owner for _line, owner in reads] == ["event", "e", "x", "node_event.node"]
