"""A Python port of TDLib's `parse_html`: what Telegram accepts with parse_mode="HTML", and why not.

The rules and error texts follow tdlib/td (`td/telegram/MessageEntity.cpp`, `parse_html`, and the
vectors in `test/message_entities.cpp`). Byte offsets in errors count UTF-8 bytes of the input;
entity offsets and lengths count UTF-16 code units, as the Bot API reports them.

    >>> parse_html('<b>Rates</b> &amp; <a href="https://x.org">more</a>')
    ('Rates & more', [Entity(type='bold', offset=0, length=5, ...), Entity(type='text_link', ...)])
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Entity", "TelegramHtmlError", "parse_html", "utf16_length"]


class TelegramHtmlError(ValueError):
    """The text would be refused with "Bad Request: can't parse entities: <message>"."""


@dataclass(frozen=True, slots=True)
class Entity:
    """One Bot API MessageEntity: `type`, `offset` and `length` in UTF-16 code units."""

    type: str
    offset: int
    length: int
    url: str | None = None
    language: str | None = None
    custom_emoji_id: str | None = None

    def to_api(self) -> dict[str, object]:
        data: dict[str, object] = {"type": self.type, "offset": self.offset, "length": self.length}
        if self.url is not None:
            data["url"] = self.url
        if self.language is not None:
            data["language"] = self.language
        if self.custom_emoji_id is not None:
            data["custom_emoji_id"] = self.custom_emoji_id
        return data


_SUPPORTED_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler",
        "tg-emoji", "span", "pre", "code", "blockquote",
    }
)
_SIMPLE_TYPES = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler",
}
_NAMED_ENTITIES = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}
# TDLib's is_space: the ASCII whitespace set, byte by byte.
_SPACES = frozenset(b" \t\r\n\x0b\x0c")
_NAME_TOKEN = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
_URL = re.compile(r"^(?:(?:https?|ftp|tg|ton)://)?[^\s/?#]+\.[^\s/?#]+|^tg://\S+", re.IGNORECASE)


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units: what Telegram's entity offsets count."""
    return len(text.encode("utf-16-le")) // 2


class _Input:
    """The UTF-8 bytes of the text with a NUL terminator, like TDLib's CSlice."""

    def __init__(self, text: str) -> None:
        self.data = text.encode("utf-8", "surrogatepass") + b"\0"
        self.end = len(self.data) - 1

    def at(self, index: int) -> int:
        return self.data[index] if index <= self.end else 0


def _decode_entity(src: _Input, pos: int) -> tuple[str, int] | None:
    """The character an `&...` reference at `pos` stands for, and the index after it."""
    end = pos + 1
    if src.at(end) == ord("#"):
        end += 1
        value = 0
        if src.at(end) == ord("x"):
            end += 1
            while chr(src.at(end)) in "0123456789abcdefABCDEF" and src.at(end):
                value = value * 16 + int(chr(src.at(end)), 16)
                end += 1
                if value >= 0x10FFFF:
                    return None
        else:
            while ord("0") <= src.at(end) <= ord("9"):
                value = value * 10 + src.at(end) - ord("0")
                end += 1
                if value >= 0x10FFFF:
                    return None
        if value == 0 or end - pos >= 10:
            return None
        if 0xD800 <= value <= 0xDFFF:
            # TDLib rejects the whole text as invalid Unicode; a lone surrogate is never text.
            raise TelegramHtmlError("Text contains invalid Unicode characters")
        char = chr(value)
    else:
        while chr(src.at(end)).isascii() and chr(src.at(end)).isalpha() and src.at(end):
            end += 1
        named = _NAMED_ENTITIES.get(src.data[pos + 1 : end])
        if named is None:
            return None
        char = named
    if src.at(end) == ord(";"):
        end += 1
    return char, end


@dataclass(slots=True)
class _Open:
    tag: str
    argument: str
    offset: int  # UTF-16 offset in the result where the tag opened
    begin: int  # index into the result string, for <a> without href
    expandable: bool = False


def _is_valid_link(url: str) -> bool:
    return bool(_URL.match(url.strip()))


def parse_html(text: str) -> tuple[str, list[Entity]]:
    """The visible text and the entities Telegram would make of `text` with parse_mode HTML.

    Raises TelegramHtmlError with TDLib's message when Telegram would refuse the text.
    """
    src = _Input(text)
    out: list[str] = []
    out_len = 0  # characters in `out`, kept so <a> without href can find its text
    offset = 0  # UTF-16 units so far
    entities: list[Entity] = []
    stack: list[_Open] = []
    i = 0
    while i < src.end:
        c = src.data[i]
        if c == ord("&"):
            decoded = _decode_entity(src, i)
            if decoded is not None:
                char, i = decoded
                out.append(char)
                out_len += 1
                offset += utf16_length(char)
                continue
        if c != ord("<"):
            # Copy one whole UTF-8 character.
            size = 1 if c < 0x80 else 2 if c < 0xE0 else 3 if c < 0xF0 else 4
            char = src.data[i : i + size].decode("utf-8", "surrogatepass")
            out.append(char)
            out_len += 1
            offset += utf16_length(char)
            i += size
            continue

        begin = i
        i += 1
        if src.at(i) != ord("/"):
            while src.at(i) and src.at(i) not in _SPACES and src.at(i) != ord(">"):
                i += 1
            if not src.at(i):
                raise TelegramHtmlError(f"Unclosed start tag at byte offset {begin}")
            tag = src.data[begin + 1 : i].decode("utf-8", "replace").lower()
            if tag not in _SUPPORTED_TAGS:
                raise TelegramHtmlError(f'Unsupported start tag "{tag}" at byte offset {begin}')
            argument = ""
            expandable = False
            while src.at(i) != ord(">"):
                while src.at(i) and src.at(i) in _SPACES:
                    i += 1
                if src.at(i) == ord(">"):
                    break
                name_begin = i
                while src.at(i) and src.at(i) not in _SPACES and src.at(i) not in b"=>":
                    i += 1
                name = src.data[name_begin:i].decode("utf-8", "replace")
                if not name:
                    raise TelegramHtmlError(
                        f'Empty attribute name in the tag "{tag}" at byte offset {begin}'
                    )
                while src.at(i) and src.at(i) in _SPACES:
                    i += 1
                if src.at(i) != ord("="):
                    if tag == "blockquote" and name.lower() == "expandable":
                        expandable = True
                        continue
                    if not src.at(i):
                        raise TelegramHtmlError(f"Unclosed start tag at byte offset {begin}")
                    raise TelegramHtmlError(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag}" at byte offset {begin}'
                    )
                i += 1
                while src.at(i) and src.at(i) in _SPACES:
                    i += 1
                if not src.at(i):
                    raise TelegramHtmlError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                value_chars: list[str] = []
                quote = src.at(i)
                if quote not in (ord("'"), ord('"')):
                    # A name token: letters, digits, periods and hyphens, case-insensitive.
                    token_begin = i
                    while src.at(i) and src.at(i) in _NAME_TOKEN:
                        i += 1
                    value = src.data[token_begin:i].decode("ascii").lower()
                    if src.at(i) not in _SPACES and src.at(i) != ord(">"):
                        raise TelegramHtmlError(
                            f"Unexpected end of name token at byte offset {token_begin}"
                        )
                else:
                    i += 1
                    raw_begin = i
                    while src.at(i) and src.at(i) != quote:
                        if src.at(i) == ord("&"):
                            decoded = _decode_entity(src, i)
                            if decoded is not None:
                                value_chars.append(src.data[raw_begin:i].decode("utf-8", "replace"))
                                value_chars.append(decoded[0])
                                i = raw_begin = decoded[1]
                                continue
                        i += 1
                    value_chars.append(src.data[raw_begin:i].decode("utf-8", "replace"))
                    value = "".join(value_chars)
                    if src.at(i) == quote:
                        i += 1
                if not src.at(i):
                    raise TelegramHtmlError(f"Unclosed start tag at byte offset {begin}")
                lowered = name.lower()
                if (
                    (tag == "a" and lowered == "href")
                    or (tag == "tg-emoji" and lowered == "emoji-id")
                ):
                    argument = value
                elif tag == "code" and lowered == "class" and value.startswith("language-"):
                    argument = value[len("language-"):]
                elif tag == "span" and lowered == "class" and value.startswith("tg-"):
                    argument = value[len("tg-"):]
            if tag == "span" and argument != "spoiler":
                raise TelegramHtmlError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {begin}'
                )
            stack.append(_Open(tag, argument, offset, out_len, expandable))
            i += 1  # past ">"
            continue

        # An end tag.
        if not stack:
            raise TelegramHtmlError(f"Unexpected end tag at byte offset {begin}")
        while src.at(i) and src.at(i) not in _SPACES and src.at(i) != ord(">"):
            i += 1
        end_name = src.data[begin + 2 : i].decode("utf-8", "replace")
        while src.at(i) and src.at(i) in _SPACES:
            i += 1
        if src.at(i) != ord(">"):
            raise TelegramHtmlError(f"Unclosed end tag at byte offset {begin}")
        i += 1
        opened = stack.pop()
        if end_name and end_name.lower() != opened.tag:
            raise TelegramHtmlError(
                f'Unmatched end tag at byte offset {begin}, expected "</{opened.tag}>", '
                f'found "</{end_name}>"'
            )
        length = offset - opened.offset
        if length <= 0:
            continue
        entity = _close(opened, length, "".join(out[opened.begin :]), entities)
        if entity is not None:
            entities.append(entity)

    if stack:
        raise TelegramHtmlError(
            f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"'
        )
    # Telegram keeps a language only on pre>code; a lone <code class="language-x"> drops it.
    entities = [
        Entity(e.type, e.offset, e.length, e.url, None, e.custom_emoji_id)
        if e.type == "code" and e.language is not None else e
        for e in entities
    ]
    entities.sort(key=lambda e: (e.offset, -e.length))
    return "".join(out), entities


def _close(opened: _Open, length: int, inner: str, entities: list[Entity]) -> Entity | None:
    """The entity a closed tag makes (None for a link Telegram would silently drop)."""
    tag, start = opened.tag, opened.offset
    if tag in _SIMPLE_TYPES:
        return Entity(_SIMPLE_TYPES[tag], start, length)
    if tag == "span":
        return Entity("spoiler", start, length)
    if tag == "tg-emoji":
        if not opened.argument.isdigit() or int(opened.argument) == 0:
            raise TelegramHtmlError("Invalid custom emoji identifier specified")
        return Entity("custom_emoji", start, length, custom_emoji_id=opened.argument)
    if tag == "a":
        url = opened.argument or inner
        return Entity("text_link", start, length, url=url) if _is_valid_link(url) else None
    if tag == "blockquote":
        kind = "expandable_blockquote" if opened.expandable else "blockquote"
        return Entity(kind, start, length)
    last = entities[-1] if entities else None
    same_span = last is not None and last.offset == start and last.length == length
    if tag == "pre":
        if same_span and last is not None and last.type == "code" and last.language:
            entities.pop()
            return Entity("pre", start, length, language=last.language)
        return Entity("pre", start, length)
    # tag == "code"
    if same_span and last is not None and last.type == "pre" and opened.argument:
        entities.pop()
        return Entity("pre", start, length, language=opened.argument)
    return Entity("code", start, length, language=opened.argument or None)
