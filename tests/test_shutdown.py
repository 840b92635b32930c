"""Shutdown releases what it holds: a stop during a rate-limit wait leaves no claim behind."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from briefbot.daily.delivery import DEFAULT_LEASE, Delivery
from briefbot.store import SqliteStore
from fakes.fake_telegram import FakeTelegram
from fakes.recording_adapter import RecordingAdapter, Shelf, story

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = dt.date(2026, 11, 23)
DUE = dt.datetime.combine(MONDAY, dt.time(7, 30), BERLIN).astimezone(dt.UTC)
ROOT = Path(__file__).resolve().parent.parent


class WaitsInside(RecordingAdapter):
    """The adapter is waiting out a rate limit inside the send (as PTB's limiter does)."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = asyncio.Event()

    async def send_part(self, chat_id: str, part: object, *, thread_id: str | None = None) -> None:
        self.waiting.set()
        await asyncio.sleep(3600)


async def test_a_stop_during_a_wait_inside_the_send_releases_the_claim(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    store.subscribe("telegram", "-100", dt.time(7, 30), "Europe/Berlin", created_by="a",
                    now=DUE - dt.timedelta(days=1))
    adapter = WaitsInside()
    stop = asyncio.Event()
    delivery = Delivery(store, Shelf([story("first", MONDAY)]), {"telegram": adapter},
                        clock=lambda: DUE, stop_grace=0.05)
    passing = asyncio.create_task(delivery.run_pass(DUE, stop))
    await adapter.waiting.wait()
    stop.set()
    async with asyncio.timeout(5):  # before: the pass waited the hour out
        report = await passing
    sub = store.subscription("telegram", "-100")
    assert sub is not None
    claim = store.claim_part(sub.id, MONDAY, 0, ("first",), claimant="next-run",
                             now=DUE + dt.timedelta(minutes=1), lease=DEFAULT_LEASE)
    store.close()
    assert (report.interrupted, report.sent) == (1, 0)
    assert claim == "claimed"  # the next run may send it at once, not 15 minutes later


async def test_send_due_on_sigterm_during_a_429_wait_exits_3_and_leaves_no_claim(
    tmp_path: Path,
) -> None:
    async with FakeTelegram() as fake:
        fake.add_chat(-1001, "supergroup")
        fake.inject("retry_after", chat_id=-1001, times=None, retry_after=20)
        config = tmp_path / "config.yaml"
        config.write_text(
            f"content_dir: {ROOT / 'content'}\ndatabase: {tmp_path / 'db.sqlite3'}\n"
            f"telegram:\n  base_url: {fake.base_url}\n"
            '  channels: [{chat_id: "-1001", time: "07:30", timezone: Europe/Berlin}]\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.endswith("_BOT_TOKEN")}
        env["TELEGRAM_BOT_TOKEN"] = fake.token
        command = [sys.executable, "-m", "briefbot", "--config", str(config), "send-due",
                   "--at", DUE.isoformat()]
        first = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        await fake.wait_for_calls("sendMessage", timeout=30)  # it got the 429 and waits 20 s
        first.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            _out, err = await first.communicate()
        assert first.returncode == 3, err.decode()  # before: killed by the signal (-15)
        fake.clear_faults()
        command[-1] = (DUE + dt.timedelta(minutes=2)).isoformat()
        second = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        async with asyncio.timeout(30):
            _out, err = await second.communicate()
        assert second.returncode == 0, err.decode()
        assert len(fake.messages_to(-1001)) == 1  # before: its claim blocked it for 15 minutes



async def test_run_on_sigterm_while_telegram_does_not_answer_at_start_stops_at_once(
    tmp_path: Path,
) -> None:
    """Telegram took the connection but never answered getMe; before, a SIGTERM then waited out
    the request's whole read timeout (a minute), past what a service manager allows."""
    async with FakeTelegram() as fake:
        fake.inject("delay", method="getMe", seconds=3600)
        config = tmp_path / "config.yaml"
        config.write_text(
            f"content_dir: {ROOT / 'content'}\ndatabase: {tmp_path / 'db.sqlite3'}\n"
            f"telegram:\n  base_url: {fake.base_url}\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.endswith("_BOT_TOKEN")}
        env["TELEGRAM_BOT_TOKEN"] = fake.token
        bot = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "briefbot", "--config", str(config), "run", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        await fake.wait_for_request("getMe", timeout=30)
        bot.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(20):  # before: 60 s
                _out, err = await bot.communicate()
        finally:
            if bot.returncode is None:
                bot.kill()
                await bot.wait()
        assert bot.returncode == 0, err.decode()
        assert b"Traceback" not in err
