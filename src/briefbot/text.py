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

# Russian abbreviations that are followed by a capital inside a sentence ("ул. Ленина").
_ABBREVIATIONS_RU = frozenset("им ул пр просп проф акад ген св тыс млн млрд руб".split())

# A sentence end: terminal punctuation and closing quotes or brackets, then either
#   - whitespace and a sentence start (checked in `_starts_sentence`), for scripts that put a
#     space between sentences (Latin, Cyrillic, Greek, Arabic, Devanagari);
#   - a CJK full stop, exclamation or question mark (。！？), which needs no space after it;
#   - the Greek question mark (";" between Greek words), whitespace and a Greek word.
_SENTENCE_END = re.compile(
    r"""(?P<marks>[.!?…؟।]+["'”’)\]»」』]*)(?P<space>\s+)(?P<open>["'“‘(\[«„]?)(?=(?P<next>\w))"""
    r"""|(?P<cjk>[。！？]+(?P<closed>["'”’)\]」』）]*))(?P<gap>\s*)(?=(?P<after>\S))"""
    r"""|(?P<greek>(?<=[\u0370-\u03ff\u1f00-\u1fff])[;\u037e])\s+(?=[\u0370-\u03ff\u1f00-\u1fff])"""
)
# The sentence starts the splitter knew when only Latin text was read. English boundaries must
# not move (the Q&A engine's fitted weights depend on them), so these stay exactly as they were.
_LATIN_START = re.compile(r"[A-Z0-9\u00C0-\u024F]")


def _starts_sentence(char: str, opening: str) -> bool:
    """Whether a word starting with `char` (after an `opening` quote, or "") may open a
    sentence: a Latin capital or digit as before, or a capital or caseless letter (Cyrillic,
    Greek, Arabic, CJK...) or digit of another script."""
    if _LATIN_START.match(char) and opening not in ("«", "„"):
        return True
    return (char > "\u024f" or opening != "") and char.isalnum() and not char.islower()


def split_sentences(paragraph: str) -> list[str]:
    """One paragraph as its sentences, in order, whitespace normalised; [] for a blank one.

    A sentence ends at . ! ? … (and ؟ । for Arabic and Hindi) before a space and a capital or
    caseless letter or a digit, at 。！？ with or without a space, and at a Greek question mark.
    A period after an abbreviation (U.S., Gen., Dr., a.m., St.) or a single letter (an initial)
    ends nothing.
    """
    text = " ".join(paragraph.split())
    if not text:
        return []
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        marks = match.group("marks")
        if marks is None:  # CJK or Greek: no abbreviations to step over
            if (match.group("closed") and not match.group("gap")
                    and match.group("after") not in "「『“‘（(\"'"):
                continue  # 「会談は成功した。」と述べた: a quoted sentence inside a longer one
            end = match.end("cjk") if match.group("cjk") is not None else match.end("greek")
            sentences.append(text[start:end].strip())
            start = match.end()
            continue
        if not _starts_sentence(match.group("next"), match.group("open")):
            continue
        candidate = text[start : match.end("marks")]
        last_word = candidate.rstrip(".!?…\"'”’)]").rsplit(" ", 1)[-1].lower()
        if marks.startswith(".") and (
            last_word in _ABBREVIATIONS or last_word in _ABBREVIATIONS_RU
            or (len(last_word) == 1 and last_word.isalpha())
        ):
            continue
        sentences.append(candidate.strip())
        start = match.end("space")
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


# Bidi overrides and isolates make text read backwards in a chat; control characters garble it.
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
# A run of control, surrogate or private-use characters, with the spaces around it.
_CONTROL_RUN = re.compile(
    " *[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\U000f0000-\U0010ffff]+ *"
)


# A terminal escape sequence, whole (ECMA-48): a colour or cursor code (CSI: ESC [ or its
# one-byte form, parameters, a final letter), a string such as a window title or link (OSC,
# DCS...: ESC ] ... up to BEL or ESC \), or a two-character escape (ESC ( B, ESC 7). Pasted from
# a terminal they show as nothing; dropping only the ESC left "[0m" in the text. Bounded, so
# a long run of starts with no end (a 1 MB article of them) costs linear time, not quadratic;
# the bare ESC or C1 byte of an unfinished one is a control character like any other.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]{0,64}[ -/]{0,8}[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x90-\x9f]{0,2048}(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[ -/]{0,8}[0-~]"
)


def visible_text(text: str) -> str:
    """`text` as people should see it: terminal escape sequences and bidi controls dropped,
    each run of other control characters one space ("who\\x00was" stays two words), newlines
    and tabs kept, trimmed. For people's messages and for article and feed text alike."""
    if "\x1b" in text or not text.isascii():  # the escapes start with ESC or a C1 byte
        text = _ESCAPE_SEQUENCE.sub("", text)
    return _CONTROL_RUN.sub(" ", text.translate(_BIDI)).strip()


def clip_words(text: str, limit: int) -> str:
    """`text` in at most `limit` characters: cut at a space (when one is past the middle),
    trailing punctuation dropped, and … added when it had to be cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"
