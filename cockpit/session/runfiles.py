"""The files of one run of a step in the session's `steps/` folder: the log (the evidence),
the claim, the supervisor's spec, its start and exit records and its stderr."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cockpit.session.runrecords import ExitRecord
from cockpit.session.state import SessionState


@dataclass(frozen=True)
class RunFiles:
    folder: Path
    run: str

    @property
    def log(self) -> Path:
        """The session's own copy of the step's output: the evidence."""
        return self.folder / f"{self.run}.log"

    @property
    def claim(self) -> Path:
        """Created once, exclusively: by the supervisor before it starts the child, or by
        a resume that finds neither — then the run never started, and never will."""
        return self.folder / f"{self.run}.claim"

    @property
    def spec(self) -> Path:
        return self.folder / f"{self.run}.spec.json"

    @property
    def started(self) -> Path:
        return self.folder / f"{self.run}.run.json"

    @property
    def record(self) -> Path:
        return self.folder / f"{self.run}.exit.json"

    @property
    def err(self) -> Path:
        return self.folder / f"{self.run}.err"

    @property
    def radar(self) -> Path:
        """The lock radar's samples, one JSON line a second, while the run lasts."""
        return self.folder / f"{self.run}.radar.jsonl"

    @property
    def radar_spec(self) -> Path:
        return self.folder / f"{self.run}.radar.spec.json"

    @property
    def radar_done(self) -> Path:
        """Written by the watcher when it has stopped: its samples are complete."""
        return self.folder / f"{self.run}.radar.done.json"

    @property
    def stop_request(self) -> Path:
        """Written by the watcher when a lock_queue rule trips: the rule and why; the
        supervisor, signalled, stops the child as an abort rule's match does."""
        return self.folder / f"{self.run}.stop-request.json"

    @property
    def operator_stop(self) -> Path:
        """Windows: the cockpit's request to stop the run (a halt, a cancel), which POSIX
        sends as SIGTERM; the supervisor looks for it every tick."""
        return self.folder / f"{self.run}.operator-stop.json"

    @property
    def revisions(self) -> Path:
        """A `per_revision` run's plan: each revision's command, in order (revisions.py)."""
        return self.folder / f"{self.run}.revisions.json"

    @property
    def revisions_done(self) -> Path:
        """What the plan's runner did: the revisions committed, where it stopped and why."""
        return self.folder / f"{self.run}.revisions.done.json"

    @property
    def pause(self) -> Path:
        """The operator's request to stop after the revision now running."""
        return self.folder / f"{self.run}.pause"

    def exit_record(self) -> ExitRecord | None:
        """How the run ended, once its supervisor (or the cockpit in its place) wrote it."""
        return ExitRecord.read(self.record)


def running_files(folder: Path, state: SessionState) -> tuple[str, RunFiles] | None:
    """The running step of a session folder's state and its run's files, if one runs."""
    step_id = state.running_step()
    if step_id is None:
        return None
    return step_id, RunFiles(folder / "steps", state.steps[step_id].run or "")
