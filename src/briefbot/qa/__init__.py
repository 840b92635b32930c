"""Offline Q&A over articles: cited answers from per-article tables, or an honest "doesn't say".

Reading order for a newcomer: `answer` (what comes out), `words` and `questions` (what goes in),
`facts` (what an article is tagged with), `extract` and `table` (how an answer is chosen),
`decision` (the learned found/not-found gate), `index` (routing a question across articles).
"""

from briefbot.qa.answer import MAX_ANSWER_CHARS, Answer
from briefbot.qa.decision import DECISION_THRESHOLD, FEATURES, WEIGHTS
from briefbot.qa.index import QAIndex
from briefbot.qa.questions import MAX_QUESTION_CHARS
from briefbot.qa.table import QATable
from briefbot.qa.words import fold

__all__ = [
    "DECISION_THRESHOLD",
    "FEATURES",
    "MAX_ANSWER_CHARS",
    "MAX_QUESTION_CHARS",
    "WEIGHTS",
    "Answer",
    "QAIndex",
    "QATable",
    "fold",
]
