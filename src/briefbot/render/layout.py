"""Each reply kind laid out once for every platform, as a small document of blocks and spans.

A Document is blocks shown with a blank line between each two: Lines (each line a run of
spans), a Quote, or a Card (one article: headline, byline, bullets, source). A dialect turns it
into its platform's messages; it decides how a span is escaped and styled, how a quote looks,
whether a card is an embed or lines of text (`card_text`), and where messages are cut.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from briefbot.messages import Answer, Briefing, Bullet, Digest, Notice, Reply

HEADLINE_EMOJI = "📰"
DIGEST_EMOJI = "🗞️"
LINK_EMOJI = "🔗"
LINK_LABEL = "Source"
SOURCE_EMOJI = "📰"  # marks the headline of the article an answer quotes
ITEM_MARK = "•"
SUGGESTIONS_INTRO = "You could ask:"


# --- the document ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Span:
    """Words from an article, a person or the bot: every dialect escapes them."""

    text: str
    style: Literal["plain", "strong", "emphasis"] = "plain"


@dataclass(frozen=True, slots=True)
class Mark:
    """An emoji or a list mark leading a line; markdown leaves it as it is."""

    text: str


@dataclass(frozen=True, slots=True)
class Link:
    """An address under a label: a link where the platform has them, else the address."""

    url: str
    label: str


Inline = Span | Mark | Link
Line = tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Lines:
    """Lines one under the other."""

    lines: tuple[Line, ...]


@dataclass(frozen=True, slots=True)
class Quote:
    """A sentence quoted from an article."""

    text: str


@dataclass(frozen=True, slots=True)
class Card:
    """One article at a glance; `card_text` lays it out as lines where there are no cards."""

    headline: str
    emoji: str  # the headline's own emoji, shown after it ("" if none)
    byline: str
    bullets: tuple[Bullet, ...]
    link: str | None
    spaced: bool  # a briefing of its own: blank lines around the bullets; in a digest, none


Block = Lines | Quote | Card


@dataclass(frozen=True, slots=True)
class Document:
    """A reply laid out: its blocks, with a blank line between each two."""

    blocks: tuple[Block, ...]


def listed(mark: str, text: str) -> Line:
    """A line that starts with an emoji or a list mark."""
    return (Mark(mark), Span(" "), Span(text))


# --- the reply kinds -------------------------------------------------------------------------


def layout(reply: Reply) -> Document:
    """The document every platform shows for `reply`."""
    if isinstance(reply, Briefing):
        return Document((_card(reply, spaced=True),))
    if isinstance(reply, Digest):
        count = len(reply.briefings)
        stories = "story" if count == 1 else "stories"
        header = (Mark(DIGEST_EMOJI), Span(" "), Span("News digest", "strong"),
                  Span(f" · {count} {stories}"))
        cards = (_card(briefing, spaced=False) for briefing in reply.briefings)
        return Document((Lines((header,)), *cards))
    if isinstance(reply, Answer):
        return _answer(reply)
    return _notice(reply)


def _card(briefing: Briefing, *, spaced: bool) -> Card:
    return Card(briefing.headline, briefing.emoji, briefing.byline, briefing.bullets,
                briefing.link, spaced)


def card_text(card: Card) -> tuple[Lines, ...]:
    """A card as lines of text: headline and byline, the bullets, the source link; spaced into
    blocks of their own for a briefing, in one block for an item of a digest."""
    heading: Line = (Mark(HEADLINE_EMOJI), Span(" "), Span(card.headline, "strong"))
    if card.emoji:
        heading += (Span(" "), Mark(card.emoji))
    groups: list[list[Line]] = [[heading]]
    if card.byline:
        groups[0].append((Span(card.byline, "emphasis"),))
    if card.bullets:
        groups.append([listed(b.emoji, b.text) for b in card.bullets])
    if card.link:
        groups.append([(Mark(LINK_EMOJI), Span(" "), Link(card.link, LINK_LABEL))])
    if not card.spaced:
        groups = [[line for group in groups for line in group]]
    return tuple(Lines(tuple(group)) for group in groups)


@dataclass(frozen=True, slots=True)
class _AnswerParts:
    """An answer taken apart: the fact, the cited sentence, the ideas of what to ask.

    `lead` is the plain line shown when there is no quote (not found, or an answer without a
    cited sentence); `fact` is emphasised inside it when it appears there."""

    lead: str
    fact: str | None
    quote: str | None
    suggestions_intro: str
    suggestions: tuple[str, ...]


def _answer_parts(answer: Answer) -> _AnswerParts:
    if answer.found and answer.quote:
        fact = answer.fact.strip() if answer.fact else None
        if fact and _same_words(fact, answer.quote):
            fact = None  # the fact is the whole sentence: show it once, as the quote
        return _AnswerParts("", fact, answer.quote, SUGGESTIONS_INTRO, ())
    lead, intro = answer.text.strip(), SUGGESTIONS_INTRO
    suggestions = () if answer.found else answer.suggestions
    if suggestions and suggestions[0] in lead:
        # `text` carries the ideas inline for one-line users ("… Try: a · b"); a list replaces it.
        head = lead[: lead.find(suggestions[0])].rstrip()
        if head.endswith(":"):
            cut = max(head.rfind(mark) for mark in (". ", "! ", "? ", "\n"))
            if cut >= 0:
                head, intro = head[: cut + 1], head[cut + 1 :].strip()
        lead = head.strip()
    return _AnswerParts(lead, answer.fact if answer.found else None, None, intro, suggestions)


def _same_words(a: str, b: str) -> bool:
    return a.strip(" .…“”\"").casefold() == b.strip(" .…“”\"").casefold()


def _with_fact(text: str, fact: str | None) -> Line:
    """`text` with its first mention of the fact in bold."""
    if fact and fact in text:
        at = text.find(fact)
        return (Span(text[:at]), Span(fact, "strong"), Span(text[at + len(fact) :]))
    return (Span(text),)


def _answer(answer: Answer) -> Document:
    parts = _answer_parts(answer)
    blocks: list[Block] = []
    if parts.lead:
        blocks.append(Lines((_with_fact(parts.lead, parts.fact),)))
    elif parts.fact:
        blocks.append(Lines(((Span(parts.fact, "strong"),),)))
    if parts.quote is not None:
        blocks.append(Quote(parts.quote))
    if parts.suggestions:
        ideas = tuple(listed(ITEM_MARK, s) for s in parts.suggestions)
        blocks.append(Lines(((Span(parts.suggestions_intro),), *ideas)))
    if answer.found and answer.headline:
        source = (Mark(SOURCE_EMOJI), Span(" "), Span(answer.headline, "emphasis"))
        blocks.append(Lines((source,)))
    return Document(tuple(blocks))


def _notice(notice: Notice) -> Document:
    lines: list[Line] = []
    if notice.title:
        lines.append((Span(notice.title, "strong"),))
    if notice.text:
        lines.append((Span(notice.text),))
    lines += [listed(ITEM_MARK, item) for item in notice.items]
    return Document((Lines(tuple(lines)),))
