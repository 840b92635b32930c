"""config.yaml's `telegram:` section, validated, and Telegram as the core sees it (PLATFORM)."""

from __future__ import annotations

import re
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
    check_keys,
    env_secret,
    mapping,
    optional_str,
    platform_section,
)
from briefbot.errors import ConfigError
from briefbot.ports import Adapter, ChatEvents, Handler, OnFatal, Platform
from briefbot.render import telegram

TELEGRAM = "telegram"
TELEGRAM_TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
# What setWebhook accepts as a secret_token (Bot API docs).
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
CHAT_IDS = ChatIds(
    "chat_id", r"-?\d{1,20}|@[A-Za-z]\w{3,31}", "Telegram chat id",
    "write a number like -1001234567890 or a public channel's @username, like '@news'",
)


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str  # the public HTTPS URL Telegram posts to
    listen: str = "0.0.0.0"
    port: int = 8443
    secret_token: Secret | None = None
    path: str = "telegram"


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    platform: ClassVar[str] = TELEGRAM

    base_url: str | None = None
    base_file_url: str | None = None
    channels: tuple[ChannelSchedule, ...] = ()
    webhook: WebhookConfig | None = None
    token: Secret | None = field(default=None, repr=False)

    def adapter(self, handler: Handler, events: ChatEvents | None, *, receive: bool,
                on_fatal: OnFatal | None = None,
                database: Path | None = None) -> Adapter[telegram.TelegramHTML]:
        from briefbot.adapters.telegram_adapter import TelegramAdapter

        # The messages a stop answered that Telegram sends again, so the next start does not
        # answer them twice (see TelegramAdapter).
        answered = database.with_name(f"{database.name}-telegram.json") if database else None
        return TelegramAdapter(self, handler, events, receive=receive, on_fatal=on_fatal,
                               answered_file=answered)


def parse(value: object, environ: Mapping[str, str], default_zone: str) -> TelegramConfig:
    """The `telegram:` section, with the token from TELEGRAM_BOT_TOKEN."""
    section = platform_section(value, "telegram", TELEGRAM_TOKEN_ENV,
                               {"base_url", "base_file_url", "channels", "webhook"})
    webhook = _webhook(section.get("webhook"))
    return TelegramConfig(
        base_url=base_url(section.get("base_url"), "telegram.base_url",
                          "http://127.0.0.1:8081/bot"),
        base_file_url=optional_str(section.get("base_file_url"), "telegram.base_file_url"),
        channels=channels(section.get("channels"), "telegram.channels", CHAT_IDS, default_zone),
        webhook=webhook,
        token=env_secret(environ, TELEGRAM_TOKEN_ENV),
    )


def _webhook(value: object) -> WebhookConfig | None:
    if not value:
        return None
    section = mapping(value, "telegram.webhook")
    check_keys(section, {"url", "listen", "port", "secret_token", "path"}, "telegram.webhook.")
    url = optional_str(section.get("url"), "telegram.webhook.url")
    if not url or not url.startswith("https://"):
        raise ConfigError("telegram.webhook.url: Telegram needs a public https:// URL here")
    port = section.get("port", 8443)
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"telegram.webhook.port: {port!r} is not a port number (1-65535)")
    secret = optional_str(section.get("secret_token"), "telegram.webhook.secret_token")
    if secret and not _SECRET_TOKEN.fullmatch(secret):
        raise ConfigError(
            "telegram.webhook.secret_token: Telegram accepts only 1-256 letters, digits, _ and "
            "-; pick another, e.g. the output of: openssl rand -hex 32"
        )
    return WebhookConfig(
        url=url,
        listen=str(section.get("listen", "0.0.0.0")),
        port=port,
        secret_token=Secret(secret) if secret else None,
        path=str(section.get("path", "telegram")).strip("/"),
    )


PLATFORM = Platform(TELEGRAM, "Telegram", TELEGRAM_TOKEN_ENV, parse, telegram.preview)
