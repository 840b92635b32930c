"""Sentence splitting and emoji handling, as briefings and answers rely on them."""

from __future__ import annotations

from briefbot.text import extract_emoji, split_sentences, strip_emoji


def test_abbreviations_do_not_end_a_sentence() -> None:
    text = ("Gen. Ada Moss met U.S. officials at 9 a.m. on Monday. Dr. Li Wen joined later. "
            "Talks ended Jan. 5.")
    assert split_sentences(text) == [
        "Gen. Ada Moss met U.S. officials at 9 a.m. on Monday.",
        "Dr. Li Wen joined later.",
        "Talks ended Jan. 5.",
    ]


def test_quoted_sentence_ends_after_its_closing_quote() -> None:
    text = "“We will win,” she said. “Soon.” Then she left."
    assert split_sentences(text) == ["“We will win,” she said.", "“Soon.”", "Then she left."]


def test_decimal_numbers_stay_in_one_sentence() -> None:
    assert split_sentences("Rates fell to 4.75 percent. Markets rose.") == [
        "Rates fell to 4.75 percent.",
        "Markets rose.",
    ]


def test_blank_paragraph_has_no_sentences() -> None:
    assert split_sentences("   \n ") == []


def test_strip_emoji_removes_flags_sequences_and_the_space_they_leave() -> None:
    assert strip_emoji("Talks resume 🇺🇸🤝🇷🇺 today ⏳.") == "Talks resume today."
    assert strip_emoji("Family 👨‍👩‍👧 trip 👍🏽!") == "Family trip!"


def test_strip_emoji_keeps_punctuation_and_accents() -> None:
    text = "Brandão said “it’s done” — 90% © 2026 ± next."
    assert strip_emoji(text) == text


def test_extract_emoji_keeps_order_and_sequences_whole() -> None:
    assert extract_emoji("Kick-off ⚽ and cash 💰, flag 🇺🇸") == "⚽💰🇺🇸"


def test_russian_sentences_split_and_initials_stay_whole() -> None:
    text = ("Президент заявил в понедельник, что переговоры продолжатся. Встреча прошла в Женеве. "
            "По словам Д. Пескова, стороны договорились. Ул. Ленина закрыта до 20 марта.")
    assert split_sentences(text) == [
        "Президент заявил в понедельник, что переговоры продолжатся.",
        "Встреча прошла в Женеве.",
        "По словам Д. Пескова, стороны договорились.",
        "Ул. Ленина закрыта до 20 марта.",
    ]


def test_chinese_and_japanese_sentences_end_at_full_width_marks_without_a_space() -> None:
    assert split_sentences("统计局周一公布数据。经济增长百分之五！这是否意味着复苏？专家表示乐观。") == [
        "统计局周一公布数据。", "经济增长百分之五！", "这是否意味着复苏？", "专家表示乐观。",
    ]
    assert split_sentences("首相は「会談は成功した。」と述べた。詳細は明日発表される。") == [
        "首相は「会談は成功した。」と述べた。", "詳細は明日発表される。",
    ]


def test_greek_and_arabic_sentences_split_at_their_own_marks() -> None:
    assert split_sentences("Η κυβέρνηση ανακοίνωσε νέα μέτρα. Τι σημαίνει αυτό; Κανείς δεν ξέρει.") == [
        "Η κυβέρνηση ανακοίνωσε νέα μέτρα.", "Τι σημαίνει αυτό;", "Κανείς δεν ξέρει.",
    ]
    assert split_sentences("أعلنت الحكومة عن خطة جديدة. هل ستنجح الخطة؟ لا أحد يعرف.") == [
        "أعلنت الحكومة عن خطة جديدة.", "هل ستنجح الخطة؟", "لا أحد يعرف.",
    ]


def test_english_semicolons_and_lowercase_starts_still_end_nothing() -> None:
    text = "Rates rose; Markets fell. the end came at 9 a.m. Monday. St. Ives won."
    assert split_sentences(text) == ["Rates rose; Markets fell. the end came at 9 a.m. Monday.",
                                     "St. Ives won."]
