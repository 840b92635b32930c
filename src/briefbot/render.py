"""Replies -> Telegram HTML, Discord messages and plain text, split to each platform's limits."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from briefbot.messages import Answer, Briefing, Bullet, Digest, Notice, Reply
from briefbot.text import clip_words

TELEGRAM_TEXT_LIMIT = 4096  # code points of the visible text, after entity parsing
DISCORD_CONTENT_LIMIT = 2000
DISCORD_EMBED_TITLE_LIMIT = 256
DISCORD_EMBED_DESCRIPTION_LIMIT = 4096
DISCORD_EMBED_FOOTER_LIMIT = 2048
DISCORD_EMBED_TOTAL_LIMIT = 6000  # title + description + footer across all embeds of a message
DISCORD_EMBEDS_PER_MESSAGE = 10

DISCORD_COLOR = 0x2B6CB0
HEADLINE_EMOJI = "📰"
DIGEST_EMOJI = "🗞️"
LINK_EMOJI = "🔗"
SOURCE_EMOJI = "📰"  # marks the headline of the article an answer quotes
ITEM_MARK = "•"
SUGGESTIONS_INTRO = "You could ask:"


# --- splitting plain text (shared by every platform) -----------------------------------------

_SENTENCE_BREAK = re.compile(r"[.!?…][\"'”’)\]]*(?=\s)")


def find_cut(text: str, start: int, limit: int) -> tuple[int, int]:
    """Where to end a part of `text` that begins at `start`: (end of this part, start of next).

    Prefers a paragraph break, then a line break, then a sentence end, then a space, each only
    if it keeps the part at least half full; a hard cut is the last resort.
    """
    stop = start + limit
    if len(text) <= stop:
        return len(text), len(text)
    window = text[start : stop + 1]  # +1: a separator right at the limit is still a clean cut
    floor = limit // 2
    for separator in ("\n\n", "\n"):
        at = window.rfind(separator)
        if at >= floor:
            return start + at, start + at + len(separator)
    sentence_ends = [m.end() for m in _SENTENCE_BREAK.finditer(window) if floor <= m.end() <= limit]
    if sentence_ends:
        return start + sentence_ends[-1], start + sentence_ends[-1] + 1
    at = max(window.rfind(" "), window.rfind("\t"))
    if at > 0:
        return start + at, start + at + 1
    end = stop
    # Never leave half of a flag, a ZWJ sequence or a variation selector behind.
    while end > start + 1 and _joins_previous(text, end):
        end -= 1
    return end, end


def _joins_previous(text: str, index: int) -> bool:
    char = ord(text[index])
    before = ord(text[index - 1])
    if char in (0x200D, 0xFE0F, 0xFE0E, 0x20E3) or 0x1F3FB <= char <= 0x1F3FF or before == 0x200D:
        return True
    if 0x1F1E6 <= char <= 0x1F1FF and 0x1F1E6 <= before <= 0x1F1FF:
        # Regional indicators pair up from the left: count the run to know which half this is.
        run = 0
        while index - run - 1 >= 0 and 0x1F1E6 <= ord(text[index - run - 1]) <= 0x1F1FF:
            run += 1
        return run % 2 == 1
    return False


def split_text(text: str, limit: int) -> list[str]:
    """`text` in parts of at most `limit` characters, cut at the cleanest boundary available."""
    parts = []
    start = 0
    while start < len(text):
        end, next_start = find_cut(text, start, limit)
        chunk = text[start:end].strip()
        if chunk:
            parts.append(chunk)
        start = next_start
    return parts


# --- Telegram --------------------------------------------------------------------------------


def tg(text: str) -> str:
    """Text for Telegram HTML: `<`, `>` and `&` escaped, quotes left alone."""
    return html.escape(text, quote=False)


def tg_link(url: str, label: str) -> str:
    return f'<a href="{html.escape(url, quote=True)}">{tg(label)}</a>'


def render_telegram(reply: Reply) -> list[str]:
    """Telegram HTML messages (parse_mode HTML), each within the 4096-character limit."""
    return split_telegram(telegram_html(reply))


def telegram_html(reply: Reply) -> str:
    """The whole reply as one Telegram HTML string, before splitting."""
    if isinstance(reply, Briefing):
        return "\n".join(_telegram_briefing(reply, full=True))
    if isinstance(reply, Digest):
        count = len(reply.briefings)
        lines = [f"{DIGEST_EMOJI} <b>News digest</b> · {count} {_stories(count)}"]
        for briefing in reply.briefings:
            lines += ["", *_telegram_briefing(briefing, full=False)]
        return "\n".join(lines)
    if isinstance(reply, Answer):
        return _telegram_answer(reply)
    return _telegram_notice(reply)


def _stories(count: int) -> str:
    return "story" if count == 1 else "stories"


def _telegram_briefing(briefing: Briefing, *, full: bool) -> list[str]:
    headline = f"{HEADLINE_EMOJI} <b>{tg(briefing.headline)}</b>"
    lines = [f"{headline} {tg(briefing.emoji)}" if briefing.emoji else headline]
    if briefing.byline:
        lines.append(f"<i>{tg(briefing.byline)}</i>")
    if briefing.bullets:
        if full:
            lines.append("")
        lines += [f"{tg(b.emoji)} {tg(b.text)}" for b in briefing.bullets]
    if briefing.link:
        if full:
            lines.append("")
        lines.append(f"{LINK_EMOJI} {tg_link(briefing.link, 'Source')}")
    return lines


@dataclass(frozen=True, slots=True)
class _AnswerLayout:
    """An answer taken apart so each platform can format it: the fact, the cited sentence, ideas.

    `lead` is the plain line shown when there is no quote (not found, or an answer without a
    cited sentence); `fact` is bolded inside it when it appears there."""

    lead: str
    fact: str | None
    quote: str | None
    suggestions_intro: str
    suggestions: tuple[str, ...]


def _answer_layout(answer: Answer) -> _AnswerLayout:
    if answer.found and answer.quote:
        fact = answer.fact.strip() if answer.fact else None
        if fact and _same_words(fact, answer.quote):
            fact = None  # the fact is the whole sentence: show it once, as the quote
        return _AnswerLayout("", fact, answer.quote, SUGGESTIONS_INTRO, ())
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
    return _AnswerLayout(lead, answer.fact if answer.found else None, None, intro, suggestions)


def _same_words(a: str, b: str) -> bool:
    return a.strip(" .…“”\"").casefold() == b.strip(" .…“”\"").casefold()


def _with_fact(text: str, fact: str | None, escape: Callable[[str], str], bold: str) -> str:
    """`text` escaped, its first mention of the fact emphasised (`bold` is the wrapper pair)."""
    opening, closing = bold.split("|")
    if fact and fact in text:
        at = text.find(fact)
        return (
            escape(text[:at]) + opening + escape(fact) + closing + escape(text[at + len(fact) :])
        )
    return escape(text)


def _telegram_answer(answer: Answer) -> str:
    layout = _answer_layout(answer)
    blocks = []
    if layout.lead:
        blocks.append(_with_fact(layout.lead, layout.fact, tg, "<b>|</b>"))
    elif layout.fact:
        blocks.append(f"<b>{tg(layout.fact)}</b>")
    if layout.quote is not None:
        blocks.append(f"<blockquote>{tg(layout.quote)}</blockquote>")
    if layout.suggestions:
        items = "\n".join(f"{ITEM_MARK} {tg(s)}" for s in layout.suggestions)
        blocks.append(f"{tg(layout.suggestions_intro)}\n{items}")
    if answer.found and answer.headline:
        blocks.append(f"{SOURCE_EMOJI} <i>{tg(answer.headline)}</i>")
    return "\n\n".join(blocks)


def _telegram_notice(notice: Notice) -> str:
    lines = []
    if notice.title:
        lines.append(f"<b>{tg(notice.title)}</b>")
    if notice.text:
        lines.append(tg(notice.text))
    lines += [f"{ITEM_MARK} {tg(item)}" for item in notice.items]
    return "\n".join(lines)


# Telegram HTML, cut into atoms: a tag, an entity (one visible character) or one character.
_HTML_ATOM = re.compile(r"<[^<>]*>|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);|.", re.DOTALL)
_TAG_NAME = re.compile(r"</?\s*([a-zA-Z0-9-]+)")


@dataclass(frozen=True, slots=True)
class _Atom:
    raw: str
    visible: str  # "" for a tag

    @property
    def is_tag(self) -> bool:
        return self.raw.startswith("<")


def _atoms(markup: str) -> list[_Atom]:
    atoms = []
    for match in _HTML_ATOM.finditer(markup):
        raw = match.group()
        if raw.startswith("<"):
            atoms.append(_Atom(raw, ""))
        elif raw.startswith("&"):
            atoms.append(_Atom(raw, html.unescape(raw)))
        else:
            atoms.append(_Atom(raw, raw))
    return atoms


def split_telegram(markup: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Well-formed Telegram HTML in parts of at most `limit` visible code points each.

    Cuts fall on the visible text (paragraph, line, sentence, word, in that order of preference)
    and never inside a tag or an entity; a formatted span cut in two is closed at the end of one
    part and reopened, with the same attributes, at the start of the next.
    """
    if _fits_as_is(markup, limit):
        return [markup]
    atoms = _atoms(markup)
    visible = "".join(atom.visible for atom in atoms)
    ranges = []
    start = 0
    while start < len(visible):
        end, next_start = find_cut(visible, start, limit)
        ranges.append(_trimmed(visible, start, end))
        start = next_start
    ranges = [(a, b) for a, b in ranges if b > a]
    if not ranges:
        return []

    parts: list[str] = []
    open_tags: list[str] = []  # raw opening tags, outermost first
    current: list[str] = []
    part = 0
    position = 0  # index in `visible` of the next visible atom
    for atom in atoms:
        if atom.is_tag:
            closing = atom.raw.startswith("</")
            if position >= ranges[part][1] and not closing and part + 1 < len(ranges):
                parts.append(_finish(current, open_tags))
                part += 1
                current = list(open_tags)
            current.append(atom.raw)
            if closing:
                if open_tags:
                    open_tags.pop()
            elif not atom.raw.endswith("/>"):
                open_tags.append(atom.raw)
            continue
        next_part_starts = part + 1 < len(ranges) and position >= ranges[part + 1][0]
        if next_part_starts and position >= ranges[part][1]:
            parts.append(_finish(current, open_tags))
            part += 1
            current = list(open_tags)
        start, end = ranges[part]
        if start <= position < end:
            current.append(atom.raw)
        position += 1
    parts.append(_finish(current, open_tags))
    return parts


# Whitespace just inside the first tags or just before the last ones: splitting would trim it.
_EDGE_SPACE = re.compile(r"^(?:<[^>]*>)+\s|\s(?:<[^>]*>)+$")


def _fits_as_is(markup: str, limit: int) -> bool:
    """Whether splitting would return `markup` itself, told without parsing it: nearly every
    reply fits one message, and the split parses every tag and character of it (the seed
    briefing: about 13 µs for this check instead of a few hundred for the parse).

    The visible text is never longer than the markup (tags and entities only add), so a short
    one fits; it must also have nothing the split would trim or drop.
    """
    return (
        len(markup) <= limit
        and markup.strip() == markup
        and bool(markup)
        and not _EDGE_SPACE.search(markup)
        and _drop_empty_spans(markup) == markup
    )


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _finish(current: list[str], open_tags: list[str]) -> str:
    closers = [f"</{_tag_name(tag)}>" for tag in reversed(open_tags)]
    return _drop_empty_spans("".join(current + closers))


def _tag_name(tag: str) -> str:
    match = _TAG_NAME.match(tag)
    return match.group(1).lower() if match else ""


_EMPTY_SPAN = re.compile(r"<([a-zA-Z0-9-]+)(?:\s[^<>]*)?>\s*</\1>")


def _drop_empty_spans(markup: str) -> str:
    # A span reopened at a cut that then closes at once would be an empty entity; drop it.
    while True:
        cleaned = _EMPTY_SPAN.sub("", markup)
        if cleaned == markup:
            return markup.strip()
        markup = cleaned


# --- Discord ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiscordEmbed:
    """One embed; `to_dict` gives Discord's JSON shape."""

    title: str | None = None
    description: str | None = None
    url: str | None = None
    footer: str | None = None
    color: int | None = DISCORD_COLOR

    @property
    def char_count(self) -> int:
        """The characters Discord counts against the 6000 per message."""
        return sum(len(part or "") for part in (self.title, self.description, self.footer))

    def to_dict(self) -> dict[str, Any]:
        shape: dict[str, Any] = {"type": "rich"}
        if self.title:
            shape["title"] = self.title
        if self.description:
            shape["description"] = self.description
        if self.url:
            shape["url"] = self.url
        if self.footer:
            shape["footer"] = {"text": self.footer}
        if self.color is not None:
            shape["color"] = self.color
        return shape


@dataclass(frozen=True, slots=True)
class DiscordMessage:
    """One Discord message: markdown content, embeds, or both."""

    content: str | None = None
    embeds: tuple[DiscordEmbed, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        shape: dict[str, Any] = {}
        if self.content:
            shape["content"] = self.content
        if self.embeds:
            shape["embeds"] = [embed.to_dict() for embed in self.embeds]
        return shape


_DISCORD_MARKDOWN = re.compile(r"([\\*_~`|>#\[\]()])")
_LIST_START = re.compile(r"^(\s*)([-+]|\d+\.)(?=\s)", re.MULTILINE)
_MASS_MENTION = re.compile(r"@(everyone|here)", re.IGNORECASE)
_ID_MENTION = re.compile(r"<([@#][!&]?|/|a?:|t:)")


def dc(text: str) -> str:
    """Text from an article or a person, safe in Discord markdown: no formatting, no pings."""
    escaped = _DISCORD_MARKDOWN.sub(r"\\\1", text)
    escaped = _LIST_START.sub(r"\1\\\2", escaped)
    return neutralise_mentions(escaped)


def neutralise_mentions(text: str) -> str:
    """@everyone, @here and <@id> made inert with a zero-width space (shown the same)."""
    text = _MASS_MENTION.sub("@\u200b\\1", text)
    return _ID_MENTION.sub("<\u200b\\1", text)


def _is_web_url(url: str | None) -> bool:
    return bool(url) and re.match(r"https?://\S+$", url or "") is not None


def _clip(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a space with … when it has to be cut."""
    clipped = clip_words(text, limit)
    if clipped == text:
        return text
    # A trailing lone backslash would escape the ellipsis instead of what it was escaping.
    cut = clipped[:-1]
    while cut.endswith("\\") and not cut.endswith("\\\\"):
        cut = cut[:-1]
    return cut + "…"


def render_discord(reply: Reply) -> list[DiscordMessage]:
    """Discord messages: embeds for briefings and digests, markdown content otherwise."""
    if isinstance(reply, Briefing):
        return pack_embeds(_discord_embeds(reply))
    if isinstance(reply, Digest):
        count = len(reply.briefings)
        header = f"{DIGEST_EMOJI} **News digest** · {count} {_stories(count)}"
        embeds = [e for b in reply.briefings for e in _discord_embeds(b)]
        return pack_embeds(embeds, header=header)
    if isinstance(reply, Answer):
        return _content_messages(_discord_answer(reply))
    return _content_messages(_discord_notice(reply))


def _bullet_lines(bullets: tuple[Bullet, ...], escape: Callable[[str], str]) -> str:
    return "\n".join(f"{b.emoji} {escape(b.text)}" for b in bullets)


def _discord_embeds(briefing: Briefing) -> list[DiscordEmbed]:
    """One embed, or more when editor bullets overflow a description (title on the first)."""
    title = dc(briefing.headline) + (f" {briefing.emoji}" if briefing.emoji else "")
    descriptions = split_text(_bullet_lines(briefing.bullets, dc), DISCORD_EMBED_DESCRIPTION_LIMIT)
    descriptions = descriptions or [""]
    url = briefing.link if _is_web_url(briefing.link) else None
    footer = _clip(neutralise_mentions(briefing.byline), DISCORD_EMBED_FOOTER_LIMIT) or None
    embeds = []
    for index, description in enumerate(descriptions):
        first, last = index == 0, index == len(descriptions) - 1
        embeds.append(
            DiscordEmbed(
                title=_clip(title, DISCORD_EMBED_TITLE_LIMIT) if first else None,
                description=description or None,
                url=url if first else None,
                footer=footer if last else None,
            )
        )
    return embeds


def pack_embeds(embeds: list[DiscordEmbed], header: str | None = None) -> list[DiscordMessage]:
    """Embeds in as few messages as fit: at most 10 and 6000 characters per message."""
    messages: list[DiscordMessage] = []
    batch: list[DiscordEmbed] = []
    size = 0
    for embed in embeds:
        full = len(batch) == DISCORD_EMBEDS_PER_MESSAGE
        if batch and (full or size + embed.char_count > DISCORD_EMBED_TOTAL_LIMIT):
            messages.append(DiscordMessage(embeds=tuple(batch)))
            batch, size = [], 0
        batch.append(embed)
        size += embed.char_count
    if batch:
        messages.append(DiscordMessage(embeds=tuple(batch)))
    if header:
        header = _clip(header, DISCORD_CONTENT_LIMIT)
        if messages:
            messages[0] = DiscordMessage(content=header, embeds=messages[0].embeds)
        else:
            messages.append(DiscordMessage(content=header))
    return messages


def _discord_answer(answer: Answer) -> str:
    layout = _answer_layout(answer)
    blocks = []
    if layout.lead:
        blocks.append(_with_fact(layout.lead, layout.fact, dc, "**|**"))
    elif layout.fact:
        blocks.append(f"**{dc(layout.fact)}**")
    if layout.quote is not None:
        lines = layout.quote.splitlines()
        blocks.append("\n".join(f"> {dc(line)}" for line in lines if line.strip()))
    if layout.suggestions:
        items = "\n".join(f"{ITEM_MARK} {dc(s)}" for s in layout.suggestions)
        blocks.append(f"{dc(layout.suggestions_intro)}\n{items}")
    if answer.found and answer.headline:
        blocks.append(f"{SOURCE_EMOJI} *{dc(answer.headline)}*")
    return "\n\n".join(blocks)


def _discord_notice(notice: Notice) -> str:
    lines = []
    if notice.title:
        lines.append(f"**{dc(notice.title)}**")
    if notice.text:
        lines.append(dc(notice.text))
    lines += [f"{ITEM_MARK} {dc(item)}" for item in notice.items]
    return "\n".join(lines)


def _content_messages(markdown: str) -> list[DiscordMessage]:
    return [DiscordMessage(content=part) for part in split_discord(markdown)]


def split_discord(markdown: str, limit: int = DISCORD_CONTENT_LIMIT) -> list[str]:
    """Markdown content in parts of at most `limit` characters.

    Formatting here is line-scoped (bold titles, `> ` quotes), so line cuts keep it whole; a quote
    line cut in two gets its `> ` back, and a cut never strands an escaping backslash.
    """
    parts = []
    start = 0
    quoted = False
    while start < len(markdown):
        prefix = "> " if quoted else ""
        end, next_start = find_cut(markdown, start, limit - len(prefix))
        while end > start + 1 and markdown[end - 1] == "\\" and next_start == end:
            end -= 1
            next_start = end
        chunk = markdown[start:end].strip()
        if chunk:
            parts.append(prefix + chunk if not chunk.startswith(">") else chunk)
        line_start = markdown.rfind("\n", 0, end) + 1
        quoted = markdown.startswith("> ", line_start) and "\n" not in markdown[end:next_start]
        start = next_start
    return parts


# --- plain text ------------------------------------------------------------------------------


def render_plain(reply: Reply) -> str:
    """The reply as console text: no markup, emoji kept."""
    if isinstance(reply, Briefing):
        return "\n".join(_plain_briefing(reply, full=True))
    if isinstance(reply, Digest):
        count = len(reply.briefings)
        lines = [f"{DIGEST_EMOJI} News digest · {count} {_stories(count)}"]
        for briefing in reply.briefings:
            lines += ["", *_plain_briefing(briefing, full=False)]
        return "\n".join(lines)
    if isinstance(reply, Answer):
        return _plain_answer(reply)
    lines = [notice for notice in (reply.title, reply.text) if notice]
    lines += [f"{ITEM_MARK} {item}" for item in reply.items]
    return "\n".join(lines)


def _plain_briefing(briefing: Briefing, *, full: bool) -> list[str]:
    headline = f"{HEADLINE_EMOJI} {briefing.headline}"
    lines = [f"{headline} {briefing.emoji}" if briefing.emoji else headline]
    if briefing.byline:
        lines.append(briefing.byline)
    if briefing.bullets:
        if full:
            lines.append("")
        lines += [f"{b.emoji} {b.text}" for b in briefing.bullets]
    if briefing.link:
        if full:
            lines.append("")
        lines.append(f"{LINK_EMOJI} {briefing.link}")
    return lines


def _plain_answer(answer: Answer) -> str:
    layout = _answer_layout(answer)
    blocks = [layout.lead] if layout.lead else []
    if not blocks and layout.fact:
        blocks.append(layout.fact)
    if layout.quote is not None:
        blocks.append(f"“{layout.quote}”")
    if layout.suggestions:
        items = "\n".join(f"{ITEM_MARK} {s}" for s in layout.suggestions)
        blocks.append(f"{layout.suggestions_intro}\n{items}")
    if answer.found and answer.headline:
        blocks.append(f"{SOURCE_EMOJI} {answer.headline}")
    return "\n\n".join(blocks)
