"""The runbook's destinations made ready to send: each webhook's URL read from the variable
the runbook names (a secret from then on), and the environment a notification command runs
in — without the DSN variables, PGPASSWORD, the webhook URLs or any value holding a secret."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from cockpit.errors import CockpitError
from cockpit.runbook.model import EnvVar, Runbook
from cockpit.runbook.notify import Notify


@dataclass(frozen=True)
class Destination:
    spec: Notify
    url: str | None  # a webhook's: a secret
    ca_file: Path | None

    @property
    def name(self) -> str:
        return self.spec.name


def destinations(notify: Sequence[Notify], env: Mapping[str, str], workdir: Path,
                 only: str | None = None) -> list[Destination]:
    """Each destination with its URL, or a CockpitError naming what is missing and the fix
    (a destination cannot be sent to silently: refused before anything starts)."""
    chosen = [d for d in notify if only is None or d.name == only]
    if only is not None and not chosen:
        named = ", ".join(d.name for d in notify) or "none"
        raise CockpitError(f"no notify destination '{only}' (there are: {named})")
    found = []
    for dest in chosen:
        url = None
        if dest.url_env is not None:
            url = env.get(dest.url_env, "").strip()
            if not url:
                raise CockpitError(
                    f"notify destination '{dest.name}': ${dest.url_env} is not set (or "
                    f"empty) — export its {dest.kind} webhook URL in {dest.url_env} (the "
                    "runbook names the variable, never the URL) and run again")
            if not _http_url(url):  # never quoted: it holds the token
                raise CockpitError(f"notify destination '{dest.name}': ${dest.url_env} holds "
                                   "no http(s) URL — set it to the webhook's URL")
        ca = (workdir / dest.ca_file) if dest.ca_file else None
        if ca is not None and not ca.is_file():
            raise CockpitError(f"notify destination '{dest.name}': its ca_file {ca} is not "
                               "there — put the CA's PEM file there or fix `ca_file`")
        found.append(Destination(dest, url, ca))
    return found


def _http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("https", "http") and bool(parts.hostname)
    except ValueError:  # a malformed one (an unclosed IPv6 bracket, a bad port)
        return False


def url_secrets(found: Iterable[Destination]) -> list[str]:
    """What of each URL is its token: the whole URL, its path and query, each as written
    and decoded (an error message may quote a part)."""
    secrets: list[str] = []
    for dest in found:
        if dest.url is None:
            continue
        parts = urlsplit(dest.url)  # checked by _http_url: it splits
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        secrets += [dest.url, unquote(dest.url)]
        if len(tail.strip("/")) >= 8:  # a bare host has no token to hide
            secrets += [tail, unquote(tail)]
    return list(dict.fromkeys(secrets))


def command_env(notify: Sequence[Notify], dsn_vars: Iterable[str], env: Mapping[str, str],
                secrets: Iterable[str]) -> dict[str, str]:
    """The environment a notification command gets: the cockpit's, less every variable
    that is or holds a secret."""
    dropped = {"PGPASSWORD", "PGPASSFILE", *dsn_vars, *(d.url_env for d in notify if d.url_env)}
    hidden = [s for s in secrets if len(s) >= 4]
    return {k: v for k, v in env.items()
            if k not in dropped and not any(s in v for s in hidden)}


def dsn_vars(runbook: Runbook) -> list[str]:
    """The names of the runbook's DSN variables."""
    return [item.name for item in (runbook.setup.items if runbook.setup else [])
            if isinstance(item, EnvVar)]
