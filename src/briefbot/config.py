"""config.yaml -> frozen, validated settings; tokens come from the environment only."""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from briefbot.errors import ConfigError

TELEGRAM_TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
DISCORD_TOKEN_ENV = "DISCORD_BOT_TOKEN"
READER_KEY_ENV = "BRIEFBOT_READER_API_KEY"
READER_TIMEOUT_SECONDS = 8.0  # qa.reader.timeout when not given
READER_TIMEOUT_MAX_SECONDS = 60.0  # longer than any person waits for a chat answer


class Secret:
    """A token that never shows itself in a repr, a str() or a log line."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class ChannelSchedule:
    """A daily briefing listed in config.yaml: post to `chat_id` at `time` in `timezone`."""

    chat_id: str
    time: dt.time
    timezone: str


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str  # the public HTTPS URL Telegram posts to
    listen: str = "0.0.0.0"
    port: int = 8443
    secret_token: Secret | None = None
    path: str = "telegram"


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    base_url: str | None = None
    base_file_url: str | None = None
    channels: tuple[ChannelSchedule, ...] = ()
    webhook: WebhookConfig | None = None
    token: Secret | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class DiscordConfig:
    api_base_url: str | None = None
    gateway_url: str | None = None
    channels: tuple[ChannelSchedule, ...] = ()
    guilds: tuple[int, ...] = ()  # sync slash commands to these servers at once (else globally)
    token: Secret | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ReaderConfig:
    """qa.reader: an OpenAI-compatible chat endpoint the operator runs, asked before the
    offline answer is shown (its answers are checked against the article)."""

    url: str  # base URL without a trailing slash; requests go to {url}/chat/completions
    model: str
    timeout: float = READER_TIMEOUT_SECONDS  # seconds for one answer, queueing included
    api_key: Secret | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """One RSS or Atom feed whose new items become article files in the content folder."""

    url: str
    name: str  # the article ids' prefix and how logs and `status` name the feed
    every: dt.timedelta = dt.timedelta(minutes=15)
    full_text: bool = False  # fetch each item's page and keep its article text
    max_items: int = 50  # newest items read from one fetch; the rest wait for later
    max_bytes: int = 5_000_000  # a larger (decoded) feed document is refused


@dataclass(frozen=True, slots=True)
class Config:
    content_dir: Path
    database: Path
    timezone: str = "UTC"  # the default for /subscribe without a zone
    catch_up_window: dt.timedelta = dt.timedelta(hours=2)
    reload_seconds: float = 5.0  # how often the content folder is rescanned while running
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    discord: DiscordConfig = field(default_factory=DiscordConfig)
    reader: ReaderConfig | None = None  # qa.reader; None: offline answers only
    source: Path | None = None  # the file this came from, if any
    feeds: tuple[FeedConfig, ...] = ()
    keep_days: int | None = 30  # fetched articles older than this are removed; None: never
    log_format: str = "text"  # "text" (readable) or "json" (one object a line)
    log_level: str | None = None  # debug|info|warning|error; None: the command's default


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time_of_day(value: object, key: str) -> dt.time:
    """'07:30' -> time(7, 30); anything else is a ConfigError naming `key`."""
    text = str(value).strip()
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if match:
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour < 24 and minute < 60:
            return dt.time(hour, minute)
    raise ConfigError(f"{key}: {value!r} is not a time of day; write it as HH:MM, e.g. \"07:30\"")


def check_timezone(value: object, key: str) -> str:
    name = str(value).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        from briefbot.schedule import zone_suggestion

        guess = zone_suggestion(name)
        like = guess if guess else "Europe/Berlin or UTC"
        raise ConfigError(
            f"{key}: {value!r} is not an IANA time zone; use a name like {like}"
        ) from None
    return name


def _duration(value: object, key: str, *, longest: dt.timedelta) -> dt.timedelta:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ConfigError(f"{key}: {value!r} is not a duration; write e.g. 2h, 90m or 30s")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    # Zero (or NaN) would make every briefing count as missed the moment it falls due.
    if not math.isfinite(seconds) or not 0 < seconds <= longest.total_seconds():
        raise ConfigError(
            f"{key}: {value!r} must be more than 0 and at most {longest}; write e.g. 2h"
        )
    return dt.timedelta(seconds=seconds)


def _mapping(value: object, key: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a mapping of settings, got {type(value).__name__}")
    return value


def _optional_str(value: object, key: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected text, got {value!r}")
    return value


def _check_keys(section: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}{unknown[0]}: unknown setting; the known ones are {', '.join(sorted(allowed))}"
        )


def _channels(
    value: object, key: str, id_key: str, default_zone: str
) -> tuple[ChannelSchedule, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list like [{{{id_key}: ..., time: \"07:30\"}}]")
    channels = []
    for index, item in enumerate(value):
        where = f"{key}[{index}]"
        entry = _mapping(item, where)
        _check_keys(entry, {id_key, "time", "timezone"}, f"{where}.")
        if entry.get(id_key) in (None, ""):
            raise ConfigError(f"{where}.{id_key}: missing; say which chat gets the briefing")
        if "time" not in entry:
            raise ConfigError(f"{where}.time: missing; write the local time as HH:MM")
        chat_id = str(entry[id_key]).strip()
        # Ids the platform can never resolve would fail at every delivery, silently for days.
        if id_key == "channel_id" and not re.fullmatch(r"\d{1,20}", chat_id):
            raise ConfigError(
                f"{where}.channel_id: {chat_id!r} is not a Discord channel id; it is a number "
                "like 1234567890123456789 (Developer Mode, right-click the channel, Copy ID)"
            )
        if id_key == "chat_id" and not re.fullmatch(r"-?\d{1,20}|@[A-Za-z]\w{3,31}", chat_id):
            raise ConfigError(
                f"{where}.chat_id: {chat_id!r} is not a Telegram chat id; write a number like "
                "-1001234567890 or a public channel's @username, like '@news'"
            )
        channels.append(
            ChannelSchedule(
                chat_id=chat_id,
                time=parse_time_of_day(entry["time"], f"{where}.time"),
                timezone=check_timezone(entry.get("timezone", default_zone), f"{where}.timezone"),
            )
        )
    return tuple(channels)


def _reader(value: object, environ: Mapping[str, str]) -> ReaderConfig | None:
    """qa.reader, validated: an http(s) base URL, a model name, a timeout in (0, 60] seconds."""
    if value is None:
        return None
    section = _mapping(value, "qa.reader")
    _check_keys(section, {"url", "model", "timeout"}, "qa.reader.")
    url = section.get("url")
    try:
        parts = urlsplit(url.strip()) if isinstance(url, str) else None
        usable = parts is not None and parts.scheme in ("http", "https") and bool(
            parts.hostname) and (parts.port is None or parts.port > 0)
    except ValueError:  # a bad port or an unclosed [IPv6 bracket
        usable = False
    if not usable or parts is None:
        raise ConfigError(
            f"qa.reader.url: {url!r} is not an http(s) URL; write the endpoint's base URL, "
            "e.g. http://127.0.0.1:11434/v1"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(
            "qa.reader.url: write only the base URL, without a user name, password, ?query or "
            f"#fragment; an API key goes in the environment as {READER_KEY_ENV}"
        )
    base = parts.geturl().rstrip("/")
    # A pasted full endpoint ("…/v1/chat/completions") means the same base URL.
    base = base.removesuffix("/chat/completions")
    model = section.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ConfigError(
            "qa.reader.model: missing; name the model the endpoint serves, "
            "e.g. qwen2.5:7b-instruct"
        )
    timeout = section.get("timeout", READER_TIMEOUT_SECONDS)
    if (
        not isinstance(timeout, (int, float))
        or isinstance(timeout, bool)
        or not math.isfinite(timeout)
        or not 0 < timeout <= READER_TIMEOUT_MAX_SECONDS
    ):
        raise ConfigError(
            f"qa.reader.timeout: {timeout!r} must be a number of seconds, more than 0 and at "
            f"most {READER_TIMEOUT_MAX_SECONDS:.0f}; e.g. 8"
        )
    return ReaderConfig(url=base, model=model.strip(), timeout=float(timeout),
                        api_key=_env_secret(environ, READER_KEY_ENV))


def _env_secret(environ: Mapping[str, str], name: str) -> Secret | None:
    value = environ.get(name, "").strip()
    return Secret(value) if value else None


def load_config(
    path: Path | None, environ: Mapping[str, str] | None = None, *, required: bool = False
) -> Config:
    """Read and validate config.yaml. A missing file gives the defaults unless `required`."""
    environ = os.environ if environ is None else environ
    raw: object = {}
    base = Path.cwd()
    if path is not None and path.exists():
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{path}{where}: not valid YAML ({exc}); fix the syntax") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read it ({exc})") from None
        base = path.parent
    elif path is not None and required:
        raise ConfigError(f"{path}: no such config file; copy config.yaml from the project")
    top = _mapping(raw, "config.yaml")
    for key in top:
        if isinstance(key, str) and "token" in key.lower():
            env = DISCORD_TOKEN_ENV if "discord" in key.lower() else TELEGRAM_TOKEN_ENV
            raise _token_in_config(key, env)
    _check_keys(
        top,
        {"content_dir", "database", "timezone", "catch_up_window", "reload_seconds", "telegram",
         "discord", "log_level", "qa", "feeds", "keep_days", "log_format"},
        "",
    )
    zone = check_timezone(top.get("timezone", "UTC"), "timezone")

    tg = _mapping(top.get("telegram"), "telegram")
    _refuse_tokens(tg, "telegram", TELEGRAM_TOKEN_ENV)
    _check_keys(tg, {"base_url", "base_file_url", "channels", "webhook"}, "telegram.")
    webhook = None
    if tg.get("webhook"):
        wh = _mapping(tg["webhook"], "telegram.webhook")
        _check_keys(wh, {"url", "listen", "port", "secret_token", "path"}, "telegram.webhook.")
        url = _optional_str(wh.get("url"), "telegram.webhook.url")
        if not url or not url.startswith("https://"):
            raise ConfigError("telegram.webhook.url: Telegram needs a public https:// URL here")
        port = wh.get("port", 8443)
        if not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigError(f"telegram.webhook.port: {port!r} is not a port number (1-65535)")
        secret = _optional_str(wh.get("secret_token"), "telegram.webhook.secret_token")
        webhook = WebhookConfig(
            url=url,
            listen=str(wh.get("listen", "0.0.0.0")),
            port=port,
            secret_token=Secret(secret) if secret else None,
            path=str(wh.get("path", "telegram")).strip("/"),
        )
    telegram = TelegramConfig(
        base_url=_base_url(tg.get("base_url"), "telegram.base_url",
                           "http://127.0.0.1:8081/bot"),
        base_file_url=_optional_str(tg.get("base_file_url"), "telegram.base_file_url"),
        channels=_channels(tg.get("channels"), "telegram.channels", "chat_id", zone),
        webhook=webhook,
        token=_env_secret(environ, TELEGRAM_TOKEN_ENV),
    )

    dc = _mapping(top.get("discord"), "discord")
    _refuse_tokens(dc, "discord", DISCORD_TOKEN_ENV)
    _check_keys(dc, {"api_base_url", "gateway_url", "channels", "guilds"}, "discord.")
    guilds_raw = dc.get("guilds") or []
    if not isinstance(guilds_raw, list) or not all(
        isinstance(g, int) or (isinstance(g, str) and g.isdigit()) for g in guilds_raw
    ):
        raise ConfigError("discord.guilds: expected a list of server ids (numbers)")
    discord = DiscordConfig(
        api_base_url=_base_url(dc.get("api_base_url"), "discord.api_base_url",
                               "http://127.0.0.1:8080/api/v10"),
        gateway_url=_base_url(dc.get("gateway_url"), "discord.gateway_url",
                              "ws://127.0.0.1:8080/", schemes=("ws", "wss")),
        channels=_channels(dc.get("channels"), "discord.channels", "channel_id", zone),
        guilds=tuple(int(g) for g in guilds_raw),
        token=_env_secret(environ, DISCORD_TOKEN_ENV),
    )

    qa = _mapping(top.get("qa"), "qa")
    _check_keys(qa, {"reader"}, "qa.")
    reader = _reader(qa.get("reader"), environ)

    reload_seconds = top.get("reload_seconds", 5.0)
    if (
        not isinstance(reload_seconds, (int, float))
        or isinstance(reload_seconds, bool)
        or not math.isfinite(reload_seconds)
        or reload_seconds <= 0
    ):
        raise ConfigError(f"reload_seconds: {reload_seconds!r} must be a positive number")
    return Config(
        content_dir=(base / str(top.get("content_dir", "content"))).resolve(),
        database=(base / str(top.get("database", _default_database(path, environ)))).resolve(),
        timezone=zone,
        catch_up_window=_duration(
            top.get("catch_up_window", "2h"), "catch_up_window", longest=dt.timedelta(hours=24)
        ),
        reload_seconds=float(reload_seconds),
        telegram=telegram,
        discord=discord,
        reader=reader,
        source=path if path is not None and path.exists() else None,
        feeds=_feeds(top.get("feeds")),
        keep_days=_keep_days(top.get("keep_days", 30)),
        log_format=_log_format(top.get("log_format", "text")),
        log_level=_log_level(top.get("log_level")),
    )


_FEED_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


def _feed_name_from_url(url: str) -> str:
    host = urlsplit(url).hostname or "feed"
    host = host.removeprefix("www.")
    return re.sub(r"[^A-Za-z0-9]+", "-", host).strip("-")[:40] or "feed"


def _positive(value: object, key: str, example: str, *, at_least: float = 1) -> float:
    if (
        not isinstance(value, (int, float)) or isinstance(value, bool)
        or not math.isfinite(value) or value < at_least
    ):
        raise ConfigError(f"{key}: {value!r} must be a number of at least {at_least:g}; "
                          f"write e.g. {example}")
    return float(value)


def _feeds(value: object) -> tuple[FeedConfig, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError('feeds: expected a list like [{url: "https://example.org/rss.xml"}]')
    feeds: list[FeedConfig] = []
    names: set[str] = set()
    for index, item in enumerate(value):
        where = f"feeds[{index}]"
        entry = _mapping(item, where)
        _check_keys(entry, {"url", "name", "every", "full_text", "max_items", "max_bytes"},
                    f"{where}.")
        url = entry.get("url")
        if not isinstance(url, str) or urlsplit(url.strip()).scheme not in ("http", "https") \
                or not urlsplit(url.strip()).hostname:
            raise ConfigError(f"{where}.url: {url!r} is not an http(s) address; write the "
                              "feed's full URL, e.g. https://example.org/rss.xml")
        url = url.strip()
        name = entry.get("name")
        if name is None:
            name = _feed_name_from_url(url)
        if not isinstance(name, str) or not _FEED_NAME.match(name):
            raise ConfigError(f"{where}.name: {name!r} must be 1-40 letters, digits, '-' or '_' "
                              "(it starts each article id), e.g. city-news")
        if name.lower() in names:
            raise ConfigError(f"{where}.name: another feed is already named {name!r}; give each "
                              "feed its own name")
        names.add(name.lower())
        full_text = entry.get("full_text", False)
        if not isinstance(full_text, bool):
            raise ConfigError(f"{where}.full_text: {full_text!r} must be true or false")
        every = _positive(entry.get("every", 15), f"{where}.every", "15 (minutes)")
        feeds.append(FeedConfig(
            url=url, name=name, every=dt.timedelta(minutes=every), full_text=full_text,
            max_items=int(_positive(entry.get("max_items", 50), f"{where}.max_items", "50")),
            max_bytes=int(_positive(entry.get("max_bytes", 5_000_000), f"{where}.max_bytes",
                                    "5000000", at_least=1024)),
        ))
    return tuple(feeds)


def _keep_days(value: object) -> int | None:
    if value is None:
        return None
    return int(_positive(value, "keep_days", "30 (days), or null to keep fetched articles"))


LOG_LEVELS = ("debug", "info", "warning", "error")


def _log_level(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in LOG_LEVELS:
        raise ConfigError(f"log_level: {value!r} is not a log level; write one of "
                          f"{', '.join(LOG_LEVELS)} (--log-level on the command line wins)")
    return value.lower()


_TOKEN_KEYS = ("token", "bot_token", "api_token")


def _refuse_tokens(section: Mapping[str, Any], where: str, env: str) -> None:
    """A token pasted into config.yaml: say where it goes instead (never echoing it)."""
    for key in _TOKEN_KEYS:
        if key in section:
            raise _token_in_config(f"{where}.{key}", env)


def _token_in_config(key: str, env: str) -> ConfigError:
    return ConfigError(
        f"{key}: tokens are never read from config.yaml (a config file gets copied, committed "
        f"and shown); remove it and set the environment variable {env} instead, e.g. "
        f"export {env}='...', or a line {env}=... in the service's env file"
    )


def _log_format(value: object) -> str:
    if value not in ("text", "json"):
        raise ConfigError(f"log_format: {value!r} is not a log format; write text or json")
    return str(value)


def _base_url(value: object, key: str, example: str,
              schemes: tuple[str, ...] = ("http", "https")) -> str | None:
    """An optional server root: a URL of one of `schemes`, with a host and no token in it."""
    url = _optional_str(value, key)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        raise ConfigError(f"{key}: {url!r} is not a {' or '.join(schemes)} URL; write the "
                          f"server's root, like {example!r}, or leave it out")
    if re.search(r"\d{5,}:[A-Za-z0-9_-]{20,}", url) or parts.password:
        raise ConfigError(f"{key}: the URL holds a token; write the server's root only, like "
                          f"{example!r}: briefbot adds the token from the environment "
                          "(TELEGRAM_BOT_TOKEN or DISCORD_BOT_TOKEN)")
    return url


def _default_database(path: Path | None, environ: Mapping[str, str]) -> str:
    """data/briefbot.sqlite3 beside config.yaml; with no config file (briefbot run from any
    folder), the user's state folder, so no stray ./data/ appears wherever it was started."""
    if path is not None and path.exists():
        return "data/briefbot.sqlite3"
    state = environ.get("XDG_STATE_HOME") or str(Path(environ.get("HOME", "~")) / ".local/state")
    return str(Path(state).expanduser() / "briefbot" / "briefbot.sqlite3")
