"""What a DSN names and which secrets it holds, in each form libpq takes: a URL
(`postgresql://`, or SQLAlchemy's `postgresql+psycopg://`), key=value pairs (with libpq's
quoting), and a service (`service=NAME` or PGSERVICE) whose entry in the service file holds
the rest. libpq's own parser (psycopg's `conninfo_to_dict`) reads the DSN; the service file
is an ini file, read as libpq reads it.
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

MASK = "***"


def is_url(dsn: str) -> bool:
    return "://" in dsn.split("=", 1)[0]


def conninfo(dsn: str) -> dict[str, str] | None:
    """The DSN's parameters as libpq reads them (a URL, SQLAlchemy's form too, or key=value);
    None if it does not parse."""
    scheme, sep, rest = dsn.partition("://")
    if sep and "+" in scheme:  # postgresql+psycopg://: the driver is SQLAlchemy's business
        dsn = "postgresql://" + rest
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
    return [p for p in dict.fromkeys(found) if p]


def masked(dsn: str) -> str:
    """The DSN with its password replaced by ***, for showing and recording: a URL keeps its
    form; key=value pairs are written again from libpq's reading of them."""
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
    return make_conninfo(**found)


def identity(dsn: str, env: Mapping[str, str]) -> dict[str, Any]:
    """The scheme (a URL's; None for key=value), host, port, user and database a DSN names,
    and its other parameters (`query`: sslmode, …). ValueError if it does not parse."""
    if is_url(dsn):
        parts = urlsplit(dsn)
        return {"scheme": parts.scheme, "host": parts.hostname, "port": parts.port,
                "user": unquote(parts.username or ""),
                "database": unquote(parts.path.lstrip("/")), "query": dict(parse_qsl(parts.query))}
    found = parameters(dsn, env)
    if found is None:
        raise ValueError("neither a URL nor key=value pairs libpq reads")
    port = found.get("port")
    if port is not None and not port.isdigit():
        raise ValueError(f"port {port!r} is not a number")
    rest = {k: v for k, v in found.items()
            if k not in ("host", "port", "user", "password", "dbname", "service")}
    return {"scheme": None, "host": found.get("host"), "port": int(port) if port else None,
            "user": found.get("user", ""), "database": found.get("dbname", ""), "query": rest}
