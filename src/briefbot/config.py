"""config.yaml -> frozen, validated settings; tokens come from the environment only.

The core keys are read here; each platform's section by that platform's own schema
(platforms.PLATFORMS).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml

# Re-exported: what the store, scripts and tests read from config.
from briefbot.config_schema import ChannelSchedule as ChannelSchedule
from briefbot.config_schema import Secret as Secret
from briefbot.config_schema import (
    check_keys,
    check_timezone,
    env_secret,
    mapping,
    shown_url,
    token_in_config,
)
from briefbot.errors import ConfigError
from briefbot.platforms import PLATFORMS
from briefbot.ports import PlatformConfig
from briefbot.yaml_keys import DuplicateKey, load_yaml

READER_KEY_ENV = "BRIEFBOT_READER_API_KEY"
READER_TIMEOUT_SECONDS = 8.0  # qa.reader.timeout when not given
READER_TIMEOUT_MAX_SECONDS = 60.0  # longer than any person waits for a chat answer


@dataclass(frozen=True, slots=True)
class ReaderConfig:
    """qa.reader: an OpenAI-compatible chat endpoint the operator runs, asked before the
    offline answer is shown (its answers are checked against the article)."""

    url: str  # base URL without a trailing slash; requests go to {url}/chat/completions
    model: str
    timeout: float = READER_TIMEOUT_SECONDS  # seconds for one answer, self-check included
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
    # Every platform's settings, in the order of platforms.PLATFORMS; without a config file,
    # each with its defaults and no token.
    platforms: tuple[PlatformConfig, ...] = field(default_factory=lambda: _platforms({}, {}, "UTC"))
    reader: ReaderConfig | None = None  # qa.reader; None: offline answers only
    source: Path | None = None  # the file this came from, if any
    feeds: tuple[FeedConfig, ...] = ()
    keep_days: int | None = 30  # fetched articles older than this are removed; None: never
    log_format: str = "text"  # "text" (readable) or "json" (one object a line)
    log_level: str | None = None  # debug|info|warning|error; None: the command's default

    def platform(self, name: str) -> PlatformConfig:
        """A platform's settings by its name (`config.platform("telegram")`); raises KeyError
        for a name platforms.PLATFORMS does not list."""
        for settings in self.platforms:
            if settings.platform == name:
                return settings
        raise KeyError(name)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


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


def _reader(value: object, environ: Mapping[str, str]) -> ReaderConfig | None:
    """qa.reader, validated: an http(s) base URL, a model name, a timeout in (0, 60] seconds."""
    if value is None:
        return None
    section = mapping(value, "qa.reader")
    check_keys(section, {"url", "model", "timeout"}, "qa.reader.")
    url = section.get("url")
    try:
        parts = urlsplit(url.strip()) if isinstance(url, str) else None
        usable = parts is not None and parts.scheme in ("http", "https") and bool(
            parts.hostname) and (parts.port is None or parts.port > 0)
    except ValueError:  # a bad port or an unclosed [IPv6 bracket
        usable = False
    if not usable or parts is None:
        raise ConfigError(
            f"qa.reader.url: {shown_url(url) if isinstance(url, str) else repr(url)} is not "
            "an http(s) URL; write the endpoint's base URL, "
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
                        api_key=env_secret(environ, READER_KEY_ENV))


# The top-level keys besides the platforms' sections.
CORE_KEYS = frozenset({"content_dir", "database", "timezone", "catch_up_window", "reload_seconds",
                       "log_level", "qa", "feeds", "keep_days", "log_format"})


def _platforms(top: Mapping[str, object], environ: Mapping[str, str],
               zone: str) -> tuple[PlatformConfig, ...]:
    """Each platform's section, read by the platform's own schema."""
    return tuple(platform.parse(top.get(platform.name), environ, zone) for platform in PLATFORMS)


def _token_env_for(key: str) -> str:
    """Where the token pasted under top-level `key` belongs: the variable of the platform the
    key names, else of the first platform."""
    named = [p.token_env for p in PLATFORMS if p.name in key.lower()]
    return (named or [PLATFORMS[0].token_env])[-1]


def load_config(
    path: Path | None, environ: Mapping[str, str] | None = None, *, required: bool = False
) -> Config:
    """Read and validate config.yaml. A missing file gives the defaults unless `required`."""
    environ = os.environ if environ is None else environ
    raw: object = {}
    base = Path.cwd()
    if path is not None and path.exists():
        try:
            raw = load_yaml(path.read_text(encoding="utf-8")) or {}
        except DuplicateKey as exc:
            raise ConfigError(f"{path} line {exc.line}: {exc}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{path}{where}: not valid YAML ({exc}); fix the syntax") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read it ({exc})") from None
        base = path.parent
    elif path is not None and required:
        raise ConfigError(f"{path}: no such config file; copy config.yaml from the project")
    top = mapping(raw, "config.yaml")
    for key in top:
        if isinstance(key, str) and "token" in key.lower():
            raise token_in_config(key, _token_env_for(key))
    check_keys(top, CORE_KEYS | {platform.name for platform in PLATFORMS}, "")
    zone = check_timezone(top.get("timezone", "UTC"), "timezone")
    platforms = _platforms(top, environ, zone)

    qa = mapping(top.get("qa"), "qa")
    check_keys(qa, {"reader"}, "qa.")
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
        content_dir=(base / _path(top.get("content_dir"), "content_dir", "content")).resolve(),
        database=(base / _path(top.get("database"), "database",
                               _default_database(path, environ))).resolve(),
        timezone=zone,
        catch_up_window=_duration(
            top.get("catch_up_window", "2h"), "catch_up_window", longest=dt.timedelta(hours=24)
        ),
        reload_seconds=float(reload_seconds),
        platforms=platforms,
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
        entry = mapping(item, where)
        check_keys(entry, {"url", "name", "every", "full_text", "max_items", "max_bytes"},
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


def _log_format(value: object) -> str:
    if value not in ("text", "json"):
        raise ConfigError(f"log_format: {value!r} is not a log format; write text or json")
    return str(value)


def _path(value: object, key: str, default: str) -> str:
    """A path setting: text (a number is a folder name too); null or absent: `default`."""
    if value is None:
        return default
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
        return str(value)
    raise ConfigError(f"{key}: {value!r} is not a path; write a file or folder name, relative "
                      f"to this config file, or leave it out for the default ({default})")


def _default_database(path: Path | None, environ: Mapping[str, str]) -> str:
    """data/briefbot.sqlite3 beside config.yaml; with no config file (briefbot run from any
    folder), the user's state folder, so no stray ./data/ appears wherever it was started."""
    if path is not None and path.exists():
        return "data/briefbot.sqlite3"
    state = environ.get("XDG_STATE_HOME") or str(Path(environ.get("HOME", "~")) / ".local/state")
    return str(Path(state).expanduser() / "briefbot" / "briefbot.sqlite3")
