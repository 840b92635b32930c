"""`run` fetches feeds in the same loop as everything else, even while a platform is down."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from email.utils import format_datetime
from pathlib import Path

import pytest

from briefbot import app as app_module
from briefbot.app import App
from briefbot.config import Config, FeedConfig
from briefbot.conversation import Reply
from briefbot.errors import TemporaryFailure
from fakes.feed_server import Route, feed_server, rss


class UnreachableAdapter:
    """A platform that cannot be reached at all (its start is retried with backoff)."""

    platform = "telegram"

    async def start(self) -> None:
        raise TemporaryFailure("cannot reach the platform (connection refused)")

    async def stop(self) -> None:
        return None

    def render(self, reply: Reply) -> Sequence[object]:
        return [reply]

    async def send_part(self, chat_id: str, part: object, *, thread_id: str | None = None) -> None:
        return None


async def test_feeds_are_fetched_while_a_platform_is_still_unreachable(
    content_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "START_RETRY_FIRST_SECONDS", 0.01)
    published = format_datetime(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), usegmt=True)
    with feed_server() as server:
        server.routes["/rss.xml"] = Route(rss(
            f"<guid>p</guid><title>Pier reopens</title><pubDate>{published}</pubDate>"
            "<description>The old pier reopens to walkers on Sunday.</description>"))
        config = Config(content_dir=content_dir, database=tmp_path / "db.sqlite3",
                        feeds=(FeedConfig(url=server.url("/rss.xml"), name="harbour"),))
        app = App(config)
        app.load_content()
        stop = asyncio.Event()
        serving = asyncio.create_task(
            app.serve({"telegram": UnreachableAdapter()}, stop, fetch_feeds=True))  # type: ignore[dict-item]
        for _ in range(500):
            latest = app.library.latest()
            if latest is not None and latest.title == "Pier reopens":
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(serving, timeout=10)
    latest = app.library.latest()
    assert latest is not None and latest.title == "Pier reopens"
