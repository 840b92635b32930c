"""What the rest of briefbot needs from storage, one narrow protocol per job.

A backend (SQLite now, `store.sqlite`; PostgreSQL next) implements all of them in one class.
Calls are synchronous and short, and each one is its own transaction. Errors: `StorageError`
when the database cannot be used safely any more (deleted or replaced under the process); any
other exception (disk full, database locked) means the call wrote nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from briefbot.config import ChannelSchedule
from briefbot.errors import StorageError
from briefbot.store.records import (
    BriefingProgress,
    ClaimResult,
    Finish,
    SentArticle,
    Source,
    Subscription,
)


class SubscriptionStore(Protocol):
    """Who gets a daily briefing, when, and where it goes (a chat id, maybe a topic)."""

    def subscriptions(self, *, include_paused: bool = False) -> list[Subscription]:
        """Every subscription (paused ones too if asked), oldest first, each with its deferral
        (`Subscription.not_before`)."""

    def subscription(self, platform: str, chat_id: str) -> Subscription | None: ...

    def subscribe(
        self,
        platform: str,
        chat_id: str,
        at: dt.time,
        timezone: str,
        *,
        created_by: str,
        now: dt.datetime,
        source: Source = "chat",
        thread_id: str | None = None,
    ) -> Subscription:
        """Create or change a chat's subscription; changing one also lifts a pause.

        A new time or zone, or a resume, takes effect at `now`: a time already past today is
        next owed tomorrow. Repeating the same /subscribe changes nothing. `thread_id` is the
        forum topic the briefings go to (the one /subscribe was sent in; None: the chat).
        """

    def unsubscribe(self, platform: str, chat_id: str) -> bool:
        """Drop the chat's subscription and its ledger; False if it had none."""

    def sync_config_channels(
        self, platform: str, channels: Sequence[ChannelSchedule], now: dt.datetime
    ) -> None:
        """Make the config-listed subscriptions of `platform` exactly `channels` (following
        recorded chat moves), and resume any that were paused."""

    def pause(self, platform: str, chat_id: str, reason: str) -> None:
        """Stop briefing the chat until an admin's /subscribe (or, for config, a restart)."""

    def move_chat(self, platform: str, chat_id: str, new_chat_id: str) -> None:
        """Follow a chat to its new id: its subscription, ledger and memory go with it; a
        subscription the new id already has wins over the old one."""


class Ledger(Protocol):
    """Exactly-once delivery: what each briefing day sent, who holds the right to send a part
    (a claim with a lease), and which chats asked to be left alone for a while.

    A part is recorded only after the platform accepted it (send-then-commit); a claim keeps
    every other sender off the part until its lease lapses.
    """

    def progress(self, subscription_id: int, local_date: dt.date) -> BriefingProgress:
        """The day's parts in the ledger, and the articles the subscription was sent on earlier
        days, at least those dated within SENT_KEPT_FOR of its last briefing (one read)."""

    def claim_part(
        self,
        subscription_id: int,
        local_date: dt.date,
        part: int,
        article_ids: Sequence[str],
        *,
        claimant: str,
        now: dt.datetime,
        lease: dt.timedelta,
    ) -> ClaimResult:
        """Take the right to send one part until `now + lease`, unless it is sent, claimed by a
        live lease of another claimant, or the day is pinned to other articles."""

    def renew_claim(
        self,
        subscription_id: int,
        local_date: dt.date,
        part: int,
        *,
        claimant: str,
        now: dt.datetime,
        lease: dt.timedelta,
    ) -> bool:
        """Extend `claimant`'s lease to `now + lease`; False if the claim is no longer its own
        (another sender took it over after the lease lapsed, or sent it already)."""

    def record_part(
        self,
        subscription_id: int,
        local_date: dt.date,
        part: int,
        article_ids: Sequence[str],
        *,
        claimant: str,
        sent_at: dt.datetime,
        finish: Finish | None = None,
    ) -> None:
        """The platform accepted the part at `sent_at`: write it to the ledger (pinning the
        day to `article_ids`) and drop `claimant`'s claim (a claim another sender took over
        after `claimant`'s lease lapsed stays that sender's: its next `renew_claim` finds the
        part sent and says False). Recording it twice changes nothing.

        With `finish` (the day's last part), the day closes in the same transaction, as
        `finish_briefing` closes it: either both are written or neither.
        """

    def release_part(
        self, subscription_id: int, local_date: dt.date, part: int, *, claimant: str
    ) -> None:
        """Give up `claimant`'s claim: the part was not sent and stays due."""

    def finish_briefing(
        self,
        subscription_id: int,
        local_date: dt.date,
        *,
        newest_article_id: str | None,
        newest_article_date: dt.date | None,
        sent_at: dt.datetime | None,
        sent_articles: Sequence[SentArticle] = (),
        briefed_chat: tuple[str, str] | None = None,
    ) -> None:
        """Close the day: later passes will not send it again (sent, nothing new, or skipped).

        `sent_articles` (the briefing's articles) count as sent from now on; a date or send time
        left None keeps the one already stored. Any deferral of the subscription ends. The
        `briefed_chat` (platform, chat id), if given, is remembered as briefed on the newest
        article (ChatMemory), in the same transaction.
        """

    def defer(self, subscription_id: int, until: dt.datetime, reason: str) -> None:
        """Try this subscription's due briefing no earlier than `until` (a platform asked so);
        it shows as `Subscription.not_before` until the day is finished."""


class ChatMemory(Protocol):
    """Which article each chat was last briefed on, so follow-up questions go to it."""

    def last_briefed(self, platform: str, chat_id: str) -> str | None: ...

    def remember_briefed(self, platform: str, chat_id: str, article_id: str) -> None: ...


class Store(SubscriptionStore, Ledger, ChatMemory, Protocol):
    """One backend holding every job: what the composition root opens, hands out by job, and
    closes."""

    @property
    def lost(self) -> StorageError | None:
        """Why the database may no longer be written (it went away under the process), or None."""

    def close(self) -> None: ...
