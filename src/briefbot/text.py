"""Text helpers shared by briefings and Q&A: sentence splitting and emoji handling."""

from __future__ import annotations

import re
import unicodedata

# Abbreviations whose trailing period does not end a sentence.
_ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof gen lt col maj capt sgt adm cmdr gov sen rep rev st jr sr co corp inc ltd
    no vs etc fig approx dept est jan feb mar apr jun jul aug sep sept oct nov dec mt ft
    a.m p.m u.s u.k u.n e.u d.c i.e e.g
    """.split()
)

_SENTENCE_END = re.compile(r"""([.!?…]+["'”’)\]]*)(\s+)(?=["'“‘(\[]?[A-Z0-9\u00C0-\u024F])""")


def split_sentences(paragraph: str) -> list[str]:
    """Split one paragraph into sentences, keeping abbreviations such as U.S. and Gen. intact."""
    text = " ".join(paragraph.split())
    if not text:
        return []
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end(1)
        candidate = text[start:end]
        last_word = candidate.rstrip(".!?…\"'”’)]").rsplit(" ", 1)[-1].lower()
        if match.group(1).startswith(".") and (
            last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha())
        ):
            continue
        sentences.append(candidate.strip())
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def is_emoji_char(char: str) -> bool:
    """True for pictographs, flags, and the joiners and selectors that glue emoji together."""
    code = ord(char)
    if code in (0x200D, 0xFE0F, 0xFE0E, 0x20E3):
        return True
    if 0x1F1E6 <= code <= 0x1F1FF:  # regional indicators (flags)
        return True
    if 0x1F3FB <= code <= 0x1F3FF:  # skin tones
        return True
    category = unicodedata.category(char)
    return category == "So" and code >= 0x2190


def extract_emoji(text: str) -> str:
    """The emoji in `text`, in order, as one string (flags and sequences kept whole)."""
    return "".join(char for char in text if is_emoji_char(char))


# Every emoji code point is a joiner, the keycap mark, or at or above U+2190 (see is_emoji_char),
# so only those need a look.
_MAYBE_EMOJI = re.compile("[\u200d\u20e3\u2190-\U0010FFFF]")


def _drop_emoji(match: re.Match[str]) -> str:
    return "" if is_emoji_char(match.group()) else match.group()


def strip_emoji(text: str) -> str:
    """`text` without emoji, with the spacing they leave behind tidied up."""
    cleaned = text if text.isascii() else _MAYBE_EMOJI.sub(_drop_emoji, text)
    cleaned = cleaned.translate(_INVISIBLE)
    # the space an emoji left before punctuation goes; not a space before ".45" or "...and"
    cleaned = re.sub(r"\s+([.,;:!?])(?![\w.])", r"\1", cleaned)
    return " ".join(cleaned.split())


# Characters that show as nothing but split words for search and copy-paste: soft hyphen,
# zero-width space/joiners, word joiner, byte-order mark.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
