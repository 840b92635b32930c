"""/subscribe, /unsubscribe and /status as a chat sees them, and the platform's chat events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pytest

from briefbot.conversation import ChatKind, Incoming, Notice, Reply
from briefbot.daily.subscriptions import SubscriptionService
from briefbot.store import SqliteStore

# Monday 23 November 2026, 10:00 in Berlin.
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    opened = SqliteStore(tmp_path / "bot.sqlite3")
    yield opened  # type: ignore[misc]
    opened.close()


@pytest.fixture
def changes() -> list[str]:
    return []


@pytest.fixture
def service(store: SqliteStore, changes: list[str]) -> SubscriptionService:
    return SubscriptionService(store, "Europe/Berlin", on_change=lambda: changes.append("x"),
                               clock=lambda: NOW)


def message(text: str = "", *, kind: ChatKind = "group", admin: bool | None = None,
            chat_id: str = "-100") -> Incoming:
    async def check() -> bool:
        return bool(admin)

    return Incoming(platform="telegram", chat_id=chat_id, user_id="42", text=text,
                    chat_kind=kind, admin_check=None if admin is None else check)


def words(replies: Sequence[Reply]) -> str:
    [notice] = replies
    assert isinstance(notice, Notice)
    return " | ".join((notice.text, *notice.items))


async def test_group_admin_subscribes_with_time_and_zone(
    service: SubscriptionService, store: SqliteStore, changes: list[str]
) -> None:
    reply = words(await service.subscribe(message(admin=True), "07:30 America/New_York"))
    assert "07:30 (America/New_York)" in reply
    assert "Next briefing: Mon 23 Nov 07:30 (America/New_York)" in reply
    sub = store.subscription("telegram", "-100")
    assert sub is not None
    assert (sub.time, sub.timezone, sub.created_by) == (dt.time(7, 30), "America/New_York", "42")
    assert changes == ["x"]


async def test_group_member_who_is_not_admin_is_politely_refused(
    service: SubscriptionService, store: SqliteStore, changes: list[str]
) -> None:
    [refusal] = await service.subscribe(message(admin=False), "07:30")
    assert isinstance(refusal, Notice) and refusal.is_error
    assert "only this chat's admins" in refusal.text
    assert store.subscription("telegram", "-100") is None
    assert changes == []


async def test_anyone_may_subscribe_their_private_chat(
    service: SubscriptionService, store: SqliteStore
) -> None:
    await service.subscribe(message(kind="private", chat_id="42"), "7:30")
    sub = store.subscription("telegram", "42")
    assert sub is not None and sub.time == dt.time(7, 30)


async def test_zone_defaults_to_the_configured_one(
    service: SubscriptionService, store: SqliteStore
) -> None:
    await service.subscribe(message(admin=True), "7:30")
    sub = store.subscription("telegram", "-100")
    assert sub is not None and sub.timezone == "Europe/Berlin"


@pytest.mark.parametrize("args", ["", "25:00", "half past seven", "07:30 Mars/Olympus",
                                  "07:30 Europe/Berlin extra"])
async def test_bad_time_or_zone_shows_an_example_and_stores_nothing(
    service: SubscriptionService, store: SqliteStore, args: str
) -> None:
    [reply] = await service.subscribe(message(admin=True), args)
    assert isinstance(reply, Notice) and reply.is_error
    assert "/subscribe 07:30 Europe/Berlin" in reply.text
    assert store.subscription("telegram", "-100") is None


@pytest.mark.parametrize(("args", "problem"), [
    ("07:30 Europe/Berlin Europe/Paris",
     "That is more than one time zone (Europe/Berlin, Europe/Paris); give one."),
    ("07:30 Europe/Berlin please", "“please” is one word too many: after the time, give at "
                                   "most one time zone."),
    ("07:30 Europe/Berlin every day", "“every day” is more than I need: after the time, give "
                                      "at most one time zone."),
    ("07:30 New York", "“New York” is not a time zone I know; use Area/City. "
                       "Did you mean America/New_York?"),
    ("07:30 08:00 Europe/Berlin", "That is more than one time (07:30, 08:00); a chat gets one "
                                  "daily briefing, so give one."),
])
async def test_words_after_the_time_and_zone_are_named_with_the_usage_not_a_time_asked_for(
    service: SubscriptionService, store: SqliteStore, args: str, problem: str
) -> None:
    """"/subscribe 07:30 Europe/Berlin Europe/Paris" was answered "Tell me the time for the
    daily briefing", though a time was given."""
    [reply] = await service.subscribe(message(admin=True), args)
    assert isinstance(reply, Notice) and reply.is_error
    assert reply.text.startswith(problem + " For example: /subscribe 07:30 Europe/Berlin")
    assert "Tell me the time" not in reply.text
    assert store.subscription("telegram", "-100") is None


async def test_status_shows_next_briefing_in_the_chats_local_time(
    service: SubscriptionService,
) -> None:
    await service.subscribe(message(admin=True), "07:30 Europe/Berlin")
    status = words(await service.status(message()))
    assert "Next briefing: Tue 24 Nov 07:30 (Europe/Berlin)" in status
    assert "Last briefing: none yet" in status


async def test_status_without_subscription_says_how_to_start(
    service: SubscriptionService,
) -> None:
    assert "/subscribe 07:30 Europe/Berlin" in words(await service.status(message()))


async def test_status_shows_last_briefing_sent(
    service: SubscriptionService, store: SqliteStore
) -> None:
    await service.subscribe(message(admin=True), "07:30")
    sub = store.subscription("telegram", "-100")
    assert sub is not None
    sent = dt.datetime(2026, 11, 24, 6, 30, 5, tzinfo=dt.UTC)
    store.finish_briefing(sub.id, dt.date(2026, 11, 24), newest_article_id="bridge-vote",
                          newest_article_date=None, sent_at=sent)
    status = words(await service.status(message()))
    assert "Last briefing: Tue 24 Nov 07:30 (bridge-vote)" in status
    assert "Next briefing: Wed 25 Nov 07:30 (Europe/Berlin)" in status


async def test_paused_chat_status_says_why_and_resubscribing_resumes(
    service: SubscriptionService, store: SqliteStore
) -> None:
    await service.subscribe(message(admin=True), "07:30")
    await service.chat_unavailable("telegram", "-100", "bot was kicked from the group chat")
    assert "Paused: bot was kicked from the group chat" in words(await service.status(message()))
    assert store.subscriptions() == []
    reply = words(await service.subscribe(message(admin=True), "08:00"))
    assert reply.startswith("Resumed")
    sub = store.subscription("telegram", "-100")
    assert sub is not None and sub.paused_reason is None and sub.time == dt.time(8, 0)


async def test_unsubscribe_by_admin_stops_briefings(
    service: SubscriptionService, store: SqliteStore
) -> None:
    await service.subscribe(message(admin=True), "07:30")
    assert "Unsubscribed" in words(await service.unsubscribe(message(admin=True)))
    assert store.subscription("telegram", "-100") is None


async def test_unsubscribe_by_non_admin_is_refused(
    service: SubscriptionService, store: SqliteStore
) -> None:
    await service.subscribe(message(admin=True), "07:30")
    [refusal] = await service.unsubscribe(message(admin=False))
    assert isinstance(refusal, Notice) and refusal.is_error
    assert store.subscription("telegram", "-100") is not None


async def test_migrated_chat_keeps_its_subscription(
    service: SubscriptionService, store: SqliteStore
) -> None:
    await service.subscribe(message(admin=True), "07:30")
    await service.chat_moved("telegram", "-100", "-1009")
    assert store.subscription("telegram", "-100") is None
    assert "Next briefing" in words(await service.status(message(chat_id="-1009")))


async def test_paused_config_channel_status_says_a_restart_resumes_it(
    service: SubscriptionService, store: SqliteStore
) -> None:
    from briefbot.config import ChannelSchedule

    store.sync_config_channels(
        "telegram", [ChannelSchedule("@news", dt.time(7, 30), "Europe/Berlin")], NOW)
    store.pause("telegram", "@news", "bot is not a member of the channel chat")
    status = words(await service.status(message(chat_id="@news", kind="channel")))
    assert "Paused: bot is not a member of the channel chat" in status
    assert "/subscribe" not in status
    assert "restart" in status


async def test_unsubscribe_of_a_config_listed_chat_is_refused_and_keeps_its_history(
    service: SubscriptionService, store: SqliteStore, changes: list[str]
) -> None:
    """Deleting it would only last until the restart re-creates it with no history."""
    from briefbot.config import ChannelSchedule

    store.sync_config_channels(
        "telegram", [ChannelSchedule("-100", dt.time(7, 30), "Europe/Berlin")], NOW)
    [reply] = await service.unsubscribe(message(admin=True))
    assert isinstance(reply, Notice) and reply.is_error
    assert "config.yaml" in reply.text
    sub = store.subscription("telegram", "-100")
    assert sub is not None and sub.paused_reason is None
    assert changes == []


async def test_subscribe_in_a_config_listed_chat_points_to_config_and_changes_nothing(
    service: SubscriptionService, store: SqliteStore
) -> None:
    """Otherwise the chat would stop being config's, and an /unsubscribe could then wipe it."""
    from briefbot.config import ChannelSchedule

    store.sync_config_channels(
        "telegram", [ChannelSchedule("-100", dt.time(7, 30), "Europe/Berlin")], NOW)
    [reply] = await service.subscribe(message(admin=True), "09:00")
    assert isinstance(reply, Notice) and reply.is_error and "config.yaml" in reply.text
    sub = store.subscription("telegram", "-100")
    assert sub is not None and (sub.source, sub.time) == ("config", dt.time(7, 30))


def _due_now(store: SqliteStore, now: dt.datetime) -> list[str]:
    """Which chats the delivery loop would brief at `now`."""
    from briefbot.daily.delivery import Delivery
    from fakes.recording_adapter import RecordingAdapter, Shelf

    due, _ = Delivery(store, Shelf(), {"telegram": RecordingAdapter()}).due_at(now)
    return [sub.chat_id for sub, _ in due]


async def test_changing_to_an_hour_already_passed_today_waits_for_tomorrow_as_the_reply_says(
    store: SqliteStore,
) -> None:
    clock = [NOW - dt.timedelta(days=5)]
    service = SubscriptionService(store, "Europe/Berlin", clock=lambda: clock[0])
    await service.subscribe(message(admin=True), "18:00")
    clock[0] = NOW  # 10:00 in Berlin; 09:00 has passed today
    reply = words(await service.subscribe(message(admin=True), "09:00"))
    assert "Next briefing: Tue 24 Nov 09:00 (Europe/Berlin)" in reply
    assert _due_now(store, NOW) == []
    assert _due_now(store, dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)) == ["-100"]


async def test_changing_to_a_later_hour_today_still_briefs_today(store: SqliteStore) -> None:
    clock = [NOW - dt.timedelta(days=5)]
    service = SubscriptionService(store, "Europe/Berlin", clock=lambda: clock[0])
    await service.subscribe(message(admin=True), "07:00 UTC")
    clock[0] = NOW
    reply = words(await service.subscribe(message(admin=True), "18:00"))
    assert "Next briefing: Mon 23 Nov 18:00 (Europe/Berlin)" in reply
    assert _due_now(store, dt.datetime(2026, 11, 23, 17, 0, tzinfo=dt.UTC)) == ["-100"]


async def test_resuming_after_todays_time_waits_for_tomorrow_as_the_reply_says(
    store: SqliteStore,
) -> None:
    clock = [NOW - dt.timedelta(days=5)]
    service = SubscriptionService(store, "Europe/Berlin", clock=lambda: clock[0])
    await service.subscribe(message(admin=True), "09:00")
    await service.chat_unavailable("telegram", "-100", "bot was kicked from the group chat")
    clock[0] = NOW
    reply = words(await service.subscribe(message(admin=True), "09:00"))
    assert "Next briefing: Tue 24 Nov 09:00 (Europe/Berlin)" in reply
    assert _due_now(store, NOW) == []


async def test_an_absurd_zone_name_gets_the_example_not_a_crash() -> None:
    from briefbot.daily.schedule import resolve_zone

    assert resolve_zone("A" * 300) is None
    assert resolve_zone("../../etc/passwd") is None
    assert resolve_zone("america/argentina/buenos_aires") == "America/Argentina/Buenos_Aires"


async def test_subscribe_in_a_forum_topic_records_the_topic_and_general_clears_it(
    service: SubscriptionService, store: SqliteStore
) -> None:
    from dataclasses import replace

    in_topic = replace(message(admin=True), thread_id="77")
    await service.subscribe(in_topic, "07:30")
    sub = store.subscription("telegram", "-100")
    assert sub is not None and sub.thread_id == "77"
    await service.subscribe(message(admin=True), "07:30")  # again, from General
    sub = store.subscription("telegram", "-100")
    assert sub is not None and sub.thread_id is None


async def test_a_bare_city_gets_its_area_city_name_suggested(
    service: SubscriptionService, store: SqliteStore
) -> None:
    [reply] = await service.subscribe(message(admin=True), "07:30 Tokyo")
    assert isinstance(reply, Notice) and "Did you mean Asia/Tokyo?" in reply.text
    assert store.subscription("telegram", "-100") is None


@pytest.mark.parametrize(("zone", "hint"), [
    ("localtime", ""), ("posixrules", ""), ("Factory", ""), ("factory", ""),
    ("right/Europe/Berlin", " Did you mean Europe/Berlin?"),
    ("posix/Asia/Tokyo", " Did you mean Asia/Tokyo?"),
])
async def test_a_zone_file_that_names_no_place_is_refused_with_the_area_city_form(
    service: SubscriptionService, store: SqliteStore, zone: str, hint: str
) -> None:
    """The tz database holds names that are no place: localtime (whatever this server is set
    to), posixrules and Factory, and copies of every zone under posix/ and right/ (right/ ones
    count leap seconds, so the briefing comes 27 s early). /subscribe stored them."""
    [reply] = await service.subscribe(message(admin=True), f"07:30 {zone}")
    assert isinstance(reply, Notice) and reply.is_error
    assert reply.text.startswith(
        f"“{zone}” is not a place's time zone; use Area/City, like Europe/Berlin.{hint} "
        "For example: /subscribe 07:30 Europe/Berlin")
    assert store.subscription("telegram", "-100") is None


@pytest.mark.parametrize("zone", ["UTC", "Etc/GMT+2", "US/Eastern", "europe/berlin", "GMT"])
async def test_real_zones_and_their_aliases_still_subscribe(
    service: SubscriptionService, store: SqliteStore, zone: str
) -> None:
    reply = words(await service.subscribe(message(admin=True), f"07:30 {zone}"))
    assert reply.startswith("Subscribed: a daily briefing at 07:30 (")
    sub = store.subscription("telegram", "-100")
    assert sub is not None and sub.timezone.casefold() == zone.casefold()


async def test_the_console_chat_cannot_subscribe_to_briefings_nothing_would_deliver(
    service: SubscriptionService, store: SqliteStore
) -> None:
    console = Incoming(platform="console", chat_id="console", user_id="console-user",
                       text="/subscribe 07:30")
    [reply] = await service.subscribe(console, "07:30")
    assert isinstance(reply, Notice) and reply.is_error and "Telegram and Discord" in reply.text
    assert store.subscription("console", "console") is None


async def test_the_console_chat_says_how_to_get_a_daily_briefing_that_works(
    service: SubscriptionService,
) -> None:
    # A newcomer in the console chat: /subscribe, /status and /unsubscribe must point at what
    # works (a token and a real chat), not at `send-due`, which refuses to run without a token,
    # nor at /subscribe, which the console refuses; and no markup in plain text.
    console = Incoming(platform="console", chat_id="console", user_id="console-user",
                       text="/status")
    for replies in (await service.subscribe(console, "07:30"), await service.status(console),
                    await service.unsubscribe(console)):
        reply = words(replies)
        assert "TELEGRAM_BOT_TOKEN" in reply and "DISCORD_BOT_TOKEN" in reply
        assert "send-due" not in reply and "`" not in reply
        assert "Start one with /subscribe" not in reply and "can start one with" not in reply
