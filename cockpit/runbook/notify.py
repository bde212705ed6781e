"""Where the cutover's moments are sent (`[[notify]]`): a JSON webhook, a Slack incoming
webhook, a Microsoft Teams Workflows webhook, or a command given the message on stdin. A
webhook's URL carries its token, so the runbook names the environment variable that holds
it, never the URL."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Moment = Literal["gates", "phase", "behind", "retry", "hold", "halted", "countersign",
                 "decision"]
MOMENTS: tuple[str, ...] = get_args(Moment)
HTTP_KINDS = ("webhook", "slack", "teams")

_Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")]
_EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
_Duration = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,6}(?:ms|s|m|min|h)$")]


class Notify(BaseModel):
    """One destination of the cutover's moments, and which moments it is sent."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: _Id = Field(description="The destination's name: its events and `cockpit "
                      "notify-test --destination` name it.")
    kind: Literal["webhook", "slack", "teams", "command"] = Field(
        description="`webhook`: a JSON POST of the message; `slack`: a Slack incoming webhook "
        "(Block Kit); `teams`: a Microsoft Teams Workflows webhook (an Adaptive Card); "
        "`command`: a command run with the message as JSON on its stdin.",
    )
    url_env: _EnvName | None = Field(
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
    timeout: _Duration = Field(default="10s", description="Each attempt's time limit.")
    attempts: int = Field(
        default=8, ge=1, le=50,
        description="Attempts per message before it is recorded undelivered (it is tried "
        "again at the next `resume` or `cockpit notify SESSION --flush`).",
    )
    first_delay: _Duration = Field(
        default="1s", description="The wait before the second attempt; each wait doubles, "
        "with jitter, up to `cap` (a `429` or `503` answer's `Retry-After` is waited instead).",
    )
    cap: _Duration = Field(default="60s", description="The longest wait between attempts.")
    ca_file: str | None = Field(
        default=None, min_length=1,
        description="A PEM file of the CA(s) the destination's TLS certificate is checked "
        "against instead of the system's, relative to the working directory. An HTTPS proxy "
        "is taken from `HTTPS_PROXY`/`NO_PROXY` as usual.",
    )
