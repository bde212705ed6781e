"""Messages used across the app."""

from __future__ import annotations

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
