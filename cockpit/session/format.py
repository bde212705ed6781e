"""One event as one line of text: what the headless runner and the plain mirror print. Inert:
an event may quote a step's output (`last_line`, an abort's `line`)."""

from __future__ import annotations

import re
from typing import Any

from cockpit.session.events import Event
from cockpit.session.inert import inert
from cockpit.session.records import written


def clip(text: str, limit: int) -> str:
    """`text`, or its first `limit` - 1 characters and an ellipsis."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _brief(value: Any) -> str:
    """A value short enough for one line; the event log keeps it whole."""
    if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value):
        return value[:12] + "…"
    if isinstance(value, list) and len(value) > 4:
        return f"[{len(value)} items]"
    text = " ⏎ ".join(inert(str(value)).splitlines())  # one event, one line, whatever it holds
    return clip(text, 100)


def format_event(event: Event) -> str:
    # every key as written, a kind this version does not know too: a person sees it all
    data = {k: v for k, v in written(event).items() if v not in (None, "", [], {})}
    summary = " ".join(f"{k}={_brief(v)}" for k, v in data.items() if k not in ("fields",))
    return inert(f"{event.ts[11:23]} {event.actor.name}@{event.actor.host} {event.type} "
                 f"{summary}")
