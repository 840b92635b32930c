"""Daily briefings end to end: /subscribe through the real adapters, then `send-due` from the CLI."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from briefbot import app as app_module
from briefbot import cli
from briefbot.config import load_config
from briefbot.daily.schedule import next_due
from fakes.fake_discord import ANNOUNCEMENTS_ID, GUILD_ID, FakeDiscord
from fakes.fake_discord import TOKEN as DISCORD_TOKEN
from fakes.fake_telegram import FakeTelegram

pytestmark = pytest.mark.slow

ZONE = "Europe/Berlin"
GROUP = -1001500000000
ADMIN, MEMBER = 42, 43


def briefing_time() -> tuple[str, dt.datetime]:
    """A local time hours away, so the running bot's own loop cannot send it during the test."""
    later = (dt.datetime.now(ZoneInfo(ZONE)) + dt.timedelta(hours=6)).time()
    at = dt.time(later.hour, later.minute)
    return f"{at:%H:%M}", next_due(at, ZONE, dt.datetime.now(dt.UTC))


def write_config(tmp_path: Path, content_dir: Path, platform_section: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"content_dir: {content_dir}\n"
        f"database: {tmp_path / 'data' / 'briefbot.sqlite3'}\n"
        f"timezone: {ZONE}\n" + platform_section,
        encoding="utf-8",
    )
    return path


async def serve_while(config_path: Path, action: Callable[[], Awaitable[None]]) -> None:
    """Run the whole bot (`briefbot run`'s composition) while `action` talks to it."""
    config = load_config(config_path, required=True)
    bot = app_module.App(config)
    bot.load_content()
    stop = asyncio.Event()
    serving = asyncio.create_task(bot.serve(bot.platform_adapters(receive=True), stop))
    try:
        await action()
    finally:
        stop.set()
        await asyncio.wait_for(serving, timeout=15)


async def send_due(config_path: Path, at: dt.datetime) -> int:
    # In a thread: the CLI runs its own event loop, and the fake server must keep answering.
    return await asyncio.to_thread(
        cli.main, ["--config", str(config_path), "send-due", "--at", at.isoformat()]
    )


async def test_telegram_group_admin_subscribes_and_gets_one_briefing(
    tmp_path: Path, content_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeTelegram() as fake:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", fake.token)
        monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)
        config_path = write_config(tmp_path, content_dir,
                                   f"telegram:\n  base_url: {fake.base_url}\n")
        fake.add_chat(GROUP, "supergroup", title="Newsroom")
        fake.set_chat_member(GROUP, ADMIN, "administrator")
        fake.set_chat_member(GROUP, MEMBER, "member")
        hhmm, due = briefing_time()

        async def subscribe() -> None:
            await fake.wait_until_polling()
            fake.push_message(f"/subscribe {hhmm}", chat_id=GROUP, user_id=MEMBER,
                              chat_type="supergroup")
            [refusal] = await fake.wait_for_messages(1, chat_id=GROUP)
            assert "only this chat's admins" in refusal.parsed_text
            fake.push_message(f"/subscribe {hhmm} {ZONE}", chat_id=GROUP, user_id=ADMIN,
                              chat_type="supergroup")
            _, confirmed = await fake.wait_for_messages(2, chat_id=GROUP)
            assert f"{hhmm} ({ZONE})" in confirmed.parsed_text

        await serve_while(config_path, subscribe)
        before = len(fake.messages_to(GROUP))
        assert await send_due(config_path, due) == 0
        briefing = fake.messages_to(GROUP)[before:]
        assert briefing and "Farmers market moves to the riverside" in briefing[0].parsed_text
        assert await send_due(config_path, due + dt.timedelta(minutes=5)) == 0
        assert len(fake.messages_to(GROUP)) == before + len(briefing)


async def test_discord_server_admin_subscribes_and_gets_one_briefing(
    tmp_path: Path, content_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeDiscord() as fake:
        monkeypatch.setenv("DISCORD_BOT_TOKEN", DISCORD_TOKEN)
        monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
        config_path = write_config(
            tmp_path, content_dir,
            f"discord:\n  api_base_url: {fake.api_base_url}\n"
            f"  gateway_url: {fake.gateway_url}\n  guilds: [{GUILD_ID}]\n",
        )
        hhmm, due = briefing_time()

        def in_channel() -> list[str]:
            return [m.text for m in fake.sent_messages
                    if m.channel_id == ANNOUNCEMENTS_ID and m.via == "channel"]

        async def subscribe() -> None:
            await fake.wait_until(lambda: GUILD_ID in fake.commands and "IDENTIFY" in
                                  fake.gateway_log, 10, "commands synced and gateway identified")
            await fake.dispatch_slash("subscribe", {"time": hhmm}, user="alice",
                                      channel_id=ANNOUNCEMENTS_ID)
            [refusal] = await fake.wait_for_messages(1)
            assert "only this chat's admins" in refusal.text
            await fake.dispatch_slash("subscribe", {"time": hhmm, "timezone": ZONE},
                                      user="olivia", channel_id=ANNOUNCEMENTS_ID)
            _, confirmed = await fake.wait_for_messages(2)
            assert f"Subscribed: a daily briefing at {hhmm}" in confirmed.text

        await serve_while(config_path, subscribe)
        assert in_channel() == []
        assert await send_due(config_path, due) == 0
        briefing = in_channel()
        assert briefing and "Farmers market moves to the riverside" in briefing[0]
        assert await send_due(config_path, due + dt.timedelta(minutes=5)) == 0
        assert in_channel() == briefing


@pytest.mark.parametrize("at", ["9999-12-31T23:59:00+00:00", "0001-01-01T00:00:00+00:00"])
async def test_send_due_at_the_ends_of_the_calendar_is_a_usage_error_not_a_traceback(
    tmp_path: Path, content_dir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], at: str,
) -> None:
    """`send-due --at 9999-12-31T23:59Z` with a reachable platform crashed with OverflowError
    (the chat's local date, or the next day's briefing, is past the last date Python has)."""
    async with FakeTelegram() as fake:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", fake.token)
        monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)
        fake.add_chat(GROUP, "channel")
        config_path = write_config(
            tmp_path, content_dir, f"telegram:\n  base_url: {fake.base_url}\n"
            f'  channels: [{{chat_id: "{GROUP}", time: "07:30", timezone: Pacific/Kiritimati}}]\n')
        result = await asyncio.to_thread(
            cli.main, ["--config", str(config_path), "send-due", "--at", at])
        assert result == 2
        assert "--at:" in (err := capsys.readouterr().err) and "out of range" in err
        assert fake.sent_messages == []
