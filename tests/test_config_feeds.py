"""config.yaml's `feeds:`, `keep_days:` and `log_format:`: defaults, and errors naming the key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from briefbot.config import load_config
from briefbot.errors import ConfigError


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return load_config(path, environ={})


def test_feed_defaults_and_a_name_from_the_host(tmp_path: Path) -> None:
    config = load(tmp_path, "feeds:\n  - {url: 'https://www.news.example.org/rss.xml'}\n"
                            "  - {url: 'http://b.example/atom', name: city, every: 60, full_text: true}\n")
    first, second = config.feeds
    assert (first.name, first.every, first.full_text, first.max_items) == (
        "news-example-org", dt.timedelta(minutes=15), False, 50)
    assert (second.name, second.every, second.full_text) == ("city", dt.timedelta(hours=1), True)
    assert config.keep_days == 30 and config.log_format == "text"


@pytest.mark.parametrize(("text", "named"), [
    ("feeds: {url: x}\n", "feeds: expected a list"),
    ("feeds:\n  - {url: 'ftp://example.org/f'}\n", "feeds[0].url"),
    ("feeds:\n  - {name: x}\n", "feeds[0].url"),
    ("feeds:\n  - {url: 'https://a.org/f', name: 'bad name!'}\n", "feeds[0].name"),
    ("feeds:\n  - {url: 'https://a.org/f', name: a}\n  - {url: 'https://b.org/f', name: A}\n",
     "feeds[1].name: another feed"),
    ("feeds:\n  - {url: 'https://a.org/f', every: 0}\n", "feeds[0].every"),
    ("feeds:\n  - {url: 'https://a.org/f', full_text: 'yes'}\n", "feeds[0].full_text"),
    ("feeds:\n  - {url: 'https://a.org/f', colour: red}\n", "feeds[0].colour: unknown setting"),
    ("keep_days: -1\n", "keep_days"),
    ("log_format: xml\n", "log_format"),
])
def test_a_bad_feed_setting_names_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("]", r"\]")):
        load(tmp_path, text)


def test_keep_days_null_keeps_fetched_articles(tmp_path: Path) -> None:
    assert load(tmp_path, "keep_days: null\n").keep_days is None
