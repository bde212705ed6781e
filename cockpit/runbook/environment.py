"""A runbook with its per-environment values set aside: what a rehearsal and the production
cutover must share. The setup's `per_environment` items keep their place, their values
become placeholders — a working directory's path, a DSN's host, port and database — in the
item's fields and its line alike, so the rendered transcripts of two environments' runbooks
are equal exactly when everything else is."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from cockpit.runbook.model import EnvVar, Runbook, WorkingDirectory
from cockpit.runbook.paths import path_name

PLACEHOLDER = "‹per-environment›"


def _swap(text: str, values: list[str]) -> str:
    """Each value where the line shows it: as a `code` span, or as a whole word of three
    characters or more (a `.` or `db` inside other words is left alone)."""
    for value in sorted({v for v in values if v}, key=len, reverse=True):  # longest first
        text = text.replace(f"`{value}`", f"`{PLACEHOLDER}`")
        if len(value) >= 3:
            text = re.sub(rf"(?<![\w.-]){re.escape(value)}(?![\w-])", PLACEHOLDER, text)
    return text


def _neutral_dsn(item: EnvVar) -> EnvVar:
    parts = urlsplit(item.template)
    # the hosts as written (a multi-host DSN, `pg1:5432,pg2:5432`, has no one port)
    hosts = parts.netloc.rsplit("@", 1)[-1]
    values = [item.database, hosts, *(h for host in hosts.split(",") for h in host.split(":"))]
    user = parts.netloc.rsplit("@", 1)[0] if "@" in parts.netloc else ""
    template = parts._replace(netloc=f"{user}@{PLACEHOLDER}" if user else PLACEHOLDER,
                              path=f"/{PLACEHOLDER}").geturl()
    return item.model_copy(update={"template": template, "database": PLACEHOLDER,
                                   "text": _swap(item.text, values)})


def environment_neutral(runbook: Runbook) -> Runbook:
    """The runbook with each per-environment setup item's values replaced by a placeholder."""
    setup = runbook.setup
    if setup is None or not setup.per_environment:
        return runbook
    items = []
    for item in setup.items:
        if item.id in setup.per_environment and isinstance(item, WorkingDirectory):
            item = item.model_copy(update={
                "path": PLACEHOLDER, "text": _swap(item.text, [item.path, path_name(item.path)])})
        elif item.id in setup.per_environment and isinstance(item, EnvVar):
            item = _neutral_dsn(item)
        items.append(item)
    return runbook.model_copy(update={"setup": setup.model_copy(update={"items": items})})
