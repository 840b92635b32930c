"""The plain dialect: a laid-out reply as console text, no markup, emoji kept, never split."""

from __future__ import annotations

from briefbot.messages import Reply
from briefbot.render.layout import Block, Inline, Lines, Link, Quote, Span, card_text, layout


def render_plain(reply: Reply) -> str:
    """The reply as console text."""
    return "\n\n".join(_block(block) for block in layout(reply).blocks)


preview = render_plain  # what `briefbot preview --platform plain` prints


def _block(block: Block) -> str:
    if isinstance(block, Lines):
        return "\n".join("".join(_inline(inline) for inline in line) for line in block.lines)
    if isinstance(block, Quote):
        return f"“{block.text}”"
    return "\n\n".join(_block(group) for group in card_text(block))


def _inline(inline: Inline) -> str:
    if isinstance(inline, Span):
        return inline.text
    if isinstance(inline, Link):
        return inline.url  # a terminal shows the address; most make it clickable
    return inline.text
