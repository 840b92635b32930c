"""Feed fetching on loopback: a 50-item RSS feed fetched into an empty folder, fetched again
(conditional GET, 304), fetched again without validators (every item already known), and a
1.7 MB feed of 4,000 items parsed and capped to 50. Prints the median of 5 runs of each.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from briefbot.config import FeedConfig  # after the path to the test fakes, above
from briefbot.feeds import FeedFetcher, parse_feed
from briefbot.runstate import RunState
from fakes.feed_server import Route, feed_server, rss

NOW = dt.datetime.now(dt.UTC)


def items(count: int) -> list[str]:
    out = []
    for n in range(count):
        when = (NOW - dt.timedelta(minutes=n)).strftime("%a, %d %b %Y %H:%M:%S GMT")
        out.append(f"<guid>item-{n}</guid><title>Story {n} &amp; more</title>"
                   f"<pubDate>{when}</pubDate>"
                   f"<link>https://news.example.org/{n}</link><description>&lt;p&gt;Story {n} "
                   + "says something about the harbour and the ferry line. " * 4
                   + "&lt;/p&gt;</description>")
    return out


async def fetch_times() -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"first fetch, 50 new": [], "again, 304": [],
                                     "again, 50 known": []}
    with feed_server() as server:
        server.routes["/etag.xml"] = Route(rss(*items(50)), etag='"v1"')
        server.routes["/plain.xml"] = Route(rss(*items(50)))
        for _ in range(5):
            with tempfile.TemporaryDirectory() as folder:
                state = RunState(Path(folder) / "db.sqlite3")
                fetcher = FeedFetcher(Path(folder) / "content", state)
                feeds = [FeedConfig(url=server.url("/etag.xml"), name="etag")]
                for label in ("first fetch, 50 new", "again, 304"):
                    start = time.perf_counter()
                    await fetcher.fetch_all(feeds, NOW)
                    times[label].append(time.perf_counter() - start)
                plain = [FeedConfig(url=server.url("/plain.xml"), name="etag")]
                start = time.perf_counter()
                await fetcher.fetch_all(plain, NOW)
                times["again, 50 known"].append(time.perf_counter() - start)
                state.close()
    return times


def main() -> None:
    for label, values in asyncio.run(fetch_times()).items():
        print(f"{label}: {statistics.median(values) * 1000:.0f} ms")
    big = rss(*items(4000))
    parse_times = []
    for _ in range(5):
        start = time.perf_counter()
        parsed = parse_feed(big, "http://127.0.0.1/", content_type="application/rss+xml",
                            max_items=50, now=NOW)
        parse_times.append(time.perf_counter() - start)
    print(f"parse {len(big) / 1e6:.1f} MB, {len(parsed.items)} kept of 4000: "
          f"{statistics.median(parse_times) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
