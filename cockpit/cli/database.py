"""`cockpit snapshot`: a database's schema as JSON, or its parity with a reference one."""

from __future__ import annotations

from pathlib import Path

from cockpit.cli.console import err, out


def snapshot(*, dsn: str, schema: str = "public", compare: str | Path | None = None) -> int:
    """Print the schema snapshot of the database `dsn` names (an environment variable, or
    a DSN), or (`compare`) its parity report against a reference snapshot."""
    import json
    import os

    from cockpit.errors import CockpitError
    from cockpit.probes.db import ProbeUnreachable, connect
    from cockpit.probes.snapshot import compare as compared
    from cockpit.probes.snapshot import parity_report, take_snapshot

    if "://" in dsn:
        err("note: a DSN on the command line is visible to other users of this machine; "
            "pass the name of an environment variable that holds it instead")
        env = {"DATABASE_URL": dsn}
    elif dsn in os.environ:
        env = {"DATABASE_URL": os.environ[dsn]}
    else:
        raise CockpitError(f"{dsn}: neither a DSN nor a set environment variable")
    try:
        with connect(env) as conn:
            taken = take_snapshot(conn, schema)
    except ProbeUnreachable as exc:
        raise CockpitError(str(exc)) from None
    if compare:
        reference = json.loads(Path(compare).read_text(encoding="utf-8"))
        ok, text = parity_report(compared(reference, taken))
        print(text)
        return 0 if ok else 2
    out(json.dumps(taken, indent=2, sort_keys=True) + "\n")
    return 0
