"""Article -> Briefing: headline, byline, 3 to 5 one-line bullets, link (platform-neutral)."""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from importlib import resources

import snowballstemmer

from briefbot.articles import Article
from briefbot.messages import Briefing as Briefing  # re-exported: defined in the leaf module
from briefbot.messages import Bullet as Bullet
from briefbot.messages import Digest as Digest
from briefbot.text import extract_emoji, is_emoji_char, strip_emoji

# One short line on a phone (Telegram wraps at about 40 characters a line, so four lines).
BULLET_MAX_CHARS = 160
MIN_BULLETS = 3
MAX_BULLETS = 5
DIGEST_BULLETS = 2
DEFAULT_EMOJI = "📌"
QUOTE_EMOJI = "💬"  # a bullet that quotes someone

# Weights and threshold measured in research/qa.md §4 on the sample article.
_TEXTRANK_WEIGHT = 0.45
_LEAD_WEIGHT = 0.35
_FACT_WEIGHT = 0.2
_REDUNDANCY_COSINE = 0.35
# Lead bias makes sentences past this point unlikely picks; capping keeps TextRank's n² cheap.
_MAX_CANDIDATES = 80


def headline_of(article: Article) -> str:
    """The headline without its emoji, recased when the file has it in all caps."""
    headline = strip_emoji(article.title) or article.id
    if _is_all_caps(headline):
        headline = recase_headline(headline, [strip_emoji(s) for s in article.sentences])
    return headline


def make_briefing(article: Article) -> Briefing:
    """The briefing for one article: editor bullets when given, otherwise picked sentences."""
    headline = headline_of(article)
    if article.bullets:
        bullets = _bullets([text for text in article.bullets if strip_emoji(text)])
    else:
        picked = pick_sentences(article.sentences, _bullet_count(len(article.sentences)))
        bullets = _bullets(picked)
    return Briefing(
        article_id=article.id,
        headline=headline,
        emoji=extract_emoji(article.title),
        byline=format_byline(article.author, article.date),
        bullets=tuple(b for b in bullets if b.text),
        link=article.source_url,
        date=article.date,
    )


def make_digest(articles: Iterable[Article]) -> Digest:
    """Headline and two bullets for each article, newest first, undated ones last."""
    ordered = sorted(articles, key=lambda a: (a.date is None, -(a.date or dt.date.min).toordinal()))
    briefings = []
    for article in ordered:
        briefing = make_briefing(article)
        briefings.append(replace(briefing, bullets=briefing.bullets[:DIGEST_BULLETS]))
    return Digest(briefings=tuple(briefings))


def format_byline(author: str | None, date: dt.date | None) -> str:
    """`author · February 11, 2026`, leaving out whichever part is missing."""
    parts = [(author or "").strip()]
    if date is not None:
        parts.append(f"{date:%B} {date.day}, {date.year}")
    return " · ".join(part for part in parts if part)


# --- headline recasing -----------------------------------------------------------------------

_WORD = re.compile(r"[^\W_](?:[\w'’.\-]*[^\W_])?\.?")


def _is_all_caps(headline: str) -> bool:
    words = [w for w in headline.split() if any(c.isalpha() for c in w)]
    return len(words) >= 2 and not any(c.islower() for c in headline)


def recase_headline(headline: str, body_sentences: Sequence[str]) -> str:
    """An all-caps headline in the casing the body uses ("U.S.", "NATO", "Russia"), else lower.

    A word the body writes both ways ("Transit Authority", "transit strike") keeps its capital
    only where the body has it right after the headline's previous word ("Kingsport City").
    The first word is capitalised, so the result reads as sentence case.
    """
    casing = _body_casing(body_sentences)
    body = " ".join(body_sentences)
    words: list[str] = []
    previous = ""
    for word in headline.split():
        match = _WORD.search(word)
        if match is None:
            words.append(word)
            continue
        fixed = _recase_word(match.group(), casing, previous, body)
        words.append(word[: match.start()] + fixed + word[match.end() :])
        previous = fixed.rstrip(".")
    if words:
        first = words[0]
        for index, char in enumerate(first):
            if char.isalpha():
                words[0] = first[:index] + char.upper() + first[index + 1 :]
                break
    return " ".join(words)


def _body_casing(sentences: Sequence[str]) -> dict[str, Counter[str]]:
    casing: dict[str, Counter[str]] = {}
    for sentence in sentences:
        for position, match in enumerate(_WORD.finditer(sentence)):
            token = match.group()
            # A capital at the start of a sentence says nothing about the word itself ("The").
            if position == 0 and token == token.capitalize():
                continue
            for form in {token, token.rstrip("."), re.sub(r"['’]s$", "", token.rstrip("."))}:
                if form:
                    casing.setdefault(form.lower(), Counter())[form] += 1
    return casing


def _recase_word(word: str, casing: dict[str, Counter[str]], previous: str, body: str) -> str:
    for key in (word.lower(), word.rstrip(".").lower()):
        forms = casing.get(key)
        if not forms:
            continue
        lower = next((f for f in forms if f == f.lower()), None)
        capitals = [f for f, _ in forms.most_common() if f != f.lower()]
        if lower is None or not capitals:
            form = forms.most_common(1)[0][0]
        elif previous and f"{previous} {capitals[0]}" in body:
            form = capitals[0]
        else:
            form = lower
        return form + word[len(form) :]
    if "-" in word.strip("-"):
        parts = word.split("-")
        return "-".join(_recase_word(part, casing, "", body) if part else part for part in parts)
    return _unseen_word(word)


# Headline words the body never repeats: names a reader knows are kept as names (PARIS is
# Paris, NASA and THE EU keep their capitals), everything else reads in lower case. "US" and
# "WHO" are left out: as words they are far more common in headlines.
ACRONYMS = frozenset(
    """
    ai bbc cdc cia cnn ceo covid ecb eu fbi fifa g7 g20 gdp imf iaea mps nasa nato nba nfl nhs
    nyc opec uae uefa uk un unesco unicef usa wto
    """.split()
)


@functools.cache
def _place_words() -> frozenset[str]:
    text = resources.files("briefbot").joinpath("data/places.txt").read_text("utf-8")
    names = (line.strip() for line in text.splitlines() if line.strip() and line[0] != "#")
    # One-word names only: the words of "New York" or "South Africa" are common words too.
    return frozenset(name.lower() for name in names if " " not in name)


def _unseen_word(word: str) -> str:
    bare = word.rstrip(".").lower()
    if bare in ACRONYMS or (len(bare) > 1 and bare.isalpha() and not set(bare) & set("aeiouy")):
        return word.upper()  # an acronym (NATO), or no vowel to say it by (BBC, UK)
    if bare in _place_words():
        return word[:1].upper() + word[1:].lower()
    return word.lower()


# --- sentence picking ------------------------------------------------------------------------

_STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it its itself just
    me more most my no nor not now of off on once only or other our out over own same she should
    so some such than that the their them then there these they this those through to too under
    until up very was we were what when where which while who whom why will with would you your
    said says say its it's one two new
    """.split()
)
_TOKEN = re.compile(r"[^\W_][\w'’\-]*")
_MONTHS = frozenset(
    "january february march april may june july august september october november december".split()
)
_STEMMER = snowballstemmer.stemmer("english")


def _terms(sentence: str) -> list[str]:
    words = [t.lower().replace("’", "'") for t in _TOKEN.findall(sentence)]
    return [_stem(w) for w in words if w not in _STOPWORDS and len(w) > 1]


@functools.lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    # Pure-Python Snowball is the slow part of picking; articles repeat their words a lot.
    return str(_STEMMER.stemWord(word))


def _fact_count(sentence: str) -> int:
    """People, organisations, places, dates, figures: capitalised words past the first, numbers."""
    tokens = _WORD.findall(sentence)
    count = 0
    for position, token in enumerate(tokens):
        is_figure = any(c.isdigit() for c in token) or token.lower().rstrip(".") in _MONTHS
        if is_figure or (position > 0 and token[:1].isupper()):
            count += 1
    return count + sum(sentence.count(symbol) for symbol in "$€£%")


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    dot = sum(weight * b.get(term, 0.0) for term, weight in a.items())
    if dot == 0.0:
        return 0.0
    norm_a = math.sqrt(sum(w * w for w in a.values()))
    norm_b = math.sqrt(sum(w * w for w in b.values()))
    return dot / (norm_a * norm_b)


def _textrank(
    similarity: list[list[float]], iterations: int = 30, damping: float = 0.85
) -> list[float]:
    n = len(similarity)
    out_weight = [sum(row) for row in similarity]
    # Sparse incoming edges, normalised once: most sentence pairs share no term.
    incoming = [
        [(j, similarity[j][i] / out_weight[j]) for j in range(n) if similarity[j][i]]
        for i in range(n)
    ]
    scores = [1.0 / n] * n
    for _ in range(iterations):
        scores = [
            (1 - damping) / n + damping * sum(weight * scores[j] for j, weight in edges)
            for edges in incoming
        ]
    return scores


def _bullet_count(sentence_count: int) -> int:
    if sentence_count <= MIN_BULLETS:
        return sentence_count
    return max(MIN_BULLETS, min(MAX_BULLETS, round(sentence_count / 3)))


def pick_sentences(sentences: Sequence[str], count: int) -> list[str]:
    """The `count` most central, early and fact-rich sentences, non-redundant, in article order."""
    candidates = [strip_emoji(s) for s in sentences[:_MAX_CANDIDATES]]
    all_terms = [_terms(s) for s in candidates]
    indexed = [(i, s) for i, s in enumerate(candidates) if all_terms[i]]
    if count <= 0 or not indexed:
        return []
    term_lists = [all_terms[i] for i, _ in indexed]
    document_frequency = Counter(term for terms in term_lists for term in set(terms))
    total = len(term_lists)
    vectors = []
    for terms in term_lists:
        frequency = Counter(terms)
        vectors.append(
            {
                term: tf * (math.log((1 + total) / (1 + document_frequency[term])) + 1)
                for term, tf in frequency.items()
            }
        )
    n = len(vectors)
    similarity = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            similarity[i][j] = similarity[j][i] = _cosine(vectors[i], vectors[j])
    rank = _normalised(_textrank(similarity))
    facts = _normalised(
        [_fact_count(s) / math.sqrt(max(1, len(s.split()))) for _, s in indexed]
    )
    scores = []
    for k, (position, sentence) in enumerate(indexed):
        lead = 1.0 / (1.0 + 0.5 * position)
        score = _TEXTRANK_WEIGHT * rank[k] + _LEAD_WEIGHT * lead + _FACT_WEIGHT * facts[k]
        if len(sentence.split()) < 6:  # fragments and bylines make poor bullets
            score *= 0.5
        scores.append(score)
    order = sorted(range(n), key=lambda k: -scores[k])
    chosen: list[int] = []
    for k in order:
        if len(chosen) == count:
            break
        if all(similarity[k][c] < _REDUNDANCY_COSINE for c in chosen):
            chosen.append(k)
    # Short or repetitive articles: fill up with what is left rather than give one bullet,
    # but never a near-copy of a chosen sentence.
    for k in order:
        if len(chosen) >= min(count, MIN_BULLETS):
            break
        if k not in chosen and all(similarity[k][c] < 0.8 for c in chosen):
            chosen.append(k)
    return [sentences[indexed[k][0]] for k in sorted(chosen)]


def _normalised(values: list[float]) -> list[float]:
    top = max(values, default=0.0)
    return [v / top for v in values] if top > 0 else [0.0 for _ in values]


# --- one-line bullets ------------------------------------------------------------------------

# Scene-setting openers that carry no news of their own; the rest of the sentence stands alone.
_FRAMING = re.compile(
    r"^(?:In (?:a|an|what|the latest)\b|Amid\b|Against the backdrop\b|In an era\b)"
    r"[^,]{0,120},\s+(?=\S)"
)
_ASIDE = re.compile(r"\s+[—–]\s+[^—–]{1,160}?\s+[—–]\s+")
# ", description," right after a capitalised name, not a list ("Paris, Lyon, and Nice").
_APPOSITIVE = re.compile(
    r"(\b[A-Z][\w’'.-]{1,40}),\s(?!and\b|or\b)(?:the\s|a\s|an\s)?[\w’'.-]+(?:\s(?!and\b|or\b)[\w’'.-]+){1,7}"
    r",\s(?!and\b|or\b|but\b|who\b|which\b)"
)
_CUT_MARKS = re.compile(r"(?:,|;|:|\s[—–])\s")


def shorten_sentence(sentence: str, limit: int = BULLET_MAX_CHARS) -> str:
    """One line of at most `limit` characters: framing and asides dropped, long tails cut with …"""
    text = " ".join(strip_emoji(sentence).split())
    framed = _FRAMING.sub("", text, count=1)
    if framed != text and len(framed.split()) >= 5:
        text = framed[:1].upper() + framed[1:]
    text = _ASIDE.sub(" ", text)
    # Too long: first leave out who a named person is (", NATO’s top commander in Europe,"),
    # so the end of the sentence, often why the story matters, survives.
    while len(text) > limit:
        shorter = _APPOSITIVE.sub(r"\1 ", text, count=1)
        if shorter == text:
            break
        text = shorter
    if len(text) <= limit:
        return text
    window = text[: limit - 1]
    cut = -1
    for match in _CUT_MARKS.finditer(window):
        if match.start() >= limit // 2:
            cut = match.start()
    if cut < 0:
        space = window.rfind(" ")
        cut = space if space > 0 else limit - 1
    return text[:cut].rstrip(" ,;:—–-") + "…"


def first_emoji(text: str) -> str:
    """The first emoji in `text`, whole (a flag's two letters, ZWJ sequences, selectors)."""
    start = next((i for i, c in enumerate(text) if is_emoji_char(c) and c != "\u200d"), -1)
    if start < 0:
        return ""
    if 0x1F1E6 <= ord(text[start]) <= 0x1F1FF:
        return text[start : start + 2]
    end = start + 1
    while end < len(text):
        code = ord(text[end])
        if code in (0xFE0F, 0xFE0E, 0x20E3) or 0x1F3FB <= code <= 0x1F3FF:
            end += 1
        elif code == 0x200D and end + 1 < len(text):
            end += 2
        else:
            break
    return text[start:end]


# Each topic scores one point a keyword the sentence holds; the best score wins and a tie goes
# to the earlier topic, so more telling topics come before generic ones ("agreed" before
# "said"). Keywords match at the start of a word; a bare "line" is in none, as it means a ferry
# or bus route as often as a phone line.
_EMOJI_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("🤝", ("agree", "deal", "accord", "pact", "treaty", "ceasefire", "truce")),
    ("🚀", ("launch", "liftoff", "lifted off", "rocket", "spacecraft", "probe", "orbit")),
    ("⚽", ("football", "soccer", "striker", "midfielder", "goal", "league", "transfer")),
    ("💰", ("euro", "dollar", "pound", "fee", "million", "billion", "budget", "cost", "price")),
    # before the falls: a ribbon is cut at an opening ("cut" alone stays a fall in rates, prices)
    ("🎉", ("ribbon", "celebrat", "festival", "anniversar", "inaugurat", "grand opening")),
    ("📉", ("cut", "fall", "fell", "drop", "decline", "lower", "slump", "plunge", "loss")),
    ("📈", ("rise", "rose", "raise", "increase", "grow", "growth", "higher", "surge", "hike")),
    ("✊", ("strike", "walkout", "union", "protest")),
    ("⛴️", ("ferry", "ferries", "vessel", "port", "harbour", "harbor", "ship", "boat", "crossing")),
    ("🚆", ("transit", "train", "rail", "metro", "subway", "bus ", "buses", "commuter", "route")),
    ("📞", ("channel", "communicat", "phone", "hotline", "direct line", "call")),
    ("🎖️", ("military", "army", "troop", "general", "commander", "defence", "defense")),
    ("⚠️", ("risk", "warn", "danger", "threat")),
    ("🗣️", ("talks", "said", "says", "told", "announc", "statement", "emphasi", "interview")),
    ("🏛️", ("government", "parliament", "minister", "president", "official", "court", "law")),
    ("🔬", ("scien", "research", "study", "studies")),
    ("🌍", ("world", "global", "international")),
)
_SYMBOL_EMOJI = {"$": "💰", "€": "💰", "£": "💰", "%": "📊"}
_GENERIC_EMOJI = (DEFAULT_EMOJI, "🔹", "🔸", "▫️", "▪️")


def pick_emoji(text: str, avoid: frozenset[str] = frozenset()) -> str:
    """A fitting emoji for a sentence without one of its own, from its words; 📌 otherwise.

    Emoji in `avoid` (already on an earlier bullet) are passed over for the next fitting one,
    so a briefing about a launch is not a column of rockets.
    """
    words = " " + " ".join(w.lower() for w in _TOKEN.findall(text)) + " "
    fitting = [QUOTE_EMOJI] if any(mark in text for mark in "“\"") else []
    scores = [(sum(words.count(" " + keyword) for keyword in keywords), -rank, emoji)
              for rank, (emoji, keywords) in enumerate(_EMOJI_KEYWORDS)]
    fitting += [emoji for score, _, emoji in sorted(scores, reverse=True) if score > 0]
    fitting += [emoji for symbol, emoji in _SYMBOL_EMOJI.items() if symbol in text]
    for emoji in [*fitting, *_GENERIC_EMOJI]:
        if emoji not in avoid:
            return emoji
    return fitting[0] if fitting else DEFAULT_EMOJI


def _bullets(sentences: Sequence[str]) -> tuple[Bullet, ...]:
    bullets: list[Bullet] = []
    for sentence in sentences:
        text = shorten_sentence(sentence)
        used = frozenset(b.emoji for b in bullets)
        bullets.append(Bullet(emoji=first_emoji(sentence) or pick_emoji(text, used), text=text))
    return tuple(bullets)

