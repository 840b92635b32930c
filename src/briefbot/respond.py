"""The one reply loop every adapter runs: handle, apologise on failure, render, send, report."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from briefbot.errors import ChatMoved, ChatUnavailable, DeliveryError
from briefbot.messages import APOLOGY, Incoming, Reply
from briefbot.ports import ChatEvents, Handler

log = logging.getLogger(__name__)

Part = TypeVar("Part")


async def respond(
    incoming: Incoming,
    handler: Handler,
    render: Callable[[Reply], Sequence[Part]],
    send: Callable[[Reply, Part], Awaitable[None]],
    events: ChatEvents | None = None,
) -> DeliveryError | None:
    """Answer one message: the handler's replies (the apology if it fails), each rendered in the
    platform's dialect and sent part by part, in order, with `send` (which knows where a part
    goes: the chat, a Telegram topic, a Discord interaction).

    A chat that refused the bot or moved is told to `events` here, once, and sending stops; any
    other delivery failure is logged. Returns that failure (None when every part went out), so
    an adapter can add what its platform allows (Discord tells the asker privately).
    """
    try:
        replies = await handler(incoming)
    except Exception:  # one bad message must not leave the person without a word
        log.exception("%s chat %s: answering %s from user %s failed; sent an apology",
                      incoming.platform, incoming.chat_id, _what(incoming.text),
                      incoming.user_id)
        replies = [APOLOGY]
    try:
        for reply in replies:
            for part in render(reply):
                await send(reply, part)
    except ChatUnavailable as exc:
        log.warning("%s chat %s: cannot reply: %s", incoming.platform, incoming.chat_id,
                    exc.reason)
        if events is not None:
            await events.chat_unavailable(incoming.platform, incoming.chat_id, exc.reason)
        return exc
    except ChatMoved as exc:
        log.info("%s chat %s moved to %s", incoming.platform, incoming.chat_id, exc.new_chat_id)
        if events is not None:
            await events.chat_moved(incoming.platform, incoming.chat_id, exc.new_chat_id)
        return exc
    except DeliveryError as exc:
        log.warning("%s chat %s: reply not delivered: %s", incoming.platform, incoming.chat_id,
                    exc)
        return exc
    return None


def _what(text: str) -> str:
    """The command a message ran ("/status"), or "a message": a question stays out of the log."""
    word = text.split(maxsplit=1)[0] if text.strip() else ""
    return word[:40] if word.startswith("/") else "a message"
