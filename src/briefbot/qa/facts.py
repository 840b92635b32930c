"""Sentences and their typed facts: the tagger for people, places, dates, amounts, causes."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from briefbot.qa.words import (
    _ANAPHORS,
    _LIGHT,
    _NAME_CONNECTORS,
    _NUMBER_WORDS,
    _ORG_NOUNS,
    _ORG_WORDS,
    _PLACE_ACRONYMS,
    _PLACE_PREFIXES,
    _PLACE_PREPOSITIONS,
    _PLACE_SUFFIXES,
    _PLACES,
    _ROLE_NOUNS,
    _ROLE_TERMS,
    _SPEECH,
    _STOPWORDS,
    _TITLE_WORDS,
    _TITLES,
    _bag,
    _norm,
    _term,
    _words,
)

_MONTHS = (r"January|February|March|April|May|June|July|August|September|October|November"
           r"|December|Jan\.|Feb\.|Mar\.|Apr\.|Jun\.|Jul\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.")
_WEEKDAYS = r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_NUM = r"\d[\d,]*(?:\.\d+)?"
_SCALE = r"(?:\s?(?:million|billion|trillion|thousand|bn|m|k)\b)?"
_CURRENCY = (r"euros?|dollars?|pounds?|yen|yuan|francs?|rupees?|pesos?|rubles?|roubles?|cents?"
             r"|pence|krona|kronor|krone|rand|lira|dinars?|dirhams?|riyals?|shekels?|reais|real")
_NUMBER_WORD_RE = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen"
                   r"|twenty|thirty|forty|fifty|a hundred|hundreds|dozens|several|a few|a dozen")

_PLACE_SUFFIXES_TEXT = (
    "street road avenue square bridge park stadium airport station harbour harbor river lake "
    "island valley county province district hall yard depots depot lane boulevard quay pier "
    "beach coast bay arena plaza docks port canal tower palace castle cathedral embassy "
    "headquarters hospital school church mosque temple court courthouse prison base camp "
    "village town city capital border tunnel crossing centre center theatre theater museum "
    "library hotel terminal"
).split()

_ENTITY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("AGE", re.compile(r"\b\d{1,3}-year-old\b|\baged \d{1,3}\b"
                       r"|[A-Z][\w’'-]+, (\d{1,3}),")),  # "Voss, 19, struck"
    ("TALLY", re.compile(rf"\b(?:\d{{1,3}}|{_NUMBER_WORD_RE}) votes? to "
                         rf"(?:\d{{1,3}}|{_NUMBER_WORD_RE})\b"
                         r"|\b\d{1,3}-\d{1,3}\b(?![-\w])|\bunanimous(?:ly)?\b")),
    ("MONEY", re.compile(rf"[$€£¥]\s?{_NUM}{_SCALE}|\b{_NUM}\s?(?:million|billion|trillion"
                         rf"|thousand)?\s?(?:{_CURRENCY})\b")),
    ("PERCENT", re.compile(rf"\b{_NUM}\s?(?:%|percent\b|per cent\b|percentage points?\b"
                           r"|points?\b|basis points\b)|\b(?:half|a quarter|three quarters)"
                           r"(?: of)? a (?:percentage )?point\b"
                           r"|\b(?:a )?(?:quarter|half)-point\b")),
    ("DATE", re.compile(rf"\b(?:(?:early|late|mid|last|next|this)[- ])?(?:{_MONTHS})"
                        rf"(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+\d{{4}})?(?![\w])"
                        rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})(?:,?\s+\d{{4}})?"
                        rf"|\b(?:(?:last|next|this|on|early|late) )?(?:{_WEEKDAYS})(?:\s+(?:morning"
                        r"|afternoon|evening|night))?\b"
                        r"|\b\d{1,2}:\d{2}(?:\s*(?:a\.m\.|p\.m\.|am\b|pm\b))?(?:\s+local time)?"
                        r"|\b\d{1,2}(?:\.\d{2})?\s*(?:a\.m\.|p\.m\.)"
                        r"|(?<![\d$€£,.])(?:1[89]\d\d|20\d\d)s?(?![\d,.]\d|\s*(?:million|billion"
                        r"|percent|%|euros?|dollars?))\b"
                        r"|(?i:\b(?:midnight|noon|midday|today|yesterday|tomorrow|tonight"
                        r"|(?:last|next|this) (?:week|month|year|season|summer|spring|autumn|fall"
                        r"|winter|term|weekend|night|morning)"
                        r"|earlier this (?:week|month|year)"
                        r"|(?:the )?(?:first|second) half of (?:the|this|next) year"
                        r"|(?:the )?(?:first|second|third|fourth) quarter"
                        r"(?: of (?:the|this|next) year)?"
                        r"|(?:the )?end of (?:the|this|next) (?:year|month|decade))\b)")),
    ("PLACE", re.compile(r"(?i:\b(?:at|in|outside|near|inside|from) )"
                         r"((?:the |all |a |an |its |their "
                         r"|his |her |every )?(?:[\w’'-]+ ){0,3}?(?:"
                         + "|".join(sorted(_PLACE_SUFFIXES_TEXT)) + r"))\b")),
    ("MASS", re.compile(rf"\b{_NUM}\s?(?:million |billion |thousand )?(?:kilograms?|kg|grams?"
                        r"|g|tonnes?|tons?|lbs?|ounces?|oz)\b")),
    ("MEASURE", re.compile(rf"\b{_NUM}\s?(?:million |billion |thousand )?(?:millimetres?"
                           r"|millimeters?|mm|centimetres?|centimeters?|cm|metres?|meters?|m|kilometres?|kilometers?"
                           r"|km|miles?|feet|foot|ft|inches?|litres?|liters?|gallons?|barrels?"
                           r"|gigabytes?|terabytes?|megabytes?|GB|TB|MB|megawatts?|gigawatts?|MW|GW"
                           r"|kWh|hectares?|acres?|degrees?|square (?:metres|meters|miles|feet|km)"
                           r"|mph|km/h|kph|knots)"
                           r"\b")),
    ("DURATION", re.compile(rf"(?i:\b(?:for |over |within |after )?"
                            rf"(?:{_NUM}|a|an|{_NUMBER_WORD_RE})"
                            r"[- ](?:years?|months?|weeks?|days?|hours?|minutes?|decades?|seasons?)"
                            r"\b|\bfor (?:years|decades|months|weeks|days|hours)\b)")),
)
_PATTERN_GUARDS: dict[str, Callable[[str], bool]] = {
    "AGE": lambda t: "year-old" in t or "aged " in t or any(", " + d in t for d in "123456789"),
    "TALLY": lambda t: "vote" in t or "unanim" in t or "-" in t,
}
# "to recover" after a clause is a purpose; after "willing", "due", "prior" it is not.
_NOT_PURPOSE = (
    "prior due next close up according compared thanks owing addition from willing able likely "
    "unlikely expected set going want wants wanted need needs needed plan plans planned agreed "
    "agree decided asked urged hope hopes hoped tried try tries began begin started continue "
    "continued refused failed allowed used seems seemed appears appeared ready keen eager "
    "forced invited told has have had is are was were how what where when whether which who"
).split()
_PURPOSE_TO = re.compile(r"(?<![\w’'])(?!(?:" + "|".join(_NOT_PURPOSE) + r") )[\w’']+ to "
                         r"(?!the\b|a\b|an\b|be\b|its\b|their\b|his\b|her\b|this\b|that\b)"
                         r"[a-z]{3,}\b")
_CAUSES: tuple[tuple[re.Pattern[str], float], ...] = (
    (re.compile(r"\b(?:because|due to|owing to|as a result of|in order to|so that|aimed at"
                r"|designed to|meant to|warning that|caused by|led to|which led|thanks to"
                r"|in response to|prompted|the reason|fears? (?:that|of)|at the heart of"
                r"|in protest|to protest|over concerns?|after concerns?|driven by|fu?ell?ed by"
                r"|evidence points to|points to|pointing to|attributed to|stems? from|because of"
                r"|the result of|(?:which|that|this) is why|that's why"
                r"|(?:triggered|sparked|set off|brought on|forced) (?:by|when)"
                r"|(?:resigned|quit|anger|fury|outrage|row|dispute|concerns?|fears?|protests?)"
                r" over)\b"), 1.0),
    (re.compile(r"\b(?:to (?:reduce|prevent|avoid|help|support|protect|cut|boost|ease|curb|stop"
                r"|fund|pay|cover|find|improve|limit|restore|tackle)|could help|would help"
                r"|will help|can help|followed (?:a|an|the)|blamed|for (?!\w+ing (?:the|a|an) "
                r"(?:first|last|second|next))[a-z]+ing"
                r"|helps?|so as to|on suspicion of|blamed (?:on|for)|started by"
                r"|by \w+ing)\b"), 0.7),
    (_PURPOSE_TO, 0.5),
    # "after one full school year" is a time, not a reason
    (re.compile(r"\b(?:after(?!\s+(?:[\w-]+\s+){0,3}?(?:years?|months?|weeks?|days?|hours?"
                r"|minutes?|midnight|noon|monday|tuesday|wednesday|thursday|friday|saturday"
                r"|sunday)\b)|since|amid|following|as|given|with)\b"), 0.4),
)
_QUOTE_MARK = re.compile(r"[“”\"]")


@dataclass(slots=True)
class Entity:
    """A typed fact found in a sentence: a person, organisation, place, date, amount, …"""

    kind: str
    text: str
    start: int  # token positions [start, end)
    end: int
    keys: frozenset[str]  # its words, normalised
    descriptor: str = ""  # people: title, role words and appositive ("NATO's top commander")
    desc_terms: frozenset[str] = frozenset()


@dataclass(slots=True)
class Sentence:
    """One article sentence: its words, term bag, typed facts and cues (cause, quote, speech)."""

    index: int
    text: str
    words: list[str]
    bag: Counter[str]
    entities: list[Entity]
    cause: float = 0.0
    cause_at: int = -1
    quote: bool = False
    speech: bool = False
    anaphoric: bool = False


@dataclass(slots=True)
class Tagged:
    """Per-article analysis, built on first use (routing needs only the vocabulary)."""

    sentences: list[Sentence]
    people: dict[str, Entity]  # full name -> first mention with the richest descriptor
    name_terms: frozenset[str] = frozenset()  # the distinctive words of the article's names
    entities_with: dict[str, list[Entity]] = field(default_factory=dict)  # name term -> names


_NAME_KINDS = frozenset(("PERSON", "ORG", "PLACE", "THING"))
_GENERIC_NAME_WORDS = (
    _STOPWORDS | _TITLES.keys() | _ROLE_NOUNS | _ORG_WORDS | _PLACE_SUFFIXES
)


_DATE_WORDS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april may "
    "june july august september october november december today yesterday tomorrow".split()
)


def _strip_title(name: str) -> str:
    """A name without leading titles or roles: "Gen. Alexus Grynkewich" -> "Alexus Grynkewich"."""
    parts = name.split()
    while len(parts) > 1 and (_norm(parts[0]) in _TITLES or _norm(parts[0]) in _ROLE_NOUNS):
        parts = parts[1:]
    return " ".join(parts)


# "phones banned from January", "takes effect on April 1": a sentence that says when a thing starts
_STARTS = re.compile(rf"\b(?:from|starting|effective|as of|beginning)\s+(?:early |late |mid-|next "
                     rf"|this )?(?:{_MONTHS}|{_WEEKDAYS}|(?:19|20)\d\d\b)"
                     r"|\b(?:takes?|took|taking) effect\b|\bcomes? into (?:force|effect)\b")
_IMPLIED_START = _bag(["start"])


def tag_article(texts: list[str], token_lists: list[list[re.Match[str]]],
                words: list[list[str]], bags: list[Counter[str]]) -> Tagged:
    """Tag every sentence (twice, so a surname met alone is known as a person) and index names."""
    # Words written with a capital in mid-sentence somewhere: names, not sentence openers.
    capitalised: set[str] = set()
    for tokens in token_lists:
        for m in tokens[1:]:
            if m.group()[:1].isupper():
                capitalised.add(_norm(m.group()))
    sentences: list[Sentence] = []
    people: dict[str, Entity] = {}
    known_people: set[str] = set()
    for pass_number in (0, 1):
        sentences = []
        for index, text in enumerate(texts):
            sentence = _tag_sentence(index, text, token_lists[index], words[index], bags[index],
                                     capitalised, known_people)
            sentences.append(sentence)
        if pass_number == 0:
            for sentence in sentences:
                for entity in sentence.entities:
                    if entity.kind == "PERSON" and len(entity.keys) >= 2:
                        known_people |= {k for k in entity.keys if k not in _TITLES
                                         and k not in _ROLE_NOUNS}
    for sentence in sentences:
        for entity in sentence.entities:
            if entity.kind != "PERSON" or len(entity.keys - _TITLES.keys() - _ROLE_NOUNS) < 2:
                continue
            key = _strip_title(entity.text)
            held = people.get(key)
            if held is None or len(entity.desc_terms) > len(held.desc_terms):
                people[key] = entity
    # Single-name mentions ("Rusk told reporters") borrow the full name's description.
    for sentence in sentences:
        for entity in sentence.entities:
            if entity.kind == "PERSON" and not entity.desc_terms:
                for person in people.values():
                    if entity.keys <= person.keys:
                        entity.desc_terms = person.desc_terms
                        entity.descriptor = person.descriptor
                        break
    entities_with: dict[str, list[Entity]] = defaultdict(list)
    for sentence in sentences:
        for entity in sentence.entities:
            if entity.kind not in _NAME_KINDS:
                continue
            for key in entity.keys - _GENERIC_NAME_WORDS:
                if not key[:1].isdigit() and key not in _DATE_WORDS:
                    entities_with[_term(key)].append(entity)
    return Tagged(sentences=sentences, people=people, name_terms=frozenset(entities_with),
                  entities_with=dict(entities_with))


def _tag_sentence(index: int, text: str, tokens: list[re.Match[str]], words: list[str],
                  bag: Counter[str], capitalised: set[str], known_people: set[str]) -> Sentence:
    """One sentence's typed facts (patterns, then counts, then capitalised names) and cues."""
    starts = [m.start() for m in tokens]
    taken = [False] * len(tokens)
    entities: list[Entity] = []

    def to_tokens(begin: int, end: int) -> tuple[int, int]:
        first = bisect_right(starts, begin - 1)
        last = bisect_right(starts, end - 1)
        return first, max(last, first + 1)

    for kind, pattern in _ENTITY_PATTERNS:
        guard = _PATTERN_GUARDS.get(kind)
        if guard is not None and not guard(text):
            continue  # a substring test is far cheaper than scanning every sentence
        for m in pattern.finditer(text):
            group = 1 if m.lastindex else 0
            found = m.group(group).strip()
            if not found or not any(c.isalnum() for c in found):
                continue
            begin = m.start(group) + (len(m.group(group)) - len(m.group(group).lstrip()))
            a, b = to_tokens(begin, begin + len(found))
            if a >= len(tokens) or any(taken[a:b]):
                continue
            for i in range(a, b):
                taken[i] = True
            if kind == "DATE":
                found = re.sub(r"^(?:on|in|at) ", "", found, flags=re.I)
            entities.append(Entity(kind, found, a, b, frozenset(words[a:b])))
    entities.extend(_counts(text, tokens, words, taken))
    entities.extend(_names(text, tokens, words, taken, capitalised, known_people))
    entities.sort(key=lambda e: e.start)
    lower = text.lower()
    cause, cause_at = 0.0, -1
    for pattern, strength in _CAUSES:
        # "to recover": a purpose only when a lower-case verb follows ("to Russia" is no cause)
        hit = pattern.search(text if pattern is _PURPOSE_TO else lower)
        if hit:
            cause, cause_at = strength, hit.start()
            if pattern is _PURPOSE_TO:
                cause_at = text.index(" to ", cause_at) + 1
            break
    first = words[0] if words else ""
    return Sentence(
        index=index, text=text, words=words, bag=bag,
        entities=entities, cause=cause, cause_at=cause_at,
        quote=bool(_QUOTE_MARK.search(text)),
        speech=any(w in _SPEECH for w in words),
        anaphoric=first in _ANAPHORS,
    )


def _counts(text: str, tokens: list[re.Match[str]], words: list[str],
            taken: list[bool]) -> list[Entity]:
    """Numbers with what they count: "6,200 drivers", "five bus depots", "5-2"."""
    found: list[Entity] = []
    i = 0
    while i < len(tokens):
        word = words[i]
        is_number = word[:1].isdigit() or (word in _NUMBER_WORDS and word != "one")
        if taken[i] or not is_number:
            i += 1
            continue
        start = i
        end = i + 1
        # "5-2" votes and scores
        glued = end < len(tokens) and text[tokens[i].end():tokens[end].start()] == "-"
        if glued and words[end][:1].isdigit():
            end += 1
        else:
            while (end < len(tokens) and end - start < 3 and not taken[end]
                   and words[end] not in _STOPWORDS and tokens[end].group()[:1].islower()
                   and text[tokens[end - 1].end():tokens[end].start()] in (" ", "-")):
                end += 1
            if end == start + 1 and (not word[:1].isdigit() or (
                    start > 0 and tokens[start - 1].group()[:1].isupper())):
                i += 1
                continue
        begin = tokens[start].start()
        lead = re.search(r"(?:about|around|roughly|nearly|almost|more than|over|some|at least"
                         r"|up to|just|only) $", text[max(0, begin - 12):begin])
        if lead:
            begin -= len(lead.group())
        for j in range(start, end):
            taken[j] = True
        found.append(Entity("COUNT", text[begin:tokens[end - 1].end()], start, end,
                            frozenset(words[start:end])))
        i = end
    return found


def _names(text: str, tokens: list[re.Match[str]], words: list[str], taken: list[bool],
           capitalised: set[str], known_people: set[str]) -> list[Entity]:
    """Capitalised phrases, typed as people, organisations, places or other names."""
    found: list[Entity] = []
    n = len(tokens)
    i = 0
    while i < n:
        raw = tokens[i].group()
        if taken[i] or not raw[:1].isupper():
            i += 1
            continue
        j = i + 1
        while j < n and not taken[j]:
            gap = text[tokens[j - 1].end():tokens[j].start()]
            nxt = tokens[j].group()
            plural_possessive = gap in ("' ", "’ ") and words[j - 1].endswith("s")
            if (gap not in (" ", "-", ". ") and not plural_possessive) or (
                    gap == ". " and words[j - 1] not in _TITLES):
                break  # "the Farmers' Union" is one name
            if nxt[:1].isupper():
                j += 1
                continue
            if (words[j] in _NAME_CONNECTORS and j + 1 < n and tokens[j + 1].group()[:1].isupper()
                    and text[tokens[j].end():tokens[j + 1].start()] == " "):
                j += 2
                continue
            break
        start = i
        lead_in = text[max(0, tokens[start].start() - 2):tokens[start].start()].strip()
        opener = start == 0 or lead_in in ("“", '"', "‘", "(")
        # A capital at the start of a sentence or quotation proves nothing.
        while start < j and opener and (
            words[start] in _STOPWORDS or words[start] in _LIGHT
            or (j - start == 1 and words[start] not in capitalised
                and words[start] not in known_people and words[start] not in _PLACES
                and not tokens[start].group().isupper())
            or (words[start] not in capitalised and words[start] not in known_people
                and words[start] not in _TITLES and words[start] not in _TITLE_WORDS
                and words[start] not in _PLACES and j - start > 1
                and tokens[start + 1].group()[:1].isupper() is False)
        ):
            start += 1
            opener = False
        if start >= j:
            i = j
            continue
        entity = _classify_name(text, tokens, words, start, j, known_people)
        if entity is not None:
            found.append(entity)
        i = j
    return found


def _classify_name(text: str, tokens: list[re.Match[str]], words: list[str], start: int, end: int,
                   known_people: set[str]) -> Entity | None:
    """Type a capitalised phrase as a place, person, organisation, or other name (THING)."""
    names = words[start:end]
    phrase = text[tokens[start].start():tokens[end - 1].end()]
    keys = frozenset(names)
    back = start - 1
    while back > 0 and words[back] in ("the", "a", "an", "its", "their", "all"):
        back -= 1
    before = words[back] if back >= 0 else ""
    joined = " ".join(names)
    titles = 0
    while titles < len(names) - 1 and (names[titles] in _TITLES or names[titles] in _ROLE_NOUNS):
        titles += 1
    core = names[titles:]
    if joined in _PLACES or " ".join(core) in _PLACES:
        return Entity("PLACE", phrase, start, end, keys)
    if titles and not (set(core) & _ORG_WORDS) and core[-1] not in _PLACE_SUFFIXES:
        return _person(text, tokens, words, start, end, titles)
    acronym = (len(names) == 1 and tokens[start].group().isupper() and len(names[0]) >= 2
               and names[0] not in _PLACE_ACRONYMS)
    if set(names) & _ORG_WORDS or before in _ORG_NOUNS or acronym:
        return Entity("ORG", phrase, start, end, keys)
    if (names[-1] in _PLACE_SUFFIXES or names[0] in _PLACE_PREFIXES
            or names[0] in _PLACE_ACRONYMS):
        following = _place_tail(text, tokens, words, end)
        return Entity("PLACE", text[tokens[start].start():tokens[following - 1].end()], start,
                      following, keys)
    if before in _PLACE_PREPOSITIONS and not (keys & known_people):
        following = _place_tail(text, tokens, words, end)
        return Entity("PLACE", text[tokens[start].start():tokens[following - 1].end()], start,
                      following, keys)
    if len(names) >= 2 or keys & known_people:
        return _person(text, tokens, words, start, end, 0)
    return Entity("THING", phrase, start, end, keys)


def _place_tail(text: str, tokens: list[re.Match[str]], words: list[str], end: int) -> int:
    """"Northgate tram yard": lower-case place words that finish a capitalised place name."""
    j = end
    while j < len(tokens) and j - end < 2 and text[tokens[j - 1].end():tokens[j].start()] == " ":
        if words[j] in _PLACE_SUFFIXES:
            return j + 1
        if words[j] in _STOPWORDS or not tokens[j].group()[:1].islower():
            break
        j += 1
    return end


def _person(text: str, tokens: list[re.Match[str]], words: list[str], start: int, end: int,
            titles: int) -> Entity:
    """A person, with what the sentence says they are: title, role words, appositive."""
    described: list[str] = [tokens[k].group() for k in range(start, start + titles)]
    # role words just before the name: "Union president Delphine Rusk", "striker Luka Ferreyra"
    k = start - 1
    role: list[str] = []
    while k >= 0 and start - k <= 3 and text[tokens[k].end():tokens[k + 1].start()] == " ":
        if words[k] in _STOPWORDS or words[k] in _SPEECH:
            break
        role.insert(0, tokens[k].group())
        k -= 1
    if role and not any(_term(w.lower()) in _ROLE_TERMS or w.lower() in _ROLE_NOUNS for w in role):
        role = []
    described = role + described
    appositive = ""
    after = text[tokens[end - 1].end():]
    m = re.match(r",\s+((?:the|a|an|its|their|his|her|who|of|[A-Z][\w’'.-]*[’']s)"
                 r"\b[^,;.—–“”\"]{2,80})", after)
    if m:
        appositive = m.group(1).strip()
    else:
        head = text[:tokens[start].start()]
        m2 = re.search(r"(?:^|[,;—–]\s*|\b(?i:and|but|while|as|when)\s+)"
                       r"((?:(?i:the|a|an|its|their|his|her)|(?:[A-Z][\w’'.-]*\s+){0,3}"
                       r"[A-Z][\w’'.-]*[’']s)\b"
                       r"[^,;.—–“”\"]{2,60}),\s*(?:\d{1,3}-year-old\s+)?$", head)
        if m2:
            appositive = m2.group(1).strip()
    descriptor = appositive or " ".join(role)
    desc_words = _words(" ".join([*described, appositive]))
    phrase = text[tokens[start].start():tokens[end - 1].end()]
    return Entity("PERSON", phrase, start, end, frozenset(words[start:end]), descriptor,
                  frozenset(_bag(desc_words)) if desc_words else frozenset())
