"""`briefbot fetch`, `status` and `check` run as an operator would, against a local feed server."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from email.utils import format_datetime
from pathlib import Path

import pytest

from briefbot.store import SqliteStore
from fakes.feed_server import FeedServer, Route, atom, feed_server, rss

# The command line runs on the real clock, and keep_days drops old items: date them recent.
_NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
FERRY_AT = format_datetime(_NOW - dt.timedelta(hours=3), usegmt=True)
PARK_AT = (_NOW - dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")
FERRY = f"""<title>Ferry line to the Kestrel Islands approved</title>
<link>https://news.example.org/ferry</link><guid>harbour-1</guid>
<pubDate>{FERRY_AT}</pubDate><author>desk@example.org (Priya Natarajan)</author>
<description>&lt;p&gt;The council approved a new ferry line to the Kestrel Islands on Tuesday.&lt;/p&gt;&lt;p&gt;The ferries were built by Nordvik Yards in Bergen at a cost of 24 million euros.&lt;/p&gt;</description>"""
PARK = f"""<id>urn:city:park</id><title>City park reopens after repairs</title>
<link href="https://city.example.org/park"/><updated>{PARK_AT}</updated>
<content type="html">&lt;p&gt;The city park reopens on Friday after a year of repairs.&lt;/p&gt;&lt;p&gt;Gardeners planted 400 new trees, the parks office said.&lt;/p&gt;</content>"""


def briefbot(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_BOT_TOKEN")}
    return subprocess.run([sys.executable, "-m", "briefbot", *args], input=stdin, cwd=cwd,
                          capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as running:
        running.routes["/rss.xml"] = Route(rss(FERRY), etag='"r1"')
        running.routes["/atom.xml"] = Route(atom(PARK), content_type="application/atom+xml")
        yield running


def write_config(tmp_path: Path, server: FeedServer, *extra_feeds: str) -> Path:
    feeds = [f'  - {{url: "{server.url("/rss.xml")}", name: harbour}}',
             f'  - {{url: "{server.url("/atom.xml")}", name: city, every: 30}}', *extra_feeds]
    config = tmp_path / "config.yaml"
    config.write_text("content_dir: content\ndatabase: data/briefbot.sqlite3\nfeeds:\n"
                      + "\n".join(feeds) + "\n")
    return config


def test_fetch_fills_content_once_and_the_bot_serves_the_newest_item(
    tmp_path: Path, server: FeedServer
) -> None:
    config = str(write_config(tmp_path, server))
    first = briefbot("--config", config, "fetch")
    assert first.returncode == 0, first.stderr
    assert "harbour: ok: 1 new" in first.stdout and "city: ok: 1 new" in first.stdout
    files = sorted(p.name for p in (tmp_path / "content").glob("*.md"))
    assert len(files) == 2

    second = briefbot("--config", config, "fetch")
    assert second.returncode == 0, second.stderr
    assert "harbour: not-modified" in second.stdout and "city: ok: 0 new" in second.stdout
    assert sorted(p.name for p in (tmp_path / "content").glob("*.md")) == files

    chat = briefbot("--config", config, "chat", stdin="/latest\n")
    assert "City park reopens after repairs" in chat.stdout
    ask = briefbot("--config", config, "ask", "--json", "where were the ferries built?")
    answer = json.loads(ask.stdout)
    assert answer["found"] is True and "Bergen" in answer["answer"]
    assert answer["article"].startswith("harbour-")


def test_a_failing_feed_is_named_by_fetch_check_and_status(tmp_path: Path, server: FeedServer) -> None:
    config = str(write_config(tmp_path, server,
                              f'  - {{url: "{server.url("/gone.xml")}", name: gone}}'))
    fetched = briefbot("--config", config, "fetch")
    assert fetched.returncode == 1
    assert "gone: failed: the server answered HTTP 404" in fetched.stdout
    assert "harbour: ok: 1 new" in fetched.stdout  # the others are fetched all the same
    assert "feed gone: failed" in fetched.stderr  # and the log says so

    check = briefbot("--config", config, "check")
    assert check.returncode == 1
    assert "feed gone: error: the last fetch failed: the server answered HTTP 404" in check.stdout

    status = briefbot("--config", config, "status", "--json")
    assert status.returncode == 0, status.stderr
    body = json.loads(status.stdout)
    assert set(body) == {"at", "ok", "attention", "articles", "feeds", "subscriptions", "delivery"}
    assert body["ok"] is False and body["articles"]["count"] == 2
    assert {f["name"]: f["result"] for f in body["feeds"]} == {
        "harbour": "ok", "city": "ok", "gone": "failed"}
    assert any(a.startswith("feed gone: the last fetch failed") for a in body["attention"])

    checked = briefbot("--config", config, "status", "--check")
    assert checked.returncode == 1
    assert "Needs attention:" in checked.stdout and "feed gone" in checked.stdout


def test_status_check_is_0_when_all_is_well_and_1_for_a_paused_chat(
    tmp_path: Path, server: FeedServer
) -> None:
    config = str(write_config(tmp_path, server))
    assert briefbot("--config", config, "fetch").returncode == 0
    healthy = briefbot("--config", config, "status", "--check")
    assert healthy.returncode == 0, healthy.stdout
    assert "All well." in healthy.stdout

    store = SqliteStore(tmp_path / "data" / "briefbot.sqlite3")
    store.subscribe("telegram", "-100", dt.time(7, 30), "UTC", created_by="a",
                    now=dt.datetime.now(dt.UTC))
    store.pause("telegram", "-100", "the bot was blocked")
    store.close()
    paused = briefbot("--config", config, "status", "--check", "--json")
    assert paused.returncode == 1
    assert json.loads(paused.stdout)["attention"] == ["telegram chat -100: paused: the bot was blocked"]


def test_fetch_with_a_bad_feed_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("feeds:\n  - {url: ftp://example.org/feed}\n")
    bad = briefbot("--config", str(config), "fetch")
    assert bad.returncode == 2 and "feeds[0].url" in bad.stderr


def test_json_logs_are_one_object_a_line(tmp_path: Path, server: FeedServer) -> None:
    config = write_config(tmp_path, server, f'  - {{url: "{server.url("/gone.xml")}", name: gone}}')
    config.write_text(config.read_text() + "log_format: json\n")
    fetched = briefbot("--config", str(config), "fetch")
    lines = [json.loads(line) for line in fetched.stderr.splitlines()]
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    assert any(line["level"] == "warning" and line["message"].startswith("feed gone: failed")
               for line in lines)
