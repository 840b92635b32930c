"""The Q&A stages after the rules: sentence embeddings, the fitted scorer's ranking and veto."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from briefbot.articles import Article
from briefbot.qa import QATable, embed, rank, table
from test_qa import FERRY


def _scorer(**weights: float) -> rank.Scorer:
    """A scorer that ranks by the named features and always answers (threshold 0)."""
    return rank.Scorer(tuple(weights.get(f, 0.0) for f in rank.FEATURES),
                       (0.0,) * len(rank.DECISION_FEATURES), 0.0, "test")


@pytest.fixture()
def scorers(monkeypatch: pytest.MonkeyPatch) -> dict[bool, rank.Scorer | None]:
    """table.SCORERS, replaceable per test and restored after it."""
    replaced = dict(table.SCORERS)
    monkeypatch.setattr(table, "SCORERS", replaced)
    return replaced


def test_committed_weights_match_the_features_for_both_installs() -> None:
    """A feature added without rerunning bench/qa_train.py --write would switch the scorer off."""
    for embeddings in (False, True):
        scorer = rank.load_scorer(embeddings)
        assert scorer is not None, rank.WEIGHT_FILES[embeddings]
        assert len(scorer.rank_weights) == len(rank.FEATURES)
        assert len(scorer.decision_weights) == len(rank.DECISION_FEATURES)
        assert 0.0 < scorer.threshold < 1.0


def test_an_answer_the_scorer_rates_unlikely_is_declined(
        scorers: dict[bool, rank.Scorer | None]) -> None:
    question = "how much did the boats cost?"
    assert "48 million" in QATable(FERRY).answer(question).text
    for key in scorers:
        scorers[key] = rank.Scorer((0.0,) * len(rank.FEATURES),
                                   (0.0,) * len(rank.DECISION_FEATURES), 0.9, "test")
    reply = QATable(FERRY).answer(question)
    assert not reply.found and reply.text.startswith("The article doesn't say")


def test_the_scorer_may_cite_another_sentence_with_its_typed_fact(
        scorers: dict[bool, rank.Scorer | None]) -> None:
    """Ranked by position alone, "where" goes to the first sentence that names a place."""
    for key in scorers:
        scorers[key] = _scorer(type_present=5.0, position=-5.0)
    reply = QATable(FERRY).answer("where will the boats be built?")
    assert reply.found and reply.source is not None
    assert reply.source in FERRY.paragraphs[0] + " ".join(FERRY.paragraphs[1:])
    assert reply.fact is not None and reply.fact in reply.source


def test_editor_entries_and_bylines_skip_the_scorer(
        scorers: dict[bool, rank.Scorer | None]) -> None:
    for key in scorers:
        scorers[key] = rank.Scorer((0.0,) * len(rank.FEATURES),
                                   (0.0,) * len(rank.DECISION_FEATURES), 0.99, "test")
    assert QATable(FERRY).answer("who wrote this?").text == "By Priya Natarajan."


def test_without_embeddings_the_lexical_scorer_still_answers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embed, "_embedder", None)
    monkeypatch.setattr(embed, "_tried", True)
    reply = QATable(FERRY).answer("how much did the boats cost?")
    assert reply.found and "48 million" in reply.text


def test_embeddings_put_a_paraphrase_nearer_its_sentence_than_other_sentences() -> None:
    embedder = embed.get_embedder()
    assert embedder is not None, "the test install includes the embeddings extra"
    vectors = embedder.embed([
        "who attended the talks?",
        "The agreement followed high-level meetings involving Gen. Alexus Grynkewich.",
        "Diesel prices had doubled since 2022.",
    ])
    assert vectors.shape == (3, embed.DIMENSIONS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.1


def test_sentence_vectors_are_cached_as_int8_and_a_damaged_file_is_rebuilt(tmp_path) -> None:
    embedder = embed.get_embedder()
    assert embedder is not None
    cache = embed.VectorCache(tmp_path)
    texts = list(FERRY.paragraphs[:3])
    first = cache.vectors(embedder, texts)
    stored = list(tmp_path.glob("*.npy"))
    assert len(stored) == 1 and np.load(stored[0]).dtype == np.int8
    again = cache.vectors(embedder, texts)
    assert np.allclose(first, again, atol=0.02)
    stored[0].write_bytes(b"not a numpy file")
    assert np.allclose(cache.vectors(embedder, texts), first, atol=0.02)


GUN = Article(
    id="gun-case",
    title="PISTOL FOUND IN CAR",
    author="A. Writer",
    date=dt.date(2026, 3, 2),
    paragraphs=(
        "Police found a loaded .45-caliber pistol under the driver\u2019s seat, Lt. Sam Ortiz said.",
        "\u201cWe will appeal,\u201d said defence lawyer Dana Kim outside the court.",
        "The Muslim Brother\u00adhood denied any role in the shooting.",
    ),
    digest="gun-1",
)


def test_a_cited_sentence_keeps_its_spacing_before_a_decimal_point() -> None:
    reply = QATable(GUN).answer("what did police find under the seat?")
    assert reply.found and "loaded .45-caliber pistol" in reply.text


def test_invisible_soft_hyphens_are_dropped_from_answers() -> None:
    reply = QATable(GUN).answer("who denied any role?")
    assert reply.found and "Muslim Brotherhood" in reply.text and "\u00ad" not in reply.text


def test_a_quote_inside_the_cited_sentence_gets_single_marks_not_doubled_ones() -> None:
    reply = QATable(GUN).answer("what did the lawyer say?")
    assert reply.found and reply.quote is not None
    assert "\u201c\u201c" not in reply.text and '"' not in reply.text
    assert "\u2018We will appeal,\u2019 said defence lawyer Dana Kim" in reply.text


def test_suggestions_name_whole_people() -> None:
    suggestions = QATable(GUN).suggestions
    assert "What did Dana Kim say?" in suggestions
    assert not any(s.startswith("What did Brotherhood") for s in suggestions)
