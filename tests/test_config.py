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
    assert config.timezone == "UTC" and config.platform("telegram").token is None
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
    (tg,) = config.platform("telegram").channels
    assert (tg.chat_id, tg.time, tg.timezone) == ("@news", dt.time(7, 30), "Europe/Berlin")
    (dc,) = config.platform("discord").channels
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
        ("telegram:\n  webhook: {url: 'https://bot.example.org/tg', secret_token: 'my secret!'}\n", "telegram.webhook.secret_token: Telegram accepts only 1-256 letters, digits, _ and -"),
    ],
)
def test_bad_config_names_the_key_and_the_fix(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_config(tmp_path, text), environ={})


@pytest.mark.parametrize(("text", "message"), [
    ("timezone: localtime\n", "timezone: 'localtime' is not a place's time zone"),
    ("timezone: Factory\n", "timezone: 'Factory' is not a place's time zone"),
    ("timezone: posixrules\n", "timezone: 'posixrules' is not a place's time zone"),
    ("timezone: right/Europe/Berlin\n", "timezone: 'right/Europe/Berlin' is not a place's time "
                                        "zone.*use a name like Europe/Berlin"),
    ("telegram:\n  channels: [{chat_id: '@news', time: '07:30', timezone: posix/Europe/Paris}]\n",
     r"telegram.channels\[0\].timezone: 'posix/Europe/Paris' is not a place's time zone.*"
     "use a name like Europe/Paris"),
])
def test_a_zone_file_that_names_no_place_is_refused_as_slash_subscribe_refuses_it(
    tmp_path: Path, text: str, message: str
) -> None:
    """config.yaml took `timezone: localtime` (the server's own setting, so briefings moved
    with the host) and the posix/ and right/ copies; /subscribe refuses them, and so does it."""
    with pytest.raises(ConfigError, match=message):
        load_config(_config(tmp_path, text), environ={})


@pytest.mark.parametrize("zone", ["UTC", "Etc/GMT+2", "US/Eastern", "Europe/Berlin"])
def test_real_zones_and_their_aliases_are_accepted_in_config(tmp_path: Path, zone: str) -> None:
    config = load_config(_config(tmp_path, f"timezone: {zone}\n"), environ={})
    assert config.timezone == zone


def test_tokens_come_from_the_environment_and_never_show_in_reprs(tmp_path: Path) -> None:
    config = load_config(
        _config(tmp_path, "{}\n"),
        environ={"TELEGRAM_BOT_TOKEN": TOKEN, "DISCORD_BOT_TOKEN": "  "},
    )
    assert config.platform("telegram").token is not None and config.platform("telegram").token.reveal() == TOKEN
    assert config.platform("discord").token is None  # blank means unset
    for text in (repr(config), str(config), repr(config.platform("telegram")), repr(config.platform("telegram").token)):
        assert TOKEN not in text


READER_KEY = "sk-reader-config-test-0123456789"


def test_qa_reader_is_read_with_its_key_from_the_environment(tmp_path: Path) -> None:
    path = _config(tmp_path, """
qa:
  reader:
    url: http://127.0.0.1:11434/v1/
    model: qwen2.5:7b-instruct
""")
    config = load_config(path, environ={"BRIEFBOT_READER_API_KEY": READER_KEY})
    reader = config.reader
    assert reader is not None
    assert (reader.url, reader.model, reader.timeout) == (
        "http://127.0.0.1:11434/v1", "qwen2.5:7b-instruct", 8.0)
    assert reader.api_key is not None and reader.api_key.reveal() == READER_KEY
    for text in (repr(config), str(config), repr(reader)):
        assert READER_KEY not in text


def test_no_qa_section_means_no_reader(tmp_path: Path) -> None:
    assert load_config(_config(tmp_path, "{}\n"), environ={}).reader is None
    assert load_config(_config(tmp_path, "qa:\n  reader: null\n"), environ={}).reader is None


def test_a_full_endpoint_url_is_taken_as_its_base(tmp_path: Path) -> None:
    path = _config(tmp_path, "qa: {reader: {url: 'https://llm.example.org/v1/chat/completions', "
                             "model: m, timeout: 60}}\n")
    reader = load_config(path, environ={}).reader
    assert reader is not None and reader.url == "https://llm.example.org/v1"


@pytest.mark.parametrize(
    "reader, message",
    [
        ("{url: 'ftp://host/v1', model: m}", r"qa.reader.url: 'ftp://host/v1' is not an http\(s\) URL"),
        ("{url: 'localhost:11434', model: m}", r"qa.reader.url: .* is not an http\(s\) URL; write the endpoint's base URL"),
        ("{url: 'http://[::1/v1', model: m}", r"qa.reader.url: .* is not an http\(s\) URL"),
        ("{model: m}", r"qa.reader.url: None is not an http\(s\) URL"),
        ("{url: 'http://user:pw@host/v1', model: m}", "qa.reader.url: write only the base URL.*BRIEFBOT_READER_API_KEY"),
        ("{url: 'http://host/v1?key=abc', model: m}", "qa.reader.url: write only the base URL"),
        ("{url: 'http://host/v1'}", "qa.reader.model: missing; name the model"),
        ("{url: 'http://host/v1', model: '  '}", "qa.reader.model: missing"),
        ("{url: 'http://host/v1', model: m, timeout: 0}", "qa.reader.timeout: 0 must be a number of seconds, more than 0 and at most 60"),
        ("{url: 'http://host/v1', model: m, timeout: 61}", "qa.reader.timeout: 61 must be"),
        ("{url: 'http://host/v1', model: m, timeout: .nan}", "qa.reader.timeout: nan must be"),
        ("{url: 'http://host/v1', model: m, timeout: true}", "qa.reader.timeout: True must be"),
        ("{url: 'http://host/v1', model: m, timeout: 8s}", "qa.reader.timeout: '8s' must be"),
        ("{url: 'http://host/v1', model: m, temperature: 0}", "qa.reader.temperature: unknown setting"),
        ("[http://host/v1]", "qa.reader: expected a mapping"),
    ],
)
def test_a_bad_qa_reader_names_the_key_and_the_fix(tmp_path: Path, reader: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_config(tmp_path, f"qa:\n  reader: {reader}\n"), environ={})


def test_an_unknown_qa_setting_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"qa\.readr: unknown setting; the known ones are reader"):
        load_config(_config(tmp_path, "qa:\n  readr: {}\n"), environ={})


@pytest.mark.parametrize(
    "text, message",
    [
        ("discord:\n  channels: [{channel_id: \"abc\", time: '07:30'}]\n",
         r"discord.channels\[0\].channel_id: 'abc' is not a Discord channel id; it is a number"),
        ("telegram:\n  channels: [{chat_id: news, time: '07:30'}]\n",
         r"telegram.channels\[0\].chat_id: 'news' is not a Telegram chat id; write a number like "
         r"-1001234567890 or a public channel's @username, like '@news'"),
        ("telegram:\n  channels: [{chat_id: '@a b', time: '07:30'}]\n",
         r"telegram.channels\[0\].chat_id: '@a b' is not a Telegram chat id"),
    ],
)
def test_channel_ids_that_can_never_work_are_refused_with_the_fix(
    tmp_path: Path, text: str, message: str,
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_config(tmp_path, text), environ={})


def test_numeric_and_at_name_channel_ids_are_accepted(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, (
        "telegram:\n  channels: [{chat_id: -1001234567890, time: '07:30'}, "
        "{chat_id: '@city_news', time: '08:00'}]\n"
        "discord:\n  channels: [{channel_id: 1234567890123456789, time: '07:30'}]\n")), environ={})
    assert [c.chat_id for c in config.platform("telegram").channels] == ["-1001234567890", "@city_news"]
    assert config.platform("discord").channels[0].chat_id == "1234567890123456789"


def test_log_level_in_the_config_is_used_and_the_flag_wins(tmp_path: Path) -> None:
    import logging

    from briefbot import cli

    path = _config(tmp_path, "log_level: debug\n")
    assert load_config(path).log_level == "debug"
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, list(root.handlers)
    try:
        cli.main(["--config", str(path), "check"])
        assert root.level == logging.DEBUG
        cli.main(["--config", str(path), "--log-level", "error", "check"])
        assert root.level == logging.ERROR
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def test_a_bad_log_level_names_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"log_level: 'loud'.*debug, info, warning, error"):
        load_config(_config(tmp_path, "log_level: loud\n"))


@pytest.mark.parametrize("text, key, env", [
    ("telegram:\n  token: '123456789:AAHsecretsecretsecretsecretsecret'\n", "telegram.token",
     "TELEGRAM_BOT_TOKEN"),
    ("discord:\n  token: abc.def.ghi\n", "discord.token", "DISCORD_BOT_TOKEN"),
    ("telegram_bot_token: '123456789:AAHsecretsecretsecretsecretsecret'\n", "telegram_bot_token",
     "TELEGRAM_BOT_TOKEN"),
])
def test_a_token_in_config_yaml_points_at_the_environment_variable(
    tmp_path: Path, text: str, key: str, env: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, text))
    message = str(caught.value)
    assert message.startswith(f"{key}:") and env in message
    assert "AAHsecret" not in message and "abc.def" not in message


@pytest.mark.parametrize("text, message", [
    ("telegram:\n  base_url: not a url\n", r"telegram.base_url: 'not a url' is not a http or https"),
    ("discord:\n  gateway_url: http://127.0.0.1:8080/\n", r"discord.gateway_url: .* ws or wss"),
    ("telegram:\n  base_url: 'https://api.telegram.org/bot123456789:AAHfakefakefakefakefakefake12'\n",
     r"telegram.base_url: the URL holds a token.*TELEGRAM_BOT_TOKEN"),
])
def test_server_roots_must_be_urls_without_a_token(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_config(tmp_path, text), environ={})


@pytest.mark.parametrize("text, key", [
    # No scheme: the URL is refused as not a URL, and that error must not repeat the token.
    ("telegram:\n  base_url: 'api.telegram.org/bot123456789:AAHfakefakefakefakefakefake12'\n",
     "telegram.base_url"),
    ("qa:\n  reader: {url: 'localhost:11434/v1?key=sk-secretsecret', model: m}\n", "qa.reader.url"),
    ("qa:\n  reader: {url: 'sk-secretsecret@localhost:11434/v1', model: m}\n", "qa.reader.url"),
])
def test_a_refused_url_is_never_repeated_with_its_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, text), environ={})
    message = str(caught.value)
    assert message.startswith(f"{key}:")
    assert "AAHfake" not in message and "secretsecret" not in message


def test_a_server_root_with_a_broken_address_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"telegram.base_url: .* is not a http or https URL"):
        load_config(_config(tmp_path, "telegram:\n  base_url: 'http://[::1/bot'\n"), environ={})


def test_a_null_path_means_the_default_not_a_file_named_none(tmp_path: Path) -> None:
    """`database: null` (the way this file says "the default" elsewhere) made a database file
    named 'None' beside config.yaml; `content_dir: ~` looked for a folder named 'None'."""
    config = load_config(_config(tmp_path, "content_dir: null\ndatabase: ~\n"), environ={})
    assert config.content_dir == (tmp_path / "content").resolve()
    assert config.database == (tmp_path / "data" / "briefbot.sqlite3").resolve()


@pytest.mark.parametrize("key", ["content_dir", "database"])
@pytest.mark.parametrize("value", ["[articles]", "{a: 1}", "true", '""', "'  '"])
def test_a_path_setting_that_is_not_a_path_names_the_key(
    tmp_path: Path, key: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{key}: .* is not a path; write "):
        load_config(_config(tmp_path, f"{key}: {value}\n"), environ={})


def test_a_numeric_folder_name_is_a_path(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, "content_dir: 2026\n"), environ={})
    assert config.content_dir == (tmp_path / "2026").resolve()


def test_a_section_written_twice_is_refused_naming_both_lines(tmp_path: Path) -> None:
    # The README's channel snippet pasted above the shipped config, which has its own
    # `telegram:` section: YAML would keep only the last one and drop the channel unseen.
    shipped = (Path(__file__).parent.parent / "config.yaml").read_text(encoding="utf-8")
    pasted = 'telegram:\n  channels:\n    - {chat_id: "@news", time: "07:30"}\n\n'
    second = 4 + next(n for n, line in enumerate(shipped.splitlines(), 1)
                      if line.startswith("telegram:"))
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, pasted + shipped), environ={})
    message = str(caught.value)
    assert f"line {second}: 'telegram' is written twice (first at line 1)" in message
    assert "one 'telegram:' section" in message


def test_a_key_written_twice_inside_a_section_is_refused(tmp_path: Path) -> None:
    path = _config(tmp_path, "telegram:\n  channels: []\n  base_url: null\n  channels: []\n")
    with pytest.raises(ConfigError, match="line 4: 'channels' is written twice"):
        load_config(path, environ={})
