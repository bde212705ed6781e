"""Where the cutover's moments are sent (`[[notify]]`): a JSON webhook, a Slack incoming
webhook, a Microsoft Teams Workflows webhook, or a command given the message on stdin. A
webhook's URL carries its token, so the runbook names the environment variable that holds
it, never the URL."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cockpit.errors import CockpitError
from cockpit.runbook.values import Duration, EnvName, Id

Moment = Literal["gates", "phase", "behind", "retry", "hold", "halted", "countersign",
                 "decision"]
HTTP_KINDS = ("webhook", "slack", "teams")



class Notify(BaseModel):
    """One destination of the cutover's moments, and which moments it is sent."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: Id = Field(description="The destination's name: its events and `cockpit "
                      "notify-test --destination` name it.")
    kind: Literal["webhook", "slack", "teams", "command"] = Field(
        description="`webhook`: a JSON POST of the message; `slack`: a Slack incoming webhook "
        "(Block Kit); `teams`: a Microsoft Teams Workflows webhook (an Adaptive Card); "
        "`command`: a command run with the message as JSON on its stdin.",
    )
    url_env: EnvName | None = Field(
        default=None,
        description="`webhook`, `slack`, `teams`: the environment variable holding the URL. "
        "The URL carries the destination's token: it is a secret — redacted everywhere, "
        "never written — and the runbook never holds it.",
    )
    command: str | None = Field(
        default=None, min_length=1,
        description="`command`: the shell command, run in the working directory with a "
        "timeout, the message as JSON on stdin; its environment has no DSN variable, "
        "`PGPASSWORD` or webhook URL. Exit 0 is delivered.",
    )
    moments: list[Moment] = Field(
        default=["gates", "phase", "behind", "retry", "hold", "halted", "countersign",
                 "decision"],
        description="The moments it is sent: `gates` (GO, or NO-GO after a check), `phase` "
        "(started, finished), `behind` (a step slower than rehearsed, the forecast past the "
        "window), `retry`, `hold` (waiting at a hold point), `halted`, `countersign` "
        "(AWAITING COUNTERSIGN), `decision`. Default: all.",
    )
    timeout: Duration = Field(default="10s", description="Each attempt's time limit.")
    attempts: int = Field(
        default=8, ge=1, le=50,
        description="Attempts per message before it is recorded undelivered (it is tried "
        "again at the next `resume` or `cockpit notify SESSION --flush`).",
    )
    first_delay: Duration = Field(
        default="1s", description="The wait before the second attempt; each wait doubles, "
        "with jitter, up to `cap` (a `429` or `503` answer's `Retry-After` is waited instead).",
    )
    cap: Duration = Field(default="60s", description="The longest wait between attempts.")
    ca_file: str | None = Field(
        default=None, min_length=1,
        description="A PEM file of the CA(s) the destination's TLS certificate is checked "
        "against instead of the system's, relative to the working directory. An HTTPS proxy "
        "is taken from `HTTPS_PROXY`/`NO_PROXY` as usual.",
    )


def notify_problems(dests: Sequence[Notify]) -> list[tuple[str, str]]:
    """(place, message) for each destination that lacks what its kind needs, or has what it
    cannot use; names are unique."""
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, dest in enumerate(dests):
        place, who = f"notify[{index}]", f"destination '{dest.name}'"
        if dest.name in seen:
            problems.append((f"{place}.name", f"{who}: another destination has this name"))
        seen.add(dest.name)
        http = dest.kind in HTTP_KINDS
        wrong = [
            (http and dest.url_env is None, "url_env", f"a `{dest.kind}` destination needs "
             "`url_env`: the environment variable that holds its URL (never the URL itself)"),
            (not http and dest.url_env is not None, "url_env", "a `command` destination is "
             "given the message on stdin; it has no URL"),
            (dest.kind == "command" and dest.command is None, "command",
             "a `command` destination needs `command`"),
            (dest.kind != "command" and dest.command is not None, "command",
             f"a `{dest.kind}` destination sends to its URL; `command` is for kind = "
             "\"command\""),
            (not http and dest.ca_file is not None, "ca_file",
             "only a webhook destination has TLS to check"),
            (not dest.moments or len(set(dest.moments)) != len(dest.moments), "moments",
             "name each moment once, at least one"),
        ]
        problems += [(f"{place}.{key}", f"{who}: {why}") for bad, key, why in wrong if bad]
    return problems


def load_notify_tables(path: Path) -> list[Notify]:
    """The `[[notify]]` tables of a file of their own (`cockpit demo --notify`), checked as
    a runbook's are; a mistake is named by the file and the destination."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CockpitError(f"{path}: cannot be read as TOML ({exc}); give a file of "
                           "[[notify]] tables") from None
    tables = data.get("notify")
    if set(data) != {"notify"} or not isinstance(tables, list) or not tables:
        raise CockpitError(f"{path}: holds [[notify]] tables only, at least one "
                           f"(found: {', '.join(sorted(data)) or 'nothing'})")
    found = []
    for index, table in enumerate(tables):
        name = table.get("name") if isinstance(table, dict) else None
        try:
            found.append(Notify.model_validate(table))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the table"
            raise CockpitError(f"{path}: [[notify]] {index + 1}"
                               f"{f' ({name!r})' if name else ''}: {where}: {first['msg']}"
                               ) from None
    if problems := notify_problems(found):
        raise CockpitError(f"{path}: " + "; ".join(message for _place, message in problems))
    return found
