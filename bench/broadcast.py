"""Daily broadcast: throughput under Telegram's limit, losses, duplicates, due and load cost.

Prints:
  1. N subscriptions delivered through FakeTelegram(global_rate=30, ~2% injected 5xx) by the real
     TelegramAdapter: messages/second, lost chats, duplicated messages, 429s seen.
  2. The same with the limit lifted (fake unlimited, adapter limiter raised): raw messages/second.
  3. The core alone (in-memory adapter, no network): messages/second.
  4. Deciding what is due: microseconds per subscription (100,000 subscriptions).
  5. Loading 100,000 subscriptions from SQLite: seconds.
Targets: >= 28 msg/s under the 30/s limit, 0 lost, 0 duplicated, <= 1 ms per due decision,
<= 2 s to load 100,000 subscriptions.

    .venv/bin/python bench/broadcast.py [--subs 2000] [--skip-telegram] [--window 30]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from briefbot.adapters import telegram_adapter  # noqa: E402
from briefbot.adapters.telegram_config import TelegramConfig  # noqa: E402
from briefbot.config import Secret  # noqa: E402
from briefbot.conversation import Incoming, Reply  # noqa: E402
from briefbot.daily.delivery import Delivery  # noqa: E402
from briefbot.daily.schedule import decide  # noqa: E402
from briefbot.store import SqliteStore  # noqa: E402
from fakes.fake_telegram import FakeTelegram  # noqa: E402
from fakes.recording_adapter import RecordingAdapter, Shelf, story  # noqa: E402

BERLIN = ZoneInfo("Europe/Berlin")
DAY = dt.date(2026, 11, 23)
DUE = dt.datetime.combine(DAY, dt.time(7, 30), BERLIN).astimezone(dt.UTC)
CREATED = DUE - dt.timedelta(days=3)
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "Australia/Sydney",
         "America/Los_Angeles", "Europe/London", "Asia/Kolkata")


async def _ignore(_incoming: Incoming) -> Sequence[Reply]:
    return []


def _chat_ids(count: int) -> list[int]:
    return [-1_000_000_000_000 - n for n in range(count)]


def _subscribe_all(store: SqliteStore, platform: str, chats: Sequence[int]) -> None:
    store.add_many(((platform, str(c), dt.time(7, 30), "Europe/Berlin") for c in chats), CREATED)


async def _through_telegram(count: int, *, limited: bool, fault_rate: float,
                            window: int | None = None) -> None:
    chats = _chat_ids(count)
    saved_window = telegram_adapter.OVERALL_PER_WINDOW
    if not limited:
        telegram_adapter.OVERALL_PER_WINDOW = 100_000
    elif window is not None:
        telegram_adapter.OVERALL_PER_WINDOW = window
    rng = random.Random(11)
    try:
        async with FakeTelegram(global_rate=30 if limited else None) as fake:
            faulted = 0
            for chat in chats:
                fake.add_chat(chat, "supergroup")
                if rng.random() < fault_rate:
                    fake.inject("server_error", chat_id=chat, status=502)
                    faulted += 1
            with tempfile.TemporaryDirectory() as folder:
                store = SqliteStore(Path(folder) / "bench.sqlite3")
                _subscribe_all(store, "telegram", chats)
                adapter = telegram_adapter.TelegramAdapter(
                    TelegramConfig(base_url=fake.base_url, token=Secret(fake.token)),
                    _ignore, receive=False,
                )
                await adapter.start()
                shelf = Shelf([story("council-vote", DAY)])
                try:
                    delivery = Delivery(store, shelf, {"telegram": adapter})
                    start = time.perf_counter()
                    report = await delivery.run_pass(DUE)
                    elapsed = time.perf_counter() - start
                    # Whatever a pass left due (temporary failures) goes out on the next one.
                    extra = 0
                    while report.failed and extra < 3:
                        extra += 1
                        report = await delivery.run_pass(DUE + dt.timedelta(minutes=extra))
                finally:
                    await adapter.stop()
                    store.close()
            per_chat = Counter(m.chat_id for m in fake.sent_messages)
            parts = statistics.mode(per_chat.values()) if per_chat else 0
            lost = sum(1 for c in chats if per_chat[c] == 0)
            duplicated = sum(n - parts for n in per_chat.values() if n > parts)
            throttled = sum(1 for call in fake.calls if call.status == 429)
            sent = len(fake.sent_messages)
            accepted = [call.at for call in fake.calls
                        if call.method.lower() == "sendmessage" and call.status == 200]
            steady = (len(accepted) - 1) / (accepted[-1] - accepted[0]) if sent > 1 else 0.0
            label = (f"limit 30/s, adapter paced at {telegram_adapter.OVERALL_PER_WINDOW} per "
                     f"{telegram_adapter.WINDOW_SECONDS:g} s of answers"
                     if limited else "limit lifted")
            print(f"telegram ({label}): {count} chats, {sent} messages in {elapsed:.1f} s "
                  f"= {sent / elapsed:.1f} msg/s (first to last accepted: {steady:.1f}/s); "
                  f"lost {lost}, duplicated {duplicated}; "
                  f"5xx injected {faulted}, 429 answered {throttled}, extra passes {extra}")
    finally:
        telegram_adapter.OVERALL_PER_WINDOW = saved_window


async def _core_only(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(Path(folder) / "bench.sqlite3")
        _subscribe_all(store, "telegram", _chat_ids(count))
        adapter = RecordingAdapter()
        delivery = Delivery(store, Shelf([story("council-vote", DAY)]), {"telegram": adapter})
        start = time.perf_counter()
        report = await delivery.run_pass(DUE)
        elapsed = time.perf_counter() - start
        store.close()
    sent = len(adapter.outbox.accepted)
    print(f"core only (in-memory adapter, SQLite ledger): {report.delivered} briefings, "
          f"{sent} messages in {elapsed:.2f} s = {sent / elapsed:.0f} msg/s; "
          f"duplicated {len(adapter.outbox.duplicates())}")


def _decisions_and_load(count: int) -> None:
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.sqlite3"
        store = SqliteStore(path)
        store.add_many(
            (("telegram", str(-n), dt.time(rng.randrange(24), rng.choice((0, 15, 30, 45))),
              rng.choice(ZONES)) for n in range(count)),
            CREATED,
        )
        store.close()
        loads = []
        for _ in range(3):
            fresh = SqliteStore(path)
            start = time.perf_counter()
            subs = fresh.subscriptions()
            loads.append(time.perf_counter() - start)
            fresh.close()
        now = DUE
        catch_up = dt.timedelta(hours=2)
        start = time.perf_counter()
        due = 0
        for sub in subs:
            if decide(sub.time, sub.timezone, now, last_local_date=sub.last_local_date,
                      created_at=sub.created_at, catch_up=catch_up) is not None:
                due += 1
        per = (time.perf_counter() - start) / len(subs)
        store = SqliteStore(path)
        delivery = Delivery(store, Shelf(), {"telegram": RecordingAdapter()})
        start = time.perf_counter()
        delivery.due_at(now)
        whole = time.perf_counter() - start
        store.close()
    print(f"due decision: {per * 1e6:.1f} µs per subscription over {len(subs)} "
          f"({due} owed a briefing: due or missed); load + decide all: {whole:.2f} s")
    print(f"load {len(subs)} subscriptions: best {min(loads):.2f} s, worst {max(loads):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--subs", type=int, default=2000)
    parser.add_argument("--skip-telegram", action="store_true")
    parser.add_argument("--window", type=int, default=None,
                        help="sends per second of answers the adapter allows (default: its own)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if not args.skip_telegram:
        asyncio.run(_through_telegram(args.subs, limited=True, fault_rate=0.02,
                                      window=args.window))
        asyncio.run(_through_telegram(args.subs, limited=False, fault_rate=0.0))
    asyncio.run(_core_only(args.subs))
    _decisions_and_load(100_000)


if __name__ == "__main__":
    main()
