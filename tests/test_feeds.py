"""Feeds: RSS and Atom from a local server become article files once, and a bad feed fails alone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from briefbot.articles import Library
from briefbot.config import FeedConfig
from briefbot.feeds import FeedFetcher, FetchResult, apply_retention, html_to_paragraphs
from briefbot.operations import FeedLoop
from briefbot.runstate import RunState
from fakes.feed_server import FeedServer, Route, atom, feed_server, rss

NOW = dt.datetime(2026, 3, 5, 9, 0, tzinfo=dt.UTC)

FERRY = """<title>Ferry line &amp; <b>harbour</b> plan approved</title>
<link>https://news.example.org/ferry</link><guid>harbour-1</guid>
<pubDate>Wed, 04 Mar 2026 10:00:00 GMT</pubDate><author>desk@example.org (Priya Natarajan)</author>
<description>&lt;p&gt;The council approved a new &lt;b&gt;ferry line&lt;/b&gt; to the Kestrel Islands on Tuesday.&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;p&gt;The ferries were built by Nordvik Yards in Bergen.&lt;/p&gt;</description>"""
MARKET = """<title>Market moves</title><link>https://news.example.org/market</link><guid>harbour-2</guid>
<pubDate>Tue, 03 Mar 2026 08:00:00 GMT</pubDate><description>The farmers market moves to the riverside.</description>"""
PARK = """<id>urn:city:park</id><title type="html">Park &lt;i&gt;reopens&lt;/i&gt;</title>
<link href="/stories/park"/><updated>2026-03-05T07:00:00Z</updated><author><name>Tom Okafor</name></author>
<content type="html">&lt;p&gt;The city park reopens on Friday after a year of repairs.&lt;/p&gt;&lt;p&gt;Gardeners planted 400 trees, the parks office said.&lt;/p&gt;</content>"""


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as running:
        yield running


@pytest.fixture
def state(tmp_path: Path) -> Iterator[RunState]:
    opened = RunState(tmp_path / "data" / "briefbot.sqlite3")
    yield opened
    opened.close()


@pytest.fixture
def content(tmp_path: Path) -> Path:
    return tmp_path / "content"


def feed(server: FeedServer, path: str, name: str, **options: object) -> FeedConfig:
    return FeedConfig(url=server.url(path), name=name, **options)  # type: ignore[arg-type]


async def fetch(content: Path, state: RunState, feeds: list[FeedConfig], now: dt.datetime = NOW,
                **options: object) -> list[FetchResult]:
    fetcher = FeedFetcher(content, state, **options)  # type: ignore[arg-type]
    return await fetcher.fetch_all(feeds, now)


def count_md(content: Path) -> int:
    return len(list(content.glob("*.md")))


def articles(content: Path) -> Library:
    library = Library(content)
    library.reload()
    return library


async def test_rss_and_atom_items_become_articles_once(
    server: FeedServer, state: RunState, content: Path
) -> None:
    server.routes["/rss.xml"] = Route(rss(FERRY, MARKET))
    server.routes["/atom.xml"] = Route(atom(PARK), content_type="application/atom+xml")
    feeds = [feed(server, "/rss.xml", "harbour"), feed(server, "/atom.xml", "city")]

    first = await fetch(content, state, feeds)
    assert [(r.outcome, len(r.written)) for r in first] == [("ok", 2), ("ok", 1)]
    library = articles(content)
    assert [p for p in library.problems if p.fatal] == []
    assert [a.title for a in library.articles] == [
        "Park reopens", "Ferry line & harbour plan approved", "Market moves"]

    second = await fetch(content, state, feeds, now=NOW + dt.timedelta(minutes=15))
    assert [r.written for r in second] == [(), ()]
    assert count_md(content) == 3


async def test_fetched_file_has_front_matter_and_clean_text(
    server: FeedServer, state: RunState, content: Path
) -> None:
    server.routes["/rss.xml"] = Route(rss(FERRY))
    [result] = await fetch(content, state, [feed(server, "/rss.xml", "harbour")])
    [article] = articles(content).articles
    assert article.id == result.written[0] and article.id.startswith("harbour-")
    assert article.author == "Priya Natarajan"
    assert article.date == dt.date(2026, 3, 4)
    assert article.source_url == "https://news.example.org/ferry"
    assert article.paragraphs == (
        "The council approved a new ferry line to the Kestrel Islands on Tuesday.",
        "The ferries were built by Nordvik Yards in Bergen.",
    )
    text = (content / f"{article.id}.md").read_text()
    assert "feed: harbour" in text and "<" not in text and "alert" not in text


async def test_conditional_get_sends_the_validators_back(
    server: FeedServer, state: RunState, content: Path
) -> None:
    server.routes["/rss.xml"] = Route(rss(FERRY), etag='"v1"',
                                      last_modified="Wed, 04 Mar 2026 10:00:00 GMT")
    feeds = [feed(server, "/rss.xml", "harbour")]
    await fetch(content, state, feeds)
    [again] = await fetch(content, state, feeds, now=NOW + dt.timedelta(minutes=15))
    assert again.outcome == "not-modified"
    assert server.requests[-1].headers["if-none-match"] == '"v1"'
    assert server.requests[-1].headers["if-modified-since"] == "Wed, 04 Mar 2026 10:00:00 GMT"


async def test_gzip_and_redirects_are_followed(
    server: FeedServer, state: RunState, content: Path
) -> None:
    server.routes["/old.xml"] = Route(redirect="/new.xml")
    server.routes["/new.xml"] = Route(rss(FERRY), gzip=True)
    [result] = await fetch(content, state, [feed(server, "/old.xml", "harbour")])
    assert result.outcome == "ok" and len(result.written) == 1
    assert "gzip" in server.requests[-1].headers["accept-encoding"]


async def test_relative_links_are_made_absolute(
    server: FeedServer, state: RunState, content: Path
) -> None:
    server.routes["/feeds/atom.xml"] = Route(atom(PARK), content_type="application/atom+xml")
    server.routes["/feeds/rss.xml"] = Route(rss(
        "<title>Bridge</title><link>../bridge.html</link><guid>b</guid>"
        "<description>The bridge opens.</description>"))
    await fetch(content, state, [feed(server, "/feeds/atom.xml", "city"),
                                 feed(server, "/feeds/rss.xml", "bridge")])
    urls = {a.title: a.source_url for a in articles(content).articles}
    assert urls == {"Park reopens": server.url("/stories/park"),
                    "Bridge": server.url("/bridge.html")}


async def test_items_without_dates_or_titles_and_repeated_guids_are_handled(
    server: FeedServer, state: RunState, content: Path
) -> None:
    server.routes["/rss.xml"] = Route(rss(
        FERRY,
        FERRY.replace("Ferry line", "Ferry line again"),  # the same guid twice
        "<guid>no-date</guid><title>Undated news</title><description>Something happened.</description>",
        "<guid>no-title</guid><description>The library extends its opening hours. Readers asked for it.</description>",
        "<guid>nothing</guid>",
    ))
    [result] = await fetch(content, state, [feed(server, "/rss.xml", "harbour")])
    titles = {a.title: a.date for a in articles(content).articles}
    assert titles == {
        "Ferry line & harbour plan approved": dt.date(2026, 3, 4),
        "Undated news": NOW.date(),  # dated when first fetched
        "The library extends its opening hours.": NOW.date(),
    }
    warnings = " | ".join(result.warnings)
    assert "repeated another item's guid" in warnings
    assert "no usable date" in warnings and "no title" in warnings
    assert "neither title nor text" in warnings


async def test_a_summary_only_item_stays_short(
    server: FeedServer, state: RunState, content: Path
) -> None:
    long_summary = " ".join(f"Sentence number {n} says something about the port." for n in range(200))
    server.routes["/rss.xml"] = Route(rss(f"<guid>long</guid><title>Long</title><description>{long_summary}</description>"))
    await fetch(content, state, [feed(server, "/rss.xml", "harbour")])
    [article] = articles(content).articles
    body = " ".join(article.paragraphs)
    assert 600 < len(body) <= 1200 and body.endswith("port.")


async def test_full_text_extracts_the_linked_page(
    server: FeedServer, state: RunState, content: Path
) -> None:
    page = (b"<html><head><title>x</title></head><body><nav>Home | About</nav><article>"
            b"<h1>Ferry line opens</h1>"
            b"<p>The first ferry left the harbour at seven in the morning with 212 passengers on board.</p>"
            b"<p>Captain Ines Moreau said the crossing took 38 minutes in calm weather today.</p>"
            b"</article><footer>Copyright</footer></body></html>")
    server.routes["/story.html"] = Route(page, content_type="text/html; charset=utf-8")
    server.routes["/rss.xml"] = Route(rss(
        f"<guid>s</guid><title>Ferry line opens</title><link>{server.url('/story.html')}</link>"
        "<description>A short teaser.</description>"))
    await fetch(content, state, [feed(server, "/rss.xml", "harbour", full_text=True)])
    [article] = articles(content).articles
    body = " ".join(article.paragraphs)
    assert "Captain Ines Moreau" in body and "teaser" not in body and "Copyright" not in body


async def test_full_text_without_the_extra_keeps_the_summary_and_says_how_to_install(
    server: FeedServer, state: RunState, content: Path
) -> None:
    server.routes["/rss.xml"] = Route(rss(FERRY))
    [result] = await fetch(content, state, [feed(server, "/rss.xml", "harbour", full_text=True)],
                           extractor=lambda: None)
    assert result.outcome == "ok" and len(result.written) == 1
    assert any("briefbot[full-text]" in w for w in result.warnings)


async def test_max_items_keeps_the_newest(
    server: FeedServer, state: RunState, content: Path
) -> None:
    items = [f"<guid>n{day}</guid><title>Day {day}</title><pubDate>{day:02d} Mar 2026 08:00:00 GMT</pubDate>"
             f"<description>News of day {day}.</description>" for day in range(1, 6)]
    server.routes["/rss.xml"] = Route(rss(*items))
    await fetch(content, state, [feed(server, "/rss.xml", "harbour", max_items=2)])
    assert [a.title for a in articles(content).articles] == ["Day 5", "Day 4"]


async def test_a_deleted_item_is_not_fetched_back(
    server: FeedServer, state: RunState, content: Path
) -> None:
    server.routes["/rss.xml"] = Route(rss(FERRY, MARKET))
    feeds = [feed(server, "/rss.xml", "harbour")]
    [first] = await fetch(content, state, feeds)
    (content / f"{first.written[0]}.md").unlink()
    [second] = await fetch(content, state, feeds, now=NOW + dt.timedelta(hours=1))
    assert second.written == ()
    assert count_md(content) == 1


async def test_an_edited_item_is_kept_by_fetch_and_by_retention(
    server: FeedServer, state: RunState, content: Path
) -> None:
    server.routes["/rss.xml"] = Route(rss(FERRY))
    [first] = await fetch(content, state, [feed(server, "/rss.xml", "harbour")])
    path = content / f"{first.written[0]}.md"
    edited = path.read_text().replace("Tuesday", "Tuesday evening")
    path.write_text(edited)
    await fetch(content, state, [feed(server, "/rss.xml", "harbour")], now=NOW + dt.timedelta(hours=1))
    report = apply_retention(content, state, 30, NOW + dt.timedelta(days=60))
    assert path.read_text() == edited
    assert report.kept_edited == (first.written[0],) and report.removed == ()


async def test_retention_removes_old_fetched_articles_and_never_an_editors(
    server: FeedServer, state: RunState, content: Path, tmp_path: Path
) -> None:
    server.routes["/rss.xml"] = Route(rss(FERRY, MARKET))
    await fetch(content, state, [feed(server, "/rss.xml", "harbour")])
    ids = {a.title: a.id for a in articles(content).articles}
    market, ferry = ids["Market moves"], ids["Ferry line & harbour plan approved"]
    editors = content / "council-notes.md"
    editors.write_text("---\ntitle: Council notes\ndate: 2026-01-01\nfeed: harbour\n---\nOld notes.\n")
    # 30 days after the market story (Mar 3) but not after the ferry one (Mar 4).
    report = apply_retention(content, state, 30, dt.datetime(2026, 4, 3, 8, 0, tzinfo=dt.UTC))
    assert report.removed == (market,)
    assert not (content / f"{market}.md").exists() and (content / f"{ferry}.md").exists()
    assert editors.exists()
    # Still listed by the feed, the removed item is not fetched back.
    [again] = await fetch(content, state, [feed(server, "/rss.xml", "harbour")],
                          now=dt.datetime(2026, 3, 20, tzinfo=dt.UTC))
    assert again.written == ()


async def test_items_older_than_keep_days_are_not_fetched(
    server: FeedServer, state: RunState, content: Path
) -> None:
    server.routes["/rss.xml"] = Route(rss(FERRY, MARKET))
    [result] = await fetch(content, state, [feed(server, "/rss.xml", "harbour")],
                           now=dt.datetime(2026, 4, 3, 8, 0, tzinfo=dt.UTC), keep_days=30)
    assert len(result.written) == 1 and "older than keep_days" in result.message


async def test_broken_feeds_fail_by_name_and_never_stop_the_good_one(
    server: FeedServer, state: RunState, content: Path
) -> None:
    server.routes["/good.xml"] = Route(rss(FERRY))
    server.routes["/page.html"] = Route(b"<html><body><h1>Welcome</h1></body></html>",
                                        content_type="text/html")
    server.routes["/broken.xml"] = Route(b"\x00\x01{not: xml at all")
    server.routes["/huge.xml"] = Route(junk_bytes=50_000_000)
    server.routes["/bomb.xml"] = Route(junk_bytes=50_000_000, gzip=True)
    server.routes["/slow.xml"] = Route(drip_seconds=0.2)
    server.routes["/loop.xml"] = Route(redirect="/loop.xml")
    names = ["missing", "page", "broken", "huge", "bomb", "loop"]
    paths = ["/missing.xml", "/page.html", "/broken.xml", "/huge.xml", "/bomb.xml", "/loop.xml"]
    feeds = [feed(server, path, name) for name, path in zip(names, paths, strict=True)]
    feeds.append(feed(server, "/good.xml", "good"))
    feeds.append(FeedConfig(url="http://127.0.0.1:9/closed.xml", name="closed"))
    # A generous deadline: reading 5 MB of a gzip bomb must stop at max_bytes, not at the clock
    # (on a loaded machine it took more than 1 s, and the feed failed for the wrong reason).
    results = {r.feed: r for r in await fetch(content, state, feeds, deadline=60.0)}
    [slow] = await fetch(content, state, [feed(server, "/slow.xml", "slow")], deadline=1.0)

    assert results["good"].outcome == "ok" and len(results["good"].written) == 1
    failed = {name: r.message for name, r in results.items() if r.outcome == "failed"}
    assert set(failed) == {*names, "closed"}
    assert "HTTP 404" in failed["missing"]
    assert "not an RSS or Atom feed" in failed["page"]
    assert "not a readable RSS or Atom feed" in failed["broken"]
    assert "max_bytes" in failed["huge"] and "max_bytes" in failed["bomb"]
    assert slow.outcome == "failed" and "no complete answer within 1 s" in slow.message
    assert "redirects" in failed["loop"]
    assert "cannot fetch" in failed["closed"]
    recorded = state.feed_state("missing")
    assert recorded is not None and recorded.result == "failed" and recorded.failures == 1


async def test_a_broken_feed_is_logged_by_name(
    server: FeedServer, state: RunState, content: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await fetch(content, state, [feed(server, "/missing.xml", "city-desk")])
    assert any("feed city-desk: failed: the server answered HTTP 404" in r.getMessage()
               for r in caplog.records if r.levelname == "WARNING")


async def test_feed_loop_fetches_each_feed_on_its_own_interval(
    server: FeedServer, state: RunState, content: Path
) -> None:
    server.routes["/fast.xml"] = Route(rss(FERRY))
    server.routes["/slow.xml"] = Route(atom(PARK), content_type="application/atom+xml")
    fast = feed(server, "/fast.xml", "fast", every=dt.timedelta(minutes=5))
    slow = feed(server, "/slow.xml", "slow", every=dt.timedelta(minutes=60))
    from briefbot.config import Config

    config = Config(content_dir=content, database=Path("unused"), feeds=(fast, slow))
    rescans: list[int] = []
    loop = FeedLoop(config, state, lambda: rescans.append(1))
    assert loop.due(NOW) == ["fast", "slow"]
    await loop.tick(NOW)
    assert len(rescans) == 1 and count_md(content) == 2
    assert loop.due(NOW + dt.timedelta(minutes=4)) == []
    assert loop.next_wake(NOW + dt.timedelta(minutes=1)) == NOW + dt.timedelta(minutes=5)
    assert loop.due(NOW + dt.timedelta(minutes=5)) == ["fast"]
    assert loop.due(NOW + dt.timedelta(minutes=60)) == ["fast", "slow"]


def test_html_becomes_paragraphs_of_clean_text() -> None:
    html = ("<div><h2>Head</h2><p>One &amp; <em>two</em>&nbsp;three.</p>"
            "<style>p{}</style><p>Line<br>break</p><ul><li>a</li><li>b</li></ul></div>")
    assert html_to_paragraphs(html) == ["Head", "One & two three.", "Line break", "a", "b"]
    assert html_to_paragraphs("https://example.org/x") == ["https://example.org/x"]


async def test_same_day_items_sort_newest_first_by_time(
    server: FeedServer, state: RunState, content: Path
) -> None:
    server.routes["/rss.xml"] = Route(rss(*(
        f"<guid>{guid}</guid><title>{title}</title><pubDate>Thu, 05 Mar 2026 {hour}:00:00 GMT</pubDate>"
        f"<description>Text of {title}.</description>"
        for guid, title, hour in [("z", "Morning", "06"), ("a", "Evening", "08"), ("m", "Noon", "07")])))
    await fetch(content, state, [feed(server, "/rss.xml", "harbour")])
    assert [a.title for a in articles(content).articles] == ["Evening", "Noon", "Morning"]


async def test_an_item_whose_guid_changes_on_every_fetch_is_written_once(
    server: FeedServer, state: RunState, content: Path
) -> None:
    """Some feeds mint a new guid per request; the same link and title is the same item."""
    feeds = [feed(server, "/rss.xml", "harbour")]
    for n in range(4):
        server.routes["/rss.xml"] = Route(rss(FERRY.replace("harbour-1", f"harbour-1-{n}")))
        await fetch(content, state, feeds, now=NOW + dt.timedelta(minutes=15 * n))
    assert count_md(content) == 1  # before: one more file each fetch
    server.routes["/rss.xml"] = Route(rss(MARKET))  # a genuinely new item still comes in
    await fetch(content, state, feeds, now=NOW + dt.timedelta(hours=2))
    assert count_md(content) == 2


async def test_an_item_with_a_huge_link_is_written_without_it_and_still_loads(
    server: FeedServer, state: RunState, content: Path
) -> None:
    huge = FERRY.replace("https://news.example.org/ferry",
                         "https://news.example.org/ferry?" + "a=1&amp;" * 10_000)
    server.routes["/rss.xml"] = Route(rss(huge))
    [result] = await fetch(content, state, [feed(server, "/rss.xml", "harbour")])
    assert result.outcome == "ok" and len(result.written) == 1
    library = articles(content)
    assert [p for p in library.problems if p.fatal] == []  # before: front matter over the cap
    [article] = library.articles
    assert article.source_url is None


async def test_a_failing_feed_is_named_without_the_key_in_its_query(
    server: FeedServer, state: RunState, content: Path
) -> None:
    """Private feeds carry keys in their URL (?token=…); errors are logged and kept for status."""
    private = FeedConfig(url=server.url("/gone.xml") + "?token=s3cr3t-feed-key", name="private")
    [result] = await fetch(content, state, [private])
    assert result.outcome == "failed"
    assert "404" in str(result.message) and "s3cr3t" not in str(result.message)
    assert "/gone.xml?…" in str(result.message)
