"""What the commands print: exact UTF-8 bytes on stdout, one-line notes on stderr."""

from __future__ import annotations

import sys


def out(text: str) -> None:
    """Exact bytes on stdout, whatever the terminal's encoding (transcripts are UTF-8)."""
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.buffer.flush()


def err(text: str) -> None:
    print(text, file=sys.stderr)
