"""The SQLite schema, as numbered migrations: a database is at version `PRAGMA user_version`."""

from __future__ import annotations

import logging
import sqlite3

log = logging.getLogger(__name__)

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


def migrate(db: sqlite3.Connection) -> None:
    """Bring the schema of `db` (inside the caller's write transaction) up to the newest version.

    Raises RuntimeError for a database a newer briefbot has upgraded: it must not be written.
    """
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
