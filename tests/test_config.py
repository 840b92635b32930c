"""config.yaml: defaults, validation that names the key and the fix, tokens only from the env."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from briefbot.config import load_config
from briefbot.errors import ConfigError

TOKEN = "123456789:AAHfakeTokenForTestsOnly_abcdefghijk"


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_config_yaml_is_valid() -> None:
    config = load_config(Path(__file__).parent.parent / "config.yaml", environ={})
    assert config.content_dir.name == "content"
    assert config.catch_up_window == dt.timedelta(hours=2)


def test_missing_file_gives_defaults_unless_it_was_asked_for(tmp_path: Path) -> None:
    config = load_config(tmp_path / "absent.yaml", environ={})
    assert config.timezone == "UTC" and config.telegram.token is None
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.yaml", environ={}, required=True)


def test_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, "content_dir: articles\n"), environ={})
    assert config.content_dir == (tmp_path / "articles").resolve()


def test_channels_are_parsed_with_the_default_zone(tmp_path: Path) -> None:
    path = _config(tmp_path, """
timezone: Europe/Berlin
telegram:
  channels: [{chat_id: "@news", time: "7:30"}]
discord:
  channels: [{channel_id: 123, time: "08:00", timezone: America/New_York}]
""")
    config = load_config(path, environ={})
    (tg,) = config.telegram.channels
    assert (tg.chat_id, tg.time, tg.timezone) == ("@news", dt.time(7, 30), "Europe/Berlin")
    (dc,) = config.discord.channels
    assert (dc.chat_id, dc.timezone) == ("123", "America/New_York")


@pytest.mark.parametrize(
    "text, message",
    [
        ("telegram:\n  channels: [{chat_id: 1, time: '25:00'}]\n", r"telegram.channels\[0\].time: '25:00' is not a time of day; write it as HH:MM"),
        ("timezone: Mars/Olympus\n", "timezone: 'Mars/Olympus' is not an IANA time zone"),
        ("catch_up_window: soon\n", "catch_up_window: 'soon' is not a duration; write e.g. 2h"),
        ("catch_up_window: 0\n", "catch_up_window: 0 must be more than 0"),
        ("catch_up_window: -5m\n", "catch_up_window: '-5m' is not a duration"),
        ("catch_up_window: .nan\n", "catch_up_window: nan must be more than 0"),
        ("catch_up_window: 3d\n", "catch_up_window: '3d' must be more than 0 and at most 1 day"),
        ("reload_seconds: .nan\n", "reload_seconds: nan must be a positive number"),
        ("telegram:\n  tokn: x\n", "telegram.tokn: unknown setting"),
        ("discord:\n  guilds: [abc]\n", "discord.guilds: expected a list of server ids"),
        ("telegram: [1, 2]\n", "telegram: expected a mapping"),
        ("content_dir: [unclosed\n", "not valid YAML"),
        ("telegram:\n  webhook: {url: 'http://insecure'}\n", "telegram.webhook.url: Telegram needs a public https:// URL"),
    ],
)
def test_bad_config_names_the_key_and_the_fix(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_config(tmp_path, text), environ={})


def test_tokens_come_from_the_environment_and_never_show_in_reprs(tmp_path: Path) -> None:
    config = load_config(
        _config(tmp_path, "{}\n"),
        environ={"TELEGRAM_BOT_TOKEN": TOKEN, "DISCORD_BOT_TOKEN": "  "},
    )
    assert config.telegram.token is not None and config.telegram.token.reveal() == TOKEN
    assert config.discord.token is None  # blank means unset
    for text in (repr(config), str(config), repr(config.telegram), repr(config.telegram.token)):
        assert TOKEN not in text
