"""`briefbot run` as deployed: Telegram and Discord served by one process in one event loop."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fakes.fake_discord import GUILD_ID, FakeDiscord
from fakes.fake_discord import TOKEN as DISCORD_TOKEN
from fakes.fake_telegram import FakeTelegram

NEW_ARTICLE = """\
LIGHTHOUSE REOPENS AFTER RESTORATION 🗼
- Mara Lindgren
- March 20, 2026

The Skerry Point lighthouse reopened to visitors on Friday after a two-year restoration.
Keeper Jonas Ek said the lamp now runs on solar power.
"""


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeTelegram, FakeDiscord]]:
    async with FakeTelegram(username="briefbot_test_bot") as telegram, FakeDiscord() as discord:
        yield telegram, discord


async def test_one_process_serves_both_platforms_picks_up_new_articles_and_stops_on_sigterm(
    fakes: tuple[FakeTelegram, FakeDiscord], content_dir: Path, tmp_path: Path
) -> None:
    telegram, discord = fakes
    config = tmp_path / "config.yaml"
    config.write_text(
        f"content_dir: {content_dir}\n"
        f"database: {tmp_path / 'briefbot.sqlite3'}\n"
        "reload_seconds: 0.2\n"
        f"telegram:\n  base_url: {telegram.base_url}\n  base_file_url: {telegram.base_file_url}\n"
        f"discord:\n  api_base_url: {discord.api_base_url}\n"
        f"  gateway_url: ws://127.0.0.1:{discord.port}/\n  guilds: [{GUILD_ID}]\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_BOT_TOKEN")}
    env |= {"TELEGRAM_BOT_TOKEN": telegram.token, "DISCORD_BOT_TOKEN": DISCORD_TOKEN}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "briefbot", "--config", str(config), "--log-level", "debug", "run",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        await telegram.wait_until_polling(timeout=30)
        await discord.wait_until(
            lambda: GUILD_ID in discord.commands and "IDENTIFY" in discord.gateway_log,
            timeout=30, what="briefbot run to connect to Discord",
        )
        telegram.push_message("/latest", chat_id=1001)
        await discord.dispatch_slash("latest")
        [on_telegram] = await telegram.wait_for_messages(1, chat_id=1001, timeout=10)
        [on_discord] = await discord.wait_for_messages(1, timeout=10)
        assert "Farmers market" in on_telegram.parsed_text
        assert "Farmers market" in on_discord.embeds[0]["title"]

        (content_dir / "lighthouse.txt").write_text(NEW_ARTICLE, encoding="utf-8")
        for _ in range(50):  # the folder is rescanned every 0.2 s; ask until the new one shows
            telegram.push_message("/latest", chat_id=1002)
            [reply] = (await telegram.wait_for_messages(1, chat_id=1002, timeout=10))[-1:]
            if "Lighthouse" in reply.parsed_text:
                break
            telegram.sent_messages.clear()
            await asyncio.sleep(0.2)
        assert "Lighthouse reopens after restoration" in reply.parsed_text

        process.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    output = stdout + stderr
    assert telegram.token.encode() not in output
    assert telegram.token.split(":")[1].encode() not in output
    assert DISCORD_TOKEN.encode() not in output
