"""The scorer stage: every candidate sentence gets named features and one fitted probability.

A question's candidate sentences (BM25 top-k, embedding top-k when installed, and the rule
stages' pick) each get FEATURES; a fitted ranking (softmax over the candidates) picks one, and a
fitted logistic decision says whether answering with it is likely right. Weights in
`data/qa_weights.json` (lexical stages only) and `data/qa_weights_embeddings.json` (with sentence
embeddings), fitted by bench/qa_train.py on the tune split, threshold chosen on the check split.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from briefbot.qa.extract import _names_it
from briefbot.qa.questions import _WANTED, QUOTE, WHY, Question

if TYPE_CHECKING:
    from briefbot.qa.facts import Sentence, Tagged

TOP_K = 6  # candidates from each retriever: measured recall of a right sentence ~95% at 5-6

_KINDS = ("who", "what", "when", "where", "why", "howmuch", "howlong", "how", "quote", "yesno",
          "tally")
FEATURES: tuple[str, ...] = (
    "bias",
    "bm25_share",  # this sentence's BM25 over the best sentence's, 0..1
    "bm25_log",  # log(1 + BM25)
    "cover",  # share of the question's words (idf-weighted) the sentence has
    "cosine",  # embedding cosine of question and sentence, -1..1 (0 without embeddings)
    "cosine_gap",  # cosine minus the best other candidate's cosine
    "cosine_top",  # 1 if the highest cosine among the candidates
    "cosine_rank",  # 1 / (1 + its rank by cosine among all the article's sentences)
    "bm25_rank",  # 1 / (1 + its rank by BM25)
    "cosine_window",  # cosine of the question with the sentence and half its neighbours
    "typed_cosine",  # cosine where a wanted typed fact is present, else 0
    "cosine_z",  # (cosine - the article's mean) / its spread: stands out, or all alike
    "bm25_top",  # 1 if the highest BM25
    "rule_pick",  # 1 if the rule stages cite this sentence
    "rule_other",  # 1 if the rule stages answered with another sentence
    "missing_share",  # share of the question's words the article lacks entirely
    "type_wanted",  # 1 if the question asks for a typed fact (who/when/where/how much...)
    "type_present",  # 1 if such a fact, not named in the question, is in the sentence
    "cause",  # why-questions: the sentence's cause cue strength
    "speech",  # quote-questions: the sentence is a quote or reported speech
    "names_present",  # share of the question's names (article name terms) the sentence has
    "position",  # 1 / (1 + sentence index): news puts the main facts first
    "no_embeddings",  # 1 when embeddings are unavailable
    *(f"kind_{k}" for k in _KINDS),
)


# The decision reads the chosen candidate's own features named here, plus how sure the ranking
# is ("share": its softmax share among the candidates, "margin": over the runner-up).
_DECISION_FROM_CANDIDATE = (
    "cosine", "cosine_gap", "cosine_z", "bm25_share", "bm25_log", "cover", "type_wanted",
    "type_present", "names_present", "rule_pick", "missing_share", "cause", "speech",
    "no_embeddings", *(f"kind_{k}" for k in _KINDS),
)
DECISION_FEATURES: tuple[str, ...] = ("bias", "share", "margin", *_DECISION_FROM_CANDIDATE)
_PICK = tuple(FEATURES.index(name) for name in _DECISION_FROM_CANDIDATE)


@dataclass(frozen=True, slots=True)
class Scorer:
    """Two fitted linear models: a ranking over candidates (softmax of rank_weights . features,
    one weight per FEATURES entry) and a found/not-found decision (logistic over
    DECISION_FEATURES) with its threshold, a probability."""

    rank_weights: tuple[float, ...]
    decision_weights: tuple[float, ...]
    threshold: float
    source: str  # what fitted them, e.g. "bench/qa_train.py on tune, 612 questions"

    def choose(self, features: list[list[float]]) -> tuple[int, float]:
        """(position of the best candidate, probability that answering with it is right)."""
        scores = [sum(w * f for w, f in zip(self.rank_weights, row, strict=True))
                  for row in features]
        top = max(scores)
        exps = [math.exp(max(-50.0, s - top)) for s in scores]
        total = sum(exps)
        shares = sorted((e / total for e in exps), reverse=True)
        best = scores.index(top)
        row = decision_row(features[best], shares[0], shares[0] - (shares[1]
                                                                    if len(shares) > 1 else 0))
        z = sum(w * f for w, f in zip(self.decision_weights, row, strict=True))
        return best, 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def decision_row(features: list[float], share: float, margin: float) -> list[float]:
    """The DECISION_FEATURES of a question answered with the candidate of `features`."""
    return [1.0, share, margin, *(features[i] for i in _PICK)]


WEIGHT_FILES = {False: "qa_weights.json", True: "qa_weights_embeddings.json"}


def load_scorer(embeddings: bool) -> Scorer | None:
    """The committed scorer for the lexical stages alone or with embeddings, from
    data/qa_weights*.json; None if absent or fitted for other features."""
    try:
        raw = (resources.files("briefbot") / "data" / WEIGHT_FILES[embeddings]).read_text("utf-8")
    except FileNotFoundError:
        return None
    data = json.loads(raw)
    if (tuple(data.get("features", ())) != FEATURES
            or tuple(data.get("decision_features", ())) != DECISION_FEATURES):
        return None  # fitted for other features: refit with bench/qa_train.py --write
    return Scorer(tuple(float(w) for w in data["rank_weights"]),
                  tuple(float(w) for w in data["decision_weights"]),
                  float(data["threshold"]), str(data.get("source", "")))


@dataclass(frozen=True, slots=True)
class Candidate:
    """One sentence considered for a question, with its feature values."""

    index: int
    features: list[float]


def candidates(q: Question, tagged: Tagged, bm25: list[float], covers: list[float],
               cosines: list[float] | None, rule_index: int | None, missing_share: float,
               name_terms: list[set[str]]) -> list[Candidate]:
    """The candidate sentences for `q` and their FEATURES, in sentence order.

    `bm25`/`covers` per sentence (lexical stage), `cosines` per sentence or None without
    embeddings, `rule_index` the sentence the rule stages cite (None if they did not answer from
    a sentence), `name_terms` the question's names as sets of article terms."""
    count = len(tagged.sentences)
    if not count:
        return []
    chosen: set[int] = set()
    by_bm25 = sorted(range(count), key=lambda i: -bm25[i])
    bm25_rank = {i: r for r, i in enumerate(by_bm25)}
    cos_rank: dict[int, int] = {}
    window = [0.0] * count
    if cosines is not None:
        cos_rank = {i: r for r, i in enumerate(sorted(range(count), key=lambda i: -cosines[i]))}
        for i in range(count):
            near = [cosines[j] for j in (i - 1, i + 1) if 0 <= j < count]
            window[i] = (cosines[i] + 0.5 * sum(near)) / (1 + 0.5 * len(near))
        mean = sum(cosines) / count
        spread = math.sqrt(sum((c - mean) ** 2 for c in cosines) / count) or 1.0
    chosen.update(i for i in by_bm25[:TOP_K] if bm25[i] > 0)
    if cosines is not None:
        chosen.update(sorted(range(count), key=lambda i: -cosines[i])[:TOP_K])
    if rule_index is not None:
        chosen.add(rule_index)
    if not chosen:
        return []
    best_bm25 = max(bm25) or 1.0
    top_bm25 = by_bm25[0]
    wanted = _WANTED.get(q.kind)
    kinds = [1.0 if q.kind == k else 0.0 for k in _KINDS]
    ordered = sorted(chosen)
    top_cos = max(ordered, key=lambda i: cosines[i]) if cosines is not None else -1
    out: list[Candidate] = []
    for i in ordered:
        sentence: Sentence = tagged.sentences[i]
        cos = cosines[i] if cosines is not None else 0.0
        others = [cosines[j] for j in ordered if j != i] if cosines is not None else []
        gap = cos - max(others) if others else 0.0
        typed = wanted is not None and any(
            e.kind in wanted and not _names_it(q, e) for e in sentence.entities)
        names = (sum(1 for terms in name_terms if terms & sentence.bag.keys()) / len(name_terms)
                 if name_terms else 1.0)
        features = [
            1.0,
            bm25[i] / best_bm25 if best_bm25 > 0 else 0.0,
            math.log1p(bm25[i]),
            covers[i],
            cos,
            gap,
            1.0 if i == top_cos else 0.0,
            1.0 / (1 + cos_rank[i]) if cosines is not None else 0.0,
            1.0 / (1 + bm25_rank[i]) if bm25[i] > 0 else 0.0,
            window[i],
            cos if typed else 0.0,
            (cos - mean) / spread if cosines is not None else 0.0,
            1.0 if i == top_bm25 and bm25[i] > 0 else 0.0,
            1.0 if i == rule_index else 0.0,
            1.0 if rule_index is not None and i != rule_index else 0.0,
            missing_share,
            1.0 if wanted is not None else 0.0,
            1.0 if typed else 0.0,
            min(sentence.cause, 2.0) if q.kind == WHY else 0.0,
            1.0 if q.kind == QUOTE and (sentence.quote or sentence.speech) else 0.0,
            names,
            1.0 / (1 + i),
            1.0 if cosines is None else 0.0,
            *kinds,
        ]
        out.append(Candidate(i, features))
    return out
