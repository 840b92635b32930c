"""The fake Telegram Bot API server and its HTML parser behave like Telegram, as PTB sees it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, BotCommand
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.request import HTTPXRequest

from fakes.fake_telegram import FakeTelegram
from fakes.telegram_html import Entity, TelegramHtmlError, parse_html

# ---------------------------------------------------------------------- parse_html


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("x<br>y", 'Unsupported start tag "br" at byte offset 1'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<p>para</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("text</b>", "Unexpected end tag at byte offset 4"),
        ("<i>a</em>", 'Unmatched end tag at byte offset 4, expected "</i>", found "</em>"'),
        ("<b>a</b", "Unclosed end tag at byte offset 4"),
        ("a<b", "Unclosed start tag at byte offset 1"),
        ('<a href="https://x.org', "Unclosed start tag at byte offset 0"),
        ("<i   =x>", 'Empty attribute name in the tag "i" at byte offset 0'),
        ("<i x>", 'Expected equal sign in declaration of an attribute of the tag "i" at byte offset 0'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ('<tg-emoji emoji-id="abc">x</tg-emoji>', "Invalid custom emoji identifier specified"),
        ("🏟 <u>x</i>", 'Unmatched end tag at byte offset 9, expected "</u>", found "</i>"'),
    ],
)
def test_parse_html_refuses_what_telegram_refuses(html: str, error: str) -> None:
    with pytest.raises(TelegramHtmlError) as caught:
        parse_html(html)
    assert str(caught.value) == error


def test_parse_html_gives_visible_text_and_utf16_entities() -> None:
    text, entities = parse_html('😀 <b>Rates</b> &amp; <a href="https://x.org/?a=1&amp;b=2">more</a>')
    assert text == "😀 Rates & more"
    assert entities == [
        Entity("bold", 3, 5),
        Entity("text_link", 11, 4, url="https://x.org/?a=1&b=2"),
    ]


def test_parse_html_decodes_only_telegrams_entities() -> None:
    text, _ = parse_html("&lt;tag&gt; &quot;q&quot; &#65;&#x42; &nbsp; AT&T")
    assert text == '<tag> "q" AB &nbsp; AT&T'


def test_parse_html_supports_every_documented_tag() -> None:
    html = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s>"
        "<strike>k</strike><del>d</del><tg-spoiler>p</tg-spoiler>"
        '<span class="tg-spoiler">q</span><code>c</code><pre>p</pre>'
        '<pre><code class="language-python">x</code></pre><blockquote>bq</blockquote>'
        '<blockquote expandable>ex</blockquote><tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
    )
    text, entities = parse_html(html)
    assert text == "bsieunskdpqcpxbqex👍"
    assert {e.type for e in entities} == {
        "bold", "italic", "underline", "strikethrough", "spoiler", "code", "pre",
        "blockquote", "expandable_blockquote", "custom_emoji",
    }
    assert Entity("pre", 13, 1, language="python") in entities


def test_parse_html_tag_names_are_case_insensitive() -> None:
    assert parse_html("<B>x</B>") == ("x", [Entity("bold", 0, 1)])


# ---------------------------------------------------------------------- the server, through PTB


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def make_bot(fake: FakeTelegram, token: str | None = None, read_timeout: float = 5.0) -> Bot:
    return Bot(
        token or fake.token,
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
        request=HTTPXRequest(read_timeout=read_timeout),
    )


async def test_get_me_names_the_fake_bot(fake: FakeTelegram) -> None:
    async with make_bot(fake) as bot:
        assert bot.username == fake.username


async def test_wrong_token_is_rejected_as_invalid(fake: FakeTelegram) -> None:
    bot = make_bot(fake, token="999999:WrongTokenWrongTokenWrongToken")
    with pytest.raises(InvalidToken):
        await bot.initialize()
    await bot.shutdown()


async def test_message_to_a_chat_that_never_wrote_is_chat_not_found(fake: FakeTelegram) -> None:
    async with make_bot(fake) as bot:
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(555, "hello")
    assert fake.sent_messages == []


async def test_sent_html_is_recorded_raw_and_as_seen(fake: FakeTelegram) -> None:
    fake.add_chat(7)
    async with make_bot(fake) as bot:
        message = await bot.send_message(7, "<b>Top</b> 3 &lt; 4", parse_mode="HTML")
    [sent] = fake.sent_messages
    assert (sent.chat_id, sent.text, sent.parsed_text) == (7, "<b>Top</b> 3 &lt; 4", "Top 3 < 4")
    assert message.text == "Top 3 < 4"
    assert message.entities[0].type == "bold"


async def test_broken_html_is_a_parse_error_like_telegrams(fake: FakeTelegram) -> None:
    fake.add_chat(7)
    async with make_bot(fake) as bot:
        with pytest.raises(BadRequest, match=r'(?i)unsupported start tag "br" at byte offset 1'):
            await bot.send_message(7, "a<br>b", parse_mode="HTML")


async def test_length_limit_counts_visible_characters(fake: FakeTelegram) -> None:
    fake.add_chat(7)
    async with make_bot(fake) as bot:
        await bot.send_message(7, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(7, "y" * 4097)
        with pytest.raises(BadRequest, match="Message text is empty"):
            await bot.send_message(7, "<b> </b>", parse_mode="HTML")
    assert len(fake.sent_messages) == 1


@pytest.mark.parametrize(
    ("kind", "params", "error"),
    [
        ("retry_after", {"retry_after": 3}, RetryAfter),
        ("server_error", {"status": 502}, NetworkError),
        ("blocked", {}, Forbidden),
        ("chat_not_found", {}, BadRequest),
        ("migrated", {"migrate_to_chat_id": -1001234567890}, ChatMigrated),
    ],
)
async def test_injected_fault_fails_once_and_sends_nothing(
    fake: FakeTelegram, kind: str, params: dict[str, int], error: type[Exception]
) -> None:
    fake.add_chat(7)
    fake.inject(kind, **params)
    async with make_bot(fake) as bot:
        with pytest.raises(error):
            await bot.send_message(7, "first")
        assert fake.sent_messages == []
        await bot.send_message(7, "second")
    assert [m.text for m in fake.sent_messages] == ["second"]


async def test_migrated_fault_carries_the_new_chat_id(fake: FakeTelegram) -> None:
    fake.add_chat(-5, "group")
    fake.inject("migrated", migrate_to_chat_id=-1009)
    async with make_bot(fake) as bot:
        with pytest.raises(ChatMigrated) as caught:
            await bot.send_message(-5, "x")
    assert caught.value.new_chat_id == -1009


async def test_blocked_fault_can_target_one_chat_for_good(fake: FakeTelegram) -> None:
    fake.add_chat(7)
    fake.add_chat(8)
    fake.inject("blocked", chat_id=7, times=None)
    async with make_bot(fake) as bot:
        for _ in range(2):
            with pytest.raises(Forbidden, match="blocked by the user"):
                await bot.send_message(7, "x")
        await bot.send_message(8, "y")
    assert [m.chat_id for m in fake.sent_messages] == [8]


async def test_delay_past_the_client_timeout_is_a_timeout(fake: FakeTelegram) -> None:
    fake.add_chat(7)
    fake.inject("delay", seconds=2)
    async with make_bot(fake, read_timeout=0.2) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(7, "slow")
    assert fake.sent_messages == []


async def test_stall_takes_the_message_and_holds_its_answer(fake: FakeTelegram) -> None:
    fake.add_chat(7)
    fake.inject("stall", seconds=30)
    async with make_bot(fake, read_timeout=0.2) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(7, "taken")
        assert [p["text"] for p in fake.held] == ["taken"]
        assert fake.calls_to("sendMessage") == []  # not answered yet
        await bot.send_message(7, "next")
    assert [m.text for m in fake.sent_messages] == ["taken", "next"]


async def test_global_rate_limit_answers_429_with_retry_after(fake: FakeTelegram) -> None:
    fake.add_chat(7)
    fake.global_rate = 3
    async with make_bot(fake) as bot:
        for n in range(3):
            await bot.send_message(7, f"m{n}")
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(7, "one too many")
    assert caught.value.retry_after >= 1
    assert len(fake.sent_messages) == 3


async def test_get_updates_long_poll_returns_a_message_pushed_meanwhile(
    fake: FakeTelegram,
) -> None:
    async with make_bot(fake) as bot:
        poll = asyncio.create_task(bot.get_updates(timeout=5))
        await asyncio.sleep(0.05)
        assert not poll.done()
        fake.push_message("/latest@briefbot_test_bot", chat_id=1001)
        [update] = await poll
        assert update.message is not None
        assert update.message.text == "/latest@briefbot_test_bot"
        assert update.message.entities[0].type == "bot_command"
        # The next offset confirms it: it is not delivered again.
        assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()


async def test_mentions_get_entities_in_utf16_units(fake: FakeTelegram) -> None:
    update = fake.push_message("😀 hi @briefbot_test_bot", chat_id=-3, chat_type="group")
    assert update["message"]["entities"] == [{"type": "mention", "offset": 6, "length": 18}]


async def test_commands_round_trip(fake: FakeTelegram) -> None:
    async with make_bot(fake) as bot:
        await bot.set_my_commands([BotCommand("latest", "Newest briefing")])
        assert [c.command for c in await bot.get_my_commands()] == ["latest"]
        await bot.delete_my_commands()
        assert await bot.get_my_commands() == ()


async def test_chat_member_status_is_configurable(fake: FakeTelegram) -> None:
    fake.add_chat(-3, "supergroup")
    fake.set_chat_member(-3, 42, "administrator")
    async with make_bot(fake) as bot:
        assert (await bot.get_chat_member(-3, 42)).status == "administrator"
        assert (await bot.get_chat_member(-3, 43)).status == "member"
        assert (await bot.get_chat(-3)).title == "Chat -3"
