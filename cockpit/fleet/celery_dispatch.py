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

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from celery import Celery  # type: ignore[import-untyped]
from celery.result import AsyncResult  # type: ignore[import-untyped]

from cockpit.fleet.folder import console_file
from cockpit.fleet.local import TARGET_COMMAND, Ended, last_line

TASK = "cockpit.fleet.target"
DEFAULT_QUEUE = "cockpit"


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
    )
    app.task(name=TASK, bind=True)(run_target)
    return app


def run_target(task: Any, fleet: str, name: str) -> int:
    """On the worker: the target's own cockpit, its output to the fleet's console file (on
    the storage every host reaches); its exit code is the task's result."""
    redelivered = bool((task.request.delivery_info or {}).get("redelivered"))
    with open(console_file(Path(fleet), name), "ab") as out:
        out.write(f"-- worker {socket.gethostname()} (pid {os.getpid()}), task "
                  f"{task.request.id}{' redelivered' if redelivered else ''}\n".encode())
        out.flush()
        done = subprocess.run([sys.executable, *TARGET_COMMAND, fleet, name],
                              stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"}, check=False)
    return done.returncode


class CeleryPool:
    """The fleet's side: each target sent as a task to its queue, followed by its result."""

    name = "celery"

    def __init__(self, fleet: Path, app: Celery, queues: dict[str, str]) -> None:
        self.fleet = fleet
        self.app = app
        self.queues = queues  # target -> its queue (default: DEFAULT_QUEUE)
        self._tasks: dict[str, str] = {}

    def dispatch(self, target: str) -> str:
        queue = self.queues.get(target) or DEFAULT_QUEUE
        sent = self.app.send_task(TASK, args=[str(self.fleet), target], queue=queue)
        self._tasks[target] = sent.id
        return f"celery task {sent.id} queue {queue}"

    def adopt(self, target: str, how: str) -> bool:
        """A task an earlier fleet process sent: followed again by its id."""
        words = how.split()
        if len(words) < 3 or words[:2] != ["celery", "task"]:
            return False
        self._tasks[target] = words[2]
        return True

    @property
    def running(self) -> set[str]:
        return set(self._tasks)

    def ended(self) -> list[Ended]:
        done = []
        for target, task in list(self._tasks.items()):
            result = AsyncResult(task, app=self.app)
            if not result.ready():
                continue
            del self._tasks[target]
            code = result.result if result.successful() and isinstance(result.result, int) \
                else None
            done.append(Ended(target, code, last_line(console_file(self.fleet, target))))
        return done

    def close(self) -> None:
        """Nothing is revoked: a target runs to its end (or its next step, after a halt)."""


def worker_argv(queue: str, concurrency: int) -> list[str]:
    """The worker's arguments: threads (each target is a process of its own anyway)."""
    return ["worker", "--queues", queue, "--concurrency", str(concurrency), "--pool",
            "threads", "--loglevel", "INFO", "--without-gossip", "--without-mingle"]
