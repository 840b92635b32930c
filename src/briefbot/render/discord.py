"""The Discord dialect: a laid-out reply as markdown content and embeds, within Discord's limits.

Text from articles and people is escaped so it shows as written and can never ping anyone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TypedDict

from briefbot.messages import Reply
from briefbot.render.layout import (
    Card,
    Document,
    Inline,
    Line,
    Lines,
    Mark,
    Quote,
    Span,
    layout,
)
from briefbot.render.split import find_cut, split_text
from briefbot.text import clip_words

DISCORD_CONTENT_LIMIT = 2000
DISCORD_EMBED_TITLE_LIMIT = 256
DISCORD_EMBED_DESCRIPTION_LIMIT = 4096
DISCORD_EMBED_FOOTER_LIMIT = 2048
DISCORD_EMBED_TOTAL_LIMIT = 6000  # title + description + footer across all embeds of a message
DISCORD_EMBEDS_PER_MESSAGE = 10

DISCORD_COLOR = 0x2B6CB0


def render_discord(reply: Reply) -> list[DiscordMessage]:
    """Discord messages: embeds for briefings and digests, markdown content otherwise."""
    return _messages(layout(reply))


def preview(reply: Reply) -> str:
    """What `briefbot preview --platform discord` prints: the messages as JSON."""
    messages = [
        {"content": m.content, "embeds": [e.to_dict() for e in m.embeds]}
        for m in render_discord(reply)
    ]
    return json.dumps(messages, ensure_ascii=False, indent=2)


# --- messages --------------------------------------------------------------------------------


class _FooterDict(TypedDict):
    text: str


class EmbedDict(TypedDict, total=False):
    """An embed in Discord's JSON shape."""

    type: str
    title: str
    description: str
    url: str
    footer: _FooterDict
    color: int


class MessageDict(TypedDict, total=False):
    """A message's content and embeds in Discord's JSON shape."""

    content: str
    embeds: list[EmbedDict]


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

    def to_dict(self) -> EmbedDict:
        shape: EmbedDict = {"type": "rich"}
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

    def to_dict(self) -> MessageDict:
        shape: MessageDict = {}
        if self.content:
            shape["content"] = self.content
        if self.embeds:
            shape["embeds"] = [embed.to_dict() for embed in self.embeds]
        return shape


# --- markup and escaping --------------------------------------------------------------------


def _messages(document: Document) -> list[DiscordMessage]:
    """Cards become embeds, with the other blocks as the first message's content (a digest's
    header); a document without cards is markdown content, split to the limit."""
    cards = [block for block in document.blocks if isinstance(block, Card)]
    text = "\n\n".join(_block(b) for b in document.blocks if not isinstance(b, Card))
    if cards:
        return pack_embeds([e for card in cards for e in _embeds(card)], header=text or None)
    return [DiscordMessage(content=part) for part in split_discord(text)]


def _block(block: Lines | Quote) -> str:
    if isinstance(block, Lines):
        return "\n".join(_line(line) for line in block.lines)
    lines = block.text.splitlines()
    return "\n".join(f"> {dc(line)}" for line in lines if line.strip())


def _line(line: Line) -> str:
    return "".join(_inline(inline) for inline in line)


_MARKS = {"plain": "", "strong": "**", "emphasis": "*"}


def _inline(inline: Inline) -> str:
    if isinstance(inline, Span):
        mark = _MARKS[inline.style]
        return f"{mark}{dc(inline.text)}{mark}"
    if isinstance(inline, Mark):
        return inline.text
    return f"[{dc(inline.label)}](<{inline.url}>)"


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
    return bool(url) and re.fullmatch(r"https?://\S+", url or "") is not None


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


# --- limits --------------------------------------------------------------------------------


def _embeds(card: Card) -> list[DiscordEmbed]:
    """One embed, or more when editor bullets overflow a description (title on the first)."""
    title = dc(card.headline) + (f" {card.emoji}" if card.emoji else "")
    descriptions = split_text(_bullets(card), DISCORD_EMBED_DESCRIPTION_LIMIT) or [""]
    url = card.link if _is_web_url(card.link) else None
    footer = _clip(neutralise_mentions(card.byline), DISCORD_EMBED_FOOTER_LIMIT) or None
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


def _bullets(card: Card) -> str:
    return "\n".join(f"{b.emoji} {dc(b.text)}" for b in card.bullets)


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
