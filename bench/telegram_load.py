"""Load bench: /latest and questions from 200 chats through the real PTB adapter and FakeTelegram.

    .venv/bin/python bench/telegram_load.py [--messages 2000] [--chats 200] [--pace 25]

Two runs, each with a fresh fake server and bot:
1. the fake enforces no limit; updates arrive at a steady `--pace` per second (below the
   adapter's own ~28.5 msg/s limiter, so the figure is the bot's latency, not a queue);
2. the fake enforces Telegram's 30 messages/second (a sliding second, 429 with retry_after);
   every update is pushed at once, so the figure is sustained throughput.
Latency is from pushing an update to the fake accepting its sendMessage. "Exactly once" means
each chat got one reply per message, in the order asked, and nothing more.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the fake lives with the tests

from briefbot.adapters.telegram_adapter import TelegramAdapter  # noqa: E402
from briefbot.adapters.telegram_config import TelegramConfig  # noqa: E402
from briefbot.articles import Library  # noqa: E402
from briefbot.config import Secret  # noqa: E402
from briefbot.conversation import Conversation  # noqa: E402
from briefbot.qa import QAIndex  # noqa: E402
from fakes.fake_telegram import FakeTelegram  # noqa: E402

BOT = "briefbot_bench_bot"
ARTICLES = {
    "harbour.txt": """\
Harbour City opens new ferry line to the islands ⛴️
- Priya Natarajan
- March 2, 2026

The Harbour City council opened a new ferry line to the Kestrel Islands on Monday.
The crossing now takes 40 minutes.
Mayor Elena Vos said the line would carry about 3,000 passengers a day.
The ferries were built by Nordvik Yards in Bergen at a cost of 24 million euros.
Critics warned that fares of 6 euros a trip are too high for island families.
""",
    "market.txt": """\
Farmers market moves to the riverside 🥕
- Tom Okafor
- March 5, 2026

The weekly farmers market moves to the riverside park on Saturday.
About 60 stalls will sell fruit, bread and cheese, organisers said.
The market opens at 8 a.m. and closes at 1 p.m.
""",
}
QUESTIONS = [
    "who built the ferries?",
    "how many passengers a day?",
    "how much does a trip cost?",
    "when does the market open?",
    "how many stalls are there?",
    "what did critics say?",
]


def plan(messages: int, chats: int) -> list[tuple[int, str, str]]:
    """(chat id, chat type, text) in sending order: chats take turns, every tenth is a group."""
    sends = []
    for n in range(messages):
        index = n % chats
        group = index % 10 == 9
        chat_id = -(200_000 + index) if group else 100_000 + index
        turn = n // chats
        if turn % 2 == 0:
            text = "/latest"
        else:
            question = QUESTIONS[(index + turn) % len(QUESTIONS)]
            text = f"@{BOT} {question}" if group else question
        sends.append((chat_id, "group" if group else "private", text))
    return sends


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def run(
    label: str, messages: int, chats: int, pace: float | None, global_rate: float | None,
    content: Path,
) -> bool:
    library = Library(content)
    library.reload()
    conversation = Conversation(library, QAIndex())
    sends = plan(messages, chats)
    async with FakeTelegram(username=BOT, global_rate=global_rate) as fake:
        config = TelegramConfig(
            base_url=fake.base_url, base_file_url=fake.base_file_url, token=Secret(fake.token)
        )
        adapter = TelegramAdapter(config, conversation.handle)
        await adapter.start()
        pushed_at: dict[int, list[float]] = defaultdict(list)
        expected_kind: dict[int, list[bool]] = defaultdict(list)
        try:
            started = time.monotonic()
            for n, (chat_id, chat_type, text) in enumerate(sends):
                if pace is not None:
                    delay = started + n / pace - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                pushed_at[chat_id].append(time.monotonic())
                expected_kind[chat_id].append(text == "/latest")
                fake.push_message(text, chat_id=chat_id, chat_type=chat_type, user_id=7)
            try:
                await fake.wait_for_messages(messages, timeout=messages / 5 + 30)
            except AssertionError as exc:
                print(f"   gave up waiting: {str(exc)[:120]}")
            await asyncio.sleep(0.5)  # room for any duplicate to show up
        finally:
            await adapter.stop()

        accepted = [c for c in fake.calls_to("sendMessage") if c.status == 200]
        rejected_429 = sum(1 for c in fake.calls_to("sendMessage") if c.status == 429)
        by_chat: dict[int, list[float]] = defaultdict(list)
        for call in accepted:
            by_chat[int(call.params["chat_id"])].append(call.at)
        latencies: list[float] = []
        exactly_once = True
        for chat_id, pushes in pushed_at.items():
            replies = by_chat.get(chat_id, [])
            # A briefing opens with its headline mark; an answer only names its source at the end.
            kinds = [m.parsed_text.startswith("📰") for m in fake.messages_to(chat_id)]
            if len(replies) != len(pushes) or kinds != expected_kind[chat_id]:
                exactly_once = False
            latencies += [reply - push for push, reply in zip(pushes, replies, strict=False)]
        span = accepted[-1].at - accepted[0].at if len(accepted) > 1 else float("nan")
        rate = (len(accepted) - 1) / span if span else float("nan")
        print(f"== {label}")
        print(f"   {len(sends)} messages from {len(pushed_at)} chats; "
              f"{len(accepted)} replies accepted; 429s answered: {rejected_429}")
        print(f"   replies/second: {rate:.1f}  (first to last reply, {span:.1f} s)")
        ms = [value * 1000 for value in latencies] or [float("nan")]
        print(f"   reply latency: p50 {percentile(ms, 0.5):.1f} ms, "
              f"p95 {percentile(ms, 0.95):.1f} ms, max {max(ms):.1f} ms, "
              f"mean {statistics.mean(ms):.1f} ms")
        print(f"   every reply arrived exactly once, in order: {'yes' if exactly_once else 'NO'}")
        return exactly_once


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--pace", type=float, default=25.0,
                        help="updates per second in the unlimited run")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        content = Path(folder)
        for name, text in ARTICLES.items():
            (content / name).write_text(text, encoding="utf-8")
        ok = await run(f"fake limits off, {args.pace:g} updates/s", args.messages, args.chats,
                       args.pace, None, content)
        ok &= await run("fake enforcing 30 msg/s globally, all updates at once", args.messages,
                        args.chats, None, 30, content)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
