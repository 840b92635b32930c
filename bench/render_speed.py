"""Briefing and rendering speed: the sample article, a 24,000-character article, long notices.

Prints the median time of make_briefing (first call and warm), of each renderer on the sample,
and of splitting a 20,000-character notice for Telegram and Discord.
Targets: a briefing under 50 ms, any render under 50 ms, on a 2-core machine.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from briefbot.articles import Article, parse_article
from briefbot.briefing import make_briefing
from briefbot.conversation import Notice
from briefbot.render.discord import render_discord
from briefbot.render.plain import render_plain
from briefbot.render.telegram import render_telegram

ROOT = Path(__file__).resolve().parent.parent


def median_ms(call: Callable[[], object], runs: int = 20) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    seed, _ = parse_article(ROOT / "content" / "seed.txt")
    start = time.perf_counter()
    briefing = make_briefing(seed)
    print(f"make_briefing(seed), first call: {(time.perf_counter() - start) * 1000:6.1f} ms")
    print(f"make_briefing(seed), warm:       {median_ms(lambda: make_briefing(seed)):6.1f} ms")
    big = Article(id="big", title=seed.title, author=None, date=None,
                  paragraphs=tuple(" ".join(seed.paragraphs) for _ in range(12)))
    size = sum(len(p) for p in big.paragraphs)
    print(f"make_briefing({size} chars, {len(big.sentences)} sentences): "
          f"{median_ms(lambda: make_briefing(big), runs=5):6.1f} ms")
    for name, render in (("telegram", render_telegram), ("discord", render_discord),
                         ("plain", render_plain)):
        print(f"render_{name}(seed briefing): {median_ms(lambda r=render: r(briefing)):6.2f} ms")
    notice = Notice(text=" ".join(f"word{i}" for i in range(2600)))
    parts = render_telegram(notice)
    print(f"render_telegram({len(notice.text)}-char notice) -> {len(parts)} parts: "
          f"{median_ms(lambda: render_telegram(notice)):6.1f} ms")
    messages = render_discord(notice)
    print(f"render_discord({len(notice.text)}-char notice) -> {len(messages)} messages: "
          f"{median_ms(lambda: render_discord(notice)):6.1f} ms")


if __name__ == "__main__":
    main()
