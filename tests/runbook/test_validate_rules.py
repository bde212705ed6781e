"""The validation rules test_malformed.py leaves out, pinned with their whole message: the
second id the cockpit keeps for itself, named groups in a pattern, a countersignature gate
for nobody, an expected value on a probe that takes none, and the forms that are no fault
(a boolean expected the text need not show, a gate that leaves its expected to the
operator, a list shown as items). Each runbook is test_malformed's BASE with one thing changed."""

from __future__ import annotations

import pytest

from cockpit.runbook.loader import parse_runbook
from tests.runbook.test_malformed import broken, refused

_PATTERNS = 'patterns = ["deadlock detected", "\\\\b40P01\\\\b"]\n'
_GATE = 'probe = "alembic.single_head"\nexpected = "abc123"'
_CHECK = 'probe = "alembic.current_equals"\nexpected = "abc123"'


@pytest.mark.parametrize(("text", "problems"), [
    pytest.param(broken('id = "deadlock"\nlabel', 'id = "log_unwritable"\nlabel'), {
        "abort_rules[0].id": "'log_unwritable' is the cockpit's own (a step whose log cannot "
                             "be written); choose another id",
        "phases[0].steps[1].abort_rules[0]": "unknown abort rule 'deadlock' (defined: "
                                             "log_unwritable)",
        "phases[0].steps[3].rules[0]": "unknown abort rule 'deadlock' (defined: "
                                       "log_unwritable)"}, id="log-rule-id"),
    pytest.param(broken(_PATTERNS, 'patterns = ["(?P<code>40P01)"]\n'), {
        "abort_rules[0].patterns[0]": "named groups are reserved for the cockpit; use (?:...) "
                                      "instead"}, id="named-group"),
    pytest.param(broken(_PATTERNS, 'kind = "lock_queue"\nmax_waiting = 5\npatterns = ["(x"]\n'),
                 {"abort_rules[0].patterns": "a lock_queue rule watches the radar, not the "
                                             "output: give it no patterns",
                  "abort_rules[0].patterns[0]": "not a valid regular expression on output bytes "
                                                "(missing ), unterminated subpattern at "
                                                "position 0)"},
                 id="queue-rule-bad-pattern"),
    pytest.param(broken(_GATE, 'probe = "review.countersigned"\nargs = { count = 0 }'), {
        "gates.items[1].args.count": "a countersignature gate needs at least 1 reviewer"},
        id="countersign-nobody"),
    pytest.param(broken(_CHECK, 'probe = "alembic.targets_known"\nexpected = "abc123"'), {
        "phases[0].steps[2].expected": "probe 'alembic.targets_known' takes no expected value"},
        id="expected-on-none"),
    pytest.param(broken(_CHECK, 'probe = "alembic.width_fits"'), {
        "phases[0].steps[2].expected": "probe 'alembic.width_fits' needs an expected boolean"},
        id="boolean-missing"),
])
def test_each_rule_names_its_place_and_fix(text: str, problems: dict[str, str]) -> None:
    found = {problem.place: problem.message for problem in refused(text).problems}
    assert found == problems


@pytest.mark.parametrize("text", [
    pytest.param(broken(_CHECK, 'probe = "alembic.width_fits"\nexpected = true'),
                 id="boolean-not-shown"),
    pytest.param(broken(_GATE, 'probe = "rehearsal.pass"'), id="gate-expected-optional"),
    pytest.param(broken(_CHECK, 'probe = "alembic.upgrade_path_includes"\n'
                        'expected = ["abc123", "def456"]\nlist_items = true'),
                 id="list-shown-as-items"),
])
def test_what_is_no_fault(text: str) -> None:
    parse_runbook(text, "x.toml")
