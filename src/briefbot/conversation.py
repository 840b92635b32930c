"""One platform-neutral conversation: Incoming message -> list of Reply (CONTRACT, being built)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from briefbot.briefing import Briefing, Digest
from briefbot.qa import Answer

ChatKind = Literal["private", "group", "channel"]


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message a person sent, translated from the platform by an adapter."""

    platform: str  # "console", "telegram", "discord"
    chat_id: str
    user_id: str
    text: str
    chat_kind: ChatKind = "private"
    # Asked only when a command needs it (/subscribe in a group): adapters pass a call that asks
    # the platform (getChatMember, guild permissions). None means: admin only in a private chat.
    admin_check: Callable[[], Awaitable[bool]] | None = None

    async def is_admin(self) -> bool:
        if self.admin_check is not None:
            return await self.admin_check()
        return self.chat_kind == "private"


@dataclass(frozen=True, slots=True)
class Notice:
    """Plain words from the bot (help, lists, refusals); `items` render as a bulleted list."""

    text: str
    items: tuple[str, ...] = ()
    title: str | None = None
    is_error: bool = False  # Discord shows these to the asker only (ephemeral) where it can


Reply = Briefing | Digest | Answer | Notice


class ChatMemory(Protocol):
    """Which article each chat was last briefed on, so follow-up questions go to it."""

    def last_briefed(self, platform: str, chat_id: str) -> str | None: ...

    def remember_briefed(self, platform: str, chat_id: str, article_id: str) -> None: ...


class SubscriptionCommands(Protocol):
    """/subscribe, /unsubscribe and /status, provided by the daily-briefing service."""

    async def subscribe(self, incoming: Incoming, args: str) -> Sequence[Reply]: ...

    async def unsubscribe(self, incoming: Incoming) -> Sequence[Reply]: ...

    async def status(self, incoming: Incoming) -> Sequence[Reply]: ...
