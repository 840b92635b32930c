"""Storage faults are clear: a deleted database, a corrupt page, read-only WAL files."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from briefbot.app import App
from briefbot.config import Config
from briefbot.conversation import Incoming
from briefbot.errors import StorageError
from briefbot.store import SqliteStore

NOW = dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parent.parent


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def test_writes_after_the_database_file_was_deleted_fail_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "db.sqlite3"
    lost: list[StorageError] = []
    store = SqliteStore(path, on_lost=lost.append)
    store.subscribe("telegram", "5", dt.time(7, 30), "UTC", created_by="5", now=NOW)
    _remove_database(path)
    with pytest.raises(StorageError, match="deleted or replaced"):
        store.subscribe("telegram", "6", dt.time(7, 30), "UTC", created_by="6", now=NOW)
    with pytest.raises(StorageError):  # and every write after it
        store.unsubscribe("telegram", "5")
    store.close()
    assert len(lost) == 1
    assert any(r.levelname == "ERROR" and str(path) in r.getMessage() for r in caplog.records)


def test_a_replaced_database_file_is_noticed_too(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = SqliteStore(path)
    _remove_database(path)
    SqliteStore(path).close()  # someone created a fresh, empty one in its place
    with pytest.raises(StorageError, match="deleted or replaced"):
        store.subscribe("telegram", "6", dt.time(7, 30), "UTC", created_by="6", now=NOW)
    store.close()


async def test_subscribe_after_the_database_vanished_is_not_answered_changed_and_the_bot_stops(
    content_dir: Path, tmp_path: Path,
) -> None:
    path = tmp_path / "db.sqlite3"
    bot = App(Config(content_dir=content_dir, database=path,
                     catch_up_window=dt.timedelta(hours=2)))
    bot.load_content()
    _remove_database(path)
    with pytest.raises(StorageError):  # the adapter answers with an apology, not "Changed"
        await bot.handle(Incoming("telegram", "5", "5", "/subscribe 07:30 Europe/Berlin"))
    bot.store.close()
    assert bot.exit_code == 2


def _corrupt(path: Path) -> None:
    store = SqliteStore(path)
    store.add_many((("telegram", str(-n), dt.time(7, 30), "UTC") for n in range(2000)), NOW)
    store.close()
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page * 3: page * 4] = b"\xff" * page  # a page of the subscriptions table
    path.write_bytes(bytes(data))


def test_a_corrupt_database_is_named_with_how_to_recover_it(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    _corrupt(path)
    with pytest.raises(StorageError) as caught:
        SqliteStore(path)
    assert str(path) in str(caught.value) and ".recover" in str(caught.value)


def test_send_due_on_a_corrupt_database_exits_2_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    _corrupt(path)
    config = tmp_path / "config.yaml"
    config.write_text(f"content_dir: {ROOT / 'content'}\ndatabase: {path}\n")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_BOT_TOKEN")}
    env["TELEGRAM_BOT_TOKEN"] = "123456789:AAHnotusednotusednotusednotusedno"  # never reached
    result = subprocess.run(
        [sys.executable, "-m", "briefbot", "--config", str(config), "send-due"],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "is damaged" in result.stderr and "backup" in result.stderr


def test_a_read_only_shm_file_is_refused_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SQLite maps -shm into memory; a read-only one ends in SIGBUS, so it is checked first.

    The tests run as root, which permission bits do not stop, so os.access says what a
    non-root bot user would be told.
    """
    path = tmp_path / "db.sqlite3"
    SqliteStore(path).close()
    shm = Path(f"{path}-shm")
    shm.write_bytes(b"")
    real_access = os.access

    def access(target: object, mode: int) -> bool:
        if Path(str(target)) == shm and mode == os.W_OK:
            return False
        return real_access(target, mode)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    with pytest.raises(StorageError, match="-shm is read-only"):
        SqliteStore(path)


def test_the_console_chat_exits_2_when_its_database_goes_away(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    config = tmp_path / "config.yaml"
    config.write_text(f"content_dir: {ROOT / 'content'}\ndatabase: {path}\n")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_BOT_TOKEN")}
    chat = subprocess.Popen(
        [sys.executable, "-m", "briefbot", "--config", str(config), "chat"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    assert chat.stderr is not None and chat.stdin is not None
    for _ in range(600):  # started: the database is open (bounded: 30 s)
        if path.exists():
            break
        time.sleep(0.05)
    time.sleep(0.5)
    _remove_database(path)
    chat.stdin.write("/latest\n")  # remembering the chat's article is a write
    chat.stdin.close()
    assert chat.wait(timeout=60) == 2  # before: 0, as if nothing had happened
    assert chat.stdout is not None
    chat.stdout.close()
    chat.stderr.close()
