"""What a target sent to a Celery worker shows while it has not ended, and what the fleet
says or does about it — pure, from what was seen: the holder of its session (a host, and
whether its lease is alive), how long it has been silent, and the broker's run id then and
now. Kept apart from Celery itself so that each case is a plain test.

- Held by a live cockpit: it runs (on that host); past the visibility timeout, the broker
  hands its message to a second worker, which waits — said once.
- Held by a cockpit whose lease stopped: that host looks lost — said once; the broker gives
  the message to another worker after the visibility timeout, which takes it over (said
  too, when the holder's host changes).
- Never taken, silent past the visibility timeout and the lease: if the broker restarted
  since it was sent (its run id changed), its message may have been lost with it — sent
  again (a duplicate waits on the lock and runs nothing); else it waits in its queue, and
  the fleet asks whether a worker listens there. Never sent again while the broker that
  holds its message is the same."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Sent:
    queue: str
    tasks: list[str]  # every task sent for it, the last one last
    broker_run: str | None  # the broker's run id when the last was sent (None: not known)
    since: float  # when it was sent, or last seen alive
    alive_since: float | None = None  # first seen held by a live cockpit
    host: str | None = None  # the host last seen holding it
    said: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Holder:
    host: str
    alive: bool


def look(name: str, sent: Sent, now: float, holder: Holder | None, broker_run: str | None,
         visibility_s: float, lease_s: float) -> tuple[list[str], bool]:
    """(what to say, whether to send it again) about target `name` now."""
    if holder is not None and holder.alive:
        moved = sent.host is not None and holder.host != sent.host  # a take-over
        said = [f"{name}: now running on {holder.host} (taken over from {sent.host})"] \
            if moved else []
        if sent.alive_since is None or moved:
            sent.alive_since = now
        sent.since, sent.host = now, holder.host
        sent.said.discard("lost")
        if now - sent.alive_since > visibility_s and "long" not in sent.said:
            sent.said.add("long")
            said.append(f"{name}: running on {holder.host} for longer than the visibility "
                        f"timeout ({visibility_s:g} s): the broker hands its message to another "
                        "worker, which waits on the target's lock (a worker slot taken); raise "
                        "[fleet] visibility_timeout, and the workers' --visibility-timeout, "
                        "above the longest target")
        return said, False
    said = []
    if holder is not None and "lost" not in sent.said:
        sent.said.add("lost")
        said.append(f"{name}: its cockpit on {holder.host} stopped renewing its lease — that "
                    "host looks lost; the broker hands the target to another worker after "
                    f"the visibility timeout ({visibility_s:g} s), which takes it over once "
                    f"the lease ({lease_s:g} s) has expired")
    silent = now - sent.since
    if holder is not None or silent < visibility_s + lease_s:
        return said, False
    if broker_run is not None and sent.broker_run is not None and broker_run != sent.broker_run:
        said.append(f"{name}: no sign of life for {silent:.0f} s, and the broker restarted "
                    "since it was sent (its message may be lost with it): sent again")
        return said, True
    if sent.alive_since is None and "queued" not in sent.said:
        sent.said.add("queued")
        said.append(f"{name}: sent {silent:.0f} s ago to queue {sent.queue}; no worker has "
                    f"taken it yet — is one listening? (cockpit fleet worker --queue "
                    f"{sent.queue})")
    return said, False
