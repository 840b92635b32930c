"""Question parsing: clean it, tell what kind of answer it wants, pick its content words."""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA

from briefbot.qa.words import (
    _CHAT_FILLER,
    _FRAME_VOCAB,
    _HOWMUCH_LIGHT,
    _LEAD_IN,
    _LEMMA_BASES,
    _LEMMAS,
    _LIGHT,
    _PHRASES,
    _QUESTION_FIXES,
    _ROLE_NOUNS,
    _ROLE_TERMS,
    _STOPWORDS,
    _TOKEN,
    _norm,
    _plausible_typo,
    _term,
)
from briefbot.text import strip_emoji

MAX_QUESTION_CHARS = 1000


WHO, WHAT, WHEN, WHERE, WHY, HOWMUCH, HOWLONG, HOW, QUOTE, YESNO, TALLY = (
    "who", "what", "when", "where", "why", "howmuch", "howlong", "how", "quote", "yesno", "tally",
)  # fmt: skip
AUTHOR, PUBLISHED = "author", "published"

_WANTED: dict[str, tuple[str, ...]] = {
    WHO: ("PERSON", "ORG"),
    WHEN: ("DATE",),
    WHERE: ("PLACE",),
    HOWMUCH: ("MONEY", "PERCENT", "MEASURE", "MASS", "COUNT", "AGE", "DURATION"),
    HOWLONG: ("DURATION", "DATE"),
    TALLY: ("TALLY",),
}


@dataclass(frozen=True, slots=True)
class Slot:
    """One content word of a question that an answer must speak to."""

    word: str
    term: str
    position: int


@dataclass(frozen=True, slots=True)
class Question:
    """A parsed question: its kind, the words an answer must speak to, and what narrows it."""

    raw: str
    words: tuple[str, ...]
    kind: str
    slots: tuple[Slot, ...]
    role_slots: tuple[Slot, ...]  # "who is the union leader" -> union, leader
    named: frozenset[str]  # every word of the question, to tell which entities it already names
    many: bool  # "how many" rather than "how much"
    measure: str = ""  # how much: "money" (cost, worth, earn…), "mass" (weigh), or "" for any
    focus: str = ""  # how many <noun>: the noun a count must be counting
    dropped: tuple[Slot, ...] = ()  # a verb not in the article, skipped: be stricter elsewhere
    rate: str = ""  # "how much a week": the unit an amount must be given per

    @property
    def loose(self) -> bool:
        """Whether a question word was skipped, so the answer must meet stricter tests."""
        return bool(self.dropped)


def _clean(question: str) -> str:
    """The question as plain text: bounded, tags and control characters and emoji removed."""
    text = question[:MAX_QUESTION_CHARS]
    text = re.sub(r"<[^<>]{0,200}>", " ", text)
    text = html.unescape(text)
    text = re.sub(r"(?<![\w@])@\w{1,64}", " ", text)  # "@briefbot", "@everyone": who, not what
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)
    return " ".join(strip_emoji(text).split())


def _fix_frame_word(word: str) -> str:
    """Repair a typo in a word that frames the question ("wher" -> "where"), not in its topic."""
    if word in _STOPWORDS or word in _LIGHT or len(word) < 4 or word[:1].isdigit():
        return word
    hit = process.extractOne(word, _FRAME_VOCAB, scorer=OSA.distance, score_cutoff=1)
    return hit[0] if hit is not None and _plausible_typo(word, hit[0]) else word


def _classify(words: list[str]) -> tuple[str, bool]:
    """The question's kind (WHO, HOWMUCH, …) and whether it asks "how many"."""
    s = " ".join(words)
    first = words[0] if words else ""
    if re.search(r"\bwho (wrote|writes|authored|penned|reported)\b|\bauthor\b|\bwritten by\b"
                 r"|\bbyline\b|\bwhose (article|story|piece)\b"
                 r"|\bwho is the (writer|reporter)\b", s):
        return AUTHOR, False
    if (re.search(r"\b(publish|published|publication|posted|dated)\b", s)
            and first not in ("where", "who", "why", "how")) or re.search(
        r"\b(date|day) (of|is|was) (this|the) (article|story|piece|post|report)\b"
        r"|\bwhen (was|is) (this|the) (article|story|piece|post|report)\b"
        r"|\bhow old is (this|the) (article|story|piece|news)\b"
        r"|\bwhen was (this|it) written\b", s):
        return PUBLISHED, False
    if m := re.search(r"\bhow (much|many)\b", s):
        return HOWMUCH, m.group(1) == "many"
    if re.search(r"\b(what|which) (is|was|are|were) (the )?(?:[\w'-]+ ){0,3}?(price|cost|amount"
                 r"|fee|number|total|figure|percentage|value|sum|rate)s?\b"
                 r"(?! of (?:the )?vote)", s):
        return HOWMUCH, False
    if re.search(r"\bhow (big|large|tall|high|heavy|deep|wide|far|fast|severe|bad|serious|old)\b",
                 s):
        return HOWMUCH, False
    if re.search(r"\bhow (long|soon)\b", s):
        return HOWLONG, False
    if first == "why" or re.search(r"\bwhy\b|\bwhat (caused|led|prompted|triggered)\b|\breasons?\b"
                                   r"|\bcause\b|\bwhat for\b", s):
        return WHY, False
    if re.search(r"\b(say|said|says|tell|told|quote|comment|think|thinks)\b", s) and first in (
        "what", "how", "did", "does", "anything", "quote"
    ):
        return QUOTE, False
    if first == "when" or re.search(r"\bwhen\b|\b(what|which) (day|date|time|year|month|week"
                                    r"|weekday|hour)\b", s):
        return WHEN, False
    if first == "where" or re.search(r"\bwhere\b|\b(what|which) (country|city|place|region|town"
                                     r"|venue|stadium|area|state|continent|location|site|street"
                                     r"|ground)\b", s):
        return WHERE, False
    if first in ("who", "whom", "whose") or re.search(
        r"\bwho\b|\b(which|what) (person|man|woman|general|official|player|company|team|club"
        r"|group|organisation|organization|firm|people)\b|\bname of\b", s):
        return WHO, False
    if re.search(r"\b(score|scoreline|vote|votes|voted|voting|ballot|tally)\b", s) and (
            first in ("how", "what", "whats") and not re.search(r"\bhow (much|many)\b", s)):
        return TALLY, False  # "how did the vote go", "what's the score"
    if first == "how":
        return HOW, False
    if first in ("does", "do", "did", "is", "are", "was", "were", "can", "will", "would", "has",
                 "have", "could", "should"):
        return YESNO, False
    return WHAT, False


def parse_question(question: str) -> Question:
    """Clean, repair and classify a question, and pick the words an answer must speak to."""
    text = _clean(question).replace("’", "'")
    text = re.sub(r"(?i)\b(who|what|where|when|how|why|it|that|there)'s\b", r"\1 is", text)
    text = re.sub(r"(?i)n't\b", " not", text)
    text = re.sub(r"(?i)'re\b", " are", text)
    text = re.sub(r"(?i)\b(who|what|where|when|how|why)'d\b", r"\1 did", text)
    text = _IDIOMS.sub(" ", text)
    words: list[str] = []
    for raw in _TOKEN.findall(text):
        word = _norm(raw)
        if word in _CHAT_FILLER and words:  # "lol", "rn": chat filler, never the topic
            continue
        if word in _LEAD_IN and not words:  # "wait who's the cfo": the question starts later
            continue
        for piece in _QUESTION_FIXES.get(word, word).split():
            words.append(_fix_frame_word(piece))
    kind, many = _classify(words)
    light = _LIGHT | (_HOWMUCH_LIGHT if kind == HOWMUCH else frozenset())
    slots = [
        Slot(word, _term(word), i)
        for i, word in enumerate(words)
        if (word not in _STOPWORDS and word not in light and len(word) > 1) or word[:1].isdigit()
        or (kind == WHO and i == 1 and words[0] == "who" and word in _WHO_VERBS)
    ]
    # "get to", "call off": two words that together mean what one article word says
    for i in range(len(words) - 1):
        for group in _PHRASES.get((_term(words[i]), _term(words[i + 1])), ()):
            slots = [s for s in slots if s.position not in (i, i + 1)]
            slots.append(Slot(f"{words[i]} {words[i + 1]}", group, i))
    if not slots:
        # "where was the count": a frame noun is all the question has, so it must be found
        slots = [Slot(w, _term(w), i) for i, w in enumerate(words) if w in _LIGHT_NOUNS]
    measure = focus = rate = ""
    if kind == HOWMUCH:
        plain = " ".join(words)
        if per := re.search(r"\b(?:a|an|per|each|every) (day|week|month|year|hour|share|head"
                            r"|person|night|ticket|game|season)\b", plain):
            rate = per.group(1)
        if any(w in _MONEY_CUES for w in words) or re.fullmatch(
                r"how much (?:is|are|was|were) (?:the |a |an |it|they|this|that)?[\w-]*"
                r"(?: [\w-]+)?",
                plain):
            measure = "money"
        elif any(w in _MASS_CUES for w in words):
            measure = "mass"
        elif m := re.search(r"\bhow (fast|far|old)\b", plain):
            measure = {"fast": "speed", "far": "distance", "old": "age"}[m.group(1)]
        if many and (at := plain.find("how many ")) >= 0:
            after = plain[at + 9:].split()
            head = after[0] if after else ""
            if head and head not in _STOPWORDS and head not in _LIGHT and not _verb_like(
                    words, words.index(head, 2) if head in words[2:] else 2):
                focus = head
    role_slots: tuple[Slot, ...] = ()
    if kind == WHO:
        # "who is the union leader" / "name of the russian general at the talks": the noun phrase
        # before any preposition, when it ends in a role noun, must describe the person.
        s = " ".join(words)
        m = re.search(r"\b(?:who (?:is|was|are|were)|name of) (?:the |a |an )?((?:[\w'-]+ ){0,3}"
                      r"[\w'-]+)", s)
        if m:
            phrase = m.group(1).split()
            cut = next((i for i, w in enumerate(phrase) if w in _STOPWORDS), len(phrase))
            phrase = phrase[:cut]
            if phrase and (phrase[-1] in _ROLE_NOUNS or _term(phrase[-1]) in _ROLE_TERMS):
                role_slots = tuple(s for s in slots if s.word in phrase)
    return Question(
        raw=question, words=tuple(words), kind=kind, slots=tuple(slots), role_slots=role_slots,
        named=frozenset(words), many=many, measure=measure, focus=focus, rate=rate,
    )


_EXCLUDING = frozenset("besides except excluding apart aside beyond".split())
_BE_HAVE = frozenset("is was are were has have had will".split())
# frame verbs that, right after "who", are the question ("who led the study")
_WHO_VERBS = frozenset("led lead leads caused causes held holds called calls".split())
_AUXILIARIES = frozenset("do does did will would can could should may might has have had".split())
_SUBJECTS = frozenset("he she they it we i you who to not".split()) | _AUXILIARIES


def _verb_like(words: list[str] | tuple[str, ...], position: int) -> bool:
    """A guess, without a tagger, that a question word is its verb ("why did she *cancel*")."""
    if position >= len(words):
        return False
    word = words[position]
    if word in _LEMMAS or word in _LEMMA_BASES:
        return True
    if len(word) > 5 and (word.endswith("ed") or word.endswith("ing")):
        return True
    if position > 0 and words[position - 1] in _SUBJECTS:
        return True
    # "when do pre-orders close": after wh + auxiliary, the last word is the verb
    return position == len(words) - 1 and len(words) > 2 and words[1] in _AUXILIARIES


# Frame nouns kept when a question has nothing else ("where was the count").
_LIGHT_NOUNS = frozenset(
    "count total figure amount number result outcome reason cause purpose date day time year month "
    "week place venue location area region city town country person man woman name".split()
)
_MONEY_CUES = frozenset(
    "cost costs costing price priced worth spend spent pay paid pays paying fee fees charge "
    "charged earn earns earned earning salary wage wages money budget afford fund funding funded "
    "dollars euros pounds cash".split()
)
_MASS_CUES = frozenset("weigh weighs weighed weight heavy heavier".split())
# "what song did she play": the noun after what/which names the kind of answer, not its topic.
_CATEGORY_POSITION = frozenset(("what", "which"))
# Idioms whose words would otherwise be taken literally ("a big deal" is not an agreement).
_IDIOMS = re.compile(
    r"(?i)\b(?:such a big deal|a big deal|big deal|a lot of|at all|in the world)\b"
)
