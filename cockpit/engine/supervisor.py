"""The step supervisor: a small process of our own that runs one command step, detached from
the cockpit, so that a crash of the UI neither kills a migration halfway nor stops the abort
rules from firing.

    python -m cockpit.engine.supervisor SPEC.json

It runs the command through the platform shell (stdout and stderr merged), reads its output
in large chunks, redacts every registered secret (passed in by environment, never written),
writes the log in order — the session's own copy, the evidence, and the same bytes at the
same time to the runbook's log path, a published copy — scans each complete line against
the abort rules, stops the child on a match (SIGINT so psycopg cancels the server statement,
then SIGTERM, then SIGKILL), and writes an exit record beside the log when the child ends.
It imports the standard library, RE2 (google-re2) and a few small modules of the engine and
the session that do the same — no pydantic, SQLAlchemy or Textual — so it starts fast. Its
spec and exit record are the typed ones of `session/runrecords.py`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.engine import procgroup
from cockpit.engine.abort import AbortScanner
from cockpit.engine.linestats import LineStats
from cockpit.engine.reserve import RecordReserve
from cockpit.session.fastre import compile_fast
from cockpit.session.modes import BINARY, file_mode, session_opener
from cockpit.session.redact import Redactor
from cockpit.session.replace import replace_file
from cockpit.session.runrecords import LOG_RULE, ExitRecord, RunSpec
from cockpit.session.safefs import UnsafePath, create_named

if TYPE_CHECKING:
    from cockpit.engine.winjob import StepJob

SECRETS_ENV = "COCKPIT_SECRETS"  # JSON list of strings, for redaction; removed for the child
CHUNK = 1 << 20
PIPE_SIZE = 1 << 20  # Linux's default pipe-max-size: the child may run 1 MiB ahead
TICK = 0.05  # seconds: how long a partial line may wait before it is written
HEARTBEAT_S = 1.0  # how often the run record's mtime is touched while the child runs
LINE_SCAN_LIMIT = 1 << 16  # a "line" longer than this is scanned in pieces
MATCHED_LINE_LIMIT = 2000
LEFTOVER_GRACE = 10.0  # seconds between TERM and KILL for processes a step leaves behind


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def empty_log(log: Path) -> None:
    """The empty log of a run that printed nothing: as private as its session folder."""
    log.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_EXCL | BINARY, file_mode(log.parent)))


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    try:  # a write that fails (a full disk) leaves no half-written temp file
        with open(temp, "w", encoding="utf-8", opener=session_opener) as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        replace_file(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if os.name != "nt":
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class StepRun:
    """One run of one command, from spawn to exit record."""

    def __init__(self, spec: RunSpec, secrets: list[str]) -> None:
        self.spec = spec
        self.redactor = Redactor(secrets)
        self.scanner = AbortScanner(spec.rules)
        # One RE2 pass over each block of lines for "any secret or any abort rule here?";
        # the usual answer, no, then costs one scan instead of two.
        both = [p for p in (self.redactor.pattern, self.scanner.pattern) if p]
        self.quick = compile_fast(b"|".join(b"(?:" + p + b")" for p in both)) \
            if len(both) == 2 else None
        self.grace = float(spec.grace)
        # The step's hard limit: reaching it stops the command as an abort rule's match does.
        self.timeout: float | None = spec.timeout
        self.sha = hashlib.sha256()
        self.bytes = 0
        # lines written, and the last that is not blank, for the record: often the error
        self.stats = LineStats(MATCHED_LINE_LIMIT)
        self.pending = b""  # output not yet written: the current partial line
        # the written head of the current line, for the abort scan (bounded: scanned and
        # let go of beyond LINE_SCAN_LIMIT; kept only where there are rules to scan)
        self.line_start = b""
        self.abort: dict[str, Any] | None = None
        self.log_error: str | None = None  # why the log could not be written: no more is
        self.unwritten = 0  # bytes the child printed that the log could not take
        self.reserve: RecordReserve | None = None  # the exit record's space, held
        self.kill_plan: list[tuple[float, int]] = []
        self.signalled: list[str] = []  # the signals sent to the child's group, in order
        self.log_fd = -1
        self.publish_fd = -1  # the published copy; given up (never the log) if it fails
        self.publish_error: str | None = None
        self.requested = False  # the radar's watcher asked for a stop (SIGUSR1)
        self.request_taken = self.stop_taken = False  # Windows: each request file, once

    # ------------------------------------------------------------------ output path

    def _write(self, data: bytes) -> None:
        if self.log_error is not None:  # output that cannot be kept goes nowhere else
            self.unwritten += len(data)
            return
        written, error = _write_some(self.log_fd, data)
        kept = data if written == len(data) else data[:written]
        if self.publish_fd >= 0 and kept:
            try:
                _write_all(self.publish_fd, kept)
            except OSError as exc:  # a full disk there must not cost the evidence
                self._stop_publishing(f"writing failed after {self.bytes:,} bytes: {exc}")
        self.sha.update(kept)
        self.bytes += len(kept)
        self.stats.take(kept)
        if error is not None:
            self.unwritten += len(data) - written
            self._log_failed(error, "writing")

    def _log_failed(self, error: OSError, doing: str) -> None:
        """The log (or the run's own record) cannot be written — a full disk: the output
        from now on could not be kept as evidence, so the command is stopped as an abort
        rule's match stops it, and the record says why."""
        self.log_error = f"{doing} failed after {self.bytes:,} bytes: {error.strerror or error}"
        if self.abort is None:
            self._abort(self.spec.log_rule or LOG_RULE,
                        f"the step's log could not be kept ({self.log_error}); the command "
                        "was stopped: its output would not be evidence".encode())

    def _scan(self, complete: bytes) -> None:
        head, self.line_start = self.line_start, b""
        if self.abort is not None or not self.scanner:
            return
        found = self.scanner.search(head + complete)
        if found is not None:
            rule, line = found
            self._abort(rule, line)

    def feed(self, chunk: bytes) -> None:
        """Take child output: write every complete line now, redacted and scanned."""
        self.pending += chunk
        if self.redactor.spans_lines:
            self._feed_masked_first()
            return
        cut = self.pending.rfind(b"\n")
        if cut < 0:
            if len(self.pending) > LINE_SCAN_LIMIT:
                self.flush_partial()
            return
        complete, self.pending = self.pending[: cut + 1], self.pending[cut + 1 :]
        if self.quick is not None and self.abort is None \
                and self.quick.search(self.line_start + complete) is None:
            self._write(complete)  # no secret to mask, no rule matched: nothing more to do
            self.line_start = b""
        else:
            complete = self.redactor.redact(complete) if self.redactor else complete
            self._write(complete)
            self._scan(complete)

    def _feed_masked_first(self) -> None:
        """A secret holding a line break: masked in all that has come, and the lines written
        only up to where a secret still arriving could start."""
        data = self.redactor.redact(self.pending, more=True)
        cut = data.rfind(b"\n", 0, max(len(data) - (self.redactor.longest - 1), 0))
        if cut < 0:
            self.pending = data
            if len(data) > LINE_SCAN_LIMIT:
                self.flush_partial()
            return
        complete, self.pending = data[: cut + 1], data[cut + 1 :]
        self._write(complete)
        self._scan(complete)

    def flush_partial(self, final: bool = False) -> None:
        """Write a partial line that has waited long enough — except the bytes that could be
        the start of a secret still arriving (all of it at the end)."""
        if not self.pending:
            return
        # not final: the line goes on, so its end here is no cut that ends a record
        data = self.redactor.redact(self.pending, more=not final) if self.redactor \
            else self.pending
        keep = 0 if final else max(self.redactor.longest - 1, 0)
        if len(data) <= keep:
            return
        head, self.pending = (data, b"") if keep == 0 else (data[:-keep], data[-keep:])
        self._write(head)
        if self.scanner and self.abort is None:
            self.line_start += head
        if final or len(self.line_start) > LINE_SCAN_LIMIT:
            self._scan(b"")

    def _stop_publishing(self, why: str) -> None:
        self.publish_error = why
        if self.publish_fd >= 0:
            os.close(self.publish_fd)
            self.publish_fd = -1

    def _open_published(self, path: Path, workdir: Path) -> None:
        try:
            # Not through a link, the folders on its way neither (they are made as needed);
            # O_EXCL: the cockpit moved any earlier file away; another writer is not ours.
            self.publish_fd = create_named(workdir, path, 0o644)
        except UnsafePath as exc:
            self._stop_publishing(f"cannot be created: {exc.message}")
        except OSError as exc:
            self._stop_publishing(f"cannot be created: {exc}")

    # ------------------------------------------------------------------ stopping

    def _abort(self, rule: str, line: bytes) -> None:
        text = line.decode("utf-8", errors="replace")[:MATCHED_LINE_LIMIT]
        self.abort = {"rule": rule, "line": text, "at": utc_now()}
        now = time.monotonic()
        self.kill_plan = [(now, signal.SIGINT), (now + self.grace, signal.SIGTERM),
                          (now + 2 * self.grace, getattr(signal, "SIGKILL", signal.SIGTERM))]

    def _signal_due(self, child: subprocess.Popen[bytes]) -> None:
        # The whole process group, not only the shell: the migration may be its grandchild.
        now = time.monotonic()
        while self.kill_plan and self.kill_plan[0][0] <= now:
            _, sig = self.kill_plan.pop(0)
            if group_alive(child):
                if signal_group(child, sig):
                    self.signalled.append(signal.Signals(sig).name)
                else:  # never delivered: the next way is due now, not after the grace
                    self.signalled.append(f"{signal.Signals(sig).name} (not delivered)")
                    self.kill_plan = [(now, later) for _, later in self.kill_plan]

    def stop_requested(self, *_: Any) -> None:
        """SIGUSR1: the lock radar's watcher asks for a stop (a lock_queue rule tripped);
        taken in the loop, where the request file is read."""
        self.requested = True

    def _look_for_requests(self) -> None:
        """Windows has no SIGUSR1 and no gentle SIGTERM: a stop is asked for by a file
        alone — the cockpit's (a halt, a cancel) or the radar's — looked for every TICK."""
        if not self.stop_taken and self.spec.operator_stop \
                and os.path.exists(self.spec.operator_stop):
            self.stop_taken = True
            self.stop()
        if not self.request_taken and self.spec.stop_request \
                and os.path.exists(self.spec.stop_request):
            self.requested = True

    def _take_request(self) -> None:
        self.requested = False
        if self.abort is not None or not self.spec.stop_request:
            return
        try:
            request = json.loads(Path(self.spec.stop_request).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        self.request_taken = True
        self._abort(str(request.get("rule", "lock_queue")),
                    str(request.get("line", "lock queue")).encode())

    def stop(self, *_: Any) -> None:
        """Asked to stop (SIGTERM to the supervisor): stop the child the gentle way first."""
        self.timeout = None  # stopped by the operator: no timeout is recorded after this
        if not self.kill_plan:
            now = time.monotonic()
            self.kill_plan = [(now, signal.SIGINT), (now + self.grace, signal.SIGTERM),
                              (now + 2 * self.grace, getattr(signal, "SIGKILL", signal.SIGTERM))]

    # ------------------------------------------------------------------ the run

    def _not_run(self, spec: RunSpec, why: str) -> ExitRecord:
        """The exit record of a run whose command never started: an empty log, failed."""
        log = Path(spec.log)
        empty_log(log)
        now = utc_now()
        record = ExitRecord.of(
            run=spec.run, step=spec.step, log=str(log), published=None, publish_error=None,
            not_run=why, exit_code=-int(signal.SIGTERM), abort=None, bytes=0, lines=0,
            sha256=hashlib.sha256().hexdigest(), started_at=now, ended_at=now, child_pid=None,
            supervisor_pid=os.getpid(), last_line=why)
        write_json_atomic(Path(spec.record), record.to_json())
        return record

    def claim(self) -> bool:
        """Take the run before anything starts; False if it is taken (a resume voided it:
        the cockpit has recorded that this run never started, so it must not)."""
        return not self.spec.claim or take_claim(
            Path(self.spec.claim), {"supervisor_pid": os.getpid()})

    def reserve_record(self) -> None:
        """Hold the exit record's space before anything starts (OSError: a full disk)."""
        self.reserve = RecordReserve(Path(self.spec.record))
        self.reserve.take()

    def drop_reserve(self) -> None:
        if self.reserve is not None:
            self.reserve.drop()

    def _write_record(self, record: ExitRecord) -> None:
        if self.reserve is None or self.reserve.fd < 0:
            write_json_atomic(Path(self.spec.record), record.to_json())
        else:
            self.reserve.write(record.dumped())

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop(SECRETS_ENV, None)
        env["PYTHONUNBUFFERED"] = "1"
        if os.name == "nt":
            # A Windows Python writes a pipe in the ANSI code page: non-ASCII output fails
            # (UnicodeEncodeError) or is mangled, and a secret in it slips past the redactor.
            env.setdefault("PYTHONUTF8", "1")
        return env

    def _pump(self, child: subprocess.Popen[bytes], chunks: ChunkReader) -> None:
        """Read the child's output until its end (the child gone and the pipe quiet),
        keeping its timeout and taking stop requests on the way."""
        spec = self.spec
        exited_at: float | None = None
        deadline = time.monotonic() + self.timeout if self.timeout else None
        beat = 0.0
        while True:
            if time.monotonic() - beat >= HEARTBEAT_S:  # alive, for a cockpit on another host
                beat = time.monotonic()
                with contextlib.suppress(OSError):
                    os.utime(spec.started)
            if self.timeout and deadline and self.abort is None and time.monotonic() > deadline:
                self._abort(spec.timeout_rule, f"no end within {spec.timeout_text} (the "
                            "step's timeout)".encode())
            if os.name == "nt":
                self._look_for_requests()
            if self.requested:
                self._take_request()
            chunk = chunks.get(TICK)
            if chunk is None:
                self.flush_partial()
            if chunk == b"":
                return
            if chunk:
                self.feed(chunk)
            self._signal_due(child)
            if child.poll() is not None:
                exited_at = exited_at or time.monotonic()
                # A grandchild may hold the pipe open after the child is gone.
                idle = time.monotonic() - exited_at > 2.0 and chunks.empty()
                if idle and not (self.kill_plan and group_alive(child)):
                    return

    def run(self) -> ExitRecord:
        spec = self.spec
        env = self._child_env()
        if self.kill_plan:  # stopped (a halt) between its claim and now: start nothing
            not_run = self._not_run(spec, "stopped before the command started")
            self.drop_reserve()
            return not_run
        log = Path(spec.log)
        log.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: a log is evidence; an earlier one is never overwritten.
        self.log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | BINARY,
                              file_mode(log.parent))
        if spec.publish:
            self._open_published(Path(spec.publish), Path(spec.publish_root or spec.cwd))
        started_at = utc_now()
        child = subprocess.Popen(
            spec.command, shell=True, cwd=spec.cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **group_kwargs(),
        )
        try:
            write_json_atomic(Path(spec.started), {
                "run": spec.run, "step": spec.step, "supervisor_pid": os.getpid(),
                "child_pid": child.pid, "started_at": started_at,
            })
        except OSError as exc:  # a full disk already: nothing it prints could be kept
            self._log_failed(exc, "writing its run record")
        assert child.stdout is not None
        self._pump(child, ChunkReader(child.stdout.fileno()))
        self.flush_partial(final=True)
        while child.poll() is None or (self.kill_plan and group_left(child)):
            self._signal_due(child)
            time.sleep(TICK)
        left, stopped_with = self._stop_leftovers(child)
        try:
            os.fsync(self.log_fd)
        except OSError as exc:  # the disk could not keep what was written
            if self.log_error is None:
                self._log_failed(exc, "saving")
        os.close(self.log_fd)
        if self.publish_fd >= 0:
            os.close(self.publish_fd)
        record = ExitRecord.of(
            run=spec.run, step=spec.step, log=str(log), published=spec.publish,
            publish_error=self.publish_error, exit_code=child.returncode, abort=self.abort,
            bytes=self.bytes, lines=self.stats.lines, sha256=self.sha.hexdigest(),
            started_at=started_at, ended_at=utc_now(), child_pid=child.pid,
            supervisor_pid=os.getpid(), signalled=self.signalled,
            last_line=self.stats.last_line.decode("utf-8", errors="replace"),
            log_error=self.log_error, unwritten=self.unwritten,
            leftover=[{"pid": m.pid, "command": m.command}
                      for m in left[:procgroup.LISTED_LIMIT]],
            leftover_count=len(left), leftover_signalled=stopped_with)
        self._write_record(record)
        return record

    def _stop_leftovers(self, child: subprocess.Popen[bytes]
                        ) -> tuple[list[procgroup.Member], list[str]]:
        """Processes still in the step's group once its command has ended (and any stop
        of it is done): listed, then stopped, TERM then KILL."""
        if os.name == "nt":
            return self._stop_job_leftovers()
        left = procgroup.members(child.pid)
        if not left:
            return [], []
        return left, procgroup.stop_group(child.pid, procgroup.term_then_kill(LEFTOVER_GRACE))


    def _stop_job_leftovers(self) -> tuple[list[procgroup.Member], list[str]]:
        if _job is None:  # the child alone was known
            return [], []
        left = [procgroup.Member(pid, _command(pid)) for pid in _job.members()]
        if not left:
            return [], []
        _job.terminate()
        return left, ["SIGKILL"]


def _command(pid: int) -> str:
    import psutil  # Windows only: the supervisor's start stays light

    try:
        return " ".join(psutil.Process(pid).cmdline())[:200]
    except psutil.Error:
        return "?"


def take_claim(path: Path, content: dict[str, Any]) -> bool:
    """Create `path` exclusively with `content`; False if it exists (someone claimed it)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | BINARY, file_mode(path.parent))
    except FileExistsError:
        return False
    try:
        os.write(fd, json.dumps(content).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _write_some(fd: int, data: bytes) -> tuple[int, OSError | None]:
    """Write as much of `data` as the file takes: (bytes written, the error that stopped
    it) — a full disk takes part of a write, then refuses the rest."""
    view, done = memoryview(data), 0
    while done < len(data):
        try:
            done += os.write(fd, view[done:])
        except OSError as exc:
            return done, exc
    return done, None


class ChunkReader:
    """The child's output as it comes, in large chunks: `get` waits up to `timeout` and
    gives a chunk, None (nothing yet) or b"" (the end). On POSIX the pipe is waited on
    directly and enlarged (fewer, larger reads; the child blocks less); Windows cannot wait
    on a pipe, so a thread reads it into a queue."""

    def __init__(self, fd: int, os_name: str = os.name) -> None:
        self.fd = fd
        self.queue: queue.Queue[bytes] | None = None
        self.ended = False
        if os_name == "nt":
            self.queue = queue.Queue(maxsize=64)
            threading.Thread(target=self._pump, daemon=True).start()
            return
        os.set_blocking(fd, False)
        try:
            import fcntl

            fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_SIZE)
        except (ImportError, OSError):  # not Linux, or above the system's pipe-max-size
            pass

    def _pump(self) -> None:
        assert self.queue is not None
        while True:
            chunk = _read(self.fd) or b""  # a blocking pipe: never "nothing now"
            self.queue.put(chunk)
            if not chunk:
                return

    def get(self, timeout: float) -> bytes | None:
        if self.ended:
            return b""
        chunk: bytes | None
        if self.queue is not None:
            try:
                chunk = self.queue.get(timeout=timeout)
            except queue.Empty:
                return None
        else:
            chunk = _read(self.fd)
            if chunk is None:
                if not select.select([self.fd], [], [], timeout)[0]:
                    return None
                chunk = _read(self.fd)
                if chunk is None:
                    return None
        self.ended = chunk == b""
        return chunk

    def empty(self) -> bool:
        """Nothing read and not yet given out (the queue's side; a pipe keeps its own)."""
        return self.queue is None or self.queue.empty()


def _read(fd: int) -> bytes | None:
    """One read of up to CHUNK bytes: b"" at the end (or a broken pipe), None if a
    non-blocking pipe has nothing now."""
    try:
        return os.read(fd, CHUNK)
    except BlockingIOError:
        return None
    except OSError:
        return b""


# Windows' values, so the Windows branches can be tested anywhere.
CREATE_NEW_PROCESS_GROUP = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x00000200)
CTRL_BREAK_EVENT = getattr(signal, "CTRL_BREAK_EVENT", 1)


def group_kwargs(os_name: str = os.name) -> dict[str, Any]:
    """The child leads a process group of its own, so one signal reaches all it started."""
    if os_name == "nt":
        return {"creationflags": CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


# On Windows, the job the supervisor and the step's processes are in (winjob.py); None where
# it could not be made (the child alone is then the group, and main() said so).
_job: StepJob | None = None


def group_alive(child: subprocess.Popen[bytes], os_name: str = os.name) -> bool:
    if os_name == "nt":
        return bool(_job.members()) if _job is not None else child.poll() is None
    try:
        os.killpg(child.pid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def group_left(child: subprocess.Popen[bytes], os_name: str = os.name) -> bool:
    """Whether anything of the child's group is still running — zombies aside, which only
    wait to be reaped (by init, which may take its time)."""
    if os_name == "nt":
        return bool(_job.members()) if _job is not None else child.poll() is None
    return bool(procgroup.members(child.pid))


def group_signal(sig: int, os_name: str = os.name) -> int:
    """What stands for `sig` on the platform: Windows' group-wide Ctrl+Break for SIGINT."""
    return CTRL_BREAK_EVENT if os_name == "nt" and sig == signal.SIGINT else sig


def signal_group(child: subprocess.Popen[bytes], sig: int, os_name: str = os.name) -> bool:
    """Send `sig` to the child's whole group; False if it could not be delivered (Windows:
    Ctrl+Break needs a console shared with the step, which the supervisor may lack)."""
    try:
        if os_name != "nt":
            os.killpg(child.pid, sig)
        elif sig == signal.SIGINT or _job is None:
            child.send_signal(group_signal(sig, os_name))
        else:  # TERM and KILL alike: TerminateProcess, for every process of the step
            _job.terminate()
    except (ProcessLookupError, PermissionError):
        pass
    except OSError:  # Windows: WinError 6, no console to send Ctrl+Break through
        return False
    return True


def _join_job() -> bool:
    """Windows: the supervisor in a job of its own, so the step's tree is known whole. False,
    said, when it cannot be: a timeout, an abort rule or a halt would then end the command's
    shell and leave the migration running, so the step is not started."""
    global _job
    from cockpit.engine.winjob import StepJob

    try:
        _job = StepJob()
    except OSError as exc:
        print(f"nothing was run: the step's processes could not be put in a job ({exc}), so "
              "a stop could not reach what the command starts", file=sys.stderr)
        return False
    return True


def main(argv: list[str]) -> int:
    spec = RunSpec.read(Path(argv[0]))
    secrets = json.loads(os.environ.get(SECRETS_ENV, "[]"))
    run = StepRun(spec, secrets)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, run.stop)
    signal.signal(signal.SIGINT, run.stop)
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, run.stop_requested)
    if os.name == "nt" and not _join_job():
        return 4
    try:
        run.reserve_record()
    except OSError as exc:  # a full disk: the run could not even say how it ended
        print(f"run {spec.run}: no room for its exit record ({exc.strerror or exc}); "
              "nothing was run", file=sys.stderr)
        return 4
    try:
        claimed = run.claim()
    except OSError as exc:
        run.drop_reserve()
        print(f"run {spec.run}: its claim could not be written ({exc.strerror or exc}); "
              "nothing was run", file=sys.stderr)
        return 4
    if not claimed:
        run.drop_reserve()
        print(f"run {spec.run} was voided before it started; nothing was run",
              file=sys.stderr)
        return 3
    try:
        run.run()
    finally:
        run.drop_reserve()  # a run that failed before its record gives its space back
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
