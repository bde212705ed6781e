"""Delivery of the cutover's moments, outside the operator's path. The cockpit holding the
session's lock listens to its own events; each moment a destination chose becomes a job,
and each destination's attempts run in order on a thread of its own — a destination that
hangs or refuses delays no step, no screen and no other destination's message, and one
destination never gets two messages at once (a command's output never interleaves, a
channel reads them in order). Every attempt's outcome is an event (never the
body), so what is undelivered is read from the session again after any crash, and sent
again with the same id: at least once."""

from __future__ import annotations

import heapq
import itertools
import queue
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cockpit.engine.core import SessionCore
from cockpit.engine.notify.destinations import Destination, command_env, dsn_vars
from cockpit.engine.notify.payloads import About, body
from cockpit.engine.notify.transport import Answer, post, run_command
from cockpit.runbook.model import duration_seconds
from cockpit.session import records
from cockpit.session.events import Event
from cockpit.session.moments import Moment, all_moments, moments_of
from cockpit.session.state import apply

DRAIN_S = 10.0  # headless, at its end: how long deliveries may still take
UNDELIVERED = ("; not delivered when this cockpit closed: sent again at the next resume or "
               "by `cockpit notify SESSION --flush`")


@dataclass
class Job:
    dest: Destination
    moment: Moment
    attempt: int  # of this message to this destination, over every cockpit
    tries: int = 0  # made by this cockpit: its budget is the destination's `attempts`
    last: str | None = None  # the last attempt's answer, in words

    @property
    def key(self) -> str:
        return f"{self.dest.name} {self.moment.id}"


def send(dest: Destination, moment: Moment, about: About, workdir: Path,
         command_env: Mapping[str, str], env: Mapping[str, str]) -> Answer:
    """One attempt, as the destination's kind takes it (`env`: the proxy variables)."""
    data = body(dest.spec.kind, moment, about)
    timeout = duration_seconds(dest.spec.timeout)
    if dest.url is None:
        assert dest.spec.command is not None
        return run_command(dest.spec.command, data, workdir, command_env, timeout)
    return post(dest.url, data, timeout, env, dest.ca_file)


def about(core: SessionCore) -> About:
    return About(session=core.state.session_id, runbook=core.runbook.id,
                 environment=core.state.environment, production=core.runbook.production,
                 evidence=str(core.folder))


class Notifier:
    """The deliveries of one open session: started once its lock is held, finished before
    the lock is let go (nothing is recorded after that)."""

    def __init__(self, core: SessionCore, found: list[Destination]) -> None:
        self.core = core
        self.destinations = found
        self._about = about(core)
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Job]] = []
        self._order = itertools.count()
        self._inflight: dict[str, Job] = {}
        self._closing = False
        self._state = core.state
        self._thread = threading.Thread(target=self._schedule, name="notify", daemon=True)
        self._lanes: dict[str, queue.SimpleQueue[Job | None]] = {}  # one per destination

    # ------------------------------------------------------------------ life

    def start(self) -> None:
        """Queue what the session's events hold undelivered, then each new moment."""
        with self.core.turn:
            self._state = self.core.state
            for moment in all_moments(self.core.runbook, self.core.store.events):
                self._queue(moment, self.core.state.notices)
            self.core.listeners.append(self._event)
        self._thread.start()

    def _event(self, event: Event) -> None:
        # the core's state is this event's when it is the last appended (the usual case):
        # no second fold of it
        after = self.core.state if event.seq == self.core.state.seq else apply(self._state,
                                                                               event)
        before, self._state = self._state, after
        for moment in moments_of(self.core.runbook, before, event, self._state):
            self._queue(moment, {})

    def _queue(self, moment: Moment, notices: Mapping[str, records.NoticeSent]) -> None:
        for dest in self.destinations:
            if moment.kind not in dest.spec.moments:
                continue
            last = notices.get(f"{dest.name} {moment.id}")
            if last is not None and last.outcome == "delivered":
                continue
            done = getattr(last, "attempts", 0) if last is not None else 0
            self._push(Job(dest, moment, attempt=done + 1), time.monotonic())

    def _push(self, job: Job, due: float) -> None:
        with self._cond:
            if not self._closing:
                heapq.heappush(self._heap, (due, next(self._order), job))
                self._cond.notify()

    def _schedule(self) -> None:
        while True:
            with self._cond:
                while not self._closing and (
                        not self._heap or self._heap[0][0] > time.monotonic()):
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
                if self._closing:
                    return
                _due, _n, job = heapq.heappop(self._heap)
                self._inflight[job.key] = job
            self._lane(job.dest.name).put(job)

    def _lane(self, name: str) -> queue.SimpleQueue[Job | None]:
        """The destination's queue and its one thread (made by the scheduler's thread)."""
        lane = self._lanes.get(name)
        if lane is None:
            lane = self._lanes[name] = queue.SimpleQueue()
            threading.Thread(target=self._deliver, args=(lane,), daemon=True,
                             name=f"notify {name}").start()
        return lane

    def _deliver(self, lane: queue.SimpleQueue[Job | None]) -> None:
        while (job := lane.get()) is not None:
            with self._cond:
                if self._closing:
                    return
            self._attempt(job)

    def _attempt(self, job: Job) -> None:
        try:
            core = self.core
            answer = send(job.dest, job.moment, self._about, core.workdir,
                          command_env(core.runbook.notify, dsn_vars(core.runbook), core.env,
                                      core.secrets), core.env)
        except Exception as exc:  # an attempt must end in an event, whatever it met
            answer = Answer(False, None, f"not sent: {type(exc).__name__}: {exc}")
        job.tries += 1
        job.last = self.core.redactor.redact_text(answer.detail)
        again = not answer.delivered and job.tries < job.dest.spec.attempts
        wait = self._delay(job, answer) if again else None
        with self.core.turn:
            with self._cond:
                if self._closing or self._inflight.pop(job.key, None) is None:
                    return  # closed meanwhile: recorded undelivered, sent again later
            self.core.append(records.NoticeSent(
                destination=job.dest.name, message=job.moment.id, moment=job.moment.kind,
                outcome="delivered" if answer.delivered else "failed", attempt=job.attempt,
                status=answer.status, detail=job.last,
                **({"retry_in": round(wait, 2)} if wait is not None else {})))
            if wait is not None:  # queued in the turn: a close now records it undelivered
                job.attempt += 1
                self._push(job, time.monotonic() + wait)

    @staticmethod
    def _delay(job: Job, answer: Answer) -> float:
        if answer.retry_after is not None:  # the destination's own word (Slack's 429)
            return answer.retry_after
        first = duration_seconds(job.dest.spec.first_delay)
        cap = duration_seconds(job.dest.spec.cap)
        return float(min(cap, first * 2 ** (job.tries - 1)) * random.uniform(0.5, 1.0))

    # ------------------------------------------------------------------ the end

    def undelivered(self) -> int:
        with self._cond:
            return len(self._heap) + len(self._inflight)

    def drain(self, timeout: float) -> None:
        """Until every message is delivered or given up, or `timeout` has passed."""
        end = time.monotonic() + timeout
        while self.undelivered() and time.monotonic() < end:
            time.sleep(0.05)

    def close(self) -> None:
        """No more attempts from this cockpit: what is left is recorded undelivered (the
        next resume or `cockpit notify --flush` sends it)."""
        with self.core.turn:
            with self._cond:
                if self._closing:
                    return
                self._closing = True
                left = [job for _due, _n, job in self._heap] + list(self._inflight.values())
                self._heap.clear()
                self._inflight.clear()
                self._cond.notify_all()
                for lane in list(self._lanes.values()):
                    lane.put(None)  # its thread ends
            if self._event in self.core.listeners:
                self.core.listeners.remove(self._event)
            for job in left:
                self.core.append(records.NoticeSent(
                    destination=job.dest.name, message=job.moment.id, moment=job.moment.kind,
                    outcome="undelivered", detail=(job.last or "not tried yet") + UNDELIVERED))
