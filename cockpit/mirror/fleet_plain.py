"""`cockpit mirror --plain FLEET`: a fleet's ledger as lines, from its first event, as it
grows — until the fleet ends. Reads only; takes no lock."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from cockpit.errors import CockpitError
from cockpit.fleet.folder import ledger_folder
from cockpit.fleet.records import FLEET_ENDED
from cockpit.fleet.status import event_line
from cockpit.session.follow import EventFollower
from cockpit.session.layout import EVENTS

POLL_S = 0.2


def follow_fleet(folder: Path, out: Callable[[str], None]) -> int:
    follower = EventFollower(ledger_folder(folder) / EVENTS)
    while True:
        for event in follower.poll():
            out(event_line(event))
            if event.type == FLEET_ENDED:
                return 0
        if follower.damage is not None:
            raise CockpitError(f"{folder}: the ledger is damaged ({follower.damage}); the "
                               "mirror stops here")
        time.sleep(POLL_S)
