"""One attempt to deliver one body: an HTTP POST (through the proxy the environment names,
checked against the destination's CA file if it has one) or a command given the body on
stdin. An attempt never raises: it answers how it went, in words without the URL."""

from __future__ import annotations

import email.utils
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from urllib.parse import urlsplit

BODY_SHOWN = 200  # of an answer's body, in the attempt's event: enough to say why
RETRY_AFTER_MAX = 300.0
# urllib's own reading of NO_PROXY (`*`, hosts, domain suffixes, ports), given the cockpit's
# environment rather than the process's; typeshed does not declare it
_BYPASS = getattr(urllib.request, "proxy_bypass_environment")  # noqa: B009  # a Retry-After longer than this is waited no longer


@dataclass(frozen=True)
class Answer:
    delivered: bool
    status: int | None  # the HTTP status, or the command's exit code
    detail: str
    retry_after: float | None = None  # the destination asked for this wait (429, 503)


def post(url: str, body: bytes, timeout: float, env: Mapping[str, str],
         ca_file: Path | None = None) -> Answer:
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "cutover-cockpit"})
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler(_proxies(url, env)),
        urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(request, timeout=timeout) as answer:
            text = answer.read(BODY_SHOWN).decode("utf-8", "replace")
            return Answer(True, answer.status, f"HTTP {answer.status} {text}".strip())
    except urllib.error.HTTPError as exc:
        text = exc.read(BODY_SHOWN).decode("utf-8", "replace") if exc.fp else ""
        return Answer(False, exc.code, f"HTTP {exc.code} {text}".strip(),
                      _retry_after(exc.headers.get("Retry-After")) if exc.code in (429, 503)
                      else None)
    except urllib.error.URLError as exc:
        return Answer(False, None, f"not reached: {_reason(exc.reason)}")
    except (OSError, HTTPException, ValueError) as exc:
        return Answer(False, None, f"not reached: {_reason(exc)}")


def _reason(reason: object) -> str:
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"TLS: {reason.verify_message}"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__


def _proxies(url: str, env: Mapping[str, str]) -> dict[str, str]:
    """The proxy the usual variables name for this URL (`HTTPS_PROXY`, `HTTP_PROXY`,
    `NO_PROXY`, upper or lower case), from the cockpit's environment."""
    def get(name: str) -> str:
        return env.get(name.lower()) or env.get(name.upper()) or ""

    parts = urlsplit(url)
    proxy = get(f"{parts.scheme}_proxy")
    if not proxy or _BYPASS(parts.netloc.rsplit("@", 1)[-1], {"no": get("no_proxy")}):
        return {}
    return {parts.scheme: proxy}


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (a number of them, or an HTTP date)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if value.strip() else None
        seconds = when.timestamp() - time.time() if when is not None else 0.0
    return min(max(seconds, 0.0), RETRY_AFTER_MAX)


def run_command(command: str, body: bytes, workdir: Path, env: Mapping[str, str],
                timeout: float) -> Answer:
    """The command, by the shell, the body on its stdin; exit 0 is delivered. On its
    timeout it is stopped with everything it started."""
    posix = sys.platform != "win32"
    if not workdir.is_dir():
        return Answer(False, None, f"not started: its working directory {workdir} is not there")
    try:
        child = subprocess.Popen(command, shell=True, cwd=workdir, env=dict(env),
                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, start_new_session=posix)
    except OSError as exc:
        return Answer(False, None, f"not started: {_reason(exc)}")
    try:
        _out, err = child.communicate(body, timeout=timeout)
    except subprocess.TimeoutExpired:
        if posix:
            os.killpg(child.pid, signal.SIGKILL)
        else:
            child.kill()
        child.communicate()
        return Answer(False, None, f"stopped after its timeout ({timeout:g} s)")
    said = err.decode("utf-8", "replace").strip()[-BODY_SHOWN:]
    return Answer(child.returncode == 0, child.returncode,
                  f"exit {child.returncode}" + (f": {said}" if said else ""))
