"""The Telegram adapter's own long polling, end to end against FakeTelegram: the getUpdates offset
passes an update only once it is answered, so a stop loses nothing and a restart answers nothing
twice; getUpdates failures are waited out; 429s hold only their own chat."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from briefbot.adapters.telegram_adapter import (
    MIN_REPOLL_SECONDS,
    AnsweredAhead,
    Backoff,
    TelegramAdapter,
)
from briefbot.adapters.telegram_config import TelegramConfig
from briefbot.config import Secret
from briefbot.conversation import Incoming, Notice, Reply
from briefbot.errors import ConfigError, RateLimited
from fakes.fake_telegram import FakeTelegram

BOT = "briefbot_test_bot"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(username=BOT) as server:
        yield server


def adapter_for(fake: FakeTelegram, handler: object, **options: object) -> TelegramAdapter:
    config = TelegramConfig(base_url=fake.base_url, base_file_url=fake.base_file_url,
                            token=Secret(fake.token))
    return TelegramAdapter(config, handler, backoff_seconds=0.01, **options)  # type: ignore[arg-type]


class Slow:
    """Answers each question with its own text, after `delays[chat]` seconds (a slow reader);
    chats in `held` wait until `release` is set."""

    def __init__(self, delays: dict[str, float] | None = None, held: frozenset[str] = frozenset(),
                 ) -> None:
        self.delays = delays or {}
        self.held = held
        self.release = asyncio.Event()

    async def __call__(self, incoming: Incoming) -> Sequence[Reply]:
        if incoming.chat_id in self.held:
            await self.release.wait()
        await asyncio.sleep(self.delays.get(incoming.chat_id, 0.0))
        return [Notice(f"answer to {incoming.text}")]


def answers(fake: FakeTelegram) -> Counter[str]:
    """How many times each question was answered."""
    return Counter(m.parsed_text.removeprefix("answer to ") for m in fake.sent_messages)


def offsets(fake: FakeTelegram) -> list[int]:
    return [int(c.params.get("offset") or 0) for c in fake.calls_to("getUpdates")]


async def test_a_stop_mid_way_leaves_the_unanswered_at_telegram_and_the_restart_answers_each_once(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    """60 questions in 6 chats answered at different speeds; stopped after 12 answers."""
    chats = [str(1000 + n) for n in range(6)]
    handler = Slow({chat: 0.05 * (n + 1) for n, chat in enumerate(chats)})
    questions = {}
    for n in range(60):
        update = fake.push_message(f"q{n}", chat_id=int(chats[n % 6]))
        questions[f"q{n}"] = update["update_id"]
    remembered = tmp_path / "answered.json"

    first = adapter_for(fake, handler, stop_grace=1.0, answered_file=remembered)
    await first.start()
    await fake.wait_for_messages(12)
    await first.stop()
    answered_first = set(answers(fake))
    held = set(fake.pending_update_ids())
    # The stop came while Telegram still held questions: every one not answered, and only those
    # (the answered ones Telegram sends again are remembered, not held back from the offset).
    unanswered = {questions[q] for q in questions if q not in answered_first}
    ahead = set(json.loads(remembered.read_text())["update_ids"]) if remembered.exists() else set()
    assert unanswered  # before: all 60 were fetched and confirmed, the rest lost at the stop
    assert held == unanswered | ahead
    assert ahead <= {questions[q] for q in answered_first}

    second = adapter_for(fake, handler, answered_file=remembered)
    await second.start()
    try:
        await fake.wait_for_messages(60, timeout=15)
        await asyncio.sleep(0.2)  # room for an answer given twice to show up
    finally:
        await second.stop()
    assert answers(fake) == Counter(questions.keys())  # each once: none lost, none twice
    assert fake.pending_update_ids() == []
    assert not remembered.exists()  # nothing was answered ahead of the offset at this stop


async def test_an_update_in_progress_holds_the_offset_while_later_chats_finish(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    handler = Slow(held=frozenset({"555"}))
    remembered = tmp_path / "answered.json"
    adapter = adapter_for(fake, handler, stop_grace=0.2, answered_file=remembered)
    await adapter.start()
    slow = fake.push_message("slow question", chat_id=555)["update_id"]
    later = [fake.push_message(f"b{n}", chat_id=2)["update_id"] for n in range(3)]
    await fake.wait_for_messages(3, chat_id=2)
    polls = len(fake.calls_to("getUpdates"))
    await fake.wait_for_calls("getUpdates", polls + 1)  # a poll after chat 2's answers
    assert max(offsets(fake)) == slow  # before: it passed the slow one with chat 2's
    await adapter.stop()  # the grace cuts the slow answer off
    assert fake.pending_update_ids() == [slow, *later]
    assert json.loads(remembered.read_text())["update_ids"] == later

    handler.release.set()
    again = adapter_for(fake, handler, answered_file=remembered)
    await again.start()
    try:
        await fake.wait_for_messages(1, chat_id=555)
        await asyncio.sleep(0.2)  # room for chat 2's answers to come twice
    finally:
        await again.stop()
    assert answers(fake) == Counter({"slow question": 1, "b0": 1, "b1": 1, "b2": 1})
    assert fake.pending_update_ids() == []


async def test_the_stop_logs_how_many_updates_are_left_for_the_next_start(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    handler = Slow(held=frozenset({"7"}))
    adapter = adapter_for(fake, handler, stop_grace=0.1)
    await adapter.start()
    for n in range(3):
        fake.push_message(f"q{n}", chat_id=7)
    await fake.wait_for_calls("getUpdates", 2)
    caplog.set_level(logging.INFO)
    await adapter.stop()
    [line] = [r for r in caplog.records if "left for the next start" in r.getMessage()]
    assert "3 updates left for the next start (3 fetched but not answered)" in line.getMessage()


async def test_while_a_reply_is_in_progress_the_poll_does_not_spin(fake: FakeTelegram) -> None:
    """getUpdates returns the update being answered at once, again and again: the loop waits."""
    handler = Slow(held=frozenset({"7"}))
    adapter = adapter_for(fake, handler)
    await adapter.start()
    try:
        fake.push_message("q", chat_id=7)
        await fake.wait_for_calls("getUpdates", 2)
        before = len(fake.calls_to("getUpdates"))
        await asyncio.sleep(1.0)
        polls = len(fake.calls_to("getUpdates")) - before
    finally:
        handler.release.set()
        await adapter.stop()
    assert 1 <= polls <= 1.0 / MIN_REPOLL_SECONDS + 2


def test_answered_updates_are_remembered_only_for_the_same_bot_and_a_day(tmp_path: Path) -> None:
    memory = AnsweredAhead(tmp_path / "answered.json")
    now = time.time()
    assert memory.save(42, frozenset({7, 9}), now)
    assert memory.load(42, now + 60) == ({7, 9}, now)
    assert memory.load(43, now + 60)[0] == frozenset()  # another bot's update ids
    assert memory.load(42, now + 25 * 3600)[0] == frozenset()  # Telegram keeps them a day
    assert memory.save(42, frozenset(), now) and not memory.path.exists()
    memory.path.write_text("{not json")
    assert memory.load(42, now)[0] == frozenset()


async def test_a_stop_before_anything_was_fetched_keeps_what_was_remembered(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    remembered = tmp_path / "answered.json"
    saved_at = time.time() - 60
    AnsweredAhead(remembered).save(fake.bot_id, frozenset({5, 6}), saved_at)
    fake.inject("server_error", method="getUpdates", times=None)  # Telegram is down
    adapter = adapter_for(fake, Slow(), answered_file=remembered,
                          poll_backoff=Backoff(0.01, 0.05))
    await adapter.start()
    await fake.wait_for_calls("getUpdates", 2)
    await adapter.stop()
    assert AnsweredAhead(remembered).load(fake.bot_id, time.time()) == ({5, 6}, saved_at)


# --- getUpdates failures ---------------------------------------------------------------------


async def test_get_updates_failures_are_waited_out_and_said_then_polling_goes_on(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    fake.inject("server_error", method="getUpdates", times=2, status=502)
    fake.inject("error", method="getUpdates", status=409,
                description="Conflict: terminated by other getUpdates request")
    fake.inject("retry_after", method="getUpdates", retry_after=1)
    adapter = adapter_for(fake, Slow(), poll_backoff=Backoff(0.01, 0.05))
    await adapter.start()
    try:
        fake.push_message("q", chat_id=7)
        [reply] = await fake.wait_for_messages(1, chat_id=7, timeout=10)
    finally:
        await adapter.stop()
    assert reply.parsed_text == "answer to q"
    assert [c.status for c in fake.calls_to("getUpdates")][:5] == [502, 502, 409, 429, 200]
    said = [(r.levelname, r.getMessage()) for r in caplog.records if "Telegram:" in r.getMessage()]
    assert sum(level == "WARNING" and "Bad Gateway" in text for level, text in said) == 2
    assert any(level == "ERROR" and "another process is polling" in text for level, text in said)
    assert any(level == "WARNING" and "rate-limited" in text for level, text in said)
    assert any("fetching updates works again" in text for _, text in said)


async def test_an_update_ptb_cannot_read_is_skipped_and_the_others_are_answered(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    """PTB reads a getUpdates answer whole or raises: one unreadable update must not stop the
    bot answering (before: every poll failed on it, for ever, and nothing was answered)."""
    caplog.set_level(logging.INFO)
    fake.push_message("q1", chat_id=7)
    fake.push_update({"edited_message": {"message_id": 99, "date": 1, "text": "e",
                                         "chat": {"id": 7, "type": "private"}}})
    broken = fake.push_update({"message": {"text": "no chat, no date"}})
    fake.push_message("q2", chat_id=8)
    adapter = adapter_for(fake, Slow(), poll_backoff=Backoff(0.01, 0.05))
    await adapter.start()
    try:
        await fake.wait_for_messages(2, timeout=10)
        fake.push_message("q3", chat_id=7)
        await fake.wait_for_messages(3, timeout=10)
    finally:
        await adapter.stop()
    assert answers(fake) == Counter({"q1": 1, "q2": 1, "q3": 1})
    assert fake.pending_update_ids() == []
    assert any(f"update {broken['update_id']} cannot be read" in r.getMessage()
               for r in caplog.records if r.levelname == "WARNING")


def test_the_poll_backoff_is_bounded_and_jittered() -> None:
    backoff = Backoff(1.0, 30.0, rand=lambda: 1.0)
    assert [backoff.next() for _ in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    low = Backoff(1.0, 30.0, rand=lambda: 0.0)
    assert [low.next() for _ in range(3)] == [0.5, 1.0, 2.0]
    backoff.reset()
    assert backoff.next() == 1.0


async def test_a_token_revoked_while_polling_stops_the_bot_with_a_clear_error(
    fake: FakeTelegram,
) -> None:
    fatal: list[ConfigError] = []
    fake.inject("error", method="getUpdates", status=401, description="Unauthorized")
    adapter = adapter_for(fake, Slow(), on_fatal=fatal.append)
    await adapter.start()
    try:
        await fake.wait_for_calls("getUpdates")
        await asyncio.sleep(0.2)
    finally:
        await adapter.stop()
    assert [str(e) for e in fatal] == [
        "TELEGRAM_BOT_TOKEN was rejected by the Telegram server; check the token from @BotFather"
    ]
    assert len([c for c in fake.calls_to("getUpdates") if c.params.get("timeout")]) == 1


# --- 429s ------------------------------------------------------------------------------------


async def test_a_429_the_bot_handles_is_logged_as_a_warning_not_an_error(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    fake.inject("retry_after", times=None, retry_after=1)
    adapter = adapter_for(fake, Slow())
    await adapter.start()
    try:
        fake.push_message("q", chat_id=7)
        await fake.wait_for_calls("sendMessage", 4, timeout=10)
        await asyncio.sleep(0.2)
    finally:
        await adapter.stop()
    # before: PTB's limiter logged "Rate limit hit after maximum of 3 retries" with a traceback
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "reply not delivered: Telegram rate limit still in force" in warning.getMessage()


async def test_a_short_429_in_one_group_holds_that_group_only(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    """Telegram's 429s for a group are that group's: the other chats are served meanwhile.

    End to end: the adapter's own rate limiter, the 429 as Telegram sends it, the chat id as the
    adapter passes it. The hold's length on a clock of its own, and the retry once it ends, are
    test_telegram_adapter.py::test_a_short_429_holds_its_own_chat_for_the_time_telegram_gave_and_no_other;
    a held reply delivered once, in order, is ...::test_429_in_a_multipart_reply_still_delivers_each_part_once_in_order.
    """
    busy, other = -1001, -1002
    fake.add_chat(busy, "supergroup")
    fake.add_chat(other, "supergroup")
    # A hold (300 s) far longer than the guard below, so the guard alone tells a held chat from
    # a served one however loaded the machine is; the hold is never waited out.
    fake.inject("retry_after", chat_id=busy, retry_after=300)
    caplog.set_level(logging.INFO, logger="briefbot")
    adapter = adapter_for(fake, Slow(), receive=False, max_retry_after=600)
    await adapter.start()
    held = asyncio.create_task(adapter.send_part(str(busy), "first"))
    try:
        async with asyncio.timeout(30):  # a guard: each step takes milliseconds
            while not any("holding this chat" in r.getMessage() for r in caplog.records):  # noqa: ASYNC110
                await asyncio.sleep(0.01)  # the busy group got its 429 and the bot holds it
            await adapter.send_part(str(other), "second")  # before: held with the busy group
        assert [m.parsed_text for m in fake.messages_to(other)] == ["second"]
        assert fake.messages_to(busy) == [] and not held.done()  # still held
    finally:
        held.cancel()
        await asyncio.gather(held, return_exceptions=True)
        await adapter.stop()
    assert [(c.params.get("chat_id"), c.status) for c in fake.calls_to("sendMessage")] == [
        (busy, 429), (other, 200)]  # no retry yet: the busy group is still held


async def test_a_429_too_long_to_wait_is_raised_at_once(fake: FakeTelegram) -> None:
    fake.add_chat(-1001, "supergroup")
    fake.inject("retry_after", chat_id=-1001, times=None, retry_after=3600)
    adapter = adapter_for(fake, Slow(), receive=False)
    await adapter.start()
    try:
        async with asyncio.timeout(5):
            with pytest.raises(RateLimited) as caught:
                await adapter.send_part("-1001", "briefing")
    finally:
        await adapter.stop()
    assert caught.value.retry_after == 3600
    assert len(fake.calls_to("sendMessage")) == 1


async def test_a_stop_whose_confirm_fetches_an_unreadable_update_still_stops_cleanly(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    """The getUpdates at stop reads the update at the offset: one PTB cannot read (arrived after
    the last poll) must not make stop() raise and skip the final count (before: KeyError)."""
    fake.push_message("q", chat_id=7)
    fake.inject("delay", method="getUpdates", after=1, seconds=30)  # the second poll hangs ...
    adapter = adapter_for(fake, Slow())
    await adapter.start()
    await fake.wait_for_messages(1, chat_id=7)
    async with asyncio.timeout(5):
        while fake.received.count("getUpdates") < 2:  # noqa: ASYNC110 (no event for arrivals)
            await asyncio.sleep(0.01)
    broken = fake.push_update({"message": {"text": "no chat, no date"}})  # ... so it is not read
    caplog.set_level(logging.INFO)
    await adapter.stop()
    assert any("left for the next start" in r.getMessage() for r in caplog.records)
    assert broken["update_id"] in fake.pending_update_ids()


def test_a_failed_write_of_the_answered_file_leaves_no_partial_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    in_the_way = tmp_path / "answered.json"
    in_the_way.mkdir()  # the temporary file is written, but cannot replace a folder
    memory = AnsweredAhead(in_the_way)
    assert not memory.save(42, frozenset({7, 9}), time.time())
    assert [p.name for p in tmp_path.iterdir()] == ["answered.json"]
    assert "cannot write" in caplog.text and "2 messages answered" in caplog.text
