"""The conversation: every command and question, as any platform's reader would send them."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from briefbot.articles import Library
from briefbot.briefing import Briefing
from briefbot.conversation import Conversation, Incoming, Notice, clean_text
from briefbot.qa import Answer, QAIndex


@pytest.fixture
def conversation(content_dir: Path) -> Conversation:
    library = Library(content_dir)
    library.reload()
    return Conversation(library, QAIndex())


def _say(text: str, chat: str = "c1") -> Incoming:
    return Incoming(platform="test", chat_id=chat, user_id="u1", text=text)


async def test_latest_gives_the_newest_article_as_a_briefing(conversation: Conversation) -> None:
    (reply,) = await conversation.handle(_say("/latest"))
    assert isinstance(reply, Briefing)
    assert reply.article_id == "market"


async def test_commands_addressed_to_a_bot_by_name_work(conversation: Conversation) -> None:
    (reply,) = await conversation.handle(_say("/latest@briefbot_test_bot"))
    assert isinstance(reply, Briefing)


async def test_start_and_help_list_the_commands(conversation: Conversation) -> None:
    for command in ("/start", "/help"):
        (reply,) = await conversation.handle(_say(command))
        assert isinstance(reply, Notice)
        assert any(item.startswith("/latest") for item in reply.items)
        assert any(item.startswith("/subscribe") for item in reply.items)


async def test_list_shows_ids_and_headlines_newest_first(conversation: Conversation) -> None:
    (reply,) = await conversation.handle(_say("/list"))
    assert isinstance(reply, Notice)
    assert reply.items[0].startswith("market — Farmers market moves to the riverside (March 5, 2026)")
    assert reply.items[1].startswith("harbour — ")


async def test_brief_with_an_id_gives_that_briefing(conversation: Conversation) -> None:
    (reply,) = await conversation.handle(_say("/brief harbour"))
    assert isinstance(reply, Briefing) and reply.article_id == "harbour"


@pytest.mark.parametrize("bad_id", ["../../etc/passwd", "/etc/passwd", "..", "a/b", "x" * 300])
async def test_brief_with_a_path_is_refused_with_the_list(conversation: Conversation, bad_id: str) -> None:
    (reply,) = await conversation.handle(_say(f"/brief {bad_id}"))
    assert isinstance(reply, Notice) and reply.is_error
    assert "not an article id" in reply.text
    assert len(reply.items) == 2


async def test_brief_with_an_unknown_id_says_so_and_lists(conversation: Conversation) -> None:
    (reply,) = await conversation.handle(_say("/brief nonesuch"))
    assert isinstance(reply, Notice)
    assert "no article 'nonesuch'" in reply.text
    assert len(reply.items) == 2


async def test_a_question_after_a_briefing_goes_to_that_article(conversation: Conversation) -> None:
    await conversation.handle(_say("/brief harbour", chat="c9"))
    (reply,) = await conversation.handle(_say("who is the mayor?", chat="c9"))
    assert isinstance(reply, Answer)
    assert reply.found and reply.article_id == "harbour"
    assert "Vos" in reply.text
    assert reply.headline == "Harbour City opens new ferry line to the islands"


async def test_ask_command_answers_like_a_plain_question(conversation: Conversation) -> None:
    (reply,) = await conversation.handle(_say("/ask where were the ferries built?"))
    assert isinstance(reply, Answer) and reply.found
    assert "Bergen" in reply.text


async def test_a_curated_answer_from_front_matter_wins(conversation: Conversation) -> None:
    await conversation.handle(_say("/brief market"))
    (reply,) = await conversation.handle(_say("when's the market open?"))
    assert isinstance(reply, Answer)
    assert "Saturdays from 8 a.m. to 1 p.m." in reply.text


async def test_empty_messages_and_bare_ask_get_help(conversation: Conversation) -> None:
    (reply,) = await conversation.handle(_say("   \u202e\x00  "))
    assert isinstance(reply, Notice) and reply.items
    (reply,) = await conversation.handle(_say("/ask"))
    assert isinstance(reply, Notice) and "/ask" in reply.text


async def test_an_unknown_command_gets_help(conversation: Conversation) -> None:
    (reply,) = await conversation.handle(_say("/frobnicate now"))
    assert isinstance(reply, Notice)
    assert "don't know the command /frobnicate" in reply.text


async def test_a_10000_character_question_is_answered_on_its_first_1000(conversation: Conversation) -> None:
    (reply,) = await conversation.handle(_say("who is the mayor? " + "blah " * 2000))
    assert isinstance(reply, Answer)
    assert len(reply.question) <= 1000
    assert len(reply.text) <= 300


async def test_subscriptions_say_plainly_when_not_set_up(conversation: Conversation) -> None:
    (reply,) = await conversation.handle(_say("/subscribe 07:30"))
    assert isinstance(reply, Notice) and reply.is_error
    assert "not set up" in reply.text


async def test_an_empty_library_says_there_is_nothing_yet(tmp_path: Path) -> None:
    library = Library(tmp_path)
    library.reload()
    conversation = Conversation(library, QAIndex())
    (reply,) = await conversation.handle(_say("/latest"))
    assert isinstance(reply, Notice) and "no articles yet" in reply.text.lower()
    (reply,) = await conversation.handle(_say("who won?"))
    assert isinstance(reply, Answer) and not reply.found


def test_clean_text_drops_control_and_bidi_characters_but_keeps_emoji() -> None:
    assert clean_text("\u202ewho\x07 won? 🏆\n") == "who won? 🏆"


def test_clean_text_drops_whole_escape_sequences_and_keeps_ordinary_whitespace() -> None:
    assert clean_text("who is the ceo\x1b[0m") == "who is the ceo"
    assert clean_text("\x1b[38;5;196mred\x1b[m and \x1b(Bplain\x1b7") == "red and plain"
    assert clean_text("who\tis\nthe ceo?") == "who\tis\nthe ceo?"
    assert clean_text("who\x1b]8;;https://x.example\x1b\\is\x1b]8;;\x1b\\ it") == "whois it"
    assert clean_text("an open [bracket] stays \x1b") == "an open [bracket] stays"


@pytest.mark.parametrize("text", [
    "who is the mayor of harbour city?\x1b[0m",  # a colour reset pasted from a terminal
    "\x1b[1;31mwho is the mayor\x1b[0m of harbour city?",
    "who is the mayor of harbour city?\x1b]0;window title\x07",  # an OSC title sequence
    "who is the mayor of harbour city?\x9b0m",  # the one-byte CSI
    "who is\x00the mayor\x7fof harbour city?\x1b",
])
async def test_escape_codes_and_control_characters_in_a_question_do_not_change_the_answer(
    conversation: Conversation, text: str
) -> None:
    """"who is the ceo\x1b[0m" was read as "who is the ceo [0m", and a found answer became
    "The article doesn't say"."""
    (plain,) = await conversation.handle(_say("who is the mayor of harbour city?"))
    (reply,) = await conversation.handle(_say(text))
    assert isinstance(plain, Answer) and plain.found and "Vos" in plain.text
    assert isinstance(reply, Answer) and reply.text == plain.text
    assert "[" not in reply.question and "\x1b" not in reply.question


async def test_a_command_with_an_escape_code_after_it_is_still_that_command(
    conversation: Conversation,
) -> None:
    (reply,) = await conversation.handle(_say("/brief\x1b[0m harbour\x1b[0m"))
    assert isinstance(reply, Briefing) and reply.article_id == "harbour"


async def test_who_wrote_this_before_any_briefing_is_about_the_newest_article(
    conversation: Conversation,
) -> None:
    (reply,) = await conversation.handle(_say("who wrote this? ✍️", chat="fresh"))
    assert isinstance(reply, Answer) and reply.found
    assert "Tom Okafor" in reply.text


@pytest.mark.parametrize("text", ["thanks!", "Thank you 🙏", "hello", "Hi there!", "ok", "lol", "?", "🤔"])
async def test_small_talk_gets_a_short_reply_never_a_quoted_sentence(
    conversation: Conversation, text: str
) -> None:
    (reply,) = await conversation.handle(_say(text))
    assert isinstance(reply, Notice)


@pytest.mark.parametrize("text", ["what happened?", "summary please", "what's this about?", "tell me more", "any news today?"])
async def test_asking_for_the_gist_gets_the_briefing_of_the_chats_article(
    conversation: Conversation, text: str
) -> None:
    await conversation.handle(_say("/brief harbour", chat="gist"))
    (reply,) = await conversation.handle(_say(text, chat="gist"))
    assert isinstance(reply, Briefing) and reply.article_id == "harbour"


async def test_a_follow_up_question_goes_to_the_article_last_quoted(conversation: Conversation) -> None:
    (first,) = await conversation.handle(_say("where were the ferries built?", chat="f"))
    assert isinstance(first, Answer) and first.article_id == "harbour"
    (second,) = await conversation.handle(_say("when was this published?", chat="f"))
    assert isinstance(second, Answer) and "March 2, 2026" in second.text


class GatedIndex(QAIndex):
    """The real index, except that one question waits until the test lets it through."""

    def __init__(self, slow_question: str) -> None:
        super().__init__()
        self.slow_question = slow_question
        self.entered = threading.Event()
        self.gate = threading.Event()

    def ask(self, question: str, **where: str | None) -> Answer:
        if question == self.slow_question:
            self.entered.set()
            self.gate.wait(timeout=30)  # a guard against a hang, not a timing
        return super().ask(question, **where)


async def test_a_slow_answer_in_one_chat_does_not_hold_up_another_chats_reply(
    content_dir: Path,
) -> None:
    library = Library(content_dir)
    library.reload()
    qa = GatedIndex(slow_question="where were the ferries built?")
    conversation = Conversation(library, qa)
    slow = asyncio.create_task(conversation.handle(_say("where were the ferries built?", "c1")))
    assert await asyncio.to_thread(qa.entered.wait, 30)  # chat c1's answer is under way

    (fast,) = await conversation.handle(_say("When is the market open?", "c2"))
    assert isinstance(fast, Answer) and "Saturdays" in fast.text
    assert not slow.done()  # c2 got its reply while c1's answer was still being worked out

    qa.gate.set()
    (answer,) = await slow
    assert isinstance(answer, Answer) and "Bergen" in answer.text


@pytest.mark.parametrize("text", ["help", "Help!", "latest", "latest please", "list", "List"])
async def test_a_command_word_without_the_slash_is_the_command(
    conversation: Conversation, text: str
) -> None:
    (plain,) = await conversation.handle(_say(text))
    (slashed,) = await conversation.handle(_say("/" + text.split()[0].strip("!").lower()))
    assert plain == slashed


@pytest.mark.parametrize("text", ["how are you?", "How are you doing", "what's up?", "who are you?",
                                  "what can you do?"])
async def test_how_are_you_is_small_talk_not_a_question_about_the_article(
    conversation: Conversation, text: str
) -> None:
    (reply,) = await conversation.handle(_say(text))
    assert isinstance(reply, Notice) and not reply.is_error
    assert "doesn't say" not in reply.text


@pytest.mark.parametrize("text", [
    "help me", "help pls", "help?", "Help me please!", "please help", "plz help me",
    "help me out", "I need help", "need help!", "can you help me?", "could you help, please?",
    "what can you do", "What can you do for me?", "how do i use this", "How do I use this bot?",
    "how do I use you", "how does this work?", "what are the commands?", "show me the commands",
])
async def test_asking_for_help_in_words_gets_the_help_that_slash_help_gives(
    conversation: Conversation, text: str
) -> None:
    """"help me" and "help pls" were taken for questions about the article and answered with
    a random sentence of it, or "the article doesn't say"."""
    (reply,) = await conversation.handle(_say(text))
    (slashed,) = await conversation.handle(_say("/help"))
    assert reply == slashed


@pytest.mark.parametrize("text", [
    "how did the volunteers help?", "who will help the farmers", "can the fund help small shops?",
    "who can help me find the market?", "help me understand the ferry fares",
    "what help did the council give?", "does the new line help island families?",
])
async def test_a_question_about_the_news_that_says_help_is_still_answered_from_the_article(
    conversation: Conversation, text: str
) -> None:
    (reply,) = await conversation.handle(_say(text))
    assert isinstance(reply, Answer)


async def test_a_misspelt_command_is_offered_the_right_one(conversation: Conversation) -> None:
    (reply,) = await conversation.handle(_say("/lates"))
    assert isinstance(reply, Notice)
    assert "Did you mean /latest?" in reply.text


async def test_a_misspelt_article_id_is_offered_the_right_one(conversation: Conversation) -> None:
    (reply,) = await conversation.handle(_say("/brief habour"))
    assert isinstance(reply, Notice)
    assert "no article 'habour'" in reply.text and "Did you mean /brief harbour?" in reply.text
    assert len(reply.items) == 2  # and the list, as before


@pytest.mark.parametrize("name", ["harbour news.txt", "café.txt", "München-Wahl.txt"])
async def test_every_id_the_list_shows_can_be_briefed(
    content_dir: Path, name: str
) -> None:
    """An article's id is its file name, spaces and accents included: /list shows it, so /brief
    takes it. Before, '/brief harbour news' answered "no article 'harbour'. Did you mean /brief
    harbour news?", and 'café' was "not an article id"."""
    (content_dir / "harbour.txt").rename(content_dir / name)
    library = Library(content_dir)
    library.reload()
    conversation = Conversation(library, QAIndex())
    article_id = name.removesuffix(".txt")
    (listed,) = await conversation.handle(_say("/list"))
    assert isinstance(listed, Notice) and any(i.startswith(f"{article_id} \u2014") for i in listed.items)
    (reply,) = await conversation.handle(_say(f"/brief {article_id}"))
    assert isinstance(reply, Briefing) and reply.article_id == article_id
    (typo,) = await conversation.handle(_say(f"/brief {article_id[:-1]}"))
    assert isinstance(typo, Notice) and any(i.startswith(article_id) for i in typo.items)


async def test_an_id_far_from_every_article_gets_no_guess(conversation: Conversation) -> None:
    (reply,) = await conversation.handle(_say("/brief zzzzqqq"))
    assert isinstance(reply, Notice) and "Did you mean" not in reply.text
