"""Where to cut text so each part fits a limit: paragraph, line, sentence, word, then hard."""

from __future__ import annotations

import re

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
