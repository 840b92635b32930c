"""Message budgets: a flood from one chat gets one "slow down", then silence; others are served."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from briefbot.adapters.telegram_config import TelegramConfig
from briefbot.app import App
from briefbot.budget import Budget, Limit, TokenBucket
from briefbot.config import Config, Secret
from briefbot.conversation import Incoming
from fakes.fake_telegram import FakeTelegram


def test_a_bucket_spends_its_burst_then_refills_with_time() -> None:
    bucket = TokenBucket.full(3, per_second=0.5, now=100.0)
    assert [bucket.take(100.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.wait(100.0) == pytest.approx(2.0)
    assert not bucket.take(101.0)
    assert bucket.take(102.0)
    assert bucket.wait(1000.0) == 0.0 and bucket.is_full(1000.0)


def test_a_flood_gets_its_burst_one_slow_down_then_silence() -> None:
    budget = Budget(user=Limit(burst=5, per_minute=30), chat=Limit(burst=50, per_minute=60))
    verdicts = [budget.admit("t:1", "t:u1", now=i * 0.01) for i in range(1000)]
    assert verdicts[:5] == ["answer"] * 5
    assert verdicts[5] == "slow_down"
    assert verdicts[6:] == ["ignore"] * 994  # 10 s is not enough to refill five at 30/min


def test_after_the_bucket_refills_the_chat_is_answered_and_may_be_warned_again() -> None:
    budget = Budget(user=Limit(burst=2, per_minute=60), chat=Limit(burst=50, per_minute=60))
    assert [budget.admit("t:1", "t:u1", 0.0) for _ in range(3)] == [
        "answer", "answer", "slow_down"]
    assert budget.retry_in("t:1", "t:u1", 0.0) == 2
    assert budget.admit("t:1", "t:u1", 1.0) == "ignore"  # one token back is not enough
    assert [budget.admit("t:1", "t:u1", 2.0) for _ in range(3)] == [
        "answer", "answer", "slow_down"]


def test_one_flooding_user_does_not_spend_another_users_or_chats_budget() -> None:
    budget = Budget(user=Limit(burst=3, per_minute=6), chat=Limit(burst=100, per_minute=60))
    for _ in range(50):
        budget.admit("t:group", "t:loud", 0.0)
    assert budget.admit("t:group", "t:quiet", 0.0) == "answer"
    assert budget.admit("t:other", "t:someone", 0.0) == "answer"


def test_a_busy_group_is_limited_as_a_whole() -> None:
    budget = Budget(user=Limit(burst=3, per_minute=6), chat=Limit(burst=10, per_minute=10))
    verdicts = [budget.admit("t:group", f"t:user{n}", 0.0) for n in range(12)]
    assert verdicts[:10] == ["answer"] * 10 and verdicts[10] == "slow_down"


def test_idle_buckets_are_forgotten_so_memory_stays_bounded() -> None:
    budget = Budget(max_buckets=100)
    for n in range(1000):
        budget.admit(f"t:{n}", f"t:u{n}", now=float(n * 3600))
    assert len(budget._buckets) <= 102


async def test_a_flooding_telegram_chat_gets_one_slow_down_and_others_are_answered(
    content_dir: Path, tmp_path: Path,
) -> None:
    """Through the real PTB and the app's one dispatch point: 200 messages from one chat."""
    from briefbot.adapters.telegram_adapter import TelegramAdapter

    bot = App(Config(content_dir=content_dir, database=tmp_path / "db.sqlite3",
                     catch_up_window=dt.timedelta(hours=2)))
    bot.load_content()
    async with FakeTelegram() as fake:
        adapter = TelegramAdapter(TelegramConfig(base_url=fake.base_url, token=Secret(fake.token)),
                                  bot.handle)
        await adapter.start()
        try:
            for n in range(200):
                fake.push_message(f"/help {n}", chat_id=9000)
            fake.push_message("/help", chat_id=2001)
            await fake.wait_for_messages(1, chat_id=2001, timeout=30)
            await fake.wait_for_calls("getUpdates", 3, timeout=30)  # the flood was all read
        finally:
            await adapter.stop()
            bot.store.close()
    flooded = [m.parsed_text for m in fake.messages_to(9000)]
    assert sum("faster than I can answer" in text for text in flooded) == 1
    assert len(flooded) <= 10  # before: all 200 were answered
    assert "faster" not in fake.messages_to(2001)[0].parsed_text


async def test_the_console_chat_is_never_throttled(content_dir: Path, tmp_path: Path) -> None:
    bot = App(Config(content_dir=content_dir, database=tmp_path / "db.sqlite3",
                     catch_up_window=dt.timedelta(hours=2)))
    bot.load_content()
    try:
        answers = [await bot.handle(Incoming("console", "console", "me", "/latest"))
                   for _ in range(50)]
    finally:
        bot.store.close()
    assert all(answers)
