"""Renderers: golden messages for the sample article, escaping, and splitting to platform limits.

The golden files in tests/golden/ hold what readers get for content/seed.txt on each platform.
After an intended change in wording or layout, rewrite them with

    BRIEFBOT_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_render.py

and read the diff before committing it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from briefbot.articles import Article, parse_article
from briefbot.briefing import Briefing, Bullet, Digest, make_briefing, make_digest
from briefbot.conversation import Notice
from briefbot.qa import Answer
from briefbot.render.discord import (
    DISCORD_CONTENT_LIMIT,
    DISCORD_EMBED_DESCRIPTION_LIMIT,
    DISCORD_EMBED_FOOTER_LIMIT,
    DISCORD_EMBED_TITLE_LIMIT,
    DISCORD_EMBED_TOTAL_LIMIT,
    DISCORD_EMBEDS_PER_MESSAGE,
    DiscordMessage,
    render_discord,
)
from briefbot.render.plain import render_plain
from briefbot.render.telegram import TELEGRAM_TEXT_LIMIT, render_telegram, split_telegram
from fakes.telegram_html import parse_html

REPO = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"
PART_BREAK = "\n\n----- next message -----\n\n"


def seed_briefing() -> Briefing:
    article, problems = parse_article(REPO / "content" / "seed.txt")
    assert not problems
    return make_briefing(article)


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("BRIEFBOT_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8"), f"{name} changed; see the module docstring"


def visible(part: str) -> str:
    """The text Telegram shows for one HTML part; raises if Telegram would refuse the markup."""
    text, _ = parse_html(part)
    return text


def assert_discord_limits(messages: list[DiscordMessage]) -> None:
    for message in messages:
        assert message.content or message.embeds
        assert len(message.content or "") <= DISCORD_CONTENT_LIMIT
        assert len(message.embeds) <= DISCORD_EMBEDS_PER_MESSAGE
        assert sum(e.char_count for e in message.embeds) <= DISCORD_EMBED_TOTAL_LIMIT
        for embed in message.embeds:
            assert len(embed.title or "") <= DISCORD_EMBED_TITLE_LIMIT
            assert len(embed.description or "") <= DISCORD_EMBED_DESCRIPTION_LIMIT
            assert len(embed.footer or "") <= DISCORD_EMBED_FOOTER_LIMIT


def briefing(**changes: object) -> Briefing:
    fields: dict[str, object] = {
        "article_id": "talks",
        "headline": "Talks resume in Geneva",
        "emoji": "🕊️",
        "byline": "Ana Ruiz · March 2, 2026",
        "bullets": (Bullet("🗣️", "Envoys met for six hours."), Bullet("📌", "More talks Friday.")),
        "link": "https://example.org/talks?id=1&lang=en",
    }
    fields.update(changes)
    return Briefing(**fields)  # type: ignore[arg-type]


def words(count: int) -> str:
    return " ".join(f"word{i}" for i in range(count))


# --- golden files ----------------------------------------------------------------------------


def test_seed_briefing_for_telegram_matches_golden_file() -> None:
    check_golden("seed.telegram.html", PART_BREAK.join(render_telegram(seed_briefing())) + "\n")


def test_seed_briefing_for_discord_matches_golden_file() -> None:
    messages = [m.to_dict() for m in render_discord(seed_briefing())]
    check_golden("seed.discord.json", json.dumps(messages, ensure_ascii=False, indent=2) + "\n")


def test_seed_briefing_as_plain_text_matches_golden_file() -> None:
    check_golden("seed.plain.txt", render_plain(seed_briefing()) + "\n")


def test_seed_briefing_is_one_valid_telegram_message() -> None:
    parts = render_telegram(seed_briefing())
    assert len(parts) == 1
    assert visible(parts[0]).startswith("📰 U.S. and Russia agree")


# --- Telegram --------------------------------------------------------------------------------


def test_markup_in_an_article_is_shown_as_text_on_telegram() -> None:
    article = Article(
        id="xss",
        title="Tom & Jerry <script>alert(1)</script>",
        author="<b>Eve</b>",
        date=None,
        paragraphs=("Rates rose 5% & bonds <b>fell</b> sharply on Tuesday after the vote.",),
        source_url='https://example.org/a?x=1&y="2"',
    )
    (part,) = render_telegram(make_briefing(article))
    text, entities = parse_html(part)
    assert "Tom & Jerry <script>alert(1)</script>" in text
    assert "<b>Eve</b>" in text
    assert "bonds <b>fell</b> sharply" in text
    assert {e.type for e in entities} == {"bold", "italic", "text_link"}
    (link,) = [e for e in entities if e.type == "text_link"]
    assert link.url == 'https://example.org/a?x=1&y="2"'


def test_a_20000_character_notice_splits_into_valid_telegram_parts() -> None:
    notice = Notice(text=words(2600), title="A <very> long notice", items=("one & two",) * 50)
    parts = render_telegram(notice)
    assert len(parts) >= 5
    texts = [visible(part) for part in parts]
    assert all(0 < len(text) <= TELEGRAM_TEXT_LIMIT for text in texts)
    assert " ".join(texts).split() == render_plain(notice).split()


def test_a_20000_character_briefing_splits_between_bullets() -> None:
    bullets = tuple(Bullet("📌", f"Point {i}: " + words(25)) for i in range(100))
    parts = render_telegram(briefing(bullets=bullets))
    texts = [visible(part) for part in parts]
    assert len(texts) > 1
    assert all(len(text) <= TELEGRAM_TEXT_LIMIT for text in texts)
    # Each part after the first starts with a whole bullet: the cut fell on a line break.
    assert all(text.startswith("📌 Point ") for text in texts[1:])


def test_a_long_bold_span_is_closed_and_reopened_across_parts() -> None:
    parts = split_telegram("<b>" + words(2000) + "</b> &amp; done")
    assert len(parts) == 5
    for part in parts:
        text, entities = parse_html(part)
        assert len(text) <= TELEGRAM_TEXT_LIMIT
        assert entities[0].type == "bold" and entities[0].offset == 0
    assert parts[-1].endswith("</b> &amp; done")


def test_a_link_cut_in_two_keeps_its_address_in_both_parts() -> None:
    parts = split_telegram('<a href="https://x.org/?a=1&amp;b=2">' + words(1200) + "</a>")
    links = [e.url for part in parts for e in parse_html(part)[1]]
    assert len(parts) == 3
    assert links == ["https://x.org/?a=1&b=2"] * 3


def test_text_without_spaces_is_cut_hard_and_never_inside_an_entity() -> None:
    parts = split_telegram("&amp;" * 5000 + "x" * 5000)
    texts = [visible(part) for part in parts]
    assert all(len(text) <= TELEGRAM_TEXT_LIMIT for text in texts)
    assert "".join(texts) == "&" * 5000 + "x" * 5000


def test_a_hard_cut_never_splits_a_flag() -> None:
    # 1 + 4095 code points fit, which would leave half a flag behind.
    texts = [visible(part) for part in split_telegram("x" + "🇺🇸" * 2500)]
    assert [len(text) for text in texts] == [4095, 906]
    assert texts[1] == "🇺🇸" * 453


def test_found_answer_quotes_its_source_sentence_on_telegram() -> None:
    source = "The decision comes after a series of talks in Abu Dhabi."
    answer = Answer(
        question="Where were the talks?",
        found=True,
        text=f"Abu Dhabi. “{source}”",
        article_id="seed",
        source=source,
        fact="Abu Dhabi",
        quote=source,
    )
    (part,) = render_telegram(answer)
    text, entities = parse_html(part)
    kinds = {e.type: text[e.offset : e.offset + e.length] for e in entities}
    assert kinds == {"bold": "Abu Dhabi", "blockquote": source}
    assert text == f"Abu Dhabi\n\n{source}"


def test_not_found_answer_lists_what_to_ask_instead() -> None:
    answer = Answer(
        question="Who won the match?",
        found=False,
        text="The article doesn't say who won the match.",
        article_id="seed",
        suggestions=("Where were the talks?", "When was the channel suspended?"),
    )
    text = visible(render_telegram(answer)[0])
    assert text.startswith("The article doesn't say")
    assert "• Where were the talks?\n• When was the channel suspended?" in text


def test_notice_shows_title_text_and_items() -> None:
    notice = Notice(text="Commands:", items=("/latest", "/list"), title="Help")
    (part,) = render_telegram(notice)
    text, entities = parse_html(part)
    assert text == "Help\nCommands:\n• /latest\n• /list"
    assert [(e.type, e.offset, e.length) for e in entities] == [("bold", 0, 4)]


def test_article_without_author_date_or_body_renders_everywhere() -> None:
    bare = make_briefing(Article(id="bare", title="BARE NEWS", author=None, date=None,
                                 paragraphs=()))
    assert visible(render_telegram(bare)[0]) == "📰 Bare news"
    assert render_plain(bare) == "📰 Bare news"
    (message,) = render_discord(bare)
    assert message.embeds[0].to_dict() == {"type": "rich", "title": "Bare news",
                                           "color": message.embeds[0].color}


def test_digest_lists_each_story_with_its_headline() -> None:
    older = Article(id="a", title="Old news", author=None, date=dt.date(2026, 1, 1),
                    paragraphs=("First thing happened today in the city. Second thing too.",))
    newer = Article(id="b", title="New news", author=None, date=dt.date(2026, 2, 1),
                    paragraphs=("Something else happened today in the town. Then more.",))
    text = visible(render_telegram(make_digest([older, newer]))[0])
    assert text.startswith("🗞️ News digest · 2 stories")
    assert text.index("📰 New news") < text.index("📰 Old news")


# --- Discord ---------------------------------------------------------------------------------


def test_briefing_is_one_discord_embed() -> None:
    (message,) = render_discord(briefing())
    assert message.content is None
    (embed,) = message.embeds
    assert embed.to_dict() == {
        "type": "rich",
        "title": "Talks resume in Geneva 🕊️",
        "description": "🗣️ Envoys met for six hours.\n📌 More talks Friday.",
        "url": "https://example.org/talks?id=1&lang=en",
        "footer": {"text": "Ana Ruiz · March 2, 2026"},
        "color": embed.color,
    }


def test_a_link_discord_would_refuse_is_left_out_of_the_embed() -> None:
    """An embed url Discord refuses (400) would lose the whole briefing."""
    for link in ("https://example.org/talks\n", "https://example.org/a b", "ftp://example.org/"):
        (message,) = render_discord(briefing(link=link))
        (embed,) = message.embeds
        assert embed.url is None, link


def test_everyone_in_an_article_cannot_ping_on_discord() -> None:
    loud = briefing(
        headline="@everyone look",
        bullets=(Bullet("📌", "Hi @here and <@123> and <@&456> and @everyone."),),
        byline="@everyone",
    )
    messages = render_discord(loud)
    answer = Answer("q", True, "@everyone <@!42> said so.", "talks", source="@everyone said so.")
    notice = Notice(text="@here", items=("@everyone",), title="<@1>")
    for message in messages + render_discord(answer) + render_discord(notice):
        blob = json.dumps(message.to_dict(), ensure_ascii=False)
        for ping in ("@everyone", "@here", "<@1", "<@&", "<@!"):
            assert ping not in blob


def test_markdown_from_an_article_is_shown_literally_on_discord() -> None:
    sneaky = briefing(bullets=(Bullet("📌", "*bold* _it_ `code` ~~s~~ ||spoil|| [x](http://e.vil)"),))
    description = render_discord(sneaky)[0].embeds[0].description
    assert description == (
        "📌 \\*bold\\* \\_it\\_ \\`code\\` \\~\\~s\\~\\~ \\|\\|spoil\\|\\| \\[x\\]\\(http://e.vil\\)"
    )


def test_long_headline_and_byline_are_clipped_to_embed_limits() -> None:
    messages = render_discord(briefing(headline=words(100), byline="x" * 3000))
    assert_discord_limits(messages)
    assert messages[0].embeds[0].title is not None
    assert messages[0].embeds[0].title.endswith("…")


def test_a_big_digest_respects_every_discord_limit() -> None:
    bullets = tuple(Bullet("📌", "y" * 199) for _ in range(2))
    digest = Digest(tuple(briefing(headline=f"Story {i} " + "z" * 240, bullets=bullets)
                          for i in range(25)))
    messages = render_discord(digest)
    assert_discord_limits(messages)
    assert len(messages) >= 3
    assert sum(len(m.embeds) for m in messages) == 25
    assert messages[0].content is not None and "25 stories" in messages[0].content


def test_a_briefing_with_many_editor_bullets_spreads_over_embeds() -> None:
    bullets = tuple(Bullet("📌", f"Point {i} " + "w" * 190) for i in range(60))
    messages = render_discord(briefing(bullets=bullets))
    assert_discord_limits(messages)
    embeds = [e for m in messages for e in m.embeds]
    assert len(embeds) >= 3
    assert embeds[0].title and not any(e.title for e in embeds[1:])
    assert embeds[-1].footer and not any(e.footer for e in embeds[:-1])
    joined = "\n".join(e.description or "" for e in embeds)
    assert joined.count("📌 Point") == 60


def test_a_20000_character_notice_splits_into_discord_messages() -> None:
    notice = Notice(text=words(2600), title="Long")
    messages = render_discord(notice)
    assert_discord_limits(messages)
    assert len(messages) >= 10
    assert " ".join(m.content or "" for m in messages).split() == ["**Long**", *words(2600).split()]


def test_found_answer_quotes_its_source_on_discord() -> None:
    source = "the channels were suspended in 2021."
    answer = Answer("When?", True, f"2021. “{source}”", "seed", source=source, fact="2021",
                    quote=source)
    (message,) = render_discord(answer)
    assert message.content == "**2021**\n\n> the channels were suspended in 2021."


def test_a_long_quoted_line_keeps_its_quote_mark_after_a_split() -> None:
    answer = Answer("q", True, "“" + words(500) + "”", "seed", source=words(500),
                    quote=words(500))
    messages = render_discord(answer)
    assert_discord_limits(messages)
    assert all((m.content or "").startswith("> ") for m in messages[1:])


def test_a_shortened_quote_is_shown_as_the_text_gives_it() -> None:
    """The quote field holds the sentence as cut to fit, so renderers never guess at the cut."""
    source = ("Officials said the agreement restores direct military communication channels "
              "that were suspended in 2021, shortly before the war began.")
    quote = "… restores direct military communication channels that were suspended in 2021 …"
    answer = Answer("When?", True, f"2021. “{quote}”", "seed", source=source, fact="2021",
                    quote=quote)
    assert render_plain(answer) == f"2021\n\n“{quote}”"
    text, _ = parse_html(render_telegram(answer)[0])
    assert text == f"2021\n\n{quote}"


def test_a_fact_that_is_the_whole_sentence_is_shown_once() -> None:
    source = "Talks resume on Thursday."
    answer = Answer("When?", True, f"“{source}”", "seed", source=source, fact="Talks resume on "
                    "Thursday", quote=source)
    assert render_plain(answer) == f"“{source}”"
    assert render_discord(answer)[0].content == f"> {source}"


def test_an_answer_without_a_quote_is_its_text_with_the_fact_in_bold() -> None:
    answer = Answer("Who wrote this?", True, "By MinhKhue.", "seed", fact="MinhKhue")
    assert render_discord(answer)[0].content == "By **MinhKhue**."
    assert render_plain(answer) == "By MinhKhue."


def test_suggestions_written_inline_in_the_text_become_one_list() -> None:
    answer = Answer("Who won?", False, "The article doesn't say. Try: Where? · When?", "seed",
                    suggestions=("Where?", "When?"))
    assert render_plain(answer) == "The article doesn't say.\n\nTry:\n• Where?\n• When?"


def test_a_found_answer_names_the_article_it_quotes_on_every_platform() -> None:
    answer = Answer(
        question="where?", found=True, text="Bergen. “Built in Bergen.”", article_id="harbour",
        source="Built in Bergen.", fact="Bergen", quote="Built in Bergen.",
        headline="Harbour <City> opens new ferry line",
    )
    assert "📰 <i>Harbour &lt;City&gt; opens new ferry line</i>" in render_telegram(answer)[0]
    assert "📰 *Harbour <City\\> opens new ferry line*" in render_discord(answer)[0].content
    assert render_plain(answer).endswith("📰 Harbour <City> opens new ferry line")


# --- the fast path for messages that fit -------------------------------------------------------


def test_a_message_that_fits_is_not_parsed_for_splitting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nearly every reply fits one message; parsing it into atoms was most of render's time."""
    from briefbot.render import telegram as render

    def no_parsing(_markup: str) -> list[object]:
        raise AssertionError("split_telegram parsed a message that fits as it is")

    expected = render_telegram(seed_briefing())
    monkeypatch.setattr(render, "_atoms", no_parsing)
    assert render_telegram(seed_briefing()) == expected
    assert len(expected) == 1


def test_the_fast_path_gives_what_the_split_gives() -> None:
    """Every short markup shape the split would change (trim, drop an empty span) still is."""
    from briefbot.render import telegram as render

    cases = [
        "<b>x</b>", " <b>x</b>", "<b> x</b>", "<b>x </b>", "x\n", "<b></b>x", "x<i></i>",
        "<a href=\"https://e.org/?a=1&amp;b=2\">link</a> &amp; more", "", "   ",
        telegram_html_of(seed_briefing()),
        *(render.telegram_html(b) for b in (briefing(), briefing(byline=None, emoji=""))),
    ]
    for markup in cases:
        fast = split_telegram(markup)
        slow = render.split_telegram(markup + " " * (TELEGRAM_TEXT_LIMIT + 1))
        assert fast == slow, markup


def telegram_html_of(reply: Briefing) -> str:
    from briefbot.render.telegram import telegram_html

    return telegram_html(reply)
