"""The work beside the chat: fetching feeds on their intervals, retention, and recording each
delivery pass so `briefbot status` can show it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable

import httpx

from briefbot.config import Config
from briefbot.daily.delivery import Delivery, PassReport
from briefbot.feeds import FeedFetcher, FetchResult, RetentionReport, apply_retention, next_fetch
from briefbot.ports import Clock, utc_now
from briefbot.runstate import RunState

log = logging.getLogger(__name__)

# The feed loop looks again at least this often, so a feed added while it sleeps is not late.
FEED_LOOP_MAX_SLEEP = dt.timedelta(minutes=5)


def record_pass(state: RunState, at: dt.datetime, source: str, report: PassReport) -> None:
    """Keep `report` as the last delivery pass when it had anything to do."""
    if report.due or report.skipped:
        counts = {k: v for k, v in dataclasses.asdict(report).items() if isinstance(v, int)}
        state.record_pass(at, source, counts)  # counts only: resume_at is a time, not a count


class RecordingDelivery(Delivery):
    """The delivery loop, writing each pass that had work to the run state for `status`."""

    def __init__(self, *args: object, run_state: RunState, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._run_state = run_state

    async def run_pass(self, now: dt.datetime, stop: asyncio.Event | None = None) -> PassReport:
        report = await super().run_pass(now, stop)
        try:
            record_pass(self._run_state, now, "run", report)
        except Exception:  # the record is for people; a locked database must not stop sending
            log.warning("could not record the delivery pass for `status`", exc_info=True)
        return report


async def fetch_feeds(config: Config, state: RunState, now: dt.datetime, *,
                      transport: httpx.AsyncBaseTransport | None = None,
                      ) -> tuple[list[FetchResult], RetentionReport]:
    """`briefbot fetch`: every configured feed once, then retention."""
    fetcher = FeedFetcher(config.content_dir, state, keep_days=config.keep_days,
                          transport=transport)
    results = await fetcher.fetch_all(config.feeds, now)
    retention = apply_retention(config.content_dir, state, config.keep_days, now)
    return results, retention


class FeedLoop:
    """Fetches each feed when its `every` has passed since its last attempt (at start, the ones
    never fetched or overdue), applies retention, then calls `on_new` so the library rescans."""

    def __init__(self, config: Config, state: RunState, on_new: Callable[[], object], *,
                 clock: Clock = utc_now) -> None:
        self._config = config
        self._state = state
        self._on_new = on_new
        self._clock = clock
        self._fetcher = FeedFetcher(config.content_dir, state, keep_days=config.keep_days)

    def due(self, now: dt.datetime) -> list[str]:
        """Names of the feeds due at `now`."""
        due = []
        for feed in self._config.feeds:
            when = next_fetch(feed, self._state.feed_state(feed.name))
            if when is None or when <= now:
                due.append(feed.name)
        return due

    def next_wake(self, now: dt.datetime) -> dt.datetime:
        wake = now + FEED_LOOP_MAX_SLEEP
        for feed in self._config.feeds:
            when = next_fetch(feed, self._state.feed_state(feed.name))
            wake = min(wake, when or now)
        return wake

    async def tick(self, now: dt.datetime) -> list[FetchResult]:
        """Fetch what is due at `now`, apply retention, rescan if anything changed."""
        names = set(self.due(now))
        feeds = [f for f in self._config.feeds if f.name in names]
        results = await self._fetcher.fetch_all(feeds, now) if feeds else []
        retention = apply_retention(self._config.content_dir, self._state,
                                    self._config.keep_days, now)
        if any(r.written for r in results) or retention.removed:
            self._on_new()
        return results

    async def run(self, stop: asyncio.Event) -> None:
        """Tick and sleep until `stop`; one failed tick is logged and never ends the loop."""
        while not stop.is_set():
            now = self._clock()
            try:
                await self.tick(now)
                wake = self.next_wake(self._clock())
            except Exception:
                log.exception("feeds: a fetch round failed; trying again in a minute")
                wake = self._clock() + dt.timedelta(minutes=1)
            seconds = max((wake - self._clock()).total_seconds(), 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=seconds)
