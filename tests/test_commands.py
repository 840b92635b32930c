"""One command list: /help, Telegram's menu and Discord's slash commands say the same thing."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import Any

import pytest

from briefbot import commands
from briefbot.adapters.discord_adapter import DiscordAdapter
from briefbot.adapters.discord_config import DiscordConfig
from briefbot.adapters.telegram_adapter import TelegramAdapter
from briefbot.adapters.telegram_config import TelegramConfig
from briefbot.config import Secret
from briefbot.conversation import Conversation, Incoming, help_notice
from briefbot.messages import Notice, Reply
from fakes.fake_discord import GUILD_ID, TOKEN, FakeDiscord
from fakes.fake_telegram import FakeTelegram


async def _no_reply(incoming: Incoming) -> list[Reply]:
    return [Notice("ok")]


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


@pytest.fixture
async def telegram_menu() -> AsyncIterator[list[dict[str, Any]]]:
    async with FakeTelegram(username="briefbot_test_bot") as fake:
        adapter = TelegramAdapter(
            TelegramConfig(base_url=fake.base_url, base_file_url=fake.base_file_url,
                           token=Secret(fake.token)),
            _no_reply,
        )
        await adapter.start()
        try:
            await fake.wait_until_polling()
            [menu] = fake.commands.values()
            yield menu
        finally:
            await adapter.stop()


@pytest.fixture
async def discord_tree() -> AsyncIterator[list[dict[str, Any]]]:
    async with FakeDiscord() as fake:
        adapter = DiscordAdapter(
            DiscordConfig(api_base_url=fake.api_base_url, gateway_url=fake.gateway_url,
                          guilds=(GUILD_ID,), token=Secret(TOKEN)),
            _no_reply, guild_ready_timeout=0.05, reidentify_delay=0,
        )
        await adapter.start()
        try:
            yield fake.commands[GUILD_ID]
        finally:
            await adapter.stop()


async def test_help_the_telegram_menu_and_the_discord_tree_list_the_same_commands(
    telegram_menu: list[dict[str, Any]], discord_tree: list[dict[str, Any]]
) -> None:
    """The same names in the same order, and the same words for each.

    /help and Telegram's menu also name the arguments ("ID: the briefing for one article"),
    since a chat has no option fields; Discord shows them as the command's options instead.
    """
    help_lines = [item for item in help_notice().items if item.startswith("/")]
    help_names = [line[1:].split(" ", 1)[0] for line in help_lines]
    menu_names = [entry["command"] for entry in telegram_menu]
    tree_names = [entry["name"] for entry in discord_tree]
    assert help_names == menu_names == [command.name for command in commands.COMMANDS]
    assert sorted(tree_names) == sorted(menu_names)

    menu = {entry["command"]: entry["description"] for entry in telegram_menu}
    tree = {entry["name"]: entry for entry in discord_tree}
    for name, line in zip(help_names, help_lines, strict=True):
        assert _lower_first(line.removeprefix(f"/{name} ")) == _lower_first(menu[name])
        assert _lower_first(menu[name]).endswith(_lower_first(tree[name]["description"]))
        options = [option["name"] for option in tree[name].get("options", [])]
        assert options == [argument.name for argument in commands.find(name).arguments]  # type: ignore[union-attr]


async def test_the_slash_command_options_follow_the_arguments(
    discord_tree: list[dict[str, Any]],
) -> None:
    tree = {entry["name"]: entry for entry in discord_tree}
    for command in commands.COMMANDS:
        options = tree[command.name].get("options", [])
        assert [(o["description"], o.get("required", False), o.get("max_length"))
                for o in options] == [
            (a.description, a.required, a.max_length) for a in command.arguments
        ]


def test_every_command_is_answered_by_a_conversation_method() -> None:
    for command in commands.COMMANDS:
        method = getattr(Conversation, command.handler)
        assert inspect.iscoroutinefunction(method), command.name
        assert list(inspect.signature(method).parameters) == ["self", "incoming", "args"]


def test_start_is_help_and_names_ignore_case() -> None:
    assert commands.find("start") is commands.find("HELP") is commands.find("help")
    assert commands.find("roll") is None
