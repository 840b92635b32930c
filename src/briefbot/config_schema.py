"""What every section of config.yaml is read with: secrets, keys, times, chat schedules, URLs.

config.py reads the core keys with these, and each platform's schema (adapters/*_config.py)
its own section; an error names the key and the fix.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Set
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from briefbot.errors import ConfigError


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
class ChatIds:
    """How a platform's channels name a chat in config.yaml, and how a wrong one is answered."""

    key: str  # "chat_id"
    pattern: str  # what an id the platform can resolve looks like (matched whole)
    kind: str  # "Telegram chat id"
    fix: str  # what to write instead


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
    """`value` as an IANA zone name this machine knows and that names a place (the rule
    /subscribe applies: `schedule.names_no_place`); else a ConfigError naming `key`."""
    from briefbot.daily.schedule import names_no_place

    name = str(value).strip()
    if names_no_place(name):
        raise ConfigError(
            f"{key}: {value!r} is not a place's time zone (localtime, posixrules, Factory and "
            f"the posix/ and right/ copies are not); use a name like {_zone_like(name)}"
        )
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(
            f"{key}: {value!r} is not an IANA time zone; use a name like {_zone_like(name)}"
        ) from None
    return name


def _zone_like(name: str) -> str:
    """The zone to suggest instead of `name`: the one it most likely means, else examples."""
    from briefbot.daily.schedule import zone_suggestion

    return zone_suggestion(name) or "Europe/Berlin or UTC"


def mapping(value: object, key: str) -> Mapping[str, Any]:
    """A section of settings (None: an empty one)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a mapping of settings, got {type(value).__name__}")
    return value


def optional_str(value: object, key: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected text, got {value!r}")
    return value


def check_keys(section: Mapping[str, Any], allowed: Set[str], where: str) -> None:
    """Refuse a setting not in `allowed` (a typo would otherwise be ignored), listing them."""
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}{unknown[0]}: unknown setting; the known ones are {', '.join(sorted(allowed))}"
        )


def channels(
    value: object, key: str, ids: ChatIds, default_zone: str
) -> tuple[ChannelSchedule, ...]:
    """A platform's `channels:` list: a chat, a local time and a zone (default: `timezone`)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list like [{{{ids.key}: ..., time: \"07:30\"}}]")
    schedules = []
    for index, item in enumerate(value):
        where = f"{key}[{index}]"
        entry = mapping(item, where)
        check_keys(entry, {ids.key, "time", "timezone"}, f"{where}.")
        if entry.get(ids.key) in (None, ""):
            raise ConfigError(f"{where}.{ids.key}: missing; say which chat gets the briefing")
        if "time" not in entry:
            raise ConfigError(f"{where}.time: missing; write the local time as HH:MM")
        chat_id = str(entry[ids.key]).strip()
        # Ids the platform can never resolve would fail at every delivery, silently for days.
        if not re.fullmatch(ids.pattern, chat_id):
            raise ConfigError(f"{where}.{ids.key}: {chat_id!r} is not a {ids.kind}; {ids.fix}")
        schedules.append(
            ChannelSchedule(
                chat_id=chat_id,
                time=parse_time_of_day(entry["time"], f"{where}.time"),
                timezone=check_timezone(entry.get("timezone", default_zone), f"{where}.timezone"),
            )
        )
    return tuple(schedules)


def env_secret(environ: Mapping[str, str], name: str) -> Secret | None:
    """The environment variable `name` as a Secret; unset or blank: None."""
    value = environ.get(name, "").strip()
    return Secret(value) if value else None


_TOKEN_KEYS = ("token", "bot_token", "api_token")


def platform_section(value: object, name: str, env: str, allowed: Set[str]) -> Mapping[str, Any]:
    """A platform's section (`name:`): a mapping of `allowed` keys, with no token pasted in
    (that error says the token goes in the environment variable `env`, never echoing it)."""
    section = mapping(value, name)
    for key in _TOKEN_KEYS:
        if key in section:
            raise token_in_config(f"{name}.{key}", env)
    check_keys(section, allowed, f"{name}.")
    return section


def token_in_config(key: str, env: str) -> ConfigError:
    return ConfigError(
        f"{key}: tokens are never read from config.yaml (a config file gets copied, committed "
        f"and shown); remove it and set the environment variable {env} instead, e.g. "
        f"export {env}='...', or a line {env}=... in the service's env file"
    )


def shown_url(url: str) -> str:
    """`url` as an error message may repeat it: a user name or password, a ?query and a
    #fragment (where keys go) are shown as …."""
    shown = re.sub(r"[?#].*", "…", url, flags=re.DOTALL)
    return repr(re.sub(r"^([^/]*//)?[^/]*@", r"\1…@", shown))


def base_url(value: object, key: str, example: str,
             schemes: tuple[str, ...] = ("http", "https")) -> str | None:
    """An optional server root: a URL of one of `schemes`, with a host and no token in it."""
    url = optional_str(value, key)
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # an unclosed [IPv6 bracket
        parts, password = None, None
    # The token first: the other errors repeat the URL.
    if re.search(r"\d{5,}:[A-Za-z0-9_-]{20,}", url) or password:
        # Here, not at the top: the registry imports every platform's schema, which imports this.
        from briefbot.platforms import PLATFORMS

        envs = " or ".join(platform.token_env for platform in PLATFORMS)
        raise ConfigError(f"{key}: the URL holds a token; write the server's root only, like "
                          f"{example!r}: briefbot adds the token from the environment "
                          f"({envs})")
    if parts is None or parts.scheme not in schemes or not parts.hostname:
        raise ConfigError(f"{key}: {shown_url(url)} is not a {' or '.join(schemes)} URL; write "
                          f"the server's root, like {example!r}, or leave it out")
    return url
