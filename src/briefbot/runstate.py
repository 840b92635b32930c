"""What the operator sees, kept in SQLite beside the store's tables: feed fetches, the feed items
written to the content folder (and a hash of each file as written), and the last delivery pass."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from briefbot.store.sqlite import immediate_transaction

FetchOutcome = Literal["ok", "not-modified", "failed"]

# Its own tables, created if missing, so it never competes with `store.migrations.MIGRATIONS`
# for the database's user_version. A later change adds columns with ALTER TABLE under a version
# row.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS feed_state (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    last_attempt_at TEXT,
    last_ok_at TEXT,
    result TEXT,
    message TEXT,
    new_items INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS feed_items (
    feed TEXT NOT NULL,
    item_key TEXT NOT NULL,
    article_id TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL,
    published TEXT NOT NULL,
    written_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    removed_at TEXT,
    removed_why TEXT,
    PRIMARY KEY (feed, item_key)
);
CREATE TABLE IF NOT EXISTS feed_item_aliases (
    feed TEXT NOT NULL,
    alias TEXT NOT NULL,
    item_key TEXT NOT NULL,
    PRIMARY KEY (feed, alias)
);
CREATE TABLE IF NOT EXISTS delivery_passes (
    slot TEXT PRIMARY KEY,
    at TEXT NOT NULL,
    source TEXT NOT NULL,
    report TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class FeedState:
    """The last fetch of one feed, by its configured name."""

    name: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_attempt_at: dt.datetime | None = None
    last_ok_at: dt.datetime | None = None
    result: FetchOutcome | None = None
    message: str = ""
    new_items: int = 0
    failures: int = 0  # consecutive failed fetches; 0 after a success


@dataclass(frozen=True, slots=True)
class FeedItemRecord:
    """A feed item briefbot wrote as `<article_id>.md`; `sha256` is of the bytes it wrote, so a
    file that hashes differently was edited by a person (and is never overwritten or removed).
    An empty `sha256` marks a file that was already there: not briefbot's."""

    feed: str
    item_key: str
    article_id: str
    sha256: str
    published: dt.datetime
    written_at: dt.datetime
    last_seen_at: dt.datetime
    removed_at: dt.datetime | None = None
    removed_why: str | None = None


@dataclass(frozen=True, slots=True)
class PassRecord:
    """One delivery pass that had work (due or skipped briefings), as `status` shows it."""

    at: dt.datetime
    source: str  # "run" or "send-due"
    counts: dict[str, int]

    @property
    def still_due(self) -> int:
        """Briefings the pass left due for a later one: failed for now, interrupted by a stop,
        or deferred because the platform asked to wait longer than a send may wait."""
        return sum(self.counts.get(name, 0) for name in ("failed", "interrupted", "deferred"))


def _stamp(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat(timespec="seconds")


def _instant(text: object) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(str(text))


class RunState:
    """The operator-facing tables in the database at `path` (one connection; WAL, like the store).

    Raises sqlite3.Error or OSError when the file cannot be opened; callers turn that into a
    config error naming `database:`.
    """

    def __init__(self, path: Path | str, *, create: bool = True) -> None:
        if str(path) != ":memory:" and create:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None)
        self._db.execute("PRAGMA busy_timeout = 10000")
        self._db.execute("PRAGMA journal_mode = WAL")
        with self._transaction() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self._db)

    def close(self) -> None:
        self._db.close()

    # Feeds

    def feed_state(self, name: str) -> FeedState | None:
        row = self._db.execute(
            "SELECT name, url, etag, last_modified, last_attempt_at, last_ok_at, result, "
            "message, new_items, failures FROM feed_state WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            return None
        return FeedState(
            name=row[0], url=row[1], etag=row[2], last_modified=row[3],
            last_attempt_at=_instant(row[4]), last_ok_at=_instant(row[5]),
            result=row[6], message=row[7] or "", new_items=int(row[8]), failures=int(row[9]),
        )

    def record_fetch(
        self,
        name: str,
        url: str,
        *,
        at: dt.datetime,
        result: FetchOutcome,
        message: str,
        new_items: int = 0,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> None:
        """Store one fetch's outcome. A failure keeps the validators of the last good fetch."""
        previous = self.feed_state(name)
        same_url = previous is not None and previous.url == url
        if result == "failed":
            etag = previous.etag if same_url and previous else None
            last_modified = previous.last_modified if same_url and previous else None
        elif result == "not-modified" and previous is not None:
            etag = etag or previous.etag
            last_modified = last_modified or previous.last_modified
        failures = (previous.failures if previous else 0) + 1 if result == "failed" else 0
        last_ok = at if result != "failed" else (previous.last_ok_at if previous else None)
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO feed_state (name, url, etag, last_modified, "
                "last_attempt_at, last_ok_at, result, message, new_items, failures) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, url, etag, last_modified, _stamp(at),
                 None if last_ok is None else _stamp(last_ok), result, message, new_items,
                 failures),
            )

    def item(self, feed: str, item_key: str) -> FeedItemRecord | None:
        row = self._db.execute(
            f"SELECT {_ITEM_COLUMNS} FROM feed_items WHERE feed = ? AND item_key = ?",
            (feed, item_key),
        ).fetchone()
        return None if row is None else _row_to_item(row)

    def has_alias(self, feed: str, alias: str) -> bool:
        """Whether an item of `feed` was already written under this second key."""
        return self._db.execute("SELECT 1 FROM feed_item_aliases WHERE feed = ? AND alias = ?",
                                (feed, alias)).fetchone() is not None

    def record_alias(self, feed: str, alias: str, item_key: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO feed_item_aliases (feed, alias, item_key) "
                       "VALUES (?, ?, ?)", (feed, alias, item_key))

    def items(self, *, present_only: bool = False) -> list[FeedItemRecord]:
        where = " WHERE removed_at IS NULL" if present_only else ""
        rows = self._db.execute(
            f"SELECT {_ITEM_COLUMNS} FROM feed_items{where} ORDER BY published DESC"
        )
        return [_row_to_item(row) for row in rows]

    def record_item(self, record: FeedItemRecord) -> None:
        with self._transaction() as db:
            db.execute(
                f"INSERT OR IGNORE INTO feed_items ({_ITEM_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.feed, record.item_key, record.article_id, record.sha256,
                 _stamp(record.published), _stamp(record.written_at),
                 _stamp(record.last_seen_at),
                 None if record.removed_at is None else _stamp(record.removed_at),
                 record.removed_why),
            )

    def seen(self, feed: str, item_keys: list[str], at: dt.datetime) -> None:
        """The feed still lists these items: keep their records (and keep them not re-fetched)."""
        with self._transaction() as db:
            db.executemany(
                "UPDATE feed_items SET last_seen_at = ? WHERE feed = ? AND item_key = ?",
                [(_stamp(at), feed, key) for key in item_keys],
            )

    def mark_removed(self, article_id: str, at: dt.datetime, why: str) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE feed_items SET removed_at = ?, removed_why = ? WHERE article_id = ?",
                (_stamp(at), why, article_id),
            )

    def forget_removed(self, unseen_since: dt.datetime) -> int:
        """Drop records of removed items no feed has listed since `unseen_since`; returns how
        many. While a feed lists an item its record stays, so it is never fetched back."""
        with self._transaction() as db:
            cursor = db.execute(
                "DELETE FROM feed_items WHERE removed_at IS NOT NULL AND last_seen_at < ?",
                (_stamp(unseen_since),),
            )
            return cursor.rowcount

    # Delivery passes

    def record_pass(self, at: dt.datetime, source: str, counts: dict[str, int]) -> None:
        """Keep the latest pass that had work; `status` reports it as the last delivery pass."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO delivery_passes (slot, at, source, report) "
                "VALUES ('last', ?, ?, ?)",
                (_stamp(at), source, json.dumps(counts, sort_keys=True)),
            )

    def last_pass(self) -> PassRecord | None:
        row = self._db.execute(
            "SELECT at, source, report FROM delivery_passes WHERE slot = 'last'"
        ).fetchone()
        if row is None:
            return None
        counts = {str(k): int(v) for k, v in json.loads(row[2]).items()}
        at = _instant(row[0])
        assert at is not None
        return PassRecord(at=at, source=str(row[1]), counts=counts)


_ITEM_COLUMNS = ", ".join(f.name for f in dataclasses.fields(FeedItemRecord))


def _row_to_item(row: tuple[object, ...]) -> FeedItemRecord:
    feed, key, article_id, sha, published, written, seen, removed, why = row
    published_at, written_at, seen_at = _instant(published), _instant(written), _instant(seen)
    assert published_at is not None and written_at is not None and seen_at is not None
    return FeedItemRecord(
        feed=str(feed), item_key=str(key), article_id=str(article_id), sha256=str(sha),
        published=published_at, written_at=written_at, last_seen_at=seen_at,
        removed_at=_instant(removed), removed_why=None if why is None else str(why),
    )
