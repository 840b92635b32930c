"""QAIndex: a QATable per article, kept in step with the library, and routing between them."""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import heapq
import math
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from rapidfuzz import process
from rapidfuzz.distance import OSA

from briefbot.articles import Article
from briefbot.qa.answer import Answer
from briefbot.qa.questions import (
    AUTHOR,
    MAX_QUESTION_CHARS,
    PUBLISHED,
    Question,
    parse_question,
)
from briefbot.qa.table import QATable
from briefbot.qa.words import _SYNONYMS, _plausible_typo, _term

SYNONYM_TRUST = 0.7  # a synonym's share of a question word's weight when routing

# Words that point back at what the chat was just told about.
_FOLLOW_UP = frozenset("it its he him his she her they them their this these".split())

# Articles prepared ahead of their first question (newest first): a first question costs about
# 50 ms of tagging and embedding on an unprepared article (bench/qa_speed.py).
WARM_ARTICLES = 500


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """One consistent state of the index. `update` builds a new one and swaps it in whole, never
    changing one in place, so an answer running in a worker thread reads a single version."""

    tables: Mapping[str, QATable] = field(default_factory=dict)
    postings: Mapping[str, frozenset[str]] = field(default_factory=dict)  # term -> article ids
    vocabulary: frozenset[str] = frozenset()  # every article word ever indexed (typo repair)
    by_initial: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    newest: str | None = None
    position: Mapping[str, int] = field(default_factory=dict)  # newest-first rank, for ties


class QAIndex:
    """A QATable per article, reused while an article is unchanged, and routing between them.

    `ask` may run in any thread while `update` (one caller at a time) replaces the articles.
    """

    def __init__(self) -> None:
        self._snapshot = _Snapshot()

    def __len__(self) -> int:
        return len(self._snapshot.tables)

    def table(self, article_id: str) -> QATable | None:
        """The table for an article, if it is indexed."""
        return self._snapshot.tables.get(article_id)

    def update(self, articles: Iterable[Article]) -> None:
        """Match the index to exactly these articles: add new, re-index changed, drop gone."""
        wanted = {article.id: article for article in articles}
        # Indexing allocates millions of small objects and no cycles; the cyclic collector
        # re-scanning them all made a 10,000-article load several times slower.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._snapshot = _synced(self._snapshot, wanted)
        finally:
            if collecting:
                # Tables live until their article changes; freezing them keeps the next full
                # collection from walking every one of them in the middle of an answer (a
                # 0.5 s pause after a 10,000-article load).
                gc.freeze()
                gc.enable()

    def warm(self, limit: int = WARM_ARTICLES, stop: threading.Event | None = None) -> int:
        """Prepare (tag and embed) up to `limit` articles, newest first, so their first question
        is as quick as any other; returns how many were prepared. For a background thread:
        it reads one snapshot and stops early when `stop` is set."""
        snap = self._snapshot
        order = sorted(snap.tables, key=lambda a: snap.position.get(a, len(snap.position)))
        done = 0
        for article_id in order[:limit]:
            if stop is not None and stop.is_set():
                break
            snap.tables[article_id].prepare()
            done += 1
        return done

    def ask(self, question: str, *, article_id: str | None = None,
            last_briefed: str | None = None) -> Answer:
        """Answer from the pinned article, the chat's last one if it fits, else the best match."""
        question = question[:MAX_QUESTION_CHARS]
        snap = self._snapshot  # one version for the whole answer, whatever `update` does
        if article_id is not None:
            table = snap.tables.get(article_id)
            if table is None:
                return _nothing(question, snap)
            return table.answer(question)
        q = parse_question(question)
        last = snap.tables.get(last_briefed) if last_briefed else None
        if last is not None:
            fit = last._match(q)
            if _FOLLOW_UP.intersection(q.words):
                # "why did it move?", "how old is he?": about the article the chat was just
                # given, whatever other articles share its words.
                return last.answer(question)
            if not q.slots or fit >= 0.5 or q.kind in (AUTHOR, PUBLISHED):
                reply = last.answer(question, suggest=not q.slots)
                if reply.found or not q.slots:
                    return reply
        candidates = _route(q, snap)
        for _, table in candidates:
            reply = table.answer(question, suggest=False)
            if reply.found:
                return reply
        if last is not None and last._match(q) > 0:
            return last.answer(question)
        if candidates:
            return candidates[0][1].answer(question)
        newest = snap.tables.get(snap.newest) if snap.newest else None
        if newest is not None and (not q.slots or q.kind in (AUTHOR, PUBLISHED)):
            # "who wrote this?" with nothing to route on: "this" is the newest article.
            return newest.answer(question)
        return _nothing(question, snap)


def _synced(old: _Snapshot, wanted: dict[str, Article]) -> _Snapshot:
    """`old` matched to `wanted`: gone or changed articles dropped, new ones added.

    Copy on write: the dicts are copied (references only) and a posting set is rebuilt only for
    the terms of articles that came or went.
    """
    tables = dict(old.tables)
    postings = dict(old.postings)
    touched: dict[str, set[str]] = {}

    def posting(term: str) -> set[str]:
        if term not in touched:
            touched[term] = set(postings.get(term, ()))
        return touched[term]

    for article_id, held in old.tables.items():
        fresh = wanted.get(article_id)
        if fresh is None or _digest(fresh) != _digest(held.article):
            del tables[article_id]
            for term in held.terms:
                posting(term).discard(article_id)
    # The vocabulary only ever feeds typo repair, so a gone article's word costs nothing but a
    # miss; it is kept rather than recounted.
    vocabulary = set(old.vocabulary)
    for article_id, article in wanted.items():
        if article_id not in tables:
            table = QATable(article)
            tables[article_id] = table
            for term in table.terms:
                posting(term).add(article_id)
            vocabulary.update(table.words())
    for term, ids in touched.items():
        if ids:
            postings[term] = frozenset(ids)
        else:
            postings.pop(term, None)
    words: dict[str, list[str]] = defaultdict(list)
    for word in vocabulary:
        words[word[:1]].append(word)
    dated = [t.article for t in tables.values()]
    dated.sort(key=lambda a: (a.date or dt.date.min, a.id))
    # Newest first, then by id: how routing breaks ties, precomputed so it costs a lookup.
    position = {a.id: n for n, a in enumerate(
        sorted(dated, key=lambda a: (-(a.date or dt.date.min).toordinal(), a.id)))}
    return _Snapshot(
        tables=tables, postings=postings, vocabulary=frozenset(vocabulary),
        by_initial={initial: tuple(pool) for initial, pool in words.items()},
        newest=dated[-1].id if dated else None, position=position,
    )


def _route(q: Question, snap: _Snapshot, limit: int = 3) -> list[tuple[float, QATable]]:
    """The few articles whose words best cover the question's, by an inverted index."""
    postings = snap.postings
    total = len(snap.tables)
    if not total or not q.slots:
        return []
    scores: dict[str, float] = defaultdict(float)
    # Per question word: the article terms that stand for it, and how much each is trusted
    # (the word itself or its typo fix fully, a synonym less, so "talks" ranks an article
    # that says "talks" above one that only says "conference").
    slot_terms: list[dict[str, float]] = []
    for slot in q.slots:
        terms = {slot.term: 1.0} if slot.term in postings else {}
        if not terms and not slot.word[:1].isdigit() and 4 <= len(slot.word) <= 30:
            pool = snap.by_initial.get(slot.word[:1], ())
            hit = process.extractOne(slot.word, pool, scorer=OSA.distance, score_cutoff=2)
            if hit is not None and _plausible_typo(slot.word, hit[0]):
                terms[_term(hit[0])] = 1.0
        for synonym in _SYNONYMS.get(slot.term, ()):
            if synonym in postings:
                terms.setdefault(synonym, SYNONYM_TRUST)
        slot_terms.append(terms)
    ordered = sorted(
        (t for t in slot_terms if t),
        key=lambda ts: sum(len(postings.get(t, ())) for t in ts),
    )
    for terms in ordered:
        exact: set[str] = set().union(
            *(postings[t] for t, w in terms.items() if w == 1.0 and t in postings)
        )
        related: set[str] = set().union(
            *(postings[t] for t, w in terms.items() if w < 1.0 and t in postings)
        ) - exact
        size = len(exact) + len(related)
        if not size:
            continue
        idf = math.log(1 + total / size)
        if scores and size > 500:
            # A common word only re-ranks the articles rarer words already found.
            for article_id in scores:
                if article_id in exact:
                    scores[article_id] += idf
                elif article_id in related:
                    scores[article_id] += idf * SYNONYM_TRUST
            continue
        for article_id in exact:
            scores[article_id] += idf
        for article_id in related:
            scores[article_id] += idf * SYNONYM_TRUST
    # Ties (and sums that differ only by float rounding) go to the newest article, then by
    # id, so the same question gets the same article whatever the set iteration order.
    best: Iterable[tuple[str, float]] = scores.items()
    if len(scores) > limit:
        # Only the best few (and anything tied with them) need the full, slower ordering.
        cutoff = heapq.nlargest(limit, scores.values())[-1] - 1e-9
        best = [(article_id, score) for article_id, score in best if score >= cutoff]
    position = snap.position
    top = heapq.nsmallest(limit, best, key=lambda item: (-round(item[1], 9), position[item[0]]))
    return [(score, snap.tables[article_id]) for article_id, score in top]

def _nothing(question: str, snap: _Snapshot) -> Answer:
    """No article fits: the newest article's suggestions, or that nothing is loaded yet."""
    newest = snap.tables.get(snap.newest) if snap.newest else None
    if newest is not None:
        reply = newest._not_found(question)
        return Answer(question=question, found=False, text=reply.text, article_id=None,
                      suggestions=reply.suggestions)
    return Answer(question=question, found=False, article_id=None,
                  text="There are no articles to answer from yet.")


def _digest(article: Article) -> str:
    """What identifies an article's content, to tell an edited article from an unchanged one."""
    if article.digest:
        return article.digest
    content = "\n".join([article.title, article.author or "", str(article.date),
                         *article.paragraphs, repr(article.qa)])
    return hashlib.sha256(content.encode("utf-8")).hexdigest()
