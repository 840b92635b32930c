"""The SQLite store: schema on first run, config channels, claims, moves and chat memory."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from briefbot.config import ChannelSchedule
from briefbot.store import MIGRATIONS, SqliteStore

NOW = dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)
DAY = dt.date(2026, 11, 23)
LEASE = dt.timedelta(minutes=5)


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    opened = SqliteStore(tmp_path / "nested" / "dir" / "bot.sqlite3")
    yield opened  # type: ignore[misc]
    opened.close()


def test_first_run_creates_folder_schema_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "data" / "bot.sqlite3"
    SqliteStore(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_reopening_keeps_subscriptions(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    first = SqliteStore(path)
    first.subscribe("telegram", "-100", dt.time(7, 30), "Europe/Berlin", created_by="1", now=NOW)
    first.close()
    again = SqliteStore(path)
    sub = again.subscription("telegram", "-100")
    again.close()
    assert sub is not None and (sub.time, sub.timezone) == (dt.time(7, 30), "Europe/Berlin")


def test_database_from_a_newer_briefbot_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(RuntimeError, match="upgrade briefbot"):
        SqliteStore(path)


def test_config_channels_are_upserted_and_removed_with_config(store: SqliteStore) -> None:
    store.subscribe("telegram", "-7", dt.time(9, 0), "UTC", created_by="42", now=NOW)
    news = ChannelSchedule("@news", dt.time(7, 30), "Europe/Berlin")
    sport = ChannelSchedule("@sport", dt.time(8, 0), "Europe/Berlin")
    store.sync_config_channels("telegram", [news, sport], NOW)
    store.sync_config_channels(
        "telegram", [ChannelSchedule("@news", dt.time(6, 0), "Europe/Berlin")], NOW
    )
    chats = {s.chat_id: s for s in store.subscriptions()}
    assert set(chats) == {"@news", "-7"}  # the chat's own subscription is not config's to remove
    assert chats["@news"].time == dt.time(6, 0)
    assert chats["@news"].source == "config"


def test_restart_resumes_a_paused_config_channel_and_keeps_its_history(
    store: SqliteStore,
) -> None:
    """A channel cannot send /subscribe: the operator fixes the bot's rights and restarts it."""
    news = ChannelSchedule("@news", dt.time(7, 30), "Europe/Berlin")
    store.sync_config_channels("telegram", [news], NOW)
    sub = store.subscription("telegram", "@news")
    assert sub is not None
    store.finish_briefing(sub.id, DAY, newest_article_id="bridge", newest_article_date=DAY,
                          sent_at=NOW, sent_articles=[("bridge", DAY)])
    store.pause("telegram", "@news", "bot is not a member of the channel chat")
    store.sync_config_channels("telegram", [news], NOW + dt.timedelta(days=1))
    [resumed] = store.subscriptions()
    assert (resumed.chat_id, resumed.paused_reason) == ("@news", None)
    assert resumed.last_article_id == "bridge"


def test_a_live_claim_keeps_other_senders_off_the_part(store: SqliteStore) -> None:
    sub = store.subscribe("telegram", "-1", dt.time(7), "UTC", created_by="1", now=NOW)
    ids = ["a"]
    assert store.claim_part(sub.id, DAY, 0, ids, claimant="A", now=NOW, lease=LEASE) == "claimed"
    assert store.claim_part(sub.id, DAY, 0, ids, claimant="B", now=NOW, lease=LEASE) == "busy"
    expired = NOW + LEASE + dt.timedelta(seconds=1)
    assert store.claim_part(sub.id, DAY, 0, ids, claimant="B", now=expired, lease=LEASE) == (
        "claimed"
    )


def test_a_recorded_part_is_never_claimed_again(store: SqliteStore) -> None:
    sub = store.subscribe("telegram", "-1", dt.time(7), "UTC", created_by="1", now=NOW)
    store.claim_part(sub.id, DAY, 0, ["a"], claimant="A", now=NOW, lease=LEASE)
    store.record_part(sub.id, DAY, 0, ["a"], claimant="A", sent_at=NOW)
    later = NOW + dt.timedelta(hours=1)
    assert store.claim_part(sub.id, DAY, 0, ["a"], claimant="B", now=later, lease=LEASE) == (
        "delivered"
    )
    assert store.progress(sub.id, DAY).delivered_parts == {0}


def test_a_briefing_begun_with_other_articles_is_not_mixed(store: SqliteStore) -> None:
    sub = store.subscribe("telegram", "-1", dt.time(7), "UTC", created_by="1", now=NOW)
    store.claim_part(sub.id, DAY, 0, ["a"], claimant="A", now=NOW, lease=LEASE)
    store.record_part(sub.id, DAY, 0, ["a"], claimant="A", sent_at=NOW)
    assert store.claim_part(sub.id, DAY, 1, ["b", "a"], claimant="B", now=NOW, lease=LEASE) == (
        "changed"
    )
    assert store.progress(sub.id, DAY).article_ids == ("a",)


def test_moving_a_chat_takes_its_ledger_and_memory(store: SqliteStore) -> None:
    sub = store.subscribe("telegram", "-1", dt.time(7), "UTC", created_by="1", now=NOW)
    store.record_part(sub.id, DAY, 0, ["a"], claimant="A", sent_at=NOW)
    store.remember_briefed("telegram", "-1", "a")
    store.move_chat("telegram", "-1", "-1001")
    moved = store.subscription("telegram", "-1001")
    assert moved is not None and moved.id == sub.id
    assert store.progress(sub.id, DAY).delivered_parts == {0}
    assert store.last_briefed("telegram", "-1001") == "a"
    assert store.last_briefed("telegram", "-1") is None


def test_chat_memory_remembers_the_last_briefed_article(store: SqliteStore) -> None:
    assert store.last_briefed("discord", "55") is None
    store.remember_briefed("discord", "55", "first")
    store.remember_briefed("discord", "55", "second")
    assert store.last_briefed("discord", "55") == "second"
    assert store.last_briefed("telegram", "55") is None


def test_unsubscribing_forgets_the_ledger(store: SqliteStore) -> None:
    sub = store.subscribe("telegram", "-1", dt.time(7), "UTC", created_by="1", now=NOW)
    store.record_part(sub.id, DAY, 0, ["a"], claimant="A", sent_at=NOW)
    assert store.unsubscribe("telegram", "-1")
    assert not store.unsubscribe("telegram", "-1")
    assert store.progress(sub.id, DAY).delivered_parts == frozenset()


def test_upgraded_database_counts_ledger_articles_as_sent(tmp_path: Path) -> None:
    """A database from before per-article membership keeps knowing what each chat was sent."""
    path = tmp_path / "bot.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    db.execute("INSERT INTO subscriptions VALUES (1, 'telegram', '-1', '07:30', 'UTC', 'a', "
               "'2026-11-01T00:00:00+00:00', 'chat', NULL, '2026-11-22', 'bridge', "
               "'2026-11-22', '2026-11-22T07:30:00+00:00')")
    db.execute("INSERT INTO ledger VALUES (1, '2026-11-22', 0, '[\"bridge\", \"park\"]', "
               "'2026-11-22T07:30:00+00:00')")
    db.commit()
    db.close()
    upgraded = SqliteStore(path)
    assert upgraded.progress(1, DAY).sent_article_ids == {"bridge", "park"}
    sub = upgraded.subscription("telegram", "-1")
    assert sub is not None and sub.owed_from == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    upgraded.close()


def test_finishing_a_briefing_remembers_its_articles_and_forgets_old_news(
    store: SqliteStore,
) -> None:
    """Sent articles dated within SENT_KEPT_FOR of the send are kept (they could be new again
    otherwise); older ones are old news anyway, and forgotten."""
    sub = store.subscribe("telegram", "-1", dt.time(7), "UTC", created_by="1", now=NOW)
    week_ago = NOW.date() - dt.timedelta(days=7)
    month_ago = NOW.date() - dt.timedelta(days=30)
    store.finish_briefing(sub.id, DAY, newest_article_id="old", newest_article_date=week_ago,
                          sent_at=NOW, sent_articles=[("old", week_ago), ("ancient", month_ago)])
    later = DAY + dt.timedelta(days=1)
    store.finish_briefing(sub.id, later, newest_article_id="new", newest_article_date=later,
                          sent_at=NOW, sent_articles=[("new", later), ("same-day", later)])
    assert store.progress(sub.id, DAY).sent_article_ids == {"old", "new", "same-day"}
    assert store.subscription("telegram", "-1").last_article_date == later  # type: ignore[union-attr]


def test_a_back_dated_article_sent_last_does_not_lower_the_newest_date(
    store: SqliteStore,
) -> None:
    sub = store.subscribe("telegram", "-1", dt.time(7), "UTC", created_by="1", now=NOW)
    store.finish_briefing(sub.id, DAY, newest_article_id="new", newest_article_date=DAY,
                          sent_at=NOW, sent_articles=[("new", DAY)])
    earlier = DAY - dt.timedelta(days=2)
    store.finish_briefing(sub.id, DAY + dt.timedelta(days=1), newest_article_id="late",
                          newest_article_date=earlier, sent_at=NOW,
                          sent_articles=[("late", earlier)])
    assert store.subscription("telegram", "-1").last_article_date == DAY  # type: ignore[union-attr]


def test_a_claim_taken_over_after_its_lease_cannot_be_renewed(store: SqliteStore) -> None:
    sub = store.subscribe("telegram", "-1", dt.time(7), "UTC", created_by="1", now=NOW)
    store.claim_part(sub.id, DAY, 0, ["a"], claimant="first", now=NOW, lease=LEASE)
    assert store.renew_claim(sub.id, DAY, 0, claimant="first", now=NOW + LEASE / 2, lease=LEASE)
    later = NOW + 2 * LEASE
    assert store.claim_part(sub.id, DAY, 0, ["a"], claimant="second", now=later,
                            lease=LEASE) == "claimed"
    assert not store.renew_claim(sub.id, DAY, 0, claimant="first", now=later, lease=LEASE)


def test_upgraded_database_keeps_subscriptions_in_the_chat_and_restores_pruned_sent_articles(
    tmp_path: Path,
) -> None:
    """Version 4 -> 5: no topic (the chat itself), and every article in the ledger counts as sent."""
    path = tmp_path / "bot.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(";".join(MIGRATIONS[:4]) + "; PRAGMA user_version = 4;")
    db.execute("INSERT INTO subscriptions VALUES (1, 'telegram', '-1', '07:30', 'UTC', 'a', "
               "'2026-11-01T00:00:00+00:00', 'chat', NULL, '2026-11-22', 'bridge', "
               "'2026-11-22', '2026-11-22T07:30:00+00:00', '2026-11-01T00:00:00+00:00')")
    db.execute("INSERT INTO ledger VALUES (1, '2026-11-20', 0, '[\"park\"]', "
               "'2026-11-20T07:30:00+00:00')")
    db.execute("INSERT INTO ledger VALUES (1, '2026-11-22', 0, '[\"bridge\"]', "
               "'2026-11-22T07:30:00+00:00')")
    db.execute("INSERT INTO sent_articles VALUES (1, 'bridge', '2026-11-22')")  # park pruned
    db.commit()
    db.close()
    upgraded = SqliteStore(path)
    sub = upgraded.subscription("telegram", "-1")
    assert sub is not None and sub.thread_id is None
    assert upgraded.progress(1, DAY).sent_article_ids == {"bridge", "park"}
    upgraded.close()


def test_recording_a_part_drops_only_the_recorders_own_claim(tmp_path: Path) -> None:
    """A sender whose lease lapsed mid-send, and whose send went through after all, records the
    part (the chat has it) but leaves the claim another sender took over meanwhile alone; that
    sender's next renewal then says the part is no longer its to send, so it is not sent twice."""
    path = tmp_path / "bot.sqlite3"
    store = SqliteStore(path)
    sub = store.subscribe("telegram", "-1", dt.time(7), "UTC", created_by="1", now=NOW)
    store.claim_part(sub.id, DAY, 0, ["a"], claimant="old", now=NOW, lease=LEASE)
    later = NOW + 2 * LEASE
    assert store.claim_part(sub.id, DAY, 0, ["a"], claimant="new", now=later,
                            lease=LEASE) == "claimed"
    store.record_part(sub.id, DAY, 0, ["a"], claimant="old", sent_at=later)

    def claims() -> list[tuple[str]]:
        db = sqlite3.connect(path)
        try:
            return db.execute("SELECT claimant FROM claims").fetchall()
        finally:
            db.close()

    assert claims() == [("new",)]
    assert store.progress(sub.id, DAY).delivered_parts == {0}
    assert not store.renew_claim(sub.id, DAY, 0, claimant="new", now=later, lease=LEASE)
    assert claims() == []  # the renewal that found the part sent gave the claim up
    assert store.claim_part(sub.id, DAY, 0, ["a"], claimant="third", now=later,
                            lease=LEASE) == "delivered"
    store.close()


def test_recording_a_part_drops_the_recorders_claim(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    store = SqliteStore(path)
    sub = store.subscribe("telegram", "-1", dt.time(7), "UTC", created_by="1", now=NOW)
    store.claim_part(sub.id, DAY, 0, ["a"], claimant="A", now=NOW, lease=LEASE)
    store.record_part(sub.id, DAY, 0, ["a"], claimant="A", sent_at=NOW)
    db = sqlite3.connect(path)
    assert db.execute("SELECT COUNT(*) FROM claims").fetchone() == (0,)
    db.close()
    store.close()
