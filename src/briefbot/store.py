"""Subscriptions, the delivery ledger, in-flight claims and each chat's last briefing, in SQLite."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from briefbot.config import ChannelSchedule, Config
from briefbot.errors import StorageError

log = logging.getLogger(__name__)

Source = Literal["chat", "config"]
ClaimResult = Literal["claimed", "delivered", "busy", "changed"]


@dataclass(frozen=True, slots=True)
class Subscription:
    """One chat's daily briefing and what it was last sent."""

    id: int
    platform: str
    chat_id: str
    time: dt.time
    timezone: str
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

    @property
    def owed_from(self) -> dt.datetime:
        """Briefings scheduled before this instant are not owed (see `daily.schedule.decide`)."""
        return self.schedule_set_at or self.created_at


@dataclass(frozen=True, slots=True)
class BriefingProgress:
    """What the ledger holds for one (subscription, local date) briefing."""

    article_ids: tuple[str, ...] | None  # pinned by the first part sent; None if none sent yet
    delivered_parts: frozenset[int]
    last_sent_at: dt.datetime | None = None  # when the platform accepted the latest part


# (article id, its date): what a finished briefing sent, so it is never "new" again.
SentArticle = tuple[str, dt.date | None]
# How long what a chat was sent is remembered, counted back from its last briefing: longer
# than daily.delivery.NEW_WITHIN (7 days), by a day for the gap between UTC and local dates.
SENT_KEPT_FOR = dt.timedelta(days=8)


class Store(Protocol):
    """What delivery and the subscription commands need from storage (SQLite now, PostgreSQL later).

    Calls are synchronous and short; each one is its own transaction.
    """

    def subscriptions(self, *, include_paused: bool = False) -> list[Subscription]: ...

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
    ) -> Subscription: ...

    def unsubscribe(self, platform: str, chat_id: str) -> bool: ...

    def sync_config_channels(
        self, platform: str, channels: Sequence[ChannelSchedule], now: dt.datetime
    ) -> None: ...

    def pause(self, platform: str, chat_id: str, reason: str) -> None: ...

    def move_chat(self, platform: str, chat_id: str, new_chat_id: str) -> None: ...

    def progress(self, subscription_id: int, local_date: dt.date) -> BriefingProgress: ...

    def sent_article_ids(self, subscription_id: int) -> frozenset[str]: ...

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
    ) -> ClaimResult: ...

    def renew_claim(
        self,
        subscription_id: int,
        local_date: dt.date,
        part: int,
        *,
        claimant: str,
        now: dt.datetime,
        lease: dt.timedelta,
    ) -> bool: ...

    def record_part(
        self,
        subscription_id: int,
        local_date: dt.date,
        part: int,
        article_ids: Sequence[str],
        *,
        claimant: str,
        sent_at: dt.datetime,
    ) -> None: ...

    def release_part(
        self, subscription_id: int, local_date: dt.date, part: int, *, claimant: str
    ) -> None: ...

    def finish_briefing(
        self,
        subscription_id: int,
        local_date: dt.date,
        *,
        newest_article_id: str | None,
        newest_article_date: dt.date | None,
        sent_at: dt.datetime | None,
        sent_articles: Sequence[SentArticle] = (),
    ) -> None: ...

    def defer(self, subscription_id: int, until: dt.datetime, reason: str) -> None: ...

    def deferrals(self) -> dict[int, dt.datetime]: ...

    def last_briefed(self, platform: str, chat_id: str) -> str | None: ...

    def remember_briefed(self, platform: str, chat_id: str, article_id: str) -> None: ...

    def close(self) -> None: ...


# Each entry moves the schema one version up; never edit a released one, append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE subscriptions (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        time TEXT NOT NULL,
        timezone TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('chat', 'config')),
        paused_reason TEXT,
        last_local_date TEXT,
        last_article_id TEXT,
        last_article_date TEXT,
        last_sent_at TEXT,
        UNIQUE (platform, chat_id)
    );
    CREATE TABLE ledger (
        subscription_id INTEGER NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
        local_date TEXT NOT NULL,
        part INTEGER NOT NULL,
        article_ids TEXT NOT NULL,
        sent_at TEXT NOT NULL,
        PRIMARY KEY (subscription_id, local_date, part)
    ) WITHOUT ROWID;
    CREATE TABLE claims (
        subscription_id INTEGER NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
        local_date TEXT NOT NULL,
        part INTEGER NOT NULL,
        claimant TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        PRIMARY KEY (subscription_id, local_date, part)
    ) WITHOUT ROWID;
    CREATE TABLE chat_memory (
        platform TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        article_id TEXT NOT NULL,
        PRIMARY KEY (platform, chat_id)
    ) WITHOUT ROWID;
    """,
    # Which articles each subscription was sent: "new" is decided by membership, because
    # same-date articles have no order that tells which arrived later. Rows older than the
    # subscription's newest sent article are pruned. Backfilled from the ledger, dated by the
    # briefing's day (an article is rarely dated after the day it was briefed).
    """
    CREATE TABLE sent_articles (
        subscription_id INTEGER NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
        article_id TEXT NOT NULL,
        article_date TEXT,
        PRIMARY KEY (subscription_id, article_id)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO sent_articles
        SELECT ledger.subscription_id, sent.value, ledger.local_date
        FROM ledger, json_each(ledger.article_ids) AS sent;
    INSERT OR IGNORE INTO sent_articles
        SELECT id, last_article_id, last_article_date FROM subscriptions
        WHERE last_article_id IS NOT NULL;
    """,
    # A change of time or zone, or a resume, owes only the briefings scheduled after it, as
    # the reply to /subscribe promises; created_at stays the subscription's birth.
    """
    ALTER TABLE subscriptions ADD COLUMN schedule_set_at TEXT;
    UPDATE subscriptions SET schedule_set_at = created_at;
    """,
    # A platform's "retry after N s" longer than a send may wait: the chat's briefing stays
    # due but is not tried before `not_before`, by this process or any other. And the moves of
    # chats (Telegram group -> supergroup), so an old id still in config.yaml finds the new one.
    """
    CREATE TABLE deferrals (
        subscription_id INTEGER PRIMARY KEY REFERENCES subscriptions(id) ON DELETE CASCADE,
        not_before TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE TABLE chat_moves (
        platform TEXT NOT NULL,
        old_chat_id TEXT NOT NULL,
        new_chat_id TEXT NOT NULL,
        PRIMARY KEY (platform, old_chat_id)
    ) WITHOUT ROWID;
    """,
    # The forum topic (Telegram message_thread_id) a /subscribe came from: every part of every
    # briefing goes there, not to the forum's General topic. NULL: the chat itself.
    # And "new" now reaches back a week before the last briefing (daily.delivery.NEW_WITHIN), so
    # the sent articles the old rule pruned (dated before the newest one sent) are restored from
    # the ledger, dated by the briefing's day, lest they count as new again.
    """
    ALTER TABLE subscriptions ADD COLUMN thread_id TEXT;
    INSERT OR IGNORE INTO sent_articles
        SELECT ledger.subscription_id, sent.value, ledger.local_date
        FROM ledger, json_each(ledger.article_ids) AS sent;
    """,
)

_COLUMNS = (
    "id, platform, chat_id, time, timezone, created_by, created_at, source, paused_reason, "
    "last_local_date, last_article_id, last_article_date, last_sent_at, schedule_set_at, "
    "thread_id"
)
_times: dict[str, dt.time] = {}


def _time(text: str) -> dt.time:
    # 100,000 subscriptions share a few hundred distinct times; parse each once.
    value = _times.get(text)
    if value is None:
        value = _times[text] = dt.time.fromisoformat(text)
    return value


def _stamp(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat(timespec="seconds")


def _row_to_subscription(row: tuple[object, ...]) -> Subscription:
    (id_, platform, chat_id, at, zone, created_by, created_at, source, paused, last_date,
     last_article, last_article_date, last_sent, schedule_set, thread) = row
    return Subscription(
        id=int(str(id_)),
        platform=str(platform),
        chat_id=str(chat_id),
        time=_time(str(at)),
        timezone=str(zone),
        created_by=str(created_by),
        created_at=dt.datetime.fromisoformat(str(created_at)),
        source="config" if source == "config" else "chat",
        paused_reason=None if paused is None else str(paused),
        last_local_date=None if last_date is None else dt.date.fromisoformat(str(last_date)),
        last_article_id=None if last_article is None else str(last_article),
        last_article_date=(
            None if last_article_date is None else dt.date.fromisoformat(str(last_article_date))
        ),
        last_sent_at=None if last_sent is None else dt.datetime.fromisoformat(str(last_sent)),
        schedule_set_at=(
            None if schedule_set is None else dt.datetime.fromisoformat(str(schedule_set))
        ),
        thread_id=None if thread is None else str(thread),
    )


class SqliteStore:
    """The `Store` on one local SQLite file (WAL, so `send-due` and `run` can share it)."""

    def __init__(
        self,
        path: Path | str,
        *,
        busy_timeout_ms: int = 10_000,
        on_lost: Callable[[StorageError], None] | None = None,
    ) -> None:
        """Open (or create) the database at `path`.

        Raises StorageError when the file is damaged or it (or its -wal/-shm) cannot be written;
        `on_lost` is called once if the file is later deleted or replaced under the process.
        """
        self._path = None if str(path) == ":memory:" else Path(path).resolve()
        self._on_lost = on_lost
        self.lost: StorageError | None = None
        if self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            _check_writable(self._path)
        # Autocommit mode: every write below opens its own explicit transaction.
        self._db = sqlite3.connect(str(path), isolation_level=None)
        try:
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            # Setting WAL mode has created the file: this is the one we must keep writing to.
            self._identity = self._file_identity()
            self._check_intact()
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            if self._path is None or isinstance(exc, sqlite3.OperationalError):
                raise
            raise _damaged(self._path, str(exc)) from None
        except BaseException:
            self._db.close()
            raise

    def _check_intact(self) -> None:
        """Fail now, naming the file and the fix, rather than with a traceback mid-broadcast."""
        if self._path is None:
            return
        problems = [str(row[0]) for row in self._db.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            raise _damaged(self._path, "; ".join(problems))

    def _file_identity(self) -> tuple[int, int] | None:
        if self._path is None:
            return None
        try:
            found = os.stat(self._path)
        except FileNotFoundError:
            return None
        return (found.st_dev, found.st_ino)

    def _check_same_file(self) -> None:
        """Writes into a deleted (or replaced) file would vanish: refuse them, loudly."""
        if self.lost is not None:
            raise self.lost
        if self._path is None or self._file_identity() == self._identity:
            return
        self.lost = StorageError(
            f"database: {self._path} was deleted or replaced while briefbot was running; "
            "briefbot stopped writing so that no subscription change is silently lost. Restore "
            "the file (from a backup, or move the new one aside) and start briefbot again"
        )
        log.error("%s", self.lost)
        if self._on_lost is not None:
            self._on_lost(self.lost)
        raise self.lost

    @classmethod
    def from_config(
        cls, config: Config, *, on_lost: Callable[[StorageError], None] | None = None
    ) -> SqliteStore:
        return cls(config.database, on_lost=on_lost)

    def _migrate(self) -> None:
        with self._transaction() as db:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > len(MIGRATIONS):
                raise RuntimeError(
                    f"the database is schema version {version}, newer than this briefbot "
                    f"({len(MIGRATIONS)}); upgrade briefbot"
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")
                log.info("database schema migrated to version %d", number)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._check_same_file()
        with immediate_transaction(self._db) as db:
            yield db

    def close(self) -> None:
        self._db.close()

    # Subscriptions

    def subscriptions(self, *, include_paused: bool = False) -> list[Subscription]:
        where = "" if include_paused else " WHERE paused_reason IS NULL"
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM subscriptions{where} ORDER BY id")
        return [_row_to_subscription(row) for row in rows]

    def subscription(self, platform: str, chat_id: str) -> Subscription | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM subscriptions WHERE platform = ? AND chat_id = ?",
            (platform, chat_id),
        ).fetchone()
        return None if row is None else _row_to_subscription(row)

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
        with self._transaction() as db:
            db.execute(
                """
                INSERT INTO subscriptions (platform, chat_id, time, timezone, created_by,
                                           created_at, source, schedule_set_at, thread_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (platform, chat_id) DO UPDATE SET
                    schedule_set_at = CASE
                        WHEN time != excluded.time OR timezone != excluded.timezone
                             OR paused_reason IS NOT NULL
                        THEN excluded.schedule_set_at ELSE schedule_set_at END,
                    time = excluded.time, timezone = excluded.timezone,
                    source = excluded.source, paused_reason = NULL,
                    thread_id = excluded.thread_id
                """,
                (platform, chat_id, at.strftime("%H:%M"), timezone, created_by, _stamp(now),
                 source, _stamp(now), thread_id),
            )
        found = self.subscription(platform, chat_id)
        assert found is not None
        return found

    def unsubscribe(self, platform: str, chat_id: str) -> bool:
        with self._transaction() as db:
            cursor = db.execute(
                "DELETE FROM subscriptions WHERE platform = ? AND chat_id = ?", (platform, chat_id)
            )
        return cursor.rowcount > 0

    def sync_config_channels(
        self, platform: str, channels: Sequence[ChannelSchedule], now: dt.datetime
    ) -> None:
        """Make the config-listed subscriptions of `platform` exactly `channels`, and resume any
        that were paused.

        A channel cannot send /subscribe, so (re)starting is the operator's way to resume one
        after fixing the bot's rights; one still broken is paused again by its next send.
        """
        moves = self._moves(platform)
        # A listed chat that moved (a group that became a supergroup) is its new id.
        listed = {_follow(moves, channel.chat_id) for channel in channels}
        for channel in channels:
            chat_id = _follow(moves, channel.chat_id)
            current = self.subscription(platform, chat_id)
            if current is not None and current.source == "config" and (
                current.time == channel.time and current.timezone == channel.timezone
            ):
                if current.paused_reason is not None:
                    self._resume(platform, chat_id)
                    log.info("%s chat %s (config.yaml) resumed; it was paused: %s",
                             platform, chat_id, current.paused_reason)
                continue  # unchanged: keep its history as it is
            self.subscribe(platform, chat_id, channel.time, channel.timezone,
                           created_by="config", now=now, source="config")
        with self._transaction() as db:
            stale = [
                str(chat_id)
                for (chat_id,) in db.execute(
                    "SELECT chat_id FROM subscriptions WHERE platform = ? AND source = 'config'",
                    (platform,),
                )
                if str(chat_id) not in listed
            ]
            db.executemany(
                "DELETE FROM subscriptions WHERE platform = ? AND chat_id = ?",
                [(platform, chat_id) for chat_id in stale],
            )
        for chat_id in stale:
            log.info("%s chat %s is no longer in config.yaml: unsubscribed", platform, chat_id)

    def _moves(self, platform: str) -> dict[str, str]:
        rows = self._db.execute(
            "SELECT old_chat_id, new_chat_id FROM chat_moves WHERE platform = ?", (platform,))
        return {str(old): str(new) for old, new in rows}

    def _resume(self, platform: str, chat_id: str) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE subscriptions SET paused_reason = NULL WHERE platform = ? AND chat_id = ?",
                (platform, chat_id),
            )

    def pause(self, platform: str, chat_id: str, reason: str) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE subscriptions SET paused_reason = ? WHERE platform = ? AND chat_id = ?",
                (reason or "unavailable", platform, chat_id),
            )

    def move_chat(self, platform: str, chat_id: str, new_chat_id: str) -> None:
        """Follow a chat to its new id: its subscription, ledger and memory go with it."""
        if new_chat_id == chat_id:
            return
        with self._transaction() as db:
            taken = db.execute(
                "SELECT 1 FROM subscriptions WHERE platform = ? AND chat_id = ?",
                (platform, new_chat_id),
            ).fetchone()
            if taken:
                # The new chat already has its own subscription; it wins over the old one.
                db.execute(
                    "DELETE FROM subscriptions WHERE platform = ? AND chat_id = ?",
                    (platform, chat_id),
                )
            else:
                db.execute(
                    "UPDATE subscriptions SET chat_id = ? WHERE platform = ? AND chat_id = ?",
                    (new_chat_id, platform, chat_id),
                )
            db.execute(
                "UPDATE OR REPLACE chat_memory SET chat_id = ? WHERE platform = ? AND chat_id = ?",
                (new_chat_id, platform, chat_id),
            )
            db.execute("INSERT OR REPLACE INTO chat_moves VALUES (?, ?, ?)",
                       (platform, chat_id, new_chat_id))

    # The ledger and claims

    def progress(self, subscription_id: int, local_date: dt.date) -> BriefingProgress:
        rows = self._db.execute(
            "SELECT part, article_ids, sent_at FROM ledger "
            "WHERE subscription_id = ? AND local_date = ?",
            (subscription_id, local_date.isoformat()),
        ).fetchall()
        if not rows:
            return BriefingProgress(None, frozenset())
        return BriefingProgress(
            tuple(json.loads(rows[0][1])),
            frozenset(int(part) for part, _, _ in rows),
            max(dt.datetime.fromisoformat(str(sent)) for _, _, sent in rows),
        )

    def sent_article_ids(self, subscription_id: int) -> frozenset[str]:
        """The articles this subscription was sent (at least those dated on or after its newest)."""
        rows = self._db.execute(
            "SELECT article_id FROM sent_articles WHERE subscription_id = ?", (subscription_id,)
        )
        return frozenset(str(article_id) for (article_id,) in rows)

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
        """Take the right to send one part, unless it is sent, claimed by a live lease or stale.

        "changed" means another sender already pinned this briefing to different articles.
        """
        key = (subscription_id, local_date.isoformat())
        with self._transaction() as db:
            sent = db.execute(
                "SELECT part, article_ids FROM ledger WHERE subscription_id = ? AND local_date = ?",
                key,
            ).fetchall()
            if any(int(row[0]) == part for row in sent):
                return "delivered"
            if sent and tuple(json.loads(sent[0][1])) != tuple(article_ids):
                return "changed"
            holder = db.execute(
                "SELECT claimant, expires_at FROM claims "
                "WHERE subscription_id = ? AND local_date = ? AND part = ?",
                (*key, part),
            ).fetchone()
            if holder is not None and holder[0] != claimant and (
                dt.datetime.fromisoformat(holder[1]) > now
            ):
                return "busy"
            db.execute(
                "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)",
                (*key, part, claimant, _stamp(now + lease)),
            )
        return "claimed"

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
        """Extend `claimant`'s lease on a part; False if the claim is no longer its own (another
        sender took it over after the lease lapsed, or sent it already)."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE claims SET expires_at = ? "
                "WHERE subscription_id = ? AND local_date = ? AND part = ? AND claimant = ?",
                (_stamp(now + lease), subscription_id, local_date.isoformat(), part, claimant),
            )
        return cursor.rowcount > 0

    def record_part(
        self,
        subscription_id: int,
        local_date: dt.date,
        part: int,
        article_ids: Sequence[str],
        *,
        claimant: str,
        sent_at: dt.datetime,
    ) -> None:
        """The platform accepted the part: write it to the ledger and drop the claim."""
        key = (subscription_id, local_date.isoformat(), part)
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO ledger VALUES (?, ?, ?, ?, ?)",
                (*key, json.dumps(list(article_ids)), _stamp(sent_at)),
            )
            db.execute(
                "DELETE FROM claims WHERE subscription_id = ? AND local_date = ? AND part = ?",
                key,
            )

    def release_part(
        self, subscription_id: int, local_date: dt.date, part: int, *, claimant: str
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "DELETE FROM claims WHERE subscription_id = ? AND local_date = ? AND part = ? "
                "AND claimant = ?",
                (subscription_id, local_date.isoformat(), part, claimant),
            )

    def finish_briefing(
        self,
        subscription_id: int,
        local_date: dt.date,
        *,
        newest_article_id: str | None,
        newest_article_date: dt.date | None,
        sent_at: dt.datetime | None,
        sent_articles: Sequence[SentArticle] = (),
    ) -> None:
        """Close the day: later passes will not send it again (sent, nothing new, or skipped).

        `sent_articles` (the briefing's articles) count as sent from now on; a date or send time
        left None keeps the one already stored.
        """
        with self._transaction() as db:
            db.execute("DELETE FROM deferrals WHERE subscription_id = ?", (subscription_id,))
            db.execute(
                "UPDATE subscriptions SET last_local_date = ? WHERE id = ? "
                "AND (last_local_date IS NULL OR last_local_date < ?)",
                (local_date.isoformat(), subscription_id, local_date.isoformat()),
            )
            db.executemany(
                "INSERT OR REPLACE INTO sent_articles VALUES (?, ?, ?)",
                [(subscription_id, article_id, None if date is None else date.isoformat())
                 for article_id, date in sent_articles],
            )
            if newest_article_id is not None:
                date = None if newest_article_date is None else newest_article_date.isoformat()
                # The newest date the chat was sent: a back-dated article must not lower it.
                db.execute(
                    "UPDATE subscriptions SET last_article_id = ?, "
                    "last_article_date = CASE WHEN last_article_date IS NULL "
                    "OR ? > last_article_date THEN COALESCE(?, last_article_date) "
                    "ELSE last_article_date END, "
                    "last_sent_at = COALESCE(?, last_sent_at) WHERE id = ?",
                    (newest_article_id, date, date,
                     None if sent_at is None else _stamp(sent_at), subscription_id),
                )
            if newest_article_id is not None and sent_at is not None:
                # Older than this, an article is old news to the chat whether sent or not.
                forget_before = (sent_at.astimezone(dt.UTC).date() - SENT_KEPT_FOR).isoformat()
                db.execute(
                    "DELETE FROM sent_articles WHERE subscription_id = ? AND article_date < ?",
                    (subscription_id, forget_before),
                )

    # Deferrals

    def defer(self, subscription_id: int, until: dt.datetime, reason: str) -> None:
        """Try this subscription's due briefing no earlier than `until` (a platform asked so)."""
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO deferrals VALUES (?, ?, ?)",
                       (subscription_id, _stamp(until), reason))

    def deferrals(self) -> dict[int, dt.datetime]:
        """Subscription id -> the instant before which its briefing must not be tried."""
        rows = self._db.execute("SELECT subscription_id, not_before FROM deferrals")
        return {int(sub_id): dt.datetime.fromisoformat(str(at)) for sub_id, at in rows}

    # ChatMemory

    def last_briefed(self, platform: str, chat_id: str) -> str | None:
        row = self._db.execute(
            "SELECT article_id FROM chat_memory WHERE platform = ? AND chat_id = ?",
            (platform, chat_id),
        ).fetchone()
        return None if row is None else str(row[0])

    def remember_briefed(self, platform: str, chat_id: str, article_id: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO chat_memory VALUES (?, ?, ?)",
                (platform, chat_id, article_id),
            )

    # Bulk helpers for benchmarks and imports

    def add_many(self, rows: Iterable[tuple[str, str, dt.time, str]], now: dt.datetime) -> None:
        """Insert many (platform, chat_id, time, timezone) chat subscriptions in one transaction."""
        stamp = _stamp(now)
        with self._transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO subscriptions (platform, chat_id, time, timezone, "
                "created_by, created_at, source, schedule_set_at) "
                "VALUES (?, ?, ?, ?, 'import', ?, 'chat', ?)",
                ((p, c, t.strftime("%H:%M"), z, stamp, stamp) for p, c, t, z in rows),
            )


def _follow(moves: dict[str, str], chat_id: str) -> str:
    """The id a chat has now, following recorded moves (a cycle stops where it repeats)."""
    seen = {chat_id}
    while chat_id in moves and moves[chat_id] not in seen:
        chat_id = moves[chat_id]
        seen.add(chat_id)
    return chat_id


def _damaged(path: Path, detail: str) -> StorageError:
    return StorageError(
        f"database: {path} is damaged ({detail}). Stop briefbot and keep a copy of the file; "
        f"then restore your latest backup, or recover what SQLite can with "
        f"`sqlite3 {path} .recover | sqlite3 {path}.recovered` and put {path.name}.recovered "
        "in its place"
    )


def _check_writable(path: Path) -> None:
    """The database and its -wal and -shm files must be writable: SQLite maps the -shm file into
    memory, and a read-only one kills the process with SIGBUS instead of raising an error."""
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if candidate.exists() and not os.access(candidate, os.W_OK):
            raise StorageError(
                f"database: {candidate} is read-only; make it writable by the user briefbot runs "
                f"as (chown or chmod), or, with briefbot stopped, remove the -wal/-shm file"
            )
    if not os.access(path.parent, os.W_OK):
        raise StorageError(
            f"database: the folder {path.parent} is read-only; SQLite needs to create its -wal "
            "and -shm files there; point `database:` at a writable folder"
        )


def sync_config_subscriptions(store: Store, config: Config, now: dt.datetime) -> None:
    """Upsert every channel listed in config.yaml; drop config subscriptions no longer listed."""
    store.sync_config_channels("telegram", config.telegram.channels, now)
    store.sync_config_channels("discord", config.discord.channels, now)


@contextmanager
def immediate_transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction on `db` (autocommit mode), rolled back on any error.

    IMMEDIATE takes the write lock up front, so two processes' claims serialise here rather
    than failing at their first write."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
