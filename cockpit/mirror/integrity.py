"""Is a finished step's log still what its supervisor recorded? A mirror shows a log that is
not as damaged (what differs, and where); it never rewrites, trims or re-hashes it into
agreement."""

from __future__ import annotations

from pathlib import Path

from cockpit.evidence.manifest import file_sha256
from cockpit.session.state import SessionState


def log_damage(path: Path, recorded_bytes: int | None, recorded_sha256: str | None) -> str | None:
    """What is wrong with the log, or None when it is as recorded."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return f"{path} is missing (the supervisor recorded {recorded_bytes} bytes)"
    except OSError as exc:
        return f"{path} cannot be read ({exc.strerror})"
    if recorded_bytes is not None and size != recorded_bytes:
        return f"{path} has {size:,} bytes; the supervisor recorded {recorded_bytes:,}"
    if recorded_sha256 is not None:
        try:
            actual = file_sha256(path)
        except OSError as exc:
            return f"{path} cannot be read ({exc.strerror})"
        if actual != recorded_sha256:
            return (f"{path}: sha256 {actual[:16]}… differs from the recorded "
                    f"{recorded_sha256[:16]}… (changed after it was written)")
    return None


def finished_logs(state: SessionState) -> dict[str, tuple[Path, int | None, str | None]]:
    """step id -> (log, recorded bytes, recorded sha256) for every step whose run ended."""
    return {step_id: (Path(s.log), s.bytes, s.sha256) for step_id, s in state.steps.items()
            if s.log and s.sha256 is not None and s.status != "running"}
