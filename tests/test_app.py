"""The composition root: starting platforms that are down at boot, and stopping cleanly."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from briefbot import app as app_module
from briefbot.app import App
from briefbot.config import Config
from briefbot.conversation import Reply
from briefbot.errors import ConfigError, TemporaryFailure


class FlakyAdapter:
    """Unreachable for the first `failures` starts, then fine; records what happened."""

    def __init__(self, platform: str, failures: int, error: Exception | None = None) -> None:
        self.platform = platform
        self.failures = failures
        self.error = error or TemporaryFailure("cannot reach the platform (connection refused)")
        self.starts = 0
        self.running = False

    async def start(self) -> None:
        self.starts += 1
        if self.starts <= self.failures:
            raise self.error
        self.running = True

    async def stop(self) -> None:
        self.running = False

    def render(self, reply: Reply) -> Sequence[object]:
        return [reply]

    async def send_part(self, chat_id: str, part: object, *, thread_id: str | None = None) -> None:
        return None


@pytest.fixture
def app(content_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> App:
    monkeypatch.setattr(app_module, "START_RETRY_FIRST_SECONDS", 0.01)
    config = Config(content_dir=content_dir, database=tmp_path / "db.sqlite3",
                    catch_up_window=dt.timedelta(hours=2))
    built = App(config)
    built.load_content()
    return built


async def _serve_until(app: App, adapters: dict[str, FlakyAdapter], ready: FlakyAdapter) -> None:
    stop = asyncio.Event()
    serving = asyncio.create_task(app.serve(dict(adapters), stop))  # type: ignore[arg-type]
    for _ in range(500):
        if ready.running:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(serving, timeout=10)


async def test_a_platform_unreachable_at_boot_is_retried_until_it_answers(app: App) -> None:
    telegram = FlakyAdapter("telegram", failures=3)
    discord = FlakyAdapter("discord", failures=0)
    await _serve_until(app, {"telegram": telegram, "discord": discord}, ready=telegram)
    assert telegram.starts == 4
    assert discord.starts == 1
    assert not telegram.running and not discord.running  # both stopped on the way out


async def test_a_rejected_token_is_not_retried_and_stops_the_rest(app: App) -> None:
    bad = FlakyAdapter("telegram", failures=99, error=ConfigError("TELEGRAM_BOT_TOKEN was rejected"))
    good = FlakyAdapter("discord", failures=0)
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN was rejected"):
        await app.serve({"telegram": bad, "discord": good}, asyncio.Event())  # type: ignore[dict-item]
    assert bad.starts == 1
    assert not good.running


def test_a_clipped_article_is_warned_about_once_naming_the_file(
    app: App, content_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    body = "The council met again on Tuesday to discuss the long harbour plan. " * 3000
    (content_dir / "long.txt").write_text(f"A VERY LONG STORY\n- Ana\n- March 9, 2026\n\n{body}\n")
    for _ in range(3):  # the watcher rescans every few seconds
        app.load_content()
    warnings = [r.getMessage() for r in caplog.records if "long.txt" in r.getMessage()]
    assert len(warnings) == 1
    assert "long.txt: warning: the body is 200,999 characters" in warnings[0]
    assert app.library.find("long") is not None


def test_two_files_with_one_id_are_warned_about_once_naming_both_and_the_one_served(
    app: App, content_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (content_dir / "harbour.md").write_text(
        "---\ntitle: Another harbour story\ndate: 2026-03-09\n---\nBody.\n")
    for _ in range(3):  # the watcher rescans every few seconds
        app.load_content()
    warnings = [r for r in caplog.records if "both have the id" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"
    assert ("harbour.md and harbour.txt both have the id 'harbour'; harbour.md is served, "
            "harbour.txt is not") in warnings[0].getMessage()


def test_the_content_log_line_names_each_served_article_once(
    content_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With seed.txt and seed.md both in the folder, the start said "2 articles (added
    ['harbour', 'harbour', 'market'], ...)", and editing the file left out said 'changed'."""
    (content_dir / "harbour.md").write_text(
        "---\ntitle: Another harbour story\ndate: 2026-03-09\n---\nBody.\n")
    caplog.set_level(logging.INFO, logger="briefbot.app")
    app = App(Config(content_dir=content_dir, database=tmp_path / "db.sqlite3"))
    app.load_content()
    [line] = [r.getMessage() for r in caplog.records if "(added" in r.getMessage()]
    assert line.startswith("content: 2 articles (added ['harbour', 'market'], changed none")
    caplog.clear()
    left_out = content_dir / "harbour.txt"
    left_out.write_text(left_out.read_text(encoding="utf-8") + "One more line.\n")
    os.utime(left_out, ns=(1, 2))  # a different mtime even on coarse-clock file systems
    app.load_content()
    assert not [r for r in caplog.records if "(added" in r.getMessage()]


def test_a_date_far_ahead_is_warned_about_once_naming_the_file_and_the_date(
    app: App, content_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (content_dir / "typo.md").write_text("---\ntitle: Typo\ndate: 9999-12-31\n---\nBody.\n")
    for _ in range(3):  # the watcher rescans every few seconds
        app.load_content()
    warnings = [r for r in caplog.records if "9999-12-31" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"
    assert "typo.md: warning: the date 9999-12-31 is more than a day ahead" in (
        warnings[0].getMessage())
    assert app.library.latest() is app.library.find("typo")


def test_each_skipped_file_is_logged_once_naming_it_and_why(
    app: App, content_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Only `briefbot check` named the files the content folder holds but does not serve; the
    running bot said nothing, so a story saved as .docx was just missing."""
    (content_dir / "notes.docx").write_bytes(b"PK\x03\x04 the draft of a secret story")
    (content_dir / "drafts").mkdir()
    (content_dir / "harbour-alias.txt").symlink_to("harbour.txt")
    (content_dir / "story.txt~").write_text("an editor's backup")  # passed over, as in check

    def skipped_lines() -> list[logging.LogRecord]:
        return [r for r in caplog.records if ": skipped: " in r.getMessage()]

    for _ in range(3):  # the watcher rescans every few seconds
        app.load_content()
    assert [(r.levelname, r.getMessage()) for r in skipped_lines()] == [
        ("WARNING", "content: drafts: skipped: a folder; articles in folders inside the content "
                    "folder are not read"),
        ("WARNING", "content: harbour-alias.txt: skipped: same file as harbour.txt; a file is "
                    "read once, under one name"),
        ("WARNING", "content: notes.docx: skipped: not an article; only .txt and .md files are "
                    "read"),
    ]
    assert "secret story" not in caplog.text
    # Said again only when it is news again: a new file, or one that went and came back.
    caplog.clear()
    (content_dir / "photo.jpg").write_bytes(b"\xff\xd8")
    (content_dir / "drafts").rmdir()
    app.load_content()
    app.load_content()
    assert [r.getMessage() for r in skipped_lines()] == [
        "content: photo.jpg: skipped: not an article; only .txt and .md files are read"]
    caplog.clear()
    (content_dir / "drafts").mkdir()
    app.load_content()
    assert [r.getMessage() for r in skipped_lines()] == [
        "content: drafts: skipped: a folder; articles in folders inside the content folder are "
        "not read"]
