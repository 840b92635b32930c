"""config.yaml's `discord:` section, validated, and Discord as the core sees it (PLATFORM)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from briefbot.config_schema import (
    ChannelSchedule,
    ChatIds,
    Secret,
    base_url,
    channels,
    env_secret,
    platform_section,
)
from briefbot.errors import ConfigError
from briefbot.ports import Adapter, ChatEvents, Handler, OnFatal, Platform
from briefbot.render import discord

DISCORD = "discord"
DISCORD_TOKEN_ENV = "DISCORD_BOT_TOKEN"
CHANNEL_IDS = ChatIds(
    "channel_id", r"\d{1,20}", "Discord channel id",
    "it is a number like 1234567890123456789 (Developer Mode, right-click the channel, Copy ID)",
)


@dataclass(frozen=True, slots=True)
class DiscordConfig:
    platform: ClassVar[str] = DISCORD

    api_base_url: str | None = None
    gateway_url: str | None = None
    channels: tuple[ChannelSchedule, ...] = ()
    guilds: tuple[int, ...] = ()  # sync slash commands to these servers at once (else globally)
    token: Secret | None = field(default=None, repr=False)

    def adapter(self, handler: Handler, events: ChatEvents | None, *, receive: bool,
                on_fatal: OnFatal | None = None,
                database: Path | None = None) -> Adapter[discord.DiscordMessage]:
        from briefbot.adapters.discord_adapter import DiscordAdapter

        return DiscordAdapter(self, handler, events, receive=receive)


def parse(value: object, environ: Mapping[str, str], default_zone: str) -> DiscordConfig:
    """The `discord:` section, with the token from DISCORD_BOT_TOKEN."""
    section = platform_section(value, "discord", DISCORD_TOKEN_ENV,
                               {"api_base_url", "gateway_url", "channels", "guilds"})
    guilds = section.get("guilds") or []
    if not isinstance(guilds, list) or not all(
        isinstance(g, int) or (isinstance(g, str) and g.isdigit()) for g in guilds
    ):
        raise ConfigError("discord.guilds: expected a list of server ids (numbers)")
    return DiscordConfig(
        api_base_url=base_url(section.get("api_base_url"), "discord.api_base_url",
                              "http://127.0.0.1:8080/api/v10"),
        gateway_url=base_url(section.get("gateway_url"), "discord.gateway_url",
                             "ws://127.0.0.1:8080/", schemes=("ws", "wss")),
        channels=channels(section.get("channels"), "discord.channels", CHANNEL_IDS, default_zone),
        guilds=tuple(int(g) for g in guilds),
        token=env_secret(environ, DISCORD_TOKEN_ENV),
    )


PLATFORM = Platform(DISCORD, "Discord", DISCORD_TOKEN_ENV, parse, discord.preview)
