"""The SQLite backend: every storage protocol on one local file (WAL, so `send-due` and `run`
can share it). Instants are stored as UTC ISO-8601 text to the second, dates as ISO text."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from briefbot.config import ChannelSchedule
from briefbot.errors import StorageError
from briefbot.store.migrations import migrate
from briefbot.store.records import (
    SENT_KEPT_FOR,
    BriefingProgress,
    ClaimResult,
    Finish,
    SentArticle,
    Source,
    Subscription,
)
from briefbot.store.sqlite_file import DatabaseFile

log = logging.getLogger(__name__)

# A subscription's row with its deferral, if any: what `_row_to_subscription` reads.
_SUBSCRIPTIONS = (
    "SELECT id, platform, chat_id, time, timezone, created_by, created_at, source, "
    "paused_reason, last_local_date, last_article_id, last_article_date, last_sent_at, "
    "schedule_set_at, thread_id, not_before "
    "FROM subscriptions LEFT JOIN deferrals ON deferrals.subscription_id = subscriptions.id"
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


def _instant(text: object) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(str(text))


def _row_to_subscription(row: tuple[object, ...]) -> Subscription:
    (id_, platform, chat_id, at, zone, created_by, created_at, source, paused, last_date,
     last_article, last_article_date, last_sent, schedule_set, thread, not_before) = row
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
        last_sent_at=_instant(last_sent),
        schedule_set_at=_instant(schedule_set),
        thread_id=None if thread is None else str(thread),
        not_before=_instant(not_before),
    )


class SqliteStore:
    """Every storage protocol (`store.protocols.Store`) on one local SQLite file."""

    def __init__(
        self,
        path: Path | str,
        *,
        busy_timeout_ms: int = 10_000,
        on_lost: Callable[[StorageError], None] | None = None,
    ) -> None:
        """Open (or create, with its folder) the database at `path` (":memory:" for none).

        Raises StorageError when the file is damaged or it (or its -wal/-shm) cannot be written,
        RuntimeError when a newer briefbot has upgraded it, and sqlite3.OperationalError when it
        cannot be opened at all; `on_lost` is called once if the file is later deleted or
        replaced under the process (every write after that raises StorageError).
        """
        self._file = DatabaseFile(None if str(path) == ":memory:" else Path(path).resolve(),
                                  on_lost)
        if self._file.path is not None:
            self._file.path.parent.mkdir(parents=True, exist_ok=True)
            self._file.check_writable()
        # Autocommit mode: every write below opens its own explicit transaction.
        self._db = sqlite3.connect(str(path), isolation_level=None)
        try:
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            # Setting WAL mode has created the file: this is the one we must keep writing to.
            self._file.opened(self._db)
            with self._transaction() as db:
                migrate(db)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            if self._file.path is None or isinstance(exc, sqlite3.OperationalError):
                raise
            raise self._file.damaged(str(exc)) from None
        except BaseException:
            self._db.close()
            raise

    @property
    def lost(self) -> StorageError | None:
        """Why this store refuses writes (its file went away under the process), or None."""
        return self._file.lost

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._file.check_same_file()
        with immediate_transaction(self._db) as db:
            yield db

    def close(self) -> None:
        self._db.close()

    # SubscriptionStore

    def subscriptions(self, *, include_paused: bool = False) -> list[Subscription]:
        where = "" if include_paused else " WHERE paused_reason IS NULL"
        rows = self._db.execute(f"{_SUBSCRIPTIONS}{where} ORDER BY id")
        return [_row_to_subscription(row) for row in rows]

    def subscription(self, platform: str, chat_id: str) -> Subscription | None:
        row = self._db.execute(
            f"{_SUBSCRIPTIONS} WHERE platform = ? AND chat_id = ?",
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
        # One upsert: only a new time or zone, or a resume, moves schedule_set_at to `now`.
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
        # A channel cannot send /subscribe, so (re)starting is the operator's way to resume one
        # after fixing the bot's rights; one still broken is paused again by its next send.
        moves = self._moves(platform)
        # A listed chat that moved (a group that became a supergroup) is its new id.
        listed = {_follow(moves, channel.chat_id): channel for channel in channels}
        for chat_id, channel in listed.items():
            self._sync_channel(platform, chat_id, channel, now)
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

    def _sync_channel(
        self, platform: str, chat_id: str, channel: ChannelSchedule, now: dt.datetime
    ) -> None:
        """One listed channel: unchanged keeps its history (resumed if paused), else (re)set."""
        current = self.subscription(platform, chat_id)
        if current is None or current.source != "config" or (
            (current.time, current.timezone) != (channel.time, channel.timezone)
        ):
            self.subscribe(platform, chat_id, channel.time, channel.timezone,
                           created_by="config", now=now, source="config")
        elif current.paused_reason is not None:
            self._resume(platform, chat_id)
            log.info("%s chat %s (config.yaml) resumed; it was paused: %s",
                     platform, chat_id, current.paused_reason)

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

    # Ledger

    def progress(self, subscription_id: int, local_date: dt.date) -> BriefingProgress:
        # One read: the day's ledger rows (a part number), then the articles sent (none).
        rows = self._db.execute(
            "SELECT part, article_ids, sent_at FROM ledger "
            "WHERE subscription_id = ? AND local_date = ? "
            "UNION ALL SELECT NULL, article_id, NULL FROM sent_articles WHERE subscription_id = ?",
            (subscription_id, local_date.isoformat(), subscription_id),
        ).fetchall()
        parts = [(int(part), str(ids), str(sent)) for part, ids, sent in rows if part is not None]
        sent_before = frozenset(str(article) for part, article, _ in rows if part is None)
        if not parts:
            return BriefingProgress(None, frozenset(), sent_article_ids=sent_before)
        return BriefingProgress(
            tuple(json.loads(parts[0][1])),
            frozenset(part for part, _, _ in parts),
            max(dt.datetime.fromisoformat(sent) for _, _, sent in parts),
            sent_before,
        )

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
        # IMMEDIATE: two processes claiming the same part serialise on the write lock here.
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
        key = (subscription_id, local_date.isoformat(), part)
        with self._transaction() as db:
            sent = db.execute(
                "SELECT 1 FROM ledger WHERE subscription_id = ? AND local_date = ? AND part = ?",
                key,
            ).fetchone()
            if sent:
                # Another sender (whose lease had lapsed) sent it after all and recorded it:
                # the part is no longer ours to send, and our claim on it means nothing.
                db.execute(
                    "DELETE FROM claims WHERE subscription_id = ? AND local_date = ? "
                    "AND part = ? AND claimant = ?",
                    (*key, claimant),
                )
                return False
            cursor = db.execute(
                "UPDATE claims SET expires_at = ? "
                "WHERE subscription_id = ? AND local_date = ? AND part = ? AND claimant = ?",
                (_stamp(now + lease), *key, claimant),
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
        finish: Finish | None = None,
    ) -> None:
        key = (subscription_id, local_date.isoformat(), part)
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO ledger VALUES (?, ?, ?, ?, ?)",
                (*key, json.dumps(list(article_ids)), _stamp(sent_at)),
            )
            # Only our own claim: one another sender took over after our lease lapsed stays
            # its own, and its next renewal finds the part in the ledger and stops its send.
            db.execute(
                "DELETE FROM claims WHERE subscription_id = ? AND local_date = ? AND part = ? "
                "AND claimant = ?",
                (*key, claimant),
            )
            if finish is not None:
                _close_day(db, subscription_id, local_date, finish)

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
        briefed_chat: tuple[str, str] | None = None,
    ) -> None:
        finish = Finish(newest_article_id, newest_article_date, sent_at, tuple(sent_articles),
                        briefed_chat)
        with self._transaction() as db:
            _close_day(db, subscription_id, local_date, finish)

    def defer(self, subscription_id: int, until: dt.datetime, reason: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO deferrals VALUES (?, ?, ?)",
                       (subscription_id, _stamp(until), reason))

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


def _close_day(db: sqlite3.Connection, subscription_id: int, local_date: dt.date,
               finish: Finish) -> None:
    """`Ledger.finish_briefing`, inside the caller's write transaction."""
    day = local_date.isoformat()
    date = None if finish.newest_article_date is None else finish.newest_article_date.isoformat()
    sent_at = None if finish.sent_at is None else _stamp(finish.sent_at)
    db.execute("DELETE FROM deferrals WHERE subscription_id = ?", (subscription_id,))
    # The day only moves forward; the newest date the chat was sent only rises (a back-dated
    # article must not lower it); with no newest article, what the chat was sent stays as is.
    db.execute(
        "UPDATE subscriptions SET "
        "last_local_date = CASE WHEN last_local_date IS NULL OR last_local_date < :day "
        "THEN :day ELSE last_local_date END, "
        "last_article_id = COALESCE(:newest, last_article_id), "
        "last_article_date = CASE WHEN :newest IS NOT NULL AND (last_article_date IS NULL "
        "OR :date > last_article_date) THEN COALESCE(:date, last_article_date) "
        "ELSE last_article_date END, "
        "last_sent_at = CASE WHEN :newest IS NOT NULL THEN COALESCE(:sent_at, last_sent_at) "
        "ELSE last_sent_at END "
        "WHERE id = :id",
        {"day": day, "newest": finish.newest_article_id, "date": date, "sent_at": sent_at,
         "id": subscription_id},
    )
    db.executemany(
        "INSERT OR REPLACE INTO sent_articles VALUES (?, ?, ?)",
        [(subscription_id, article_id, None if when is None else when.isoformat())
         for article_id, when in finish.sent_articles],
    )
    if finish.newest_article_id is not None and finish.sent_at is not None:
        # Older than this, an article is old news to the chat whether sent or not.
        forget_before = (finish.sent_at.astimezone(dt.UTC).date() - SENT_KEPT_FOR).isoformat()
        db.execute(
            "DELETE FROM sent_articles WHERE subscription_id = ? AND article_date < ?",
            (subscription_id, forget_before),
        )
    if finish.briefed_chat is not None and finish.newest_article_id is not None:
        db.execute("INSERT OR REPLACE INTO chat_memory VALUES (?, ?, ?)",
                   (*finish.briefed_chat, finish.newest_article_id))


def _follow(moves: dict[str, str], chat_id: str) -> str:
    """The id a chat has now, following recorded moves (a cycle stops where it repeats)."""
    seen = {chat_id}
    while chat_id in moves and moves[chat_id] not in seen:
        chat_id = moves[chat_id]
        seen.add(chat_id)
    return chat_id


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
