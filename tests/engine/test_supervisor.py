"""The step supervisor on real child processes: order, latency, redaction, stopping."""

from __future__ import annotations

import base64
import json
import os
import shlex
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

from cockpit.engine.launcher import launch, write_spec
from cockpit.session.redact import secret_forms
from cockpit.session.runfiles import RunFiles
from cockpit.session.runrecords import RunSpec
from tests.waiting import within

SECRET = "p@ss w0rd/%:+&'\"é~"


def run_child(tmp_path: Path, code: str, *, rules=(), secrets=(), grace=5.0,
              wait: bool = True, publish: Path | None = None,
              ) -> tuple[RunFiles, subprocess.Popen[bytes]]:
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(code))
    files = RunFiles(tmp_path, "step.1")
    write_spec(files, {"step": "step", "command": shlex.join([sys.executable, str(script)]),
                       "cwd": str(tmp_path), "log": str(tmp_path / "step.log"),
                       "publish": str(publish) if publish else None,
                       "rules": list(rules), "grace": grace})
    proc = launch(files, dict(os.environ), list(secrets))
    if wait:
        proc.wait(60)
    return files, proc


def test_every_byte_reaches_the_log_in_order(tmp_path: Path) -> None:
    files, _ = run_child(tmp_path, """
        import sys
        out = sys.stdout
        for i in range(200_000):
            out.write(f"line {i:06d} " + "x" * (i % 97) + "\\n")
            if i % 1000 == 0:
                out.write("partial-")  # a line written in two pieces
                out.flush()
                out.write("end\\n")
        sys.stderr.write("to stderr\\n")
        out.write("no newline at the end")
    """)
    expected = "".join(
        f"line {i:06d} " + "x" * (i % 97) + "\n" + ("partial-end\n" if i % 1000 == 0 else "")
        for i in range(200_000)) + "to stderr\nno newline at the end"
    log = (tmp_path / "step.log").read_bytes()
    assert log == expected.encode()
    record = files.exit_record()
    assert record is not None and record.exit_code == 0 and record.abort is None
    assert record.bytes == len(log) and record.lines == expected.count("\n") + 1
    import hashlib
    assert record.sha256 == hashlib.sha256(log).hexdigest()


def test_a_tail_sees_each_line_within_100_ms(tmp_path: Path) -> None:
    _files, proc = run_child(tmp_path, """
        import time
        for i in range(8):
            print(f"{time.time():.6f} line {i}", flush=True)
            time.sleep(0.25)
    """, wait=False)
    log, seen, offset = tmp_path / "step.log", {}, 0

    def tailed_all() -> bool:  # a tail reading every 5 ms: the delay measured is the log's
        nonlocal offset
        if log.exists():
            data = log.read_bytes()
            for line in data[offset:].decode().splitlines():
                seen[line] = time.time() - float(line.split()[0])
            offset = len(data)
        return len(seen) >= 8

    within(tailed_all, deadline_s=30, every_s=0.005)
    proc.wait(30)
    delays = sorted(seen.values())
    assert len(delays) == 8
    assert delays[len(delays) // 2] < 0.1, delays  # median
    assert delays[-1] < 0.25, delays


def test_secret_never_reaches_the_log_in_any_form(tmp_path: Path) -> None:
    forms = {
        "raw": SECRET, "quote": quote(SECRET, safe=""), "quote_slash": quote(SECRET),
        "quote_plus": quote_plus(SECRET), "sqlalchemy": quote(SECRET, safe=" +"),
        "ini": quote(SECRET, safe="").replace("%", "%%"), "json": json.dumps(SECRET)[1:-1],
        "repr": repr(SECRET)[1:-1], "b64": base64.b64encode(SECRET.encode()).decode(),
        "b64_inside": base64.b64encode(b"netzadmin:" + SECRET.encode() + b"@host").decode(),
        "b64_url": base64.urlsafe_b64encode(SECRET.encode()).decode(),
    }
    files, _ = run_child(tmp_path, f"""
        import sys, time
        forms = {forms!r}
        for name, text in forms.items():
            print(f"{{name}}: before {{text}} after", flush=True)
        # A secret that straddles two reads: half now, the rest a while later.
        secret = {SECRET!r}
        sys.stdout.write("split: " + secret[:5]); sys.stdout.flush(); time.sleep(0.3)
        sys.stdout.write(secret[5:] + " tail\\n"); sys.stdout.flush()
        sys.stdout.write("unterminated " + secret)
    """, secrets=[SECRET])
    log = (tmp_path / "step.log").read_bytes()
    for form in secret_forms(SECRET):
        assert form not in log, form
    for name in forms:
        assert f"{name}: before *** after".encode() in log or name.startswith("b64"), name
    assert b"b64_inside: before *** after" in log
    assert b"split: *** tail\n" in log and log.endswith(b"unterminated ***")
    assert files.exit_record().exit_code == 0


def test_the_published_copy_gets_the_same_bytes_and_matches_across_reads_are_caught(
        tmp_path: Path) -> None:
    published = tmp_path / "work" / "logs" / "upgrade.log"
    files, _ = run_child(tmp_path, f"""
        import sys, time
        secret = {SECRET!r}
        sys.stdout.write("split: " + secret[:5]); sys.stdout.flush(); time.sleep(0.3)
        sys.stdout.write(secret[5:] + " tail\\n"); sys.stdout.flush()
        sys.stdout.write("psycopg.errors.Duplicate"); sys.stdout.flush(); time.sleep(0.3)
        sys.stdout.write("Table: relation already exists\\n"); sys.stdout.flush()
        time.sleep(10)
        print("never printed: the abort stopped it", flush=True)
    """, secrets=[SECRET], rules=[{"id": "dup", "patterns": [r"\bDuplicateTable\b"]}],
        grace=0.5, publish=published)
    log = (tmp_path / "step.log").read_bytes()
    assert published.read_bytes() == log  # the same bytes, written at the same time
    assert b"split: *** tail\n" in log and SECRET.encode() not in log
    assert b"never printed" not in log
    record = files.exit_record()
    assert record.abort["rule"] == "dup" and "DuplicateTable" in record.abort["line"]
    assert record.published == str(published) and record.publish_error is None


def test_a_published_copy_that_cannot_be_written_costs_nothing_of_the_evidence(
        tmp_path: Path) -> None:
    (tmp_path / "blocked").write_text("a file where the log's folder should be\n")
    files, _ = run_child(tmp_path, "print('evidence', flush=True)",
                         publish=tmp_path / "blocked" / "x.log")
    assert (tmp_path / "step.log").read_text() == "evidence\n"
    record = files.exit_record()
    assert record.exit_code == 0 and "cannot be created" in record.publish_error


def test_abort_sends_sigint_then_escalates(tmp_path: Path) -> None:
    files, _ = run_child(tmp_path, """
        import os, signal, sys, time
        open("child.pid", "w").write(str(os.getpid()))
        def note(sig, frame):
            print("got", signal.Signals(sig).name, flush=True)
        signal.signal(signal.SIGINT, note)
        signal.signal(signal.SIGTERM, note)
        print("LockNotAvailable: canceling statement due to lock timeout", flush=True)
        for _ in range(200):
            time.sleep(0.05)
        print("never ignored long enough to get here", flush=True)
    """, rules=[{"id": "lock", "patterns": [r"\bLockNotAvailable\b"]}], grace=0.4)
    log = (tmp_path / "step.log").read_text()
    assert "got SIGINT" in log and "got SIGTERM" in log and "never" not in log
    record = files.exit_record()
    assert record.abort["rule"] == "lock" and record.exit_code < 0
    child_pids = [int(x) for x in (tmp_path / "child.pid").read_text().split()]
    for pid in child_pids:  # the python grandchild under the shell is gone too
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_log_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "step.log").write_text("evidence from before\n")
    files, proc = run_child(tmp_path, "print('new')")
    assert proc.returncode == 1  # the supervisor refused to open the log
    assert (tmp_path / "step.log").read_text() == "evidence from before\n"
    assert files.exit_record() is None and "FileExistsError" in files.err.read_text()


def test_one_combined_scan_still_catches_what_straddles_two_reads(tmp_path: Path) -> None:
    """The supervisor looks for "any secret or any rule" in one pass over each block of
    lines; a secret or a rule's match cut in two by the pipe, at any byte, is still masked
    and still stops the step — and clean lines around it are written as they came."""
    from cockpit.engine.supervisor import StepRun

    clean = b"".join(b"INFO  [alembic] Running upgrade %d -> %d\n" % (i, i + 1)
                     for i in range(50))
    hit = f"ERROR psycopg.errors.DuplicateTable: password {SECRET} rejected\n".encode()
    output = clean + hit + clean
    rules = [{"id": "dup", "patterns": [r"\bDuplicateTable\b"]}]
    start = len(clean)
    for cut in range(start, start + len(hit) + 1):
        run = StepRun(_spec(tmp_path, rules), [SECRET])
        assert run.quick is not None  # the combined pattern is in use
        log = tmp_path / f"cut{cut}.log"
        run.log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            run.feed(output[:cut])
            run.flush_partial()  # a pause between the two reads
            run.feed(output[cut:])
            run.flush_partial(final=True)
        finally:
            os.close(run.log_fd)
        written = log.read_bytes()
        assert SECRET.encode() not in written, cut
        assert written == output.replace(SECRET.encode(), b"***"), cut
        assert run.abort is not None and run.abort["rule"] == "dup", cut


def test_a_secret_holding_a_line_break_is_masked_wherever_the_pipe_cuts_it(
        tmp_path: Path) -> None:
    """A password may hold a line break (PostgreSQL takes any character): its two lines are
    masked together, wherever the reads fall — line by line, each half would pass."""
    from cockpit.engine.supervisor import StepRun

    secret = "Kv-\U000c7d49P\n2\x83p-é"
    output = b"before\n" + f"leak {secret} end\n".encode() + b"after\n"
    for cut in range(len(output) + 1):
        run = StepRun(_spec(tmp_path, []), [secret])
        log = tmp_path / f"cut{cut}.log"
        run.log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            run.feed(output[:cut])
            run.feed(output[cut:])
            run.flush_partial(final=True)
        finally:
            os.close(run.log_fd)
        written = log.read_bytes()
        assert written == b"before\nleak *** end\nafter\n", (cut, written)


def _spec(folder: Path, rules: list[dict[str, object]]) -> RunSpec:
    """A spec for a StepRun fed by hand (its command never runs)."""
    files = RunFiles(folder, "step.1")
    return RunSpec.of(step="step", command="", cwd=str(folder), log=str(files.log),
                      run=files.run, record=str(files.record), started=str(files.started),
                      rules=rules, grace=1.0)
