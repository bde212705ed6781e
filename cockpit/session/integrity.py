"""Whether a file is still what the session recorded of it: its sha256 and size. `verify`,
the evidence and the mirror all ask; none of them ever changes the file."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def file_problem(path: Path, recorded_sha256: str, recorded_bytes: int | None = None
                 ) -> str | None:
    """What differs between a file and what the session recorded of it; None if nothing."""
    try:
        size = path.stat().st_size
        if recorded_bytes is not None and size != recorded_bytes:
            return f"{path} has {size:,} bytes; recorded {recorded_bytes:,}"
        actual = file_sha256(path)
    except FileNotFoundError:
        return f"{path} is missing (recorded sha256 {recorded_sha256})"
    except OSError as exc:
        return f"{path} cannot be read ({exc.strerror})"
    if actual != recorded_sha256:
        return (f"{path} sha256 {actual} differs from the recorded {recorded_sha256} "
                "(changed after it was written)")
    return None
