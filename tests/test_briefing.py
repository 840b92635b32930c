"""Briefings: recased headlines, short one-line bullets, bylines and digests."""

from __future__ import annotations

import datetime as dt

from briefbot.articles import Article
from briefbot.briefing import (
    BULLET_MAX_CHARS,
    Bullet,
    format_byline,
    make_briefing,
    make_digest,
    shorten_sentence,
)
from briefbot.text import strip_emoji

SUMMIT_PARAGRAPHS = (
    "In a notable development aimed at reducing tensions, the United States and Russia have "
    "agreed to restore high-level military-to-military communication, U.S. European Command "
    "announced Thursday. The decision comes after a series of talks in Abu Dhabi and marks a "
    "significant diplomatic step amid prolonged geopolitical strain.",
    "The agreement restores direct military communication channels that were suspended in 2021, "
    "just prior to Russia’s full-scale invasion of Ukraine 📞⚠️. For years, the absence of this "
    "direct line has complicated efforts to prevent misunderstandings.",
    "Officials from both sides — including representatives from NATO, Russia, and Ukraine — "
    "emphasized that the reestablished channel is not a political endorsement but a practical "
    "mechanism to reduce the risk of miscalculation and improve transparency, clarify intentions, "
    "support broader efforts toward stability and peace, and give commanders on every side a "
    "reliable way to reach each other quickly.",
    "The agreement followed high-level meetings involving Gen. Alexus Grynkewich, NATO’s top "
    "commander in Europe 🏛️🎖️. Observers describe the move as cautious and pragmatic.",
    "Restoring this channel suggests that both sides are willing to engage on operational risk.",
)


def summit(**changes: object) -> Article:
    fields: dict[str, object] = {
        "id": "summit",
        "title": "U.S. AND RUSSIA AGREE TO REESTABLISH HIGH-LEVEL MILITARY DIALOGUE 🇺🇸🤝🇷🇺",
        "author": "MinhKhue",
        "date": dt.date(2026, 2, 11),
        "paragraphs": SUMMIT_PARAGRAPHS,
        "source_url": "https://example.org/news/summit",
    }
    fields.update(changes)
    return Article(**fields)  # type: ignore[arg-type]


def test_all_caps_headline_reads_in_the_bodys_casing() -> None:
    briefing = make_briefing(summit())
    assert briefing.headline == "U.S. and Russia agree to reestablish high-level military dialogue"


def test_headline_keeps_acronyms_and_names_from_the_body() -> None:
    article = summit(
        title="NATO CHIEF MEETS RUSSIA ENVOY",
        paragraphs=("The NATO chief met the Russia envoy in Geneva on Monday for two hours.",),
    )
    assert make_briefing(article).headline == "NATO chief meets Russia envoy"


def test_a_word_capitalised_only_inside_a_name_stays_lower_elsewhere() -> None:
    article = summit(
        title="LARKMOOR TRANSIT WORKERS STRIKE",
        paragraphs=(
            "Drivers of the Larkmoor Metropolitan Transit Authority walked out on Monday.",
            "It is the first transit strike in Larkmoor for 19 years.",
        ),
    )
    assert make_briefing(article).headline == "Larkmoor transit workers strike"


def test_headline_already_in_mixed_case_is_left_as_written() -> None:
    article = summit(title="Ferreyra signs for Kingsport City ⚽")
    briefing = make_briefing(article)
    assert (briefing.headline, briefing.emoji) == ("Ferreyra signs for Kingsport City", "⚽")


def test_headline_emoji_are_kept_apart_from_the_words() -> None:
    assert make_briefing(summit()).emoji == "🇺🇸🤝🇷🇺"


def test_briefing_has_three_to_five_short_one_line_bullets() -> None:
    bullets = make_briefing(summit()).bullets
    assert 3 <= len(bullets) <= 5
    for bullet in bullets:
        assert len(bullet.text) <= BULLET_MAX_CHARS
        assert "\n" not in bullet.text
        assert bullet.emoji


def test_bullets_do_not_repeat_a_sentence() -> None:
    texts = [b.text for b in make_briefing(summit()).bullets]
    assert len(set(texts)) == len(texts)


def test_bullets_follow_the_articles_order() -> None:
    article = summit()
    body = strip_emoji(" ".join(article.paragraphs))
    positions = [body.find(b.text.rstrip("…")[-25:]) for b in make_briefing(article).bullets]
    assert -1 not in positions
    assert positions == sorted(positions)


def test_lead_bullet_drops_the_framing_clause() -> None:
    first = make_briefing(summit()).bullets[0]
    assert first.text.startswith("The United States and Russia have agreed")
    assert first.emoji == "🤝"


def test_a_sentences_own_emoji_becomes_its_bullet_emoji_and_leaves_the_text() -> None:
    bullets = make_briefing(summit()).bullets
    channels = next(b for b in bullets if b.text.startswith("The agreement restores"))
    assert channels.emoji == "📞"
    assert "📞" not in channels.text and "⚠" not in channels.text


def test_paired_dash_aside_is_dropped() -> None:
    text = shorten_sentence(
        "Officials from both sides — including representatives from NATO — emphasized the point."
    )
    assert text == "Officials from both sides emphasized the point."


def test_long_sentence_is_cut_at_a_boundary_with_an_ellipsis() -> None:
    text = shorten_sentence(SUMMIT_PARAGRAPHS[2])
    assert len(text) <= BULLET_MAX_CHARS
    assert text.endswith("…")
    assert text[:-1] == text[:-1].rstrip(" ,")
    assert SUMMIT_PARAGRAPHS[2].replace(
        " — including representatives from NATO, Russia, and Ukraine —", ""
    ).startswith(text[:-1])


def test_editor_bullets_win_over_picked_sentences() -> None:
    article = summit(bullets=("💬 Hotline is back", "Talks were held in Abu Dhabi"))
    bullets = make_briefing(article).bullets
    assert bullets == (Bullet("💬", "Hotline is back"), Bullet("🗣️", "Talks were held in Abu Dhabi"))


def test_short_article_gives_fewer_bullets() -> None:
    article = summit(paragraphs=("The striker signed a five-year contract on Thursday.",))
    bullets = make_briefing(article).bullets
    assert [b.text for b in bullets] == ["The striker signed a five-year contract on Thursday."]


def test_article_without_body_author_or_date_still_briefs() -> None:
    article = Article(id="empty", title="QUIET DAY", author=None, date=None, paragraphs=())
    briefing = make_briefing(article)
    assert briefing.bullets == ()
    assert briefing.byline == ""
    assert briefing.headline == "Quiet day"


def test_article_without_title_is_headed_by_its_id() -> None:
    article = Article(id="untitled-1", title="", author=None, date=None, paragraphs=("Hi.",))
    assert make_briefing(article).headline == "untitled-1"


def test_byline_joins_author_and_date_and_skips_a_missing_part() -> None:
    date = dt.date(2026, 2, 1)
    assert format_byline("MinhKhue", date) == "MinhKhue · February 1, 2026"
    assert format_byline(None, date) == "February 1, 2026"
    assert format_byline("MinhKhue", None) == "MinhKhue"


def test_briefing_links_to_the_source() -> None:
    assert make_briefing(summit()).link == "https://example.org/news/summit"


def test_digest_is_newest_first_with_two_bullets_each() -> None:
    old = summit(id="old", date=dt.date(2026, 1, 5))
    undated = summit(id="undated", date=None)
    new = summit(id="new", date=dt.date(2026, 3, 1))
    digest = make_digest([old, undated, new])
    assert [b.article_id for b in digest.briefings] == ["new", "old", "undated"]
    assert all(len(b.bullets) == 2 for b in digest.briefings)


def test_keyword_emoji_fit_the_topic() -> None:
    article = summit(
        title="Club record fee",
        paragraphs=(
            "The club paid a fee of 68 million euros for the forward on Thursday evening.",
            "Interest rates were cut by half a point to 4.75 percent by the central bank.",
            "The rocket will launch from Kourou in French Guiana next spring, officials confirm.",
        ),
    )
    assert [b.emoji for b in make_briefing(article).bullets] == ["💰", "📉", "🚀"]


def test_bullets_without_their_own_emoji_do_not_repeat_one_emoji_down_the_list() -> None:
    article = summit(paragraphs=(
        "The rocket launch went ahead at dawn from the coastal pad.",
        "Engineers said the launch used a new rocket engine for the first time.",
        "The second launch of the rocket is planned for the spring, officials said.",
        '"This launch proves the rocket works," said the mission director, Ana Ruiz.',
    ), bullets=())
    emoji = [bullet.emoji for bullet in make_briefing(article).bullets]
    assert len(emoji) >= 3
    assert len(set(emoji)) == len(emoji)
    assert emoji[0] == "🚀"
    assert "💬" in emoji  # the quoted sentence


RUSSIAN_PARAGRAPHS = (
    "Президент России Владимир Путин заявил в понедельник, что переговоры в Женеве продолжатся на "
    "следующей неделе. Встреча длилась шесть часов и прошла за закрытыми дверями. По словам "
    "Д. Пескова, стороны договорились о новых шагах по обмену пленными.",
    "Делегацию возглавил министр иностранных дел Сергей Лавров. Следующий раунд запланирован на "
    "20 марта. Эксперты считают, что это важный сигнал для всего региона, хотя конкретных "
    "результатов пока мало.",
)
CHINESE_PARAGRAPHS = (
    "国家统计局周一公布了第一季度经济数据。经济同比增长百分之五，高于市场预期！"
    "分析人士认为，消费回暖是主要原因。出口增长放缓，但仍保持正增长。这是否意味着经济全面复苏？"
    "专家表示谨慎乐观。",
)


def test_russian_and_chinese_articles_brief_in_whole_sentences() -> None:
    """Once each paragraph was one 'sentence': 2 bullets, the Russian one cut with '…'."""
    for paragraphs in (RUSSIAN_PARAGRAPHS, CHINESE_PARAGRAPHS):
        article = summit(title="Переговоры", paragraphs=paragraphs)
        assert len(article.sentences) == 6
        briefing = make_briefing(article)
        assert len(briefing.bullets) == 3
        for bullet in briefing.bullets:
            assert bullet.text in article.sentences and not bullet.text.endswith("…")


def test_the_answer_reader_is_shown_whole_russian_sentences() -> None:
    from briefbot.qa.reader import article_sentences

    article = summit(paragraphs=RUSSIAN_PARAGRAPHS)
    assert article_sentences(article)[3] == "Делегацию возглавил министр иностранных дел Сергей Лавров."


def test_a_long_bullet_leaves_out_who_someone_is_and_keeps_why_it_matters() -> None:
    sentence = ("The agreement followed high-level meetings involving Gen. Alexus Grynkewich, NATO’s "
                "top commander in Europe, along with senior military officials from Russia and Ukraine.")
    assert shorten_sentence(sentence) == (
        "The agreement followed high-level meetings involving Gen. Alexus Grynkewich along with "
        "senior military officials from Russia and Ukraine.")
    listed = ("Ferries from Bergen, Oslo and Stavanger will run every hour from Monday after the "
              "harbour authority settled a long dispute with the unions over pay and staffing.")
    assert shorten_sentence(listed).startswith("Ferries from Bergen, Oslo and Stavanger will run")


def test_every_bullet_is_one_short_line() -> None:
    assert BULLET_MAX_CHARS == 160
    for bullet in make_briefing(summit()).bullets:
        assert len(bullet.text) <= 160


def test_emoji_follow_the_sentences_meaning_not_one_word() -> None:
    article = summit(title="Ferry line reopens", paragraphs=(
        "The ferry line between Kingsport and Larkmoor reopened on Monday after the harbour was dredged.",
        "The phone line for bookings opens at 8 a.m., the operator said in a call with reporters.",
    ))
    assert [b.emoji for b in make_briefing(article).bullets] == ["⛴️", "📞"]


def test_a_ribbon_cutting_is_a_celebration_not_a_cut() -> None:
    """ "cut" is a fall in rates or prices, not a ribbon cut at an opening."""
    article = summit(title="New library opens", paragraphs=(
        "Mayor Lisa Brandt cut the ribbon at the new Northgate library on Saturday morning.",
        "Hundreds of families joined the celebration, and the children's room was full by noon.",
    ))
    emoji = [b.emoji for b in make_briefing(article).bullets]
    assert "📉" not in emoji and emoji[0] == "🎉"


def test_headline_names_the_body_never_repeats_keep_their_capitals() -> None:
    body = ("The city banned cars from its centre on Monday, and the agency delayed its mission.",)
    for title, expected in [
        ("PARIS BANS CARS FROM THE CENTRE", "Paris bans cars from the centre"),
        ("NASA DELAYS MOON MISSION", "NASA delays moon mission"),
        ("THE EU AGREES NEW RULES", "The EU agrees new rules"),
        ("BBC STAFF STRIKE OVER PAY", "BBC staff strike over pay"),
        ("WHO WILL PAY FOR IT", "Who will pay for it"),
    ]:
        assert make_briefing(summit(title=title, paragraphs=body)).headline == expected
