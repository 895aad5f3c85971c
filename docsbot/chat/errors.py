"""The error chat's services raise for a request the user can fix."""
from __future__ import annotations


class ChatError(Exception):
    """A request the user can fix (unknown conversation, empty question): shown as a 4xx."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status
