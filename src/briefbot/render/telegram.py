"""The Telegram dialect: a laid-out reply as Telegram HTML, split to 4096 visible characters."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import NewType

from briefbot.messages import Reply
from briefbot.render.layout import (
    Block,
    Card,
    Document,
    Inline,
    Line,
    Lines,
    Mark,
    Quote,
    Span,
    card_text,
    layout,
)
from briefbot.render.split import find_cut

TELEGRAM_TEXT_LIMIT = 4096  # code points of the visible text, after entity parsing

# One Telegram message: its text in Telegram HTML (sent with parse_mode HTML and no link
# preview), well-formed, at most TELEGRAM_TEXT_LIMIT visible characters.
TelegramHTML = NewType("TelegramHTML", str)


def render_telegram(reply: Reply) -> list[TelegramHTML]:
    """Telegram HTML messages (parse_mode HTML), each within the 4096-character limit."""
    return split_telegram(telegram_html(reply))


def preview(reply: Reply) -> str:
    """What `briefbot preview --platform telegram` prints: each message's HTML."""
    return "\n\n".join(render_telegram(reply))


def telegram_html(reply: Reply) -> str:
    """The whole reply as one Telegram HTML string, before splitting."""
    return _document(layout(reply))


# --- markup ----------------------------------------------------------------------------------


def tg(text: str) -> str:
    """Text for Telegram HTML: `<`, `>` and `&` escaped, quotes left alone."""
    return html.escape(text, quote=False)


def _document(document: Document) -> str:
    return "\n\n".join(_block(block) for block in document.blocks)


def _block(block: Block) -> str:
    if isinstance(block, Lines):
        return "\n".join(_line(line) for line in block.lines)
    if isinstance(block, Quote):
        return f"<blockquote>{tg(block.text)}</blockquote>"
    return _card(block)


def _card(card: Card) -> str:
    return "\n\n".join(_block(group) for group in card_text(card))


def _line(line: Line) -> str:
    return "".join(_inline(inline) for inline in line)


_TAGS = {"plain": ("", ""), "strong": ("<b>", "</b>"), "emphasis": ("<i>", "</i>")}


def _inline(inline: Inline) -> str:
    if isinstance(inline, Span):
        opening, closing = _TAGS[inline.style]
        return f"{opening}{tg(inline.text)}{closing}"
    if isinstance(inline, Mark):
        return tg(inline.text)
    return f'<a href="{html.escape(inline.url, quote=True)}">{tg(inline.label)}</a>'


# --- splitting -------------------------------------------------------------------------------


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


def split_telegram(markup: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[TelegramHTML]:
    """Well-formed Telegram HTML in parts of at most `limit` visible code points each.

    Cuts fall on the visible text (paragraph, line, sentence, word, in that order of preference)
    and never inside a tag or an entity; a formatted span cut in two is closed at the end of one
    part and reopened, with the same attributes, at the start of the next.
    """
    if _fits_as_is(markup, limit):
        return [TelegramHTML(markup)]
    atoms = _atoms(markup)
    ranges = _visible_ranges("".join(atom.visible for atom in atoms), limit)
    if not ranges:
        return []
    parts: list[TelegramHTML] = []
    open_tags: list[str] = []  # raw opening tags, outermost first
    current: list[str] = []
    part = 0
    position = 0  # index in the visible text of the next visible atom
    for atom in atoms:
        if _part_ends_before(atom, position, ranges, part):
            parts.append(_finish(current, open_tags))
            part += 1
            current = list(open_tags)
        if atom.is_tag:
            current.append(atom.raw)
            _track(open_tags, atom.raw)
            continue
        start, end = ranges[part]
        if start <= position < end:
            current.append(atom.raw)
        position += 1
    parts.append(_finish(current, open_tags))
    return parts


def _visible_ranges(visible: str, limit: int) -> list[tuple[int, int]]:
    """Where each part's visible text starts and ends, blanks at the edges trimmed."""
    ranges = []
    start = 0
    while start < len(visible):
        end, next_start = find_cut(visible, start, limit)
        ranges.append(_trimmed(visible, start, end))
        start = next_start
    return [(a, b) for a, b in ranges if b > a]


def _part_ends_before(atom: _Atom, position: int, ranges: list[tuple[int, int]],
                      part: int) -> bool:
    """Whether the part being built is complete before `atom`: its text is all in, another part
    follows, and `atom` opens a tag or is the next part's first character."""
    if part + 1 >= len(ranges) or position < ranges[part][1]:
        return False
    return not atom.raw.startswith("</") if atom.is_tag else position >= ranges[part + 1][0]


def _track(open_tags: list[str], tag: str) -> None:
    """The tags open after `tag`."""
    if tag.startswith("</"):
        if open_tags:
            open_tags.pop()
    elif not tag.endswith("/>"):
        open_tags.append(tag)


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


def _finish(current: list[str], open_tags: list[str]) -> TelegramHTML:
    closers = [f"</{_tag_name(tag)}>" for tag in reversed(open_tags)]
    return TelegramHTML(_drop_empty_spans("".join(current + closers)))


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
