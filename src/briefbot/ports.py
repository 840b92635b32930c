"""The seams between the core and its edges: the Adapter protocol, ChatEvents, Clock, and
what a platform gives the core (Platform, PlatformConfig)."""

# Standard library and messages.py only: every adapter imports this (tests/test_core_boundary.py).

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from briefbot.messages import Incoming, Reply

if TYPE_CHECKING:
    from pathlib import Path

    from briefbot.config_schema import ChannelSchedule, Secret
    from briefbot.errors import ConfigError

PartT = TypeVar("PartT")

# What an adapter calls for each message a person sends: the core answers with replies.
Handler = Callable[[Incoming], Awaitable[Sequence[Reply]]]

# At a stop (SIGTERM, Ctrl+C), what is in progress gets this many seconds to finish: replies
# being answered, messages of a delivery pass being sent, the Q&A warm-up thread. Then it is
# cut off and left for the next start.
STOP_GRACE_SECONDS = 5.0

# What an adapter calls when its platform refuses the bot while it runs (a revoked token): the
# app stops and exits 2, as with a token refused at start. The error says what to fix.
OnFatal = Callable[["ConfigError"], None]


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
        """Stop receiving, let replies in progress finish (STOP_GRACE_SECONDS at most), close
        connections; safe to call twice."""

    def render(self, reply: Reply) -> Sequence[PartT]:
        """The platform messages for one reply, in sending order."""

    async def send_part(self, chat_id: str, part: PartT, *, thread_id: str | None = None) -> None:
        """Send one rendered message to a chat (into topic `thread_id`, if given)."""


# Adapters of several platforms side by side (the app's and the delivery loop's map of them).
# Each adapter's parts only ever go back to that adapter, which no type here can say, so the
# part type is left open; inside an adapter and its dialect it is exact.
AnyAdapter = Adapter[Any]


class PlatformConfig(Protocol):
    """A platform's section of config.yaml, validated by the platform's own schema."""

    @property
    def platform(self) -> str:
        """The platform's name (see Platform.name)."""

    @property
    def token(self) -> Secret | None:
        """From the environment; None: the platform is not served."""

    @property
    def channels(self) -> tuple[ChannelSchedule, ...]:
        """The daily briefings config.yaml lists for its chats."""

    def adapter(self, handler: Handler, events: ChatEvents | None, *, receive: bool,
                on_fatal: OnFatal | None = None, database: Path | None = None) -> AnyAdapter:
        """An adapter serving this configuration; `receive=False` only sends (`send-due`).
        `database`: the SQLite file; an adapter may keep small files of its own across
        restarts beside it, named "<database>-<platform>.json" (None: nowhere). The platform's
        SDK is imported here, so only a platform that is served loads it."""


@dataclass(frozen=True, slots=True)
class Platform:
    """What the core knows of a platform: one of these, listed in platforms.py."""

    name: str  # its config.yaml section; Incoming.platform, subscriptions and the ledger say it
    title: str  # as people write it: "Telegram"
    token_env: str  # the environment variable its token comes from
    # Its config.yaml section (None when absent), the environment and the default time zone ->
    # its settings, or a ConfigError naming the key and the fix.
    parse: Callable[[object, Mapping[str, str], str], PlatformConfig]
    preview: Callable[[Reply], str]  # what `briefbot preview --platform NAME` prints


class Clock(Protocol):
    """The time now, timezone-aware: `clock()`. Code that decides by the time is given one, so
    a test passes a fixed or stepping clock (`lambda: NOW`) instead of waiting."""

    def __call__(self) -> dt.datetime: ...


# Awaits that many seconds; given beside a Clock, so a test can make waiting instant.
Sleep = Callable[[float], Awaitable[None]]


def utc_now() -> dt.datetime:
    """The real Clock."""
    return dt.datetime.now(dt.UTC)
