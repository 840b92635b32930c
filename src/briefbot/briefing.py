"""Article -> Briefing: headline, byline, 3 to 5 one-line bullets, link (CONTRACT STUB)."""

from __future__ import annotations

from dataclasses import dataclass

from briefbot.articles import Article


@dataclass(frozen=True, slots=True)
class Bullet:
    emoji: str
    text: str  # one line, at most 200 characters, no emoji of its own at the front


@dataclass(frozen=True, slots=True)
class Briefing:
    """A platform-neutral briefing; renderers turn it into messages."""

    article_id: str
    headline: str  # recased when the file had it in all caps
    emoji: str  # the headline's own emoji ("" if none)
    byline: str  # "author · February 11, 2026" (either part may be missing)
    bullets: tuple[Bullet, ...]
    link: str | None = None


@dataclass(frozen=True, slots=True)
class Digest:
    """Several articles at once: headline and two bullets each, newest first."""

    briefings: tuple[Briefing, ...]


def make_briefing(article: Article) -> Briefing:
    raise NotImplementedError


def make_digest(articles: list[Article]) -> Digest:
    raise NotImplementedError
