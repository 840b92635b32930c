"""Delivery under hostile conditions: long 429s, lapsing leases, slow APIs, failing storage."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from briefbot.adapters.telegram_adapter import TelegramAdapter
from briefbot.adapters.telegram_config import TelegramConfig
from briefbot.config import Secret
from briefbot.conversation import Incoming, Reply
from briefbot.daily.delivery import DEFAULT_LEASE, Delivery, send_due
from briefbot.errors import OutcomeUnknown
from briefbot.store import SqliteStore
from fakes.fake_telegram import FakeTelegram
from fakes.recording_adapter import Outbox, RecordingAdapter, Shelf, story

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = dt.date(2026, 11, 23)
DUE = dt.datetime.combine(MONDAY, dt.time(7, 30), BERLIN).astimezone(dt.UTC)
SUBSCRIBED_AT = DUE - dt.timedelta(days=3)


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    opened = SqliteStore(tmp_path / "briefbot.sqlite3")
    yield opened  # type: ignore[misc]
    opened.close()


def subscribe_all(store: SqliteStore, chats: list[str] | list[int]) -> None:
    for chat in chats:
        store.subscribe("telegram", str(chat), dt.time(7, 30), "Europe/Berlin",
                        created_by="admin", now=SUBSCRIBED_AT)


async def _ignore(_incoming: Incoming) -> list[Reply]:
    return []


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def telegram(fake: FakeTelegram) -> AsyncIterator[TelegramAdapter]:
    adapter = TelegramAdapter(
        TelegramConfig(base_url=fake.base_url, token=Secret(fake.token)), _ignore,
        receive=False, backoff_seconds=0.01,
    )
    await adapter.start()
    yield adapter
    await adapter.stop()


# --- a long 429 ------------------------------------------------------------------------------


async def test_an_hour_long_429_on_one_chat_leaves_it_due_and_the_others_are_delivered(
    fake: FakeTelegram, telegram: TelegramAdapter, store: SqliteStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    chats = [-1001000000000 - n for n in range(10)]
    for chat in chats:
        fake.add_chat(chat, "supergroup")
    limited = chats[3]
    fake.inject("retry_after", chat_id=limited, times=None, retry_after=3600)
    subscribe_all(store, chats)
    shelf = Shelf([story("first", MONDAY)])
    clock = [DUE]
    delivery = Delivery(store, shelf, {"telegram": telegram}, clock=lambda: clock[0])
    async with asyncio.timeout(30):  # before: the limiter slept 3600 s inside the send
        report = await delivery.run_pass(DUE)
    for chat in chats:
        assert len(fake.messages_to(chat)) == (0 if chat == limited else 1)
    assert (report.delivered, report.deferred) == (9, 1)
    assert report.resume_at == DUE + dt.timedelta(seconds=3600)
    warning = next(r for r in caplog.records if str(limited) in r.getMessage()
                   and r.levelno == logging.WARNING)
    assert "tried again at 2026-11-23T07:30:00+00:00" in warning.getMessage()

    # Later passes leave it alone until the time Telegram gave, then send it once.
    tried = len(fake.calls_to("sendMessage"))
    clock[0] = DUE + dt.timedelta(minutes=30)
    early = await delivery.run_pass(clock[0])
    assert (early.deferred, len(fake.calls_to("sendMessage"))) == (1, tried)
    assert delivery.next_wake(clock[0]) <= DUE + dt.timedelta(seconds=3600)
    fake.clear_faults()
    clock[0] = DUE + dt.timedelta(seconds=3601)
    later = await Delivery(store, shelf, {"telegram": telegram}, clock=lambda: clock[0],
                           catch_up=dt.timedelta(hours=3)).run_pass(clock[0])
    assert (later.delivered, len(fake.messages_to(limited))) == (1, 1)


async def test_a_short_429_is_still_waited_out_inside_the_send(
    fake: FakeTelegram, telegram: TelegramAdapter,
) -> None:
    fake.add_chat(5)
    fake.inject("retry_after", retry_after=1)
    await telegram.send_part("5", "hello")
    assert [c.status for c in fake.calls_to("sendMessage")] == [429, 200]


# --- the lease -------------------------------------------------------------------------------


class _SlowToAccept(RecordingAdapter):
    """The platform holds the first send for `minutes` of (test) time, in one-minute steps."""

    def __init__(self, outbox: Outbox, clock: list[dt.datetime], minutes: int) -> None:
        super().__init__(outbox)
        self.clock = clock
        self.minutes = minutes
        self.waiting = asyncio.Event()
        self.during_wait: list[Any] = []

    async def send_part(self, chat_id: str, part: object, *, thread_id: str | None = None) -> None:
        if self.minutes:
            self.waiting.set()
            for _ in range(self.minutes):
                self.clock[0] += dt.timedelta(minutes=1)
                await asyncio.sleep(0.002)  # renewals (every 1 ms here) get to run
                for step in self.during_wait:
                    step()
            self.minutes = 0
        await super().send_part(chat_id, part)


async def test_a_send_waiting_past_the_lease_keeps_its_claim(store: SqliteStore) -> None:
    """A 16-minute wait in the send (a 960 s flood wait): an overlapping send-due stays off."""
    subscribe_all(store, ["-100"])
    sub = store.subscription("telegram", "-100")
    assert sub is not None
    clock = [DUE]
    outbox = Outbox()
    adapter = _SlowToAccept(outbox, clock, minutes=16)
    others: list[str] = []
    adapter.during_wait.append(lambda: others.append(store.claim_part(
        sub.id, MONDAY, 0, ("first",), claimant="cron", now=clock[0], lease=DEFAULT_LEASE)))
    delivery = Delivery(store, Shelf([story("first", MONDAY)]), {"telegram": adapter},
                        clock=lambda: clock[0], renew_every=0.001)
    report = await delivery.run_pass(DUE)
    assert set(others) == {"busy"}  # at 16 minutes too, past the first lease
    assert outbox.duplicates() == {} and report.delivered == 1


async def test_a_send_whose_claim_was_taken_over_is_dropped_before_it_goes_out(
    store: SqliteStore,
) -> None:
    subscribe_all(store, ["-100"])
    sub = store.subscription("telegram", "-100")
    assert sub is not None
    clock = [DUE]
    outbox = Outbox()
    adapter = _SlowToAccept(outbox, clock, minutes=3)
    # Another sender whose clock is far ahead sees our lease as lapsed and takes the part.
    taken: list[str] = []
    adapter.during_wait.append(lambda: taken or taken.append(store.claim_part(
        sub.id, MONDAY, 0, ("first",), claimant="cron", now=clock[0] + dt.timedelta(hours=1),
        lease=DEFAULT_LEASE)))
    delivery = Delivery(store, Shelf([story("first", MONDAY)]), {"telegram": adapter},
                        clock=lambda: clock[0], renew_every=0.001)
    report = await delivery.run_pass(DUE)
    assert taken == ["claimed"]
    assert outbox.accepted == []  # the other sender sends it, not this one
    assert (report.sent, report.duplicates_avoided) == (0, 1)


# --- a slow API ------------------------------------------------------------------------------


async def test_a_send_that_times_out_is_sent_once_more_at_most_and_counted(
    fake: FakeTelegram,
) -> None:
    """The fake answers after the read timeout but delivers every time (a slow Telegram)."""
    fake.add_chat(5)
    fake.inject("delay", times=None, seconds=0.4, deliver=True)
    adapter = TelegramAdapter(
        TelegramConfig(base_url=fake.base_url, token=Secret(fake.token)), _ignore,
        receive=False, backoff_seconds=0.01, send_timeout=0.2,
    )
    await adapter.start()
    try:
        with pytest.raises(OutcomeUnknown):
            await adapter.send_part("5", "hello")
        await fake.wait_for_messages(2, chat_id=5)
    finally:
        await adapter.stop()
    assert len(fake.messages_to(5)) == 2  # before: four attempts, four copies
    assert adapter.resent_after_timeout == 1


async def test_delivery_does_not_retry_a_send_whose_outcome_is_unknown(
    store: SqliteStore,
) -> None:
    class TimesOut(RecordingAdapter):
        calls = 0

        async def send_part(self, chat_id: str, part: object, *, thread_id: str | None = None) -> None:
            self.calls += 1
            await super().send_part(chat_id, part)  # it did arrive
            raise OutcomeUnknown("no answer within 60 s, twice")

    subscribe_all(store, ["-100"])
    adapter = TimesOut()
    delivery = Delivery(store, Shelf([story("first", MONDAY)]), {"telegram": adapter},
                        clock=lambda: DUE, retry_delays=(0.0, 0.0, 0.0))
    report = await delivery.run_pass(DUE)
    assert adapter.calls == 1  # before: the first try and three retries
    assert report.failed == 1


def test_sendmessage_read_timeout_fits_a_slow_telegram() -> None:
    """Telegram under load answers sendMessage in tens of seconds; 10 s gave up on a 12 s one."""
    adapter = TelegramAdapter(TelegramConfig(token=Secret("1:x")), _ignore, receive=False)
    assert adapter.send_timeout >= 12 * 4


# --- storage failing after an accepted send --------------------------------------------------


class FullDisk:
    """A Store whose writes fail while `full` is set (disk full, database locked)."""

    def __init__(self, inner: SqliteStore) -> None:
        self.inner = inner
        self.full = False
        self.writes_refused = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)
        if name not in self.WRITES:
            return method

        def write(*args: Any, **kwargs: Any) -> Any:
            if self.full:
                self.writes_refused += 1
                raise sqlite3.OperationalError("database or disk is full")
            return method(*args, **kwargs)

        return write

    WRITES = frozenset({"claim_part", "renew_claim", "record_part", "release_part",
                        "finish_briefing", "remember_briefed", "defer", "pause", "move_chat"})


async def test_parts_sent_while_the_disk_is_full_are_never_sent_again(
    store: SqliteStore,
) -> None:
    chats = [str(-1000 - n) for n in range(120)]
    subscribe_all(store, chats)
    disk = FullDisk(store)
    adapter = RecordingAdapter()

    class FillsUp(RecordingAdapter):
        async def send_part(self, chat_id: str, part: object, *, thread_id: str | None = None) -> None:
            await adapter.send_part(chat_id, part)
            if len(adapter.outbox.accepted) == 50:
                disk.full = True

    clock = [DUE]
    delivery = Delivery(disk, Shelf([story("first", MONDAY)]), {"telegram": FillsUp()},  # type: ignore[arg-type]
                        clock=lambda: clock[0], retry_delays=(0.0,))
    reports = []
    for minute in range(4):  # the loop retries every minute while the disk stays full
        clock[0] = DUE + dt.timedelta(minutes=minute)
        reports.append(await delivery.run_pass(clock[0]))
    assert disk.writes_refused > 0
    assert adapter.outbox.duplicates() == {}
    disk.full = False
    for minute in range(4, 6):
        clock[0] = DUE + dt.timedelta(minutes=minute)
        reports.append(await delivery.run_pass(clock[0]))
    assert adapter.outbox.duplicates() == {}
    # Each briefing counted delivered once, by this sender, however its ledger write went.
    assert sum(r.delivered for r in reports) == len(chats)
    assert sum(r.duplicates_avoided for r in reports) == 0
    for chat in chats:
        assert len(adapter.outbox.to(chat)) == 2
    assert {s.last_local_date for s in store.subscriptions()} == {MONDAY}


# --- a config-listed group that became a supergroup ------------------------------------------


async def test_a_config_group_that_migrated_is_briefed_once_a_day_at_its_new_id(
    store: SqliteStore, caplog: pytest.LogCaptureFixture,
) -> None:
    """Four daily send-due runs, each syncing config.yaml (which still lists the old id)."""
    from briefbot.config import ChannelSchedule

    listed = [ChannelSchedule("-100", dt.time(7, 30), "Europe/Berlin")]
    adapter = RecordingAdapter()
    adapter.moved["-100"] = "-1001234"
    shelf = Shelf([story("a", MONDAY)])
    for day in range(4):
        if day == 2:
            shelf.put(story("b", MONDAY + dt.timedelta(days=2)))
        now = DUE + dt.timedelta(days=day)
        store.sync_config_channels("telegram", listed, now)
        await Delivery(store, shelf, {"telegram": adapter}, clock=lambda now=now: now).run_pass(now)
    assert adapter.outbox.to("-1001234") == ["a: Council votes on a", "a: 3 bullets",
                                             "b: Council votes on b", "b: 3 bullets"]
    assert [s.chat_id for s in store.subscriptions()] == ["-1001234"]
    told = [r for r in caplog.records if "Replace -100 with -1001234 in config.yaml" in r.message]
    assert len(told) == 1


async def test_a_send_whose_connection_drops_after_it_was_accepted_is_sent_once_more_at_most(
    fake: FakeTelegram,
) -> None:
    """Telegram took the message, then the connection closed with no answer."""
    fake.add_chat(5)
    fake.inject("hangup", times=None)
    adapter = TelegramAdapter(
        TelegramConfig(base_url=fake.base_url, token=Secret(fake.token)), _ignore,
        receive=False, backoff_seconds=0.01,
    )
    await adapter.start()
    try:
        with pytest.raises(OutcomeUnknown):
            await adapter.send_part("5", "hello")
    finally:
        await adapter.stop()
    assert len(fake.messages_to(5)) == 2  # before: retried as "surely not sent", four copies
    assert adapter.resent_after_timeout == 1


async def test_send_due_at_a_given_time_defers_a_long_429_from_that_time(
    fake: FakeTelegram, telegram: TelegramAdapter, store: SqliteStore,
) -> None:
    """`send-due --at T`: the chat is due again at T + retry_after, not at the real clock's."""
    fake.add_chat(-1001, "supergroup")
    fake.inject("retry_after", chat_id=-1001, times=None, retry_after=3600)
    subscribe_all(store, [-1001])
    report = await send_due(store, Shelf([story("first", MONDAY)]), {"telegram": telegram}, DUE,
                            dt.timedelta(hours=2))
    [not_before] = [s.not_before for s in store.subscriptions() if s.not_before is not None]
    # before: the real time plus an hour, so a send-due --at T+61min still found it deferred
    for when in (not_before, report.resume_at):
        assert when is not None
        assert DUE + dt.timedelta(hours=1) <= when < DUE + dt.timedelta(hours=1, minutes=1)
