"""Daily delivery: what a chat receives, once, through crashes, faults and concurrent senders."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from briefbot.daily.delivery import DEFAULT_LEASE, Delivery, PassReport
from briefbot.store import SqliteStore
from fakes.recording_adapter import Outbox, ProcessDied, RecordingAdapter, Shelf, story

BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.UTC
MONDAY = dt.date(2026, 11, 23)
SUBSCRIBED_AT = dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
NO_WAIT = (0.0, 0.0, 0.0)


def at_berlin(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), BERLIN).astimezone(UTC)


def next_day(day: dt.date, days: int = 1) -> dt.date:
    return day + dt.timedelta(days=days)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "briefbot.sqlite3"


@pytest.fixture
def store(db_path: Path) -> SqliteStore:
    opened = SqliteStore(db_path)
    yield opened  # type: ignore[misc]
    opened.close()


def subscribe(store: SqliteStore, chat_id: str, hour: int = 7, minute: int = 30,
              platform: str = "telegram", created: dt.datetime = SUBSCRIBED_AT) -> None:
    store.subscribe(platform, chat_id, dt.time(hour, minute), "Europe/Berlin",
                    created_by="admin", now=created)


def delivery(store: SqliteStore, shelf: Shelf, adapter: RecordingAdapter,
             clock_at: dt.datetime, **options: object) -> Delivery:
    return Delivery(store, shelf, {adapter.platform: adapter}, catch_up=dt.timedelta(hours=2),
                    clock=lambda: clock_at, retry_delays=NO_WAIT, **options)  # type: ignore[arg-type]


async def run_at(store: SqliteStore, shelf: Shelf, adapter: RecordingAdapter,
                 now: dt.datetime) -> PassReport:
    return await delivery(store, shelf, adapter, now).run_pass(now)


async def briefed_on_monday(store: SqliteStore) -> tuple[Shelf, RecordingAdapter]:
    """Chat -100, subscribed for 07:30 Berlin, briefed on Monday's "bridge"."""
    shelf = Shelf([story("bridge", MONDAY)])
    adapter = RecordingAdapter()
    subscribe(store, "-100")
    await run_at(store, shelf, adapter, at_berlin(MONDAY, 7, 30))
    return shelf, adapter


async def test_new_subscription_first_briefing_is_the_newest_article_only(
    store: SqliteStore,
) -> None:
    shelf = Shelf([story("old-bridge", next_day(MONDAY, -3)), story("new-park", MONDAY)])
    adapter = RecordingAdapter()
    subscribe(store, "-100")
    report = await run_at(store, shelf, adapter, at_berlin(MONDAY, 7, 30))
    assert adapter.outbox.to("-100") == ["new-park: Council votes on new park",
                                         "new-park: 3 bullets"]
    assert (report.delivered, report.sent) == (1, 2)


async def test_briefing_is_not_sent_before_its_local_time(store: SqliteStore) -> None:
    shelf = Shelf([story("new-park", MONDAY)])
    adapter = RecordingAdapter()
    subscribe(store, "-100")
    report = await run_at(store, shelf, adapter, at_berlin(MONDAY, 7, 29))
    assert adapter.outbox.accepted == []
    assert report.due == 0


async def test_several_new_articles_arrive_as_one_digest_newest_first(store: SqliteStore) -> None:
    shelf = Shelf([story("first", MONDAY)])
    adapter = RecordingAdapter()
    subscribe(store, "-100")
    await run_at(store, shelf, adapter, at_berlin(MONDAY, 7, 30))
    shelf.put(story("second", next_day(MONDAY)), story("third", next_day(MONDAY, 2)))
    await run_at(store, shelf, adapter, at_berlin(next_day(MONDAY, 2), 7, 30))
    assert adapter.outbox.to("-100")[2:] == ["digest third: Council votes on third",
                                             "digest second: Council votes on second"]


async def test_nothing_new_sends_nothing(store: SqliteStore) -> None:
    shelf = Shelf([story("first", MONDAY)])
    adapter = RecordingAdapter()
    subscribe(store, "-100")
    await run_at(store, shelf, adapter, at_berlin(MONDAY, 7, 30))
    report = await run_at(store, shelf, adapter, at_berlin(next_day(MONDAY), 7, 30))
    assert len(adapter.outbox.to("-100")) == 2
    assert (report.due, report.nothing_new, report.sent) == (1, 1, 0)


async def test_one_new_article_arrives_as_its_full_briefing(store: SqliteStore) -> None:
    shelf = Shelf([story("first", MONDAY)])
    adapter = RecordingAdapter()
    subscribe(store, "-100")
    await run_at(store, shelf, adapter, at_berlin(MONDAY, 7, 30))
    shelf.put(story("second", next_day(MONDAY)))
    await run_at(store, shelf, adapter, at_berlin(next_day(MONDAY), 7, 30))
    assert adapter.outbox.to("-100")[2:] == ["second: Council votes on second",
                                             "second: 3 bullets"]


async def test_same_day_pass_twice_sends_once(store: SqliteStore) -> None:
    shelf = Shelf([story("first", MONDAY)])
    adapter = RecordingAdapter()
    subscribe(store, "-100")
    await run_at(store, shelf, adapter, at_berlin(MONDAY, 7, 30))
    again = await run_at(store, shelf, adapter, at_berlin(MONDAY, 7, 45))
    assert len(adapter.outbox.to("-100")) == 2
    assert again.due == 0


async def test_followup_questions_go_to_the_article_just_briefed(store: SqliteStore) -> None:
    shelf = Shelf([story("first", MONDAY), story("second", next_day(MONDAY, -1))])
    subscribe(store, "-100")
    await run_at(store, shelf, RecordingAdapter(), at_berlin(MONDAY, 7, 30))
    assert store.last_briefed("telegram", "-100") == "first"


async def test_briefing_missed_within_catch_up_window_is_sent_late(store: SqliteStore) -> None:
    shelf = Shelf([story("first", MONDAY)])
    adapter = RecordingAdapter()
    subscribe(store, "-100")
    report = await run_at(store, shelf, adapter, at_berlin(MONDAY, 9, 15))
    assert len(adapter.outbox.to("-100")) == 2
    assert report.delivered == 1


async def test_briefing_missed_beyond_catch_up_window_is_skipped_and_logged(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    shelf = Shelf([story("first", MONDAY)])
    adapter = RecordingAdapter()
    subscribe(store, "-100")
    report = await run_at(store, shelf, adapter, at_berlin(MONDAY, 10, 0))
    assert adapter.outbox.accepted == []
    assert report.skipped == 1
    assert "skipped the 2026-11-23 briefing" in caplog.text
    # The next day it is back on schedule, and the article skipped yesterday is still news.
    await run_at(store, shelf, adapter, at_berlin(next_day(MONDAY), 7, 30))
    assert adapter.outbox.to("-100") == ["first: Council votes on first", "first: 3 bullets"]


async def test_blocked_chat_is_paused_with_the_reason(store: SqliteStore) -> None:
    shelf = Shelf([story("first", MONDAY)])
    adapter = RecordingAdapter()
    adapter.unavailable["-100"] = "Forbidden: bot was kicked from the group chat"
    subscribe(store, "-100")
    subscribe(store, "-200")
    report = await run_at(store, shelf, adapter, at_berlin(MONDAY, 7, 30))
    paused = store.subscription("telegram", "-100")
    assert paused is not None
    assert paused.paused_reason == "Forbidden: bot was kicked from the group chat"
    assert (report.paused, report.delivered) == (1, 1)
    assert len(adapter.outbox.to("-200")) == 2
    later = await run_at(store, shelf, adapter, at_berlin(next_day(MONDAY), 7, 30))
    assert later.due == 1  # only the chat that still works


async def test_migrated_group_gets_its_briefing_at_the_new_id(store: SqliteStore) -> None:
    shelf = Shelf([story("first", MONDAY)])
    adapter = RecordingAdapter()
    adapter.moved["-100"] = "-1001234"
    subscribe(store, "-100")
    report = await run_at(store, shelf, adapter, at_berlin(MONDAY, 7, 30))
    assert adapter.outbox.to("-1001234") == ["first: Council votes on first", "first: 3 bullets"]
    assert store.subscription("telegram", "-100") is None
    moved = store.subscription("telegram", "-1001234")
    assert moved is not None and moved.last_local_date == MONDAY
    assert store.last_briefed("telegram", "-1001234") == "first"
    assert report.moved == 1


async def test_temporary_failure_after_retries_stays_due_for_next_pass(
    store: SqliteStore,
) -> None:
    shelf = Shelf([story("first", MONDAY)])
    adapter = RecordingAdapter(temporary_failure_rate=1.0)
    subscribe(store, "-100")
    report = await run_at(store, shelf, adapter, at_berlin(MONDAY, 7, 30))
    assert (report.failed, report.sent) == (1, 0)
    assert adapter.temporary_failures == 4  # the first try and three retries
    healthy = RecordingAdapter(adapter.outbox)
    await run_at(store, shelf, healthy, at_berlin(MONDAY, 7, 40))
    assert len(adapter.outbox.to("-100")) == 2


async def test_one_chat_error_does_not_stop_the_others(store: SqliteStore) -> None:
    shelf = Shelf([story("first", MONDAY)])
    adapter = RecordingAdapter()
    subscribe(store, "-100")
    subscribe(store, "-200")
    calls = 0

    def flaky_compose(articles: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("renderer bug")
        from briefbot.daily.delivery import compose_briefing
        return compose_briefing(articles)  # type: ignore[arg-type]

    now = at_berlin(MONDAY, 7, 30)
    report = await delivery(store, shelf, adapter, now, compose=flaky_compose,
                            concurrency=1).run_pass(now)
    assert (report.failed, report.delivered) == (1, 1)
    retry = await run_at(store, shelf, adapter, at_berlin(MONDAY, 7, 35))
    assert retry.delivered == 1
    assert len(adapter.outbox.accepted) == 4


def hundred_chats(store: SqliteStore) -> list[str]:
    chats = [str(-1000 - n) for n in range(100)]
    for chat in chats:
        subscribe(store, chat)
    return chats


def assert_everyone_briefed_once(outbox: Outbox, chats: list[str]) -> None:
    for chat in chats:
        assert sorted(set(outbox.to(chat))) == ["first: 3 bullets", "first: Council votes on first"]
    assert outbox.duplicates() == {}


async def test_crash_between_send_and_commit_resends_only_the_message_in_flight(
    db_path: Path,
) -> None:
    """The process dies after the platform accepted a part but before the ledger row was written;
    a fresh process over the same database finishes the broadcast."""
    shelf = Shelf([story("first", MONDAY)])
    outbox = Outbox()
    first_store = SqliteStore(db_path)
    chats = hundred_chats(first_store)
    due = at_berlin(MONDAY, 7, 30)
    dying = RecordingAdapter(outbox, crash_after_sends=77)
    with pytest.raises(BaseExceptionGroup) as died:
        await delivery(first_store, shelf, dying, due).run_pass(due)
    assert died.group_contains(ProcessDied)
    # Workers already past their network wait when the crash hit finish that one step.
    assert 77 <= len(outbox.accepted) < 200
    # No graceful shutdown: the claims of the parts in flight stay until their lease lapses.
    restarted = SqliteStore(db_path)
    later = due + DEFAULT_LEASE + dt.timedelta(minutes=1)
    report = await delivery(restarted, shelf, RecordingAdapter(outbox), later).run_pass(later)
    closed_days = {s.last_local_date for s in restarted.subscriptions()}
    restarted.close()
    first_store.close()
    for chat in chats:
        assert sorted(set(outbox.to(chat))) == ["first: 3 bullets", "first: Council votes on first"]
    assert list(outbox.duplicates().values()) == [2]  # the one message in flight, nothing else
    assert len(outbox.accepted) == 201
    assert closed_days == {MONDAY}
    assert report.failed == 0


async def test_claims_of_a_live_sender_are_respected_until_the_lease_lapses(
    db_path: Path,
) -> None:
    shelf = Shelf([story("first", MONDAY)])
    outbox = Outbox()
    first_store = SqliteStore(db_path)
    chats = hundred_chats(first_store)
    due = at_berlin(MONDAY, 7, 30)
    with pytest.raises(BaseExceptionGroup):
        await delivery(first_store, shelf, RecordingAdapter(outbox, crash_after_sends=1),
                       due).run_pass(due)
    soon = due + dt.timedelta(minutes=1)
    second = SqliteStore(db_path)
    report = await delivery(second, shelf, RecordingAdapter(outbox), soon).run_pass(soon)
    second.close()
    first_store.close()
    assert report.duplicates_avoided >= 1
    assert outbox.duplicates() == {}
    assert report.delivered < len(chats)


async def test_five_percent_temporary_failures_lose_nothing(store: SqliteStore) -> None:
    shelf = Shelf([story("first", MONDAY)])
    adapter = RecordingAdapter(temporary_failure_rate=0.05, seed=3)
    chats = hundred_chats(store)
    now = at_berlin(MONDAY, 7, 30)
    for _ in range(5):
        report = await run_at(store, shelf, adapter, now)
        if report.due == 0:
            break
        now += dt.timedelta(minutes=1)
    assert adapter.temporary_failures >= 5
    assert_everyone_briefed_once(adapter.outbox, chats)
    assert len(adapter.outbox.accepted) == 200


async def test_two_passes_at_once_in_one_loop_never_send_a_part_twice(db_path: Path) -> None:
    shelf = Shelf([story("first", MONDAY)])
    outbox = Outbox()
    stores = [SqliteStore(db_path), SqliteStore(db_path)]
    chats = hundred_chats(stores[0])
    now = at_berlin(MONDAY, 7, 30)
    reports = await asyncio.gather(*(
        delivery(s, shelf, RecordingAdapter(outbox), now).run_pass(now) for s in stores
    ))
    for s in stores:
        s.close()
    assert_everyone_briefed_once(outbox, chats)
    assert sum(r.duplicates_avoided for r in reports) > 0
    # Each briefing is counted delivered by the one sender that sent it, not by both.
    assert sum(r.delivered for r in reports) == len(chats)


def test_two_send_due_processes_at_once_never_send_a_part_twice(db_path: Path) -> None:
    """Two threads, each with its own connection and event loop, contend through SQLite locks."""
    shelf = Shelf([story("first", MONDAY)])
    outbox = Outbox()
    setup = SqliteStore(db_path)
    chats = hundred_chats(setup)
    setup.close()
    now = at_berlin(MONDAY, 7, 30)
    reports: list[PassReport] = []

    def process() -> None:
        own = SqliteStore(db_path)
        try:
            adapter = RecordingAdapter(outbox, latency=0.001)
            reports.append(asyncio.run(delivery(own, shelf, adapter, now).run_pass(now)))
        finally:
            own.close()

    threads = [threading.Thread(target=process) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reports) == 2
    assert_everyone_briefed_once(outbox, chats)
    assert sum(r.delivered for r in reports) == len(chats)  # by whichever sent it, once


async def test_loop_wakes_for_a_new_subscription_without_waiting(store: SqliteStore) -> None:
    shelf = Shelf([story("first", MONDAY)])
    adapter = RecordingAdapter()
    now = at_berlin(MONDAY, 7, 30)
    subscribe(store, "-100")
    loop = delivery(store, shelf, adapter, now)
    stop = asyncio.Event()
    task = loop.start(stop)
    await asyncio.wait_for(_until(lambda: len(adapter.outbox.to("-100")) == 2), timeout=5)
    subscribe(store, "-200")
    loop.wake()
    await asyncio.wait_for(_until(lambda: len(adapter.outbox.to("-200")) == 2), timeout=5)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert adapter.outbox.duplicates() == {}


async def _until(condition: Callable[[], bool]) -> None:
    # Polling, because the fake adapter has no event to wait on; bounded by wait_for.
    while not condition():  # noqa: ASYNC110
        await asyncio.sleep(0.01)


def test_next_wake_is_the_earliest_upcoming_briefing(store: SqliteStore) -> None:
    """The loop sleeps until the first briefing due, or a minute after a failed pass."""
    subscribe(store, "-100", 7, 30)
    subscribe(store, "-200", 6, 45)
    now = at_berlin(MONDAY, 6, 0)
    loop = delivery(store, Shelf(), RecordingAdapter(), now, max_sleep=dt.timedelta(hours=6))
    assert loop.next_wake(now) == at_berlin(MONDAY, 6, 45)
    assert loop.next_wake(now, retry=True) == now + dt.timedelta(minutes=1)


async def test_spring_forward_day_sends_the_0230_briefing_once_at_0300(store: SqliteStore) -> None:
    shelf = Shelf([story("first", dt.date(2026, 3, 28))])
    adapter = RecordingAdapter()
    subscribe(store, "-100", 2, 30, created=dt.datetime(2026, 3, 1, tzinfo=UTC))
    day = dt.date(2026, 3, 29)  # Berlin clocks jump from 02:00 to 03:00
    early = await run_at(store, shelf, adapter, at_berlin(day, 1, 59))
    on_time = await run_at(store, shelf, adapter, dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC))
    later = await run_at(store, shelf, adapter, at_berlin(day, 4, 0))
    assert (early.due, on_time.delivered, later.due) == (0, 1, 0)
    assert len(adapter.outbox.to("-100")) == 2


async def test_config_channel_first_synced_just_after_its_time_still_gets_today(
    store: SqliteStore,
) -> None:
    """A cron `send-due` at 07:31 that is the first to see a config channel must not skip today."""
    from briefbot.config import ChannelSchedule

    now = at_berlin(MONDAY, 7, 31)
    store.sync_config_channels(
        "telegram", [ChannelSchedule("@news", dt.time(7, 30), "Europe/Berlin")], now
    )
    adapter = RecordingAdapter()
    report = await run_at(store, Shelf([story("first", MONDAY)]), adapter, now)
    assert report.delivered == 1
    assert len(adapter.outbox.to("@news")) == 2


def test_shelf_orders_articles_exactly_like_the_library(tmp_path: Path) -> None:
    """Same-date ties go by id ascending in the real Library; the test double must agree."""
    from briefbot.articles import Library

    content = tmp_path / "content"
    content.mkdir()
    for name, date in (("b-vote", "February 11, 2026"), ("a-park", "February 11, 2026"),
                       ("c-old", "February 10, 2026")):
        (content / f"{name}.txt").write_text(
            f"Headline {name}\n- Dana Reporter\n- {date}\n\n"
            f"The council voted on Tuesday to approve the {name} plan.\n",
            encoding="utf-8",
        )
    library = Library(content)
    library.reload()
    shelf = Shelf(library.articles)
    assert [a.id for a in shelf.articles] == [a.id for a in library.articles]


async def test_article_added_later_on_the_day_of_the_last_briefing_is_sent_next_day(
    tmp_path: Path, store: SqliteStore,
) -> None:
    """With the real Library: a second article dated the same day sorts after the one sent."""
    from briefbot.articles import Library

    content = tmp_path / "content"
    content.mkdir()

    def write(name: str) -> None:
        (content / f"{name}.txt").write_text(
            f"Council news about {name}\n- Dana Reporter\n- November 23, 2026\n\n"
            f"The city council voted 7 to 2 on Tuesday to approve the {name} plan.\n"
            "Mayor Lena Ortiz said the vote would speed up repairs across the city.\n",
            encoding="utf-8",
        )

    write("morning-bridge")
    library = Library(content)
    library.reload()
    adapter = RecordingAdapter()
    subscribe(store, "-100")
    await Delivery(store, library, {"telegram": adapter}).run_pass(at_berlin(MONDAY, 7, 30))
    write("vote-count")  # sorts after morning-bridge: same date, later id
    library.reload()
    report = await Delivery(store, library, {"telegram": adapter}).run_pass(
        at_berlin(next_day(MONDAY), 7, 30))
    assert report.delivered == 1
    assert adapter.outbox.to("-100")[2:] == ["vote-count: Council news about vote-count",
                                             "vote-count: 2 bullets"]


async def test_same_day_article_is_new_even_when_it_sorts_after_the_last_one_sent(
    store: SqliteStore,
) -> None:
    shelf = Shelf([story("b-bridge", MONDAY)])
    adapter = RecordingAdapter()
    subscribe(store, "-100")
    await run_at(store, shelf, adapter, at_berlin(MONDAY, 7, 30))
    shelf.put(story("c-vote", MONDAY), story("a-park", MONDAY))
    await run_at(store, shelf, adapter, at_berlin(next_day(MONDAY), 7, 30))
    assert adapter.outbox.to("-100")[2:] == ["digest a-park: Council votes on a park",
                                             "digest c-vote: Council votes on c vote"]


async def test_same_day_article_is_new_after_the_last_one_sent_left_the_library(
    store: SqliteStore,
) -> None:
    shelf, adapter = await briefed_on_monday(store)
    shelf.articles = ()
    # "older" is old news (dated beyond NEW_WITHIN before the last briefing), so not sent.
    shelf.put(story("vote", MONDAY), story("older", next_day(MONDAY, -8)))
    await run_at(store, shelf, adapter, at_berlin(next_day(MONDAY), 7, 30))
    assert adapter.outbox.to("-100")[2:] == ["vote: Council votes on vote", "vote: 3 bullets"]


class _BulletsFail(RecordingAdapter):
    """The headline part goes through; the bullets part fails while `down` is set."""

    down = True

    async def send_part(self, chat_id: str, part: object, *, thread_id: str | None = None) -> None:
        if self.down and "bullets" in str(part):
            from briefbot.errors import TemporaryFailure
            raise TemporaryFailure("502 Bad Gateway")
        await super().send_part(chat_id, part)


async def test_half_sent_briefing_missed_after_the_window_is_not_sent_again(
    store: SqliteStore,
) -> None:
    shelf = Shelf([story("first", MONDAY)])
    adapter = _BulletsFail()
    subscribe(store, "-100")
    await run_at(store, shelf, adapter, at_berlin(MONDAY, 7, 30))
    skipped = await run_at(store, shelf, adapter, at_berlin(MONDAY, 9, 45))
    adapter.down = False
    report = await run_at(store, shelf, adapter, at_berlin(next_day(MONDAY), 7, 30))
    assert skipped.skipped == 1
    assert adapter.outbox.to("-100") == ["first: Council votes on first"]
    assert (report.nothing_new, report.sent) == (1, 0)
    sub = store.subscription("telegram", "-100")
    assert sub is not None and sub.last_article_id == "first"
    assert store.last_briefed("telegram", "-100") == "first"


async def test_stop_mid_broadcast_ends_the_pass_between_sends_and_loses_nothing(
    store: SqliteStore,
) -> None:
    """SIGTERM during a big pass: in-flight sends finish and are recorded, no new ones start,
    and the chats not yet briefed stay due for the next start."""
    shelf = Shelf([story("first", MONDAY)])
    chats = hundred_chats(store)
    stop = asyncio.Event()

    class StopsMidway(RecordingAdapter):
        async def send_part(self, chat_id: str, part: object, *, thread_id: str | None = None) -> None:
            await super().send_part(chat_id, part)
            if len(self.outbox.accepted) == 40:
                stop.set()

    adapter = StopsMidway(latency=0.001)
    now = at_berlin(MONDAY, 7, 30)
    report = await asyncio.wait_for(delivery(store, shelf, adapter, now).run_pass(now, stop),
                                    timeout=10)
    accepted = len(adapter.outbox.accepted)
    assert 40 <= accepted < 60  # the sixteen sends in flight finish; nothing new starts
    assert report.sent == accepted  # every accepted message is in the ledger
    for sub in store.subscriptions():
        recorded = store.progress(sub.id, MONDAY).delivered_parts
        assert len(recorded) == len(adapter.outbox.to(sub.chat_id))
    rest = await run_at(store, shelf, RecordingAdapter(adapter.outbox), now)
    assert rest.due == len(chats) - report.delivered
    assert rest.duplicates_avoided == 0  # no claim was left behind
    assert_everyone_briefed_once(adapter.outbox, chats)


async def test_stop_during_a_retry_wait_ends_the_pass_without_waiting_it_out(
    store: SqliteStore,
) -> None:
    shelf = Shelf([story("first", MONDAY)])
    subscribe(store, "-100")
    stop = asyncio.Event()

    class DownThenStop(RecordingAdapter):
        async def send_part(self, chat_id: str, part: object, *, thread_id: str | None = None) -> None:
            # SIGTERM arrives while delivery waits to retry the failed send.
            asyncio.get_running_loop().call_later(0.01, stop.set)
            from briefbot.errors import TemporaryFailure
            raise TemporaryFailure("502 Bad Gateway")

    now = at_berlin(MONDAY, 7, 30)
    slow_retries = Delivery(store, shelf, {"telegram": DownThenStop()}, clock=lambda: now,
                            retry_delays=(3600.0,))
    report = await asyncio.wait_for(slow_retries.run_pass(now, stop), timeout=5)
    assert (report.interrupted, report.sent) == (1, 0)
    healthy = RecordingAdapter()
    again = await run_at(store, shelf, healthy, now)
    assert (again.delivered, again.duplicates_avoided) == (1, 0)  # its claim was released


class _FailsFirst(RecordingAdapter):
    """The platform fails the first `failures` sends with a temporary error, then accepts."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures_left = failures

    async def send_part(self, chat_id: str, part: object, *, thread_id: str | None = None) -> None:
        if self.failures_left:
            self.failures_left -= 1
            from briefbot.errors import TemporaryFailure
            raise TemporaryFailure("429 Too Many Requests: retry after 60")
        await super().send_part(chat_id, part)


def _retrying_delivery(store: SqliteStore, shelf: Shelf, adapter: RecordingAdapter,
                       clock: list[dt.datetime], during_wait: Callable[[], None]) -> Delivery:
    async def sleep(_: float) -> None:
        clock[0] += dt.timedelta(minutes=4)  # a long flood wait
        during_wait()

    return Delivery(store, shelf, {"telegram": adapter}, clock=lambda: clock[0],
                    retry_delays=(240.0, 240.0, 240.0), lease=dt.timedelta(minutes=5),
                    sleep=sleep)


async def test_a_sender_retrying_past_its_lease_keeps_the_part_to_itself(
    store: SqliteStore,
) -> None:
    """Each retry renews the claim, so a second sender (an overlapping send-due) stays off."""
    shelf = Shelf([story("first", MONDAY)])
    subscribe(store, "-100")
    sub = store.subscription("telegram", "-100")
    assert sub is not None
    clock = [at_berlin(MONDAY, 7, 30)]
    others: list[str] = []

    def other_sender_tries() -> None:
        others.append(store.claim_part(sub.id, MONDAY, 0, ("first",), claimant="other",
                                       now=clock[0], lease=dt.timedelta(minutes=5)))

    adapter = _FailsFirst(failures=3)
    report = await _retrying_delivery(store, shelf, adapter, clock, other_sender_tries).run_pass(
        clock[0])
    assert others == ["busy", "busy", "busy"]  # 4, 8 and 12 minutes after the claim
    assert (report.delivered, report.sent) == (1, 2)


async def _taken_over_while_retrying(
    store: SqliteStore,
) -> tuple[PassReport, _FailsFirst, list[str]]:
    """One chat's first send fails; while this sender waits to retry, its 5-minute lease lapses
    and another sender claims the part. -> the pass's report, the adapter, the other's claims."""
    shelf = Shelf([story("first", MONDAY)])
    subscribe(store, "-100")
    sub = store.subscription("telegram", "-100")
    assert sub is not None
    clock = [at_berlin(MONDAY, 7, 30)]
    taken: list[str] = []

    def other_sender_takes_over() -> None:
        clock[0] += dt.timedelta(minutes=2)  # past the 5-minute lease
        taken.append(store.claim_part(sub.id, MONDAY, 0, ("first",), claimant="other",
                                      now=clock[0], lease=dt.timedelta(minutes=5)))

    adapter = _FailsFirst(failures=1)
    report = await _retrying_delivery(store, shelf, adapter, clock,
                                      other_sender_takes_over).run_pass(clock[0])
    return report, adapter, taken


async def test_a_sender_whose_lapsed_claim_was_taken_over_does_not_send(
    store: SqliteStore,
) -> None:
    report, adapter, taken = await _taken_over_while_retrying(store)
    assert taken == ["claimed"]
    assert adapter.outbox.accepted == []  # the other sender sends it, not this one
    assert (report.sent, report.duplicates_avoided) == (0, 1)


class _SlowToAnswer(RecordingAdapter):
    """Each chat's first part stays in flight until `answer` is set. `reaches_at_once`: the
    platform has the message as soon as it is sent (only the answer is late), so cutting the
    send short cannot take it back; else it arrives when answered."""

    def __init__(self, outbox: Outbox, *, reaches_at_once: bool = False) -> None:
        super().__init__(outbox)
        self.answer = asyncio.Event()
        self.in_flight: set[str] = set()
        self._reaches_at_once = reaches_at_once

    async def send_part(self, chat_id: str, part: object, *, thread_id: str | None = None) -> None:
        if str(part).endswith("bullets"):  # the second part goes straight through
            await super().send_part(chat_id, part)
            return
        self.in_flight.add(chat_id)
        if self._reaches_at_once:
            self.outbox.add(chat_id, str(part))
        await self.answer.wait()
        if not self._reaches_at_once:
            self.outbox.add(chat_id, str(part))


async def _late_accept_race(db_path: Path, *, second_reaches_platform: bool) -> tuple[
        Outbox, list[str], PassReport, PassReport, SqliteStore]:
    """Two senders, one due briefing (two parts) to three chats. The first sender's process
    stalls (a suspended VM: its lease renewals do not run) while each chat's first part is in
    flight; its lease lapses, a second sender takes every claim and is mid-send of those parts
    when the platform accepts the first sender's, which then records them and goes on."""
    shelf = Shelf([story("first", MONDAY)])
    outbox = Outbox()
    first_store, second_store = SqliteStore(db_path), SqliteStore(db_path)
    chats = ["-101", "-102", "-103"]
    for chat in chats:
        subscribe(first_store, chat)
    clock = [at_berlin(MONDAY, 7, 30)]
    lease = dt.timedelta(minutes=5)
    stalled, second = (_SlowToAnswer(outbox),
                       _SlowToAnswer(outbox, reaches_at_once=second_reaches_platform))

    def sender(store: SqliteStore, adapter: RecordingAdapter, renew_every: float) -> Delivery:
        return Delivery(store, shelf, {"telegram": adapter}, catch_up=dt.timedelta(hours=2),
                        clock=lambda: clock[0], retry_delays=NO_WAIT, lease=lease,
                        renew_every=renew_every)

    first_pass = asyncio.create_task(sender(first_store, stalled, 3600.0).run_pass(clock[0]))
    await asyncio.wait_for(_until(lambda: stalled.in_flight == set(chats)), timeout=30)
    clock[0] += lease + dt.timedelta(minutes=1)  # the stall outlasts the lease
    second_pass = asyncio.create_task(sender(second_store, second, 0.01).run_pass(clock[0]))
    await asyncio.wait_for(_until(lambda: second.in_flight == set(chats)), timeout=30)
    stalled.answer.set()  # the platform accepts the first sender's parts only now
    # A 30 s guard against a hang, not a bound on how long it takes.
    first, late = await asyncio.wait_for(asyncio.gather(first_pass, second_pass), timeout=30)
    second_store.close()
    return outbox, chats, first, late, first_store


async def _nothing_more_due(store: SqliteStore, outbox: Outbox) -> None:
    """The race's day is closed for every chat: a pass 20 minutes later finds nothing due and
    sends nothing (into `outbox`). Closes `store`."""
    assert {s.last_local_date for s in store.subscriptions()} == {MONDAY}
    again = await run_at(store, Shelf([story("first", MONDAY)]), RecordingAdapter(outbox),
                         at_berlin(MONDAY, 7, 50))
    store.close()
    assert again.due == 0 and again.sent == 0


async def test_a_part_accepted_after_its_lease_lapsed_reaches_each_chat_once(
    db_path: Path,
) -> None:
    """The late accept is recorded; the second sender's next renewal finds the part in the
    ledger and cuts its send before the platform has it: every chat gets the briefing once."""
    outbox, chats, first, late, store = await _late_accept_race(
        db_path, second_reaches_platform=False)
    for chat in chats:
        assert outbox.to(chat) == ["first: Council votes on first", "first: 3 bullets"]
    assert (first.sent, first.delivered) == (6, 3)
    assert (late.sent, late.delivered, late.duplicates_avoided) == (0, 0, 3)
    await _nothing_more_due(store, outbox)
    assert len(outbox.accepted) == 6


async def test_a_part_both_senders_got_to_the_platform_arrives_at_most_twice_nothing_else(
    db_path: Path,
) -> None:
    """The bound the design gives (README: a message in flight when a lease lapses may be sent
    again): when the second sender's copy had reached the platform too, cutting its send short
    cannot take it back. That one part arrives twice, once from each sender; every other part
    once; the day is closed and nothing more is sent."""
    outbox, chats, first, late, store = await _late_accept_race(
        db_path, second_reaches_platform=True)
    for chat in chats:
        assert sorted(outbox.to(chat)) == ["first: 3 bullets", "first: Council votes on first",
                                           "first: Council votes on first"]
    assert set(outbox.duplicates().values()) == {2}
    assert (first.sent, first.delivered) == (6, 3)
    assert (late.sent, late.delivered) == (0, 0)  # its sends were cut short: not recorded
    await _nothing_more_due(store, outbox)
    assert len(outbox.accepted) == 9


async def test_a_send_cut_short_by_a_lost_claim_says_so_not_that_it_waited_to_retry(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The second sender logged "another sender took over part 0 of the 2026-11-23 briefing
    while this one waited to retry; leaving it to them": it was not waiting to retry, the
    other sender had sent the part, and its own copy may have reached the chat."""
    caplog.set_level(logging.WARNING, logger="briefbot.daily.delivery")
    _, chats, _, _, store = await _late_accept_race(db_path, second_reaches_platform=True)
    store.close()
    said = sorted(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert said == [
        f"telegram chat {chat}: part 0 of the 2026-11-23 briefing was cut short mid-send: this "
        "sender's claim had lapsed and another sender took the part over or sent it. If this "
        "copy had reached the platform before the cut, the chat has the part twice"
        for chat in chats
    ]


async def test_a_claim_lost_while_waiting_to_retry_says_so(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    await _taken_over_while_retrying(store)
    assert ("telegram chat -100: another sender took over part 0 of the 2026-11-23 briefing "
            "while this one waited to retry; leaving it to them") in caplog.text


async def test_a_briefing_subscribed_in_a_forum_topic_goes_there_every_part(
    store: SqliteStore,
) -> None:
    """/subscribe sent in topic 77 of a forum: part 2, and every day after, land in topic 77."""
    store.subscribe("telegram", "-100", dt.time(7, 30), "Europe/Berlin", created_by="admin",
                    now=SUBSCRIBED_AT, thread_id="77")
    shelf = Shelf([story("bridge", MONDAY)])
    adapter = RecordingAdapter()
    await run_at(store, shelf, adapter, at_berlin(MONDAY, 7, 30))
    shelf.put(story("vote", next_day(MONDAY)))
    await run_at(store, shelf, adapter, at_berlin(next_day(MONDAY), 7, 30))
    sent = adapter.outbox.to("-100")
    assert len(sent) == 4
    assert [adapter.topics[part] for part in sent] == ["77"] * 4


async def test_a_back_dated_article_added_after_the_last_briefing_is_sent_next(
    store: SqliteStore,
) -> None:
    """Dated the day before the last briefing, but added after it: the chat never had it."""
    shelf, adapter = await briefed_on_monday(store)
    shelf.put(story("late-report", next_day(MONDAY, -1)))
    report = await run_at(store, shelf, adapter, at_berlin(next_day(MONDAY), 7, 30))
    assert report.delivered == 1
    assert adapter.outbox.to("-100")[2:] == ["late-report: Council votes on late report",
                                             "late-report: 3 bullets"]
    # And once only: the days after, it is not new any more.
    for days in (2, 3, 9):
        await run_at(store, shelf, adapter, at_berlin(next_day(MONDAY, days), 7, 30))
    assert len(adapter.outbox.to("-100")) == 4


async def test_an_article_dated_more_than_a_week_before_the_last_briefing_is_old_news(
    store: SqliteStore,
) -> None:
    shelf, adapter = await briefed_on_monday(store)
    shelf.put(story("archive", next_day(MONDAY, -8)))
    report = await run_at(store, shelf, adapter, at_berlin(next_day(MONDAY), 7, 30))
    assert report.nothing_new == 1 and len(adapter.outbox.to("-100")) == 2


async def test_a_back_dated_article_sent_is_not_sent_again_after_a_newer_one(
    store: SqliteStore,
) -> None:
    """Pruning what was sent must never make a back-dated article new again."""
    shelf, adapter = await briefed_on_monday(store)
    shelf.put(story("late-report", next_day(MONDAY, -1)))
    await run_at(store, shelf, adapter, at_berlin(next_day(MONDAY), 7, 30))
    shelf.put(story("vote", next_day(MONDAY, 2)))
    await run_at(store, shelf, adapter, at_berlin(next_day(MONDAY, 2), 7, 30))
    shelf.put(story("ferry", next_day(MONDAY, 3)))
    await run_at(store, shelf, adapter, at_berlin(next_day(MONDAY, 3), 7, 30))
    sent = adapter.outbox.to("-100")
    assert [p for p in sent if p.startswith("late-report")] == [
        "late-report: Council votes on late report", "late-report: 3 bullets"]
    assert len(sent) == 8


async def test_a_briefing_many_chats_share_is_composed_once_a_pass(store: SqliteStore) -> None:
    """Rebuilding the same briefing for each chat was two thirds of a broadcast's core time."""
    from briefbot.daily.delivery import compose_briefing

    composed: list[tuple[str, ...]] = []

    def counting(articles: object) -> object:
        chosen = list(articles)  # type: ignore[call-overload]
        composed.append(tuple(a.id for a in chosen))
        return compose_briefing(chosen)

    for n in range(30):
        subscribe(store, f"-{n}")
    shelf = Shelf([story("bridge", MONDAY)])
    adapter = RecordingAdapter()
    report = await delivery(store, shelf, adapter, at_berlin(MONDAY, 7, 30),
                            compose=counting).run_pass(at_berlin(MONDAY, 7, 30))
    assert report.delivered == 30 and len(adapter.outbox.accepted) == 60
    assert composed == [("bridge",)]


async def test_a_subscription_with_an_unknown_time_zone_leaves_the_others_briefed(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    """A zone a tzdata update removed (or a hand-edited database) names the chat and the fix."""
    shelf = Shelf([story("first", MONDAY)])
    adapter = RecordingAdapter()
    chats = hundred_chats(store)
    store.subscribe("telegram", "-1", dt.time(7, 30), "Mars/Olympus_Mons", created_by="admin",
                    now=SUBSCRIBED_AT)
    now = at_berlin(MONDAY, 7, 30)
    courier = delivery(store, shelf, adapter, now)
    await courier.run_pass(now)
    assert courier.next_wake(now) > now  # the loop's own wake-up does not fail either
    assert_everyone_briefed_once(adapter.outbox, chats)
    assert adapter.outbox.to("-1") == []
    [warning] = [r.getMessage() for r in caplog.records if "Mars/Olympus_Mons" in r.getMessage()]
    assert "telegram chat -1" in warning and "/subscribe" in warning
