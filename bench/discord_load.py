"""Load bench: 1,000 slash commands and mention questions through the real bot and the fake Discord.

Prints interactions per second, p50/p95/max latency (event sent by the fake -> reply accepted by
the fake) and whether every reply arrived exactly once. Rate limits in the fake are off, so this
measures briefbot + discord.py, not Discord's buckets. Run: .venv/bin/python bench/discord_load.py
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from briefbot.adapters.discord_adapter import DiscordAdapter
from briefbot.adapters.discord_config import DiscordConfig
from briefbot.articles import Library
from briefbot.config import Secret
from briefbot.conversation import Conversation
from briefbot.qa import QAIndex
from fakes.fake_discord import GUILD_ID, TOKEN, FakeDiscord

ARTICLE = """\
Leaders meet in Abu Dhabi for climate finance talks 🌍
- Jane Doe
- February 11, 2026

Leaders from forty countries met in Abu Dhabi on Tuesday for two days of talks on climate finance.
The talks were chaired by Dr. Amina Hassan, the summit's president.
Delegates agreed to a fund of $40 billion for coastal cities.
The next round of talks will be held in Nairobi in October.
"""

SLASH = [("latest", {}), ("ask", {"question": "who chaired the talks?"}), ("list", {}),
         ("brief", {"id": "talks"})]
QUESTIONS = ["where will the next round be held?", "how big is the fund?",
             "who chaired the talks?", "when did the leaders meet?"]


async def main(total: int, concurrency: int) -> int:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "talks.txt").write_text(ARTICLE, encoding="utf-8")
        library = Library(Path(folder))
        library.reload()
        conversation = Conversation(library, QAIndex())
        async with FakeDiscord() as fake:
            config = DiscordConfig(api_base_url=fake.api_base_url, gateway_url=fake.gateway_url,
                                   guilds=(GUILD_ID,), token=Secret(TOKEN))
            bot = DiscordAdapter(config, conversation.handle, guild_ready_timeout=0.05)
            await bot.start()
            try:
                return await drive(fake, total, concurrency)
            finally:
                await bot.stop()


async def drive(fake: FakeDiscord, total: int, concurrency: int) -> int:
    started: dict[int, float] = {}  # interaction or question message id -> when it was sent
    window = asyncio.Semaphore(concurrency)

    seen: set[int | None] = set()
    scanned = 0

    def answered(key: int) -> bool:
        nonlocal scanned
        for message in fake.sent_messages[scanned:]:
            seen.add(message.interaction_id or message.reference_id)
        scanned = len(fake.sent_messages)
        return key in seen

    async def one(index: int) -> None:
        async with window:
            sent_at = time.perf_counter()
            if index % 2 == 0:
                name, options = SLASH[(index // 2) % len(SLASH)]
                key = await fake.dispatch_slash(name, options, user="alice")
            else:
                question = QUESTIONS[(index // 2) % len(QUESTIONS)]
                key = await fake.dispatch_message(question, mentions_bot=True)
            started[key] = sent_at
            await fake.wait_until(lambda: answered(key), timeout=30, what=f"reply to {key}")

    wall = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(total)))
    wall = time.perf_counter() - wall
    await asyncio.sleep(0.2)  # let any duplicate arrive before counting

    replies = Counter(m.interaction_id or m.reference_id for m in fake.sent_messages)
    firsts: dict[int, float] = {}
    for message in fake.sent_messages:
        key = message.interaction_id or message.reference_id
        if key is not None and key not in firsts:
            # SentMessage.at is time.monotonic(); convert to the same clock as perf_counter.
            firsts[key] = message.at
    offset = time.perf_counter() - time.monotonic()
    latencies = sorted((firsts[k] + offset - started[k]) * 1000 for k in started)
    once = all(replies[k] == 1 for k in started) and len(replies) == len(started)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(f"discord load: {total} interactions ({total // 2} slash, {total - total // 2} mentions),"
          f" {concurrency} in flight")
    print(f"  throughput     {total / wall:8.1f} interactions/s  ({wall:.2f} s)")
    print(f"  latency p50    {statistics.median(latencies):8.1f} ms")
    print(f"  latency p95    {p95:8.1f} ms   (target <= 50 ms)")
    print(f"  latency max    {latencies[-1]:8.1f} ms")
    print(f"  every reply exactly once: {'yes' if once else 'NO'}"
          f" ({len(fake.sent_messages)} messages for {len(started)} interactions)")
    return 0 if once else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=1,
                        help="interactions in flight at once (1: one person after another)")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.total, args.concurrency)))
