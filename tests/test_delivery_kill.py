"""A `briefbot send-due` killed (SIGKILL) in the middle of a broadcast, then run again.

What the chats end up with, as Telegram (the fake, over real HTTP) accepted it: every part of
every chat's briefing, in order; twice only the one part a chat had in flight at the kill, and
that only when Telegram had taken it (README, "Delivery keeps a ledger"). A killed pass cannot
release its claims: a restart leaves those parts alone until their lease lapses, so the last
run is at an --at past the lease rather than after a real wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import inspect
import os
import signal
import sqlite3
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from briefbot.articles import Library
from briefbot.briefing import make_digest
from briefbot.daily.delivery import DEFAULT_LEASE, Delivery
from briefbot.render.telegram import render_telegram
from briefbot.store import SqliteStore
from fakes.fake_telegram import FakeTelegram

pytestmark = pytest.mark.slow

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = dt.date(2026, 11, 23)
DUE = dt.datetime.combine(MONDAY, dt.time(7, 30), BERLIN).astimezone(dt.UTC)
SUBSCRIBED_AT = DUE - dt.timedelta(days=3)
# Past the lease of every claim the killed pass held: the first --at that may take them over.
LEASE_LAPSED = DUE + DEFAULT_LEASE + dt.timedelta(minutes=1)
CHATS = [-1001000000000 - n for n in range(30)]
STORIES = 10  # new since yesterday's briefing: today's is a digest of two messages
# send-due serves this many chats at once (Delivery's default concurrency).
AT_ONCE: int = inspect.signature(Delivery).parameters["concurrency"].default
# Messages answered before Telegram stops answering: then each of AT_ONCE chats has a send in
# flight, up to 12 chats are briefed (24 messages) and so at least 2 are not started.
ANSWERED_BEFORE_KILL = 24
PROCESS_SECONDS = 60  # a guard against a hung run, not a measure


@dataclass(frozen=True, slots=True)
class Run:
    """What one `briefbot send-due` process did."""

    returncode: int
    stdout: str
    stderr: str


def write_stories(folder: Path) -> None:
    """STORIES dated articles from the last three days, all new to every chat."""
    folder.mkdir()
    for n in range(STORIES):
        day = MONDAY - dt.timedelta(days=n % 3)
        title = (f"Harbour council story {n} on the new ferry line to the Kestrel Islands, the "
                 "fares and the long-awaited repairs of the old harbour bridge")
        (folder / f"story-{n:02d}.md").write_text(
            f"---\ntitle: {title}\nauthor: Dana Reporter\ndate: {day.isoformat()}\n"
            f"source_url: https://news.example.org/harbour/2026/council-story-{n}\n---\n"
            f"The city council voted 7 to 2 on Tuesday to approve plan number {n} for the "
            "harbour, after a debate that ran late into the evening at the town hall.\n\n"
            "Mayor Lena Ortiz said the vote would speed up repairs across the city and bring "
            "the new ferries into service before the summer season begins.\n\n"
            "Opponents argued that the budget of 4 million euros was too small for the work "
            "and that island families would pay for it in higher fares.\n\n"
            "Construction is expected to begin in March and finish by the end of the year, "
            "the harbour office said in a statement on Wednesday.\n",
            encoding="utf-8")


def todays_briefing(folder: Path) -> list[str]:
    """The Telegram messages of the digest every chat is due today, in sending order."""
    library = Library(folder)
    library.reload()
    assert len(library.articles) == STORIES
    return list(render_telegram(make_digest(library.articles)))


def subscribe_briefed_yesterday(database: Path, chats: list[int]) -> None:
    """Each chat subscribed for 07:30 Berlin and got yesterday's briefing (on an older story),
    so today's is the digest of the STORIES new ones."""
    store = SqliteStore(database)
    try:
        yesterday = MONDAY - dt.timedelta(days=1)
        for chat in chats:
            sub = store.subscribe("telegram", str(chat), dt.time(7, 30), "Europe/Berlin",
                                  created_by="admin", now=SUBSCRIBED_AT)
            store.finish_briefing(sub.id, yesterday, newest_article_id="yesterday",
                                  newest_article_date=yesterday,
                                  sent_at=DUE - dt.timedelta(days=1),
                                  sent_articles=[("yesterday", yesterday)])
    finally:
        store.close()


def prepare(tmp_path: Path, fake: FakeTelegram) -> tuple[Path, list[str]]:
    """The chats, their subscriptions and the articles; -> config.yaml and today's messages."""
    for chat in CHATS:
        fake.add_chat(chat, "supergroup")
    write_stories(tmp_path / "content")
    subscribe_briefed_yesterday(tmp_path / "briefbot.sqlite3", CHATS)
    config = tmp_path / "config.yaml"
    config.write_text(f"content_dir: {tmp_path / 'content'}\n"
                      f"database: {tmp_path / 'briefbot.sqlite3'}\n"
                      f"telegram:\n  base_url: {fake.base_url}\n", encoding="utf-8")
    parts = todays_briefing(tmp_path / "content")
    assert len(parts) == 2  # so a kill can fall between the parts of one chat's briefing
    return config, parts


async def start_send_due(config: Path, at: dt.datetime, token: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_BOT_TOKEN")}
    env["TELEGRAM_BOT_TOKEN"] = token
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "briefbot", "--config", str(config), "send-due",
        "--at", at.isoformat(), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def finished(process: asyncio.subprocess.Process, token: str) -> Run:
    """Wait for `process` to exit (killed if it outlasts the guard); checks what any run owes:
    no traceback, and the token in no line it wrote."""
    try:
        async with asyncio.timeout(PROCESS_SECONDS):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    run = Run(process.returncode, out.decode(), err.decode())
    assert "Traceback" not in run.stderr, run.stderr
    assert token not in run.stdout + run.stderr
    return run


async def send_due(config: Path, at: dt.datetime, token: str) -> Run:
    return await finished(await start_send_due(config, at, token), token)


async def kill(process: asyncio.subprocess.Process, token: str) -> None:
    """SIGKILL: no handler runs, no claim is released, nothing is flushed."""
    process.kill()
    assert (await finished(process, token)).returncode == -signal.SIGKILL


def received(fake: FakeTelegram, parts: list[str]) -> dict[int, list[int]]:
    """Every chat's messages as Telegram accepted them, in order, each as its part number in
    today's briefing (-1: a message that is none of them)."""
    number = {text: index for index, text in enumerate(parts)}
    return {chat: [number.get(m.text, -1) for m in fake.messages_to(chat)] for chat in CHATS}


def without_repeats(seen: list[int]) -> list[int]:
    """`seen` with each part's later copies dropped: what the chat reads once, in order."""
    return list(dict.fromkeys(seen))


def extra_copies(seen: list[int]) -> list[int]:
    """The parts a chat got more than once, once for each copy beyond the first."""
    return [part for part, n in Counter(seen).items() for _ in range(n - 1)]


def twice(chats: dict[int, list[int]]) -> dict[int, list[int]]:
    """The chats that got some part more than once -> those extra copies."""
    return {chat: extra_copies(seen) for chat, seen in chats.items() if extra_copies(seen)}


def recorded_parts(database: Path) -> int:
    """Parts the ledger holds as sent today (read only, beside the running process)."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM ledger WHERE local_date = ?",
                              (MONDAY.isoformat(),)).fetchone()
    return int(count)


async def run_again_until_done(config: Path, fake: FakeTelegram,
                               parts: list[str]) -> dict[int, list[int]]:
    """After the kill: send-due at once at the same --at, then at one past the killed pass's
    leases; both must exit 0. -> what each chat had after the first (nothing twice yet: the
    parts the killed pass had in flight are still its claims)."""
    again = await send_due(config, DUE, fake.token)
    assert again.returncode == 0, again.stderr
    after_rerun = received(fake, parts)
    assert twice(after_rerun) == {}
    last = await send_due(config, LEASE_LAPSED, fake.token)
    assert last.returncode == 0, last.stderr
    return after_rerun


@pytest.mark.parametrize("taken", [True, False], ids=["telegram-took-them", "never-arrived"])
async def test_send_due_killed_mid_broadcast_then_rerun_briefs_every_chat_once(
    tmp_path: Path, taken: bool,
) -> None:
    """Killed with one send in flight in each of AT_ONCE chats: Telegram had taken those
    messages but not answered yet (telegram-took-them), or not taken them (never-arrived)."""
    async with FakeTelegram() as fake:
        config, parts = prepare(tmp_path, fake)
        fake.inject("stall" if taken else "delay", times=None, after=ANSWERED_BEFORE_KILL,
                    seconds=3600)
        first = await start_send_due(config, DUE, fake.token)
        await fake.wait_until(lambda: len(fake.held) == AT_ONCE, PROCESS_SECONDS,
                              f"{AT_ONCE} sends held unanswered")
        await kill(first, fake.token)
        in_flight = {int(p["chat_id"]): parts.index(p["text"]) for p in fake.held}
        at_kill = received(fake, parts)
        fake.clear_faults()
        assert len(in_flight) == AT_ONCE  # one send in flight in each of as many chats
        assert [chat for chat in CHATS if not at_kill[chat]]  # and some chats not started

        after_rerun = await run_again_until_done(config, fake, parts)
        # Right after the kill: every chat but those the killed pass was sending to.
        assert after_rerun == {chat: at_kill[chat] if chat in in_flight else [0, 1]
                               for chat in CHATS}
        final = received(fake, parts)
        assert {chat: without_repeats(seen) for chat, seen in final.items()} == {
            chat: [0, 1] for chat in CHATS}  # every part, in order
        # Twice: exactly the parts Telegram had taken when the kill came, one a chat.
        assert twice(final) == ({chat: [part] for chat, part in in_flight.items()}
                                if taken else {})


async def test_send_due_killed_at_any_moment_resends_at_most_each_chats_message_in_flight(
    tmp_path: Path,
) -> None:
    """Killed as Telegram has taken half the messages, wherever the pass is then (between a
    send and its ledger write, inside a write, between two parts, between two chats)."""
    async with FakeTelegram() as fake:
        config, parts = prepare(tmp_path, fake)
        half = len(CHATS) * len(parts) // 2
        first = await start_send_due(config, DUE, fake.token)
        await fake.wait_until(lambda: len(fake.sent_messages) >= half, PROCESS_SECONDS,
                              f"{half} messages")
        await kill(first, fake.token)
        at_kill = received(fake, parts)

        await run_again_until_done(config, fake, parts)
        final = received(fake, parts)
        assert {chat: without_repeats(seen) for chat, seen in final.items()} == {
            chat: [0, 1] for chat in CHATS}
        # At most one part once more a chat: the last one it got before the kill.
        repeated = twice(final)
        assert all(extra == at_kill[chat][-1:] for chat, extra in repeated.items()), repeated
        assert len(repeated) <= AT_ONCE


async def test_send_due_killed_while_waiting_out_a_429_is_finished_by_a_later_run(
    tmp_path: Path,
) -> None:
    """Telegram answers one chat's second message `429 retry_after 20`; the pass holds that chat
    for the 20 s (every other chat briefed meanwhile) and is killed while it waits."""
    async with FakeTelegram() as fake:
        config, parts = prepare(tmp_path, fake)
        limited = CHATS[7]
        fake.inject("retry_after", chat_id=limited, times=None, after=1, retry_after=20)
        database = tmp_path / "briefbot.sqlite3"

        def waiting_out_the_429() -> bool:
            told = any(c.status == 429 and c.params.get("chat_id") == limited
                       for c in fake.calls_to("sendMessage"))
            # Every other part in the ledger (the limited chat's first one too): nothing but
            # the wait is in flight. The ledger is read only to time the kill.
            return told and recorded_parts(database) == len(CHATS) * len(parts) - 1

        first = await start_send_due(config, DUE, fake.token)
        await fake.wait_until(waiting_out_the_429, PROCESS_SECONDS,
                              "the 429, with every other part recorded")
        await kill(first, fake.token)
        fake.clear_faults()

        after_rerun = await run_again_until_done(config, fake, parts)
        assert after_rerun[limited] == [0]  # the killed pass's claim on part 2 still holds
        assert received(fake, parts) == {chat: [0, 1] for chat in CHATS}  # all once, in order
