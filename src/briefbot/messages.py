"""What crosses between the core and the adapters: Incoming in, the Reply kinds out (a leaf)."""

# Standard library only: every adapter imports this, so it must never pull in the Q&A engine,
# the article parser or a platform SDK (tests/test_core_boundary.py checks it).

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

# The console chat's name in Incoming.platform; each platform's is in its own config module
# (platforms.py lists them), as subscriptions and the delivery ledger say it too.
CONSOLE = "console"

ChatKind = Literal["private", "group", "channel"]


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message a person sent, translated from the platform by an adapter."""

    platform: str  # CONSOLE or a platform's name (ports.Platform.name)
    chat_id: str
    user_id: str
    text: str
    chat_kind: ChatKind = "private"
    # Asked only when a command needs it (/subscribe in a group): adapters pass a call that asks
    # the platform (getChatMember, guild permissions). None means: admin only in a private chat.
    admin_check: Callable[[], Awaitable[bool]] | None = None
    # Shows the person that an answer is coming (Telegram "typing…", Discord "thinking…"),
    # awaited when the answer waits on something slow (the qa.reader endpoint). None: no sign.
    working: Callable[[], Awaitable[None]] | None = None
    # The topic of a forum supergroup it was written in (Telegram's message_thread_id); every
    # reply, and a daily briefing /subscribe'd from here, goes back into it. None: the chat.
    thread_id: str | None = None

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


@dataclass(frozen=True, slots=True)
class Bullet:
    emoji: str
    text: str  # one line, at most briefing.BULLET_MAX_CHARS characters, no leading emoji


@dataclass(frozen=True, slots=True)
class Briefing:
    """A platform-neutral briefing; renderers turn it into messages."""

    article_id: str
    headline: str  # recased when the file had it in all caps
    emoji: str  # the headline's own emoji ("" if none)
    byline: str  # "author · February 11, 2026" (either part may be missing)
    bullets: tuple[Bullet, ...]
    link: str | None = None
    date: dt.date | None = None  # the article's date, so a digest can say how fresh each item is


@dataclass(frozen=True, slots=True)
class Digest:
    """Several articles at once: headline and two bullets each, newest first."""

    briefings: tuple[Briefing, ...]


@dataclass(frozen=True, slots=True)
class Answer:
    """What the bot says to a question about one article."""

    question: str
    found: bool
    text: str  # one line: 'fact “quote”' (<= 300 chars); or "doesn't say. Try: …"
    article_id: str | None
    source: str | None = None  # the cited sentence, verbatim (emoji stripped), when found
    fact: str | None = None  # the short fact ("Abu Dhabi", "2021"), when it adds to the quote
    suggestions: tuple[str, ...] = ()  # questions this article can answer, when not found
    quote: str | None = None  # the cited sentence exactly as in `text`, maybe shortened with …
    headline: str | None = None  # the cited article's headline, shown as the answer's source
    origin: Literal["offline", "reader"] = "offline"  # which engine answered (qa.reader)


Reply = Briefing | Digest | Answer | Notice

# What every adapter sends when answering a message failed, rather than leaving the person
# without a word.
APOLOGY = Notice("Sorry, something went wrong on my side while answering that. Please try again.",
                 is_error=True)
