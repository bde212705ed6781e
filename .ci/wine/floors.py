"""Counts what the Windows interpreter ran, per area (tests/windows/test_AREA.py), from pytest's
JUnit XML, and fails when a test failed or was skipped or an area ran fewer than its floor."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import Counter

# The least each area must pass on the Windows interpreter: raise them as tests are added.
FLOORS = {
    "session_run": 9,
    "lock_resume": 2,
    "store": 7,
    "runbooks": 5,
    "paths": 3,
    "supervisor": 5,
    "imports": 2,
    "reference": 4,
    "demo_paths": 3,
    "radar": 1,
}


def main(report: str) -> int:
    passed: Counter[str] = Counter()
    bad: list[str] = []
    for case in ET.parse(report).getroot().iter("testcase"):
        area = case.get("classname", "").rsplit(".", 1)[-1].removeprefix("test_")
        outcome = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        if outcome:
            bad.append(f"{case.get('classname')}::{case.get('name')}: {outcome[0]}")
        else:
            passed[area] += 1
    print("[wine] passed on the Windows interpreter, per area:")
    for area in sorted(set(FLOORS) | set(passed)):
        floor = FLOORS.get(area, 0)
        mark = "" if passed[area] >= floor else f"  BELOW THE FLOOR OF {floor}"
        print(f"  {area:<16} {passed[area]:>3}{mark}")
    print(f"  {'in all':<16} {sum(passed.values()):>3}")
    for line in bad:
        print(f"[wine] not passed: {line}")
    short = [area for area, floor in FLOORS.items() if passed[area] < floor]
    return 1 if bad or short else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
