"""What a DSN names and which secrets it holds, in each form libpq takes: a URL
(`postgresql://`, or SQLAlchemy's `postgresql+psycopg://`), key=value pairs (with libpq's
quoting), and a service (`service=NAME` or PGSERVICE) whose entry in the service file holds
the rest. libpq's own parser (psycopg's `conninfo_to_dict`) reads the DSN; the service file
is an ini file, read as libpq reads it.
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

MASK = "***"


def is_url(dsn: str) -> bool:
    return "://" in dsn.split("=", 1)[0]


# Each character that ends a URL's user or password part unless percent-encoded: what libpq
# then reads, and how to write it.
_BREAKS = {
    "@": ("the URL's user part ends at it, so the rest of the password is read as the host",
          "%40"),
    "/": ("the URL's host ends at it, so the rest of the password is read as the database",
          "%2F"),
    "%": ("a '%' must start a percent-encoding (two hex digits), so libpq refuses the URL",
          "%25"),
}
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _first_break(text: str) -> str | None:
    """The first character of `text` that breaks a URL's credentials, if any."""
    spots = [(i, c) for c in "@/" if (i := text.find(c)) >= 0]
    if (bad := _BAD_PERCENT.search(text)) is not None:
        spots.append((bad.start(), "%"))
    return min(spots)[1] if spots else None


def url_fault(dsn: str) -> tuple[str, str] | None:
    """Why a URL's user or password breaks it — an un-encoded `%`, `@` or `/`, which libpq
    reads otherwise than the person meant — and the fix (the encoding to write), or None.
    The password is never quoted."""
    if not is_url(dsn):
        return None
    rest = dsn.partition("://")[2]
    at = rest.rfind("@")  # the last `@`: the one before the host, as the person meant it
    if at < 0:
        return None
    found = conninfo(dsn)
    if found is not None and "@" not in found.get("host", "") + found.get("dbname", ""):
        return None  # libpq reads it whole: an `@` further on is the query's, say
    user, colon, password = rest[:at].partition(":")
    for part, text in (("password", password if colon else ""), ("user name", user)):
        if (char := _first_break(text)) is not None:
            where, code = _BREAKS[char]
            others = ", ".join(f"'{c}' as {e}" for c, (_, e) in _BREAKS.items() if c != char)
            return (f"the URL does not parse as meant: the {part} holds an un-encoded "
                    f"'{char}' ({where})",
                    f"percent-encode it: write '{char}' as {code} in the URL (and {others})")
    return None


def conninfo(dsn: str) -> dict[str, str] | None:
    """The DSN's parameters as libpq reads them (a URL, SQLAlchemy's form too, or key=value);
    None if it does not parse."""
    scheme, sep, rest = dsn.partition("://")
    if sep and "+" in scheme:  # postgresql+psycopg://: the driver is SQLAlchemy's business
        dsn = "postgresql://" + rest
    import psycopg  # here: every cockpit reads DSNs, few need psycopg's 0.1 s at start
    from psycopg.conninfo import conninfo_to_dict

    try:
        return {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}
    except psycopg.ProgrammingError:
        return None


def service_files(env: Mapping[str, str]) -> list[Path]:
    """The service files libpq reads in this environment: the user's (PGSERVICEFILE, else
    ~/.pg_service.conf), then the system's (PGSYSCONFDIR/pg_service.conf)."""
    user = env.get("PGSERVICEFILE") or (str(Path(env["HOME"]) / ".pg_service.conf")
                                        if env.get("HOME") else "")
    found = [Path(user)] if user else []
    if env.get("PGSYSCONFDIR"):
        found.append(Path(env["PGSYSCONFDIR"]) / "pg_service.conf")
    return found


def _read_services(path: Path) -> configparser.RawConfigParser | None:
    parser = configparser.RawConfigParser(delimiters=("=",), comment_prefixes=("#",),
                                          inline_comment_prefixes=None, strict=False,
                                          interpolation=None)
    parser.optionxform = str  # type: ignore[assignment, method-assign]  # keys as libpq: exact
    try:
        parser.read_string(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, configparser.Error):
        return None
    return parser


def service_entry(env: Mapping[str, str], name: str) -> dict[str, str]:
    """The parameters the service `name` gives, as libpq finds it (the first file that
    names it)."""
    for path in service_files(env):
        parser = _read_services(path)
        if parser is not None and parser.has_section(name):
            return dict(parser.items(name))
    return {}


def service_passwords(env: Mapping[str, str]) -> list[str]:
    """Every password in the service files this environment points at: a step may name any
    of their services, and whatever it prints of one is a secret."""
    found: list[str] = []
    for path in service_files(env):
        parser = _read_services(path)
        if parser is None:
            continue
        found += [p for section in parser.sections()
                  if (p := parser.get(section, "password", fallback=""))]
    return found


def parameters(dsn: str, env: Mapping[str, str]) -> dict[str, str] | None:
    """What the DSN names once its service (its own `service=`, else PGSERVICE) fills in
    what it leaves out; None if it does not parse."""
    found = conninfo(dsn)
    if found is None:
        return None
    service = found.get("service") or env.get("PGSERVICE")
    return {**service_entry(env, service), **found} if service else found


def passwords(dsn: str, env: Mapping[str, str]) -> list[str]:
    """The DSN's password as libpq reads it and as written in it (a URL's, percent-encoded),
    and its service's; best effort (a DSN that does not parse may still hold one)."""
    found = [(parameters(dsn, env) or {}).get("password", "")]
    if is_url(dsn):
        try:
            written = urlsplit(dsn).password or ""
        except ValueError:
            written = ""
        found += [written, unquote(written)]
        if (meant := _meant_password(dsn)) is not None:  # with an un-encoded `/` or `@`
            found += [meant, unquote(meant)]
    return [p for p in dict.fromkeys(found) if p]


def _meant_password(dsn: str) -> str | None:
    """A URL's password as the person meant it when it breaks the URL: all between the user
    name's `:` and the last `@`; None where the URL holds no un-encoded break."""
    if url_fault(dsn) is None:
        return None
    user_part = dsn.partition("://")[2].rpartition("@")[0]
    return user_part.partition(":")[2] or None


def masked(dsn: str) -> str:
    """The DSN with its password replaced by ***, for showing and recording: a URL keeps its
    form; key=value pairs are written again from libpq's reading of them. Whatever the URL
    parser made of it, a password libpq reads is never left in what is shown."""
    shown = _masked(dsn)
    password = (conninfo(dsn) or {}).get("password")
    if password and (password in shown or password in unquote(shown)):
        # a `#` or `?` in the password ends the URL parser's netloc, not libpq's
        scheme = dsn.partition("://")[0] if "://" in dsn else "postgresql"
        found = conninfo(dsn) or {}
        user = f"{quote(found['user'], safe='')}:" if found.get("user") else ":"
        hosts = found.get("host", "") + (f":{found['port']}" if found.get("port") else "")
        rest = {k: v for k, v in found.items()
                if k not in ("user", "password", "host", "port", "dbname")}
        query = f"?{urlencode(rest)}" if rest else ""
        return (f"{scheme}://{user}{MASK}@{hosts}/{quote(found.get('dbname', ''), safe='')}"
                f"{query}")
    return shown


def _masked(dsn: str) -> str:
    if _meant_password(dsn) is not None:  # the password as meant, masked whole
        scheme, _, rest = dsn.partition("://")
        user, _, after = rest.rpartition("@")
        return f"{scheme}://{user.partition(':')[0]}:{MASK}@{after}"
    if is_url(dsn):
        try:
            parts = urlsplit(dsn)
            password = parts.password
        except ValueError:
            return MASK  # a URL that does not parse: nothing of it can be shown safely
        netloc = parts.netloc
        if password is not None:
            netloc = netloc.replace(f":{password}@", f":{MASK}@", 1)
        query = parts.query
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(key == "password" for key, _ in pairs):  # libpq takes `?password=…` too
            query = urlencode([(key, MASK if key == "password" else value)
                               for key, value in pairs], safe="/*")
        elif password is None:
            return dsn
        return parts._replace(netloc=netloc, query=query).geturl()
    found = conninfo(dsn)
    if found is None:
        return MASK
    if "password" in found:
        found["password"] = MASK
    from psycopg.conninfo import make_conninfo

    return make_conninfo(**found)


def identity(dsn: str, env: Mapping[str, str]) -> dict[str, Any]:
    """The scheme (a URL's; None for key=value), host, port, user and database a DSN names,
    and its other parameters (`query`: sslmode, …), all as libpq reads them — the reading
    the connection makes. ValueError if it does not parse."""
    if (fault := url_fault(dsn)) is not None:
        raise ValueError(" — ".join(fault))
    found = parameters(dsn, env)
    if found is None:
        raise ValueError("neither a URL nor key=value pairs libpq reads")
    port = found.get("port")
    if port is not None and not port.isdigit():
        raise ValueError(f"port {port!r} is not a number")
    rest = {k: v for k, v in found.items()
            if k not in ("host", "port", "user", "password", "dbname", "service")}
    host = found.get("host")
    return {"scheme": dsn.partition("://")[0] if is_url(dsn) else None,
            # host names are case-blind (a URL's was lowercased by urlsplit before)
            "host": host.lower() if host and not host.startswith("/") else host,
            "port": int(port) if port else None,
            "user": found.get("user", ""), "database": found.get("dbname", ""), "query": rest}
