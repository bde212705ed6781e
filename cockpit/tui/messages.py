"""Messages used across the app: from the session (a listener, the mirror's follow worker)
and from the workers that run the operator's verbs, to the screen that shows them."""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message


class SessionChanged(Message):
    """The session's event log grew: everything shown is refreshed from the state."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SessionChanged)  # a burst of events is one refresh


class ActionFailed(Message):
    """A verb was refused or failed; `text` says why, for the operator."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


@dataclass
class LogLines(Message, bubble=False):
    """A batch of the running step's output, read off the screen's thread. Never replaced:
    every line is shown, in order, before the event that follows it."""

    lines: list[str]
    fresh: bool = False  # a new run is followed: the pane starts over before these lines
    unexpected: list[str] = field(default_factory=list)  # revisions off the path, just seen
    expected: int = 0  # how many revisions the upgrade's path holds


@dataclass
class LogDamaged(Message, bubble=False):
    """The running step's log went wrong under the follower (it shrank)."""

    problem: str


@dataclass
class OperatorPresence(Message, bubble=False):
    """Whether the operator's cockpit is alive (None: nobody holds the session)."""

    present: bool | None

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, OperatorPresence)  # only the latest look matters
