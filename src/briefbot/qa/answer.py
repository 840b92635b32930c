"""How an Answer's one line is composed from a fact and a quote (Answer is in briefbot.messages)."""

from __future__ import annotations

from briefbot.messages import Answer as Answer  # re-exported: adapters render it without the engine

MAX_ANSWER_CHARS = 300
DOESNT_SAY = "The article doesn't say."


def _compose(fact: str | None, source: str | None) -> tuple[str | None, str | None, str]:
    """(fact, quote, text): 'Fact. “Cited sentence”', the quote cut with … to fit 300 chars."""
    if fact and source and len(fact) > 0.6 * len(source):
        fact = None  # the fact would only repeat the quote
    prefix = ""
    if fact:
        fact = fact if len(fact) <= 120 else fact[:119].rstrip() + "…"
        prefix = fact if fact[-1] in ".!?…" else fact + "."
        if source is None:
            return fact, None, prefix
        prefix += " "
    if source is None:
        return None, None, DOESNT_SAY
    budget = MAX_ANSWER_CHARS - len(prefix) - 2
    quote = _nested(source if len(source) <= budget else _shorten(source, fact, budget))
    return fact, quote, f"{prefix}“{quote}”"


def _nested(quote: str) -> str:
    """Double quote marks inside a cited sentence as single ones (‘ ’), the convention for a
    quote within a quote, so '“"We will appeal," she said.”' reads '“‘We will appeal,’ …”'."""
    if '"' in quote:
        parts = quote.split('"')
        quote = "".join(part + ("‘" if i % 2 == 0 else "’") for i, part in enumerate(parts[:-1]))
        quote += parts[-1]
    return quote.replace("“", "‘").replace("”", "’")


def _shorten(text: str, focus: str | None, budget: int) -> str:
    """`text` cut to `budget` characters at a word, with …, keeping `focus` in view."""
    at = text.find(focus) if focus else -1
    start = 0
    if at > budget // 2:
        start = max(0, min(at - budget // 3, len(text) - budget + 2))
        start = text.find(" ", start) + 1 or start
    end = start + budget - (2 if start else 0) - 2
    piece = text[start:end]
    if end < len(text):
        piece = piece[: piece.rfind(" ")] if " " in piece else piece
        piece = piece.rstrip(" ,;:") + " …"
    return ("… " + piece) if start else piece
