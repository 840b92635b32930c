"""The Telegram adapter end to end: real python-telegram-bot talking HTTP to FakeTelegram."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from briefbot.adapters.telegram_adapter import COMMANDS, POLL_TIMEOUT_SECONDS, TelegramAdapter
from briefbot.adapters.telegram_config import TelegramConfig, WebhookConfig
from briefbot.articles import Library
from briefbot.briefing import Briefing, Bullet, Digest
from briefbot.config import ReaderConfig, Secret
from briefbot.conversation import Conversation, Incoming, Notice, Reply
from briefbot.errors import ChatMoved, ChatUnavailable, ConfigError, TemporaryFailure
from briefbot.qa import QAIndex
from briefbot.qa.reader import Reader
from briefbot.render.telegram import render_telegram
from fakes.fake_reader import MODEL, FakeReader, says
from fakes.fake_telegram import FakeTelegram
from fakes.telegram_html import parse_html

BOT = "briefbot_test_bot"


class RecordingEvents:
    """ChatEvents that remember what the adapter reported."""

    def __init__(self) -> None:
        self.unavailable: list[tuple[str, str, str]] = []
        self.moved: list[tuple[str, str, str]] = []

    async def chat_unavailable(self, platform: str, chat_id: str, reason: str) -> None:
        self.unavailable.append((platform, chat_id, reason))

    async def chat_moved(self, platform: str, chat_id: str, new_chat_id: str) -> None:
        self.moved.append((platform, chat_id, new_chat_id))


class Recorder:
    """A stand-in handler: remembers each Incoming and answers with fixed replies."""

    def __init__(self, *replies: Reply) -> None:
        self.seen: list[Incoming] = []
        self.replies: Sequence[Reply] = replies or (Notice("ok"),)

    async def __call__(self, incoming: Incoming) -> Sequence[Reply]:
        self.seen.append(incoming)
        return self.replies


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(username=BOT) as server:
        yield server


@pytest.fixture
def conversation(content_dir: Path) -> Conversation:
    library = Library(content_dir)
    library.reload()
    return Conversation(library, QAIndex())


def config_for(fake: FakeTelegram, token: str | None = None) -> TelegramConfig:
    return TelegramConfig(
        base_url=fake.base_url, base_file_url=fake.base_file_url,
        token=Secret(token or fake.token),
    )


@contextlib.asynccontextmanager
async def running(
    fake: FakeTelegram,
    handler: Recorder | Conversation,
    events: RecordingEvents | None = None,
    *,
    receive: bool = True,
) -> AsyncIterator[TelegramAdapter]:
    answer = handler.handle if isinstance(handler, Conversation) else handler
    adapter = TelegramAdapter(
        config_for(fake), answer, events, receive=receive, backoff_seconds=0.01
    )
    await adapter.start()
    try:
        yield adapter
    finally:
        async with asyncio.timeout(10):
            await adapter.stop()


def big_digest(count: int = 30) -> Digest:
    briefings = tuple(
        Briefing(
            article_id=f"story-{n}",
            headline=f"Story {n}: council & <ferry> board meets",
            emoji="⛴️",
            byline="Priya Natarajan · March 2, 2026",
            bullets=tuple(
                Bullet("📌", f"Point {b} of story {n}: " + "fares rise & tides turn " * 7)
                for b in range(5)
            ),
            link=f"https://news.example.org/story-{n}?a=1&b=2",
        )
        for n in range(count)
    )
    return Digest(briefings)


# --- lifecycle -------------------------------------------------------------------------------


async def test_start_sets_the_command_menu_and_long_polls(fake: FakeTelegram) -> None:
    async with running(fake, Recorder()):
        await fake.wait_until_polling()
        [menu] = fake.commands.values()
    assert [c["command"] for c in menu] == [name for name, _ in COMMANDS]
    assert fake.received[:4] == ["getMe", "setMyCommands", "deleteWebhook", "getUpdates"]


async def test_stop_ends_the_long_poll_and_confirms_what_was_fetched(fake: FakeTelegram) -> None:
    adapter = TelegramAdapter(config_for(fake), Recorder())
    await adapter.start()
    fake.push_message("/help", chat_id=5)
    await fake.wait_for_messages(1)
    await fake.wait_for_calls("getUpdates")  # the next long poll is open now
    # Waiting out that poll would take POLL_TIMEOUT_SECONDS; stop() cancels it instead.
    async with asyncio.timeout(POLL_TIMEOUT_SECONDS / 2):
        await adapter.stop()
    await adapter.stop()  # a second stop is harmless
    [final] = [c for c in fake.calls_to("getUpdates") if c.params["timeout"] == 0]
    assert final.params["offset"] == 2  # update 1 was handled and is confirmed


async def test_send_only_mode_never_polls_nor_sets_commands(fake: FakeTelegram) -> None:
    fake.add_chat(-100777, "channel", username="news")
    async with running(fake, Recorder(), receive=False) as adapter:
        await adapter.send_part("@news", "<b>Morning briefing</b>")
    assert fake.calls_to("getUpdates") == [] and fake.commands == {}
    assert [m.parsed_text for m in fake.messages_to(-100777)] == ["Morning briefing"]


async def test_wrong_token_is_a_clear_config_error_without_the_token(fake: FakeTelegram) -> None:
    wrong = "987654321:WrongWrongWrongWrongWrongWrong_xyz"
    adapter = TelegramAdapter(config_for(fake, wrong), Recorder())
    with pytest.raises(ConfigError) as caught:
        await adapter.start()
    assert str(caught.value) == (
        "TELEGRAM_BOT_TOKEN was rejected by the Telegram server; check the token from @BotFather"
    )
    assert caught.value.__suppress_context__
    await adapter.stop()


# --- private chats ---------------------------------------------------------------------------


async def test_start_in_a_private_chat_gets_the_help(
    fake: FakeTelegram, conversation: Conversation
) -> None:
    async with running(fake, conversation):
        fake.push_message("/start", chat_id=1001)
        [reply] = await fake.wait_for_messages(1, chat_id=1001)
    assert "/latest" in reply.parsed_text
    assert reply.parse_mode == "HTML"
    assert reply.params["link_preview_options"] == {"is_disabled": True}


async def test_latest_in_a_private_chat_gets_the_newest_briefing(
    fake: FakeTelegram, conversation: Conversation
) -> None:
    async with running(fake, conversation):
        fake.push_message("/latest", chat_id=1001)
        [reply] = await fake.wait_for_messages(1, chat_id=1001)
    assert "Farmers market moves to the riverside" in reply.parsed_text
    assert any(e.type == "bold" for e in reply.entities)


async def test_question_is_answered_with_the_cited_sentence(
    fake: FakeTelegram, conversation: Conversation
) -> None:
    async with running(fake, conversation):
        fake.push_message("who built the ferries?", chat_id=1001)
        [reply] = await fake.wait_for_messages(1, chat_id=1001)
    assert "Nordvik Yards" in reply.parsed_text
    assert "The ferries were built by Nordvik Yards in Bergen" in reply.parsed_text


async def test_while_the_reader_thinks_the_chat_shows_typing(
    fake: FakeTelegram, content_dir: Path
) -> None:
    """A qa.reader answer takes seconds: "typing…" first, then the answer it backs."""
    crossing = "The Harbour City council opened a new ferry line to the Kestrel Islands"
    library = Library(content_dir)
    library.reload()
    async with FakeReader(lambda request: says("40 minutes", crossing)) as endpoint:
        reader = Reader(ReaderConfig(url=endpoint.url, model=MODEL))
        conversation = Conversation(library, QAIndex(), reader=reader)
        async with running(fake, conversation):
            fake.push_message("how long is the trip to the islands now?", chat_id=1001)
            [reply] = await fake.wait_for_messages(1, chat_id=1001)
        await reader.aclose()
    assert reply.parsed_text.startswith("40 minutes\n")
    assert crossing in reply.parsed_text
    [typing] = fake.calls_to("sendChatAction")
    assert typing.params["action"] == "typing" and str(typing.params["chat_id"]) == "1001"
    assert typing.at <= fake.calls_to("sendMessage")[0].at


async def test_messages_from_one_chat_are_answered_in_order(fake: FakeTelegram) -> None:
    async def echo(incoming: Incoming) -> Sequence[Reply]:
        return [Notice(f"echo {incoming.text}")]

    async with running(fake, Recorder()) as adapter:
        adapter.handler = echo
        for n in range(8):
            fake.push_message(f"q{n}", chat_id=1001)
        replies = await fake.wait_for_messages(8, chat_id=1001)
    assert [m.parsed_text for m in replies] == [f"echo q{n}" for n in range(8)]


async def test_private_message_becomes_an_incoming_for_the_core(fake: FakeTelegram) -> None:
    recorder = Recorder()
    async with running(fake, recorder):
        fake.push_message("/latest@briefbot_test_bot", chat_id=1001, user_id=1001)
        await fake.wait_for_messages(1)
    [incoming] = recorder.seen
    assert (incoming.platform, incoming.chat_id, incoming.user_id) == ("telegram", "1001", "1001")
    assert (incoming.text, incoming.chat_kind) == ("/latest", "private")
    assert await incoming.is_admin()


# --- groups and channels ---------------------------------------------------------------------


async def test_group_talk_not_addressed_to_the_bot_gets_no_reply(
    fake: FakeTelegram, conversation: Conversation
) -> None:
    async with running(fake, conversation):
        fake.push_message("who built the ferries?", chat_id=-500, chat_type="group")
        fake.push_message("/latest@other_bot", chat_id=-500, chat_type="group")
        fake.push_message("@someone_else hi", chat_id=-500, chat_type="supergroup")
        fake.push_message("/roll 2d6", chat_id=-500, chat_type="group")  # another bot's command
        fake.push_message("/latest", chat_id=-500, chat_type="group")
        replies = await fake.wait_for_messages(1, chat_id=-500)
    assert len(fake.messages_to(-500)) == 1
    assert "Farmers market" in replies[0].parsed_text


async def test_group_question_that_mentions_the_bot_is_answered(
    fake: FakeTelegram, conversation: Conversation
) -> None:
    async with running(fake, conversation):
        update = fake.push_message(
            f"@{BOT} who built the ferries?", chat_id=-500, chat_type="supergroup"
        )
        [reply] = await fake.wait_for_messages(1, chat_id=-500)
    assert "Nordvik Yards" in reply.parsed_text
    # In a group the answer is a reply to the question.
    assert reply.params["reply_parameters"]["message_id"] == update["message"]["message_id"]


async def test_group_reply_to_the_bot_is_a_question_without_the_mention(
    fake: FakeTelegram,
) -> None:
    recorder = Recorder()
    async with running(fake, recorder):
        fake.push_message("/latest", chat_id=-500, chat_type="group")
        await fake.wait_for_messages(1)
        fake.push_message("and who paid?", chat_id=-500, chat_type="group", reply_to_bot=True)
        fake.push_message(f"@{BOT}, when?", chat_id=-500, chat_type="group")
        await fake.wait_for_messages(3)
    assert [i.text for i in recorder.seen] == ["/latest", "and who paid?", "when?"]
    assert {i.chat_kind for i in recorder.seen} == {"group"}


async def test_channel_posts_are_ignored(fake: FakeTelegram) -> None:
    recorder = Recorder()
    async with running(fake, recorder):
        fake.push_channel_post("/latest", chat_id=-100900)
        fake.push_message("/help", chat_id=1001)
        await fake.wait_for_messages(1)
    # stop() drained every fetched update, so the channel post had its chance.
    assert [i.chat_id for i in recorder.seen] == ["1001"]


async def test_group_admin_check_asks_telegram(fake: FakeTelegram) -> None:
    async def admin_says(incoming: Incoming) -> Sequence[Reply]:
        return [Notice(f"admin={await incoming.is_admin()}")]

    fake.add_chat(-600, "supergroup")
    fake.set_chat_member(-600, 42, "administrator")
    fake.set_chat_member(-600, 43, "member")
    async with running(fake, Recorder()) as adapter:
        adapter.handler = admin_says
        fake.push_message("/subscribe 07:30", chat_id=-600, user_id=42, chat_type="supergroup")
        fake.push_message("/subscribe 07:30", chat_id=-600, user_id=43, chat_type="supergroup")
        replies = await fake.wait_for_messages(2, chat_id=-600)
    assert [m.parsed_text for m in replies] == ["admin=True", "admin=False"]


# --- forum topics ----------------------------------------------------------------------------


async def test_every_part_of_a_reply_in_a_forum_topic_stays_in_that_topic(
    fake: FakeTelegram,
) -> None:
    """Part 1 is a reply to the command; part 2 on must name the topic or land in General."""
    digest = big_digest()
    parts = render_telegram(digest)
    assert len(parts) >= 3
    fake.add_chat(-700, "supergroup", is_forum=True)
    async with running(fake, Recorder(digest)):
        fake.push_message("/latest", chat_id=-700, chat_type="supergroup", thread_id=77)
        sent = await fake.wait_for_messages(len(parts), chat_id=-700, timeout=10)
    assert [m.thread_id for m in sent] == [77] * len(parts)


async def test_a_message_in_a_forum_topic_reaches_the_core_with_its_topic(
    fake: FakeTelegram,
) -> None:
    recorder = Recorder()
    fake.add_chat(-700, "supergroup", is_forum=True)
    async with running(fake, recorder):
        fake.push_message("/subscribe 07:30", chat_id=-700, chat_type="supergroup", thread_id=77)
        fake.push_message("/status", chat_id=-700, chat_type="supergroup")  # General
        await fake.wait_for_messages(2, chat_id=-700)
    assert [i.thread_id for i in recorder.seen] == ["77", None]


async def test_send_part_posts_into_the_given_forum_topic(fake: FakeTelegram) -> None:
    fake.add_chat(-700, "supergroup", is_forum=True)
    async with running(fake, Recorder(), receive=False) as adapter:
        await adapter.send_part("-700", "<b>Morning briefing</b>", thread_id="77")
        await adapter.send_part("-700", "<b>Part two</b>", thread_id="77")
    assert [m.thread_id for m in fake.messages_to(-700)] == [77, 77]


async def test_a_deleted_forum_topic_pauses_the_briefing_with_the_fix(fake: FakeTelegram) -> None:
    fake.add_chat(-700, "supergroup", is_forum=True)
    fake.deleted_topics[-700] = {77}
    async with running(fake, Recorder(), receive=False) as adapter:
        with pytest.raises(ChatUnavailable) as caught:
            await adapter.send_part("-700", "<b>Morning briefing</b>", thread_id="77")
    assert "topic 77 was deleted" in caught.value.reason and "/subscribe" in caught.value.reason


async def test_a_reply_into_a_deleted_topic_does_not_pause_the_chat(fake: FakeTelegram) -> None:
    """The asker's topic went away under the reply: that reply is lost, the chat is not."""
    events = RecordingEvents()
    fake.add_chat(-700, "supergroup", is_forum=True)
    fake.deleted_topics[-700] = {77}
    async with running(fake, Recorder(), events):
        fake.push_message("/latest", chat_id=-700, chat_type="supergroup", thread_id=77)
        fake.push_message("/help", chat_id=-700, chat_type="supergroup")  # General still works
        await fake.wait_for_messages(1, chat_id=-700)
    assert events.unavailable == []  # before: the chat's daily briefing was paused


# --- failures while replying -----------------------------------------------------------------


async def test_429_in_a_multipart_reply_still_delivers_each_part_once_in_order(
    fake: FakeTelegram,
) -> None:
    digest = big_digest()
    parts = render_telegram(digest)
    assert len(parts) >= 3
    fake.inject("retry_after", retry_after=1, after=1)
    async with running(fake, Recorder(digest)):
        fake.push_message("/latest", chat_id=1001)
        await fake.wait_for_messages(len(parts), chat_id=1001, timeout=10)
    assert [m.text for m in fake.messages_to(1001)] == parts
    assert [c.status for c in fake.calls_to("sendMessage")][:3] == [200, 429, 200]


async def test_a_burst_of_server_errors_is_retried_until_the_reply_arrives(
    fake: FakeTelegram, conversation: Conversation
) -> None:
    fake.inject("server_error", times=2)
    fake.inject("server_error", status=502)
    async with running(fake, conversation):
        fake.push_message("/latest", chat_id=1001)
        [reply] = await fake.wait_for_messages(1, chat_id=1001)
    assert "Farmers market" in reply.parsed_text
    assert [c.status for c in fake.calls_to("sendMessage")] == [500, 500, 502, 200]


async def test_blocked_chat_is_reported_and_the_bot_serves_others(
    fake: FakeTelegram, conversation: Conversation
) -> None:
    events = RecordingEvents()
    fake.inject("blocked", chat_id=7, times=None)
    async with running(fake, conversation, events):
        fake.push_message("/latest", chat_id=7)
        fake.push_message("/latest", chat_id=8)
        await fake.wait_for_messages(1, chat_id=8)
        fake.push_message("who built the ferries?", chat_id=8)
        await fake.wait_for_messages(2, chat_id=8)
    assert events.unavailable == [("telegram", "7", "Forbidden: bot was blocked by the user")]
    assert fake.messages_to(7) == []


async def test_migrated_group_is_reported_as_moved(
    fake: FakeTelegram, conversation: Conversation
) -> None:
    events = RecordingEvents()
    fake.inject("migrated", migrate_to_chat_id=-1001234567890)
    async with running(fake, conversation, events):
        fake.push_message("/latest", chat_id=-500, chat_type="group")
        fake.push_message("/help", chat_id=1001)
        await fake.wait_for_messages(1, chat_id=1001)
    assert events.moved == [("telegram", "-500", "-1001234567890")]


async def test_handler_failure_gets_an_apology_and_the_bot_keeps_going(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    async def flaky(incoming: Incoming) -> Sequence[Reply]:
        if incoming.text == "boom":
            raise RuntimeError("core bug")
        return [Notice("fine")]

    async with running(fake, Recorder()) as adapter:
        adapter.handler = flaky
        fake.push_message("boom", chat_id=1001)
        fake.push_message("again", chat_id=1001)
        replies = await fake.wait_for_messages(2, chat_id=1001)
    assert "went wrong" in replies[0].parsed_text
    assert replies[1].parsed_text == "fine"
    assert any("chat 1001" in r.getMessage() and r.exc_info for r in caplog.records) or any(
        "chat 1001" in r.getMessage() and r.exc_text for r in caplog.records
    )


@pytest.mark.parametrize(
    ("kind", "params", "error"),
    [
        ("blocked", {"description": "Forbidden: bot was kicked from the group chat"},
         ChatUnavailable),
        ("chat_not_found", {}, ChatUnavailable),
        ("migrated", {"migrate_to_chat_id": -100555}, ChatMoved),
    ],
)
async def test_send_part_maps_telegram_refusals(
    fake: FakeTelegram, kind: str, params: dict[str, object], error: type[Exception]
) -> None:
    fake.add_chat(-5, "group")
    fake.inject(kind, **params)
    async with running(fake, Recorder(), receive=False) as adapter:
        with pytest.raises(error) as caught:
            await adapter.send_part("-5", "<b>Briefing</b>")
    if isinstance(caught.value, ChatMoved):
        assert caught.value.new_chat_id == "-100555"


async def test_send_part_gives_up_on_lasting_server_errors(fake: FakeTelegram) -> None:
    fake.add_chat(5)
    fake.inject("server_error", times=None)
    async with running(fake, Recorder(), receive=False) as adapter:
        with pytest.raises(TemporaryFailure):
            await adapter.send_part("5", "hello")
    assert len(fake.calls_to("sendMessage")) == 4 and fake.sent_messages == []


# --- long and hostile content ----------------------------------------------------------------


async def test_briefing_too_long_for_one_message_arrives_as_valid_parts(
    fake: FakeTelegram,
) -> None:
    digest = big_digest(40)
    async with running(fake, Recorder(digest)) as adapter:
        parts = adapter.render(digest)
        fake.push_message("/latest", chat_id=1001)
        sent = await fake.wait_for_messages(len(parts), chat_id=1001, timeout=10)
    assert len(parts) > 1
    seen = "\n".join(m.parsed_text for m in sent)
    for briefing in digest.briefings:
        assert briefing.headline in seen
    assert all(len(m.parsed_text) <= 4096 for m in sent)


async def test_a_single_huge_briefing_splits_into_parts_telegram_accepts(
    fake: FakeTelegram,
) -> None:
    briefing = Briefing(
        article_id="huge", headline="Tides & <ferries> " * 400, emoji="🌊",
        byline="A. Writer", bullets=(Bullet("📌", "x < y & z"),),
        link="https://example.org/?q=<a>&b",
    )
    async with running(fake, Recorder(briefing)) as adapter:
        parts = adapter.render(briefing)
        for part in parts:
            parse_html(part)  # each part is valid HTML on its own
        fake.push_message("/brief huge", chat_id=1001)
        await fake.wait_for_messages(len(parts), chat_id=1001)
    assert [m.text for m in fake.messages_to(1001)] == list(parts)


HOSTILE = [
    "<b>bold</b> <script>alert(1)</script> & <a href='javascript:x'>x</a>",
    "x" * 10_000,
    "who\u202e built\u2066 the\u0007 ferries\u200f?\x1b[31m",
    "/brief ../../etc/passwd",
    "/brief <b>",
    "/ask " + "&lt;" * 3000,
    "@" * 50 + " /latest",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
async def test_hostile_input_gets_an_answer_without_a_parse_error(
    fake: FakeTelegram, conversation: Conversation, text: str
) -> None:
    async with running(fake, conversation):
        fake.push_message(text, chat_id=1001)
        await fake.wait_for_messages(1, chat_id=1001)
    assert all(c.status == 200 for c in fake.calls_to("sendMessage"))


# --- secrets ---------------------------------------------------------------------------------


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> AsyncIterator[io.StringIO]:
    """Everything logged at DEBUG, through a real handler with a formatter (besides caplog)."""
    caplog.set_level(logging.DEBUG)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def secret_part(token: str) -> str:
    return token.split(":", 1)[1]


async def test_token_never_reaches_the_log_at_debug(
    fake: FakeTelegram, conversation: Conversation, caplog: pytest.LogCaptureFixture,
    debug_log: io.StringIO,
) -> None:
    async with running(fake, conversation) as adapter:
        # Even if someone turns httpx's request lines back on, they come out redacted.
        logging.getLogger("httpx").setLevel(logging.INFO)
        fake.push_message("/latest", chat_id=1001)
        await fake.wait_for_messages(1)
        log_text = debug_log.getvalue()
        assert repr(adapter).find(secret_part(fake.token)) == -1
    logging.getLogger("httpx").setLevel(logging.WARNING)
    everything = log_text + debug_log.getvalue() + caplog.text
    assert "[REDACTED]" in everything  # the URL lines were there, and redacted
    assert secret_part(fake.token) not in everything
    assert all(secret_part(fake.token) not in r.getMessage() for r in caplog.records)


async def test_wrong_token_startup_logs_no_token(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture, debug_log: io.StringIO
) -> None:
    wrong = "987654321:AnotherWrongTokenAnotherWrong_123"
    adapter = TelegramAdapter(config_for(fake, wrong), Recorder())
    with pytest.raises(ConfigError) as caught:
        await adapter.start()
    logging.getLogger(__name__).error("startup failed", exc_info=caught.value)
    everything = debug_log.getvalue() + caplog.text
    assert "Set Bot API URL" in everything  # PTB's DEBUG line was logged, redacted
    assert secret_part(wrong) not in everything
    assert secret_part(wrong) not in str(caught.value)


# --- webhook mode ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_webhook_mode_receives_updates_posted_by_telegram(
    fake: FakeTelegram, conversation: Conversation
) -> None:
    port = free_port()
    config = TelegramConfig(
        base_url=fake.base_url, base_file_url=fake.base_file_url, token=Secret(fake.token),
        webhook=WebhookConfig(
            url=f"http://127.0.0.1:{port}/telegram", listen="127.0.0.1", port=port,
            secret_token=Secret("hook-secret-123"), path="telegram",
        ),
    )
    adapter = TelegramAdapter(config, conversation.handle)
    await adapter.start()
    try:
        assert fake.webhook_url == f"http://127.0.0.1:{port}/telegram"
        assert fake.webhook_secret == "hook-secret-123"
        fake.push_message("/latest", chat_id=1001)
        [reply] = await fake.wait_for_messages(1, chat_id=1001)
    finally:
        await adapter.stop()
    assert "Farmers market" in reply.parsed_text
    assert fake.calls_to("getUpdates") == []


# When binding fails, the webhook server's library drops its unbound socket without closing it.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_a_webhook_port_in_use_is_a_clear_config_error_and_nothing_is_left_running(
    fake: FakeTelegram, conversation: Conversation
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = TelegramConfig(
            base_url=fake.base_url, base_file_url=fake.base_file_url, token=Secret(fake.token),
            webhook=WebhookConfig(url="https://bot.example.org/telegram", listen="127.0.0.1",
                                  port=port, path="telegram"),
        )
        adapter = TelegramAdapter(config, conversation.handle)
        with pytest.raises(ConfigError, match=f"telegram.webhook: cannot listen on 127.0.0.1:{port}"):
            await adapter.start()
    assert adapter._bot is None  # stopped and shut down, not left half-started


@pytest.mark.parametrize(
    ("status", "description", "raised", "says"),
    [
        (400, "Bad Request: bad webhook: Failed to resolve host: Name or service not known",
         ConfigError, "telegram.webhook: Telegram refused the webhook (Bad webhook: failed to "
                      "resolve host"),
        (502, "Bad Gateway", TemporaryFailure, "cannot reach the Telegram Bot API"),
    ],
)
async def test_a_webhook_telegram_refuses_or_cannot_take_is_a_clear_error_not_a_crash(
    fake: FakeTelegram, conversation: Conversation, status: int, description: str,
    raised: type[Exception], says: str,
) -> None:
    """Before: PTB's BadRequest or NetworkError escaped start(), and `run` died with a
    traceback instead of naming the setting (or trying the start again)."""
    fake.inject("error", method="setWebhook", status=status, description=description)
    port = free_port()
    config = TelegramConfig(
        base_url=fake.base_url, base_file_url=fake.base_file_url, token=Secret(fake.token),
        webhook=WebhookConfig(url="https://nowhere.invalid/telegram", listen="127.0.0.1",
                              port=port, path="telegram"),
    )
    adapter = TelegramAdapter(config, conversation.handle)
    with pytest.raises(raised) as error:
        await adapter.start()
    assert says.lower() in str(error.value).lower()
    assert adapter._bot is None  # stopped and shut down, not left half-started
    with socket.socket() as probe:  # the webhook server did not stay behind on the port
        probe.bind(("127.0.0.1", port))


async def test_handlers_added_later_and_below_root_see_no_token(
    fake: FakeTelegram, conversation: Conversation
) -> None:
    """A handler on the `telegram` or `httpx` logger runs before any root handler's filter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    loggers = [logging.getLogger("telegram"), logging.getLogger("httpx")]
    async with running(fake, conversation):
        for logger in loggers:
            logger.addHandler(handler)
            logger.setLevel(logging.DEBUG)
        try:
            fake.push_message("/latest", chat_id=1001)
            await fake.wait_for_messages(1)
        finally:
            for logger in loggers:
                logger.removeHandler(handler)
                logger.setLevel(logging.NOTSET)
            logging.getLogger("httpx").setLevel(logging.WARNING)
    assert "HTTP Request: POST" in stream.getvalue()
    assert secret_part(fake.token) not in stream.getvalue()


# --- the real process ------------------------------------------------------------------------


async def test_briefbot_run_answers_then_exits_cleanly_on_sigterm(
    fake: FakeTelegram, content_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"content_dir: {content_dir}\n"
        f"database: {tmp_path / 'briefbot.sqlite3'}\n"
        "telegram:\n"
        f"  base_url: {fake.base_url}\n"
        f"  base_file_url: {fake.base_file_url}\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_BOT_TOKEN"}
    env["TELEGRAM_BOT_TOKEN"] = fake.token
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "briefbot", "--config", str(config), "--log-level", "debug",
        "run", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        await fake.wait_until_polling(timeout=30)
        fake.push_message("/latest", chat_id=1001)
        [reply] = await fake.wait_for_messages(1, chat_id=1001, timeout=10)
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            _, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert "Farmers market" in reply.parsed_text
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert secret_part(fake.token) not in stderr.decode()
    assert "Set Bot API URL" in stderr.decode()  # the debug log really ran


async def test_an_unreachable_bot_api_is_a_temporary_failure_naming_base_url() -> None:
    """At boot the network may not be up yet: the app retries this, unlike a bad token."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = "123456789:UnreachableUnreachableUnreach_1"
    config = TelegramConfig(base_url=f"http://127.0.0.1:{port}/bot", token=Secret(token))
    adapter = TelegramAdapter(config, Recorder())
    with pytest.raises(TemporaryFailure, match=r"cannot reach the Telegram Bot API .*telegram.base_url"):
        await adapter.start()
    await adapter.stop()


def test_sniffio_is_a_dependency_so_httpcore_does_not_retry_its_import_per_request() -> None:
    """Without sniffio, httpcore re-attempts `import sniffio` about ten times a request."""
    from importlib.metadata import requires

    import sniffio

    assert sniffio.current_async_library is not None
    declared = [r.split(">")[0].split("=")[0].strip() for r in requires("briefbot") or []]
    assert "sniffio" in declared


async def test_the_send_window_paces_by_when_sends_were_answered() -> None:
    """The 4th send of a 3-per-second window waits for 1 s after the 1st was *answered*, so a
    slow answer (its request may have arrived late) pushes the next send back, not forward."""
    from briefbot.adapters.telegram_adapter import SendWindow

    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        now[0] += seconds

    window = SendWindow(3, 1.0, clock=lambda: now[0], sleep=sleep)
    for answer_after in (0.25, 0.0, 0.0):  # the first answer comes back 0.25 s late
        async with window:
            now[0] += answer_after
    async with window:
        started = now[0]
    assert slept == [1.0] and started == 1.25  # paced by start times it would be 1.0


async def test_a_short_429_holds_its_own_chat_for_the_time_telegram_gave_and_no_other() -> None:
    """On a clock of its own: chat 1's 429 (retry after 3 s) holds chat 1's retry and its next
    request for exactly 3 s, chat 2 is served meanwhile without waiting, and a chat whose 429s
    keep coming gets the RetryAfter after `max_retries` holds; one too long is raised at once."""
    from telegram.error import RetryAfter

    from briefbot.adapters.telegram_adapter import ChatRateLimiter, SendWindow

    now = [100.0]
    slept: list[tuple[str, float]] = []
    waking = asyncio.Event()

    async def sleep(seconds: float) -> None:
        slept.append((asyncio.current_task().get_name(), seconds))  # type: ignore[union-attr]
        until = now[0] + seconds
        await waking.wait()
        now[0] = max(now[0], until)  # sleepers side by side share one time line

    window = SendWindow(30, 1.0, clock=lambda: now[0], sleep=sleep)
    limiter = ChatRateLimiter(window=window, max_retries=2, clock=lambda: now[0], sleep=sleep)
    sent: list[tuple[str, float]] = []
    refusals = {"1": [3], "3": [1, 1, 1], "4": [31]}  # each chat's 429s, in seconds, in order

    async def send(chat: str, text: str) -> bool:
        if refusals.get(chat):
            raise RetryAfter(refusals[chat].pop(0))
        sent.append((text, now[0]))
        return True

    def request(chat: str, text: str) -> asyncio.Task[object]:
        return asyncio.create_task(limiter.process_request(
            send, (chat, text), {}, "sendMessage", {"chat_id": chat}, None), name=text)

    first = request("1", "first")
    for _ in range(5):
        await asyncio.sleep(0)
    assert slept == [("first", 3.0)]  # held for what Telegram asked
    assert await request("2", "other chat") is True  # not held at all
    second = request("1", "second")
    for _ in range(5):
        await asyncio.sleep(0)
    assert slept == [("first", 3.0), ("second", 3.0)]  # chat 1's next request waits too
    assert sent == [("other chat", 100.0)]
    waking.set()
    assert await first is True and await second is True
    assert sorted(sent) == [("first", 103.0), ("other chat", 100.0), ("second", 103.0)]

    slept.clear()
    with pytest.raises(RetryAfter):
        await request("3", "keeps getting 429s")
    assert slept == [("keeps getting 429s", 1.0)] * 2  # max_retries holds, then the caller's
    slept.clear()
    with pytest.raises(RetryAfter):
        await request("4", "too long to wait")
    assert slept == []


async def test_a_broadcast_under_the_30_per_second_limit_gets_no_429(fake: FakeTelegram) -> None:
    fake.global_rate = 30
    chats = [-(1000 + n) for n in range(45)]
    for chat in chats:
        fake.add_chat(chat, "supergroup")
    async with running(fake, Recorder(), receive=False) as adapter:
        await asyncio.gather(*(adapter.send_part(str(c), "<b>Briefing</b>") for c in chats))
    assert len(fake.sent_messages) == 45
    assert [c.status for c in fake.calls_to("sendMessage")] == [200] * 45


class Held:
    """A handler that holds one chat's answers until released (a slow reader model)."""

    def __init__(self, held_chat: str) -> None:
        self.held_chat = held_chat
        self.release = asyncio.Event()
        self.answered: list[str] = []

    async def __call__(self, incoming: Incoming) -> Sequence[Reply]:
        if incoming.chat_id == self.held_chat:
            await self.release.wait()
        self.answered.append(incoming.chat_id)
        return [Notice(f"answer for {incoming.text}")]


async def test_a_flooding_chat_cannot_hold_the_update_slots_other_chats_need(
    fake: FakeTelegram,
) -> None:
    from briefbot.adapters.telegram_adapter import MAX_WAITING_PER_CHAT

    handler = Held("555")
    async with running(fake, handler):
        for n in range(MAX_WAITING_PER_CHAT + 24):
            fake.push_message(f"question {n}", chat_id=555)
        fake.push_message("/help", chat_id=2)
        # before: chat 2 waited until every one of chat 555's questions had been answered
        await fake.wait_for_messages(1, chat_id=2)
        handler.release.set()
        await fake.wait_for_messages(MAX_WAITING_PER_CHAT, chat_id=555)
        await asyncio.sleep(0.2)
    assert handler.answered.count("555") == MAX_WAITING_PER_CHAT


async def test_stop_is_bounded_when_a_reply_hangs(fake: FakeTelegram) -> None:
    """A hanging reader model (or a long wait) must not hold the process at SIGTERM."""
    handler = Held("555")  # never released
    adapter = TelegramAdapter(config_for(fake), handler, backoff_seconds=0.01, stop_grace=0.2)
    await adapter.start()
    fake.push_message("a question the model never answers", chat_id=555)
    fake.push_message("/help", chat_id=2)
    await fake.wait_for_messages(1, chat_id=2)
    async with asyncio.timeout(10):  # before: stop waited for the hanging reply forever
        await adapter.stop()
    assert fake.messages_to(555) == []
