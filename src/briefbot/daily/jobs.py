"""What delivery works from: a briefing job (one chat, one local day, its parts), and the one
table from what a send came to, to what the ledger records, what is logged and what is counted."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Literal

from briefbot.articles import Article
from briefbot.daily.schedule import Due
from briefbot.errors import ChatUnavailable, RateLimited, TemporaryFailure
from briefbot.store import Subscription
from briefbot.store.records import Finish


@dataclass(frozen=True, slots=True)
class BriefingJob:
    """One chat's briefing for one local day, ready to send: where, what, and what is left."""

    subscription: Subscription
    due: Due  # the chat's local day it is for, and when it was scheduled
    articles: tuple[Article, ...]  # newest first: one is the full briefing, several a digest
    parts: tuple[object, ...]  # the platform's messages, in sending order (ledger part = index)
    delivered: frozenset[int]  # parts in the ledger already, or sent and held in memory
    chat_id: str  # where it goes: the subscription's chat, or the chat's new id once it moved

    @property
    def platform(self) -> str:
        return self.subscription.platform

    @property
    def thread_id(self) -> str | None:
        """The forum topic every part goes to; None: the chat itself."""
        return self.subscription.thread_id

    @property
    def day(self) -> dt.date:
        return self.due.local_date

    @property
    def article_ids(self) -> tuple[str, ...]:
        """What the ledger pins the day to with its first part."""
        return tuple(a.id for a in self.articles)

    def to_send(self) -> list[int]:
        """The parts not delivered yet, in order."""
        return [index for index in range(len(self.parts)) if index not in self.delivered]

    def is_last(self, index: int) -> bool:
        return index == len(self.parts) - 1

    def moved_to(self, chat_id: str) -> BriefingJob:
        return dataclasses.replace(self, chat_id=chat_id)

    def finish(self, sent_at: dt.datetime) -> Finish:
        """How the day closes once every part is out: the articles count as sent, and the
        chat's follow-up questions go to the newest."""
        newest = self.articles[0]
        return Finish(newest.id, newest.date, sent_at,
                      tuple((a.id, a.date) for a in self.articles), (self.platform, self.chat_id))


class Superseded(Exception):
    """The chat moved onto a chat that already has its own subscription: stop this one."""


class ClaimLost(Exception):
    """Our lease lapsed and another sender took the part (or sent it already): it is theirs.

    `mid_send`: a renewal found it out while our own send was in flight, and cut that send
    short (it may have reached the platform); else it was found before the next try.
    """

    def __init__(self, *, mid_send: bool = False) -> None:
        super().__init__()
        self.mid_send = mid_send


# What one part's send came to.
Outcome = Literal[
    "sent", "unrecorded", "failed", "interrupted", "deferred", "paused", "moved", "moved_listed",
    "superseded", "taken_over", "cut_short", "crashed",
]
# What the ledger gets for it: write the part (and, for the last part, close the day), hold it
# in this process's memory, give up the claim (and defer, or pause the subscription), move the
# subscription to the chat's new id, or nothing.
LedgerWrite = Literal["record", "hold", "release", "defer", "pause", "move", "nothing"]


@dataclass(frozen=True, slots=True)
class Effect:
    """What one outcome writes, logs and counts."""

    ledger: LedgerWrite
    level: int  # of the log line; 0: none
    says: str  # the log line; fields: platform chat part day error reason until new_chat
    counts: tuple[str, ...]  # PassReport fields that go up by one


_PART = "{platform} chat {chat}: part {part} of the {day} briefing"

OUTCOMES: dict[Outcome, Effect] = {
    # The platform accepted the part: only now does the ledger say "sent".
    "sent": Effect("record", 0, "", ("sent",)),
    # Accepted, but the ledger write failed (disk full, locked, the file gone: StorageError):
    # never sent again by this process, and written once storage works; the rest waits.
    "unrecorded": Effect(
        "hold", logging.ERROR,
        _PART + " was sent, but the ledger could not be written ({error}); this process will "
        "not send it again and records it once storage works again",
        ("sent", "unrecorded", "failed")),
    # TemporaryFailure after the retries (5xx, timeouts, a short 429 that kept coming), and
    # OutcomeUnknown at once (another try could only add a copy): due again next pass.
    "failed": Effect("release", logging.WARNING,
                     _PART + " failed for now ({error}); it stays due", ("failed",)),
    # The same while the bot is stopping: due again at the next start.
    "interrupted": Effect("release", logging.WARNING,
                          _PART + " failed for now ({error}); it stays due", ("interrupted",)),
    # A 429 longer than a send may wait: due, but not tried before the time the platform gave.
    "deferred": Effect(
        "defer", logging.WARNING,
        "{platform} chat {chat}: {error}; the {day} briefing (part {part} on) stays due and is "
        "tried again at {until}",
        ("deferred",)),
    # ChatUnavailable (blocked, kicked, no permission) and TopicGone (the briefing's topic was
    # deleted): the subscription pauses until an admin's /subscribe (config: a restart).
    "paused": Effect("pause", logging.WARNING,
                     "{platform} chat {chat}: paused the daily briefing: {reason}", ("paused",)),
    # ChatMoved (a group became a supergroup): the subscription follows, the part is resent.
    "moved": Effect("move", logging.INFO,
                    "{platform} chat {chat} moved to {new_chat}; subscription follows it",
                    ("moved",)),
    # The same for a chat listed in config.yaml, said once: later starts map the old id.
    "moved_listed": Effect(
        "move", logging.WARNING,
        "{platform} chat {chat}, listed in config.yaml, moved to {new_chat} (a group that became "
        "a supergroup); its daily briefing follows it. Replace {chat} with {new_chat} in "
        "config.yaml",
        ("moved",)),
    # Moved onto a chat with its own subscription, which wins: this one and its claims are gone.
    "superseded": Effect("nothing", 0, "", ()),
    # Our lease lapsed while waiting to retry and another sender took the part: it sends it.
    "taken_over": Effect(
        "nothing", logging.WARNING,
        "{platform} chat {chat}: another sender took over part {part} of the {day} briefing "
        "while this one waited to retry; leaving it to them",
        ("duplicates_avoided",)),
    # The same found by a renewal while our send was in flight (a stall outlasted the lease):
    # the send is cut short, but a copy that had reached the platform cannot be taken back.
    "cut_short": Effect(
        "nothing", logging.WARNING,
        _PART + " was cut short mid-send: this sender's claim had lapsed and another sender "
        "took the part over or sent it. If this copy had reached the platform before the cut, "
        "the chat has the part twice",
        ("duplicates_avoided",)),
    # Anything else (a bug, a cancellation): the claim is given up and the error goes on up,
    # where the pass logs it and counts the briefing failed.
    "crashed": Effect("release", 0, "", ()),
}


def outcome_of(error: BaseException, *, stopping: bool, max_wait: dt.timedelta) -> Outcome:
    """What a send that raised `error` (an Exception or a cancellation) came to; `stopping`:
    the bot is shutting down."""
    match error:
        case RateLimited() if dt.timedelta(seconds=error.retry_after) > max_wait:
            return "deferred"
        case TemporaryFailure():
            return "interrupted" if stopping else "failed"
        case ChatUnavailable():
            return "paused"
        case Superseded():
            return "superseded"
        case ClaimLost(mid_send=True):
            return "cut_short"
        case ClaimLost():
            return "taken_over"
    return "crashed"
