"""`cockpit`'s entry point: parse, call the command's function with its keyword arguments,
and turn what a user can cause into one message and the exit code docs/commands.md gives
it; a traceback only with `--debug`."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path
from typing import Any

from cockpit.cli.console import err
from cockpit.cli.parser import build_parser


def utf8_streams() -> None:
    """On Windows, stdout and stderr redirected (a pipe, a file) take the ANSI code page, and
    printing a step's non-ASCII line would end the run: write UTF-8 there, as a console is."""
    if os.name != "nt":
        return
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.encoding.lower() not in ("utf-8",
                                                                                   "utf8"):
            stream.reconfigure(encoding="utf-8", errors="replace")


def main(argv: Sequence[str] | None = None) -> int:
    utf8_streams()
    options = vars(build_parser().parse_args(argv))
    debug = options.pop("debug")
    options.pop("command")
    function = command_function(options.pop("calls"))
    from cockpit.engine.hangup import EXIT_HANGUP, HangUp

    try:
        return int(function(**options))
    except HangUp:  # the terminal went away: everything is closed; nobody to tell
        return EXIT_HANGUP
    except KeyboardInterrupt:
        err("cockpit: interrupted")
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): stop as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the last flush too
        return 141  # 128 + SIGPIPE, as a shell reports it
    except Exception as exc:
        if debug:
            raise
        return failed(exc)


def command_function(calls: str) -> Callable[..., Any]:
    """The function "module:name" names, looked up when the command runs."""
    module, name = calls.split(":")
    function: Callable[..., Any] = getattr(import_module(module), name)
    return function


def failed(exc: Exception) -> int:
    """One line on stderr for what went wrong, and its exit code."""
    from cockpit.errors import CockpitError

    if isinstance(exc, CockpitError):
        err(exc.message)
        return exc.exit_code
    import errno

    full = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))  # no EDQUOT on Windows
    if isinstance(exc, OSError) and exc.errno in full:  # disk full
        from cockpit.session.store import SessionWriteFailed

        err(SessionWriteFailed(Path(exc.filename or "."), exc).message)
        return 1
    err(f"cockpit: internal error: {masked(exc)} (run with --debug for the traceback)")
    return 1


def masked(exc: BaseException) -> str:
    """An unexpected error's text, with any password it might quote masked."""
    import re

    from cockpit.engine.setup import environment_secrets
    from cockpit.session.redact import Redactor

    text = f"{type(exc).__name__}: {exc}"
    text = re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)
    # libpq's quoting: password='it\'s a pass' is one value
    text = re.sub(r"(?i)(password\s*=\s*)(?:'(?:[^'\\]|\\.)*'?|\S+)", r"\1***", text)
    return Redactor(environment_secrets(dict(os.environ))).redact_text(text)[:2000]
