"""The seams between the core and its edges: the Adapter protocol, ChatEvents, Clock."""

# Standard library and messages.py only: every adapter imports this (tests/test_core_boundary.py).

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from briefbot.messages import Incoming, Reply

PartT = TypeVar("PartT")

# What an adapter calls for each message a person sends: the core answers with replies.
Handler = Callable[[Incoming], Awaitable[Sequence[Reply]]]


class ChatEvents(Protocol):
    """What the core wants to hear about a chat while replying (not only while delivering)."""

    async def chat_unavailable(self, platform: str, chat_id: str, reason: str) -> None: ...

    async def chat_moved(self, platform: str, chat_id: str, new_chat_id: str) -> None: ...


class Adapter(Protocol[PartT]):
    """An async lifecycle plus rendering and sending, in the platform's own message type.

    `render` turns one platform-neutral reply into the platform messages it will send, in order
    (`PartT`: Telegram HTML text, a Discord message, a line of console text); it is pure and
    deterministic, so the delivery ledger can key each part by its index.
    `send_part` sends one of those messages and raises a `DeliveryError` subclass on failure:
    `ChatUnavailable` (403: blocked, kicked, missing permission), `ChatMoved` (migrated group),
    `TemporaryFailure` (5xx or timeouts after bounded retries, rate limits too long to wait).
    `thread_id` names a topic inside the chat (a Telegram forum topic) or is None for the chat
    itself; a platform without topics ignores it.
    """

    platform: str

    async def start(self) -> None:
        """Connect and begin receiving messages (returns once running)."""

    async def stop(self) -> None:
        """Stop receiving and close connections; safe to call twice."""

    def render(self, reply: Reply) -> Sequence[PartT]:
        """The platform messages for one reply, in sending order."""

    async def send_part(self, chat_id: str, part: PartT, *, thread_id: str | None = None) -> None:
        """Send one rendered message to a chat (into topic `thread_id`, if given)."""


# Adapters of several platforms side by side (the app's and the delivery loop's map of them).
# Each adapter's parts only ever go back to that adapter, which no type here can say, so the
# part type is left open; inside an adapter and its dialect it is exact.
AnyAdapter = Adapter[Any]


class Clock(Protocol):
    """The time now, timezone-aware: `clock()`. Code that decides by the time is given one, so
    a test passes a fixed or stepping clock (`lambda: NOW`) instead of waiting."""

    def __call__(self) -> dt.datetime: ...


# Awaits that many seconds; given beside a Clock, so a test can make waiting instant.
Sleep = Callable[[float], Awaitable[None]]


def utc_now() -> dt.datetime:
    """The real Clock."""
    return dt.datetime.now(dt.UTC)
