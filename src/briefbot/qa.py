"""Per-article Q&A tables: curated entries, typed facts and a sentence index (CONTRACT STUB)."""

from __future__ import annotations

from dataclasses import dataclass

from briefbot.articles import Article


@dataclass(frozen=True, slots=True)
class Answer:
    """What the bot says to a question about one article."""

    question: str
    found: bool
    text: str  # the reply: the fact, then the cited sentence (<= 300 chars); or "doesn't say"
    article_id: str | None
    source: str | None = None  # the cited sentence, verbatim (emoji stripped), when found
    fact: str | None = None  # the short fact ("Abu Dhabi", "2021"), when one was extracted
    suggestions: tuple[str, ...] = ()  # questions this article can answer, when not found


class QATable:
    """Everything needed to answer questions about one article, built once at load time."""

    def __init__(self, article: Article) -> None:
        self.article = article

    def match_score(self, question: str) -> float:
        """How well the question fits this article (for routing a question to an article)."""
        raise NotImplementedError

    def answer(self, question: str) -> Answer:
        """Answer the question from this article, or say honestly that it doesn't say."""
        raise NotImplementedError
