"""QATable: one article, indexed once, answering questions with a cited sentence or honestly not."""

from __future__ import annotations

import datetime as dt
import math
import re
import threading
from collections import Counter, defaultdict
from contextvars import ContextVar
from dataclasses import replace
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from briefbot.articles import Article, CuratedQA
from briefbot.qa import rank
from briefbot.qa.answer import DOESNT_SAY, MAX_ANSWER_CHARS, Answer, _compose
from briefbot.qa.embed import VECTOR_CACHE, get_embedder, question_vector
from briefbot.qa.extract import (
    _NAMING,
    _asks_name,
    _cause_word_index,
    _howmuch_order,
    _names_it,
    _pick_entity,
    _place_penalty,
    _why_fact,
)
from briefbot.qa.facts import (
    _DATE_WORDS,
    _GENERIC_NAME_WORDS,
    _IMPLIED_START,
    _STARTS,
    Entity,
    Sentence,
    Tagged,
    _strip_title,
    tag_article,
)
from briefbot.qa.questions import (
    _BE_HAVE,
    _CATEGORY_POSITION,
    _EXCLUDING,
    _WANTED,
    AUTHOR,
    HOWMUCH,
    PUBLISHED,
    QUOTE,
    TALLY,
    WHAT,
    WHEN,
    WHERE,
    WHO,
    WHY,
    Question,
    Slot,
    _verb_like,
    parse_question,
)
from briefbot.qa.words import (
    _ANTONYMS,
    _LEMMA_BASES,
    _LEMMAS,
    _LEXICON,
    _LIGHT,
    _ORG_WORDS,
    _ROLE_TERMS,
    _SPEECH,
    _STOPWORDS,
    _SYNONYMS,
    _TITLES,
    _TOKEN,
    _WORD_CHARS,
    _bag,
    _norm,
    _plausible_typo,
    _term,
    _word_terms,
    _words,
)
from briefbot.text import strip_emoji

if TYPE_CHECKING:
    from briefbot.qa.embed import Vectors

MAX_SUGGESTION_TRIES = 6
# The fitted scorers, with and without embeddings; bench/qa_train.py sets USE_SCORER False to
# see the rule stages alone.
SCORERS = {False: rank.load_scorer(False), True: rank.load_scorer(True)}
USE_SCORER = True


def scorer() -> rank.Scorer | None:
    """The scorer for this install: with embeddings when they load, else the lexical one."""
    return SCORERS[get_embedder() is not None] if USE_SCORER else None


# Whether a not-found answer carries suggestions; set per `answer` call (see there).
_SUGGEST: ContextVar[bool] = ContextVar("briefbot_qa_suggest", default=True)


def article_sentences(article: Article) -> list[str]:
    """The sentences answers cite, by index: emoji stripped, those without a letter or digit
    (in any script) left out. The reader (qa/reader.py) numbers them the same way."""
    texts = (strip_emoji(s) for s in article.sentences)
    return [t for t in texts if re.search(r"\w", t)]


class QATable:
    """Everything needed to answer questions about one article, built once at load time."""

    def __init__(self, article: Article) -> None:
        self.article = article
        self._texts = article_sentences(article)
        self._words = [_words(t) for t in self._texts]
        self._bags = [_bag(ws) for ws in self._words]
        for text, bag in zip(self._texts, self._bags, strict=True):
            if _STARTS.search(text):
                bag.update(_IMPLIED_START)
        title_words = _words(strip_emoji(article.title))
        if self._bags:
            # the headline sums up the first sentence ("$3.4 BILLION DEAL" / "agreed to buy")
            for term in _bag(title_words):
                if term not in self._bags[0]:
                    self._bags[0][term] = 1
        self.title_terms = frozenset(_bag(title_words))
        self._title_words = tuple(w for w in title_words if not w[:1].isdigit())
        self.doc_freq: Counter[str] = Counter()
        for bag in self._bags:
            self.doc_freq.update(bag.keys())
        self._count = max(len(self._bags), 1)
        self._avg_len = sum(len(ws) for ws in self._words) / self._count or 1.0
        # What only questions read (the typo and derivation lists) is made on the first one
        # that needs it (_typo_lists), not for each of 10,000 articles at load.
        self._typo_lists: tuple[tuple[str, ...], tuple[str, ...], dict[str, list[str]]] | None
        self._typo_lists = None
        self._tagged: Tagged | None = None
        self._vectors: Vectors | None = None  # sentence embeddings, made on the first question
        self._suggestions: tuple[str, ...] | None = None
        # Answers run in worker threads (several chats at once); the suggestions are the one
        # thing made lazily, so they are made under a lock (re-entrant: making them answers).
        self._suggestions_lock = threading.RLock()
        self._making_suggestions = False
        # People, places, dates and sentence vectors are made on the first question or by
        # `prepare` (QAIndex.warm, in the background): loading 10,000 articles stays quick.

    # ---- public API -------------------------------------------------------------------------

    def answer(self, question: str, *, suggest: bool = True,
               vector: Vectors | None = None) -> Answer:
        """Answer the question from this article, or say honestly that it doesn't say.

        `suggest=False` leaves the suggestions off a not-found answer: routing tries several
        articles and only the answer it keeps needs them (they are costly the first time).
        """
        # Per call, not per table: two chats may be asking this article at the same time.
        token = _SUGGEST.set(suggest)
        try:
            return self._answer(parse_question(question), vector)
        except RecursionError:  # pragma: no cover - defensive: never let a question crash a chat
            return self._not_found(question)
        finally:
            _SUGGEST.reset(token)

    def prepare(self) -> None:
        """Tag the article and embed its sentences now rather than on the first question."""
        self._tag()
        embedder = get_embedder()
        if embedder is not None and self._vectors is None:
            self._vectors = VECTOR_CACHE.vectors(embedder, self._texts)

    @property
    def suggestions(self) -> tuple[str, ...]:
        """Two or three questions this article can answer, checked by answering them."""
        if self._suggestions is None:
            with self._suggestions_lock:
                # Another thread may have made them while this one waited; this thread may be
                # back here from inside _make_suggestions, which then gets none.
                if self._suggestions is None and not self._making_suggestions:
                    self._making_suggestions = True
                    try:
                        self._suggestions = self._make_suggestions()
                    finally:
                        self._making_suggestions = False
        return self._suggestions or ()

    # ---- matching ---------------------------------------------------------------------------

    @property
    def terms(self) -> frozenset[str]:
        """Every index term of the article and its headline (QAIndex's postings)."""
        return frozenset(self.doc_freq) | self.title_terms

    def _has(self, term: str) -> bool:
        return term in self.doc_freq or term in self.title_terms

    def words(self) -> set[str]:
        """The article's normalised words, numbers left out: what typos are repaired to."""
        return {w for ws in self._words for w in ws if not w[:1].isdigit()} | set(
            self._title_words)

    def _typos(self) -> tuple[tuple[str, ...], tuple[str, ...], dict[str, list[str]]]:
        """(sorted words, sorted alphabetic stems, those stems by first letter), made once."""
        lists = self._typo_lists
        if lists is None:
            stems = tuple(sorted({t for t in self.doc_freq if t[:1].isalpha()}))
            by_initial: dict[str, list[str]] = defaultdict(list)
            for stem in stems:
                by_initial[stem[:1]].append(stem)
            lists = self._typo_lists = (tuple(sorted(self.words())), stems, by_initial)
        return lists

    def _idf(self, term: str) -> float:
        """BM25's inverse document frequency of a term over the article's sentences (0.1 for a
        term no sentence has)."""
        df = self.doc_freq.get(term)
        if not df:
            return 0.1
        return math.log(1 + (self._count - df + 0.5) / (df + 0.5))

    def _resolve(self, slot: Slot) -> dict[str, float]:
        """The article's terms that stand for a question word, with how much to trust each."""
        alternatives: dict[str, float] = {}
        if slot.term.startswith("~"):
            return {slot.term: 0.9} if self._has(slot.term) else {}
        if self._has(slot.term):
            alternatives[slot.term] = 1.0
        word = slot.word
        vocabulary = self._typos()[0]
        if not alternatives and word.endswith("s") and self._has(_term(word[:-1])):
            alternatives[_term(word[:-1])] = 1.0
        if not alternatives and 4 <= len(word) <= 30 and not word[:1].isdigit():
            hit = process.extractOne(word, vocabulary, scorer=OSA.distance, score_cutoff=2)
            if hit is not None and _plausible_typo(word, hit[0]):
                alternatives[_term(hit[0])] = 0.9
        if not alternatives and len(word) >= 4 and not word[:1].isdigit():
            alternatives.update(self._related_terms(slot.term))
        if not alternatives and 3 <= len(word) <= 5 and not word[:1].isdigit():
            stem = _term(word)
            for other in vocabulary:
                if other.startswith(stem) and len(other) >= len(stem) + 3:
                    alternatives[_term(other)] = 0.6
                    break
        groups = _SYNONYMS.get(slot.term, ())
        if not alternatives and not groups and len(word) >= 5 and not word[:1].isdigit():
            # "discoverd": a typo of a word the article only has a synonym for
            hit = process.extractOne(word, _LEXICON, scorer=OSA.distance, score_cutoff=2)
            # first letters are rarely mistyped: "parking" is not a typo of "warning"
            if hit is not None and hit[0][0] == word[0] and _plausible_typo(word, hit[0]):
                groups = _SYNONYMS.get(_term(hit[0]), ())
        for group in groups:
            if self._has(group):
                # a synonym must not outweigh the word itself where the article has both
                alternatives.setdefault(group, 0.75)
        if len(word) >= 4 and not word[:1].isdigit():
            # compounds: "fire" in "wildfire", "firefighters"
            for other in vocabulary:
                if len(other) >= len(word) + 4 and (
                    other.endswith(word) or other.startswith(word)
                ):
                    alternatives.setdefault(_term(other), 0.5)
        return alternatives

    def _related_terms(self, term: str) -> dict[str, float]:
        """Article terms that are a typo of this stem ("apeal") or derive from it ("payment")."""
        found: dict[str, float] = {}
        if len(term) < 3:
            return found
        _, stems, by_initial = self._typos()
        for other in by_initial.get(term[:1], ()):
            if other == term:
                continue
            shorter, longer = (term, other) if len(term) < len(other) else (other, term)
            if longer.startswith(shorter) and longer[len(shorter):] in _DERIVATIONS:
                found[other] = 0.7
        if not found and len(term) >= 5:
            hit = process.extractOne(term, stems, scorer=OSA.distance, score_cutoff=1)
            if hit is not None and _plausible_typo(term, hit[0]):
                found[hit[0]] = 0.8
        return found

    def _match(self, q: Question) -> float:
        """The share of the question's words this article has, its headline's counting extra."""
        if not q.slots:
            return 0.0
        found = sum(1 for slot in q.slots if self._resolve(slot))
        if not found:
            return 0.0
        in_title = sum(1 for slot in q.slots if slot.term in self.title_terms)
        return (found + 0.25 * in_title) / (len(q.slots) * 1.25)

    def _scores(self, resolved: list[dict[str, float]]) -> tuple[list[float], list[float]]:
        """BM25 of every sentence, and the share of the question's words each one covers."""
        k1, b = 1.2, 0.75
        scores: list[float] = []
        covers: list[float] = []
        weights = [max((self._idf(t) for t in alts), default=1.0) for alts in resolved]
        total = sum(weights) or 1.0
        for bag, words in zip(self._bags, self._words, strict=True):
            norm = k1 * (1 - b + b * len(words) / self._avg_len)
            score = 0.0
            covered = 0.0
            for alts, weight in zip(resolved, weights, strict=True):
                best = 0.0
                for term, trust in alts.items():
                    tf = bag.get(term, 0)
                    if tf:
                        best = max(best, trust * self._idf(term) * tf * (k1 + 1) / (tf + norm))
                if best:
                    score += best
                    covered += weight
            scores.append(score)
            covers.append(covered / total)
        return scores, covers

    # ---- answering --------------------------------------------------------------------------

    def _answer(self, q: Question, vector: Vectors | None = None) -> Answer:
        """The rule stages' answer, re-ranked with the other candidates by the fitted scorer."""
        reply, staged = self._candidate(q)
        if not staged or not reply.found:
            # An editor's entry, the byline or date; or a decline, which stands: on the tune and
            # check splits the scorer overturned rule declines right about as often as wrong.
            return reply
        fitted = scorer()
        if fitted is None:
            return reply
        cands = self.candidate_features(q, reply, vector)
        if not cands:
            return self._not_found(q.raw)
        best, confidence = fitted.choose([c.features for c in cands])
        if confidence < fitted.threshold:
            return self._not_found(q.raw)
        index = cands[best].index
        if reply.found and reply.source == self._tag().sentences[index].text:
            return reply
        return self._from_sentence(q, index)

    def candidate_features(self, q: Question, reply: Answer,
                           vector: Vectors | None = None) -> list[rank.Candidate]:
        """The candidate sentences for a parsed question and their features (rank.FEATURES).

        `reply` is the rule stages' answer; `vector` the question's embedding (computed here
        when None and embeddings are available). Also read by bench/qa_train.py."""
        tagged = self._tag()
        resolved = [self._resolve(slot) for slot in q.slots]
        missing = sum(1 for alts in resolved if not alts) / len(resolved) if resolved else 0.0
        scores, covers = _lent(tagged, *self._scores(resolved))
        rule_index = None
        if reply.found and reply.source is not None:
            rule_index = next((i for i, s in enumerate(tagged.sentences)
                               if s.text == reply.source), None)
        names = [set(alts) for alts in self._named(q, resolved, tagged) if alts]
        return rank.candidates(q, tagged, scores, covers, self._cosines(q, vector), rule_index,
                               missing, names)

    def _cosines(self, q: Question, vector: Vectors | None) -> list[float] | None:
        """Cosine of the question with every sentence, or None without embeddings."""
        embedder = get_embedder()
        if embedder is None:
            return None
        if self._vectors is None:
            self._vectors = VECTOR_CACHE.vectors(embedder, self._texts)
        if vector is None:
            vector = question_vector(q.raw)
            if vector is None:
                return None
        return [float(x) for x in self._vectors @ vector]

    def _from_sentence(self, q: Question, index: int) -> Answer:
        """An answer citing sentence `index`, with the typed fact in it the question asks for."""
        sentence = self._tag().sentences[index]
        fact: str | None = None
        wanted = _WANTED.get(q.kind)
        if wanted is not None:
            resolved = [self._resolve(slot) for slot in q.slots]
            picked = _pick_entity(q, sentence, resolved, wanted)
            if picked is not None:
                fact = picked[0].text
        return self._found(q.raw, fact, sentence.text)

    def _candidate(self, q: Question) -> tuple[Answer, bool]:
        """The rule stages' answer, and whether it came through the lexical stages (False: an
        editor's entry, the byline or date, or a question word the article lacks)."""
        if not _WORD_CHARS.search(" ".join(q.words)):
            return self._not_found(q.raw), False
        curated = self._curated(q)
        if curated is not None:
            return self._found(q.raw, curated.answer, None, None), False
        if q.kind == AUTHOR:
            if self.article.author:
                byline = f"By {self.article.author}."
                return self._found(q.raw, self.article.author, None, byline), False
            return self._not_found(q.raw), False
        if q.kind == PUBLISHED:
            if self.article.date:
                day = _format_date(self.article.date)
                return self._found(q.raw, day, None, f"Published {day}."), False
            return self._not_found(q.raw), False
        resolved = [self._resolve(slot) for slot in q.slots]
        if any(" " in s.word and not alts for s, alts in zip(q.slots, resolved, strict=True)):
            # "cut costs" as a phrase the article lacks: its words may still be there apart
            q = replace(q, slots=_split_phrases(q, resolved))
            resolved = [self._resolve(slot) for slot in q.slots]
        missing = [slot for slot, alts in zip(q.slots, resolved, strict=True) if not alts]
        if missing:
            # A word the article never uses (nor any synonym): it doesn't say. One exception:
            # a verb, when the rest of the question pins down the sentence ("how much waste did
            # they *save*"); the answer must then meet stricter tests.
            if not _skippable(q, missing):
                return self._not_found(q.raw), False
            kept = [i for i, alts in enumerate(resolved) if alts]
            q = replace(q, slots=tuple(q.slots[i] for i in kept), dropped=tuple(missing),
                        role_slots=tuple(s for s in q.role_slots if s not in missing))
            resolved = [resolved[i] for i in kept]
        tagged = self._tag()
        if not q.slots:
            return self._lead_answer(q, tagged), True
        if q.role_slots:
            return self._role_answer(q, tagged, resolved), True
        if q.kind == WHO and q.words[:2] in (("who", "is"), ("who", "was"), ("who", "are")):
            described = self._describe(q, tagged)
            if described is not None:
                return described, True
        lent, lent_cover = _lent(tagged, *self._scores(resolved))
        if q.kind == QUOTE:
            quoted = self._quote_answer(q, tagged, resolved, lent, lent_cover)
            if quoted is not None:
                return quoted, True
        reply = self._retrieve(q, tagged, resolved, lent, lent_cover)
        if q.kind == TALLY and not reply.found:
            # no count of votes or goals near the words: the sentence that tells of it will do
            reply = self._retrieve(replace(q, kind=WHAT), tagged, resolved, lent, lent_cover)
        return reply, True

    def _retrieve(self, q: Question, tagged: Tagged, resolved: list[dict[str, float]],
                  scores: list[float], covers: list[float]) -> Answer:
        """The best sentence for the question's words and, for a typed question, the fact in it."""
        wanted = _WANTED.get(q.kind)
        sentences = tagged.sentences
        best: tuple[float, Sentence, Entity | None] | None = None
        verb = self._asked_verb(q, resolved)
        opposites = self._opposites(q)
        names = self._named(q, resolved, tagged)
        for i, sentence in enumerate(sentences):
            if scores[i] <= 0 or covers[i] < (0.6 if q.loose else 0.34):
                continue
            if not all(_mentions(sentences, i, alts) for alts in names):
                continue  # asked about NAS-K, the sentence is about someone else
            if q.loose and not all(any(t in sentence.bag for t in alts) for alts in resolved):
                continue  # a verb was skipped: what is left must all be here
            if verb is not None and not any(t in sentence.bag for t in verb):
                continue  # "who discovered X": a sentence that never says "discovered" won't do
            if opposites and any(t in sentence.bag for t in opposites):
                continue  # asked when pre-orders close, the sentence says when they open
            if wanted is not None and any(not any(t in sentence.bag for t in alts)
                   and any(o in sentence.bag for o in _ANTONYMS.get(slot.term, ()))
                   for slot, alts in zip(q.slots, resolved, strict=True)):
                continue  # asked how many finished, this sentence only counts who started
            score = scores[i] * (1 + 0.5 * covers[i])
            if wanted is not None:
                # News puts the main facts first; a slight lead bias breaks near-ties that way.
                score *= 1 + 0.25 / (1 + i)
            cited = sentence
            entity: Entity | None = None
            if wanted is not None:
                picked = _pick_entity(q, sentence, resolved, wanted)
                if picked is None:
                    continue
                entity, rank, distance = picked
                score *= 1.8 * (0.6 ** rank) / (1 + 0.12 * min(distance, 12))
            elif q.kind == WHY:
                # The cause is in the sentence or, with a strong cue, in one of the next two.
                options = [(sentence.cause, sentence)] + [
                    (sentences[k].cause * (0.8 if k == i + 1 else 0.6), sentences[k])
                    for k in (i + 1, i + 2)
                    if k < len(sentences) and sentences[k].cause >= 1.0
                ]
                strength, cited = max(options, key=lambda o: o[0])
                if cited is not sentence and sentence.cause >= 0.5 and (
                        strength < sentence.cause + 0.25):
                    strength, cited = sentence.cause, sentence  # its own cue, unless far weaker
                if strength <= 0:
                    continue
                score *= 1 + strength
                if cited is sentence:
                    # a cause cue right after the question's words explains them, not another clause
                    at = _cause_word_index(sentence)
                    hits = [p for p, w in enumerate(sentence.words)
                            if any(t in alts for alts in resolved for t in _word_terms(w))]
                    gap = min((abs(at - p) for p in hits), default=10) if at >= 0 else 10
                    score /= 1 + 0.05 * min(gap, 20)
            elif q.kind == QUOTE and (sentence.quote or sentence.speech):
                score *= 1.5
            elif q.kind == WHAT and _asks_name(q) and _NAMING.search(sentence.text):
                score *= 2.0  # "what's the vaccine called": "The vaccine, called RV-12, …"
            elif q.kind == WHAT and q.words[:3] == ("what", "happened", "to") and any(
                    t in alts for alts in resolved for w in sentence.words[:4]
                    for t in _word_terms(w)):
                score *= 1.5  # "what happened to the shares": "Shares of Greenleaf jumped…"
            if best is None or score > best[0]:
                best = (score, cited, entity)
        if best is None:
            return self._not_found(q.raw)
        _, sentence, entity = best
        fact = entity.text if entity is not None else _why_fact(sentence) if q.kind == WHY else None
        if q.kind == WHAT and _asks_name(q) and (named := _NAMING.search(sentence.text)):
            fact = named.group(1)
        return self._found(q.raw, fact, sentence.text)

    def _named(self, q: Question, resolved: list[dict[str, float]],
               tagged: Tagged) -> list[dict[str, float]]:
        """The article's names the question asks about, each with the question's words for it.

        "the transit authority": "authority" in a sentence speaks of the same body, so every word
        the question uses of that name counts; names after "besides" are not the subject."""
        excluded = min((i for i, w in enumerate(q.words) if w in _EXCLUDING), default=len(q.words))
        named: list[dict[str, float]] = []
        for slot, alts in zip(q.slots, resolved, strict=True):
            if slot.term not in tagged.name_terms or slot.position > excluded:
                continue
            companions = dict(alts)
            for entity in tagged.entities_with.get(slot.term, ()):
                for other in q.slots:
                    if other.word in entity.keys:
                        companions[other.term] = 1.0
            named.append(companions)
        return named

    def _asked_verb(self, q: Question, resolved: list[dict[str, float]]) -> set[str] | None:
        """"who founded X": the terms that stand for the verb right after who, when there is one."""
        if q.kind != WHO or len(q.words) < 2 or q.words[0] != "who":
            return None
        for slot, alts in zip(q.slots, resolved, strict=True):
            # "who founded X", "who was driving X": the verb right after who (and its auxiliary)
            if slot.position == 1 or (slot.position == 2 and q.words[1] in _BE_HAVE
                                      and _verb_like(q.words, 2)):
                return set(alts)
        return None

    def _opposites(self, q: Question) -> set[str]:
        """Terms meaning the opposite of a question word that the article does not itself use."""
        found: set[str] = set()
        for slot in q.slots + q.dropped:
            for other in _ANTONYMS.get(slot.term, ()):
                if self._has(slot.term):
                    continue
                found.add(other)
        return found

    def _lead_answer(self, q: Question, tagged: Tagged) -> Answer:
        """"how much?" with nothing else: the first fact of that type the article gives."""
        wanted = _WANTED.get(q.kind)
        if wanted is None:
            return self._not_found(q.raw)
        for kind in _howmuch_order(q) if q.kind == HOWMUCH else wanted:
            found = [(_place_penalty(q, s, e) if kind == "PLACE" else 0, i, e, s)
                     for i, s in enumerate(tagged.sentences) for e in s.entities if e.kind == kind]
            if found:
                _, _, entity, sentence = min(found, key=lambda f: (f[0], f[1]))
                return self._found(q.raw, entity.text, sentence.text)
        return self._not_found(q.raw)

    def _role_answer(self, q: Question, tagged: Tagged,
                     resolved: list[dict[str, float]]) -> Answer:
        """"who is the governor": the person whose title or description says so."""
        role = [resolved[q.slots.index(s)] for s in q.role_slots]
        best: tuple[tuple[float, int], Entity, Sentence] | None = None
        for sentence in tagged.sentences:
            for entity in sentence.entities:
                if entity.kind != "PERSON" or _names_it(q, entity) or not entity.desc_terms:
                    continue
                if not all(any(t in entity.desc_terms for t in alts) for alts in role):
                    continue
                # "the farmers' union chair": every question word the description or its
                # sentence holds counts, the word itself above a synonym of it
                fit = _describes(entity, sentence, resolved)
                rank = (-fit, len(entity.desc_terms))
                if best is None or rank < best[0]:
                    best = (rank, entity, sentence)
        if best is None:
            return self._not_found(q.raw)
        _, entity, sentence = best
        return self._found(q.raw, entity.text, sentence.text)

    def _describe(self, q: Question, tagged: Tagged) -> Answer | None:
        """"who is Gen. Grynkewich": what the article says the named person is."""
        asked = {slot.word for slot in q.slots} - _GENERIC_NAME_WORDS
        for person in tagged.people.values():
            distinctive = person.keys - _GENERIC_NAME_WORDS
            if not asked or not asked <= distinctive | {_norm(w) for w in _TITLES}:
                continue
            if not person.descriptor:
                continue
            for sentence in tagged.sentences:
                if any(e.kind == "PERSON" and e.keys == person.keys and e.descriptor
                       for e in sentence.entities):
                    fact = f"{person.text}, {person.descriptor}"
                    return self._found(q.raw, fact, sentence.text)
        # No appositive or title: the sentence that first names them says who they are.
        for sentence in tagged.sentences:
            for entity in sentence.entities:
                distinctive = entity.keys - _GENERIC_NAME_WORDS
                if entity.kind in ("PERSON", "THING") and asked and asked <= distinctive:
                    return self._found(q.raw, None, sentence.text)
        return None

    def _quote_answer(self, q: Question, tagged: Tagged, resolved: list[dict[str, float]],
                      scores: list[float], covers: list[float]) -> Answer | None:
        """"what did X say": a sentence quoting X (by name or by role), direct quotes first."""
        speaker: str | None = None
        best_fit = 0.0
        for name, person in tagged.people.items():
            name_words = set(_words(name))
            fit = 10.0 if name_words & q.named else 0.0
            for slot in q.slots:
                if slot.term in _GENERIC_ROLE_TERMS:
                    continue
                if slot.term in person.desc_terms:
                    fit += 1.0
                elif any(g in person.desc_terms for g in _SYNONYMS.get(slot.term, ())):
                    fit += 0.75
            if fit > best_fit:
                speaker, best_fit = name, fit
        if speaker is None:
            return None
        keys = set(_words(speaker))
        about = next((i for i, w in enumerate(q.words) if w in ("about", "regarding", "on")),
                     len(q.words))
        topics = [alts for slot, alts in zip(q.slots, resolved, strict=True)
                  if slot.position > about]
        best: tuple[float, Sentence, bool] | None = None
        for i, sentence in enumerate(tagged.sentences):
            mentions = bool(keys & set(sentence.words)) or (
                i > 0 and bool(keys & set(tagged.sentences[i - 1].words))
                and (sentence.words[:1] in (["he"], ["she"], ["they"])
                     or _PRONOUN_SPEECH.search(sentence.text) is not None)
            )
            if not mentions or not (sentence.quote or sentence.speech):
                continue
            on_topic = all(any(t in sentence.bag for t in alts) for alts in topics)
            score = (2.0 if sentence.quote else 0.0) + (1.0 if sentence.speech else 0.0) + covers[i]
            score += 4.0 if on_topic else 0.0
            if best is None or score > best[0]:
                best = (score, sentence, on_topic)
        if best is None or not best[2]:
            # asked what a named person said (about something): if they never say it, the
            # article doesn't say, whatever other sentence names them; the same for a speaker
            # known by role ("the councillor") asked about a topic they never speak of
            return self._not_found(q.raw) if best_fit >= 10.0 or (
                best_fit >= 1.0 and topics) else None
        return self._found(q.raw, tagged.people[speaker].text, best[1].text)

    def _curated(self, q: Question) -> CuratedQA | None:
        """The article's own curated Q&A entry that this question paraphrases, if any."""
        if not self.article.qa:
            return None
        asked = {slot.term for slot in q.slots}
        plain = " ".join(q.words)
        for entry in self.article.qa:
            paraphrases = [parse_question(p) for p in entry.questions]
            # token_set_ratio scores any subset 100 ("how much" vs "how much are tickets"),
            # so it only counts when the question has words of its own.
            similar = fuzz.token_set_ratio if asked else fuzz.ratio
            if any(similar(plain, " ".join(p.words)) >= 85 for p in paraphrases):
                return entry
            kinds = {p.kind for p in paraphrases}
            terms = {s.term for p in paraphrases for s in p.slots}
            if asked and q.kind in kinds and len(asked & terms) >= 0.5 * len(asked):
                return entry
        return None

    # ---- replies ----------------------------------------------------------------------------

    def _found(self, question: str, fact: str | None, source: str | None,
               text: str | None = None) -> Answer:
        """A found answer citing `source`; `text`, when given, replaces the 'fact “quote”' line."""
        quote: str | None = None
        if text is None:
            fact, quote, text = _compose(fact, source)
        return Answer(question=question, found=True, text=text[:MAX_ANSWER_CHARS],
                      article_id=self.article.id, source=source, fact=fact, quote=quote)

    def _not_found(self, question: str) -> Answer:
        """"The article doesn't say", with questions it can answer when they fit on the line."""
        suggestions = self.suggestions if _SUGGEST.get() else ()
        text = DOESNT_SAY
        if suggestions:
            tried = text + " Try: " + " · ".join(suggestions)
            text = tried if len(tried) <= MAX_ANSWER_CHARS else text
        return Answer(question=question, found=False, text=text, article_id=self.article.id,
                      suggestions=suggestions)

    def _make_suggestions(self) -> tuple[str, ...]:
        """Concrete questions built from the article's own phrases, kept only if answerable."""
        tagged = self._tag()
        people = [_strip_title(name) for name, person in tagged.people.items()
                  if person.desc_terms & _ROLE_TERMS and not (person.keys & _ORG_WORDS)]
        candidates: list[tuple[str, str]] = [("who", f"Who is {name}?") for name in people[:1]]
        for sentence in tagged.sentences:
            for entity in sentence.entities:
                noun = _noun_before(sentence, entity)
                if noun is None:
                    continue
                plural = noun in _PLURALS or (noun.endswith("s") and not noun.endswith("ss"))
                be = ("are" if plural else "is") if "will" in sentence.words else (
                    "were" if plural else "was")
                if entity.kind == "PLACE" and entity.text[:1].isupper():
                    candidates.append(("where", f"Where {be} the {noun}?"))
                elif entity.kind == "MONEY":
                    candidates.append(("howmuch", f"How much {be} the {noun}?"))
                elif (entity.kind == "DATE" and not entity.text[:1].isdigit()
                      and sentence.words[entity.start - 1] == "on"):
                    candidates.append(("when", f"When {be} the {noun}?"))
        # A suggestion names a whole person ("Dana Kim"), never a fragment of another name:
        # one capitalised word may be the tail of "the Muslim Brotherhood".
        quoted = [_strip_title(e.text) for s in tagged.sentences if s.quote for e in s.entities
                  if e.kind == "PERSON" and not (e.keys & _ORG_WORDS)]
        quoted = [name for name in quoted if len(name.split()) >= 2]
        if quoted:
            candidates.append(("quote", f"What did {quoted[0]} say?"))
        chosen: list[str] = []
        kinds: set[str] = set()
        tries = 0
        for kind, candidate in candidates:
            if kind in kinds or candidate in chosen:
                continue
            tries += 1
            if tries > MAX_SUGGESTION_TRIES:  # each try is a full answer: keep "not found" quick
                break
            reply = self.answer(candidate)
            if reply.found and reply.quote is not None:
                chosen.append(candidate)
                kinds.add(kind)
            if len(chosen) == 3:
                break
        for name in people[1:3]:
            if len(chosen) >= 2:
                break
            if self.answer(f"Who is {name}?").found:
                chosen.append(f"Who is {name}?")
        return tuple(chosen)

    # ---- tagging ----------------------------------------------------------------------------

    def _tag(self) -> Tagged:
        """The article's typed facts, tagged on the first call and kept."""
        if self._tagged is None:
            token_lists = [list(_TOKEN.finditer(t)) for t in self._texts]
            self._tagged = tag_article(self._texts, token_lists, self._words, self._bags)
        return self._tagged


def _lent(tagged: Tagged, scores: list[float],
          covers: list[float]) -> tuple[list[float], list[float]]:
    """BM25 scores and covers per sentence, a sentence opening "These talks…" lending half its
    score and its cover to the sentence it refers back to."""
    lent, lent_cover = list(scores), list(covers)
    for i, sentence in enumerate(tagged.sentences[1:], start=1):
        if sentence.anaphoric:
            lent[i - 1] += 0.5 * scores[i]
            lent_cover[i - 1] = max(lent_cover[i - 1], min(1.0, covers[i - 1] + covers[i]))
    return lent, lent_cover


def _mentions(sentences: list[Sentence], i: int, alts: dict[str, float]) -> bool:
    """Whether sentence i speaks of the thing these terms name, itself or through "it"/"she"."""
    if any(t in sentences[i].bag for t in alts):
        return True
    if sentences[i].anaphoric and i > 0 and any(t in sentences[i - 1].bag for t in alts):
        return True
    return (i + 1 < len(sentences) and sentences[i + 1].anaphoric
            and any(t in sentences[i + 1].bag for t in alts))


def _describes(person: Entity, sentence: Sentence, resolved: list[dict[str, float]]) -> float:
    """How well a person's description (and, less, its sentence) fits the question's words."""
    fit = 0.0
    for alts in resolved:
        in_description = max((trust for t, trust in alts.items() if t in person.desc_terms),
                             default=0.0)
        fit += in_description or (0.3 if any(t in sentence.bag for t in alts) else 0.0)
    return fit


def _split_phrases(q: Question, resolved: list[dict[str, float]]) -> tuple[Slot, ...]:
    """The slots with each two-word phrase the article lacks split back into its words."""
    slots: list[Slot] = []
    for slot, alts in zip(q.slots, resolved, strict=True):
        if " " in slot.word and not alts:
            for offset, word in enumerate(slot.word.split()):
                if word not in _STOPWORDS and word not in _LIGHT:
                    slots.append(Slot(word, _term(word), slot.position + offset))
        else:
            slots.append(slot)
    return tuple(slots)


def _skippable(q: Question, missing: list[Slot]) -> bool:
    """Whether the one missing word is a verb the rest of the question can do without."""
    if len(missing) != 1 or len(q.slots) < 2:
        return False
    slot = missing[0]
    if slot.word[:1].isdigit() or slot.word in _DATE_WORDS or " " in slot.word:
        return False
    if slot.position > 0 and q.words[slot.position - 1] in _CATEGORY_POSITION:
        return True  # "what *song* did she play": the kind of answer wanted
    if "about" in q.words[:slot.position]:
        return False  # "what did she say about *parking*": the topic, not a passing verb
    if q.kind in (WHO, WHEN, WHERE) or (q.kind == QUOTE and slot.position == 1):
        # "who *discovered* X", "when was X *built*": the event is what is asked
        return False
    return _verb_like(q.words, slot.position)


_DERIVATIONS = frozenset(
    "ment ments er ers or ors ion ions ation ations al e y ist ists ance ence ure ive ity ship "
    "ing ings ee ees atur ature atures".split()
)
_GENERIC_ROLE_TERMS = frozenset(_term(w) for w in "launch cut move deal about it".split())


_SUGGESTION_LINKS = frozenset("in at on of for".split())


def _noun_before(sentence: Sentence, entity: Entity) -> str | None:
    """"talks in Abu Dhabi" -> "talks": a plain noun just before a linking word and the fact."""
    link = entity.start - 1
    if link < 1 or sentence.words[link] not in _SUGGESTION_LINKS:
        return None
    noun = sentence.words[link - 1]
    if link < 2 or sentence.words[link - 2] not in ("the", "of"):
        return None  # "the talks in …": a determiner shows it is a thing, not "pleaded guilty in"
    if (noun in _STOPWORDS or noun in _LIGHT or not noun.isalpha() or len(noun) < 4
            or noun in _LEMMAS or noun in _LEMMA_BASES or noun in _SPEECH
            or noun.endswith(("ed", "ing", "ly", "al", "ous", "ive", "ful"))
            or any(e.start <= link - 1 < e.end for e in sentence.entities)):
        return None
    return noun


# '…,” she said.': a quotation whose speaker the sentence before names
_PRONOUN_SPEECH = re.compile(r"[,”\"]\s*(?:he|she|they) (?:said|added|says|told)\b")


_PLURALS = frozenset("people police staff media children men women crowds".split())


def _format_date(day: dt.date) -> str:
    """A date as an answer says it: "March 5, 2026"."""
    return f"{day:%B} {day.day}, {day.year}"
