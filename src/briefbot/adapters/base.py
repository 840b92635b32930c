"""The one seam every platform adapter implements (console, Telegram, Discord)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from briefbot.messages import Incoming, Reply

# What an adapter calls for each message a person sends: the core answers with replies.
Handler = Callable[[Incoming], Awaitable[Sequence[Reply]]]

# At a stop (SIGTERM, Ctrl+C), what is in progress gets this many seconds to finish: replies
# being answered, messages of a delivery pass being sent, the Q&A warm-up thread. Then it is
# cut off and left for the next start.
STOP_GRACE_SECONDS = 5.0


class ChatEvents(Protocol):
    """What the core wants to hear about a chat while replying (not only while delivering)."""

    async def chat_unavailable(self, platform: str, chat_id: str, reason: str) -> None: ...

    async def chat_moved(self, platform: str, chat_id: str, new_chat_id: str) -> None: ...


class Adapter(Protocol):
    """An async lifecycle plus rendering and sending.

    `render` turns one platform-neutral reply into the platform messages it will send, in order;
    it is pure and deterministic, so the delivery ledger can key each part by its index.
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

    def render(self, reply: Reply) -> Sequence[object]:
        """The platform messages for one reply, in sending order."""

    async def send_part(
        self, chat_id: str, part: object, *, thread_id: str | None = None
    ) -> None:
        """Send one rendered message to a chat (into topic `thread_id`, if given)."""
