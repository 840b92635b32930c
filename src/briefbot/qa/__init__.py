"""Offline Q&A over articles: cited answers from per-article tables, or an honest "doesn't say".

Reading order for a newcomer: `answer` (what comes out), `words` and `questions` (what goes in),
`facts` (what an article is tagged with), `extract` (the typed fact in a sentence), `embed`
(sentence vectors), `rank` (candidate sentences, their features, the fitted scorer and decision),
`table` (one article's stages end to end), `index` (routing a question across articles).
The stages: question analysis (`questions.parse_question`) -> candidate sentences (BM25 and
embeddings, `table.candidate_features`) -> one fitted scorer ranking them and deciding found or
not (`rank.Scorer`, weights in data/qa_weights.json from bench/qa_train.py) -> the answer: the
typed span and the verbatim cited sentence (`answer`).
"""

from briefbot.qa.answer import MAX_ANSWER_CHARS, Answer
from briefbot.qa.index import QAIndex
from briefbot.qa.questions import MAX_QUESTION_CHARS
from briefbot.qa.table import QATable
from briefbot.qa.words import fold

__all__ = [
    "MAX_ANSWER_CHARS",
    "MAX_QUESTION_CHARS",
    "Answer",
    "QAIndex",
    "QATable",
    "fold",
]
