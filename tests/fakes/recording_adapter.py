"""An in-memory Adapter for delivery tests: records every accepted part and injects faults."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from briefbot.articles import Article
from briefbot.briefing import Briefing, Digest
from briefbot.conversation import Reply
from briefbot.errors import ChatMoved, ChatUnavailable, TemporaryFailure


class ProcessDied(BaseException):
    """Stands for the process being killed: nothing catches it, nothing after it runs."""


@dataclass
class Outbox:
    """What the 'platform' accepted, shared by every adapter (and process) in a test."""

    accepted: list[tuple[str, str]] = field(default_factory=list)  # (chat id, part)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, chat_id: str, part: str) -> None:
        with self.lock:
            self.accepted.append((chat_id, part))

    def to(self, chat_id: str) -> list[str]:
        return [part for chat, part in self.accepted if chat == chat_id]

    def duplicates(self) -> dict[tuple[str, str], int]:
        return {key: n for key, n in Counter(self.accepted).items() if n > 1}


class RecordingAdapter:
    """Renders a briefing as two parts (headline, bullets) and a digest as one part a story."""

    def __init__(
        self,
        outbox: Outbox | None = None,
        *,
        platform: str = "telegram",
        temporary_failure_rate: float = 0.0,
        seed: int = 7,
        crash_after_sends: int | None = None,
        latency: float = 0.0,
    ) -> None:
        self.platform = platform
        self.outbox = outbox if outbox is not None else Outbox()
        self.unavailable: dict[str, str] = {}
        self.moved: dict[str, str] = {}
        self.temporary_failures = 0
        self._rate = temporary_failure_rate
        self._random = random.Random(seed)
        self._crash_after = crash_after_sends
        self._sends = 0
        self._latency = latency
        self.topics: dict[str, str | None] = {}  # part -> the thread_id it was sent with

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def render(self, reply: Reply) -> Sequence[object]:
        if isinstance(reply, Briefing):
            return (f"{reply.article_id}: {reply.headline}",
                    f"{reply.article_id}: {len(reply.bullets)} bullets")
        if isinstance(reply, Digest):
            return tuple(f"digest {b.article_id}: {b.headline}" for b in reply.briefings)
        raise AssertionError(f"delivery should only send briefings, not {reply!r}")

    async def send_part(self, chat_id: str, part: object, *, thread_id: str | None = None) -> None:
        # The network round trip: other chats' sends interleave here.
        await asyncio.sleep(self._latency)
        if chat_id in self.moved:
            raise ChatMoved(chat_id, self.moved[chat_id])
        if chat_id in self.unavailable:
            raise ChatUnavailable(chat_id, self.unavailable[chat_id])
        if self._rate and self._random.random() < self._rate:
            self.temporary_failures += 1
            raise TemporaryFailure("502 Bad Gateway")
        self.outbox.add(chat_id, str(part))
        self.topics[str(part)] = thread_id
        self._sends += 1
        if self._crash_after is not None and self._sends == self._crash_after:
            raise ProcessDied(f"killed after send {self._sends}, before the ledger write")


class Shelf:
    """A Library stand-in: articles newest first, found by id, ordered exactly as `Library` orders
    them (dated by date descending, same-date ties by id ascending, undated last)."""

    def __init__(self, articles: Iterable[Article] = ()) -> None:
        self.articles: tuple[Article, ...] = ()
        self.put(*articles)

    def put(self, *articles: Article) -> None:
        merged = {a.id: a for a in (*self.articles, *articles)}
        self.articles = tuple(sorted(merged.values(), key=_library_order))

    def find(self, article_id: str) -> Article | None:
        return next((a for a in self.articles if a.id == article_id), None)


def _library_order(article: Article) -> tuple[int, int, str]:
    # Mirrors briefbot.articles._sort_key; test_delivery checks the two agree.
    if article.date is None:
        return (1, 0, article.id)
    return (0, -article.date.toordinal(), article.id)


def story(article_id: str, date: dt.date, headline: str | None = None) -> Article:
    """A small but real article, so the real briefing code can pick bullets from it."""
    title = headline or f"Council votes on {article_id.replace('-', ' ')}"
    return Article(
        id=article_id,
        title=title,
        author="Dana Reporter",
        date=date,
        paragraphs=(
            f"The city council voted 7 to 2 on Tuesday to approve the {article_id} plan.",
            "Mayor Lena Ortiz said the vote would speed up repairs across the city.",
            "Opponents argued that the budget of $4 million was too small for the work.",
            "Construction is expected to begin in March and finish by the end of the year.",
        ),
    )
