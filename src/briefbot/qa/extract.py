"""Choosing the fact a cited sentence gives: the entity nearest the question's words, or a cause."""

from __future__ import annotations

import re

from briefbot.qa.facts import (
    _GENERIC_NAME_WORDS,
    _IMPLIED_START,
    _NAME_KINDS,
    _STARTS,
    Entity,
    Sentence,
)
from briefbot.qa.questions import HOWMUCH, WHEN, WHO, Question
from briefbot.qa.words import _NUMBER_WORDS, _STOPWORDS, _SYNONYMS, _TOKEN, _term, _word_terms


def _place_penalty(q: Question, sentence: Sentence, entity: Entity) -> int:
    """Named places before "in prison"; asked where from, the place after "from"."""
    penalty = 0 if any(c.isupper() for c in entity.text) else 4
    if q.words[-1:] == ("from",) and "from" not in sentence.words[max(0, entity.start - 6):
                                                                  entity.start]:
        penalty += 8
    return penalty


def _near(sentence: Sentence, entity: Entity, noun: str, window: int = 4) -> bool:
    """Whether `noun` (or its singular) is within a few words of the entity."""
    wanted = {_term(noun), _term(noun[:-1]) if noun.endswith("s") else _term(noun)}
    around = sentence.words[max(0, entity.start - window):entity.end + window]
    return any(_term(w) in wanted for w in around)


_RATE_ADJECTIVES = {"day": "daily", "week": "weekly", "month": "monthly", "year": "annual",
                    "hour": "hourly"}


def _per(sentence: Sentence, entity: Entity, unit: str) -> bool:
    """Whether the amount is given per `unit`: "$41 a share", "18 million a day", "weekly"."""
    after = sentence.words[entity.end:entity.end + 3]
    if unit in after or (unit + "s") in after:
        return True
    near = sentence.words[max(0, entity.start - 3):entity.end + 3]
    adjective = _RATE_ADJECTIVES.get(unit)
    return adjective is not None and (adjective in near or (unit == "year" and "annually" in near))


def _howmuch_order(q: Question) -> tuple[str, ...]:
    """The entity kinds that answer a how-much question, best first."""
    if q.measure == "money":
        return ("MONEY",)
    if q.measure == "mass":
        return ("MASS",)
    if q.measure == "age":
        return ("AGE",)
    if q.measure == "speed":
        return ("MEASURE",)
    if q.measure == "distance":
        return ("MEASURE", "DURATION")
    if q.many:
        return ("COUNT", "PERCENT")
    return ("MONEY", "PERCENT", "MEASURE", "MASS", "COUNT")


def _names_it(q: Question, entity: Entity) -> bool:
    """Whether the question already names this entity, so it cannot be the answer."""
    if entity.kind in _NAME_KINDS:
        return bool((entity.keys - _GENERIC_NAME_WORDS) & q.named) or entity.keys <= q.named
    return entity.keys <= q.named


_CLAUSE_WORDS = frozenset(
    "after before because while which but although though whereas until unless".split()
)


_NAMING = re.compile(r"\b(?:called|named|nicknamed|dubbed|known as|titled|branded)\s+[“\"‘']?"
                     r"((?:the )?[A-Z0-9][\w’'-]*(?:\s+[A-Z0-9][\w’'-]*){0,3})")


def _asks_name(q: Question) -> bool:
    """Whether the question asks what something is called."""
    return bool({"called", "named", "name", "nicknamed", "dubbed"} & set(q.words))


def _cause_word_index(sentence: Sentence) -> int:
    """The word position where the sentence's cause cue starts, or -1."""
    if sentence.cause_at < 0:
        return -1
    return len(_TOKEN.findall(sentence.text[:sentence.cause_at]))


def _clause_distance(words: list[str], anchor: int, entity: Entity) -> int:
    """Words between a question word and an entity, plus a clause's worth for each clause
    boundary between them ("closed on *Wednesday* after inspectors found cracks")."""
    if anchor < entity.start:
        low, high = anchor, entity.start
    else:
        low, high = entity.end - 1, anchor
    between = words[low + 1:high]
    return high - low + 6 * sum(1 for w in between if w in _CLAUSE_WORDS)


def _why_fact(sentence: Sentence) -> str | None:
    """The clause from the cause cue on ("because …"): the short fact of a why answer."""
    if sentence.cause_at < 0:
        return None
    rest = sentence.text[sentence.cause_at:]
    if re.match(r"(?:which|that|this) is why|that's why", rest):
        return None  # the reason came before the cue: the sentence itself is the answer
    clause = re.split(r"(?<!\b[a-zA-Z])\.(?=\s|$)|,(?=\s)|[;:—–!?“”\"]", rest, maxsplit=1)[0]
    clause = clause.strip().rstrip(".,;:")
    words = clause.split()
    if len(words) < 3:
        return None
    return " ".join(words[:16]) + ("…" if len(words) > 16 else "")


def _pick_entity(q: Question, sentence: Sentence, resolved: list[dict[str, float]],
                 wanted: tuple[str, ...]) -> tuple[Entity, int, int] | None:
    """The entity of a wanted type the question doesn't already name, nearest its words.

    Returns it with its rank among the wanted types and its distance in words."""
    anchors = [p for p, w in enumerate(sentence.words)
               if any(t in alts for alts in resolved for t in _word_terms(w))]
    best: tuple[float, Entity, int, int] | None = None
    for entity in sentence.entities:
        if entity.kind not in wanted or _names_it(q, entity):
            continue
        order = _howmuch_order(q) if q.kind == HOWMUCH else wanted
        if entity.kind not in order:
            continue
        if q.rate and not _per(sentence, entity, q.rate):
            continue  # asked how much a week, the amount is a one-off
        if q.focus and entity.kind == "COUNT" and not _counts_focus(q, sentence, entity):
            continue  # "how many homes": "4,500 residents" counts something else
        if q.focus and entity.kind == "PERCENT" and not _near(sentence, entity, q.focus):
            continue  # "how many landlords": "up 7 percent" is not a share of landlords
        rank = order.index(entity.kind)
        distance = min((_clause_distance(sentence.words, a, entity) for a in anchors),
                       default=12)
        if entity.kind == "PLACE":
            distance += _place_penalty(q, sentence, entity)
        if entity.kind == "DATE" and _IMPLIED_START.keys() & set(
                t for alts in resolved for t in alts) and _STARTS.search(sentence.text):
            # asked when it starts: "from May", not the Monday of the vote
            before = " ".join(sentence.words[max(0, entity.start - 2):entity.start])
            distance += 0 if re.search(r"\b(?:from|starting|effective|of|beginning)$",
                                       before) else 8
        if entity.kind == "AGE" and distance > 3:
            continue  # "Voss, 19," is Voss's age, not the age of the substitute after her
        # who: a person before an organisation; how much: money before a bare count
        score = rank * (3 if q.kind in (WHO, WHEN) else 12) + distance
        if best is None or score < best[0]:
            best = (score, entity, rank, distance)
    return (best[1], best[2], best[3]) if best else None

def _counts_focus(q: Question, sentence: Sentence, entity: Entity) -> bool:
    """Whether a count counts the noun asked about ("how many homes": "4,500 homes")."""
    counted = [w for w in entity.keys if not w[:1].isdigit() and w not in _NUMBER_WORDS]
    if not counted:
        return True  # a bare number: what it counts is said elsewhere
    # "6,200 drivers and maintenance workers": the counted noun may come a little later
    for word in sentence.words[entity.end:entity.end + 4]:
        if word in _STOPWORDS and word != "and":
            break  # "4,500 residents from their homes" counts residents, not homes
        counted.append(word)
    focus = _term(q.focus)
    wanted = {focus, *_SYNONYMS.get(focus, ())}
    if q.focus.endswith("s"):
        wanted.add(_term(q.focus[:-1]))
    return any(t in wanted for w in counted for t in _word_terms(w))

