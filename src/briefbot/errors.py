"""The exceptions briefbot raises: each one says what happened and how to fix it."""

from __future__ import annotations


class BriefbotError(Exception):
    """Base class for every error briefbot raises on purpose."""


class ConfigError(BriefbotError):
    """config.yaml (or the environment) is wrong; the message names the key and the fix."""


class ContentError(BriefbotError):
    """An article file cannot be used; the message names the file, the line and the fix."""


class DeliveryError(BriefbotError):
    """A platform refused or failed a message. Adapters raise the subclasses below."""


class ChatUnavailable(DeliveryError):
    """The bot may not post in this chat (blocked, kicked, missing permission): pause it."""

    def __init__(self, chat_id: str, reason: str) -> None:
        super().__init__(f"chat {chat_id} is unavailable: {reason}")
        self.chat_id = chat_id
        self.reason = reason


class TopicGone(ChatUnavailable):
    """The forum topic the message was for is closed or deleted: a briefing meant for it pauses;
    a reply to someone in it is simply lost (the chat itself is fine)."""


class ChatMoved(DeliveryError):
    """The chat has a new id (a Telegram group upgraded to a supergroup): move it."""

    def __init__(self, chat_id: str, new_chat_id: str) -> None:
        super().__init__(f"chat {chat_id} moved to {new_chat_id}")
        self.chat_id = chat_id
        self.new_chat_id = new_chat_id


class TemporaryFailure(DeliveryError):
    """The platform failed for now (5xx, timeout, unreachable, long rate limit): try again later."""


class RateLimited(TemporaryFailure):
    """The platform asked to wait `retry_after` seconds before the next message to this chat.

    Adapters wait out short limits themselves; a longer one is raised at once, so the caller
    can leave the chat due with a not-before time and serve the others meanwhile.
    """

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OutcomeUnknown(TemporaryFailure):
    """The send timed out after the request went out: the chat may have the message or not.

    The adapter already sent it once more; sending again in this pass could only add copies.
    """


class StorageError(BriefbotError):
    """The database cannot be used safely (deleted or replaced while running, corrupt,
    read-only); the message names the file and what to do. The CLI exits 2 on it."""
