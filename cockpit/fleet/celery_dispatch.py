"""Dispatch beyond one machine: each target a Celery task, taken by a worker host
(`cockpit fleet worker --queue NAME`) over a Redis broker, the infrastructure many Alembic
applications run already — an existing engine, never a scheduler of our own. Imported only
when a fleet's dispatch is `celery` (the optional extra `cockpit[fleet]`).

Configured for long tasks: a target's message is acknowledged when the target ends, not
when it starts; a worker lost mid-target puts it back, and after the visibility timeout
(longer than the longest target) another worker takes it. That worker runs the same
`cockpit fleet target FLEET NAME`: the target's session takes it up where it stood — a
duplicate delivery waits on the target's lock, and a lock left on a lost host is taken over
only once its lease and its step's heartbeat have expired."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import Celery  # type: ignore[import-untyped]
from celery.result import AsyncResult  # type: ignore[import-untyped]
from celery.utils.log import get_task_logger  # type: ignore[import-untyped]

from cockpit.fleet.celery_watch import Holder, Sent, look
from cockpit.fleet.folder import console_file, end_file, target_folder
from cockpit.fleet.local import TARGET_COMMAND, DispatchTrouble, Ended, Note, last_line
from cockpit.fleet.outcome import session_now
from cockpit.fleet.takeover import held_by_a_live_cockpit
from cockpit.session.layout import EVENTS
from cockpit.session.lock import read_lock_info

TASK = "cockpit.fleet.target"
DEFAULT_QUEUE = "cockpit"
LOG = get_task_logger(__name__)
RETRY_S = 2.0  # a broker found down is asked again after this long, not at every poll
LOOK_S = 0.5  # how often the running targets' ends and signs of life are read


def make_app(broker: str, visibility_s: float) -> Celery:
    app = Celery("cockpit", broker=broker, backend=broker)
    # A lost worker's messages come back once the visibility timeout passed: kombu looks
    # for them every `unacked_restore_interval` s (its default, 10 s x a throttle of 10,
    # would add up to 100 s), here a tenth of the timeout, between 1 s and 60 s.
    options: dict[str, float] = {
        "visibility_timeout": visibility_s,
        "unacked_restore_interval": max(1.0, min(60.0, visibility_s / 10)),
        "unacked_restore_throttle": 1}
    app.conf.update(
        task_acks_late=True,  # acknowledged at the target's end: a lost worker's goes back
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a worker takes a target only when it has a slot
        broker_transport_options=options,
        result_backend_transport_options=options,
        task_track_started=True,
        task_default_queue=DEFAULT_QUEUE,
        result_expires=7 * 86400,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0,
                                   "interval_step": 0.5, "interval_max": 1},
        redis_socket_connect_timeout=2,  # a broker gone is said in seconds, not minutes
        broker_connection_timeout=2,
    )
    app.task(name=TASK, bind=True)(run_target)
    return app


def run_target(task: Any, fleet: str, name: str) -> int:
    """On the worker: the target's own cockpit, its output to the fleet's console file (on
    the storage every host reaches); its exit code is the task's result, and is written
    beside the console too — the fleet reads it there when the broker lost its results."""
    redelivered = bool((task.request.delivery_info or {}).get("redelivered"))
    # the worker's own log names the target, not only the task's id
    LOG.info("target %s of fleet %s%s", name, fleet, " (redelivered)" if redelivered else "")
    with open(console_file(Path(fleet), name), "ab") as out:
        out.write(f"-- worker {socket.gethostname()} (pid {os.getpid()}), task "
                  f"{task.request.id}{' redelivered' if redelivered else ''}\n".encode())
        out.flush()
        done = subprocess.run([sys.executable, *TARGET_COMMAND, fleet, name],
                              stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"}, check=False)
    LOG.info("target %s of fleet %s: its process ended, exit %s", name, fleet, done.returncode)
    path = end_file(Path(fleet), name)
    kept = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    kept.write_text(json.dumps({"task": task.request.id, "code": done.returncode,
                                "host": socket.gethostname()}))
    os.replace(kept, path)
    return done.returncode


class CeleryPool:
    """The fleet's side: each target sent as a task to its queue; its end read from the
    worker's end file on the shared storage, or from its session (decided, nobody holding
    it), else from Celery's result. The broker may go away and come back: said, never
    fatal. What a target shows meanwhile is `celery_watch.look`'s to judge."""

    name = "celery"

    def __init__(self, fleet: Path, app: Celery, queues: dict[str, str], visibility_s: float,
                 lease_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.fleet = fleet
        self.app = app
        self.queues = queues  # target -> its queue (default: DEFAULT_QUEUE)
        self.visibility_s = visibility_s
        self.lease_s = lease_s
        self.clock = clock
        self._sent: dict[str, Sent] = {}
        self._sizes: dict[str, int] = {}  # each session's events, as last read
        self._notes: list[Note] = []
        self._trouble: str | None = None
        self._tried_at = 0.0
        self._looked_at = -LOOK_S
        self._run: tuple[float, str | None] | None = None  # (when read, the broker's run id)

    def _send(self, target: str) -> str:
        queue = self.queues.get(target) or DEFAULT_QUEUE
        if self._trouble is not None and self.clock() - self._tried_at < RETRY_S:
            raise DispatchTrouble(self._trouble)
        try:
            sent = self.app.send_task(TASK, args=[str(self.fleet), target], queue=queue)
        except Exception as exc:  # kombu's and redis-py's errors alike
            raise DispatchTrouble(self._broker_down(exc)) from None
        self._broker_up()
        run = self._broker_run()
        known = self._sent.get(target)
        tasks = [*(known.tasks if known else []), sent.id]
        self._sent[target] = Sent(queue, tasks, run, self.clock())
        return f"celery task {sent.id} queue {queue}" + (f" broker-run {run}" if run else "")

    def dispatch(self, target: str) -> str:
        self._sent.pop(target, None)
        return self._send(target)

    def adopt(self, target: str, how: str) -> bool:
        """A task an earlier fleet process sent: followed again by its id — unless its end
        is on the storage already (then it is not running: its end is read now)."""
        words = how.split()
        if len(words) < 3 or words[:2] != ["celery", "task"]:
            return False
        if self._end_said(target, [words[2]]) is not None:
            return False
        run = words[words.index("broker-run") + 1] if "broker-run" in words[:-1] else None
        queue = words[words.index("queue") + 1] if "queue" in words[:-1] else DEFAULT_QUEUE
        self._sent[target] = Sent(queue, [words[2]], run, self.clock())
        return True

    @property
    def running(self) -> set[str]:
        return set(self._sent)

    def ended(self) -> list[Ended]:
        now = self.clock()
        if now - self._looked_at < LOOK_S:
            return []
        self._looked_at = now
        done = []
        for target, sent in list(self._sent.items()):
            code, finished = self._end_of(target, sent.tasks)
            if not finished:
                self._watch(target, sent)
                continue
            del self._sent[target]
            done.append(Ended(target, code, last_line(console_file(self.fleet, target))))
        return done

    def _end_said(self, target: str, tasks: list[str]) -> dict[str, Any] | None:
        try:
            said = json.loads(end_file(self.fleet, target).read_text())
        except (OSError, ValueError):
            return None
        return said if isinstance(said, dict) and said.get("task") in tasks else None

    def _end_of(self, target: str, tasks: list[str]) -> tuple[int | None, bool]:
        said = self._end_said(target, tasks)
        if said is not None:
            code = said.get("code")
            return (code if isinstance(code, int) else None), True
        if self._decided_and_free(target):  # ended by another hand (a person's resume)
            return None, True
        if self._trouble is not None and self.clock() - self._tried_at < RETRY_S:
            return None, False  # the broker was down a moment ago: asked again shortly
        try:
            result = AsyncResult(tasks[-1], app=self.app)
            if not result.ready():
                self._broker_up()
                return None, False
            code = result.result if result.successful() and isinstance(result.result, int) \
                else None
        except Exception as exc:  # the broker (and its results) unreachable: said, not fatal
            self._broker_down(exc)
            return None, False
        self._broker_up()
        return code, True

    def _decided_and_free(self, target: str) -> bool:
        folder = target_folder(self.fleet, target)
        try:
            size = (folder / EVENTS).stat().st_size
        except OSError:
            return False
        if self._sizes.get(target) == size or read_lock_info(folder):
            return False
        self._sizes[target] = size
        return session_now(folder) is not None

    def _watch(self, target: str, sent: Sent) -> None:
        folder = target_folder(self.fleet, target)
        info = read_lock_info(folder)
        holder = Holder(str(info.get("host", "?")), held_by_a_live_cockpit(folder, self.lease_s)) \
            if info else None
        said, again = look(target, sent, self.clock(), holder,
                           self._broker_run() if self._trouble is None else None,
                           self.visibility_s, self.lease_s)
        self._notes += [Note(line, target) for line in said]
        if not again:
            return
        try:
            state = AsyncResult(sent.tasks[-1], app=self.app).state
        except Exception as exc:
            self._broker_down(exc)
            return
        if state != "PENDING":  # a worker has it (or had it: the broker gives it back)
            return
        try:
            how = self._send(target)
        except DispatchTrouble:
            return
        self._notes.append(Note(f"{target}: sent again ({how})", target, how))

    def _broker_run(self) -> str | None:
        """The broker's run id (Redis's INFO server), read at most every RETRY_S: a new
        one means it restarted. None when it cannot be read."""
        now = self.clock()
        if self._run is not None and now - self._run[0] < RETRY_S:
            return self._run[1]
        run: str | None
        try:
            with self.app.connection_for_write() as connection:
                client = connection.default_channel.client
                # its first 12 digits: enough to tell a restart, short in a person's line
                run = str(client.info("server").get("run_id") or "")[:12] or None
        except Exception:  # an INFO refused (an ACL), or the broker away: not known
            run = None
        self._run = (now, run)
        return run

    def _broker_down(self, exc: Exception) -> str:
        said = (f"the Celery broker cannot be reached ({type(exc).__name__}); the targets "
                "on the workers go on; tried again until it answers")
        if self._trouble is None:
            self._notes.append(Note(said))
        self._trouble = said
        self._tried_at = self.clock()
        return said

    def _broker_up(self) -> None:
        if self._trouble is not None:
            self._trouble = None
            self._notes.append(Note("the Celery broker answers again"))

    def notes(self) -> list[Note]:
        said, self._notes = self._notes, []
        return said

    def close(self) -> None:
        """Nothing is revoked: a target runs to its end (or its next step, after a halt)."""


def worker_argv(queue: str, concurrency: int) -> list[str]:
    """The worker's arguments: threads (each target is a process of its own anyway)."""
    return ["worker", "--queues", queue, "--concurrency", str(concurrency), "--pool",
            "threads", "--loglevel", "INFO", "--without-gossip", "--without-mingle"]
