"""The values that cross the storage boundary: a subscription, a briefing day's progress."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

# Who made a subscription: an admin's /subscribe in the chat, or a channel listed in config.yaml.
Source = Literal["chat", "config"]
# What `Ledger.claim_part` found: the part is now ours to send ("claimed"), already in the
# ledger ("delivered"), held by another sender's live lease ("busy"), or the day's briefing was
# pinned by another sender to other articles ("changed").
ClaimResult = Literal["claimed", "delivered", "busy", "changed"]


@dataclass(frozen=True, slots=True)
class Subscription:
    """One chat's daily briefing and what it was last sent. Instants are timezone-aware (UTC as
    stored); dates are the chat's local dates."""

    id: int
    platform: str
    chat_id: str
    time: dt.time  # local wall time, minutes precision
    timezone: str  # IANA name
    created_by: str
    created_at: dt.datetime
    source: Source = "chat"
    paused_reason: str | None = None
    last_local_date: dt.date | None = None  # last briefing day handled: sent, empty or skipped
    last_article_id: str | None = None  # newest article the chat has been sent
    last_article_date: dt.date | None = None
    last_sent_at: dt.datetime | None = None
    schedule_set_at: dt.datetime | None = None  # when the current time and zone took effect
    thread_id: str | None = None  # the forum topic it was set in; None: the chat itself
    # A platform asked to wait longer than a send may (`Ledger.defer`): the due briefing is not
    # tried before this instant, by any process. None: no such wait.
    not_before: dt.datetime | None = None

    @property
    def owed_from(self) -> dt.datetime:
        """Briefings scheduled before this instant are not owed (see `daily.schedule.decide`)."""
        return self.schedule_set_at or self.created_at


@dataclass(frozen=True, slots=True)
class BriefingProgress:
    """What the ledger holds for one (subscription, local date) briefing, and what the
    subscription was sent on the days before, read together."""

    article_ids: tuple[str, ...] | None  # pinned by the first part sent; None if none sent yet
    delivered_parts: frozenset[int]  # part indexes (0-based) the platform accepted
    last_sent_at: dt.datetime | None = None  # when the platform accepted the latest part
    # Articles finished briefings sent (kept SENT_KEPT_FOR): never "new" again.
    sent_article_ids: frozenset[str] = frozenset()


# (article id, its date): what a finished briefing sent, so it is never "new" again.
SentArticle = tuple[str, dt.date | None]


@dataclass(frozen=True, slots=True)
class Finish:
    """How a briefing day closes (`Ledger.finish_briefing`): what the chat got, if anything.

    A field left None keeps what is stored: a day closed with nothing sent (nothing new, or
    skipped) has no newest article.
    """

    newest_article_id: str | None = None
    newest_article_date: dt.date | None = None
    sent_at: dt.datetime | None = None  # when the platform accepted the day's last part
    sent_articles: tuple[SentArticle, ...] = ()  # the briefing's articles: sent from now on
    # (platform, chat id) whose follow-up questions now go to the newest article (ChatMemory).
    briefed_chat: tuple[str, str] | None = None
# How long what a chat was sent is remembered, counted back from its last briefing: longer
# than daily.delivery.NEW_WITHIN (7 days), by a day for the gap between UTC and local dates.
SENT_KEPT_FOR = dt.timedelta(days=8)
