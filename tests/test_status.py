"""`briefbot status`: what runs, and `--check` saying when a person is needed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from briefbot.config import Config, FeedConfig
from briefbot.daily.delivery import PassReport
from briefbot.operations import RecordingDelivery, record_pass
from briefbot.runstate import RunState
from briefbot.status import collect_status, render_text
from briefbot.store import SqliteStore
from fakes.recording_adapter import RecordingAdapter, Shelf, story

NOW = dt.datetime(2026, 3, 5, 12, 0, tzinfo=dt.UTC)
FEED = FeedConfig(url="https://news.example.org/rss.xml", name="harbour",
                  every=dt.timedelta(minutes=15))


def make_config(tmp_path: Path, content_dir: Path, **options: object) -> Config:
    return Config(content_dir=content_dir, database=tmp_path / "data" / "briefbot.sqlite3",
                  **options)  # type: ignore[arg-type]


def test_all_well_when_feeds_fetch_and_chats_are_served(tmp_path: Path, content_dir: Path) -> None:
    config = make_config(tmp_path, content_dir, feeds=(FEED,))
    state = RunState(config.database)
    state.record_fetch("harbour", FEED.url, at=NOW - dt.timedelta(minutes=5), result="ok",
                       message="2 new", new_items=2)
    state.close()
    store = SqliteStore(config.database)
    store.subscribe("telegram", "-100", dt.time(18, 0), "Europe/Berlin", created_by="a",
                    now=NOW - dt.timedelta(hours=1))
    store.close()

    status = collect_status(config, NOW)
    assert status.attention == []
    body = status.to_json()
    assert body["ok"] is True
    assert body["articles"]["count"] == 2 and body["articles"]["newest"]["id"] == "market"
    [feed] = body["feeds"]
    assert (feed["name"], feed["result"], feed["next_fetch"]) == (
        "harbour", "ok", "2026-03-05T12:10:00+00:00")
    [sub] = body["subscriptions"]
    assert sub == {
        "platform": "telegram", "chat": "-100", "time": "18:00", "timezone": "Europe/Berlin",
        "source": "chat", "next_briefing": "2026-03-05T17:00:00+00:00", "last_sent": None,
        "last_article": None, "paused": False, "paused_reason": None, "overdue": False,
    }
    assert "All well." in render_text(status)


def test_a_paused_chat_and_a_failing_feed_need_a_person(tmp_path: Path, content_dir: Path) -> None:
    config = make_config(tmp_path, content_dir, feeds=(FEED,))
    state = RunState(config.database)
    state.record_fetch("harbour", FEED.url, at=NOW, result="failed",
                       message="the server answered HTTP 404 Not Found")
    state.close()
    store = SqliteStore(config.database)
    store.subscribe("discord", "42", dt.time(8, 0), "UTC", created_by="a", now=NOW)
    store.pause("discord", "42", "missing permission to send messages")
    store.close()

    status = collect_status(config, NOW)
    assert status.attention == [
        "feed harbour: the last fetch failed: the server answered HTTP 404 Not Found",
        "discord chat 42: paused: missing permission to send messages",
    ]
    [sub] = status.to_json()["subscriptions"]
    assert sub["paused"] is True and sub["next_briefing"] is None
    assert "PAUSED: missing permission" in render_text(status)


def test_a_briefing_overdue_past_the_catch_up_window_needs_a_person(
    tmp_path: Path, content_dir: Path
) -> None:
    config = make_config(tmp_path, content_dir)
    store = SqliteStore(config.database)
    store.subscribe("telegram", "-100", dt.time(7, 30), "UTC", created_by="a",
                    now=NOW - dt.timedelta(days=2))
    store.close()
    assert collect_status(config, dt.datetime(2026, 3, 5, 8, 0, tzinfo=dt.UTC)).attention == []
    late = collect_status(config, dt.datetime(2026, 3, 5, 10, 0, tzinfo=dt.UTC))
    assert late.to_json()["subscriptions"][0]["overdue"] is True
    assert late.attention == [
        "telegram chat -100: the 2026-03-05 briefing is overdue by 2 h 30 min, past the catch-up "
        "window (2 h); is the bot running?"]


def test_a_feed_nobody_fetches_any_more_is_stale(tmp_path: Path, content_dir: Path) -> None:
    config = make_config(tmp_path, content_dir, feeds=(FEED,))
    assert collect_status(config, NOW).attention == [
        "feed harbour: never fetched; run `briefbot fetch` or `briefbot run`"]
    state = RunState(config.database)
    state.record_fetch("harbour", FEED.url, at=NOW - dt.timedelta(hours=2), result="ok",
                       message="0 new")
    state.close()
    [problem] = collect_status(config, NOW).attention
    assert problem.startswith("feed harbour: not fetched since 2026-03-05T10:00:00+00:00")


def test_status_never_creates_the_database(tmp_path: Path, content_dir: Path) -> None:
    config = make_config(tmp_path, content_dir)
    status = collect_status(config, NOW)
    assert status.subscriptions == [] and status.delivery is None
    assert not config.database.exists()


async def test_the_last_delivery_pass_is_recorded_and_shown(
    tmp_path: Path, content_dir: Path
) -> None:
    config = make_config(tmp_path, content_dir)
    store = SqliteStore(config.database)
    state = RunState(config.database)
    store.subscribe("telegram", "-100", dt.time(7, 30), "UTC", created_by="a",
                    now=NOW - dt.timedelta(days=1))
    adapter = RecordingAdapter()
    delivery = RecordingDelivery(store, Shelf([story("new-park", NOW.date())]),
                                 {adapter.platform: adapter}, run_state=state,
                                 clock=lambda: NOW)
    # A pass with nothing due leaves the last real one in place.
    await delivery.run_pass(dt.datetime(2026, 3, 5, 7, 31, tzinfo=dt.UTC))
    await delivery.run_pass(dt.datetime(2026, 3, 5, 7, 40, tzinfo=dt.UTC))
    store.close()
    state.close()

    shown = collect_status(config, NOW).to_json()["delivery"]
    assert shown == {"at": "2026-03-05T07:31:00+00:00", "source": "run", "due": 1,
                     "delivered": 1, "sent": 2, "failed": 0, "skipped": 0, "paused": 0,
                     "still_due": 0}


def test_briefings_deferred_by_a_long_rate_limit_count_as_still_due(
    tmp_path: Path, content_dir: Path
) -> None:
    """A briefing left for later because the platform asked to wait longer than a send may
    wait is due all the same: "0 still due" would read as all done."""
    config = make_config(tmp_path, content_dir)
    state = RunState(config.database)
    record_pass(state, NOW - dt.timedelta(hours=1), "send-due",
                PassReport(due=5, delivered=2, failed=1, deferred=2))
    state.close()
    assert collect_status(config, NOW).to_json()["delivery"]["still_due"] == 3


def test_skipped_briefings_in_the_last_pass_need_a_person(
    tmp_path: Path, content_dir: Path
) -> None:
    config = make_config(tmp_path, content_dir)
    state = RunState(config.database)
    record_pass(state, NOW - dt.timedelta(hours=1), "send-due", PassReport(skipped=2))
    state.close()
    status = collect_status(config, NOW)
    assert status.to_json()["delivery"]["skipped"] == 2
    assert status.attention == [
        "delivery: the pass at 2026-03-05T11:00:00+00:00 skipped 2 briefings missed by more "
        "than the catch-up window (2 h)"]
    assert collect_status(config, NOW + dt.timedelta(days=1)).attention == []


def test_a_subscription_with_an_unknown_time_zone_needs_a_person(
    tmp_path: Path, content_dir: Path
) -> None:
    """A zone a tzdata update removed, or a hand-edited database: before, a traceback."""
    config = make_config(tmp_path, content_dir)
    store = SqliteStore(config.database)
    store.subscribe("telegram", "-100", dt.time(7, 30), "Mars/Olympus_Mons", created_by="a",
                    now=NOW)
    store.close()

    status = collect_status(config, NOW)
    [problem] = status.attention
    assert "telegram chat -100" in problem and "'Mars/Olympus_Mons' is unknown" in problem
    [sub] = status.to_json()["subscriptions"]
    assert sub["next_briefing"] is None and sub["overdue"] is False
    assert "NOT SENT: unknown time zone" in render_text(status)
