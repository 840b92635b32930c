"""The Discord adapter end to end: real discord.py against the fake Discord REST API and gateway."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

import briefbot.qa
from briefbot.adapters import discord_adapter
from briefbot.adapters.discord_adapter import DiscordAdapter
from briefbot.adapters.discord_config import DiscordConfig
from briefbot.articles import Library
from briefbot.briefing import Digest, make_briefing
from briefbot.config import ReaderConfig, Secret
from briefbot.conversation import Conversation, Incoming, Notice, Reply
from briefbot.errors import ChatUnavailable, TemporaryFailure
from briefbot.qa import Answer, QAIndex
from briefbot.qa.reader import Reader
from fakes.fake_discord import (
    ANNOUNCEMENTS_ID,
    BOT_ROLE_ID,
    DM_CHANNELS,
    GENERAL_ID,
    GUILD_ID,
    MODERATOR_ROLE_ID,
    TOKEN,
    FakeDiscord,
)
from fakes.fake_reader import MODEL, FakeReader, says

discord = discord_adapter.discord  # imported there without its audioop warning

TALKS = """\
---
title: Leaders meet in Abu Dhabi for climate finance talks 🌍
author: Jane Doe
date: 2026-02-11
source_url: https://news.example.org/abu-dhabi-talks
---
Leaders from forty countries met in Abu Dhabi on Tuesday for two days of talks on climate finance.

The talks were chaired by Dr. Amina Hassan, the summit's president.

Delegates agreed to a fund of $40 billion for coastal cities.

The next round of talks will be held in Nairobi in October.
"""

HARBOUR = """\
City council approves new harbour bridge 🌉
- Tom Berg
- February 9, 2026

The city council approved a new harbour bridge on Monday after a long debate.
The bridge will cost 200 million euros and open in 2029.
Cyclists and pedestrians will get a separate lane.
"""


class WordOverlapQA:
    """A tiny stand-in for the Q&A index: cites the sentence sharing the most words."""

    def __init__(self) -> None:
        self.articles: tuple[object, ...] = ()

    def update(self, articles: Sequence[object]) -> None:
        self.articles = tuple(articles)

    def ask(self, question: str, last_briefed: str | None = None) -> Answer:
        words = set(re.findall(r"\w+", question.lower()))
        best, best_score, best_id = "", 0, None
        for article in self.articles:
            for sentence in article.sentences:  # type: ignore[attr-defined]
                score = len(words & set(re.findall(r"\w+", sentence.lower())))
                if score > best_score:
                    best, best_score, best_id = sentence, score, article.id  # type: ignore[attr-defined]
        if best_score < 2:
            return Answer(question, False, "The articles don't say.", None)
        return Answer(question, True, best, best_id, source=best)


def make_qa() -> object:
    """The real Q&A index once it exists, else the stand-in."""
    index = getattr(briefbot.qa, "QAIndex", None)
    if index is None or not hasattr(index, "ask"):
        return WordOverlapQA()
    return index()


class Events:
    """ChatEvents that remember what they heard."""

    def __init__(self) -> None:
        self.unavailable: list[tuple[str, str, str]] = []

    async def chat_unavailable(self, platform: str, chat_id: str, reason: str) -> None:
        self.unavailable.append((platform, chat_id, reason))

    async def chat_moved(self, platform: str, chat_id: str, new_chat_id: str) -> None:
        raise AssertionError("Discord channels never move")


class Core:
    """The real conversation, plus a record of every Incoming the adapter produced."""

    def __init__(self, content: Path) -> None:
        self.library = Library(content)
        self.library.reload()
        self.conversation = Conversation(self.library, make_qa())  # type: ignore[arg-type]
        self.incoming: list[Incoming] = []
        self.fail_on: str | None = None
        self.gate: asyncio.Event | None = None

    async def __call__(self, incoming: Incoming) -> list[Reply]:
        self.incoming.append(incoming)
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_on is not None and self.fail_on in incoming.text:
            raise RuntimeError("the core broke on purpose")
        return await self.conversation.handle(incoming)


@pytest.fixture
def content(tmp_path: Path) -> Path:
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "abu-dhabi-talks.md").write_text(TALKS, encoding="utf-8")
    (folder / "harbour-bridge.txt").write_text(HARBOUR, encoding="utf-8")
    return folder


@pytest.fixture
def core(content: Path) -> Core:
    return Core(content)


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


def config_for(fake: FakeDiscord, *, guilds: tuple[int, ...] = (GUILD_ID,)) -> DiscordConfig:
    return DiscordConfig(api_base_url=fake.api_base_url, gateway_url=fake.gateway_url,
                         guilds=guilds, token=Secret(TOKEN))


def adapter_for(fake: FakeDiscord, core: Core, events: Events, **options: object) -> DiscordAdapter:
    return DiscordAdapter(config_for(fake), core, events, guild_ready_timeout=0.05,
                          reidentify_delay=0, **options)  # type: ignore[arg-type]


@pytest.fixture
async def bot(fake: FakeDiscord, core: Core, events: Events) -> AsyncIterator[DiscordAdapter]:
    adapter = adapter_for(fake, core, events)
    await adapter.start()
    yield adapter
    await adapter.stop()


# --- slash commands ---------------------------------------------------------------------------


async def test_latest_shows_the_newest_briefing_as_an_embed(fake: FakeDiscord, bot: object) -> None:
    await fake.dispatch_slash("latest")
    [sent] = await fake.wait_for_messages(1)
    [embed] = sent.embeds
    assert embed["title"].startswith("Leaders meet in Abu Dhabi for climate finance talks")
    assert embed["url"] == "https://news.example.org/abu-dhabi-talks"
    assert "Jane Doe" in embed["footer"]["text"] and "2026" in embed["footer"]["text"]
    bullets = embed["description"].splitlines()
    assert len(bullets) >= 3
    assert any("Abu Dhabi" in line or "Nairobi" in line or "$40" in line for line in bullets)
    assert sent.via in ("interaction", "followup") and not sent.ephemeral


async def test_slash_commands_are_synced_to_the_configured_server(
    fake: FakeDiscord, bot: object
) -> None:
    names = {command["name"] for command in fake.commands[GUILD_ID]}
    assert names == {"latest", "list", "brief", "ask", "help", "subscribe", "unsubscribe",
                     "status"}
    assert None not in fake.commands


async def test_brief_shows_the_chosen_article(fake: FakeDiscord, bot: object) -> None:
    await fake.dispatch_slash("brief", {"id": "harbour-bridge"})
    [sent] = await fake.wait_for_messages(1)
    assert sent.embeds[0]["title"].startswith("City council approves new harbour bridge")


async def test_ask_answers_with_the_cited_sentence(fake: FakeDiscord, bot: object) -> None:
    await fake.dispatch_slash("ask", {"question": "Who chaired the talks?"})
    [sent] = await fake.wait_for_messages(1)
    assert "Amina Hassan" in sent.content
    assert "> " in sent.content  # the cited sentence is quoted


async def test_list_names_every_article(fake: FakeDiscord, bot: object) -> None:
    await fake.dispatch_slash("list")
    [sent] = await fake.wait_for_messages(1)
    assert "abu-dhabi-talks" in sent.content.replace("\\", "")
    assert "harbour-bridge" in sent.content.replace("\\", "")


async def test_an_error_notice_is_shown_only_to_the_asker(fake: FakeDiscord, bot: object) -> None:
    await fake.dispatch_slash("brief", {"id": "../etc/passwd"})
    [sent] = await fake.wait_for_messages(1)
    assert sent.ephemeral
    assert "not an article id" in sent.content


async def test_a_slow_answer_shows_thinking_then_follows_up(
    fake: FakeDiscord, bot: object, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discord_adapter, "DEFER_AFTER_SECONDS", 0.01)
    core.gate = asyncio.Event()
    await fake.dispatch_slash("latest")
    await fake.wait_until(lambda: bool(fake.calls("POST", "/callback")), what="a deferral")
    assert fake.sent_messages == []  # only "thinking..." so far, within Discord's 3 s
    core.gate.set()
    [sent] = await fake.wait_for_messages(1)
    assert sent.via == "followup"
    assert sent.embeds[0]["title"].startswith("Leaders meet in Abu Dhabi")


CHAIR = "The talks were chaired by Dr. Amina Hassan, the summit's president."


@pytest.fixture
async def reading_core(core: Core) -> AsyncIterator[Core]:
    """The core with a qa.reader that answers "who led the talks?" from the article."""
    async with FakeReader(lambda request: says("Amina Hassan, the summit president", CHAIR)) as endpoint:
        reader = Reader(ReaderConfig(url=endpoint.url, model=MODEL))
        core.conversation = Conversation(core.library, QAIndex(), reader=reader)
        yield core
        await reader.aclose()


async def test_a_slash_question_for_the_reader_shows_thinking_at_once(
    fake: FakeDiscord, bot: object, reading_core: Core
) -> None:
    """The reader may take seconds: defer first (not after DEFER_AFTER_SECONDS), then answer."""
    await fake.dispatch_slash("ask", {"question": "who led the talks?"})
    [sent] = await fake.wait_for_messages(1)
    assert fake.calls("POST", "/callback")
    assert sent.via == "followup"
    assert sent.content.startswith("**Amina Hassan, the summit president**\n\n> The talks were")


async def test_a_mention_question_for_the_reader_shows_typing(
    fake: FakeDiscord, bot: object, reading_core: Core
) -> None:
    await fake.dispatch_message("who led the talks?", mentions_bot=True)
    [sent] = await fake.wait_for_messages(1)
    assert [status for _, _, status in fake.calls("POST", f"/channels/{GENERAL_ID}/typing")] == [204]
    assert sent.content.startswith("**Amina Hassan, the summit president**")


async def test_members_with_manage_server_count_as_admins(
    fake: FakeDiscord, bot: object, core: Core
) -> None:
    for user in ("olivia", "morgan", "alice"):
        await fake.dispatch_slash("help", user=user)
    await fake.wait_for_messages(3)
    verdicts = {i.user_id: await i.is_admin() for i in core.incoming}
    assert verdicts == {"811000000000000001": True, "811000000000000002": True,
                        "811000000000000003": False}
    assert {i.chat_kind for i in core.incoming} == {"group"}
    assert {i.text for i in core.incoming} == {"/help"}


async def test_admin_rights_in_messages_follow_server_permissions(
    fake: FakeDiscord, bot: object, core: Core
) -> None:
    """Manage Server makes an admin; in a DM the person runs their own chat."""
    await fake.dispatch_message("/status", author="morgan", mentions_bot=True)
    await fake.dispatch_message("/status", author="alice", mentions_bot=True)
    await fake.dispatch_message("/status", author="alice", dm=True)
    await fake.wait_for_messages(3)
    verdicts = [(i.user_id[-1], i.chat_kind, await i.is_admin()) for i in core.incoming]
    assert sorted(verdicts) == [("2", "group", True), ("3", "group", False),
                                ("3", "private", True)]


async def test_mentioning_the_bots_role_counts_as_mentioning_the_bot(
    fake: FakeDiscord, bot: object, core: Core
) -> None:
    await fake.dispatch_message(f"<@&{BOT_ROLE_ID}> where will the next round be held?")
    [sent] = await fake.wait_for_messages(1)
    assert "Nairobi" in sent.content
    assert core.incoming[0].text == "where will the next round be held?"


async def test_subscribe_becomes_the_text_command(
    fake: FakeDiscord, bot: object, core: Core
) -> None:
    await fake.dispatch_slash("subscribe", {"time": "07:30", "timezone": "Europe/Berlin"},
                              user="morgan", channel_id=ANNOUNCEMENTS_ID)
    await fake.wait_for_messages(1)
    [incoming] = core.incoming
    assert incoming.text == "/subscribe 07:30 Europe/Berlin"
    assert incoming.chat_id == str(ANNOUNCEMENTS_ID)


async def test_a_failing_command_is_logged_and_the_bot_keeps_answering(
    fake: FakeDiscord, bot: object, core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    core.fail_on = "/status"
    await fake.dispatch_slash("status", user="morgan")
    [sorry] = await fake.wait_for_messages(1)
    assert sorry.ephemeral and "went wrong" in sorry.content
    assert "/status from user 811000000000000002" in caplog.text
    await fake.dispatch_message("who chaired the talks?", mentions_bot=True)
    messages = await fake.wait_for_messages(2)
    assert "Amina Hassan" in messages[1].content


# --- messages ---------------------------------------------------------------------------------


async def test_a_question_that_mentions_the_bot_is_answered_as_a_reply(
    fake: FakeDiscord, bot: object, core: Core
) -> None:
    question = await fake.dispatch_message("who chaired the talks?", mentions_bot=True)
    [sent] = await fake.wait_for_messages(1)
    assert sent.via == "channel" and sent.channel_id == GENERAL_ID
    assert "Amina Hassan" in sent.content
    assert sent.reference_id == question
    assert core.incoming[0].text == "who chaired the talks?"  # the mention is stripped


async def test_a_message_not_addressed_to_the_bot_gets_no_reply(
    fake: FakeDiscord, bot: object
) -> None:
    await fake.dispatch_message("who chaired the talks? asking the room, not the bot")
    await fake.dispatch_message("where will the next round be held?", mentions_bot=True)
    [sent] = await fake.wait_for_messages(1)
    await fake.dispatch_message("a third message, to be sure the first was skipped",
                                mentions_bot=True)
    messages = await fake.wait_for_messages(2)
    assert "Nairobi" in sent.content
    assert len(messages) == 2


async def test_a_reply_to_the_bot_is_answered_without_a_mention(
    fake: FakeDiscord, bot: object
) -> None:
    await fake.dispatch_slash("latest")
    await fake.wait_for_messages(1)
    await fake.dispatch_message("how big is the fund?", reference_to_bot=True)
    messages = await fake.wait_for_messages(2)
    assert "$40 billion" in messages[1].content.replace("\\$", "$")


async def test_a_direct_message_needs_no_mention(fake: FakeDiscord, bot: object, core: Core) -> None:
    await fake.dispatch_message("how much will the bridge cost?", dm=True)
    [sent] = await fake.wait_for_messages(1)
    assert sent.channel_id == DM_CHANNELS["alice"]
    assert "200 million euros" in sent.content
    assert core.incoming[0].chat_kind == "private"


async def test_other_bots_are_ignored(fake: FakeDiscord, bot: object) -> None:
    await fake.dispatch_message("who chaired the talks?", author="helperbot", mentions_bot=True)
    await fake.dispatch_message("where will the next round be held?", mentions_bot=True)
    messages = await fake.wait_for_messages(1)
    assert len(messages) == 1 and "Nairobi" in messages[0].content


async def test_hostile_input_never_pings_everyone_or_roles(
    fake: FakeDiscord, bot: object, core: Core
) -> None:
    hostile = (f"@everyone @here <@&{MODERATOR_ROLE_ID}> **who** _chaired_ ~~the~~ `talks`? "
               + "spam " * 2000)
    await fake.dispatch_message(hostile, mentions_bot=True)
    await fake.dispatch_slash("ask", {"question": "@everyone who chaired the talks?"})
    await fake.dispatch_slash("brief", {"id": f"<@&{MODERATOR_ROLE_ID}>"})
    messages = await fake.wait_for_messages(3)
    assert len(core.incoming) == 3
    for sent in messages:
        assert sent.allowed_mentions == {"parse": []}
        assert not sent.can_ping_everyone()
        assert not sent.can_ping_roles()
        assert len(sent.content) <= 2000


# --- faults -----------------------------------------------------------------------------------


async def test_a_rate_limited_reply_arrives_exactly_once(fake: FakeDiscord, bot: object) -> None:
    fake.inject("ratelimit", route="messages", retry_after=0.05)
    await fake.dispatch_message("who chaired the talks?", mentions_bot=True)
    await fake.wait_for_messages(1)
    await fake.dispatch_message("where will the next round be held?", mentions_bot=True)
    messages = await fake.wait_for_messages(2)
    assert [s for _, _, s in fake.calls("POST", "/messages")] == [429, 200, 200]
    assert "Amina Hassan" in messages[0].content and "Nairobi" in messages[1].content


async def test_the_bot_resumes_after_a_gateway_drop_and_answers_what_it_missed(
    fake: FakeDiscord, bot: object
) -> None:
    await fake.disconnect(4000)
    await fake.dispatch_message("where will the next round be held?", mentions_bot=True)
    [sent] = await fake.wait_for_messages(1)
    assert "Nairobi" in sent.content
    assert fake.gateway_log == ["IDENTIFY", "close 4000", "RESUME"]


async def test_a_refused_reply_reports_the_channel_unavailable(
    fake: FakeDiscord, bot: object, events: Events
) -> None:
    fake.inject("forbidden", route="messages", code=50013)
    await fake.dispatch_message("who chaired the talks?", mentions_bot=True)
    await fake.wait_until(lambda: bool(events.unavailable), what="chat_unavailable")
    [(platform, chat_id, reason)] = events.unavailable
    assert (platform, chat_id) == ("discord", str(GENERAL_ID))
    assert "50013" in reason
    assert fake.sent_messages == []


async def test_without_the_message_content_intent_the_bot_still_answers_mentions(
    core: Core, events: Events, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeDiscord(message_content_enabled=False) as fake:
        adapter = adapter_for(fake, core, events)
        await adapter.start()
        try:
            await fake.dispatch_message("who chaired the talks?", mentions_bot=True)
            [sent] = await fake.wait_for_messages(1)
        finally:
            await adapter.stop()
    assert "Amina Hassan" in sent.content
    assert "Message Content intent" in caplog.text
    assert fake.gateway_log == ["IDENTIFY", "close 4014", "IDENTIFY"]


# --- delivery (send_part) ---------------------------------------------------------------------


@pytest.fixture
async def sender(fake: FakeDiscord, core: Core, events: Events) -> AsyncIterator[DiscordAdapter]:
    """The adapter as `send-due` uses it: REST only, no gateway."""
    adapter = adapter_for(fake, core, events, receive=False)
    await adapter.start()
    yield adapter
    await adapter.stop()


async def test_send_part_posts_without_the_gateway(
    fake: FakeDiscord, sender: DiscordAdapter, core: Core
) -> None:
    briefing = make_briefing(core.library.articles[0])
    for part in sender.render(briefing):
        await sender.send_part(str(ANNOUNCEMENTS_ID), part)
    [sent] = fake.sent_messages
    assert sent.channel_id == ANNOUNCEMENTS_ID and sent.embeds
    assert fake.gateway_log == [] and fake.commands == {}


async def test_an_oversized_digest_is_split_into_messages_discord_accepts(
    fake: FakeDiscord, sender: DiscordAdapter, core: Core
) -> None:
    long_article = core.library.articles[0]
    briefing = make_briefing(long_article)
    wide = dataclasses.replace(briefing, bullets=briefing.bullets * 8,
                               headline=briefing.headline * 6)
    digest = Digest(briefings=(wide,) * 14)
    parts = sender.render(digest)
    assert len(parts) > 1
    for part in parts:
        await sender.send_part(str(GENERAL_ID), part)
    assert len(fake.sent_messages) == len(parts)
    assert {status for _, _, status in fake.calls("POST", "/messages")} == {200}
    assert sum(len(s.embeds) for s in fake.sent_messages) >= 14


async def test_a_channel_the_bot_may_not_post_in_is_unavailable(
    fake: FakeDiscord, sender: DiscordAdapter
) -> None:
    fake.bot_muted.add(ANNOUNCEMENTS_ID)
    with pytest.raises(ChatUnavailable) as refused:
        await sender.send_part(str(ANNOUNCEMENTS_ID), sender.render(Notice("hello"))[0])
    assert refused.value.chat_id == str(ANNOUNCEMENTS_ID)
    assert "50013" in refused.value.reason
    assert fake.sent_messages == []


async def test_missing_access_and_unknown_channels_are_unavailable(
    fake: FakeDiscord, sender: DiscordAdapter
) -> None:
    part = sender.render(Notice("hello"))[0]
    fake.inject("forbidden", route="messages", code=50001)
    with pytest.raises(ChatUnavailable, match="50001"):
        await sender.send_part(str(GENERAL_ID), part)
    with pytest.raises(ChatUnavailable, match="no such channel"):
        await sender.send_part("123456789", part)
    with pytest.raises(ChatUnavailable, match="not a Discord channel id"):
        await sender.send_part("#general", part)


async def test_server_errors_and_long_rate_limits_are_temporary(
    fake: FakeDiscord, sender: DiscordAdapter
) -> None:
    part = sender.render(Notice("hello"))[0]
    fake.inject("server_error", route="messages", status=503)
    with pytest.raises(TemporaryFailure, match="503"):
        await sender.send_part(str(GENERAL_ID), part)
    fake.inject("ratelimit", route="messages", retry_after=600)
    with pytest.raises(TemporaryFailure, match="rate limit"):
        await sender.send_part(str(GENERAL_ID), part)
    assert fake.sent_messages == []
    await sender.send_part(str(GENERAL_ID), part)
    assert len(fake.sent_messages) == 1


async def test_a_500_is_retried_and_delivered_once(
    fake: FakeDiscord, sender: DiscordAdapter
) -> None:
    fake.inject("server_error", route="messages", status=500)
    await sender.send_part(str(GENERAL_ID), sender.render(Notice("hello"))[0])
    assert [s for _, _, s in fake.calls("POST", "/messages")] == [500, 200]
    assert len(fake.sent_messages) == 1


# --- lifecycle and secrets --------------------------------------------------------------------


async def test_stop_is_prompt_and_restores_discord_py_urls(
    fake: FakeDiscord, core: Core, events: Events
) -> None:
    before = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    adapter = adapter_for(fake, core, events)
    await adapter.start()
    assert fake.api_base_url == discord.http.Route.BASE
    await asyncio.wait_for(adapter.stop(), timeout=5)
    await adapter.stop()  # a second stop is harmless
    assert before == (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)


async def test_a_wrong_token_is_a_clear_config_error(
    fake: FakeDiscord, core: Core, events: Events
) -> None:
    from briefbot.errors import ConfigError

    config = DiscordConfig(api_base_url=fake.api_base_url, gateway_url=fake.gateway_url,
                           token=Secret("wrong.token.value"))
    adapter = DiscordAdapter(config, core, events)
    with pytest.raises(ConfigError, match="DISCORD_BOT_TOKEN"):
        await adapter.start()
    assert discord.http.Route.BASE == "https://discord.com/api/v10"


async def test_the_token_never_reaches_the_log_even_at_debug(
    fake: FakeDiscord, core: Core, events: Events, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = adapter_for(fake, core, events)
    await adapter.start()
    try:
        fake.inject("ratelimit", route="messages", retry_after=0.01)
        await fake.dispatch_slash("latest")
        await fake.dispatch_message("who chaired the talks?", mentions_bot=True)
        await fake.disconnect(4000)
        await fake.dispatch_message("where is the next round?", mentions_bot=True)
        await fake.wait_for_messages(3)
    finally:
        await adapter.stop()
    assert "discord.gateway" in {record.name for record in caplog.records}  # DEBUG was on
    assert TOKEN not in caplog.text  # caplog's handler has no redacting filter: this is raw
    assert TOKEN not in repr(adapter.config)



# --- the real program -------------------------------------------------------------------------


async def test_briefbot_run_serves_discord_and_exits_cleanly_on_sigterm(
    fake: FakeDiscord, content: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"content_dir: {content}\n"
        f"database: {tmp_path / 'briefbot.sqlite3'}\n"
        "discord:\n"
        f"  api_base_url: {fake.api_base_url}\n"
        f"  gateway_url: ws://127.0.0.1:{fake.port}/\n"
        f"  guilds: [{GUILD_ID}]\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_BOT_TOKEN")}
    env["DISCORD_BOT_TOKEN"] = TOKEN
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "briefbot", "--config", str(config), "--log-level", "debug", "run",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        await fake.wait_until(lambda: GUILD_ID in fake.commands and "IDENTIFY" in fake.gateway_log,
                              timeout=30, what="briefbot run to connect")
        await fake.dispatch_slash("latest")
        [sent] = await fake.wait_for_messages(1, timeout=10)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert sent.embeds[0]["title"].startswith("Leaders meet in Abu Dhabi")
    assert process.returncode == 0, stderr.decode()
    assert TOKEN.encode() not in stdout + stderr


async def test_a_long_slash_answer_arrives_in_order_as_answer_then_followups(
    fake: FakeDiscord, events: Events
) -> None:
    paragraphs = tuple(f"Item {n}: " + "word " * 60 for n in range(40))

    async def long_notice(incoming: Incoming) -> list[Reply]:
        return [Notice("A long list.", items=paragraphs)]

    adapter = DiscordAdapter(config_for(fake), long_notice, events, guild_ready_timeout=0.05)
    await adapter.start()
    try:
        expected = len(adapter.render(Notice("A long list.", items=paragraphs)))
        await fake.dispatch_slash("help")
        messages = await fake.wait_for_messages(expected)
    finally:
        await adapter.stop()
    assert expected > 1
    assert [m.via for m in messages] == ["interaction"] + ["followup"] * (expected - 1)
    assert all(len(m.content) <= 2000 for m in messages)
    assert "Item 0:" in messages[0].content and "Item 39:" in messages[-1].content


async def test_a_slash_command_the_core_leaves_unanswered_is_still_acknowledged(
    fake: FakeDiscord, events: Events
) -> None:
    """Over their message budget a user gets no answer, but Discord needs one for a command."""

    async def silent(incoming: Incoming) -> list[Reply]:
        return []

    adapter = DiscordAdapter(config_for(fake), silent, events, guild_ready_timeout=0.05)
    await adapter.start()
    try:
        await fake.dispatch_slash("help")
        [sent] = await fake.wait_for_messages(1)  # before: nothing ("did not respond")
    finally:
        await adapter.stop()
    assert sent.via == "interaction" and sent.ephemeral
    assert "faster than I can answer" in sent.content
