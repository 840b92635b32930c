"""RSS and Atom feeds -> article files in the content folder: fetching, parsing, retention."""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import datetime as dt
import hashlib
import io
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import httpx
import yaml
from bs4 import BeautifulSoup

from briefbot import __version__
from briefbot.articles import is_valid_article_id
from briefbot.config import FeedConfig
from briefbot.logs import shown_url
from briefbot.runstate import FeedItemRecord, FeedState, FetchOutcome, RunState
from briefbot.text import clip_words, split_sentences

log = logging.getLogger(__name__)

USER_AGENT = f"briefbot/{__version__} (RSS/Atom reader)"
# A whole fetch, headers to last byte: a server that drips a byte at a time never trips the
# per-read timeout, so this bounds it too.
FETCH_DEADLINE_SECONDS = 60.0
HTTP_TIMEOUT = httpx.Timeout(20.0, connect=10.0)
MAX_REDIRECTS = 5
CONCURRENT_FETCHES = 4
SUMMARY_CHARS = 1_200  # a summary-only item stays a short article (full_text: true for more)
MAX_BODY_CHARS = 100_000  # well under the article loader's 1 MB file limit
TITLE_CHARS = 200
AUTHOR_CHARS = 100
# Items dated further ahead than this are dated when fetched: a wrong clock in a feed must not
# pin one item to the top of /latest for days.
FUTURE_SLACK = dt.timedelta(hours=1)
# Records of removed items are kept while a feed still lists them, and this long after.
FORGET_REMOVED_AFTER = dt.timedelta(days=7)

Extractor = Callable[[bytes, str], "str | None"]  # (page HTML, page URL) -> article text


class FeedError(Exception):
    """One feed could not be read; the message says what happened and what to check."""


# HTML -> clean text

_DROP_TAGS = ["script", "style", "noscript", "iframe", "object", "embed", "svg", "template",
              "head", "form", "button", "nav", "select"]
_BLOCK_TAGS = ["p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
               "pre", "tr", "table", "section", "article", "header", "footer", "figure",
               "figcaption", "dl", "dt", "dd", "hr", "aside", "main"]


def html_to_paragraphs(html: str) -> list[str]:
    """HTML (or plain text) -> paragraphs of clean text: entities decoded, tags dropped, scripts
    and styles removed, whitespace collapsed; block elements and blank lines end a paragraph."""
    if "<" not in html and "&" not in html:
        text = html
    else:
        # Only markup goes to the parser: bs4 warns when plain text looks like a URL.
        soup = BeautifulSoup(html, "html.parser")
        for tag in soup.find_all(_DROP_TAGS):
            tag.decompose()
        for tag in soup.find_all("br"):
            tag.replace_with("\n")
        for tag in soup.find_all(_BLOCK_TAGS):
            tag.insert_before("\n\n")
            tag.insert_after("\n\n")
        text = soup.get_text()
    paragraphs = (" ".join(block.split()) for block in re.split(r"\n\s*\n", text))
    return [p for p in paragraphs if p]


def html_to_text(html: str) -> str:
    """HTML -> one line of clean text (for titles and names)."""
    return " ".join(html_to_paragraphs(html))


def _shorten(paragraphs: list[str], limit: int) -> list[str]:
    """The leading paragraphs up to `limit` characters, ending at a sentence where one fits."""
    kept: list[str] = []
    used = 0
    for paragraph in paragraphs:
        if used + len(paragraph) <= limit:
            kept.append(paragraph)
            used += len(paragraph)
            continue
        sentences: list[str] = []
        for sentence in split_sentences(paragraph):
            if used + len(sentence) > limit:
                break
            sentences.append(sentence)
            used += len(sentence) + 1
        if sentences:
            kept.append(" ".join(sentences))
        elif not kept:
            kept.append(clip_words(paragraph, limit))
        break
    return kept


# Parsing


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One item of a feed, cleaned: what its article file will hold."""

    key: str  # the guid, else the link, else title and text: what makes it "the same item"
    title: str
    author: str | None
    published: dt.datetime | None  # UTC; None when the feed gives no (usable) date
    link: str | None  # absolute http(s) URL
    paragraphs: tuple[str, ...]
    full: bool  # the feed carried the full text (content:encoded, atom:content)


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed document's items, newest first and capped, with what was odd about it."""

    items: tuple[FeedItem, ...]
    warnings: tuple[str, ...] = ()


def _struct_to_datetime(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(calendar.timegm(value), dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _http_url(value: object, base: str) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    absolute = urljoin(base, value.strip())
    if len(absolute) > MAX_LINK_CHARS:
        return None  # a 70 KB link would push the article's front matter past what is read
    parts = urlsplit(absolute)
    return absolute if parts.scheme in ("http", "https") and parts.hostname else None


MAX_LINK_CHARS = 2_000  # longer item links are dropped (browsers and servers cap near here)


def _detail_text(entry: Any, key: str) -> str:
    """A title-like field as text: markup only when the feed says it is HTML."""
    value = entry.get(key)
    if not isinstance(value, str):
        return ""
    detail = entry.get(f"{key}_detail") or {}
    if "html" in str(detail.get("type", "text/html")):
        return html_to_text(value)
    return " ".join(value.split())


def _body(entry: Any) -> tuple[list[str], bool]:
    summary = entry.get("summary")
    summary_paragraphs = html_to_paragraphs(summary) if isinstance(summary, str) else []
    best: list[str] = []
    for content in entry.get("content") or []:
        value = content.get("value") if isinstance(content, dict) else None
        if isinstance(value, str):
            paragraphs = html_to_paragraphs(value)
            if sum(map(len, paragraphs)) > sum(map(len, best)):
                best = paragraphs
    if best and sum(map(len, best)) > sum(map(len, summary_paragraphs)):
        return best, True
    return summary_paragraphs, False


def parse_feed(
    data: bytes, url: str, *, content_type: str | None = None, max_items: int = 50,
    now: dt.datetime,
) -> ParsedFeed:
    """Read an RSS 0.9x/1.0/2.0 or Atom document fetched from `url` (the base for relative
    links). Items come newest first (undated ones count as `now`), at most `max_items`.

    Raises FeedError when the document is not a feed at all; a feed that is only partly
    well-formed is read as far as possible, with a warning.
    """
    # No content-location: feedparser would resolve the guids against it too, and an item's
    # key must not change when the feed moves. Links are resolved below instead.
    headers = {"content-type": content_type} if content_type else {}
    # A stream, never a string: feedparser fetches a string that looks like a URL by itself.
    parsed = feedparser.parse(io.BytesIO(data), response_headers=headers, sanitize_html=True)
    entries = list(parsed.get("entries") or [])
    problem = parsed.get("bozo_exception")
    benign = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
    broken = bool(parsed.get("bozo")) and problem is not None and not isinstance(problem, benign)
    if not entries and broken:
        raise FeedError(f"not a readable RSS or Atom feed ({clip_words(str(problem), 160)}); check "
                        "the URL points at the feed itself")
    if not entries and not parsed.get("version"):
        raise FeedError(f"not an RSS or Atom feed (the server sent {content_type or 'no type'}"
                        "); check the URL points at the feed itself, not a web page")
    warnings: list[str] = []
    if broken:
        warnings.append(f"the feed is not well-formed ({clip_words(str(problem), 120)}); "
                        "read what could be read")
    items: list[FeedItem] = []
    keys: set[str] = set()
    undated = untitled = repeated = empty = 0
    for entry in entries[: max_items * 4]:  # a bound on work; only max_items are kept
        guid = entry.get("id")
        link = _http_url(entry.get("link"), url)
        key = (guid.strip() if isinstance(guid, str) else "") or link or ""
        if key and key in keys:
            repeated += 1
            continue
        paragraphs, full = _body(entry)
        title = clip_words(_detail_text(entry, "title"), TITLE_CHARS)
        if not title:
            first = split_sentences(paragraphs[0])[0] if paragraphs else ""
            if not first:
                empty += 1
                continue
            untitled += 1
            title = clip_words(first, 90)
        published = None
        for field_name in ("published_parsed", "updated_parsed"):
            if entry.get(field_name):
                published = _struct_to_datetime(entry.get(field_name))
                if published is not None:
                    break
        if published is None or published > now + FUTURE_SLACK:
            undated += 1
            published = None
        key = key or "title:" + title + "\n" + " ".join(paragraphs)[:500]
        if key in keys:
            repeated += 1
            continue
        keys.add(key)
        detail = entry.get("author_detail") or {}
        name = detail.get("name") if isinstance(detail.get("name"), str) else None
        author = clip_words(html_to_text(name) if name else _detail_text(entry, "author"),
                       AUTHOR_CHARS) or None
        items.append(FeedItem(key=key, title=title, author=author, published=published,
                              link=link, paragraphs=tuple(paragraphs), full=full))
    items.sort(key=lambda i: i.published or now, reverse=True)
    if undated:
        warnings.append(f"{_items(undated)} had no usable date (dated when first fetched)")
    if untitled:
        warnings.append(f"{_items(untitled)} had no title (titled from their text)")
    if repeated:
        warnings.append(f"{_items(repeated)} repeated another item's guid (kept the first)")
    if empty:
        warnings.append(f"{_items(empty)} had neither title nor text (skipped)")
    return ParsedFeed(items=tuple(items[:max_items]), warnings=tuple(warnings))


def _items(count: int) -> str:
    return f"{count} item{'' if count == 1 else 's'}"


# Article files


def article_id_for(feed_name: str, item_key: str) -> str:
    """`<feed>-<12 hex>`: the same item of the same feed always gets the same id."""
    return f"{feed_name}-{hashlib.sha256(item_key.encode('utf-8')).hexdigest()[:12]}"


def render_article(item: FeedItem, feed_name: str, published: dt.datetime,
                   paragraphs: Sequence[str]) -> bytes:
    """The .md file for one item: front matter (title, author, date, source_url, feed) and the
    text one paragraph a block. `feed:` marks it as fetched, for retention."""
    front: dict[str, object] = {"title": item.title}
    if item.author:
        front["author"] = item.author
    front["date"] = published.astimezone(dt.UTC).replace(microsecond=0)
    if item.link:
        front["source_url"] = item.link
    front["feed"] = feed_name
    body = list(paragraphs) or [item.title]
    text = ("---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False, width=10**6)
            + "---\n" + "\n\n".join(body) + "\n")
    return text.encode("utf-8")


def _write_new(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all (the library may rescan mid-write); never follow or
    replace anything already there."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # dot files are not articles
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.link(temp, path)  # fails if `path` appeared meanwhile: an editor's file wins
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def _alias_key(item: FeedItem) -> str | None:
    """A second key for an item with a link: its link and title, whatever its guid says."""
    if not item.link:
        return None
    digest = hashlib.sha256(f"{item.link}\n{item.title}".encode()).hexdigest()
    return f"link+title:{digest}"


def _sha256_of(path: Path) -> str | None:
    try:
        if path.is_symlink():
            return None
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


# Fetching


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What fetching one feed did; `str()` is the line `fetch` prints and the log writes."""

    feed: str
    outcome: FetchOutcome
    message: str
    written: tuple[str, ...] = ()  # ids of the article files created
    warnings: tuple[str, ...] = ()

    def __str__(self) -> str:
        extra = "".join(f"; {w}" for w in self.warnings)
        return f"{self.feed}: {self.outcome}: {self.message}{extra}"


@dataclass(frozen=True, slots=True)
class RetentionReport:
    removed: tuple[str, ...] = ()  # fetched articles older than keep_days, deleted
    kept_edited: tuple[str, ...] = ()  # old enough, but a person edited them: kept
    deleted_by_editor: tuple[str, ...] = ()  # gone from the folder: never fetched back


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    url: str
    headers: httpx.Headers
    body: bytes = field(repr=False)


def trafilatura_extractor() -> Extractor | None:
    """trafilatura's article extractor, or None when the `full-text` extra is not installed."""
    try:
        import trafilatura
    except ImportError:
        return None

    def extract(html: bytes, url: str) -> str | None:
        text = trafilatura.extract(html, url=url, include_comments=False, include_tables=False)
        return text if isinstance(text, str) else None

    return extract


def next_fetch(feed: FeedConfig, state: FeedState | None) -> dt.datetime | None:
    """When `feed` is next due: its last attempt plus `every`; None when it never was fetched
    (or its URL changed), which means now."""
    if state is None or state.last_attempt_at is None or state.url != feed.url:
        return None
    return state.last_attempt_at + feed.every


class FeedFetcher:
    """Fetches feeds into `content_dir`, remembering what it wrote in `state`.

    `transport` replaces the network (tests); `deadline` bounds one whole fetch in seconds;
    `extractor` gives the full-text extractor (None: not installed).
    """

    def __init__(
        self,
        content_dir: Path,
        state: RunState,
        *,
        keep_days: int | None = 30,
        deadline: float = FETCH_DEADLINE_SECONDS,
        transport: httpx.AsyncBaseTransport | None = None,
        extractor: Callable[[], Extractor | None] = trafilatura_extractor,
    ) -> None:
        self.content_dir = content_dir
        self.state = state
        self.keep_days = keep_days
        self.deadline = deadline
        self._transport = transport
        self._extractor_factory = extractor

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            follow_redirects=True, max_redirects=MAX_REDIRECTS, timeout=HTTP_TIMEOUT,
            headers={"User-Agent": USER_AGENT}, transport=self._transport,
        )

    async def fetch_all(self, feeds: Sequence[FeedConfig], now: dt.datetime) -> list[FetchResult]:
        """Fetch each feed once (a few at a time); one feed's failure never stops the others.
        Results come in the order of `feeds`."""
        if not feeds:
            return []
        self.content_dir.mkdir(parents=True, exist_ok=True)
        limit = asyncio.Semaphore(CONCURRENT_FETCHES)
        async with self._client() as client:

            async def one(feed: FeedConfig) -> FetchResult:
                async with limit:
                    return await self.fetch(feed, now, client)

            return list(await asyncio.gather(*(one(feed) for feed in feeds)))

    async def fetch(self, feed: FeedConfig, now: dt.datetime,
                    client: httpx.AsyncClient) -> FetchResult:
        """Fetch one feed, write its new items, record and log the outcome. Never raises
        (except cancellation): every failure becomes a `failed` result naming the cause."""
        try:
            result = await self._fetch(feed, now, client)
        except FeedError as exc:
            result = FetchResult(feed.name, "failed", str(exc))
        except Exception as exc:  # a bug or a surprise in one feed must not stop the others
            log.exception("feed %s: unexpected error", feed.name)
            result = FetchResult(feed.name, "failed", f"unexpected error ({type(exc).__name__})")
        if result.outcome == "failed":
            self.state.record_fetch(feed.name, feed.url, at=now, result="failed",
                                    message=result.message)
            log.warning("feed %s", result)
        else:
            log.info("feed %s", result)
        return result

    async def _fetch(self, feed: FeedConfig, now: dt.datetime,
                     client: httpx.AsyncClient) -> FetchResult:
        previous = self.state.feed_state(feed.name)
        headers: dict[str, str] = {}
        if previous is not None and previous.url == feed.url:
            if previous.etag:
                headers["If-None-Match"] = previous.etag
            if previous.last_modified:
                headers["If-Modified-Since"] = previous.last_modified
        response = await self._get(client, feed.url, headers, feed.max_bytes)
        if response.status == 304:
            self.state.record_fetch(feed.name, feed.url, at=now, result="not-modified",
                                    message="not modified since the last fetch")
            return FetchResult(feed.name, "not-modified", "not modified since the last fetch")
        parsed = await asyncio.to_thread(
            parse_feed, response.body, response.url,
            content_type=response.headers.get("content-type"), max_items=feed.max_items, now=now,
        )
        written, known, old, warnings = await self._store_items(feed, parsed, now, client)
        message = f"{len(written)} new"
        if known:
            message += f", {known} already fetched"
        if old:
            message += f", {old} older than keep_days ({self.keep_days}) not fetched"
        all_warnings = (*parsed.warnings, *warnings)
        self.state.record_fetch(
            feed.name, feed.url, at=now, result="ok",
            message=message + "".join(f"; {w}" for w in all_warnings), new_items=len(written),
            etag=response.headers.get("etag"), last_modified=response.headers.get("last-modified"),
        )
        return FetchResult(feed.name, "ok", message, tuple(written), all_warnings)

    async def _get(self, client: httpx.AsyncClient, url: str, headers: dict[str, str],
                   max_bytes: int) -> _Response:
        """GET `url` within the deadline and `max_bytes` (decoded, so a gzip bomb stops too)."""
        try:
            async with asyncio.timeout(self.deadline):
                async with client.stream("GET", url, headers=headers) as response:
                    if response.status_code == 304:
                        return _Response(304, str(response.url), response.headers, b"")
                    if response.status_code >= 400:
                        raise FeedError(
                            f"the server answered HTTP {response.status_code} "
                            f"{response.reason_phrase} for {shown_url(url)}; check the feed's "
                            "url")
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > max_bytes:
                        raise FeedError(_too_big(int(declared), max_bytes))
                    chunks: list[bytes] = []
                    total = 0
                    async for chunk in response.aiter_bytes():
                        total += len(chunk)
                        if total > max_bytes:
                            raise FeedError(_too_big(None, max_bytes))
                        chunks.append(chunk)
                    return _Response(response.status_code, str(response.url), response.headers,
                                     b"".join(chunks))
        except TimeoutError:
            raise FeedError(f"no complete answer within {self.deadline:g} s; the server is too "
                            "slow or not answering") from None
        except httpx.TooManyRedirects:
            raise FeedError(f"more than {MAX_REDIRECTS} redirects; check the feed's url") from None
        except httpx.TimeoutException:
            raise FeedError("timed out waiting for the server; it is slow or down") from None
        except httpx.DecodingError:
            raise FeedError("the server sent a body that cannot be decompressed") from None
        except httpx.HTTPError as exc:
            # httpx's text may repeat the URL, query and all: shown without it
            detail = str(exc).replace(url, shown_url(url))
            raise FeedError(f"cannot fetch {shown_url(url)} ({type(exc).__name__}: "
                            f"{clip_words(detail, 120) or 'no details'})") from None

    async def _store_items(
        self, feed: FeedConfig, parsed: ParsedFeed, now: dt.datetime, client: httpx.AsyncClient
    ) -> tuple[list[str], int, int, list[str]]:
        written: list[str] = []
        warnings: list[str] = []
        known = old = 0
        oldest = now - dt.timedelta(days=self.keep_days) if self.keep_days else None
        self.state.seen(feed.name, [item.key for item in parsed.items], now)
        extract = self._extractor_factory() if feed.full_text else None
        if feed.full_text and extract is None:
            warnings.append("full_text needs the full-text extra (pip install "
                            "'briefbot[full-text]'); kept the summaries")
        unread_pages = 0
        for item in parsed.items:
            article_id = article_id_for(feed.name, item.key)
            if not is_valid_article_id(article_id):  # feed names are checked; belt and braces
                raise FeedError(f"feed name {feed.name!r} cannot start an article id")
            # A feed that gives an item a new guid on every fetch (seen in the wild) must not
            # write it again: the same link and title is the same item, whatever its guid.
            alias = _alias_key(item)
            if (self.state.item(feed.name, item.key) is not None
                    or (alias is not None and self.state.has_alias(feed.name, alias))):
                known += 1
                continue
            if oldest is not None and item.published is not None and item.published < oldest:
                old += 1
                continue
            path = self.content_dir / f"{article_id}.md"
            published = item.published or now
            if path.exists() or path.is_symlink():
                # Not ours (or written before the database was): adopt it as a person's file.
                self.state.record_item(FeedItemRecord(
                    feed.name, item.key, article_id, "", published, now, now))
                known += 1
                continue
            paragraphs, full = list(item.paragraphs), item.full
            if extract is not None and not item.full and item.link:
                page = await self._full_text(client, item.link, feed.max_bytes, extract)
                if page:
                    paragraphs, full = page, True
                else:
                    unread_pages += 1
            if not full:
                paragraphs = _shorten(paragraphs, SUMMARY_CHARS)
            paragraphs = _shorten(paragraphs, MAX_BODY_CHARS)
            data = render_article(item, feed.name, published, paragraphs)
            try:
                _write_new(path, data)
            except FileExistsError:
                known += 1
                continue
            except OSError as exc:
                raise FeedError(f"cannot write {path.name} in {self.content_dir} "
                                f"({exc.strerror}); check the folder is writable") from None
            self.state.record_item(FeedItemRecord(
                feed.name, item.key, article_id, hashlib.sha256(data).hexdigest(), published,
                now, now))
            if alias is not None:
                self.state.record_alias(feed.name, alias, item.key)
            written.append(article_id)
        if unread_pages:
            warnings.append(f"{unread_pages} page{'s' if unread_pages != 1 else ''} could not be "
                            "read for full text (kept the summary)")
        return written, known, old, warnings

    async def _full_text(self, client: httpx.AsyncClient, url: str, max_bytes: int,
                         extract: Extractor) -> list[str] | None:
        try:
            page = await self._get(client, url, {}, max_bytes)
            text = await asyncio.to_thread(extract, page.body, page.url)
        except FeedError as exc:
            log.info("full text of %s: %s", url, exc)
            return None
        except Exception:  # the extractor's own failure: keep the summary
            log.warning("full text of %s could not be extracted", url, exc_info=True)
            return None
        if not text:
            return None
        return [p for p in (" ".join(line.split()) for line in text.split("\n")) if p]


def _too_big(declared: int | None, limit: int) -> str:
    size = f"{declared:,} bytes" if declared is not None else f"over {limit:,} bytes"
    return f"the feed is {size}, more than max_bytes ({limit:,}); raise the feed's max_bytes " \
           "if it is really that large"


def apply_retention(content_dir: Path, state: RunState, keep_days: int | None,
                    now: dt.datetime) -> RetentionReport:
    """Delete fetched articles dated more than `keep_days` before `now` (None: keep all).

    Only files briefbot wrote and nobody changed since are deleted: an edited one is a
    person's now and stays, and a file briefbot did not write is never touched. A fetched file
    a person deleted is noted, so it is not fetched back.
    """
    removed: list[str] = []
    kept: list[str] = []
    deleted: list[str] = []
    oldest = now - dt.timedelta(days=keep_days) if keep_days else None
    for record in state.items(present_only=True):
        path = content_dir / f"{record.article_id}.md"
        if not path.exists() and not path.is_symlink():
            state.mark_removed(record.article_id, now, "deleted by an editor")
            deleted.append(record.article_id)
            continue
        if oldest is None or record.published >= oldest or not record.sha256:
            continue
        if _sha256_of(path) != record.sha256:
            kept.append(record.article_id)
            continue
        try:
            path.unlink()
        except OSError as exc:
            log.warning("retention: cannot remove %s (%s)", path.name, exc.strerror)
            continue
        state.mark_removed(record.article_id, now, f"older than keep_days ({keep_days})")
        removed.append(record.article_id)
    state.forget_removed(now - dt.timedelta(days=keep_days or 0) - FORGET_REMOVED_AFTER)
    if removed:
        log.info("retention: removed %d fetched article%s older than %s days",
                 len(removed), "" if len(removed) == 1 else "s", keep_days)
    return RetentionReport(tuple(removed), tuple(kept), tuple(deleted))
